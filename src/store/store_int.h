/*
 * store_int.h - the contract between store.c (the wrappers) and each
 * backend.  A backend exports one `const struct store_ops` filled with
 * designated initializers and allocates a struct that begins with
 * `struct store` (so a `struct store *` can be cast to the backend's type).
 * An optional slot left NULL makes its wrapper answer SDB_EUNSUPPORTED.
 *
 * Backends set st->errmsg (store__set_err) on every failure, including the
 * driver's own message.  They never print.
 *
 * Backends: SQLite (sqlite/, its files listed in sqlite/sqlite_int.h) and
 * PostgreSQL (pg/, its files listed in pg/pg_open.c).
 *
 * ---- Protocols between the slots, and the backends' caches ----
 *
 * The slots are primitives, but not independent: the job writer
 * (app/job_writer.c, through store.c's wrappers) calls them in an order the
 * backends rely on, and the backends keep caches that are true only while
 * that order holds.  Every backend keeps P1-P4, P9, P10; P5-P8 are how PostgreSQL
 * keeps them (pg/pg_writebehind.c draws the whole layer).  A new caller of
 * the write slots, or a new backend, must keep all of them.
 *
 * P1 Transactions.  tx_begin (the writers' lock) .. tx_commit / tx_rollback;
 *    tx_rollback is safe after any failure and with no transaction open.
 *    A statement the database refused inside a transaction aborts it on
 *    PostgreSQL (its tx_commit then refuses): the caller rolls back.  (An
 *    answer such as SDB_ENOTFOUND or SDB_EEXISTS that no failed statement
 *    caused does not; nor does job_finish's SDB_EEXISTS: on SQLite the
 *    UNIQUE index on content_hash refuses that one statement, which SQLite
 *    undoes alone, and PostgreSQL looks before it writes.)  A lost
 *    transaction is SDB_ETRANSIENT: the caller
 *    retries it whole.  Write slots outside a
 *    transaction run on their own (no writers' lock: ids below are then
 *    only as safe as one statement is).
 *
 * P2 One host of a job, in this order:
 *      history_load(addr)          optional; what is known of the host
 *      host_upsert(addr)           the host row; its id
 *      host_scan_insert, port_insert, extraports_insert, script_insert
 *      event_insert ...            the events the rules derived
 *      port_state_save(h)          h: the ev_host history_load filled
 *      findings_of_host, finding_upsert, finding_set_status
 *    The job writer sends each address once per job.  A port's
 *    script_insert follows that port's port_insert (hosts_each drops the
 *    scripts of a port that is not stored).
 *
 * P3 The hint.  history_load(addr) leaves a hint -- SQLite: the host's id
 *    when it was found; PostgreSQL: found or not, and the id -- and the
 *    NEXT host_upsert consumes it: it always clears it, and uses it only if
 *    its address is the same (then SQLite updates by id instead of
 *    upserting; PostgreSQL knows the id without a round trip and stages
 *    the row, P5).  history_load clears it first; so do tx_begin (SQLite),
 *    tx_rollback and every transaction end (PostgreSQL).  Nothing may write
 *    that host between the two calls: a hint of "not found" would make
 *    PostgreSQL stage a second row for the address, refused at the flush
 *    (SDB_ETRANSIENT, "created by another writer").
 *
 * P4 port_state_save's h is what history_load filled: h->stored says the
 *    host has a host_state row.  PostgreSQL writes a host without one by a
 *    plain COPY (P5), which fails the flush if the row exists after all.
 *
 * P5 Write-behind (PostgreSQL).  Rows of host_scan_insert, port_insert,
 *    extraports_insert, script_insert, event_insert, port_state_save and a
 *    hinted host_upsert wait in per-table COPY buffers.  Every slot that may
 *    read them sends the ones it reads first (per-statement flush flags),
 *    tx_commit and the query_int / query_text / exec_params slots send all:
 *    a caller reads its own writes through the slots.  But a buffered row
 *    meets the table's CHECKs and foreign keys only when it is sent, at a
 *    later slot or at tx_commit; so each row slot checks its own values
 *    (what a CHECK would refuse, the call refuses, as on SQLite).
 *
 * P6 Ids (PostgreSQL, as SQLite's rowids): host and host_events ids are
 *    max(id) + 1, read once per transaction under the writers' lock and
 *    counted in C; a finding's is max(id) + 1 in its INSERT (it may be
 *    stored outside a write transaction); a job's is past the
 *    job_id_high_water mark (an id is never used twice).  A transaction
 *    that took ids moves the identity sequences up to max(id) before its
 *    COMMIT (a job row inserted outside one: at once), so a row inserted
 *    with the column default by anyone else does not collide.
 *
 * P7 The findings cache (PostgreSQL).  history_load reads the host's
 *    findings with the host; findings_of_host answers from them while it
 *    asks for that host.  Every slot that writes findings (finding_upsert,
 *    finding_set_status) clears it first; host_upsert of a new host makes
 *    it valid and empty; every transaction end clears it.
 *
 * P8 The block of known hosts (PostgreSQL).  Inside a write transaction
 *    history_load reads the hosts of 4096 addresses at once and answers
 *    "never seen" from that block; host_upsert adds each host it writes to
 *    it, so a host this transaction created is never "never seen".  Each
 *    host's rows serve once; the block is forgotten at transaction end.
 *
 * P9 Walks.  The callbacks of hosts_each, jobs_each and events_each run
 *    while the walk's statement is still being read (SQLite: its cached
 *    statement steps, holding a read snapshot all along).  A callback must
 *    not enter the same slot on the same handle, nor call tx_rollback
 *    (which resets every cached statement): the outer walk would restart
 *    or end without a word.  Open a second handle for that.
 *
 * P10 Slots with their own transaction.  jobs_fail opens its own write
 *    transaction: call it with none open (SQLite's BEGIN IMMEDIATE fails
 *    inside one).  stats reads inside its own read transaction when none
 *    is open, and inside the caller's (its snapshot) when one is.
 */
