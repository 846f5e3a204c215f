/*
 * tags.c - the `tag` and `note` use cases (tags.h): tags added to or
 * removed from the known hosts of an address or CIDR block in one
 * transaction, counting the hosts that changed; a note added to a known
 * host; who the author is.
 */
#include "app/tags.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/error.h"
#include "core/vec.h"

const char *app_author(int *bad)
{
	static char name[STORE_AUTHOR_MAX + 1];
	const char *env = getenv("SCANDB_AUTHOR");
	struct passwd *pw;

	*bad = 0;
	if (env && *env) {
		if (!store_note_text_valid(env, STORE_AUTHOR_MAX, 1)) {
			*bad = 1;
			return NULL;
		}
		return env;
	}
	if ((pw = getpwuid(geteuid())) && pw->pw_name &&
	    store_note_text_valid(pw->pw_name, STORE_AUTHOR_MAX, 1)) {
		snprintf(name, sizeof(name), "%s", pw->pw_name);
		return name;
	}
	return NULL;
}

struct changed_ids {
	int64_t *v;
	size_t n, cap;
};

static int on_changed(void *ctx, int64_t host_id)
{
	struct changed_ids *c = ctx;

	if (VEC_RESERVE(c->v, c->cap, c->n + 1, 64))
		return SDB_ENOMEM;
	c->v[c->n++] = host_id;
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The distinct hosts among c's ids. */
static int64_t distinct(struct changed_ids *c)
{
	int64_t n = 0;

	if (c->n)
		qsort(c->v, c->n, sizeof(*c->v), cmp_id);
	for (size_t i = 0; i < c->n; i++)
		n += i == 0 || c->v[i] != c->v[i - 1];
	return n;
}

int app_tag(struct store *st, const char *target, int add, const char *const *tags, size_t n,
            int64_t at, const char *author, struct app_tag_result *out)
{
	unsigned char lo[16], hi[16];
	struct changed_ids c = {0};
	int r;

	memset(out, 0, sizeof(*out));
	if (addr_parse(target, NULL, NULL, lo) == 0)
		memcpy(hi, lo, sizeof(hi));
	else if (addr_cidr_parse(target, lo, hi) != 0)
		return store_set_error(st, SDB_EUSAGE, "'%s' is not an address or a CIDR block",
		                       target);
	if ((r = store_tx_begin(st)) != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		r = store_tag_set(st, lo, hi, tags[i], add, at, author, &out->matched, on_changed,
		                  &c);
	if (r == 0 && out->matched == 0)
		r = store_set_error(st, SDB_ENOTFOUND, "no known host %s %s",
		                    strchr(target, '/') ? "in" : "at", target);
	if (r == 0)
		r = store_tx_commit(st);
	else
		store_tx_rollback(st);
	out->changed = r == 0 ? distinct(&c) : 0;
	free(c.v);
	return r;
}

int app_note_add(struct store *st, const char *addr, const char *text, int64_t at,
                 const char *author, int64_t *id)
{
	int64_t host_id;
	int r;

	if ((r = store_host_id(st, addr, &host_id)) != 0)
		return r;
	return store_note_add(st, host_id, at, author, text, id);
}
