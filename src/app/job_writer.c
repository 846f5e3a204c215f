/*
 * job_writer.c - stores one job's records in one transaction (see
 * job_writer.h for the state machine).  Holds: the writer (begin, commit,
 * abort, the nmap-failed commit), its sink (one callback per record: the
 * order of writes, the job's summary - counts, probed scope, times - and
 * the hosts listed twice), and the event collector its callbacks and the
 * late scans share (struct emit_ctx, job_writer_int.h).  Not here: late
 * scans (job_late.c), the checkpoint document (checkpoint.c), SQL (the
 * backend's), parsing (the source's).  It lives in src/app/ because it
 * combines the records, the history rules (events, findings) and the
 * store; it reports its errors through the store handle
 * (store_set_error), so that store_errmsg() says them.
 */
#include "app/job_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/checkpoint.h"
#include "app/findings.h"
#include "app/job_writer_int.h"
#include "app/process.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/scope.h"
#include "core/targets.h"
#include "core/timeutil.h"
#include "core/vec.h"
#include "history/events.h"
#include "history/findings.h"

enum writer_state { W_NEW = 0, W_OPEN, W_DONE };

struct job_writer {
	struct store *st;
	struct ingest_sink sink;
	enum writer_state state;
	int64_t job_id;
	int64_t created_at;
	/* from the source */
	char *scanner, *version, *args;
	const char *warning; /* job_writer_opts.warning */
	int64_t run_start;
	struct scan_scope scope;
	int history; /* derive change events (always, but for benchmarks) */
	struct findings_rules *rules;
	uint64_t *seen;   /* Bloom filter of the addresses stored in this job */
	size_t seen_bits; /* its size: SEEN_BITS (tests: SCANDB_TEST_SEEN_BITS) */
	int have_runstats;
	int64_t run_end;
	double elapsed;
	long rs_up, rs_down, rs_total;
	struct job_writer_stats stats;
	int partial;    /* opts.partial: no probed scope */
	int gone_after; /* opts.gone_after */
	/* its target ranges (gone): from opts.target_args, else from nmap's
	 * command line (args); have_targets once read */
	struct targets targets;
	int have_targets;
	char **target_args;
	size_t ntarget_args;
	/* the ranges of the stored jobs (read once, at its first new host):
	 * a host this job creates is late for those after it */
	struct late_covers later;
	int have_later;
	int missed_page; /* STORE_MISSED_PAGE (tests: SCANDB_TEST_MISSED_PAGE) */
	char *source;    /* opts.source, opts.kind ... for commit_nmap_failed */
	enum store_job_kind kind;
	int forced;
	int64_t existing_job_id;
	char *nmap_error;       /* <finished exit="error" errormsg>, when nmap failed */
	struct late_queue late; /* hosts this scan came late for (job_late.c) */
};

