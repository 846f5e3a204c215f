/*
 * api_read.c - the read endpoints: GET /api/v1/hosts (the CLI's filters as
 * query parameters, a page of `limit` hosts and an opaque cursor: keyset on
 * the address key), /hosts/{addr}, /jobs, /jobs/{id}, /changes, /findings,
 * /findings/{id}.  Filters are parsed by app/host_filter.c and core's
 * parsers, rows read through the store's read API, objects built by
 * app/views.c: the JSON the CLI prints with --format json.
 */
#include "http/http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/host_filter.h"
#include "app/views.h"
#include "core/addr.h"
#include "core/error.h"
#include "core/hoststate.h"
#include "core/timeutil.h"
#include "history/findings.h"

#define PAGE_DEFAULT 100
#define PAGE_MAX     10000
/* a callback's "enough": stops the store walk (not an error) */
#define WALK_FULL 1

/* A page of JSON objects being collected from a store walk. */
struct page {
	json_t *items;
	size_t limit;
	int more; /* a row beyond the limit exists */
	unsigned char last_key[16];
};

/* Add obj to the page (taken); WALK_FULL once the limit is passed. */
static int page_add(struct page *p, json_t *obj)
{
	if (json_array_size(p->items) >= p->limit) {
		json_decref(obj);
		p->more = 1;
		return WALK_FULL;
	}
	if (!obj || json_array_append_new(p->items, obj) != 0)
		return SDB_ENOMEM;
	return 0;
}

/* The walk's end: r (0 or WALK_FULL: the page is whole) as the response
 * {key: items, ...extra}. */
static int page_answer(struct http_req *rq, struct http_resp *rs, struct page *p, int r,
                       const char *key, json_t *extra)
{
	json_t *o;

	if (r != 0 && r != WALK_FULL) {
		json_decref(p->items);
		json_decref(extra);
		if (r == SDB_ENOMEM)
			return http_error(rs, 500, "internal", NULL, "out of memory");
		return http_store_error(rs, rq->st, r);
	}
	o = extra ? extra : json_object();
	if (!o || json_object_set_new(o, key, p->items) != 0) {
		json_decref(o);
		return http_error(rs, 500, "internal", NULL, "out of memory");
	}
	return http_json(rs, 200, o);
}

static int bad_param(struct http_resp *rs, const char *param, const char *msg)
{
	return http_error(rs, 400, "bad_parameter", param, "%s: %s", param, msg);
}

/* ---- hosts ------------------------------------------------------------- */

static const struct {
	const char *param;
	enum host_filter_key key;
} host_params[] = {
    {"port", HOST_FILTER_PORT},
    {"service", HOST_FILTER_SERVICE},
    {"status", HOST_FILTER_STATUS},
    {"net", HOST_FILTER_NET},
    {"job", HOST_FILTER_JOB},
    {"changed_since", HOST_FILTER_CHANGED_SINCE},
    {"new_since", HOST_FILTER_NEW_SINCE},
};
#define NHOST_PARAMS (sizeof(host_params) / sizeof(host_params[0]))

/* The filter parameters into *f: 0, or 1 after a 400 naming the bad one. */
static int host_filter_from_query(struct http_req *rq, struct store_host_filter *f,
                                  struct http_resp *rs)
{
	char msg[256];

	for (size_t i = 0; i < NHOST_PARAMS; i++) {
		const char *v = http_query(rq, host_params[i].param);

		if (v &&
		    host_filter_set(f, host_params[i].key, v, time_now(), msg, sizeof(msg)) != 0)
			return bad_param(rs, host_params[i].param, msg), 1;
	}
	return 0;
}

/* A job named by ?job= must exist (as the CLI says "no job N"): 0, or 1
 * after a 404 or an error. */
static int job_exists(struct http_req *rq, int64_t id, struct http_resp *rs)
{
	struct store_job *j = NULL;
	int r = store_job_get(rq->st, id, &j);

	store_job_free(j);
	if (r == 0)
		return 0;
	if (r == SDB_ENOTFOUND)
		http_error(rs, 404, "not_found", "job", "no job %lld in the database",
		           (long long)id);
	else
		http_store_error(rs, rq->st, r);
	return 1;
}

/* The cursor is "h" and the 32 hex digits of the last address key sent;
 * the next page starts after it: the filter's key range is narrowed to
 * (key, end].  0, or 1 after a 400 (or when nothing can follow: *none). */
