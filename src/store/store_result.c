/*
 * store_result.c - the owned query results of store.h (struct store_host,
 * struct store_job, struct store_event): freeing them, and viewing a stored
 * host as a record.  Backend-independent: every backend fills these structs
 * with malloc'ed copies that these functions release.  Also what both
 * backends make of a host filter (its key range, the text its protocol and
 * status compare with) and the store_history_scans builder over rows.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"
#include "store/store_int.h"

void store_scripts_free(struct store_script *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].output);
	}
	free(v);
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void port_free_fields(struct store_port *p)
{
	free(p->protocol);
	free(p->state);
	free(p->reason);
	free(p->service);
	free(p->product);
	free(p->version);
	free(p->extrainfo);
	free(p->ostype);
	free(p->method);
	free(p->tunnel);
	strings_free(p->cpes, p->ncpes);
	store_scripts_free(p->scripts, p->nscripts);
}

void store_host_free(struct store_host *h)
{
	if (!h)
		return;
	free(h->addr);
	free(h->status);
	free(h->reason);
	strings_free(h->hostnames, h->nhostnames);
	free(h->mac);
	free(h->mac_vendor);
	free(h->os);
	strings_free(h->osmatches, h->nosmatches);
	free(h->os_family);
	free(h->os_vendor);
	free(h->os_gen);
	free(h->os_type);
	free(h->os_cpe);
	free(h->lastboot);
	for (size_t i = 0; i < h->nports; i++)
		port_free_fields(&h->ports[i]);
	free(h->ports);
	for (size_t i = 0; i < h->nextraports; i++) {
		free(h->extraports[i].state);
		free(h->extraports[i].reasons);
	}
	free(h->extraports);
	store_scripts_free(h->scripts, h->nscripts);
	free(h);
}

void store_job_free(struct store_job *j)
{
	if (!j)
		return;
	free(j->kind);
	free(j->source);
	free(j->status);
	free(j->args);
	free(j->scanner);
	free(j->scanner_version);
	free(j->worker_id);
	free(j->error);
	free(j->content_hash);
	free(j->probed_scope);
	free(j);
}

void store_event_free(struct store_event *e)
{
	if (!e)
		return;
	free(e->addr);
	free(e->kind);
	free(e->protocol);
	free(e->detail);
	free(e->old_value);
	free(e->new_value);
	free(e);
}

/* The host's own fields of store_host_as_rec (no arrays); SDB_EPARSE for a
 * status that is not one. */
static int host_fields_as_rec(const struct store_host *sh, struct rec_host *h)
{
	memset(h, 0, sizeof(*h));
	if (rec_host_status_parse(sh->status, &h->status) != 0)
		return SDB_EPARSE;
	h->reason = sh->reason;
	h->reason_ttl = -1;
	h->addr = sh->addr;
	h->family = sh->family;
	h->mac = sh->mac;
	h->mac_vendor = sh->mac_vendor;
	if (sh->os) {
		h->has_os = 1;
		h->os.name = sh->os;
		h->os.accuracy = sh->os_accuracy;
		h->os.vendor = sh->os_vendor;
		h->os.family = sh->os_family;
		h->os.gen = sh->os_gen;
		h->os.type = sh->os_type;
		h->os.cpe = sh->os_cpe;
	}
	h->osmatches = (const char *const *)sh->osmatches;
	h->nosmatches = sh->nosmatches;
	h->uptime_seconds = sh->uptime;
	h->lastboot = sh->lastboot;
	h->distance = sh->distance;
	return 0;
}

/* Port sp as a record into *p, its scripts into v->scripts from *k on. */
static int port_as_rec(const struct store_port *sp, struct store_host_rec *v, size_t *k,
                       struct rec_port *p)
{
	memset(p, 0, sizeof(*p));
	if (rec_proto_parse(sp->protocol, &p->proto) != 0 ||
	    rec_port_state_parse(sp->state, &p->state) != 0)
		return SDB_EPARSE;
	p->port = sp->port;
	p->reason = sp->reason;
	p->reason_ttl = sp->reason_ttl;
	p->has_service =
	    sp->service || sp->product || sp->version || sp->extrainfo || sp->tunnel || sp->method;
	p->service = (struct rec_service){.name = sp->service,
	                                  .product = sp->product,
	                                  .version = sp->version,
	                                  .extrainfo = sp->extrainfo,
	                                  .ostype = sp->ostype,
	                                  .method = sp->method,
	                                  .tunnel = sp->tunnel,
	                                  .conf = sp->conf,
	                                  .cpes = (const char *const *)sp->cpes,
	                                  .ncpes = sp->ncpes};
	p->scripts = v->scripts ? v->scripts + *k : NULL;
	p->nscripts = sp->nscripts;
	for (size_t j = 0; j < sp->nscripts; j++, ++*k)
		v->scripts[*k] = (struct rec_script){sp->scripts[j].id, sp->scripts[j].output};
	return 0;
}

