/*
 * store_pg.c - the PostgreSQL backend (store_int.h, libpq): connecting,
 * transactions under the writers' advisory lock, retries of transient
 * failures (invariant 7), the migrations bookkeeping slots, the COPY buffers
 * and the job write path (jobs, host upserts, host_scans, ports, extraports,
 * scripts, reaping stale jobs).  History, queries and findings live in
 * store_pg_history.c, store_pg_query.c and store_pg_findings.c.  No SQL
 * text is ever built from input: data travels as parameters or COPY rows.
 *
 * Transaction states of a handle (the store wrappers drive them):
 *
 *   idle --tx_begin (BEGIN + writer lock)--> in_tx --tx_commit (flush +
 *   COMMIT)--> idle;  in_tx --tx_rollback--> idle.  A statement that fails
 *   inside in_tx sets tx_failed (PostgreSQL aborted the transaction); a lost
 *   connection or a serialization failure / deadlock there is SDB_ETRANSIENT:
 *   the caller retries the whole transaction.  Outside in_tx, statements
 *   retry by themselves (reconnecting with PQreset).
 */
#include "store/pg/pg_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jansson.h>

#include "core/addr.h"
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
#define ORDER_TICK_MS     200                /* ... and wake this often anyway */
#define ORDER_PATIENCE_MS 60000              /* then queue as unordered writers do */
#define COPY_BUF_MAX      ((size_t)64 << 20) /* one table's buffered rows */
#define COPY_FLUSH_AT     ((size_t)4 << 20)  /* all tables: send them */
#define COPY_CHUNK        ((size_t)1 << 20)
#define LOCK_WAIT_DFLT    600 /* seconds; SCANDB_LOCK_TIMEOUT overrides */

/* ---- parameters ------------------------------------------------------- */

static void p_set(struct pg_params *p, const char *v)
{
	if (p->n < PG_MAX_PARAMS)
		p->v[p->n] = v;
	p->n++;
}

void store__pg_p_text(struct pg_params *p, const char *v)
{
	p_set(p, v);
}

void store__pg_p_int(struct pg_params *p, int64_t v)
{
	if (p->n < PG_MAX_PARAMS) {
		snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)v);
		p_set(p, p->num[p->n]);
	} else {
		p->n++;
	}
}

void store__pg_p_opt(struct pg_params *p, long v)
{
	if (v < 0)
		p_set(p, NULL);
	else
		store__pg_p_int(p, v);
}

void store__pg_p_time(struct pg_params *p, int64_t t)
{
	if (t == 0)
		p_set(p, NULL);
	else
		store__pg_p_int(p, t);
}

void store__pg_p_double(struct pg_params *p, double v)
{
	if (v < 0 || p->n >= PG_MAX_PARAMS) {
		p_set(p, NULL);
		return;
	}
	snprintf(p->num[p->n], sizeof(p->num[0]), "%.17g", v);
	p_set(p, p->num[p->n]);
}

/* ---- results ------------------------------------------------------------ */

int64_t store__pg_i64(const PGresult *r, int row, int col)
{
	const char *v = store__pg_col(r, row, col);

	return v ? (int64_t)strtoll(v, NULL, 10) : 0;
}

long store__pg_opt(const PGresult *r, int row, int col)
{
	const char *v = store__pg_col(r, row, col);

	return v ? strtol(v, NULL, 10) : -1;
}

char *store__pg_dup(const PGresult *r, int row, int col, int *oom)
{
	const char *v = store__pg_col(r, row, col);
	char *c;

	if (!v)
		return NULL;
	if (!(c = strdup(v)))
		*oom = 1;
	return c;
}

int store__pg_addr_text(const char *hex, int family, char out[64])
{
	unsigned char key[16];

	out[0] = '\0';
	if (!hex || strlen(hex) != 32)
		return SDB_EDB;
	for (int i = 0; i < 16; i++) {
		int hi = store__hexval(hex[2 * i]), lo = store__hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return SDB_EDB;
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	if (family == 4 ? !inet_ntop(AF_INET, key + 12, out, 64)
	                : !inet_ntop(AF_INET6, key, out, 64))
		return SDB_EDB;
	return 0;
}

void store__pg_key_hex(const unsigned char key[16], char out[35])
{
	static const char digits[] = "0123456789abcdef";

	out[0] = '\\';
	out[1] = 'x';
	for (int i = 0; i < 16; i++) {
		out[2 + 2 * i] = digits[key[i] >> 4];
		out[3 + 2 * i] = digits[key[i] & 15];
	}
	out[34] = '\0';
}

void store__pg_fcache_clear(struct store_pg *s)
{
	store_finding_refs_free(s->fcache.v, s->fcache.n);
	s->fcache.v = NULL;
	s->fcache.n = 0;
	s->fcache.valid = 0;
	s->fcache.host_id = 0;
}

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
static int conn_lost(const struct store_pg *s, const PGresult *r)
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

/* Replace every occurrence of secret in msg (len bytes) by "***",
 * searching on after each replacement (the secret may be "***" itself). */
static void mask(char *msg, size_t len, const char *secret)
{
	size_t plen;
	char *p = msg;

	if (!secret || !(plen = strlen(secret)))
		return;
	while ((p = strstr(p, secret)) != NULL) {
		size_t tail = strlen(p + plen);
		if (plen >= 3) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + plen, tail + 1);
		} else {
			size_t used = (size_t)(p - msg) + 3 + tail + 1;
			if (used > len) {
				/* no room to widen: blank it instead */
				memset(p, '*', plen);
				p += plen;
				continue;
			}
			memmove(p + 3, p + plen, tail + 1);
			memcpy(p, "***", 3);
		}
		p += 3;
	}
}

void store__pg_redact(const struct store_pg *s, char *msg, size_t len)
{
	/* the longest first: a shorter form may be part of a longer one */
	const char *v[sizeof(s->secrets) / sizeof(s->secrets[0]) + 1];
	int n = 0;

	if (s->password && *s->password)
		v[n++] = s->password;
	for (int i = 0; i < s->nsecrets; i++)
		v[n++] = s->secrets[i];
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strlen(v[j]) > strlen(v[j - 1]); j--) {
			const char *x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	for (int i = 0; i < n; i++)
		mask(msg, len, v[i]);
}

static void redact(const struct store_pg *s, char *msg, size_t len)
{
	store__pg_redact(s, msg, len);
}

/* Remember a password form [p, p + n) from the target; 0 or SDB_ENOMEM. */
static int add_secret(struct store_pg *s, const char *p, size_t n)
{
	char *v;

	if (!n)
		return 0;
	for (int i = 0; i < s->nsecrets; i++)
		if (strlen(s->secrets[i]) == n && memcmp(s->secrets[i], p, n) == 0)
			return 0;
	if (s->nsecrets >= (int)(sizeof(s->secrets) / sizeof(s->secrets[0])))
		return SDB_ETOOBIG; /* one we could not keep could show: refuse */
	if (!(v = strndup(p, n)))
		return SDB_ENOMEM;
	s->secrets[s->nsecrets++] = v;
	return 0;
}

/* [p, p + n) and its percent-decoded form (invalid escapes kept). */
static int add_uri_secret(struct store_pg *s, const char *p, size_t n)
{
	char *d;
	size_t k = 0;
	int r;

	if ((r = add_secret(s, p, n)) != 0 || !n)
		return r;
	if (!(d = malloc(n + 1)))
		return SDB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (p[i] == '%' && i + 2 < n && (hi = store__hexval(p[i + 1])) >= 0 &&
		    (lo = store__hexval(p[i + 2])) >= 0) {
			d[k++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			d[k++] = p[i];
		}
	}
	r = add_secret(s, d, k);
	explicit_bzero(d, n + 1);
	free(d);
	return r;
}

/* What libpq itself reads as secret in the target (store_target.c): each
 * value as written and as libpq decodes it.  *opaque: libpq cannot parse
 * the target, so its messages about it may quote anything. */
static int collect_libpq_secrets(struct store_pg *s, const char *target, int *opaque)
{
	struct store__target_secrets ts;
	int r = store__target_secrets(target, &ts);

	*opaque = ts.opaque;
	for (size_t i = 0; r == 0 && i < ts.nspans; i++)
		r = add_secret(s, target + ts.spans[i].off, ts.spans[i].len);
	for (size_t i = 0; r == 0 && i < ts.nvalues; i++)
		r = add_secret(s, ts.values[i], strlen(ts.values[i]));
	store__target_secrets_free(&ts);
	return r;
}

/* The passwords written in the target itself, found without libpq (whose
 * parse errors may quote them back before it knows the password): a URI's
 * userinfo and ?password= / &password=, a key=value string's password=. */
