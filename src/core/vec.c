/*
 * vec.c - the one grow-array (see vec.h).
 */
#include "core/vec.h"

#include <stdint.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

int vec_grow_(void *pp, size_t *cap, size_t need, size_t elem, size_t first)
{
	void *old, *grown;
	size_t ncap;

	ncap = *cap ? *cap : (first ? first : 1);
	while (ncap < need) {
		if (ncap > SIZE_MAX / 2)
			return SDB_ENOMEM;
		ncap *= 2;
	}
	/* the pointer is read and written as bytes: pp points at a T *, not
	 * at a void * */
	memcpy(&old, pp, sizeof(old));
	if (!(grown = sdb_reallocarray(old, ncap, elem)))
		return SDB_ENOMEM;
	memcpy(pp, &grown, sizeof(grown));
	*cap = ncap;
	return 0;
}
