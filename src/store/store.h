/*
 * store.h - the storage interface: everything outside src/store/ calls these
 * functions, never a backend directly (ARCHITECTURE "Stores: two backends
 * behind one interface"; STYLE: curl's vtls).  In order, it holds:
 *   - job kinds and statuses (C enums mirrored by CHECKs);
 *   - opening and closing a database, its target and backend (store.c,
 *     store_target.c);
 *   - migrations (store_migrate.c);
 *   - the job write path: transactions, jobs, hosts, ports, scripts, and the
 *     rule that says a running job is stale and its reaper (store_ops.c);
 *   - history: events, the current state, re-deriving it for late scans;
 *   - queries: hosts, jobs, events, as owned copies;
 *   - the fault-injection hook for tests;
 *   - findings (the storage app/findings.c writes decisions to);
 *   - operations: health, stats, doctor, backup, restore, prune
 *     (store_ops.c, store_doctor.c; SQLite's damaged-file repair:
 *     sqlite/sqlite_admin_damaged.c).
 * The wrappers (store.c) check arguments once for both backends, keep the
 * handle's error message, and are where tests inject faults.
 *
 * Backends: SQLite (sqlite/) and PostgreSQL (pg/, chosen by a
 * postgresql:// / postgres:// URL or a "pg:" / "postgresql:" key=value
 * string), behind the same ops table (store_int.h).
 *
 * Ownership: every struct a query returns is a heap copy owned by the caller
 * and freed with the one free function named beside it; it stays valid after
 * the statement, transaction and connection are gone (invariant 8).
 * Times are Unix seconds; 0 means "absent".  Optional ints are -1 if absent.
 */
#ifndef SDB_STORE_STORE_H
#define SDB_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/filter.h"
#include "core/hoststate.h"
#include "core/record.h"
#include "core/targets.h"

struct store;

/* Job kinds and statuses: C enums mirrored by CHECK constraints. */
enum store_job_kind { STORE_JOB_IMPORT = 0, STORE_JOB_SCAN };
enum store_job_status {
	STORE_JOB_QUEUED = 0,
	STORE_JOB_RUNNING,
	STORE_JOB_COMPLETED,
	STORE_JOB_FAILED,
	STORE_JOB_CANCELLED,
};
const char *store_job_kind_name(enum store_job_kind k);
const char *store_job_status_name(enum store_job_status s);
int store_job_status_parse(const char *s, enum store_job_status *out);

/* ---- opening ---------------------------------------------------------- */

/*
 * Open the database named by `target`: a file path (SQLite, created if
 * missing along with its directory), "sqlite:PATH", or a postgresql:// URL.
 * Does not migrate.  On failure returns an error and, if errmsg is non-NULL,
 * writes the reason into errmsg[errlen].  Close with store_close().
 */
int store_open(const char *target, struct store **out, char *errmsg, size_t errlen);
/* How store_open_mode opens a database (flags, or'ed). */
enum {
	/* A missing SQLite file (and its directory) is created; without it a
	 * missing file is SDB_ENOTFOUND, "no database at PATH". */
	STORE_OPEN_CREATE = 1,
	/* SQLite: opened with SQLITE_OPEN_READONLY, journal mode untouched:
	 * the file is never written (a database in a read-only directory or
	 * file can still be read).  PostgreSQL: no effect at the connection
	 * (the reading commands run no writing statement). */
	STORE_OPEN_READONLY = 2,
	/* SQLite: opened read-write but with PRAGMA query_only (no statement
	 * may write; journal mode untouched), because some checks need a
	 * writable connection: integrity_check verifies CHECK constraints only
	 * there.  A file this process may not write is opened read-only. */
	STORE_OPEN_QUERY_ONLY = 4,
};
/*
 * store_open with flags.  A SQLite file that holds tables but no
 * schema_migrations table is another application's: SDB_ESCHEMA, "PATH is
 * not a scandb database", before anything is written to it.  Messages name
 * the file once ("x.db is not a SQLite database").
 */
int store_open_mode(const char *target, int flags, struct store **out, char *errmsg, size_t errlen);
/* What a database holds: nothing yet (a writer creates scandb's schema in
 * it), scandb's schema (a schema_migrations table), or another
 * application's tables (never migrated into: invariant 6). */
enum store_schema_kind { STORE_SCHEMA_NEW = 0, STORE_SCHEMA_SCANDB, STORE_SCHEMA_FOREIGN };
int store_schema_kind(struct store *st, enum store_schema_kind *kind);
/* 1 if this connection cannot write (opened STORE_OPEN_READONLY, or SQLite
 * fell back to read-only because the file is not writable). */
int store_is_readonly(const struct store *st);
void store_close(struct store *st);
/*
 * `target` as it may be shown to a user (messages, logs): the password of a
 * PostgreSQL URI ("postgresql://user:PASSWORD@host/db", "?password=...")
 * or key=value string ("pg:... password=PASSWORD ...") replaced by "***";
 * anything else unchanged.  Writes out[outlen] (truncated if needed) and
 * returns out.
 */
char *store_target_display(const char *target, char *out, size_t outlen);
/* Keep the secrets of `target` out of core dumps: if it holds a password
 * (store_target_display would hide something), or names a PostgreSQL
 * database while PGPASSWORD is set, the process becomes non-dumpable
 * (prctl PR_SET_DUMPABLE 0) and its RLIMIT_CORE 0, for the rest of its
 * life (the tools it runs inherit the limit).  1 if it did, 0 if there was
 * nothing to protect.  Opening a PostgreSQL database does the same when
 * libpq finds a password elsewhere (~/.pgpass, a service file). */
int store_protect_secrets(const char *target);
/* 1 if `target` names a PostgreSQL database (store_open's rules), 0 for a
 * SQLite file. */
