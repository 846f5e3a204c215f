/*
 * store_tokens.c - the wrappers of the API token slots (store.h "API
 * tokens"): each value is checked here once for both backends (names,
 * scopes, the salt and hash as hex, times), and store_token_get and
 * store_token_free are written once above the slots.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/store_int.h"

void store_token_free(struct store_token *t)
{
	if (!t)
		return;
	free(t->name);
	free(t->scope);
	free(t->salt);
	free(t->hash);
	free(t);
}

/* n lower-case hex characters and nothing else. */
static int is_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int store_token_insert(struct store *st, const struct store_token_new *t, int64_t *id)
{
	size_t n;

	if (!st || !t || !id || !t->name || !t->scope)
		return SDB_EUSAGE;
	*id = 0;
	n = strlen(t->name);
	if (n < 1 || n > 64)
		return store__set_err(st, SDB_EUSAGE, "a token name has 1 to 64 bytes");
	if (strcmp(t->scope, "read") != 0 && strcmp(t->scope, "write") != 0 &&
	    strcmp(t->scope, "admin") != 0)
		return store__set_err(st, SDB_EUSAGE, "unknown token scope '%s'", t->scope);
	if (!is_hex(t->salt, 32) || !is_hex(t->hash, 64))
		return store__set_err(st, SDB_EUSAGE, "a token's salt and hash are hex");
	if (t->created_at < 0 || (t->expires_at != 0 && t->expires_at <= t->created_at))
		return store__set_err(st, SDB_EUSAGE, "a token expires after it is created");
	STORE__CALL(st, token_insert, t, id);
}

int store_tokens_each(struct store *st, int64_t id, int (*cb)(void *ctx, struct store_token *t),
                      void *ctx)
{
	if (!cb || id < 0)
		return SDB_EUSAGE;
	STORE__CALL(st, tokens_each, id, cb, ctx);
}

static int keep_one(void *ctx, struct store_token *t)
{
	struct store_token **one = ctx;

	store_token_free(*one);
	*one = t;
	return 0;
}

int store_token_get(struct store *st, int64_t id, struct store_token **out)
{
	int r;

	if (!out || id <= 0)
		return SDB_EUSAGE;
	*out = NULL;
	if ((r = store_tokens_each(st, id, keep_one, out)) != 0) {
		store_token_free(*out);
		*out = NULL;
		return r;
	}
	if (!*out)
		return store__set_err(st, SDB_ENOTFOUND, "no token %lld", (long long)id);
	return 0;
}

int store_token_revoke(struct store *st, int64_t id, int64_t at, int *changed)
{
	int dummy;

	if (id <= 0 || at <= 0)
		return SDB_EUSAGE;
	STORE__CALL(st, token_revoke, id, at, changed ? changed : &dummy);
}

int store_token_touch(struct store *st, int64_t id, int64_t at)
{
	if (id <= 0 || at <= 0)
		return SDB_EUSAGE;
	STORE__CALL(st, token_touch, id, at);
}
