/*
 * pg_query.c - the PostgreSQL backend's read queries: hosts as seen by
 * one job (or their current state) with their ports, scripts and
 * extraports, and jobs.  Results are owned heap copies (invariant 8) freed
 * with store_host_free / store_job_free (store_result.c).
 *
 * hosts_each reads a page of hosts (address order, keyset pagination) and
 * then the children of the whole page in three queries, so a listing costs
 * four round trips per HOSTS_PAGE hosts, not three per host; all pages are
 * read in one REPEATABLE READ snapshot (or the caller's transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"
#include "store/pg/pg_int.h"

#define HOSTS_PAGE 500

/* Columns of both host queries; load_host reads them by position. */
#define HOST_COLS(status)                                                                          \
	"h.id, encode(h.addr_key, 'hex'), family(h.addr), " EP(                                    \
	    "h.first_seen") ","                                                                    \
	                    " " EP("h.last_seen") ", hs.job_id, " status                           \
	                                          ", hs.reason, hs.hostnames::text, hs.mac,"       \
	                                          " hs.mac_vendor, hs.os_name, hs.os_accuracy, "   \
	                                          "hs.os_family, hs.os_vendor, hs.os_gen,"         \
	                                          " hs.os_type, hs.os_cpe, hs.uptime, "            \
	                                          "hs.lastboot, hs.distance, " EP(                 \
	                                              "hs.scanned_at") ", hs.os_matches::text"

/*
 * Every query below reaches history (host_scans, ports, scripts,
 * extraports, host_events) only through a LATERAL or EXISTS subquery fenced
 * with OFFSET 0, keyed by one host (or one port) of the page: PostgreSQL
 * cannot flatten such a subquery into a join, so it runs it per row with
 * the table's key, and no plan can hash-join a whole history table, however
 * the statistics of the day look (issue 18: a listing hash-joined every
 * stored port once per page of 500 hosts, and its plan flipped by itself at
 * 33 stored scans).  The page itself walks hosts_addr_key in address order.
 * So a page costs its hosts (those its filters pass over too), not the
 * scans stored; tests/e2e/test_pg_plans.py checks the plans at 1 and 30
 * scans.
 */

/* Filters: $2/$3 addr_key range, $4 exact address, $5 status, $6/$7 open
 * port/protocol, $8 open service, $9 changed since, $10 new since; $11/$12
 * the last (addr_key, id) of the previous page. */
#define FILTERS_COMMON                                                                             \
	" h.addr_key BETWEEN $2::bytea AND $3::bytea"                                              \
	" AND ($4::inet IS NULL OR h.addr = $4::inet)"                                             \
	" AND ($9::bigint IS NULL OR EXISTS (SELECT 1 FROM host_events e"                          \
	"  WHERE e.host_id = h.id AND e.at >= to_timestamp($9::bigint) OFFSET 0))"                 \
	" AND ($10::bigint IS NULL OR h.first_seen >= to_timestamp($10::bigint))"                  \
	" AND h.addr_key >= $11::bytea" /* lets hosts_addr_key start there */                      \
	" AND (h.addr_key, h.id) > ($11::bytea, $12::bigint)"
#define FILTERS_JOB                                                                                \
	FILTERS_COMMON                                                                             \
	" AND ($5::text IS NULL OR hs.status = $5::text)"                                          \
	" AND (($6::integer IS NULL AND $7::text IS NULL) OR EXISTS (SELECT 1 FROM ports p"        \
	"  WHERE p.job_id = hs.job_id AND p.host_id = hs.host_id"                                  \
	"  AND ($6::integer IS NULL OR p.port = $6::integer)"                                      \
	"  AND ($7::text IS NULL OR p.protocol = $7::text) AND p.state = 'open' OFFSET 0))"        \
	" AND ($8::text IS NULL OR EXISTS (SELECT 1 FROM ports p"                                  \
	"  WHERE p.job_id = hs.job_id AND p.host_id = hs.host_id"                                  \
	"  AND p.service = $8::text AND p.state = 'open' OFFSET 0))"
/* The port filters of the current state read the host's one port state
 * document (host_state by key, its array's elements). */
#define FILTERS_STATE                                                                              \
	FILTERS_COMMON                                                                             \
	" AND ($5::text IS NULL OR h.status = $5::text)"                                           \
	" AND (($6::integer IS NULL AND $7::text IS NULL) OR EXISTS (SELECT 1 FROM port_state ps"  \
	"  WHERE ps.host_id = h.id AND ($6::integer IS NULL OR ps.port = $6::integer)"             \
	"  AND ($7::text IS NULL OR ps.protocol = $7::text) AND ps.state = 'open' OFFSET 0))"      \
	" AND ($8::text IS NULL OR EXISTS (SELECT 1 FROM port_state ps"                            \
	"  WHERE ps.host_id = h.id AND ps.service = $8::text AND ps.state = 'open' OFFSET 0))"

