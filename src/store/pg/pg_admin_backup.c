/*
 * store_pg_admin.c - the PostgreSQL side of the database operations
 * (store.h "operations", docs/OPERATIONS.md): the generic query slots that
 * store.c's health/stats/doctor/prune logic runs on, sizes from the
 * catalog, CHECK constraints re-evaluated on the rows, ownership and
 * privileges, and backup / restore with pg_dump / pg_restore.
 *
 * The policies (what prune keeps, which relations are checked for orphans,
 * how backups are named) are store.c's and the CLI's, not this file's.
 * SQL built here from catalog text (CHECK expressions, index predicates)
 * comes from the database's own catalog, never from input; identifiers are
 * quoted by the server (format('%I'), quote_ident).
 *
 * pg_dump and pg_restore run as child processes with the live connection's
 * host, port, user and database on their command line and the password, if
 * the connection used one, in an anonymous 0600 passfile (a memfd read as
 * PGPASSFILE=/dev/fd/N): never in argv, never in the environment, never in
 * a file with a name (so nothing is left to clean, even after SIGKILL).
 */
#define _GNU_SOURCE /* memfd_create, O_TMPFILE */
#include "store/pg/pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/proc.h"
#include "core/timeutil.h"

extern char **environ;

/* The writers' advisory lock (store_pg.c LOCK_SPACE / LOCK_WRITER): restore
 * holds it so no scandb writer commits between the emptiness check and the
 * restore, nor during it. */
#define ADM_LOCK_SPACE  1935893602
#define ADM_LOCK_WRITER 1

#define INT8OID 20

/* ---- errors ----------------------------------------------------------------- */

