/*
 * sqlite_query.c - the SQLite backend's read queries: hosts as seen by
 * one job (or each host's latest job) with their ports, scripts and
 * extraports, and jobs.  Results are owned heap copies (invariant 8) freed
 * with store_host_free / store_job_free (store_result.c).
 *
 * hosts_each streams: one row of the host query at a time, and per host three
 * cached child queries (ports, scripts, extraports) that read the same
 * snapshot because the host query keeps its read transaction open.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"

/* ---- column helpers ------------------------------------------------------- */

/* Owned copy of a text column; NULL for SQL NULL.  Sets *oom on failure. */
static char *col_dup(sqlite3_stmt *q, int i, int *oom)
{
	char *c;

	if (store__sqlite_col_dup(q, i, &c) != 0)
		*oom = 1;
	return c;
}

#define col_opt store__sqlite_col_opt

/* Set the handle's message for a failure of `r` while reading host data. */
static int host_fail(struct store_sqlite *s, int r, const char *addr, const char *what)
{
	if (r == SDB_ENOMEM)
		return store__set_err(&s->base, r, "reading host %s: out of memory", addr);
	return store__set_err(&s->base, r, "reading host %s: %s", addr,
	                      what ? what : sdb_strerror(r));
}

int store__sqlite_hot(struct store_sqlite *s, enum sq_stmt id, sqlite3_stmt **out)
{
	return store__sqlite_stmt(s, id, store__sqlite_hot_queries[id].sql, out);
}

/* ---- one host's children ---------------------------------------------------- */

/* A host's children in one job: each probes the (job_id, host_id) prefix of
 * its table's key. */
static const char sql_host_ports[] =
    "SELECT protocol, port, state, reason, reason_ttl, service,"
    " product, version, extrainfo, ostype, method, conf, tunnel, cpe"
    " FROM ports WHERE job_id = ?1 AND host_id = ?2"
    " ORDER BY protocol, port";
static const char sql_host_scripts[] = "SELECT protocol, port, script_id, output FROM scripts"
                                       " WHERE job_id = ?1 AND host_id = ?2 ORDER BY id";
static const char sql_host_extraports[] = "SELECT state, count, reasons FROM extraports"
                                          " WHERE job_id = ?1 AND host_id = ?2";

/*
 * A host's ports in the current state: each as the latest scan that probed
 * it saw it (its host_state document, read and parsed here once: the
 * port_state view's 15 JSON extractions per port cost more than the rest
 * of a listing), with that scan's full port row when it listed the port.
 * The document's elements: [protocol, port, state, job_id, seen_at,
 * first_seen, last_seen, closed_at, reason, method, service, product,
 * version, extrainfo, tunnel] (migration 0005's view), trailing nulls left
 * out.
 */
static const char sql_host_state[] = "SELECT ports FROM host_state WHERE host_id = ?1";
static const char sql_port_row[] = "SELECT reason, reason_ttl, ostype, conf, cpe FROM ports"
                                   " WHERE job_id = ?1 AND host_id = ?2 AND protocol = ?3"
                                   " AND port = ?4";

/* Element i of a document's port as the view's ->> gives it: text (a
 * number as its digits), or NULL. */
static char *doc_text(const json_t *a, size_t i, int *oom)
{
	const json_t *v = json_array_get(a, i);
	char num[32], *out;

	if (json_is_string(v))
		out = strdup(json_string_value(v));
	else if (json_is_integer(v))
		out = (snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v)),
		       strdup(num));
	else
		return NULL;
	if (!out)
		*oom = 1;
	return out;
}

/* ... as an integer (sqlite3_column_int64 of it: NULL is 0). */
static int64_t doc_int(const json_t *a, size_t i)
{
	const json_t *v = json_array_get(a, i);

	if (json_is_integer(v))
		return json_integer_value(v);
	return json_is_string(v) ? strtoll(json_string_value(v), NULL, 10) : 0;
}

/* ORDER BY protocol, port (BINARY: NULL first). */
static int port_order(const void *a, const void *b)
{
	const struct store_port *x = a, *y = b;
	int c = !x->protocol || !y->protocol ? !!x->protocol - !!y->protocol
	                                     : strcmp(x->protocol, y->protocol);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

/* The fields of p the probing scan's ports row holds (if it has one). */
static int port_row(struct store_sqlite *s, struct store_host *h, struct store_port *p)
{
	sqlite3_stmt *q;
	int oom = 0, rc, r;

	if ((r = store__sqlite_stmt(s, SQ_PORT_ROW, sql_port_row, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, p->state_job_id);
	sqlite3_bind_int64(q, 2, h->id);
	store__sqlite_bind_text(q, 3, p->protocol);
	sqlite3_bind_int(q, 4, p->port);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		if (sqlite3_column_type(q, 0) != SQLITE_NULL) {
			free(p->reason);
			p->reason = col_dup(q, 0, &oom);
		}
		p->reason_ttl = (int)col_opt(q, 1);
		p->ostype = col_dup(q, 2, &oom);
		p->conf = (int)col_opt(q, 3);
		r = oom ? host_fail(s, SDB_ENOMEM, h->addr, NULL)
		        : store__json_strings((const char *)sqlite3_column_text(q, 4), &p->cpes,
		                              &p->ncpes);
		if (r != 0 && !oom)
			r = host_fail(s, r, h->addr, "a port's cpe is not a JSON array");
	} else if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "reading the ports of host %s", h->addr);
	}
	store__sqlite_done(q);
	return r;
}

