/*
 * pg_lock.c - the advisory locks scandb takes on PostgreSQL
 * (docs/POSTGRESQL.md "The write lock"): the writers' lock a write
 * transaction begins with, taken as writers come (begin_queued) or in
 * scan-time order (begin_ordered: announce, wait idle for a NOTIFY, try;
 * store_tx_begin_ordered), the migrations' lock, and the session-level
 * writers' lock a restore holds.  pg_tx.c drives them.
 */
#include "store/pg/pg_int.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timeutil.h"

/* Advisory lock keys (two-int form): scandb's writers, its migrations. */
#define LOCK_SPACE   1935893602 /* "scdb" */
#define LOCK_WRITER  1
#define LOCK_MIGRATE 2
/* Writers' scan times while they queue for LOCK_WRITER in scan-time order
 * (begin_ordered): (ORDER_SPACE, order_key(t)), shared, session-level. */
#define ORDER_SPACE 1935893615 /* "scdo" */
/* Every write transaction NOTIFYs this channel when it ends (an unordered
 * one at its COMMIT, an ordered one once its announcement is given back):
 * ordered writers wait for it, idle. */
#define ORDER_CHANNEL     "scandb_write"
#define ORDER_TICK_MS     200   /* ... and wake this often anyway */
#define ORDER_PATIENCE_MS 60000 /* then queue as unordered writers do */

long store__pg_lock_wait_ms(void)
{
	double ms = store__lock_wait_seconds() * 1000;

	return ms < 1 ? 1 : (long)ms;
}

/* A scan time as the second key of an ORDER_SPACE lock: seconds since
 * 2000-01-01, within 1..INT32_MAX (until 2068; older scans share key 1,
 * later ones the last key: they then take the lock as they come). */
static int32_t order_key(int64_t t)
{
	int64_t k = t - 946684800;

	return k < 1 ? 1 : k > INT32_MAX ? INT32_MAX : (int32_t)k;
}

/* The greatest scan-time key another writer of this database announced
 * below `key` (the writer just before this one), or NULL: one row, one
 * column. */
#define ORDER_EARLIER_SQL                                                                          \
	"SELECT max(objid::int8) FROM pg_locks WHERE locktype = 'advisory' AND "                   \
	"objsubid = 2 AND classid = %d::oid AND objid::int8 < %d AND granted AND "                 \
	"pid <> pg_backend_pid() AND database = (SELECT oid FROM pg_database WHERE "               \
	"datname = current_database())"

/* The function that gives the transaction's id as text (for
 * pg_xact_status after a lost COMMIT). */
static const char *xid_func(const struct store_pg *s)
{
	return PQserverVersion(s->conn) >= 130000 ? "pg_current_xact_id()" : "txid_current()";
}

/* Milliseconds left of a wait of `ms` begun at `t0` (time_mono), at
 * least 1: lock_timeout 0 would mean no limit. */
static long wait_left(long ms, double t0)
{
	double left = (double)ms - (time_mono() - t0) * 1000;

	return left < 1 ? 1 : (long)left;
}

/* The unordered begin, as one statement list: the transaction, how long
 * to queue for the write lock, the lock, and the transaction id (the
 * second column); writers that queue in order are told at its COMMIT. */
static PGresult *begin_queued(struct store_pg *s, long ms)
{
	char sql[256];

	snprintf(sql, sizeof(sql),
	         "BEGIN; SET LOCAL lock_timeout = %ld; NOTIFY " ORDER_CHANNEL
	         "; SELECT pg_advisory_xact_lock(%d, %d), %s::text",
	         ms, LOCK_SPACE, LOCK_WRITER, xid_func(s));
	return PQexec(s->conn, sql);
}

/* Give back this session's announcement (after its write transaction
 * ended; a lost connection took it along), and tell the waiters: the
 * NOTIFY of the COMMIT reached them while this one was still announced,
 * and the next in line would wait for the tick. */
void store__pg_order_release(struct store_pg *s)
{
	char sql[128];

	if (!s->order_key)
		return;
	if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) == PQTRANS_IDLE) {
		snprintf(sql, sizeof(sql),
		         "SELECT pg_advisory_unlock_shared(%d, %d); NOTIFY " ORDER_CHANNEL,
		         ORDER_SPACE, (int)s->order_key);
		PQclear(PQexec(s->conn, sql));
	}
	s->order_key = 0;
}

/* Drop the notifications libpq holds; 1 if there was one. */
static int order_drain(struct store_pg *s)
{
	PGnotify *n;
	int any = 0;

	while ((n = PQnotifies(s->conn)) != NULL) {
		PQfreemem(n);
		any = 1;
	}
	return any;
}

/* Wait, outside any transaction, up to `ms` (at most ORDER_TICK_MS) for a
 * writer's NOTIFY; 0, or -1 when the connection or poll failed. */
static int order_sleep(struct store_pg *s, long ms)
{
	struct pollfd pfd = {.fd = PQsocket(s->conn), .events = POLLIN};

	if (order_drain(s))
		return 0;
	if (pfd.fd < 0)
		return -1;
	if (poll(&pfd, 1, (int)(ms > ORDER_TICK_MS ? ORDER_TICK_MS : ms)) < 0 && errno != EINTR)
		return -1;
	if (!PQconsumeInput(s->conn))
		return -1;
	order_drain(s);
	return 0;
}

/* A statement's one boolean/number in row 0, column `col`: 1 true (or a
 * number), 0 false or NULL. */
static int first_set(const PGresult *res, int col)
{
	return PQntuples(res) == 1 && PQnfields(res) > col && !PQgetisnull(res, 0, col) &&
	       strcmp(PQgetvalue(res, 0, col), "f") != 0;
}

