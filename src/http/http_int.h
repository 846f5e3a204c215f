/*
 * http_int.h - private to src/http/: a request as the handlers see it, the
 * response they fill, the pool of database connections and the metrics.
 *
 *   server.c    libmicrohttpd wiring: the daemon, its limits, the watchdog
 *               of slow clients, signals and the graceful stop
 *   request.c   one request: caps (413), route, auth (401/403), a pool
 *               connection, the handler, the response, the access log
 *   pool.c      the database connections (a pool of cfg.pool_max)
 *   router.c    routes: path and method to handler and scope
 *   response.c  JSON bodies and the error body {"error": {...}}
 *   metrics.c   counters and histograms, the Prometheus text
 *   api_db.c    /healthz, /readyz, database health and migrations, tokens
 *   api_read.c  hosts, jobs, changes, findings
 *   api_imports.c  POST /api/v1/imports: the body spooled, then imported
 *   api_write.c PATCH /api/v1/findings/{id}
 *   api_diff.c  GET /api/v1/diff (src/diff/, as `scandb diff`)
 */
#ifndef SDB_HTTP_HTTP_INT_H
#define SDB_HTTP_HTTP_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>

#include "app/tokens.h"
#include "http/http.h"
#include "store/store.h"

/* ---- pool.c ---- */
struct http_pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *target;
	struct store **idle;
	size_t nidle;
	int max, open, in_use, waiting;
	double acquire_timeout;
	double wait_seconds_total;
	uint64_t timeouts;
	double busy_at; /* time_mono() when more than 80 % were last in use */
};
int http_pool_init(struct http_pool *p, const char *target, int max, double acquire_timeout);
/* A connection for this request, or NULL: *busy = 1 when none came free
 * within the acquire timeout (503), else opening one failed (msg says
 * why). */
struct store *http_pool_acquire(struct http_pool *p, int *busy, char *msg, size_t len);
void http_pool_release(struct http_pool *p, struct store *st);
/* A snapshot of the counters (locked). */
struct http_pool_stats {
	int max, open, in_use, idle, waiting;
	double wait_seconds_total;
	double busy_at;
};
void http_pool_stats(struct http_pool *p, struct http_pool_stats *out);
void http_pool_free(struct http_pool *p);

/* ---- metrics.c ---- */
#define HTTP_ROUTES_MAX 24
struct http_metrics;
struct http_metrics *http_metrics_new(void);
void http_metrics_free(struct http_metrics *m);
/* One finished request of route `route` (index into the route table, or
 * the last slot for "other") with `code`, taking `seconds`. */
void http_metrics_observe(struct http_metrics *m, int route, int code, double seconds);

/* ---- the server, as handlers see it ---- */
struct http_server {
	struct http_config cfg;
	const char *target;
	char backend[16];
	struct http_pool pool;
	struct http_metrics *metrics;
	atomic_int active; /* requests begun and not yet completed */
	/* slow requests (cfg.slow_ms): the last one's time_mono(), a count */
	_Atomic double slow_at;
	atomic_ullong slow_total;
};
/* "degraded" when, within the last minute, a request was slow or the pool
 * was more than 80 % in use; else "healthy". */
const char *http_health_word(struct http_server *srv);

/* ---- request.c (libmicrohttpd's callbacks) and server.c (the watchdog) ---- */
enum MHD_Result http__access(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls);
void http__completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                     enum MHD_RequestTerminationCode toe);
/* A request's headers are in (the watchdog stops timing the connection) /
 * its response is done (the next request's headers are timed from now). */
void http__conn_headers_done(struct MHD_Connection *conn);
void http__conn_request_done(struct MHD_Connection *conn);

struct http_req {
	struct http_server *srv;
	void *conn; /* struct MHD_Connection */
	const char *method;
	const char *path;
	const char *arg; /* the path's {id} / {addr} part, or NULL */
	int route;       /* index in the route table; -1 none */
	struct store *st;
	double t0;
	size_t body_bytes;
	int refused;         /* a response was queued before the body (404, 413, 401...) */
	int spool_fd;        /* an upload's spool file (api_imports.c), or -1 */
	char spool_path[64]; /* "/proc/self/fd/N": the file is unlinked at once */
	char *body;          /* a HTTP_BODY_KEEP route's body (NUL-terminated), or NULL */
};

