/*
 * sqlite_history.c - the SQLite backend's history slots: loading what
 * is known of a host before a scan of it is applied (status, latest
 * attributes, port_state, latest script outputs), saving its new port
 * state, inserting change events, and the reads a late scan's re-derivation
 * needs (the stored scans of a block of hosts, a few statements for all).  The rules
 * that derive events are in history/events.c; read SQL is in the hot-query
 * table (sqlite_query.c) so its plans are tested.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "store/sqlite/sqlite_int.h"

#define hot store__sqlite_hot

static const char *col_text(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

static int64_t col_time(sqlite3_stmt *q, int i)
{
	return sqlite3_column_type(q, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, i);
}

static int load_scripts(struct store_sqlite *s, int64_t host_id, struct ev_host *out)
{
	sqlite3_stmt *q;
	int rc, r = 0;

	if ((r = hot(s, SQ_HIST_SCRIPTS, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, host_id);
	while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		int proto = -1, port = -1;
		enum rec_proto p;

		if (sqlite3_column_type(q, 0) != SQLITE_NULL &&
		    rec_proto_parse(col_text(q, 0), &p) == 0) {
			proto = (int)p;
			port = sqlite3_column_int(q, 1);
		}
		r = ev_host_put_script(out, proto, port, col_text(q, 2), col_text(q, 3),
		                       sqlite3_column_int64(q, 4));
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "loading script history");
	store__sqlite_done(q);
	return r;
}

int store__sqlite_history_load(struct store *st, const char *addr, int64_t at, int64_t job_id,
                               int64_t *host_id, struct ev_host *out)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	enum rec_host_status status;
	int rc, r = 0;

	s->hint_id = 0;
	if ((r = hot(s, SQ_HIST_HOST, &q)) != 0)
		return r;
	sqlite3_bind_text(q, 1, addr, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE) {
		store__sqlite_done(q);
		return SDB_ENOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		r = store__sqlite_err(s, rc, "loading host %s", addr);
		store__sqlite_done(q);
		return r;
	}
	*host_id = sqlite3_column_int64(q, 0);
	if (sdb_strlcpy(s->hint_addr, addr, sizeof(s->hint_addr)) < sizeof(s->hint_addr))
		s->hint_id = *host_id; /* the upsert that follows finds it by id */
	if (rec_host_status_parse(col_text(q, 1), &status) != 0)
		status = REC_HOST_UNKNOWN;
	out->known = 1;
	out->status = status;
	out->job_id = col_time(q, 2);
	out->at = col_time(q, 3);
	if (sqlite3_column_type(q, 7) != SQLITE_NULL) { /* its host_state row */
		const char *doc = col_text(q, 7);
		out->stored = 1;
		out->misses = sqlite3_column_int(q, 8);
		out->miss_job = col_time(q, 9);
		out->miss_at = col_time(q, 10);
		if ((r = store__sqlite_col_dup(q, 4, &out->os)) != 0 ||
		    (r = store__sqlite_col_dup(q, 5, &out->mac)) != 0 ||
		    (r = store__sqlite_col_dup(q, 6, &out->hostnames)) != 0)
			r = store__set_err(&s->base, r, "loading host %s: out of memory", addr);
		else if ((r = store__port_state_read(
		              doc ? doc : "", (size_t)sqlite3_column_bytes(q, 7), out)) == SDB_EDB)
			r = store__set_err(&s->base, r,
			                   "the port state of host %lld is not a valid document"
			                   " (host_state.ports)",
			                   (long long)*host_id);
		else if (r != 0)
			r = store__set_err(&s->base, r, "loading host %s: out of memory", addr);
	}
	store__sqlite_done(q);
	if (r == 0 && store_history_in_order(out, at, job_id))
		r = load_scripts(s, *host_id, out);
	return r;
}

/* The host's state -- latest OS, MAC, names, and the port state document
 * (store__port_state_doc) -- written whole: one row per host, so a scan of
 * a host costs one write however many ports it has. */
static const char sql_port_state_put[] =
    "INSERT INTO host_state (host_id, os, mac, hostnames, ports) VALUES (?1, ?2, ?3, ?4, ?5)"
    " ON CONFLICT (host_id) DO UPDATE SET os = excluded.os, mac = excluded.mac,"
    " hostnames = excluded.hostnames, ports = excluded.ports";