#ifndef SDB_STORE_STORE_INT_H
#define SDB_STORE_STORE_INT_H

#include <signal.h>
#include <stdarg.h>
#include <sys/types.h>

#include "store/store.h"

struct buf;
struct ev_host;

/* One embedded migration (generated at build time from
 * src/store/migrations/<backend>/NNNN_name.{up,down}.sql). */
struct store_migration_src {
	int version;
	const char *name;
	const char *up;
	const char *down;
};

/* A row of schema_migrations. */
struct store_applied {
	int version;
	char name[64];
	char checksum[65];
	int64_t applied_at;
};

/* A job the reaper marks failed (store_ops.c: the rule is job_stale). */
struct store__stale_job {
	int64_t id;
	int timed_out; /* 1: stale by its timeout_at; 0: its worker is gone */
	char why[512]; /* the error recorded */
};

/* The columns query_text hands over (the first ones of each row). */
#define STORE__TEXT_COLS 8

struct store_ops {
	const char *name;
	const struct store_migration_src *migrations; /* sorted by version */
	const size_t *nmigrations; /* -> the generated count (not a constant expression) */

	/* Allocate and connect; set (*out)->ops.  errmsg on failure. */
	int (*open)(const char *target, struct store **out, char *errmsg, size_t errlen);
	void (*close)(struct store *st);

	/* Takes the write lock, retries BUSY; order_at: the scan time to queue
	 * by (0: none; store_tx_begin_ordered). */
	int (*tx_begin)(struct store *st, int64_t order_at);
	int (*tx_commit)(struct store *st);
	int (*tx_rollback)(struct store *st);

	/* Migrations bookkeeping; all called inside a transaction begun with
	 * tx_begin, after migrate_lock. */
	int (*migrate_lock)(struct store *st); /* optional (SQLite: tx is the lock) */
	int (*exec_script)(struct store *st, const char *sql);
	int (*migrations_table)(struct store *st); /* CREATE TABLE IF NOT EXISTS */
	/* Applied rows sorted by version; *out malloc'ed (free()).  A database
	 * without the table yields n = 0. */
	int (*migrations_applied)(struct store *st, struct store_applied **out, size_t *n);
	int (*migration_record)(struct store *st, const struct store_applied *a);
	int (*migration_unrecord)(struct store *st, int version);
	/* 1 if the database has no tables at all (brand new). */
	int (*is_empty)(struct store *st, int *empty);
	/* Does a table of this name exist (in the current schema)? */
	int (*table_exists)(struct store *st, const char *name, int *exists);
	/* Optional: open with STORE_OPEN_* flags (else `open`, which creates). */
	int (*open_mode)(const char *target, int flags, struct store **out, char *errmsg,
	                 size_t errlen);
	/* Optional: 1 if the connection cannot write. */
	int (*is_readonly)(const struct store *st);