/* The host_scans columns HOST_COLS reads. */
#define HS_COLS                                                                                    \
	"hs.job_id, hs.host_id, hs.status, hs.reason, hs.hostnames, hs.mac, hs.mac_vendor,"        \
	" hs.os_name, hs.os_accuracy, hs.os_family, hs.os_vendor, hs.os_gen, hs.os_type,"          \
	" hs.os_cpe, hs.uptime, hs.lastboot, hs.distance, hs.scanned_at, hs.os_matches"

/* The current state: each host with the host_scans row of its latest scan
 * ($1 is unused here). */
#define SQL_HOSTS_LATEST                                                                           \
	"SELECT " HOST_COLS("h.status") " FROM hosts h"                                            \
	                                " CROSS JOIN LATERAL (SELECT " HS_COLS                     \
	                                " FROM host_scans hs"                                      \
	                                "  WHERE hs.job_id = h.last_job_id AND hs.host_id = h.id"  \
	                                "  OFFSET 0) hs"                                           \
	                                " WHERE ($1::bigint IS NULL OR true) AND" FILTERS_STATE
#define SQL_HOSTS_PAGE " ORDER BY h.addr_key, h.id LIMIT 500"
static const char sql_hosts_latest[] = SQL_HOSTS_LATEST SQL_HOSTS_PAGE;

/* One job's view: the hosts in address order, each probed for its row of
 * the job (a page costs the hosts it passes, not the job's or the
 * database's scans). */
#define SQL_HOSTS_JOB                                                                              \
	"SELECT " HOST_COLS("hs.status") " FROM hosts h"                                           \
	                                 " CROSS JOIN LATERAL (SELECT " HS_COLS                    \
	                                 " FROM host_scans hs"                                     \
	                                 "  WHERE hs.job_id = $1::bigint AND hs.host_id = h.id"    \
	                                 "  OFFSET 0) hs"                                          \
	                                 " WHERE" FILTERS_JOB
static const char sql_hosts_job[] = SQL_HOSTS_JOB SQL_HOSTS_PAGE;

/* A search expression's values: the elements of one text[] parameter $13
 * (store_filter.c). */
#define EXPR_PARAM 13

/* A listing with a search expression: the host query with the fragment
 * ANDed into *sql, and the value of $13 into *vals. */
static int expr_sql(struct store_pg *s, const struct store_host_filter *f, struct buf *sql,
                    struct buf *vals)
{
	struct store_fsql fp = {0};
	int r;

	r = buf_append_str(sql, f->job_id ? SQL_HOSTS_JOB " AND (" : SQL_HOSTS_LATEST " AND (");
	if (r == 0)
		r = store__filter_sql(f->expr, f->job_id == 0, STORE_DIALECT_PG, EXPR_PARAM, sql,
		                      &fp);
	if (r == 0)
		r = buf_append_str(sql, ")" SQL_HOSTS_PAGE);
	if (r == 0)
		r = store__fsql_pg_array(&fp, vals);
	store__fsql_free(&fp);
	if (r != 0)
		return store__set_err(&s->base, r, "listing hosts: the search is too large");
	return 0;
}

/* The page's (job, host) pairs, each probing its table's key. */
#define PAIRS "unnest($1::bigint[], $2::bigint[]) AS k(job_id, host_id)"

/* Each port as the latest scan that probed it saw it, with that scan's
 * full port row when it listed the port: the page's hosts' documents by
 * key, then each port's row by the ports key.  ($1 is the same page.) */
static const char sql_page_port_state[] =
    "SELECT ps.host_id, ps.protocol, ps.port, ps.state, coalesce(p.reason, ps.reason),"
    " p.reason_ttl, ps.service, ps.product, ps.version, ps.extrainfo, p.ostype, ps.method,"
    " p.conf, ps.tunnel, p.cpe::text, " EP("ps.first_seen") ", " EP(
        "ps.last_seen") ","
                        " " EP("ps.closed_at") ", ps.job_id, " EP(
                            "ps.seen_at") " FROM unnest($2::bigint[]) AS k(id)"
                                          " CROSS JOIN LATERAL (SELECT * FROM port_state ps WHERE "
                                          "ps.host_id = k.id OFFSET 0) ps"
                                          " LEFT JOIN LATERAL (SELECT p.reason, p.reason_ttl, "
                                          "p.ostype, p.conf, p.cpe FROM ports p"
                                          "  WHERE p.job_id = ps.job_id AND p.host_id = ps.host_id "
                                          "AND p.protocol = ps.protocol"
                                          "  AND p.port = ps.port OFFSET 0) p ON true"
                                          " WHERE cardinality($1::bigint[]) >= 0"
                                          " ORDER BY ps.protocol COLLATE \"C\", ps.port";