/* "<what>: <what PostgreSQL said>"; a failure inside a write transaction
 * marks it failed (store_pg.c's commit then refuses). */
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
static int adm_exec(struct store_pg *s, const char *sql, int n, const Oid *types,
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
	return adm_exec(s, sql, (int)nparams, types, vals, out, what);
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

	if ((r = adm_exec(s, "SELECT current_setting('server_version')", 0, NULL, NULL, &res,
	                  "ping")) != 0)
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
	r = adm_exec(s, buf_str(&q), *estimated ? 1 : 0, NULL, *estimated ? v : NULL, &res,
	             "stats: counting rows");
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
	if ((r = adm_exec(s, stats_sql, 0, NULL, NULL, &res, "stats: reading the catalog")) != 0 ||
	    (r = adm_exec(s, "SELECT pg_database_size(current_database())", 0, NULL, NULL, &db,
	                  "stats: database size")) != 0)
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

/* ---- doctor -------------------------------------------------------------------- */

/* Every CHECK constraint (and NOT NULL column) of the schema's tables, one
 * scan per table: count(*) FILTER (WHERE NOT (expr)) for each.  A row
 * passes a CHECK when its expression is true or NULL, so NOT (expr) picks
 * exactly the rows the constraint refuses.  A constraint added NOT VALID
 * (rows never checked) is re-evaluated like the others. */
static const char checks_sql[] =
    "SELECT format('%I.%I', n.nspname, t.relname), t.relname, c.conname,"
    " regexp_replace(regexp_replace(pg_get_constraintdef(c.oid), '^CHECK ', ''),"
    " ' NOT VALID$', '')"
    " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
    " JOIN pg_namespace n ON n.oid = t.relnamespace"
    " WHERE c.contype = 'c' AND n.nspname = current_schema()"
    " UNION ALL "
    "SELECT format('%I.%I', n.nspname, t.relname), t.relname, 'NOT NULL ' || a.attname,"
    " format('%I IS NOT NULL', a.attname)"
    " FROM pg_attribute a JOIN pg_class t ON t.oid = a.attrelid"
    " JOIN pg_namespace n ON n.oid = t.relnamespace"
    " WHERE a.attnotnull AND a.attnum > 0 AND NOT a.attisdropped AND t.relkind IN ('r', 'p')"
    " AND n.nspname = current_schema()"
    " ORDER BY 1, 3";

static int check_table(struct store_pg *s, const PGresult *cs, int from, int to,
                       struct store_doctor_report *rep, int *found)
{
	const char *qual = PQgetvalue(cs, from, 0);
	struct buf q;
	PGresult *res;
	int r;

	buf_init(&q, 1 << 22);
	r = buf_append_str(&q, "SELECT ");
	for (int i = from; i < to && r == 0; i++)
		r = buf_printf(&q, "%scount(*) FILTER (WHERE NOT (%s))", i > from ? ", " : "",
		               PQgetvalue(cs, i, 3));
	if (r == 0)
		r = buf_printf(&q, " FROM %s", qual);
	if (r != 0) {
		buf_free(&q);
		return store__set_err(&s->base, SDB_ENOMEM, "doctor: out of memory");
	}
	r = adm_exec(s, buf_str(&q), 0, NULL, NULL, &res,
	             "doctor: re-evaluating CHECK constraints");
	buf_free(&q);
	if (r != 0)
		return r;
	for (int i = from; i < to && r == 0; i++) {
		int64_t n = store__pg_i64(res, 0, i - from);
		char what[1024], fix[1536];

		if (n == 0)
			continue;
		*found = 1;
		snprintf(what, sizeof(what), "%lld row%s of %s break%s its constraint %s: %s",
		         (long long)n, n == 1 ? "" : "s", PQgetvalue(cs, i, 1), n == 1 ? "s" : "",
		         PQgetvalue(cs, i, 2), PQgetvalue(cs, i, 3));
		snprintf(fix, sizeof(fix),
		         "find them: SELECT * FROM %s WHERE NOT (%s); correct or DELETE them, or "
		         "restore a backup (scandb restore --force FILE)",
		         qual, PQgetvalue(cs, i, 3));
		r = store__doctor_problem(rep, "check_constraints", n, what, fix);
	}
	PQclear(res);
	return r;
}

static int doctor_checks(struct store_pg *s, struct store_doctor_report *rep)
{
	PGresult *cs;
	int found = 0, r, n, from = 0;

	if ((r = adm_exec(s, checks_sql, 0, NULL, NULL, &cs, "doctor: reading the constraints")) !=
	    0)
		return r;
	n = PQntuples(cs);
	for (int i = 1; i <= n && r == 0; i++) {
		if (i < n && strcmp(PQgetvalue(cs, i, 0), PQgetvalue(cs, from, 0)) == 0)
			continue;
		r = check_table(s, cs, from, i, rep, &found);
		from = i;
	}
	PQclear(cs);
	if (r == 0 && !found)
		r = store__doctor_check(rep, "check_constraints", "ok", NULL);
	return r;
}

/* Foreign keys are enforced by PostgreSQL itself (the orphans check
 * re-verifies every one); what can switch them off is a key not validated
 * (NOT VALID) or its triggers disabled (ALTER TABLE ... DISABLE TRIGGER
 * ALL).  Rows written with session_replication_role = replica leave no
 * trace here: the orphans check finds those. */
static const char fk_sql[] =
    "SELECT format('%I.%I', n.nspname, t.relname), c.conname, c.convalidated,"
    " EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgconstraint = c.oid AND g.tgenabled = 'D'),"
    " quote_ident(c.conname)"
    " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
    " JOIN pg_namespace n ON n.oid = t.relnamespace"
    " WHERE c.contype = 'f' AND n.nspname = current_schema()"
    " AND (NOT c.convalidated OR EXISTS (SELECT 1 FROM pg_trigger g"
    " WHERE g.tgconstraint = c.oid AND g.tgenabled = 'D'))"
    " ORDER BY 1, 2";

static int doctor_composite(struct store_pg *s, struct store_doctor_report *rep, int *found);

static int doctor_fks(struct store_pg *s, int quick, struct store_doctor_report *rep)
{
	PGresult *res;
	int found = 0, r;

	if ((r = adm_exec(s, fk_sql, 0, NULL, NULL, &res, "doctor: reading the foreign keys")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		const char *t = PQgetvalue(res, i, 0), *k = PQgetvalue(res, i, 1);
		int disabled = strcmp(PQgetvalue(res, i, 3), "t") == 0;
		char what[512], fix[512];

		if (disabled) {
			snprintf(what, sizeof(what),
			         "foreign key %s of %s is not enforced: its triggers are disabled",
			         k, t);
			snprintf(fix, sizeof(fix),
			         "ALTER TABLE %s ENABLE TRIGGER ALL;  (after removing the orphans "
			         "the 'orphans' check lists)",
			         t);
		} else {
			snprintf(
			    what, sizeof(what),
			    "foreign key %s of %s is NOT VALID (existing rows were never checked)",
			    k, t);
			snprintf(
			    fix, sizeof(fix),
			    "ALTER TABLE %s VALIDATE CONSTRAINT %s;  (after removing the orphans "
			    "the 'orphans' check lists)",
			    t, PQgetvalue(res, i, 4));
		}
		r = store__doctor_problem(rep, "foreign_keys", 1, what, fix);
	}
	/* --quick: the keys are enforced (validated, triggers enabled); the
	 * rows are not read again */
	if (r == 0 && !quick)
		r = doctor_composite(s, rep, &found);
	if (r == 0 && PQntuples(res) == 0 && !found)
		r = store__doctor_check(rep, "foreign_keys", "ok",
		                        quick
		                            ? "enforced by PostgreSQL; every key validated and its "
		                              "triggers enabled (--quick: rows not read)"
		                            : "enforced by PostgreSQL; every key validated and its "
		                              "triggers enabled, no row without its multi-column "
		                              "key's parent");
	PQclear(res);
	return r;
}

/* The multi-column foreign keys (ports, extraports and scripts reference
 * host_scans(job_id, host_id) on PostgreSQL): store__relations, and so the
 * generic orphans check, knows single columns only.  Rows whose key has
 * no parent row are counted like the orphans, from the catalog. */
static const char composite_sql[] =
    "SELECT format('%I.%I', cn.nspname, ct.relname), format('%I.%I', pn.nspname, pt.relname),"
    " (SELECT string_agg(format('c.%I IS NOT NULL', a.attname), ' AND ' ORDER BY k.i)"
    " FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a"
    " ON a.attrelid = c.conrelid AND a.attnum = k.n),"
    " (SELECT string_agg(format('p.%I = c.%I', pa.attname, ca.attname), ' AND ' ORDER BY k.i)"
    " FROM unnest(c.conkey, c.confkey) WITH ORDINALITY k(cn, pn, i)"
    " JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.cn"
    " JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.pn),"
    " pg_get_constraintdef(c.oid), c.confdeltype = 'c'"
    " FROM pg_constraint c JOIN pg_class ct ON ct.oid = c.conrelid"
    " JOIN pg_namespace cn ON cn.oid = ct.relnamespace"
    " JOIN pg_class pt ON pt.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = pt.relnamespace"
    " WHERE c.contype = 'f' AND cardinality(c.conkey) > 1 AND cn.nspname = current_schema()"
    " ORDER BY 1, 5";

static int doctor_composite(struct store_pg *s, struct store_doctor_report *rep, int *found)
{
	PGresult *fks, *res;
	int r;

	if ((r = adm_exec(s, composite_sql, 0, NULL, NULL, &fks,
	                  "doctor: reading the foreign keys")) != 0)
		return r;
	for (int i = 0; i < PQntuples(fks) && r == 0; i++) {
		const char *child = PQgetvalue(fks, i, 0), *parent = PQgetvalue(fks, i, 1);
		const char *notnull = PQgetvalue(fks, i, 2), *match = PQgetvalue(fks, i, 3);
		const char *def = PQgetvalue(fks, i, 4);
		struct buf q;
		int64_t n;

		buf_init(&q, 1 << 16);
		if (buf_printf(&q,
		               "FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)",
		               child, notnull, parent, match) != 0) {
			buf_free(&q);
			r = store__set_err(&s->base, SDB_ENOMEM, "doctor: out of memory");
			break;
		}
		{
			struct buf c;
			buf_init(&c, 1 << 16);
			r = buf_printf(&c, "SELECT count(*) %s", buf_str(&q));
			if (r == 0)
				r = adm_exec(s, buf_str(&c), 0, NULL, NULL, &res,
				             "doctor: checking a foreign key");
			else
				r = store__set_err(&s->base, SDB_ENOMEM, "doctor: out of memory");
			buf_free(&c);
		}
		if (r != 0) {
			buf_free(&q);
			break;
		}
		n = store__pg_i64(res, 0, 0);
		PQclear(res);
		if (n > 0) {
			char what[1024], fix[2048];

			*found = 1;
			snprintf(what, sizeof(what), "%lld row%s of %s break%s its %s",
			         (long long)n, n == 1 ? "" : "s", child, n == 1 ? "s" : "", def);
			if (strcmp(PQgetvalue(fks, i, 5), "t") == 0)
				snprintf(fix, sizeof(fix), "DELETE %s;", buf_str(&q));
			else
				snprintf(fix, sizeof(fix),
				         "find them: SELECT * %s; correct them or set the key "
				         "columns to "
				         "NULL",
				         buf_str(&q));
			r = store__doctor_problem(rep, "foreign_keys", n, what, fix);
		}
		buf_free(&q);
	}
	PQclear(fks);
	return r;
}

/* --quick: PostgreSQL enforces every CHECK itself; what can leave rows
 * unchecked is a constraint added NOT VALID, which the catalog says. */
static const char unvalidated_sql[] =
    "SELECT t.relname, c.conname, format('ALTER TABLE %I.%I VALIDATE CONSTRAINT %I;',"
    " n.nspname, t.relname, c.conname)"
    " FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
    " JOIN pg_namespace n ON n.oid = t.relnamespace"
    " WHERE c.contype = 'c' AND NOT c.convalidated AND n.nspname = current_schema()"
    " ORDER BY 1, 2";

static int doctor_checks_quick(struct store_pg *s, struct store_doctor_report *rep)
{
	PGresult *res;
	int r;

	if ((r = adm_exec(s, unvalidated_sql, 0, NULL, NULL, &res,
	                  "doctor: reading the constraints")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		char what[512];

		snprintf(what, sizeof(what),
		         "CHECK constraint %s of %s is NOT VALID (existing rows were never "
		         "checked; run doctor without --quick to count them)",
		         PQgetvalue(res, i, 1), PQgetvalue(res, i, 0));
		r = store__doctor_problem(rep, "check_constraints", -1, what,
		                          PQgetvalue(res, i, 2));
	}
	if (r == 0 && PQntuples(res) == 0)
		r = store__doctor_check(
		    rep, "check_constraints", "ok",
		    "enforced by PostgreSQL, every constraint validated (--quick; "
		    "the full check re-evaluates every row)");
	PQclear(res);
	return r;
}

int store__pg_doctor(struct store *st, int quick, struct store_doctor_report *rep)
{
	struct store_pg *s = store__pg(st);
	int opened = 0, r;

	if ((r = store__doctor_check(rep, "integrity", "skipped",
	                             "PostgreSQL checks its own pages (data checksums, if the "
	                             "cluster has them); indexes: the amcheck extension")) != 0)
		return r;
	if ((r = store__pg_read_begin(s, &opened)) != 0)
		return r;
	r = quick ? doctor_checks_quick(s, rep) : doctor_checks(s, rep);
	if (r == 0)
		r = doctor_fks(s, quick, rep);
	store__pg_read_end(s, opened);
	return r;
}

/* ---- privileges ------------------------------------------------------------------ */

/* Objects of the schema not owned by $1 (the owner of schema_migrations).
 * An index always has its table's owner, and a sequence that belongs to a
 * column (identity, serial) its table's: ALTER TABLE moves them too. */
static const char owners_sql[] =
    "SELECT CASE WHEN c.relkind IN ('i', 'I') THEN 'index' WHEN c.relkind = 'S' THEN"
    " 'sequence' WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END,"
    " format('%I.%I', n.nspname, c.relname), pg_get_userbyid(c.relowner),"
    " CASE WHEN t.oid IS NOT NULL THEN format('ALTER TABLE %I.%I OWNER TO %I;', tn.nspname,"
    " t.relname, $1::text)"
    " WHEN c.relkind = 'S' THEN format('ALTER SEQUENCE %I.%I OWNER TO %I;', n.nspname,"
    " c.relname, $1::text)"
    " WHEN c.relkind IN ('v', 'm') THEN format('ALTER %s %I.%I OWNER TO %I;', CASE c.relkind"
    " WHEN 'v' THEN 'VIEW' ELSE 'MATERIALIZED VIEW' END, n.nspname, c.relname, $1::text)"
    " ELSE format('ALTER TABLE %I.%I OWNER TO %I;', n.nspname, c.relname, $1::text) END"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " LEFT JOIN pg_index x ON x.indexrelid = c.oid"
    " LEFT JOIN pg_depend d ON c.relkind = 'S' AND d.classid = 'pg_class'::regclass"
    " AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')"
    " LEFT JOIN pg_class t ON t.oid = coalesce(x.indrelid, d.refobjid)"
    " LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'i', 'I', 'S', 'v', 'm')"
    " AND pg_get_userbyid(c.relowner) <> $1::text"
    " ORDER BY c.relkind IN ('i', 'I'), 2";

/* What the connecting role needs: on every table SELECT, INSERT, UPDATE,
 * DELETE; on every sequence USAGE, SELECT and UPDATE (imports move the
 * identity sequences past the ids they assign: setval); on the schema USAGE and
 * CREATE (migrations); on the database TEMPORARY (the import's staging
 * tables and prune's job list are temporary tables).  has_*_privilege
 * counts the owner's rights, role memberships and superuser. */
static const char grants_sql[] =
    "SELECT what, format('GRANT %s ON %s TO %I;', missing, obj, current_user) FROM ("
    " SELECT 1 AS o, format('schema %I', current_schema()) AS what,"
    " format('SCHEMA %I', current_schema()) AS obj,"
    " array_to_string(ARRAY(SELECT p FROM unnest(ARRAY['USAGE', 'CREATE']) p"
    " WHERE NOT has_schema_privilege(current_schema(), p)), ', ') AS missing"
    " UNION ALL"
    " SELECT 2, format('database %I', current_database()),"
    " format('DATABASE %I', current_database()),"
    " CASE WHEN has_database_privilege(current_database(), 'TEMPORARY') THEN '' ELSE"
    " 'TEMPORARY' END"
    " UNION ALL"
    " SELECT 3, format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'"
    " ELSE 'table' END, n.nspname, c.relname),"
    " format('%s %I.%I', CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END, n.nspname,"
    " c.relname),"
    " array_to_string(ARRAY(SELECT p FROM unnest(CASE c.relkind WHEN 'S' THEN"
    " ARRAY['USAGE', 'SELECT', 'UPDATE'] WHEN 'v' THEN ARRAY['SELECT']"
    " ELSE ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE'] END) p"
    " WHERE NOT CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, p)"
    " ELSE has_table_privilege(c.oid, p) END), ', ')"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'S', 'v')"
    ") g WHERE missing <> '' ORDER BY o, what";

int store__pg_doctor_privileges(struct store *st, struct store_doctor_report *rep)
{
	struct store_pg *s = store__pg(st);
	PGresult *res = NULL;
	char owner[256] = "", detail[700];
	const char *vals[1];
	int opened = 0, found = 0, r;

	if ((r = store__pg_read_begin(s, &opened)) != 0)
		return r;
	if ((r = adm_exec(s,
	                  "SELECT pg_get_userbyid(c.relowner), current_user FROM pg_class c JOIN"
	                  " pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname ="
	                  " current_schema() AND c.relname = 'schema_migrations'",
	                  0, NULL, NULL, &res, "doctor: reading the owner")) != 0)
		goto out;
	if (PQntuples(res) == 1) {
		snprintf(owner, sizeof(owner), "%s", PQgetvalue(res, 0, 0));
		snprintf(detail, sizeof(detail),
		         "every object owned by %s (the owner of schema_migrations); %s has the "
		         "privileges every command needs",
		         owner, PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	res = NULL;
	if (owner[0]) {
		vals[0] = owner;
		if ((r = adm_exec(s, owners_sql, 1, NULL, vals, &res,
		                  "doctor: reading the owners")) != 0)
			goto out;
		for (int i = 0; i < PQntuples(res) && r == 0; i++) {
			char what[800];

			snprintf(what, sizeof(what),
			         "%s %s is owned by %s, not by %s (the owner of schema_migrations "
			         "and of the other objects): migrations that alter it fail",
			         PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
			         PQgetvalue(res, i, 2), owner);
			r = store__doctor_problem(rep, "privileges", 1, what,
			                          PQgetvalue(res, i, 3));
			found = 1;
		}
		PQclear(res);
		res = NULL;
		if (r != 0)
			goto out;
	}
	if ((r = adm_exec(s, grants_sql, 0, NULL, NULL, &res, "doctor: reading the privileges")) !=
	    0)
		goto out;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		char what[800];

		snprintf(what, sizeof(what), "the connecting role lacks privileges on %s",
		         PQgetvalue(res, i, 0));
		r = store__doctor_problem(rep, "privileges", 1, what, PQgetvalue(res, i, 1));
		found = 1;
	}
	if (r == 0 && !found)
		r = store__doctor_check(rep, "privileges", "ok", owner[0] ? detail : NULL);
out:
	PQclear(res);
	store__pg_read_end(s, opened);
	return r;
}

/* ---- child processes: pg_dump, pg_restore ----------------------------------------- */

/* SCANDB_PG_BINDIR/name if that is set; else the newest `name` of
 * /usr/lib/postgresql/N/bin, else the one on PATH.
 * (A pg_dump older than the server refuses to dump it, and Debian's
 * /usr/bin/pg_dump is a wrapper that picks a version by its own rules.) */
static int find_tool(const char *name, char *out, size_t len)
{
	char pat[128];
	const char *path = getenv("PATH"), *dir = getenv("SCANDB_PG_BINDIR");
	glob_t g;
	long best = -1;

	out[0] = '\0';
	/* SCANDB_PG_BINDIR: that directory and nowhere else */
	if (dir && *dir) {
		snprintf(out, len, "%s/%s", dir, name);
		if (access(out, X_OK) == 0)
			return 0;
		out[0] = '\0';
		return -1;
	}
	snprintf(pat, sizeof(pat), "/usr/lib/postgresql/*/bin/%s", name);
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
			if (v > best && access(g.gl_pathv[i], X_OK) == 0) {
				best = v;
				snprintf(out, len, "%s", g.gl_pathv[i]);
			}
		}
		globfree(&g);
	}
	if (out[0])
		return 0;
	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		char cand[4096];

		if (n > 0 && n < sizeof(cand) - strlen(name) - 2) {
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, path, name);
			if (access(cand, X_OK) == 0) {
				snprintf(out, len, "%s", cand);
				return 0;
			}
		}
		path = end ? end + 1 : NULL;
	}
	return -1;
}

