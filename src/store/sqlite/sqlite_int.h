/*
 * sqlite_int.h - private to the SQLite backend (src/store/sqlite/): the
 * handle, its statement slots, the common helpers, and every slot function
 * with the file that holds it.  Nothing outside this folder includes it but
 * tests/unit/test_sqlite_plans.c (the hot-query table).
 *
 *   sqlite_stmt.c          errors, the statement cache, bind and step helpers
 *   sqlite_open.c          open, close, the connection's settings
 *   sqlite_func.c          SQL functions of the search language (regex, versions)
 *   sqlite_tx.c            transactions (BUSY retried)
 *   sqlite_migrate.c       migrations bookkeeping, table_exists
 *   sqlite_jobs.c          job rows, content-hash lookups, the reaper's write
 *   sqlite_write.c         hosts and what a job saw of them
 *   sqlite_history.c       history slots (states, events, late scans)
 *   sqlite_gone.c          gone hosts: job target ranges, misses (store.h)
 *   sqlite_query.c         read queries and the hot-query table
 *   sqlite_findings.c      findings slots
 *   sqlite_tags.c          tags and notes slots
 *   sqlite_tokens.c        API token slots (`scandb token`, `serve`)
 *   sqlite_admin_query.c   the generic operations slots, ping
 *   sqlite_admin_stats.c   stats
 *   sqlite_admin_doctor.c  doctor
 *   sqlite_admin_backup.c  backup, restore
 *   sqlite_admin_damaged.c a database too damaged to open (store.h)
 *   sqlite_ops.c           the slot table
 *
 * Statements are prepared once per connection, lazily, into a fixed slot of
 * struct store_sqlite, and reused (store__sqlite_stmt resets and clears them);
 * every use ends with store__sqlite_done so no statement stays active and holds
 * a read snapshot or blocks a DROP in a migration.
 */
#ifndef SDB_STORE_SQLITE_SQLITE_INT_H
#define SDB_STORE_SQLITE_SQLITE_INT_H

#include <sqlite3.h>

#include "store/store_int.h"

/* How long a statement waits for a lock another connection holds
 * (sqlite3_busy_timeout), in milliseconds. */
#define STORE__SQLITE_BUSY_MS 5000

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
	SQ_PORT_STATE_PUT, /* history (sqlite_history.c) */
	SQ_FIND_OF_HOST,   /* findings, once per host scan (sqlite_findings.c) */
	SQ_FIND_INSERT,
	SQ_FIND_SEEN,
	SQ_FIND_JOB_ADD,
	SQ_EVENT_INSERT,
	SQ_HIST_SCAN_LIST, /* late scans (sqlite_history.c) */
	SQ_HIST_FINDINGS_HOSTS,
	SQ_HIST_SCANS, /* four: host_scans, ports, extraports, scripts */
	SQ_HIST_SCANS_PORTS,
	SQ_HIST_SCANS_EXTRA,
	SQ_HIST_SCANS_SCRIPTS,
	SQ_HIST_FORGET,
	SQ_HIST_STATES,
	SQ_HIST_STATE_PUT,
	SQ_NOTE_ADD,   /* sqlite_tags.c */
	SQ_TARGET_PUT, /* gone hosts (sqlite_gone.c) */
	SQ_GONE_STATE,
	SQ_GONE_STATUS,
	/* queries (sqlite_query.c) */
	SQ_HOSTS_LATEST,
	SQ_HOSTS_JOB,
	SQ_HOST_PORTS,
	SQ_HOST_PORT_STATE,
	SQ_PORT_ROW,
	SQ_HOST_SCRIPTS,
	SQ_HOST_EXTRAPORTS,
	SQ_JOBS_ALL,
	SQ_JOBS_BY_STATUS,
	SQ_JOB_GET,
	SQ_RUN_SCRIPTS,
	/* history reads (sqlite_history.c; SQL in the hot table) */
	SQ_HIST_HOST,
	SQ_HIST_SCRIPTS,
	SQ_EVENTS_SINCE,
	SQ_EVENTS_HOST,
	/* tags and notes (sqlite_tags.c; SQL in the hot table) */
	SQ_HOST_ID,
	SQ_TAG_MATCH,
	SQ_TAG_ADD,
	SQ_TAG_RM,
	SQ_TAGS_EACH,
	SQ_HOST_TAGS,
	SQ_HOST_NOTES,
	SQ_NOTE_RM,
	SQ_TARGETS_EACH, /* gone hosts (sqlite_gone.c; SQL in the hot table) */
	SQ_HOSTS_MISSED,
	SQ__COUNT
};

