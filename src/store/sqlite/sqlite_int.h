/*
 * store_sqlite_int.h - private to the SQLite backend (store_sqlite.c: connection,
 * transactions, migrations bookkeeping and the write path; store_sqlite_query.c:
 * the read queries; _history, _findings, _admin: their slots).  Nothing
 * outside the backend's files includes it.
 *
 * Statements are prepared once per connection, lazily, into a fixed slot of
 * struct store_sqlite, and reused (store__sqlite_stmt resets and clears them);
 * every use ends with store__sqlite_done so no statement stays active and holds
 * a read snapshot or blocks a DROP in a migration.
 */
#ifndef SDB_STORE_STORE_SQLITE_INT_H
#define SDB_STORE_STORE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store_int.h"

/* One slot per cached statement. */
enum sq_stmt {
	SQ_BEGIN = 0,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_JOB_INSERT,
	SQ_JOB_PROGRESS,
	SQ_JOB_FINISH,
	SQ_JOB_BY_HASH_ANY,
	SQ_JOB_BY_HASH_DONE,
	SQ_HOST_UPSERT,
	SQ_HOST_UPDATE,
	SQ_HOST_SCAN_INSERT,
	SQ_PORT_INSERT,
	SQ_EXTRAPORTS_INSERT,
	SQ_SCRIPT_INSERT,
	SQ_RUN_SCRIPT_INSERT,
	SQ_JOB_FAIL,
	SQ_PORT_STATE_PUT, /* history (store_sqlite_history.c) */
	SQ_FIND_OF_HOST,   /* findings, once per host scan (store_sqlite_findings.c) */
	SQ_FIND_INSERT,
	SQ_FIND_SEEN,
	SQ_FIND_JOB_ADD,
	SQ_EVENT_INSERT,
	SQ_HIST_SCAN_LIST, /* late scans (store_sqlite_history.c) */
	SQ_HIST_FINDINGS_HOSTS,
	SQ_HIST_SCANS, /* four: host_scans, ports, extraports, scripts */
	SQ_HIST_SCANS_PORTS,
	SQ_HIST_SCANS_EXTRA,
	SQ_HIST_SCANS_SCRIPTS,
	SQ_HIST_FORGET,
	SQ_HIST_STATES,
	SQ_HIST_STATE_PUT,
	/* queries (store_sqlite_query.c) */
	SQ_HOSTS_LATEST,
	SQ_HOSTS_JOB,
	SQ_HOST_PORTS,
	SQ_HOST_PORT_STATE,
	SQ_HOST_SCRIPTS,
	SQ_HOST_EXTRAPORTS,
	SQ_JOBS_ALL,
	SQ_JOBS_BY_STATUS,
	SQ_JOB_GET,
	SQ_RUN_SCRIPTS,
	/* history reads (store_sqlite_history.c; SQL in the hot table) */
	SQ_HIST_HOST,
	SQ_HIST_SCRIPTS,
	SQ_EVENTS_SINCE,
	SQ_EVENTS_HOST,
	SQ__COUNT
};

struct store_sqlite {
	struct store base; /* first: a struct store * is a struct store_sqlite * */
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ__COUNT];
	/* history_load's answer for the host the job writer upserts next */
	char hint_addr[64];
	int64_t hint_id; /* 0: none */
	int query_only;  /* opened STORE_OPEN_QUERY_ONLY */
};

/* The backend handle behind a store handle. */
static inline struct store_sqlite *store__sqlite(struct store *st)
{
	return (struct store_sqlite *)st;
}

/*
 * The cached statement for `id`, prepared from `sql` on first use (sql must
 * be the same constant text every time).  Returned reset, without bindings.
 * The statement stays owned by the handle (finalized in close).
 */
int store__sqlite_stmt(struct store_sqlite *s, enum sq_stmt id, const char *sql,
                       sqlite3_stmt **out);
/* End a use of a cached statement: reset it and clear its bindings. */
void store__sqlite_done(sqlite3_stmt *stmt);
/*
 * Record a failure: map SQLite's result code `rc` to an SDB_E* code, set the
 * handle's message to "<what we were doing>: <sqlite's message>" (fmt and its
 * arguments say what we were doing) and return the code.  Call it before
 * resetting the failed statement, while sqlite3_errmsg() still describes it.
 */
