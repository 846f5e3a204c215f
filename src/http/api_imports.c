/*
 * api_imports.c - POST /api/v1/imports (write scope): an nmap XML body,
 * spooled to an unlinked temporary file as it arrives (never held in memory;
 * capped by --max-upload; nothing is left behind, even by a kill -9), then
 * imported by app/import.c's app_import_file, the use
 * case `scandb import` runs: one job, one transaction, the same dedup.  A
 * client that goes away mid-body leaves nothing (the import starts only
 * once the whole body is in; the spool is removed).  201 with the job, 200
 * "already imported as job N" (?force=1 imports it again), 422 with
 * NAME:LINE:COL for a file the parser refuses, nothing stored.
 */
#include "http/http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/import.h"
#include "app/views.h"
#include "core/error.h"

int http_spool_open(struct http_req *rq, struct http_resp *rs)
{
	const char *dir = getenv("TMPDIR");

	if (!dir || !*dir || strlen(dir) > sizeof(rq->spool_path) - 24)
		dir = "/tmp";
	snprintf(rq->spool_path, sizeof(rq->spool_path), "%s/scandb-upload-XXXXXX", dir);
	if ((rq->spool_fd = mkstemp(rq->spool_path)) < 0) {
		rq->spool_path[0] = '\0';
		http_error(rs, 500, "internal", NULL, "cannot spool the upload: %s",
		           strerror(errno));
		return 1;
	}
	/* unlinked at once: a server killed outright leaves no file behind;
	 * the importer opens it again through its descriptor */
	unlink(rq->spool_path);
	snprintf(rq->spool_path, sizeof(rq->spool_path), "/proc/self/fd/%d", rq->spool_fd);
	return 0;
}

int http_spool_write(struct http_req *rq, const char *data, size_t n)
{
	while (n > 0) {
		ssize_t w = write(rq->spool_fd, data, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

void http_spool_close(struct http_req *rq)
{
	if (rq->spool_fd >= 0)
		close(rq->spool_fd);
	rq->spool_fd = -1;
	rq->spool_path[0] = '\0';
}

/* The job of an import as the answer: {"job": JOB, "status": ...}. */
static int job_answer(struct http_req *rq, struct http_resp *rs, int status, int64_t id,
                      const char *what)
{
	struct store_job *j = NULL;
	int r;

	if ((r = store_job_get(rq->st, id, &j)) != 0)
		return http_store_error(rs, rq->st, r);
	r = http_json(rs, status, json_pack("{s:s, s:o}", "status", what, "job", view_job_json(j)));
	store_job_free(j);
	return r;
}

int http_api_imports(struct http_req *rq, struct http_resp *rs)
{
	static const char *const known[] = {"name", "force"};
	const char *name = http_query(rq, "name"), *force = http_query(rq, "force");
	struct app_import_opts o = {0};
	struct app_import_result *res;
	char label[160];
	int r;

	if (http_query_check(rq, known, 2, rs))
		return 0;
	if (force && strcmp(force, "0") != 0 && strcmp(force, "1") != 0)
		return http_error(rs, 400, "bad_parameter", "force", "force: use 0 or 1");
	if (name && (!*name || strlen(name) > 128 || strpbrk(name, "\r\n\t")))
		return http_error(rs, 400, "bad_parameter", "name",
		                  "name: 1 to 128 bytes, no control characters");
	if (rq->body_bytes == 0)
		return http_error(rs, 400, "bad_parameter", "body",
		                  "the body is empty: send nmap XML");
	snprintf(label, sizeof(label), "upload:%s", name ? name : "-");
	o.force = force && strcmp(force, "1") == 0;
	o.name = label;
	if (!(res = calloc(1, sizeof(*res))))
		return http_error(rs, 500, "internal", NULL, "out of memory");
	app_import_file(rq->st, rq->spool_path, &o, res);
	if (res->status == APP_IMPORT_IMPORTED)
		r = job_answer(rq, rs, 201, res->job_id, "imported");
	else if (res->status == APP_IMPORT_DUPLICATE)
		r = job_answer(rq, rs, 200, res->job_id, "duplicate");
	else if (res->code == SDB_ETRANSIENT || res->code == SDB_EBUSY)
		r = (rs->retry_after = 1,
		     http_error(rs, 503, "unavailable", NULL, "%s", res->error));
	else if (res->code == SDB_EPARSE || res->code == SDB_ETOOBIG || res->code == SDB_ERANGE)
		r = http_error(rs, 422, "invalid_scan", "body", "%s", res->error);
	else
		r = http_error(rs, 500, "internal", NULL, "%s", res->error);
	free(res);
	return r;
}