struct store_sqlite {
	struct store base; /* first: a struct store * is a struct store_sqlite * */
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ__COUNT];
	/*
	 * The hint (store_int.h P3): history_load's answer for the host the
	 * job writer upserts next.  history_load of an address it finds sets
	 * it (addresses under 64 bytes); host_upsert of that same address
	 * consumes it and updates the row by id (one probe less per host on
	 * the import hot path) with the upsert's merge rule.  Cleared by every
	 * history_load (before it looks), every host_upsert, tx_begin and
	 * tx_rollback.  An update by id that finds no row fails ("storing
	 * host ...").
	 */
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
 * room); else 0. */
int store__sqlite_full(sqlite3 *db, int rc, const char *name, char *out, size_t len);

/* Binding helpers: absent values (NULL string, negative optional int, 0
 * time) become SQL NULL.  Strings are bound SQLITE_STATIC: the caller keeps
 * them alive until store__sqlite_done. */
int store__sqlite_bind_text(sqlite3_stmt *st, int idx, const char *v);
int store__sqlite_bind_opt_int(sqlite3_stmt *st, int idx, long v);
int store__sqlite_bind_time(sqlite3_stmt *st, int idx, int64_t t);
/* *dst = an owned copy of text column i of q's current row (NULL for SQL
 * NULL): 0, or SDB_ENOMEM (also when SQLite could not make the text). */
int store__sqlite_col_dup(sqlite3_stmt *q, int i, char **dst);
/* An optional integer column: -1 for SQL NULL. */
long store__sqlite_col_opt(sqlite3_stmt *q, int i);

/* rc is SQLITE_BUSY or SQLITE_LOCKED (primary or extended). */
int store__sqlite_busy(int rc);
/* A failed bind of a cached statement: the error SQLite recorded on the
 * connection, as "<what>: binding values"; the statement is done. */
int store__sqlite_bind_failed(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what);
/* Run a cached statement that returns no rows; it is done after. */
int store__sqlite_step_done(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what);
/* Run a cached "... RETURNING id" statement (one row) into *id; done after. */
int store__sqlite_step_id(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what,
                          int64_t *id);
/* Run SQL without data (settings, migration scripts); `what` names it. */
int store__sqlite_exec(struct store_sqlite *s, const char *sql, const char *what);

/*
 * The hot read queries (sqlite_query.c), indexed by their statement
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
/* The cached statement of hot query `id`, prepared from its one text in
 * store__sqlite_hot_queries (store__sqlite_stmt). */
int store__sqlite_hot(struct store_sqlite *s, enum sq_stmt id, sqlite3_stmt **out);

/* Register scandb_vercmp and scandb_regexp on the connection
 * (sqlite_func.c; store_filter.c's SQL calls them). */
int store__sqlite_functions(struct store_sqlite *s);

/* Connection slots (sqlite_open.c). */
int store__sqlite_open(const char *target, struct store **out, char *errmsg, size_t errlen);
int store__sqlite_open_mode(const char *target, int flags, struct store **out, char *errmsg,
                            size_t errlen);
void store__sqlite_close(struct store *st);
int store__sqlite_is_readonly(const struct store *st);
int store__sqlite_table_exists(struct store *st, const char *name, int *exists);

