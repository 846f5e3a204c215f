/*
 * strset.h - a set of strings (open addressing, FNV-1a), for "have I seen
 * this address in this job already?" and "how many rows had this value?".
 * Strings are copied in.
 */
#ifndef SDB_CORE_STRSET_H
#define SDB_CORE_STRSET_H

#include <stddef.h>

struct strset {
	char **slot;
	size_t *hits; /* per slot: strset_count() calls for its string */
	size_t cap;   /* power of two, or 0 */
	size_t n;
};

void strset_init(struct strset *s);
void strset_free(struct strset *s);
/* Add s; returns 1 if added, 0 if it was there, SDB_ENOMEM. */
int strset_add(struct strset *set, const char *s);
/* strset_add(s), and one more hit for s (see hits[]); the same returns. */
int strset_count(struct strset *set, const char *s);

#endif