static int tool_path(struct store_pg *s, const char *name, char *out, size_t len)
{
	if (find_tool(name, out, len) == 0)
		return 0;
	return store__set_err(&s->base, SDB_EUNSUPPORTED,
	                      "%s not found (%s): install postgresql-client (its major version at "
	                      "least the server's)",
	                      name,
	                      getenv("SCANDB_PG_BINDIR") && *getenv("SCANDB_PG_BINDIR")
	                          ? "in SCANDB_PG_BINDIR"
	                          : "in /usr/lib/postgresql/*/bin or on PATH");
}

/* How long a pg_dump / pg_restore may run (SCANDB_PG_TOOL_TIMEOUT seconds,
 * default one hour). */
static double tool_timeout(void)
{
	const char *v = getenv("SCANDB_PG_TOOL_TIMEOUT");
	char *end;
	double t;

	if (v && *v) {
		t = strtod(v, &end);
		if (*end == '\0' && t > 0)
			return t;
	}
	return 3600;
}

static int conn_append(struct buf *b, const char *key, const char *val)
{
	int r = 0;

	if (!val || !*val)
		return 0;
	r |= buf_printf(b, "%s%s='", b->len ? " " : "", key);
	for (const char *p = val; *p && r == 0; p++) {
		if (*p == '\'' || *p == '\\')
			r |= buf_append_char(b, '\\');
		r |= buf_append_char(b, *p);
	}
	r |= buf_append_char(b, '\'');
	return r;
}