int store__sqlite_port_state_save(struct store *st, int64_t host_id, const struct ev_host *h,
                                  const char *doc, size_t len)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_stmt(s, SQ_PORT_STATE_PUT, sql_port_state_put, &q)) != 0)
		return r;
	rc = sqlite3_bind_int64(q, 1, host_id);
	rc |= store__sqlite_bind_text(q, 2, h->os);
	rc |= store__sqlite_bind_text(q, 3, h->mac);
	rc |= store__sqlite_bind_text(q, 4, h->hostnames);
	rc |= sqlite3_bind_text(q, 5, doc, (int)len, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(q);
	r = rc == SQLITE_DONE ? 0
	                      : store__sqlite_err(s, rc, "saving the port state of host %lld",
	                                          (long long)host_id);
	store__sqlite_done(q);
	return r;
}

static const char sql_event_insert[] =
    "INSERT INTO host_events (host_id, job_id, prev_job_id, kind, protocol, port, old_value,"
    " new_value, at, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

int store__sqlite_event_insert(struct store *st, int64_t host_id, const struct ev_event *e)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int b = 0, rc, r;

	if ((r = store__sqlite_stmt(s, SQ_EVENT_INSERT, sql_event_insert, &q)) != 0)
		return r;
	b |= sqlite3_bind_int64(q, 1, host_id);
	b |= sqlite3_bind_int64(q, 2, e->job_id);
	b |= store__sqlite_bind_time(q, 3, e->prev_job_id);
	b |= sqlite3_bind_text(q, 4, ev_kind_name(e->kind), -1, SQLITE_STATIC);
	if (e->proto >= 0) {
		b |= sqlite3_bind_text(q, 5, rec_proto_name((enum rec_proto)e->proto), -1,
		                       SQLITE_STATIC);
		b |= sqlite3_bind_int(q, 6, e->port);
	}
	b |= store__sqlite_bind_text(q, 7, e->old_value);
	b |= store__sqlite_bind_text(q, 8, e->new_value);
	b |= sqlite3_bind_int64(q, 9, e->at);
	b |= store__sqlite_bind_text(q, 10, e->detail);
	rc = b ? sqlite3_errcode(s->db) : sqlite3_step(q);
	r = rc == SQLITE_DONE ? 0
	                      : store__sqlite_err(s, rc, "storing a %s event of host %lld",
	                                          ev_kind_name(e->kind), (long long)host_id);
	store__sqlite_done(q);
	return r;
}

static int load_event(sqlite3_stmt *q, struct store_event **out)
{
	struct store_event *e = calloc(1, sizeof(*e));
	int r = 0;

	*out = NULL;
	if (!e)
		return SDB_ENOMEM;
	e->id = sqlite3_column_int64(q, 0);
	e->host_id = sqlite3_column_int64(q, 1);
	e->job_id = sqlite3_column_int64(q, 3);
	e->prev_job_id = col_time(q, 4);
	e->port = sqlite3_column_type(q, 7) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 7);
	e->at = sqlite3_column_int64(q, 11);
	if ((r = store__sqlite_col_dup(q, 2, &e->addr)) ||
	    (r = store__sqlite_col_dup(q, 5, &e->kind)) ||
	    (r = store__sqlite_col_dup(q, 6, &e->protocol)) ||
	    (r = store__sqlite_col_dup(q, 8, &e->detail)) ||
	    (r = store__sqlite_col_dup(q, 9, &e->old_value)) ||
	    (r = store__sqlite_col_dup(q, 10, &e->new_value))) {
		store_event_free(e);
		return r;
	}
	*out = e;
	return 0;
}