	int (*job_insert)(struct store *st, const struct store_job_new *j, int64_t *id);
	int (*job_progress)(struct store *st, int64_t id, int progress, int64_t timeout_at);
	int (*job_finish)(struct store *st, int64_t id, const struct store_job_final *f,
	                  int64_t *existing_id);
	/* consumes history_load's hint (P3) */
	int (*host_upsert)(struct store *st, int64_t job_id, int64_t seen_at,
	                   const struct rec_host *h, int64_t *host_id);
	int (*host_scan_insert)(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
	                        const struct rec_host *h, const char *state);
	int (*port_insert)(struct store *st, int64_t job_id, int64_t host_id,
	                   const struct rec_port *p);
	int (*extraports_insert)(struct store *st, int64_t job_id, int64_t host_id,
	                         const struct rec_extraports *e);
	int (*script_insert)(struct store *st, int64_t job_id, int64_t host_id,
	                     const struct rec_port *port, const struct rec_script *s);
	int (*run_script_insert)(struct store *st, int64_t job_id, int post, int seq,
	                         const struct rec_script *s);
	int (*run_scripts)(struct store *st, int64_t job_id, int post, struct store_script **out,
	                   size_t *n);
	/* The reaper's write (store_jobs_reap_stale, store_ops.c, decides
	 * which jobs and why): in a transaction of its own, retried whole
	 * when it is lost, mark each of v[0..n) failed with error v[i].why if
	 * it is still running -- and, for a timed_out one, if its timeout_at
	 * is still before `now` (a heartbeat since then wins).  *count: the
	 * jobs marked.  PostgreSQL takes no writers' lock for it (`scandb
	 * jobs` is a reader and must not wait for an import). */
	int (*jobs_fail)(struct store *st, const struct store__stale_job *v, size_t n, int64_t now,
	                 int *count);
	int (*job_find_by_hash)(struct store *st, const char *hash, int64_t *id);

	/* scripts only when store_history_in_order(out, at, job_id); leaves
	 * the hint host_upsert consumes (P3) */
	int (*history_load)(struct store *st, const char *addr, int64_t at, int64_t job_id,
	                    int64_t *host_id, struct ev_host *out);
	/* the host's host_state row: h's attributes and `doc`, its port state
	 * document (store__port_state_doc; store.c decides whether to write);
	 * h->stored as history_load set it (P4) */
	int (*port_state_save)(struct store *st, int64_t host_id, const struct ev_host *h,
	                       const char *doc, size_t len);
	int (*event_insert)(struct store *st, int64_t host_id, const struct ev_event *e);
	/* store.h "re-deriving it for late scans"; keys and ids as there */
	int (*history_scan_list)(struct store *st, const struct store_scan_key *lates, size_t n,
	                         int from_start, int max_later, unsigned char *has_findings,
	                         int (*cb)(void *ctx, const struct store_scan_key *k), void *ctx);
	int (*history_scans)(struct store *st, const struct store_scan_key *keys, size_t n,
	                     int (*cb)(void *ctx, struct store_host *h, const char *probed_scope),
	                     void *ctx);
	int (*history_forget)(struct store *st, const struct store_scan_key *keys, size_t n);
	int (*history_states)(struct store *st, const struct store_scan_key *keys, size_t n,
	                      int (*cb)(void *ctx, size_t i, const char *doc), void *ctx);
	int (*history_states_put)(struct store *st, const struct store_scan_key *keys,
	                          const char *const *docs, size_t n);

	/* store.h "gone hosts"; values checked by store.c */
	int (*job_targets_put)(struct store *st, int64_t job_id, const struct addr_range *v,
	                       size_t n);
	int (*job_targets_each)(struct store *st,
	                        int (*cb)(void *ctx, int64_t job_id, int64_t at,
	                                  const struct addr_range *r),
	                        void *ctx);
	int (*hosts_missed)(struct store *st, int64_t job_id, const struct addr_range *r, int limit,
	                    int (*cb)(void *ctx, int64_t host_id, const char *addr,
	                              const struct ev_host *h),
	                    void *ctx);
	int (*hosts_gone_save)(struct store *st, const struct store_gone *v, size_t n);

	/* f as store_events_each (store.c) normalises it: has_net always set
	 * (the whole address space when the caller gave no block), addr (if
	 * any) known to be inside it, kinds 0 (store.c filters the kinds). */
	int (*events_each)(struct store *st, const struct store_event_filter *f,
	                   int (*cb)(void *ctx, struct store_event *e), void *ctx);

	int (*hosts_each)(struct store *st, const struct store_host_filter *f,
	                  int (*cb)(void *ctx, struct store_host *h), void *ctx);
	int (*top_values)(struct store *st, const struct store_host_filter *f,
	                  enum store_top_field field,
	                  int (*cb)(void *ctx, const char *value, int64_t count), void *ctx);
	int (*jobs_each)(struct store *st, const char *status,
	                 int (*cb)(void *ctx, struct store_job *j), void *ctx);
	int (*job_get)(struct store *st, int64_t id, struct store_job **out);