/* A connection string for the tools: where the live connection is (host,
 * port, user, database) and how it connects (options, TLS settings);
 * never the password. */
static int tool_conninfo(struct store_pg *s, struct buf *out)
{
	static const char *const keep[] = {"options", "sslmode", "sslrootcert", "sslcert",
	                                   "sslkey",  "sslcrl",  "gssencmode",  "krbsrvname"};
	PQconninfoOption *opts = PQconninfo(s->conn);
	int r = 0;

	r |= conn_append(out, "host", PQhost(s->conn));
	r |= conn_append(out, "port", PQport(s->conn));
	r |= conn_append(out, "user", PQuser(s->conn));
	r |= conn_append(out, "dbname", PQdb(s->conn));
	r |= conn_append(out, "application_name", "scandb");
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (strcmp(o->keyword, keep[i]) == 0)
				r |= conn_append(out, o->keyword, o->val);
	store__conninfo_free_wiped(opts);
	return r ? store__set_err(&s->base, SDB_ENOMEM, "out of memory") : 0;
}

/* An anonymous file holding `len` bytes of data, 0600, sealed against
 * changes: a memfd (memory), else an unnamed O_TMPFILE file in TMPDIR.
 * Nothing of it has a name, so nothing is left behind when scandb ends,
 * SIGKILL included; a child reads it as /dev/fd/N.  The fd, or -1 with
 * errno set. */
