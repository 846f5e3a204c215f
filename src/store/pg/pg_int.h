/*
 * store_pg_int.h - private to the PostgreSQL backend (store_pg.c: connection,
 * transactions, retries, migrations bookkeeping, the COPY buffers and the
 * write path; store_pg_history.c, store_pg_query.c, store_pg_findings.c,
 * store_pg_admin.c, and store_target.c, which reads targets as libpq does).
 * Nothing outside these files includes it.
 *
 * Statements are prepared once per connection, lazily, into a fixed slot
 * (store__pg_exec prepares on first use, and again after a reconnect).
 * Parameters travel as text; times as Unix seconds (to_timestamp() in SQL,
 * extract(epoch ...)::bigint out).
 *
 * Bulk rows (host_scans, ports, extraports, scripts, host_events, host_state
 * and the host upserts through a staging table) are not sent one statement
 * at a time: they are appended to per-table COPY buffers in memory and sent
 * with COPY ... FROM STDIN when the buffers grow large, before any other
 * statement runs on the connection (store__pg_exec flushes first unless the
 * statement is marked PGX_NOFLUSH because it cannot depend on them), and at
 * commit.  So a row call validates its values itself (what a CHECK would
 * refuse is refused by the call, as on SQLite).
 */
#ifndef SDB_STORE_PG_PG_INT_H
#define SDB_STORE_PG_PG_INT_H

#include <libpq-fe.h>

#include "core/buf.h"
#include "store/store_int.h"

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
	PG_HIST_LOAD, /* history (store_pg_history.c) */
	PG_HIST_BLOCK,
	PG_HIST_BLOCK_KEYS,
	PG_EVENT_NEXT_ID,
	PG_HIST_SCAN_LIST,
	PG_HIST_SCANS,
	PG_HIST_FORGET,
	PG_HIST_STATES,
	PG_HIST_STATES_PUT,
	PG_EVENTS_SINCE,
	PG_FIND_OF_HOST, /* findings (store_pg_findings.c) */
	PG_FIND_UPSERT,
	PG_FIND_SET_STATUS,
	PG_FIND_LIST,
	PG_HOSTS_LATEST, /* queries (store_pg_query.c) */
	PG_HOSTS_JOB,
	PG_PAGE_PORT_STATE,
	PG_PAGE_PORTS,
	PG_PAGE_SCRIPTS,
	PG_PAGE_EXTRAPORTS,
	PG_JOBS_ALL,
	PG_JOBS_BY_STATUS,
	PG_JOB_GET,
	PG_RUN_SCRIPTS,
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
	/* host ids are max(id) + 1 under the write lock, like SQLite's rowids */
	int64_t next_host_id; /* 0: not read yet in this transaction */
	int ids_taken;        /* this transaction assigned max(id) + 1 ids (store__pg_sync_ids) */
	int64_t max_new_host_id;
	/* the lowest id of a new host whose row waits in the PC_HOSTS buffer
	 * (not in hosts yet); 0: none */
	int64_t staged_new_lo;
	int64_t next_event_id; /* likewise host_events ids; 0: read again */
	struct buf copy[PC__COUNT];
	size_t buffered; /* bytes in all COPY buffers */
	/* the range of host ids with rows in the event / host_state buffers */
	int64_t evps_lo, evps_hi;
	/* history_load's answer for the host the job writer upserts next */
	struct {
		char addr[64];
		int64_t id;
		int found;
		int valid;
	} hint;
	/* The hosts of one block of 4096 addresses, read at once under the
	 * write lock (store_pg_history.c). */
	struct {
		int valid;
		unsigned char lo[16], hi[16];
		struct pg_block_ent *v; /* sorted by key */
		size_t n, cap;
		PGresult *res; /* their rows */
	} block;
	/* the findings of one host, read by history_load with the host */
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

/* ---- parameters (text format) ---- */
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

/* store__pg_exec flags */
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