	/* ---- findings (store.h "findings"; PostgreSQL's cache: P7) ---- */
	int (*findings_of_host)(struct store *st, int64_t host_id, struct store_finding_ref **out,
	                        size_t *n);
	int (*finding_upsert)(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
	                      const struct store_finding_new *f, int64_t *id, int *created);
	int (*finding_set_status)(struct store *st, int64_t id, const char *new_status, int64_t at,
	                          int64_t job_id, const char *note, int64_t scan_at,
	                          int record_creation, char **old);
	int (*findings_each)(struct store *st, const struct store_finding_filter *f,
	                     int (*cb)(void *ctx, struct store_finding *x), void *ctx);

	/* ---- tags and notes (store.h; store_tags.c checks the values) ---- */
	int (*host_id)(struct store *st, const char *addr, int64_t *id);
	int (*tag_set)(struct store *st, const unsigned char lo[16], const unsigned char hi[16],
	               const char *tag, int add, int64_t at, const char *author, int64_t *matched,
	               int (*changed)(void *ctx, int64_t host_id), void *ctx);
	int (*tags_each)(struct store *st, int (*cb)(void *ctx, const char *tag, int64_t hosts),
	                 void *ctx);
	int (*host_tags)(struct store *st, int64_t host_id,
	                 int (*cb)(void *ctx, const char *tag, int64_t at, const char *author),
	                 void *ctx);
	int (*note_add)(struct store *st, int64_t host_id, int64_t at, const char *author,
	                const char *text, int64_t *id);
	int (*host_notes)(struct store *st, int64_t host_id,
	                  int (*cb)(void *ctx, const struct store_note *n), void *ctx);
	int (*note_rm)(struct store *st, int64_t id);
	/* ---- API tokens (store.h; values checked by store_tokens.c) ---- */
	int (*token_insert)(struct store *st, const struct store_token_new *t, int64_t *id);
	int (*tokens_each)(struct store *st, int64_t id,
	                   int (*cb)(void *ctx, struct store_token *t), void *ctx);
	int (*token_revoke)(struct store *st, int64_t id, int64_t at, int *changed);
	int (*token_touch)(struct store *st, int64_t id, int64_t at);

	/* ---- operations (store.h "operations", docs/OPERATIONS.md) ----
	 * All optional: a NULL slot makes its command answer "not supported by
	 * the <backend> backend" (doctor: the check is reported skipped).
	 *
	 * query_int / exec_params run SQL that store*.c write from constant text
	 * only (never from input), in SQL both backends accept; parameters are
	 * written $1, $2, ... and bound from params[0..nparams-1].  They run in
	 * the caller's transaction if one is open.  query_int calls cb with the
	 * first column of each row as an integer (NULL as 0); a non-zero return
	 * from cb stops and is returned.  exec_params sets *changes (optional)
	 * to the rows the statement changed itself (not cascades). */
	/* How SQL written by store*.c compares a time column with a Unix-seconds
	 * parameter: "<sql_time>($1)".  NULL or "" when times are stored as
	 * Unix seconds (SQLite: "($1)"); PostgreSQL's timestamptz columns:
	 * "to_timestamp" (to_timestamp($1), exact for whole seconds). */
	const char *sql_time;
	int (*query_int)(struct store *st, const char *sql, const int64_t *params, size_t nparams,
	                 int (*cb)(void *ctx, int64_t v), void *ctx);
	int (*exec_params)(struct store *st, const char *sql, const int64_t *params, size_t nparams,
	                   int64_t *changes);
	/* query_int with every column as text: col[i] (NULL for SQL NULL) of
	 * len[i] bytes, for the first STORE__TEXT_COLS columns; valid only
	 * during the call. */
	int (*query_text)(struct store *st, const char *sql, const int64_t *params, size_t nparams,
	                  int (*cb)(void *ctx, const char *const *col, const size_t *len),
	                  void *ctx);
	/* A trivial query; version[len] = the engine's version text. */
	int (*ping)(struct store *st, char *version, size_t len);
	/* Fill out->size_method, db_bytes, free_bytes and objs (every table
	 * and index of the schema, tables first, each group by name; objs
	 * malloc'ed, freed by store_stats_free).  exact: count every row and
	 * page; else large objects may be estimated from a sample (objs[].
	 * estimated).  The job fields are store_ops.c's. */
	int (*stats)(struct store *st, int exact, struct store_stats *out);
	/* Backend checks, reported with store__doctor_check/_problem: SQLite:
	 * "integrity" (integrity_check), "foreign_keys" (foreign_key_check),
	 * "check_constraints" (CHECKs re-validated); PostgreSQL: at least
	 * "check_constraints" (every CHECK of pg_constraint re-evaluated on
	 * the rows).  The generic checks (migrations, the port state
	 * documents, orphans from store__relations, stuck jobs) are
	 * store_doctor.c's.  quick: the routine
	 * check (STORE_DOCTOR_QUICK): no work that repeats what the engine
	 * enforces, and the engine's quick check.  Returns an error only
	 * when a check could not run. */
	int (*doctor)(struct store *st, int quick, struct store_doctor_report *rep);
	/* PostgreSQL: ownership and privileges ("privileges": the tables and
	 * sequences are owned by / granted to the connecting role so every
	 * command works; each problem's fix is the GRANT/ALTER ... OWNER
	 * statement).  NULL for SQLite (reported skipped). */
	int (*doctor_privileges)(struct store *st, struct store_doctor_report *rep);
	/* store.h store_backup: `path` is checked not to exist by store_ops.c.
	 * SQLite: online backup API; PostgreSQL: pg_dump -Fc (SDB_EUNSUPPORTED
	 * with "pg_dump not found: install postgresql-client" if missing). */
	int (*backup)(struct store *st, const char *path, struct store_backup_info *info);
	/* store.h store_restore: the policy -- what is checked, in which order,
	 * what a non-empty target needs -- is store_ops.c's; it calls these in
	 * this order.  restore_open: open the file at `path` (checked to be a
	 * regular file) as a backup of this backend, reading only the file,
	 * and read its schema_migrations rows into *rows (malloc'ed, free());
	 * *file is the backend's handle of it for the calls below, closed by
	 * restore_close.  SQLite: opened read-only (the database itself is
	 * refused); PostgreSQL: pg_restore --list, the archive's schema and its
	 * schema_migrations rows (pg/pg_admin_backup.c).  restore_verify
	 * (optional): the file's own integrity (SQLite: integrity_check,
	 * foreign_key_check).  restore_lock (optional): take (1) or let go of
	 * (0) the writers' lock from before the emptiness check until the
	 * restore is done (PostgreSQL: a session advisory lock, as pg_restore
	 * runs in another session; SQLite's copy is one write transaction).
	 * restore_apply: replace the whole database by the file's, at once
	 * (SQLite: the online backup API in one step; PostgreSQL: pg_restore
	 * --single-transaction --clean). */
	int (*restore_open)(struct store *st, const char *path, void **file,
	                    struct store_applied **rows, size_t *n);
	int (*restore_verify)(struct store *st, void *file, const char *path);
	int (*restore_lock)(struct store *st, int lock);
	int (*restore_apply)(struct store *st, void *file, const char *path);
	void (*restore_close)(struct store *st, void *file);
};

