/*
 * pg_int.h - private to the PostgreSQL backend (the files of src/store/pg/, and
 * store_target.c, which reads targets as libpq does): the handle, the
 * prepared statements' slots, and what the files of the backend share
 * (pg_open.c lists them).  Nothing else includes it.
 *
 * Statements are prepared once per connection, lazily, into a fixed slot
 * (store__pg_exec prepares on first use, and again after a reconnect).
 * Parameters travel as text; times as Unix seconds (to_timestamp() in SQL,
 * extract(epoch ...)::bigint out).
 *
 * Bulk rows (host_scans, ports, extraports, scripts, host_events,
 * host_state and the host upserts through a staging table) are not sent
 * one statement at a time: they wait in per-table COPY buffers, sent
 * before any statement that may read them and at commit.  That layer, its
 * flush flags, its ids and the caches every writer must keep true are
 * pg_writebehind.c's: its header draws them.
 */
#ifndef SDB_STORE_PG_PG_INT_H
#define SDB_STORE_PG_PG_INT_H

#include <libpq-fe.h>

#include "core/buf.h"
#include "store/store_int.h"
#include "store/store_sql.h"

/* One slot per prepared statement. */
enum pg_stmt {
	PG_JOB_INSERT = 0,
	PG_JOB_PROGRESS,
	PG_JOB_FINISH,
	PG_JOB_BY_HASH,
	PG_JOB_STATUS,
	PG_HOST_UPSERT,
	PG_HOST_NEXT_ID,
	PG_SEQ_SYNC,
	PG_HOST_SEQ,
	PG_STAGE_HOSTS_APPLY,
	PG_STAGE_PS_APPLY,
	PG_STAGE_HOSTS_CLEAR,
	PG_STAGE_PS_CLEAR,
	PG_JOB_FAIL,
	PG_RUN_SCRIPT_INSERT,
	PG_HIST_LOAD, /* history (pg_history.c) */
	PG_HIST_BLOCK,
	PG_HIST_BLOCK_KEYS,
	PG_EVENT_NEXT_ID,
	PG_HIST_SCAN_LIST,
	PG_HIST_SCANS,
	PG_HIST_FORGET,
	PG_HIST_STATES,
	PG_HIST_STATES_PUT,
	PG_EVENTS_SINCE,
	PG_TARGET_PUT, /* gone hosts (pg_gone.c) */
	PG_TARGETS_EACH,
	PG_HOSTS_MISSED,
	PG_GONE_SAVE,
	PG_FIND_OF_HOST, /* findings (pg_findings.c) */
	PG_FIND_UPSERT,
	PG_FIND_SET_STATUS,
	PG_FIND_LIST,
	PG_HOSTS_LATEST, /* queries (pg_query.c) */
	PG_HOSTS_JOB,
	PG_PAGE_PORT_STATE,
	PG_PAGE_PORTS,
	PG_PAGE_SCRIPTS,
	PG_PAGE_EXTRAPORTS,
	PG_JOBS_ALL,
	PG_JOBS_BY_STATUS,
	PG_JOB_GET,
	PG_RUN_SCRIPTS,
	PG_HOST_ID, /* tags and notes (pg_tags.c) */
	PG_TAG_MATCH,
	PG_TAG_ADD,
	PG_TAG_RM,
	PG_TAGS_EACH,
	PG_HOST_TAGS,
	PG_NOTE_ADD,
	PG_HOST_NOTES,
	PG_NOTE_RM,
	PG__COUNT
};

/* The COPY buffers, in the order they are flushed (parents first). */
enum pg_copy {
	PC_HOSTS = 0, /* pg_temp.scandb_stage_hosts, then the upsert */
	PC_HOST_SCANS,
	PC_PORTS,
	PC_EXTRAPORTS,
	PC_SCRIPTS,
	PC_EVENTS,
	PC_PS_NEW,   /* host_state documents of hosts that had none */
	PC_PS_STAGE, /* pg_temp.scandb_stage_port_state, then the upsert */
	PC__COUNT
};

/* A host of the block: its rows [start, end) in block.res, or -1. */
struct pg_block_ent {
	unsigned char key[16];
	int start, end;
	int no_scripts; /* its rows leave out its scripts: only for a late scan */
};

