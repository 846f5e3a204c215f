/*
 * test_arena.c - unit tests of src/core/arena.c: allocations stay where
 * they are and keep their alignment, big ones get a block of their own
 * without disturbing the current block, arena_reset() keeps at most `keep`
 * blocks and reuses them, overflowing array sizes are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"

static unsigned count_blocks(const struct arena_block *b)
{
	unsigned n = 0;

	for (; b; b = b->next)
		n++;
	return n;
}

static void test_arena_strings_stay(void **state)
{
	struct arena a;
	char *s[1000];
	char want[32];

	(void)state;
	arena_init(&a, 256, 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(want, sizeof(want), "string %d", i);
		s[i] = arena_strdup(&a, want);
		assert_non_null(s[i]);
	}
	/* many blocks later, every string is still there */
	for (int i = 0; i < 1000; i++) {
		snprintf(want, sizeof(want), "string %d", i);
		assert_string_equal(s[i], want);
	}
	assert_true(count_blocks(a.used) > 1);
	assert_string_equal(arena_strndup(&a, "abcdef", 3), "abc");
	assert_string_equal(arena_strndup(&a, "", 0), "");
	arena_free(&a);
	assert_null(a.used);
	assert_int_equal(a.block, 256);
}

static void test_arena_alignment(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a, 1024, 0);
	for (int i = 0; i < 200; i++) {
		char *c = arena_alloc(&a, 1, 1);
		uint64_t *q = arena_array(&a, 3, sizeof(*q));
		max_align_t *m = arena_alloc(&a, sizeof(*m), ARENA_ALIGN);
		void **v = arena_array(&a, 1, sizeof(*v));

		assert_non_null(c);
		assert_int_equal((uintptr_t)q % _Alignof(uint64_t), 0);
		assert_int_equal((uintptr_t)m % ARENA_ALIGN, 0);
		assert_int_equal((uintptr_t)v % _Alignof(void *), 0);
		q[2] = 1; /* the whole array is ours (ASan checks) */
	}
	/* n == 0 is one byte, not NULL */
	assert_non_null(arena_alloc(&a, 0, 1));
	arena_free(&a);
}

static void test_arena_big_own_block(void **state)
{
	struct arena a;
	char *small, *big, *next;

	(void)state;
	arena_init(&a, 1024, 0);
	small = arena_alloc(&a, 10, 1);
	big = arena_alloc(&a, 4096, 1); /* over a quarter block */
	next = arena_alloc(&a, 10, 1);
	assert_non_null(big);
	memset(big, 'x', 4096);
	assert_int_equal(count_blocks(a.big), 1);
	assert_int_equal(count_blocks(a.used), 1);
	/* the current block goes on being filled */
	assert_ptr_equal(next, small + 10);
	arena_free(&a);
}

static void test_arena_reset_keeps(void **state)
{
	struct arena a;
	char *first;

	(void)state;
	arena_init(&a, 128, 2);
	for (int i = 0; i < 20; i++)
		assert_non_null(arena_alloc(&a, 30, 1));
	assert_non_null(arena_alloc(&a, 1000, 1));
	assert_true(count_blocks(a.used) >= 5);
	arena_reset(&a);
	assert_null(a.used);
	assert_null(a.big);
	assert_int_equal(count_blocks(a.spare), 2);
	assert_int_equal(a.nspare, 2);
	/* the spare blocks come back before any new one */
	first = arena_alloc(&a, 30, 1);
	assert_non_null(first);
	assert_int_equal(count_blocks(a.spare), 1);
	for (int i = 0; i < 8; i++)
		assert_non_null(arena_alloc(&a, 30, 1));
	assert_int_equal(count_blocks(a.spare), 0);
	arena_reset(&a);
	arena_free(&a);
	assert_null(a.spare);
	assert_int_equal(a.nspare, 0);
}

static void test_arena_overflow(void **state)
{
	struct arena a;

	(void)state;
	arena_init(&a, 1024, 0);
	assert_null(arena_array(&a, SIZE_MAX / 2, 4));
	assert_null(arena_strndup(&a, "x", SIZE_MAX));
	assert_null(a.used);
	assert_null(a.big);
	arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arena_strings_stay),  cmocka_unit_test(test_arena_alignment),
	    cmocka_unit_test(test_arena_big_own_block), cmocka_unit_test(test_arena_reset_keeps),
	    cmocka_unit_test(test_arena_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