static int apply_cursor(const char *c, struct store_host_filter *f, int *none, struct http_resp *rs)
{
	unsigned char key[16];
	int i;

	*none = 0;
	if (strlen(c) != 33 || c[0] != 'h')
		return bad_param(rs, "cursor", "not a cursor this server gave"), 1;
	for (i = 0; i < 16; i++) {
		unsigned v;

		if (sscanf(c + 1 + 2 * i, "%2x", &v) != 1 ||
		    !strchr("0123456789abcdef", c[1 + 2 * i]) ||
		    !strchr("0123456789abcdef", c[2 + 2 * i]))
			return bad_param(rs, "cursor", "not a cursor this server gave"), 1;
		key[i] = (unsigned char)v;
	}
	for (i = 15; i >= 0 && key[i] == 0xff; i--)
		key[i] = 0;
	if (i < 0) {
		*none = 1;
		return 0;
	}
	key[i]++;
	if (!f->has_net) {
		f->has_net = 1;
		memset(f->net_hi, 0xff, 16);
		memcpy(f->net_lo, key, 16);
	} else if (memcmp(key, f->net_lo, 16) > 0) {
		memcpy(f->net_lo, key, 16);
	}
	if (memcmp(f->net_lo, f->net_hi, 16) > 0)
		*none = 1;
	return 0;
}

static int on_host(void *ctx, struct store_host *h)
{
	struct page *p = ctx;
	int r = 0;

	if (json_array_size(p->items) < p->limit &&
	    addr_parse(h->addr, NULL, NULL, p->last_key) != 0)
		r = SDB_EPARSE;
	if (r == 0)
		r = page_add(p, json_array_size(p->items) < p->limit ? view_host_json(h) : NULL);
	store_host_free(h);
	return r;
}

/* store_hosts_each callback of format=ndjson: one host a line, to ctx (a
 * FILE), in the CLI's bytes (compact, 15 significant digits). */
static int on_host_line(void *ctx, struct store_host *h)
{
	json_t *o = view_host_json(h);
	int r = 0;

	store_host_free(h);
	if (!o)
		return SDB_ENOMEM;
	if (json_dumpf(o, ctx, JSON_COMPACT | JSON_REAL_PRECISION(15)) != 0 ||
	    fputc('\n', ctx) == EOF)
		r = SDB_EIO;
	json_decref(o);
	return r;
}

/* format=ndjson: every matching host (no limit), written to an unlinked
 * temporary file as the store walk gives them, then sent from the file:
 * memory does not grow with the result. */
static int hosts_ndjson(struct http_req *rq, const struct store_host_filter *f, int none,
                        struct http_resp *rs)
{
	const char *dir = getenv("TMPDIR");
	char path[300];
	FILE *out = NULL;
	off_t len = -1;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/scandb-ndjson-XXXXXX", dir && *dir ? dir : "/tmp");
	if ((fd = mkstemp(path)) < 0)
		return http_error(rs, 500, "internal", NULL, "cannot make a temporary file");
	unlink(path);
	if (!(out = fdopen(dup(fd), "w")))
		r = SDB_EIO;
	if (r == 0 && !none)
		r = store_hosts_each(rq->st, f, on_host_line, out);
	if (out && fclose(out) != 0 && r == 0)
		r = SDB_EIO;
	if (r == 0 && ((len = lseek(fd, 0, SEEK_END)) < 0 || lseek(fd, 0, SEEK_SET) < 0))
		r = SDB_EIO;
	if (r != 0) {
		close(fd);
		if (r == SDB_EIO || r == SDB_ENOMEM)
			return http_error(rs, 500, "internal", NULL, "cannot write the hosts");
		return http_store_error(rs, rq->st, r);
	}
	rs->status = 200;
	rs->ctype = "application/x-ndjson";
	rs->has_fd = 1;
	rs->fd = fd;
	rs->len = (size_t)len;
	return 0;
}

/* ?format=: 0 json (a page), 1 ndjson (everything); -1 after a 400. */
static int hosts_format(struct http_req *rq, struct http_resp *rs)
{
	const char *v = http_query(rq, "format");

	if (!v || strcmp(v, "json") == 0)
		return 0;
	if (strcmp(v, "ndjson") != 0)
		return bad_param(rs, "format", "use json (a page) or ndjson (every host)"), -1;
	if (http_query(rq, "limit"))
		return bad_param(rs, "limit", "format=ndjson sends every host: no limit"), -1;
	return 1;
}

