/*
 * pg_exec.c - running statements on the connection: the error mapping
 * (SQLSTATE -> SDB_E*, a lost connection, PostgreSQL's message made one
 * redacted line), reconnecting, store__pg_exec (prepared statements in
 * their slots, the write-behind flush a statement's flags ask for, retries
 * of transient failures outside a transaction: invariant 7), plain
 * statements, and the read-only snapshot of multi-statement reads.
 */
#include "store/pg/pg_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

/* ---- errors ------------------------------------------------------------- */

static const char *sqlstate(const PGresult *r)
{
	const char *c = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

	return c ? c : "";
}

static int state_transient(const char *c)
{
	return strcmp(c, "40001") == 0 || strcmp(c, "40P01") == 0;
}

/* The server went away, or we cannot talk to it. */
int store__pg_conn_lost(const struct store_pg *s, const PGresult *r)
{
	const char *c = sqlstate(r);

	return PQstatus(s->conn) != CONNECTION_OK || strncmp(c, "08", 2) == 0 ||
	       strcmp(c, "57P01") == 0 || strcmp(c, "57P02") == 0 || strcmp(c, "57P03") == 0;
}

static int map_state(const char *c)
{
	if (strncmp(c, "23", 2) == 0)
		return SDB_ECONSTRAINT;
	if (state_transient(c))
		return SDB_ETRANSIENT;
	if (strcmp(c, "55P03") == 0)
		return SDB_EBUSY;
	if (strcmp(c, "53200") == 0)
		return SDB_ENOMEM;
	if (strcmp(c, "22003") == 0 || strcmp(c, "22008") == 0)
		return SDB_ERANGE;
	if (strcmp(c, "22P02") == 0 || strcmp(c, "22021") == 0 || strcmp(c, "22P05") == 0 ||
	    strcmp(c, "22P04") == 0)
		return SDB_EPARSE;
	return SDB_EDB;
}

/* What PostgreSQL said about a failure: the primary message, its detail,
 * and the COPY line it was at; else libpq's own message. */
void store__pg_message(const struct store_pg *s, const PGresult *r, char *out, size_t len)
{
	const char *prim = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *det = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
	size_t n;

	if (prim) {
		snprintf(out, len, "%s%s%s%s%s", prim, det ? " (" : "", det ? det : "",
		         det ? ")" : "", "");
		if (ctx && strncmp(ctx, "COPY ", 5) == 0) {
			size_t used = strlen(out);
			const char *nl = strchr(ctx, '\n');
			int clen = nl ? (int)(nl - ctx) : (int)strlen(ctx);
			if (clen > 200)
				clen = 200;
			snprintf(out + used, len - used, " [%.*s]", clen, ctx);
		}
	} else {
		const char *m = PQerrorMessage(s->conn);
		snprintf(out, len, "%s", m && *m ? m : "no answer from the server");
	}
	/* one line: libpq ends its messages with newlines */
	for (n = strlen(out); n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '); n--)
		out[n - 1] = '\0';
	/* one line, single spaces: libpq's messages carry newlines, tabs and
	 * "FATAL:  " double spaces */
	{
		char *w = out;
		for (char *p = out; *p; p++) {
			char c = *p == '\n' || *p == '\t' ? ' ' : *p;
			if (c == ' ' && w > out && w[-1] == ' ')
				continue;
			*w++ = c;
		}
		*w = '\0';
	}
	store__pg_redact(s, out, len);
}

int store__pg_err(struct store_pg *s, const PGresult *r, int code, const char *what)
{
	char msg[700];

	store__pg_message(s, r, msg, sizeof(msg));
	if (s->in_tx)
		s->tx_failed = 1;
	return store__set_err(&s->base, code, "%s: %s", what, msg);
}

/* The error code of a failed result, transient ones included. */
int store__pg_result_code(struct store_pg *s, const PGresult *r)
{
	if (store__pg_conn_lost(s, r))
		return SDB_ETRANSIENT;
	return map_state(sqlstate(r));
}

/* ---- connection ------------------------------------------------------------ */

void store__pg_quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int store__pg_reconnect(struct store_pg *s)
{
	PQreset(s->conn);
	memset(s->prepared, 0, sizeof(s->prepared));
	s->temp_ready = 0;
	s->order_key = 0; /* session locks and LISTEN went with the session */
	s->listening = 0;
	if (PQstatus(s->conn) != CONNECTION_OK)
		return -1;
	PQsetNoticeProcessor(s->conn, store__pg_quiet_notices, NULL);
	return 0;
}

/* Run one statement without parameters (setup, transaction control,
 * migration scripts) with PQexec.  No retries. */
int store__pg_exec_simple(struct store_pg *s, const char *sql, const char *what)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		r = store__pg_err(s, res, store__pg_result_code(s, res), what);
	PQclear(res);
	return r;
}

