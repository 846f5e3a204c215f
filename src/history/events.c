/*
 * events.c - derivation of change events from one host's successive scans
 * (the rules are in events.h).  Pure: state in, events out.
 */
#include "history/events.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

static const char *const kind_names[EV__COUNT] = {
    "host_up",    "host_down",   "port_opened",      "port_closed",    "service_changed",
    "os_changed", "mac_changed", "hostname_changed", "script_changed",
};

const char *ev_kind_name(enum ev_kind k)
{
	return (unsigned)k < EV__COUNT ? kind_names[k] : "?";
}

int ev_kind_parse(const char *s, enum ev_kind *out)
{
	for (int i = 0; i < EV__COUNT; i++) {
		if (s && strcmp(s, kind_names[i]) == 0) {
			*out = (enum ev_kind)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

void ev_host_init(struct ev_host *h)
{
	memset(h, 0, sizeof(*h));
}

static void port_free(struct ev_port *p)
{
	free(p->reason);
	free(p->service);
	free(p->product);
	free(p->version);
	free(p->extrainfo);
	free(p->tunnel);
	free(p->method);
}

static void dropped_free(struct ev_host *h)
{
	for (size_t i = 0; i < h->ndropped; i++)
		free(h->dropped[i]);
	h->ndropped = 0;
}

void ev_host_free(struct ev_host *h)
{
	for (size_t i = 0; i < h->nports; i++)
		port_free(&h->ports[i]);
	for (size_t i = 0; i < h->nscripts; i++) {
		free(h->scripts[i].id);
		if (!h->scripts[i].borrowed)
			free(h->scripts[i].output);
	}
	dropped_free(h);
	free(h->dropped);
	free(h->sidx);
	free(h->ports);
	free(h->scripts);
	free(h->os);
	free(h->mac);
	free(h->hostnames);
	ev_host_init(h);
}

/* Replace *dst with a copy of src (NULL allowed). */
static int set_str(char **dst, const char *src)
{
	char *c = NULL;

	if (src && !(c = strdup(src)))
		return SDB_ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

static int streq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int port_cmp(int pa, int na, int pb, int nb)
{
	if (pa != pb)
		return pa < pb ? -1 : 1;
	return na < nb ? -1 : na > nb;
}

/* Index of (proto, port) in h->ports, or where it would go (*found = 0). */
static size_t port_find(const struct ev_host *h, int proto, int port, int *found)
{
	size_t lo = 0, hi = h->nports;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = port_cmp((int)h->ports[mid].proto, h->ports[mid].port, proto, port);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/* Insert a zeroed port at position i; returns it or NULL. */
static struct ev_port *port_insert_at(struct ev_host *h, size_t i)
{
	if (h->nports == h->cap) {
		size_t ncap = h->cap ? h->cap * 2 : 16;
		struct ev_port *np = sdb_reallocarray(h->ports, ncap, sizeof(*np));
		if (!np)
			return NULL;
		h->ports = np;
		h->cap = ncap;
	}
	memmove(&h->ports[i + 1], &h->ports[i], (h->nports - i) * sizeof(h->ports[0]));
	memset(&h->ports[i], 0, sizeof(h->ports[0]));
	h->nports++;
	return &h->ports[i];
}

int ev_host_put_port(struct ev_host *h, const struct ev_port *p)
{
	struct ev_port *d;
	int found, r;
	size_t i = port_find(h, (int)p->proto, p->port, &found);

	if (found) {
		port_free(&h->ports[i]);
		d = &h->ports[i];
		memset(d, 0, sizeof(*d));
	} else if (!(d = port_insert_at(h, i))) {
		return SDB_ENOMEM;
	}
	*d = *p;
	d->reason = d->service = d->product = d->version = d->extrainfo = d->tunnel = d->method =
	    NULL;
	if ((r = set_str(&d->reason, p->reason)) || (r = set_str(&d->service, p->service)) ||
	    (r = set_str(&d->product, p->product)) || (r = set_str(&d->version, p->version)) ||
	    (r = set_str(&d->extrainfo, p->extrainfo)) || (r = set_str(&d->tunnel, p->tunnel)) ||
	    (r = set_str(&d->method, p->method)))
		return r;
	return 0;
}

/* Scripts are found through a hash index (a host may have 65,536 of them:
 * a linear search per script was quadratic). */
static size_t script_hash(int proto, int port, const char *id)
{
	uint64_t x = 1469598103934665603ULL;

	x = (x ^ (uint64_t)(proto + 1)) * 1099511628211ULL;
	x = (x ^ (uint64_t)(port + 1)) * 1099511628211ULL;
	for (; *id; id++)
		x = (x ^ (unsigned char)*id) * 1099511628211ULL;
	return (size_t)(x ^ (x >> 29));
}

static void sidx_put(struct ev_host *h, size_t i)
{
	const struct ev_script *s = &h->scripts[i];
	size_t mask = h->sidx_cap - 1, k = script_hash(s->proto, s->port, s->id) & mask;

	while (h->sidx[k])
		k = (k + 1) & mask;
	h->sidx[k] = (uint32_t)(i + 1);
}

/* Room in the index for one more script.  0 or SDB_ENOMEM. */
static int sidx_reserve(struct ev_host *h)
{
	size_t cap = h->sidx_cap ? h->sidx_cap : 16;
	uint32_t *v;

	while ((h->nscripts + 1) * 2 > cap)
		cap *= 2;
	if (cap == h->sidx_cap)
		return 0;
	if (h->nscripts + 1 > UINT32_MAX || !(v = calloc(cap, sizeof(*v))))
		return SDB_ENOMEM;
	free(h->sidx);
	h->sidx = v;
	h->sidx_cap = cap;
	for (size_t i = 0; i < h->nscripts; i++)
		sidx_put(h, i);
	return 0;
}

static struct ev_script *script_find(struct ev_host *h, int proto, int port, const char *id)
{
	size_t mask = h->sidx_cap - 1, k;

	if (!h->sidx_cap)
		return NULL;
	for (k = script_hash(proto, port, id) & mask; h->sidx[k]; k = (k + 1) & mask) {
		struct ev_script *s = &h->scripts[h->sidx[k] - 1];
		if (s->proto == proto && s->port == port && strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

/* The entry of (proto, port, id), added with no output if missing. */
static struct ev_script *script_entry(struct ev_host *h, int proto, int port, const char *id)
{
	struct ev_script *s = script_find(h, proto, port, id);

	if (!s) {
		if (sidx_reserve(h) != 0)
			return NULL;
		if (h->nscripts == h->scap) {
			size_t ncap = h->scap ? h->scap * 2 : 8;
			struct ev_script *ns = sdb_reallocarray(h->scripts, ncap, sizeof(*ns));
			if (!ns)
				return NULL;
			h->scripts = ns;
			h->scap = ncap;
		}
		s = &h->scripts[h->nscripts];
		memset(s, 0, sizeof(*s));
		s->proto = proto;
		s->port = port;
		if (!(s->id = strdup(id)))
			return NULL;
		sidx_put(h, h->nscripts++);
	}
	return s;
}

/* Let go of s's output: kept in h->dropped until the next ev_step (an
 * event may point at it), or freed at once (`now`).  0 or SDB_ENOMEM. */
static int script_drop(struct ev_host *h, struct ev_script *s, int now)
{
	if (s->borrowed || !s->output || now) {
		if (!s->borrowed)
			free(s->output);
		goto out;
	}
	if (h->ndropped == h->cdropped) {
		size_t ncap = h->cdropped ? h->cdropped * 2 : 8;
		char **nv = sdb_reallocarray(h->dropped, ncap, sizeof(*nv));

		if (!nv)
			return SDB_ENOMEM;
		h->dropped = nv;
		h->cdropped = ncap;
	}
	h->dropped[h->ndropped++] = s->output;
out:
	s->output = NULL;
	s->borrowed = 0;
	return 0;
}

/* s's output becomes `output`: borrowed (h->borrow) or copied; the old one
 * is dropped (kept until the next step). */
static int script_set(struct ev_host *h, struct ev_script *s, const char *output)
{
	char *c = (char *)output;
	int r;

	if (!h->borrow && !(c = strdup(output)))
		return SDB_ENOMEM;
	if ((r = script_drop(h, s, 0)) != 0) {
		if (!h->borrow)
			free(c);
		return r;
	}
	s->output = c;
	s->borrowed = h->borrow;
	return 0;
}

int ev_host_put_script(struct ev_host *h, int proto, int port, const char *id, const char *output,
                       int64_t job_id)
{
	struct ev_script *s = script_entry(h, proto, port, id);
	char *c;

	if (!s || !(c = strdup(output ? output : "")))
		return SDB_ENOMEM;
	script_drop(h, s, 1);
	s->output = c;
	s->job_id = job_id;
	return 0;
}

int ev_host_own(struct ev_host *h)
{
	for (size_t i = 0; i < h->nscripts; i++) {
		struct ev_script *s = &h->scripts[i];
		char *c;

		if (!s->borrowed)
			continue;
		if (!(c = strdup(s->output)))
			return SDB_ENOMEM;
		s->output = c;
		s->borrowed = 0;
	}
	dropped_free(h);
	return 0;
}

int ev_host_copy(struct ev_host *dst, const struct ev_host *src)
{
	int r = 0;

	ev_host_free(dst);
	dst->known = src->known;
	dst->stored = src->stored;
	dst->status = src->status;
	dst->job_id = src->job_id;
	dst->at = src->at;
	dst->attrs_dirty = src->attrs_dirty;
	if ((r = set_str(&dst->os, src->os)) != 0 || (r = set_str(&dst->mac, src->mac)) != 0 ||
	    (r = set_str(&dst->hostnames, src->hostnames)) != 0)
		goto fail;
	if (src->nports) {
		if (!(dst->ports = calloc(src->nports, sizeof(*dst->ports)))) {
			r = SDB_ENOMEM;
			goto fail;
		}
		dst->cap = src->nports;
		/* in order: ports stay sorted */
		for (size_t i = 0; i < src->nports; i++) {
			dst->ports[i] = src->ports[i];
			dst->ports[i].reason = dst->ports[i].service = dst->ports[i].product =
			    dst->ports[i].version = dst->ports[i].extrainfo = dst->ports[i].tunnel =
			        dst->ports[i].method = NULL;
			dst->nports = i + 1;
			if ((r = set_str(&dst->ports[i].reason, src->ports[i].reason)) ||
			    (r = set_str(&dst->ports[i].service, src->ports[i].service)) ||
			    (r = set_str(&dst->ports[i].product, src->ports[i].product)) ||
			    (r = set_str(&dst->ports[i].version, src->ports[i].version)) ||
			    (r = set_str(&dst->ports[i].extrainfo, src->ports[i].extrainfo)) ||
			    (r = set_str(&dst->ports[i].tunnel, src->ports[i].tunnel)) ||
			    (r = set_str(&dst->ports[i].method, src->ports[i].method)))
				goto fail;
		}
	}
	for (size_t i = 0; i < src->nscripts; i++) {
		const struct ev_script *sc = &src->scripts[i];
		if ((r = ev_host_put_script(dst, sc->proto, sc->port, sc->id, sc->output,
		                            sc->job_id)) != 0)
			goto fail;
	}
	return 0;
fail:
	ev_host_free(dst);
	return r;
}

int ev_host_same(const struct ev_host *a, const struct ev_host *b)
{
	if (a->known != b->known || a->status != b->status || a->job_id != b->job_id ||
	    a->at != b->at || !streq(a->os, b->os) || !streq(a->mac, b->mac) ||
	    !streq(a->hostnames, b->hostnames) || a->nports != b->nports ||
	    a->nscripts != b->nscripts)
		return 0;
	for (size_t i = 0; i < a->nports; i++) {
		const struct ev_port *p = &a->ports[i], *q = &b->ports[i];
		if (p->proto != q->proto || p->port != q->port || p->state != q->state ||
		    p->job_id != q->job_id || !streq(p->service, q->service) ||
		    !streq(p->product, q->product) || !streq(p->version, q->version) ||
		    !streq(p->extrainfo, q->extrainfo) || !streq(p->tunnel, q->tunnel) ||
		    !streq(p->method, q->method))
			return 0;
	}
	/* scripts: the same set (each is unique by protocol, port and id) */
	for (size_t i = 0; i < a->nscripts; i++) {
		const struct ev_script *s = &a->scripts[i];
		const struct ev_script *t =
		    script_find((struct ev_host *)b, s->proto, s->port, s->id);
		if (!t || t->job_id != s->job_id || strcmp(t->output, s->output) != 0)
			return 0;
	}
	return 1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *ev_hostnames(const struct rec_host *scan)
{
	const char **names;
	struct buf b;
	size_t n = scan->nhostnames;

	if (n == 0)
		return NULL;
	if (!(names = calloc(n, sizeof(*names))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		names[i] = scan->hostnames[i].name ? scan->hostnames[i].name : "";
	qsort(names, n, sizeof(*names), cmp_str);
	buf_init(&b, (size_t)1 << 20);
	for (size_t i = 0; i < n; i++) {
		if ((i > 0 && strcmp(names[i], names[i - 1]) == 0) || !names[i][0])
			continue;
		if ((b.len && buf_append_char(&b, ',') != 0) || buf_append_str(&b, names[i]) != 0) {
			buf_free(&b);
			free(names);
			return NULL;
		}
	}
	free(names);
	if (!b.len) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

/* "name product version extrainfo (tunnel)" as a person reads it. */
static char *service_text(const char *tunnel, const char *name, const char *product,
                          const char *version, const char *extrainfo)
{
	struct buf b;
	const char *parts[] = {name, product, version};

	buf_init(&b, (size_t)1 << 16);
	if (tunnel && *tunnel)
		buf_printf(&b, "%s/", tunnel);
	for (size_t i = 0; i < 3; i++)
		if (parts[i] && *parts[i])
			buf_printf(&b, "%s%s", b.len && b.data[b.len - 1] != '/' ? " " : "",
			           parts[i]);
	if (extrainfo && *extrainfo)
		buf_printf(&b, "%s(%s)", b.len ? " " : "", extrainfo);
	return buf_steal(&b);
}

struct step {
	struct ev_host *h;
	int64_t job_id, at;
	int64_t prev_job; /* the host's previous scan */
	ev_emit_fn emit;
	void *ctx;
};

static int emit(struct step *s, enum ev_kind kind, int proto, int port, const char *detail,
                const char *old_value, const char *new_value, int64_t prev_job)
{
	struct ev_event e = {
	    .kind = kind,
	    .proto = proto,
	    .port = port,
	    .detail = detail,
	    .old_value = old_value,
	    .new_value = new_value,
	    .job_id = s->job_id,
	    .prev_job_id = prev_job,
	    .at = s->at,
	};

	return s->emit ? s->emit(s->ctx, &e) : 0;
}

/* States that do not say whether the port is open. */
static int ambiguous(enum rec_port_state st)
{
	return st == REC_PORT_UNFILTERED || st == REC_PORT_OPEN_FILTERED;
}

static int is_probed(const char *method)
{
	return method && strcmp(method, "probed") == 0;
}

/* A service change, compared at the same level of detail only. */
static int service_differs(const struct ev_port *cur, const struct rec_port *p)
{
	const char *method = p->has_service ? p->service.method : NULL;

	if (!p->has_service || !cur->service)
		return 0;
	if (is_probed(cur->method) != is_probed(method))
		return 0;
	if (!streq(cur->service, p->service.name))
		return 1;
	if (!is_probed(method))
		return 0;
	return !streq(cur->product, p->service.product) ||
	       !streq(cur->version, p->service.version) ||
	       !streq(cur->extrainfo, p->service.extrainfo) ||
	       !streq(cur->tunnel, p->service.tunnel);
}

/* Replace *dst with src if they differ. */
static int set_if(char **dst, const char *src)
{
	if (streq(*dst, src))
		return 0;
	return set_str(dst, src);
}

static int take_service(struct ev_port *cur, const struct rec_port *p)
{
	int r;

	if (!p->has_service) {
		/* an open port keeps what we knew of it; a port that is not
		 * open does not claim a service the scan did not see */
		if (p->state == REC_PORT_OPEN)
			return 0;
		if ((r = set_if(&cur->service, NULL)) || (r = set_if(&cur->product, NULL)) ||
		    (r = set_if(&cur->version, NULL)) || (r = set_if(&cur->extrainfo, NULL)) ||
		    (r = set_if(&cur->tunnel, NULL)) || (r = set_if(&cur->method, NULL)))
			return r;
		return 0;
	}
	/* keep version detection results when a later scan only had the
	 * port table's guess */
	if (is_probed(cur->method) && !is_probed(p->service.method) &&
	    streq(cur->service, p->service.name))
		return 0;
	if ((r = set_if(&cur->service, p->service.name)) ||
	    (r = set_if(&cur->product, p->service.product)) ||
	    (r = set_if(&cur->version, p->service.version)) ||
	    (r = set_if(&cur->extrainfo, p->service.extrainfo)) ||
	    (r = set_if(&cur->tunnel, p->service.tunnel)) ||
	    (r = set_if(&cur->method, p->service.method)))
		return r;
	return 0;
}

/* One listed port of the scan. */
static int step_port(struct step *s, const struct rec_port *p, int host_is_new)
{
	struct ev_host *h = s->h;
	struct ev_port *cur;
	int found, r, was_open, now_open = p->state == REC_PORT_OPEN;
	size_t i = port_find(h, (int)p->proto, p->port, &found);
	int64_t prev_job;

	if (!found) {
		if (!(cur = port_insert_at(h, i)))
			return SDB_ENOMEM;
		cur->proto = p->proto;
		cur->port = p->port;
		cur->state = p->state;
		if (now_open && !host_is_new &&
		    (r = emit(s, EV_PORT_OPENED, (int)p->proto, p->port, NULL, NULL, "open",
		              s->prev_job)) != 0)
			return r;
	} else {
		cur = &h->ports[i];
		was_open = cur->state == REC_PORT_OPEN;
		prev_job = cur->job_id;
		/* an ACK scan's "unfiltered", a FIN/NULL/Xmas or UDP scan's
		 * "open|filtered" cannot tell an open port from another: no
		 * news about a port known open */
		if (was_open && ambiguous(p->state))
			return 0;
		if (now_open && !was_open) {
			r = emit(s, EV_PORT_OPENED, (int)p->proto, p->port, NULL,
			         rec_port_state_name(cur->state), "open", prev_job);
			if (r)
				return r;
		} else if (!now_open && was_open) {
			r = emit(s, EV_PORT_CLOSED, (int)p->proto, p->port, NULL, "open",
			         rec_port_state_name(p->state), prev_job);
			if (r)
				return r;
		} else if (now_open && service_differs(cur, p)) {
			char *o = service_text(cur->tunnel, cur->service, cur->product,
			                       cur->version, cur->extrainfo);
			char *n =
			    service_text(p->service.tunnel, p->service.name, p->service.product,
			                 p->service.version, p->service.extrainfo);
			r = o && n ? emit(s, EV_SERVICE_CHANGED, (int)p->proto, p->port, NULL, o, n,
			                  prev_job)
			           : SDB_ENOMEM;
			free(o);
			free(n);
			if (r)
				return r;
		}
	}
	if (now_open) {
		if (!cur->first_seen)
			cur->first_seen = s->at;
		cur->last_seen = s->at;
		cur->closed_at = 0;
	} else if (cur->state == REC_PORT_OPEN && found) {
		cur->closed_at = s->at;
	}
	cur->state = p->state;
	cur->job_id = s->job_id;
	cur->seen_at = s->at;
	if ((r = set_if(&cur->reason, p->reason)) != 0 || (r = take_service(cur, p)) != 0)
		return r;
	cur->dirty = 1;
	return 0;
}

/* The state nmap gave the ports it did not list: its extraports. */
static enum rec_port_state unlisted_state(const struct rec_host *scan, enum rec_proto proto)
{
	const struct rec_extraports *best = NULL;

	for (size_t i = 0; i < scan->nextraports; i++) {
		const struct rec_extraports *e = &scan->extraports[i];
		/* open|filtered is what UDP scans fold; prefer it for UDP */
		if (proto == REC_PROTO_UDP && e->state == REC_PORT_OPEN_FILTERED)
			return e->state;
		if (!best || e->count > best->count)
			best = e;
	}
	if (best && best->state != REC_PORT_OPEN)
		return best->state;
	return REC_PORT_CLOSED;
}

/* Tracked ports this scan probed without listing them. */
static int step_unlisted(struct step *s, const struct scan_scope *scope,
                         const struct rec_host *scan, const unsigned char *listed)
{
	struct ev_host *h = s->h;
	int r;

	for (size_t i = 0; i < h->nports; i++) {
		struct ev_port *cur = &h->ports[i];
		enum rec_port_state st;

		if (listed[i] || !scope_covers(scope, cur->proto, cur->port))
			continue;
		st = unlisted_state(scan, cur->proto);
		if (cur->state == REC_PORT_OPEN && ambiguous(st)) {
			/* no news: it stays open, untouched */
			continue;
		}
		if (cur->state == REC_PORT_OPEN) {
			r = emit(s, EV_PORT_CLOSED, (int)cur->proto, cur->port, NULL, "open",
			         rec_port_state_name(st), cur->job_id);
			if (r)
				return r;
			cur->closed_at = s->at;
		}
		cur->dirty = 1;
		cur->state = st;
		cur->job_id = s->job_id;
		cur->seen_at = s->at;
		free(cur->reason);
		cur->reason = NULL;
	}
	return 0;
}

/* An attribute compared with the latest scan that reported it. */
static int step_attr(struct step *s, enum ev_kind kind, char **cur, const char *now)
{
	int r;

	if (!now || (*cur && strcmp(*cur, now) == 0))
		return 0;
	if (*cur && (r = emit(s, kind, -1, -1, NULL, *cur, now, s->prev_job)) != 0)
		return r;
	s->h->attrs_dirty = 1;
	return set_str(cur, now);
}

static int step_script(struct step *s, int proto, int port, const struct rec_script *sc)
{
	struct ev_script *cur = script_find(s->h, proto, port, sc->id);
	const char *out = sc->output ? sc->output : "";
	int r;

	if (cur && cur->output && strcmp(cur->output, out) == 0) {
		cur->job_id = s->job_id; /* the same output: nothing to copy */
		return 0;
	}
	if (cur && cur->output &&
	    (r = emit(s, EV_SCRIPT_CHANGED, proto, port, sc->id, cur->output, out, cur->job_id)) !=
	        0)
		return r;
	if (!cur && !(cur = script_entry(s->h, proto, port, sc->id)))
		return SDB_ENOMEM;
	/* the old output stays (h->dropped) while the event points at it */
	if ((r = script_set(s->h, cur, out)) != 0)
		return r;
	cur->job_id = s->job_id;
	return 0;
}

int ev_step(struct ev_host *h, int64_t job_id, int64_t at, const struct scan_scope *scope,
            const struct rec_host *scan, ev_emit_fn emit_fn, void *ctx)
{
	struct step s = {
	    .h = h, .job_id = job_id, .at = at, .prev_job = h->job_id, .emit = emit_fn, .ctx = ctx};
	unsigned char *listed = NULL;
	char *names = NULL;
	int host_is_new = !h->known, r = 0;

	dropped_free(h); /* the previous step's events are gone */
	for (size_t i = 0; i < h->nports; i++)
		h->ports[i].dirty = 0;
	h->attrs_dirty = 0;
	if (host_is_new) {
		if (scan->status == REC_HOST_UP)
			r = emit(&s, EV_HOST_UP, -1, -1, NULL, NULL, "up", 0);
	} else if (h->status != scan->status &&
	           (scan->status == REC_HOST_UP || scan->status == REC_HOST_DOWN) &&
	           (h->status == REC_HOST_UP || h->status == REC_HOST_DOWN)) {
		r = emit(&s, scan->status == REC_HOST_UP ? EV_HOST_UP : EV_HOST_DOWN, -1, -1, NULL,
		         rec_host_status_name(h->status), rec_host_status_name(scan->status),
		         s.prev_job);
	}
	if (r)
		goto out;
	h->known = 1;
	/* a list scan's "unknown" says nothing about up or down */
	if (scan->status == REC_HOST_UP || scan->status == REC_HOST_DOWN ||
	    (h->status != REC_HOST_UP && h->status != REC_HOST_DOWN))
		h->status = scan->status;
	h->job_id = job_id;
	h->at = at;
	if (scan->status != REC_HOST_UP)
		goto out; /* a host that was down says nothing about the rest */

	for (size_t i = 0; i < scan->nports; i++)
		if ((r = step_port(&s, &scan->ports[i], host_is_new)) != 0)
			goto out;
	if (!(listed = calloc(h->nports ? h->nports : 1, 1))) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < scan->nports; i++) {
		int found;
		size_t k = port_find(h, (int)scan->ports[i].proto, scan->ports[i].port, &found);
		if (found)
			listed[k] = 1;
	}
	if ((r = step_unlisted(&s, scope, scan, listed)) != 0)
		goto out;

	if ((r = step_attr(&s, EV_OS_CHANGED, &h->os, scan->has_os ? scan->os.name : NULL)) != 0 ||
	    (r = step_attr(&s, EV_MAC_CHANGED, &h->mac, scan->mac)) != 0)
		goto out;
	names = ev_hostnames(scan);
	if ((r = step_attr(&s, EV_HOSTNAME_CHANGED, &h->hostnames, names)) != 0)
		goto out;
	for (size_t i = 0; i < scan->nscripts; i++)
		if ((r = step_script(&s, -1, -1, &scan->scripts[i])) != 0)
			goto out;
	for (size_t i = 0; i < scan->nports; i++)
		for (size_t k = 0; k < scan->ports[i].nscripts; k++)
			if ((r = step_script(&s, (int)scan->ports[i].proto, scan->ports[i].port,
			                     &scan->ports[i].scripts[k])) != 0)
				goto out;
out:
	free(listed);
	free(names);
	return r;
}