int http_api_hosts(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"port",   "service",       "status",    "net",
	                                    "job",    "changed_since", "new_since", "limit",
	                                    "cursor", "format"};
	struct store_host_filter f = STORE_HOST_FILTER_ANY;
	struct page p = {0};
	const char *cursor = http_query(rq, "cursor");
	char next[40];
	int none = 0, fmt = 0, r;

	if (http_query_check(rq, known, sizeof(known) / sizeof(known[0]), rs) ||
	    (fmt = hosts_format(rq, rs)) < 0 || host_filter_from_query(rq, &f, rs) ||
	    http_query_limit(rq, PAGE_DEFAULT, PAGE_MAX, &p.limit, rs) ||
	    (cursor && apply_cursor(cursor, &f, &none, rs)) ||
	    (f.job_id > 0 && job_exists(rq, f.job_id, rs)))
		return 0;
	if (fmt == 1)
		return hosts_ndjson(rq, &f, none, rs);
	if (!(p.items = json_array()))
		return http_error(rs, 500, "internal", NULL, "out of memory");
	r = none ? 0 : store_hosts_each(rq->st, &f, on_host, &p);
	next[0] = '\0';
	if (p.more) {
		next[0] = 'h';
		for (int i = 0; i < 16; i++)
			snprintf(next + 1 + 2 * i, 3, "%02x", p.last_key[i]);
	}
	return page_answer(rq, rs, &p, r, "hosts",
	                   json_pack("{s:s?}", "next_cursor", p.more ? next : NULL));
}

static int keep_host(void *ctx, struct store_host *h)
{
	struct store_host **one = ctx;

	store_host_free(*one);
	*one = h;
	return 0;
}

int http_api_host(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"job"};
	struct store_host_filter f = STORE_HOST_FILTER_ANY;
	struct store_host *one = NULL;
	char addr[ADDR_TEXT_MAX], msg[256];
	const char *job = http_query(rq, "job");
	json_t *o;
	int r;

	if (http_query_check(rq, known, 1, rs))
		return 0;
	if (addr_parse(rq->arg, addr, NULL, NULL) != 0)
		return http_error(rs, 400, "bad_parameter", "addr",
		                  "addr: '%.64s' is not an IPv4 or IPv6 address", rq->arg);
	if (job && host_filter_set(&f, HOST_FILTER_JOB, job, time_now(), msg, sizeof(msg)) != 0)
		return bad_param(rs, "job", msg);
	if (f.job_id > 0 && job_exists(rq, f.job_id, rs))
		return 0;
	f.addr = addr;
	if ((r = store_hosts_each(rq->st, &f, keep_host, &one)) != 0) {
		store_host_free(one);
		return http_store_error(rs, rq->st, r);
	}
	if (!one) {
		if (f.job_id > 0)
			return http_error(rs, 404, "not_found", "addr", "no host %s in job %lld",
			                  addr, (long long)f.job_id);
		return http_error(rs, 404, "not_found", "addr", "no host %s in the database", addr);
	}
	/* with its tags and notes, as `scandb host ADDR --format json` */
	if (!(o = view_host_json(one)) || (r = view_host_says_add(rq->st, one->id, o)) != 0) {
		json_decref(o);
		store_host_free(one);
		return o ? http_store_error(rs, rq->st, r)
		         : http_error(rs, 500, "internal", NULL, "out of memory");
	}
	store_host_free(one);
	return http_json(rs, 200, o);
}

/* ---- jobs --------------------------------------------------------------- */

/* A positive id from text: 0, or 1 after a 400 naming param. */
static int parse_id(const char *s, const char *param, int64_t *id, struct http_resp *rs)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 1) {
		http_error(rs, 400, "bad_parameter", param,
		           "%s: '%.64s' is not a number in 1..%lld", param, s,
		           (long long)INT64_MAX);
		return 1;
	}
	*id = v;
	return 0;
}

struct jobs_page {
	struct page p;
	const char *status;
};

static int on_job(void *ctx, struct store_job *j)
{
	struct jobs_page *jp = ctx;
	int r;

	if ((r = view_job_as_reaped(j, time_now())) == 0 &&
	    (!jp->status || strcmp(j->status, jp->status) == 0))
		r = page_add(&jp->p, view_job_json(j));
	store_job_free(j);
	return r;
}

