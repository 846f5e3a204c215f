/*
 * pg_findings.c - the PostgreSQL backend's findings slots: a host's
 * findings for the scan-time logic (usually already read by history_load
 * with the host), the upsert by fingerprint with its set of jobs (one
 * statement), status changes with their record (one statement), and the
 * `findings` listing.  The rules are in history/findings.c, applied by app/findings.c.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "store/pg/pg_int.h"
#include "store/store_sql.h"

static int dup_col(const PGresult *q, int i, int c, char **dst)
{
	const char *v = store__pg_col(q, i, c);

	*dst = NULL;
	if (v && !(*dst = strdup(v)))
		return SDB_ENOMEM;
	return 0;
}

static int copy_refs(const struct store_finding_ref *v, size_t n, struct store_finding_ref **out)
{
	struct store_finding_ref *c;

	*out = NULL;
	if (n == 0)
		return 0;
	if (!(c = calloc(n, sizeof(*c))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		c[i] = v[i];
		c[i].fingerprint = sdb_strdup(v[i].fingerprint);
		c[i].type = sdb_strdup(v[i].type);
		c[i].source = sdb_strdup(v[i].source);
		c[i].key = sdb_strdup(v[i].key);
		c[i].status = sdb_strdup(v[i].status);
		if (!c[i].fingerprint || !c[i].type || !c[i].source || !c[i].status ||
		    (v[i].key && !c[i].key)) {
			store_finding_refs_free(c, i + 1);
			return SDB_ENOMEM;
		}
	}
	*out = c;
	return 0;
}

int store__pg_findings_of_host(struct store *st, int64_t host_id, struct store_finding_ref **out,
                               size_t *n)
{
	struct store_pg *s = store__pg(st);
	struct store_finding_ref *v = NULL;
	struct pg_params p = {0};
	PGresult *q = NULL;
	int cnt, r;

	if (s->fcache.valid && s->fcache.host_id == host_id) {
		if ((r = copy_refs(s->fcache.v, s->fcache.n, out)) != 0)
			return store__set_err(st, r,
			                      "loading the findings of host %lld: out of memory",
			                      (long long)host_id);
		*n = s->fcache.n;
		return 0;
	}
	store__pg_p_int(&p, host_id);
	if ((r = store__pg_exec(s, PG_FIND_OF_HOST,
	                        "SELECT id, fingerprint, type, source, key, protocol, port, status,"
	                        " " EP("state_at") " FROM findings WHERE host_id = $1::bigint"
	                                           " ORDER BY id",
	                        &p, PGX_NOFLUSH /* findings are never buffered */, &q,
	                        "loading the findings of host %lld", (long long)host_id)) != 0)
		return r;
	cnt = PQntuples(q);
	if (cnt > 0 && !(v = calloc((size_t)cnt, sizeof(*v)))) {
		PQclear(q);
		return store__set_err(st, SDB_ENOMEM,
		                      "loading the findings of host %lld: out of memory",
		                      (long long)host_id);
	}
	for (int i = 0; i < cnt; i++) {
		struct store_finding_ref *f = &v[i];
		enum rec_proto pr;

		f->id = store__pg_i64(q, i, 0);
		if (dup_col(q, i, 1, &f->fingerprint) || dup_col(q, i, 2, &f->type) ||
		    dup_col(q, i, 3, &f->source) || dup_col(q, i, 4, &f->key) ||
		    dup_col(q, i, 7, &f->status)) {
			store_finding_refs_free(v, (size_t)cnt);
			PQclear(q);
			return store__set_err(st, SDB_ENOMEM,
			                      "loading the findings of host %lld: out of memory",
			                      (long long)host_id);
		}
		f->proto = -1;
		f->port = -1;
		if (store__pg_col(q, i, 5) && rec_proto_parse(store__pg_col(q, i, 5), &pr) == 0) {
			f->proto = (int)pr;
			f->port = (int)store__pg_opt(q, i, 6);
		}
		f->state_at = store__pg_i64(q, i, 8);
	}
	PQclear(q);
	*out = v;
	*n = (size_t)cnt;
	return 0;
}

