/*
 * store_result.c - the owned query results of store.h (struct store_host,
 * struct store_job, struct store_event): freeing them, and viewing a stored
 * host as a record.  Backend-independent: every backend fills these structs
 * with malloc'ed copies that these functions release.
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
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

/* Grow a reused array to hold n elements. */
static int reserve(void *v, size_t *cap, size_t n, size_t size)
{
	void **vp = v;
	size_t ncap = *cap ? *cap : 16;
	void *nv;

	if (n <= *cap)
		return 0;
	while (ncap < n)
		ncap *= 2;
	if (!(nv = sdb_reallocarray(*vp, ncap, size)))
		return SDB_ENOMEM;
	*vp = nv;
	*cap = ncap;
	return 0;
}

int store_host_as_rec(const struct store_host *sh, struct store_host_rec *v)
{
	struct rec_host *h = &v->h;
	size_t nscripts = sh->nscripts, k = 0;
	int r;

	for (size_t i = 0; i < sh->nports; i++)
		nscripts += sh->ports[i].nscripts;
	if ((r = reserve(&v->names, &v->names_cap, sh->nhostnames, sizeof(*v->names))) != 0 ||
	    (r = reserve(&v->ports, &v->ports_cap, sh->nports, sizeof(*v->ports))) != 0 ||
	    (r = reserve(&v->scripts, &v->scripts_cap, nscripts, sizeof(*v->scripts))) != 0 ||
	    (r = reserve(&v->extra, &v->extra_cap, sh->nextraports, sizeof(*v->extra))) != 0)
		return r;
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
	for (size_t i = 0; i < sh->nports; i++) {
		const struct store_port *sp = &sh->ports[i];
		struct rec_port *p = &v->ports[i];

		memset(p, 0, sizeof(*p));
		if (rec_proto_parse(sp->protocol, &p->proto) != 0 ||
		    rec_port_state_parse(sp->state, &p->state) != 0)
			return SDB_EPARSE;
		p->port = sp->port;
		p->reason = sp->reason;
		p->reason_ttl = sp->reason_ttl;
		p->has_service = sp->service || sp->product || sp->version || sp->extrainfo ||
		                 sp->tunnel || sp->method;
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
		p->scripts = v->scripts ? v->scripts + k : NULL;
		p->nscripts = sp->nscripts;
		for (size_t j = 0; j < sp->nscripts; j++, k++)
			v->scripts[k] =
			    (struct rec_script){sp->scripts[j].id, sp->scripts[j].output};
	}
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
