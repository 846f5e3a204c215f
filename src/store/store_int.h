/*
 * store_int.h - the contract between store.c (the wrappers) and each
 * backend.  A backend exports one `const struct store_ops` filled with
 * designated initializers and allocates a struct that begins with
 * `struct store` (so a `struct store *` can be cast to the backend's type).
 * An optional slot left NULL makes its wrapper answer SDB_EUNSUPPORTED.
 *
 * Backends set st->errmsg (store__set_err) on every failure, including the
 * driver's own message.  They never print.
 */
#ifndef SDB_STORE_STORE_INT_H
#define SDB_STORE_STORE_INT_H

#include <stdarg.h>

#include "store/store.h"

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

struct store_ops {
	const char *name;
	const struct store_migration_src *migrations; /* sorted by version */
	const size_t *nmigrations; /* -> the generated count (not a constant expression) */

	/* Allocate and connect; set (*out)->ops.  errmsg on failure. */
	int (*open)(const char *target, struct store **out, char *errmsg, size_t errlen);
	void (*close)(struct store *st);

	int (*tx_begin)(struct store *st); /* takes the write lock, retries BUSY */
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

	int (*job_insert)(struct store *st, const struct store_job_new *j, int64_t *id);
	int (*job_progress)(struct store *st, int64_t id, int progress, int64_t timeout_at);
	int (*job_finish)(struct store *st, int64_t id, const struct store_job_final *f,
	                  int64_t *existing_id);
	int (*host_upsert)(struct store *st, int64_t job_id, int64_t seen_at,
	                   const struct rec_host *h, int64_t *host_id);
	int (*host_scan_insert)(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
	                        const struct rec_host *h);
	int (*port_insert)(struct store *st, int64_t job_id, int64_t host_id,
	                   const struct rec_port *p);
	int (*extraports_insert)(struct store *st, int64_t job_id, int64_t host_id,
	                         const struct rec_extraports *e);
	int (*script_insert)(struct store *st, int64_t job_id, int64_t host_id,
	                     const struct rec_port *port, const struct rec_script *s);
	int (*jobs_reap_stale)(struct store *st, int64_t now, const char *hostname, int *reaped);
	int (*job_find_by_hash)(struct store *st, const char *hash, int64_t *id);

	int (*history_load)(struct store *st, const char *addr, int64_t *host_id,
	                    struct ev_host *out);
	int (*port_state_save)(struct store *st, int64_t host_id, const struct ev_host *h);
	int (*event_insert)(struct store *st, int64_t host_id, const struct ev_event *e);
	int (*history_reset)(struct store *st, int64_t host_id);
	int (*host_jobs)(struct store *st, int64_t host_id, int64_t **jobs, int64_t **times,
	                 size_t *n);

	int (*events_each)(struct store *st, const struct store_event_filter *f,
	                   int (*cb)(void *ctx, struct store_event *e), void *ctx);

	int (*hosts_each)(struct store *st, const struct store_host_filter *f,
	                  int (*cb)(void *ctx, struct store_host *h), void *ctx);
	int (*jobs_each)(struct store *st, const char *status,
	                 int (*cb)(void *ctx, struct store_job *j), void *ctx);
	int (*job_get)(struct store *st, int64_t id, struct store_job **out);

	/* ---- findings (store.h "findings") ---- */
	int (*findings_of_host)(struct store *st, int64_t host_id, struct store_finding_ref **out,
	                        size_t *n);
	int (*finding_upsert)(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
	                      const struct store_finding_new *f, int64_t *id, int *created);
	int (*finding_set_status)(struct store *st, int64_t id, const char *new_status, int64_t at,
	                          int64_t job_id, const char *note, int64_t scan_at,
	                          int record_creation, char **old);
	int (*findings_each)(struct store *st, const struct store_finding_filter *f,
	                     int (*cb)(void *ctx, struct store_finding *x), void *ctx);
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

/* Set st->errmsg (printf-style) and return err, for `return store__set_err(...)`. */
int store__set_err(struct store *st, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Backends compiled in (store.c picks by URL). */
extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;
/* 1 if `target` names a PostgreSQL database: "postgresql://..." or
 * "postgres://..." (libpq URIs), or "postgresql:CONNINFO" / "pg:CONNINFO"
 * (a libpq key=value connection string, e.g. "pg:host=/run/pg dbname=x"). */
int store__is_pg_target(const char *target);

/* Generated at build time (cmake/embed_migrations.cmake). */
extern const struct store_migration_src store_sqlite_migrations[];
extern const size_t store_sqlite_nmigrations;
extern const struct store_migration_src store_pg_migrations[];
extern const size_t store_pg_nmigrations;

/* Retry policy for transient failures (invariant 7): attempt 0.. up to
 * STORE_RETRY_MAX; store__backoff sleeps with exponential backoff + jitter. */
#define STORE_RETRY_MAX 12
void store__backoff(int attempt);

#endif