struct store_pg {
	struct store base; /* first: a struct store * is a struct store_pg * */
	PGconn *conn;
	char *password; /* the target's password (to keep it out of messages) */
	/* every form of a password written in the target (raw and
	 * percent-decoded or unescaped), also masked in messages */
	char *secrets[48];
	int nsecrets;
	unsigned char prepared[PG__COUNT];
	int in_tx;     /* a write transaction (tx_begin) is open */
	int read_tx;   /* a read-only snapshot transaction is open (queries) */
	int tx_failed; /* a statement failed inside it: commit must not */
	int temp_ready;
	/* the job this transaction writes, for a COMMIT whose outcome is
	 * unknown (connection lost) */
	int64_t tx_job_id;
	char tx_job_status[16];
	/* the transaction id (pg_current_xact_id, txid_current before 13),
	 * for pg_xact_status after a lost COMMIT; "" if unknown */
	char tx_xid[32];
	/* The scan-time key this session announced while it queued for the
	 * write lock in scan-time order (a session-level ORDER_SPACE lock,
	 * given back when the write transaction ends); 0: none.  listening:
	 * LISTEN scandb_write was sent on this connection. */
	int32_t order_key;
	int listening;
	/* ---- the write-behind layer (pg_writebehind.c, whose header says
	 * who sets and who clears each of these) ---- */
	/* the next free host / host_events id (max(id) + 1 under the write
	 * lock, like SQLite's rowids: store__pg_next_id); 0: not read yet in
	 * this transaction */
	int64_t next_host_id;
	int64_t next_event_id;
	int ids_taken; /* this transaction assigned max(id) + 1 ids (store__pg_sync_ids) */
	/* the lowest id of a new host whose row waits in the PC_HOSTS buffer
	 * (not in hosts yet); 0: none */
	int64_t staged_new_lo;
	struct buf copy[PC__COUNT];
	size_t buffered; /* bytes in all COPY buffers */
	/* history_load's answer for the host the job writer upserts next
	 * (the hint: host_upsert consumes it) */
	struct {
		char addr[64];
		int64_t id;
		int found;
		int valid;
	} hint;
	/* The hosts of one block of 4096 addresses, read at once under the
	 * write lock (pg_history.c). */
	struct {
		int valid;
		unsigned char lo[16], hi[16];
		struct pg_block_ent *v; /* sorted by key */
		size_t n, cap;
		PGresult *res; /* their rows */
	} block;
	/* the findings cache: the findings of one host, read by history_load
	 * with the host; every slot that writes findings clears it */
	struct {
		int64_t host_id;
		int valid;
		struct store_finding_ref *v;
		size_t n;
	} fcache;
};

static inline struct store_pg *store__pg(struct store *st)
{
	return (struct store_pg *)st;
}

/* ---- parameters (text format; pg_values.c) ---- */
#define PG_MAX_PARAMS 24
struct pg_params {
	int n;
	const char *v[PG_MAX_PARAMS];
	char num[PG_MAX_PARAMS][32];
};
void store__pg_p_text(struct pg_params *p, const char *v); /* NULL -> SQL NULL */
void store__pg_p_int(struct pg_params *p, int64_t v);
void store__pg_p_opt(struct pg_params *p, long v);      /* < 0 -> NULL */
void store__pg_p_time(struct pg_params *p, int64_t t);  /* 0 -> NULL */
void store__pg_p_double(struct pg_params *p, double v); /* < 0 -> NULL */

/* store__pg_exec flags: which COPY buffers to send first (none of them:
 * all; pg_writebehind.c draws when each applies) */
#define PGX_NOFLUSH 1 /* the statement cannot depend on buffered rows */
/* it reads only hosts, host_scans and their children (ports, extraports,
 * scripts) / only hosts and host_scans: send just those buffers */
#define PGX_FLUSH_SCANS      4
#define PGX_FLUSH_HOST_SCANS 8
/* it needs only the hosts rows: send just the host upserts */
#define PGX_FLUSH_HOSTS 16
#define PGX_ONESHOT                                                                                \
	2 /* plan it for these parameters each time (unnamed                                       \
	     statement): for queries run once per page or command,                                 \
	     where a generic plan can be far worse */

/* Replace every occurrence of the password (and of the secrets) in msg, a
 * buffer of len bytes, by "***" (pg_secrets.c). */
void store__pg_redact(const struct store_pg *s, char *msg, size_t len);

