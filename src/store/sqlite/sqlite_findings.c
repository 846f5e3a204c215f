/*
 * sqlite_findings.c - the SQLite backend's findings slots: a host's
 * findings for the scan-time logic, the upsert by fingerprint with its set
 * of jobs, status changes with their record, and the `findings` listing.
 * The rules that decide what is a finding, and when it is resolved or
 * reopened, are in history/findings.c; this file only stores.
 *
 * The statements that run once per host of every import (a host's findings,
 * the upsert) are prepared once per connection in cached slots; the rest
 * (status changes, listings: once per command) are prepared per call and
 * finalized before returning.
 */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/vec.h"
#include "store/sqlite/sqlite_int.h"
#include "store/store_sql.h"

static int prep(struct store_sqlite *s, const char *sql, sqlite3_stmt **q, const char *what)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, q, NULL);

	if (rc != SQLITE_OK) {
		*q = NULL;
		return store__sqlite_err(s, rc, "%s: preparing", what);
	}
	return 0;
}

static int col_opt_int(sqlite3_stmt *q, int i)
{
	return (int)store__sqlite_col_opt(q, i);
}

/* ---- the host's findings ------------------------------------------------- */

static const char sql_of_host[] =
    "SELECT id, fingerprint, type, source, key, protocol, port, status, state_at"
    " FROM findings WHERE host_id = ?1 ORDER BY id";

int store__sqlite_findings_of_host(struct store *st, int64_t host_id,
                                   struct store_finding_ref **out, size_t *n)
{
	struct store_sqlite *s = store__sqlite(st);
	struct store_finding_ref *v = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *q = NULL;
	int rc, r;

	if ((r = store__sqlite_stmt(s, SQ_FIND_OF_HOST, sql_of_host, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, host_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_finding_ref *f;
		enum rec_proto p;

		if (VEC_RESERVE(v, cap, cnt + 1, 8) != 0) {
			r = SDB_ENOMEM;
			goto nomem;
		}
		f = &v[cnt++];
		memset(f, 0, sizeof(*f));
		f->id = sqlite3_column_int64(q, 0);
		if (store__sqlite_col_dup(q, 1, &f->fingerprint) ||
		    store__sqlite_col_dup(q, 2, &f->type) ||
		    store__sqlite_col_dup(q, 3, &f->source) ||
		    store__sqlite_col_dup(q, 4, &f->key) ||
		    store__sqlite_col_dup(q, 7, &f->status)) {
			r = SDB_ENOMEM;
			goto nomem;
		}
		f->proto = -1;
		f->port = -1;
		if (sqlite3_column_type(q, 5) != SQLITE_NULL &&
		    rec_proto_parse((const char *)sqlite3_column_text(q, 5), &p) == 0) {
			f->proto = (int)p;
			f->port = col_opt_int(q, 6);
		}
		f->state_at = sqlite3_column_int64(q, 8);
	}
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "loading the findings of host %lld",
		                      (long long)host_id);
		goto out;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
	r = 0;
	goto out;
nomem:
	r = store__set_err(st, r, "loading the findings of host %lld: out of memory",
	                   (long long)host_id);
out:
	store__sqlite_done(q);
	store_finding_refs_free(v, cnt);
	return r;
}

/* ---- upsert ----------------------------------------------------------------- */

/* A new finding; nothing (no row returned) if the fingerprint exists. */
static const char sql_insert[] =
    "INSERT INTO findings (host_id, protocol, port, type, source, key, title, severity,"
    " status, fingerprint, first_seen, last_seen, state_at, details)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', ?9, ?10, ?10, ?10, ?11)"
    " ON CONFLICT (fingerprint) DO NOTHING RETURNING id";

/* Seen again: the newest sighting's words win; times widen. */
static const char sql_seen[] = "UPDATE findings SET" STORE_SQL_FINDING_SEEN_SET(
    "?2", "?3", "?4", "?5", "min", "max") " WHERE fingerprint = ?1 RETURNING id";

static const char sql_job_add[] = "INSERT INTO finding_jobs (finding_id, job_id) VALUES (?1, ?2)"
                                  " ON CONFLICT (finding_id, job_id) DO NOTHING";

int store__sqlite_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                                 const struct store_finding_new *f, int64_t *id, int *created)
{
	struct store_sqlite *s = store__sqlite(st);
	const char *what = "storing a finding";
	sqlite3_stmt *q = NULL;
	int b = 0, rc, r;

	if ((r = store__sqlite_stmt(s, SQ_FIND_INSERT, sql_insert, &q)) != 0)
		return r;
	b |= sqlite3_bind_int64(q, 1, host_id);
	if (f->proto >= 0) {
		b |= sqlite3_bind_text(q, 2, rec_proto_name((enum rec_proto)f->proto), -1,
		                       SQLITE_STATIC);
		b |= sqlite3_bind_int(q, 3, f->port);
	}
	b |= store__sqlite_bind_text(q, 4, f->type);
	b |= store__sqlite_bind_text(q, 5, f->source);
	b |= store__sqlite_bind_text(q, 6, f->key);
	b |= store__sqlite_bind_text(q, 7, f->title);
	b |= store__sqlite_bind_text(q, 8, f->severity);
	b |= store__sqlite_bind_text(q, 9, f->fingerprint);
	b |= sqlite3_bind_int64(q, 10, at);
	b |= store__sqlite_bind_text(q, 11, f->details);
	rc = b ? sqlite3_errcode(s->db) : sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		*created = 1;
		rc = sqlite3_step(q);
	}
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "%s (%s)", what, f->fingerprint);
		goto out;
	}
	store__sqlite_done(q);
	q = NULL;
	if (!*created) {
		if ((r = store__sqlite_stmt(s, SQ_FIND_SEEN, sql_seen, &q)) != 0)
			goto out;
		b |= sqlite3_bind_text(q, 1, f->fingerprint, -1, SQLITE_STATIC);
		b |= sqlite3_bind_int64(q, 2, at);
		b |= store__sqlite_bind_text(q, 3, f->title);
		b |= store__sqlite_bind_text(q, 4, f->severity);
		b |= store__sqlite_bind_text(q, 5, f->details);
		rc = b ? sqlite3_errcode(s->db) : sqlite3_step(q);
		if (rc == SQLITE_ROW) {
			*id = sqlite3_column_int64(q, 0);
			rc = sqlite3_step(q);
		}
		if (rc != SQLITE_DONE || *id == 0) {
			r = store__sqlite_err(s, rc == SQLITE_DONE ? SQLITE_INTERNAL : rc,
			                      "%s again (%s)", what, f->fingerprint);
			goto out;
		}
		store__sqlite_done(q);
		q = NULL;
	}
	if ((r = store__sqlite_stmt(s, SQ_FIND_JOB_ADD, sql_job_add, &q)) != 0)
		goto out;
	sqlite3_bind_int64(q, 1, *id);
	sqlite3_bind_int64(q, 2, job_id);
	rc = sqlite3_step(q);
	r = rc == SQLITE_DONE ? 0
	                      : store__sqlite_err(s, rc, "linking finding %lld to job %lld",
	                                          (long long)*id, (long long)job_id);