struct store {
	const struct store_ops *ops;
	char errmsg[1024];
	int in_tx;
	/* fault injection (store_inject_fault) */
	char fault_op[32];
	int fault_count;
	int fault_err;
};

/*
 * Building the scans of store_history_scans from rows (store_result.c), the
 * same for every backend.  A backend reads a chunk of n keys and gives each
 * row to store__scan_rows_add with the key's index in the chunk (`slot`),
 * the row's kind and its text columns (NULL for SQL NULL), rows in any
 * order:
 *   STORE__ROW_SCAN:   status, reason, mac, hostnames (JSON), os_name,
 *                      probed_scope  (the host_scans row; the others of a
 *                      slot without it are dropped)
 *   STORE__ROW_PORT:   protocol, port, state, reason, service, product,
 *                      version, extrainfo, tunnel, method
 *   STORE__ROW_EXTRA:  state, count
 *   STORE__ROW_SCRIPT: protocol, port (NULL for a host script), script_id,
 *                      output, id (scripts.id: their stored order)
 * store__scan_rows_end sorts each scan's ports (protocol, port), extraports
 * (state) and scripts (id), puts the scripts on their ports and hands the
 * scans to the callback in slot order.  Errors set st's message.
 */
enum store__row_kind { STORE__ROW_SCAN = 0, STORE__ROW_PORT, STORE__ROW_EXTRA, STORE__ROW_SCRIPT };
struct store__scan_slot;
struct store__scan_rows {
	struct store *st;
	int (*cb)(void *ctx, struct store_host *h, const char *probed_scope);
	void *ctx;
	struct store__scan_slot *v;
	size_t n;
};
/* The index of host_id among k[0..n) (hosts ascending), or -1 (both
 * backends' history_scan_list: which late hosts have findings). */
int store__scan_key_find(const struct store_scan_key *k, size_t n, int64_t host_id);
/* Room for a chunk of n keys (slots 0..n-1), emptied.  0 or SDB_ENOMEM. */
int store__scan_rows_begin(struct store__scan_rows *b, size_t n);
int store__scan_rows_add(struct store__scan_rows *b, size_t slot, int64_t host_id, int64_t job_id,
                         int64_t at, enum store__row_kind kind, const char *const *c);
