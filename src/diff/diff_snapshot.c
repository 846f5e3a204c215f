/*
 * diff_snapshot.c - one scan in memory for `scandb diff` (see diff.h):
 * hosts copied from parser records or stored jobs into the snapshot's
 * arena (the ports sorted, host names sorted and unique, scripts sorted),
 * filled from an nmap XML file (a sink) or a stored job, then sorted by
 * address with repeated addresses dropped.
 *
 * Memory: a snapshot is its hosts array (88 bytes a host) plus an arena of
 * 1 MiB blocks holding the ports (16 bytes each), their service/script
 * blocks (only for ports that have one) and every string, copied once -
 * but for a stored job's script outputs, taken from the store's hosts
 * instead (diff_snapshot_take_store): a scan is held once, never twice.
 */
#include "diff/diff_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/arena.h"
#include "core/error.h"
#include "core/vec.h"
#include "ingest/nmap_xml.h"

#define ARENA_BLOCK ((size_t)1 << 20)

/* A port while one host is being copied: its final place is the arena. */
struct diff_port_tmp {
	struct diff_port p;
	uint32_t seq; /* input order: of two ports with the same spec the last counts */
};

int diff_snapshot_new(struct diff_snapshot **out)
{
	if (!(*out = calloc(1, sizeof(**out))))
		return SDB_ENOMEM;
	arena_init(&(*out)->ar, ARENA_BLOCK, 0);
	return 0;
}

void diff_snapshot_free(struct diff_snapshot *s)
{
	if (!s)
		return;
	arena_free(&s->ar);
	for (size_t i = 0; i < s->ntaken; i++)
		free(s->taken[i]);
	free(s->taken);
	free(s->hosts);
	free(s->ptmp);
	store_host_rec_free(&s->rec);
	free(s);
}

/* A copy of s in the snapshot's arena (NULL stays NULL); sets *oom when
 * out of memory. */
