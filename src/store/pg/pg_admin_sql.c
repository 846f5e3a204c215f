/*
 * pg_admin_sql.c - the PostgreSQL side of the operations' SQL (store.h
 * "operations", docs/OPERATIONS.md): store__pg_adm_exec, which the
 * pg_admin_*.c files run their statements with (errors as "<what>: <what
 * PostgreSQL said>"), the generic query slots that store_ops.c's health,
 * stats, doctor and prune logic runs on, ping, and sizes from the catalog
 * (stats).  The policies are store_ops.c's, not this file's.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define INT8OID 20

/* ---- errors ----------------------------------------------------------------- */

/* "<what>: <what PostgreSQL said>"; a failure inside a write transaction
 * marks it failed (pg_tx.c's commit then refuses). */
static int adm_err(struct store_pg *s, const PGresult *res, const char *what)
{
	const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *det = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *c = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char msg[700];
	int code = SDB_EDB;

	if (prim)
		snprintf(msg, sizeof(msg), "%s%s%s%s", prim, det ? " (" : "", det ? det : "",
		         det ? ")" : "");
	else
		snprintf(msg, sizeof(msg), "%s", PQerrorMessage(s->conn));
	for (char *p = msg; *p; p++)
		if (*p == '\n')
			*p = ' ';
	store__pg_redact(s, msg, sizeof(msg));
	if (s->in_tx)
		s->tx_failed = 1;
	if (PQstatus(s->conn) != CONNECTION_OK || (c && strncmp(c, "08", 2) == 0) ||
	    (c && (strcmp(c, "40001") == 0 || strcmp(c, "40P01") == 0)))
		code = SDB_ETRANSIENT;
	else if (c && strncmp(c, "42", 2) == 0 && strcmp(c, "42501") != 0)
		code = SDB_ESCHEMA;
	return store__set_err(&s->base, code, "%s: %s", what, msg);
}

/* Run sql with text parameters (n of them, types from `types` or the
 * server's inference).  Flushes buffered COPY rows first (the statement
 * may read them).  Outside a transaction a lost connection is re-made
 * once.  *out holds a TUPLES_OK / COMMAND_OK result (PQclear it). */
int store__pg_adm_exec(struct store_pg *s, const char *sql, int n, const Oid *types,
                       const char *const *vals, PGresult **out, const char *what)
{
	PGresult *res;
	ExecStatusType st;
	int r;

	*out = NULL;
	if (s->buffered && (r = store__pg_flush(s)) != 0)
		return r;
	if (PQstatus(s->conn) != CONNECTION_OK && !s->in_tx && !s->read_tx) {
		PQreset(s->conn);
		memset(s->prepared, 0, sizeof(s->prepared));
		s->temp_ready = 0;
	}
	res = PQexecParams(s->conn, sql, n, types, vals, NULL, NULL, 0);
	st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		r = adm_err(s, res, what);
		PQclear(res);
		return r;
	}
	*out = res;
	return 0;
}

static int adm_exec_i64(struct store_pg *s, const char *sql, const int64_t *params, size_t nparams,
                        PGresult **out, const char *what)
{
	char num[8][24];
	const char *vals[8];
	Oid types[8];

	if (nparams > 8)
		return store__set_err(&s->base, SDB_EUSAGE, "%s: too many parameters", what);
	for (size_t i = 0; i < nparams; i++) {
		snprintf(num[i], sizeof(num[i]), "%lld", (long long)params[i]);
		vals[i] = num[i];
		types[i] = INT8OID;
	}
	return store__pg_adm_exec(s, sql, (int)nparams, types, vals, out, what);
}

/* ---- generic slots ------------------------------------------------------------ */

int store__pg_query_int(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                        int (*cb)(void *ctx, int64_t v), void *ctx)
{
	struct store_pg *s = store__pg(st);
	PGresult *res;
	int r;

	if ((r = adm_exec_i64(s, sql, params, nparams, &res, "running an operations query")) != 0)
		return r;
	r = 0;
	for (int i = 0; i < PQntuples(res) && r == 0; i++)
		r = cb(ctx, store__pg_i64(res, i, 0));
	PQclear(res);
	return r;
}

int store__pg_query_text(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                         int (*cb)(void *ctx, const char *const *col, const size_t *len), void *ctx)
{
	struct store_pg *s = store__pg(st);
	const char *col[STORE__TEXT_COLS];
	size_t len[STORE__TEXT_COLS];
	PGresult *res;
	int ncol, r;

	if ((r = adm_exec_i64(s, sql, params, nparams, &res, "running an operations query")) != 0)
		return r;
	ncol = PQnfields(res);
	if (ncol > STORE__TEXT_COLS)
		ncol = STORE__TEXT_COLS;
	r = 0;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		for (int k = 0; k < ncol; k++) {
			col[k] = PQgetisnull(res, i, k) ? NULL : PQgetvalue(res, i, k);
			len[k] = (size_t)PQgetlength(res, i, k);
		}
		r = cb(ctx, col, len);
	}
	PQclear(res);
	return r;
}

int store__pg_exec_params(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                          int64_t *changes)
{
	struct store_pg *s = store__pg(st);
	PGresult *res;
	const char *n;
	int r;

	if (changes)
		*changes = 0;
	if ((r = adm_exec_i64(s, sql, params, nparams, &res, "running an operations statement")) !=
	    0)
		return r;
	n = PQcmdTuples(res);
	if (changes && n && *n)
		*changes = strtoll(n, NULL, 10);
	PQclear(res);
	return 0;
}

int store__pg_ping(struct store *st, char *version, size_t len)
{
	struct store_pg *s = store__pg(st);
	PGresult *res;
	int r;

	if ((r = store__pg_adm_exec(s, "SELECT current_setting('server_version')", 0, NULL, NULL,
	                            &res, "ping")) != 0)
		return r;
	snprintf(version, len, "%s", PQntuples(res) ? PQgetvalue(res, 0, 0) : "?");
	PQclear(res);
	return 0;
}