int store_target_is_pg(const char *target);
/* Last error detail of this handle: what failed and what the driver said. */
const char *store_errmsg(const struct store *st);
/* Record the message store_errmsg() returns from now on (printf-style) and
 * return `code`: for a layer above the store (app/) whose failure inside a
 * store transaction is told through the same handle. */
int store_set_error(struct store *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
const char *store_backend_name(const struct store *st);

/* ---- migrations (invariant 6) ---------------------------------------- */

struct store_migration {
	int version;
	char name[64];
	char checksum[65];  /* sha256 hex of the embedded up script */
	int applied;        /* 1 if recorded in schema_migrations */
	int64_t applied_at; /* 0 if not applied */
	int checksum_ok;    /* applied and stored checksum == embedded */
	int known;          /* 0: applied in the db but unknown to this binary */
};

/* All migrations known to the binary or recorded in the database, by
 * version.  *out is malloc'ed; free() it. */
int store_migrate_status(struct store *st, struct store_migration **out, size_t *n);
/* Apply pending migrations up to `target` (0 = latest), each in its own
 * transaction with its bookkeeping row, under the backend's lock; safe to
 * run concurrently.  *applied (optional) = how many this call applied. */
int store_migrate_up(struct store *st, int target, int *applied);
/* Revert applied migrations above `target` (default: one step when
 * target < 0).  *reverted (optional) = how many. */
int store_migrate_down(struct store *st, int target, int *reverted);
/* 1 if reverting migration `version` loses data: its down script drops a
 * table or a column or deletes rows (an unknown version counts as 1). */
int store_migration_down_drops(const struct store *st, int version);
/* 0 if every applied migration's checksum matches; else SDB_ESCHEMA. */
int store_migrate_verify(struct store *st);
/*
 * What every command except `migrate` calls after opening: a brand-new empty
 * database is migrated to latest in one transaction; otherwise the schema
 * must be exactly current, or SDB_ESCHEMA with a message naming
 * `scandb migrate up` (behind), "newer than this scandb" (ahead), or the
 * changed migration (checksum).
 */
int store_ensure_ready(struct store *st);

/* ---- the job write path (used by app/job_writer.c) ------------------ */

struct store_job_new {
	enum store_job_kind kind;
	enum store_job_status status; /* RUNNING for both paths */
	const char *source;
	const char *args;
	const char *worker_id;
	int64_t created_at;
	int64_t timeout_at;
	int forced;
};

struct store_job_final {
	enum store_job_status status;
	const char *error; /* why it failed; for a completed job, warnings */
	const char *scanner;
	const char *scanner_version;
	const char *args;
	const char *content_hash; /* 64 hex chars or NULL */
	const char *probed_scope;
	int64_t started_at;
	int64_t completed_at;
	double elapsed;                         /* -1 absent */
	long hosts_up, hosts_down, hosts_total; /* -1 absent */
	long ports_open;
	int partial; /* only part of the scan (a cut-off file): 0 or 1 */
};

/* Transactions: begin takes the write lock at once (SQLite: BEGIN
 * IMMEDIATE), retrying SDB_EBUSY with backoff and jitter. */
int store_tx_begin(struct store *st);
/* The same, for a job whose scan time is known before it is written (an
 * imported file's <nmaprun start>; 0: unknown, as store_tx_begin).  On
 * PostgreSQL, writers that said their scan time take the write lock in
 * scan-time order: one that would go before an earlier scan already
 * waiting lets it go first, so that concurrent importers store their
 * scans in order and none replays a later one (docs/ARCHITECTURE.md, "Out
 * of order").  SQLite's writers take the lock as they come. */
int store_tx_begin_ordered(struct store *st, int64_t scan_time);
int store_tx_commit(struct store *st);
int store_tx_rollback(struct store *st);

int store_job_insert(struct store *st, const struct store_job_new *j, int64_t *id);
/* Heartbeat of a running job: progress 0-100 and a new timeout_at. */
int store_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at);
/* Final state.  If content_hash is already held by another unforced job,
 * returns SDB_EEXISTS and sets *existing_id (optional). */
int store_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                     int64_t *existing_id);
/* Found-or-created in one statement (invariant 2); the latest-by-scan-time
 * observation wins the host's current fields. */
int store_host_upsert(struct store *st, int64_t job_id, int64_t seen_at, const struct rec_host *h,
                      int64_t *host_id);
/* `state`: the host's history state after this scan (a checkpoint for late
 * scans, see app/job_late.c), or NULL; stored as given. */
int store_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
                           const struct rec_host *h, const char *state);
int store_port_insert(struct store *st, int64_t job_id, int64_t host_id, const struct rec_port *p);
int store_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                            const struct rec_extraports *e);
/* port == NULL: a host script. */
int store_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                        const struct rec_port *port, const struct rec_script *s);
struct store_script;
/* The run's pre-scan (post == 0) or post-scan (post == 1) script results,
 * in the scan's order (rs->prescripts / rs->postscripts). */
int store_run_scripts_insert(struct store *st, int64_t job_id, int post, const struct rec_script *s,
                             size_t n);
/* Read them back: *out (free with store_scripts_free), *n. */
int store_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                      size_t *n);

/* Mark `running` jobs whose timeout_at has passed, or whose worker_id names
 * this machine (`hostname`) and a pid that no longer exists, as failed.
 * *reaped (optional) = how many.  Runs in its own transaction. */
int store_jobs_reap_stale(struct store *st, int64_t now, const char *hostname, int *reaped);
struct store_job;
/* The reaper's rule for one job, for readers that must not write (`jobs`,
 * `job`: invariant 13): 1 when j is running and its worker_id names this
 * machine and a pid that is gone, or its timeout_at has passed; *why (when
 * given) then holds the error the reaper records.  0 otherwise. */
