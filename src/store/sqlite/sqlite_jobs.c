/*
 * sqlite_jobs.c - the SQLite backend's job rows (store_int.h job_insert,
 * job_progress, job_finish, job_find_by_hash, jobs_fail): creating a job
 * (ids above the high-water mark), its progress and final record, the
 * content-hash lookups of duplicate imports, and the reaper's write.
 * Which jobs are stale is store_ops.c's.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>

#include "core/error.h"

/* Shorter local names. */
#define bind_text store__sqlite_bind_text
#define bind_opt  store__sqlite_bind_opt_int
#define bind_time store__sqlite_bind_time

int store__sqlite_job_insert(struct store *st, const struct store_job_new *j, int64_t *id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int b = 0, r;

	if ((r = store__sqlite_stmt(s, SQ_JOB_INSERT,
	                            "INSERT INTO jobs (id, kind, source, status, args, worker_id,"
	                            " created_at, timeout_at, forced)"
	                            " VALUES ((SELECT max(last_id, coalesce((SELECT max(id)"
	                            " FROM jobs), 0)) + 1 FROM job_id_high_water),"
	                            " ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
	                            &stmt)) != 0)
		return r;
	b |= bind_text(stmt, 1, store_job_kind_name(j->kind));
	b |= bind_text(stmt, 2, j->source);
	b |= bind_text(stmt, 3, store_job_status_name(j->status));
	b |= bind_text(stmt, 4, j->args);
	b |= bind_text(stmt, 5, j->worker_id);
	b |= sqlite3_bind_int64(stmt, 6, j->created_at);
	b |= bind_time(stmt, 7, j->timeout_at);
	b |= sqlite3_bind_int(stmt, 8, j->forced ? 1 : 0);
	if (b)
		return store__sqlite_bind_failed(s, stmt, "creating the job");
	return store__sqlite_step_id(s, stmt, "creating the job", id);
}

int store__sqlite_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	char what[64];
	int b = 0, r;

	snprintf(what, sizeof(what), "updating the progress of job %lld", (long long)id);
	if ((r = store__sqlite_stmt(s, SQ_JOB_PROGRESS,
	                            "UPDATE jobs SET progress = ?2, timeout_at = ?3 WHERE id = ?1",
	                            &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, id);
	b |= sqlite3_bind_int(stmt, 2, progress);
	b |= bind_time(stmt, 3, timeout_at);
	if (b)
		return store__sqlite_bind_failed(s, stmt, what);
	if ((r = store__sqlite_step_done(s, stmt, what)) != 0)
		return r;
	if (sqlite3_changes(s->db) == 0)
		return store__set_err(st, SDB_ENOTFOUND, "no job with id %lld", (long long)id);
	return 0;
}

/* The unforced job other than `self` that holds `hash`. */
static int job_holding_hash(struct store_sqlite *s, const char *hash, int64_t self, int64_t *id)
{
	sqlite3_stmt *stmt;
	int rc, r;

	if ((r = store__sqlite_stmt(s, SQ_JOB_BY_HASH_ANY,
	                            "SELECT id FROM jobs WHERE content_hash = ?1 AND forced = 0"
	                            " AND status = 'completed' AND id <> ?2 ORDER BY id LIMIT 1",
	                            &stmt)) != 0)
		return r;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, self);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = SDB_ENOTFOUND;
	} else {
		r = store__sqlite_err(s, rc, "looking up the job with content hash %.12s", hash);
	}
	store__sqlite_done(stmt);
	return r;
}