static const char sql_page_ports[] =
    "SELECT p.host_id, p.protocol, p.port, p.state, p.reason, p.reason_ttl, p.service,"
    " p.product, p.version, p.extrainfo, p.ostype, p.method, p.conf, p.tunnel, p.cpe::text"
    " FROM " PAIRS " CROSS JOIN LATERAL (SELECT * FROM ports p"
    "  WHERE p.job_id = k.job_id AND p.host_id = k.host_id OFFSET 0) p"
    " ORDER BY p.protocol COLLATE \"C\", p.port";

static const char sql_page_scripts[] =
    "SELECT s.host_id, s.protocol, s.port, s.script_id, s.output"
    " FROM " PAIRS " CROSS JOIN LATERAL (SELECT * FROM scripts s"
    "  WHERE s.job_id = k.job_id AND s.host_id = k.host_id OFFSET 0) s ORDER BY s.id";

static const char sql_page_extraports[] =
    "SELECT x.host_id, x.state, x.count, x.reasons"
    " FROM " PAIRS " CROSS JOIN LATERAL (SELECT * FROM extraports x"
    "  WHERE x.job_id = k.job_id AND x.host_id = k.host_id OFFSET 0) x"
    " ORDER BY x.state COLLATE \"C\"";

/* ---- one page ------------------------------------------------------------- */

struct page {
	struct store_host *h[HOSTS_PAGE];
	int n;
	struct {
		int64_t id;
		int idx;
	} map[HOSTS_PAGE]; /* sorted by host id */
};