int store__scan_rows_end(struct store__scan_rows *b);
void store__scan_rows_free(struct store__scan_rows *b);

/* Put a finished backup file in place (store_ops.c, for every backend's backup
 * slot): fsync `tmp`, link it to `path` -- never replacing a file that
 * appeared meanwhile; rename() on a file system without hard links --,
 * remove `tmp` and fsync the directory.  On failure st's message says why
 * and `tmp` is left for the caller to remove. */
int store__backup_publish(struct store *st, const char *tmp, const char *path);
/* A backup's temporary file "<path>.tmp-XXXXXX" (store_tmp.c): created
 * 0600 and flock'ed; until store__tmp_remove (an error: it goes with its
 * -journal, -wal, -shm) or store__tmp_release (published), a SIGINT,
 * SIGTERM or SIGHUP that ends scandb removes it first and kills the child
 * writing it (store__tmp_child).  One at a time per process. */
struct store__tmp {
	char path[4096]; /* "" after release, or for a watch */
	int fd;
	int armed;
};
int store__tmp_create(struct store *st, const char *path, struct store__tmp *t);
/* The same handlers with no file: only the child is killed first. */
int store__tmp_watch(struct store *st, struct store__tmp *t);
/* A full disk, said so: "the disk is full: no space left in DIR (for
 * FILE); N free" into out (store_tmp.c).  store__dir_of: the directory of
 * a file name ("." or "/" included); store__dir_free: its free bytes or -1. */
void store__disk_full(const char *dir, const char *file, char *out, size_t len);
void store__dir_of(const char *file, char *dir, size_t len);
int64_t store__dir_free(const char *dir);
void store__tmp_child(struct store__tmp *t, pid_t pid);
/* The guard's signals, for core/proc.h's `hold`: blocked from before the
 * spawn until the child is named (store__tmp_child, proc_spec.on_pid), so
 * that a signal in between cannot remove the file while a child that is not
 * yet known goes on writing it. */
void store__tmp_sigs(sigset_t *set);
void store__tmp_remove(struct store__tmp *t);
void store__tmp_release(struct store__tmp *t);

/* The port of a loaded host that a port script belongs to, or NULL
 * (store_result.c; h->ports sorted by protocol in byte order, then port, as
 * both backends load them). */
struct store_port *store__host_port(struct store_host *h, const char *proto, int port);

/* The addr_key range [lo, hi] a host filter's --net and address select
 * (store_result.c); 0 when they select nothing (an address that does not
 * parse, or is outside the net). */
int store__host_key_range(const struct store_host_filter *f, unsigned char lo[16],
                          unsigned char hi[16]);
/*
 * A search expression as a SQL WHERE fragment (store_filter.c), for the
 * host queries of both backends (aliases h and hs): the fragment into sql,
 * its bound values into out (the text never holds one, invariant 5).
 * SQLite placeholders are ?base, ?base+1, ...; PostgreSQL's are elements
 * of the one text[] parameter $base (store__fsql_pg_array writes its
 * value).  current: the current state (port terms on port_state), else a
 * job's view (on ports).  Free out with store__fsql_free.
 */
enum store_dialect { STORE_DIALECT_SQLITE, STORE_DIALECT_PG };
enum store_fparam_type { STORE_FP_TEXT, STORE_FP_INT, STORE_FP_TIME, STORE_FP_KEY, STORE_FP_VER };
struct store_fparam {
	enum store_fparam_type type;
	char *text; /* TEXT; VER: the normalised version "8.0.1" */
	int64_t i;  /* INT; TIME: Unix seconds */
	unsigned char key[16];
};
struct store_fsql {
	struct store_fparam *params;
	size_t n, cap;
};
struct buf;
int store__filter_sql(const struct filter *f, int current, enum store_dialect d, int base,
                      struct buf *sql, struct store_fsql *out);
/* The port terms `services` applies to each row (filter_port_required), as
 * a fragment on the current state's port row p, its values appended to out
 * after those already there. */
int store__filter_port_sql(const struct filter *f, enum store_dialect d, int base, struct buf *sql,
                           struct store_fsql *out);
void store__fsql_free(struct store_fsql *q);
int store__fsql_pg_array(const struct store_fsql *q, struct buf *out);
/* Narrow [lo, hi] to the net: terms the whole expression needs (the terms
 * of a top-level AND), so that the walk uses hosts_addr_key for them. */
void store__filter_narrow(const struct filter *f, unsigned char lo[16], unsigned char hi[16]);

/* The stored text a host filter's protocol and status compare with
 * (store_result.c, core/record.h's names; NULL = any), for both backends'
 * SQL.  The values were checked by store_hosts_each(). */