struct http_resp {
	int status;
	char *body; /* malloc'ed */
	size_t len;
	const char *ctype;
	int retry_after; /* seconds; 0: no header */
	int has_fd;      /* the body is instead the first len bytes of file fd */
	int fd;          /* (taken: closed once sent) */
};

/* ---- router.c ---- */
struct http_route {
	const char *method;
	const char *pattern; /* "/api/v1/jobs/{}": {} matches one segment */
	const char *label;   /* the metrics' route label */
	int needs_db;
	int auth; /* 0: none; else the scope + 1 it needs */
	int (*fn)(struct http_req *rq, struct http_resp *rs);
	int upload; /* its body: 0 dropped, HTTP_BODY_SPOOL (to a file; cap
	               max_upload) or HTTP_BODY_KEEP (in rq->body; max_body) */
};
enum { HTTP_BODY_SPOOL = 1, HTTP_BODY_KEEP = 2 };
extern const struct http_route http_routes[];
extern const size_t http_nroutes;
/* The route of method and path: its index, with rq->arg set for "{}";
 * -1 and *allowed = 1 when the path is known but not for this method
 * (405), -1 and *allowed = 0 for no route (404). */
int http_route_find(const char *method, const char *path, char *arg, size_t arglen, int *allowed);

/* ---- response.c ---- */
/* Take `body` (decref'ed here) as the JSON response with `status`. */
int http_json(struct http_resp *rs, int status, json_t *body);
/* {"error": {"code", "message", "param"}} with status; param may be NULL. */
int http_error(struct http_resp *rs, int status, const char *code, const char *param,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* A store failure as 503 (unreachable, busy) or 500, with the store's
 * message. */
int http_store_error(struct http_resp *rs, struct store *st, int err);
/* A query parameter of the request, or NULL. */
const char *http_query(const struct http_req *rq, const char *key);
/* Every query parameter must be one of names[0..n): else 400 naming the
 * first unknown one (returns 1 after filling rs), 0 when all are known. */
int http_query_check(const struct http_req *rq, const char *const *names, size_t n,
                     struct http_resp *rs);
/* ?limit= (default def, 1..max): 0, or 1 after a 400 in rs. */
int http_query_limit(const struct http_req *rq, size_t def, size_t max, size_t *out,
                     struct http_resp *rs);

/* ---- the handlers (api_db.c, api_read.c, metrics.c) ---- */
int http_api_healthz(struct http_req *rq, struct http_resp *rs);
int http_api_openapi(struct http_req *rq, struct http_resp *rs);
int http_api_readyz(struct http_req *rq, struct http_resp *rs);
int http_api_db_health(struct http_req *rq, struct http_resp *rs);
int http_api_db_migrations(struct http_req *rq, struct http_resp *rs);
int http_api_db_stats(struct http_req *rq, struct http_resp *rs);
int http_api_tokens(struct http_req *rq, struct http_resp *rs);
int http_api_hosts(struct http_req *rq, struct http_resp *rs);
int http_api_host(struct http_req *rq, struct http_resp *rs);
int http_api_jobs(struct http_req *rq, struct http_resp *rs);
int http_api_job(struct http_req *rq, struct http_resp *rs);
int http_api_changes(struct http_req *rq, struct http_resp *rs);
int http_api_findings(struct http_req *rq, struct http_resp *rs);
int http_api_finding(struct http_req *rq, struct http_resp *rs);
int http_api_metrics(struct http_req *rq, struct http_resp *rs);
int http_api_imports(struct http_req *rq, struct http_resp *rs);
int http_api_diff(struct http_req *rq, struct http_resp *rs);
int http_api_finding_patch(struct http_req *rq, struct http_resp *rs);
int http_api_host_history(struct http_req *rq, struct http_resp *rs);

/* ---- api_imports.c: an upload's spool file ---- */
/* Create rq's spool file: 0, or 1 with a 500 in rs. */
int http_spool_open(struct http_req *rq, struct http_resp *rs);
/* Append a chunk: 0 or -1 (the disk is full...). */
int http_spool_write(struct http_req *rq, const char *data, size_t n);
/* Close and remove it (also when the client went away mid-body). */
void http_spool_close(struct http_req *rq);

#endif