int store_job_is_stale(const struct store_job *j, int64_t now, const char *hostname, char *why,
                       size_t whylen);
/* Does worker_id "HOST:PID" name this machine and a process that is gone? */
int store_worker_is_dead(const char *worker_id, const char *hostname);
/* Completed unforced job holding this content hash, or SDB_ENOTFOUND. */
int store_job_find_by_hash(struct store *st, const char *hash, int64_t *id);

/* ---- history: change events and current state (job writer) ----------- */

/*
 * What the database knows of host `addr` (canonical text): its id, status,
 * latest scan (job and time), its host_state (latest OS/MAC/hostnames, the
 * ports' state) and latest script outputs, loaded into `out` (initialised
 * by the caller; out->stored says whether a host_state row exists), for a
 * scan of it by job `job_id` at `at`.  When the host's latest stored scan
 * comes after that one (in (time, job) order: the scan is late), its
 * script outputs are not loaded: a late scan's history is derived again
 * from the stored scans, and reading every script output the host ever had
 * would be wasted.  SDB_ENOTFOUND for a host never seen (out stays empty).
 */
int store_history_load(struct store *st, const char *addr, int64_t at, int64_t job_id,
                       int64_t *host_id, struct ev_host *out);
/* Is a scan at (at, job_id) after the host's latest stored one in `h`, and
 * after the latest scan that covered it without listing it (h->miss_*)? */
int store_history_in_order(const struct ev_host *h, int64_t at, int64_t job_id);
/* Write the host's host_state row (its attributes and ports' state as one
 * document) when a port of `h` is dirty or h->attrs_dirty; nothing else. */
int store_port_state_save(struct store *st, int64_t host_id, const struct ev_host *h);
int store_event_insert(struct store *st, int64_t host_id, const struct ev_event *e);

/* ---- history: re-deriving it for late scans (job writer) -------------- */

struct store_host;

/* One stored scan of one host: the job, the host and the host's scan time
 * (host_scans.scanned_at). */
struct store_scan_key {
	int64_t host_id;
	int64_t job_id;
	int64_t at;
	int has_state; /* store_history_scan_list: the checkpoint it starts at */
	/* Not the store's: app/job_late.c marks a scan that covered the host
	 * without listing it (no host_scans row; never passed to the store
	 * but to store_history_forget, whose events it names). */
	int miss;
};
/*
 * The stored scans of the hosts of the late scans lates[0..n) (one key per
 * host, hosts ascending), this transaction's included: cb(ctx, key) in
 * (host id, scan time, job id) order.  Each host's list starts at its latest
 * scan older than its late scan (in (time, job) order) that holds a state,
 * or at its first scan when it has none or when from_start is set, and
 * ends after max_later scans after the late one (and those at the same
 * time as the last of them; 0: at its newest scan): it is as long as
 * re-deriving the host needs.  key.has_state is set on that checkpoint
 * (on no other scan, whether or not it holds a state).  has_findings[i] (the caller's array of n)
 * is set to 1 when host i has any finding, else 0.  One query (PostgreSQL:
 * one round trip) for the whole list.
 */
int store_history_scan_list(struct store *st, const struct store_scan_key *lates, size_t n,
                            int from_start, int max_later, unsigned char *has_findings,
                            int (*cb)(void *ctx, const struct store_scan_key *k), void *ctx);
/*
 * The stored scans keys[0..n) (sorted by host id, scan time, job id), read
 * in a few queries per thousands of scans, never one per host or per scan:
 * cb(ctx, h, probed_scope) for each, in that order.  `h` is the host as
 * that job saw it, with what deriving history reads: id, job_id,
 * scanned_at, status, reason, mac, hostnames, os (the best match's name),
 * ports (sorted by protocol, then port; state, reason, service fields and
 * their scripts), extraports (sorted by state) and host scripts (in stored
 * order); addr is NULL.  cb owns h (store_host_free).  probed_scope is the
 * job's (jobs.probed_scope; NULL while the job runs), valid during the
 * call.  A key that names no stored scan is skipped.
 */
int store_history_scans(struct store *st, const struct store_scan_key *keys, size_t n,
                        int (*cb)(void *ctx, struct store_host *h, const char *probed_scope),
                        void *ctx);
/* Forget the change events the scans keys[0..n) derived (they are derived
 * again): one statement for the whole list. */
int store_history_forget(struct store *st, const struct store_scan_key *keys, size_t n);
/* The states (host_scans.state: the job writer's checkpoints) of the scans
 * keys[0..n): cb(ctx, i, doc) for each key i whose scan has one, in any
 * order; doc is valid during the call.  One query per thousands of keys. */
int store_history_states(struct store *st, const struct store_scan_key *keys, size_t n,
                         int (*cb)(void *ctx, size_t i, const char *doc), void *ctx);
/* Set the state of scan keys[i] to docs[i] (NULL: none), i < n, this
 * transaction's scans too.  PostgreSQL: one statement per thousands. */
int store_history_states_put(struct store *st, const struct store_scan_key *keys,
                             const char *const *docs, size_t n);

/* ---- history: gone hosts (job writer; docs/HISTORY.md "Gone") ---------- */

/* Record the target ranges of job job_id (what it covers besides the hosts
 * it lists), inside its transaction; duplicates are stored once. */
int store_job_targets_put(struct store *st, int64_t job_id, const struct addr_range *v, size_t n);
/* The target ranges of every completed job that is dated (started_at) and
 * not partial: cb(ctx, job_id, started_at, range), by job id.  One query. */
int store_job_targets_each(struct store *st,
                           int (*cb)(void *ctx, int64_t job_id, int64_t at,
                                     const struct addr_range *r),
                           void *ctx);
