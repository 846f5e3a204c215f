/*
 * job_writer.c - stores one job's records in one transaction (see
 * job_writer.h for the state machine).  Owns: the order of writes, the
 * job's summary (counts, probed scope, times) and the final status.  Does
 * not own: SQL (the backend's) or parsing (the source's).
 */
#include "store/job_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "store/store_int.h"

enum writer_state { W_NEW = 0, W_OPEN, W_DONE };

struct job_writer {
	struct store *st;
	struct ingest_sink sink;
	enum writer_state state;
	int64_t job_id;
	int64_t created_at;
	/* from the source */
	char *scanner, *version, *args;
	int64_t run_start;
	struct portlist scope[REC_PROTO__COUNT];
	int have_scope[REC_PROTO__COUNT];
	int have_runstats;
	int64_t run_end;
	double elapsed;
	long rs_up, rs_down, rs_total;
	struct job_writer_stats stats;
};

const char *job_writer_hostname(void)
{
	static char name[256];

	if (!name[0] && gethostname(name, sizeof(name) - 1) != 0)
		snprintf(name, sizeof(name), "localhost");
	return name;
}

const char *job_writer_worker_id(void)
{
	static char id[300];

	if (!id[0])
		snprintf(id, sizeof(id), "%s:%ld", job_writer_hostname(), (long)getpid());
	return id;
}

