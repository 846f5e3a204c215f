/*
 * sqlite_admin_query.c - the generic operations slots (store_int.h
 * query_int, query_text, exec_params, ping) that store_ops.c's health,
 * stats, prune and doctor logic runs on: one-shot statements from constant
 * text with $N integer parameters.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>

#include "core/error.h"

/* Prepare a one-shot statement and bind params[i] to "$<i+1>" (store_ops.c
 * writes portable SQL with $N parameters; SQLite names them "$1", ...). */
static int prepare_params(struct store_sqlite *s, const char *sql, const int64_t *params,
                          size_t nparams, sqlite3_stmt **out)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store__sqlite_err(s, rc, "preparing an operations query");
	for (size_t i = 0; i < nparams; i++) {
		char name[16];
		int idx;

		snprintf(name, sizeof(name), "$%zu", i + 1);
		idx = sqlite3_bind_parameter_index(stmt, name);
		if (idx > 0 && (rc = sqlite3_bind_int64(stmt, idx, params[i])) != SQLITE_OK) {
			int r = store__sqlite_err(s, rc, "binding parameter %s", name);
			sqlite3_finalize(stmt);
			return r;
		}
	}
	*out = stmt;
	return 0;
}

int store__sqlite_query_int(struct store *st, const char *sql, const int64_t *params,
                            size_t nparams, int (*cb)(void *ctx, int64_t v), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int rc, r;

	if ((r = prepare_params(s, sql, params, nparams, &stmt)) != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((r = cb(ctx, sqlite3_column_int64(stmt, 0))) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "running an operations query");
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_query_text(struct store *st, const char *sql, const int64_t *params,
                             size_t nparams,
                             int (*cb)(void *ctx, const char *const *col, const size_t *len),
                             void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	const char *col[STORE__TEXT_COLS];
	size_t len[STORE__TEXT_COLS];
	sqlite3_stmt *stmt;
	int rc, ncol, r;

	if ((r = prepare_params(s, sql, params, nparams, &stmt)) != 0)
		return r;
	ncol = sqlite3_column_count(stmt);
	if (ncol > STORE__TEXT_COLS)
		ncol = STORE__TEXT_COLS;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (int i = 0; i < ncol; i++) {
			col[i] = (const char *)sqlite3_column_text(stmt, i);
			len[i] = (size_t)sqlite3_column_bytes(stmt, i);
		}
		if ((r = cb(ctx, col, len)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "running an operations query");
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_exec_params(struct store *st, const char *sql, const int64_t *params,
                              size_t nparams, int64_t *changes)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int rc, r;

	if (changes)
		*changes = 0;
	if ((r = prepare_params(s, sql, params, nparams, &stmt)) != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "running an operations statement");
	else if (changes)
		*changes = sqlite3_changes64(s->db);
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_ping(struct store *st, char *version, size_t len)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	/* A query that reads the database file, not only the library. */
	rc = sqlite3_prepare_v2(s->db,
	                        "SELECT sqlite_version(), (SELECT count(*) FROM sqlite_master)", -1,
	                        &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(stmt, 0);
		snprintf(version, len, "%s", v ? (const char *)v : "?");
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		r = store__sqlite_err(s, rc, "running a trivial query");
	sqlite3_finalize(stmt);
	return r;
}
