/*
 * arena.h - a block arena: many small allocations that live and die
 * together (the strings of the <host> being read from nmap XML, a whole
 * scan's snapshot for `scandb diff`).  Memory comes in standard blocks that
 * never move, so a pointer stays valid until arena_reset() or arena_free().
 * An allocation bigger than a quarter of a standard block gets a block of
 * its own and leaves the current one to fill (at most a quarter of a block
 * is ever left unused at its end).  arena_reset() forgets every allocation
 * but keeps up to `keep` standard blocks for the next round.
 *
 * Ownership: the struct is caller-owned (usually embedded); arena_free()
 * releases its blocks.  Sizes are not capped here: a caller that copies
 * untrusted bytes charges them to its own limit first.  Not thread-safe.
 */
#ifndef SDB_CORE_ARENA_H
#define SDB_CORE_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The largest alignment arena_alloc() gives (malloc's). */
#define ARENA_ALIGN _Alignof(max_align_t)

struct arena_block {
	struct arena_block *next;
	max_align_t data[]; /* the block's bytes, aligned for anything */
};

struct arena {
	char *cur, *end;           /* free room in the current standard block */
	struct arena_block *used;  /* standard blocks in use, the current one first */
	struct arena_block *big;   /* blocks of one allocation each */
	struct arena_block *spare; /* standard blocks kept by arena_reset() */
	size_t block;              /* standard block size */
	unsigned keep, nspare;     /* at most `keep` spare blocks */
};

/* An empty arena of `block`-byte standard blocks (block > 0) that keeps up
 * to `keep` of them across arena_reset().  Allocates nothing. */
void arena_init(struct arena *a, size_t block, unsigned keep);

/* The slow path of arena_alloc(): a new block.  Use arena_alloc(). */
void *arena__alloc_slow(struct arena *a, size_t n, size_t align);

/*
 * n bytes (n == 0 counts as 1) aligned to `align` (a power of two, at most
 * ARENA_ALIGN), valid until arena_reset()/arena_free(); NULL when out of
 * memory (the arena is unchanged).  Inline: most calls only move a pointer.
 */
static inline void *arena_alloc(struct arena *a, size_t n, size_t align)
{
	uintptr_t p = ((uintptr_t)a->cur + align - 1) & ~(uintptr_t)(align - 1);

	/* no current block: cur == end == NULL, so there is no room */
	if (n && p <= (uintptr_t)a->end && n <= (size_t)((uintptr_t)a->end - p)) {
		a->cur = (char *)p + n;
		return (void *)p;
	}
	return arena__alloc_slow(a, n, align);
}

/* An array of n elements of `size` bytes (aligned for any object of that
 * size); NULL when out of memory or n * size overflows. */
void *arena_array(struct arena *a, size_t n, size_t size);
/* s[0..n) as a C string (s need not be NUL-terminated); NULL when out of
 * memory. */
static inline char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *d = n == SIZE_MAX ? NULL : (char *)arena_alloc(a, n + 1, 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}
/* A copy of C string s; NULL when out of memory. */
char *arena_strdup(struct arena *a, const char *s);

/* Forget every allocation; keep up to `keep` standard blocks, free the rest. */
void arena_reset(struct arena *a);
/* Free every block; the arena is empty (arena_init()'s settings kept). */
void arena_free(struct arena *a);

#endif