static int replace_str(char **dst, const char *src)
{
	char *c = NULL;

	if (src && !(c = strdup(src)))
		return SDB_ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static int read_targets(struct job_writer *w);

static int on_run_begin(void *ctx, const struct rec_run *run)
{
	struct job_writer *w = ctx;
	int r;

	if ((r = replace_str(&w->scanner, run->scanner)) != 0 ||
	    (r = replace_str(&w->version, run->version)) != 0 ||
	    (r = replace_str(&w->args, run->args)) != 0)
		return r;
	w->run_start = run->start;
	return read_targets(w);
}

static int on_scaninfo(void *ctx, const struct rec_scaninfo *si)
{
	struct job_writer *w = ctx;
	int r;

	/* part of a scan: what it did not list says nothing */
	if (w->partial || (unsigned)si->proto >= REC_PROTO__COUNT || !si->services)
		return 0;
	if ((r = scope_add(&w->scope, si->proto, si->services)) == SDB_EPARSE)
		return store_set_error(w->st, SDB_EPARSE,
		                       "scaninfo services '%.64s' is not a port list",
		                       si->services);
	return r;
}

/* ---- hosts listed twice ------------------------------------------------- */

/*
 * nmap lists a host twice when it is given twice; the job keeps the first.
 * "Did this job store ADDR already?" is asked of a Bloom filter of fixed
 * size, so the writer's memory does not grow with the number of hosts (a
 * set of the addresses took ~45 bytes a host: 80 MB for a million).  A miss
 * is certain; a hit - a host listed again, or a false positive (about 1 in
 * 6,000 at a million hosts, 4% at five million) - is settled by the store:
 * the host's scans include this job or not.
 */
#define SEEN_BITS   ((size_t)1 << 25) /* 4 MiB, allocated when the first host comes */
#define SEEN_HASHES 4

static uint64_t seen_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a, then a 64-bit finaliser */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* Add addr to the filter; *maybe = 1 if it may have been there already. */
static int seen_add(struct job_writer *w, const char *addr, int *maybe)
{
	uint64_t h = seen_hash(addr);
	uint32_t a = (uint32_t)h, b = (uint32_t)(h >> 32) | 1u;
	int all = 1;

	if (!w->seen && !(w->seen = calloc(w->seen_bits / 64, sizeof(*w->seen))))
		return SDB_ENOMEM;
	for (uint32_t i = 0; i < SEEN_HASHES; i++) {
		size_t bit = (size_t)(a + i * b) & (w->seen_bits - 1);
		uint64_t m = 1ULL << (bit % 64);

		all &= (w->seen[bit / 64] & m) != 0;
		w->seen[bit / 64] |= m;
	}
	*maybe = all;
	return 0;
}

static int job_has_host_cb(void *ctx, struct store_host *h, const char *probed_scope)
{
	(void)probed_scope;
	*(int *)ctx = 1;
	store_host_free(h);
	return 0;
}

/* Is host `known_id` (0: not in the database) among this job's scans?
 * (Asked only when the filter says the address may be: rarely.) */
static int job_has_host(struct job_writer *w, int64_t known_id, int *has)
{
	struct store_scan_key k = {.host_id = known_id, .job_id = w->job_id};

	*has = 0;
	if (known_id <= 0)
		return 0;
	return store_history_scans(w->st, &k, 1, job_has_host_cb, has);
}

/* The time a host was seen: its own start time, else the run's, else 0 -
 * undated, older than any dated scan (never "now": an undated file must not
 * become the newest view of its hosts). */
static int64_t host_time(const struct job_writer *w, const struct rec_host *h)
{
	if (h->starttime > 0)
		return h->starttime;
	return w->run_start > 0 ? w->run_start : 0;
}

/* ---- change events (history/events.h) ---------------------------------- */

void emit_ctx_clear(struct emit_ctx *ec)
{
	for (size_t i = 0; i < ec->n; i++) {
		if (ec->ev[i].kind == EV_SCRIPT_CHANGED && !ec->own)
			continue; /* borrowed */
		free((char *)ec->ev[i].detail);
		free((char *)ec->ev[i].old_value);
		free((char *)ec->ev[i].new_value);
	}
	ec->n = 0;
}

void emit_ctx_free(struct emit_ctx *ec)
{
	emit_ctx_clear(ec);
	free(ec->ev);
	ec->ev = NULL;
	ec->cap = 0;
}

int emit_event(void *ctx, const struct ev_event *e)
{
	struct emit_ctx *ec = ctx;
	struct ev_event *c;
	int r;

	if (ec->store && (r = store_event_insert(ec->st, ec->host_id, e)) != 0)
		return r;
	if (VEC_RESERVE(ec->ev, ec->cap, ec->n + 1, 16))
		return SDB_ENOMEM;
	c = &ec->ev[ec->n];
	*c = *e;
	if (e->kind == EV_SCRIPT_CHANGED && !ec->own) {
		ec->n++;
		return 0;
	}
	c->detail = sdb_strdup(e->detail);
	c->old_value = sdb_strdup(e->old_value);
	c->new_value = sdb_strdup(e->new_value);
	ec->n++;
	if ((e->detail && !c->detail) || (e->old_value && !c->old_value) ||
	    (e->new_value && !c->new_value))
		return SDB_ENOMEM;
	return 0;
}

/* ---- gone: the job's target ranges and the hosts it missed -------------- */

/* Its misses count: a whole scan (not partial), dated. */
static int misses_count(const struct job_writer *w)
{
	return !w->partial && w->run_start > 0;
}

/* Read the job's target ranges (once the run's command line is known). */
static int read_targets(struct job_writer *w)
{
	int r;

	if (w->have_targets)
		return 0;
	r = w->target_args ? targets_from_argv(w->target_args, w->ntarget_args, &w->targets)
	                   : targets_from_cmdline(w->args, &w->targets);
	if (r != 0)
		return r;
	w->have_targets = 1;
	return 0;
}

/* What the late scans read of this job. */
static struct late_job late_job_of(const struct job_writer *w)
{
	return (struct late_job){.st = w->st,
	                         .job_id = w->job_id,
	                         .scope = &w->scope,
	                         .gone_after = w->gone_after,
	                         .targets = w->have_targets && misses_count(w) ? &w->targets : NULL,
	                         .at = w->run_start,
	                         .rules = w->rules};
}

/* A known host of a range the job did not list. */
struct missed {
	int64_t id;
	char *addr;
	struct ev_host h; /* what ev_miss reads (no ports, no scripts) */
};

struct missed_list {
	struct missed *v;
	size_t n, cap;
};

static int missed_cb(void *ctx, int64_t host_id, const char *addr, const struct ev_host *h)
{
	struct missed_list *m = ctx;

	if (VEC_RESERVE(m->v, m->cap, m->n + 1, 64))
		return SDB_ENOMEM;
	m->v[m->n] = (struct missed){.id = host_id, .addr = strdup(addr ? addr : ""), .h = *h};
	if (!m->v[m->n].addr)
		return SDB_ENOMEM;
	m->n++;
	return 0;
}

/* A missed host for which a scan or a miss came after this job's: its
 * history is derived again (job_late.c), this job's miss in its place. */
static int miss_late(struct job_writer *w, const struct missed *m)
{
	struct ev_host state;
	int64_t id = 0;
	int r;

	ev_host_init(&state);
	r = store_history_load(w->st, m->addr, w->run_start, w->job_id, &id, &state);
	if (r == 0) {
		struct late_job lj = late_job_of(w);
		r = late_add(&w->late, &lj, m->id, m->addr, w->run_start, 1, &state);
	}
	ev_host_free(&state);
	return r;
}

/* The missed hosts of one range: in order, one more miss each (ev_miss,
 * its event stored), saved together; the others derived again. */
static int misses_apply(struct job_writer *w, struct missed_list *m)
{
	struct store_gone *g = calloc(m->n ? m->n : 1, sizeof(*g));
	size_t ng = 0;
	int r = g ? 0 : SDB_ENOMEM;

	for (size_t k = 0; k < m->n && r == 0; k++) {
		struct missed *x = &m->v[k];
		struct emit_ctx ec = {.st = w->st, .store = 1, .host_id = x->id};

		if (!store_history_in_order(&x->h, w->run_start, w->job_id)) {
			r = miss_late(w, x);
			continue;
		}
		r = ev_miss(&x->h, w->job_id, w->run_start, w->gone_after, emit_event, &ec);
		emit_ctx_free(&ec);
		g[ng++] = (struct store_gone){x->id, &x->h};
	}
	if (r == 0)
		r = store_hosts_gone_save(w->st, g, ng);
	free(g);
	return r;
}

/* The job's misses: the known hosts of its target ranges it did not list
 * (ev_miss), stored with the job's ranges, before its late scans. */
static int job_misses(struct job_writer *w)
{
	struct missed_list m = {0};
	int r;

	if ((r = read_targets(w)) != 0 ||
	    (r = store_job_targets_put(w->st, w->job_id, w->targets.v, w->targets.n)) != 0)
		return r;
	if (!w->history || !misses_count(w))
		return 0;
	for (size_t i = 0; i < w->targets.n && r == 0; i++) {
		struct addr_range rg = w->targets.v[i];
		int more = 1;

		/* a page at a time: what is held stays bounded */
		while (more && r == 0) {
			m.n = 0;
			r = store_hosts_missed(w->st, w->job_id, &rg, w->missed_page, missed_cb,
			                       &m);
			more = r == 0 && m.n == (size_t)w->missed_page &&
			       addr_range_after(&rg, m.v[m.n - 1].addr);
			if (r == 0)
				r = misses_apply(w, &m);
			for (size_t k = 0; k < m.n; k++)
				free(m.v[k].addr);
		}
	}
	free(m.v);
	return r;
}

/*
 * A host this job creates, seen at `seen`: did a stored job after it cover
 * its address without listing it (it did not exist then)?  Then those
 * misses count, and its history is derived as a late scan's (job_late.c
 * merges them in).  Asked once per new host; the later jobs' ranges are
 * read once per job (none, importing in scan-time order).
 */
static int later_covers(struct job_writer *w, const char *addr, int64_t seen, int *covers)
{
	unsigned char key[16];
	int r;

	*covers = 0;
	if (!w->have_later) {
		if ((r = late_covers_load(w->st, w->job_id, &w->later)) != 0)
			return r;
		w->have_later = 1;
	}
	if (w->later.n == 0 || addr_parse(addr, NULL, NULL, key) != 0)
		return 0;
	for (size_t i = 0; i < w->later.n && !*covers; i++) {
		const struct late_cover *c = &w->later.v[i];
		*covers = memcmp(key, c->r.lo, 16) >= 0 && memcmp(key, c->r.hi, 16) <= 0 &&
		          (c->at > seen || (c->at == seen && c->job_id > w->job_id));
	}
	return 0;
}

/* What is known of the host (*known_id 0: nothing) and whether this scan
 * of it is in order (else late: job_late.c). */
static int load_host(struct job_writer *w, const char *addr, int64_t seen, int64_t *known_id,
                     struct ev_host *state, int *in_order)
{
	int covers, r = store_history_load(w->st, addr, seen, w->job_id, known_id, state);

	if (r != 0 && r != SDB_ENOTFOUND)
		return r;
	*in_order = store_history_in_order(state, seen, w->job_id);
	if (!w->history || *known_id)
		return 0;
	if ((r = later_covers(w, addr, seen, &covers)) != 0)
		return r;
	*in_order = !covers;
	return 0;
}

/* Save the host's state after its scan: its misses and status first (its
 * host_state row then exists: store_hosts_gone_save), then the rest. */
static int save_state(struct store *st, int64_t host_id, struct ev_host *state)
{
	int r;

	if (state->gone_dirty) {
		struct store_gone g = {host_id, state};

		if ((r = store_hosts_gone_save(st, &g, 1)) != 0)
			return r;
		state->stored = 1;
	}
	return store_port_state_save(st, host_id, state);
}

static int on_host(void *ctx, const struct rec_host *h)
{
	struct job_writer *w = ctx;
	struct store *st = w->st;
	struct ev_host state;
	struct emit_ctx ec = {.st = st, .store = 1};
	int64_t host_id, known_id = 0, seen = host_time(w, h);
	char *checkpoint = NULL;
	int in_order = 1, maybe_dup = 0, dup = 0, r;

	ev_host_init(&state);
	state.borrow = 1; /* h outlives the state: its script outputs are not copied */
	if ((r = seen_add(w, h->addr, &maybe_dup)) != 0)
		goto out;
	if ((w->history || maybe_dup) &&
	    (r = load_host(w, h->addr, seen, &known_id, &state, &in_order)) != 0)
		goto out;
	if (maybe_dup) {
		/* nmap lists a host twice when it is given twice: keep the first */
		if ((r = job_has_host(w, known_id, &dup)) != 0)
			goto out;
		if (dup) {
			w->stats.duplicates++;
			goto out;
		}
	}
	if ((r = store_host_upsert(st, w->job_id, seen, h, &host_id)) != 0)
		goto out;
	if (w->history && in_order) {
		/* its events first: the state after it may be kept with it */
		ec.host_id = host_id;
		if ((r = ev_step(&state, w->job_id, seen, &w->scope, h, w->gone_after, emit_event,
		                 &ec)) != 0)
			goto out;
		if (checkpoint_due(host_id, w->job_id) &&
		    (r = checkpoint_doc(&state, &checkpoint)) != 0)
			goto out;
	}
	if ((r = store_host_scan_insert(st, w->job_id, host_id, seen, h, checkpoint)) != 0)
		goto out;
	for (size_t i = 0; i < h->nports; i++) {
		const struct rec_port *p = &h->ports[i];
		if ((r = store_port_insert(st, w->job_id, host_id, p)) != 0)
			goto out;
		for (size_t k = 0; k < p->nscripts; k++)
			if ((r = store_script_insert(st, w->job_id, host_id, p, &p->scripts[k])) !=
			    0)
				goto out;
		w->stats.ports_open += p->state == REC_PORT_OPEN;
	}
	for (size_t i = 0; i < h->nextraports; i++)
		if ((r = store_extraports_insert(st, w->job_id, host_id, &h->extraports[i])) != 0)
			goto out;
	for (size_t i = 0; i < h->nscripts; i++)
		if ((r = store_script_insert(st, w->job_id, host_id, NULL, &h->scripts[i])) != 0)
			goto out;
	if (w->history) {
		if (in_order) {
			r = findings_on_scan(st, w->rules, host_id, w->job_id, seen, &w->scope, h,
			                     ec.ev, ec.n, NULL);
			if (r != 0 || (r = save_state(st, host_id, &state)) != 0)
				goto out;
		} else {
			struct late_job lj = late_job_of(w);

			if ((r = late_add(&w->late, &lj, host_id, h->addr, seen, 0, &state)) != 0)
				goto out;
		}
	}
	w->stats.hosts++;
	w->stats.hosts_up += h->status == REC_HOST_UP;
	w->stats.ports += (long)h->nports;
	r = 0;
out:
	emit_ctx_free(&ec);
	free(checkpoint);
	ev_host_free(&state);
	return r;
}

static int on_run_end(void *ctx, const struct rec_runstats *rs)
{
	struct job_writer *w = ctx;
	int r;

	/* the run's pre-/post-scan script results, in the job's transaction */
	if ((r = store_run_scripts_insert(w->st, w->job_id, 0, rs->prescripts, rs->nprescripts)) !=
	        0 ||
	    (r = store_run_scripts_insert(w->st, w->job_id, 1, rs->postscripts,
	                                  rs->npostscripts)) != 0)
		return r;
	w->have_runstats = 1;
	w->stats.truncated = rs->truncated;
	if (rs->exit && strcmp(rs->exit, "error") == 0 &&
	    (r = replace_str(&w->nmap_error, rs->errormsg ? rs->errormsg : "")) != 0)
		return r;
	w->run_end = rs->end;
	w->elapsed = rs->elapsed;
	w->rs_up = rs->hosts_up;
	w->rs_down = rs->hosts_down;
	w->rs_total = rs->hosts_total;
	return 0;
}

/* The gone rule's options: its count (0: the default, < 0: never), and
 * opts.target_args, kept: the job's target ranges are read from them once
 * the job's time is known. */
static int copy_target_args(struct job_writer *w, const struct job_writer_opts *o)
{
	w->gone_after = o->gone_after == 0  ? EV_GONE_AFTER_DEFAULT
	                : o->gone_after < 0 ? 0
	                                    : o->gone_after;
	if (!o->target_args || !o->ntarget_args)
		return 0;
	if (!(w->target_args = calloc(o->ntarget_args, sizeof(*w->target_args))))
		return SDB_ENOMEM;
	w->ntarget_args = o->ntarget_args;
	for (size_t i = 0; i < o->ntarget_args; i++)
		if (!(w->target_args[i] = strdup(o->target_args[i] ? o->target_args[i] : "")))
			return SDB_ENOMEM;
	return 0;
}

/* What the environment may change, for benchmarks and tests only. */
static void env_knobs(struct job_writer *w)
{
	const char *v;

	/* Benchmarks only: measure ingest without deriving events.  A
	 * database written this way has no history for these jobs. */
	w->history = !getenv("SCANDB_BENCH_NO_HISTORY");
	/* Tests only: a tiny filter, so that nearly every host is a false
	 * positive the store must settle (a power of two, 64 or more). */
	w->seen_bits = SEEN_BITS;
	if ((v = getenv("SCANDB_TEST_SEEN_BITS"))) {
		unsigned long long b = strtoull(v, NULL, 10);

		if (b >= 64 && b <= SEEN_BITS && (b & (b - 1)) == 0)
			w->seen_bits = (size_t)b;
	}
	/* Tests only: tiny pages of missed hosts, so that the pages show */
	w->missed_page = STORE_MISSED_PAGE;
	if ((v = getenv("SCANDB_TEST_MISSED_PAGE"))) {
		long n = strtol(v, NULL, 10);

		if (n >= 1 && n <= STORE_MISSED_PAGE)
			w->missed_page = (int)n;
	}
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
	scope_init(&w->scope);
	env_knobs(w);
	{
		char err[512] = "";
		if ((r = findings_rules_load(&w->rules, err, sizeof(err))) != 0) {
			store_set_error(st, r, "%s", err[0] ? err : "could not load finding rules");
			goto fail;
		}
	}
	w->elapsed = -1;
	w->rs_up = w->rs_down = w->rs_total = -1;
	w->partial = w->stats.partial = o->partial != 0;
	if ((r = copy_target_args(w, o)) != 0)
		goto fail;
	w->sink = (struct ingest_sink){
	    .ctx = w,
	    .run_begin = on_run_begin,
	    .scaninfo = on_scaninfo,
	    .host = on_host,
	    .run_end = on_run_end,
	    .accept_truncated = w->partial,
	};
	if ((r = replace_str(&w->args, o->args)) != 0 ||
	    (r = replace_str(&w->source, o->source)) != 0)
		goto fail;
	w->kind = o->kind;
	w->forced = o->forced;
	w->existing_job_id = o->existing_job_id;
	w->warning = o->warning;
	if ((r = store_tx_begin_ordered(st, o->scan_time)) != 0)
		goto fail;
	if (o->existing_job_id > 0) {
		w->job_id = o->existing_job_id;
	} else {
		struct store_job_new j = {
		    .kind = o->kind,
		    .status = STORE_JOB_RUNNING,
		    .source = o->source,
		    .args = o->args,
		    .worker_id = app_process_worker_id(),
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

const char *job_writer_nmap_error(const struct job_writer *w)
{
	return w->nmap_error ? w->nmap_error : "";
}

/* nmap's start and finish: 0 (NULL) when the file has none.  Without a
 * finish time the job's completion is when it was stored. */
static void job_times(const struct job_writer *w, struct store_job_final *f)
{
	f->started_at = w->run_start > 0 ? w->run_start : 0;
	f->completed_at = w->run_end > 0 ? w->run_end : time_now();
	if (f->started_at && f->completed_at < f->started_at)
		f->completed_at = f->started_at;
}

/*
 * nmap ended in error: nothing of the run is kept but the job, 'failed'
 * with nmap's message (its hosts were seen by a run that did not finish
 * what it set out to do).  The records' transaction is rolled back; the
 * job is written in a new one.
 */
static int commit_nmap_failed(struct job_writer *w, const char *content_hash)
{
	struct store_job_final f;
	char msg[1100];
	int r;

	store_tx_rollback(w->st);
	w->state = W_DONE;
	late_discard(&w->late);
	if ((r = store_tx_begin(w->st)) != 0)
		return r;
	if (!w->existing_job_id) {
		struct store_job_new j = {
		    .kind = w->kind,
		    .status = STORE_JOB_RUNNING,
		    .source = w->source,
		    .args = w->args,
		    .worker_id = app_process_worker_id(),
		    .created_at = w->created_at,
		    .forced = w->forced,
		};
		if ((r = store_job_insert(w->st, &j, &w->job_id)) != 0)
			goto fail;
	}
	snprintf(msg, sizeof(msg), "nmap ended in error: %.1024s",
	         w->nmap_error[0] ? w->nmap_error : "(no message)");
	memset(&f, 0, sizeof(f));
	f.status = STORE_JOB_FAILED;
	f.error = msg;
	f.scanner = w->scanner;
	f.scanner_version = w->version;
	f.args = w->args;
	f.content_hash = content_hash;
	job_times(w, &f);
	f.elapsed = w->elapsed;
	f.hosts_up = w->rs_up;
	f.hosts_down = w->rs_down;
	f.hosts_total = w->rs_total;
	f.ports_open = -1;
	f.partial = w->partial;
	if ((r = store_job_finish(w->st, w->job_id, &f, NULL)) != 0 ||
	    (r = store_tx_commit(w->st)) != 0)
		goto fail;
	memset(&w->stats, 0, sizeof(w->stats));
	w->stats.nmap_failed = 1;
	w->stats.partial = w->partial;
	return 0;
fail:
	store_tx_rollback(w->st);
	return r;
}

int job_writer_commit(struct job_writer *w, const char *content_hash, int64_t *existing_id)
{
	struct store_job_final f;
	struct late_job lj;
	char *scope = NULL;
	int r;

	if (!w || w->state != W_OPEN)
		return SDB_EUSAGE;
	if (w->nmap_error)
		return commit_nmap_failed(w, content_hash);
	if ((r = job_misses(w)) != 0)
		goto fail;
	lj = late_job_of(w);
	if ((r = late_run(&w->late, &lj)) != 0 || (r = scope_format(&w->scope, &scope)) != 0)
		goto fail;
	memset(&f, 0, sizeof(f));
	f.status = STORE_JOB_COMPLETED;
	f.error = w->warning;
	f.scanner = w->scanner;
	f.scanner_version = w->version;
	f.args = w->args;
	f.content_hash = content_hash;
	f.probed_scope = scope;
	job_times(w, &f);
	/* nmap's figures, NULL when the file has none (not 0, not ours) */
	f.elapsed = w->elapsed;
	f.hosts_up = w->rs_up;
	f.hosts_down = w->rs_down;
	f.hosts_total = w->rs_total;
	f.ports_open = w->stats.ports_open;
	f.partial = w->partial;
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
	if (w)
		late_discard(&w->late);
}

void job_writer_free(struct job_writer *w)
{
	if (!w)
		return;
	job_writer_abort(w);
	scope_free(&w->scope);
	free(w->seen);
	findings_rules_free(w->rules);
	free(w->scanner);
	free(w->version);
	free(w->args);
	free(w->source);
	free(w->nmap_error);
	late_queue_free(&w->late);
	targets_free(&w->targets);
	late_covers_free(&w->later);
	for (size_t i = 0; i < w->ntarget_args; i++)
		free(w->target_args[i]);
	free(w->target_args);
	free(w);
}