/* One element of the document into p (reason_ttl, conf: -1 until the
 * port's row says). */
static int doc_port(const json_t *a, struct store_port *p)
{
	int oom = 0;

	memset(p, 0, sizeof(*p));
	p->reason_ttl = p->conf = -1;
	p->protocol = doc_text(a, 0, &oom);
	p->port = (int)doc_int(a, 1);
	p->state = doc_text(a, 2, &oom);
	p->state_job_id = doc_int(a, 3);
	p->state_seen_at = doc_int(a, 4);
	p->first_seen = doc_int(a, 5);
	p->last_seen = doc_int(a, 6);
	p->closed_at = doc_int(a, 7);
	p->reason = doc_text(a, 8, &oom);
	p->method = doc_text(a, 9, &oom);
	p->service = doc_text(a, 10, &oom);
	p->product = doc_text(a, 11, &oom);
	p->version = doc_text(a, 12, &oom);
	p->extrainfo = doc_text(a, 13, &oom);
	p->tunnel = doc_text(a, 14, &oom);
	return oom ? SDB_ENOMEM : 0;
}

static int load_port_state(struct store_sqlite *s, struct store_host *h)
{
	json_t *doc = NULL;
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_HOST_PORT_STATE, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, h->id);
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(q, 0);
		doc = text ? json_loadb(text, (size_t)sqlite3_column_bytes(q, 0), JSON_ALLOW_NUL,
		                        NULL)
		           : NULL;
		if (text && !json_is_array(doc))
			r = host_fail(s, SDB_EPARSE, h->addr, "its port state is not a JSON array");
	} else if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "reading the ports of host %s", h->addr);
	}
	store__sqlite_done(q);
	if (r == 0 && doc && json_array_size(doc) > 0) {
		if (!(h->ports = calloc(json_array_size(doc), sizeof(*h->ports))))
			r = host_fail(s, SDB_ENOMEM, h->addr, NULL);
		for (size_t i = 0; r == 0 && i < json_array_size(doc); i++) {
			if ((r = doc_port(json_array_get(doc, i), &h->ports[h->nports++])) != 0)
				r = host_fail(s, r, h->addr, NULL);
		}
		if (r == 0)
			qsort(h->ports, h->nports, sizeof(*h->ports), port_order);
		for (size_t i = 0; r == 0 && i < h->nports; i++)
			r = port_row(s, h, &h->ports[i]);
	}
	json_decref(doc);
	return r;
}

