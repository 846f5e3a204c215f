/*
 * api_write.c - the endpoints that change what is stored, besides uploads
 * (api_imports.c): PATCH /api/v1/findings/{id} (write scope), a user's
 * decision on a finding, {"status": ..., "note": ...}, through the use case
 * `scandb finding ID set-status` runs (app/findings.c).
 */
#include "http/http_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/findings.h"
#include "app/views.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "history/findings.h"

static int keep_finding(void *ctx, struct store_finding *f)
{
	struct store_finding **one = ctx;

	store_finding_free(*one);
	*one = f;
	return 0;
}

/* The body {"status": S, "note": N}: 0 with *status and *note (borrowed
 * from *doc, which the caller decrefs), or 1 after a 400. */
static int patch_body(struct http_req *rq, json_t **doc, const char **status, const char **note,
                      struct http_resp *rs)
{
	json_error_t je;
	const char *key;
	json_t *v;
	enum findings_status st;

	if (!rq->body || !(*doc = json_loads(rq->body, JSON_REJECT_DUPLICATES, &je)) ||
	    !json_is_object(*doc))
		return http_error(rs, 400, "bad_parameter", "body",
		                  "the body is not a JSON object (%s)",
		                  rq->body ? je.text : "empty"),
		       1;
	json_object_foreach(*doc, key, v)
	{
		if (strcmp(key, "status") != 0 && strcmp(key, "note") != 0)
			return http_error(rs, 400, "bad_parameter", key, "unknown field '%.64s'",
			                  key),
			       1;
	}
	v = json_object_get(*doc, "status");
	if (!json_is_string(v) || findings_status_parse(json_string_value(v), &st) != 0)
		return http_error(rs, 400, "bad_parameter", "status",
		                  "status: open, pending_validation, confirmed, false_positive, "
		                  "manual_review, skipped, error or resolved"),
		       1;
	*status = findings_status_name(st);
	v = json_object_get(*doc, "note");
	if (v && !json_is_null(v) && (!json_is_string(v) || json_string_length(v) > 4096))
		return http_error(rs, 400, "bad_parameter", "note",
		                  "note: a string of 4096 bytes "
		                  "at most"),
		       1;
	*note = json_is_string(v) ? json_string_value(v) : NULL;
	return 0;
}

int http_api_finding_patch(struct http_req *rq, struct http_resp *rs)
{
	struct store_finding_filter f = {0};
	struct store_finding *one = NULL;
	const char *status = NULL, *note = NULL;
	json_t *doc = NULL;
	char *end;
	int r;

	errno = 0;
	f.id = strtoll(rq->arg, &end, 10);
	if (errno || *end || f.id < 1)
		return http_error(rs, 400, "bad_parameter", "id", "id: '%.64s' is not a number",
		                  rq->arg);
	if (http_query_check(rq, NULL, 0, rs) || patch_body(rq, &doc, &status, &note, rs)) {
		json_decref(doc);
		return 0;
	}
	r = findings_set_user_status(rq->st, f.id, status, note, time_now(), NULL);
	json_decref(doc);
	if (r == SDB_ENOTFOUND)
		return http_error(rs, 404, "not_found", "id", "no finding %lld", (long long)f.id);
	if (r == 0)
		r = store_findings_each(rq->st, &f, keep_finding, &one);
	if (r != 0 || !one) {
		store_finding_free(one);
		return http_store_error(rs, rq->st, r ? r : SDB_ENOTFOUND);
	}
	r = http_json(rs, 200, view_finding_json(one));
	store_finding_free(one);
	return r;
}
