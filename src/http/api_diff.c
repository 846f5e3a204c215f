/*
 * api_diff.c - GET /api/v1/diff?a=JOB&b=JOB: what changed between two
 * stored scans, as `scandb diff A B` writes it (src/diff/: the snapshots of
 * the two jobs, the comparison, the writer), in format=json (default), xml
 * (ndiff's nmapdiff document) or text; verbose=1 also lists what did not
 * change.  The writer writes to a memory stream that becomes the body.
 */
#include "http/http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "diff/diff.h"

/* ?NAME= as a job id: 0, or 1 after a 400/404 in rs. */
static int job_param(struct http_req *rq, const char *name, int64_t *id, struct http_resp *rs)
{
	const char *v = http_query(rq, name);
	struct store_job *j = NULL;
	char *end;
	int r;

	if (!v)
		return http_error(rs, 400, "bad_parameter", name, "%s: a job id is needed", name),
		       1;
	*id = strtoll(v, &end, 10);
	if (*end || end == v || *id < 1)
		return http_error(rs, 400, "bad_parameter", name, "%s: '%.64s' is not a job id",
		                  name, v),
		       1;
	if ((r = store_job_get(rq->st, *id, &j)) == SDB_ENOTFOUND)
		return http_error(rs, 404, "not_found", name, "no job %lld in the database",
		                  (long long)*id),
		       1;
	store_job_free(j);
	if (r != 0)
		return http_store_error(rs, rq->st, r), 1;
	return 0;
}

/* The format and verbose parameters: 0, or 1 after a 400. */
static int diff_opts(struct http_req *rq, enum diff_format *fmt, int *verbose, struct http_resp *rs)
{
	static const char *const names[] = {"text", "xml", "json"};
	const char *f = http_query(rq, "format"), *v = http_query(rq, "verbose");

	*fmt = DIFF_FMT_JSON;
	for (int i = 0; f && i < 3; i++)
		if (strcmp(f, names[i]) == 0)
			*fmt = (enum diff_format)i, f = NULL;
	if (f)
		return http_error(rs, 400, "bad_parameter", "format", "format: json, xml or text"),
		       1;
	if (v && strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
		return http_error(rs, 400, "bad_parameter", "verbose", "verbose: 0 or 1"), 1;
	*verbose = v && *v == '1';
	return 0;
}

int http_api_diff(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"a", "b", "format", "verbose"};
	static const char *const ctypes[] = {"text/plain; charset=utf-8", "application/xml",
	                                     "application/json"};
	struct diff_snapshot *snap[2] = {NULL, NULL};
	enum diff_format fmt;
	int64_t id[2];
	char err[512] = "", *text = NULL;
	size_t len = 0;
	int verbose, different = 0, r = 0;
	FILE *f;

	if (http_query_check(rq, known, 4, rs) || diff_opts(rq, &fmt, &verbose, rs) ||
	    job_param(rq, "a", &id[0], rs) || job_param(rq, "b", &id[1], rs))
		return 0;
	for (int i = 0; i < 2 && r == 0; i++) {
		if ((r = diff_snapshot_new(&snap[i])) == 0)
			r = diff_snapshot_load_job(snap[i], rq->st, id[i], err, sizeof(err));
		if (r == 0)
			r = diff_snapshot_finish(snap[i]);
	}
	if (r == 0 && !(f = open_memstream(&text, &len)))
		r = SDB_ENOMEM;
	if (r == 0) {
		r = diff_write(f, fmt, snap[0], snap[1], verbose, &different);
		if (fclose(f) != 0 && r == 0)
			r = SDB_EIO;
	}
	diff_snapshot_free(snap[0]);
	diff_snapshot_free(snap[1]);
	if (r == SDB_EUSAGE) { /* a job not completed: err says its status */
		free(text);
		return http_error(rs, 409, "not_comparable", NULL, "%s", err);
	}
	if (r != 0) {
		free(text);
		return http_error(rs, 500, "internal", NULL, "cannot compare the jobs: %s",
		                  err[0] ? err : store_errmsg(rq->st));
	}
	rs->status = 200;
	rs->ctype = ctypes[fmt];
	rs->body = text;
	rs->len = len;
	return 0;
}
