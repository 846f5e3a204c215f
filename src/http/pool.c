/*
 * pool.c - the database connections of `scandb serve` (http_int.h): at
 * most `max`, opened when first needed and kept; a request takes an idle
 * one or opens one, else waits up to the acquire timeout (then 503 with
 * Retry-After).  Each connection serves one request at a time (SQLite: a
 * connection per request thread, WAL readers in parallel; PostgreSQL: its
 * own libpq connection, which reconnects itself after a restart).
 */
#include "http/http_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/timeutil.h"

int http_pool_init(struct http_pool *p, const char *target, int max, double acquire_timeout)
{
	pthread_condattr_t ca;

	memset(p, 0, sizeof(*p));
	p->busy_at = -1e9;
	p->target = target;
	p->max = max;
	p->acquire_timeout = acquire_timeout;
	if (!(p->idle = calloc((size_t)max, sizeof(*p->idle))))
		return -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

/* Open a new connection (p->open already counts it; undone on failure). */
static struct store *open_one(struct http_pool *p, char *msg, size_t len)
{
	struct store *st = NULL;

	if (store_open_mode(p->target, 0, &st, msg, len) != 0) {
		pthread_mutex_lock(&p->mu);
		p->open--;
		p->in_use--;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	return st;
}

struct store *http_pool_acquire(struct http_pool *p, int *busy, char *msg, size_t len)
{
	struct timespec until;
	double t0 = time_mono(), frac;
	struct store *st = NULL;
	int rc = 0;

	*busy = 0;
	clock_gettime(CLOCK_MONOTONIC, &until);
	frac = p->acquire_timeout - floor(p->acquire_timeout);
	until.tv_sec += (time_t)p->acquire_timeout;
	until.tv_nsec += (long)(frac * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->mu);
	p->waiting++;
	while (p->nidle == 0 && p->open >= p->max && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
	p->waiting--;
	p->wait_seconds_total += time_mono() - t0;
	if (p->nidle > 0) {
		st = p->idle[--p->nidle];
		p->in_use++;
	} else if (p->open < p->max) {
		p->open++;
		p->in_use++;
	} else {
		p->timeouts++;
		*busy = 1;
		snprintf(msg, len, "all %d database connections are in use", p->max);
		pthread_mutex_unlock(&p->mu);
		return NULL;
	}
	if (p->in_use * 5 > p->max * 4)
		p->busy_at = time_mono();
	pthread_mutex_unlock(&p->mu);
	return st ? st : open_one(p, msg, len);
}

void http_pool_release(struct http_pool *p, struct store *st)
{
	if (!st)
		return;
	pthread_mutex_lock(&p->mu);
	p->idle[p->nidle++] = st;
	p->in_use--;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

void http_pool_stats(struct http_pool *p, struct http_pool_stats *out)
{
	pthread_mutex_lock(&p->mu);
	out->max = p->max;
	out->open = p->open;
	out->in_use = p->in_use;
	out->idle = (int)p->nidle;
	out->waiting = p->waiting;
	out->wait_seconds_total = p->wait_seconds_total;
	out->busy_at = p->busy_at;
	pthread_mutex_unlock(&p->mu);
}

void http_pool_free(struct http_pool *p)
{
	for (size_t i = 0; i < p->nidle; i++)
		store_close(p->idle[i]);
	free(p->idle);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}