int store__pg_exec(struct store_pg *s, enum pg_stmt id, const char *sql, const struct pg_params *p,
                   int flags, PGresult **out, const char *fmt, ...)
{
	char what[300], name[16];
	va_list ap;
	int r;

	if (out)
		*out = NULL;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p && p->n > PG_MAX_PARAMS)
		return store__set_err(&s->base, SDB_EUSAGE, "%s: too many parameters", what);
	if ((r = store__pg_flush_for(s, flags)) != 0)
		return r;
	snprintf(name, sizeof(name), "s%d", (int)id);
	for (int attempt = 0;; attempt++) {
		int intx = s->in_tx || s->read_tx, transient;
		PGresult *res = NULL;
		ExecStatusType st;

		if (PQstatus(s->conn) != CONNECTION_OK) {
			if (intx)
				return store__pg_err(s, NULL, SDB_ETRANSIENT, what);
			if (store__pg_reconnect(s) != 0) {
				if (attempt >= STORE_RETRY_MAX)
					return store__pg_err(s, NULL, SDB_ETRANSIENT, what);
				store__backoff(attempt);
				continue;
			}
		}
		if (flags & PGX_ONESHOT) {
			res = PQexecParams(s->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, NULL,
			                   NULL, 0);
		} else {
			if (!s->prepared[id]) {
				res = PQprepare(s->conn, name, sql, 0, NULL);
				if (PQresultStatus(res) != PGRES_COMMAND_OK)
					goto failed;
				PQclear(res);
				s->prepared[id] = 1;
			}
			res = PQexecPrepared(s->conn, name, p ? p->n : 0, p ? p->v : NULL, NULL,
			                     NULL, 0);
		}
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			if (out)
				*out = res;
			else
				PQclear(res);
			return 0;
		}
	failed:
		transient = store__pg_conn_lost(s, res) || state_transient(sqlstate(res));
		if (transient && !intx && attempt < STORE_RETRY_MAX) {
			PQclear(res);
			store__backoff(attempt);
			continue;
		}
		r = store__pg_err(s, res, transient ? SDB_ETRANSIENT : map_state(sqlstate(res)),
		                  what);
		PQclear(res);
		return r;
	}
}

int store__pg_read_begin(struct store_pg *s, int *opened)
{
	int r;

	*opened = 0;
	if (s->in_tx || s->read_tx)
		return 0;
	for (int attempt = 0;; attempt++) {
		if (PQstatus(s->conn) != CONNECTION_OK)
			store__pg_reconnect(s);
		r = store__pg_exec_simple(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
		                          "opening a read snapshot");
		if (r == 0)
			break;
		if (r != SDB_ETRANSIENT || attempt >= STORE_RETRY_MAX)
			return r;
		store__backoff(attempt);
	}
	s->read_tx = 1;
	*opened = 1;
	return 0;
}

void store__pg_read_end(struct store_pg *s, int opened)
{
	PGresult *res;

	if (!opened)
		return;
	s->read_tx = 0;
	if (PQstatus(s->conn) == CONNECTION_OK) {
		res = PQexec(s->conn, "COMMIT");
		PQclear(res);
	}
}