/* Transaction slots (sqlite_tx.c). */
int store__sqlite_tx_begin(struct store *st, int64_t order_at);
int store__sqlite_tx_commit(struct store *st);
int store__sqlite_tx_rollback(struct store *st);

/* Migrations bookkeeping slots (sqlite_migrate.c), and whether the schema
 * has a table `name` (one-shot, uncached: tables come and go). */
int store__sqlite_has_table(struct store_sqlite *s, const char *name, int *exists);
/* The applied migrations, oldest first, as store__sqlite_applied_rows reads
 * them (also from a backup being restored, sqlite_admin_backup.c). */
#define STORE__SQLITE_APPLIED_SQL                                                                  \
	"SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version"
/* Step `stmt` (STORE__SQLITE_APPLIED_SQL) to its end into *out[0..*n)
 * (malloc'ed): 0, SDB_ENOMEM, or SDB_EDB with *rc the failed step's code;
 * nothing is kept on failure and no message is set. */
int store__sqlite_applied_rows(sqlite3_stmt *stmt, struct store_applied **out, size_t *n, int *rc);
int store__sqlite_exec_script(struct store *st, const char *sql);
int store__sqlite_migrations_table(struct store *st);
int store__sqlite_migrations_applied(struct store *st, struct store_applied **out, size_t *n);
int store__sqlite_migration_record(struct store *st, const struct store_applied *a);
int store__sqlite_migration_unrecord(struct store *st, int version);
int store__sqlite_is_empty(struct store *st, int *empty);

/* Job slots (sqlite_jobs.c). */
int store__sqlite_job_insert(struct store *st, const struct store_job_new *j, int64_t *id);
int store__sqlite_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at);
int store__sqlite_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                             int64_t *existing_id);
int store__sqlite_job_find_by_hash(struct store *st, const char *hash, int64_t *id);
/* Tags and notes (sqlite_tags.c; store.h "tags and notes"). */
int store__sqlite_host_id(struct store *st, const char *addr, int64_t *id);
int store__sqlite_tag_set(struct store *st, const unsigned char lo[16], const unsigned char hi[16],
                          const char *tag, int add, int64_t at, const char *author,
                          int64_t *matched, int (*changed)(void *ctx, int64_t host_id), void *ctx);
int store__sqlite_tags_each(struct store *st, int (*cb)(void *ctx, const char *tag, int64_t hosts),
                            void *ctx);
int store__sqlite_host_tags(struct store *st, int64_t host_id,
                            int (*cb)(void *ctx, const char *tag, int64_t at, const char *author),
                            void *ctx);
int store__sqlite_note_add(struct store *st, int64_t host_id, int64_t at, const char *author,
                           const char *text, int64_t *id);
int store__sqlite_host_notes(struct store *st, int64_t host_id,
                             int (*cb)(void *ctx, const struct store_note *n), void *ctx);
int store__sqlite_note_rm(struct store *st, int64_t id);
int store__sqlite_jobs_fail(struct store *st, const struct store__stale_job *v, size_t n,
                            int64_t now, int *count);

/* Write slots (sqlite_write.c). */
int store__sqlite_host_upsert(struct store *st, int64_t job_id, int64_t seen_at,
                              const struct rec_host *h, int64_t *host_id);
int store__sqlite_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id,
                                   int64_t seen_at, const struct rec_host *h, const char *state);
int store__sqlite_port_insert(struct store *st, int64_t job_id, int64_t host_id,
                              const struct rec_port *p);
int store__sqlite_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                                    const struct rec_extraports *e);
int store__sqlite_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                                const struct rec_port *port, const struct rec_script *sc);
int store__sqlite_run_script_insert(struct store *st, int64_t job_id, int post, int seq,
                                    const struct rec_script *sc);

/* History slots (sqlite_history.c). */
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