int http_api_jobs(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"status", "limit"};
	struct jobs_page jp = {{0}, http_query(rq, "status")};
	enum store_job_status s;
	const char *query_status;
	int r;

	if (http_query_check(rq, known, 2, rs) ||
	    http_query_limit(rq, PAGE_DEFAULT, PAGE_MAX, &jp.p.limit, rs))
		return 0;
	if (jp.status && store_job_status_parse(jp.status, &s) != 0)
		return http_error(rs, 400, "bad_parameter", "status",
		                  "status: unknown job status '%.64s' (use queued, running, "
		                  "completed, failed or cancelled)",
		                  jp.status);
	/* running and failed are decided after view_job_as_reaped (as `jobs`) */
	query_status =
	    jp.status && strcmp(jp.status, "running") != 0 && strcmp(jp.status, "failed") != 0
	        ? jp.status
	        : NULL;
	if (!(jp.p.items = json_array()))
		return http_error(rs, 500, "internal", NULL, "out of memory");
	r = store_jobs_each(rq->st, query_status, on_job, &jp);
	return page_answer(rq, rs, &jp.p, r, "jobs", json_pack("{s:b}", "more", jp.p.more));
}

int http_api_job(struct http_req *rq, struct http_resp *rs)
{
	struct store_job *j = NULL;
	int64_t id;
	int r;

	if (http_query_check(rq, NULL, 0, rs) || parse_id(rq->arg, "id", &id, rs))
		return 0;
	if ((r = store_job_get(rq->st, id, &j)) == SDB_ENOTFOUND)
		return http_error(rs, 404, "not_found", "id", "no job %lld in the database",
		                  (long long)id);
	if (r == 0)
		r = view_job_as_reaped(j, time_now());
	if (r != 0) {
		store_job_free(j);
		return http_store_error(rs, rq->st, r);
	}
	r = http_json(rs, 200, view_job_json(j));
	store_job_free(j);
	return r;
}

/* ---- changes ------------------------------------------------------------ */

static int on_event(void *ctx, struct store_event *e)
{
	int r = page_add(ctx, view_event_json(e));

	store_event_free(e);
	return r;
}

/* ?kind=a,b into f->kinds: 0, or 1 after a 400. */
static int parse_kinds(const char *list, unsigned *kinds, struct http_resp *rs)
{
	char part[64];

	*kinds = 0;
	for (const char *p = list;; p++) {
		size_t n = strcspn(p, ",");
		enum ev_kind k;

		if (n >= sizeof(part))
			n = sizeof(part) - 1;
		memcpy(part, p, n);
		part[n] = '\0';
		if (ev_kind_parse(part, &k) != 0) {
			http_error(rs, 400, "bad_parameter", "kind",
			           "kind: unknown event kind '%s'", part);
			return 1;
		}
		*kinds |= 1u << k;
		p += strcspn(p, ",");
		if (!*p)
			return 0;
	}
}

int http_api_changes(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"since", "host", "net", "kind", "limit"};
	struct store_event_filter f = {0};
	const char *since = http_query(rq, "since"), *host = http_query(rq, "host");
	const char *net = http_query(rq, "net"), *kind = http_query(rq, "kind");
	char addr[ADDR_TEXT_MAX];
	struct page p = {0};
	int r;

	if (http_query_check(rq, known, 5, rs) ||
	    http_query_limit(rq, PAGE_DEFAULT, PAGE_MAX, &p.limit, rs))
		return 0;
	if (since && time_parse_since(since, time_now(), &f.since) != 0)
		return bad_param(rs, "since", "not a duration (7d, 12h, 90m, 2w) or a date");
	if (f.since < 0)
		f.since = 0;
	if (host && addr_parse(host, addr, NULL, NULL) != 0)
		return bad_param(rs, "host", "not an IPv4 or IPv6 address");
	f.addr = host ? addr : NULL;
	if (net && addr_cidr_parse(net, f.net_lo, f.net_hi) != 0)
		return bad_param(rs, "net", "not an address or CIDR block");
	f.has_net = net != NULL;
	if (kind && parse_kinds(kind, &f.kinds, rs))
		return 0;
	if (!(p.items = json_array()))
		return http_error(rs, 500, "internal", NULL, "out of memory");
	r = store_events_each(rq->st, &f, on_event, &p);
	return page_answer(rq, rs, &p, r, "changes", json_pack("{s:b}", "more", p.more));
}

/* /hosts/{addr}/history: the host's change events, as `scandb history`
 * (404 for an address never seen). */
