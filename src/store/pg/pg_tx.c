/*
 * pg_tx.c - the PostgreSQL backend's transactions (store_int.h tx_begin,
 * tx_commit, tx_rollback):
 *
 *   idle --tx_begin (BEGIN + writer lock)--> in_tx --tx_commit (flush +
 *   COMMIT)--> idle;  in_tx --tx_rollback--> idle.  A statement that fails
 *   inside in_tx sets tx_failed (PostgreSQL aborted the transaction); a lost
 *   connection or a serialization failure / deadlock there is SDB_ETRANSIENT:
 *   the caller retries the whole transaction.  Outside in_tx, statements
 *   retry by themselves (reconnecting with PQreset).
 *
 * A COMMIT whose connection died is resolved by the transaction's id
 * (pg_xact_status).  The locks are pg_lock.c's; what a transaction's end
 * must flush or forget is pg_writebehind.c's.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

/* Forget the transaction: what it buffered and cached (pg_writebehind.c)
 * and what a lost COMMIT would be resolved by. */
void store__pg_clear_tx_state(struct store_pg *s)
{
	store__pg_wb_reset(s);
	s->tx_job_id = 0;
	s->tx_job_status[0] = '\0';
	s->tx_xid[0] = '\0';
	s->tx_failed = 0;
}

int store__pg_tx_begin(struct store *st, int64_t order_at)
{
	struct store_pg *s = store__pg(st);
	long ms = store__pg_lock_wait_ms();

	if (s->in_tx)
		return store__set_err(st, SDB_EUSAGE, "a transaction is already open");
	if (s->read_tx)
		store__pg_read_end(s, 1);
	store__pg_clear_tx_state(s);
	for (int attempt = 0;; attempt++) {
		PGresult *res;
		int code;

		if (PQstatus(s->conn) != CONNECTION_OK && store__pg_reconnect(s) != 0) {
			if (attempt >= STORE_RETRY_MAX)
				return store__pg_err(s, NULL, SDB_ETRANSIENT,
				                     "could not begin write transaction");
			store__backoff(attempt);
			continue;
		}
		res = store__pg_lock_begin(s, ms, order_at);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			if (PQntuples(res) == 1 && PQnfields(res) >= 2 && !PQgetisnull(res, 0, 1))
				snprintf(s->tx_xid, sizeof(s->tx_xid), "%s", PQgetvalue(res, 0, 1));
			PQclear(res);
			s->in_tx = 1;
			return 0;
		}
		code = store__pg_result_code(s, res);
		if (PQstatus(s->conn) == CONNECTION_OK)
			PQclear(PQexec(s->conn, "ROLLBACK"));
		if (code == SDB_ETRANSIENT && attempt < STORE_RETRY_MAX) {
			PQclear(res);
			store__backoff(attempt);
			continue;
		}
		store__pg_order_release(s);
		if (code == SDB_EBUSY) {
			PQclear(res);
			return store__set_err(
			    st, SDB_EBUSY,
			    "could not begin write transaction: waited %.0f s for "
			    "another writer; SCANDB_LOCK_TIMEOUT sets how long to "
			    "wait",
			    (double)ms / 1000);
		}
		code = store__pg_err(s, res, code, "could not begin write transaction");
		PQclear(res);
		return code;
	}
}

/* COMMIT was sent and the connection died: did it commit?  The
 * transaction's id tells, through pg_xact_status (txid_status before 13)
 * on a new connection.  The job row alone cannot: its id is max(id)+1 and
 * the write lock died with the connection, so another importer may have
 * committed a job with the same id since. */
static int xact_outcome(struct store_pg *s, const char *xid, int64_t job)
{
	const char *sql = "SELECT pg_xact_status($1::xid8)";
	const char *vals[1] = {xid};

	for (int attempt = 0;; attempt++) {
		PGresult *res;
		const char *st;
		int committed, aborted;

		if (PQstatus(s->conn) != CONNECTION_OK && store__pg_reconnect(s) != 0) {
			if (attempt >= STORE_RETRY_MAX)
				break;
			store__backoff(attempt);
			continue;
		}
		if (PQserverVersion(s->conn) < 130000)
			sql = "SELECT txid_status($1::bigint)";
		res = PQexecParams(s->conn, sql, 1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			int transient = store__pg_conn_lost(s, res) ||
			                store__pg_result_code(s, res) == SDB_ETRANSIENT;
			PQclear(res);
			if (transient && attempt < STORE_RETRY_MAX) {
				store__backoff(attempt);
				continue;
			}
			break;
		}
		st = PQgetisnull(res, 0, 0) ? "" : PQgetvalue(res, 0, 0);
		committed = strcmp(st, "committed") == 0;
		aborted = strcmp(st, "aborted") == 0;
		PQclear(res);
		if (committed)
			return 0;
		if (aborted)
			return store__set_err(
			    &s->base, SDB_ETRANSIENT,
			    "the connection to PostgreSQL was lost during COMMIT; "
			    "job %lld was not stored",
			    (long long)job);
		/* "in progress": the old session has not ended yet */
		if (strcmp(st, "in progress") == 0 && attempt < STORE_RETRY_MAX) {
			store__backoff(attempt);
			continue;
		}
		break;
	}
	return store__set_err(&s->base, SDB_EDB,
	                      "the connection to PostgreSQL was lost during COMMIT of job %lld; "
	                      "whether it was stored is unknown (scandb jobs shows it)",
	                      (long long)job);
}