static const char *arena_str(struct arena *a, const char *s, int *oom)
{
	const char *c;

	if (!s)
		return NULL;
	if (!(c = arena_strdup(a, s)))
		*oom = 1;
	return c;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int cmp_script(const void *x, const void *y)
{
	const struct diff_script *a = x, *b = y;
	int c = strcmp(a->id, b->id);

	return c ? c : strcmp(a->output, b->output);
}

static int cmp_port_tmp(const void *x, const void *y)
{
	const struct diff_port_tmp *a = x, *b = y;
	int c = port_cmp(&a->p, &b->p);

	return c ? c : (a->seq < b->seq ? -1 : a->seq > b->seq);
}

/* Copy n scripts into the arena, sorted by (id, output).  Scripts without
 * an id or output are not kept (nmap always writes both). */
/* The scripts into the arena; their outputs are copied too, unless s->take
 * (they are the snapshot's already: s->taken). */
static int copy_scripts(struct diff_snapshot *s, const struct rec_script *src, size_t n,
                        const struct diff_script **out, uint32_t *nout)
{
	struct arena *ar = &s->ar;
	struct diff_script *v;
	size_t k = 0;
	int oom = 0;

	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	if (n > UINT32_MAX || !(v = arena_array(ar, n, sizeof(*v))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!src[i].id || !src[i].output)
			continue;
		v[k].id = arena_str(ar, src[i].id, &oom);
		v[k].output = s->take ? src[i].output : arena_str(ar, src[i].output, &oom);
		k++;
	}
	if (oom)
		return SDB_ENOMEM;
	qsort(v, k, sizeof(*v), cmp_script);
	*out = k ? v : NULL;
	*nout = (uint32_t)k;
	return 0;
}

static int copy_port(struct diff_snapshot *s, const struct rec_port *rp, struct diff_port *dp)
{
	const struct rec_service *sv = &rp->service;
	struct diff_port_info *info;
	uint32_t ns = 0;
	int oom = 0, r;

	memset(dp, 0, sizeof(*dp));
	dp->port = (uint16_t)rp->port;
	dp->proto = (uint8_t)rp->proto;
	dp->state = (uint8_t)rp->state;
	if (!rp->has_service && rp->nscripts == 0)
		return 0;
	if (!(info = arena_array(&s->ar, 1, sizeof(*info))))
		return SDB_ENOMEM;
	memset(info, 0, sizeof(*info));
	if (rp->has_service) {
		info->name = arena_str(&s->ar, sv->name, &oom);
		info->product = arena_str(&s->ar, sv->product, &oom);
		info->version = arena_str(&s->ar, sv->version, &oom);
		info->extrainfo = arena_str(&s->ar, sv->extrainfo, &oom);
		info->tunnel = arena_str(&s->ar, sv->tunnel, &oom);
		if (oom)
			return SDB_ENOMEM;
	}
	if ((r = copy_scripts(s, rp->scripts, rp->nscripts, &info->scripts, &ns)) != 0)
		return r;
	dp->nscripts = ns;
	dp->info = info;
	return 0;
}

static int copy_ports(struct diff_snapshot *s, const struct rec_host *h, struct diff_host *d)
{
	struct diff_port *v;
	size_t k = 0;
	int r;

	if (h->nports == 0)
		return 0;
	if (h->nports > UINT32_MAX)
		return SDB_ETOOBIG;
	if ((r = vec_reserve(&s->ptmp, &s->ptmp_cap, h->nports, sizeof(*s->ptmp), 16)) != 0)
		return r;
	for (size_t i = 0; i < h->nports; i++) {
		const struct rec_port *rp = &h->ports[i];

		if ((unsigned)rp->proto >= REC_PROTO__COUNT ||
		    (unsigned)rp->state >= REC_PORT__COUNT || rp->port < 0 || rp->port > 65535)
			return SDB_ERANGE;
		if ((r = copy_port(s, rp, &s->ptmp[i].p)) != 0)
			return r;
		s->ptmp[i].seq = (uint32_t)i;
	}
	for (k = 1; k < h->nports; k++) /* often in order already */
		if (cmp_port_tmp(&s->ptmp[k - 1], &s->ptmp[k]) > 0)
			break;
	if (k < h->nports)
		qsort(s->ptmp, h->nports, sizeof(*s->ptmp), cmp_port_tmp);
	k = 0;
	if (!(v = arena_array(&s->ar, h->nports, sizeof(*v))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < h->nports; i++) {
		/* the same spec twice: the last one counts (as in ndiff) */
		if (i + 1 < h->nports && port_cmp(&s->ptmp[i].p, &s->ptmp[i + 1].p) == 0)
			continue;
		v[k++] = s->ptmp[i].p;
	}
	d->ports = v;
	d->nports = (uint32_t)k;
	return 0;
}

/* Every OS match's name, in the scan's order; a host whose record has only
 * the best match (a scan stored before migration 0006) has that one. */
static int copy_osmatches(struct diff_snapshot *s, const struct rec_host *h, struct diff_host *d)
{
	const char *const *src = h->osmatches;
	size_t n = h->nosmatches;
	const char **v;
	int oom = 0;

	if (n == 0 && d->os) {
		src = &d->os;
		n = 1;
	}
	if (n == 0)
		return 0;
	if (n > UINT16_MAX)
		return SDB_ETOOBIG;
	if (!(v = arena_array(&s->ar, n, sizeof(*v))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = src[i] == d->os ? d->os : arena_str(&s->ar, src[i], &oom);
	if (oom)
		return SDB_ENOMEM;
	d->osmatches = v;
	d->nosmatches = (uint16_t)n;
	return 0;
}

static int copy_names(struct diff_snapshot *s, const struct rec_host *h, struct diff_host *d)
{
	const char **v;
	size_t k = 0, u = 0;
	int oom = 0;

	if (h->nhostnames == 0)
		return 0;
	if (!(v = arena_array(&s->ar, h->nhostnames, sizeof(*v))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < h->nhostnames; i++)
		if (h->hostnames[i].name)
			v[k++] = h->hostnames[i].name;
	qsort(v, k, sizeof(*v), cmp_str);
	for (size_t i = 0; i < k; i++) {
		if (u > 0 && strcmp(v[u - 1], v[i]) == 0)
			continue;
		v[u++] = v[i];
	}
	for (size_t i = 0; i < u; i++)
		v[i] = arena_str(&s->ar, v[i], &oom);
	if (oom)
		return SDB_ENOMEM;
	if (u > UINT16_MAX)
		return SDB_ETOOBIG;
	d->hostnames = u ? v : NULL;
	d->nhostnames = (uint16_t)u;
	return 0;
}

static int cmp_extra_show(const void *x, const void *y)
{
	const struct diff_extraports *a = x, *b = y;

	/* ndiff's text order: reverse-sorted (count, state name) */
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	return -strcmp(rec_port_state_name((enum rec_port_state)a->state),
	               rec_port_state_name((enum rec_port_state)b->state));
}

static int copy_extra(struct diff_snapshot *s, const struct rec_host *h, struct diff_host *d)
{
	struct diff_extraports *v;

	if (h->nextraports == 0)
		return 0;
	if (h->nextraports > UINT16_MAX)
		return SDB_ETOOBIG;
	if (!(v = arena_array(&s->ar, h->nextraports, sizeof(*v))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < h->nextraports; i++) {
		if ((unsigned)h->extraports[i].state >= REC_PORT__COUNT)
			return SDB_ERANGE;
		v[i].state = (uint8_t)h->extraports[i].state;
		v[i].count = h->extraports[i].count;
	}
	/* One order whatever the source (a file's, or the store's key order),
	 * the one nmap writes them in: ndiff's text order. */
	qsort(v, h->nextraports, sizeof(*v), cmp_extra_show);
	d->extraports = v;
	d->nextraports = (uint16_t)h->nextraports;
	return 0;
}

int diff_snapshot_add_rec(struct diff_snapshot *s, const struct rec_host *h)
{
	struct diff_host *d;
	int fam = 0, oom = 0, r;

	if (VEC_RESERVE(s->hosts, s->cap, s->n + 1, 256) != 0)
		return SDB_ENOMEM;
	d = &s->hosts[s->n];
	memset(d, 0, sizeof(*d));
	if (!h->addr || addr_parse(h->addr, NULL, &fam, d->key) != 0)
		return SDB_EPARSE;
	if ((unsigned)h->status > REC_HOST_SKIPPED)
		return SDB_ERANGE;
	d->family = (uint8_t)fam;
	d->status = (uint8_t)h->status;
	d->addr = arena_str(&s->ar, h->addr, &oom);
	d->mac = arena_str(&s->ar, h->mac, &oom);
	d->os_accuracy = -1;
	if (h->has_os && h->os.name) {
		d->os = arena_str(&s->ar, h->os.name, &oom);
		d->os_accuracy =
		    (int8_t)(h->os.accuracy >= 0 && h->os.accuracy <= 100 ? h->os.accuracy : -1);
	}
	if (oom)
		return SDB_ENOMEM;
	if ((r = copy_osmatches(s, h, d)) != 0)
		return r;
	if ((r = copy_names(s, h, d)) != 0 || (r = copy_extra(s, h, d)) != 0 ||
	    (r = copy_ports(s, h, d)) != 0 ||
	    (r = copy_scripts(s, h->scripts, h->nscripts, &d->scripts, &d->nscripts)) != 0)
		return r;
	s->n++;
	return 0;
}

/* A stored host as a record (borrowing its strings), then the one copy
 * path above. */
int diff_snapshot_add_store(struct diff_snapshot *s, const struct store_host *h)
{
	int r;

	if ((r = store_host_as_rec(h, &s->rec)) != 0)
		return r;
	return diff_snapshot_add_rec(s, &s->rec.h);
}

/* Move *output (if any) to s->taken; room was made for it. */
static void take_output(struct diff_snapshot *s, char **output)
{
	if (*output) {
		s->taken[s->ntaken++] = *output;
		*output = NULL;
	}
}

int diff_snapshot_take_store(struct diff_snapshot *s, struct store_host *h)
{
	size_t n = h->nscripts;
	int r;

	for (size_t i = 0; i < h->nports; i++)
		n += h->ports[i].nscripts;
	if ((r = vec_reserve(&s->taken, &s->ctaken, s->ntaken + n, sizeof(*s->taken), 16)) != 0 ||
	    (r = store_host_as_rec(h, &s->rec)) != 0)
		return r;
	/* the record view points at the outputs; the snapshot owns them now */
	for (size_t i = 0; i < h->nports; i++)
		for (size_t k = 0; k < h->ports[i].nscripts; k++)
			take_output(s, &h->ports[i].scripts[k].output);
	for (size_t k = 0; k < h->nscripts; k++)
		take_output(s, &h->scripts[k].output);
	s->take = 1;
	r = diff_snapshot_add_rec(s, &s->rec.h);
	s->take = 0;
	return r;
}

int diff_snapshot_set_meta(struct diff_snapshot *s, const struct diff_meta *m)
{
	int oom = 0;

	s->meta.file = arena_str(&s->ar, m->file, &oom);
	s->meta.job_id = m->job_id;
	s->meta.scanner = arena_str(&s->ar, m->scanner, &oom);
	s->meta.version = arena_str(&s->ar, m->version, &oom);
	s->meta.args = arena_str(&s->ar, m->args, &oom);
	s->meta.start = m->start;
	s->meta.end = m->end;
	return oom ? SDB_ENOMEM : 0;
}

static int sink_run_begin(void *ctx, const struct rec_run *run)
{
	struct diff_snapshot *s = ctx;
	struct diff_meta m = s->meta;

	m.scanner = run->scanner;
	m.version = run->version;
	m.args = run->args;
	m.start = run->start;
	return diff_snapshot_set_meta(s, &m);
}

static int sink_host(void *ctx, const struct rec_host *h)
{
	return diff_snapshot_add_rec(ctx, h);
}

int diff_snapshot_set_run_scripts(struct diff_snapshot *s, int post,
                                  const struct rec_script *scripts, size_t n)
{
	post = post != 0;
	return copy_scripts(s, scripts, n, &s->rscripts[post], &s->nrscripts[post]);
}

static int sink_run_end(void *ctx, const struct rec_runstats *rs)
{
	struct diff_snapshot *s = ctx;
	int r;

	if (rs->finished)
		s->meta.end = rs->end;
	if ((r = diff_snapshot_set_run_scripts(s, 0, rs->prescripts, rs->nprescripts)) != 0)
		return r;
	return diff_snapshot_set_run_scripts(s, 1, rs->postscripts, rs->npostscripts);
}

void diff_snapshot_sink(struct diff_snapshot *s, struct ingest_sink *out)
{
	memset(out, 0, sizeof(*out));
	out->ctx = s;
	out->run_begin = sink_run_begin;
	out->host = sink_host;
	out->run_end = sink_run_end;
}

int diff_snapshot_load_fd(struct diff_snapshot *s, int fd, const char *name, char *err,
                          size_t errlen)
{
	struct ingest_sink sink;
	struct diff_meta m = s->meta;
	int r;

	if (errlen)
		err[0] = '\0';
	m.file = name;
	if ((r = diff_snapshot_set_meta(s, &m)) != 0) {
		snprintf(err, errlen, "%s: out of memory", name);
		return r;
	}
	diff_snapshot_sink(s, &sink);
	r = nmap_xml_parse_fd(fd, name, &sink, NULL, NULL, err, errlen);
	if (r != 0 && errlen && !err[0])
		snprintf(err, errlen, "%s: %s", name, sdb_strerror(r));
	return r;
}

/* A job's pre-scan (post 0) or post-scan (post 1) scripts into s. */
static int load_job_run_scripts(struct diff_snapshot *s, struct store *st, int64_t job_id, int post)
{
	struct store_script *v = NULL;
	struct rec_script *rv = NULL;
	size_t n = 0;
	int r;

	if ((r = store_run_scripts(st, job_id, post, &v, &n)) != 0)
		return r;
	if (n && !(rv = calloc(n, sizeof(*rv)))) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		rv[i] = (struct rec_script){v[i].id, v[i].output};
	r = diff_snapshot_set_run_scripts(s, post, rv, n);
out:
	free(rv);
	store_scripts_free(v, n);
	return r;
}

static int load_job_host(void *ctx, struct store_host *h)
{
	int r = diff_snapshot_take_store(ctx, h);

	store_host_free(h);
	return r;
}

int diff_snapshot_load_job(struct diff_snapshot *s, struct store *st, int64_t job_id, char *err,
                           size_t errlen)
{
	struct store_host_filter f = STORE_HOST_FILTER_ANY;
	struct store_job *j = NULL;
	struct diff_meta m;
	int r;

	if (errlen)
		err[0] = '\0';
	if ((r = store_job_get(st, job_id, &j)) != 0) {
		if (r == SDB_ENOTFOUND)
			snprintf(err, errlen, "no job %lld in the database", (long long)job_id);
		else
			snprintf(err, errlen, "reading job %lld: %s", (long long)job_id,
			         store_errmsg(st));
		goto out;
	}
	if (!j->status || strcmp(j->status, "completed") != 0) {
		snprintf(err, errlen, "job %lld is %s, not completed: nothing to compare",
		         (long long)job_id, j->status ? j->status : "?");
		r = SDB_EUSAGE;
		goto out;
	}
	memset(&m, 0, sizeof(m));
	m.job_id = job_id;
	m.scanner = j->scanner;
	m.version = j->scanner_version;
	m.args = j->args;
	m.start = j->started_at;
	m.end = j->completed_at;
	if ((r = diff_snapshot_set_meta(s, &m)) != 0) {
		snprintf(err, errlen, "reading job %lld: out of memory", (long long)job_id);
		goto out;
	}
	if ((r = load_job_run_scripts(s, st, job_id, 0)) != 0 ||
	    (r = load_job_run_scripts(s, st, job_id, 1)) != 0) {
		snprintf(err, errlen, "reading job %lld: %s", (long long)job_id,
		         r == SDB_ENOMEM ? "out of memory" : store_errmsg(st));
		goto out;
	}
	f.job_id = job_id;
	if ((r = store_hosts_each(st, &f, load_job_host, s)) != 0) {
		if (r == SDB_ENOMEM)
			snprintf(err, errlen, "reading job %lld: out of memory", (long long)job_id);
		else if (r == SDB_EPARSE || r == SDB_ERANGE || r == SDB_ETOOBIG)
			snprintf(err, errlen, "reading job %lld: a host has an invalid value (%s)",
			         (long long)job_id, sdb_strerror(r));
		else
			snprintf(err, errlen, "reading job %lld: %s", (long long)job_id,
			         store_errmsg(st));
		goto out;
	}
	r = 0;
out:
	store_job_free(j);
	return r;
}

/* Sort keys: the address key and the input position (so that the first of
 * a repeated address is the one kept). */
struct host_order {
	unsigned char key[16];
	uint32_t idx;
};

static int cmp_host_order(const void *x, const void *y)
{
	const struct host_order *a = x, *b = y;
	int c = memcmp(a->key, b->key, 16);

	return c ? c : (a->idx < b->idx ? -1 : a->idx > b->idx);
}

int diff_snapshot_finish(struct diff_snapshot *s)
{
	struct host_order *ord;
	struct diff_host *nv;
	size_t i, k;

	/* nmap writes hosts in address order when it scans a range: then
	 * there is nothing to do. */
	for (i = 1; i < s->n; i++)
		if (memcmp(s->hosts[i - 1].key, s->hosts[i].key, 16) >= 0)
			break;
	if (i >= s->n)
		return 0;
	if (s->n > UINT32_MAX)
		return SDB_ETOOBIG;
	ord = sdb_reallocarray(NULL, s->n, sizeof(*ord));
	nv = sdb_reallocarray(NULL, s->n, sizeof(*nv));
	if (!ord || !nv) {
		free(ord);
		free(nv);
		return SDB_ENOMEM;
	}
	for (i = 0; i < s->n; i++) {
		memcpy(ord[i].key, s->hosts[i].key, 16);
		ord[i].idx = (uint32_t)i;
	}
	qsort(ord, s->n, sizeof(*ord), cmp_host_order);
	/* the first of each address counts; later ones are counted, dropped */
	for (i = 0, k = 0; i < s->n; i++) {
		if (k > 0 && memcmp(nv[k - 1].key, ord[i].key, 16) == 0) {
			s->dups++;
			continue;
		}
		nv[k++] = s->hosts[ord[i].idx];
	}
	free(s->hosts);
	free(ord);
	s->hosts = nv;
	s->cap = s->n;
	s->n = k;
	return 0;
}

const struct diff_meta *diff_snapshot_meta(const struct diff_snapshot *s)
{
	return &s->meta;
}

size_t diff_snapshot_nhosts(const struct diff_snapshot *s)
{
	return s->n;
}

const struct diff_host *diff_snapshot_host(const struct diff_snapshot *s, size_t i)
{
	return i < s->n ? &s->hosts[i] : NULL;
}

size_t diff_snapshot_duplicates(const struct diff_snapshot *s)
{
	return s->dups;
}
