/*
 * diff.h - `scandb diff`: what changed between two scans, with the substance
 * of ndiff (hosts matched by address; host state, MAC, host names, ports,
 * services, OS, extraports and script output compared), written as text
 * (reads like ndiff), nmapdiff XML (ndiff's document shape) or JSON.
 *
 * Owns: the scan snapshot (one scan's hosts in one arena, whether they come
 * from an nmap XML file or from a stored job), the comparison of two
 * snapshots, and the three writers.  Does not own: parsing (ingest/), the
 * database (store/), arguments and exit statuses (cli/cmd_diff.c).  Which
 * file holds which part: diff_int.h.
 *
 * The rules, and where they differ from ndiff 7.93 on purpose (its bugs),
 * are in docs/DIFF.md.
 */
#ifndef SDB_DIFF_DIFF_H
#define SDB_DIFF_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/record.h"
#include "ingest/sink.h"
#include "store/store.h"

/* ---- one scan, in memory ------------------------------------------------ */

struct diff_script {
	const char *id;
	const char *output;
};

/* What a port has besides its number and state (diff_port.info); a port
 * with neither a service nor scripts has none (NULL). */
struct diff_port_info {
	const char *name; /* service name */
	const char *product;
	const char *version;
	const char *extrainfo;
	const char *tunnel;
	const struct diff_script *scripts; /* sorted by (id, output) */
};

struct diff_port {
	uint16_t port;
	uint8_t proto;     /* enum rec_proto */
	uint8_t state;     /* enum rec_port_state */
	uint32_t nscripts; /* in info->scripts */
	const struct diff_port_info *info;
};

struct diff_extraports {
	long count;
	uint8_t state; /* enum rec_port_state */
};

struct diff_host {
	unsigned char key[16];                    /* addr_parse() key: numeric address order */
	const char *addr;                         /* canonical text */
	const char *mac;                          /* "AA:BB:..", NULL if none */
	const char *const *hostnames;             /* sorted, no duplicates */
	const char *os;                           /* best OS match, NULL if none */
	const char *const *osmatches;             /* every OS match's name, scan order */
	const struct diff_port *ports;            /* sorted by (port, protocol name) */
	const struct diff_script *scripts;        /* host scripts, sorted by (id, output) */
	const struct diff_extraports *extraports; /* by count, then state name, descending */
	uint32_t nports;
	uint32_t nscripts;
	uint16_t nhostnames;
	uint16_t nextraports;
	uint16_t nosmatches;
	uint8_t family;     /* 4 or 6 */
	uint8_t status;     /* enum rec_host_status */
	int8_t os_accuracy; /* 0-100, -1 absent */
};

/* Where a snapshot came from and nmap's run line (for the banner). */
struct diff_meta {
	const char *file; /* the file name as given, NULL for a job */
	int64_t job_id;   /* 0 for a file */
	const char *scanner;
	const char *version;
	const char *args;
	int64_t start; /* Unix seconds, 0 absent */
	int64_t end;
};

struct diff_snapshot;

/* An empty snapshot; free with diff_snapshot_free().  SDB_ENOMEM. */
int diff_snapshot_new(struct diff_snapshot **out);
void diff_snapshot_free(struct diff_snapshot *s);

/* Copy one host into the snapshot (strings into its arena; the record is
 * only read).  An address seen before in this snapshot is dropped by
 * diff_snapshot_finish() (the first occurrence counts) and counted in
 * diff_snapshot_duplicates().  Returns 0, SDB_ENOMEM, SDB_ETOOBIG, or
 * SDB_EPARSE/SDB_ERANGE for an unparsable address or enumeration. */
int diff_snapshot_add_rec(struct diff_snapshot *s, const struct rec_host *h);
int diff_snapshot_add_store(struct diff_snapshot *s, const struct store_host *h);
/* The same, taking h's script outputs instead of copying them: their
 * pointers in h are NULL afterwards, whatever the result (free h as usual). */
int diff_snapshot_take_store(struct diff_snapshot *s, struct store_host *h);
/* Set the metadata (strings copied). */
int diff_snapshot_set_meta(struct diff_snapshot *s, const struct diff_meta *m);
/* Set the run's pre-scan (post == 0) or post-scan (post == 1) script
 * results (copied; scripts without output left out).  SDB_ENOMEM. */
int diff_snapshot_set_run_scripts(struct diff_snapshot *s, int post,
                                  const struct rec_script *scripts, size_t n);