static int collect_secrets(struct store_pg *s, const char *conninfo)
{
	const char *q;
	int r = 0;

	if (strncmp(conninfo, "postgresql://", 13) == 0 ||
	    strncmp(conninfo, "postgres://", 11) == 0) {
		const char *a = strstr(conninfo, "://") + 3;
		size_t alen = strcspn(a, "/");
		const char *first_at = memchr(a, '@', alen);
		const char *last_at = strrchr(a, '@');

		/* userinfo: up to the '@' libpq takes (the first, before any
		 * '/'), and up to the last '@' of the target (a password with
		 * a raw '/' or '@' in it) */
		for (int k = 0; k < 2 && r == 0; k++) {
			const char *at = k == 0 ? first_at : last_at;
			const char *c1, *c2;
			if (!at)
				continue;
			c1 = memchr(a, ':', (size_t)(at - a));
			if (!c1)
				continue;
			r = add_uri_secret(s, c1 + 1, (size_t)(at - c1 - 1));
			for (c2 = at - 1; r == 0 && c2 > c1 && *c2 != ':'; c2--)
				;
			if (r == 0 && c2 != c1)
				r = add_uri_secret(s, c2 + 1, (size_t)(at - c2 - 1));
			/* a raw '/' makes libpq read the pieces as port, dbname...
			 * and quote them: each piece is a secret too */
			for (const char *pc = c1 + 1; r == 0 && k == 1 && pc < at;) {
				const char *sl = memchr(pc, '/', (size_t)(at - pc));
				const char *end = sl ? sl : at;
				if (end > pc && (sl || pc != c1 + 1))
					r = add_uri_secret(s, pc, (size_t)(end - pc));
				pc = end + 1;
			}
		}
		for (q = a; r == 0 && (q = strstr(q, "password=")) != NULL; q += 9) {
			if (q > a && (q[-1] == '?' || q[-1] == '&'))
				r = add_uri_secret(s, q + 9, strcspn(q + 9, "&"));
		}
		return r;
	}
	/* key = value: password = value, 'quoted value' with \ escapes */
	for (q = conninfo; r == 0 && (q = strstr(q, "password")) != NULL; q += 8) {
		const char *v = q + 8, *e;
		if (q > conninfo && !isspace((unsigned char)q[-1]))
			continue;
		while (isspace((unsigned char)*v))
			v++;
		if (*v != '=')
			continue;
		v++;
		while (isspace((unsigned char)*v))
			v++;
		if (*v == '\'') {
			char *d;
			size_t k = 0;
			v++;
			for (e = v; *e && *e != '\''; e++)
				if (*e == '\\' && e[1])
					e++;
			if ((r = add_secret(s, v, (size_t)(e - v))) != 0)
				break;
			if (!(d = malloc((size_t)(e - v) + 1)))
				return SDB_ENOMEM;
			for (const char *x = v; x < e; x++) {
				if (*x == '\\' && x + 1 < e)
					x++;
				d[k++] = *x;
			}
			r = add_secret(s, d, k);
			explicit_bzero(d, (size_t)(e - v) + 1);
			free(d);
		} else {
			for (e = v; *e && !isspace((unsigned char)*e); e++)
				;
			r = add_secret(s, v, (size_t)(e - v));
		}
	}
	return r;
}

/* What PostgreSQL said about a failure: the primary message, its detail,
 * and the COPY line it was at; else libpq's own message. */
static void pg_message(const struct store_pg *s, const PGresult *r, char *out, size_t len)
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
	redact(s, out, len);
}

static int pg_err(struct store_pg *s, const PGresult *r, int code, const char *what)
{
	char msg[700];

	pg_message(s, r, msg, sizeof(msg));
	if (s->in_tx)
		s->tx_failed = 1;
	return store__set_err(&s->base, code, "%s: %s", what, msg);
}

/* The error code of a failed result, transient ones included. */
static int result_code(struct store_pg *s, const PGresult *r)
{
	if (conn_lost(s, r))
		return SDB_ETRANSIENT;
	return map_state(sqlstate(r));
}

/* ---- connection ------------------------------------------------------------ */

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void clear_tx_state(struct store_pg *s)
{
	for (int i = 0; i < PC__COUNT; i++)
		buf_reset(&s->copy[i]);
	s->buffered = 0;
	s->evps_lo = s->evps_hi = 0;
	s->hint.valid = 0;
	store__pg_fcache_clear(s);
	s->next_host_id = 0;
	s->ids_taken = 0;
	s->max_new_host_id = 0;
	s->staged_new_lo = 0;
	s->tx_job_id = 0;
	s->tx_job_status[0] = '\0';
	s->tx_xid[0] = '\0';
	s->tx_failed = 0;
	store__pg_block_reset(s);
	s->next_event_id = 0;
}

static int reconnect(struct store_pg *s)
{
	PQreset(s->conn);
	memset(s->prepared, 0, sizeof(s->prepared));
	s->temp_ready = 0;
	s->order_key = 0; /* session locks and LISTEN went with the session */
	s->listening = 0;
	if (PQstatus(s->conn) != CONNECTION_OK)
		return -1;
	PQsetNoticeProcessor(s->conn, quiet_notices, NULL);
	return 0;
}

/* Run one statement without parameters (setup, transaction control,
 * migration scripts) with PQexec.  No retries. */
static int exec_simple(struct store_pg *s, const char *sql, const char *what)
{
	PGresult *res = PQexec(s->conn, sql);
	ExecStatusType st = PQresultStatus(res);
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		r = pg_err(s, res, result_code(s, res), what);
	PQclear(res);
	return r;
}

