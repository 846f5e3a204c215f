/*
 * sqlite_tx.c - the SQLite backend's transactions (store_int.h tx_begin,
 * tx_commit, tx_rollback): BEGIN IMMEDIATE and COMMIT retried on BUSY with
 * backoff and jitter until the lock wait (SCANDB_LOCK_TIMEOUT) runs out
 * (invariant 7), and a rollback that is safe after any failure.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>

#include "core/error.h"
#include "core/timeutil.h"

/* Run a cached statement that takes no parameters, retrying BUSY with
 * backoff and jitter until the lock wait runs out (BEGIN IMMEDIATE /
 * COMMIT); `what` completes "could not ...". */
static int step_retry(struct store_sqlite *s, enum sq_stmt id, const char *sql, const char *what)
{
	sqlite3_stmt *stmt;
	double start = time_mono(), limit = store__lock_wait_seconds();
	int rc = SQLITE_OK, r, attempt;

	for (attempt = 0;; attempt++) {
		if ((r = store__sqlite_stmt(s, id, sql, &stmt)) != 0)
			return r;
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE) {
			store__sqlite_done(stmt);
			return 0;
		}
		if (!store__sqlite_busy(rc)) {
			r = store__sqlite_err(s, rc, "could not %s", what);
			store__sqlite_done(stmt);
			return r;
		}
		store__sqlite_done(stmt);
		if (time_mono() - start >= limit)
			break;
		store__backoff(attempt < STORE_RETRY_MAX ? attempt : STORE_RETRY_MAX);
	}
	return store__set_err(&s->base, SDB_EBUSY,
	                      "could not %s: %s after waiting %.0f s (%d attempts) for another "
	                      "writer; SCANDB_LOCK_TIMEOUT sets how long to wait",
	                      what, sqlite3_errstr(rc), time_mono() - start, attempt + 1);
}

/* ---- transactions -------------------------------------------------------- */

int store__sqlite_tx_begin(struct store *st, int64_t order_at)
{
	(void)order_at;                 /* SQLite's writers take the lock as they come */
	store__sqlite(st)->hint_id = 0; /* only what this transaction loaded */
	return step_retry(store__sqlite(st), SQ_BEGIN, "BEGIN IMMEDIATE",
	                  "begin write transaction");
}

int store__sqlite_tx_commit(struct store *st)
{
	return step_retry(store__sqlite(st), SQ_COMMIT, "COMMIT", "commit transaction");
}

/* Safe after any failure, and when no transaction is open (SQLite rolls
 * some errors back by itself).  Keeps the message of the failure that led
 * here unless the rollback itself fails. */
int store__sqlite_tx_rollback(struct store *st)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int r;

	s->hint_id = 0;
	if (sqlite3_get_autocommit(s->db))
		return 0;
	for (int i = 0; i < SQ__COUNT; i++)
		if (s->stmt[i])
			sqlite3_reset(s->stmt[i]);
	if ((r = store__sqlite_stmt(s, SQ_ROLLBACK, "ROLLBACK", &stmt)) != 0)
		return r;
	return store__sqlite_step_done(s, stmt, "rolling back the transaction");
}
