/*
 * sqlite_tokens.c - the SQLite backend's API token slots (store_int.h
 * token_insert, tokens_each, token_revoke, token_touch) on the api_tokens
 * table of migration 0015.  Statements are prepared for each call (none is
 * hot: a request's token is one primary-key lookup).
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>

#include "core/error.h"

static int prepare(struct store_sqlite *s, const char *sql, sqlite3_stmt **out, const char *what)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, out, NULL);

	return rc == SQLITE_OK ? 0 : store__sqlite_err(s, rc, "%s", what);
}

int store__sqlite_token_insert(struct store *st, const struct store_token_new *t, int64_t *id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int b = 0, rc, r;

	if ((r = prepare(s, "SELECT 1 FROM api_tokens WHERE name = ?1", &q, "creating a token")) !=
	    0)
		return r;
	b |= store__sqlite_bind_text(q, 1, t->name);
	rc = b ? SQLITE_ERROR : sqlite3_step(q);
	sqlite3_finalize(q);
	if (rc == SQLITE_ROW)
		return store__set_err(st, SDB_EEXISTS, "a token named '%s' exists already",
		                      t->name);
	if (rc != SQLITE_DONE)
		return store__sqlite_err(s, rc, "creating a token");
	if ((r = prepare(s,
	                 "INSERT INTO api_tokens (name, scope, salt, hash, created_at, expires_at)"
	                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
	                 &q, "creating a token")) != 0)
		return r;
	b |= store__sqlite_bind_text(q, 1, t->name);
	b |= store__sqlite_bind_text(q, 2, t->scope);
	b |= store__sqlite_bind_text(q, 3, t->salt);
	b |= store__sqlite_bind_text(q, 4, t->hash);
	b |= sqlite3_bind_int64(q, 5, t->created_at);
	b |= store__sqlite_bind_time(q, 6, t->expires_at);
	rc = b ? SQLITE_ERROR : sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		rc = sqlite3_step(q);
	}
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "creating a token");
	sqlite3_finalize(q);
	return r;
}

/* The token of the current row of q (its columns in the order of the
 * SELECT in tokens_each). */
static int token_row(sqlite3_stmt *q, struct store_token **out)
{
	struct store_token *t = calloc(1, sizeof(*t));
	int r = 0;

	if (!t)
		return SDB_ENOMEM;
	t->id = sqlite3_column_int64(q, 0);
	r |= store__sqlite_col_dup(q, 1, &t->name);
	r |= store__sqlite_col_dup(q, 2, &t->scope);
	r |= store__sqlite_col_dup(q, 3, &t->salt);
	r |= store__sqlite_col_dup(q, 4, &t->hash);
	t->created_at = sqlite3_column_int64(q, 5);
	t->expires_at = sqlite3_column_int64(q, 6);
	t->last_used_at = sqlite3_column_int64(q, 7);
	t->revoked_at = sqlite3_column_int64(q, 8);
	if (r) {
		store_token_free(t);
		return SDB_ENOMEM;
	}
	*out = t;
	return 0;
}

int store__sqlite_tokens_each(struct store *st, int64_t id,
                              int (*cb)(void *ctx, struct store_token *t), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = prepare(s,
	                 "SELECT id, name, scope, salt, hash, created_at, expires_at,"
	                 " last_used_at, revoked_at FROM api_tokens"
	                 " WHERE ?1 = 0 OR id = ?1 ORDER BY id",
	                 &q, "reading the tokens")) != 0)
		return r;
	sqlite3_bind_int64(q, 1, id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_token *t;

		if ((r = token_row(q, &t)) != 0 || (r = cb(ctx, t)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading the tokens");
	sqlite3_finalize(q);
	return r;
}

/* One UPDATE of token id with time at; *changes = rows it changed. */
static int update(struct store_sqlite *s, const char *sql, int64_t id, int64_t at, int *changes,
                  const char *what)
{
	sqlite3_stmt *q;
	int rc, r;

	if ((r = prepare(s, sql, &q, what)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, at);
	rc = sqlite3_step(q);
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "%s", what);
	sqlite3_finalize(q);
	if (r == 0 && changes)
		*changes = sqlite3_changes(s->db);
	return r;
}

int store__sqlite_token_revoke(struct store *st, int64_t id, int64_t at, int *changed)
{
	struct store_sqlite *s = store__sqlite(st);
	struct store_token *t = NULL;
	int r;

	if ((r = store_token_get(st, id, &t)) != 0)
		return r;
	store_token_free(t);
	return update(s,
	              "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
	              id, at, changed, "revoking a token");
}

/* Bookkeeping that never waits: while a writer (an import) holds the
 * lock, the use is not recorded this time (SDB_EBUSY at once) rather than
 * holding the request up for the busy timeout. */
int store__sqlite_token_touch(struct store *st, int64_t id, int64_t at)
{
	struct store_sqlite *s = store__sqlite(st);
	int r;

	sqlite3_busy_timeout(s->db, 0);
	r = update(s,
	           "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1"
	           " AND (last_used_at IS NULL OR last_used_at <= ?2 - 60)",
	           id, at, NULL, "recording a token's use");
	sqlite3_busy_timeout(s->db, STORE__SQLITE_BUSY_MS);
	return r;
}
