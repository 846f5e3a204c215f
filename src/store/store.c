/*
 * store.c - the wrappers every caller goes through (store.h): the job kind
 * and status names, backend selection by URL, open/close, the handle's
 * error message (store_set_error), transactions, and one wrapper per slot
 * of struct store_ops (store_int.h).  A wrapper checks
 * its arguments once for both backends, turns an empty optional slot into
 * SDB_EUNSUPPORTED, and is where store_inject_fault() makes a named
 * operation fail for tests (STORE__CALL).  Also here: the findings
 * statements written once in SQL for both backends.
 *
 * Not here: the migration algorithm (store_migrate.c), the operations --
 * health, stats, prune, reaping stale jobs, backup, restore
 * (store_ops.c) -- and doctor (store_doctor.c).
 */
#include "store/store.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/retry.h"
#include "core/hoststate.h"
#include "store/store_int.h"

static const char *const job_kind_names[] = {"import", "scan"};
static const char *const job_status_names[] = {"queued", "running", "completed", "failed",
                                               "cancelled"};

const char *store_job_kind_name(enum store_job_kind k)
{
	return (unsigned)k < 2 ? job_kind_names[k] : "?";
}

const char *store_job_status_name(enum store_job_status s)
{
	return (unsigned)s < 5 ? job_status_names[s] : "?";
}

int store_job_status_parse(const char *s, enum store_job_status *out)
{
	for (int i = 0; i < 5; i++) {
		if (s && strcmp(s, job_status_names[i]) == 0) {
			*out = (enum store_job_status)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

static int set_errv(struct store *st, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static int set_errv(struct store *st, int err, const char *fmt, va_list ap)
{
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	return err;
}

int store_set_error(struct store *st, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	code = set_errv(st, code, fmt, ap);
	va_end(ap);
	return code;
}

int store__set_err(struct store *st, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err = set_errv(st, err, fmt, ap);
	va_end(ap);
	return err;
}

/* 2 ms doubling to ~1 s, plus up to 100% jitter so that competing
 * writers do not retry in lock-step. */
static const struct retry_backoff store_retry = {
    .first_us = 2000, .max_doublings = 9, .jitter_pct = 100};

void store__backoff(int attempt)
{
	retry_sleep(&store_retry, attempt);
}

/* Writers queue behind each other (a big import holds the lock while it
 * runs), so the default is generous. */
#define LOCK_WAIT_DEFAULT_S 600

double store__lock_wait_seconds(void)
{
	const char *v = getenv("SCANDB_LOCK_TIMEOUT");
	char *end;
	double d;

	if (v && *v) {
		d = strtod(v, &end);
		if (*end == '\0' && d >= 0 && d <= 86400)
			return d;
	}
	return LOCK_WAIT_DEFAULT_S;
}

/* ---- fault injection --------------------------------------------------- */

void store_inject_fault(struct store *st, const char *op, int count, int err)
{
	snprintf(st->fault_op, sizeof(st->fault_op), "%s", op);
	st->fault_count = count;
	st->fault_err = err;
}

int store__fault(struct store *st, const char *op)
{
	if (st->fault_count <= 0)
		return 0;
	if (strcmp(st->fault_op, "*") != 0 && strcmp(st->fault_op, op) != 0)
		return 0;
	st->fault_count--;
	return store__set_err(st, st->fault_err, "%s: injected fault (%s)", op,
	                      sdb_strerror(st->fault_err));
}

/* ---- open / close ------------------------------------------------------ */

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int store__is_pg_target(const char *target)
{
	return has_prefix(target, "postgresql://") || has_prefix(target, "postgres://") ||
	       has_prefix(target, "postgresql:") || has_prefix(target, "pg:");
}

int store_target_is_pg(const char *target)
{
	return target && store__is_pg_target(target);
}

/* store_target_display: store_target.c */

int store_open_mode(const char *target, int flags, struct store **out, char *errmsg, size_t errlen)
{
	const struct store_ops *ops;
	char dummy[8];
	int r;

	*out = NULL;
	if (!errmsg) {
		errmsg = dummy;
		errlen = sizeof(dummy);
	}
	errmsg[0] = '\0';
	if (!target || !*target) {
		snprintf(errmsg, errlen, "no database given");
		return SDB_EUSAGE;
	}
#ifdef SCANDB_WITH_PG
	ops = store__is_pg_target(target) ? &store_pg_ops : &store_sqlite_ops;
#else
	if (store__is_pg_target(target)) {
		snprintf(errmsg, errlen,
		         "this scandb was built without PostgreSQL support (-DSCANDB_WITH_PG=OFF)");
		return SDB_EUNSUPPORTED;
	}
	ops = &store_sqlite_ops;
#endif
	if (ops->open_mode)
		r = ops->open_mode(target, flags, out, errmsg, errlen);
	else
		r = ops->open(target, out, errmsg, errlen);
	if (r == 0)
		(*out)->ops = ops;
	return r;
}

int store_open(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	return store_open_mode(target, STORE_OPEN_CREATE, out, errmsg, errlen);
}

int store_is_readonly(const struct store *st)
{
	return st && st->ops->is_readonly ? st->ops->is_readonly(st) : 0;
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

const char *store_errmsg(const struct store *st)
{
	return st ? st->errmsg : "no database handle";
}

const char *store_backend_name(const struct store *st)
{
	return st->ops->name;
}

/* ---- transactions and the job write path ------------------------------ */

int store_tx_begin_ordered(struct store *st, int64_t scan_time)
{
	int r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = store__fault(st, "tx_begin")) != 0)
		return r;
	if ((r = st->ops->tx_begin(st, scan_time > 0 ? scan_time : 0)) == 0)
		st->in_tx = 1;
	return r;
}

int store_tx_begin(struct store *st)
{
	return store_tx_begin_ordered(st, 0);
}

int store_tx_commit(struct store *st)
{
	int r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = store__fault(st, "tx_commit")) != 0)
		return r;
	if ((r = st->ops->tx_commit(st)) == 0)
		st->in_tx = 0;
	return r;
}

int store_tx_rollback(struct store *st)
{
	if (!st)
		return SDB_EUSAGE;
	st->in_tx = 0;
	return st->ops->tx_rollback(st);
}

int store_job_insert(struct store *st, const struct store_job_new *j, int64_t *id)
{
	if (!j || !id || !j->source)
		return SDB_EUSAGE;
	STORE__CALL(st, job_insert, j, id);
}

int store_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at)
{
	if (progress < 0 || progress > 100)
		return SDB_ERANGE;
	STORE__CALL(st, job_progress, id, progress, timeout_at);
}

