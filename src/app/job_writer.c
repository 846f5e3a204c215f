/*
 * job_writer.c - stores one job's records in one transaction (see
 * job_writer.h for the state machine).  Owns: the order of writes, the
 * job's summary (counts, probed scope, times) and the final status.  Does
 * not own: SQL (the backend's) or parsing (the source's).  It lives in
 * src/app/ because it combines the records, the history rules (events,
 * findings) and the store; it still reports its errors through the store
 * handle (store__set_err, store_int.h), so that store_errmsg() says them.
 */
#include "app/job_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "app/findings.h"
#include "app/process.h"
#include "core/addr.h"
#include "core/scope.h"
#include "history/events.h"
#include "history/findings.h"
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
	int partial;  /* opts.partial: no probed scope */
	char *source; /* opts.source, opts.kind ... for commit_nmap_failed */
	enum store_job_kind kind;
	int forced;
	int64_t existing_job_id;
	char *nmap_error;   /* <finished exit="error" errormsg>, when nmap failed */
	struct late **late; /* hosts this scan came late for (see "late scans") */
	size_t nlate, late_cap;
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
	int r;

	/* part of a scan: what it did not list says nothing */
	if (w->partial || (unsigned)si->proto >= REC_PROTO__COUNT || !si->services)
		return 0;
	if ((r = scope_add(&w->scope, si->proto, si->services)) == SDB_EPARSE)
		return store__set_err(w->st, SDB_EPARSE,
		                      "scaninfo services '%.64s' is not a port list", si->services);
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

/* The events of one scan of one host, kept for the findings that follow
 * them; stored at once when `store` is set.  A script_changed event's
 * strings (the outputs, up to megabytes each) are borrowed - valid until
 * the next ev_step (events.h) - unless `own` is set: a context that keeps
 * events across scans (a late scan's, stored at the end) copies them too. */
struct emit_ctx {
	struct store *st;
	int64_t host_id;
	int store;
	int own; /* script_changed strings copied too */
	struct ev_event *ev;
	size_t n, cap;
};

static void emit_ctx_clear(struct emit_ctx *ec)
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

static void emit_ctx_free(struct emit_ctx *ec)
{
	emit_ctx_clear(ec);
	free(ec->ev);
	ec->ev = NULL;
	ec->cap = 0;
}