int http_api_host_history(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"since", "limit"};
	struct store_host_filter hf = STORE_HOST_FILTER_ANY;
	struct store_event_filter f = {0};
	struct store_host *one = NULL;
	const char *since = http_query(rq, "since");
	char addr[ADDR_TEXT_MAX];
	struct page p = {0};
	int r;

	if (http_query_check(rq, known, 2, rs) ||
	    http_query_limit(rq, PAGE_DEFAULT, PAGE_MAX, &p.limit, rs))
		return 0;
	if (addr_parse(rq->arg, addr, NULL, NULL) != 0)
		return http_error(rs, 400, "bad_parameter", "addr",
		                  "addr: '%.64s' is not an IPv4 or IPv6 address", rq->arg);
	if (since && time_parse_since(since, time_now(), &f.since) != 0)
		return bad_param(rs, "since", "not a duration (7d, 12h, 90m, 2w) or a date");
	if (f.since < 0)
		f.since = 0;
	hf.addr = addr;
	if ((r = store_hosts_each(rq->st, &hf, keep_host, &one)) != 0)
		return http_store_error(rs, rq->st, r);
	if (!one)
		return http_error(rs, 404, "not_found", "addr", "no host %s in the database", addr);
	store_host_free(one);
	f.addr = addr;
	if (!(p.items = json_array()))
		return http_error(rs, 500, "internal", NULL, "out of memory");
	r = store_events_each(rq->st, &f, on_event, &p);
	return page_answer(rq, rs, &p, r, "changes", json_pack("{s:b}", "more", p.more));
}

/* ---- findings ----------------------------------------------------------- */

static int on_finding(void *ctx, struct store_finding *x)
{
	int r = page_add(ctx, view_finding_json(x));

	store_finding_free(x);
	return r;
}

/* The findings filters: 0, or 1 after a 400. */
static int findings_filter(struct http_req *rq, struct store_finding_filter *f,
                           char addr[ADDR_TEXT_MAX], struct http_resp *rs)
{
	const char *status = http_query(rq, "status"), *sev = http_query(rq, "severity");
	const char *host = http_query(rq, "host");
	enum findings_severity sv;
	enum findings_status st;

	if (status && findings_status_parse(status, &st) != 0)
		return bad_param(rs, "status", "unknown finding status"), 1;
	f->status = status ? findings_status_name(st) : NULL;
	if (sev && findings_severity_parse(sev, &sv) != 0)
		return bad_param(rs, "severity",
		                 "unknown severity (use info, low, medium, high or "
		                 "critical)"),
		       1;
	f->severity = sev ? findings_severity_name(sv) : NULL;
	if (host && addr_parse(host, addr, NULL, NULL) != 0)
		return bad_param(rs, "host", "not an IPv4 or IPv6 address"), 1;
	f->addr = host ? addr : NULL;
	return 0;
}

int http_api_findings(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"status", "severity", "host", "limit"};
	struct store_finding_filter f = {0};
	char addr[ADDR_TEXT_MAX];
	struct page p = {0};
	int r;

	if (http_query_check(rq, known, 4, rs) || findings_filter(rq, &f, addr, rs) ||
	    http_query_limit(rq, PAGE_DEFAULT, PAGE_MAX, &p.limit, rs))
		return 0;
	if (!(p.items = json_array()))
		return http_error(rs, 500, "internal", NULL, "out of memory");
	r = store_findings_each(rq->st, &f, on_finding, &p);
	return page_answer(rq, rs, &p, r, "findings", json_pack("{s:b}", "more", p.more));
}

int http_api_finding(struct http_req *rq, struct http_resp *rs)
{
	struct store_finding_filter f = {0};
	struct page p = {0};
	int r;

	if (http_query_check(rq, NULL, 0, rs) || parse_id(rq->arg, "id", &f.id, rs))
		return 0;
	p.limit = 1;
	if (!(p.items = json_array()))
		return http_error(rs, 500, "internal", NULL, "out of memory");
	r = store_findings_each(rq->st, &f, on_finding, &p);
	if (r != 0 && r != WALK_FULL) {
		json_decref(p.items);
		return http_store_error(rs, rq->st, r);
	}
	if (json_array_size(p.items) == 0) {
		json_decref(p.items);
		return http_error(rs, 404, "not_found", "id", "no finding %lld", (long long)f.id);
	}
	r = http_json(rs, 200, json_incref(json_array_get(p.items, 0)));
	json_decref(p.items);
	return r;
}
