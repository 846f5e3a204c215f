/*
 * vec.h - the one grow-array of scandb: make room in a heap array that
 * doubles as it fills.  The array itself stays the caller's (a pointer
 * and a capacity in the caller's struct); only the growing is here.
 *
 *     struct port *v = NULL;
 *     size_t n = 0, cap = 0;
 *     if (VEC_RESERVE(v, cap, n + 1, 16)) return SDB_ENOMEM;
 *     v[n++] = p;
 *
 * Ownership: the caller frees the array.  Not thread-safe.
 */
#ifndef SDB_CORE_VEC_H
#define SDB_CORE_VEC_H

#include <stddef.h>

/* Make room for at least `need` elements of `elem` bytes in the array
 * whose pointer is at `*pp` (a pointer to any object pointer) and whose
 * capacity is `*cap`: nothing when it fits, else the capacity doubles from
 * `first` (or from the current one) until it does.  0, or SDB_ENOMEM (on
 * allocation failure or an overflowing size) with *pp and *cap untouched. */
static inline int vec_reserve(void *pp, size_t *cap, size_t need, size_t elem, size_t first);

/* (vec_reserve's slow path: the array must grow.) */
int vec_grow_(void *pp, size_t *cap, size_t need, size_t elem, size_t first);

static inline int vec_reserve(void *pp, size_t *cap, size_t need, size_t elem, size_t first)
{
	return need <= *cap ? 0 : vec_grow_(pp, cap, need, elem, first);
}

/* VEC_RESERVE(ptr, cap, need, first): vec_reserve() on an array `ptr` of
 * any element type with its size_t capacity `cap` (both lvalues). */
#define VEC_RESERVE(ptr, cap, need, first)                                                         \
	vec_reserve(&(ptr), &(cap), (need), sizeof(*(ptr)), (first))

#endif