static int emit_event(void *ctx, const struct ev_event *e)
{
	struct emit_ctx *ec = ctx;
	struct ev_event *c;
	int r;

	if (ec->store && (r = store_event_insert(ec->st, ec->host_id, e)) != 0)
		return r;
	if (ec->n == ec->cap) {
		size_t ncap = ec->cap ? ec->cap * 2 : 16;
		struct ev_event *nv = sdb_reallocarray(ec->ev, ncap, sizeof(*nv));
		if (!nv)
			return SDB_ENOMEM;
		ec->ev = nv;
		ec->cap = ncap;
	}
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

/* ---- checkpoints ------------------------------------------------------------ */

/*
 * A late scan starts from the host's state as of its place in the host's
 * history.  About one scan in CHECKPOINT_EVERY of each host keeps that
 * state (host_scans.state, migration 0009), so that the state is rebuilt
 * from the nearest such checkpoint before the place, applying at most a few
 * scans, not every earlier one.  Which scans: a hash of host and job, so
 * that no pattern of which jobs scan a host leaves it without.
 *
 * A checkpoint holds what ev_step reads and the port fields that stay as
 * the latest probing scan left them: a JSON object
 *   {"status": S, "job": J, "at": T, "os": O, "mac": M, "names": N,
 *    "ports": [[proto, port, state, job, seen_at, reason, method, service,
 *               product, version, extrainfo, tunnel], ...],
 *    "scripts": [[proto or null, port, id, output, job], ...]}
 * but not first_seen, last_seen, closed_at: a late scan may move those in
 * every later state; the current state keeps them (see late_final).  So a
 * checkpoint stays true when a late scan arrives before it, as long as the
 * two derivations met before it (ev_host_same); the late scan writes those
 * of the scans it derived again.
 */
#define CHECKPOINT_EVERY      8
#define CHECKPOINT_SCRIPT_MAX (256 * 1024) /* bytes of script output */

static int checkpoint_due(int64_t host_id, int64_t job_id)
{
	uint64_t x = (uint64_t)host_id * 0x9E3779B97F4A7C15ull ^ (uint64_t)job_id;

	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	x ^= x >> 31;
	return x % CHECKPOINT_EVERY == 0;
}

/* *out: the checkpoint of state h (malloc'ed), or NULL when a value cannot
 * be written as JSON (then there is no checkpoint: it only saves work).
 * 0 or SDB_ENOMEM. */
static int checkpoint_doc(const struct ev_host *h, char **out)
{
	json_t *ports = NULL, *scripts = NULL, *o = NULL;
	size_t script_bytes = 0;
	int r = SDB_ENOMEM;

	*out = NULL;
	/* A host whose script outputs are big (up to 8 MiB: nmap_xml.h) gets
	 * no checkpoint: it would copy them all again, into the JSON tree and
	 * its text, past the import's memory bound; its late scans start
	 * from an earlier checkpoint or its first scan. */
	for (size_t i = 0; i < h->nscripts; i++)
		if (h->scripts[i].output &&
		    (script_bytes += strlen(h->scripts[i].output)) > CHECKPOINT_SCRIPT_MAX)
			return 0;
	ports = json_array();
	scripts = json_array();
	if (!ports || !scripts)
		goto out;
	for (size_t i = 0; i < h->nports; i++) {
		const struct ev_port *p = &h->ports[i];
		json_t *e =
		    json_pack("[s, i, s, I, I, s?, s?, s?, s?, s?, s?, s?]",
		              rec_proto_name(p->proto), p->port, rec_port_state_name(p->state),
		              (json_int_t)p->job_id, (json_int_t)p->seen_at, p->reason, p->method,
		              p->service, p->product, p->version, p->extrainfo, p->tunnel);
		if (!e || json_array_append_new(ports, e) != 0) {
			r = 0; /* (not JSON: see above) */
			goto out;
		}
	}
	for (size_t i = 0; i < h->nscripts; i++) {
		const struct ev_script *sc = &h->scripts[i];
		json_t *e =
		    json_pack("[s?, i, s, s, I]",
		              sc->proto < 0 ? NULL : rec_proto_name((enum rec_proto)sc->proto),
		              sc->port, sc->id, sc->output, (json_int_t)sc->job_id);
		if (!e || json_array_append_new(scripts, e) != 0) {
			r = 0;
			goto out;
		}
	}
	o = json_pack("{s:s, s:I, s:I, s:s?, s:s?, s:s?, s:O, s:O}", "status",
	              rec_host_status_name(h->status), "job", (json_int_t)h->job_id, "at",
	              (json_int_t)h->at, "os", h->os, "mac", h->mac, "names", h->hostnames, "ports",
	              ports, "scripts", scripts);
	r = 0;
	if (o && !(*out = json_dumps(o, JSON_COMPACT)))
		r = SDB_ENOMEM;
out:
	json_decref(ports);
	json_decref(scripts);
	json_decref(o);
	return r;
}

static const char *json_str_or_null(const json_t *v, int *bad)
{
	if (json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		*bad = 1;
	return json_string_value(v);
}

/* Read a checkpoint into out (empty): 0, SDB_EDB (not a checkpoint) or
 * SDB_ENOMEM.  first_seen, last_seen and closed_at are 0. */
static int checkpoint_read(const char *doc, struct ev_host *out)
{
	json_t *o = json_loads(doc, 0, NULL), *ports, *scripts, *v;
	enum rec_host_status status;
	size_t i;
	int bad = 0, r = SDB_EDB;

	if (!o || !json_is_object(o) || !json_is_string(json_object_get(o, "status")) ||
	    rec_host_status_parse(json_string_value(json_object_get(o, "status")), &status) != 0 ||
	    !json_is_integer(json_object_get(o, "job")) ||
	    !json_is_integer(json_object_get(o, "at")) ||
	    !json_is_array(ports = json_object_get(o, "ports")) ||
	    !json_is_array(scripts = json_object_get(o, "scripts")))
		goto out;
	out->known = 1;
	out->status = status;
	out->job_id = json_integer_value(json_object_get(o, "job"));
	out->at = json_integer_value(json_object_get(o, "at"));
	{
		const char *os = json_str_or_null(json_object_get(o, "os"), &bad);
		const char *mac = json_str_or_null(json_object_get(o, "mac"), &bad);
		const char *names = json_str_or_null(json_object_get(o, "names"), &bad);
		if (bad)
			goto out;
		if ((os && !(out->os = strdup(os))) || (mac && !(out->mac = strdup(mac))) ||
		    (names && !(out->hostnames = strdup(names)))) {
			r = SDB_ENOMEM;
			goto out;
		}
	}
	json_array_foreach(ports, i, v)
	{
		struct ev_port p;
		enum rec_proto proto;
		enum rec_port_state state;

		memset(&p, 0, sizeof(p));
		if (!json_is_array(v) || json_array_size(v) != 12 ||
		    rec_proto_parse(json_string_value(json_array_get(v, 0)), &proto) != 0 ||
		    !json_is_integer(json_array_get(v, 1)) ||
		    rec_port_state_parse(json_string_value(json_array_get(v, 2)), &state) != 0 ||
		    !json_is_integer(json_array_get(v, 3)) ||
		    !json_is_integer(json_array_get(v, 4)))
			goto out;
		p.proto = proto;
		p.port = (int)json_integer_value(json_array_get(v, 1));
		p.state = state;
		p.job_id = json_integer_value(json_array_get(v, 3));
		p.seen_at = json_integer_value(json_array_get(v, 4));
		p.reason = (char *)json_str_or_null(json_array_get(v, 5), &bad);
		p.method = (char *)json_str_or_null(json_array_get(v, 6), &bad);
		p.service = (char *)json_str_or_null(json_array_get(v, 7), &bad);
		p.product = (char *)json_str_or_null(json_array_get(v, 8), &bad);
		p.version = (char *)json_str_or_null(json_array_get(v, 9), &bad);
		p.extrainfo = (char *)json_str_or_null(json_array_get(v, 10), &bad);
		p.tunnel = (char *)json_str_or_null(json_array_get(v, 11), &bad);
		if (bad || p.port < 0 || p.port > 65535)
			goto out;
		if ((r = ev_host_put_port(out, &p)) != 0) /* (copies the strings) */
			goto out;
		r = SDB_EDB;
	}
	json_array_foreach(scripts, i, v)
	{
		enum rec_proto proto;
		const char *pr, *id, *output;
		int pn;

		if (!json_is_array(v) || json_array_size(v) != 5 ||
		    !json_is_integer(json_array_get(v, 1)) ||
		    !json_is_integer(json_array_get(v, 4)))
			goto out;
		pr = json_str_or_null(json_array_get(v, 0), &bad);
		id = json_string_value(json_array_get(v, 2));
		output = json_string_value(json_array_get(v, 3));
		if (bad || !id || !output || (pr && rec_proto_parse(pr, &proto) != 0))
			goto out;
		pn = pr ? (int)json_integer_value(json_array_get(v, 1)) : -1;
		if ((r = ev_host_put_script(out, pr ? (int)proto : -1, pn, id, output,
		                            json_integer_value(json_array_get(v, 4)))) != 0)
			goto out;
		r = SDB_EDB;
	}
	r = 0;
out:
	json_decref(o);
	if (r != 0)
		ev_host_free(out);
	return r;
}

/* ---- late scans ---------------------------------------------------------- */

/*
 * A scan older than what is stored for a host (in scan-time order: scan
 * time, then job id) arrived late: the host's history must be what an
 * import in scan-time order would have written.  Its rows are stored at
 * once; its history is derived again at the end of the job (or when
 * LATE_BLOCK late hosts are waiting), for a block of hosts at a time,
 * inside the job's transaction:
 *
 *   list     store_history_scan_list: each host's scans from its latest
 *            checkpoint before the late scan (L) on, (host, job, time)
 *            only, and which hosts have findings -- one query for the
 *            block; store_history_states reads those checkpoints (one
 *            query);
 *   rounds   store_history_scans reads the scans each host still needs,
 *            for the whole block at once, and they are applied in memory
 *            as they come (late_apply):
 *              the scans between the checkpoint and L rebuild the host's
 *              state as of L (ev_step, no events kept);
 *              from L on, two derivations run side by side: N with L, O
 *              without it (what is stored); each later scan is applied to
 *              both, and its events from N are kept;
 *              as soon as N and O agree on everything a later scan reads
 *              (ev_host_same), every later scan derives the same events
 *              from both: what is stored from there on stays, and the host
 *              is done.  Otherwise its next later scans are read in the
 *              next round (twice as many each round).
 *   write    store_history_forget drops the stored events of the later
 *            scans that were derived again (one statement for the block),
 *            their new events and L's are inserted, their checkpoints are
 *            written again (store_history_states_put), and the host's state
 *            is saved: after a stop, the stored state with first_seen,
 *            last_seen and closed_at of its ports taken from N (the only
 *            fields that can still differ); else N's.
 *
 * A host with findings (or whose re-derived scans detect one) has its
 * findings' lifecycle derived again from all of its scans (findings_replay,
 * as findings.h says), so for it every scan is listed, read and applied.
 *
 * Cost per late host: c + 1 + 2k scans applied in memory and read, where c
 * is the number of scans between its checkpoint and L (about
 * CHECKPOINT_EVERY: checkpoints are one scan in CHECKPOINT_EVERY) and k
 * the number of later scans up to the point where the two derivations
 * meet (1 when the next scan probes what L saw); the events of those k
 * scans are rewritten, the scans after them are neither read nor written.
 * Queries: a constant number per block and round; the rounds number log2
 * of the largest k in the block.
 */

#define LATE_BLOCK       1024 /* late hosts derived again together */
#define LATE_FIRST_ROUND 1    /* later scans read in the first round */
#define LATE_LIST_LATER  8    /* later scans listed at first */

struct late {
	int64_t host_id;
	char *addr;
	int64_t at;                   /* this job's scan time of it */
	struct ev_host cur;           /* its state before this job (stored) */
	struct ev_host n;             /* derivation with this job's scan */
	struct ev_host o;             /* and without it, from that scan on */
	struct store_scan_key *scans; /* all its stored scans, in order */
	size_t nscans, cap;
	size_t pos;   /* this job's scan among them */
	int complete; /* the list goes to its newest scan */
	size_t next;  /* the next scan to apply */
	size_t want;  /* the current round reads scans before this index */
	int findings; /* its findings are derived again: every scan */
	int restart;  /* turned out to have findings to derive: start again */
	int done;
	int met;             /* N and O met after scans[next - 1] */
	struct emit_ctx ev;  /* events of this job's scan and the later ones */
	struct emit_ctx tmp; /* one earlier scan's events (for findings) */
	struct findings_replay fr;
	size_t from;    /* scans[from] holds the checkpoint it starts from */
	int need_state; /* that checkpoint is still to be read */
	struct ckpt {   /* checkpoints to write: the state after scans[i] */
		size_t i;
		char *doc;
	} * ck;
	size_t nck, ckcap;
};

static void ck_clear(struct late *l)
{
	for (size_t i = 0; i < l->nck; i++)
		free(l->ck[i].doc);
	l->nck = 0;
}

static void late_free(struct late *l)
{
	if (!l)
		return;
	free(l->addr);
	ev_host_free(&l->cur);
	ev_host_free(&l->n);
	ev_host_free(&l->o);
	free(l->scans);
	emit_ctx_free(&l->ev);
	emit_ctx_free(&l->tmp);
	findings_replay_free(&l->fr);
	ck_clear(l);
	free(l->ck);
	free(l);
}

/* A job's probed scope, parsed once per block. */
struct scope_ent {
	int64_t job_id;
	struct scan_scope scope;
};

struct late_block {
	struct job_writer *w;
	struct late **v; /* sorted by host id */
	size_t n;
	size_t cursor; /* where the last row's host was */
	struct scope_ent *scopes;
	size_t nscopes;
	struct store_host_rec rec;
	size_t *idx; /* late_read_states: key -> host */
};

static struct late *block_find(struct late_block *b, int64_t host_id)
{
	size_t lo = 0, hi = b->n;

	if (b->cursor < b->n && b->v[b->cursor]->host_id == host_id)
		return b->v[b->cursor];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (b->v[mid]->host_id == host_id) {
			b->cursor = mid;
			return b->v[mid];
		}
		if (b->v[mid]->host_id < host_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int block_scope(struct late_block *b, int64_t job_id, const char *text,
                       const struct scan_scope **out)
{
	struct scope_ent *nv;
	size_t lo = 0, hi = b->nscopes;
	int r;

	if (job_id == b->w->job_id) { /* this job: not finished, not stored yet */
		*out = &b->w->scope;
		return 0;
	}
	while (lo < hi) { /* sorted by job id */
		size_t mid = lo + (hi - lo) / 2;
		if (b->scopes[mid].job_id == job_id) {
			*out = &b->scopes[mid].scope;
			return 0;
		}
		if (b->scopes[mid].job_id < job_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!(nv = sdb_reallocarray(b->scopes, b->nscopes + 1, sizeof(*nv))))
		return SDB_ENOMEM;
	b->scopes = nv;
	memmove(&nv[lo + 1], &nv[lo], (b->nscopes - lo) * sizeof(*nv));
	nv = &b->scopes[lo];
	nv->job_id = job_id;
	scope_init(&nv->scope);
	if ((r = scope_parse(text, &nv->scope)) != 0) {
		scope_free(&nv->scope);
		memmove(&b->scopes[lo], &b->scopes[lo + 1], (b->nscopes - lo) * sizeof(*nv));
		return store__set_err(b->w->st, SDB_EDB,
		                      "job %lld: its probed scope '%.64s' is not a port list",
		                      (long long)job_id, text ? text : "");
	}
	b->nscopes++;
	*out = &nv->scope;
	return 0;
}

static int late_list_cb(void *ctx, const struct store_scan_key *k)
{
	struct late_block *b = ctx;
	struct late *l = block_find(b, k->host_id);

	if (!l)
		return 0;
	if (l->nscans == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		void *nv = sdb_reallocarray(l->scans, ncap, sizeof(*l->scans));
		if (!nv)
			return SDB_ENOMEM;
		l->scans = nv;
		l->cap = ncap;
	}
	l->scans[l->nscans++] = *k;
	return 0;
}

/* Start (or start again) deriving host l: from the nearest checkpoint
 * before this job's scan, or (no checkpoint, or its findings are derived
 * again: they need every scan) from its first scan. */
static int late_start(struct job_writer *w, struct late *l)
{
	ev_host_free(&l->n);
	ev_host_free(&l->o);
	emit_ctx_clear(&l->ev);
	emit_ctx_clear(&l->tmp);
	findings_replay_free(&l->fr);
	ck_clear(l);
	l->next = 0;
	l->need_state = 0;
	for (size_t i = l->pos; i-- > 0 && !l->findings;) {
		if (l->scans[i].has_state) {
			l->from = i;
			l->need_state = 1;
			break;
		}
	}
	l->done = l->met = 0;
	l->want = l->findings ? l->nscans : l->pos + 1 + LATE_FIRST_ROUND;
	if (l->want > l->nscans)
		l->want = l->nscans;
	return l->findings ? findings_replay_begin(w->st, l->host_id, &l->fr) : 0;
}

/* The scan time of a port's state that ev_step never set: the stored one
 * is kept (see late_final). */
#define CLOSED_AT_UNSET (-1)

/* Keep N's state after scans[i] to be written as its checkpoint; `earlier`:
 * a scan before this job's, of which only the last is kept (a checkpoint
 * it lacked, for the next late scan of the host). */
static int ck_add(struct late *l, size_t i, int earlier)
{
	char *doc;
	int r;

	if ((r = checkpoint_doc(&l->n, &doc)) != 0 || !doc)
		return r;
	if (earlier && l->nck > 0 && l->ck[l->nck - 1].i < l->pos) {
		free(l->ck[l->nck - 1].doc);
		l->ck[l->nck - 1] = (struct ckpt){i, doc};
		return 0;
	}
	if (l->nck == l->ckcap) {
		size_t ncap = l->ckcap ? l->ckcap * 2 : 4;
		void *nv = sdb_reallocarray(l->ck, ncap, sizeof(*l->ck));
		if (!nv) {
			free(doc);
			return SDB_ENOMEM;
		}
		l->ck = nv;
		l->ckcap = ncap;
	}
	l->ck[l->nck++] = (struct ckpt){i, doc};
	return 0;
}

/* One stored scan of a late host, applied in order. */
static int late_apply(void *ctx, struct store_host *sh, const char *probed_scope)
{
	struct late_block *b = ctx;
	struct job_writer *w = b->w;
	struct late *l = block_find(b, sh->id);
	const struct scan_scope *scope = NULL;
	struct emit_ctx *ec;
	const struct rec_host *scan;
	size_t i;
	int r, detects = 0;

	if (!l || l->done) {
		store_host_free(sh);
		return 0;
	}
	i = l->next;
	if (i >= l->want || l->scans[i].job_id != sh->job_id) {
		r = store__set_err(w->st, SDB_EDB, "%s: scan %lld came out of order", l->addr,
		                   (long long)sh->job_id);
		goto out;
	}
	if ((r = store_host_as_rec(sh, &b->rec)) != 0) {
		r = r == SDB_ENOMEM
		        ? r
		        : store__set_err(w->st, SDB_EDB, "scan %lld of %s: not a valid stored scan",
		                         (long long)sh->job_id, l->addr);
		goto out;
	}
	b->rec.h.addr = l->addr;
	scan = &b->rec.h;
	if ((r = block_scope(b, sh->job_id, probed_scope, &scope)) != 0)
		goto out;
	l->next = i + 1;
	ec = i < l->pos ? &l->tmp : &l->ev;
	if (i == l->pos) {
		/* the state as of this job's scan: O goes on from here without
		 * it; closed_at that N never sets stays the stored one */
		for (size_t k = 0; k < l->n.nports; k++)
			if (l->n.ports[k].state != REC_PORT_OPEN)
				l->n.ports[k].closed_at = CLOSED_AT_UNSET;
		if ((r = ev_host_copy(&l->o, &l->n)) != 0)
			goto out;
	}
	{
		size_t first = ec->n;
		const struct ev_event *evs;

		/* earlier scans: their events are needed for findings only */
		if ((r = ev_step(&l->n, sh->job_id, sh->scanned_at, scope, scan,
		                 i >= l->pos || l->findings ? emit_event : NULL, ec)) != 0)
			goto out;
		evs = ec->n > first ? ec->ev + first : NULL; /* this scan's */
		if (l->findings)
			r = findings_on_scan(w->st, w->rules, l->host_id, sh->job_id,
			                     sh->scanned_at, scope, scan, evs, ec->n - first,
			                     &l->fr);
		else if (i >= l->pos)
			r = findings_scan_detects(w->rules, scan, evs, ec->n - first, &detects);
		if (r != 0)
			goto out;
		if (i < l->pos)
			emit_ctx_clear(&l->tmp);
	}
	if (detects) {
		/* something to derive findings from: this host goes again,
		 * all of its scans, with its findings */
		l->findings = 1;
		l->restart = 1;
		l->done = 1;
		goto out;
	}
	if (i > l->pos) {
		if ((r = ev_step(&l->o, sh->job_id, sh->scanned_at, scope, scan, NULL, NULL)) != 0)
			goto out;
		/* the two derivations met: every later scan derives the same
		 * events from both (a later scan at the same time would make
		 * closed_at ambiguous: go on then) */
		if (!l->findings && ev_host_same(&l->n, &l->o) &&
		    (i + 1 == l->nscans || l->scans[i + 1].at > l->scans[i].at)) {
			l->met = 1;
			l->done = 1;
		}
	}
	/* the checkpoints of the scans derived again (from here on, N's
	 * state), and one an earlier scan lacked (the last before this job's,
	 * for the next late scan of the host); where N and O met, the stored
	 * one is still true */
	if (checkpoint_due(l->host_id, sh->job_id) &&
	    (i < l->pos ? !l->scans[i].has_state : !l->met) && (r = ck_add(l, i, i < l->pos)) != 0)
		goto out;
	if (l->next == l->nscans && l->complete)
		l->done = 1;
out:
	store_host_free(sh);
	return r;
}

/* min of two first_seen times, 0 meaning never */
static int64_t min_seen(int64_t a, int64_t b)
{
	if (!a || (b && b < a))
		return b;
	return a;
}

/*
 * The host's state after the re-derivation.  N and O met after scan
 * scans[next - 1] (met): the stored state stays, but for what ev_step
 * only writes and this job's scan may have moved -- first_seen and
 * last_seen of the ports (min and max with N's), and closed_at (N's when
 * N closed the port in the scans it derived again and no later scan closed
 * it since).  Otherwise N's state, with the same first and last sightings
 * and the stored closed_at where N never set one.
 */
static int port_cmp(const struct ev_port *a, const struct ev_port *b)
{
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return (a->port > b->port) - (a->port < b->port);
}

static int late_final(struct late *l, struct ev_host *f)
{
	const struct ev_host *src = l->met ? &l->cur : &l->n;
	int64_t stop_at = l->met ? l->scans[l->next - 1].at : 0;
	size_t ic = 0, in = 0;
	int r;

	if ((r = ev_host_copy(f, src)) != 0)
		return r;
	f->stored = l->cur.stored;
	/* the ports of f, cur and n are each sorted by (protocol, port) */
	for (size_t i = 0; i < f->nports; i++) {
		struct ev_port *p = &f->ports[i];
		const struct ev_port *c = NULL, *nn = NULL;

		while (ic < l->cur.nports && port_cmp(&l->cur.ports[ic], p) < 0)
			ic++;
		while (in < l->n.nports && port_cmp(&l->n.ports[in], p) < 0)
			in++;
		if (ic < l->cur.nports && port_cmp(&l->cur.ports[ic], p) == 0)
			c = &l->cur.ports[ic];
		if (in < l->n.nports && port_cmp(&l->n.ports[in], p) == 0)
			nn = &l->n.ports[in];
		p->dirty = 1;
		if (c && nn) {
			p->first_seen = min_seen(c->first_seen, nn->first_seen);
			p->last_seen = c->last_seen > nn->last_seen ? c->last_seen : nn->last_seen;
			if (p->state == REC_PORT_OPEN)
				p->closed_at = 0;
			else if (l->met)
				p->closed_at =
				    c->closed_at > stop_at || nn->closed_at == CLOSED_AT_UNSET
				        ? c->closed_at
				        : nn->closed_at;
			else if (nn->closed_at == CLOSED_AT_UNSET)
				p->closed_at = c->closed_at;
		}
		if (p->closed_at < 0)
			p->closed_at = 0;
	}
	f->attrs_dirty = 1;
	return 0;
}

static int cmp_late(const void *a, const void *b)
{
	const struct late *x = *(struct late *const *)a, *y = *(struct late *const *)b;

	return x->host_id < y->host_id ? -1 : x->host_id > y->host_id;
}

static int late_state_cb(void *ctx, size_t i, const char *doc)
{
	struct late_block *b = ctx;
	struct late *l = b->v[b->idx[i]];
	int r;

	if (!doc)
		return 0;
	if ((r = checkpoint_read(doc, &l->n)) == SDB_EDB)
		return store__set_err(b->w->st, SDB_EDB,
		                      "%s: the state kept with job %lld is not a valid document"
		                      " (host_scans.state)",
		                      l->addr, (long long)l->scans[l->from].job_id);
	if (r == 0) {
		l->next = l->from + 1;
		l->need_state = 0;
	}
	return r;
}

/* The checkpoints the hosts start from, for the block at once. */
static int late_read_states(struct late_block *b)
{
	struct store_scan_key *keys;
	size_t n = 0;
	int r;

	if (!(keys = calloc(b->n, sizeof(*keys))) || !(b->idx = calloc(b->n, sizeof(*b->idx)))) {
		free(keys);
		return SDB_ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (b->v[i]->need_state) {
			keys[n] = b->v[i]->scans[b->v[i]->from];
			b->idx[n++] = i;
		}
	}
	r = store_history_states(b->w->st, keys, n, late_state_cb, b);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct late *l = b->v[b->idx[i]];
		if (l->need_state) /* listed as kept, in this transaction */
			r = store__set_err(b->w->st, SDB_EDB,
			                   "%s: the state kept with job %lld is gone", l->addr,
			                   (long long)l->scans[l->from].job_id);
	}
	free(keys);
	free(b->idx);
	b->idx = NULL;
	return r;
}

/* The keys of the scans the hosts still need in this round. */
static int round_keys(struct late_block *b, struct store_scan_key **keys, size_t *nkeys)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		if (!b->v[i]->done)
			n += b->v[i]->want - b->v[i]->next;
	*nkeys = 0;
	if (n == 0)
		return 0;
	if (!(*keys = sdb_reallocarray(*keys, n, sizeof(**keys))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		struct late *l = b->v[i];
		if (l->done)
			continue;
		memcpy(*keys + *nkeys, l->scans + l->next, (l->want - l->next) * sizeof(**keys));
		*nkeys += l->want - l->next;
	}
	return 0;
}

/* Write what the block derived. */
static int late_write(struct late_block *b)
{
	struct store *st = b->w->st;
	struct store_scan_key *keys = NULL;
	size_t nkeys = 0, cap = 0;
	int r = 0;

	/* the stored events of the later scans derived again go first */
	for (size_t i = 0; i < b->n; i++)
		cap += b->v[i]->next - b->v[i]->pos - 1;
	if (cap && !(keys = calloc(cap, sizeof(*keys))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		struct late *l = b->v[i];
		for (size_t k = l->pos + 1; k < l->next; k++)
			keys[nkeys++] = l->scans[k];
	}
	r = store_history_forget(st, keys, nkeys);
	free(keys);
	keys = NULL;
	if (r == 0) { /* the checkpoints of the scans derived again */
		const char **docs = NULL;
		size_t nck = 0;

		for (size_t i = 0; i < b->n; i++)
			nck += b->v[i]->nck;
		if (nck && (!(keys = calloc(nck, sizeof(*keys))) ||
		            !(docs = calloc(nck, sizeof(*docs))))) {
			free(keys);
			return SDB_ENOMEM;
		}
		nkeys = 0;
		for (size_t i = 0; i < b->n; i++) {
			for (size_t k = 0; k < b->v[i]->nck; k++) {
				keys[nkeys] = b->v[i]->scans[b->v[i]->ck[k].i];
				docs[nkeys++] = b->v[i]->ck[k].doc;
			}
		}
		r = store_history_states_put(st, keys, docs, nkeys);
		free(keys);
		free(docs);
	}
	for (size_t i = 0; i < b->n && r == 0; i++) {
		struct late *l = b->v[i];
		struct ev_host f;

		for (size_t k = 0; k < l->ev.n && r == 0; k++)
			r = store_event_insert(st, l->host_id, &l->ev.ev[k]);
		ev_host_init(&f);
		if (r == 0 && (r = late_final(l, &f)) == 0)
			r = store_port_state_save(st, l->host_id, &f);
		ev_host_free(&f);
		if (r == 0 && l->findings)
			r = findings_replay_finish(st, &l->fr);
	}
	return r;
}

/* Derive the history of the waiting late hosts again (see above). */
/*
 * List the scans of the hosts b->v[i] for which sel[i] is set (all when
 * sel is NULL): from their checkpoint before this job's scan, or from
 * their first scan (from_start); has_findings[i] as store.h says.  Then
 * find this job's scan among each one's.
 */
static int late_list(struct late_block *b, const unsigned char *sel, int from_start, int max_later,
                     unsigned char *has_findings)
{
	struct job_writer *w = b->w;
	struct store_scan_key *lates;
	unsigned char *hf;
	size_t n = 0;
	int r = 0;

	lates = calloc(b->n, sizeof(*lates));
	hf = calloc(b->n, 1);
	if (!lates || !hf) {
		free(lates);
		free(hf);
		return SDB_ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (sel && !sel[i])
			continue;
		b->v[i]->nscans = 0;
		lates[n++] = (struct store_scan_key){b->v[i]->host_id, w->job_id, b->v[i]->at, 0};
	}
	b->cursor = 0;
	if ((r = store_history_scan_list(w->st, lates, n, from_start, max_later, hf, late_list_cb,
	                                 b)) != 0)
		goto out;
	for (size_t i = 0, k = 0; i < b->n && r == 0; i++) {
		struct late *l = b->v[i];

		if (sel && !sel[i])
			continue;
		if (has_findings)
			has_findings[i] = hf[k];
		k++;
		for (l->pos = 0; l->pos < l->nscans && l->scans[l->pos].job_id != w->job_id;
		     l->pos++)
			;
		if (l->pos == l->nscans)
			r = store__set_err(w->st, SDB_EDB,
			                   "%s: this job's scan of it is not stored", l->addr);
		l->complete = !max_later || l->nscans - l->pos - 1 < (size_t)max_later;
	}
out:
	free(lates);
	free(hf);
	return r;
}

/* Derive the history of the waiting late hosts again (see above). */
static int late_run(struct job_writer *w)
{
	struct late_block b = {.w = w, .v = w->late, .n = w->nlate};
	struct store_scan_key *keys = NULL;
	unsigned char *sel = NULL;
	size_t nkeys = 0, round = 0, nsel;
	int r = 0;

	if (w->nlate == 0)
		return 0;
	qsort(b.v, b.n, sizeof(*b.v), cmp_late);
	if (!(sel = calloc(b.n, 1))) {
		r = SDB_ENOMEM;
		goto out;
	}
	if ((r = late_list(&b, NULL, 0, LATE_LIST_LATER, sel)) != 0)
		goto out;
	/* the hosts with findings derive them from all their scans */
	nsel = 0;
	for (size_t i = 0; i < b.n; i++) {
		b.v[i]->findings = sel[i];
		nsel += sel[i];
	}
	if (nsel && (r = late_list(&b, sel, 1, 0, NULL)) != 0)
		goto out;
	for (size_t i = 0; i < b.n && r == 0; i++)
		r = late_start(w, b.v[i]);
	if (r == 0)
		r = late_read_states(&b);
	while (r == 0) {
		b.cursor = 0;
		if ((r = round_keys(&b, &keys, &nkeys)) != 0 || nkeys == 0)
			break;
		if ((r = store_history_scans(w->st, keys, nkeys, late_apply, &b)) != 0)
			break;
		round++;
		nsel = 0;
		for (size_t i = 0; i < b.n && r == 0; i++) {
			struct late *l = b.v[i];

			sel[i] = (unsigned char)l->restart;
			nsel += sel[i];
			if (l->done)
				continue;
			if (l->next < l->want) {
				r = store__set_err(w->st, SDB_EDB,
				                   "%s: %zu of its scans were not read", l->addr,
				                   l->want - l->next);
				break;
			}
		}
		/* hosts that turned out to have findings to derive: again, from
		 * their first scan */
		if (r == 0 && nsel && (r = late_list(&b, sel, 1, 0, NULL)) == 0) {
			for (size_t i = 0; i < b.n && r == 0; i++) {
				if (sel[i]) {
					b.v[i]->restart = 0;
					r = late_start(w, b.v[i]);
				}
			}
		}
		/* hosts at the end of a list that stopped short: all their later
		 * scans (the list starts where it did: the indexes stay) */
		nsel = 0;
		for (size_t i = 0; i < b.n; i++) {
			struct late *l = b.v[i];
			sel[i] = !l->done && !l->complete && l->next == l->nscans;
			nsel += sel[i];
		}
		if (r == 0 && nsel)
			r = late_list(&b, sel, 0, 0, NULL);
		for (size_t i = 0; i < b.n && r == 0; i++) {
			struct late *l = b.v[i];
			if (l->done)
				continue;
			l->want =
			    l->findings ? l->nscans : l->next + ((size_t)LATE_FIRST_ROUND << round);
			if (l->want > l->nscans)
				l->want = l->nscans;
		}
	}
	if (r == 0)
		r = late_write(&b);
out:
	if (r == SDB_ENOMEM)
		r = store__set_err(w->st, r, "deriving the history of late scans: out of memory");
	for (size_t i = 0; i < b.nscopes; i++)
		scope_free(&b.scopes[i].scope);
	free(b.scopes);
	store_host_rec_free(&b.rec);
	free(keys);
	free(sel);
	for (size_t i = 0; i < w->nlate; i++)
		late_free(w->late[i]);
	w->nlate = 0;
	return r;
}

/* Host host_id (addr, stored state *state, which is taken) waits for its
 * history to be derived again; a full block is derived at once. */
static int late_add(struct job_writer *w, int64_t host_id, const char *addr, int64_t at,
                    struct ev_host *state)
{
	struct late *l;

	if (w->nlate == w->late_cap) {
		size_t ncap = w->late_cap ? w->late_cap * 2 : 64;
		void *nv = sdb_reallocarray(w->late, ncap, sizeof(*w->late));
		if (!nv)
			return SDB_ENOMEM;
		w->late = nv;
		w->late_cap = ncap;
	}
	if (!(l = calloc(1, sizeof(*l))) || !(l->addr = strdup(addr))) {
		free(l);
		return SDB_ENOMEM;
	}
	l->host_id = host_id;
	l->at = at;
	l->cur = *state;
	l->cur.borrow = 0; /* only read from here on */
	ev_host_init(state);
	ev_host_init(&l->n);
	ev_host_init(&l->o);
	l->ev.st = l->tmp.st = w->st;
	l->ev.host_id = l->tmp.host_id = host_id;
	l->ev.own = 1; /* kept across scans, stored at the end */
	w->late[w->nlate++] = l;
	if (w->nlate >= LATE_BLOCK)
		return late_run(w);
	return 0;
}

static void late_discard(struct job_writer *w)
{
	for (size_t i = 0; i < w->nlate; i++)
		late_free(w->late[i]);
	w->nlate = 0;
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
	if (w->history || maybe_dup) {
		r = store_history_load(st, h->addr, seen, w->job_id, &known_id, &state);
		if (r != 0 && r != SDB_ENOTFOUND)
			goto out;
		in_order = store_history_in_order(&state, seen, w->job_id);
	}
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
		if ((r = ev_step(&state, w->job_id, seen, &w->scope, h, emit_event, &ec)) != 0)
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
			if (r != 0 || (r = store_port_state_save(st, host_id, &state)) != 0)
				goto out;
		} else if ((r = late_add(w, host_id, h->addr, seen, &state)) != 0) {
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
	/* Benchmarks only: measure ingest without deriving events.  A
	 * database written this way has no history for these jobs. */
	w->history = !getenv("SCANDB_BENCH_NO_HISTORY");
	/* Tests only: a tiny filter, so that nearly every host is a false
	 * positive the store must settle (a power of two, 64 or more). */
	w->seen_bits = SEEN_BITS;
	{
		const char *v = getenv("SCANDB_TEST_SEEN_BITS");
		unsigned long long b = v ? strtoull(v, NULL, 10) : 0;

		if (b >= 64 && b <= SEEN_BITS && (b & (b - 1)) == 0)
			w->seen_bits = (size_t)b;
	}
	{
		char err[512] = "";
		if ((r = findings_rules_load(&w->rules, err, sizeof(err))) != 0) {
			store__set_err(st, r, "%s", err[0] ? err : "could not load finding rules");
			goto fail;
		}
	}
	w->elapsed = -1;
	w->rs_up = w->rs_down = w->rs_total = -1;
	w->partial = w->stats.partial = o->partial != 0;
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
	late_discard(w);
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
	char *scope = NULL;
	int r;

	if (!w || w->state != W_OPEN)
		return SDB_EUSAGE;
	if (w->nmap_error)
		return commit_nmap_failed(w, content_hash);
	if ((r = late_run(w)) != 0 || (r = scope_format(&w->scope, &scope)) != 0)
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
		late_discard(w);
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
	free(w->late);
	free(w);
}
