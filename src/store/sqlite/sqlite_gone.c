/*
 * sqlite_gone.c - the SQLite backend's slots for gone hosts (store.h
 * "gone hosts"): a job's target ranges (job_targets), the known hosts a
 * job covered and did not list, and saving what the gone rule changed of a
 * host (host_state's misses, hosts.status).  The rule itself is
 * history/events.c (ev_miss); read SQL is in the hot-query table
 * (sqlite_query.c) so its plans are tested.
 */
#include <string.h>

#include "core/error.h"
#include "store/sqlite/sqlite_int.h"

static const char sql_target_put[] =
    "INSERT INTO job_targets (job_id, lo, hi) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";

int store__sqlite_job_targets_put(struct store *st, int64_t job_id, const struct addr_range *v,
                                  size_t n)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		int b;

		if ((r = store__sqlite_stmt(s, SQ_TARGET_PUT, sql_target_put, &q)) != 0)
			return r;
		b = sqlite3_bind_int64(q, 1, job_id);
		b |= sqlite3_bind_blob(q, 2, v[i].lo, 16, SQLITE_STATIC);
		b |= sqlite3_bind_blob(q, 3, v[i].hi, 16, SQLITE_STATIC);
		r = b ? store__sqlite_bind_failed(s, q, "storing a job's target range")
		      : store__sqlite_step_done(s, q, "storing a job's target range");
	}
	return r;
}

static int blob16(sqlite3_stmt *q, int i, unsigned char out[16])
{
	if (sqlite3_column_bytes(q, i) != 16 || !sqlite3_column_blob(q, i))
		return SDB_EDB;
	memcpy(out, sqlite3_column_blob(q, i), 16);
	return 0;
}

int store__sqlite_job_targets_each(struct store *st,
                                   int (*cb)(void *ctx, int64_t job_id, int64_t at,
                                             const struct addr_range *r),
                                   void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_TARGETS_EACH, &q)) != 0)
		return r;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct addr_range t;

		if (blob16(q, 2, t.lo) || blob16(q, 3, t.hi)) {
			r = store__set_err(st, SDB_EDB, "job %lld: a target range is not 16 bytes",
			                   (long long)sqlite3_column_int64(q, 0));
			goto out;
		}
		if ((r = cb(ctx, sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1), &t)) != 0)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "reading the jobs' target ranges");
out:
	store__sqlite_done(q);
	return r;
}

int store__sqlite_hosts_missed(
    struct store *st, int64_t job_id, const struct addr_range *rg, int limit,
    int (*cb)(void *ctx, int64_t host_id, const char *addr, const struct ev_host *h), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_HOSTS_MISSED, &q)) != 0)
		return r;
	sqlite3_bind_blob(q, 1, rg->lo, 16, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, rg->hi, 16, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, job_id);
	sqlite3_bind_int(q, 4, limit);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct ev_host h;
		enum rec_host_status status;

		ev_host_init(&h);
		if (rec_host_status_parse((const char *)sqlite3_column_text(q, 2), &status) != 0)
			status = REC_HOST_UNKNOWN;
		h.known = 1;
		h.status = status;
		h.job_id = sqlite3_column_int64(q, 3);
		h.at = sqlite3_column_int64(q, 4);
		h.stored = sqlite3_column_type(q, 5) != SQLITE_NULL;
		h.misses = sqlite3_column_int(q, 5);
		h.miss_job = sqlite3_column_int64(q, 6);
		h.miss_at = sqlite3_column_int64(q, 7);
		if ((r = cb(ctx, sqlite3_column_int64(q, 0),
		            (const char *)sqlite3_column_text(q, 1), &h)) != 0)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "reading the hosts a job missed");
out:
	store__sqlite_done(q);
	return r;
}

static const char sql_gone_state[] =
    "INSERT INTO host_state (host_id, misses, miss_job_id, miss_at) VALUES (?1, ?2, ?3, ?4)"
    " ON CONFLICT (host_id) DO UPDATE SET misses = excluded.misses,"
    " miss_job_id = excluded.miss_job_id, miss_at = excluded.miss_at";
static const char sql_gone_status[] = "UPDATE hosts SET status = ?2 WHERE id = ?1 AND status <> ?2";

static int gone_save(struct store *st, int64_t host_id, const struct ev_host *h)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int b, r;

	if ((r = store__sqlite_stmt(s, SQ_GONE_STATE, sql_gone_state, &q)) != 0)
		return r;
	b = sqlite3_bind_int64(q, 1, host_id);
	b |= sqlite3_bind_int(q, 2, h->misses);
	b |= store__sqlite_bind_time(q, 3, h->miss_job);
	b |= store__sqlite_bind_time(q, 4, h->miss_job ? h->miss_at : 0);
	if (b)
		return store__sqlite_bind_failed(s, q, "saving a host's misses");
	if ((r = store__sqlite_step_done(s, q, "saving a host's misses")) != 0)
		return r;
	if ((r = store__sqlite_stmt(s, SQ_GONE_STATUS, sql_gone_status, &q)) != 0)
		return r;
	b = sqlite3_bind_int64(q, 1, host_id);
	b |= sqlite3_bind_text(q, 2, rec_host_status_name(h->status), -1, SQLITE_STATIC);
	if (b)
		return store__sqlite_bind_failed(s, q, "saving a host's status");
	return store__sqlite_step_done(s, q, "saving a host's status");
}

int store__sqlite_hosts_gone_save(struct store *st, const struct store_gone *v, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = gone_save(st, v[i].host_id, v[i].h);
	return r;
}