/*
 * The known hosts whose addr_key is in r and of which job job_id stored no
 * scan (this transaction's included), the first `limit` of them in
 * addr_key order (the caller asks again from after the last one, so that
 * what it holds stays bounded; STORE_MISSED_PAGE unless a test says
 * otherwise): cb(ctx, host_id, addr, h) for each, h holding what ev_miss
 * reads (known, status, latest scan, misses, the latest miss, stored: it
 * has a host_state row) -- no ports, attributes or scripts.  h and addr
 * are valid during the call.  One query per page (the hosts_addr_key
 * index); cb must not write (P9).
 */
#define STORE_MISSED_PAGE 4096
int store_hosts_missed(struct store *st, int64_t job_id, const struct addr_range *r, int limit,
                       int (*cb)(void *ctx, int64_t host_id, const char *addr,
                                 const struct ev_host *h),
                       void *ctx);
/* Save what the gone rule changed of hosts v[0..n) (each once): their
 * misses and latest miss (host_state; a row is created when there is none:
 * the caller then sets h->stored) and their status (hosts.status, when it
 * differs).  PostgreSQL: one statement per thousands of hosts. */
struct store_gone {
	int64_t host_id;
	const struct ev_host *h;
};
int store_hosts_gone_save(struct store *st, const struct store_gone *v, size_t n);

/* ---- queries (owned copies, invariant 8) ------------------------------ */

struct store_script {
	char *id;
	char *output;
};

struct store_port {
	char *protocol;
	int port;
	char *state;
	char *reason;
	int reason_ttl;
	char *service;
	char *product;
	char *version;
	char *extrainfo;
	char *ostype;
	char *method;
	int conf;
	char *tunnel;
	char **cpes;
	size_t ncpes;
	struct store_script *scripts;
	size_t nscripts;
	/* Current view only (0 in a job's view): from the port's history. */
	int64_t first_seen;    /* first scan that saw it open */
	int64_t last_seen;     /* latest scan that saw it open */
	int64_t closed_at;     /* scan time it was found no longer open */
	int64_t state_job_id;  /* the latest scan that probed it */
	int64_t state_seen_at; /* that scan's time */
};

struct store_extraports {
	char *state;
	long count;
	char *reasons;
};

struct store_host {
	int64_t id;
	char *addr;
	int family;
	char *status; /* in the job shown */
	char *reason;
	char **hostnames;
	size_t nhostnames;
	char *mac;
	char *mac_vendor;
	char *os;         /* best OS match name */
	char **osmatches; /* every OS match name, scan order (none: just `os`) */
	size_t nosmatches;
	int os_accuracy;
	char *os_family;
	char *os_vendor;
	char *os_gen;
	char *os_type;
	char *os_cpe;
	int64_t uptime;
	char *lastboot;
	int distance;
	int64_t first_seen; /* across all jobs */
	int64_t last_seen;
	int64_t job_id;           /* the job whose view this is */
	int64_t scanned_at;       /* that job's time for this host */
	struct store_port *ports; /* every port that job recorded, any state */
	size_t nports;
	struct store_extraports *extraports;
	size_t nextraports;
	struct store_script *scripts; /* host scripts */
	size_t nscripts;
};
void store_host_free(struct store_host *h);
void store_scripts_free(struct store_script *v, size_t n);

/*
 * A stored host seen as the record a source would have pushed (record.h),
 * for code that applies one logic to parsed and stored scans (history
 * replay, diff).  Strings are borrowed from the store_host, which must
 * outlive the view; the arrays are reused from call to call.  Free the
 * arrays with store_host_rec_free().
 */
struct store_host_rec {
	struct rec_host h;
	struct rec_hostname *names;
	size_t names_cap;
	struct rec_port *ports;
	size_t ports_cap;
	struct rec_script *scripts;
	size_t scripts_cap;
	struct rec_extraports *extra;
	size_t extra_cap;
};
/* 0, SDB_ENOMEM, or SDB_EPARSE for a status/protocol/state text that is
 * not one of the enumerations. */
int store_host_as_rec(const struct store_host *sh, struct store_host_rec *v);
void store_host_rec_free(struct store_host_rec *v);

/* A filter that selects every host: start from it and set what narrows. */
#define STORE_HOST_FILTER_ANY                                                                      \
	{                                                                                          \
		.port = -1, .protocol = REC_PROTO_ANY, .status = REC_HOST_ANY                      \
	}

/* store_hosts_each() refuses (SDB_EUSAGE) a protocol or status that is
 * neither a value of its enumeration nor *_ANY. */
struct store_host_filter {
	int64_t job_id;              /* 0: current state (see below) */
	const char *addr;            /* exact canonical address, or NULL */
	int port;                    /* -1: any; else host must have it open */
	enum rec_proto protocol;     /* host must have an open port of it; REC_PROTO_ANY */
	const char *service;         /* host must have an open port with this service */
	enum rec_host_status status; /* host status in the job shown; REC_HOST_ANY */
	int has_net;
	unsigned char net_lo[16]; /* inclusive addr_key range (see core/addr.h) */
	unsigned char net_hi[16];
	int64_t changed_since; /* host has a change event at or after; 0: any */
	int64_t new_since;     /* host first seen at or after; 0: any */
	/* a search expression (core/filter.h, docs/SEARCH.md) the host must
	 * also pass, or NULL; ANDed with the fields above */
	const struct filter *expr;
};

/*
 * The current state (job_id 0): each host's fields as its most recent scan
 * saw them, and each port as the most recent scan that PROBED it saw it
 * (port_state), with first_seen/last_seen/closed_at; port filters apply to
 * that state.  Scripts and extraports come from the host's latest scan.
 *
 * Call cb once per matching host, in address order, with an owned host that
 * cb must free with store_host_free() (also on its error path).  A non-zero
 * return from cb stops the walk and is returned.
 */
