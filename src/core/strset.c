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
	strset_init(s);
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static char **find(char **slot, size_t cap, const char *s)
{
	size_t i = (size_t)fnv1a(s) & (cap - 1);

	while (slot[i] && strcmp(slot[i], s) != 0)
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

static int grow(struct strset *set)
{
	size_t ncap = set->cap ? set->cap * 2 : 64;
	char **ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return SDB_ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slot[i])
			*find(ns, ncap, set->slot[i]) = set->slot[i];
	free(set->slot);
	set->slot = ns;
	set->cap = ncap;
	return 0;
}

int strset_add(struct strset *set, const char *s)
{
	char **p;
	int r;

	if ((set->n + 1) * 2 > set->cap && (r = grow(set)) != 0)
		return r;
	p = find(set->slot, set->cap, s);
	if (*p)
		return 0;
	if (!(*p = strdup(s)))
		return SDB_ENOMEM;
	set->n++;
	return 1;
}