static int load_ports(struct store_sqlite *s, struct store_host *h, int current)
{
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc, r;

	if (current)
		return load_port_state(s, h);
	if ((r = store__sqlite_hot(s, SQ_HOST_PORTS, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, h->job_id);
	sqlite3_bind_int64(q, 2, h->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_port *p;
		int oom = 0;

		if (VEC_RESERVE(h->ports, cap, h->nports + 1, 16) != 0) {
			r = host_fail(s, SDB_ENOMEM, h->addr, NULL);
			goto out;
		}
		p = &h->ports[h->nports++];
		memset(p, 0, sizeof(*p));
		p->protocol = col_dup(q, 0, &oom);
		p->port = sqlite3_column_int(q, 1);
		p->state = col_dup(q, 2, &oom);
		p->reason = col_dup(q, 3, &oom);
		p->reason_ttl = (int)col_opt(q, 4);
		p->service = col_dup(q, 5, &oom);
		p->product = col_dup(q, 6, &oom);
		p->version = col_dup(q, 7, &oom);
		p->extrainfo = col_dup(q, 8, &oom);
		p->ostype = col_dup(q, 9, &oom);
		p->method = col_dup(q, 10, &oom);
		p->conf = (int)col_opt(q, 11);
		p->tunnel = col_dup(q, 12, &oom);
		if (oom) {
			r = host_fail(s, SDB_ENOMEM, h->addr, NULL);
			goto out;
		}
		if ((r = store__json_strings((const char *)sqlite3_column_text(q, 13), &p->cpes,
		                             &p->ncpes)) != 0) {
			r = host_fail(s, r, h->addr, "a port's cpe is not a JSON array");
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading the ports of host %s", h->addr);
	else
		r = 0;
out:
	store__sqlite_done(q);
	return r;
}

static int script_add(struct store_script **v, size_t *n, sqlite3_stmt *q)
{
	struct store_script *sc;
	void *nv;
	int oom = 0;

	/* Per port and per host there are few scripts: grow by one. */
	if (!(nv = sdb_reallocarray(*v, *n + 1, sizeof(**v))))
		return SDB_ENOMEM;
	*v = nv;
	sc = &(*v)[*n];
	sc->id = col_dup(q, 2, &oom);
	sc->output = col_dup(q, 3, &oom);
	(*n)++;
	return oom ? SDB_ENOMEM : 0;
}

static int load_scripts(struct store_sqlite *s, struct store_host *h)
{
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_HOST_SCRIPTS, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, h->job_id);
	sqlite3_bind_int64(q, 2, h->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *proto = (const char *)sqlite3_column_text(q, 0);

		if (!proto) {
			r = script_add(&h->scripts, &h->nscripts, q);
		} else {
			struct store_port *p = store__host_port(h, proto, sqlite3_column_int(q, 1));
			/* The job writer stores a port before its scripts, so a
			 * script without its port cannot come from it: skip. */
			r = p ? script_add(&p->scripts, &p->nscripts, q) : 0;
		}
		if (r != 0) {
			r = host_fail(s, r, h->addr, NULL);
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading the scripts of host %s", h->addr);
	else
		r = 0;
out:
	store__sqlite_done(q);
	return r;
}

/* The run's pre- or post-scan scripts of a job, in the scan's order. */
static const char sql_run_scripts[] = "SELECT NULL, NULL, script_id, output FROM run_scripts"
                                      " WHERE job_id = ?1 AND phase = ?2 ORDER BY seq";

int store__sqlite_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                              size_t *n)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc = SQLITE_DONE, r;

	if ((r = store__sqlite_hot(s, SQ_RUN_SCRIPTS, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, job_id);
	sqlite3_bind_text(q, 2, post ? "post" : "pre", -1, SQLITE_STATIC);
	while (r == 0 && (rc = sqlite3_step(q)) == SQLITE_ROW)
		r = script_add(out, n, q);
	if (r != 0)
		r = store__set_err(st, r, "reading the scripts of job %lld: out of memory",
		                   (long long)job_id);
	else if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading the scripts of job %lld", (long long)job_id);
	store__sqlite_done(q);
	if (r != 0) {
		store_scripts_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return r;
}

static int load_extraports(struct store_sqlite *s, struct store_host *h)
{
	sqlite3_stmt *q;
	size_t cap = 0;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_HOST_EXTRAPORTS, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, h->job_id);
	sqlite3_bind_int64(q, 2, h->id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_extraports *e;
		int oom = 0;

		if (VEC_RESERVE(h->extraports, cap, h->nextraports + 1, 4) != 0) {
			r = host_fail(s, SDB_ENOMEM, h->addr, NULL);
			goto out;
		}
		e = &h->extraports[h->nextraports++];
		e->state = col_dup(q, 0, &oom);
		e->count = (long)sqlite3_column_int64(q, 1);
		e->reasons = col_dup(q, 2, &oom);
		if (oom) {
			r = host_fail(s, SDB_ENOMEM, h->addr, NULL);
			goto out;
		}
	}
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading the extraports of host %s", h->addr);
	else
		r = 0;
out:
	store__sqlite_done(q);
	return r;
}

/* ---- hosts ---------------------------------------------------------------- */

/* Columns of both host queries; load_host reads them by position. */
#define HOST_COLS                                                                                  \
	"h.id, h.addr, h.family, h.first_seen, h.last_seen, hs.job_id, hs.status, hs.reason,"      \
	" hs.hostnames, hs.mac, hs.mac_vendor, hs.os_name, hs.os_accuracy, hs.os_family,"          \
	" hs.os_vendor, hs.os_gen, hs.os_type, hs.os_cpe, hs.uptime, hs.lastboot,"                 \
	" hs.distance, hs.scanned_at, hs.os_matches"
/* The current state: the host's latest up/down status (a list scan's
 * "unknown" does not replace it). */
#define HOST_COLS_CURRENT                                                                          \
	"h.id, h.addr, h.family, h.first_seen, h.last_seen, hs.job_id, h.status, hs.reason,"       \
	" hs.hostnames, hs.mac, hs.mac_vendor, hs.os_name, hs.os_accuracy, hs.os_family,"          \
	" hs.os_vendor, hs.os_gen, hs.os_type, hs.os_cpe, hs.uptime, hs.lastboot,"                 \
	" hs.distance, hs.scanned_at, hs.os_matches"

/* Filters of both host queries.  ?2/?3: addr_key range (whole space when
 * unfiltered; narrowed to one key for an exact address); ?4 exact addr; ?5
 * status; ?6/?7 open port/protocol; ?8 open service.  The port checks
 * probe the ports primary key (job_id, host_id, ...) of this one host
 * (there is no index of ports by port or service: migration 0010). */
#define HOST_FILTERS_COMMON                                                                        \
	" h.addr_key BETWEEN ?2 AND ?3"                                                            \
	" AND (?4 IS NULL OR h.addr = ?4)"                                                         \
	" AND (?9 IS NULL OR EXISTS (SELECT 1 FROM host_events e"                                  \
	"  WHERE e.host_id = h.id AND e.at >= ?9))"                                                \
	" AND (?10 IS NULL OR h.first_seen >= ?10)"
#define HOST_FILTERS                                                                               \
	HOST_FILTERS_COMMON                                                                        \
	" AND (?5 IS NULL OR hs.status = ?5)"                                                      \
	" AND ((?6 IS NULL AND ?7 IS NULL) OR EXISTS (SELECT 1 FROM ports p"                       \
	"  WHERE p.job_id = hs.job_id AND p.host_id = hs.host_id"                                  \
	"  AND (?6 IS NULL OR p.port = ?6) AND (?7 IS NULL OR p.protocol = ?7)"                    \
	"  AND p.state = 'open'))"                                                                 \
	" AND (?8 IS NULL OR EXISTS (SELECT 1 FROM ports p"                                        \
	"  WHERE p.job_id = hs.job_id AND p.host_id = hs.host_id"                                  \
	"  AND p.service = ?8 AND p.state = 'open'))"
/* The current state: port filters on port_state, by its key (host_id, ...). */
#define STATE_FILTERS                                                                              \
	HOST_FILTERS_COMMON                                                                        \
	" AND (?5 IS NULL OR h.status = ?5)"                                                       \
	" AND ((?6 IS NULL AND ?7 IS NULL) OR EXISTS (SELECT 1 FROM port_state ps"                 \
	"  WHERE ps.host_id = h.id"                                                                \
	"  AND (?6 IS NULL OR ps.port = ?6) AND (?7 IS NULL OR ps.protocol = ?7)"                  \
	"  AND ps.state = 'open'))"                                                                \
	" AND (?8 IS NULL OR EXISTS (SELECT 1 FROM port_state ps"                                  \
	"  WHERE ps.host_id = h.id AND +ps.service = ?8 AND ps.state = 'open'))"

/* The current state: walk hosts in key order and look up the host_scans row
 * of each host's latest scan by its primary key.  (No ?1 here.) */
#define SQL_HOSTS_LATEST                                                                           \
	"SELECT " HOST_COLS_CURRENT " FROM hosts h"                                                \
	" CROSS JOIN host_scans hs ON hs.job_id = h.last_job_id AND hs.host_id = h.id"             \
	" WHERE" STATE_FILTERS
#define SQL_HOSTS_ORDER " ORDER BY h.addr_key"
static const char sql_hosts_latest[] = SQL_HOSTS_LATEST SQL_HOSTS_ORDER;

/* The hosts of one job. */
#define SQL_HOSTS_JOB                                                                              \
	"SELECT " HOST_COLS " FROM host_scans hs"                                                  \
	" JOIN hosts h ON h.id = hs.host_id"                                                       \
	" WHERE hs.job_id = ?1 AND" HOST_FILTERS
static const char sql_hosts_job[] = SQL_HOSTS_JOB SQL_HOSTS_ORDER;

/* A search expression's values are ?11, ?12, ... (store_filter.c). */
#define EXPR_BASE 11

/* Build one owned host from the current row of q, with its children. */
static int load_host(struct store_sqlite *s, sqlite3_stmt *q, int current, struct store_host **out)
{
	struct store_host *h;
	int oom = 0, r;

	*out = NULL;
	if (!(h = calloc(1, sizeof(*h))))
		return store__set_err(&s->base, SDB_ENOMEM, "reading hosts: out of memory");
	h->id = sqlite3_column_int64(q, 0);
	h->addr = col_dup(q, 1, &oom);
	h->family = sqlite3_column_int(q, 2);
	h->first_seen = sqlite3_column_int64(q, 3);
	h->last_seen = sqlite3_column_int64(q, 4);
	h->job_id = sqlite3_column_int64(q, 5);
	h->status = col_dup(q, 6, &oom);
	h->reason = col_dup(q, 7, &oom);
	h->mac = col_dup(q, 9, &oom);
	h->mac_vendor = col_dup(q, 10, &oom);
	h->os = col_dup(q, 11, &oom);
	h->os_accuracy = (int)col_opt(q, 12);
	h->os_family = col_dup(q, 13, &oom);
	h->os_vendor = col_dup(q, 14, &oom);
	h->os_gen = col_dup(q, 15, &oom);
	h->os_type = col_dup(q, 16, &oom);
	h->os_cpe = col_dup(q, 17, &oom);
	h->uptime = col_opt(q, 18);
	h->lastboot = col_dup(q, 19, &oom);
	h->distance = (int)col_opt(q, 20);
	h->scanned_at = sqlite3_column_int64(q, 21);
	if (oom || !h->addr) {
		r = store__set_err(&s->base, SDB_ENOMEM, "reading hosts: out of memory");
		goto out;
	}
	if ((r = store__json_strings((const char *)sqlite3_column_text(q, 8), &h->hostnames,
	                             &h->nhostnames)) != 0) {
		r = host_fail(s, r, h->addr, "hostnames is not a JSON array");
		goto out;
	}
	if ((r = store__json_strings((const char *)sqlite3_column_text(q, 22), &h->osmatches,
	                             &h->nosmatches)) != 0) {
		r = host_fail(s, r, h->addr, "os_matches is not a JSON array");
		goto out;
	}
	if ((r = load_ports(s, h, current)) != 0 || (r = load_scripts(s, h)) != 0 ||
	    (r = load_extraports(s, h)) != 0)
		goto out;
	*out = h;
	h = NULL;
	r = 0;
out:
	store_host_free(h);
	return r;
}

/* Prepare sql (freed here) into *out and bind fp's values from EXPR_BASE. */
static int prepare_expr(struct store_sqlite *s, struct buf *sql, const struct store_fsql *fp,
                        sqlite3_stmt **out)
{
	int b = 0, rc;

	rc = sqlite3_prepare_v2(s->db, buf_str(sql), -1, out, NULL);
	buf_free(sql);
	if (rc != SQLITE_OK)
		return store__sqlite_err(s, rc, "listing hosts: preparing the search");
	for (size_t i = 0; i < fp->n; i++) {
		const struct store_fparam *p = &fp->params[i];
		int idx = EXPR_BASE + (int)i;

		if (p->type == STORE_FP_INT || p->type == STORE_FP_TIME)
			b |= sqlite3_bind_int64(*out, idx, p->i);
		else if (p->type == STORE_FP_KEY)
			b |= sqlite3_bind_blob(*out, idx, p->key, 16, SQLITE_STATIC);
		else
			b |= sqlite3_bind_text(*out, idx, p->text, -1, SQLITE_STATIC);
	}
	if (b)
		return store__sqlite_err(s, sqlite3_errcode(s->db),
		                         "listing hosts: binding values");
	return 0;
}

/* Bind f's filters ?2..?10 of a host query (the key range lo..hi). */
static int bind_filters(sqlite3_stmt *q, const struct store_host_filter *f, const unsigned char *lo,
                        const unsigned char *hi)
{
	const char *proto, *status;
	int b = 0;

	b |= sqlite3_bind_blob(q, 2, lo, 16, SQLITE_STATIC);
	b |= sqlite3_bind_blob(q, 3, hi, 16, SQLITE_STATIC);
	b |= store__sqlite_bind_text(q, 4, f->addr);
	store__host_filter_text(f, &proto, &status);
	b |= store__sqlite_bind_text(q, 5, status);
	b |= f->port >= 0 ? sqlite3_bind_int(q, 6, f->port) : sqlite3_bind_null(q, 6);
	b |= store__sqlite_bind_text(q, 7, proto);
	b |= store__sqlite_bind_text(q, 8, f->service);
	b |= store__sqlite_bind_time(q, 9, f->changed_since);
	b |= store__sqlite_bind_time(q, 10, f->new_since);
	return b;
}

/*
 * A listing with a search expression: the host query with the expression's
 * fragment ANDed, prepared for this call (its text depends on the
 * expression's shape, never on its values), with those values bound.
 */
static int expr_stmt(struct store_sqlite *s, const struct store_host_filter *f,
                     struct store_fsql *fp, sqlite3_stmt **out)
{
	struct buf sql;
	int r;

	*out = NULL;
	buf_init(&sql, (size_t)1 << 20);
	r = buf_append_str(&sql, f->job_id ? SQL_HOSTS_JOB " AND (" : SQL_HOSTS_LATEST " AND (");
	if (r == 0)
		r = store__filter_sql(f->expr, f->job_id == 0, STORE_DIALECT_SQLITE, EXPR_BASE,
		                      &sql, fp);
	if (r == 0)
		r = buf_append_str(&sql, ")" SQL_HOSTS_ORDER);
	if (r != 0) {
		buf_free(&sql);
		return store__set_err(&s->base, r, "listing hosts: the search is too large");
	}
	return prepare_expr(s, &sql, fp, out);
}

int store__sqlite_hosts_each(struct store *st, const struct store_host_filter *f,
                             int (*cb)(void *ctx, struct store_host *h), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	unsigned char lo[16], hi[16];
	struct store_fsql fp = {0};
	int expr = f->expr && f->expr->root >= 0;
	sqlite3_stmt *q;
	int b = 0, rc, r;

	/* an address narrows the key range to it: one probe of hosts_addr_key */
	if (!store__host_key_range(f, lo, hi))
		return 0;
	if (expr)
		r = expr_stmt(s, f, &fp, &q);
	else
		r = store__sqlite_hot(s, f->job_id ? SQ_HOSTS_JOB : SQ_HOSTS_LATEST, &q);
	if (r == 0 && f->job_id != 0)
		b |= sqlite3_bind_int64(q, 1, f->job_id);
	if (r != 0)
		goto out;
	b |= bind_filters(q, f, lo, hi);
	if (b) {
		r = store__sqlite_err(s, sqlite3_errcode(s->db), "listing hosts: binding values");
		goto out;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_host *h;

		if ((r = load_host(s, q, f->job_id == 0, &h)) != 0)
			goto out;
		if ((r = cb(ctx, h)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "listing hosts");
		goto out;
	}
	r = 0;
out:
	if (expr)
		sqlite3_finalize(q);
	else
		store__sqlite_done(q);
	store__fsql_free(&fp);
	return r;
}

/* ---- top values ------------------------------------------------------------ */

/* store_top_values: the value, its count, more joins, a non-empty test. */
static const char *const top_sql[][4] = {
    [STORE_TOP_SERVICE] = {"p.service", "count(*)", "", " AND p.service <> ''"},
    [STORE_TOP_PRODUCT] = {"p.product", "count(*)", "", " AND p.product <> ''"},
    [STORE_TOP_PORT] = {"p.port || '/' || coalesce(p.protocol, '?')", "count(*)", "", ""},
    [STORE_TOP_OS] = {"hh.os_name", "count(DISTINCT hh.id)", "", " AND hh.os_name <> ''"},
    /* the current state keeps no cpe: the probing scan's port row */
    [STORE_TOP_CPE] = {"j.value", "count(*)",
                       " CROSS JOIN ports pr ON pr.job_id = p.job_id AND pr.host_id = p.host_id"
                       " AND pr.protocol = p.protocol AND pr.port = p.port"
                       " CROSS JOIN json_each(pr.cpe) j",
                       ""},
};

/* The open port rows of the hosts SQL_HOSTS_LATEST (and f's expression)
 * selects, their values grouped: see store_top_values. */
static int top_stmt(struct store_sqlite *s, const struct store_host_filter *f,
                    enum store_top_field field, struct store_fsql *fp, sqlite3_stmt **out)
{
	const char *const *t = top_sql[field];
	struct buf sql;
	int r;

	*out = NULL;
	buf_init(&sql, (size_t)1 << 20);
	r = buf_append_str(&sql, "WITH hh AS (" SQL_HOSTS_LATEST " AND (");
	if (r == 0)
		r = store__filter_sql(f->expr, 1, STORE_DIALECT_SQLITE, EXPR_BASE, &sql, fp);
	if (r == 0)
		r = buf_printf(
		    &sql,
		    ")) SELECT %s, %s FROM hh CROSS JOIN port_state p ON p.host_id = hh.id%s"
		    " WHERE p.state = 'open' AND (?6 IS NULL OR p.port = ?6)"
		    " AND (?7 IS NULL OR p.protocol = ?7) AND (?8 IS NULL OR p.service = ?8)"
		    "%s AND (",
		    t[0], t[1], t[2], t[3]);
	if (r == 0)
		r = store__filter_port_sql(f->expr, STORE_DIALECT_SQLITE, EXPR_BASE, &sql, fp);
	if (r == 0)
		r = buf_append_str(&sql, ") GROUP BY 1");
	if (r != 0) {
		buf_free(&sql);
		return store__set_err(&s->base, r, "counting services: the search is too large");
	}
	return prepare_expr(s, &sql, fp, out);
}

int store__sqlite_top_values(struct store *st, const struct store_host_filter *f,
                             enum store_top_field field,
                             int (*cb)(void *ctx, const char *value, int64_t count), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	unsigned char lo[16], hi[16];
	struct store_fsql fp = {0};
	sqlite3_stmt *q = NULL;
	int rc, r;

	if (!store__host_key_range(f, lo, hi))
		return 0;
	if ((r = top_stmt(s, f, field, &fp, &q)) != 0)
		goto out;
	if (bind_filters(q, f, lo, hi)) {
		r = store__sqlite_err(s, sqlite3_errcode(s->db),
		                      "counting services: binding values");
		goto out;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(q, 0);

		if (v && (r = cb(ctx, v, sqlite3_column_int64(q, 1))) != 0)
			goto out;
	}
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "counting services");
out:
	sqlite3_finalize(q);
	store__fsql_free(&fp);
	return r;
}

/* ---- jobs ------------------------------------------------------------------- */

#define JOB_COLS                                                                                   \
	"id, kind, source, status, args, scanner, scanner_version, progress, worker_id,"           \
	" created_at, started_at, completed_at, timeout_at, error, content_hash, forced,"          \
	" probed_scope, hosts_up, hosts_down, hosts_total, ports_open, elapsed, partial"

static const char sql_jobs_all[] = "SELECT " JOB_COLS " FROM jobs"
                                   " ORDER BY created_at DESC, id DESC";
static const char sql_jobs_by_status[] = "SELECT " JOB_COLS " FROM jobs WHERE status = ?1"
                                         " ORDER BY created_at DESC, id DESC";
static const char sql_job_get[] = "SELECT " JOB_COLS " FROM jobs WHERE id = ?1";

static int load_job(struct store_sqlite *s, sqlite3_stmt *q, struct store_job **out)
{
	struct store_job *j;
	int oom = 0;

	*out = NULL;
	if (!(j = calloc(1, sizeof(*j))))
		return store__set_err(&s->base, SDB_ENOMEM, "reading jobs: out of memory");
	j->id = sqlite3_column_int64(q, 0);
	j->kind = col_dup(q, 1, &oom);
	j->source = col_dup(q, 2, &oom);
	j->status = col_dup(q, 3, &oom);
	j->args = col_dup(q, 4, &oom);
	j->scanner = col_dup(q, 5, &oom);
	j->scanner_version = col_dup(q, 6, &oom);
	j->progress = sqlite3_column_int(q, 7);
	j->worker_id = col_dup(q, 8, &oom);
	j->created_at = sqlite3_column_int64(q, 9);
	j->started_at = sqlite3_column_int64(q, 10);
	j->completed_at = sqlite3_column_int64(q, 11);
	j->timeout_at = sqlite3_column_int64(q, 12);
	j->error = col_dup(q, 13, &oom);
	j->content_hash = col_dup(q, 14, &oom);
	j->forced = sqlite3_column_int(q, 15);
	j->probed_scope = col_dup(q, 16, &oom);
	j->hosts_up = col_opt(q, 17);
	j->hosts_down = col_opt(q, 18);
	j->hosts_total = col_opt(q, 19);
	j->ports_open = col_opt(q, 20);
	j->elapsed = sqlite3_column_type(q, 21) == SQLITE_NULL ? -1 : sqlite3_column_double(q, 21);
	j->partial = sqlite3_column_int(q, 22);
	if (oom) {
		store_job_free(j);
		return store__set_err(&s->base, SDB_ENOMEM, "reading jobs: out of memory");
	}
	*out = j;
	return 0;
}

int store__sqlite_jobs_each(struct store *st, const char *status,
                            int (*cb)(void *ctx, struct store_job *j), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if (status) {
		if ((r = store__sqlite_hot(s, SQ_JOBS_BY_STATUS, &q)) != 0)
			return r;
		sqlite3_bind_text(q, 1, status, -1, SQLITE_STATIC);
	} else if ((r = store__sqlite_hot(s, SQ_JOBS_ALL, &q)) != 0) {
		return r;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_job *j;

		if ((r = load_job(s, q, &j)) != 0)
			goto out;
		if ((r = cb(ctx, j)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "listing jobs");
		goto out;
	}
	r = 0;
out:
	store__sqlite_done(q);
	return r;
}

int store__sqlite_job_get(struct store *st, int64_t id, struct store_job **out)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	*out = NULL;
	if ((r = store__sqlite_hot(s, SQ_JOB_GET, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		r = load_job(s, q, out);
	else if (rc == SQLITE_DONE)
		r = store__set_err(st, SDB_ENOTFOUND, "no job with id %lld", (long long)id);
	else
		r = store__sqlite_err(s, rc, "reading job %lld", (long long)id);
	store__sqlite_done(q);
	return r;
}

/* ---- the hot queries and the plans they must have ---------------------------- */

/* Probing one (job, host) pair: the prefix of a table's key. */
#define EVENT_COLS                                                                                 \
	"e.id, e.host_id, h.addr, e.job_id, e.prev_job_id, e.kind, e.protocol, e.port, e.detail,"  \
	" e.old_value, e.new_value, e.at"
#define PLAN_JOB_HOST "(job_id=? AND host_id=?)"
/* The port_state view of one host: its host_state row by key, then
 * the document's ports (migration 0005). */
#define PLAN_PORT_STATE                                                                            \
	"SEARCH s USING INTEGER PRIMARY KEY (rowid=?)", "SCAN p VIRTUAL TABLE INDEX 1:"

/* The known hosts of an addr_key range. */
#define PLAN_ADDR_RANGE(t)                                                                         \
	"SEARCH " t " USING COVERING INDEX hosts_addr_key (addr_key>? AND addr_key<?)"

const struct store__sqlite_query store__sqlite_hot_queries[SQ__COUNT] = {
    /* Walk hosts in address order (no sort: rows stream), one host_scans
     * row each; both port filters probe that host's ports by key. */
    [SQ_HOSTS_LATEST] = {"hosts_latest",
                         sql_hosts_latest,
                         {"SEARCH h USING INDEX hosts_addr_key (addr_key>? AND addr_key<?)",
                          "SEARCH hs USING PRIMARY KEY " PLAN_JOB_HOST,
                          "SEARCH e USING COVERING INDEX host_events_host_at (host_id=? AND at>?)",
                          PLAN_PORT_STATE}},
    /* The job's rows of host_scans, each host by id, then sorted by
     * address: the sort holds one job's hosts, not the database's. */
    [SQ_HOSTS_JOB] = {"hosts_job",
                      sql_hosts_job,
                      {"SEARCH hs USING PRIMARY KEY (job_id=?)",
                       "SEARCH p USING PRIMARY KEY " PLAN_JOB_HOST,
                       "SEARCH h USING INTEGER PRIMARY KEY (rowid=?)",
                       "SEARCH e USING COVERING INDEX host_events_host_at (host_id=? AND at>?)",
                       "USE TEMP B-TREE FOR ORDER BY"}},
    /* The host's port state document by its key (parsed and sorted in
     * C), then the probing scan's row of each port by the ports key. */
    [SQ_HOST_PORT_STATE] = {"host_state",
                            sql_host_state,
                            {"SEARCH host_state USING INTEGER PRIMARY KEY (rowid=?)"}},
    [SQ_PORT_ROW] = {"port_row",
                     sql_port_row,
                     {"SEARCH ports USING PRIMARY KEY (job_id=? AND host_id=? AND protocol=? "
                      "AND port=?)"}},
    [SQ_HOST_PORTS] = {"host_ports",
                       sql_host_ports,
                       {"SEARCH ports USING PRIMARY KEY " PLAN_JOB_HOST}},
    /* Index entries of one (job, host) are in id order: no sort. */
    [SQ_HOST_SCRIPTS] = {"host_scripts",
                         sql_host_scripts,
                         {"SEARCH scripts USING INDEX scripts_job_host " PLAN_JOB_HOST}},
    [SQ_RUN_SCRIPTS] = {"run_scripts",
                        sql_run_scripts,
                        {"SEARCH run_scripts USING PRIMARY KEY (job_id=? AND phase=?)"}},
    [SQ_HOST_EXTRAPORTS] = {"host_extraports",
                            sql_host_extraports,
                            {"SEARCH extraports USING PRIMARY KEY " PLAN_JOB_HOST}},
    /* Every job, newest first: a scan and a sort of the (small) jobs
     * table; no index orders all statuses by created_at. */
    [SQ_JOBS_ALL] = {"jobs_all", sql_jobs_all, {"SCAN jobs", "USE TEMP B-TREE FOR ORDER BY"}},
    /* (status, created_at, id) read backwards: no sort. */
    [SQ_JOBS_BY_STATUS] = {"jobs_by_status",
                           sql_jobs_by_status,
                           {"SEARCH jobs USING INDEX jobs_status_created (status=?)"}},
    [SQ_JOB_GET] = {"job_get", sql_job_get, {"SEARCH jobs USING INTEGER PRIMARY KEY (rowid=?)"}},

    /* History, once per host of every import (sqlite_history.c). */
    /* The host and what the history knows of it (host_state: the latest
     * OS, MAC and names an up scan reported, its ports' state), by key. */
    [SQ_HIST_HOST] = {"hist_host",
                      "SELECT h.id, h.status, h.last_job_id, h.last_seen, s.os, s.mac,"
                      " s.hostnames, s.ports, s.misses, s.miss_job_id, s.miss_at"
                      " FROM hosts h LEFT JOIN host_state s"
                      " ON s.host_id = h.id WHERE h.addr = ?1",
                      {"SEARCH h USING INDEX sqlite_autoindex_hosts_1 (addr=?)",
                       "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)"}},
    /* The host's scripts of every scan, oldest scan first, so the latest
     * output of each script wins. */
    [SQ_HIST_SCRIPTS] = {"hist_scripts",
                         "SELECT s.protocol, s.port, s.script_id, s.output, s.job_id"
                         " FROM scripts s JOIN host_scans hs"
                         " ON hs.job_id = s.job_id AND hs.host_id = s.host_id"
                         " WHERE s.host_id = ?1 ORDER BY hs.scanned_at, s.job_id, s.id",
                         {"SEARCH s USING INDEX scripts_host (host_id=?)",
                          "SEARCH hs USING PRIMARY KEY " PLAN_JOB_HOST,
                          "USE TEMP B-TREE FOR ORDER BY"}},
    /* Events since a time, across hosts: the at index, no sort. */
    [SQ_EVENTS_SINCE] = {"events_since",
                         "SELECT " EVENT_COLS " FROM host_events e JOIN hosts h ON h.id = e.host_id"
                         " WHERE e.at >= ?1 AND +h.addr_key BETWEEN ?2 AND ?3"
                         " ORDER BY e.at, e.id",
                         {"SEARCH e USING INDEX host_events_at (at>?)",
                          "SEARCH h USING INTEGER PRIMARY KEY (rowid=?)"}},
    /* One host's events: (host_id, at) index, no sort. */
    [SQ_EVENTS_HOST] = {"events_host",
                        "SELECT " EVENT_COLS " FROM hosts h JOIN host_events e ON e.host_id = h.id"
                        " WHERE h.addr = ?4 AND e.at >= ?1 ORDER BY e.at, e.id",
                        {"SEARCH h USING COVERING INDEX sqlite_autoindex_hosts_1 (addr=?)",
                         "SEARCH e USING INDEX host_events_host_at (host_id=? AND at>?)"}},

    /* Tags and notes (sqlite_tags.c).  A host by its address, the unique
     * index; the known hosts of an address range ?1..?2 by hosts_addr_key
     * (counted, tagged with ?3 at ?4 by ?5, or untagged); the tags with
     * their counts walk host_tags_tag (no sort); one host's tags and notes
     * by its id.  (tag_rm probes (tag, host) for each host of the range, a
     * LIST SUBQUERY: its line is not an access path.) */
    [SQ_HOST_ID] = {"host_id",
                    "SELECT id FROM hosts WHERE addr = ?1",
                    {"SEARCH hosts USING COVERING INDEX sqlite_autoindex_hosts_1 (addr=?)"}},
    [SQ_TAG_MATCH] = {"tag_match",
                      "SELECT count(*) FROM hosts WHERE addr_key BETWEEN ?1 AND ?2",
                      {PLAN_ADDR_RANGE("hosts")}},
    [SQ_TAG_ADD] = {"tag_add",
                    "INSERT INTO host_tags (host_id, tag, created_at, author)"
                    " SELECT id, ?3, ?4, ?5 FROM hosts WHERE addr_key BETWEEN ?1 AND ?2"
                    " ON CONFLICT DO NOTHING RETURNING host_id",
                    {PLAN_ADDR_RANGE("hosts")}},
    [SQ_TAG_RM] = {"tag_rm",
                   "DELETE FROM host_tags WHERE tag = ?3 AND host_id IN"
                   " (SELECT id FROM hosts WHERE addr_key BETWEEN ?1 AND ?2) RETURNING host_id",
                   {"SEARCH host_tags USING COVERING INDEX host_tags_tag (tag=? AND host_id=?)",
                    PLAN_ADDR_RANGE("hosts")}},
    [SQ_TAGS_EACH] = {"tags_each",
                      "SELECT tag, count(*) FROM host_tags GROUP BY tag ORDER BY tag",
                      {"SCAN host_tags USING COVERING INDEX host_tags_tag"}},
    [SQ_HOST_TAGS] = {"host_tags",
                      "SELECT tag, created_at, author FROM host_tags"
                      " WHERE host_id = ?1 ORDER BY tag",
                      {"SEARCH host_tags USING PRIMARY KEY (host_id=?)"}},
    [SQ_HOST_NOTES] = {"host_notes",
                       "SELECT id, at, author, text FROM host_notes"
                       " WHERE host_id = ?1 ORDER BY at, id",
                       {"SEARCH host_notes USING INDEX host_notes_host (host_id=?)"}},
    [SQ_NOTE_RM] = {"note_rm",
                    "DELETE FROM host_notes WHERE id = ?1",
                    {"SEARCH host_notes USING INTEGER PRIMARY KEY (rowid=?)"}},
    /* Gone hosts (sqlite_gone.c).  Every completed, dated, whole job's
     * ranges: the completed jobs (jobs_status_created), each one's ranges
     * by key, sorted (one row per range of a job: few). */
    [SQ_TARGETS_EACH] = {"targets_each",
                         "SELECT t.job_id, j.started_at, t.lo, t.hi FROM job_targets t"
                         " JOIN jobs j ON j.id = t.job_id WHERE j.status = 'completed'"
                         " AND j.partial = 0 AND j.started_at > 0 ORDER BY t.job_id, t.lo",
                         {"SEARCH j USING INDEX jobs_status_created (status=?)",
                          "SEARCH t USING PRIMARY KEY (job_id=?)", "USE TEMP B-TREE FOR ORDER BY"}},
    /* The known hosts of a range (hosts_addr_key) the job has no scan of
     * (its host_scans key), with their host_state row by key. */
    [SQ_HOSTS_MISSED] = {"hosts_missed",
                         "SELECT h.id, h.addr, h.status, h.last_job_id, h.last_seen, s.misses,"
                         " s.miss_job_id, s.miss_at FROM hosts h LEFT JOIN host_state s"
                         " ON s.host_id = h.id WHERE h.addr_key BETWEEN ?1 AND ?2"
                         " AND NOT EXISTS (SELECT 1 FROM host_scans hs WHERE hs.job_id = ?3"
                         " AND hs.host_id = h.id) ORDER BY h.addr_key LIMIT ?4",
                         {"SEARCH h USING INDEX hosts_addr_key (addr_key>? AND addr_key<?)",
                          "SEARCH s USING INTEGER PRIMARY KEY (rowid=?)",
                          "SEARCH hs USING PRIMARY KEY " PLAN_JOB_HOST}},
};