/*
 * The ordered begin (store_tx_begin_ordered on PostgreSQL).  The writer
 * announces its scan time (a shared session-level ORDER_SPACE lock on
 * order_key) and LISTENs on ORDER_CHANNEL.  While another writer announced
 * an earlier scan, it waits for a writer's NOTIFY, idle and outside any
 * transaction: a waiter that held a snapshot (as one blocked in
 * pg_advisory_xact_lock does) would keep every row version the writers
 * replace, and doubled the heap pages the importers read (20 concurrent
 * importers: 2.2 million against 1.2 million one after another).  When
 * no earlier scan waits, it tries the writer lock; with the lock it looks
 * once more (an earlier scan may have come meanwhile: then it rolls back,
 * says so, and waits again).  A NOTIFY can be missed (a writer that rolled
 * back sends none), so the wait also wakes every ORDER_TICK_MS.  After
 * ORDER_PATIENCE_MS of waiting, or when the lock wait `ms` is nearly
 * spent, it queues for the lock as unordered writers do (FIFO): an endless
 * stream of earlier scans cannot starve it.  Returns the last result, as
 * begin_queued does.
 */
static PGresult *begin_ordered(struct store_pg *s, long ms, int64_t order_at)
{
	double t0 = time_mono();
	int32_t key = order_key(order_at);
	char sql[1024];
	PGresult *res;

	if (s->order_key != key) { /* not announced yet (or by a failed try) */
		store__pg_order_release(s);
		snprintf(sql, sizeof(sql), "SELECT pg_advisory_lock_shared(%d, %d)%s", ORDER_SPACE,
		         key, s->listening ? "" : "; LISTEN " ORDER_CHANNEL);
		res = PQexec(s->conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK)
			return res;
		PQclear(res);
		s->order_key = key;
		s->listening = 1;
	}
	for (;;) {
		long left = wait_left(ms, t0);
		int got;

		if ((time_mono() - t0) * 1000 >= ORDER_PATIENCE_MS || left <= ORDER_TICK_MS)
			return begin_queued(s, left);
		snprintf(sql, sizeof(sql), "SELECT (" ORDER_EARLIER_SQL ") IS NULL", ORDER_SPACE,
		         key);
		res = PQexec(s->conn, sql);
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			return res;
		if (first_set(res, 0)) {
			PQclear(res);
			snprintf(
			    sql, sizeof(sql),
			    "BEGIN; SELECT pg_try_advisory_xact_lock(%d, %d), (" ORDER_EARLIER_SQL
			    ") IS NULL",
			    LOCK_SPACE, LOCK_WRITER, ORDER_SPACE, key);
			res = PQexec(s->conn, sql);
			if (PQresultStatus(res) != PGRES_TUPLES_OK)
				return res;
			got = first_set(res, 0);
			if (got && first_set(res, 1)) {
				PQclear(res);
				/* (no NOTIFY at its COMMIT: order_release's comes
				 * when the announcement is gone) */
				snprintf(sql, sizeof(sql),
				         "SET LOCAL lock_timeout = %ld; SELECT true, %s::text",
				         left, xid_func(s));
				return PQexec(s->conn, sql);
			}
			/* No lock (a writer holds it: its COMMIT will tell), or
			 * an earlier scan came: let it go first, and tell it (a
			 * NOTIFY after no lock would wake all, to no end). */
			PQclear(res);
			res = PQexec(s->conn, got ? "ROLLBACK; NOTIFY " ORDER_CHANNEL : "ROLLBACK");
			if (PQresultStatus(res) != PGRES_COMMAND_OK)
				return res;
		}
		PQclear(res);
		/* a wait that failed (the connection, or poll) queues as the
		 * unordered do: their BEGIN fails on a lost connection, and
		 * takes the lock on a good one */
		if (order_sleep(s, left) != 0)
			return begin_queued(s, left);
	}
}
/* BEGIN and the writers' lock: in scan-time order if order_at, else as
 * writers come.  The last result: tuples (lock, transaction id) when the
 * lock is held, else the failure. */
PGresult *store__pg_lock_begin(struct store_pg *s, long ms, int64_t order_at)
{
	return order_at ? begin_ordered(s, ms, order_at) : begin_queued(s, ms);
}

int store__pg_migrate_lock(struct store *st)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d, %d)", LOCK_SPACE,
	         LOCK_MIGRATE);
	return store__pg_exec_simple(store__pg(st), sql, "taking the migration lock");
}

/* The restore_lock slot: the writers' lock for the whole restore, from
 * before its emptiness check until it is done (a session lock: pg_restore
 * runs in another session).  Waits up to 60 s for running writers. */
int store__pg_restore_lock(struct store *st, int lock)
{
	struct store_pg *s = store__pg(st);
	char sql[128];
	double until = time_mono() + 60;
	PGresult *res;
	int r, attempt = 0;

	for (;;) {
		snprintf(sql, sizeof(sql), "SELECT pg_%sadvisory_lock(%d, %d)", lock ? "try_" : "",
		         LOCK_SPACE, LOCK_WRITER);
		if (!lock)
			snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d, %d)", LOCK_SPACE,
			         LOCK_WRITER);
		if ((r = store__pg_adm_exec(s, sql, 0, NULL, NULL, &res,
		                            "restore: the writers' lock")) != 0)
			return r;
		r = lock && strcmp(PQgetvalue(res, 0, 0), "t") != 0;
		PQclear(res);
		if (!r)
			return 0;
		if (time_mono() > until)
			return store__set_err(
			    &s->base, SDB_EBUSY,
			    "restore: another scandb is writing to the database (an "
			    "import or a scan): stop it and try again");
		store__backoff(attempt < 8 ? attempt++ : 8);
	}
}