static int commit_outcome(struct store_pg *s)
{
	struct pg_params p = {0};
	PGresult *res = NULL;
	int64_t job = s->tx_job_id;
	char want[16], xid[32];
	int r, done;

	snprintf(want, sizeof(want), "%s", s->tx_job_status);
	snprintf(xid, sizeof(xid), "%s", s->tx_xid);
	store__pg_clear_tx_state(s);
	if (xid[0])
		return xact_outcome(s, xid, job);
	if (!job || !want[0])
		return store__set_err(&s->base, SDB_EDB,
		                      "the connection to PostgreSQL was lost during COMMIT; "
		                      "whether the transaction was stored is unknown");
	store__pg_p_int(&p, job);
	r = store__pg_exec(s, PG_JOB_STATUS, "SELECT status FROM jobs WHERE id = $1::bigint", &p,
	                   PGX_NOFLUSH, &res, "checking whether job %lld was stored",
	                   (long long)job);
	if (r != 0)
		return store__set_err(&s->base, SDB_EDB,
		                      "the connection to PostgreSQL was lost during COMMIT of job "
		                      "%lld, and checking whether it was stored failed: %s",
		                      (long long)job, s->base.errmsg);
	done = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), want) == 0;
	PQclear(res);
	if (done)
		return 0;
	return store__set_err(&s->base, SDB_ETRANSIENT,
	                      "the connection to PostgreSQL was lost during COMMIT; job %lld was "
	                      "not stored",
	                      (long long)job);
}

int store__pg_tx_commit(struct store *st)
{
	struct store_pg *s = store__pg(st);
	PGresult *res;
	int r;

	if (!s->in_tx)
		return store__set_err(st, SDB_EUSAGE, "commit: no transaction is open");
	if ((r = store__pg_flush(s)) != 0)
		return r;
	if (s->tx_failed)
		return store__set_err(st, SDB_EDB,
		                      "commit: a statement of this transaction failed earlier");
	if (s->ids_taken && (r = store__pg_sync_ids(s)) != 0)
		return r;
	res = PQexec(s->conn, "COMMIT");
	if (PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0) {
		PQclear(res);
		s->in_tx = 0;
		store__pg_clear_tx_state(s);
		store__pg_order_release(s);
		return 0;
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		/* "ROLLBACK": the transaction had failed */
		PQclear(res);
		s->in_tx = 0;
		s->temp_ready = 0;
		store__pg_clear_tx_state(s);
		store__pg_order_release(s);
		return store__set_err(st, SDB_EDB,
		                      "commit: the transaction had failed and was "
		                      "rolled back");
	}
	s->temp_ready = 0; /* if created by this transaction, they are gone */
	if (store__pg_conn_lost(s, res)) {
		PQclear(res);
		s->in_tx = 0;
		s->order_key = 0; /* went with the session */
		return commit_outcome(s);
	}
	r = store__pg_err(s, res, store__pg_result_code(s, res), "committing the transaction");
	PQclear(res);
	s->in_tx = 0;
	store__pg_clear_tx_state(s);
	if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	store__pg_order_release(s);
	return r;
}

/* Safe after any failure and when no transaction is open.  Keeps the
 * message of the failure that led here. */
int store__pg_tx_rollback(struct store *st)
{
	struct store_pg *s = store__pg(st);
	PGresult *res;
	int was = s->in_tx;

	store__pg_clear_tx_state(s);
	s->in_tx = 0;
	s->temp_ready = 0; /* created in this transaction? then gone */
	if (PQstatus(s->conn) != CONNECTION_OK) {
		s->order_key = 0; /* went with the session */
		return 0;
	}
	if (was || PQtransactionStatus(s->conn) != PQTRANS_IDLE) {
		res = PQexec(s->conn, "ROLLBACK");
		PQclear(res);
	}
	store__pg_order_release(s);
	return 0;
}
