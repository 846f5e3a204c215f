/*
 * pg_gone.c - the PostgreSQL backend's slots for gone hosts (store.h "gone
 * hosts"): a job's target ranges (job_targets), the known hosts a job
 * covered and did not list, and saving what the gone rule changed of a
 * host (host_state's misses, hosts.status).  The rule itself is
 * history/events.c (ev_miss).  Statements, not COPY rows: a job stores a
 * few ranges, and a host's misses are saved where its host_state row is
 * not buffered (pg_writebehind.c: the job writer saves them before the
 * host's port state, or for hosts the job did not list).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/pg/pg_int.h"

int store__pg_job_targets_put(struct store *st, int64_t job_id, const struct addr_range *v,
                              size_t n)
{
	struct store_pg *s = store__pg(st);
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		struct pg_params p = {0};
		char lo[35], hi[35];

		store__pg_key_hex(v[i].lo, lo);
		store__pg_key_hex(v[i].hi, hi);
		store__pg_p_int(&p, job_id);
		store__pg_p_text(&p, lo);
		store__pg_p_text(&p, hi);
		r = store__pg_exec(
		    s, PG_TARGET_PUT,
		    "INSERT INTO job_targets (job_id, lo, hi)"
		    " VALUES ($1::bigint, $2::bytea, $3::bytea) ON CONFLICT DO NOTHING",
		    &p, PGX_NOFLUSH, NULL, "storing a target range of job %lld", (long long)job_id);
	}
	return r;
}

int store__pg_job_targets_each(struct store *st,
                               int (*cb)(void *ctx, int64_t job_id, int64_t at,
                                         const struct addr_range *r),
                               void *ctx)
{
	struct store_pg *s = store__pg(st);
	PGresult *q = NULL;
	int r;

	if ((r = store__pg_exec(
	         s, PG_TARGETS_EACH,
	         "SELECT t.job_id, " EP(
	             "j.started_at") ", encode(t.lo, 'hex'),"
	                             " encode(t.hi, 'hex') FROM job_targets t JOIN jobs j"
	                             " ON j.id = t.job_id WHERE j.status = 'completed' AND NOT "
	                             "j.partial"
	                             " AND j.started_at > 'epoch' ORDER BY t.job_id, t.lo",
	         NULL, PGX_NOFLUSH, &q, "reading the jobs' target ranges")) != 0)
		return r;
	for (int i = 0; i < PQntuples(q) && r == 0; i++) {
		struct addr_range t;

		if (store__pg_key_from_hex(PQgetvalue(q, i, 2), t.lo) != 0 ||
		    store__pg_key_from_hex(PQgetvalue(q, i, 3), t.hi) != 0)
			r = store__set_err(st, SDB_EDB, "job %lld: a target range is not 16 bytes",
			                   (long long)store__pg_i64(q, i, 0));
		else
			r = cb(ctx, store__pg_i64(q, i, 0), store__pg_i64(q, i, 1), &t);
	}
	PQclear(q);
	return r;
}

/* The hosts of the range (hosts_addr_key) the job has no scan of (the
 * host_scans key), with their host_state row by key. */
/* clang-format off */
static const char sql_missed[] =
    "SELECT h.id, encode(h.addr_key, 'hex'), family(h.addr), h.status, h.last_job_id,"
    " " EP("h.last_seen") ", s.misses, s.miss_job_id, " EP("s.miss_at")
    " FROM hosts h LEFT JOIN host_state s ON s.host_id = h.id"
    " WHERE h.addr_key BETWEEN $1::bytea AND $2::bytea"
    " AND NOT EXISTS (SELECT 1 FROM host_scans hs WHERE hs.job_id = $3::bigint"
    " AND hs.host_id = h.id) ORDER BY h.addr_key LIMIT $4::integer";
/* clang-format on */

static int missed_row(struct store_pg *s, const PGresult *q, int i, int64_t *id, char addr[64],
                      struct ev_host *h)
{
	enum rec_host_status status;

	*id = store__pg_i64(q, i, 0);
	if (store__pg_addr_text(PQgetvalue(q, i, 1), (int)store__pg_i64(q, i, 2), addr) != 0)
		return store__set_err(&s->base, SDB_EDB, "host %lld: not an address",
		                      (long long)*id);
	if (rec_host_status_parse(store__pg_col(q, i, 3), &status) != 0)
		status = REC_HOST_UNKNOWN;
	ev_host_init(h);
	h->known = 1;
	h->status = status;
	h->job_id = store__pg_i64(q, i, 4);
	h->at = store__pg_i64(q, i, 5);
	h->stored = store__pg_col(q, i, 6) != NULL;
	h->misses = (int)store__pg_i64(q, i, 6);
	h->miss_job = store__pg_i64(q, i, 7);
	h->miss_at = store__pg_i64(q, i, 8);
	return 0;
}