int store__sqlite_err(struct store_sqlite *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Map an SQLite result code (primary or extended) to an SDB_E* code. */
int store__sqlite_code(int rc);
/* rc from db is a full disk (SQLITE_FULL, or an I/O error with ENOSPC /
 * EDQUOT): 1, and out says so and where (the directory of `name`, else of
 * the database's file, or SQLite's temporary directory if that has less
 * room); else 0.  store_sqlite_admin.c. */
int store__sqlite_full(sqlite3 *db, int rc, const char *name, char *out, size_t len);

/* Binding helpers: absent values (NULL string, negative optional int, 0
 * time) become SQL NULL.  Strings are bound SQLITE_STATIC: the caller keeps
 * them alive until store__sqlite_done. */
int store__sqlite_bind_text(sqlite3_stmt *st, int idx, const char *v);
int store__sqlite_bind_opt_int(sqlite3_stmt *st, int idx, long v);
int store__sqlite_bind_time(sqlite3_stmt *st, int idx, int64_t t);

/*
 * The hot read queries (store_sqlite_query.c), indexed by their statement
 * slot; slots that are not in it have sql == NULL.  The query code prepares
 * exactly these strings: there is no other copy of their text.
 * tests/unit/test_sqlite_plans.c runs EXPLAIN QUERY PLAN on each and checks
 * `plan` ("Indexes follow the questions"): every access path of the plan (a
 * SEARCH, SCAN, temp b-tree or automatic index line) must start with one of
 * these fragments, and every fragment must start some such line.  So a full
 * scan, a sort or an index that is not listed here fails the test, and so
 * does a listed index the planner stopped using.
 */
#define STORE__SQLITE_PLAN_MAX 8
struct store__sqlite_query {
	const char *name;
	const char *sql;
	const char *plan[STORE__SQLITE_PLAN_MAX]; /* NULL-terminated */
};
extern const struct store__sqlite_query store__sqlite_hot_queries[SQ__COUNT];

/* History slots (store_sqlite_history.c). */
int store__sqlite_history_load(struct store *st, const char *addr, int64_t at, int64_t job_id,
                               int64_t *host_id, struct ev_host *out);
int store__sqlite_port_state_save(struct store *st, int64_t host_id, const struct ev_host *h,
                                  const char *doc, size_t len);
int store__sqlite_event_insert(struct store *st, int64_t host_id, const struct ev_event *e);
int store__sqlite_events_each(struct store *st, const struct store_event_filter *f,
                              int (*cb)(void *ctx, struct store_event *e), void *ctx);
int store__sqlite_history_scan_list(struct store *st, const struct store_scan_key *lates, size_t n,
                                    int from_start, int max_later, unsigned char *has_findings,
                                    int (*cb)(void *ctx, const struct store_scan_key *k),
                                    void *ctx);
int store__sqlite_history_scans(struct store *st, const struct store_scan_key *keys, size_t n,
                                int (*cb)(void *ctx, struct store_host *h,
                                          const char *probed_scope),
                                void *ctx);
int store__sqlite_history_forget(struct store *st, const struct store_scan_key *keys, size_t n);
int store__sqlite_history_states(struct store *st, const struct store_scan_key *keys, size_t n,
                                 int (*cb)(void *ctx, size_t i, const char *doc), void *ctx);
int store__sqlite_history_states_put(struct store *st, const struct store_scan_key *keys,
                                     const char *const *docs, size_t n);

/* Query slots (store_sqlite_query.c). */
int store__sqlite_hosts_each(struct store *st, const struct store_host_filter *f,
                             int (*cb)(void *ctx, struct store_host *h), void *ctx);
int store__sqlite_jobs_each(struct store *st, const char *status,
                            int (*cb)(void *ctx, struct store_job *j), void *ctx);
int store__sqlite_job_get(struct store *st, int64_t id, struct store_job **out);
int store__sqlite_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                              size_t *n);

/* ---- findings slots (store_sqlite_findings.c) ---- */
int store__sqlite_findings_of_host(struct store *st, int64_t host_id,
                                   struct store_finding_ref **out, size_t *n);
int store__sqlite_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                                 const struct store_finding_new *f, int64_t *id, int *created);
int store__sqlite_finding_set_status(struct store *st, int64_t id, const char *new_status,
                                     int64_t at, int64_t job_id, const char *note, int64_t scan_at,
                                     int record_creation, char **old);
int store__sqlite_findings_each(struct store *st, const struct store_finding_filter *f,
                                int (*cb)(void *ctx, struct store_finding *x), void *ctx);

/* ---- operations slots (store_sqlite_admin.c) ---- */
int store__sqlite_query_int(struct store *st, const char *sql, const int64_t *params,
                            size_t nparams, int (*cb)(void *ctx, int64_t v), void *ctx);
int store__sqlite_query_text(struct store *st, const char *sql, const int64_t *params,
                             size_t nparams,
                             int (*cb)(void *ctx, const char *const *col, const size_t *len),
                             void *ctx);
int store__sqlite_exec_params(struct store *st, const char *sql, const int64_t *params,
                              size_t nparams, int64_t *changes);
int store__sqlite_ping(struct store *st, char *version, size_t len);
int store__sqlite_stats(struct store *st, int exact, struct store_stats *out);
int store__sqlite_doctor(struct store *st, int quick, struct store_doctor_report *rep);
int store__sqlite_backup(struct store *st, const char *path, struct store_backup_info *info);
int store__sqlite_restore_open(struct store *st, const char *path, void **file,
                               struct store_applied **rows, size_t *n);
int store__sqlite_restore_verify(struct store *st, void *file, const char *path);
int store__sqlite_restore_apply(struct store *st, void *file, const char *path);
void store__sqlite_restore_close(struct store *st, void *file);

#endif