/* Found-or-created by fingerprint, then linked to the job, in one
 * statement: a new finding is 'open'; one seen again takes the newest
 * sighting's words and widens its times.  Its id is max(id) + 1 taken by
 * the statement itself, not by store__pg_next_id (pg_writebehind.c rule
 * 3): a finding may be stored outside a write transaction, and only the
 * statement knows whether it created one. */
static const char sql_upsert[] =
    "WITH ins AS (INSERT INTO findings (id, host_id, protocol, port, type, source, key, title,"
    "  severity, status, fingerprint, first_seen, last_seen, state_at, details)"
    "  VALUES ((SELECT coalesce(max(id), 0) + 1 FROM findings), $1::bigint, $2::text, $3::integer, "
    "$4::text, $5::text, $6::text, $7::text,"
    "  $8::text, 'open', $9::text, to_timestamp($10::bigint), to_timestamp($10::bigint),"
    "  to_timestamp($10::bigint), $11::jsonb)"
    "  ON CONFLICT (fingerprint) DO NOTHING RETURNING id),"
    /* clang-format off */
    " upd AS (UPDATE findings SET" STORE_SQL_FINDING_SEEN_SET("to_timestamp($10::bigint)",
        "$7::text", "$8::text", "$11::jsonb", "LEAST", "GREATEST")
    "  WHERE fingerprint = $9::text AND NOT EXISTS (SELECT 1 FROM ins) RETURNING id),"
    " ids AS (SELECT id, 1 AS created FROM ins UNION ALL SELECT id, 0 FROM upd),"
    " j AS (INSERT INTO finding_jobs (finding_id, job_id) SELECT id, $12::bigint FROM ids"
    "  ON CONFLICT (finding_id, job_id) DO NOTHING)"
    " SELECT id, created FROM ids";
/* clang-format on */

int store__pg_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                             const struct store_finding_new *f, int64_t *id, int *created)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *q = NULL;
	int r;

	store__pg_fcache_clear(s);
	store__pg_p_int(&p, host_id);
	store__pg_p_text(&p, f->proto >= 0 ? rec_proto_name((enum rec_proto)f->proto) : NULL);
	store__pg_p_opt(&p, f->proto >= 0 ? f->port : -1);
	store__pg_p_text(&p, f->type);
	store__pg_p_text(&p, f->source);
	store__pg_p_text(&p, f->key);
	store__pg_p_text(&p, f->title);
	store__pg_p_text(&p, f->severity);
	store__pg_p_text(&p, f->fingerprint);
	store__pg_p_int(&p, at);
	store__pg_p_text(&p, f->details);
	store__pg_p_int(&p, job_id);
	/* A finding needs its host and job rows, nothing else buffered: the
	 * buffers are not flushed for it unless its host is new and waits
	 * in them (a flush per finding was most of a re-scan's time). */
	if ((r = store__pg_exec(s, PG_FIND_UPSERT, sql_upsert, &p, store__pg_host_flags(s, host_id),
	                        &q, "storing a finding (%s)", f->fingerprint)) != 0)
		return r;
	if (PQntuples(q) != 1) {
		PQclear(q);
		return store__set_err(st, SDB_EDB, "storing a finding (%s): no row stored",
		                      f->fingerprint);
	}
	*id = store__pg_i64(q, 0, 0);
	*created = store__pg_i64(q, 0, 1) != 0;
	s->ids_taken |= *created;
	PQclear(q);
	return 0;
}

