/*
 * pg_tokens.c - the PostgreSQL backend's API token slots (store_int.h
 * token_insert, tokens_each, token_revoke, token_touch) on the api_tokens
 * table of migration 0015.  Each statement runs on its own (no write-behind
 * buffer holds a token row), planned each time (PGX_ONESHOT).
 */
#include "store/pg/pg_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int store__pg_token_insert(struct store *st, const struct store_token_new *t, int64_t *id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_text(&p, t->name);
	store__pg_p_text(&p, t->scope);
	store__pg_p_text(&p, t->salt);
	store__pg_p_text(&p, t->hash);
	store__pg_p_int(&p, t->created_at);
	store__pg_p_time(&p, t->expires_at);
	/* ON CONFLICT: a name in use inserts nothing (no error that would
	 * abort a caller's transaction) and returns no row. */
	if ((r = store__pg_exec(s, PG__COUNT,
	                        "INSERT INTO api_tokens (name, scope, salt, hash, created_at,"
	                        " expires_at) VALUES ($1::text, $2::text, $3::text, $4::text,"
	                        " to_timestamp($5::bigint), to_timestamp($6::bigint))"
	                        " ON CONFLICT (name) DO NOTHING RETURNING id",
	                        &p, PGX_ONESHOT | PGX_NOFLUSH, &res, "creating a token")) != 0)
		return r;
	if (PQntuples(res) == 1)
		*id = store__pg_i64(res, 0, 0);
	PQclear(res);
	if (*id == 0)
		return store__set_err(st, SDB_EEXISTS, "a token named '%s' exists already",
		                      t->name);
	return 0;
}

/* Row i of res as a token (the columns of tokens_each's SELECT). */
static int token_row(const PGresult *res, int i, struct store_token **out)
{
	struct store_token *t = calloc(1, sizeof(*t));
	int oom = 0;

	if (!t)
		return SDB_ENOMEM;
	t->id = store__pg_i64(res, i, 0);
	t->name = store__pg_dup(res, i, 1, &oom);
	t->scope = store__pg_dup(res, i, 2, &oom);
	t->salt = store__pg_dup(res, i, 3, &oom);
	t->hash = store__pg_dup(res, i, 4, &oom);
	t->created_at = store__pg_i64(res, i, 5);
	t->expires_at = store__pg_i64(res, i, 6);
	t->last_used_at = store__pg_i64(res, i, 7);
	t->revoked_at = store__pg_i64(res, i, 8);
	if (oom) {
		store_token_free(t);
		return SDB_ENOMEM;
	}
	*out = t;
	return 0;
}

int store__pg_tokens_each(struct store *st, int64_t id, int (*cb)(void *ctx, struct store_token *t),
                          void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_int(&p, id);
	if ((r = store__pg_exec(
	         s, PG__COUNT,
	         "SELECT id, name, scope, salt, hash, " EP("created_at") ", " EP(
	             "expires_at") ", " EP("last_used_at") ", " EP("revoked_at") " FROM api_tokens "
	                                                                         "WHERE $1::bigint "
	                                                                         "= 0 OR id = "
	                                                                         "$1::bigint"
	                                                                         " ORDER BY id",
	         &p, PGX_ONESHOT | PGX_NOFLUSH, &res, "reading the tokens")) != 0)
		return r;
	for (int i = 0; i < PQntuples(res) && r == 0; i++) {
		struct store_token *t;

		if ((r = token_row(res, i, &t)) == 0)
			r = cb(ctx, t);
	}
	PQclear(res);
	return r;
}

/* One UPDATE of token id with time at; *changes = rows it changed. */
static int update(struct store_pg *s, const char *sql, int64_t id, int64_t at, int *changes,
                  const char *what)
{
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_int(&p, id);
	store__pg_p_int(&p, at);
	if ((r = store__pg_exec(s, PG__COUNT, sql, &p, PGX_ONESHOT | PGX_NOFLUSH, &res, "%s",
	                        what)) != 0)
		return r;
	if (changes)
		*changes = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

int store__pg_token_revoke(struct store *st, int64_t id, int64_t at, int *changed)
{
	struct store_token *t = NULL;
	int r;

	if ((r = store_token_get(st, id, &t)) != 0)
		return r;
	store_token_free(t);
	return update(store__pg(st),
	              "UPDATE api_tokens SET revoked_at = to_timestamp($2::bigint)"
	              " WHERE id = $1::bigint AND revoked_at IS NULL",
	              id, at, changed, "revoking a token");
}

int store__pg_token_touch(struct store *st, int64_t id, int64_t at)
{
	return update(store__pg(st),
	              "UPDATE api_tokens SET last_used_at = to_timestamp($2::bigint)"
	              " WHERE id = $1::bigint AND (last_used_at IS NULL"
	              " OR last_used_at <= to_timestamp($2::bigint - 60))",
	              id, at, NULL, "recording a token's use");
}