static int flush_upto(struct store_pg *s, enum pg_copy last);

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
	if (!(flags & PGX_NOFLUSH) && s->buffered &&
	    (r = flush_upto(s, (flags & PGX_FLUSH_SCANS)        ? PC_SCRIPTS
	                       : (flags & PGX_FLUSH_HOST_SCANS) ? PC_HOST_SCANS
	                       : (flags & PGX_FLUSH_HOSTS)      ? PC_HOSTS
	                                                   : (enum pg_copy)(PC__COUNT - 1))) != 0)
		return r;
	snprintf(name, sizeof(name), "s%d", (int)id);
	for (int attempt = 0;; attempt++) {
		int intx = s->in_tx || s->read_tx, transient;
		PGresult *res = NULL;
		ExecStatusType st;

		if (PQstatus(s->conn) != CONNECTION_OK) {
			if (intx)
				return pg_err(s, NULL, SDB_ETRANSIENT, what);
			if (reconnect(s) != 0) {
				if (attempt >= STORE_RETRY_MAX)
					return pg_err(s, NULL, SDB_ETRANSIENT, what);
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
		transient = conn_lost(s, res) || state_transient(sqlstate(res));
		if (transient && !intx && attempt < STORE_RETRY_MAX) {
			PQclear(res);
			store__backoff(attempt);
			continue;
		}
		r = pg_err(s, res, transient ? SDB_ETRANSIENT : map_state(sqlstate(res)), what);
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
			reconnect(s);
		r = exec_simple(s, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
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

/* The password of the connection (from the target, the environment or a
 * service file) and its other secrets (libpq's dispchar "*": sslpassword),
 * so messages never show them. */
static int remember_password(struct store_pg *s)
{
	PQconninfoOption *opts = PQconninfo(s->conn), *o;
	int r = 0;

	for (o = opts; o && o->keyword && r == 0; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			if (!(s->password = strdup(o->val)))
				r = SDB_ENOMEM;
		} else if (o->dispchar && strchr(o->dispchar, '*')) {
			/* sslpassword, from the target or a service file */
			r = add_secret(s, o->val, strlen(o->val));
		}
	}
	store__conninfo_free_wiped(opts);
	if (r == 0 && (s->password || s->nsecrets))
		store__no_core_dumps(); /* (a password from ~/.pgpass or a service file) */
	return r;
}

static void pg_close(struct store *st)
{
	struct store_pg *s = store__pg(st);

	if (!s)
		return;
	if (s->conn)
		PQfinish(s->conn);
	for (int i = 0; i < PC__COUNT; i++)
		buf_free(&s->copy[i]);
	store__pg_fcache_clear(s);
	store__pg_block_free(s);
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	for (int i = 0; i < s->nsecrets; i++) {
		explicit_bzero(s->secrets[i], strlen(s->secrets[i]));
		free(s->secrets[i]);
	}
	free(s);
}

static int pg_open(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	struct store_pg *s = NULL;
	const char *conninfo = target;
	const char *kw[12], *val[12];
	char shown[512];
	int n = 0, opaque = 0, r;

	*out = NULL;
	store_target_display(target, shown, sizeof(shown));
	if (strncmp(target, "postgresql://", 13) != 0 && strncmp(target, "postgres://", 11) != 0) {
		if (strncmp(target, "postgresql:", 11) == 0)
			conninfo = target + 11;
		else if (strncmp(target, "pg:", 3) == 0)
			conninfo = target + 3;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		snprintf(errmsg, errlen, "out of memory opening %s", shown);
		return SDB_ENOMEM;
	}
	s->base.ops = &store_pg_ops;
	for (int i = 0; i < PC__COUNT; i++)
		buf_init(&s->copy[i], COPY_BUF_MAX);
	/* Our defaults first: whatever the target (or PG* variables) says
	 * wins over them (libpq keeps the last value of a keyword). */
	if (!getenv("PGAPPNAME")) {
		kw[n] = "application_name";
		val[n++] = "scandb";
	}
	if (!getenv("PGCONNECT_TIMEOUT")) {
		kw[n] = "connect_timeout";
		val[n++] = "10";
	}
	if (!getenv("PGCLIENTENCODING")) {
		kw[n] = "client_encoding";
		val[n++] = "UTF8";
	}
	/* a server that stops answering is noticed within about a minute */
	kw[n] = "keepalives_idle";
	val[n++] = "30";
	kw[n] = "keepalives_interval";
	val[n++] = "10";
	kw[n] = "keepalives_count";
	val[n++] = "3";
	kw[n] = "tcp_user_timeout";
	val[n++] = "60000";
	kw[n] = "dbname";
	val[n++] = conninfo;
	kw[n] = NULL;
	val[n] = NULL;
	if ((r = collect_secrets(s, conninfo)) != 0 ||
	    (r = collect_libpq_secrets(s, target, &opaque)) != 0) {
		if (r == SDB_ETOOBIG)
			snprintf(errmsg, errlen,
			         "%s: the target holds too many passwords to keep them out of "
			         "messages",
			         shown);
		else
			snprintf(errmsg, errlen, "out of memory connecting to %s", shown);
		goto fail;
	}
	if (s->nsecrets || opaque)
		store__no_core_dumps();
	s->conn = PQconnectdbParams(kw, val, 1);
	if (!s->conn) {
		snprintf(errmsg, errlen, "out of memory connecting to %s", shown);
		r = SDB_ENOMEM;
		goto fail;
	}
	if ((r = remember_password(s)) != 0) {
		snprintf(errmsg, errlen, "out of memory connecting to %s", shown);
		goto fail;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		char msg[700];
		/* A target libpq cannot parse: its message may quote any part
		 * of it, a password included, in forms the masking cannot
		 * know (a fragment of a malformed URI); say less then. */
		if (opaque)
			snprintf(msg, sizeof(msg),
			         "the target is not a valid connection string or URI (libpq's "
			         "message is not shown: it may quote the password)");
		else
			pg_message(s, NULL, msg, sizeof(msg));
		snprintf(errmsg, errlen, "could not connect to PostgreSQL: %s", msg);
		r = SDB_EDB;
		goto fail;
	}
	PQsetNoticeProcessor(s->conn, quiet_notices, NULL);
	*out = &s->base;
	return 0;
fail:
	pg_close(&s->base);
	return r;
}

/* ---- transactions ------------------------------------------------------------- */

static long lock_wait_ms(void)
{
	const char *v = getenv("SCANDB_LOCK_TIMEOUT");
	char *end;
	double d;

	if (v && *v) {
		d = strtod(v, &end);
		if (*end == '\0' && d >= 0 && d <= 86400)
			return d * 1000 < 1 ? 1 : (long)(d * 1000);
	}
	return LOCK_WAIT_DFLT * 1000L;
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
static void order_release(struct store_pg *s)
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
		order_release(s);
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

static int pg_tx_begin(struct store *st, int64_t order_at)
{
	struct store_pg *s = store__pg(st);
	long ms = lock_wait_ms();

	if (s->in_tx)
		return store__set_err(st, SDB_EUSAGE, "a transaction is already open");
	if (s->read_tx)
		store__pg_read_end(s, 1);
	clear_tx_state(s);
	for (int attempt = 0;; attempt++) {
		PGresult *res;
		int code;

		if (PQstatus(s->conn) != CONNECTION_OK && reconnect(s) != 0) {
			if (attempt >= STORE_RETRY_MAX)
				return pg_err(s, NULL, SDB_ETRANSIENT,
				              "could not begin write transaction");
			store__backoff(attempt);
			continue;
		}
		res = order_at ? begin_ordered(s, ms, order_at) : begin_queued(s, ms);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			if (PQntuples(res) == 1 && PQnfields(res) >= 2 && !PQgetisnull(res, 0, 1))
				snprintf(s->tx_xid, sizeof(s->tx_xid), "%s", PQgetvalue(res, 0, 1));
			PQclear(res);
			s->in_tx = 1;
			return 0;
		}
		code = result_code(s, res);
		if (PQstatus(s->conn) == CONNECTION_OK)
			PQclear(PQexec(s->conn, "ROLLBACK"));
		if (code == SDB_ETRANSIENT && attempt < STORE_RETRY_MAX) {
			PQclear(res);
			store__backoff(attempt);
			continue;
		}
		order_release(s);
		if (code == SDB_EBUSY) {
			PQclear(res);
			return store__set_err(
			    st, SDB_EBUSY,
			    "could not begin write transaction: waited %.0f s for "
			    "another writer; SCANDB_LOCK_TIMEOUT sets how long to "
			    "wait",
			    (double)ms / 1000);
		}
		code = pg_err(s, res, code, "could not begin write transaction");
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

		if (PQstatus(s->conn) != CONNECTION_OK && reconnect(s) != 0) {
			if (attempt >= STORE_RETRY_MAX)
				break;
			store__backoff(attempt);
			continue;
		}
		if (PQserverVersion(s->conn) < 130000)
			sql = "SELECT txid_status($1::bigint)";
		res = PQexecParams(s->conn, sql, 1, NULL, vals, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			int transient = conn_lost(s, res) || result_code(s, res) == SDB_ETRANSIENT;
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
	clear_tx_state(s);
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

static int pg_tx_commit(struct store *st)
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
		clear_tx_state(s);
		order_release(s);
		return 0;
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		/* "ROLLBACK": the transaction had failed */
		PQclear(res);
		s->in_tx = 0;
		s->temp_ready = 0;
		clear_tx_state(s);
		order_release(s);
		return store__set_err(st, SDB_EDB,
		                      "commit: the transaction had failed and was "
		                      "rolled back");
	}
	s->temp_ready = 0; /* if created by this transaction, they are gone */
	if (conn_lost(s, res)) {
		PQclear(res);
		s->in_tx = 0;
		s->order_key = 0; /* went with the session */
		return commit_outcome(s);
	}
	r = pg_err(s, res, result_code(s, res), "committing the transaction");
	PQclear(res);
	s->in_tx = 0;
	clear_tx_state(s);
	if (PQstatus(s->conn) == CONNECTION_OK && PQtransactionStatus(s->conn) != PQTRANS_IDLE)
		PQclear(PQexec(s->conn, "ROLLBACK"));
	order_release(s);
	return r;
}

/* Safe after any failure and when no transaction is open.  Keeps the
 * message of the failure that led here. */
static int pg_tx_rollback(struct store *st)
{
	struct store_pg *s = store__pg(st);
	PGresult *res;
	int was = s->in_tx;

	clear_tx_state(s);
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
	order_release(s);
	return 0;
}

/* ---- migrations bookkeeping ---------------------------------------------------- */

static int pg_migrate_lock(struct store *st)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%d, %d)", LOCK_SPACE,
	         LOCK_MIGRATE);
	return exec_simple(store__pg(st), sql, "taking the migration lock");
}

static int pg_exec_script(struct store *st, const char *sql)
{
	struct store_pg *s = store__pg(st);
	int r;

	if ((r = exec_simple(s, sql, "running a migration script")) != 0)
		return r;
	/* plans prepared against the old schema are dropped with it */
	memset(s->prepared, 0, sizeof(s->prepared));
	return exec_simple(s, "DEALLOCATE ALL", "running a migration script");
}

static int pg_migrations_table(struct store *st)
{
	return exec_simple(store__pg(st),
	                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                   " version integer PRIMARY KEY,"
	                   " name text NOT NULL,"
	                   " checksum text NOT NULL CHECK (length(checksum) = 64),"
	                   " applied_at timestamptz NOT NULL)",
	                   "creating the schema_migrations table");
}

/* One-shot parameterised statement (bookkeeping: tables come and go). */
static int exec_once(struct store_pg *s, const char *sql, const struct pg_params *p, PGresult **out,
                     const char *what)
{
	PGresult *res =
	    PQexecParams(s->conn, sql, p ? p->n : 0, NULL, p ? p->v : NULL, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	int r;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out)
			*out = res;
		else
			PQclear(res);
		return 0;
	}
	r = pg_err(s, res, result_code(s, res), what);
	PQclear(res);
	return r;
}