/* The previous status, the new one, and its record, in one statement. */
static const char sql_set_status[] =
    "WITH old AS (SELECT id, status FROM findings WHERE id = $1::bigint FOR UPDATE),"
    /* clang-format off */
    " upd AS (UPDATE findings f SET status = $2::text," STORE_SQL_FINDING_STATE_AT("$3::bigint",
        "to_timestamp($3::bigint)", "f.state_at", "GREATEST")
    "  FROM old WHERE f.id = old.id RETURNING f.id),"
    " ch AS (INSERT INTO finding_status_changes (finding_id, at, job_id, old_status,"
    "  new_status, note) SELECT old.id, to_timestamp($4::bigint), $5::bigint,"
    "  CASE WHEN $6::boolean THEN NULL ELSE old.status END, $2::text, $7::text FROM old)"
    " SELECT status FROM old";
/* clang-format on */

int store__pg_finding_set_status(struct store *st, int64_t id, const char *new_status, int64_t at,
                                 int64_t job_id, const char *note, int64_t scan_at,
                                 int record_creation, char **old)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *q = NULL;
	int r;

	store__pg_fcache_clear(s);
	store__pg_p_int(&p, id);
	store__pg_p_text(&p, new_status);
	store__pg_p_int(&p, scan_at);
	store__pg_p_int(&p, at);
	store__pg_p_time(&p, job_id);
	store__pg_p_text(&p, record_creation ? "true" : "false");
	store__pg_p_text(&p, note);
	/* the finding exists (findings are never buffered), and its status
	 * change refers to it and to the job only */
	if ((r = store__pg_exec(s, PG_FIND_SET_STATUS, sql_set_status, &p, PGX_NOFLUSH, &q,
	                        "changing the status of finding %lld to '%s'", (long long)id,
	                        new_status)) != 0)
		return r;
	if (PQntuples(q) != 1) {
		PQclear(q);
		return store__set_err(st, SDB_ENOTFOUND, "no finding %lld in the database",
		                      (long long)id);
	}
	if (old && !(*old = strdup(PQgetvalue(q, 0, 0)))) {
		PQclear(q);
		return store__set_err(st, SDB_ENOMEM,
		                      "changing the status of a finding: out of "
		                      "memory");
	}
	PQclear(q);
	return 0;
}

/* ---- the listing ------------------------------------------------------------- */

static const char sql_list[] =
    "SELECT f.id, encode(h.addr_key, 'hex'), family(h.addr), f.protocol, f.port, f.type,"
    " f.source, f.key, f.title, f.severity, f.status, f.fingerprint, " EP(
        "f.first_seen") ","
                        " " EP(
                            "f.last_seen") ", f.details::text,"
                                           " (SELECT json_agg(job_id ORDER BY job_id) FROM "
                                           "finding_jobs WHERE finding_id = f.id)::text,"
                                           " (SELECT json_agg(json_build_array(" EP(
                                               "at") ", job_id, old_status, new_status, note)"
                                                     "  ORDER BY id) FROM finding_status_changes "
                                                     "WHERE finding_id = f.id)::text"
                                                     " FROM findings f JOIN hosts h ON h.id = "
                                                     "f.host_id"
                                                     " WHERE ($1::bigint = 0 OR f.id = $1::bigint) "
                                                     "AND ($2::text IS NULL OR f.status = $2::text)"
                                                     " AND ($3::text IS NULL OR f.severity = "
                                                     "$3::text) AND ($4::inet IS NULL OR h.addr = "
                                                     "$4::inet)"
                                                     " ORDER BY f.id";

/* details as history/findings.c wrote them (compact, sorted keys): jsonb
 * keeps the document, not its text. */
static int details_text(const char *jsonb, char **out)
{
	json_t *d;

	*out = NULL;
	if (!jsonb)
		return 0;
	if (!(d = json_loads(jsonb, JSON_DECODE_ANY, NULL)))
		return (*out = strdup(jsonb)) ? 0 : SDB_ENOMEM;
	*out =
	    json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6) | JSON_ENCODE_ANY);
	json_decref(d);
	return *out ? 0 : SDB_ENOMEM;
}