int store__pg_hosts_missed(struct store *st, int64_t job_id, const struct addr_range *rg, int limit,
                           int (*cb)(void *ctx, int64_t host_id, const char *addr,
                                     const struct ev_host *h),
                           void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *q = NULL;
	char lo[35], hi[35];
	int r;

	store__pg_key_hex(rg->lo, lo);
	store__pg_key_hex(rg->hi, hi);
	store__pg_p_text(&p, lo);
	store__pg_p_text(&p, hi);
	store__pg_p_int(&p, job_id);
	store__pg_p_int(&p, limit);
	/* hosts, host_scans and host_state: every buffer (once per range) */
	if ((r = store__pg_exec(s, PG_HOSTS_MISSED, sql_missed, &p, 0, &q,
	                        "reading the hosts job %lld missed", (long long)job_id)) != 0)
		return r;
	for (int i = 0; i < PQntuples(q) && r == 0; i++) {
		struct ev_host h;
		char addr[64];
		int64_t id;

		if ((r = missed_row(s, q, i, &id, addr, &h)) == 0)
			r = cb(ctx, id, addr, &h);
	}
	PQclear(q);
	return r;
}

/* The hosts' host_state misses (a row created where there is none) and
 * their status, for a chunk of hosts: one statement, the values as arrays. */
static const char sql_gone_save[] =
    "WITH v AS (SELECT * FROM unnest($1::bigint[], $2::integer[], $3::bigint[], $4::bigint[],"
    "  $5::text[]) AS v(id, m, j, a, st)),"
    " s AS (INSERT INTO host_state (host_id, misses, miss_job_id, miss_at)"
    "  SELECT id, m, NULLIF(j, 0), CASE WHEN j = 0 THEN NULL ELSE to_timestamp(a) END FROM v"
    "  ON CONFLICT (host_id) DO UPDATE SET misses = excluded.misses,"
    "  miss_job_id = excluded.miss_job_id, miss_at = excluded.miss_at RETURNING 1)"
    " UPDATE hosts h SET status = v.st FROM v WHERE h.id = v.id AND h.status <> v.st";

#define GONE_CHUNK  4096
#define GONE_FIELDS 5

/* Field f of v[0..n) as a PostgreSQL array literal "{...}". */
static int gone_array(struct buf *b, const struct store_gone *v, size_t n, int f)
{
	int r = buf_append_char(b, '{');

	for (size_t i = 0; i < n && r == 0; i++) {
		const struct ev_host *h = v[i].h;
		const char *sep = i ? "," : "";

		if (f == 4)
			r = buf_printf(b, "%s%s", sep, rec_host_status_name(h->status));
		else
			r = buf_printf(b, "%s%lld", sep,
			               (long long)(f == 0   ? v[i].host_id
			                           : f == 1 ? h->misses
			                           : f == 2 ? h->miss_job
			                                    : h->miss_at));
	}
	return r ? r : buf_append_char(b, '}');
}

int store__pg_hosts_gone_save(struct store *st, const struct store_gone *v, size_t n)
{
	struct store_pg *s = store__pg(st);
	struct buf a[GONE_FIELDS];
	int r = 0;

	for (int f = 0; f < GONE_FIELDS; f++)
		buf_init(&a[f], (size_t)64 << 20);
	for (size_t at = 0; at < n && r == 0; at += GONE_CHUNK) {
		size_t cnt = n - at < GONE_CHUNK ? n - at : GONE_CHUNK;
		struct pg_params p = {0};

		for (int f = 0; f < GONE_FIELDS && r == 0; f++) {
			buf_reset(&a[f]);
			if ((r = gone_array(&a[f], v + at, cnt, f)) != 0)
				r = store__set_err(st, SDB_ENOMEM,
				                   "saving the misses of hosts: out of memory");
			else
				store__pg_p_text(&p, buf_str(&a[f]));
		}
		/* the hosts' rows may wait in PC_HOSTS; their host_state rows are
		 * not buffered (see the header) */
		if (r == 0)
			r = store__pg_exec(s, PG_GONE_SAVE, sql_gone_save, &p, PGX_FLUSH_HOSTS,
			                   NULL, "saving the misses of %zu host(s)", cnt);
	}
	for (int f = 0; f < GONE_FIELDS; f++)
		buf_free(&a[f]);
	return r;
}