/* ---- running statements (pg_exec.c) ---- */
/*
 * Run prepared statement `id` (prepared from `sql`, which must be the same
 * constant text every time) with `p` (may be NULL).  Sends the COPY
 * buffers `flags` asks for first (store__pg_flush_for).  Outside a
 * transaction, transient failures (serialization failure, deadlock, lost
 * connection) are retried with backoff, reconnecting; inside one they
 * return SDB_ETRANSIENT (the transaction is gone).  On success *out (if
 * out) holds the result, which the caller PQclear()s.  On failure the
 * handle's message is "<what>: <what PostgreSQL said>" (fmt says what).
 */
int store__pg_exec(struct store_pg *s, enum pg_stmt id, const char *sql, const struct pg_params *p,
                   int flags, PGresult **out, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Open / close a REPEATABLE READ READ ONLY snapshot for a multi-statement
 * read when no transaction is open (*opened says whether one was). */
int store__pg_read_begin(struct store_pg *s, int *opened);
void store__pg_read_end(struct store_pg *s, int opened);
/* One statement without parameters (setup, transaction control, migration
 * scripts) with PQexec, no retries, no flush. */
int store__pg_exec_simple(struct store_pg *s, const char *sql, const char *what);
/* Errors: set the handle's message "<what>: <PostgreSQL's message>" and
 * mark an open transaction failed (store__pg_err); the SDB_E* of a failed
 * result, transient ones included (store__pg_result_code); did the
 * connection go (store__pg_conn_lost); PostgreSQL's message as one
 * redacted line (store__pg_message). */
int store__pg_err(struct store_pg *s, const PGresult *r, int code, const char *what);
int store__pg_result_code(struct store_pg *s, const PGresult *r);
int store__pg_conn_lost(const struct store_pg *s, const PGresult *r);
void store__pg_message(const struct store_pg *s, const PGresult *r, char *out, size_t len);
/* PQreset, forgetting what went with the session (prepared statements,
 * staging tables, session locks, LISTEN); 0 or -1. */
int store__pg_reconnect(struct store_pg *s);
void store__pg_quiet_notices(void *arg, const char *message);

/* ---- the connection's secrets (pg_secrets.c) ---- */
/* Every form of a password written in target (conninfo: the target
 * without its "pg:" prefix); *opaque: libpq cannot parse it.  0,
 * SDB_ENOMEM, or SDB_ETOOBIG (more than the handle can keep). */
int store__pg_collect_secrets(struct store_pg *s, const char *target, const char *conninfo,
                              int *opaque);
/* The password and secret options the connection used. */
int store__pg_remember_password(struct store_pg *s);
void store__pg_secrets_free(struct store_pg *s);

/* ---- locks (pg_lock.c) and transactions (pg_tx.c) ---- */
/* How long a writer waits for the writers' lock (SCANDB_LOCK_TIMEOUT). */
long store__pg_lock_wait_ms(void);
/* BEGIN with the writers' lock, in scan-time order if order_at; the last
 * result (TUPLES_OK: held, column 1 the transaction id). */
PGresult *store__pg_lock_begin(struct store_pg *s, long ms, int64_t order_at);
/* Give back this session's scan-time announcement, if any. */
void store__pg_order_release(struct store_pg *s);
/* Forget the transaction (its buffers, caches, job and xid). */
void store__pg_clear_tx_state(struct store_pg *s);

/* ---- the write-behind layer (pg_writebehind.c) ---- */
void store__pg_wb_init(struct store_pg *s);  /* the buffers of a new handle */
void store__pg_wb_free(struct store_pg *s);  /* ... and all they hold */
void store__pg_wb_reset(struct store_pg *s); /* transaction end: drop all, forget caches */
/* Send the buffers a statement with store__pg_exec `flags` may read. */
int store__pg_flush_for(struct store_pg *s, int flags);
/* Send all buffered COPY rows. */
int store__pg_flush(struct store_pg *s);
/* Tables whose ids are max(id) + 1 read once per transaction under the
 * writers' lock and counted in C: *id is the next free one; the caller
 * advances s->next_host_id / s->next_event_id when it uses it. */
enum pg_id_table { PG_ID_HOST = 0, PG_ID_EVENT, PG_ID__COUNT };
int store__pg_next_id(struct store_pg *s, enum pg_id_table t, int64_t *id);
/*
 * Move the identity sequences of jobs, hosts, host_events and findings up
 * to their max(id), so that a row another writer inserts with the column
 * default does not collide with the ids scandb took as max(id) + 1.
 * Called before COMMIT when the transaction took ids (ids_taken), and
 * after a job row inserted outside one.
 */
int store__pg_sync_ids(struct store_pg *s);
/* The flags for a statement that needs host `host_id` to be in hosts and
 * reads no other buffered row (findings): PGX_NOFLUSH unless the host is
 * new and its row still waits in the COPY buffer. */
int store__pg_host_flags(const struct store_pg *s, int64_t host_id);

/* ---- COPY rows (text format; pg_writebehind.c, the fields pg_values.c) ---- */
/* Start a row of buffer `c`; returns the offset to roll back to. */
size_t store__pg_row_start(struct store_pg *s, enum pg_copy c);
/* Field appenders: a tab before every field but the first of a row. */
int store__pg_f_text(struct buf *b, int first, const char *v); /* NULL -> \N */
int store__pg_f_int(struct buf *b, int first, int64_t v);
int store__pg_f_opt(struct buf *b, int first, long v);     /* < 0 -> \N */
int store__pg_f_time(struct buf *b, int first, int64_t t); /* 0 -> \N */
int store__pg_f_ts(struct buf *b, int first, int64_t t);   /* always a time (0: 1970) */
int store__pg_f_nz(struct buf *b, int first, int64_t v);   /* 0 -> \N (ids) */
/* End the row (r: the appenders' OR-ed result): on failure roll the buffer
 * back to `start` and set the handle's message; may flush when large. */
int store__pg_row_end(struct store_pg *s, enum pg_copy c, size_t start, int r, const char *what);

/* ---- results (pg_values.c) ---- */
/* Text of a column, NULL for SQL NULL. */
static inline const char *store__pg_col(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}
int64_t store__pg_i64(const PGresult *r, int row, int col); /* NULL -> 0 */
long store__pg_opt(const PGresult *r, int row, int col);    /* NULL -> -1 */
/* Owned copy of a column (NULL for SQL NULL); sets *oom on failure. */
char *store__pg_dup(const PGresult *r, int row, int col, int *oom);
/* "10.0.0.1" from a hex addr_key and family (the inet_ntop form SQLite
 * stores, whatever PostgreSQL's own inet output would be). */
int store__pg_addr_text(const char *hex_key, int family, char out[64]);
/* addr_key as a bytea literal parameter "\\x0a0b...". */
void store__pg_key_hex(const unsigned char key[16], char out[35]);
/* The key of 32 lower-case hex digits (encode(addr_key, 'hex')): 0 or -1
 * (pg_history.c). */
int store__pg_key_from_hex(const char *hex, unsigned char key[16]);
/* Forget the findings cache (every slot that writes findings). */
void store__pg_fcache_clear(struct store_pg *s);
/* A host now exists: keep the block of known hosts right (no-op if the
 * key is outside it). */
int store__pg_block_add(struct store_pg *s, const unsigned char key[16]);
void store__pg_block_reset(struct store_pg *s); /* forget it (transaction end) */
void store__pg_block_free(struct store_pg *s);

/* ---- slots (the ops table: pg_open.c) ---- */

/* Transactions (pg_tx.c) and the migrations bookkeeping (pg_migrate.c;
 * its lock and restore's: pg_lock.c). */
int store__pg_tx_begin(struct store *st, int64_t order_at);
int store__pg_tx_commit(struct store *st);
int store__pg_tx_rollback(struct store *st);
int store__pg_migrate_lock(struct store *st);
int store__pg_exec_script(struct store *st, const char *sql);
int store__pg_migrations_table(struct store *st);
int store__pg_migrations_applied(struct store *st, struct store_applied **out, size_t *n);
int store__pg_migration_record(struct store *st, const struct store_applied *a);
int store__pg_migration_unrecord(struct store *st, int version);
int store__pg_is_empty(struct store *st, int *empty);
int store__pg_table_exists(struct store *st, const char *name, int *exists);

/* The job writer's slots (pg_write.c). */
int store__pg_job_insert(struct store *st, const struct store_job_new *j, int64_t *id);
int store__pg_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at);
int store__pg_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                         int64_t *existing_id);
int store__pg_job_find_by_hash(struct store *st, const char *hash, int64_t *id);
int store__pg_jobs_fail(struct store *st, const struct store__stale_job *v, size_t n, int64_t now,
                        int *count);
