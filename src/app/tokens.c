/*
 * tokens.c - the API tokens use cases (tokens.h): creating a token (random
 * secret and salt from libcrypto's RAND_bytes, SHA-256 of salt || secret),
 * authenticating a secret (lookup by the id it carries, CRYPTO_memcmp of
 * the hashes), revoking one by name or id.
 */
#include "app/tokens.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/error.h"
#include "core/hash.h"

#define SECRET_BYTES 32
#define SALT_BYTES   16

static const char *const scope_names[] = {"read", "write", "admin"};

int token_scope_parse(const char *s, enum token_scope *out)
{
	for (size_t i = 0; s && i < 3; i++) {
		if (strcmp(s, scope_names[i]) == 0) {
			*out = (enum token_scope)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

const char *token_scope_name(enum token_scope s)
{
	return (unsigned)s < 3 ? scope_names[s] : "?";
}

static void to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int from_hex(const char *s, unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char c = s[2 * i + k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return SDB_EPARSE;
		}
		b[i] = (unsigned char)v;
	}
	return s[2 * n] == '\0' ? 0 : SDB_EPARSE;
}

/* SHA-256(salt || secret hex) as hex into out[HASH_HEX_LEN + 1] (core's
 * hash.c). */
static int token_hash(const unsigned char salt[SALT_BYTES], const char *secret_hex,
                      char out[HASH_HEX_LEN + 1])
{
	struct hash_ctx *h = hash_new();

	if (!h)
		return SDB_ENOMEM;
	if (hash_update(h, salt, SALT_BYTES) != 0 ||
	    hash_update(h, secret_hex, strlen(secret_hex)) != 0) {
		hash_free(h);
		return SDB_ENOMEM;
	}
	return hash_final(h, out);
}

int token_create(struct store *st, const char *name, enum token_scope scope, int64_t now,
                 int64_t expires_at, char secret[TOKEN_SECRET_MAX], int64_t *id)
{
	unsigned char raw[SECRET_BYTES], salt[SALT_BYTES];
	char raw_hex[2 * SECRET_BYTES + 1], salt_hex[2 * SALT_BYTES + 1], h_hex[HASH_HEX_LEN + 1];
	struct store_token_new t;
	int r;

	secret[0] = '\0';
	if (RAND_bytes(raw, sizeof(raw)) != 1 || RAND_bytes(salt, sizeof(salt)) != 1)
		return store_set_error(st, SDB_EIO, "no random bytes from libcrypto");
	to_hex(raw, sizeof(raw), raw_hex);
	to_hex(salt, sizeof(salt), salt_hex);
	OPENSSL_cleanse(raw, sizeof(raw));
	if ((r = token_hash(salt, raw_hex, h_hex)) != 0) {
		OPENSSL_cleanse(raw_hex, sizeof(raw_hex));
		return r;
	}
	t.name = name;
	t.scope = token_scope_name(scope);
	t.salt = salt_hex;
	t.hash = h_hex;
	t.created_at = now;
	t.expires_at = expires_at;
	r = store_token_insert(st, &t, id);
	if (r == 0)
		snprintf(secret, TOKEN_SECRET_MAX, "sdb_%" PRId64 "_%s", *id, raw_hex);
	OPENSSL_cleanse(raw_hex, sizeof(raw_hex));
	return r;
}

/* "sdb_<id>_<64 hex>" into id and the hex part; SDB_EPARSE otherwise. */
static int secret_split(const char *s, int64_t *id, const char **hex)
{
	int64_t v = 0;
	const char *p;

	if (!s || strncmp(s, "sdb_", 4) != 0)
		return SDB_EPARSE;
	for (p = s + 4; *p >= '0' && *p <= '9' && p - s < 4 + 18; p++)
		v = v * 10 + (*p - '0');
	if (p == s + 4 || *p != '_' || v <= 0 || strlen(p + 1) != 2 * SECRET_BYTES)
		return SDB_EPARSE;
	for (const char *q = p + 1; *q; q++)
		if (!((*q >= '0' && *q <= '9') || (*q >= 'a' && *q <= 'f')))
			return SDB_EPARSE;
	*id = v;
	*hex = p + 1;
	return 0;
}

/* Does hex match token t's salted hash?  Constant time in the secret. */
static int token_matches(const struct store_token *t, const char *hex)
{
	unsigned char salt[SALT_BYTES];
	char got[HASH_HEX_LEN + 1];

	if (!t->salt || !t->hash || strlen(t->hash) != HASH_HEX_LEN ||
	    from_hex(t->salt, salt, sizeof(salt)) != 0 || token_hash(salt, hex, got) != 0)
		return 0;
	return CRYPTO_memcmp(got, t->hash, HASH_HEX_LEN) == 0;
}

int token_authenticate(struct store *st, const char *secret, int64_t now,
                       enum token_refusal *refusal, enum token_scope *scope, int64_t *id)
{
	struct store_token *t = NULL;
	const char *hex;
	int64_t tid;
	int r;

	*refusal = TOKEN_MALFORMED;
	if (secret_split(secret, &tid, &hex) != 0)
		return 0;
	*refusal = TOKEN_UNKNOWN;
	if ((r = store_token_get(st, tid, &t)) != 0)
		return r == SDB_ENOTFOUND ? 0 : r;
	if (!token_matches(t, hex))
		*refusal = TOKEN_UNKNOWN;
	else if (t->revoked_at)
		*refusal = TOKEN_REVOKED;
	else if (t->expires_at && t->expires_at <= now)
		*refusal = TOKEN_EXPIRED;
	else if (token_scope_parse(t->scope, scope) != 0)
		*refusal = TOKEN_UNKNOWN;
	else
		*refusal = TOKEN_OK;
	store_token_free(t);
	if (*refusal != TOKEN_OK)
		return 0;
	*id = tid;
	/* last_used_at is bookkeeping: a write that waits too long for the
	 * lock (an import holds it) does not refuse the request */
	(void)store_token_touch(st, tid, now);
	return 0;
}

/* store_tokens_each callback: the id of the token named ctx->name. */
struct by_name {
	const char *name;
	int64_t id;
};

static int find_name(void *ctx, struct store_token *t)
{
	struct by_name *b = ctx;

	if (t->name && strcmp(t->name, b->name) == 0)
		b->id = t->id;
	store_token_free(t);
	return 0;
}

int token_revoke(struct store *st, const char *name_or_id, int64_t now, int64_t *id, int *changed)
{
	struct by_name b = {name_or_id, 0};
	char *end;
	long long v;
	int r;

	if ((r = store_tokens_each(st, 0, find_name, &b)) != 0)
		return r;
	if (!b.id && *name_or_id >= '0' && *name_or_id <= '9') {
		v = strtoll(name_or_id, &end, 10);
		if (*end == '\0' && v > 0)
			b.id = v;
	}
	if (!b.id)
		return store_set_error(st, SDB_ENOTFOUND, "no token named '%s'", name_or_id);
	*id = b.id;
	return store_token_revoke(st, b.id, now, changed);
}
