/*
 * retry.h - the one backoff between retries: the wait before retry n (n = 0
 * for the first) is `first_us` doubled n times, at most `max_doublings`
 * times (and never past an hour), plus a random jitter of up to `jitter_pct`
 * percent of it, so that competing retriers do not go in lock-step.  How often to retry, and what
 * is worth retrying, is the caller's: this only waits.  (A poll-wait on a
 * fixed tick, e.g. core/proc.c waiting for a child, is not a backoff.)
 */
#ifndef SDB_CORE_RETRY_H
#define SDB_CORE_RETRY_H

struct retry_backoff {
	long first_us;     /* the wait before the first retry, without jitter */
	int max_doublings; /* the wait stops growing here (0 .. 30) */
	int jitter_pct;    /* up to this percent of the wait is added (0 .. 100) */
};

/* The wait before retry n, in microseconds, with `rnd` (any non-negative
 * number, e.g. rand()) choosing the jitter.  Pure. */
long retry_delay_us(const struct retry_backoff *b, int n, long rnd);

/* Sleep that long (one nanosleep: a signal cuts it short, so an interrupted
 * command ends at once).  Jitter from rand(). */
void retry_sleep(const struct retry_backoff *b, int n);

#endif