int store__sqlite_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                             int64_t *existing_id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int64_t other = 0;
	char what[64];
	int b = 0, rc, r;

	snprintf(what, sizeof(what), "finishing job %lld", (long long)id);
	if ((r = store__sqlite_stmt(s, SQ_JOB_FINISH,
	                            "UPDATE jobs SET status = ?2, error = ?3, scanner = ?4,"
	                            " scanner_version = ?5, args = coalesce(?6, args),"
	                            " content_hash = ?7, probed_scope = ?8, started_at = ?9,"
	                            " completed_at = ?10, elapsed = ?11, hosts_up = ?12,"
	                            " hosts_down = ?13, hosts_total = ?14, ports_open = ?15,"
	                            " partial = ?16, progress = CASE WHEN ?2 = 'completed' THEN 100"
	                            " ELSE progress END"
	                            " WHERE id = ?1",
	                            &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, id);
	b |= bind_text(stmt, 2, store_job_status_name(f->status));
	b |= bind_text(stmt, 3, f->error);
	b |= bind_text(stmt, 4, f->scanner);
	b |= bind_text(stmt, 5, f->scanner_version);
	b |= bind_text(stmt, 6, f->args);
	b |= bind_text(stmt, 7, f->content_hash);
	b |= bind_text(stmt, 8, f->probed_scope);
	b |= bind_time(stmt, 9, f->started_at);
	b |= bind_time(stmt, 10, f->completed_at);
	b |= f->elapsed >= 0 ? sqlite3_bind_double(stmt, 11, f->elapsed)
	                     : sqlite3_bind_null(stmt, 11);
	b |= bind_opt(stmt, 12, f->hosts_up);
	b |= bind_opt(stmt, 13, f->hosts_down);
	b |= bind_opt(stmt, 14, f->hosts_total);
	b |= bind_opt(stmt, 15, f->ports_open);
	b |= sqlite3_bind_int(stmt, 16, f->partial != 0);
	if (b)
		return store__sqlite_bind_failed(s, stmt, what);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		store__sqlite_done(stmt);
		if (sqlite3_changes(s->db) == 0)
			return store__set_err(st, SDB_ENOTFOUND, "no job with id %lld",
			                      (long long)id);
		return 0;
	}
	if (rc != SQLITE_CONSTRAINT_UNIQUE || !f->content_hash) {
		r = store__sqlite_err(s, rc, "%s", what);
		store__sqlite_done(stmt);
		return r;
	}
	/* Only jobs_content_hash is unique here: the same content is already
	 * held by another unforced job.  The failed UPDATE was undone on its
	 * own; the transaction is still usable. */
	store__sqlite_done(stmt);
	if ((r = job_holding_hash(s, f->content_hash, id, &other)) != 0) {
		if (r == SDB_ENOTFOUND)
			r = store__set_err(st, SDB_ECONSTRAINT,
			                   "%s: content hash %.12s is already taken, but no job "
			                   "holding it was found",
			                   what, f->content_hash);
		return r;
	}
	if (existing_id)
		*existing_id = other;
	return store__set_err(st, SDB_EEXISTS, "the same content was already stored as job %lld",
	                      (long long)other);
}

int store__sqlite_job_find_by_hash(struct store *st, const char *hash, int64_t *id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int rc, r;

	*id = 0;
	if ((r = store__sqlite_stmt(s, SQ_JOB_BY_HASH_DONE,
	                            "SELECT id FROM jobs WHERE content_hash = ?1 AND forced = 0"
	                            " AND status = 'completed' ORDER BY id LIMIT 1",
	                            &stmt)) != 0)
		return r;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = store__set_err(st, SDB_ENOTFOUND, "no completed job with content hash %.12s",
		                   hash);
	} else {
		r = store__sqlite_err(s, rc, "looking up content hash %.12s", hash);
	}
	store__sqlite_done(stmt);
	return r;
}

/* ---- the reaper's write (store_int.h jobs_fail) -------------------------- */

int store__sqlite_jobs_fail(struct store *st, const struct store__stale_job *v, size_t n,
                            int64_t now, int *count)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int r;

	*count = 0;
	if ((r = store__sqlite_tx_begin(st, 0)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = store__sqlite_stmt(s, SQ_JOB_FAIL,
		                            "UPDATE jobs SET status = 'failed', error = ?2"
		                            " WHERE id = ?1 AND status = 'running'"
		                            " AND (?3 = 0 OR timeout_at < ?4)",
		                            &stmt)) != 0)
			goto fail;
		sqlite3_bind_int64(stmt, 1, v[i].id);
		sqlite3_bind_text(stmt, 2, v[i].why, -1, SQLITE_STATIC);
		sqlite3_bind_int(stmt, 3, v[i].timed_out);
		sqlite3_bind_int64(stmt, 4, now);
		if ((r = store__sqlite_step_done(s, stmt,
		                                 "reaping stale jobs: marking a job failed")) != 0)
			goto fail;
		*count += sqlite3_changes(s->db);
	}
	if ((r = store__sqlite_tx_commit(st)) == 0)
		return 0;
fail:
	store__sqlite_tx_rollback(st);
	*count = 0;
	return r;
}
