/*
 * test_tokens.c - app/tokens.c on a SQLite database: a created token
 * authenticates with its scope; a secret with one hex digit changed, one
 * for another id, a malformed one, a revoked and an expired token are each
 * refused for their reason; the stored row holds a salted hash, never the
 * secret; names are unique; revoke finds a token by name or id; a use is
 * recorded at most once a minute.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/tokens.h"
#include "core/error.h"
#include "store/store.h"
#include "testutil.h"

struct fx {
	char *dir;
	struct store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *path, err[256];

	f->dir = tu_mkdtemp("tokens");
	path = tu_path(f->dir, "t.db");
	assert_int_equal(store_open(path, &f->st, err, sizeof(err)), 0);
	assert_int_equal(store_ensure_ready(f->st), 0);
	free(path);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static enum token_refusal check(struct store *st, const char *secret, int64_t now,
                                enum token_scope *scope)
{
	enum token_refusal why = TOKEN_OK;
	enum token_scope s = TOKEN_READ;
	int64_t id = 0;

	assert_int_equal(token_authenticate(st, secret, now, &why, &s, &id), 0);
	if (scope)
		*scope = s;
	return why;
}

static void test_create_and_authenticate(void **state)
{
	struct fx *f = *state;
	char secret[TOKEN_SECRET_MAX], other[TOKEN_SECRET_MAX];
	struct store_token *t = NULL;
	enum token_scope scope;
	int64_t id = 0, id2 = 0;
	size_t n;

	assert_int_equal(token_create(f->st, "ci", TOKEN_WRITE, 1000, 0, secret, &id), 0);
	assert_true(id > 0);
	assert_int_equal(strncmp(secret, "sdb_", 4), 0);
	n = strlen(secret);
	assert_int_equal(n, strlen("sdb_1_") + 64);
	assert_int_equal(check(f->st, secret, 2000, &scope), TOKEN_OK);
	assert_int_equal(scope, TOKEN_WRITE);
	/* only a salted hash is stored: not the secret, not its plain SHA-256 */
	assert_int_equal(store_token_get(f->st, id, &t), 0);
	assert_int_equal(strlen(t->hash), 64);
	assert_int_equal(strlen(t->salt), 32);
	assert_null(strstr(t->hash, secret + n - 64));
	assert_int_equal(t->last_used_at, 2000);
	store_token_free(t);
	/* one hex digit changed */
	memcpy(other, secret, n + 1);
	other[n - 1] = other[n - 1] == '0' ? '1' : '0';
	assert_int_equal(check(f->st, other, 2000, NULL), TOKEN_UNKNOWN);
	/* the right secret with another token's id */
	assert_int_equal(token_create(f->st, "other", TOKEN_READ, 1000, 0, other, &id2), 0);
	memcpy(other + 4, "1", 1); /* "sdb_1_..." -> another token's secret part, id 1 */
	assert_int_equal(check(f->st, other, 2000, NULL), TOKEN_UNKNOWN);
	assert_int_equal(check(f->st, "", 2000, NULL), TOKEN_MALFORMED);
	assert_int_equal(check(f->st, "sdb_x_00", 2000, NULL), TOKEN_MALFORMED);
	assert_int_equal(check(f->st,
	                       "sdb_99_"
	                       "0123456789abcdef0123456789abcdef"
	                       "0123456789abcdef0123456789abcdef",
	                       2000, NULL),
	                 TOKEN_UNKNOWN);
	/* a name is taken once */
	assert_int_equal(token_create(f->st, "ci", TOKEN_READ, 1000, 0, other, &id2), SDB_EEXISTS);
}

static void test_revoked_and_expired(void **state)
{
	struct fx *f = *state;
	char a[TOKEN_SECRET_MAX], b[TOKEN_SECRET_MAX];
	int64_t ida = 0, idb = 0, got = 0;
	int changed = -1;

	assert_int_equal(token_create(f->st, "a", TOKEN_ADMIN, 1000, 0, a, &ida), 0);
	assert_int_equal(token_create(f->st, "b", TOKEN_READ, 1000, 1500, b, &idb), 0);
	assert_int_equal(check(f->st, b, 1499, NULL), TOKEN_OK);
	assert_int_equal(check(f->st, b, 1500, NULL), TOKEN_EXPIRED);
	assert_int_equal(token_revoke(f->st, "a", 1600, &got, &changed), 0);
	assert_int_equal(got, ida);
	assert_int_equal(changed, 1);
	assert_int_equal(check(f->st, a, 1700, NULL), TOKEN_REVOKED);
	assert_int_equal(token_revoke(f->st, "a", 1800, &got, &changed), 0);
	assert_int_equal(changed, 0);
	assert_int_equal(token_revoke(f->st, "nobody", 1800, &got, &changed), SDB_ENOTFOUND);
	/* by id */
	char digits[24];
	snprintf(digits, sizeof(digits), "%lld", (long long)idb);
	assert_int_equal(token_revoke(f->st, digits, 1900, &got, &changed), 0);
	assert_int_equal(got, idb);
	/* an expiry before the creation is refused */
	assert_int_equal(token_create(f->st, "c", TOKEN_READ, 1000, 900, a, &ida), SDB_EUSAGE);
}

static void test_last_used_once_a_minute(void **state)
{
	struct fx *f = *state;
	char s[TOKEN_SECRET_MAX];
	struct store_token *t = NULL;
	int64_t id = 0;

	assert_int_equal(token_create(f->st, "m", TOKEN_READ, 1000, 0, s, &id), 0);
	assert_int_equal(check(f->st, s, 5000, NULL), TOKEN_OK);
	assert_int_equal(check(f->st, s, 5030, NULL), TOKEN_OK);
	assert_int_equal(store_token_get(f->st, id, &t), 0);
	assert_int_equal(t->last_used_at, 5000);
	store_token_free(t);
	assert_int_equal(check(f->st, s, 5061, NULL), TOKEN_OK);
	assert_int_equal(store_token_get(f->st, id, &t), 0);
	assert_int_equal(t->last_used_at, 5061);
	store_token_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_and_authenticate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_revoked_and_expired, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_last_used_once_a_minute, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
