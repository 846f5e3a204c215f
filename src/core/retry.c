/*
 * retry.c - the wait between retries: exponential backoff with jitter,
 * capped (see retry.h).
 */
#include "core/retry.h"

#include <stdlib.h>
#include <time.h>

/* No wait is longer than an hour (plus its jitter): no overflow either. */
#define RETRY_MAX_US 3600000000LL

long retry_delay_us(const struct retry_backoff *b, int n, long rnd)
{
	int shift = n < 0 ? 0 : n;
	int cap = b->max_doublings < 0 ? 0 : b->max_doublings > 30 ? 30 : b->max_doublings;
	int pct = b->jitter_pct < 0 ? 0 : b->jitter_pct > 100 ? 100 : b->jitter_pct;
	long long base = b->first_us > 0 ? b->first_us : 0, jitter;

	if (base > RETRY_MAX_US)
		base = RETRY_MAX_US;
	base <<= shift < cap ? shift : cap;
	if (base > RETRY_MAX_US)
		base = RETRY_MAX_US;
	/* up to pct% of it, the bound included */
	jitter = base * pct / 100;
	if (rnd < 0)
		rnd = -(rnd + 1);
	return (long)(base + (long long)rnd % (jitter + 1));
}

void retry_sleep(const struct retry_backoff *b, int n)
{
	long us = retry_delay_us(b, n, rand());
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}