int store_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                     int64_t *existing_id)
{
	if (!f)
		return SDB_EUSAGE;
	STORE__CALL(st, job_finish, id, f, existing_id);
}

/*
 * The values a row may hold, checked here once for both backends
 * (invariant 4: each is also a CHECK of the schema).  A bad value is
 * SDB_ERANGE with a message that names it, before anything is sent: the
 * PostgreSQL backend buffers rows for COPY, where a CHECK would fail only
 * at the flush, far from the row, and SQLite would say only "CHECK
 * constraint failed".  rec_host_status_name() maps an unknown status to
 * "unknown", which the CHECK would accept: refused here too.  `scan`: the
 * host_scans row (every attribute), else the hosts row (only what it keeps).
 */
static int check_host(struct store *st, const struct rec_host *h, int scan)
{
	const char *bad = NULL;

	if ((unsigned)h->status > REC_HOST_SKIPPED)
		return store__set_err(st, SDB_ERANGE, "host %s: %d is not a host status", h->addr,
		                      (int)h->status);
	if (h->has_os && (h->os.name || scan) && h->os.accuracy > 100)
		bad = "OS accuracy above 100";
	else if (scan && h->reason_ttl > 255)
		bad = "reason_ttl above 255";
	else if (scan && h->distance > 255)
		bad = "distance above 255";
	else if (scan && h->starttime && h->endtime && h->endtime < h->starttime)
		bad = "end time before start time";
	if (bad)
		return store__set_err(st, SDB_ERANGE, "host %s: %s", h->addr, bad);
	return 0;
}

/* (The port number itself: SDB_EUSAGE in store_port_insert.) */
static int check_port(struct store *st, int64_t host_id, const struct rec_port *p)
{
	const struct rec_service *sv = p->has_service ? &p->service : NULL;
	const char *bad = NULL;

	if ((unsigned)p->proto >= REC_PROTO__COUNT)
		bad = "not a protocol";
	else if ((unsigned)p->state >= REC_PORT__COUNT)
		bad = "not a port state";
	else if (p->reason_ttl > 255)
		bad = "reason_ttl above 255";
	else if (sv && sv->conf > 10)
		bad = "service conf above 10";
	else if (sv && sv->method && strcmp(sv->method, "table") != 0 &&
	         strcmp(sv->method, "probed") != 0)
		bad = "service method is neither 'table' nor 'probed'";
	if (bad)
		return store__set_err(st, SDB_ERANGE, "port %d (protocol %d) of host %lld: %s",
		                      p->port, (int)p->proto, (long long)host_id, bad);
	return 0;
}

