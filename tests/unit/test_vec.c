/*
 * test_vec.c - unit tests of src/core/vec.c: the array grows by doubling
 * from its first capacity, keeps its contents, does nothing when the room
 * is there, and refuses overflowing sizes leaving the array untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/vec.h"

struct pair {
	int a;
	double b;
};

static void test_vec_grows_and_keeps(void **state)
{
	struct pair *v = NULL;
	size_t n = 0, cap = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(VEC_RESERVE(v, cap, n + 1, 16), 0);
		assert_true(cap >= n + 1);
		v[n].a = i;
		v[n].b = i / 2.0;
		n++;
	}
	/* 16, 32, ... 1024: doubled from the first capacity */
	assert_int_equal(cap, 1024);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(v[i].a, i);
		assert_true(v[i].b == i / 2.0);
	}
	free(v);
}

static void test_vec_room_is_kept(void **state)
{
	char *v = NULL;
	size_t cap = 0;
	char *before;

	(void)state;
	assert_int_equal(VEC_RESERVE(v, cap, 5, 4), 0);
	assert_int_equal(cap, 8); /* 4 doubled once to hold 5 */
	before = v;
	assert_int_equal(VEC_RESERVE(v, cap, 8, 4), 0);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 8);
	/* a jump far past the capacity doubles until it fits */
	assert_int_equal(VEC_RESERVE(v, cap, 100, 4), 0);
	assert_int_equal(cap, 128);
	/* first 0 means 1 */
	{
		int *w = NULL;
		size_t wc = 0;

		assert_int_equal(VEC_RESERVE(w, wc, 1, 0), 0);
		assert_int_equal(wc, 1);
		free(w);
	}
	free(v);
}

static void test_vec_overflow_refused(void **state)
{
	struct pair *v = NULL;
	size_t cap = 0;
	struct pair *before;

	(void)state;
	assert_int_equal(VEC_RESERVE(v, cap, 2, 2), 0);
	before = v;
	/* the element count fits size_t but the bytes do not */
	assert_int_equal(VEC_RESERVE(v, cap, SIZE_MAX / 4, 2), SDB_ENOMEM);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 2);
	/* the count itself cannot double any further */
	assert_int_equal(VEC_RESERVE(v, cap, SIZE_MAX, 2), SDB_ENOMEM);
	assert_int_equal(cap, 2);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vec_grows_and_keeps),
	    cmocka_unit_test(test_vec_room_is_kept),
	    cmocka_unit_test(test_vec_overflow_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
