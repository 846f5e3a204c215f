/*
 * job_late.c - late scans, part of the job writer (job_writer_int.h: the
 * queue the writer fills, late_add / late_run).  Holds: re-deriving the
 * history of the hosts a job's scan came late for -- listing their scans,
 * rebuilding each state from its checkpoint (app/checkpoint.h), applying
 * the later scans with and without the late one until they meet, and
 * writing the events, checkpoints, states and findings that changed.
 *
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
 * Gone (history/events.h): a host's list holds, besides its stored scans,
 * the scans that covered it without listing it (keys with .miss set:
 * job_late_miss.c merges them in from every dated, whole job's target
 * ranges, this job's included), applied with ev_miss in their place
 * (late_misses; they have no stored scan to read).  This job's own entry
 * may be such a miss (late_add's miss: a host it covered and did not list,
 * with a later scan or miss stored); a miss before the host's first scan
 * changes nothing (l->skip).  The host's status and misses are saved with
 * its state (store_hosts_gone_save).
 *
 * A host with findings (or whose re-derived scans detect one) has its
 * findings' lifecycle derived again from all of its scans (findings_replay,
 * as findings.h says), so for it every scan is listed, read and applied.
 *
 * job rm (app/job_rm.c, late_job.remove) runs the same derivation the other
 * way: the removed job's scan is listed but not applied, every host goes
 * from its first scan to its last (a checkpoint holds no first_seen,
 * last_seen or closed_at, which a removal may move back, and no stored
 * state can stand in for them), and the host's state is N's: what an
 * import of the other scans alone would have written.  A host with
 * findings, or whose later scans now detect one, has them made again from
 * scratch (those scans decided are forgotten first).
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
#include "app/job_writer_int.h"

#include <stdlib.h>
#include <string.h>

#include "app/checkpoint.h"
#include "app/findings.h"
#include "core/buf.h"
#include "core/addr.h"
#include "core/error.h"
#include "core/vec.h"
#include "history/events.h"
#include "history/findings.h"

#define LATE_BLOCK       1024 /* late hosts derived again together */
#define LATE_FIRST_ROUND 1    /* later scans read in the first round */
#define LATE_LIST_LATER  8    /* later scans listed at first */

struct late {
	int64_t host_id;
	char *addr;
	int64_t at;                   /* this job's scan time of it */
	unsigned char key[16];        /* its address key (coverage) */
	int miss;                     /* this job covered it without listing it */
	int skip;                     /* ... before it was known: nothing to derive */
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
	const struct late_job *j;
	struct late_covers cov; /* every dated, whole job's ranges, this job's too */
	struct late **v;        /* sorted by host id */
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