static int pg_migrations_applied(struct store *st, struct store_applied **out, size_t *n)
{
	struct store_pg *s = store__pg(st);
	struct store_applied *rows = NULL;
	PGresult *res = NULL;
	int r, cnt;

	*out = NULL;
	*n = 0;
	if ((r = exec_once(
	         s,
	         "SELECT version, name, checksum, " EP("applied_at") " FROM schema_migrations"
	                                                             " ORDER BY version",
	         NULL, &res, "reading schema_migrations")) != 0)
		return r;
	cnt = PQntuples(res);
	if (cnt > 0 && !(rows = calloc((size_t)cnt, sizeof(*rows)))) {
		PQclear(res);
		return store__set_err(st, SDB_ENOMEM, "reading schema_migrations: out of memory");
	}
	for (int i = 0; i < cnt; i++) {
		rows[i].version = (int)store__pg_i64(res, i, 0);
		sdb_strlcpy(rows[i].name, PQgetvalue(res, i, 1), sizeof(rows[i].name));
		sdb_strlcpy(rows[i].checksum, PQgetvalue(res, i, 2), sizeof(rows[i].checksum));
		rows[i].applied_at = store__pg_i64(res, i, 3);
	}
	PQclear(res);
	*out = rows;
	*n = (size_t)cnt;
	return 0;
}

static int table_exists(struct store_pg *s, const char *name, int *exists)
{
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	*exists = 0;
	store__pg_p_text(&p, name);
	if ((r = exec_once(s, "SELECT to_regclass($1::text) IS NOT NULL", &p, &res,
	                   "reading the schema")) != 0)
		return r;
	*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

static int pg_table_exists(struct store *st, const char *name, int *exists)
{
	return table_exists(store__pg(st), name, exists);
}

static int pg_migrations_applied_checked(struct store *st, struct store_applied **out, size_t *n)
{
	struct store_pg *s = store__pg(st);
	int exists, r;

	*out = NULL;
	*n = 0;
	if (!s->in_tx && !s->read_tx && PQstatus(s->conn) != CONNECTION_OK)
		reconnect(s);
	if ((r = table_exists(s, "schema_migrations", &exists)) != 0 || !exists)
		return r;
	return pg_migrations_applied(st, out, n);
}

static int pg_migration_record(struct store *st, const struct store_applied *a)
{
	struct pg_params p = {0};

	store__pg_p_int(&p, a->version);
	store__pg_p_text(&p, a->name);
	store__pg_p_text(&p, a->checksum);
	store__pg_p_int(&p, a->applied_at);
	return exec_once(store__pg(st),
	                 "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
	                 " VALUES ($1::integer, $2::text, $3::text, to_timestamp($4::bigint))",
	                 &p, NULL, "recording a migration");
}

static int pg_migration_unrecord(struct store *st, int version)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r, none;

	store__pg_p_int(&p, version);
	if ((r = exec_once(s, "DELETE FROM schema_migrations WHERE version = $1::integer", &p, &res,
	                   "unrecording a migration")) != 0)
		return r;
	none = strcmp(PQcmdTuples(res), "0") == 0;
	PQclear(res);
	if (none)
		return store__set_err(st, SDB_ENOTFOUND,
		                      "migration %04d is not recorded as applied", version);
	return 0;
}

