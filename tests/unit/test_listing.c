/*
 * test_listing.c - unit tests of app/listing.c (--sort and --limit of every
 * listing: the stream cut at the limit, the heap of N, the held and sorted
 * list, ties in arrival order, an emit that fails) and of core/strset.c's
 * counting (the hits of each value across rehashes), which `services
 * --top` counts with.  Pure: no database, no files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/listing.h"
#include "core/error.h"
#include "core/strset.h"

/* An item: a key to sort on and its arrival number. */
struct item {
	int key;
	int seq;
};

static int cmp_key(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

/* natural 1: the items come in ascending key order when the test says so */
static const struct listing_field fields[] = {
    {"key", cmp_key, 1},
    {"other", cmp_key, 0},
    {NULL, NULL, 0},
};

/* What was emitted, and how many items live (made minus freed). */
struct sink {
	struct item got[512];
	int n;
	int fail_at; /* emit returns SDB_EIO at this index; -1 never */
};
static int live;

static struct item *item_new(int key, int seq)
{
	struct item *it = malloc(sizeof(*it));

	assert_non_null(it);
	it->key = key;
	it->seq = seq;
	live++;
	return it;
}

static void item_drop(void *p)
{
	free(p);
	live--;
}

static int emit(void *ctx, void *p)
{
	struct sink *s = ctx;
	struct item *it = p;

	if (s->n == s->fail_at) {
		item_drop(it);
		return SDB_EIO;
	}
	s->got[s->n++] = *it;
	item_drop(it);
	return 0;
}

/* Feed keys[0..n) through a listing of order o; return listing_end's. */
static int run(const struct listing_order *o, const int *keys, int n, struct sink *s)
{
	struct listing l;
	int r = 0;

	listing_init(&l, o, emit, item_drop, s);
	for (int i = 0; i < n && r == 0; i++)
		r = listing_add(&l, item_new(keys[i], i));
	return listing_end(&l, r);
}

/* The expected order: a stable sort of keys (descending if desc), cut. */
static int expect(const int *keys, int n, int desc, int limit, struct item *out)
{
	for (int i = 0; i < n; i++)
		out[i] = (struct item){keys[i], i};
	for (int i = 1; i < n; i++) { /* insertion sort: stable */
		struct item t = out[i];
		int j = i;

		while (j > 0 && (desc ? out[j - 1].key < t.key : out[j - 1].key > t.key)) {
			out[j] = out[j - 1];
			j--;
		}
		out[j] = t;
	}
	return limit && limit < n ? limit : n;
}

static void assert_items(const struct sink *s, const struct item *want, int n)
{
	assert_int_equal(s->n, n);
	for (int i = 0; i < n; i++) {
		assert_int_equal(s->got[i].key, want[i].key);
		assert_int_equal(s->got[i].seq, want[i].seq);
	}
}

static void test_parse(void **state)
{
	struct listing_order o = {NULL, 0, 0};
	char names[64];

	(void)state;
	assert_int_equal(listing_order_parse(fields, "other", &o), 0);
	assert_string_equal(o.field->name, "other");
	assert_int_equal(o.desc, 0);
	assert_int_equal(listing_order_parse(fields, "-key", &o), 0);
	assert_string_equal(o.field->name, "key");
	assert_int_equal(o.desc, 1);
	assert_int_equal(listing_order_parse(fields, "bogus", &o), SDB_EUSAGE);
	assert_int_equal(listing_order_parse(fields, "-", &o), SDB_EUSAGE);
	assert_int_equal(listing_order_parse(fields, "", &o), SDB_EUSAGE);
	listing_field_names(fields, names, sizeof(names));
	assert_string_equal(names, "key, other");
	listing_field_names(fields, names, 5);
	assert_string_equal(names, "key,");
}

/* The natural order streams: the store walk is told to stop at the limit. */
static void test_stream_stops_at_limit(void **state)
{
	struct listing_order o = {&fields[0], 0, 3};
	struct sink s = {.fail_at = -1};
	struct listing l;

	(void)state;
	listing_init(&l, &o, emit, item_drop, &s);
	assert_int_equal(l.holding, 0);
	assert_int_equal(listing_add(&l, item_new(1, 0)), 0);
	assert_int_equal(s.n, 1); /* emitted at once */
	assert_int_equal(listing_add(&l, item_new(2, 1)), 0);
	assert_int_equal(listing_add(&l, item_new(3, 2)), LISTING_STOP);
	assert_int_equal(listing_end(&l, LISTING_STOP), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(live, 0);
}

/* Every order, with and without limits, against a stable sort. */
static void test_orders_against_stable_sort(void **state)
{
	int keys[200];
	struct item want[200];
	const int limits[] = {0, 1, 2, 7, 199, 200, 500};

	(void)state;
	srand(7);
	for (int i = 0; i < 200; i++)
		keys[i] = rand() % 13; /* many ties */
	for (int f = 0; f < 2; f++) {
		for (int desc = 0; desc < 2; desc++) {
			for (size_t k = 0; k < sizeof(limits) / sizeof(limits[0]); k++) {
				struct listing_order o = {&fields[f], desc, (size_t)limits[k]};
				struct sink s = {.fail_at = -1};
				int n = expect(keys, 200, desc, limits[k], want);

				if (f == 0 && !desc) /* natural: arrives sorted, streams */
					continue;
				assert_int_equal(run(&o, keys, 200, &s), 0);
				assert_items(&s, want, n);
				assert_int_equal(live, 0);
			}
		}
	}
}

/* A field the store yields in descending order (jobs: newest first)
 * streams when asked descending, and is held when asked ascending. */
static void test_natural_descending(void **state)
{
	static const struct listing_field desc_fields[] = {{"key", cmp_key, -1}, {NULL, NULL, 0}};
	struct listing_order o = {&desc_fields[0], 1, 0};
	struct listing l;
	struct sink s = {.fail_at = -1};

	(void)state;
	listing_init(&l, &o, emit, item_drop, &s);
	assert_int_equal(l.holding, 0);
	listing_end(&l, 0);
	o.desc = 0;
	listing_init(&l, &o, emit, item_drop, &s);
	assert_int_equal(l.holding, 1);
	listing_end(&l, 0);
	o.field = NULL; /* no --sort: the store's order */
	listing_init(&l, &o, emit, item_drop, &s);
	assert_int_equal(l.holding, 0);
	listing_end(&l, 0);
}

/* An emit that fails stops the listing; the items not emitted are freed. */
static void test_emit_failure_frees_the_rest(void **state)
{
	int keys[50];
	struct listing_order o = {&fields[1], 1, 0};
	struct sink s = {.fail_at = 4};

	(void)state;
	for (int i = 0; i < 50; i++)
		keys[i] = i % 9;
	assert_int_equal(run(&o, keys, 50, &s), SDB_EIO);
	assert_int_equal(s.n, 4);
	assert_int_equal(live, 0);
	/* and a walk that failed (a store error) emits nothing held */
	struct sink s2 = {.fail_at = -1};
	struct listing l;
	listing_init(&l, &o, emit, item_drop, &s2);
	listing_add(&l, item_new(1, 0));
	assert_int_equal(listing_end(&l, SDB_EDB), SDB_EDB);
	assert_int_equal(s2.n, 0);
	assert_int_equal(live, 0);
}

/* strset_count: each value's hits, across the rehashes of 1,000 values. */
static void test_strset_counts(void **state)
{
	struct strset set;
	char v[32];
	size_t total = 0, found = 0;

	(void)state;
	strset_init(&set);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 1000; i++) {
			snprintf(v, sizeof(v), "value-%d", i);
			if (i % 2 == 0 || round == 0)
				assert_int_equal(strset_count(&set, v), round == 0 ? 1 : 0);
		}
	}
	assert_int_equal(set.n, 1000);
	for (size_t i = 0; i < set.cap; i++) {
		int k;

		if (!set.slot[i])
			continue;
		found++;
		total += set.hits[i];
		assert_int_equal(sscanf(set.slot[i], "value-%d", &k), 1);
		assert_int_equal(set.hits[i], k % 2 == 0 ? 3 : 1);
	}
	assert_int_equal(found, 1000);
	assert_int_equal(total, 500 * 3 + 500);
	/* strset_add does not count */
	assert_int_equal(strset_add(&set, "value-1"), 0);
	assert_int_equal(strset_add(&set, "new"), 1);
	strset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_stream_stops_at_limit),
	    cmocka_unit_test(test_orders_against_stable_sort),
	    cmocka_unit_test(test_natural_descending),
	    cmocka_unit_test(test_emit_failure_frees_the_rest),
	    cmocka_unit_test(test_strset_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