/* f as store.c's store_events_each hands it over: has_net set, no kinds. */
int store__sqlite_events_each(struct store *st, const struct store_event_filter *f,
                              int (*cb)(void *ctx, struct store_event *e), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = hot(s, f->addr ? SQ_EVENTS_HOST : SQ_EVENTS_SINCE, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, f->since);
	if (f->addr) {
		sqlite3_bind_text(q, 4, f->addr, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_blob(q, 2, f->net_lo, sizeof(f->net_lo), SQLITE_STATIC);
		sqlite3_bind_blob(q, 3, f->net_hi, sizeof(f->net_hi), SQLITE_STATIC);
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_event *e;

		if ((r = load_event(q, &e)) != 0) {
			r = store__set_err(&s->base, r, "reading events: out of memory");
			goto out;
		}
		if ((r = cb(ctx, e)) != 0)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "reading events");
out:
	store__sqlite_done(q);
	return r;
}

/* ---- late scans: the stored scans of a block of hosts ---------------------- */

/* Keys and ids travel as one JSON array parameter (json_each), so a block
 * of hosts costs one statement, not one per host or per scan. */
#define HIST_CHUNK 2048

static int json_keys(const struct store_scan_key *k, size_t n, struct buf *b)
{
	int r = buf_append_char(b, '[');

	for (size_t i = 0; i < n && r == 0; i++)
		r = buf_printf(b, "%s[%lld,%lld,%lld]", i ? "," : "", (long long)k[i].host_id,
		               (long long)k[i].job_id, (long long)k[i].at);
	return r ? r : buf_append_char(b, ']');
}

/* Statement `id` with keys k[0..n) bound as its JSON array ?1 (held in js,
 * which must outlive the statement's steps).  0, or an error saying `what`. */
static int keys_stmt(struct store_sqlite *s, enum sq_stmt id, const char *sql,
                     const struct store_scan_key *k, size_t n, struct buf *js, const char *what,
                     sqlite3_stmt **q)
{
	int r;

	buf_reset(js);
	if (json_keys(k, n, js) != 0)
		return store__set_err(&s->base, SDB_ENOMEM, "%s: out of memory", what);
	if ((r = store__sqlite_stmt(s, id, sql, q)) != 0)
		return r;
	sqlite3_bind_text(*q, 1, buf_str(js), (int)js->len, SQLITE_STATIC);
	return 0;
}

/* Each host's scans from its latest checkpoint before its late scan (?2:
 * from its first scan); the subquery walks the (host_id, scanned_at) index
 * back from the late scan to the first scan that holds a state. */
static const char sql_hist_scan_list[] =
    "WITH k(host_id, job, at) AS (SELECT value ->> 0, value ->> 1, value ->> 2"
    "  FROM json_each(?1)),"
    " c(host_id, job, at, c_job) AS MATERIALIZED (SELECT k.host_id, k.job, k.at,"
    "  CASE WHEN ?2 THEN NULL ELSE (SELECT c.job_id FROM host_scans c"
    "  WHERE c.host_id = k.host_id AND c.scanned_at <= k.at AND c.state IS NOT NULL"
    "  AND (c.scanned_at < k.at OR c.job_id < k.job)"
    "  ORDER BY c.scanned_at DESC, c.job_id DESC LIMIT 1) END FROM k),"
    " b(host_id, c_job, lo, hi) AS MATERIALIZED (SELECT c.host_id, c.c_job,"
    "  CASE WHEN c.c_job IS NULL THEN -1 ELSE (SELECT x.scanned_at FROM host_scans x"
    "  WHERE x.job_id = c.c_job AND x.host_id = c.host_id) END,"
    "  CASE WHEN ?3 > 0 THEN (SELECT x.scanned_at FROM host_scans x"
    "  WHERE x.host_id = c.host_id AND x.scanned_at >= c.at"
    "  AND (x.scanned_at > c.at OR x.job_id > c.job)"
    "  ORDER BY x.scanned_at, x.job_id LIMIT 1 OFFSET ?3 - 1) END FROM c)"
    " SELECT hs.host_id, hs.job_id, hs.scanned_at, hs.job_id IS b.c_job"
    " FROM b JOIN host_scans hs ON hs.host_id = b.host_id AND hs.scanned_at >= b.lo"
    " WHERE b.hi IS NULL OR hs.scanned_at <= b.hi"
    " ORDER BY hs.host_id, hs.scanned_at, hs.job_id";
static const char sql_hist_findings_hosts[] =
    "SELECT DISTINCT f.host_id FROM json_each(?1) k JOIN findings f ON f.host_id = k.value ->> 0";

int store__sqlite_history_scan_list(struct store *st, const struct store_scan_key *lates, size_t n,
                                    int from_start, int max_later, unsigned char *has_findings,
                                    int (*cb)(void *ctx, const struct store_scan_key *k), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	struct buf b;
	sqlite3_stmt *q = NULL;
	int rc, r;

	memset(has_findings, 0, n);
	buf_init(&b, (size_t)64 << 20);
	if (json_keys(lates, n, &b) != 0) {
		buf_free(&b);
		return store__set_err(st, SDB_ENOMEM, "listing scans of hosts: out of memory");
	}
	if ((r = store__sqlite_stmt(s, SQ_HIST_FINDINGS_HOSTS, sql_hist_findings_hosts, &q)) != 0)
		goto out;
	sqlite3_bind_text(q, 1, buf_str(&b), (int)b.len, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int i = store__scan_key_find(lates, n, sqlite3_column_int64(q, 0));
		if (i >= 0)
			has_findings[i] = 1;
	}
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "listing hosts with findings");
	store__sqlite_done(q);
	if (r != 0 || (r = store__sqlite_stmt(s, SQ_HIST_SCAN_LIST, sql_hist_scan_list, &q)) != 0)
		goto out;
	sqlite3_bind_text(q, 1, buf_str(&b), (int)b.len, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, from_start != 0);
	sqlite3_bind_int(q, 3, max_later);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_scan_key k = {sqlite3_column_int64(q, 0), sqlite3_column_int64(q, 1),
		                           sqlite3_column_int64(q, 2), sqlite3_column_int(q, 3), 0};
		if ((r = cb(ctx, &k)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "listing scans of hosts");
	store__sqlite_done(q);
out:
	buf_free(&b);
	return r;
}

/* A chunk's scans, table by table: each row names its key by its index in
 * the JSON array (k.key), and store__scan_rows puts it in place. */
#define HIST_KEY_JOIN(t)                                                                           \
	" FROM json_each(?1) k JOIN " t " ON x.job_id = k.value ->> 1"                             \
	" AND x.host_id = k.value ->> 0"
static const char *const sql_hist_scans[4] = {
    "SELECT k.key, x.host_id, x.job_id, x.scanned_at, x.status, x.reason, x.mac, x.hostnames,"
    " x.os_name, j.probed_scope" HIST_KEY_JOIN("host_scans x") " JOIN jobs j ON j.id = x.job_id",
    "SELECT k.key, x.host_id, x.job_id, 0, x.protocol, x.port, x.state, x.reason, x.service,"
    " x.product, x.version, x.extrainfo, x.tunnel, x.method" HIST_KEY_JOIN("ports x"),
    "SELECT k.key, x.host_id, x.job_id, 0, x.state, x.count" HIST_KEY_JOIN("extraports x"),
    "SELECT k.key, x.host_id, x.job_id, 0, x.protocol, x.port, x.script_id, x.output,"
    " x.id" HIST_KEY_JOIN("scripts x"),
};
static const int hist_scans_cols[4] = {6, 10, 2, 5};

int store__sqlite_history_scans(struct store *st, const struct store_scan_key *keys, size_t n,
                                int (*cb)(void *ctx, struct store_host *h,
                                          const char *probed_scope),
                                void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	struct store__scan_rows b = {.st = st, .cb = cb, .ctx = ctx};
	struct buf js;
	int r = 0;

	buf_init(&js, (size_t)64 << 20);
	for (size_t at = 0; at < n && r == 0; at += HIST_CHUNK) {
		size_t cnt = n - at < HIST_CHUNK ? n - at : HIST_CHUNK;

		buf_reset(&js);
		if (json_keys(keys + at, cnt, &js) != 0) {
			r = store__set_err(st, SDB_ENOMEM, "reading scans: out of memory");
			break;
		}
		if ((r = store__scan_rows_begin(&b, cnt)) != 0)
			break;
		for (int t = 0; t < 4 && r == 0; t++) {
			sqlite3_stmt *q;
			int rc;

			if ((r = store__sqlite_stmt(s, (enum sq_stmt)(SQ_HIST_SCANS + t),
			                            sql_hist_scans[t], &q)) != 0)
				break;
			sqlite3_bind_text(q, 1, buf_str(&js), (int)js.len, SQLITE_STATIC);
			while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
				const char *c[10];

				for (int i = 0; i < hist_scans_cols[t]; i++)
					c[i] = col_text(q, 4 + i);
				r = store__scan_rows_add(
				    &b, (size_t)sqlite3_column_int64(q, 0),
				    sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2),
				    sqlite3_column_int64(q, 3), (enum store__row_kind)t, c);
			}
			if (r == 0 && rc != SQLITE_DONE)
				r = store__sqlite_err(s, rc, "reading scans of hosts");
			store__sqlite_done(q);
		}
		if (r == 0)
			r = store__scan_rows_end(&b);
	}
	store__scan_rows_free(&b);
	buf_free(&js);
	return r;
}

