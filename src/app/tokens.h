/*
 * tokens.h - the API tokens use cases (`scandb token`, and the check every
 * request to `scandb serve` goes through): create a token (its secret is
 * made here and returned once), list them, revoke one, and authenticate a
 * secret.  Only a salted SHA-256 of a secret is stored (store.h "API
 * tokens"); a secret is looked up by the token id it carries and compared
 * in constant time.  Nothing here prints or logs a secret.
 */
#ifndef SDB_APP_TOKENS_H
#define SDB_APP_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* "sdb_" + id (up to 19 digits) + "_" + 64 hex + NUL */
#define TOKEN_SECRET_MAX 96

/* What a token may do: read (GET), write (uploads, a finding's status),
 * admin (everything).  Each includes the ones before it. */
enum token_scope { TOKEN_READ = 0, TOKEN_WRITE, TOKEN_ADMIN };
/* "read", "write" or "admin" into *out; SDB_EPARSE otherwise. */
int token_scope_parse(const char *s, enum token_scope *out);
const char *token_scope_name(enum token_scope s);

/*
 * Make a token named `name` with `scope`, valid until `expires_at` (0:
 * never; else after now): a random secret, a random salt, the salted hash
 * stored.  secret[TOKEN_SECRET_MAX] receives the secret, which is never
 * stored nor shown again; *id its id.  SDB_EEXISTS when the name is taken,
 * SDB_EUSAGE for a bad name (store_errmsg says why).
 */
int token_create(struct store *st, const char *name, enum token_scope scope, int64_t now,
                 int64_t expires_at, char secret[TOKEN_SECRET_MAX], int64_t *id);

/* Why a secret was refused (token_authenticate). */
enum token_refusal {
	TOKEN_OK = 0,
	TOKEN_MALFORMED, /* not "sdb_<id>_<64 hex>" */
	TOKEN_UNKNOWN,   /* no such id, or the secret does not match */
	TOKEN_REVOKED,
	TOKEN_EXPIRED,
};
/*
 * Check `secret` at `now`: *refusal says whether it is valid and why not;
 * when valid, *scope and *id are the token's, and its last_used_at is
 * recorded (at most once a minute; a failure to record it refuses
 * nothing).  Returns 0 when the check ran (see *refusal), or the store's
 * error.
 */
int token_authenticate(struct store *st, const char *secret, int64_t now,
                       enum token_refusal *refusal, enum token_scope *scope, int64_t *id);

/* Revoke the token named `name_or_id` (its name, or its id in digits) at
 * `now`; *id its id, *changed 0 if it was revoked already.  SDB_ENOTFOUND
 * when no token has that name or id. */
int token_revoke(struct store *st, const char *name_or_id, int64_t now, int64_t *id, int *changed);

#endif
