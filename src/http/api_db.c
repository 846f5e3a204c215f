/*
 * api_db.c - the endpoints about the server and its database: GET
 * /api/v1/openapi.json (docs/openapi.json, embedded), /healthz
 * (the process answers; no database), /readyz (the database answers and its
 * schema is current), /api/v1/database/health (store_health and the pool),
 * /api/v1/database/migrations (store_migrate_status), /api/v1/database/stats
 * (store_stats, as `scandb stats --format json`), /api/v1/tokens (the
 * tokens, never a secret or its hash; admin scope).
 */
#include "http/http_int.h"

#include <stdlib.h>
#include <string.h>

#include "app/views.h"
#include "core/error.h"
#include "core/timeutil.h"

/* docs/openapi.json, embedded at build time (cmake/embed_file.cmake). */
extern const char http_openapi_json[];
extern const size_t http_openapi_json_len;

int http_api_openapi(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	if (!(rs->body = malloc(http_openapi_json_len + 1)))
		return http_error(rs, 500, "internal", NULL, "out of memory");
	memcpy(rs->body, http_openapi_json, http_openapi_json_len + 1);
	rs->len = http_openapi_json_len;
	rs->status = 200;
	rs->ctype = "application/json";
	return 0;
}

int http_api_healthz(struct http_req *rq, struct http_resp *rs)
{
	(void)rq;
	return http_json(rs, 200, json_pack("{s:s}", "status", "ok"));
}

int http_api_readyz(struct http_req *rq, struct http_resp *rs)
{
	struct store_health h;
	int r;

	if ((r = store_health(rq->st, &h)) != 0) {
		rs->retry_after = 1;
		return http_error(rs, 503, "unavailable", NULL, "%s", store_errmsg(rq->st));
	}
	if (!h.healthy)
		return http_error(rs, 503, "unavailable", NULL, "%s", h.problem);
	return http_json(rs, 200, json_pack("{s:s}", "status", "ready"));
}

static json_t *pool_json(struct http_pool *p)
{
	struct http_pool_stats s;

	http_pool_stats(p, &s);
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:f}", "max", s.max, "open", s.open, "in_use",
	                 s.in_use, "idle", s.idle, "waiting", s.waiting, "wait_seconds_total",
	                 s.wait_seconds_total);
}

int http_api_db_health(struct http_req *rq, struct http_resp *rs)
{
	struct store_health h;
	int r;

	if ((r = store_health(rq->st, &h)) != 0) {
		rs->retry_after = 1;
		return http_json(rs, 503,
		                 json_pack("{s:s, s:s, s:s, s:o}", "status", "unhealthy", "backend",
		                           rq->srv->backend, "problem", store_errmsg(rq->st),
		                           "pool", pool_json(&rq->srv->pool)));
	}
	return http_json(rs, h.healthy ? 200 : 503,
	                 json_pack("{s:s, s:f, s:s, s:s, s:i, s:i, s:i, s:s?, s:o}", "status",
	                           h.healthy ? http_health_word(rq->srv) : "unhealthy",
	                           "latency_ms", h.latency_ms, "backend", h.backend,
	                           "server_version", h.server_version, "schema_version",
	                           h.schema_version, "latest_version", h.latest_version, "pending",
	                           h.pending, "problem", h.healthy ? NULL : h.problem, "pool",
	                           pool_json(&rq->srv->pool)));
}

int http_api_db_migrations(struct http_req *rq, struct http_resp *rs)
{
	struct store_migration *ms = NULL;
	json_t *applied = json_array(), *pending = json_array();
	size_t n = 0;
	int r, current = 0;

	if ((r = store_migrate_status(rq->st, &ms, &n)) != 0) {
		json_decref(applied);
		json_decref(pending);
		return http_store_error(rs, rq->st, r);
	}
	for (size_t i = 0; i < n; i++) {
		char at[TIME_ISO_LEN];
		json_t *o;

		time_format_iso(ms[i].applied_at, at);
		o = json_pack("{s:i, s:s, s:s, s:o, s:b, s:b}", "version", ms[i].version, "name",
		              ms[i].name, "checksum", ms[i].checksum, "applied_at",
		              ms[i].applied ? json_string(at) : json_null(), "checksum_ok",
		              ms[i].applied ? ms[i].checksum_ok : 1, "known", ms[i].known);
		json_array_append_new(ms[i].applied ? applied : pending, o);
		if (ms[i].applied && ms[i].version > current)
			current = ms[i].version;
	}
	free(ms);
	return http_json(rs, 200,
	                 json_pack("{s:i, s:o, s:o}", "current_version", current, "applied",
	                           applied, "pending", pending));
}

/* GET /api/v1/database/stats: `scandb stats --format json` (large tables
 * estimated from a sample: ?exact=1 counts every row, as --exact). */
int http_api_db_stats(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"exact"};
	const char *exact = http_query(rq, "exact");
	struct store_stats s;
	int r;

	if (http_query_check(rq, known, 1, rs))
		return 0;
	if (exact && strcmp(exact, "0") != 0 && strcmp(exact, "1") != 0)
		return http_error(rs, 400, "bad_parameter", "exact", "exact: use 0 or 1");
	if ((r = store_stats(rq->st, exact && *exact == '1', &s)) != 0)
		return http_store_error(rs, rq->st, r);
	r = http_json(rs, 200, view_stats_json(&s));
	store_stats_free(&s);
	return r;
}

static int on_token(void *ctx, struct store_token *t)
{
	json_t *a = ctx;

	json_t *o = view_token_json(t);

	store_token_free(t);
	return o && json_array_append_new(a, o) == 0 ? 0 : SDB_ENOMEM;
}

int http_api_tokens(struct http_req *rq, struct http_resp *rs)
{
	json_t *a = json_array();
	int r;

	if ((r = store_tokens_each(rq->st, 0, on_token, a)) != 0) {
		json_decref(a);
		return http_store_error(rs, rq->st, r);
	}
	return http_json(rs, 200, json_pack("{s:o}", "tokens", a));
}
