/*
 * export.c - the `export` use case (see export.h): load the job and its
 * run scripts, then hand each host of the store's walk to the writer and
 * count what it wrote.  Holds no host past its callback.
 */
#include "app/export.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

struct export_walk {
	const struct export_writer *w;
	void *ctx;
	struct export_totals t;
};

/* store_hosts_each() callback: write one host, count it, free it. */
static int on_host(void *ctx, struct store_host *h)
{
	struct export_walk *x = ctx;
	int r = x->w->host(x->ctx, h);

	x->t.hosts++;
	if (h->status && strcmp(h->status, "up") == 0)
		x->t.up++;
	else if (h->status && strcmp(h->status, "down") == 0)
		x->t.down++;
	for (size_t i = 0; i < h->nports; i++)
		if (h->ports[i].state && strcmp(h->ports[i].state, "open") == 0)
			x->t.ports_open++;
	store_host_free(h);
	return r;
}

/* Does f select fewer hosts than all of them? */
static int is_filtered(const struct store_host_filter *f)
{
	return f->addr || f->port >= 0 || f->protocol != REC_PROTO_ANY || f->service ||
	       f->status != REC_HOST_ANY || f->has_net || f->changed_since || f->new_since;
}

int app_export_run(struct store *st, int64_t job_id, const struct store_host_filter *f, int64_t now,
                   const struct export_writer *w, void *ctx)
{
	struct store_host_filter hf = *f;
	struct export_walk x = {w, ctx, {0, 0, 0, 0}};
	struct export_run run;
	struct store_job *job = NULL;
	struct store_script *pre = NULL, *post = NULL;
	size_t npre = 0, npost = 0;
	char what[48];
	int r;

	memset(&run, 0, sizeof(run));
	if (job_id > 0) {
		if ((r = store_job_get(st, job_id, &job)) == SDB_ENOTFOUND)
			return store_set_error(st, r, "no job %" PRId64 " in the database", job_id);
		if (r == 0)
			r = store_run_scripts(st, job_id, 0, &pre, &npre);
		if (r == 0)
			r = store_run_scripts(st, job_id, 1, &post, &npost);
		if (r != 0)
			goto out;
		snprintf(what, sizeof(what), "job %" PRId64, job_id);
	} else {
		snprintf(what, sizeof(what), "the current state");
	}
	run.job = job;
	run.prescripts = pre;
	run.nprescripts = npre;
	run.postscripts = post;
	run.npostscripts = npost;
	run.now = now;
	run.filtered = is_filtered(f);
	run.what = what;
	hf.job_id = job_id;
	if ((r = w->begin(ctx, &run)) == 0 && (r = store_hosts_each(st, &hf, on_host, &x)) == 0)
		r = w->end(ctx, &run, &x.t);
out:
	store_scripts_free(pre, npre);
	store_scripts_free(post, npost);
	store_job_free(job);
	return r;
}