/* Gone hosts (sqlite_gone.c). */
int store__sqlite_job_targets_put(struct store *st, int64_t job_id, const struct addr_range *v,
                                  size_t n);
int store__sqlite_job_targets_each(struct store *st,
                                   int (*cb)(void *ctx, int64_t job_id, int64_t at,
                                             const struct addr_range *r),
                                   void *ctx);
int store__sqlite_hosts_missed(
    struct store *st, int64_t job_id, const struct addr_range *rg, int limit,
    int (*cb)(void *ctx, int64_t host_id, const char *addr, const struct ev_host *h), void *ctx);
int store__sqlite_hosts_gone_save(struct store *st, const struct store_gone *v, size_t n);

/* Query slots (sqlite_query.c). */
int store__sqlite_top_values(struct store *st, const struct store_host_filter *f,
                             enum store_top_field field,
                             int (*cb)(void *ctx, const char *value, int64_t count), void *ctx);
int store__sqlite_hosts_each(struct store *st, const struct store_host_filter *f,
                             int (*cb)(void *ctx, struct store_host *h), void *ctx);
int store__sqlite_jobs_each(struct store *st, const char *status,
                            int (*cb)(void *ctx, struct store_job *j), void *ctx);
int store__sqlite_job_get(struct store *st, int64_t id, struct store_job **out);
int store__sqlite_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                              size_t *n);

/* ---- findings slots (sqlite_findings.c) ---- */
int store__sqlite_findings_of_host(struct store *st, int64_t host_id,
                                   struct store_finding_ref **out, size_t *n);
int store__sqlite_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                                 const struct store_finding_new *f, int64_t *id, int *created);
int store__sqlite_finding_set_status(struct store *st, int64_t id, const char *new_status,
                                     int64_t at, int64_t job_id, const char *note, int64_t scan_at,
                                     int record_creation, char **old);
int store__sqlite_findings_each(struct store *st, const struct store_finding_filter *f,
                                int (*cb)(void *ctx, struct store_finding *x), void *ctx);

/* ---- operations slots (sqlite_admin_*.c) ---- */
/* sqlite_admin_query.c */
int store__sqlite_query_int(struct store *st, const char *sql, const int64_t *params,
                            size_t nparams, int (*cb)(void *ctx, int64_t v), void *ctx);
int store__sqlite_query_text(struct store *st, const char *sql, const int64_t *params,
                             size_t nparams,
                             int (*cb)(void *ctx, const char *const *col, const size_t *len),
                             void *ctx);
int store__sqlite_exec_params(struct store *st, const char *sql, const int64_t *params,
                              size_t nparams, int64_t *changes);
int store__sqlite_ping(struct store *st, char *version, size_t len);
/* sqlite_admin_stats.c */
int store__sqlite_stats(struct store *st, int exact, struct store_stats *out);
/* sqlite_admin_doctor.c */
int store__sqlite_doctor(struct store *st, int quick, struct store_doctor_report *rep);
/* sqlite_admin_backup.c */
int store__sqlite_backup(struct store *st, const char *path, struct store_backup_info *info);
int store__sqlite_restore_open(struct store *st, const char *path, void **file,
                               struct store_applied **rows, size_t *n);
int store__sqlite_restore_verify(struct store *st, void *file, const char *path);
int store__sqlite_restore_apply(struct store *st, void *file, const char *path);
void store__sqlite_restore_close(struct store *st, void *file);

/* sqlite_tokens.c */
int store__sqlite_token_insert(struct store *st, const struct store_token_new *t, int64_t *id);
int store__sqlite_tokens_each(struct store *st, int64_t id,
                              int (*cb)(void *ctx, struct store_token *t), void *ctx);
int store__sqlite_token_revoke(struct store *st, int64_t id, int64_t at, int *changed);
int store__sqlite_token_touch(struct store *st, int64_t id, int64_t at);

#endif
