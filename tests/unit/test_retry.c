/*
 * test_retry.c - unit tests of src/core/retry.c, the one backoff between
 * retries: the wait doubles from its first value up to its cap, the jitter
 * stays within its percent (its bound included), odd inputs stay bounded,
 * and retry_sleep sleeps that long.  The policies are the ones scandb uses
 * (the store's, and app/'s whole-job retry).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>

#include "core/retry.h"
#include "core/timeutil.h"

/* store.c's: 2 ms doubling to ~1 s, plus up to 100% */
static const struct retry_backoff store_like = {2000, 9, 100};
/* app/job_retry.c's app_job_retry: 0.5, 1, 2, 4 s, plus up to 50% */
static const struct retry_backoff job_like = {500000, 3, 50};

static void doubles_up_to_its_cap(void **state)
{
	(void)state;
	for (int n = 0; n <= 12; n++) {
		long base = 2000L << (n < 9 ? n : 9);
		assert_int_equal(retry_delay_us(&store_like, n, 0), base);
	}
	assert_int_equal(retry_delay_us(&job_like, 0, 0), 500000);
	assert_int_equal(retry_delay_us(&job_like, 1, 0), 1000000);
	assert_int_equal(retry_delay_us(&job_like, 2, 0), 2000000);
	assert_int_equal(retry_delay_us(&job_like, 3, 0), 4000000);
	assert_int_equal(retry_delay_us(&job_like, 4, 0), 4000000);
	assert_int_equal(retry_delay_us(&job_like, 1000, 0), 4000000);
}

static void jitter_within_its_percent(void **state)
{
	(void)state;
	/* 100%: up to the wait itself, the bound included */
	assert_int_equal(retry_delay_us(&store_like, 0, 2000), 4000);
	assert_int_equal(retry_delay_us(&store_like, 0, 2001), 2000);
	assert_int_equal(retry_delay_us(&store_like, 0, 1999), 3999);
	/* 50% */
	assert_int_equal(retry_delay_us(&job_like, 2, 1000000), 3000000);
	assert_int_equal(retry_delay_us(&job_like, 2, 1000001), 2000000);
	for (long r = 0; r < 100000; r += 997) {
		long d = retry_delay_us(&job_like, 1, r * 12345);
		assert_in_range(d, 1000000, 1500000);
		d = retry_delay_us(&store_like, 9, r * 54321);
		assert_in_range(d, 1024000, 2048000);
	}
	/* no jitter asked: none */
	{
		struct retry_backoff b = {1000, 2, 0};
		assert_int_equal(retry_delay_us(&b, 5, 123456), 4000);
	}
}

static void odd_input_stays_bounded(void **state)
{
	struct retry_backoff huge = {LONG_MAX, 1000, 1000}, neg = {-5, -1, -1};

	(void)state;
	/* n < 0 is the first retry; a negative rnd still lands in range */
	assert_int_equal(retry_delay_us(&job_like, -3, 0), 500000);
	assert_in_range(retry_delay_us(&job_like, 0, -1), 500000, 750000);
	assert_in_range(retry_delay_us(&job_like, 0, LONG_MIN), 500000, 750000);
	/* an hour at most, plus at most all of it as jitter */
	assert_int_equal(retry_delay_us(&huge, 40, 0), 3600000000L);
	assert_in_range(retry_delay_us(&huge, 40, LONG_MAX), 3600000000L, 7200000000L);
	assert_int_equal(retry_delay_us(&neg, 3, 77), 0);
}

static void sleeps_that_long(void **state)
{
	struct retry_backoff b = {20000, 1, 0};
	double t0 = time_mono();

	(void)state;
	retry_sleep(&b, 1); /* 40 ms */
	assert_true(time_mono() - t0 >= 0.039);
	assert_true(time_mono() - t0 < 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(doubles_up_to_its_cap),
	    cmocka_unit_test(jitter_within_its_percent),
	    cmocka_unit_test(odd_input_stays_bounded),
	    cmocka_unit_test(sleeps_that_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
