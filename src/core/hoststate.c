/*
 * hoststate.c - the state scandb keeps of one host (core/hoststate.h): its
 * ports sorted by (protocol, port), its latest script outputs behind a
 * hash index, copying, comparing and loading a stored state; the names of
 * the change events.  The rules that step a state with a scan are
 * history/events.c.
 */
#include "core/hoststate.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"

static const char *const kind_names[EV__COUNT] = {
    "host_up",    "host_down",   "port_opened",      "port_closed",    "service_changed",
    "os_changed", "mac_changed", "hostname_changed", "script_changed", "host_gone",
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

void ev_host_drop_dropped(struct ev_host *h)
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
	ev_host_drop_dropped(h);
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
int ev_str_set(char **dst, const char *src)
{
	char *c = NULL;

	if (src && !(c = strdup(src)))
		return SDB_ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

int ev_str_eq(const char *a, const char *b)
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
size_t ev_host_port_find(const struct ev_host *h, int proto, int port, int *found)
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
struct ev_port *ev_host_port_insert_at(struct ev_host *h, size_t i)
{
	if (VEC_RESERVE(h->ports, h->cap, h->nports + 1, 16))
		return NULL;
	memmove(&h->ports[i + 1], &h->ports[i], (h->nports - i) * sizeof(h->ports[0]));
	memset(&h->ports[i], 0, sizeof(h->ports[0]));
	h->nports++;
	return &h->ports[i];
}

int ev_host_put_port(struct ev_host *h, const struct ev_port *p)
{
	struct ev_port *d;
	int found, r;
	size_t i = ev_host_port_find(h, (int)p->proto, p->port, &found);

	if (found) {
		port_free(&h->ports[i]);
		d = &h->ports[i];
		memset(d, 0, sizeof(*d));
	} else if (!(d = ev_host_port_insert_at(h, i))) {
		return SDB_ENOMEM;
	}
	*d = *p;
	d->reason = d->service = d->product = d->version = d->extrainfo = d->tunnel = d->method =
	    NULL;
	if ((r = ev_str_set(&d->reason, p->reason)) || (r = ev_str_set(&d->service, p->service)) ||
	    (r = ev_str_set(&d->product, p->product)) ||
	    (r = ev_str_set(&d->version, p->version)) ||
	    (r = ev_str_set(&d->extrainfo, p->extrainfo)) ||
	    (r = ev_str_set(&d->tunnel, p->tunnel)) || (r = ev_str_set(&d->method, p->method)))
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

struct ev_script *ev_host_script_find(struct ev_host *h, int proto, int port, const char *id)
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
struct ev_script *ev_host_script_entry(struct ev_host *h, int proto, int port, const char *id)
{
	struct ev_script *s = ev_host_script_find(h, proto, port, id);

	if (!s) {
		if (sidx_reserve(h) != 0)
			return NULL;
		if (VEC_RESERVE(h->scripts, h->scap, h->nscripts + 1, 8))
			return NULL;
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
	if (VEC_RESERVE(h->dropped, h->cdropped, h->ndropped + 1, 8) != 0)
		return SDB_ENOMEM;
	h->dropped[h->ndropped++] = s->output;
out:
	s->output = NULL;
	s->borrowed = 0;
	return 0;
}

/* s's output becomes `output`: borrowed (h->borrow) or copied; the old one
 * is dropped (kept until the next step). */
int ev_host_script_set(struct ev_host *h, struct ev_script *s, const char *output)
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
	struct ev_script *s = ev_host_script_entry(h, proto, port, id);
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
	ev_host_drop_dropped(h);
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
	dst->misses = src->misses;
	dst->miss_job = src->miss_job;
	dst->miss_at = src->miss_at;
	dst->gone_dirty = src->gone_dirty;
	dst->attrs_dirty = src->attrs_dirty;
	if ((r = ev_str_set(&dst->os, src->os)) != 0 ||
	    (r = ev_str_set(&dst->mac, src->mac)) != 0 ||
	    (r = ev_str_set(&dst->hostnames, src->hostnames)) != 0)
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
			if ((r = ev_str_set(&dst->ports[i].reason, src->ports[i].reason)) ||
			    (r = ev_str_set(&dst->ports[i].service, src->ports[i].service)) ||
			    (r = ev_str_set(&dst->ports[i].product, src->ports[i].product)) ||
			    (r = ev_str_set(&dst->ports[i].version, src->ports[i].version)) ||
			    (r = ev_str_set(&dst->ports[i].extrainfo, src->ports[i].extrainfo)) ||
			    (r = ev_str_set(&dst->ports[i].tunnel, src->ports[i].tunnel)) ||
			    (r = ev_str_set(&dst->ports[i].method, src->ports[i].method)))
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
	    a->at != b->at || a->misses != b->misses || !ev_str_eq(a->os, b->os) ||
	    !ev_str_eq(a->mac, b->mac) || !ev_str_eq(a->hostnames, b->hostnames) ||
	    a->nports != b->nports || a->nscripts != b->nscripts)
		return 0;
	for (size_t i = 0; i < a->nports; i++) {
		const struct ev_port *p = &a->ports[i], *q = &b->ports[i];
		if (p->proto != q->proto || p->port != q->port || p->state != q->state ||
		    p->job_id != q->job_id || !ev_str_eq(p->service, q->service) ||
		    !ev_str_eq(p->product, q->product) || !ev_str_eq(p->version, q->version) ||
		    !ev_str_eq(p->extrainfo, q->extrainfo) || !ev_str_eq(p->tunnel, q->tunnel) ||
		    !ev_str_eq(p->method, q->method))
			return 0;
	}
	/* scripts: the same set (each is unique by protocol, port and id) */
	for (size_t i = 0; i < a->nscripts; i++) {
		const struct ev_script *s = &a->scripts[i];
		const struct ev_script *t =
		    ev_host_script_find((struct ev_host *)b, s->proto, s->port, s->id);
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
