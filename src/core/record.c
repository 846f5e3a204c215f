/* record.c - names of the record enumerations (the strings the schema's
 * CHECK constraints accept) and their parsers; deep copies of records. */
#include "core/record.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static const char *const host_status_names[] = {"unknown", "up", "down", "skipped", "gone"};
static const char *const proto_names[] = {"tcp", "udp", "sctp", "ip"};
static const char *const port_state_names[] = {"open",       "closed",        "filtered",
                                               "unfiltered", "open|filtered", "closed|filtered"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *rec_host_status_name(enum rec_host_status s)
{
	return (unsigned)s < NELEM(host_status_names) ? host_status_names[s] : "?";
}

const char *rec_proto_name(enum rec_proto p)
{
	return (unsigned)p < NELEM(proto_names) ? proto_names[p] : "?";
}

const char *rec_port_state_name(enum rec_port_state s)
{
	return (unsigned)s < NELEM(port_state_names) ? port_state_names[s] : "?";
}

static int lookup(const char *s, const char *const *names, size_t n, int *out)
{
	if (!s)
		return SDB_EPARSE;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

int rec_host_status_parse(const char *s, enum rec_host_status *out)
{
	int v, r = lookup(s, host_status_names, NELEM(host_status_names), &v);
	if (r == 0)
		*out = (enum rec_host_status)v;
	return r;
}

int rec_proto_parse(const char *s, enum rec_proto *out)
{
	int v, r = lookup(s, proto_names, NELEM(proto_names), &v);
	if (r == 0)
		*out = (enum rec_proto)v;
	return r;
}

int rec_port_state_parse(const char *s, enum rec_port_state *out)
{
	int v, r = lookup(s, port_state_names, NELEM(port_state_names), &v);
	if (r == 0)
		*out = (enum rec_port_state)v;
	return r;
}

/* ---- deep copies ---------------------------------------------------------
 *
 * Layout of `mem`: first every array (hostnames, extraports, ports, each
 * port's scripts, the host scripts, each port's cpe pointers, the osmatch
 * names; a runstats' pre- and post-scan scripts), each aligned
 * for its type, then every string, unaligned.  The *_copy_size() functions
 * add up exactly what the *_copy() functions take, in the same order.
 */

/* Saturating size arithmetic: SIZE_MAX means "too big" and stays so. */
static size_t sz_add(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static size_t sz_align(size_t a, size_t align)
{
	return a > SIZE_MAX - (align - 1) ? SIZE_MAX : (a + align - 1) & ~(align - 1);
}

static size_t sz_arr(size_t acc, size_t n, size_t size, size_t align)
{
	if (n == 0)
		return acc;
	if (n > SIZE_MAX / size)
		return SIZE_MAX;
	return sz_add(sz_align(acc, align), n * size);
}

static size_t sz_str(size_t acc, const char *s)
{
	return s ? sz_add(acc, strlen(s) + 1) : acc;
}

static size_t sz_scripts(size_t acc, const struct rec_script *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		acc = sz_str(sz_str(acc, s[i].id), s[i].output);
	return acc;
}

/* A bump allocator over caller memory that copy_size() has sized. */
struct flat {
	char *mem;
	size_t off;
};

static void *flat_arr(struct flat *f, size_t n, size_t size, size_t align)
{
	void *p;

	if (n == 0)
		return NULL;
	f->off = (f->off + align - 1) & ~(align - 1);
	p = f->mem + f->off;
	f->off += n * size;
	return p;
}

static const char *flat_str(struct flat *f, const char *s)
{
	char *d;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	d = f->mem + f->off;
	memcpy(d, s, n);
	f->off += n;
	return d;
}

#define ARR(acc, n, type) sz_arr((acc), (n), sizeof(type), _Alignof(type))
#define TAKE(f, n, type)  ((type *)flat_arr((f), (n), sizeof(type), _Alignof(type)))

size_t rec_host_copy_size(const struct rec_host *src)
{
	const struct rec_os *os = &src->os;
	size_t z = 0;

	z = ARR(z, src->nhostnames, struct rec_hostname);
	z = ARR(z, src->nextraports, struct rec_extraports);
	z = ARR(z, src->nports, struct rec_port);
	for (size_t i = 0; i < src->nports; i++)
		z = ARR(z, src->ports[i].nscripts, struct rec_script);
	z = ARR(z, src->nscripts, struct rec_script);
	for (size_t i = 0; i < src->nports; i++)
		z = ARR(z, src->ports[i].service.ncpes, const char *);
	z = ARR(z, src->nosmatches, const char *);

	z = sz_str(sz_str(z, src->reason), src->addr);
	z = sz_str(sz_str(sz_str(z, src->mac), src->mac_vendor), src->lastboot);
	z = sz_str(sz_str(sz_str(z, os->name), os->vendor), os->family);
	z = sz_str(sz_str(sz_str(z, os->gen), os->type), os->cpe);
	for (size_t i = 0; i < src->nosmatches; i++)
		z = sz_str(z, src->osmatches[i]);
	for (size_t i = 0; i < src->nhostnames; i++)
		z = sz_str(sz_str(z, src->hostnames[i].name), src->hostnames[i].type);
	for (size_t i = 0; i < src->nextraports; i++)
		z = sz_str(z, src->extraports[i].reasons);
	for (size_t i = 0; i < src->nports; i++) {
		const struct rec_port *p = &src->ports[i];
		const struct rec_service *sv = &p->service;

		z = sz_str(sz_str(sz_str(z, p->reason), sv->name), sv->product);
		z = sz_str(sz_str(sz_str(z, sv->version), sv->extrainfo), sv->ostype);
		z = sz_str(sz_str(z, sv->method), sv->tunnel);
		for (size_t k = 0; k < sv->ncpes; k++)
			z = sz_str(z, sv->cpes[k]);
		z = sz_scripts(z, p->scripts, p->nscripts);
	}
	return sz_scripts(z, src->scripts, src->nscripts);
}

static void copy_scripts(struct flat *f, struct rec_script *d, const struct rec_script *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		d[i].id = flat_str(f, s[i].id);
		d[i].output = flat_str(f, s[i].output);
	}
}

void rec_host_copy(struct rec_host *dst, const struct rec_host *src, void *mem)
{
	struct flat f = {mem, 0};
	struct rec_hostname *hn = TAKE(&f, src->nhostnames, struct rec_hostname);
	struct rec_extraports *ep = TAKE(&f, src->nextraports, struct rec_extraports);
	struct rec_port *pt = TAKE(&f, src->nports, struct rec_port);
	struct rec_script *hs;
	const char **osm;
	struct rec_os *os = &dst->os;

	*dst = *src;
	for (size_t i = 0; i < src->nports; i++) {
		pt[i] = src->ports[i];
		pt[i].scripts = TAKE(&f, src->ports[i].nscripts, struct rec_script);
	}
	hs = TAKE(&f, src->nscripts, struct rec_script);
	for (size_t i = 0; i < src->nports; i++)
		pt[i].service.cpes = TAKE(&f, src->ports[i].service.ncpes, const char *);
	osm = TAKE(&f, src->nosmatches, const char *);
	dst->hostnames = hn;
	dst->extraports = ep;
	dst->ports = pt;
	dst->scripts = hs;
	dst->osmatches = osm;

	dst->reason = flat_str(&f, src->reason);
	dst->addr = flat_str(&f, src->addr);
	dst->mac = flat_str(&f, src->mac);
	dst->mac_vendor = flat_str(&f, src->mac_vendor);
	dst->lastboot = flat_str(&f, src->lastboot);
	os->name = flat_str(&f, src->os.name);
	os->vendor = flat_str(&f, src->os.vendor);
	os->family = flat_str(&f, src->os.family);
	os->gen = flat_str(&f, src->os.gen);
	os->type = flat_str(&f, src->os.type);
	os->cpe = flat_str(&f, src->os.cpe);
	for (size_t i = 0; i < src->nosmatches; i++)
		osm[i] = flat_str(&f, src->osmatches[i]);
	for (size_t i = 0; i < src->nhostnames; i++) {
		hn[i].name = flat_str(&f, src->hostnames[i].name);
		hn[i].type = flat_str(&f, src->hostnames[i].type);
	}
	for (size_t i = 0; i < src->nextraports; i++) {
		ep[i] = src->extraports[i];
		ep[i].reasons = flat_str(&f, src->extraports[i].reasons);
	}
	for (size_t i = 0; i < src->nports; i++) {
		const struct rec_port *s = &src->ports[i];
		struct rec_service *sv = &pt[i].service;
		const char **cpes = (const char **)sv->cpes;

		pt[i].reason = flat_str(&f, s->reason);
		sv->name = flat_str(&f, s->service.name);
		sv->product = flat_str(&f, s->service.product);
		sv->version = flat_str(&f, s->service.version);
		sv->extrainfo = flat_str(&f, s->service.extrainfo);
		sv->ostype = flat_str(&f, s->service.ostype);
		sv->method = flat_str(&f, s->service.method);
		sv->tunnel = flat_str(&f, s->service.tunnel);
		for (size_t k = 0; k < s->service.ncpes; k++)
			cpes[k] = flat_str(&f, s->service.cpes[k]);
		copy_scripts(&f, (struct rec_script *)pt[i].scripts, s->scripts, s->nscripts);
	}
	copy_scripts(&f, hs, src->scripts, src->nscripts);
}

size_t rec_run_copy_size(const struct rec_run *src)
{
	size_t z = sz_str(sz_str(0, src->scanner), src->args);

	return sz_str(sz_str(z, src->version), src->xmloutputversion);
}

void rec_run_copy(struct rec_run *dst, const struct rec_run *src, void *mem)
{
	struct flat f = {mem, 0};

	*dst = *src;
	dst->scanner = flat_str(&f, src->scanner);
	dst->args = flat_str(&f, src->args);
	dst->version = flat_str(&f, src->version);
	dst->xmloutputversion = flat_str(&f, src->xmloutputversion);
}

size_t rec_scaninfo_copy_size(const struct rec_scaninfo *src)
{
	return sz_str(sz_str(0, src->type), src->services);
}

void rec_scaninfo_copy(struct rec_scaninfo *dst, const struct rec_scaninfo *src, void *mem)
{
	struct flat f = {mem, 0};

	*dst = *src;
	dst->type = flat_str(&f, src->type);
	dst->services = flat_str(&f, src->services);
}

size_t rec_runstats_copy_size(const struct rec_runstats *src)
{
	size_t z = ARR(0, src->nprescripts, struct rec_script);

	z = ARR(z, src->npostscripts, struct rec_script);
	z = sz_str(sz_str(sz_str(z, src->summary), src->exit), src->errormsg);
	return sz_scripts(sz_scripts(z, src->prescripts, src->nprescripts), src->postscripts,
	                  src->npostscripts);
}

void rec_runstats_copy(struct rec_runstats *dst, const struct rec_runstats *src, void *mem)
{
	struct flat f = {mem, 0};
	struct rec_script *pre = TAKE(&f, src->nprescripts, struct rec_script);
	struct rec_script *post = TAKE(&f, src->npostscripts, struct rec_script);

	*dst = *src;
	dst->prescripts = pre;
	dst->postscripts = post;
	dst->summary = flat_str(&f, src->summary);
	dst->exit = flat_str(&f, src->exit);
	dst->errormsg = flat_str(&f, src->errormsg);
	copy_scripts(&f, pre, src->prescripts, src->nprescripts);
	copy_scripts(&f, post, src->postscripts, src->npostscripts);
}

/* The struct, padded so that what follows is aligned for any type. */
#define HOST_HEAD sz_align(sizeof(struct rec_host), _Alignof(max_align_t))

struct rec_host *rec_host_dup(const struct rec_host *src)
{
	size_t n = sz_add(HOST_HEAD, rec_host_copy_size(src));
	struct rec_host *h;

	if (n == SIZE_MAX || !(h = malloc(n)))
		return NULL;
	rec_host_copy(h, src, (char *)h + HOST_HEAD);
	return h;
}
