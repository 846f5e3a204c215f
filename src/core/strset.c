/* strset.c - string set with open addressing (see strset.h). */
#include "core/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void strset_init(struct strset *s)
{
	memset(s, 0, sizeof(*s));
}

void strset_free(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i]);
	free(s->slot);
	free(s->hits);
	strset_init(s);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot of s, or the empty slot where it would go. */
static size_t find(char **slot, size_t cap, const char *s)
{
	size_t i = (size_t)fnv1a(s) & (cap - 1);

	while (slot[i] && strcmp(slot[i], s) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(struct strset *set)
{
	size_t ncap = set->cap ? set->cap * 2 : 64;
	char **ns = calloc(ncap, sizeof(*ns));
	size_t *nh = calloc(ncap, sizeof(*nh));

	if (!ns || !nh) {
		free(ns);
		free(nh);
		return SDB_ENOMEM;
	}
	for (size_t i = 0; i < set->cap; i++) {
		if (set->slot[i]) {
			size_t k = find(ns, ncap, set->slot[i]);

			ns[k] = set->slot[i];
			nh[k] = set->hits[i];
		}
	}
	free(set->slot);
	free(set->hits);
	set->slot = ns;
	set->hits = nh;
	set->cap = ncap;
	return 0;
}

/* Add s (if new) and return its slot in *at: 1 added, 0 there, ENOMEM. */
static int add(struct strset *set, const char *s, size_t *at)
{
	int r;

	if ((set->n + 1) * 2 > set->cap && (r = grow(set)) != 0)
		return r;
	*at = find(set->slot, set->cap, s);
	if (set->slot[*at])
		return 0;
	if (!(set->slot[*at] = strdup(s)))
		return SDB_ENOMEM;
	set->n++;
	return 1;
}

int strset_add(struct strset *set, const char *s)
{
	size_t at;

	return add(set, s, &at);
}

int strset_count(struct strset *set, const char *s)
{
	size_t at;
	int r = add(set, s, &at);

	if (r >= 0)
		set->hits[at]++;
	return r;
}