out:
	if (q)
		store__sqlite_done(q);
	return r;
}

/* ---- status ------------------------------------------------------------------ */

static const char sql_status_get[] = "SELECT status FROM findings WHERE id = ?1";
static const char sql_status_set[] = "UPDATE findings SET status = ?2," STORE_SQL_FINDING_STATE_AT(
    "?3", "?3", "state_at", "max") " WHERE id = ?1";
static const char sql_change_insert[] =
    "INSERT INTO finding_status_changes (finding_id, at, job_id, old_status, new_status, note)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

int store__sqlite_finding_set_status(struct store *st, int64_t id, const char *new_status,
                                     int64_t at, int64_t job_id, const char *note, int64_t scan_at,
                                     int record_creation, char **old)
{
	struct store_sqlite *s = store__sqlite(st);
	const char *what = "changing the status of a finding";
	char *prev = NULL;
	sqlite3_stmt *q = NULL;
	int b = 0, rc, r;

	if ((r = prep(s, sql_status_get, &q, what)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		r = store__set_err(st, SDB_ENOTFOUND, "no finding %lld in the database",
		                   (long long)id);
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = store__sqlite_err(s, rc, "%s %lld", what, (long long)id);
		goto out;
	}
	if (store__sqlite_col_dup(q, 0, &prev) != 0) {
		r = store__set_err(st, SDB_ENOMEM, "%s: out of memory", what);
		goto out;
	}
	sqlite3_finalize(q);
	q = NULL;
	if ((r = prep(s, sql_status_set, &q, what)) != 0)
		goto out;
	sqlite3_bind_int64(q, 1, id);
	b |= sqlite3_bind_text(q, 2, new_status, -1, SQLITE_STATIC);
	b |= sqlite3_bind_int64(q, 3, scan_at);
	rc = b ? sqlite3_errcode(s->db) : sqlite3_step(q);
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "%s %lld to '%s'", what, (long long)id, new_status);
		goto out;
	}
	sqlite3_finalize(q);
	q = NULL;
	if ((r = prep(s, sql_change_insert, &q, what)) != 0)
		goto out;
	b |= sqlite3_bind_int64(q, 1, id);
	b |= sqlite3_bind_int64(q, 2, at);
	b |= store__sqlite_bind_time(q, 3, job_id);
	b |= store__sqlite_bind_text(q, 4, record_creation ? NULL : prev);
	b |= sqlite3_bind_text(q, 5, new_status, -1, SQLITE_STATIC);
	b |= store__sqlite_bind_text(q, 6, note);
	rc = b ? sqlite3_errcode(s->db) : sqlite3_step(q);
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "recording the status change of finding %lld",
		                      (long long)id);
		goto out;
	}
	if (old) {
		*old = prev;
		prev = NULL;
	}
	r = 0;