int store_host_upsert(struct store *st, int64_t job_id, int64_t seen_at, const struct rec_host *h,
                      int64_t *host_id)
{
	int r;

	if (!st || !h || !h->addr || !host_id)
		return SDB_EUSAGE;
	if ((r = check_host(st, h, 0)) != 0)
		return r;
	STORE__CALL(st, host_upsert, job_id, seen_at, h, host_id);
}

int store_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
                           const struct rec_host *h, const char *state)
{
	int r;

	if (!st || !h || !h->addr)
		return SDB_EUSAGE;
	if ((r = check_host(st, h, 1)) != 0)
		return r;
	if (seen_at < 0)
		return store__set_err(st, SDB_ERANGE, "host %s: scan time before 1970", h->addr);
	STORE__CALL(st, host_scan_insert, job_id, host_id, seen_at, h, state);
}

int store_port_insert(struct store *st, int64_t job_id, int64_t host_id, const struct rec_port *p)
{
	int r;

	if (!st || !p || p->port < 0 || p->port > 65535)
		return SDB_EUSAGE;
	if ((r = check_port(st, host_id, p)) != 0)
		return r;
	STORE__CALL(st, port_insert, job_id, host_id, p);
}

int store_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                            const struct rec_extraports *e)
{
	if (!st || !e)
		return SDB_EUSAGE;
	if ((unsigned)e->state >= REC_PORT__COUNT || e->count < 0)
		return store__set_err(st, SDB_ERANGE, "extraports of host %lld in job %lld: %s",
		                      (long long)host_id, (long long)job_id,
		                      e->count < 0 ? "negative count" : "not a port state");
	STORE__CALL(st, extraports_insert, job_id, host_id, e);
}

int store_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                        const struct rec_port *port, const struct rec_script *s)
{
	if (!st || !s || !s->id)
		return SDB_EUSAGE;
	if (port &&
	    ((unsigned)port->proto >= REC_PROTO__COUNT || port->port < 0 || port->port > 65535))
		return store__set_err(st, SDB_ERANGE, "script %.64s of host %lld: bad port", s->id,
		                      (long long)host_id);
	STORE__CALL(st, script_insert, job_id, host_id, port, s);
}

static int run_script_insert(struct store *st, int64_t job_id, int post, int seq,
                             const struct rec_script *s)
{
	if (!s->id)
		return SDB_EUSAGE;
	STORE__CALL(st, run_script_insert, job_id, post, seq, s);
}

int store_run_scripts_insert(struct store *st, int64_t job_id, int post, const struct rec_script *s,
                             size_t n)
{
	int r = 0;

	if (n > INT_MAX)
		return SDB_ETOOBIG;
	for (size_t i = 0; i < n && r == 0; i++)
		r = run_script_insert(st, job_id, post != 0, (int)i, &s[i]);
	return r;
}

int store_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                      size_t *n)
{
	if (!out || !n)
		return SDB_EUSAGE;
	*out = NULL;
	*n = 0;
	STORE__CALL(st, run_scripts, job_id, post != 0, out, n);
}

int store_job_find_by_hash(struct store *st, const char *hash, int64_t *id)
{
	if (!hash || !id)
		return SDB_EUSAGE;
	STORE__CALL(st, job_find_by_hash, hash, id);
}

/* ---- history --------------------------------------------------------- */

int store_history_load(struct store *st, const char *addr, int64_t at, int64_t job_id,
                       int64_t *host_id, struct ev_host *out)
{
	if (!addr || !host_id || !out)
		return SDB_EUSAGE;
	*host_id = 0;
	STORE__CALL(st, history_load, addr, at, job_id, host_id, out);
}

int store_history_in_order(const struct ev_host *h, int64_t at, int64_t job_id)
{
	if (!h->known)
		return 1;
	if (h->miss_job && (at < h->miss_at || (at == h->miss_at && job_id < h->miss_job)))
		return 0;
	return at > h->at || (at == h->at && job_id > h->job_id);
}

static int port_state_slot(struct store *st, int64_t host_id, const struct ev_host *h,
                           const char *doc, size_t len)
{
	STORE__CALL(st, port_state_save, host_id, h, doc, len);
}