int store_hosts_each(struct store *st, const struct store_host_filter *f,
                     int (*cb)(void *ctx, struct store_host *h), void *ctx);

/*
 * The values of the open ports of the current state (f->job_id must be 0)
 * that f selects, counted by the database (GROUP BY) instead of walked:
 * the rows are those of store_hosts_each(f) whose port is open and passes
 * f's port, protocol and service exactly and the port terms of f->expr
 * (filter_port_required).  Values: a non-empty service or product; port
 * "PORT/PROTO"; a host's non-empty OS name, counted once per host with
 * such a row; each of a row's CPEs.  cb gets each distinct value and its
 * count, in no particular order; a non-zero return stops and is returned.
 */
enum store_top_field {
	STORE_TOP_SERVICE,
	STORE_TOP_PRODUCT,
	STORE_TOP_PORT,
	STORE_TOP_OS,
	STORE_TOP_CPE
};
int store_top_values(struct store *st, const struct store_host_filter *f,
                     enum store_top_field field,
                     int (*cb)(void *ctx, const char *value, int64_t count), void *ctx);

struct store_job {
	int64_t id;
	char *kind;
	char *source;
	char *status;
	char *args;
	char *scanner;
	char *scanner_version;
	int progress;
	char *worker_id;
	int64_t created_at;
	int64_t started_at;
	int64_t completed_at;
	int64_t timeout_at;
	char *error;
	char *content_hash;
	int forced;
	char *probed_scope;
	long hosts_up, hosts_down, hosts_total; /* -1 absent */
	long ports_open;                        /* -1 absent */
	double elapsed;                         /* -1 absent */
	int partial;                            /* only part of the scan (0007) */
};
void store_job_free(struct store_job *j);

/* Jobs newest first; status NULL = all.  cb owns each job (store_job_free). */
int store_jobs_each(struct store *st, const char *status, int (*cb)(void *ctx, struct store_job *j),
                    void *ctx);
/* One job or SDB_ENOTFOUND.  Free *out with store_job_free(). */
int store_job_get(struct store *st, int64_t id, struct store_job **out);

/* Change events (host_events), oldest first (by scan time, then id). */
struct store_event {
	int64_t id;
	int64_t host_id;
	char *addr;
	int64_t job_id;
	int64_t prev_job_id; /* 0: none */
	char *kind;
	char *protocol; /* NULL for host-level events */
	int port;       /* -1 for host-level events */
	char *detail;   /* script id of script_changed */
	char *old_value;
	char *new_value;
	int64_t at; /* scan time of job_id */
};
void store_event_free(struct store_event *e);

struct store_event_filter {
	int64_t since;    /* at >= since (0: from the start) */
	const char *addr; /* one host (canonical address), or NULL */
	int has_net;
	unsigned char net_lo[16], net_hi[16];
	unsigned kinds; /* bit (1u << enum ev_kind) set = wanted; 0 = all */
};
/* cb owns each event (store_event_free). */
int store_events_each(struct store *st, const struct store_event_filter *f,
                      int (*cb)(void *ctx, struct store_event *e), void *ctx);

/* ---- test hooks -------------------------------------------------------- */

/* Make the next `count` wrapper calls named `op` (e.g. "port_insert",
 * "tx_commit", or "*") fail with `err`.  For fault-injection tests. */
void store_inject_fault(struct store *st, const char *op, int count, int err);

/* ---- findings (app/findings.c writes; docs/FINDINGS.md) -------------------- */

/* What a scan detected: one finding, identified by its fingerprint. */
struct store_finding_new {
	const char *type;   /* "nse_vuln" or "rule" */
	const char *source; /* script id or event kind */
	const char *key;    /* e.g. a CVE id, or NULL */
	int proto;          /* enum rec_proto, or -1 for host-level */
	int port;           /* -1 for host-level */
	const char *title;
	const char *severity; /* findings_severity_name() */
	const char *fingerprint;
	const char *details; /* JSON text or NULL */
};

/* A stored finding of a host, as the scan-time logic needs it. */
struct store_finding_ref {
	int64_t id;
	char *fingerprint;
	char *type;
	char *source;
	char *key; /* NULL if none */
	int proto; /* -1 host-level */
	int port;
	char *status;
	int64_t state_at;
};
/* Free an array of n refs (and the array). */
void store_finding_refs_free(struct store_finding_ref *v, size_t n);

/* Every finding of a host; *out malloc'ed (store_finding_refs_free). */
int store_findings_of_host(struct store *st, int64_t host_id, struct store_finding_ref **out,
                           size_t *n);
/*
 * Found-or-created by fingerprint in one statement: a new finding is
 * `open` with first_seen = last_seen = state_at = at; an existing one gets
 * first_seen = min, last_seen = max, state_at = max and, when `at` is its
 * newest sighting, the new title/severity/details.  Job `job_id` is added to
 * its jobs (a set).  *created = 1 if the row is new.
 */
int store_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                         const struct store_finding_new *f, int64_t *id, int *created);
/*
 * Set a finding's status and record the change (at, job_id or 0 for a
 * user, note or NULL).  old_status NULL records a creation.  scan_at > 0
 * also moves state_at to it (a scan-driven decision).  SDB_ENOTFOUND for an
 * unknown id.  *old (optional, malloc'ed) receives the previous status.
 */
/* The host's findings whose every status change was made by a scan still
 * stored (no user's decision, no pruned job): cb(ctx, id) for each. */
int store_findings_scan_decided(struct store *st, int64_t host_id, int (*cb)(void *ctx, int64_t id),
                                void *ctx);