static char *json_dup_str(json_t *v)
{
	const char *s = json_string_value(v);

	return s ? strdup(s) : NULL;
}

/* The jobs and status history (JSON arrays from the listing query). */
static int load_sets(struct store_finding *f, const char *jobs, const char *hist)
{
	json_t *a;
	size_t n;

	if (jobs && (a = json_loads(jobs, 0, NULL)) != NULL) {
		n = json_array_size(a);
		if (n && !(f->jobs = calloc(n, sizeof(*f->jobs)))) {
			json_decref(a);
			return SDB_ENOMEM;
		}
		for (size_t i = 0; i < n; i++)
			f->jobs[f->njobs++] = json_integer_value(json_array_get(a, i));
		json_decref(a);
	}
	if (hist && (a = json_loads(hist, 0, NULL)) != NULL) {
		n = json_array_size(a);
		if (n && !(f->history = calloc(n, sizeof(*f->history)))) {
			json_decref(a);
			return SDB_ENOMEM;
		}
		for (size_t i = 0; i < n; i++) {
			json_t *e = json_array_get(a, i);
			struct store_finding_change *c = &f->history[f->nhistory++];

			c->at = json_integer_value(json_array_get(e, 0));
			c->job_id = json_integer_value(json_array_get(e, 1));
			c->old_status = json_dup_str(json_array_get(e, 2));
			c->new_status = json_dup_str(json_array_get(e, 3));
			c->note = json_dup_str(json_array_get(e, 4));
			if (!c->new_status) {
				json_decref(a);
				return SDB_ENOMEM;
			}
		}
		json_decref(a);
	}
	return 0;
}

int store__pg_findings_each(struct store *st, const struct store_finding_filter *flt,
                            int (*cb)(void *ctx, struct store_finding *x), void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *q = NULL;
	int r;

	if (flt->addr && addr_parse(flt->addr, NULL, NULL, NULL) != 0)
		return 0; /* not an address: in no row */
	store__pg_p_int(&p, flt->id);
	store__pg_p_text(&p, flt->status);
	store__pg_p_text(&p, flt->severity);
	store__pg_p_text(&p, flt->addr);
	if ((r = store__pg_exec(s, PG_FIND_LIST, sql_list, &p, PGX_ONESHOT, &q,
	                        "listing findings")) != 0)
		return r;
	for (int i = 0; i < PQntuples(q) && r == 0; i++) {
		struct store_finding *f = calloc(1, sizeof(*f));
		char addr[64];

		if (!f)
			goto nomem;
		f->id = store__pg_i64(q, i, 0);
		f->port = (int)store__pg_opt(q, i, 4);
		f->first_seen = store__pg_i64(q, i, 12);
		f->last_seen = store__pg_i64(q, i, 13);
		if (store__pg_addr_text(store__pg_col(q, i, 1), (int)store__pg_i64(q, i, 2),
		                        addr) != 0 ||
		    !(f->addr = strdup(addr)) || dup_col(q, i, 3, &f->protocol) ||
		    dup_col(q, i, 5, &f->type) || dup_col(q, i, 6, &f->source) ||
		    dup_col(q, i, 7, &f->key) || dup_col(q, i, 8, &f->title) ||
		    dup_col(q, i, 9, &f->severity) || dup_col(q, i, 10, &f->status) ||
		    dup_col(q, i, 11, &f->fingerprint) ||
		    details_text(store__pg_col(q, i, 14), &f->details) ||
		    load_sets(f, store__pg_col(q, i, 15), store__pg_col(q, i, 16)) != 0) {
			store_finding_free(f);
			goto nomem;
		}
		r = cb(ctx, f); /* cb owns f */
	}
	PQclear(q);
	return r;
nomem:
	PQclear(q);
	return store__set_err(st, SDB_ENOMEM, "listing findings: out of memory");
}
