/*
 * scope.h - a scan's probed scope: which ports of which protocol it
 * covered (nmap's <scaninfo>).  Stored as text in jobs.probed_scope, e.g.
 * "tcp:1-1000,1025;udp:53".  A port outside a scan's scope is not evidence
 * of anything: history uses the scope to avoid false "closed" events.
 */
#ifndef SDB_CORE_SCOPE_H
#define SDB_CORE_SCOPE_H

#include "core/addr.h"
#include "core/record.h"

struct scan_scope {
	struct portlist ports[REC_PROTO__COUNT];
	int has[REC_PROTO__COUNT]; /* protocol was scanned at all */
};

void scope_init(struct scan_scope *s);
void scope_free(struct scan_scope *s);
/* Add nmap's services list (e.g. "1-1000,1025") for one protocol.
 * 0, SDB_EPARSE or SDB_ENOMEM. */
int scope_add(struct scan_scope *s, enum rec_proto proto, const char *services);
/* Parse the stored text form; NULL or "" gives an empty scope. */
int scope_parse(const char *text, struct scan_scope *out);
/* Stored text form (malloc'ed, free()), or *out = NULL when empty. */
int scope_format(const struct scan_scope *s, char **out);
int scope_empty(const struct scan_scope *s);
int scope_covers(const struct scan_scope *s, enum rec_proto proto, int port);

#endif
