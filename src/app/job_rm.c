/*
 * job_rm.c - `job rm` (job_rm.h): count what removing a job touches, or
 * remove it.  The removal is one transaction: the job's hosts (those
 * another job saw too) are queued to the late-scan derivation in its
 * remove mode (job_late.c, struct late_job.remove: their history derived
 * again from their first scan without this job's), their current fields
 * folded again from their other scans (store_job_rm_refold), then the
 * hosts only this job saw and the job itself are deleted (foreign-key
 * cascades take its rows and events).
 */
#include "app/job_rm.h"

#include <stdlib.h>
#include <string.h>

#include "app/findings.h"
#include "app/job_retry.h"
#include "app/job_writer_int.h"
#include "core/error.h"
#include "core/retry.h"
#include "core/vec.h"
#include "history/findings.h"

/* How often a removal lost to a transient failure is tried in all. */
#define JOB_RM_ATTEMPTS 5

struct rm_host {
	int64_t id;
	char *addr;
	int stored;
	int miss; /* the job covered it without listing it (gone rule) */
};

struct rm_hosts {
	struct rm_host *v;
	size_t n, cap;
};

static int on_rm_host(void *ctx, int64_t host_id, const char *addr, int stored)
{
	struct rm_hosts *h = ctx;
	char *a = strdup(addr);

	if (!a || VEC_RESERVE(h->v, h->cap, h->n + 1, 256)) {
		free(a);
		return SDB_ENOMEM;
	}
	h->v[h->n++] = (struct rm_host){host_id, a, stored, 0};
	return 0;
}

/* The job's target ranges (store_job_targets_each walks every job's). */
struct rm_ranges {
	int64_t job_id, at;
	struct targets *t;
};

static int on_rm_range(void *ctx, int64_t job_id, int64_t at, const struct addr_range *r)
{
	struct rm_ranges *x = ctx;
	struct targets *t = x->t;

	if (job_id != x->job_id)
		return 0;
	if (VEC_RESERVE(t->v, t->cap, t->n + 1, 8))
		return SDB_ENOMEM;
	x->at = at;
	t->v[t->n++] = *r;
	return 0;
}

static int on_rm_missed(void *ctx, int64_t host_id, const char *addr, const struct ev_host *eh)
{
	struct rm_hosts *h = ctx;
	int r = on_rm_host(ctx, host_id, addr, eh->stored);

	if (r == 0)
		h->v[h->n - 1].miss = 1;
	return r;
}

/* The hosts the job covered without listing them: their misses (the gone
 * rule) are derived again without it too.  Appended to *h; the job's
 * ranges into lj->targets (*t) and its time, at which its misses stand,
 * into lj->at: the derivation finds the job's miss among a host's scans
 * there, and leaves it out (remove mode). */
static int rm_missed_hosts(struct store *st, struct late_job *lj, struct targets *t,
                           struct rm_hosts *h)
{
	struct rm_ranges x = {.job_id = lj->job_id, .t = t};
	int r = store_job_targets_each(st, on_rm_range, &x);

	for (size_t i = 0; i < t->n && r == 0; i++) {
		struct addr_range rg = t->v[i];
		size_t before;

		do { /* a page at a time, as the job writer reads them */
			before = h->n;
			r = store_hosts_missed(st, lj->job_id, &rg, STORE_MISSED_PAGE, on_rm_missed,
			                       h);
		} while (r == 0 && h->n - before == STORE_MISSED_PAGE &&
		         addr_range_after(&rg, h->v[h->n - 1].addr));
	}
	lj->at = x.at;
	lj->targets = t;
	return r;
}

static void rm_hosts_free(struct rm_hosts *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].addr);
	free(h->v);
}

/* A job that may still be writing is not removed. */
static int rm_check_job(struct store *st, int64_t job_id)
{
	struct store_job *j = NULL;
	int r, busy;

	if ((r = store_job_get(st, job_id, &j)) != 0)
		return r == SDB_ENOTFOUND ? store_set_error(st, r, "no job %lld", (long long)job_id)
		                          : r;
	busy = strcmp(j->status, "running") == 0 || strcmp(j->status, "queued") == 0;
	if (busy)
		store_set_error(st, SDB_EBUSY,
		                "job %lld is %s: it cannot be removed while it may still write"
		                " (a job whose process is gone is recorded failed by"
		                " `scandb doctor --fix`)",
		                (long long)job_id, j->status);
	store_job_free(j);
	return busy ? SDB_EBUSY : 0;
}

/* Inside the transaction: the history of the job's hosts without it. */
static int rm_in_tx(struct store *st, int64_t job_id, const struct findings_rules *rules)
{
	struct late_job lj = {.st = st, .job_id = job_id, .rules = rules, .remove = 1};
	struct late_queue q = {0};
	struct rm_hosts h = {0};
	struct targets t = {0};
	int r;

	if ((r = store_job_rm_hosts(st, job_id, on_rm_host, &h)) != 0 ||
	    (r = rm_missed_hosts(st, &lj, &t, &h)) != 0)
		goto out;
	for (size_t i = 0; i < h.n && r == 0; i++) {
		struct ev_host state;

		ev_host_init(&state);
		state.stored = h.v[i].stored;
		r = late_add(&q, &lj, h.v[i].id, h.v[i].addr, h.v[i].miss ? lj.at : 0, h.v[i].miss,
		             &state);
		ev_host_free(&state);
	}
	if (r == 0)
		r = late_run(&q, &lj);
	if (r == 0)
		r = store_job_rm_refold(st, job_id);
	if (r == 0)
		r = store_job_rm_delete(st, job_id, NULL);
out:
	late_queue_free(&q);
	rm_hosts_free(&h);
	targets_free(&t);
	return r;
}

/* One attempt: the whole removal in one transaction, or nothing. */
static int rm_once(struct store *st, int64_t job_id, int dry_run,
                   const struct findings_rules *rules, struct store_job_rm_count *out)
{
	int r;

	if ((r = store_tx_begin(st)) != 0)
		return r;
	if ((r = rm_check_job(st, job_id)) == 0 && (r = store_job_rm_count(st, job_id, out)) == 0 &&
	    !dry_run)
		r = rm_in_tx(st, job_id, rules);
	if (r == 0 && !dry_run)
		r = store_tx_commit(st);
	else
		store_tx_rollback(st);
	return r;
}

int app_job_rm(struct store *st, int64_t job_id, int dry_run, struct store_job_rm_count *out)
{
	struct findings_rules *rules = NULL;
	char err[512] = "";
	int r;

	if (!dry_run && (r = findings_rules_load(&rules, err, sizeof(err))) != 0)
		return store_set_error(st, r, "%s", err[0] ? err : "could not load finding rules");
	/* a transaction lost to a transient failure (PostgreSQL) left nothing:
	 * tried again whole, as an import is (job_retry.h) */
	for (int attempt = 1;; attempt++) {
		r = rm_once(st, job_id, dry_run, rules, out);
		if (r != SDB_ETRANSIENT || attempt >= JOB_RM_ATTEMPTS)
			break;
		retry_sleep(&app_job_retry, attempt - 1);
	}
	findings_rules_free(rules);
	return r;
}
