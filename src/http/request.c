/*
 * request.c - one request through `scandb serve` (libmicrohttpd's access
 * handler): the header and body caps (413), the route (404, 405), the
 * token (401, 403), a database connection from the pool (503 when none
 * comes free), the handler, the response; then, when it is done, the
 * metrics and one access-log line.  No secret is ever logged or echoed: the
 * log names the method, the path (no query string), the code and the time.
 */
#include "http/http_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timeutil.h"

/* Per request (MHD's con_cls). */
struct reqstate {
	struct http_req rq;
	size_t cap;     /* the body's: max_upload for an upload, else max_body */
	int status;     /* the response's, for the log and the metrics */
	size_t out_len; /* its body's bytes */
	char arg[256];
};

static enum MHD_Result queue(struct MHD_Connection *conn, struct reqstate *s, struct http_resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ok;
	char ra[16];

	if (!rs->body && !rs->has_fd)
		http_error(rs, 500, "internal", NULL, "no response");
	if (rs->has_fd)
		r = MHD_create_response_from_fd(rs->len, rs->fd);
	else
		r = MHD_create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(rs->body);
		if (rs->has_fd)
			close(rs->fd);
		return MHD_NO;
	}
	rs->body = NULL;
	MHD_add_response_header(r, "Content-Type", rs->ctype ? rs->ctype : "application/json");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (rs->retry_after > 0) {
		snprintf(ra, sizeof(ra), "%d", rs->retry_after);
		MHD_add_response_header(r, "Retry-After", ra);
	}
	if (rs->status == 401)
		MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"scandb\"");
	if (rs->status == 413)
		MHD_add_response_header(r, "Connection", "close");
	s->status = rs->status;
	s->out_len = rs->len;
	ok = MHD_queue_response(conn, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	return ok;
}

/* ---- the caps ------------------------------------------------------------- */

static enum MHD_Result add_len(void *ctx, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
	size_t *n = ctx;

	(void)kind;
	*n += strlen(key) + (value ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* 413 before the body when the headers or the announced body are too
 * big: 1 after filling rs, else 0. */
static int too_big_first(struct MHD_Connection *conn, const struct http_config *cfg,
                         const char *url, size_t cap, struct http_resp *rs)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	size_t n = strlen(url);

	MHD_get_connection_values(conn, MHD_HEADER_KIND, add_len, &n);
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_len, &n);
	if (n > cfg->max_header) {
		http_error(rs, 413, "too_large", "headers",
		           "the request line and headers exceed %zu bytes", cfg->max_header);
		return 1;
	}
	if (cl && strtoull(cl, NULL, 10) > cap) {
		http_error(rs, 413, "too_large", "body", "the request body exceeds %zu bytes", cap);
		return 1;
	}
	return 0;
}

/* ---- auth ----------------------------------------------------------------- */

/* The secret of the request (Authorization: Bearer, else X-API-Key), or
 * NULL. */
static const char *secret_of(struct MHD_Connection *conn)
{
	const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");

	if (a && strncasecmp(a, "Bearer ", 7) == 0) {
		a += 7;
		while (*a == ' ')
			a++;
		return a;
	}
	if (a)
		return ""; /* another scheme: refused as a bad token */
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-API-Key");
}

/* 0 when the request may go on; else 1 with 401/403 (or a store error)
 * in rs.  Messages never hold the secret. */
static int authorize(struct http_req *rq, const struct http_route *route, struct http_resp *rs)
{
	static const char *const why[] = {"", "invalid token", "invalid token", "token revoked",
	                                  "token expired"};
	const char *secret;
	enum token_refusal refusal;
	enum token_scope scope;
	int64_t id;
	int r;

	if (!route->auth || rq->srv->cfg.no_auth)
		return 0;
	if (!(secret = secret_of(rq->conn))) {
		http_error(rs, 401, "unauthorized", NULL,
		           "a token is needed (Authorization: Bearer TOKEN, or X-API-Key: TOKEN)");
		return 1;
	}
	if ((r = token_authenticate(rq->st, secret, time_now(), &refusal, &scope, &id)) != 0) {
		http_store_error(rs, rq->st, r);
		return 1;
	}
	if (refusal != TOKEN_OK) {
		http_error(rs, 401, "unauthorized", NULL, "%s", why[refusal]);
		return 1;
	}
	if ((int)scope + 1 < route->auth) {
		http_error(rs, 403, "forbidden", NULL,
		           "a %s token may not do this (%s scope needed)", token_scope_name(scope),
		           token_scope_name((enum token_scope)(route->auth - 1)));
		return 1;
	}
	return 0;
}

/* ---- the request's stages ---------------------------------------------------- */

/* A pool connection into rq->st: 0, or 1 with a 503 in rs. */
static int take_store(struct http_req *rq, struct http_resp *rs)
{
	char msg[512];
	int busy;

	if ((rq->st = http_pool_acquire(&rq->srv->pool, &busy, msg, sizeof(msg))))
		return 0;
	rs->retry_after = 1;
	http_error(rs, 503, "unavailable", NULL, "%s",
	           busy ? msg : "the database cannot be reached");
	return 1;
}

static void give_store(struct http_req *rq)
{
	http_pool_release(&rq->srv->pool, rq->st);
	rq->st = NULL;
}

/* Once the headers are in, before any body is read: the route (404, 405),
 * the caps (413), the token (401, 403), an upload's spool file.  0 to read
 * the body; 1 with the refusal in rs. */