void store__host_filter_text(const struct store_host_filter *f, const char **protocol,
                             const char **status);

/* JSON text of stored string arrays (store_json.c), the same for every
 * backend.  Names of a host / CPEs of a port as a compact JSON array,
 * duplicates dropped; *out = NULL when there are none (malloc'ed, free()).
 * Invalid UTF-8 is SDB_EPARSE; both set st's message. */
int store__hostnames_json(struct store *st, const struct rec_host *h, char **out);
int store__cpes_json(struct store *st, const struct rec_port *p, char **out);
/* host_scans.os_matches: every OS match name in order, or *out = NULL when
 * there is none or only the best match (os_name). */
int store__osmatches_json(struct store *st, const struct rec_host *h, char **out);
/* A stored JSON array of strings into an owned char *[] (non-strings are
 * skipped); SDB_EDB if the text is not a JSON array. */
int store__json_strings(const char *text, char ***out, size_t *n);
/* hosts.hostnames as events.h's canonical "a,b" text (sorted, unique);
 * *out NULL when there are none. */
int store__names_text(const char *json, char **out);
/* Append the host_state.ports document of h to out: a JSON array with
 * one array per port, in this order (the columns of the port_state view):
 *   [protocol, port, state, job_id, seen_at, first_seen, last_seen,
 *    closed_at, reason, method, service, product, version, extrainfo, tunnel]
 * strings or null; job_id and times integers (Unix seconds), null for 0
 * except seen_at; nulls after seen_at that end the array are left out.
 * SDB_ENOMEM/SDB_ETOOBIG from the buffer. */
int store__port_state_doc(const struct ev_host *h, struct buf *out);
/* Read such a document (len bytes, any JSON whitespace and escapes) into
 * out's ports (ev_host_put_port).  SDB_EDB if it is not
 * exactly that shape with valid values, SDB_ENOMEM. */
int store__port_state_read(const char *doc, size_t len, struct ev_host *out);
/* Is doc[len] such a document?  0, SDB_EDB or SDB_ENOMEM (the doctor's
 * audit: read into a host that is thrown away). */
int store__port_state_check(const char *doc, size_t len);

/* doctor's "port_state" check (store_doctor.c): every port state document
 * read with store__port_state_read, a page of hosts at a time; the first
 * hosts whose document is not what scandb writes are named with the SQL
 * that resets them.  Run by store_doctor after the backend's doctor slot,
 * and by PostgreSQL's backup in the snapshot it dumps.  (SQLite keeps no
 * CHECK on the document -- a JSON parse per write was a tenth of an
 * import's time; PostgreSQL's jsonb only knows it is JSON.)  An error only
 * when the documents could not be read. */
int store__doctor_docs(struct store *st, struct store_doctor_report *rep);

/* Fault injection (store.c): if store_inject_fault named `op` (or "*")
 * and its count is not used up, set st's message and return the error to
 * inject; else 0.  Every wrapper calls it before its slot. */
int store__fault(struct store *st, const char *op);

/* The common prologue of a wrapper (store.c, store_ops.c): check the
 * handle and the slot, inject a fault, then return the slot's result. */
