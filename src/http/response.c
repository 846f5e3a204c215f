/*
 * response.c - what every handler answers with (http_int.h): a JSON body,
 * the error body {"error": {"code", "message", "param"}}, a store failure
 * as 503 or 500; and the query parameters, checked (an unknown one is a 400
 * naming it) and read.
 */
#include "http/http_int.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int http_json(struct http_resp *rs, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;

	json_decref(body);
	free(rs->body);
	rs->ctype = "application/json";
	if (!text) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
		                          "memory\",\"param\":null}}";

		rs->status = 500;
		rs->body = strdup(oom);
		rs->len = rs->body ? strlen(rs->body) : 0;
		return 0;
	}
	rs->status = status;
	rs->len = strlen(text);
	/* a newline after the object, as the CLI prints it */
	rs->body = realloc(text, rs->len + 2);
	if (!rs->body) {
		rs->body = text;
	} else {
		rs->body[rs->len++] = '\n';
		rs->body[rs->len] = '\0';
	}
	return 0;
}

int http_error(struct http_resp *rs, int status, const char *code, const char *param,
               const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return http_json(rs, status,
	                 json_pack("{s:{s:s, s:s%, s:s?}}", "error", "code", code, "message", msg,
	                           strlen(msg), "param", param));
}

int http_store_error(struct http_resp *rs, struct store *st, int err)
{
	const char *msg = st ? store_errmsg(st) : "no database connection";

	if (err == SDB_ETRANSIENT || err == SDB_EBUSY) {
		rs->retry_after = 1;
		return http_error(rs, 503, "unavailable", NULL, "%s", msg);
	}
	return http_error(rs, 500, "internal", NULL, "%s", msg);
}

const char *http_query(const struct http_req *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct qcheck {
	const char *const *names;
	size_t n;
	const char *unknown;
};

static enum MHD_Result on_arg(void *ctx, enum MHD_ValueKind kind, const char *key,
                              const char *value)
{
	struct qcheck *q = ctx;

	(void)kind;
	(void)value;
	if (!*key) /* "?&limit=5": an empty pair, nothing asked */
		return MHD_YES;
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(key, q->names[i]) == 0)
			return MHD_YES;
	q->unknown = key;
	return MHD_NO;
}

int http_query_check(const struct http_req *rq, const char *const *names, size_t n,
                     struct http_resp *rs)
{
	struct qcheck q = {names, n, NULL};

	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, on_arg, &q);
	if (!q.unknown)
		return 0;
	http_error(rs, 400, "bad_parameter", q.unknown, "unknown query parameter '%.64s'",
	           q.unknown);
	return 1;
}

int http_query_limit(const struct http_req *rq, size_t def, size_t max, size_t *out,
                     struct http_resp *rs)
{
	const char *v = http_query(rq, "limit");
	char *end;
	unsigned long long n;

	*out = def;
	if (!v)
		return 0;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n < 1 || n > max) {
		http_error(rs, 400, "bad_parameter", "limit",
		           "limit: '%.64s' is not a number in 1..%zu", v, max);
		return 1;
	}
	*out = (size_t)n;
	return 0;
}