static int cmp_map(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The page index of host `id`, or -1. */
static int page_idx(const struct page *pg, int64_t id)
{
	size_t lo = 0, hi = (size_t)pg->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (pg->map[mid].id == id)
			return pg->map[mid].idx;
		if (pg->map[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static struct store_host *page_host(struct page *pg, int64_t id)
{
	int i = page_idx(pg, id);

	return i < 0 ? NULL : pg->h[i];
}

static void page_free(struct page *pg, int from)
{
	for (int i = from; i < pg->n; i++)
		store_host_free(pg->h[i]);
	pg->n = 0;
}

static int load_host(struct store_pg *s, const PGresult *q, int i, struct store_host **out)
{
	struct store_host *h;
	char addr[64];
	int oom = 0, r;

	*out = NULL;
	if (!(h = calloc(1, sizeof(*h))))
		return store__set_err(&s->base, SDB_ENOMEM, "reading hosts: out of memory");
	h->id = store__pg_i64(q, i, 0);
	h->family = (int)store__pg_i64(q, i, 2);
	if (store__pg_addr_text(store__pg_col(q, i, 1), h->family, addr) != 0) {
		store_host_free(h);
		return store__set_err(&s->base, SDB_EDB, "reading hosts: host %lld has a bad key",
		                      (long long)h->id);
	}
	h->addr = strdup(addr);
	h->first_seen = store__pg_i64(q, i, 3);
	h->last_seen = store__pg_i64(q, i, 4);
	h->job_id = store__pg_i64(q, i, 5);
	h->status = store__pg_dup(q, i, 6, &oom);
	h->reason = store__pg_dup(q, i, 7, &oom);
	h->mac = store__pg_dup(q, i, 9, &oom);
	h->mac_vendor = store__pg_dup(q, i, 10, &oom);
	h->os = store__pg_dup(q, i, 11, &oom);
	h->os_accuracy = (int)store__pg_opt(q, i, 12);
	h->os_family = store__pg_dup(q, i, 13, &oom);
	h->os_vendor = store__pg_dup(q, i, 14, &oom);
	h->os_gen = store__pg_dup(q, i, 15, &oom);
	h->os_type = store__pg_dup(q, i, 16, &oom);
	h->os_cpe = store__pg_dup(q, i, 17, &oom);
	h->uptime = store__pg_opt(q, i, 18);
	h->lastboot = store__pg_dup(q, i, 19, &oom);
	h->distance = (int)store__pg_opt(q, i, 20);
	h->scanned_at = store__pg_i64(q, i, 21);
	if (oom || !h->addr) {
		store_host_free(h);
		return store__set_err(&s->base, SDB_ENOMEM, "reading hosts: out of memory");
	}
	if ((r = store__json_strings(store__pg_col(q, i, 8), &h->hostnames, &h->nhostnames)) != 0) {
		r = store__set_err(&s->base, r, "reading host %s: hostnames is not a JSON array",
		                   h->addr);
		store_host_free(h);
		return r;
	}
	if ((r = store__json_strings(store__pg_col(q, i, 22), &h->osmatches, &h->nosmatches)) !=
	    0) {
		r = store__set_err(&s->base, r, "reading host %s: os_matches is not a JSON array",
		                   h->addr);
		store_host_free(h);
		return r;
	}
	*out = h;
	return 0;
}

/* Append a port row (job view: cols 1..14; current: also 15..19). */
static int add_port(struct store_host *h, const PGresult *q, int i, int current, size_t *cap)
{
	struct store_port *p;
	int oom = 0;

	if (VEC_RESERVE(h->ports, *cap, h->nports + 1, 16))
		return SDB_ENOMEM;
	p = &h->ports[h->nports++];
	memset(p, 0, sizeof(*p));
	p->protocol = store__pg_dup(q, i, 1, &oom);
	p->port = (int)store__pg_i64(q, i, 2);
	p->state = store__pg_dup(q, i, 3, &oom);
	p->reason = store__pg_dup(q, i, 4, &oom);
	p->reason_ttl = (int)store__pg_opt(q, i, 5);
	p->service = store__pg_dup(q, i, 6, &oom);
	p->product = store__pg_dup(q, i, 7, &oom);
	p->version = store__pg_dup(q, i, 8, &oom);
	p->extrainfo = store__pg_dup(q, i, 9, &oom);
	p->ostype = store__pg_dup(q, i, 10, &oom);
	p->method = store__pg_dup(q, i, 11, &oom);
	p->conf = (int)store__pg_opt(q, i, 12);
	p->tunnel = store__pg_dup(q, i, 13, &oom);
	if (current) {
		p->first_seen = store__pg_i64(q, i, 15);
		p->last_seen = store__pg_i64(q, i, 16);
		p->closed_at = store__pg_i64(q, i, 17);
		p->state_job_id = store__pg_i64(q, i, 18);
		p->state_seen_at = store__pg_i64(q, i, 19);
	}
	if (oom)
		return SDB_ENOMEM;
	return store__json_strings(store__pg_col(q, i, 14), &p->cpes, &p->ncpes);
}

static int script_add(struct store_script **v, size_t *n, const PGresult *q, int i)
{
	struct store_script *sc;
	void *nv;
	int oom = 0;

	if (!(nv = sdb_reallocarray(*v, *n + 1, sizeof(**v))))
		return SDB_ENOMEM;
	*v = nv;
	sc = &(*v)[*n];
	sc->id = store__pg_dup(q, i, 3, &oom);
	sc->output = store__pg_dup(q, i, 4, &oom);
	(*n)++;
	return oom ? SDB_ENOMEM : 0;
}

/* "{1,2,3}" array literals of the page's (job, host) pairs. */
static int pair_arrays(const struct page *pg, struct buf *jobs, struct buf *hosts)
{
	int r = 0;

	r |= buf_append_char(jobs, '{');
	r |= buf_append_char(hosts, '{');
	for (int i = 0; i < pg->n; i++) {
		r |= buf_printf(jobs, "%s%lld", i ? "," : "", (long long)pg->h[i]->job_id);
		r |= buf_printf(hosts, "%s%lld", i ? "," : "", (long long)pg->h[i]->id);
	}
	r |= buf_append_char(jobs, '}');
	r |= buf_append_char(hosts, '}');
	return r ? SDB_ENOMEM : 0;
}

/* The page's ports ($1 jobs, $2 hosts of p): the job's, or the current
 * port state. */
static int load_ports(struct store_pg *s, struct page *pg, int current, int flags,
                      const struct pg_params *p)
{
	PGresult *q = NULL;
	size_t *caps;
	int r;

	if (!(caps = calloc((size_t)pg->n, sizeof(*caps))))
		return store__set_err(&s->base, SDB_ENOMEM, "reading hosts: out of memory");
	if (current)
		r = store__pg_exec(s, PG_PAGE_PORT_STATE, sql_page_port_state, p, flags, &q,
		                   "reading the ports of hosts");
	else
		r = store__pg_exec(s, PG_PAGE_PORTS, sql_page_ports, p, flags, &q,
		                   "reading the ports of hosts");
	for (int i = 0; r == 0 && i < PQntuples(q); i++) {
		int k = page_idx(pg, store__pg_i64(q, i, 0));
		struct store_host *h = k < 0 ? NULL : pg->h[k];
		if (!h)
			continue;
		if ((r = add_port(h, q, i, current, &caps[k])) != 0)
			r = store__set_err(&s->base, r, "reading the ports of host %s: %s", h->addr,
			                   r == SDB_ENOMEM ? "out of memory"
			                                   : "a port's cpe is not a JSON array");
	}
	PQclear(q);
	free(caps);
	return r;
}

/* The page's scripts, each on its host or its port. */
static int load_scripts(struct store_pg *s, struct page *pg, int flags, const struct pg_params *p)
{
	PGresult *q = NULL;
	int r;

	if ((r = store__pg_exec(s, PG_PAGE_SCRIPTS, sql_page_scripts, p, flags, &q,
	                        "reading the scripts of hosts")) != 0)
		return r;
	for (int i = 0; i < PQntuples(q) && r == 0; i++) {
		struct store_host *h = page_host(pg, store__pg_i64(q, i, 0));
		const char *proto = store__pg_col(q, i, 1);
		if (!h)
			continue;
		if (!proto) {
			r = script_add(&h->scripts, &h->nscripts, q, i);
		} else {
			struct store_port *pt =
			    store__host_port(h, proto, (int)store__pg_i64(q, i, 2));
			/* a script without its port cannot come from the job
			 * writer (ports are stored first): skip it */
			r = pt ? script_add(&pt->scripts, &pt->nscripts, q, i) : 0;
		}
	}
	PQclear(q);
	if (r != 0)
		r = store__set_err(&s->base, r, "reading the scripts of hosts: out of memory");
	return r;
}

/* The page's extraports. */
static int load_extraports(struct store_pg *s, struct page *pg, int flags,
                           const struct pg_params *p)
{
	PGresult *q = NULL;
	int r;

	if ((r = store__pg_exec(s, PG_PAGE_EXTRAPORTS, sql_page_extraports, p, flags, &q,
	                        "reading the extraports of hosts")) != 0)
		return r;
	for (int i = 0; i < PQntuples(q); i++) {
		struct store_host *h = page_host(pg, store__pg_i64(q, i, 0));
		struct store_extraports *e;
		void *nv;
		int oom = 0;

		if (!h)
			continue;
		if (!(nv = sdb_reallocarray(h->extraports, h->nextraports + 1,
		                            sizeof(*h->extraports)))) {
			r = store__set_err(&s->base, SDB_ENOMEM, "reading hosts: out of memory");
			break;
		}
		h->extraports = nv;
		e = &h->extraports[h->nextraports++];
		e->state = store__pg_dup(q, i, 1, &oom);
		e->count = (long)store__pg_i64(q, i, 2);
		e->reasons = store__pg_dup(q, i, 3, &oom);
		if (oom) {
			r = store__set_err(&s->base, SDB_ENOMEM, "reading hosts: out of memory");
			break;
		}
	}
	PQclear(q);
	return r;
}

/* The children of a page of hosts (ports, scripts, extraports), three
 * queries for the whole page. */
static int load_children(struct store_pg *s, struct page *pg, int current, int flags)
{
	struct buf jobs, hosts;
	struct pg_params p = {0};
	int r;

	buf_init(&jobs, (size_t)16 << 20);
	buf_init(&hosts, (size_t)16 << 20);
	for (int i = 0; i < pg->n; i++) {
		pg->map[i].id = pg->h[i]->id;
		pg->map[i].idx = i;
	}
	qsort(pg->map, (size_t)pg->n, sizeof(pg->map[0]), cmp_map);
	if ((r = pair_arrays(pg, &jobs, &hosts)) != 0) {
		r = store__set_err(&s->base, SDB_ENOMEM, "reading hosts: out of memory");
	} else {
		store__pg_p_text(&p, buf_str(&jobs));
		store__pg_p_text(&p, buf_str(&hosts));
		if ((r = load_ports(s, pg, current, flags, &p)) == 0 &&
		    (r = load_scripts(s, pg, flags, &p)) == 0)
			r = load_extraports(s, pg, flags, &p);
	}
	buf_free(&jobs);
	buf_free(&hosts);
	return r;
}

/* What every page of one listing binds and runs. */
struct listing {
	char lohex[35], hihex[35];
	const char *proto, *status;
	int oneshot, fl, expr;
	struct buf esql, evals; /* with a search expression: its SQL, its values */
};

/* The host query's $1..$12: f's filters, after (lasthex, last_id). */
static void host_params(struct pg_params *p, const struct store_host_filter *f,
                        const struct listing *ls, const char *lasthex, int64_t last_id)
{
	store__pg_p_time(p, f->job_id);
	store__pg_p_text(p, ls->lohex);
	store__pg_p_text(p, ls->hihex);
	store__pg_p_text(p, f->addr);
	store__pg_p_text(p, ls->status);
	store__pg_p_opt(p, f->port);
	store__pg_p_text(p, ls->proto);
	store__pg_p_text(p, f->service);
	store__pg_p_time(p, f->changed_since);
	store__pg_p_time(p, f->new_since);
	store__pg_p_text(p, lasthex);
	store__pg_p_int(p, last_id);
}

/* One page of hosts after (lasthex, last_id) into *q. */
static int page_query(struct store_pg *s, const struct store_host_filter *f,
                      const struct listing *ls, const char *lasthex, int64_t last_id, PGresult **q)
{
	struct pg_params p = {0};

	host_params(&p, f, ls, lasthex, last_id);
	if (ls->expr) {
		store__pg_p_text(&p, buf_str(&ls->evals));
		return store__pg_exec(s, f->job_id ? PG_HOSTS_JOB : PG_HOSTS_LATEST,
		                      buf_str(&ls->esql), &p, ls->fl, q, "listing hosts");
	}
	return f->job_id
	           ? store__pg_exec(s, PG_HOSTS_JOB, sql_hosts_job, &p, ls->fl, q, "listing hosts")
	           : store__pg_exec(s, PG_HOSTS_LATEST, sql_hosts_latest, &p, ls->oneshot, q,
	                            "listing hosts");
}

/* Set up ls for listing f; 0 when f selects no host at all (*none). */
static int listing_init(struct store_pg *s, const struct store_host_filter *f, struct listing *ls,
                        int *none)
{
	unsigned char lo[16], hi[16];

	memset(ls, 0, sizeof(*ls));
	buf_init(&ls->esql, (size_t)1 << 20);
	buf_init(&ls->evals, (size_t)1 << 20);
	*none = !store__host_key_range(f, lo, hi);
	store__pg_key_hex(lo, ls->lohex);
	store__pg_key_hex(hi, ls->hihex);
	store__host_filter_text(f, &ls->proto, &ls->status);
	/* a listing is planned for its filters; a one-host lookup (replays
	 * run it per host) keeps its prepared plan */
	ls->oneshot = f->addr ? 0 : PGX_ONESHOT;
	/* a job's view reads no events or port states: buffered ones wait */
	ls->fl = ls->oneshot | (f->job_id && !f->changed_since ? PGX_FLUSH_SCANS : 0);
	ls->expr = f->expr && f->expr->root >= 0;
	if (!ls->expr || *none)
		return 0;
	/* its own text: planned each page, every buffer sent first */
	ls->fl = ls->oneshot = PGX_ONESHOT;
	return expr_sql(s, f, &ls->esql, &ls->evals);
}

int store__pg_hosts_each(struct store *st, const struct store_host_filter *f,
                         int (*cb)(void *ctx, struct store_host *h), void *ctx)
{
	struct store_pg *s = store__pg(st);
	char lasthex[35] = "\\x";
	int64_t last_id = 0;
	struct page *pg = NULL;
	struct listing ls;
	int opened = 0, none, r;

	if ((r = listing_init(s, f, &ls, &none)) != 0 || none)
		goto out;
	if (!(pg = calloc(1, sizeof(*pg)))) {
		r = store__set_err(st, SDB_ENOMEM, "listing hosts: out of memory");
		goto out;
	}
	if ((r = store__pg_read_begin(s, &opened)) != 0)
		goto out;
	for (;;) {
		PGresult *q = NULL;
		int n, i;

		if ((r = page_query(s, f, &ls, lasthex, last_id, &q)) != 0)
			break;
		n = PQntuples(q);
		pg->n = 0;
		for (i = 0; i < n && r == 0; i++) {
			r = load_host(s, q, i, &pg->h[pg->n]);
			if (r == 0)
				pg->n++;
		}
		if (n > 0) {
			const char *k = store__pg_col(q, n - 1, 1);
			snprintf(lasthex, sizeof(lasthex), "\\x%s", k ? k : "");
			last_id = store__pg_i64(q, n - 1, 0);
		}
		PQclear(q);
		if (r == 0 && pg->n > 0)
			r = load_children(s, pg, f->job_id == 0, ls.fl);
		for (i = 0; i < pg->n && r == 0; i++) {
			struct store_host *h = pg->h[i];
			pg->h[i] = NULL;
			r = cb(ctx, h); /* cb owns h */
		}
		page_free(pg, 0);
		if (r != 0 || n < HOSTS_PAGE)
			break;
	}
	store__pg_read_end(s, opened);
out:
	if (pg)
		page_free(pg, 0);
	free(pg);
	buf_free(&ls.esql);
	buf_free(&ls.evals);
	return r;
}

/* ---- top values ------------------------------------------------------------------ */

/* store_top_values: the value, its count, more joins, a non-empty test. */
static const char *const top_sql[][4] = {
    [STORE_TOP_SERVICE] = {"p.service", "count(*)", "", " AND p.service <> ''"},
    [STORE_TOP_PRODUCT] = {"p.product", "count(*)", "", " AND p.product <> ''"},
    [STORE_TOP_PORT] = {"p.port::text || '/' || coalesce(p.protocol, '?')", "count(*)", "", ""},
    [STORE_TOP_OS] = {"hh.os_name", "count(DISTINCT hh.id)", "", " AND hh.os_name <> ''"},
    /* the current state keeps no cpe: the probing scan's port row */
    [STORE_TOP_CPE] = {"j.value", "count(*)",
                       " CROSS JOIN LATERAL (SELECT pr.cpe FROM ports pr"
                       "  WHERE pr.job_id = p.job_id AND pr.host_id = p.host_id"
                       "  AND pr.protocol = p.protocol AND pr.port = p.port OFFSET 0) pr"
                       " CROSS JOIN LATERAL jsonb_array_elements_text(pr.cpe) AS j(value)",
                       ""},
};

/* The open port rows of the hosts SQL_HOSTS_LATEST (and f's expression)
 * selects, their values grouped, into *sql; the expression's values into
 * *vals ($13, always there). */
static int top_sql_text(const struct store_host_filter *f, enum store_top_field field,
                        struct buf *sql, struct buf *vals)
{
	const char *const *t = top_sql[field];
	struct store_fsql fp = {0};
	int r;

	r = buf_append_str(sql, "WITH hh AS (" SQL_HOSTS_LATEST " AND (");
	if (r == 0)
		r = store__filter_sql(f->expr, 1, STORE_DIALECT_PG, EXPR_PARAM, sql, &fp);
	if (r == 0)
		r = buf_printf(
		    sql,
		    ")) SELECT %s, %s FROM hh CROSS JOIN LATERAL (SELECT * FROM port_state p"
		    " WHERE p.host_id = hh.id OFFSET 0) p%s WHERE p.state = 'open'"
		    " AND ($6::integer IS NULL OR p.port = $6::integer)"
		    " AND ($7::text IS NULL OR p.protocol = $7::text)"
		    " AND ($8::text IS NULL OR p.service = $8::text)%s"
		    " AND cardinality($13::text[]) >= 0 AND (",
		    t[0], t[1], t[2], t[3]);
	if (r == 0)
		r = store__filter_port_sql(f->expr, STORE_DIALECT_PG, EXPR_PARAM, sql, &fp);
	if (r == 0)
		r = buf_append_str(sql, ") GROUP BY 1");
	if (r == 0)
		r = store__fsql_pg_array(&fp, vals);
	store__fsql_free(&fp);
	return r;
}

int store__pg_top_values(struct store *st, const struct store_host_filter *f,
                         enum store_top_field field,
                         int (*cb)(void *ctx, const char *value, int64_t count), void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	struct listing ls = {0};
	unsigned char lo[16], hi[16];
	PGresult *q = NULL;
	int r;

	if (!store__host_key_range(f, lo, hi))
		return 0;
	store__pg_key_hex(lo, ls.lohex);
	store__pg_key_hex(hi, ls.hihex);
	store__host_filter_text(f, &ls.proto, &ls.status);
	buf_init(&ls.esql, (size_t)1 << 20);
	buf_init(&ls.evals, (size_t)1 << 20);
	if ((r = top_sql_text(f, field, &ls.esql, &ls.evals)) != 0) {
		r = store__set_err(st, r, "counting services: the search is too large");
		goto out;
	}
	host_params(&p, f, &ls, "\\x", 0);
	store__pg_p_text(&p, buf_str(&ls.evals));
	r = store__pg_exec(s, PG_HOSTS_LATEST, buf_str(&ls.esql), &p, PGX_ONESHOT, &q,
	                   "counting services");
	for (int i = 0; r == 0 && i < PQntuples(q); i++) {
		const char *v = store__pg_col(q, i, 0);
		if (v)
			r = cb(ctx, v, store__pg_i64(q, i, 1));
	}
	PQclear(q);
out:
	buf_free(&ls.esql);
	buf_free(&ls.evals);
	return r;
}

/* ---- jobs ---------------------------------------------------------------------- */

#define JOB_COLS                                                                                   \
	"id, kind, source, status, args, scanner, scanner_version, progress, worker_id,"           \
	" " EP("created_at") ", " EP("started_at") ", " EP(                                        \
	    "completed_at") ","                                                                    \
	                    " " EP("timeout_at") ", error, content_hash, forced::integer, "        \
	                                         "probed_scope, hosts_up,"                         \
	                                         " hosts_down, hosts_total, ports_open, elapsed,"  \
	                                         " partial::integer"

static int load_job(struct store_pg *s, const PGresult *q, int i, struct store_job **out)
{
	struct store_job *j;
	int oom = 0;

	*out = NULL;
	if (!(j = calloc(1, sizeof(*j))))
		return store__set_err(&s->base, SDB_ENOMEM, "reading jobs: out of memory");
	j->id = store__pg_i64(q, i, 0);
	j->kind = store__pg_dup(q, i, 1, &oom);
	j->source = store__pg_dup(q, i, 2, &oom);
	j->status = store__pg_dup(q, i, 3, &oom);
	j->args = store__pg_dup(q, i, 4, &oom);
	j->scanner = store__pg_dup(q, i, 5, &oom);
	j->scanner_version = store__pg_dup(q, i, 6, &oom);
	j->progress = (int)store__pg_i64(q, i, 7);
	j->worker_id = store__pg_dup(q, i, 8, &oom);
	j->created_at = store__pg_i64(q, i, 9);
	j->started_at = store__pg_i64(q, i, 10);
	j->completed_at = store__pg_i64(q, i, 11);
	j->timeout_at = store__pg_i64(q, i, 12);
	j->error = store__pg_dup(q, i, 13, &oom);
	j->content_hash = store__pg_dup(q, i, 14, &oom);
	j->forced = (int)store__pg_i64(q, i, 15);
	j->probed_scope = store__pg_dup(q, i, 16, &oom);
	j->hosts_up = store__pg_opt(q, i, 17);
	j->hosts_down = store__pg_opt(q, i, 18);
	j->hosts_total = store__pg_opt(q, i, 19);
	j->ports_open = store__pg_opt(q, i, 20);
	j->elapsed = store__pg_col(q, i, 21) ? strtod(store__pg_col(q, i, 21), NULL) : -1;
	j->partial = (int)store__pg_i64(q, i, 22);
	if (oom) {
		store_job_free(j);
		return store__set_err(&s->base, SDB_ENOMEM, "reading jobs: out of memory");
	}
	*out = j;
	return 0;
}

int store__pg_jobs_each(struct store *st, const char *status,
                        int (*cb)(void *ctx, struct store_job *j), void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *q = NULL;
	int r;

	if (status) {
		store__pg_p_text(&p, status);
		r = store__pg_exec(s, PG_JOBS_BY_STATUS,
		                   "SELECT " JOB_COLS " FROM jobs WHERE status = $1::text"
		                   " ORDER BY created_at DESC, id DESC",
		                   &p, PGX_ONESHOT, &q, "listing jobs");
	} else {
		r = store__pg_exec(s, PG_JOBS_ALL,
		                   "SELECT " JOB_COLS
		                   " FROM jobs ORDER BY created_at DESC, id DESC",
		                   NULL, 0, &q, "listing jobs");
	}
	if (r != 0)
		return r;
	for (int i = 0; i < PQntuples(q) && r == 0; i++) {
		struct store_job *j;

		if ((r = load_job(s, q, i, &j)) == 0)
			r = cb(ctx, j);
	}
	PQclear(q);
	return r;
}

int store__pg_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                          size_t *n)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	struct store_script *v = NULL;
	PGresult *q = NULL;
	int cnt, oom = 0, r;

	store__pg_p_int(&p, job_id);
	store__pg_p_text(&p, post ? "post" : "pre");
	if ((r = store__pg_exec(s, PG_RUN_SCRIPTS,
	                        "SELECT script_id, output FROM run_scripts"
	                        " WHERE job_id = $1::bigint AND phase = $2::text ORDER BY seq",
	                        &p, 0, &q, "reading the scripts of job %lld", (long long)job_id)) !=
	    0)
		return r;
	cnt = PQntuples(q);
	if (cnt > 0 && !(v = calloc((size_t)cnt, sizeof(*v))))
		oom = 1;
	for (int i = 0; i < cnt && !oom; i++) {
		v[i].id = store__pg_dup(q, i, 0, &oom);
		v[i].output = store__pg_dup(q, i, 1, &oom);
	}
	PQclear(q);
	if (oom) {
		store_scripts_free(v, v ? (size_t)cnt : 0);
		return store__set_err(st, SDB_ENOMEM,
		                      "reading the scripts of job %lld: out of memory",
		                      (long long)job_id);
	}
	*out = v;
	*n = (size_t)cnt;
	return 0;
}

int store__pg_job_get(struct store *st, int64_t id, struct store_job **out)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *q = NULL;
	int r;

	*out = NULL;
	store__pg_p_int(&p, id);
	if ((r = store__pg_exec(s, PG_JOB_GET,
	                        "SELECT " JOB_COLS " FROM jobs WHERE id = $1::bigint", &p,
	                        PGX_NOFLUSH /* jobs rows are never buffered */, &q,
	                        "reading job %lld", (long long)id)) != 0)
		return r;
	if (PQntuples(q) == 1)
		r = load_job(s, q, 0, out);
	else
		r = store__set_err(st, SDB_ENOTFOUND, "no job with id %lld", (long long)id);
	PQclear(q);
	return r;
}