static int pg_is_empty(struct store *st, int *empty)
{
	struct store_pg *s = store__pg(st);
	PGresult *res = NULL;
	int r;

	*empty = 0;
	for (int attempt = 0;; attempt++) {
		if (!s->in_tx && PQstatus(s->conn) != CONNECTION_OK)
			reconnect(s);
		r = exec_once(s,
		              "SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c"
		              " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
		              " WHERE n.nspname = current_schema()"
		              " AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))",
		              NULL, &res, "reading the schema");
		if (r != SDB_ETRANSIENT || s->in_tx || attempt >= STORE_RETRY_MAX)
			break;
		store__backoff(attempt);
	}
	if (r != 0)
		return r;
	*empty = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* ---- COPY buffers ------------------------------------------------------------- */

static const char *const copy_sql[PC__COUNT] = {
    [PC_HOSTS] = "COPY pg_temp.scandb_stage_hosts (id, addr, addr_key, status, mac, mac_vendor,"
                 " hostnames, os_name, os_accuracy, seen, job_id) FROM STDIN",
    [PC_HOST_SCANS] = "COPY host_scans (job_id, host_id, status, reason, reason_ttl, starttime,"
                      " endtime, scanned_at, mac, mac_vendor, hostnames, os_name, os_accuracy,"
                      " os_vendor, os_family, os_gen, os_type, os_cpe, uptime, lastboot,"
                      " distance, os_matches, state) FROM STDIN",
    [PC_PORTS] = "COPY ports (job_id, host_id, protocol, port, state, reason, reason_ttl,"
                 " service, product, version, extrainfo, ostype, method, conf, tunnel, cpe)"
                 " FROM STDIN",
    [PC_EXTRAPORTS] = "COPY extraports (job_id, host_id, state, count, reasons) FROM STDIN",
    [PC_SCRIPTS] = "COPY scripts (job_id, host_id, protocol, port, script_id, output) FROM STDIN",
    [PC_EVENTS] = "COPY host_events (id, host_id, job_id, prev_job_id, kind, protocol, port,"
                  " old_value, new_value, at, detail) FROM STDIN",
    [PC_PS_NEW] = "COPY host_state (host_id, os, mac, hostnames, ports) FROM STDIN",
    [PC_PS_STAGE] = "COPY pg_temp.scandb_stage_port_state (host_id, os, mac, hostnames, ports)"
                    " FROM STDIN",
};

static const char *const copy_what[PC__COUNT] = {
    [PC_HOSTS] = "staging host upserts", [PC_HOST_SCANS] = "storing host scans",
    [PC_PORTS] = "storing ports",        [PC_EXTRAPORTS] = "storing extraports",
    [PC_SCRIPTS] = "storing scripts",    [PC_EVENTS] = "storing events",
    [PC_PS_NEW] = "storing port states", [PC_PS_STAGE] = "staging port states",
};

/* Session-local staging tables for the rows that are upserts. */
static int make_temp_tables(struct store_pg *s)
{
	int r =
	    exec_simple(s,
	                "CREATE TEMP TABLE IF NOT EXISTS scandb_stage_hosts (id bigint, addr inet,"
	                " addr_key bytea, status text, mac text, mac_vendor text, hostnames jsonb,"
	                " os_name text, os_accuracy integer, seen timestamptz, job_id bigint)"
	                " ON COMMIT DELETE ROWS;"
	                "CREATE TEMP TABLE IF NOT EXISTS scandb_stage_port_state (host_id bigint,"
	                " os text, mac text, hostnames text, ports jsonb) ON COMMIT DELETE ROWS",
	                "creating the staging tables");

	if (r == 0)
		s->temp_ready = 1;
	return r;
}

static int copy_send(struct store_pg *s, enum pg_copy c)
{
	struct buf *b = &s->copy[c];
	PGresult *res = PQexec(s->conn, copy_sql[c]);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COPY_IN) {
		r = pg_err(s, res, result_code(s, res), copy_what[c]);
		PQclear(res);
		return r;
	}
	PQclear(res);
	for (size_t off = 0; off < b->len;) {
		size_t n = b->len - off < COPY_CHUNK ? b->len - off : COPY_CHUNK;
		if (PQputCopyData(s->conn, b->data + off, (int)n) != 1) {
			r = pg_err(s, NULL, SDB_ETRANSIENT, copy_what[c]);
			break;
		}
		off += n;
	}
	if (PQputCopyEnd(s->conn, r ? "client error" : NULL) != 1 && r == 0)
		r = pg_err(s, NULL, SDB_ETRANSIENT, copy_what[c]);
	while ((res = PQgetResult(s->conn)) != NULL) {
		if (r == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = pg_err(s, res, result_code(s, res), copy_what[c]);
		PQclear(res);
	}
	return r;
}

/* The host upserts staged since the last flush, in one statement: each
 * host found-or-created (ON CONFLICT (addr) DO UPDATE ... RETURNING id),
 * the newest observation by scan time winning its current fields. */
#define NEWER "excluded.last_seen >= h.last_seen"
#define HOST_MERGE                                                                                 \
	" ON CONFLICT (addr) DO UPDATE SET"                                                        \
	" status = CASE WHEN " NEWER " AND (excluded.status IN ('up', 'down')"                     \
	"  OR h.status NOT IN ('up', 'down')) THEN excluded.status ELSE h.status END,"             \
	" mac = CASE WHEN " NEWER " AND excluded.mac IS NOT NULL"                                  \
	"  THEN excluded.mac ELSE h.mac END,"                                                      \
	" mac_vendor = CASE WHEN " NEWER " AND excluded.mac IS NOT NULL"                           \
	"  THEN excluded.mac_vendor ELSE h.mac_vendor END,"                                        \
	" hostnames = CASE WHEN " NEWER " AND excluded.hostnames <> '[]'::jsonb"                   \
	"  THEN excluded.hostnames ELSE h.hostnames END,"                                          \
	" os_name = CASE WHEN " NEWER " AND excluded.os_name IS NOT NULL"                          \
	"  THEN excluded.os_name ELSE h.os_name END,"                                              \
	" os_accuracy = CASE WHEN " NEWER " AND excluded.os_name IS NOT NULL"                      \
	"  THEN excluded.os_accuracy ELSE h.os_accuracy END,"                                      \
	" last_job_id = CASE WHEN " NEWER " THEN excluded.last_job_id ELSE h.last_job_id END,"     \
	" first_seen = CASE WHEN excluded.first_seen = 'epoch' THEN h.first_seen"                  \
	"  WHEN h.first_seen = 'epoch' THEN excluded.first_seen"                                   \
	"  ELSE LEAST(h.first_seen, excluded.first_seen) END,"                                     \
	" last_seen = GREATEST(h.last_seen, excluded.last_seen)"
#define HOST_COLS_INS                                                                              \
	"id, addr, addr_key, status, mac, mac_vendor, hostnames, os_name, os_accuracy,"            \
	" first_seen, last_seen, last_job_id"

/* The staged rows are read by a plain scan and then the staging table is
 * emptied with TRUNCATE, not taken with DELETE ... RETURNING: a deleted row
 * stays in the table until the transaction ends (no one may prune it before
 * then), so with DELETE every flush of a transaction scanned the dead rows
 * of all flushes before it, and a flush per findings statement made an
 * import quadratic (issue 18).  After the first TRUNCATE of a transaction
 * (which gives the table a new file) PostgreSQL empties the file in place:
 * each flush costs its own rows only. */
static const char sql_stage_hosts_apply[] =
    "WITH s AS (SELECT * FROM pg_temp.scandb_stage_hosts),"
    " u AS (INSERT INTO hosts AS h (" HOST_COLS_INS ")"
    "  SELECT id, addr, addr_key, status, mac, mac_vendor, hostnames, os_name, os_accuracy,"
    "  seen, seen, job_id FROM s ORDER BY id" HOST_MERGE " RETURNING h.id, h.addr)"
    /* each host must have the id it was staged with (a hashed subplan:
     * no join of the two lists) */
    " SELECT u.addr::text, u.id FROM u WHERE u.id NOT IN (SELECT id FROM s) LIMIT 1";

/* The host_state rows of hosts that had one: replaced. */
static const char sql_stage_ps_apply[] =
    "INSERT INTO host_state (host_id, os, mac, hostnames, ports)"
    " SELECT host_id, os, mac, hostnames, ports FROM pg_temp.scandb_stage_port_state"
    " ON CONFLICT (host_id) DO UPDATE SET os = excluded.os, mac = excluded.mac,"
    " hostnames = excluded.hostnames, ports = excluded.ports";

static int apply_stage(struct store_pg *s, enum pg_copy c)
{
	PGresult *res = NULL;
	int r;

	if (c == PC_PS_STAGE) {
		if ((r = store__pg_exec(s, PG_STAGE_PS_APPLY, sql_stage_ps_apply, NULL, PGX_NOFLUSH,
		                        NULL, "saving port states")) != 0)
			return r;
		return store__pg_exec(s, PG_STAGE_PS_CLEAR,
		                      "TRUNCATE pg_temp.scandb_stage_port_state", NULL, PGX_NOFLUSH,
		                      NULL, "saving port states");
	}
	if ((r = store__pg_exec(s, PG_STAGE_HOSTS_APPLY, sql_stage_hosts_apply, NULL, PGX_NOFLUSH,
	                        &res, "storing hosts")) != 0)
		return r;
	if (PQntuples(res) > 0) {
		/* Another writer (not scandb: scandb's writers are serialised by
		 * the write lock) created the host since we looked. */
		r = store__set_err(&s->base, SDB_ETRANSIENT,
		                   "storing host %s: it was created by another writer at the same "
		                   "time (as id %s)",
		                   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		if (s->in_tx)
			s->tx_failed = 1;
	}
	PQclear(res);
	if (r == 0)
		r = store__pg_exec(s, PG_STAGE_HOSTS_CLEAR, "TRUNCATE pg_temp.scandb_stage_hosts",
		                   NULL, PGX_NOFLUSH, NULL, "storing hosts");
	if (r == 0)
		s->staged_new_lo = 0;
	return r;
}

int store__pg_host_flags(const struct store_pg *s, int64_t host_id)
{
	return s->staged_new_lo && host_id >= s->staged_new_lo ? PGX_FLUSH_HOSTS : PGX_NOFLUSH;
}

/* Send the buffers 0..last (a prefix: what they reference is sent before
 * them, and what stays buffered references only what was sent). */
static int flush_upto(struct store_pg *s, enum pg_copy last)
{
	int r = 0;

	if (!s->buffered)
		return 0;
	if ((s->copy[PC_HOSTS].len || s->copy[PC_PS_STAGE].len) && !s->temp_ready &&
	    (r = make_temp_tables(s)) != 0)
		goto fail;
	for (int c = 0; c <= (int)last; c++) {
		if (!s->copy[c].len)
			continue;
		if ((r = copy_send(s, (enum pg_copy)c)) != 0)
			goto fail;
		s->buffered -= s->copy[c].len;
		buf_reset(&s->copy[c]);
		if ((c == PC_HOSTS || c == PC_PS_STAGE) &&
		    (r = apply_stage(s, (enum pg_copy)c)) != 0)
			goto fail;
	}
	if (last == PC__COUNT - 1) {
		s->buffered = 0;
		s->evps_lo = s->evps_hi = 0;
	}
	return 0;
fail:
	/* the transaction failed: nothing buffered will be sent */
	for (int c = 0; c < PC__COUNT; c++)
		buf_reset(&s->copy[c]);
	s->buffered = 0;
	s->staged_new_lo = 0;
	s->evps_lo = s->evps_hi = 0;
	return r;
}

int store__pg_flush(struct store_pg *s)
{
	return flush_upto(s, (enum pg_copy)(PC__COUNT - 1));
}

void store__pg_evps_note(struct store_pg *s, int64_t host_id)
{
	if (!s->evps_lo || host_id < s->evps_lo)
		s->evps_lo = host_id;
	if (host_id > s->evps_hi)
		s->evps_hi = host_id;
}

/* ---- COPY text rows -------------------------------------------------------------- */

size_t store__pg_row_start(struct store_pg *s, enum pg_copy c)
{
	return s->copy[c].len;
}

static int sep(struct buf *b, int first)
{
	return first ? 0 : buf_append_char(b, '\t');
}

int store__pg_f_text(struct buf *b, int first, const char *v)
{
	int r;

	if ((r = sep(b, first)) != 0)
		return r;
	if (!v)
		return buf_append(b, "\\N", 2);
	for (;;) {
		size_t n = strcspn(v, "\\\t\n\r");
		const char *e = NULL;

		if (n && (r = buf_append(b, v, n)) != 0)
			return r;
		switch (v[n]) {
		case '\0':
			return 0;
		case '\\':
			e = "\\\\";
			break;
		case '\t':
			e = "\\t";
			break;
		case '\n':
			e = "\\n";
			break;
		default:
			e = "\\r";
			break;
		}
		if ((r = buf_append(b, e, 2)) != 0)
			return r;
		v += n + 1;
	}
}

int store__pg_f_int(struct buf *b, int first, int64_t v)
{
	char tmp[24];
	int n, r;

	if ((r = sep(b, first)) != 0)
		return r;
	n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	return buf_append(b, tmp, (size_t)n);
}

int store__pg_f_opt(struct buf *b, int first, long v)
{
	if (v < 0) {
		int r = sep(b, first);
		return r ? r : buf_append(b, "\\N", 2);
	}
	return store__pg_f_int(b, first, v);
}

/* Unix seconds as "YYYY-MM-DD HH:MM:SS+00" (days from civil, H. Hinnant). */
static size_t format_time(int64_t t, char *out)
{
	int64_t days = t / 86400, secs = t % 86400, z, era, y;
	unsigned doe, yoe, doy, mp, d, m;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y < 1 || y > 9999)
		return (size_t)snprintf(out, 40, "%lld-%02u-%02u %02d:%02d:%02d+00%s",
		                        (long long)(y < 1 ? 1 - y : y), m, d, (int)(secs / 3600),
		                        (int)(secs / 60 % 60), (int)(secs % 60),
		                        y < 1 ? " BC" : "");
	out[0] = (char)('0' + y / 1000);
	out[1] = (char)('0' + y / 100 % 10);
	out[2] = (char)('0' + y / 10 % 10);
	out[3] = (char)('0' + y % 10);
	out[4] = '-';
	out[5] = (char)('0' + m / 10);
	out[6] = (char)('0' + m % 10);
	out[7] = '-';
	out[8] = (char)('0' + d / 10);
	out[9] = (char)('0' + d % 10);
	out[10] = ' ';
	out[11] = (char)('0' + secs / 36000);
	out[12] = (char)('0' + secs / 3600 % 10);
	out[13] = ':';
	out[14] = (char)('0' + secs / 60 % 60 / 10);
	out[15] = (char)('0' + secs / 60 % 10);
	out[16] = ':';
	out[17] = (char)('0' + secs % 60 / 10);
	out[18] = (char)('0' + secs % 10);
	memcpy(out + 19, "+00", 3);
	return 22;
}

int store__pg_f_time(struct buf *b, int first, int64_t t)
{
	char tmp[48];
	int r;

	if ((r = sep(b, first)) != 0)
		return r;
	if (t == 0)
		return buf_append(b, "\\N", 2);
	return buf_append(b, tmp, format_time(t, tmp));
}

int store__pg_f_ts(struct buf *b, int first, int64_t t)
{
	char tmp[48];
	int r;

	if ((r = sep(b, first)) != 0)
		return r;
	return buf_append(b, tmp, format_time(t, tmp));
}

int store__pg_f_nz(struct buf *b, int first, int64_t v)
{
	if (v == 0) {
		int r = sep(b, first);
		return r ? r : buf_append(b, "\\N", 2);
	}
	return store__pg_f_int(b, first, v);
}

int store__pg_row_end(struct store_pg *s, enum pg_copy c, size_t start, int r, const char *what)
{
	struct buf *b = &s->copy[c];

	if (r == 0)
		r = buf_append_char(b, '\n');
	if (r != 0) {
		b->len = start;
		if (b->data)
			b->data[start] = '\0';
		return store__set_err(&s->base, r, "%s: %s", what,
		                      r == SDB_ETOOBIG ? "row too large to buffer"
		                                       : "out of memory");
	}
	s->buffered += b->len - start;
	if (s->buffered >= COPY_FLUSH_AT)
		return store__pg_flush(s);
	return 0;
}

/* ---- jobs ------------------------------------------------------------------------ */

static int pg_job_insert(struct store *st, const struct store_job_new *j, int64_t *id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_text(&p, store_job_kind_name(j->kind));
	store__pg_p_text(&p, j->source);
	store__pg_p_text(&p, store_job_status_name(j->status));
	store__pg_p_text(&p, j->args);
	store__pg_p_text(&p, j->worker_id);
	store__pg_p_int(&p, j->created_at);
	store__pg_p_time(&p, j->timeout_at);
	store__pg_p_text(&p, j->forced ? "true" : "false");
	if ((r = store__pg_exec(s, PG_JOB_INSERT,
	                        "INSERT INTO jobs (id, kind, source, status, args, worker_id,"
	                        " created_at, timeout_at, forced) VALUES ((SELECT"
	                        " greatest(last_id, coalesce((SELECT max(id) FROM jobs), 0))"
	                        " + 1 FROM job_id_high_water), $1::text, $2::text,"
	                        " $3::text, $4::text, $5::text, to_timestamp($6::bigint),"
	                        " to_timestamp($7::bigint), $8::boolean) RETURNING id",
	                        &p, 0, &res, "creating the job")) != 0)
		return r;
	*id = store__pg_i64(res, 0, 0);
	PQclear(res);
	s->ids_taken = 1;
	if (!s->in_tx && (r = store__pg_sync_ids(s)) != 0)
		return r;
	if (s->in_tx) {
		s->tx_job_id = *id;
		snprintf(s->tx_job_status, sizeof(s->tx_job_status), "%s",
		         store_job_status_name(j->status));
	}
	return 0;
}

static int pg_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r, none;

	store__pg_p_int(&p, id);
	store__pg_p_int(&p, progress);
	store__pg_p_time(&p, timeout_at);
	if ((r = store__pg_exec(s, PG_JOB_PROGRESS,
	                        "UPDATE jobs SET progress = $2::integer,"
	                        " timeout_at = to_timestamp($3::bigint) WHERE id = $1::bigint",
	                        &p, 0, &res, "updating the progress of job %lld", (long long)id)) !=
	    0)
		return r;
	none = strcmp(PQcmdTuples(res), "0") == 0;
	PQclear(res);
	if (none)
		return store__set_err(st, SDB_ENOTFOUND, "no job with id %lld", (long long)id);
	return 0;
}

