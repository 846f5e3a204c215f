/*
 * metrics.c - what `scandb serve` counts (http_int.h) and GET /metrics, in
 * Prometheus' text format: requests by route and code, their duration as a
 * histogram by route, the pool's connections, jobs by status, build info.
 * The route label is the route's pattern ("/api/v1/hosts/{addr}"), never
 * the path a client sent: the label set stays bounded.
 */
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

static const double bucket_le[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))
#define NCODES   64

struct code_count {
	int route, code;
	uint64_t n;
};

struct http_metrics {
	pthread_mutex_t mu;
	struct code_count codes[NCODES];
	size_t ncodes;
	uint64_t dropped; /* (route, code) pairs beyond NCODES */
	uint64_t buckets[HTTP_ROUTES_MAX + 1][NBUCKETS];
	uint64_t count[HTTP_ROUTES_MAX + 1];
	double sum[HTTP_ROUTES_MAX + 1];
};

struct http_metrics *http_metrics_new(void)
{
	struct http_metrics *m = calloc(1, sizeof(*m));

	if (m)
		pthread_mutex_init(&m->mu, NULL);
	return m;
}

void http_metrics_free(struct http_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void http_metrics_observe(struct http_metrics *m, int route, int code, double seconds)
{
	size_t i;

	if (route < 0 || route > HTTP_ROUTES_MAX)
		route = HTTP_ROUTES_MAX;
	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->ncodes; i++)
		if (m->codes[i].route == route && m->codes[i].code == code)
			break;
	if (i == m->ncodes && m->ncodes < NCODES)
		m->codes[m->ncodes++] = (struct code_count){route, code, 0};
	if (i < m->ncodes)
		m->codes[i].n++;
	else
		m->dropped++;
	for (size_t b = 0; b < NBUCKETS; b++)
		if (seconds <= bucket_le[b])
			m->buckets[route][b]++;
	m->count[route]++;
	m->sum[route] += seconds;
	pthread_mutex_unlock(&m->mu);
}

static const char *route_label(int route)
{
	return route >= 0 && (size_t)route < http_nroutes ? http_routes[route].label : "other";
}

static int requests_text(struct http_metrics *m, struct buf *b)
{
	int r;

	r = buf_append_str(b, "# HELP scandb_http_requests_total HTTP requests answered, by route "
	                      "and status code.\n# TYPE scandb_http_requests_total counter\n");
	for (size_t i = 0; i < m->ncodes && r == 0; i++)
		r = buf_printf(b, "scandb_http_requests_total{route=\"%s\",code=\"%d\"} %llu\n",
		               route_label(m->codes[i].route), m->codes[i].code,
		               (unsigned long long)m->codes[i].n);
	if (r == 0)
		r = buf_append_str(b, "# HELP scandb_http_request_duration_seconds Time to answer "
		                      "a request, by route.\n"
		                      "# TYPE scandb_http_request_duration_seconds histogram\n");
	for (int rt = 0; rt <= HTTP_ROUTES_MAX && r == 0; rt++) {
		const char *l = route_label(rt);

		if (!m->count[rt])
			continue;
		for (size_t k = 0; k < NBUCKETS && r == 0; k++)
			r = buf_printf(b,
			               "scandb_http_request_duration_seconds_bucket{route=\"%s\","
			               "le=\"%g\"} %llu\n",
			               l, bucket_le[k], (unsigned long long)m->buckets[rt][k]);
		if (r == 0)
			r = buf_printf(
			    b,
			    "scandb_http_request_duration_seconds_bucket{route=\"%s\","
			    "le=\"+Inf\"} %llu\n"
			    "scandb_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
			    "scandb_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
			    l, (unsigned long long)m->count[rt], l, m->sum[rt], l,
			    (unsigned long long)m->count[rt]);
	}
	return r;
}

static int pool_text(struct http_pool *p, struct buf *b)
{
	struct http_pool_stats s;

	http_pool_stats(p, &s);
	return buf_printf(b,
	                  "# HELP scandb_db_pool_connections Database connections of the pool, "
	                  "by state.\n# TYPE scandb_db_pool_connections gauge\n"
	                  "scandb_db_pool_connections{state=\"max\"} %d\n"
	                  "scandb_db_pool_connections{state=\"open\"} %d\n"
	                  "scandb_db_pool_connections{state=\"in_use\"} %d\n"
	                  "scandb_db_pool_connections{state=\"idle\"} %d\n"
	                  "# HELP scandb_db_pool_waiting Requests waiting for a connection.\n"
	                  "# TYPE scandb_db_pool_waiting gauge\nscandb_db_pool_waiting %d\n"
	                  "# HELP scandb_db_pool_wait_seconds_total Time requests waited for a "
	                  "connection.\n# TYPE scandb_db_pool_wait_seconds_total counter\n"
	                  "scandb_db_pool_wait_seconds_total %.6f\n",
	                  s.max, s.open, s.in_use, s.idle, s.waiting, s.wait_seconds_total);
}

static int count_job(void *ctx, struct store_job *j)
{
	int64_t *by = ctx;
	enum store_job_status s;

	if (store_job_status_parse(j->status, &s) == 0 && (unsigned)s < 5)
		by[s]++;
	store_job_free(j);
	return 0;
}

static int jobs_text(struct store *st, struct buf *b)
{
	int64_t by[5] = {0};
	int r;

	if ((r = store_jobs_each(st, NULL, count_job, by)) != 0)
		return r;
	r = buf_append_str(b, "# HELP scandb_jobs Stored jobs, by status.\n"
	                      "# TYPE scandb_jobs gauge\n");
	for (int s = 0; s < 5 && r == 0; s++)
		r = buf_printf(b, "scandb_jobs{status=\"%s\"} %lld\n",
		               store_job_status_name((enum store_job_status)s), (long long)by[s]);
	return r;
}

int http_api_metrics(struct http_req *rq, struct http_resp *rs)
{
	struct http_server *srv = rq->srv;
	struct buf b;
	int r;

	buf_init(&b, 16u << 20);
	r = buf_printf(&b,
	               "# HELP scandb_build_info The running scandb: version and backend.\n"
	               "# TYPE scandb_build_info gauge\n"
	               "scandb_build_info{version=\"%s\",backend=\"%s\"} 1\n",
	               SCANDB_VERSION, srv->backend);
	pthread_mutex_lock(&srv->metrics->mu);
	if (r == 0)
		r = requests_text(srv->metrics, &b);
	pthread_mutex_unlock(&srv->metrics->mu);
	if (r == 0)
		r = pool_text(&srv->pool, &b);
	if (r == 0)
		r = buf_printf(
		    &b,
		    "# HELP scandb_http_slow_requests_total Requests slower than "
		    "SCANDB_SLOW_QUERY_MS.\n# TYPE scandb_http_slow_requests_total counter\n"
		    "scandb_http_slow_requests_total %llu\n",
		    (unsigned long long)atomic_load(&srv->slow_total));
	if (r == 0 && (r = jobs_text(rq->st, &b)) != 0) {
		buf_free(&b);
		return http_store_error(rs, rq->st, r);
	}
	if (r != 0) {
		buf_free(&b);
		return http_error(rs, 500, "internal", NULL, "out of memory");
	}
	rs->status = 200;
	rs->ctype = "text/plain; version=0.0.4; charset=utf-8";
	rs->len = b.len;
	rs->body = buf_steal(&b);
	buf_free(&b);
	return rs->body ? 0 : http_error(rs, 500, "internal", NULL, "out of memory");
}