static int replace_str(char **dst, const char *src)
{
	char *c = NULL;

	if (src && !(c = strdup(src)))
		return SDB_ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static int on_run_begin(void *ctx, const struct rec_run *run)
{
	struct job_writer *w = ctx;
	int r;

	if ((r = replace_str(&w->scanner, run->scanner)) != 0 ||
	    (r = replace_str(&w->version, run->version)) != 0 ||
	    (r = replace_str(&w->args, run->args)) != 0)
		return r;
	w->run_start = run->start;
	return 0;
}

static int on_scaninfo(void *ctx, const struct rec_scaninfo *si)
{
	struct job_writer *w = ctx;
	struct portlist pl;
	int r;

	if ((unsigned)si->proto >= REC_PROTO__COUNT || !si->services)
		return 0;
	if (portlist_parse(si->services, &pl) != 0)
		return store__set_err(w->st, SDB_EPARSE,
		                      "scaninfo services '%.64s' is not a port list", si->services);
	r = portlist_merge(&w->scope[si->proto], &pl);
	portlist_free(&pl);
	w->have_scope[si->proto] = 1;
	return r;
}

/* The time a host was seen: its own start time, else the run's, else now. */
static int64_t host_time(const struct job_writer *w, const struct rec_host *h)
{
	if (h->starttime > 0)
		return h->starttime;
	if (w->run_start > 0)
		return w->run_start;
	return w->created_at;
}

static int on_host(void *ctx, const struct rec_host *h)
{
	struct job_writer *w = ctx;
	struct store *st = w->st;
	int64_t host_id, seen = host_time(w, h);
	int r;

	if ((r = store_host_upsert(st, w->job_id, seen, h, &host_id)) != 0)
		return r;
	if ((r = store_host_scan_insert(st, w->job_id, host_id, seen, h)) != 0)
		return r;
	for (size_t i = 0; i < h->nports; i++) {
		const struct rec_port *p = &h->ports[i];
		if ((r = store_port_insert(st, w->job_id, host_id, p)) != 0)
			return r;
		for (size_t k = 0; k < p->nscripts; k++)
			if ((r = store_script_insert(st, w->job_id, host_id, p, &p->scripts[k])) !=
			    0)
				return r;
		w->stats.ports_open += p->state == REC_PORT_OPEN;
	}
	for (size_t i = 0; i < h->nextraports; i++)
		if ((r = store_extraports_insert(st, w->job_id, host_id, &h->extraports[i])) != 0)
			return r;
	for (size_t i = 0; i < h->nscripts; i++)
		if ((r = store_script_insert(st, w->job_id, host_id, NULL, &h->scripts[i])) != 0)
			return r;
	w->stats.hosts++;
	w->stats.hosts_up += h->status == REC_HOST_UP;
	w->stats.ports += (long)h->nports;
	return 0;
}

static int on_run_end(void *ctx, const struct rec_runstats *rs)
{
	struct job_writer *w = ctx;

	w->have_runstats = 1;
	w->run_end = rs->end;
	w->elapsed = rs->elapsed;
	w->rs_up = rs->hosts_up;
	w->rs_down = rs->hosts_down;
	w->rs_total = rs->hosts_total;
	return 0;
}

int job_writer_begin(struct store *st, const struct job_writer_opts *o, struct job_writer **out)
{
	struct job_writer *w;
	int r;

	*out = NULL;
	if (!st || !o || !o->source)
		return SDB_EUSAGE;
	if (!(w = calloc(1, sizeof(*w))))
		return SDB_ENOMEM;
	w->st = st;
	w->created_at = time_now();
	w->elapsed = -1;
	w->rs_up = w->rs_down = w->rs_total = -1;
	w->sink = (struct ingest_sink){
	    .ctx = w,
	    .run_begin = on_run_begin,
	    .scaninfo = on_scaninfo,
	    .host = on_host,
	    .run_end = on_run_end,
	};
	if ((r = replace_str(&w->args, o->args)) != 0)
		goto fail;
	if ((r = store_tx_begin(st)) != 0)
		goto fail;
	if (o->existing_job_id > 0) {
		w->job_id = o->existing_job_id;
	} else {
		struct store_job_new j = {
		    .kind = o->kind,
		    .status = STORE_JOB_RUNNING,
		    .source = o->source,
		    .args = o->args,
		    .worker_id = job_writer_worker_id(),
		    .created_at = w->created_at,
		    .timeout_at = 0,
		    .forced = o->forced,
		};
		if ((r = store_job_insert(st, &j, &w->job_id)) != 0) {
			store_tx_rollback(st);
			goto fail;
		}
	}
	w->state = W_OPEN;
	*out = w;
	return 0;
fail:
	job_writer_free(w);
	return r;
}

const struct ingest_sink *job_writer_sink(struct job_writer *w)
{
	return &w->sink;
}

int64_t job_writer_job_id(const struct job_writer *w)
{
	return w->job_id;
}

void job_writer_stats(const struct job_writer *w, struct job_writer_stats *out)
{
	*out = w->stats;
}

/* "tcp:1-1000;udp:53" from the scaninfo records; NULL if none. */
static int format_scope(const struct job_writer *w, char **out)
{
	struct buf b;
	int r = 0;

	*out = NULL;
	buf_init(&b, (size_t)1 << 24);
	for (int p = 0; p < REC_PROTO__COUNT; p++) {
		char *s;
		if (!w->have_scope[p])
			continue;
		if (!(s = portlist_format(&w->scope[p]))) {
			r = SDB_ENOMEM;
			break;
		}
		r = buf_printf(&b, "%s%s:%s", b.len ? ";" : "", rec_proto_name((enum rec_proto)p),
		               s);
		free(s);
		if (r)
			break;
	}
	if (r == 0 && b.len)
		*out = buf_steal(&b);
	buf_free(&b);
	return r;
}

int job_writer_commit(struct job_writer *w, const char *content_hash, int64_t *existing_id)
{
	struct store_job_final f;
	char *scope = NULL;
	int r;

	if (!w || w->state != W_OPEN)
		return SDB_EUSAGE;
	if ((r = format_scope(w, &scope)) != 0)
		goto fail;
	memset(&f, 0, sizeof(f));
	f.status = STORE_JOB_COMPLETED;
	f.scanner = w->scanner;
	f.scanner_version = w->version;
	f.args = w->args;
	f.content_hash = content_hash;
	f.probed_scope = scope;
	f.started_at = w->run_start > 0 ? w->run_start : w->created_at;
	f.completed_at = w->run_end > 0 ? w->run_end : time_now();
	if (f.completed_at < f.started_at)
		f.completed_at = f.started_at;
	f.elapsed = w->elapsed;
	f.hosts_up = w->rs_up >= 0 ? w->rs_up : w->stats.hosts_up;
	f.hosts_down = w->rs_down >= 0 ? w->rs_down : w->stats.hosts - w->stats.hosts_up;
	f.hosts_total = w->rs_total >= 0 ? w->rs_total : w->stats.hosts;
	f.ports_open = w->stats.ports_open;
	if ((r = store_job_finish(w->st, w->job_id, &f, existing_id)) != 0)
		goto fail;
	if ((r = store_tx_commit(w->st)) != 0)
		goto fail;
	w->state = W_DONE;
	free(scope);
	return 0;
fail:
	free(scope);
	job_writer_abort(w);
	return r;
}

void job_writer_abort(struct job_writer *w)
{
	if (w && w->state == W_OPEN) {
		store_tx_rollback(w->st);
		w->state = W_DONE;
	}
}

void job_writer_free(struct job_writer *w)
{
	if (!w)
		return;
	job_writer_abort(w);
	for (int p = 0; p < REC_PROTO__COUNT; p++)
		portlist_free(&w->scope[p]);
	free(w->scanner);
	free(w->version);
	free(w->args);
	free(w);
}
