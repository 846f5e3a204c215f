/*
 * masscan.h - the parsers of masscan's outputs (-oX, -oJ, -oL, -oD) and
 * zmap's (CSV, JSON, bare addresses): bytes fed in, one host record per
 * host pushed to a sink at the end.
 *
 * masscan and zmap write one entry per (host, port) as responses come, in
 * any order; the parser regroups them per host (masscan_hosts.c).  The
 * input streams (only the current line, or expat's current token, is
 * held); what is kept is proportional to the distinct hosts and the
 * (host, port) entries and banners they report, not to the file's size.
 * Everything is pushed at the end of the input (ms_parser_feed final):
 * run_begin, one scaninfo per protocol (the probed scope: the user's
 * --ports, else the ports the file reports), one host per address (status
 * up: these scanners list only hosts that answered), run_end.
 */
#ifndef SDB_INGEST_MASSCAN_H
#define SDB_INGEST_MASSCAN_H

#include <stddef.h>

#include "ingest/ingest_detect.h"
#include "ingest/sink.h"

/* Limits on untrusted input: past one, a parse error naming it (but for a
 * banner, which is cut and warned about). */
#define MS_MAX_LINE      (1u << 20)   /* one line of a line-based format */
#define MS_MAX_BANNER    (64u << 10)  /* one banner, kept; the rest is cut */
#define MS_MAX_BANNERS   (256u << 20) /* all banners of a file, kept */
#define MS_MAX_ENTRIES   (64u << 20)  /* (host, port) entries of a file */
#define MS_MAX_ZMAP_COLS 256          /* fields of a zmap CSV header */

struct ms_parser;

/*
 * A parser of format f (one of the masscan and zmap formats of
 * ingest_detect.h) pushing to *sink (copied; sink->ctx borrowed).  `name`
 * names the input in messages (copied).  `ports`: the user's --ports (see
 * ingest_opts), or NULL.  0 and *out (free with ms_parser_free()), or
 * SDB_ENOMEM / SDB_EPARSE (bad ports: checked with ingest_ports_check).
 */
int ms_parser_new(enum ingest_format f, const struct ingest_sink *sink, const char *name,
                  const char *ports, struct ms_parser **out);

/* Feed the next len bytes; final = 1 on the last call (len may be 0): the
 * records are pushed then.  0, SDB_EPARSE / SDB_ETOOBIG / SDB_ENOMEM (see
 * ms_parser_errmsg), or the code a sink callback returned.  After an
 * error, every feed returns it again. */
int ms_parser_feed(struct ms_parser *p, const void *data, size_t len, int final);

/* "NAME:LINE:COL: what" or "NAME:LINE: what"; "" if none.  Owned by p. */
const char *ms_parser_errmsg(const struct ms_parser *p);

void ms_parser_free(struct ms_parser *p);

#endif
