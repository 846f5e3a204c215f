/*
 * hash.h - SHA-256 of a byte stream (OpenSSL's libcrypto), as 64 lower-case
 * hex characters.  Used for an import's content hash and for migration
 * checksums.
 */
#ifndef SDB_CORE_HASH_H
#define SDB_CORE_HASH_H

#include <stddef.h>

#define HASH_HEX_LEN 64

struct hash_ctx;

/* Start a hash; NULL on allocation failure.  Finish with hash_final(). */
struct hash_ctx *hash_new(void);
int hash_update(struct hash_ctx *h, const void *data, size_t len);
/* Write hex digest to out[HASH_HEX_LEN + 1] and free h. */
int hash_final(struct hash_ctx *h, char out[HASH_HEX_LEN + 1]);
/* Free without finishing (error paths).  NULL is fine. */
void hash_free(struct hash_ctx *h);
/* One-shot hash of a NUL-terminated string. */
int hash_string(const char *s, char out[HASH_HEX_LEN + 1]);

#endif