static int anon_file(const char *name, const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* libpq reads a passfile only if it is a plain file that group and
	 * others cannot read */
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	/* (a memfd only: the reader gets exactly what was written) */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
fail : {
	int e = errno;
	close(fd);
	errno = e ? e : EIO;
	return -1;
}
}

/* The connection's password as a passfile ("*:*:*:*:password") in an
 * anonymous file (anon_file), or -1 in *fd when the connection used none
 * (then the user's own PGPASSFILE or ~/.pgpass, if libpq read one, stays
 * the tool's).  The password is never in a named file, argv or the
 * environment. */
static int pass_fd(struct store_pg *s, int *fd)
{
	struct buf line;
	int r;

	*fd = -1;
	if (!s->password || !*s->password)
		return 0;
	buf_init(&line, 1 << 16);
	r = buf_append_str(&line, "*:*:*:*:");
	for (const char *p = s->password; *p && r == 0; p++) {
		if (*p == ':' || *p == '\\')
			r |= buf_append_char(&line, '\\');
		r |= buf_append_char(&line, *p);
	}
	r |= buf_append_char(&line, '\n');
	if (r != 0)
		r = store__set_err(&s->base, SDB_ENOMEM, "out of memory");
	else if ((*fd = anon_file("scandb-pgpass", line.data, line.len)) < 0)
		r = store__set_err(&s->base, SDB_EIO,
		                   "cannot make an anonymous file for the password "
		                   "(memfd_create, O_TMPFILE in TMPDIR): %s",
		                   strerror(errno));
	if (line.data)
		explicit_bzero(line.data, line.len);
	buf_free(&line);
	return r;
}

/* The environment for a tool: ours without PGPASSWORD (a password from it
 * is the connection's, handed over as a passfile); with `passfile` (a
 * /dev/fd/N of ours), PGPASSFILE=passfile instead of the user's.  Without
 * one (no password, or one libpq read from the user's own PGPASSFILE or
 * ~/.pgpass) the user's PGPASSFILE stays.  Freed with free() (one block). */
static char **tool_env(const char *passfile)
{
	size_t n = 0, sz, off;
	char **env, *p;

	for (char **e = environ; *e; e++)
		n++;
	sz = (n + 2) * sizeof(char *) + strlen(passfile) + 16;
	if (!(env = malloc(sz)))
		return NULL;
	off = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "PGPASSWORD=", 11) != 0 &&
		    (!*passfile || strncmp(*e, "PGPASSFILE=", 11) != 0))
			env[off++] = *e;
	if (*passfile) {
		p = (char *)(env + n + 2);
		snprintf(p, strlen(passfile) + 16, "PGPASSFILE=%s", passfile);
		env[off++] = p;
	}
	env[off] = NULL;
	return env;
}

/* core/proc.h's on_pid: the guard (store__tmp_child) kills this child if a
 * signal ends scandb. */
static void tool_pid(void *guard, pid_t pid)
{
	store__tmp_child(guard, pid);
}

/* Run argv (argv[0] a path) with env on core's runner; stdout into *out (if
 * out; else to /dev/null), stderr kept (the first 4 kB) for the message,
 * pass[i] as its fd 3 + i and no other fd of ours.  Killed (SIGKILL) after
 * timeout seconds, or by guard's signal handlers (store__tmp_child) if
 * scandb is ended.  0 when it exited 0; else the error, whose message names
 * the tool and has its stderr. */
static int run_tool(struct store_pg *s, char *const argv[], char *const env[], struct buf *out,
                    double timeout, const char *what, const int *pass, int npass,
                    struct store__tmp *guard)
{
	char errtext[4096] = "";
	sigset_t hold;
	struct proc p;
	int r, sig, code;

