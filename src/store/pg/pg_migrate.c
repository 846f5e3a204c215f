/*
 * pg_migrate.c - the PostgreSQL backend's migrations bookkeeping slots
 * (store_int.h; the policy is store_migrate.c's): migration scripts,
 * the schema_migrations table and its rows, and whether the schema is
 * empty or has a table.
 */
#include "store/pg/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int store__pg_exec_script(struct store *st, const char *sql)
{
	struct store_pg *s = store__pg(st);
	int r;

	if ((r = store__pg_exec_simple(s, sql, "running a migration script")) != 0)
		return r;
	/* plans prepared against the old schema are dropped with it */
	memset(s->prepared, 0, sizeof(s->prepared));
	return store__pg_exec_simple(s, "DEALLOCATE ALL", "running a migration script");
}

int store__pg_migrations_table(struct store *st)
{
	return store__pg_exec_simple(store__pg(st),
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
	r = store__pg_err(s, res, store__pg_result_code(s, res), what);
	PQclear(res);
	return r;
}

static int migrations_read(struct store *st, struct store_applied **out, size_t *n)
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

int store__pg_table_exists(struct store *st, const char *name, int *exists)
{
	return table_exists(store__pg(st), name, exists);
}

int store__pg_migrations_applied(struct store *st, struct store_applied **out, size_t *n)
{
	struct store_pg *s = store__pg(st);
	int exists, r;

	*out = NULL;
	*n = 0;
	if (!s->in_tx && !s->read_tx && PQstatus(s->conn) != CONNECTION_OK)
		store__pg_reconnect(s);
	if ((r = table_exists(s, "schema_migrations", &exists)) != 0 || !exists)
		return r;
	return migrations_read(st, out, n);
}

int store__pg_migration_record(struct store *st, const struct store_applied *a)
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

int store__pg_migration_unrecord(struct store *st, int version)
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

int store__pg_is_empty(struct store *st, int *empty)
{
	struct store_pg *s = store__pg(st);
	PGresult *res = NULL;
	int r;

	*empty = 0;
	for (int attempt = 0;; attempt++) {
		if (!s->in_tx && PQstatus(s->conn) != CONNECTION_OK)
			store__pg_reconnect(s);
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
