/*
 * arena.c - the block arena (see arena.h): new blocks, big allocations in
 * blocks of their own, and the spare blocks kept across arena_reset().
 * The common allocation (room left in the current block) is arena_alloc(),
 * inline in arena.h.
 */
#include "core/arena.h"

#include <stdlib.h>
#include <string.h>

void arena_init(struct arena *a, size_t block, unsigned keep)
{
	memset(a, 0, sizeof(*a));
	a->block = block;
	a->keep = keep;
}

/* A block of `size` bytes on list *list; NULL when out of memory. */
static struct arena_block *block_new(struct arena_block **list, size_t size)
{
	struct arena_block *b;

	if (size > SIZE_MAX - sizeof(*b) || !(b = malloc(sizeof(*b) + size)))
		return NULL;
	b->next = *list;
	*list = b;
	return b;
}

static void blocks_free(struct arena_block *b)
{
	while (b) {
		struct arena_block *next = b->next;

		free(b);
		b = next;
	}
}

void *arena__alloc_slow(struct arena *a, size_t n, size_t align)
{
	struct arena_block *b;

	if (n == 0)
		return arena_alloc(a, 1, align);
	if (n > a->block / 4) { /* big: its own block; keep filling the current one */
		b = block_new(&a->big, n);
		return b ? b->data : NULL;
	}
	if (a->spare) {
		b = a->spare;
		a->spare = b->next;
		a->nspare--;
		b->next = a->used;
		a->used = b;
	} else if (!(b = block_new(&a->used, a->block))) {
		return NULL;
	}
	a->cur = (char *)b->data + n;
	a->end = (char *)b->data + a->block;
	return b->data;
}

void *arena_array(struct arena *a, size_t n, size_t size)
{
	/* the largest power of two dividing size: no object of that size
	 * needs more */
	size_t align = size & (~size + 1);

	if (n && size > SIZE_MAX / n)
		return NULL;
	if (align == 0 || align > ARENA_ALIGN)
		align = ARENA_ALIGN;
	return arena_alloc(a, n * size, align);
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void arena_reset(struct arena *a)
{
	struct arena_block *b = a->used;

	blocks_free(a->big);
	a->big = NULL;
	while (b) {
		struct arena_block *next = b->next;

		if (a->nspare < a->keep) {
			b->next = a->spare;
			a->spare = b;
			a->nspare++;
		} else {
			free(b);
		}
		b = next;
	}
	a->used = NULL;
	a->cur = a->end = NULL;
}

void arena_free(struct arena *a)
{
	blocks_free(a->used);
	blocks_free(a->big);
	blocks_free(a->spare);
	arena_init(a, a->block, a->keep);
}