#define STORE__CALL(st, slot, ...)                                                                 \
	do {                                                                                       \
		int r_;                                                                            \
		if (!(st))                                                                         \
			return SDB_EUSAGE;                                                         \
		if (!(st)->ops->slot)                                                              \
			return store__set_err((st), SDB_EUNSUPPORTED,                              \
			                      "%s: not supported by the %s backend", #slot,        \
			                      (st)->ops->name);                                    \
		if ((r_ = store__fault((st), #slot)) != 0)                                         \
			return r_;                                                                 \
		return (st)->ops->slot((st), __VA_ARGS__);                                         \
	} while (0)

/* Set st->errmsg (printf-style) and return err, for `return store__set_err(...)`. */
int store__set_err(struct store *st, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Backends compiled in (store.c picks by URL; store_pg_ops, pg/pg_open.c,
 * with SCANDB_WITH_PG only). */
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;
/* 1 if `target` names a PostgreSQL database: "postgresql://..." or
 * "postgres://..." (libpq URIs), or "postgresql:CONNINFO" / "pg:CONNINFO"
 * (a libpq key=value connection string, e.g. "pg:host=/run/pg dbname=x"). */
int store__is_pg_target(const char *target);
/*
 * The secrets of a database target by libpq's reading (store_target.c):
 * spans[] are the byte ranges of the target to hide (each secret value as
 * written, and a URI's user info up to its last '@'); values[] the
 * decoded secret values libpq will use (owned: store__target_secrets_free
 * wipes and frees them).  opaque: libpq cannot parse the target (or it
 * holds more secrets than fit): everything from offset `from` (after the
 * "pg:" prefix and the URI designator) is to be hidden.  A SQLite target
 * has none.  0, or SDB_ENOMEM (then opaque is set).
 */
#define STORE__SECRET_SPANS 32
struct store__target_secrets {
	int opaque;
	size_t from;
	size_t nspans;
	struct {
		size_t off, len;
	} spans[STORE__SECRET_SPANS];
	char *values[8];
	size_t nvalues;
};
int store__target_secrets(const char *target, struct store__target_secrets *ts);
void store__target_secrets_free(struct store__target_secrets *ts);
/* A process that holds a password dumps no core (store_target.c). */
void store__no_core_dumps(void);

/* Generated at build time (cmake/embed_migrations.cmake). */
extern const struct store_migration_src store_sqlite_migrations[];
extern const size_t store_sqlite_nmigrations;
extern const struct store_migration_src store_pg_migrations[];
extern const size_t store_pg_nmigrations;

/* Retry policy for transient failures (invariant 7): attempt 0.. up to
 * STORE_RETRY_MAX; store__backoff sleeps before retry `attempt` with the
 * store's backoff (core/retry.h: 2 ms doubling to ~1 s, up to 100% jitter). */
#define STORE_RETRY_MAX 12
void store__backoff(int attempt);
/* How long a writer waits for the write lock before giving up, in seconds:
 * SCANDB_LOCK_TIMEOUT (0 to 86400), else 600.  Both backends' tx_begin. */
double store__lock_wait_seconds(void);

/* ---- operations helpers (store.c, store_ops.c, store_doctor.c) ------------ */

/* The query_int / exec_params / query_text slots through one place (fault injection, a
 * NULL slot answered SDB_EUNSUPPORTED): store.c.  store__q_one: the first
 * column of the first row, 0 if there is no row (store_ops.c). */
int store__q_int(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                 int (*cb)(void *ctx, int64_t v), void *ctx);
int store__q_exec(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                  int64_t *changes);
int store__q_text(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                  int (*cb)(void *ctx, const char *const *col, const size_t *len), void *ctx);
int store__q_one(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                 int64_t *out);

/* The schema's migrations as health and doctor report them (store_ops.c):
 * highest applied, latest known, and how many are pending, unknown to
 * this scandb, or changed since they were applied. */
struct store__schema_state {
	int version, latest, pending, unknown, changed;
};
int store__schema_state(struct store *st, struct store__schema_state *ss);

/*
 * Every foreign key of the schema, backend-neutral: child.column references
 * parent.parent_column, with its ON DELETE action, in the schema versions
 * [since, until) (until 0: still there), in store_ops.c.  The doctor's
 * orphan checks (store_doctor.c) and prune's per-table counts (store_ops.c)
 * are generated from it;
 * tests/unit/test_sqlite_admin.c checks it against the SQLite schema (a new
 * foreign key must be added here).  An entry with fk 0 is a reference the
 * engine does not check -- port_state.job_id, inside the port state
 * documents since migration 5: doctor counts its orphans (and has no
 * statement to fix them), prune counts and keeps the jobs it names.
 */
enum store__on_delete { STORE__CASCADE = 0, STORE__SET_NULL };
struct store__relation {
	const char *child;
	const char *column;
	const char *parent;
	const char *parent_column;
	enum store__on_delete on_delete;
	int since, until;
	int fk;
};
extern const struct store__relation store__relations[];
extern const size_t store__nrelations;

/* (store_doctor.c) Record that check `name` ran with `status` ("ok", "problems", "fixed",
 * "skipped"), detail optional (copied).  A later call for the same name
 * replaces status and detail.  0 or SDB_ENOMEM. */
int store__doctor_check(struct store_doctor_report *rep, const char *name, const char *status,
                        const char *detail);
/* Add a problem to check `check` (which becomes "problems"); strings
 * copied, fix may be NULL.  0 or SDB_ENOMEM. */
int store__doctor_problem(struct store_doctor_report *rep, const char *check, int64_t count,
                          const char *what, const char *fix);

/*
 * Validate the schema_migrations rows of a backup against this backend's
 * embedded migrations (store_migrate.c): every row must be a known migration with the same
 * checksum, and at least the first migration must be applied.  Sets
 * *version (highest applied) and *pending; SDB_ESCHEMA otherwise, st's
 * message "PATH is not a backup this scandb can restore: " and the
 * migration at fault.
 */
int store__check_backup_migrations(struct store *st, const char *path,
                                   const struct store_applied *rows, size_t n, int *version,
                                   int *pending);

/* The value of hex digit c (either case), or -1 (store_target.c). */
int store__hexval(char c);

#endif