/* Both backends' policy: nothing is written when the scan changed none of
 * the host's state; else the slot writes the row with this document. */
int store_port_state_save(struct store *st, int64_t host_id, const struct ev_host *h)
{
	struct buf doc;
	int dirty, r;

	if (!st || !h)
		return SDB_EUSAGE;
	dirty = h->attrs_dirty;
	for (size_t i = 0; i < h->nports && !dirty; i++)
		dirty = h->ports[i].dirty;
	if (!dirty)
		return 0;
	buf_init(&doc, (size_t)1 << 30);
	if ((r = store__port_state_doc(h, &doc)) != 0)
		r = store__set_err(st, r, "saving the port state of host %lld: out of memory",
		                   (long long)host_id);
	else
		r = port_state_slot(st, host_id, h, buf_str(&doc), doc.len);
	buf_free(&doc);
	return r;
}

int store_job_targets_put(struct store *st, int64_t job_id, const struct addr_range *v, size_t n)
{
	if (!st || job_id <= 0 || (n && !v))
		return SDB_EUSAGE;
	for (size_t i = 0; i < n; i++)
		if (memcmp(v[i].lo, v[i].hi, 16) > 0)
			return store__set_err(st, SDB_ERANGE,
			                      "job %lld: a target range ends before it starts",
			                      (long long)job_id);
	if (n == 0)
		return 0;
	STORE__CALL(st, job_targets_put, job_id, v, n);
}

int store_job_targets_each(struct store *st,
                           int (*cb)(void *ctx, int64_t job_id, int64_t at,
                                     const struct addr_range *r),
                           void *ctx)
{
	if (!st || !cb)
		return SDB_EUSAGE;
	STORE__CALL(st, job_targets_each, cb, ctx);
}

int store_hosts_missed(struct store *st, int64_t job_id, const struct addr_range *r, int limit,
                       int (*cb)(void *ctx, int64_t host_id, const char *addr,
                                 const struct ev_host *h),
                       void *ctx)
{
	if (!st || !r || !cb || job_id <= 0 || limit < 1)
		return SDB_EUSAGE;
	STORE__CALL(st, hosts_missed, job_id, r, limit, cb, ctx);
}

int store_hosts_gone_save(struct store *st, const struct store_gone *v, size_t n)
{
	if (!st || (n && !v))
		return SDB_EUSAGE;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].h || v[i].host_id <= 0)
			return SDB_EUSAGE;
		if ((unsigned)v[i].h->status > REC_HOST_GONE || v[i].h->misses < 0)
			return store__set_err(st, SDB_ERANGE,
			                      "host %lld: not a status or miss count",
			                      (long long)v[i].host_id);
	}
	if (n == 0)
		return 0;
	STORE__CALL(st, hosts_gone_save, v, n);
}

int store_event_insert(struct store *st, int64_t host_id, const struct ev_event *e)
{
	if (!e || (unsigned)e->kind >= EV__COUNT)
		return SDB_EUSAGE;
	STORE__CALL(st, event_insert, host_id, e);
}

int store_history_scan_list(struct store *st, const struct store_scan_key *lates, size_t n,
                            int from_start, int max_later, unsigned char *has_findings,
                            int (*cb)(void *ctx, const struct store_scan_key *k), void *ctx)
{
	if ((n && (!lates || !has_findings)) || !cb || max_later < 0)
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	STORE__CALL(st, history_scan_list, lates, n, from_start, max_later, has_findings, cb, ctx);
}

int store_history_scans(struct store *st, const struct store_scan_key *keys, size_t n,
                        int (*cb)(void *ctx, struct store_host *h, const char *probed_scope),
                        void *ctx)
{
	if ((n && !keys) || !cb)
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	STORE__CALL(st, history_scans, keys, n, cb, ctx);
}

int store_history_forget(struct store *st, const struct store_scan_key *keys, size_t n)
{
	if (n && !keys)
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	STORE__CALL(st, history_forget, keys, n);
}

int store_history_states(struct store *st, const struct store_scan_key *keys, size_t n,
                         int (*cb)(void *ctx, size_t i, const char *doc), void *ctx)
{
	if ((n && !keys) || !cb)
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	STORE__CALL(st, history_states, keys, n, cb, ctx);
}

int store_history_states_put(struct store *st, const struct store_scan_key *keys,
                             const char *const *docs, size_t n)
{
	if (n && (!keys || !docs))
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	STORE__CALL(st, history_states_put, keys, docs, n);
}

