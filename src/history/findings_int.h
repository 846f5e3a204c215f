/*
 * findings_int.h - what the findings files of history/ share and nobody
 * else reads: a parsed rule (findings_rules.c makes it, findings.c matches
 * events against it) and the trimmed copy both parsers use.
 */
#ifndef SDB_HISTORY_FINDINGS_INT_H
#define SDB_HISTORY_FINDINGS_INT_H

#include <stddef.h>

#include "history/events.h"
#include "history/findings.h"

/* The longest title: a rule's, or an NSE report's line. */
#define FINDINGS_TITLE_MAX 200

struct rule_ports {
	int proto; /* -1: any protocol */
	int lo, hi;
};

struct findings_rule {
	enum ev_kind kind;
	int any;                  /* '*': every port, and host-level events */
	struct rule_ports *ports; /* sorted by (proto, lo); merged: none overlap or touch */
	size_t nports, cports;
	enum findings_severity sev;
	char *title;
	int line;
};

struct findings_rules {
	char *name; /* file, for details */
	struct findings_rule *v;
	size_t n, cap;
};

/* Copy [b, e) without its leading and trailing white space into out[len]
 * (truncated to len - 1 bytes).  nse_vuln.c. */
void findings__copy_trimmed(const char *b, const char *e, char *out, size_t len);

#endif
