/*
 * store_sqlite_history.c - the SQLite backend's history slots: loading what
 * is known of a host before a scan of it is applied (status, latest
 * attributes, port_state, latest script outputs), saving its new port
 * state, inserting change events, and the reads a replay needs.  The rules
 * that derive events are in history/events.c; read SQL is in the hot-query
 * table (store_sqlite_query.c) so its plans are tested.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "store/store_sqlite_int.h"

static int hot(struct store_sqlite *s, enum sq_stmt id, sqlite3_stmt **out)
{
	return store__sqlite_stmt(s, id, store__sqlite_hot_queries[id].sql, out);
}

static const char *col_text(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

static int64_t col_time(sqlite3_stmt *q, int i)
{
	return sqlite3_column_type(q, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(q, i);
}

static int dupcol(sqlite3_stmt *q, int i, char **dst)
{
	const char *v = col_text(q, i);

	*dst = NULL;
	if (v && !(*dst = strdup(v)))
		return SDB_ENOMEM;
	return 0;
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

int store__sqlite_history_load(struct store *st, const char *addr, int64_t *host_id,
                               struct ev_host *out)
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
		if ((r = dupcol(q, 4, &out->os)) != 0 || (r = dupcol(q, 5, &out->mac)) != 0 ||
		    (r = dupcol(q, 6, &out->hostnames)) != 0)
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
	if (r == 0)
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

static int exec_host(struct store_sqlite *s, enum sq_stmt id, int64_t host_id, const char *what)
{
	sqlite3_stmt *q;
	int rc, r;

	if ((r = hot(s, id, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, host_id);
	rc = sqlite3_step(q);
	r = rc == SQLITE_DONE
	        ? 0
	        : store__sqlite_err(s, rc, "%s of host %lld", what, (long long)host_id);
	store__sqlite_done(q);
	return r;
}

int store__sqlite_history_reset(struct store *st, int64_t host_id)
{
	struct store_sqlite *s = store__sqlite(st);
	int r;

	if ((r = exec_host(s, SQ_HIST_RESET_EVENTS, host_id, "forgetting the events")) != 0)
		return r;
	return exec_host(s, SQ_HIST_RESET_PORTS, host_id, "forgetting the port state");
}

int store__sqlite_host_jobs(struct store *st, int64_t host_id, int64_t **jobs, int64_t **times,
                            size_t *n)
{
	struct store_sqlite *s = store__sqlite(st);
	int64_t *j = NULL, *t = NULL;
	size_t cnt = 0, cap = 0;
	sqlite3_stmt *q;
	int rc, r;

	if ((r = hot(s, SQ_HIST_HOST_JOBS, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, host_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			int64_t *nj = sdb_reallocarray(j, ncap, sizeof(*nj)), *nt;
			if (nj)
				j = nj;
			nt = nj ? sdb_reallocarray(t, ncap, sizeof(*nt)) : NULL;
			if (!nt) {
				r = store__set_err(&s->base, SDB_ENOMEM,
				                   "listing scans of host %lld: out "
				                   "of memory",
				                   (long long)host_id);
				goto out;
			}
			t = nt;
			cap = ncap;
		}
		j[cnt] = sqlite3_column_int64(q, 0);
		t[cnt] = sqlite3_column_int64(q, 1);
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "listing scans of host %lld", (long long)host_id);
		goto out;
	}
	*jobs = j;
	*times = t;
	*n = cnt;
	j = t = NULL;
	r = 0;
out:
	store__sqlite_done(q);
	free(j);
	free(t);
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
	if ((r = dupcol(q, 2, &e->addr)) || (r = dupcol(q, 5, &e->kind)) ||
	    (r = dupcol(q, 6, &e->protocol)) || (r = dupcol(q, 8, &e->detail)) ||
	    (r = dupcol(q, 9, &e->old_value)) || (r = dupcol(q, 10, &e->new_value))) {
		store_event_free(e);
		return r;
	}
	*out = e;
	return 0;
}

int store__sqlite_events_each(struct store *st, const struct store_event_filter *f,
                              int (*cb)(void *ctx, struct store_event *e), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	unsigned char lo[16], hi[16];
	sqlite3_stmt *q;
	int rc, r;

	memset(lo, 0x00, sizeof(lo));
	memset(hi, 0xff, sizeof(hi));
	if (f->has_net) {
		memcpy(lo, f->net_lo, sizeof(lo));
		memcpy(hi, f->net_hi, sizeof(hi));
	}
	if (f->addr) {
		unsigned char key[16];
		/* one host: it must also be inside the block, if one is given */
		if (addr_parse(f->addr, NULL, NULL, key) != 0 || memcmp(key, lo, 16) < 0 ||
		    memcmp(key, hi, 16) > 0)
			return 0;
	}
	if ((r = hot(s, f->addr ? SQ_EVENTS_HOST : SQ_EVENTS_SINCE, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, f->since);
	if (f->addr) {
		sqlite3_bind_text(q, 4, f->addr, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_blob(q, 2, lo, sizeof(lo), SQLITE_STATIC);
		sqlite3_bind_blob(q, 3, hi, sizeof(hi), SQLITE_STATIC);
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_event *e;
		enum ev_kind kind;

		if (f->kinds) {
			if (ev_kind_parse(col_text(q, 5), &kind) != 0 || !(f->kinds & (1u << kind)))
				continue;
		}
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
