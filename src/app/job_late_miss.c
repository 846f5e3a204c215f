/*
 * job_late_miss.c - the misses of the job writer's gone rule
 * (history/events.h, ev_miss), part of the job writer (job_writer_int.h):
 * the jobs' target ranges as read for it (late_covers), and a host's list
 * of stored scans with the scans that covered it without listing it merged
 * in, in scan-time order (late_misses_merge), which job_late.c derives.
 */
#include "app/job_writer_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/vec.h"

int late_covers_add(struct late_covers *c, int64_t job_id, int64_t at, const struct addr_range *r)
{
	if (VEC_RESERVE(c->v, c->cap, c->n + 1, 64))
		return SDB_ENOMEM;
	c->v[c->n++] = (struct late_cover){job_id, at, *r};
	return 0;
}

struct load_ctx {
	struct late_covers *c;
	int64_t except;
};

static int load_cb(void *ctx, int64_t job_id, int64_t at, const struct addr_range *r)
{
	struct load_ctx *x = ctx;

	return job_id == x->except ? 0 : late_covers_add(x->c, job_id, at, r);
}

int late_covers_load(struct store *st, int64_t except, struct late_covers *c)
{
	struct load_ctx x = {c, except};

	return store_job_targets_each(st, load_cb, &x);
}

void late_covers_free(struct late_covers *c)
{
	free(c->v);
	c->v = NULL;
	c->n = c->cap = 0;
}

int late_key_cmp(const struct store_scan_key *a, const struct store_scan_key *b)
{
	if (a->at != b->at)
		return a->at < b->at ? -1 : 1;
	return (a->job_id > b->job_id) - (a->job_id < b->job_id);
}

static int key_qcmp(const void *a, const void *b)
{
	return late_key_cmp(a, b);
}

static int listed_job(const struct store_scan_key *s, size_t n, int64_t job_id)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].job_id == job_id)
			return 1;
	return 0;
}

/* The misses of the host: the ranges of c holding key, of jobs that did not
 * list it, after s[0] and (the list stopping short) up to s[n - 1]. */
static int misses_of(const struct store_scan_key *s, size_t n, int64_t host_id,
                     const unsigned char key[16], const struct late_covers *c, int complete,
                     struct store_scan_key **out, size_t *nout)
{
	struct store_scan_key *m = NULL;
	size_t nm = 0, cap = 0;

	for (size_t i = 0; i < c->n && n; i++) {
		const struct late_cover *cv = &c->v[i];
		struct store_scan_key k = {host_id, cv->job_id, cv->at, 0, 1};

		if (memcmp(key, cv->r.lo, 16) < 0 || memcmp(key, cv->r.hi, 16) > 0 ||
		    late_key_cmp(&k, &s[0]) <= 0 ||
		    (!complete && late_key_cmp(&k, &s[n - 1]) > 0) || listed_job(s, n, cv->job_id))
			continue;
		if (VEC_RESERVE(m, cap, nm + 1, 8)) {
			free(m);
			return SDB_ENOMEM;
		}
		m[nm++] = k;
	}
	if (nm > 1)
		qsort(m, nm, sizeof(*m), key_qcmp);
	*out = m;
	*nout = nm;
	return 0;
}

int late_misses_merge(struct store_scan_key **scans, size_t *n, size_t *cap, int64_t host_id,
                      const unsigned char key[16], const struct late_covers *c, int complete)
{
	struct store_scan_key *m, *all, *s = *scans;
	size_t nm, a = 0, k = 0;
	int r;

	if ((r = misses_of(s, *n, host_id, key, c, complete, &m, &nm)) != 0 || nm == 0)
		return r;
	if (!(all = calloc(*n + nm, sizeof(*all)))) {
		free(m);
		return SDB_ENOMEM;
	}
	for (size_t o = 0; o < *n + nm; o++)
		all[o] = k >= nm || (a < *n && late_key_cmp(&s[a], &m[k]) <= 0) ? s[a++] : m[k++];
	free(m);
	free(s);
	*scans = all;
	*n += nm;
	*cap = *n;
	return 0;
}
