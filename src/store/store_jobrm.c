/*
 * store_jobrm.c - what `scandb job rm` asks of the store, written once for
 * both backends (plain SQL through the query slots, as store_ops.c):
 * counting what removing a job touches, listing its hosts, folding their
 * current fields again without it (store_sql.h), forgetting the findings
 * its hosts' scans decided, and deleting the job (foreign-key cascades)
 * with the hosts only it saw.  app/job_rm.c runs them in one transaction
 * with the history derived again (app/job_late.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "store/store_int.h"
#include "store/store_sql.h"

/* The job's scans of hosts no other job saw. */
#define JOBRM_ONLY                                                                                 \
	" FROM host_scans s WHERE s.job_id = $1 AND NOT EXISTS (SELECT 1 FROM host_scans o"        \
	" WHERE o.host_id = s.host_id AND o.job_id <> $1)"

int store_job_rm_count(struct store *st, int64_t job_id, struct store_job_rm_count *out)
{
	static const char *const sql[] = {
	    "SELECT count(*) FROM host_scans WHERE job_id = $1",
	    "SELECT count(*)" JOBRM_ONLY,
	    "SELECT count(*) FROM ports WHERE job_id = $1",
	    "SELECT count(*) FROM host_events WHERE job_id = $1",
	    "SELECT count(*) FROM host_scans s JOIN host_events e ON e.host_id = s.host_id"
	    " AND (e.at > s.scanned_at OR (e.at = s.scanned_at AND e.job_id > s.job_id))"
	    " WHERE s.job_id = $1",
	    "SELECT count(*) FROM finding_jobs WHERE job_id = $1",
	};
	int64_t *v[] = {&out->hosts,  &out->hosts_gone,   &out->ports,
	                &out->events, &out->events_again, &out->findings};
	int r = 0;

	if (!st || !out)
		return SDB_EUSAGE;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]) && r == 0; i++)
		r = store__q_one(st, sql[i], &job_id, 1, v[i]);
	return r;
}

struct jobrm_hosts {
	int (*cb)(void *ctx, int64_t host_id, const char *addr, int stored);
	void *ctx;
};

static int jobrm_host_row(void *ctx, const char *const *col, const size_t *len)
{
	struct jobrm_hosts *h = ctx;

	(void)len;
	if (!col[0] || !col[1] || !col[2])
		return SDB_EDB;
	return h->cb(h->ctx, strtoll(col[0], NULL, 10), col[1], strcmp(col[2], "1") == 0);
}

int store_job_rm_hosts(struct store *st, int64_t job_id,
                       int (*cb)(void *ctx, int64_t host_id, const char *addr, int stored),
                       void *ctx)
{
	static const char sql[] =
	    "SELECT s.host_id, h.addr, CASE WHEN EXISTS (SELECT 1 FROM host_state t"
	    " WHERE t.host_id = s.host_id) THEN 1 ELSE 0 END"
	    " FROM host_scans s JOIN hosts h ON h.id = s.host_id WHERE s.job_id = $1"
	    " AND EXISTS (SELECT 1 FROM host_scans o WHERE o.host_id = s.host_id"
	    " AND o.job_id <> $1) ORDER BY s.host_id";
	struct jobrm_hosts h = {cb, ctx};

	if (!st || !cb)
		return SDB_EUSAGE;
	return store__q_text(st, sql, &job_id, 1, jobrm_host_row, &h);
}

int store_job_rm_refold(struct store *st, int64_t job_id)
{
	/* %s(0): the time never set, in the backend's time type; the hosts
	 * only this job saw have nothing to fold (store_job_rm_delete) */
	static const char sql_fmt[] = "UPDATE hosts SET" STORE_SQL_HOST_REFOLD_SET(
	    "%s(0)") " WHERE id IN (SELECT s.host_id"
	             " FROM host_scans s WHERE s.job_id = $1 AND EXISTS (SELECT 1 FROM host_scans o"
	             " WHERE o.host_id = s.host_id AND o.job_id <> $1))";
	const char *t;
	char *sql;
	size_t len;
	int r;

	if (!st)
		return SDB_EUSAGE;
	t = st->ops->sql_time ? st->ops->sql_time : "";
	len = sizeof(sql_fmt) + 2 * strlen(t);
	if (!(sql = malloc(len)))
		return store__set_err(st, SDB_ENOMEM, "job rm: out of memory");
	snprintf(sql, len, sql_fmt, t, t);
	r = store__q_exec(st, sql, &job_id, 1, NULL);
	free(sql);
	return r;
}

int store_job_rm_delete(struct store *st, int64_t job_id, int64_t *hosts_gone)
{
	static const char hosts_sql[] =
	    "DELETE FROM hosts WHERE id IN (SELECT s.host_id" JOBRM_ONLY ")";
	int64_t n = 0;
	int r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = store__q_exec(st, hosts_sql, &job_id, 1, &n)) != 0 ||
	    (r = store__q_exec(st, "DELETE FROM jobs WHERE id = $1", &job_id, 1, NULL)) != 0)
		return r;
	if (hosts_gone)
		*hosts_gone = n;
	return 0;
}

int store_findings_forget_scan_decided(struct store *st, int64_t host_id)
{
	static const char sql[] = "DELETE FROM findings WHERE host_id = $1"
	                          " AND NOT EXISTS (SELECT 1 FROM finding_status_changes c"
	                          " WHERE c.finding_id = findings.id AND c.job_id IS NULL)";

	if (!st)
		return SDB_EUSAGE;
	return store__q_exec(st, sql, &host_id, 1, NULL);
}