int store__pg_host_upsert(struct store *st, int64_t job_id, int64_t seen_at,
                          const struct rec_host *h, int64_t *host_id);
int store__pg_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
                               const struct rec_host *h, const char *state);
int store__pg_port_insert(struct store *st, int64_t job_id, int64_t host_id,
                          const struct rec_port *p);
int store__pg_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                                const struct rec_extraports *x);
int store__pg_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                            const struct rec_port *port, const struct rec_script *sc);
int store__pg_run_script_insert(struct store *st, int64_t job_id, int post, int seq,
                                const struct rec_script *sc);

/* Gone hosts (pg_gone.c). */
int store__pg_job_targets_put(struct store *st, int64_t job_id, const struct addr_range *v,
                              size_t n);
int store__pg_job_targets_each(struct store *st,
                               int (*cb)(void *ctx, int64_t job_id, int64_t at,
                                         const struct addr_range *r),
                               void *ctx);
int store__pg_hosts_missed(struct store *st, int64_t job_id, const struct addr_range *rg, int limit,
                           int (*cb)(void *ctx, int64_t host_id, const char *addr,
                                     const struct ev_host *h),
                           void *ctx);
int store__pg_hosts_gone_save(struct store *st, const struct store_gone *v, size_t n);

/* History slots (pg_history.c). */
int store__pg_history_load(struct store *st, const char *addr, int64_t at, int64_t job_id,
                           int64_t *host_id, struct ev_host *out);
