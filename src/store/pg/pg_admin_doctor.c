/*
 * pg_admin_doctor.c - the PostgreSQL backend's doctor slots: every CHECK
 * constraint re-evaluated on the rows (or, quick, only those not
 * validated), foreign keys and composite references, and ownership and
 * privileges (doctor_privileges: each problem with its GRANT / ALTER ...
 * OWNER fix).  SQL built here from catalog text (CHECK expressions, index
 * predicates) comes from the database's own catalog, never from input;
 * identifiers are quoted by the server (format('%I'), quote_ident).  The
 * generic checks are store_doctor.c's.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

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
	r = store__pg_adm_exec(s, buf_str(&q), 0, NULL, NULL, &res,
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

	if ((r = store__pg_adm_exec(s, checks_sql, 0, NULL, NULL, &cs,
	                            "doctor: reading the constraints")) != 0)
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

	if ((r = store__pg_adm_exec(s, fk_sql, 0, NULL, NULL, &res,
	                            "doctor: reading the foreign keys")) != 0)
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

	if ((r = store__pg_adm_exec(s, composite_sql, 0, NULL, NULL, &fks,
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
				r = store__pg_adm_exec(s, buf_str(&c), 0, NULL, NULL, &res,
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

	if ((r = store__pg_adm_exec(s, unvalidated_sql, 0, NULL, NULL, &res,
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
	if ((r = store__pg_adm_exec(
	         s,
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
		if ((r = store__pg_adm_exec(s, owners_sql, 1, NULL, vals, &res,
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
	if ((r = store__pg_adm_exec(s, grants_sql, 0, NULL, NULL, &res,
	                            "doctor: reading the privileges")) != 0)
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

int store__pg_doctor_data(struct store_pg *s, struct store_doctor_report *rep)
{
	int r;

	if ((r = doctor_checks(s, rep)) == 0)
		r = doctor_fks(s, 0, rep);
	return r;
}
