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
	h->v[h->n++] = (struct rm_host){host_id, a, stored};
	return 0;
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
	int r;

	if ((r = store_job_rm_hosts(st, job_id, on_rm_host, &h)) != 0)
		goto out;
	for (size_t i = 0; i < h.n && r == 0; i++) {
		struct ev_host state;

		ev_host_init(&state);
		state.stored = h.v[i].stored;
		r = late_add(&q, &lj, h.v[i].id, h.v[i].addr, 0, &state);
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