/* The caller's callback behind the kinds filter (store_events_each). */
struct events_kinds {
	unsigned kinds;
	int (*cb)(void *ctx, struct store_event *e);
	void *ctx;
};

static int event_of_kinds(void *ctx, struct store_event *e)
{
	struct events_kinds *k = ctx;
	enum ev_kind kind;

	if (ev_kind_parse(e->kind, &kind) != 0 || !(k->kinds & (1u << kind))) {
		store_event_free(e);
		return 0;
	}
	return k->cb(k->ctx, e);
}

/* The filter as both backends' slots read it: has_net always set (every
 * address when the caller gave no block), kinds 0 (applied here).  0 when
 * it selects nothing: one host (addr) that does not parse or lies outside
 * the block. */
static int events_filter(const struct store_event_filter *f, struct store_event_filter *out)
{
	unsigned char key[16];

	*out = *f;
	out->kinds = 0;
	if (!f->has_net) {
		out->has_net = 1;
		memset(out->net_lo, 0x00, sizeof(out->net_lo));
		memset(out->net_hi, 0xff, sizeof(out->net_hi));
	}
	if (f->addr && (addr_parse(f->addr, NULL, NULL, key) != 0 ||
	                memcmp(key, out->net_lo, 16) < 0 || memcmp(key, out->net_hi, 16) > 0))
		return 0;
	return 1;
}

int store_events_each(struct store *st, const struct store_event_filter *f,
                      int (*cb)(void *ctx, struct store_event *e), void *ctx)
{
	struct store_event_filter nf;
	struct events_kinds k;

	if (!st || !f || !cb)
		return SDB_EUSAGE;
	if (!events_filter(f, &nf))
		return 0;
	if (!f->kinds)
		STORE__CALL(st, events_each, &nf, cb, ctx);
	k = (struct events_kinds){f->kinds, cb, ctx};
	STORE__CALL(st, events_each, &nf, event_of_kinds, &k);
}

/* ---- queries ------------------------------------------------------------ */

/* The checks of a host filter both host reads make (0: sound). */
static int host_filter_check(struct store *st, const struct store_host_filter *f)
{
	if (f->protocol != REC_PROTO_ANY && (unsigned)f->protocol >= REC_PROTO__COUNT)
		return store__set_err(st, SDB_EUSAGE, "host filter: %d is not a protocol",
		                      (int)f->protocol);
	if (f->status != REC_HOST_ANY && (unsigned)f->status > REC_HOST_GONE)
		return store__set_err(st, SDB_EUSAGE, "host filter: %d is not a host status",
		                      (int)f->status);
	if (f->expr && f->expr->root >= 0 && (size_t)f->expr->root >= f->expr->n)
		return store__set_err(st, SDB_EUSAGE, "host filter: a malformed search expression");
	return 0;
}

int store_hosts_each(struct store *st, const struct store_host_filter *f,
                     int (*cb)(void *ctx, struct store_host *h), void *ctx)
{
	int r;

	if (!st || !f || !cb)
		return SDB_EUSAGE;
	if ((r = host_filter_check(st, f)) != 0)
		return r;
	STORE__CALL(st, hosts_each, f, cb, ctx);
}

int store_top_values(struct store *st, const struct store_host_filter *f,
                     enum store_top_field field,
                     int (*cb)(void *ctx, const char *value, int64_t count), void *ctx)
{
	int r;

	if (!st || !f || !cb)
		return SDB_EUSAGE;
	if (f->job_id != 0 || (unsigned)field > STORE_TOP_CPE)
		return store__set_err(st, SDB_EUSAGE, "top values: the current state's only");
	if ((r = host_filter_check(st, f)) != 0)
		return r;
	STORE__CALL(st, top_values, f, field, cb, ctx);
}

int store_jobs_each(struct store *st, const char *status, int (*cb)(void *ctx, struct store_job *j),
                    void *ctx)
{
	enum store_job_status s;

	if (!cb)
		return SDB_EUSAGE;
	if (status && store_job_status_parse(status, &s) != 0)
		return store__set_err(st, SDB_EUSAGE, "unknown job status '%s'", status);
	STORE__CALL(st, jobs_each, status, cb, ctx);
}

int store_job_get(struct store *st, int64_t id, struct store_job **out)
{
	if (!out)
		return SDB_EUSAGE;
	*out = NULL;
	STORE__CALL(st, job_get, id, out);
}