/* Delete the host's rule findings (type 'rule') whose every status change
 * was made by a scan still stored (as store_findings_scan_decided), with
 * their jobs and history: a replay derives them again from the events it
 * derives again.  One statement. */
int store_findings_forget_rules(struct store *st, int64_t host_id);
/* Forget finding `id`'s recorded status changes and set its state_at, before
 * its scan-made lifecycle is written again (findings_replay_finish). */
int store_finding_rewind(struct store *st, int64_t id, int64_t state_at);
int store_finding_set_status(struct store *st, int64_t id, const char *new_status, int64_t at,
                             int64_t job_id, const char *note, int64_t scan_at, int record_creation,
                             char **old);

struct store_finding_change {
	int64_t at;
	int64_t job_id;   /* 0: a user */
	char *old_status; /* NULL: creation */
	char *new_status;
	char *note;
};

struct store_finding {
	int64_t id;
	char *addr;
	char *protocol; /* NULL: host-level */
	int port;       /* -1: host-level */
	char *type;
	char *source;
	char *key;
	char *title;
	char *severity;
	char *status;
	char *fingerprint;
	int64_t first_seen;
	int64_t last_seen;
	char *details; /* JSON text or NULL */
	int64_t *jobs; /* oldest first */
	size_t njobs;
	struct store_finding_change *history; /* oldest first */
	size_t nhistory;
};
void store_finding_free(struct store_finding *f);

struct store_finding_filter {
	int64_t id;           /* 0: any */
	const char *status;   /* NULL: any */
	const char *severity; /* NULL: any */
	const char *addr;     /* canonical address, or NULL */
};
/* Findings by id; cb owns each one (store_finding_free). */
int store_findings_each(struct store *st, const struct store_finding_filter *f,
                        int (*cb)(void *ctx, struct store_finding *x), void *ctx);

/* ---- operations: health, stats, doctor, backup, restore, prune -------- */
/* (docs/OPERATIONS.md; backends implement the slots in store_int.h "ops") */

/*
 * Like store_open, but a SQLite file that does not exist is an error
 * (SDB_ENOTFOUND, "no database at PATH") instead of being created: for the
 * commands that inspect or copy a database (health, stats, doctor, backup).
 * Same as store_open_mode(target, 0, ...).
 */
int store_open_existing(const char *target, struct store **out, char *errmsg, size_t errlen);

struct store_health {
	char backend[16];
	char server_version[64]; /* SQLite library / PostgreSQL server version */
	double latency_ms;       /* round trip of a trivial query */
	int schema_version;      /* highest applied migration, 0 = none */
	int latest_version;      /* highest migration this scandb knows */
	int pending;             /* known to this scandb, not applied */
	int unknown;             /* applied, unknown to this scandb (db is newer) */
	int changed;             /* applied with a different checksum */
	int healthy;             /* 1: usable by this scandb as it is */
	char problem[512];       /* why not healthy (and what to do); "" if healthy */
};
/* Connect-level check: runs a trivial query (timed), reads the server
 * version and the migration state.  Returns 0 when the checks ran (see
 * out->healthy), or the error of the query that failed. */
int store_health(struct store *st, struct store_health *out);

/* One table or index: its row/entry count and on-disk size. */
struct store_stat_obj {
	char name[128];
	char table[128]; /* the table an index belongs to; the table itself */
	int is_index;
	int64_t rows;        /* table rows / index entries; -1 unknown */
	int64_t bytes;       /* on-disk size; -1 unknown */
	int estimated;       /* rows are an estimate (from a sample) */
	int bytes_estimated; /* bytes too (SQLite: from a sample of the b-tree) */
};
struct store_stats {
	char backend[16];
	char size_method[32];        /* how sizes were measured ("dbstat", ...) */
	int64_t db_bytes;            /* the whole database */
	int64_t free_bytes;          /* of which unused (SQLite freelist); -1 unknown */
	struct store_stat_obj *objs; /* tables then indexes, by name */
	size_t nobjs;
	int64_t jobs_by_status[5];                  /* indexed by enum store_job_status */
	int64_t hosts_by_status[REC_HOST_GONE + 1]; /* indexed by enum rec_host_status */
	int64_t hosts_total;
	int64_t jobs_total;
	struct store_job *oldest_job; /* by scan time (started_at, else created_at); NULL if none */
	struct store_job *newest_job;
};
/* Fill *out (zeroed first); free with store_stats_free().  Large tables
 * and indexes are estimated from a sample of their pages (objs[].estimated;
 * the database's size is exact), so that stats answers in well under a
 * second however much history is stored; exact = 1 counts every row and
 * page (as long as reading the whole database takes). */
int store_stats(struct store *st, int exact, struct store_stats *out);
void store_stats_free(struct store_stats *s);

/*
 * scandb doctor.  A check is named ("migrations", "orphans", "stuck_jobs",
 * "integrity", "foreign_keys", "check_constraints", "privileges") and ends
 * "ok", "problems", "fixed" or "skipped" (does not apply to this backend /
 * schema).  Each problem says what is wrong and how to fix it (a command or
 * SQL).  All strings are owned by the report.
 */
struct store_doctor_check {
	char name[32];
	char status[16];
	char *detail; /* e.g. why skipped, what was fixed; NULL if nothing to say */
};
struct store_problem {
	char check[32];
	int64_t count; /* rows or items concerned; -1 unknown */
	char *what;
	char *fix;
};
struct store_doctor_report {
	struct store_doctor_check *checks;
	size_t nchecks;
	struct store_problem *problems;
	size_t nproblems;
	int fixed_stuck_jobs; /* with fix: jobs marked failed */
	/* set by the backend's checks: every row's foreign keys were verified
	 * (SQLite's foreign_key_check), so the orphans check need not look
	 * again at the relations that have a declared key */
	int fk_rows_checked;
};
/* store_doctor flags */
#define STORE_DOCTOR_FIX 1 /* mark running jobs whose timeout_at is before `now` failed */
/* The routine check: the engine's quick check (SQLite: quick_check, which
 * skips matching every index entry to its row, the bulk of integrity_check's
 * time on a large file; its report says how long the full check would take),
 * and on PostgreSQL no re-verification of the foreign keys it enforces. */