int store__pg_port_state_save(struct store *st, int64_t host_id, const struct ev_host *h,
                              const char *doc, size_t len);
int store__pg_event_insert(struct store *st, int64_t host_id, const struct ev_event *e);
int store__pg_history_scan_list(struct store *st, const struct store_scan_key *lates, size_t n,
                                int from_start, int max_later, unsigned char *has_findings,
                                int (*cb)(void *ctx, const struct store_scan_key *k), void *ctx);
int store__pg_history_scans(struct store *st, const struct store_scan_key *keys, size_t n,
                            int (*cb)(void *ctx, struct store_host *h, const char *probed_scope),
                            void *ctx);
int store__pg_history_forget(struct store *st, const struct store_scan_key *keys, size_t n);
int store__pg_history_states(struct store *st, const struct store_scan_key *keys, size_t n,
                             int (*cb)(void *ctx, size_t i, const char *doc), void *ctx);
int store__pg_history_states_put(struct store *st, const struct store_scan_key *keys,
                                 const char *const *docs, size_t n);
int store__pg_events_each(struct store *st, const struct store_event_filter *f,
                          int (*cb)(void *ctx, struct store_event *e), void *ctx);

/* Query slots (pg_query.c). */
int store__pg_top_values(struct store *st, const struct store_host_filter *f,
                         enum store_top_field field,
                         int (*cb)(void *ctx, const char *value, int64_t count), void *ctx);
int store__pg_hosts_each(struct store *st, const struct store_host_filter *f,
                         int (*cb)(void *ctx, struct store_host *h), void *ctx);
int store__pg_jobs_each(struct store *st, const char *status,
                        int (*cb)(void *ctx, struct store_job *j), void *ctx);
int store__pg_job_get(struct store *st, int64_t id, struct store_job **out);
int store__pg_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                          size_t *n);

/* Tags and notes slots (pg_tags.c). */
int store__pg_host_id(struct store *st, const char *addr, int64_t *id);
int store__pg_tag_set(struct store *st, const unsigned char lo[16], const unsigned char hi[16],
                      const char *tag, int add, int64_t at, const char *author, int64_t *matched,
                      int (*changed)(void *ctx, int64_t host_id), void *ctx);
int store__pg_tags_each(struct store *st, int (*cb)(void *ctx, const char *tag, int64_t hosts),
                        void *ctx);
int store__pg_host_tags(struct store *st, int64_t host_id,
                        int (*cb)(void *ctx, const char *tag, int64_t at, const char *author),
                        void *ctx);
int store__pg_note_add(struct store *st, int64_t host_id, int64_t at, const char *author,
                       const char *text, int64_t *id);
int store__pg_host_notes(struct store *st, int64_t host_id,
                         int (*cb)(void *ctx, const struct store_note *n), void *ctx);
int store__pg_note_rm(struct store *st, int64_t id);

/* Findings slots (pg_findings.c). */
int store__pg_findings_of_host(struct store *st, int64_t host_id, struct store_finding_ref **out,
                               size_t *n);
int store__pg_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                             const struct store_finding_new *f, int64_t *id, int *created);
int store__pg_finding_set_status(struct store *st, int64_t id, const char *new_status, int64_t at,
                                 int64_t job_id, const char *note, int64_t scan_at,
                                 int record_creation, char **old);
int store__pg_findings_each(struct store *st, const struct store_finding_filter *f,
                            int (*cb)(void *ctx, struct store_finding *x), void *ctx);