/* ---- stats -------------------------------------------------------------------- */

/* Every table and index of the schema: tables first, each group by name.
 * Table bytes: pg_table_size (heap, TOAST, free space and visibility
 * maps, without indexes: tables + indexes add up to the relations' total);
 * index bytes: pg_relation_size.  Rows: count(*) per table -- exact up to
 * STATS_EXACT_PAGES pages of heap, else from a sample of its pages; index
 * entries: the table's rows, or for a partial index the rows its
 * predicate admits (count(*) WHERE predicate).  Column 6: the pages of the
 * table's heap (of the index's table). */
static const char stats_sql[] =
    "SELECT c.relkind IN ('i', 'I'), c.relname, coalesce(t.relname, c.relname),"
    " CASE WHEN c.relkind IN ('i', 'I') THEN pg_relation_size(c.oid) ELSE pg_table_size(c.oid)"
    " END,"
    " format('%I.%I', n.nspname, coalesce(t.relname, c.relname)),"
    " pg_get_expr(x.indpred, x.indrelid),"
    " pg_relation_size(coalesce(t.oid, c.oid)) / current_setting('block_size')::bigint"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_index x ON x.indexrelid = c.oid"
    " LEFT JOIN pg_class t ON t.oid = x.indrelid"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'i', 'I')"
    " AND NOT c.relispartition"
    " ORDER BY c.relkind IN ('i', 'I'), c.relname";

/* A table of more heap pages than this (8 MB of 8 KB pages) is counted
 * from a sample of about this many of its pages (TABLESAMPLE SYSTEM: whole
 * pages at random, a fixed seed): stats stays well under a second however
 * large the history grows. */
#define STATS_EXACT_PAGES 1024

/* Rows of qual_table (that pred admits, if given): exact, or (sample) an
 * estimate from about STATS_EXACT_PAGES of its `pages` pages. */
static int count_rows(struct store_pg *s, const char *qual_table, const char *pred, int64_t pages,
                      int exact, int64_t *n, int *estimated)
{
	double pct = 100.0;
	char num[32];
	const char *v[1] = {num};
	struct buf q;
	PGresult *res;
	int r;

	*estimated = !exact && pages > STATS_EXACT_PAGES;
	if (*estimated)
		pct = 100.0 * STATS_EXACT_PAGES / (double)pages;
	snprintf(num, sizeof(num), "%.6f", pct);
	buf_init(&q, 1 << 20);
	/* (names and predicates come from the catalog, quoted by format()) */
	if (buf_printf(&q, "SELECT count(*) FROM %s%s%s%s%s", qual_table,
	               *estimated ? " TABLESAMPLE SYSTEM ($1::float4) REPEATABLE (0)" : "",
	               pred ? " WHERE (" : "", pred ? pred : "", pred ? ")" : "") != 0) {
		buf_free(&q);
		return store__set_err(&s->base, SDB_ENOMEM, "stats: out of memory");
	}
	r = store__pg_adm_exec(s, buf_str(&q), *estimated ? 1 : 0, NULL, *estimated ? v : NULL,
	                       &res, "stats: counting rows");
	buf_free(&q);
	if (r != 0)
		return r;
	*n = store__pg_i64(res, 0, 0);
	if (*estimated)
		*n = (int64_t)((double)*n * 100.0 / pct + 0.5);
	PQclear(res);
	return 0;
}

int store__pg_stats(struct store *st, int exact, struct store_stats *out)
{
	struct store_pg *s = store__pg(st);
	PGresult *res = NULL, *db = NULL;
	int opened = 0, r, n;

	/* One snapshot: the counts and sizes belong to one state. */
	if ((r = store__pg_read_begin(s, &opened)) != 0)
		return r;
	if ((r = store__pg_adm_exec(s, stats_sql, 0, NULL, NULL, &res,
	                            "stats: reading the catalog")) != 0 ||
	    (r = store__pg_adm_exec(s, "SELECT pg_database_size(current_database())", 0, NULL, NULL,
	                            &db, "stats: database size")) != 0)
		goto out;
	snprintf(out->size_method, sizeof(out->size_method), "pg_table_size");
	out->db_bytes = store__pg_i64(db, 0, 0);
	out->free_bytes = -1;
	n = PQntuples(res);
	if (n > 0 && !(out->objs = calloc((size_t)n, sizeof(*out->objs)))) {
		r = store__set_err(st, SDB_ENOMEM, "stats: out of memory");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		struct store_stat_obj *o = &out->objs[i];

		o->is_index = strcmp(PQgetvalue(res, i, 0), "t") == 0;
		snprintf(o->name, sizeof(o->name), "%s", PQgetvalue(res, i, 1));
		snprintf(o->table, sizeof(o->table), "%s", PQgetvalue(res, i, 2));
		o->bytes = store__pg_i64(res, i, 3);
		o->rows = -1;
		if (!o->is_index || !PQgetisnull(res, i, 5)) {
			if ((r = count_rows(s, PQgetvalue(res, i, 4), store__pg_col(res, i, 5),
			                    store__pg_i64(res, i, 6), exact, &o->rows,
			                    &o->estimated)) != 0)
				goto out;
		} else {
			for (int j = 0; j < i; j++)
				if (!out->objs[j].is_index &&
				    strcmp(out->objs[j].name, o->table) == 0) {
					o->rows = out->objs[j].rows;
					o->estimated = out->objs[j].estimated;
				}
		}
		out->nobjs++;
	}
out:
	PQclear(res);
	PQclear(db);
	store__pg_read_end(s, opened);
	return r;
}