/* The final state, unless the same content is already held by another
 * unforced completed job (then nothing changes and that job is named).
 * Writers are serialised by the write lock, so the check and the update
 * cannot race between scandb processes; the partial unique index
 * jobs_content_hash refuses a duplicate from anyone else. */
static const char sql_job_finish[] =
    "WITH other AS (SELECT o.id FROM jobs o, jobs me"
    "  WHERE me.id = $1::bigint AND NOT me.forced AND $2::text = 'completed'"
    "  AND $7::text IS NOT NULL AND o.content_hash = $7::text AND NOT o.forced"
    "  AND o.status = 'completed' AND o.id <> $1::bigint ORDER BY o.id LIMIT 1),"
    " upd AS (UPDATE jobs SET status = $2::text, error = $3::text, scanner = $4::text,"
    "  scanner_version = $5::text, args = coalesce($6::text, args), content_hash = $7::text,"
    "  probed_scope = $8::text, started_at = to_timestamp($9::bigint),"
    "  completed_at = to_timestamp($10::bigint), elapsed = $11::double precision,"
    "  hosts_up = $12::integer, hosts_down = $13::integer, hosts_total = $14::integer,"
    "  ports_open = $15::integer, partial = $16::boolean,"
    "  progress = CASE WHEN $2::text = 'completed' THEN 100 ELSE progress END"
    "  WHERE id = $1::bigint AND NOT EXISTS (SELECT 1 FROM other) RETURNING id)"
    " SELECT (SELECT id FROM upd), (SELECT id FROM other)";

static int pg_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                         int64_t *existing_id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	const char *status = store_job_status_name(f->status);
	int64_t done, other;
	int r;

	store__pg_p_int(&p, id);
	store__pg_p_text(&p, status);
	store__pg_p_text(&p, f->error);
	store__pg_p_text(&p, f->scanner);
	store__pg_p_text(&p, f->scanner_version);
	store__pg_p_text(&p, f->args);
	store__pg_p_text(&p, f->content_hash);
	store__pg_p_text(&p, f->probed_scope);
	store__pg_p_time(&p, f->started_at);
	store__pg_p_time(&p, f->completed_at);
	store__pg_p_double(&p, f->elapsed);
	store__pg_p_opt(&p, f->hosts_up);
	store__pg_p_opt(&p, f->hosts_down);
	store__pg_p_opt(&p, f->hosts_total);
	store__pg_p_opt(&p, f->ports_open);
	store__pg_p_text(&p, f->partial ? "true" : "false");
	if ((r = store__pg_exec(s, PG_JOB_FINISH, sql_job_finish, &p, 0, &res, "finishing job %lld",
	                        (long long)id)) != 0)
		return r;
	done = store__pg_i64(res, 0, 0);
	other = store__pg_i64(res, 0, 1);
	PQclear(res);
	if (other) {
		if (existing_id)
			*existing_id = other;
		return store__set_err(st, SDB_EEXISTS,
		                      "the same content was already stored as job %lld",
		                      (long long)other);
	}
	if (!done)
		return store__set_err(st, SDB_ENOTFOUND, "no job with id %lld", (long long)id);
	if (s->in_tx) {
		s->tx_job_id = id;
		snprintf(s->tx_job_status, sizeof(s->tx_job_status), "%s", status);
	}
	return 0;
}

