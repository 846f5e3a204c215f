/* hash.c - SHA-256 via libcrypto's EVP interface (see hash.h). */
#include "core/hash.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

struct hash_ctx {
	EVP_MD_CTX *md;
};

struct hash_ctx *hash_new(void)
{
	struct hash_ctx *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->md = EVP_MD_CTX_new();
	if (!h->md || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1) {
		hash_free(h);
		return NULL;
	}
	return h;
}

int hash_update(struct hash_ctx *h, const void *data, size_t len)
{
	return EVP_DigestUpdate(h->md, data, len) == 1 ? 0 : SDB_ENOMEM;
}

int hash_final(struct hash_ctx *h, char out[HASH_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	int r = 0;

	if (EVP_DigestFinal_ex(h->md, d, &n) != 1 || n != 32) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		out[i * 2] = hex[d[i] >> 4];
		out[i * 2 + 1] = hex[d[i] & 15];
	}
	out[HASH_HEX_LEN] = '\0';
out:
	hash_free(h);
	return r;
}

void hash_free(struct hash_ctx *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
}

int hash_string(const char *s, char out[HASH_HEX_LEN + 1])
{
	struct hash_ctx *h = hash_new();
	int r;

	if (!h)
		return SDB_ENOMEM;
	if ((r = hash_update(h, s, strlen(s))) != 0) {
		hash_free(h);
		return r;
	}
	return hash_final(h, out);
}