	/* the guard's signals wait until it knows the child */
	store__tmp_sigs(&hold);
	r = proc_start(&p, &(struct proc_spec){.argv = argv,
	                                       .envp = env,
	                                       .in = PROC_NULL,
	                                       .out = out ? PROC_PIPE : PROC_NULL,
	                                       .err = PROC_PIPE,
	                                       .err_max = sizeof(errtext) - 1,
	                                       .pass = pass,
	                                       .npass = npass,
	                                       .hold = &hold,
	                                       .on_pid = tool_pid,
	                                       .ctx = guard});
	if (r != 0) {
		r = store__set_err(&s->base, r == SDB_ENOMEM ? SDB_ENOMEM : SDB_EIO, "%s: %s", what,
		                   p.errmsg);
		proc_free(&p);
		return r;
	}
	r = proc_collect(&p, out, timeout);
	snprintf(errtext, sizeof(errtext), "%s", buf_str(&p.err));
	for (size_t k = strlen(errtext); k > 0 && (errtext[k - 1] == '\n' || errtext[k - 1] == ' ');
	     k--)
		errtext[k - 1] = '\0';
	for (char *q = errtext; *q; q++)
		if (*q == '\n')
			*q = ' ';
	store__pg_redact(s, errtext, sizeof(errtext));
	sig = proc_term_signal(&p);
	code = proc_exit_code(&p);
	if (r == SDB_EINTR)
		r = store__set_err(&s->base, SDB_ECHILD,
		                   "%s: %s did not finish within %.0f s (SCANDB_PG_TOOL_TIMEOUT): "
		                   "killed%s%s",
		                   what, argv[0], timeout, errtext[0] ? "; it said: " : "",
		                   errtext);
	else if (r == SDB_ETOOBIG)
		r = store__set_err(&s->base, SDB_ETOOBIG, "%s: its output is too large", what);
	else if (r != 0)
		r = store__set_err(&s->base, SDB_EIO, "%s: %s", what, p.errmsg);
	else if (code != 0)
		r = store__set_err(&s->base, SDB_ECHILD, "%s: %s failed (%s %d): %s", what, argv[0],
		                   sig ? "signal" : "exit status", sig ? sig : code,
		                   errtext[0] ? errtext : "no message");
	proc_free(&p);
	return r;
}

/* The schema scandb's tables are in (the connection's current_schema). */
static int current_schema(struct store_pg *s, char *out, size_t len)
{
	PGresult *res;
	int r;

	if ((r = adm_exec(s, "SELECT current_schema()", 0, NULL, NULL, &res,
	                  "reading the current schema")) != 0)
		return r;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return store__set_err(
		    &s->base, SDB_ESCHEMA,
		    "no current schema (search_path names no schema that exists)");
	}
	snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* ---- backup ---------------------------------------------------------------------- */

/* The doctor's data checks (constraints, foreign keys and orphans, the
 * port state documents) in the open read snapshot, which pg_dump then dumps
 * (--snapshot): an archive is written only of data restore will take.  The
 * snapshot's id goes to *snap. */
static int backup_checked_snapshot(struct store_pg *s, char *snap, size_t snaplen)
{
	struct store_doctor_report rep = {0};
	PGresult *res;
	int r;

	if ((r = adm_exec(s, "SELECT pg_export_snapshot()", 0, NULL, NULL, &res,
	                  "backup: exporting the snapshot")) != 0)
		return r;
	snprintf(snap, snaplen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((r = doctor_checks(s, &rep)) == 0 && (r = doctor_fks(s, 0, &rep)) == 0)
		r = store__doctor_docs(&s->base, &rep);
	if (r == 0 && rep.nproblems > 0)
		r = store__set_err(&s->base, SDB_EPARSE,
		                   "the database is damaged, no backup was written (%s: %s%s): run "
		                   "'scandb doctor' to see what is wrong",
		                   rep.problems[0].check, rep.problems[0].what,
		                   rep.nproblems > 1 ? ", and more" : "");
	store_doctor_report_free(&rep);
	return r;
}

int store__pg_backup(struct store *st, const char *path, struct store_backup_info *info)
{
	struct store_pg *s = store__pg(st);
	char tool[4096], schema[256], schema_arg[600], snap[128], snap_arg[160];
	struct store__tmp tmp = {.fd = -1};
	struct buf conn;
	char **env = NULL;
	double t0 = time_mono();
	struct stat sb;
	int pfd = -1, opened = 0, r;

	buf_init(&conn, 1 << 16);
	if ((r = tool_path(s, "pg_dump", tool, sizeof(tool))) != 0 ||
	    (r = current_schema(s, schema, sizeof(schema))) != 0 ||
	    (r = tool_conninfo(s, &conn)) != 0 || (r = pass_fd(s, &pfd)) != 0)
		goto out;
	if (!(env = tool_env(pfd >= 0 ? "/dev/fd/3" : ""))) {
		r = store__set_err(st, SDB_ENOMEM, "backup: out of memory");
		goto out;
	}
	/* -n: scandb's schema only, exactly (pg_dump quotes nothing: a
	 * pattern "\"name\"" matches the name as it is). */
	{
		/* a '"' in the name is written twice inside the quotes */
		size_t k = (size_t)snprintf(schema_arg, sizeof(schema_arg), "--schema=\"");
		for (const char *p = schema; *p && k + 3 < sizeof(schema_arg); p++) {
			if (*p == '"')
				schema_arg[k++] = '"';
			schema_arg[k++] = *p;
		}
		schema_arg[k++] = '"';
		schema_arg[k] = '\0';
	}
	/* one snapshot, checked first: ours, held open while pg_dump dumps it */
	if ((r = store__pg_read_begin(s, &opened)) != 0 ||
	    (r = backup_checked_snapshot(s, snap, sizeof(snap))) != 0)
		goto out;
	snprintf(snap_arg, sizeof(snap_arg), "--snapshot=%s", snap);
	if ((r = store__tmp_create(st, path, &tmp)) != 0)
		goto out;
	{
		char *argv[] = {tool,       "--format=custom", "--no-password",
		                schema_arg, snap_arg,          "--file",
		                tmp.path,   "--dbname",        (char *)buf_str(&conn),
		                NULL};
		/* one snapshot (the one checked above, which pg_dump imports):
		 * the dump is the database as it was then, writers go on */
		if ((r = run_tool(s, argv, env, NULL, tool_timeout(), "backup", &pfd, pfd >= 0,
		                  &tmp)) != 0) {
			/* pg_dump on a full disk: say so, and where */
			if (strstr(st->errmsg, strerror(ENOSPC)) ||
			    strstr(st->errmsg, strerror(EDQUOT))) {
				char dir[4096], full[4400], said[sizeof(st->errmsg)];
				snprintf(said, sizeof(said), "%s", st->errmsg);
				store__dir_of(path, dir, sizeof(dir));
				store__disk_full(dir, path, full, sizeof(full));
				r = store__set_err(st, SDB_EIO, "%s (%s)", full, said);
			}
			goto out;
		}
	}
	store__pg_read_end(s, opened);
	opened = 0;
	if ((r = store__backup_publish(st, tmp.path, path)) != 0)
		goto out;
	store__tmp_release(&tmp);
	snprintf(info->method, sizeof(info->method), "pg_dump -Fc (one snapshot)");
	info->bytes = stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
	info->seconds = time_mono() - t0;
	r = 0;
out:
	store__pg_read_end(s, opened);
	store__tmp_remove(&tmp);
	if (pfd >= 0)
		close(pfd);
	free(env);
	buf_free(&conn);
	return r;
}

/* ---- restore --------------------------------------------------------------------- */

/* A TOC line of `pg_restore -l`: "ID; OID OID DESC NAMESPACE NAME OWNER".
 * Returns the text after the two OIDs (DESC ...), or NULL for a comment. */
static const char *toc_desc(const char *line)
{
	const char *p = strchr(line, ';');

	if (line[0] == ';' || !p)
		return NULL;
	p++;
	for (int k = 0; k < 2; k++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	return p;
}

/* The archive's list without the schema itself (it exists in the target,
 * and --clean must not drop it), for pg_restore -L.  *has_mig: the list
 * has schema_migrations's data in `schema`; other_schema: the schema of a
 * schema_migrations found elsewhere. */
static int filter_toc(const char *toc, const char *schema, struct buf *out, int *has_mig,
                      char *other_schema, size_t olen)
{
	char want[600];
	const char *p = toc;
	int r = 0;

	*has_mig = 0;
	other_schema[0] = '\0';
	snprintf(want, sizeof(want), "TABLE DATA %s schema_migrations ", schema);
	while (*p && r == 0) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[2048];
		const char *d;

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1),
		         p);
		p += n + (nl ? 1 : 0);
		d = toc_desc(line);
		if (d &&
		    (strncmp(d, "SCHEMA ", 7) == 0 || strncmp(d, "COMMENT - SCHEMA ", 17) == 0 ||
		     strncmp(d, "ACL - SCHEMA ", 13) == 0))
			continue;
		if (d && strncmp(d, want, strlen(want)) == 0)
			*has_mig = 1;
		else if (d && strncmp(d, "TABLE DATA ", 11) == 0) {
			const char *ns = d + 11, *sp = strchr(ns, ' ');
			if (sp && strncmp(sp, " schema_migrations ", 19) == 0)
				snprintf(other_schema, olen, "%.*s", (int)(sp - ns), ns);
		}
		r = buf_append(out, line, strlen(line));
		if (r == 0)
			r = buf_append_char(out, '\n');
	}
	return r;
}