static int pg_job_find_by_hash(struct store *st, const char *hash, int64_t *id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	*id = 0;
	store__pg_p_text(&p, hash);
	if ((r = store__pg_exec(s, PG_JOB_BY_HASH,
	                        "SELECT id FROM jobs WHERE content_hash = $1::text AND NOT forced"
	                        " AND status = 'completed' ORDER BY id LIMIT 1",
	                        &p, 0, &res, "looking up content hash %.12s", hash)) != 0)
		return r;
	if (PQntuples(res) == 1)
		*id = store__pg_i64(res, 0, 0);
	PQclear(res);
	if (!*id)
		return store__set_err(st, SDB_ENOTFOUND, "no completed job with content hash %.12s",
		                      hash);
	return 0;
}

/* ---- reaping stale jobs ---------------------------------------------------------- */

static int fail_in_tx(struct store_pg *s, const struct store__stale_job *v, size_t n, int64_t now,
                      int *count)
{
	for (size_t i = 0; i < n; i++) {
		struct pg_params p = {0};
		PGresult *up = NULL;
		int r;

		store__pg_p_int(&p, v[i].id);
		store__pg_p_text(&p, v[i].why);
		store__pg_p_int(&p, v[i].timed_out);
		store__pg_p_int(&p, now);
		if ((r = store__pg_exec(s, PG_JOB_FAIL,
		                        "UPDATE jobs SET status = 'failed', error = $2::text"
		                        " WHERE id = $1::bigint AND status = 'running'"
		                        " AND ($3::integer = 0"
		                        " OR timeout_at < to_timestamp($4::bigint))",
		                        &p, 0, &up, "reaping stale jobs: marking a job failed")) !=
		    0)
			return r;
		*count += atoi(PQcmdTuples(up));
		PQclear(up);
	}
	return 0;
}

static int pg_jobs_fail(struct store *st, const struct store__stale_job *v, size_t n, int64_t now,
                        int *count)
{
	struct store_pg *s = store__pg(st);
	int r = 0;

	/* (store_jobs_reap_stale refuses to run inside a transaction.)  A
	 * transaction of its own, retried whole when it is lost.  It does
	 * not queue for the write lock (`scandb jobs` is a reader and must not
	 * wait for an import): its UPDATEs re-check status and timeout_at
	 * under their row locks, so concurrent reapers and heartbeats agree. */
	for (int attempt = 0; attempt <= STORE_RETRY_MAX; attempt++) {
		*count = 0;
		if (PQstatus(s->conn) != CONNECTION_OK)
			reconnect(s);
		clear_tx_state(s);
		if ((r = exec_simple(s, "BEGIN", "reaping stale jobs")) != 0) {
			if (r != SDB_ETRANSIENT)
				return r;
			store__backoff(attempt);
			continue;
		}
		s->in_tx = 1;
		if ((r = fail_in_tx(s, v, n, now, count)) == 0 && (r = pg_tx_commit(st)) == 0)
			return 0;
		pg_tx_rollback(st);
		if (r != SDB_ETRANSIENT)
			break;
		store__backoff(attempt);
	}
	*count = 0;
	return r;
}

/* ---- hosts and what was seen of them ----------------------------------------------- */

int store__pg_sync_ids(struct store_pg *s)
{
	PGresult *res = NULL;
	int r = store__pg_exec(
	    s, PG_SEQ_SYNC,
	    "SELECT setval(pg_get_serial_sequence('jobs', 'id'), (SELECT max(id) FROM jobs)),"
	    " setval(pg_get_serial_sequence('hosts', 'id'), (SELECT max(id) FROM hosts)),"
	    " setval(pg_get_serial_sequence('host_events', 'id'),"
	    " (SELECT max(id) FROM host_events)),"
	    " setval(pg_get_serial_sequence('findings', 'id'), (SELECT max(id) FROM findings))",
	    NULL, PGX_NOFLUSH, &res, "moving the id sequences past the ids taken");

	PQclear(res);
	if (r == 0)
		s->ids_taken = 0;
	return r;
}

/* The next free host id: max(id) + 1, read once per transaction (the
 * write lock makes it ours). */
static int next_host_id(struct store_pg *s, int64_t *id)
{
	PGresult *res = NULL;
	int r;

	if (!s->next_host_id) {
		if ((r = store__pg_exec(s, PG_HOST_NEXT_ID,
		                        "SELECT coalesce(max(id), 0) + 1 FROM hosts", NULL,
		                        PGX_NOFLUSH, &res, "allocating a host id")) != 0)
			return r;
		s->next_host_id = store__pg_i64(res, 0, 0);
		PQclear(res);
		s->ids_taken = 1;
	}
	*id = s->next_host_id;
	return 0;
}

static void took_host_id(struct store_pg *s, int64_t id)
{
	if (id == s->next_host_id) {
		s->next_host_id++;
		s->max_new_host_id = id;
	}
}

static const char sql_host_upsert[] =
    "INSERT INTO hosts AS h (" HOST_COLS_INS ") VALUES ($1::bigint, $2::inet, $3::bytea,"
    " $4::text, $5::text, $6::text, coalesce($7::jsonb, '[]'::jsonb), $8::text, $9::integer,"
    " to_timestamp($10::bigint), to_timestamp($10::bigint), $11::bigint)" HOST_MERGE
    " RETURNING id";

static int pg_host_upsert(struct store *st, int64_t job_id, int64_t seen_at,
                          const struct rec_host *h, int64_t *host_id)
{
	struct store_pg *s = store__pg(st);
	unsigned char key[16];
	char keyhex[35], *names = NULL;
	const char *os = h->has_os ? h->os.name : NULL;
	int family, r, hinted;
	int64_t id = 0;

	hinted = s->hint.valid && strcmp(s->hint.addr, h->addr) == 0;
	s->hint.valid = 0;
	if (addr_parse(h->addr, NULL, &family, key) != 0)
		return store__set_err(st, SDB_EPARSE, "host address '%s' is not an IP address",
		                      h->addr);
	if ((r = store__hostnames_json(&s->base, h, &names)) != 0)
		return r;
	store__pg_key_hex(key, keyhex);
	if ((r = store__pg_block_add(s, key)) != 0)
		goto out;
	if (hinted && s->hint.found) {
		id = s->hint.id;
	} else if ((r = next_host_id(s, &id)) != 0) {
		goto out;
	}
	if (hinted) {
		/* history_load just read this host (or its absence) under the
		 * write lock: the id is known, the upsert can wait in a COPY
		 * buffer (flushed before anything that could read it). */
		struct buf *b = &s->copy[PC_HOSTS];
		size_t start = store__pg_row_start(s, PC_HOSTS);
		int e = 0;

		e |= store__pg_f_int(b, 1, id);
		e |= store__pg_f_text(b, 0, h->addr);
		e |= store__pg_f_text(b, 0, keyhex);
		e |= store__pg_f_text(b, 0, rec_host_status_name(h->status));
		e |= store__pg_f_text(b, 0, h->mac);
		e |= store__pg_f_text(b, 0, h->mac ? h->mac_vendor : NULL);
		e |= store__pg_f_text(b, 0, names ? names : "[]");
		e |= store__pg_f_text(b, 0, os);
		e |= store__pg_f_opt(b, 0, os ? h->os.accuracy : -1);
		e |= store__pg_f_ts(b, 0, seen_at);
		e |= store__pg_f_int(b, 0, job_id);
		if (!s->hint.found) {
			took_host_id(s, id);
			if (!s->staged_new_lo)
				s->staged_new_lo = id;
			/* a new host has no findings yet */
			store__pg_fcache_clear(s);
			s->fcache.host_id = id;
			s->fcache.valid = 1;
		}
		*host_id = id;
		r = store__pg_row_end(s, PC_HOSTS, start, e, "storing a host");
	} else {
		struct pg_params p = {0};
		PGresult *res = NULL;

		store__pg_p_int(&p, id);
		store__pg_p_text(&p, h->addr);
		store__pg_p_text(&p, keyhex);
		store__pg_p_text(&p, rec_host_status_name(h->status));
		store__pg_p_text(&p, h->mac);
		store__pg_p_text(&p, h->mac ? h->mac_vendor : NULL);
		store__pg_p_text(&p, names);
		store__pg_p_text(&p, os);
		store__pg_p_opt(&p, os ? h->os.accuracy : -1);
		store__pg_p_int(&p, seen_at);
		store__pg_p_int(&p, job_id);
		/* only staged host rows could matter to it (buffered children of
		 * other hosts cannot) */
		if ((r = store__pg_exec(s, PG_HOST_UPSERT, sql_host_upsert, &p,
		                        s->copy[PC_HOSTS].len ? 0 : PGX_NOFLUSH, &res,
		                        "storing host %s", h->addr)) != 0)
			goto out;
		*host_id = store__pg_i64(res, 0, 0);
		PQclear(res);
		took_host_id(s, *host_id);
	}
out:
	free(names);
	return r;
}