/* Operations slots (pg_admin_sql.c, pg_admin_doctor.c, pg_admin_backup.c;
 * restore_lock: pg_lock.c). */
int store__pg_query_int(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                        int (*cb)(void *ctx, int64_t v), void *ctx);
int store__pg_query_text(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                         int (*cb)(void *ctx, const char *const *col, const size_t *len),
                         void *ctx);
int store__pg_exec_params(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                          int64_t *changes);
int store__pg_ping(struct store *st, char *version, size_t len);
int store__pg_stats(struct store *st, int exact, struct store_stats *out);
int store__pg_doctor(struct store *st, int quick, struct store_doctor_report *rep);
int store__pg_doctor_privileges(struct store *st, struct store_doctor_report *rep);
int store__pg_backup(struct store *st, const char *path, struct store_backup_info *info);
int store__pg_restore_open(struct store *st, const char *path, void **file,
                           struct store_applied **rows, size_t *n);
int store__pg_restore_lock(struct store *st, int lock);
int store__pg_restore_apply(struct store *st, void *file, const char *path);
void store__pg_restore_close(struct store *st, void *file);

/* ---- what the pg_admin_*.c files share ---- */
/* Run sql with text parameters (n of them, types from `types` or the
 * server's inference), after sending every buffered COPY row.  Outside a
 * transaction a lost connection is re-made once.  *out holds a TUPLES_OK /
 * COMMAND_OK result (PQclear it).  (pg_admin_sql.c) */
int store__pg_adm_exec(struct store_pg *s, const char *sql, int n, const Oid *types,
                       const char *const *vals, PGresult **out, const char *what);
/* The doctor's checks of the data backup runs in its snapshot: every
 * CHECK constraint on the rows, then the foreign keys (pg_admin_doctor.c). */
int store__pg_doctor_data(struct store_pg *s, struct store_doctor_report *rep);
/* The schema scandb's tables are in (the connection's current_schema). */
int store__pg_current_schema(struct store_pg *s, char *out, size_t len);
/* pg_dump / pg_restore (pg_admin_tools.c): the tool's path, how long it
 * may run, a connection string without the password, the password as an
 * anonymous passfile (*fd -1: none), an anonymous sealed file of data,
 * the tool's environment (free()), and running it (0 when it exited 0;
 * else the message names it and has its stderr). */
int store__pg_tool_path(struct store_pg *s, const char *name, char *out, size_t len);
double store__pg_tool_timeout(void);
int store__pg_tool_conninfo(struct store_pg *s, struct buf *out);
int store__pg_pass_fd(struct store_pg *s, int *fd);
int store__pg_anon_file(const char *name, const void *data, size_t len);
char **store__pg_tool_env(const char *passfile);
int store__pg_run_tool(struct store_pg *s, char *const argv[], char *const env[], struct buf *out,
                       double timeout, const char *what, const int *pass, int npass,
                       struct store__tmp *guard);

/* The host merge rule in SQL (the direct upsert, pg_write.c, and the
 * staged one, pg_writebehind.c): each host found-or-created (ON CONFLICT
 * (addr) DO UPDATE), the newest observation by scan time winning its
 * current fields. */
#define PG_NEW_(col)    "excluded." #col
#define PG_STORED_(col) "h." #col
#define HOST_MERGE                                                                                 \
	" ON CONFLICT (addr) DO UPDATE SET" STORE_SQL_HOST_MERGE_SET(                              \
	    PG_NEW_, PG_STORED_, "'[]'::jsonb", "'epoch'", "LEAST", "GREATEST")
#define HOST_COLS_INS                                                                              \
	"id, addr, addr_key, status, mac, mac_vendor, hostnames, os_name, os_accuracy,"            \
	" first_seen, last_seen, last_job_id"

/* Time in epoch seconds as SQL text, for the SELECT lists. */
#define EP(col) "extract(epoch from " col ")::bigint"

/* store_target.c: PQconninfoFree after wiping every secret value. */
void store__conninfo_free_wiped(PQconninfoOption *opts);

/* pg_tokens.c */
int store__pg_token_insert(struct store *st, const struct store_token_new *t, int64_t *id);
int store__pg_tokens_each(struct store *st, int64_t id, int (*cb)(void *ctx, struct store_token *t),
                          void *ctx);
int store__pg_token_revoke(struct store *st, int64_t id, int64_t at, int *changed);
int store__pg_token_touch(struct store *st, int64_t id, int64_t at);

#endif