/*
 * A sink that fills `s` (run_begin: scanner, version, args, start;
 * host: diff_snapshot_add_rec; run_end: end, pre- and post-scan scripts).
 * *out is filled in; it borrows s.
 */
void diff_snapshot_sink(struct diff_snapshot *s, struct ingest_sink *out);

/*
 * Read nmap XML from `fd` into `s` (meta.file = name).  On failure returns
 * the parser's code with "NAME:LINE:COL: what" in err[errlen], or
 * SDB_ENOMEM/SDB_EIO.
 */
int diff_snapshot_load_fd(struct diff_snapshot *s, int fd, const char *name, char *err,
                          size_t errlen);
/*
 * Read stored job `job_id` into `s`.  SDB_ENOTFOUND if there is no such
 * job; SDB_EUSAGE if it is not completed (err says its status); a store
 * error otherwise (err has store_errmsg()).
 */
int diff_snapshot_load_job(struct diff_snapshot *s, struct store *st, int64_t job_id, char *err,
                           size_t errlen);

/* Sort by address and drop repeated addresses (the first counts); call
 * once after the last add, before reading.  0 or SDB_ENOMEM. */
int diff_snapshot_finish(struct diff_snapshot *s);

const struct diff_meta *diff_snapshot_meta(const struct diff_snapshot *s);
size_t diff_snapshot_nhosts(const struct diff_snapshot *s);
const struct diff_host *diff_snapshot_host(const struct diff_snapshot *s, size_t i);
/* Hosts ignored because their address was already in the snapshot. */
size_t diff_snapshot_duplicates(const struct diff_snapshot *s);

/* ---- comparing two snapshots --------------------------------------------- */

enum diff_kind { DIFF_UNCHANGED = 0, DIFF_ADDED, DIFF_REMOVED, DIFF_CHANGED };

/* What differs in a host (diff_host_pair.changes). */
enum {
	DIFF_CH_STATUS = 1 << 0,
	DIFF_CH_MAC = 1 << 1,
	DIFF_CH_HOSTNAMES = 1 << 2,
	DIFF_CH_PORTS = 1 << 3,
	DIFF_CH_OS = 1 << 4,
	DIFF_CH_EXTRAPORTS = 1 << 5,
	DIFF_CH_SCRIPTS = 1 << 6,
};
/* What differs in a port (diff_port_pair.changes). */
enum {
	DIFF_PCH_STATE = 1 << 0,
	DIFF_PCH_SERVICE = 1 << 1, /* name, product, version, extrainfo, tunnel */
	DIFF_PCH_SCRIPTS = 1 << 2,
};

/* a or b is NULL where that side has no such script; both set and equal
 * only with verbose. */
struct diff_script_pair {
	const struct diff_script *a, *b;
};

/* One port of a host pair.  a or b is NULL where that scan did not list
 * the port.  changes == 0 only with verbose. */
struct diff_port_pair {
	const struct diff_port *a, *b;
	unsigned changes;
	const struct diff_script_pair *scripts; /* changed ones (all with verbose) */
	size_t nscripts;
};

struct diff_host_pair {
	const struct diff_host *a, *b; /* NULL: absent from that scan */
	enum diff_kind kind;
	unsigned changes;                   /* DIFF_CH_* */
	const struct diff_port_pair *ports; /* changed ports (all with verbose) */
	size_t nports;
	const struct diff_script_pair *scripts; /* host scripts, likewise */
	size_t nscripts;
};

struct diff_summary {
	size_t added, removed, changed, unchanged;
};

/*
 * Walk the hosts of a and b in address order, pairing them by address, and
 * call cb for every host that differs (every host with verbose).  The pair
 * and its arrays are valid only during the call.  A non-zero return from cb
 * stops the walk and is returned.  *sum (optional) counts every host.
 * Returns 0, SDB_ENOMEM, or cb's code.
 */
int diff_walk(const struct diff_snapshot *a, const struct diff_snapshot *b, int verbose,
              int (*cb)(void *ctx, const struct diff_host_pair *hp), void *ctx,
              struct diff_summary *sum);

/* ---- writers ---------------------------------------------------------------- */

enum diff_format { DIFF_FMT_TEXT = 0, DIFF_FMT_XML, DIFF_FMT_JSON };

/*
 * Write the diff of a and b to f in `fmt` (docs/DIFF.md).  *different (set
 * on success) is 1 if any host differs.  Returns 0, SDB_ENOMEM, or SDB_EIO
 * if writing failed.
 */
int diff_write(FILE *f, enum diff_format fmt, const struct diff_snapshot *a,
               const struct diff_snapshot *b, int verbose, int *different);

#endif