int store_host_as_rec(const struct store_host *sh, struct store_host_rec *v)
{
	struct rec_host *h = &v->h;
	size_t nscripts = sh->nscripts, k = 0;
	int r;

	for (size_t i = 0; i < sh->nports; i++)
		nscripts += sh->ports[i].nscripts;
	if (VEC_RESERVE(v->names, v->names_cap, sh->nhostnames, 16) != 0 ||
	    VEC_RESERVE(v->ports, v->ports_cap, sh->nports, 16) != 0 ||
	    VEC_RESERVE(v->scripts, v->scripts_cap, nscripts, 16) != 0 ||
	    VEC_RESERVE(v->extra, v->extra_cap, sh->nextraports, 16) != 0)
		return SDB_ENOMEM;
	if ((r = host_fields_as_rec(sh, h)) != 0)
		return r;
	for (size_t i = 0; i < sh->nhostnames; i++)
		v->names[i] = (struct rec_hostname){.name = sh->hostnames[i]};
	h->hostnames = v->names;
	h->nhostnames = sh->nhostnames;
	for (size_t i = 0; i < sh->nextraports; i++) {
		v->extra[i] = (struct rec_extraports){.count = sh->extraports[i].count,
		                                      .reasons = sh->extraports[i].reasons};
		if (rec_port_state_parse(sh->extraports[i].state, &v->extra[i].state) != 0)
			return SDB_EPARSE;
	}
	h->extraports = v->extra;
	h->nextraports = sh->nextraports;
	for (size_t i = 0; i < sh->nscripts; i++, k++)
		v->scripts[k] = (struct rec_script){sh->scripts[i].id, sh->scripts[i].output};
	h->scripts = v->scripts;
	h->nscripts = sh->nscripts;
	for (size_t i = 0; i < sh->nports; i++)
		if ((r = port_as_rec(&sh->ports[i], v, &k, &v->ports[i])) != 0)
			return r;
	h->ports = v->ports;
	h->nports = sh->nports;
	return 0;
}

void store_host_rec_free(struct store_host_rec *v)
{
	free(v->names);
	free(v->ports);
	free(v->scripts);
	free(v->extra);
	memset(v, 0, sizeof(*v));
}

struct store_port *store__host_port(struct store_host *h, const char *proto, int port)
{
	size_t lo = 0, hi = h->nports;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		struct store_port *p = &h->ports[mid];
		int c = strcmp(p->protocol, proto);