/*
 * Run prepared statement `id` (prepared from `sql`, which must be the same
 * constant text every time) with `p` (may be NULL).  Flushes the COPY
 * buffers first unless PGX_NOFLUSH.  Outside a transaction, transient
 * failures (serialization failure, deadlock, lost connection) are retried
 * with backoff, reconnecting; inside one they return SDB_ETRANSIENT (the
 * transaction is gone).  On success *out (if out) holds the result, which
 * the caller PQclear()s.  On failure the handle's message is "<what>: <what
 * PostgreSQL said>" (fmt says what).
 */
/* Replace every occurrence of the password (and of the secrets) in msg, a
 * buffer of len bytes, by "***". */
void store__pg_redact(const struct store_pg *s, char *msg, size_t len);

int store__pg_exec(struct store_pg *s, enum pg_stmt id, const char *sql, const struct pg_params *p,
                   int flags, PGresult **out, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* Send all buffered COPY rows. */
int store__pg_flush(struct store_pg *s);
/*
 * scandb assigns job, host, event and finding ids as max(id) + 1 under the
 * write lock (as SQLite assigns rowids); this moves the identity sequences
 * of those tables up to their max(id), so that a row another writer inserts
 * with the column default does not collide.  Called before COMMIT when the
 * transaction took ids (ids_taken), and after a job row inserted outside
 * one.
 */
int store__pg_sync_ids(struct store_pg *s);
/* The flags for a statement that needs host `host_id` to be in hosts and
 * reads no other buffered row (findings): PGX_NOFLUSH unless the host is
 * new and its row still waits in the COPY buffer. */
int store__pg_host_flags(const struct store_pg *s, int64_t host_id);
/* Host `host_id` has rows in the event / host_state buffers. */
void store__pg_evps_note(struct store_pg *s, int64_t host_id);
/* Open / close a REPEATABLE READ READ ONLY snapshot for a multi-statement
 * read when no transaction is open (*opened says whether one was). */
int store__pg_read_begin(struct store_pg *s, int *opened);
void store__pg_read_end(struct store_pg *s, int opened);

/* ---- COPY rows (text format) ---- */
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

/* ---- results ---- */
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
void store__pg_fcache_clear(struct store_pg *s);
/* A host now exists: keep the block of known hosts right (no-op if the
 * key is outside it). */
int store__pg_block_add(struct store_pg *s, const unsigned char key[16]);
void store__pg_block_reset(struct store_pg *s); /* forget it (transaction end) */
void store__pg_block_free(struct store_pg *s);

/* History slots (store_pg_history.c). */
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

/* Query slots (store_pg_query.c). */
int store__pg_hosts_each(struct store *st, const struct store_host_filter *f,
                         int (*cb)(void *ctx, struct store_host *h), void *ctx);
int store__pg_jobs_each(struct store *st, const char *status,
                        int (*cb)(void *ctx, struct store_job *j), void *ctx);
int store__pg_job_get(struct store *st, int64_t id, struct store_job **out);
int store__pg_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                          size_t *n);

/* Findings slots (store_pg_findings.c). */
int store__pg_findings_of_host(struct store *st, int64_t host_id, struct store_finding_ref **out,
                               size_t *n);
int store__pg_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                             const struct store_finding_new *f, int64_t *id, int *created);
int store__pg_finding_set_status(struct store *st, int64_t id, const char *new_status, int64_t at,
                                 int64_t job_id, const char *note, int64_t scan_at,
                                 int record_creation, char **old);
int store__pg_findings_each(struct store *st, const struct store_finding_filter *f,
                            int (*cb)(void *ctx, struct store_finding *x), void *ctx);

/* Operations slots (store_pg_admin.c). */
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

/* Time in epoch seconds as SQL text, for the SELECT lists. */
#define EP(col) "extract(epoch from " col ")::bigint"

/* store_target.c: PQconninfoFree after wiping every secret value. */
void store__conninfo_free_wiped(PQconninfoOption *opts);

#endif