/* The rows of COPY ... schema_migrations FROM stdin in pg_restore's script
 * output: "version\tname\tchecksum\tapplied_at" lines up to "\.". */
static int parse_migrations(struct store_pg *s, const char *script, const char *path,
                            struct store_applied **out, size_t *n)
{
	const char *p = strstr(script, "schema_migrations (");
	struct store_applied *rows = NULL;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (!p || !(p = strstr(p, "FROM stdin;\n")))
		return store__set_err(&s->base, SDB_EPARSE,
		                      "%s is not a scandb backup (no schema_migrations rows)",
		                      path);
	p += strlen("FROM stdin;\n");
	while (*p && strncmp(p, "\\.", 2) != 0) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512], *f[4], *save = NULL;
		int k = 0;
		void *np;

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : 511), p);
		p += len + (nl ? 1 : 0);
		for (char *t = strtok_r(line, "\t", &save); t && k < 4;
		     t = strtok_r(NULL, "\t", &save))
			f[k++] = t;
		if (k < 3) {
			free(rows);
			return store__set_err(&s->base, SDB_EPARSE,
			                      "%s: cannot read its schema_migrations rows", path);
		}
		if (!(np = sdb_reallocarray(rows, cnt + 1, sizeof(*rows)))) {
			free(rows);
			return store__set_err(&s->base, SDB_ENOMEM, "restore: out of memory");
		}
		rows = np;
		memset(&rows[cnt], 0, sizeof(rows[cnt]));
		rows[cnt].version = (int)strtol(f[0], NULL, 10);
		sdb_strlcpy(rows[cnt].name, f[1], sizeof(rows[cnt].name));
		sdb_strlcpy(rows[cnt].checksum, f[2], sizeof(rows[cnt].checksum));
		cnt++;
	}
	*out = rows;
	*n = cnt;
	return 0;
}

/* The writers' lock for the whole restore (a session lock: pg_restore
 * runs in another session).  Waits up to 60 s for running writers. */