/* ---- findings (app/findings.c writes; the backends' findings files) -------- */

void store_finding_refs_free(struct store_finding_ref *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].fingerprint);
		free(v[i].type);
		free(v[i].source);
		free(v[i].key);
		free(v[i].status);
	}
	free(v);
}

void store_finding_free(struct store_finding *f)
{
	if (!f)
		return;
	free(f->addr);
	free(f->protocol);
	free(f->type);
	free(f->source);
	free(f->key);
	free(f->title);
	free(f->severity);
	free(f->status);
	free(f->fingerprint);
	free(f->details);
	free(f->jobs);
	for (size_t i = 0; i < f->nhistory; i++) {
		free(f->history[i].old_status);
		free(f->history[i].new_status);
		free(f->history[i].note);
	}
	free(f->history);
	free(f);
}

int store_findings_of_host(struct store *st, int64_t host_id, struct store_finding_ref **out,
                           size_t *n)
{
	if (!out || !n)
		return SDB_EUSAGE;
	*out = NULL;
	*n = 0;
	STORE__CALL(st, findings_of_host, host_id, out, n);
}

int store_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                         const struct store_finding_new *f, int64_t *id, int *created)
{
	if (!f || !id || !created || !f->type || !f->source || !f->title || !f->severity ||
	    !f->fingerprint || (f->proto < 0) != (f->port < 0))
		return SDB_EUSAGE;
	*id = 0;
	*created = 0;
	STORE__CALL(st, finding_upsert, host_id, job_id, at, f, id, created);
}

int store_finding_set_status(struct store *st, int64_t id, const char *new_status, int64_t at,
                             int64_t job_id, const char *note, int64_t scan_at, int record_creation,
                             char **old)
{
	if (!new_status)
		return SDB_EUSAGE;
	if (old)
		*old = NULL;
	STORE__CALL(st, finding_set_status, id, new_status, at, job_id, note, scan_at,
	            record_creation, old);
}

int store_findings_each(struct store *st, const struct store_finding_filter *f,
                        int (*cb)(void *ctx, struct store_finding *x), void *ctx)
{
	if (!f || !cb)
		return SDB_EUSAGE;
	STORE__CALL(st, findings_each, f, cb, ctx);
}

int store_open_existing(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	return store_open_mode(target, 0, out, errmsg, errlen);
}

/* query_int / exec_params through one place (fault injection, NULL slot). */
int store__q_int(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                 int (*cb)(void *ctx, int64_t v), void *ctx)
{
	STORE__CALL(st, query_int, sql, params, nparams, cb, ctx);
}

int store__q_exec(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                  int64_t *changes)
{
	STORE__CALL(st, exec_params, sql, params, nparams, changes);
}

int store__q_text(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                  int (*cb)(void *ctx, const char *const *col, const size_t *len), void *ctx)
{
	STORE__CALL(st, query_text, sql, params, nparams, cb, ctx);
}

int store_findings_scan_decided(struct store *st, int64_t host_id, int (*cb)(void *ctx, int64_t id),
                                void *ctx)
{
	static const char sql[] = "SELECT f.id FROM findings f WHERE f.host_id = $1"
	                          " AND NOT EXISTS (SELECT 1 FROM finding_status_changes c"
	                          " WHERE c.finding_id = f.id AND c.job_id IS NULL)"
	                          " ORDER BY f.id";

	return store__q_int(st, sql, &host_id, 1, cb, ctx);
}

int store_findings_forget_rules(struct store *st, int64_t host_id)
{
	static const char sql[] = "DELETE FROM findings WHERE host_id = $1 AND type = 'rule'"
	                          " AND NOT EXISTS (SELECT 1 FROM finding_status_changes c"
	                          " WHERE c.finding_id = findings.id AND c.job_id IS NULL)";

	return store__q_exec(st, sql, &host_id, 1, NULL);
}

int store_finding_rewind(struct store *st, int64_t id, int64_t state_at)
{
	char sql[160];
	int64_t p[2] = {id, state_at};
	int r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = store__q_exec(st, "DELETE FROM finding_status_changes WHERE finding_id = $1", p, 1,
	                       NULL)) != 0)
		return r;
	snprintf(sql, sizeof(sql), "UPDATE findings SET state_at = %s($2) WHERE id = $1",
	         st->ops->sql_time ? st->ops->sql_time : "");
	return store__q_exec(st, sql, p, 2, NULL);
}