#define STORE_DOCTOR_QUICK 2
/* Run every check (flags: STORE_DOCTOR_*; 1 is STORE_DOCTOR_FIX); with FIX,
 * marks stuck jobs failed (one transaction) and records how many.  Returns
 * 0 when the checks ran (problems are in the report), else the error that
 * stopped them.  Free with store_doctor_report_free(). */
int store_doctor(struct store *st, int flags, int64_t now, struct store_doctor_report *out);
void store_doctor_report_free(struct store_doctor_report *r);

struct store_backup_info {
	char method[64]; /* e.g. "sqlite3 online backup API, one step" */
	int64_t bytes;   /* size of the file written */
	double seconds;
};
/* Write a consistent copy of the database to `path` while writers may be
 * running.  `path` must not exist (SDB_EEXISTS); the copy is written under
 * a temporary name in the same directory ("<path>.tmp-XXXXXX") and renamed
 * when complete, so a failed backup leaves nothing at `path`, and an error
 * or a SIGINT, SIGTERM or SIGHUP leaves no temporary file either. */
int store_backup(struct store *st, const char *path, struct store_backup_info *info);
/* 1 if `path` is what a backup killed with SIGKILL left behind: a
 * "<name>.tmp-XXXXXX" (or its -journal, -wal, -shm) that no live backup
 * holds and that is at least min_age seconds old; 0 otherwise. */
int store_backup_leftover(const char *path, int64_t min_age);

struct store_restore_info {
	int schema_version; /* of the restored database */
	int pending;        /* migrations to apply after it (scandb migrate up) */
	int64_t jobs;       /* rows in the restored database */
	int64_t hosts;
};
/*
 * Replace this database's contents with the backup `path`, atomically.
 * The file is validated first (a scandb database whose applied migrations
 * are all known to this scandb with matching checksums, passing the
 * backend's integrity check); SDB_EPARSE / SDB_ESCHEMA otherwise.  A
 * database holding any job or host is refused (SDB_EEXISTS) unless force.
 * Nothing is changed on any error.
 */
int store_restore(struct store *st, const char *path, int force, struct store_restore_info *info);
/* 1 if `target` is a SQLite file too damaged to open (its header is not a
 * SQLite database's, or its first pages are malformed): what `restore
 * --force` is for; `why` (if given) says what SQLite found.  0 for a
 * PostgreSQL target, a missing file or one that opens.  Reads only. */
int store_file_damaged(const char *target, char *why, size_t len);
/* doctor on such a file (which cannot be opened to run the checks): 1, and
 * *out holds its one problem (check "integrity") with `restore --force` as
 * the fix (free with store_doctor_report_free); 0 if the target is not
 * such a file; or an error. */
int store_doctor_damaged(const char *target, struct store_doctor_report *out);
/* Replace the damaged SQLite file of `target` with the backup `backup`
 * (validated as store_restore validates it, restored into a new file next
 * to it, which then takes its name).  The damaged file and its -wal /
 * -journal are kept aside as "<file>.damaged-<UTC time>" (named in kept),
 * for salvage; nothing else is touched on any error (errmsg says why). */
int store_restore_damaged(const char *target, const char *backup, struct store_restore_info *info,
                          char *kept, size_t keptlen, char *errmsg, size_t errlen);

/* ---- tags and notes: what people say about hosts (store_tags.c) --------- */

/* A tag is 1 to STORE_TAG_MAX bytes of ASCII letters, digits and "-_.:".
 * 1 when tag is one, else 0. */
#define STORE_TAG_MAX 64
int store_tag_valid(const char *tag);
/* A note's text: 1 to STORE_NOTE_MAX bytes of UTF-8 without control
 * characters other than newline and tab (an author's: STORE_AUTHOR_MAX
 * bytes, no newline or tab either).  1 when valid, else 0. */
#define STORE_NOTE_MAX   65536
#define STORE_AUTHOR_MAX 256
int store_note_text_valid(const char *text, size_t max, int one_line);

/* The id of the host with canonical address addr, or SDB_ENOTFOUND. */
int store_host_id(struct store *st, const char *addr, int64_t *id);
/*
 * Add (add != 0) or remove `tag` on every known host whose addr_key is in
 * [lo, hi] (one address: lo == hi); at and author: the tag's creation.
 * *matched: the known hosts in the range; changed(ctx, host_id) for each
 * host whose tags changed (a host that already had the tag, or did not
 * have it to remove, is not).  One statement for the range.
 */
int store_tag_set(struct store *st, const unsigned char lo[16], const unsigned char hi[16],
                  const char *tag, int add, int64_t at, const char *author, int64_t *matched,
                  int (*changed)(void *ctx, int64_t host_id), void *ctx);
/* Every tag with the number of hosts that have it, by tag. */
int store_tags_each(struct store *st, int (*cb)(void *ctx, const char *tag, int64_t hosts),
                    void *ctx);
/* The tags of one host, by tag: when and by whom each was added. */
int store_host_tags(struct store *st, int64_t host_id,
                    int (*cb)(void *ctx, const char *tag, int64_t at, const char *author),
                    void *ctx);