static int writers_lock(struct store_pg *s, int lock)
{
	char sql[128];
	double until = time_mono() + 60;
	PGresult *res;
	int r, attempt = 0;

	for (;;) {
		snprintf(sql, sizeof(sql), "SELECT pg_%sadvisory_lock(%d, %d)", lock ? "try_" : "",
		         ADM_LOCK_SPACE, ADM_LOCK_WRITER);
		if (!lock)
			snprintf(sql, sizeof(sql), "SELECT pg_advisory_unlock(%d, %d)",
			         ADM_LOCK_SPACE, ADM_LOCK_WRITER);
		if ((r = adm_exec(s, sql, 0, NULL, NULL, &res, "restore: the writers' lock")) != 0)
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

/* The restore slots (store_int.h; store_ops.c's store_restore holds the
 * policy).  A backup file being restored: */
struct pg_restore_file {
	char tool[4096];  /* pg_restore */
	char schema[256]; /* the target's schema */
	struct buf list;  /* the archive's list without the schema itself */
};

/* 1-3: the file read, never the target: what the archive holds, that it is
 * a scandb database in this schema, and its migrations. */
static int restore_read(struct store_pg *s, const char *path, struct pg_restore_file *f,
                        struct store_applied **rows, size_t *n)
{
	struct store *st = &s->base;
	char other[256], schema_arg[300];
	struct buf toc, script;
	char **env = NULL;
	int has_mig = 0, r;

	buf_init(&toc, 64 << 20);
	buf_init(&script, 64 << 20);
	if ((r = tool_path(s, "pg_restore", f->tool, sizeof(f->tool))) != 0 ||
	    (r = current_schema(s, f->schema, sizeof(f->schema))) != 0)
		goto out;
	if (!(env = tool_env(""))) {
		r = store__set_err(st, SDB_ENOMEM, "restore: out of memory");
		goto out;
	}
	/* 1. a pg_dump custom-format archive: pg_restore lists it (reads the
	 * file only, no connection) */
	{
		char *argv[] = {f->tool, "--list", (char *)path, NULL};
		if ((r = run_tool(s, argv, env, &toc, 600, "reading the backup", NULL, 0, NULL)) !=
		    0) {
			char why[sizeof(st->errmsg)];
			snprintf(why, sizeof(why), "%s", st->errmsg);
			r = store__set_err(st, SDB_EPARSE,
			                   "%s is not a pg_dump custom-format archive (%s)", path,
			                   why);
			goto out;
		}
	}
	/* 2. a scandb database in this schema */
	if ((r = filter_toc(buf_str(&toc), f->schema, &f->list, &has_mig, other, sizeof(other))) !=
	    0) {
		r = store__set_err(st, SDB_ENOMEM, "restore: out of memory");
		goto out;
	}
	if (!has_mig) {
		if (other[0])
			r = store__set_err(
			    st, SDB_ESCHEMA,
			    "%s holds scandb's tables in schema %s, but this database "
			    "uses schema %s (set search_path, e.g. "
			    "options=-csearch_path=%s in the target)",
			    path, other, f->schema, other);
		else
			r = store__set_err(
			    st, SDB_EPARSE,
			    "%s is not a scandb database (no schema_migrations table)", path);
		goto out;
	}
	/* 3. its migrations (store_restore checks them against ours) */
	snprintf(schema_arg, sizeof(schema_arg), "--schema=%s", f->schema);
	{
		char *argv[] = {f->tool,    "--data-only", schema_arg, "--table=schema_migrations",
		                "--file=-", (char *)path,  NULL};
		if ((r = run_tool(s, argv, env, &script, 600, "reading the backup's migrations",
		                  NULL, 0, NULL)) != 0)
			goto out;
	}
	r = parse_migrations(s, buf_str(&script), path, rows, n);
out:
	free(env);
	buf_free(&toc);
	buf_free(&script);
	return r;
}

int store__pg_restore_open(struct store *st, const char *path, void **file,
                           struct store_applied **rows, size_t *n)
{
	struct pg_restore_file *f = calloc(1, sizeof(*f));
	int r;

	*file = NULL;
	if (!f)
		return store__set_err(st, SDB_ENOMEM, "restore: out of memory");
	buf_init(&f->list, 64 << 20);
	if ((r = restore_read(store__pg(st), path, f, rows, n)) != 0) {
		store__pg_restore_close(st, f);
		return r;
	}
	*file = f;
	return 0;
}

/* 4. no writer between the emptiness check and the restore */
int store__pg_restore_lock(struct store *st, int lock)
{
	return writers_lock(store__pg(st), lock);
}

/* 5. one transaction: pg_restore --single-transaction drops each of the
 * archive's objects that exists (--clean --if-exists), creates them,
 * loads the rows, builds indexes and constraints (every row checked),
 * and commits; any error rolls all of it back. */
int store__pg_restore_apply(struct store *st, void *file, const char *path)
{
	struct store_pg *s = store__pg(st);
	struct pg_restore_file *f = file;
	struct store__tmp watch = {.fd = -1};
	struct buf conn;
	char **env = NULL;
	int fds[2] = {-1, -1}, r;

	buf_init(&conn, 1 << 16);
	/* the list (fd 3) and the password (fd 4, if any) in anonymous files:
	 * nothing of the restore is left in TMPDIR, whatever ends it */
	if ((fds[0] = anon_file("scandb-restore-list", f->list.data, f->list.len)) < 0) {
		r = store__set_err(
		    st, SDB_EIO, "restore: cannot make an anonymous file for pg_restore's list: %s",
		    strerror(errno));
		goto out;
	}
	if ((r = pass_fd(s, &fds[1])) != 0 || (r = tool_conninfo(s, &conn)) != 0)
		goto out;
	if (!(env = tool_env(fds[1] >= 0 ? "/dev/fd/4" : ""))) {
		r = store__set_err(st, SDB_ENOMEM, "restore: out of memory");
		goto out;
	}
	/* a signal that ends scandb ends pg_restore too (its transaction is
	 * then rolled back): nothing restored behind the user's back */
	if ((r = store__tmp_watch(st, &watch)) != 0)
		goto out;
	{
		char *argv[] = {f->tool,
		                "--single-transaction",
		                "--exit-on-error",
		                "--clean",
		                "--if-exists",
		                "--no-owner",
		                "--no-privileges",
		                "--no-password",
		                "--use-list=/dev/fd/3",
		                "--dbname",
		                (char *)buf_str(&conn),
		                (char *)path,
		                NULL};
		r = run_tool(s, argv, env, NULL, tool_timeout(), "restoring", fds,
		             fds[1] >= 0 ? 2 : 1, &watch);
	}
out:
	store__tmp_release(&watch);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(env);
	buf_free(&conn);
	return r;
}

void store__pg_restore_close(struct store *st, void *file)
{
	struct pg_restore_file *f = file;

	(void)st;
	if (!f)
		return;
	buf_free(&f->list);
	free(f);
}