	if (job_id == b->j->job_id) { /* this job: not finished, not stored yet */
		*out = b->j->scope;
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
		return store_set_error(b->j->st, SDB_EDB,
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
	if (VEC_RESERVE(l->scans, l->cap, l->nscans + 1, 16))
		return SDB_ENOMEM;
	l->scans[l->nscans++] = *k;
	return 0;
}

/* Start (or start again) deriving host l: from the nearest checkpoint
 * before this job's scan, or (no checkpoint, or its findings are derived
 * again: they need every scan) from its first scan. */
static int late_start(const struct late_job *j, struct late *l)
{
	int r;

	if (l->skip)
		return 0;
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
	if (!l->findings)
		return 0;
	/* job rm: the findings scans decided are made again from scratch by
	 * the scans that stay, as an import of those alone would make them */
	if (j->remove && (r = store_findings_forget_scan_decided(j->st, l->host_id)) != 0)
		return r;
	return findings_replay_begin(j->st, l->host_id, &l->fr);
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
	if (VEC_RESERVE(l->ck, l->ckcap, l->nck + 1, 4)) {
		free(doc);
		return SDB_ENOMEM;
	}
	l->ck[l->nck++] = (struct ckpt){i, doc};
	return 0;
}

/* Check that sh is the scan l waits for (scans[l->next]) and read it into
 * b->rec (named l->addr) with its probed scope. */
static int late_scan_rec(struct late_block *b, struct late *l, struct store_host *sh,
                         const char *probed_scope, const struct scan_scope **scope)
{
	int r;

	if (l->next >= l->want || l->scans[l->next].job_id != sh->job_id)
		return store_set_error(b->j->st, SDB_EDB, "%s: scan %lld came out of order",
		                       l->addr, (long long)sh->job_id);
	if ((r = store_host_as_rec(sh, &b->rec)) != 0)
		return r == SDB_ENOMEM ? r
		                       : store_set_error(b->j->st, SDB_EDB,
		                                         "scan %lld of %s: not a valid stored scan",
		                                         (long long)sh->job_id, l->addr);
	b->rec.h.addr = l->addr;
	return block_scope(b, sh->job_id, probed_scope, scope);
}

/* The state as of this job's scan: O goes on from here without it;
 * closed_at that N never sets stays the stored one. */
static int late_fork(struct late *l)
{
	for (size_t k = 0; k < l->n.nports; k++)
		if (l->n.ports[k].state != REC_PORT_OPEN)
			l->n.ports[k].closed_at = CLOSED_AT_UNSET;
	return ev_host_copy(&l->o, &l->n);
}

/* After scans[i], a later scan applied to both: the two derivations met
 * when every later scan derives the same events from both (a later scan
 * at the same time would make closed_at ambiguous: go on then). */
static void late_check_met(struct late *l, size_t i)
{
	if (!l->findings && ev_host_same(&l->n, &l->o) &&
	    (i + 1 == l->nscans || l->scans[i + 1].at > l->scans[i].at)) {
		l->met = 1;
		l->done = 1;
	}
}

/* Apply the misses (scans that covered the host without listing it) at
 * l->next, up to what this round reads: to N, and from this job's place
 * on to O too; this job's own and later ones' events kept. */
static int late_misses(struct late_block *b, struct late *l)
{
	int r;

	while (!l->done && l->next < l->want && l->scans[l->next].miss) {
		size_t i = l->next;
		const struct store_scan_key *k = &l->scans[i];

		if (b->j->remove && i == l->pos) {
			/* job rm: the removed job's miss is not applied (as its
			 * scan is not, in late_step) */
			l->next = i + 1;
			if (l->next == l->nscans && l->complete)
				l->done = 1;
			continue;
		}
		if (i == l->pos && (r = late_fork(l)) != 0)
			return r;
		if ((r = ev_miss(&l->n, k->job_id, k->at, b->j->gone_after,
		                 i >= l->pos ? emit_event : NULL, &l->ev)) != 0)
			return r;
		l->next = i + 1;
		if (i > l->pos) {
			if ((r = ev_miss(&l->o, k->job_id, k->at, b->j->gone_after, NULL, NULL)) !=
			    0)
				return r;
			late_check_met(l, i);
		}
		if (l->next == l->nscans && l->complete)
			l->done = 1;
	}
	return 0;
}

static int late_misses_all(struct late_block *b)
{
	int r = 0;

	for (size_t i = 0; i < b->n && r == 0; i++)
		r = late_misses(b, b->v[i]);
	return r;
}

/* Apply scans[i] (sh, read as `scan`) to N, keeping the events the
 * findings or the write need, and run the findings on them: all of them
 * when l's findings are derived again, else only whether this job's scan
 * or a later one detects one (*detects). */
static int late_step_n(struct late_block *b, struct late *l, size_t i, const struct store_host *sh,
                       const struct scan_scope *scope, const struct rec_host *scan, int *detects)
{
	struct emit_ctx *ec = i < l->pos ? &l->tmp : &l->ev;
	size_t first = ec->n;
	const struct ev_event *evs;
	int r;

	if (i == l->pos && (r = late_fork(l)) != 0)
		return r;
	/* earlier scans: their events are needed for findings only */
	if ((r = ev_step(&l->n, sh->job_id, sh->scanned_at, scope, scan, b->j->gone_after,
	                 i >= l->pos || l->findings ? emit_event : NULL, ec)) != 0)
		return r;
	evs = ec->n > first ? ec->ev + first : NULL; /* this scan's */
	if (l->findings)
		r = findings_on_scan(b->j->st, b->j->rules, l->host_id, sh->job_id, sh->scanned_at,
		                     scope, scan, evs, ec->n - first, &l->fr);
	else if (i >= l->pos)
		r = findings_scan_detects(b->j->rules, scan, evs, ec->n - first, detects);
	if (r == 0 && i < l->pos)
		emit_ctx_clear(&l->tmp);
	return r;
}

/* One stored scan of a late host, applied in order. */
static int late_apply(void *ctx, struct store_host *sh, const char *probed_scope)
{
	struct late_block *b = ctx;
	struct late *l = block_find(b, sh->id);
	const struct scan_scope *scope = NULL;
	size_t i;
	int r, detects = 0;

	if (l && (r = late_misses(b, l)) != 0) {
		store_host_free(sh);
		return r;
	}
	if (!l || l->done) {
		store_host_free(sh);
		return 0;
	}
	i = l->next;
	if ((r = late_scan_rec(b, l, sh, probed_scope, &scope)) != 0)
		goto out;
	l->next = i + 1;
	if (b->j->remove && i == l->pos)
		goto last; /* job rm: the removed job's scan is not applied */
	if ((r = late_step_n(b, l, i, sh, scope, &b->rec.h, &detects)) != 0)
		goto out;
	if (detects) {
		/* something to derive findings from: this host goes again,
		 * all of its scans, with its findings */
		l->findings = 1;
		l->restart = 1;
		l->done = 1;
		goto out;
	}
	if (i > l->pos && !b->j->remove) {
		if ((r = ev_step(&l->o, sh->job_id, sh->scanned_at, scope, &b->rec.h,
		                 b->j->gone_after, NULL, NULL)) != 0)
			goto out;
		late_check_met(l, i);
	}
	/* the checkpoints of the scans derived again (from here on, N's
	 * state), and one an earlier scan lacked (the last before this job's,
	 * for the next late scan of the host); where N and O met, the stored
	 * one is still true */
	if (checkpoint_due(l->host_id, sh->job_id) &&
	    (i < l->pos ? !l->scans[i].has_state : !l->met) && (r = ck_add(l, i, i < l->pos)) != 0)
		goto out;
last:
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

static int late_final(struct late *l, int remove, struct ev_host *f)
{
	const struct ev_host *src = l->met ? &l->cur : &l->n;
	int64_t stop_at = l->met ? l->scans[l->next - 1].at : 0;
	size_t ic = 0, in = 0;
	int r;

	if ((r = ev_host_copy(f, src)) != 0)
		return r;
	f->stored = l->cur.stored;
	if (remove) { /* job rm: N, derived from the first scan, is all of it */
		for (size_t i = 0; i < f->nports; i++)
			f->ports[i].dirty = 1;
		f->attrs_dirty = 1;
		return 0;
	}
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
		return store_set_error(b->j->st, SDB_EDB,
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
	r = store_history_states(b->j->st, keys, n, late_state_cb, b);
	for (size_t i = 0; i < n && r == 0; i++) {
		struct late *l = b->v[b->idx[i]];
		if (l->need_state) /* listed as kept, in this transaction */
			r = store_set_error(b->j->st, SDB_EDB,
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
	struct store_scan_key *nv;
	size_t n = 0;

	for (size_t i = 0; i < b->n; i++)
		for (size_t k = b->v[i]->next; !b->v[i]->done && k < b->v[i]->want; k++)
			n += !b->v[i]->scans[k].miss; /* a miss has no stored scan */
	*nkeys = 0;
	if (n == 0)
		return 0;
	if (!(nv = sdb_reallocarray(*keys, n, sizeof(**keys))))
		return SDB_ENOMEM; /* (*keys stays the caller's to free) */
	*keys = nv;
	for (size_t i = 0; i < b->n; i++) {
		struct late *l = b->v[i];
		if (l->done)
			continue;
		for (size_t k = l->next; k < l->want; k++)
			if (!l->scans[k].miss)
				(*keys)[(*nkeys)++] = l->scans[k];
	}
	return 0;
}

/* Write what the block derived. */
static int late_write(struct late_block *b)
{
	struct store *st = b->j->st;
	struct store_scan_key *keys = NULL;
	size_t nkeys = 0, cap = 0;
	int r = 0;

	/* the stored events of the later scans derived again go first */
	for (size_t i = 0; i < b->n; i++)
		if (!b->v[i]->skip && b->v[i]->next > b->v[i]->pos)
			cap += b->v[i]->next - b->v[i]->pos - 1;
	if (cap && !(keys = calloc(cap, sizeof(*keys))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < b->n; i++) {
		struct late *l = b->v[i];
		for (size_t k = l->pos + 1; !l->skip && k < l->next; k++)
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

		if (l->skip)
			continue;
		for (size_t k = 0; k < l->ev.n && r == 0; k++)
			r = store_event_insert(st, l->host_id, &l->ev.ev[k]);
		ev_host_init(&f);
		/* its status and misses first: its host_state row then exists */
		if (r == 0 && (r = late_final(l, b->j->remove, &f)) == 0 &&
		    (r = store_hosts_gone_save(st, &(struct store_gone){l->host_id, &f}, 1)) == 0) {
			f.stored = 1;
			r = store_port_state_save(st, l->host_id, &f);
		}
		ev_host_free(&f);
		if (r == 0 && l->findings)
			r = findings_replay_finish(st, &l->fr);
	}
	return r;
}

/* After listing l's scans: whether the list goes to its newest scan (fewer
 * than max_later listed after this job's), its misses merged in, and this
 * job's place among them (a miss before the host's first scan: nothing to
 * derive, l->skip). */
static int late_listed(struct late_block *b, struct late *l, int max_later)
{
	struct store_scan_key me = {l->host_id, b->j->job_id, l->at, 0, 0};
	size_t later = 0;
	int r;

	for (size_t i = 0; i < l->nscans; i++)
		later += late_key_cmp(&l->scans[i], &me) > 0;
	l->complete = !max_later || later < (size_t)max_later;
	if ((r = late_misses_merge(&l->scans, &l->nscans, &l->cap, l->host_id, l->key, &b->cov,
	                           l->complete)) != 0)
		return r;
	for (l->pos = 0; l->pos < l->nscans && l->scans[l->pos].job_id != b->j->job_id; l->pos++)
		;
	if (l->pos == l->nscans && l->miss) {
		l->skip = l->done = 1;
		l->want = l->next = 0;
		return 0;
	}
	if (l->pos == l->nscans)
		return store_set_error(b->j->st, SDB_EDB, "%s: this job's scan of it is not stored",
		                       l->addr);
	return 0;
}

/*
 * List the scans of the hosts b->v[i] for which sel[i] is set (all when
 * sel is NULL): from their checkpoint before this job's scan, or from
 * their first scan (from_start); has_findings[i] as store.h says.  Then
 * find this job's scan among each one's.
 */
static int late_list(struct late_block *b, const unsigned char *sel, int from_start, int max_later,
                     unsigned char *has_findings)
{
	const struct late_job *j = b->j;
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
		lates[n++] =
		    (struct store_scan_key){b->v[i]->host_id, j->job_id, b->v[i]->at, 0, 0};
	}
	b->cursor = 0;
	if ((r = store_history_scan_list(j->st, lates, n, from_start, max_later, hf, late_list_cb,
	                                 b)) != 0)
		goto out;
	for (size_t i = 0, k = 0; i < b->n && r == 0; i++) {
		struct late *l = b->v[i];

		if (sel && !sel[i])
			continue;
		if (has_findings)
			has_findings[i] = hf[k];
		k++;
		r = late_listed(b, l, max_later);
	}
out:
	free(lates);
	free(hf);
	return r;
}

/* List the block's scans (all of them for the hosts with findings), start
 * each host and read the checkpoints they start from.  sel: b->n bytes to
 * work in. */
static int late_begin(struct late_block *b, unsigned char *sel)
{
	size_t nsel = 0;
	int r;

	/* job rm: every scan of every host, from its first */
	if ((r = b->j->remove ? late_list(b, NULL, 1, 0, sel)
	                      : late_list(b, NULL, 0, LATE_LIST_LATER, sel)) != 0)
		return r;
	/* the hosts with findings derive them from all their scans */
	for (size_t i = 0; i < b->n; i++) {
		b->v[i]->findings = sel[i];
		nsel += sel[i];
	}
	if (nsel && !b->j->remove && (r = late_list(b, sel, 1, 0, NULL)) != 0)
		return r;
	for (size_t i = 0; i < b->n && r == 0; i++)
		r = late_start(b->j, b->v[i]);
	return r != 0 ? r : late_read_states(b);
}

/* After round `round` (1 the first): every host read what it wanted; the
 * hosts that turned out to have findings to derive start again; lists that
 * stopped short go on; each host not done wants the next scans (twice as
 * many each round).  sel: b->n bytes to work in. */
static int late_round_end(struct late_block *b, unsigned char *sel, size_t round)
{
	size_t nsel = 0;
	int r = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct late *l = b->v[i];

		sel[i] = (unsigned char)l->restart;
		nsel += sel[i];
		if (!l->done && l->next < l->want)
			return store_set_error(b->j->st, SDB_EDB,
			                       "%s: %zu of its scans were not read", l->addr,
			                       l->want - l->next);
	}
	/* hosts that turned out to have findings to derive: again, from
	 * their first scan */
	if (nsel && (r = late_list(b, sel, 1, 0, NULL)) == 0) {
		for (size_t i = 0; i < b->n && r == 0; i++) {
			if (sel[i]) {
				b->v[i]->restart = 0;
				r = late_start(b->j, b->v[i]);
			}
		}
	}
	/* hosts at the end of a list that stopped short: all their later
	 * scans (the list starts where it did: the indexes stay) */
	nsel = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct late *l = b->v[i];
		sel[i] = !l->done && !l->complete && l->next == l->nscans;
		nsel += sel[i];
	}
	if (r == 0 && nsel)
		r = late_list(b, sel, 0, 0, NULL);
	for (size_t i = 0; i < b->n && r == 0; i++) {
		struct late *l = b->v[i];
		if (l->done)
			continue;
		l->want = l->findings ? l->nscans : l->next + ((size_t)LATE_FIRST_ROUND << round);
		if (l->want > l->nscans)
			l->want = l->nscans;
	}
	return r;
}

/* A host still to derive: one whose list is complete and wholly applied
 * is done (its last entry may have been a listed scan applied earlier, or
 * a list that stopped short turned out complete). */
static int late_pending(struct late_block *b)
{
	int any = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct late *l = b->v[i];

		if (!l->done && l->complete && l->next >= l->nscans)
			l->done = 1;
		any |= !l->done;
	}
	return any;
}

#define LATE_MAX_ROUNDS 60 /* the rounds double what they read: far more than enough */

int late_run(struct late_queue *q, const struct late_job *j)
{
	struct late_block b = {.j = j, .v = q->v, .n = q->n};
	struct store_scan_key *keys = NULL;
	unsigned char *sel = NULL;
	size_t nkeys = 0, round = 0;
	int r;

	if (q->n == 0)
		return 0;
	qsort(b.v, b.n, sizeof(*b.v), cmp_late);
	/* the ranges the misses come from: the stored jobs', and this job's */
	r = (sel = calloc(b.n, 1)) ? late_covers_load(j->st, j->job_id, &b.cov) : SDB_ENOMEM;
	for (size_t i = 0; r == 0 && j->targets && i < j->targets->n; i++)
		r = late_covers_add(&b.cov, j->job_id, j->at, &j->targets->v[i]);
	if (r == 0)
		r = late_begin(&b, sel);
	while (r == 0) {
		b.cursor = 0;
		/* the misses that come first need no read */
		if ((r = late_misses_all(&b)) != 0 || (r = round_keys(&b, &keys, &nkeys)) != 0)
			break;
		if (nkeys == 0 && !late_pending(&b))
			break;
		if (++round > LATE_MAX_ROUNDS) {
			r = store_set_error(j->st, SDB_EDB,
			                    "deriving late scans: no end after %d rounds",
			                    LATE_MAX_ROUNDS);
			break;
		}
		if (nkeys && (r = store_history_scans(j->st, keys, nkeys, late_apply, &b)) != 0)
			break;
		if ((r = late_misses_all(&b)) != 0)
			break;
		r = late_round_end(&b, sel, round);
	}
	if (r == 0)
		r = late_write(&b);
	if (r == SDB_ENOMEM)
		r = store_set_error(j->st, r, "deriving the history of late scans: out of memory");
	for (size_t i = 0; i < b.nscopes; i++)
		scope_free(&b.scopes[i].scope);
	free(b.scopes);
	late_covers_free(&b.cov);
	store_host_rec_free(&b.rec);
	free(keys);
	free(sel);
	late_discard(q);
	return r;
}

int late_add(struct late_queue *q, const struct late_job *j, int64_t host_id, const char *addr,
             int64_t at, int miss, struct ev_host *state)
{
	struct late *l;

	if (VEC_RESERVE(q->v, q->cap, q->n + 1, 64))
		return SDB_ENOMEM;
	if (!(l = calloc(1, sizeof(*l))) || !(l->addr = strdup(addr))) {
		free(l);
		return SDB_ENOMEM;
	}
	l->host_id = host_id;
	l->at = at;
	l->miss = miss;
	if (addr_parse(addr, NULL, NULL, l->key) != 0)
		memset(l->key, 0, sizeof(l->key)); /* (stored addresses parse) */
	l->cur = *state;
	l->cur.borrow = 0; /* only read from here on */
	ev_host_init(state);
	ev_host_init(&l->n);
	ev_host_init(&l->o);
	l->ev.st = l->tmp.st = j->st;
	l->ev.host_id = l->tmp.host_id = host_id;
	l->ev.own = 1; /* kept across scans, stored at the end */
	q->v[q->n++] = l;
	if (q->n >= LATE_BLOCK)
		return late_run(q, j);
	return 0;
}

void late_discard(struct late_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		late_free(q->v[i]);
	q->n = 0;
}

void late_queue_free(struct late_queue *q)
{
	late_discard(q);
	free(q->v);
	q->v = NULL;
	q->cap = 0;
}