static int admit(struct reqstate *s, const char *url, struct http_resp *rs)
{
	struct http_req *rq = &s->rq;
	const struct http_config *cfg = &rq->srv->cfg;
	const struct http_route *route;
	int allowed, r;

	rq->route = http_route_find(rq->method, url, s->arg, sizeof(s->arg), &allowed);
	if (rq->route < 0) {
		if (allowed)
			http_error(rs, 405, "method_not_allowed", NULL, "%s is not allowed here",
			           rq->method);
		else
			http_error(rs, 404, "not_found", NULL, "no such endpoint");
		return 1;
	}
	route = &http_routes[rq->route];
	rq->arg = s->arg;
	s->cap = route->upload == HTTP_BODY_SPOOL ? cfg->max_upload : cfg->max_body;
	if (too_big_first(rq->conn, cfg, url, s->cap, rs))
		return 1;
	if (route->auth && !cfg->no_auth) {
		if (take_store(rq, rs))
			return 1;
		r = authorize(rq, route, rs);
		give_store(rq);
		if (r)
			return 1;
	}
	if (route->upload == HTTP_BODY_SPOOL && http_spool_open(rq, rs) != 0)
		return 1;
	return 0;
}

/* A chunk of the body: written to an upload's spool, else counted and
 * dropped.  A body over the cap is read and dropped to its end (then 413:
 * libmicrohttpd takes no response in the middle of a body); one far over
 * it is cut (MHD_NO: the connection closed). */
static enum MHD_Result body_chunk(struct reqstate *s, const char *data, size_t n)
{
	struct http_req *rq = &s->rq;

	size_t had = rq->body_bytes;
	char *more;

	rq->body_bytes += n;
	if (rq->body_bytes > s->cap * 8 + (1u << 20))
		return MHD_NO;
	if (rq->body_bytes > s->cap)
		return MHD_YES;
	if (rq->spool_fd >= 0)
		return http_spool_write(rq, data, n) == 0 ? MHD_YES : MHD_NO;
	if (http_routes[rq->route].upload == HTTP_BODY_KEEP) {
		if (!(more = realloc(rq->body, rq->body_bytes + 1)))
			return MHD_NO;
		memcpy(more + had, data, n);
		more[rq->body_bytes] = '\0';
		rq->body = more;
	}
	return MHD_YES;
}

/* A handler slower than cfg.slow_ms: one line with its route and time
 * (never its parameters), counted, and health says degraded for a minute. */
static void slow_check(struct http_server *srv, const struct http_route *route, double secs)
{
	if (srv->cfg.slow_ms <= 0 || secs * 1000.0 < srv->cfg.slow_ms)
		return;
	atomic_store(&srv->slow_at, time_mono());
	atomic_fetch_add(&srv->slow_total, 1);
	fprintf(stderr,
	        "scandb serve: slow request: %s %s took %.0f ms (SCANDB_SLOW_QUERY_MS=%d)\n",
	        route->method, route->label, secs * 1000.0, srv->cfg.slow_ms);
}

static void dispatch(struct reqstate *s, struct http_resp *rs)
{
	struct http_req *rq = &s->rq;
	const struct http_route *route = &http_routes[rq->route];

	if (rq->body_bytes > s->cap) {
		http_error(rs, 413, "too_large", "body", "the request body exceeds %zu bytes",
		           s->cap);
		return;
	}
	double t0;

	if (route->needs_db && take_store(rq, rs))
		return;
	t0 = time_mono();
	route->fn(rq, rs);
	give_store(rq);
	slow_check(rq->srv, route, time_mono() - t0);
}

enum MHD_Result http__access(void *cls, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, const char *upload,
                             size_t *upload_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct reqstate *s = *con_cls;
	struct http_resp rs = {0};

	(void)version;
	if (!s) {
		if (!(s = calloc(1, sizeof(*s))))
			return MHD_NO;
		s->rq.srv = srv;
		s->rq.conn = conn;
		s->rq.method = method;
		s->rq.path = url;
		s->rq.route = -1;
		s->rq.spool_fd = -1;
		s->rq.t0 = time_mono();
		*con_cls = s;
		atomic_fetch_add(&srv->active, 1);
		http__conn_headers_done(conn);
		if (admit(s, url, &rs) != 0) {
			s->rq.refused = 1;
			return queue(conn, s, &rs);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;

		*upload_size = 0;
		return s->rq.refused ? MHD_YES : body_chunk(s, upload, n);
	}
	if (s->rq.refused)
		return MHD_YES;
	dispatch(s, &rs);
	return queue(conn, s, &rs);
}

/* The path as it may be logged: control characters and quotes become '?',
 * at most 200 bytes. */
static void log_path(const char *p, char *out, size_t len)
{
	size_t i;

	for (i = 0; p && p[i] && i + 1 < len && i < 200; i++)
		out[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f || p[i] == '"' ? '?' : p[i];
	out[i] = '\0';
}

static void access_log(struct MHD_Connection *conn, const struct reqstate *s, double secs)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char who[64] = "-", path[256];
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, who,
		          sizeof(who));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          who, sizeof(who));
	log_path(s->rq.path, path, sizeof(path));
	fprintf(stderr, "scandb serve: %s \"%s %s\" %d %zu %.1fms\n", who, s->rq.method, path,
	        s->status, s->out_len, secs * 1000.0);
}

void http__completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                     enum MHD_RequestTerminationCode toe)
{
	struct http_server *srv = cls;
	struct reqstate *s = *con_cls;
	double secs;

	(void)toe;
	if (!s)
		return;
	secs = time_mono() - s->rq.t0;
	if (s->status)
		http_metrics_observe(srv->metrics, s->rq.route, s->status, secs);
	if (s->status && srv->cfg.access_log)
		access_log(conn, s, secs);
	http__conn_request_done(conn);
	http_spool_close(&s->rq);
	free(s->rq.body);
	atomic_fetch_sub(&srv->active, 1);
	free(s);
	*con_cls = NULL;
}