static int pg_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
                               const struct rec_host *h, const char *state)
{
	struct store_pg *s = store__pg(st);
	const struct rec_os *os = h->has_os ? &h->os : NULL;
	struct buf *b = &s->copy[PC_HOST_SCANS];
	char *names = NULL, *osm = NULL, what[128];
	size_t start;
	int e = 0, r;

	if ((r = store__hostnames_json(&s->base, h, &names)) != 0)
		return r;
	if ((r = store__osmatches_json(&s->base, h, &osm)) != 0) {
		free(names);
		return r;
	}
	start = store__pg_row_start(s, PC_HOST_SCANS);
	e |= store__pg_f_int(b, 1, job_id);
	e |= store__pg_f_int(b, 0, host_id);
	e |= store__pg_f_text(b, 0, rec_host_status_name(h->status));
	e |= store__pg_f_text(b, 0, h->reason);
	e |= store__pg_f_opt(b, 0, h->reason_ttl);
	e |= store__pg_f_time(b, 0, h->starttime);
	e |= store__pg_f_time(b, 0, h->endtime);
	e |= store__pg_f_ts(b, 0, seen_at);
	e |= store__pg_f_text(b, 0, h->mac);
	e |= store__pg_f_text(b, 0, h->mac_vendor);
	e |= store__pg_f_text(b, 0, names ? names : "[]");
	e |= store__pg_f_text(b, 0, os ? os->name : NULL);
	e |= store__pg_f_opt(b, 0, os ? os->accuracy : -1);
	e |= store__pg_f_text(b, 0, os ? os->vendor : NULL);
	e |= store__pg_f_text(b, 0, os ? os->family : NULL);
	e |= store__pg_f_text(b, 0, os ? os->gen : NULL);
	e |= store__pg_f_text(b, 0, os ? os->type : NULL);
	e |= store__pg_f_text(b, 0, os ? os->cpe : NULL);
	e |= store__pg_f_opt(b, 0, (long)h->uptime_seconds);
	e |= store__pg_f_text(b, 0, h->lastboot);
	e |= store__pg_f_opt(b, 0, h->distance);
	e |= store__pg_f_text(b, 0, osm);
	e |= store__pg_f_text(b, 0, state);
	free(names);
	free(osm);
	snprintf(what, sizeof(what), "storing what job %lld saw of host %s", (long long)job_id,
	         h->addr);
	return store__pg_row_end(s, PC_HOST_SCANS, start, e, what);
}

static int pg_port_insert(struct store *st, int64_t job_id, int64_t host_id,
                          const struct rec_port *p)
{
	struct store_pg *s = store__pg(st);
	const struct rec_service *sv = p->has_service ? &p->service : NULL;
	struct buf *b = &s->copy[PC_PORTS];
	char *cpe = NULL;
	size_t start;
	int e = 0, r;

	if ((r = store__cpes_json(&s->base, p, &cpe)) != 0)
		return r;
	start = store__pg_row_start(s, PC_PORTS);
	e |= store__pg_f_int(b, 1, job_id);
	e |= store__pg_f_int(b, 0, host_id);
	e |= store__pg_f_text(b, 0, rec_proto_name(p->proto));
	e |= store__pg_f_int(b, 0, p->port);
	e |= store__pg_f_text(b, 0, rec_port_state_name(p->state));
	e |= store__pg_f_text(b, 0, p->reason);
	e |= store__pg_f_opt(b, 0, p->reason_ttl);
	e |= store__pg_f_text(b, 0, sv ? sv->name : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->product : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->version : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->extrainfo : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->ostype : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->method : NULL);
	e |= store__pg_f_opt(b, 0, sv ? sv->conf : -1);
	e |= store__pg_f_text(b, 0, sv ? sv->tunnel : NULL);
	e |= store__pg_f_text(b, 0, cpe);
	free(cpe);
	return store__pg_row_end(s, PC_PORTS, start, e, "storing a port");
}

static int pg_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                                const struct rec_extraports *x)
{
	struct store_pg *s = store__pg(st);
	struct buf *b = &s->copy[PC_EXTRAPORTS];
	size_t start;
	int e = 0;

	start = store__pg_row_start(s, PC_EXTRAPORTS);
	e |= store__pg_f_int(b, 1, job_id);
	e |= store__pg_f_int(b, 0, host_id);
	e |= store__pg_f_text(b, 0, rec_port_state_name(x->state));
	e |= store__pg_f_int(b, 0, x->count);
	e |= store__pg_f_text(b, 0, x->reasons);
	return store__pg_row_end(s, PC_EXTRAPORTS, start, e, "storing extraports");
}

static int pg_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                            const struct rec_port *port, const struct rec_script *sc)
{
	struct store_pg *s = store__pg(st);
	struct buf *b = &s->copy[PC_SCRIPTS];
	size_t start;
	int e = 0;

	start = store__pg_row_start(s, PC_SCRIPTS);
	e |= store__pg_f_int(b, 1, job_id);
	e |= store__pg_f_int(b, 0, host_id);
	e |= store__pg_f_text(b, 0, port ? rec_proto_name(port->proto) : NULL);
	e |= port ? store__pg_f_int(b, 0, port->port) : store__pg_f_text(b, 0, NULL);
	e |= store__pg_f_text(b, 0, sc->id);
	e |= store__pg_f_text(b, 0, sc->output ? sc->output : "");
	return store__pg_row_end(s, PC_SCRIPTS, start, e, "storing a script");
}

static int pg_run_script_insert(struct store *st, int64_t job_id, int post, int seq,
                                const struct rec_script *sc)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};

	store__pg_p_int(&p, job_id);
	store__pg_p_text(&p, post ? "post" : "pre");
	store__pg_p_int(&p, seq);
	store__pg_p_text(&p, sc->id);
	store__pg_p_text(&p, sc->output ? sc->output : "");
	return store__pg_exec(s, PG_RUN_SCRIPT_INSERT,
	                      "INSERT INTO run_scripts (job_id, phase, seq, script_id, output)"
	                      " VALUES ($1::bigint, $2::text, $3::integer, $4::text, $5::text)",
	                      &p, PGX_NOFLUSH /* nothing buffered refers to it */, NULL,
	                      "storing %s-scan script %.64s of job %lld", post ? "post" : "pre",
	                      sc->id, (long long)job_id);
}

/* ---- the ops table ----------------------------------------------------------------- */

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .migrations = store_pg_migrations,
    .nmigrations = &store_pg_nmigrations,
    .open = pg_open,
    .close = pg_close,
    .tx_begin = pg_tx_begin,
    .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback,
    .migrate_lock = pg_migrate_lock,
    .exec_script = pg_exec_script,
    .migrations_table = pg_migrations_table,
    .migrations_applied = pg_migrations_applied_checked,
    .migration_record = pg_migration_record,
    .migration_unrecord = pg_migration_unrecord,
    .is_empty = pg_is_empty,
    .table_exists = pg_table_exists,
    .job_insert = pg_job_insert,
    .job_progress = pg_job_progress,
    .job_finish = pg_job_finish,
    .host_upsert = pg_host_upsert,
    .host_scan_insert = pg_host_scan_insert,
    .port_insert = pg_port_insert,
    .extraports_insert = pg_extraports_insert,
    .script_insert = pg_script_insert,
    .run_script_insert = pg_run_script_insert,
    .run_scripts = store__pg_run_scripts,
    .jobs_fail = pg_jobs_fail,
    .job_find_by_hash = pg_job_find_by_hash,
    .history_load = store__pg_history_load,
    .port_state_save = store__pg_port_state_save,
    .event_insert = store__pg_event_insert,
    .history_scan_list = store__pg_history_scan_list,
    .history_scans = store__pg_history_scans,
    .history_forget = store__pg_history_forget,
    .history_states = store__pg_history_states,
    .history_states_put = store__pg_history_states_put,
    .events_each = store__pg_events_each,
    .hosts_each = store__pg_hosts_each,
    .jobs_each = store__pg_jobs_each,
    .job_get = store__pg_job_get,
    .findings_of_host = store__pg_findings_of_host,
    .finding_upsert = store__pg_finding_upsert,
    .finding_set_status = store__pg_finding_set_status,
    .findings_each = store__pg_findings_each,
    .sql_time = "to_timestamp",
    .query_int = store__pg_query_int,
    .query_text = store__pg_query_text,
    .exec_params = store__pg_exec_params,
    .ping = store__pg_ping,
    .stats = store__pg_stats,
    .doctor = store__pg_doctor,
    .doctor_privileges = store__pg_doctor_privileges,
    .backup = store__pg_backup,
    .restore_open = store__pg_restore_open,
    .restore_lock = store__pg_restore_lock,
    .restore_apply = store__pg_restore_apply,
    .restore_close = store__pg_restore_close,
};
