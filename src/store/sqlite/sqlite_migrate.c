/*
 * sqlite_migrate.c - the SQLite side of migrations (store_int.h exec_script,
 * migrations_table, migrations_applied, migration_record,
 * migration_unrecord, is_empty; store_migrate.c runs the algorithm), and
 * the schema lookup "does this table exist".
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"

int store__sqlite_exec_script(struct store *st, const char *sql)
{
	return store__sqlite_exec(store__sqlite(st), sql, "running a migration script");
}

int store__sqlite_migrations_table(struct store *st)
{
	return store__sqlite_exec(store__sqlite(st),
	                          "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                          " version INTEGER PRIMARY KEY,"
	                          " name TEXT NOT NULL,"
	                          " checksum TEXT NOT NULL CHECK (length(checksum) = 64),"
	                          " applied_at INTEGER NOT NULL)",
	                          "creating the schema_migrations table");
}

/* One-shot statements for the (rare) bookkeeping queries: the tables they
 * touch come and go with migrations, so nothing is cached. */
static int prepare_once(struct store_sqlite *s, const char *sql, sqlite3_stmt **stmt,
                        const char *what)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL);

	return rc == SQLITE_OK ? 0 : store__sqlite_err(s, rc, "%s", what);
}

int store__sqlite_has_table(struct store_sqlite *s, const char *name, int *exists)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	*exists = 0;
	if ((r = prepare_once(s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
	                      &stmt, "reading the schema")) != 0)
		return r;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*exists = 1;
	else if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading the schema");
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_applied_rows(sqlite3_stmt *stmt, struct store_applied **out, size_t *n, int *rc)
{
	struct store_applied *rows = NULL;
	size_t cnt = 0, cap = 0;

	*out = NULL;
	*n = 0;
	while ((*rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(stmt, 1);
		const unsigned char *sum = sqlite3_column_text(stmt, 2);
		struct store_applied *a;

		if (VEC_RESERVE(rows, cap, cnt + 1, 16) != 0) {
			free(rows);
			return SDB_ENOMEM;
		}
		a = &rows[cnt++];
		memset(a, 0, sizeof(*a));
		a->version = sqlite3_column_int(stmt, 0);
		sdb_strlcpy(a->name, name ? (const char *)name : "", sizeof(a->name));
		sdb_strlcpy(a->checksum, sum ? (const char *)sum : "", sizeof(a->checksum));
		a->applied_at = sqlite3_column_int64(stmt, 3);
	}
	if (*rc != SQLITE_DONE) {
		free(rows);
		return SDB_EDB;
	}
	*out = rows;
	*n = cnt;
	return 0;
}

int store__sqlite_migrations_applied(struct store *st, struct store_applied **out, size_t *n)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int exists, rc, r;

	*out = NULL;
	*n = 0;
	if ((r = store__sqlite_has_table(s, "schema_migrations", &exists)) != 0 || !exists)
		return r;
	if ((r = prepare_once(s, STORE__SQLITE_APPLIED_SQL, &stmt, "reading schema_migrations")) !=
	    0)
		return r;
	r = store__sqlite_applied_rows(stmt, out, n, &rc);
	if (r == SDB_ENOMEM)
		r = store__set_err(st, SDB_ENOMEM, "reading schema_migrations: out of memory");
	else if (r != 0)
		r = store__sqlite_err(s, rc, "reading schema_migrations");
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_migration_record(struct store *st, const struct store_applied *a)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	if ((r = prepare_once(s,
	                      "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
	                      " VALUES (?1, ?2, ?3, ?4)",
	                      &stmt, "recording a migration")) != 0)
		return r;
	sqlite3_bind_int(stmt, 1, a->version);
	sqlite3_bind_text(stmt, 2, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, a->checksum, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, a->applied_at);
	if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "recording migration %04d_%s", a->version, a->name);
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_migration_unrecord(struct store *st, int version)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	if ((r = prepare_once(s, "DELETE FROM schema_migrations WHERE version = ?1", &stmt,
	                      "unrecording a migration")) != 0)
		return r;
	sqlite3_bind_int(stmt, 1, version);
	if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "unrecording migration %04d", version);
	else if (sqlite3_changes(s->db) == 0)
		r = store__set_err(st, SDB_ENOTFOUND, "migration %04d is not recorded as applied",
		                   version);
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_is_empty(struct store *st, int *empty)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	*empty = 0;
	if ((r = prepare_once(s,
	                      "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type IN ('table', "
	                      "'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\')",
	                      &stmt, "reading the schema")) != 0)
		return r;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*empty = sqlite3_column_int(stmt, 0) == 0;
	else
		r = store__sqlite_err(s, rc, "reading the schema");
	sqlite3_finalize(stmt);
	return r;
}