		if (c == 0)
			c = p->port < port ? -1 : p->port > port;
		if (c == 0)
			return p;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int store__host_key_range(const struct store_host_filter *f, unsigned char lo[16],
                          unsigned char hi[16])
{
	unsigned char key[16];

	memset(lo, 0x00, 16);
	memset(hi, 0xff, 16);
	if (f->has_net) {
		memcpy(lo, f->net_lo, 16);
		memcpy(hi, f->net_hi, 16);
	}
	store__filter_narrow(f->expr, lo, hi);
	if (memcmp(lo, hi, 16) > 0)
		return 0;
	if (f->addr) {
		/* canonical addresses only: one that does not parse is in no row */
		if (addr_parse(f->addr, NULL, NULL, key) != 0)
			return 0;
		if (memcmp(key, lo, 16) < 0 || memcmp(key, hi, 16) > 0)
			return 0;
		memcpy(lo, key, 16);
		memcpy(hi, key, 16);
	}
	return 1;
}

void store__host_filter_text(const struct store_host_filter *f, const char **protocol,
                             const char **status)
{
	*protocol = f->protocol == REC_PROTO_ANY ? NULL : rec_proto_name(f->protocol);
	*status = f->status == REC_HOST_ANY ? NULL : rec_host_status_name(f->status);
}

/* ---- store_history_scans: scans built from rows (store_int.h) ------------ */

/* A script row waiting for its scan's ports to be sorted. */
struct pending_script {
	char *proto; /* NULL: a host script */
	int port;
	long long id;
	char *sid, *output;
};

struct store__scan_slot {
	struct store_host *h;
	char *scope;
	size_t ports_cap, extra_cap;
	struct pending_script *scripts;
	size_t nscripts, scripts_cap;
};

static void slot_clear(struct store__scan_slot *sl)
{
	store_host_free(sl->h);
	free(sl->scope);
	for (size_t i = 0; i < sl->nscripts; i++) {
		free(sl->scripts[i].proto);
		free(sl->scripts[i].sid);
		free(sl->scripts[i].output);
	}
	free(sl->scripts);
	memset(sl, 0, sizeof(*sl));
}

/* A number column (NULL or not a number: dflt). */
static long long row_num(const char *s, long long dflt)
{
	char *end;
	long long v;

	if (!s || !*s)
		return dflt;
	v = strtoll(s, &end, 10);
	return *end ? dflt : v;
}

static char *dup_or_null(const char *s, int *oom)
{
	char *c;

	if (!s)
		return NULL;
	if (!(c = strdup(s)))
		*oom = 1;
	return c;
}

int store__scan_key_find(const struct store_scan_key *k, size_t n, int64_t host_id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (k[mid].host_id == host_id)
			return (int)mid;
		if (k[mid].host_id < host_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int store__scan_rows_begin(struct store__scan_rows *b, size_t n)
{
	store__scan_rows_free(b);
	if (n && !(b->v = calloc(n, sizeof(*b->v))))
		return store__set_err(b->st, SDB_ENOMEM, "reading scans: out of memory");
	b->n = n;
	return 0;
}

void store__scan_rows_free(struct store__scan_rows *b)
{
	for (size_t i = 0; i < b->n; i++)
		slot_clear(&b->v[i]);
	free(b->v);
	b->v = NULL;
	b->n = 0;
}

static int row_scan(struct store__scan_slot *sl, int64_t host_id, int64_t job_id, int64_t at,
                    const char *const *c)
{
	struct store_host *h;
	int oom = 0, r;

	slot_clear(sl);
	if (!(h = calloc(1, sizeof(*h))))
		return SDB_ENOMEM;
	sl->h = h;
	h->id = host_id;
	h->job_id = job_id;
	h->scanned_at = at;
	h->os_accuracy = h->distance = -1;
	h->uptime = -1;
	h->status = dup_or_null(c[0], &oom);
	h->reason = dup_or_null(c[1], &oom);
	h->mac = dup_or_null(c[2], &oom);
	h->os = dup_or_null(c[4], &oom);
	sl->scope = dup_or_null(c[5], &oom);
	if (oom)
		return SDB_ENOMEM;
	if (!h->status)
		return SDB_EDB;
	r = store__json_strings(c[3], &h->hostnames, &h->nhostnames);
	return r == SDB_ENOMEM ? r : r ? SDB_EPARSE : 0;
}

static int row_port(struct store__scan_slot *sl, const char *const *c)
{
	struct store_host *h = sl->h;
	struct store_port *p;
	int oom = 0;

	if (VEC_RESERVE(h->ports, sl->ports_cap, h->nports + 1, 16) != 0)
		return SDB_ENOMEM;
	p = &h->ports[h->nports++];
	memset(p, 0, sizeof(*p));
	p->reason_ttl = p->conf = -1;
	p->protocol = dup_or_null(c[0], &oom);
	p->port = (int)row_num(c[1], 0);
	p->state = dup_or_null(c[2], &oom);
	p->reason = dup_or_null(c[3], &oom);
	p->service = dup_or_null(c[4], &oom);
	p->product = dup_or_null(c[5], &oom);
	p->version = dup_or_null(c[6], &oom);
	p->extrainfo = dup_or_null(c[7], &oom);
	p->tunnel = dup_or_null(c[8], &oom);
	p->method = dup_or_null(c[9], &oom);
	return oom || !p->protocol || !p->state ? SDB_ENOMEM : 0;
}

static int row_extra(struct store__scan_slot *sl, const char *const *c)
{
	struct store_host *h = sl->h;
	struct store_extraports *e;
	int oom = 0;

	if (VEC_RESERVE(h->extraports, sl->extra_cap, h->nextraports + 1, 16) != 0)
		return SDB_ENOMEM;
	e = &h->extraports[h->nextraports++];
	memset(e, 0, sizeof(*e));
	e->state = dup_or_null(c[0], &oom);
	e->count = (long)row_num(c[1], 0);
	return oom || !e->state ? SDB_ENOMEM : 0;
}

static int row_script(struct store__scan_slot *sl, const char *const *c)
{
	struct pending_script *ps;
	int oom = 0;

	if (VEC_RESERVE(sl->scripts, sl->scripts_cap, sl->nscripts + 1, 16) != 0)
		return SDB_ENOMEM;
	ps = &sl->scripts[sl->nscripts++];
	memset(ps, 0, sizeof(*ps));
	ps->proto = dup_or_null(c[0], &oom);
	ps->port = (int)row_num(c[1], -1);
	ps->sid = dup_or_null(c[2], &oom);
	ps->output = dup_or_null(c[3] ? c[3] : "", &oom);
	ps->id = row_num(c[4], 0);
	return oom || !ps->sid ? SDB_ENOMEM : 0;
}

int store__scan_rows_add(struct store__scan_rows *b, size_t slot, int64_t host_id, int64_t job_id,
                         int64_t at, enum store__row_kind kind, const char *const *c)
{
	struct store__scan_slot *sl;
	int r;

	if (slot >= b->n)
		return 0;
	sl = &b->v[slot];
	if (kind == STORE__ROW_SCAN)
		r = row_scan(sl, host_id, job_id, at, c);
	else if (!sl->h || sl->h->id != host_id || sl->h->job_id != job_id)
		return 0; /* a child of a scan that is not there */
	else if (kind == STORE__ROW_PORT)
		r = row_port(sl, c);
	else if (kind == STORE__ROW_EXTRA)
		r = row_extra(sl, c);
	else
		r = row_script(sl, c);
	if (r == SDB_ENOMEM)
		return store__set_err(b->st, r, "reading scan %lld of host %lld: out of memory",
		                      (long long)job_id, (long long)host_id);
	if (r != 0)
		return store__set_err(b->st, SDB_EDB, "scan %lld of host %lld: %s",
		                      (long long)job_id, (long long)host_id,
		                      r == SDB_EPARSE ? "hostnames is not a JSON array"
		                                      : "it has no status");
	return 0;
}

static int cmp_port(const void *a, const void *b)
{
	const struct store_port *x = a, *y = b;
	int c = strcmp(x->protocol, y->protocol);

	return c ? c : (x->port > y->port) - (x->port < y->port);
}

static int cmp_extra(const void *a, const void *b)
{
	return strcmp(((const struct store_extraports *)a)->state,
	              ((const struct store_extraports *)b)->state);
}

static int cmp_script(const void *a, const void *b)
{
	const struct pending_script *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

/* Scripts onto the sorted ports (as hosts_each: a port script without its
 * port cannot come from the job writer, which stores ports first: skipped). */
static int slot_finish(struct store__scan_slot *sl)
{
	struct store_host *h = sl->h;

	/* (qsort wants an array, even of no element) */
	if (h->nports > 1)
		qsort(h->ports, h->nports, sizeof(*h->ports), cmp_port);
	if (h->nextraports > 1)
		qsort(h->extraports, h->nextraports, sizeof(*h->extraports), cmp_extra);
	if (sl->nscripts > 1)
		qsort(sl->scripts, sl->nscripts, sizeof(*sl->scripts), cmp_script);
	for (size_t i = 0; i < sl->nscripts; i++) {
		struct pending_script *ps = &sl->scripts[i];
		struct store_script **v = &h->scripts, *sc;
		size_t *n = &h->nscripts;
		void *nv;

		if (ps->proto) {
			struct store_port *p = store__host_port(h, ps->proto, ps->port);
			if (!p)
				continue;
			v = &p->scripts;
			n = &p->nscripts;
		}
		if (!(nv = sdb_reallocarray(*v, *n + 1, sizeof(**v))))
			return SDB_ENOMEM;
		*v = nv;
		sc = &(*v)[(*n)++];
		sc->id = ps->sid;
		sc->output = ps->output;
		ps->sid = ps->output = NULL;
	}
	return 0;
}

int store__scan_rows_end(struct store__scan_rows *b)
{
	int r = 0;

	for (size_t i = 0; i < b->n && r == 0; i++) {
		struct store__scan_slot *sl = &b->v[i];
		struct store_host *h = sl->h;

		if (!h)
			continue;
		if ((r = slot_finish(sl)) != 0) {
			r = store__set_err(b->st, r,
			                   "reading scan %lld of host %lld: out of memory",
			                   (long long)h->job_id, (long long)h->id);
			break;
		}
		sl->h = NULL;
		r = b->cb(b->ctx, h, sl->scope); /* cb owns h */
		slot_clear(sl);
	}
	return r;
}