static const char sql_hist_forget[] =
    "DELETE FROM host_events WHERE id IN (SELECT e.id FROM json_each(?1) k"
    " JOIN host_events e ON e.host_id = k.value ->> 0 AND e.at = k.value ->> 2"
    " AND e.job_id = k.value ->> 1)";

int store__sqlite_history_forget(struct store *st, const struct store_scan_key *keys, size_t n)
{
	struct store_sqlite *s = store__sqlite(st);
	struct buf js;
	int r = 0;

	buf_init(&js, (size_t)64 << 20);
	for (size_t at = 0; at < n && r == 0; at += HIST_CHUNK) {
		size_t cnt = n - at < HIST_CHUNK ? n - at : HIST_CHUNK;
		sqlite3_stmt *q;
		int rc;

		if ((r = keys_stmt(s, SQ_HIST_FORGET, sql_hist_forget, keys + at, cnt, &js,
		                   "forgetting events", &q)) != 0)
			break;
		rc = sqlite3_step(q);
		r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "forgetting events of hosts");
		store__sqlite_done(q);
	}
	buf_free(&js);
	return r;
}

static const char sql_hist_states[] =
    "SELECT k.key, x.state" HIST_KEY_JOIN("host_scans x") " WHERE x.state IS NOT NULL";

int store__sqlite_history_states(struct store *st, const struct store_scan_key *keys, size_t n,
                                 int (*cb)(void *ctx, size_t i, const char *doc), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	struct buf js;
	int r = 0;

	buf_init(&js, (size_t)64 << 20);
	for (size_t at = 0; at < n && r == 0; at += HIST_CHUNK) {
		size_t cnt = n - at < HIST_CHUNK ? n - at : HIST_CHUNK;
		sqlite3_stmt *q;
		int rc;

		if ((r = keys_stmt(s, SQ_HIST_STATES, sql_hist_states, keys + at, cnt, &js,
		                   "reading host states", &q)) != 0)
			break;
		while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
			r = cb(ctx, at + (size_t)sqlite3_column_int64(q, 0), col_text(q, 1));
		if (r == 0 && rc != SQLITE_DONE)
			r = store__sqlite_err(s, rc, "reading host states");
		store__sqlite_done(q);
	}
	buf_free(&js);
	return r;
}

/* In process: one statement per state is no round trip. */
int store__sqlite_history_states_put(struct store *st, const struct store_scan_key *keys,
                                     const char *const *docs, size_t n)
{
	struct store_sqlite *s = store__sqlite(st);
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		sqlite3_stmt *q;
		int rc;

		if ((r = store__sqlite_stmt(s, SQ_HIST_STATE_PUT,
		                            "UPDATE host_scans SET state = ?3"
		                            " WHERE job_id = ?1 AND host_id = ?2",
		                            &q)) != 0)
			break;
		sqlite3_bind_int64(q, 1, keys[i].job_id);
		sqlite3_bind_int64(q, 2, keys[i].host_id);
		store__sqlite_bind_text(q, 3, docs[i]);
		rc = sqlite3_step(q);
		r = rc == SQLITE_DONE
		        ? 0
		        : store__sqlite_err(s, rc, "saving the state of host %lld after job %lld",
		                            (long long)keys[i].host_id, (long long)keys[i].job_id);
		store__sqlite_done(q);
	}
	return r;
}