struct store_note {
	int64_t id;
	int64_t host_id;
	int64_t at;
	const char *author; /* NULL: unknown */
	const char *text;
};
int store_note_add(struct store *st, int64_t host_id, int64_t at, const char *author,
                   const char *text, int64_t *id);
/* The notes of one host, oldest first (valid during the call). */
int store_host_notes(struct store *st, int64_t host_id,
                     int (*cb)(void *ctx, const struct store_note *n), void *ctx);
/* Delete note id: SDB_ENOTFOUND when there is none. */
int store_note_rm(struct store *st, int64_t id);

/* ---- job rm: one job removed, its hosts' history derived again ---------- */

/* What removing a job touches (store_job_rm_count). */
struct store_job_rm_count {
	int64_t hosts;        /* hosts the job saw */
	int64_t hosts_gone;   /* of those, seen by no other job: they go */
	int64_t ports;        /* its port rows */
	int64_t events;       /* change events it made: they go */
	int64_t events_again; /* events of its hosts' later scans: derived again */
	int64_t findings;     /* findings it saw */
};
int store_job_rm_count(struct store *st, int64_t job_id, struct store_job_rm_count *out);
/* The hosts job `job_id` saw that another job saw too, by host id:
 * cb(ctx, host_id, addr, stored) (stored: it has a host_state row). */
int store_job_rm_hosts(struct store *st, int64_t job_id,
                       int (*cb)(void *ctx, int64_t host_id, const char *addr, int stored),
                       void *ctx);
/* The current fields of those hosts folded again from their other scans
 * (store_sql.h STORE_SQL_HOST_REFOLD_SET: the host merge in scan order). */
int store_job_rm_refold(struct store *st, int64_t job_id);
/* Delete the hosts only job `job_id` saw (*hosts_gone: how many), then the
 * job and every row that names it (foreign-key cascades). */
int store_job_rm_delete(struct store *st, int64_t job_id, int64_t *hosts_gone);
/* Delete the host's findings whose every status change a scan made (as
 * store_findings_scan_decided), with their jobs and history: job rm makes
 * them again from the scans that stay. */
int store_findings_forget_scan_decided(struct store *st, int64_t host_id);

struct store_prune_opts {
	int64_t older_than; /* cutoff: jobs whose scan time is before it */
	int64_t keep_last;  /* the N newest jobs are kept whatever their age */
	int dry_run;        /* count and list, change nothing */
};
struct store_prune_count {
	char table[32];
	char column[32];
	int set_null; /* 0: rows deleted (cascade); 1: column set to NULL */
	int64_t rows;
};
struct store_prune_result {
	int64_t *jobs; /* ids removed (or that would be), ascending */
	size_t njobs;
	struct store_prune_count *counts; /* per relation to jobs, schema order */
	size_t ncounts;
	int64_t kept_unfinished; /* old jobs kept: queued or running */
	int64_t kept_current;    /* old jobs kept: the current state needs them */
	int64_t kept_last;       /* old jobs kept: among the keep_last newest */
};
/*
 * Remove old jobs and their results (foreign-key cascades) in one
 * transaction.  A job is removed when its scan time (started_at, else
 * created_at) is before opts->older_than, it is finished (not queued or
 * running), it is not among the keep_last newest jobs, and the current
 * state does not need it: it is no host's latest scan (hosts.last_job_id,
 * the latest host_scans row of a host) and no port's latest probing scan
 * (port_state.job_id).  So `scandb hosts` shows the same before and after.
 * Free *out with store_prune_result_free().
 */
int store_prune(struct store *st, const struct store_prune_opts *opts,
                struct store_prune_result *out);
void store_prune_result_free(struct store_prune_result *r);

/* ---- API tokens (`scandb token`, `scandb serve`; migration 0015) ------- */
/* (store_tokens.c checks the values; sqlite/sqlite_tokens.c, pg/pg_tokens.c) */

/* A stored token: never its secret, only the salted hash app/tokens.c
 * compares with.  Times are Unix seconds, 0 when absent. */
struct store_token {
	int64_t id;
	char *name;
	char *scope; /* "read", "write" or "admin" */
	char *salt;  /* 32 hex characters */
	char *hash;  /* 64 hex characters: SHA-256(salt bytes || secret) */
	int64_t created_at;
	int64_t expires_at; /* 0: never */
	int64_t last_used_at;
	int64_t revoked_at;
};
void store_token_free(struct store_token *t);
struct store_token_new {
	const char *name; /* 1-64 bytes */
	const char *scope;
	const char *salt;
	const char *hash;
	int64_t created_at;
	int64_t expires_at; /* 0: never; else after created_at */
};
/* Store a new token; *id = its id.  SDB_EEXISTS when the name is taken
 * (revoked tokens keep theirs), SDB_EUSAGE for a value out of its rules. */
int store_token_insert(struct store *st, const struct store_token_new *t, int64_t *id);
/* Tokens by id (id > 0: only that one); cb owns each (store_token_free). */
int store_tokens_each(struct store *st, int64_t id, int (*cb)(void *ctx, struct store_token *t),
                      void *ctx);
/* One token, or SDB_ENOTFOUND.  Free *out with store_token_free(). */
int store_token_get(struct store *st, int64_t id, struct store_token **out);
/* Revoke token `id` at `at`; a token revoked already keeps its time
 * (*changed = 0).  SDB_ENOTFOUND for an unknown id. */
int store_token_revoke(struct store *st, int64_t id, int64_t at, int *changed);
/* Record a use of token `id` at `at`: last_used_at moves only when it is
 * a minute older or more (a token used by every request writes once a
 * minute).  Never waits for a writer's lock: while one holds it, the use
 * is not recorded (SDB_EBUSY) and a later one is. */
int store_token_touch(struct store *st, int64_t id, int64_t at);

#endif