out:
	sqlite3_finalize(q);
	free(prev);
	return r;
}

/* ---- the listing -------------------------------------------------------------- */

static const char sql_list[] =
    "SELECT f.id, h.addr, f.protocol, f.port, f.type, f.source, f.key, f.title, f.severity,"
    " f.status, f.fingerprint, f.first_seen, f.last_seen, f.details"
    " FROM findings f JOIN hosts h ON h.id = f.host_id"
    " WHERE (?1 = 0 OR f.id = ?1) AND (?2 IS NULL OR f.status = ?2)"
    " AND (?3 IS NULL OR f.severity = ?3) AND (?4 IS NULL OR h.addr = ?4)"
    " ORDER BY f.id";
static const char sql_jobs[] =
    "SELECT job_id FROM finding_jobs WHERE finding_id = ?1 ORDER BY job_id";
static const char sql_history[] =
    "SELECT at, job_id, old_status, new_status, note FROM finding_status_changes"
    " WHERE finding_id = ?1 ORDER BY id";

static int load_jobs(struct store_sqlite *s, sqlite3_stmt *q, struct store_finding *f)
{
	size_t cap = 0;
	int rc;

	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, f->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (VEC_RESERVE(f->jobs, cap, f->njobs + 1, 4) != 0)
			return store__set_err(&s->base, SDB_ENOMEM,
			                      "listing findings: out of memory");
		f->jobs[f->njobs++] = sqlite3_column_int64(q, 0);
	}
	return rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "listing the jobs of a finding");
}

static int load_history(struct store_sqlite *s, sqlite3_stmt *q, struct store_finding *f)
{
	size_t cap = 0;
	int rc;

	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, f->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_finding_change *c;

		if (VEC_RESERVE(f->history, cap, f->nhistory + 1, 4) != 0)
			goto nomem;
		c = &f->history[f->nhistory++];
		memset(c, 0, sizeof(*c));
		c->at = sqlite3_column_int64(q, 0);
		c->job_id =
		    sqlite3_column_type(q, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, 1);
		if (store__sqlite_col_dup(q, 2, &c->old_status) ||
		    store__sqlite_col_dup(q, 3, &c->new_status) ||
		    store__sqlite_col_dup(q, 4, &c->note))
			goto nomem;
	}
	return rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "listing the history of a finding");
nomem:
	return store__set_err(&s->base, SDB_ENOMEM, "listing findings: out of memory");
}

int store__sqlite_findings_each(struct store *st, const struct store_finding_filter *flt,
                                int (*cb)(void *ctx, struct store_finding *x), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q = NULL, *qj = NULL, *qh = NULL;
	struct store_finding *f = NULL;
	int b = 0, rc, r;

	if ((r = prep(s, sql_list, &q, "listing findings")) != 0 ||
	    (r = prep(s, sql_jobs, &qj, "listing findings")) != 0 ||
	    (r = prep(s, sql_history, &qh, "listing findings")) != 0)
		goto out;
	b |= sqlite3_bind_int64(q, 1, flt->id);
	b |= store__sqlite_bind_text(q, 2, flt->status);
	b |= store__sqlite_bind_text(q, 3, flt->severity);
	b |= store__sqlite_bind_text(q, 4, flt->addr);
	if (b) {
		r = store__sqlite_err(s, sqlite3_errcode(s->db), "listing findings: binding");
		goto out;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (!(f = calloc(1, sizeof(*f))))
			goto nomem;
		f->id = sqlite3_column_int64(q, 0);
		f->port = col_opt_int(q, 3);
		f->first_seen = sqlite3_column_int64(q, 11);
		f->last_seen = sqlite3_column_int64(q, 12);
		if (store__sqlite_col_dup(q, 1, &f->addr) ||
		    store__sqlite_col_dup(q, 2, &f->protocol) ||
		    store__sqlite_col_dup(q, 4, &f->type) ||
		    store__sqlite_col_dup(q, 5, &f->source) ||
		    store__sqlite_col_dup(q, 6, &f->key) ||
		    store__sqlite_col_dup(q, 7, &f->title) ||
		    store__sqlite_col_dup(q, 8, &f->severity) ||
		    store__sqlite_col_dup(q, 9, &f->status) ||
		    store__sqlite_col_dup(q, 10, &f->fingerprint) ||
		    store__sqlite_col_dup(q, 13, &f->details))
			goto nomem;
		if ((r = load_jobs(s, qj, f)) != 0 || (r = load_history(s, qh, f)) != 0)
			goto out;
		r = cb(ctx, f); /* cb owns f */
		f = NULL;
		if (r != 0)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "listing findings");
	goto out;
nomem:
	r = store__set_err(st, SDB_ENOMEM, "listing findings: out of memory");
out:
	store_finding_free(f);
	sqlite3_finalize(q);
	sqlite3_finalize(qj);
	sqlite3_finalize(qh);
	return r;
}
