/*
 * sink.h - where sources push records (ARCHITECTURE: sources never touch the
 * database).  A sink is a context pointer plus callbacks; any callback may be
 * NULL.  A callback returning non-zero stops the source, which returns that
 * code unchanged.  Records are valid only during the call (see record.h).
 *
 * Call order for one scan: run_begin, scaninfo*, (host | progress |
 * warning)*, run_end.
 */
#ifndef SDB_INGEST_SINK_H
#define SDB_INGEST_SINK_H

#include "core/record.h"

struct ingest_sink {
	void *ctx;
	int (*run_begin)(void *ctx, const struct rec_run *run);
	int (*scaninfo)(void *ctx, const struct rec_scaninfo *si);
	int (*host)(void *ctx, const struct rec_host *h);
	/* nmap's <taskprogress>: percent 0-100 of the named task. */
	int (*progress)(void *ctx, const char *task, double percent);
	int (*run_end)(void *ctx, const struct rec_runstats *rs);
	/* The source accepted a value it had to change or leave out (an
	 * unknown enumeration value, an impossible time): "NAME:LINE:COL:
	 * what was done".  For the user to read (stderr); never an error. */
	int (*warning)(void *ctx, const char *msg);
	/* Set by a sink that takes a document cut off after complete hosts
	 * (`scandb import --partial`): the source then ends such a document
	 * with run_end(rs->truncated = 1) instead of failing.  0: refused. */
	int accept_truncated;
	/* Optional, for a sink that does not accept such a document: what the
	 * user can do about one cut off after complete hosts, appended to the
	 * error ("NAME:L:C: unexpected end of file (truncated?) after 6
	 * complete hosts; HINT", e.g. "`scandb import --partial` keeps what
	 * is complete").
	 * NULL: nothing added.  Borrowed; must outlive the parser. */
	const char *truncated_hint;
};

#endif
