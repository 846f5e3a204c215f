/*
 * sqlite_stmt.c - the SQLite backend's common ground (sqlite_int.h): SQLite's
 * result codes as scandb errors (a full disk said with where), the cache of
 * prepared statements, and the helpers every slot uses to bind values and to
 * run a statement.  No SQL of its own.
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* ---- errors, the statement cache, binding ------------------------------- */

int store__sqlite_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SDB_EBUSY;
	case SQLITE_CONSTRAINT:
		return SDB_ECONSTRAINT;
	case SQLITE_NOMEM:
		return SDB_ENOMEM;
	default:
		return SDB_EDB;
	}
}

int store__sqlite_err(struct store_sqlite *s, int rc, const char *fmt, ...)
{
	char what[512], full[1024];
	const char *msg;
	int err = store__sqlite_code(rc);
	va_list ap;

	if (err == 0)
		err = SDB_EDB;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* sqlite3_errmsg describes the last failed call on this connection;
	 * fall back to the code's generic text if it was overwritten. */
	msg = s->db && (sqlite3_errcode(s->db) & 0xff) == (rc & 0xff) ? sqlite3_errmsg(s->db)
	                                                              : sqlite3_errstr(rc);
	/* "database or disk is full", "disk I/O error": say which, and where */
	if (store__sqlite_full(s->db, rc, NULL, full, sizeof(full)))
		msg = full;
	return store__set_err(&s->base, err, "%s: %s", what, msg);
}

int store__sqlite_stmt(struct store_sqlite *s, enum sq_stmt id, const char *sql, sqlite3_stmt **out)
{
	int rc;

	*out = NULL;
	if (s->stmt[id]) {
		sqlite3_reset(s->stmt[id]);
		sqlite3_clear_bindings(s->stmt[id]);
		*out = s->stmt[id];
		return 0;
	}
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
	if (rc != SQLITE_OK) {
		int r = store__sqlite_err(s, rc, "preparing a statement");
		sqlite3_finalize(s->stmt[id]);
		s->stmt[id] = NULL;
		return r;
	}
	*out = s->stmt[id];
	return 0;
}

void store__sqlite_done(sqlite3_stmt *stmt)
{
	if (stmt) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	}
}

int store__sqlite_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
	return v ? sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, idx);
}

int store__sqlite_bind_opt_int(sqlite3_stmt *st, int idx, long v)
{
	return v >= 0 ? sqlite3_bind_int64(st, idx, v) : sqlite3_bind_null(st, idx);
}

int store__sqlite_bind_time(sqlite3_stmt *st, int idx, int64_t t)
{
	return t != 0 ? sqlite3_bind_int64(st, idx, t) : sqlite3_bind_null(st, idx);
}

int store__sqlite_col_dup(sqlite3_stmt *q, int i, char **dst)
{
	const char *v = (const char *)sqlite3_column_text(q, i);

	*dst = NULL;
	if (!v) /* SQL NULL, or an allocation failure inside SQLite */
		return sqlite3_column_type(q, i) == SQLITE_NULL ? 0 : SDB_ENOMEM;
	if (!(*dst = strdup(v)))
		return SDB_ENOMEM;
	return 0;
}

long store__sqlite_col_opt(sqlite3_stmt *q, int i)
{
	return sqlite3_column_type(q, i) == SQLITE_NULL ? -1 : (long)sqlite3_column_int64(q, i);
}

int store__sqlite_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* A failed bind: SQLite recorded the reason on the connection. */
int store__sqlite_bind_failed(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what)
{
	int r = store__sqlite_err(s, sqlite3_errcode(s->db), "%s: binding values", what);

	store__sqlite_done(stmt);
	return r;
}

/* Run a cached statement that returns no rows. */
int store__sqlite_step_done(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt), r = 0;

	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "%s", what);
	store__sqlite_done(stmt);
	return r;
}

/* Run a cached "... RETURNING id" statement (one row). */
int store__sqlite_step_id(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what, int64_t *id)
{
	int rc = sqlite3_step(stmt), r = 0;

	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		rc = sqlite3_step(stmt);
	}
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "%s", what);
	store__sqlite_done(stmt);
	return r;
}

/* Run one statement without data (setup SQL, migration scripts). */
int store__sqlite_exec(struct store_sqlite *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store__sqlite_err(s, rc, "%s", what);
}

/* ---- a full disk ------------------------------------------------------- */

/* SQLite's directory for its temporary files (unixTempFileDir's order). */
static const char *sqlite_temp_dir(void)
{
	const char *c[] = {getenv("SQLITE_TMPDIR"), getenv("TMPDIR"), "/var/tmp", "/usr/tmp",
	                   "/tmp"};
	struct stat sb;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i] && *c[i] && stat(c[i], &sb) == 0 && S_ISDIR(sb.st_mode) &&
		    access(c[i], W_OK | X_OK) == 0)
			return c[i];
	return ".";
}

int store__sqlite_full(sqlite3 *db, int rc, const char *name, char *out, size_t len)
{
	int code = rc & 0xff, e = db ? sqlite3_system_errno(db) : 0;
	const char *file = name ? name : db ? sqlite3_db_filename(db, "main") : NULL;
	const char *tmp = sqlite_temp_dir();
	char dir[4096];

	/* (SQLITE_FULL: a short write, errno cleared; we set no
	 * max_page_count, so it is the disk) */
	if (!(code == SQLITE_FULL || (code == SQLITE_IOERR && (e == ENOSPC || e == EDQUOT))))
		return 0;
	if (file && *file)
		store__dir_of(file, dir, sizeof(dir));
	else
		snprintf(dir, sizeof(dir), "%s", tmp);
	/* the one of the database's directory and SQLite's temporary
	 * directory (sorting, large transactions) with less room */
	if (file && *file && strcmp(dir, tmp) != 0 && store__dir_free(tmp) >= 0 &&
	    store__dir_free(tmp) < store__dir_free(dir))
		store__disk_full(tmp, "SQLite's temporary files", out, len);
	else
		store__disk_full(dir, file && *file ? file : NULL, out, len);
	return 1;
}
