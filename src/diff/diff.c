/*
 * diff.c - scan snapshots, their comparison, and the text/XML/JSON writers
 * of `scandb diff` (see diff.h; the rules are in docs/DIFF.md).
 *
 * Owns: copying hosts (from parser records or stored jobs) into one arena
 * per scan, pairing hosts by address, comparing them the way ndiff does,
 * and printing the result to a FILE.  Does not own: parsing, the database,
 * arguments or exit statuses.
 *
 * Memory: a snapshot is its hosts array (88 bytes a host) plus an arena of
 * 1 MiB blocks holding the ports (16 bytes each), their service/script
 * blocks (only for ports that have one) and every string, copied once -
 * but for a stored job's script outputs, taken from the store's hosts
 * instead (diff_snapshot_take_store): a scan is held once, never twice.
 * The text writer prints a script's line diff as it is made, never
 * buffering it with the port table.
 */
#include "diff/diff.h"

#include "core/utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/addr.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "ingest/nmap_xml.h"

#define ARENA_BLOCK ((size_t)1 << 20)
/* Line diff of script output: above this many cells (lines a x lines b)
 * the changed middle is shown as all removed + all added. */
#define LINE_DIFF_MAX_CELLS ((size_t)1 << 22)
/* Cap of one buffered text block (a host's port table). */
#define TEXT_MAX ((size_t)1 << 30)

/* ---- snapshots ----------------------------------------------------------- */

/* A port while one host is being copied: its final place is the arena. */
struct port_tmp {
	struct diff_port p;
	uint32_t seq; /* input order: of two ports with the same spec the last counts */
};

struct diff_snapshot {
	struct arena ar;
	struct diff_host *hosts;
	size_t n, cap;
	struct diff_meta meta;
	size_t dups;
	/* the run's pre-scan ([0]) and post-scan ([1]) scripts, sorted */
	const struct diff_script *rscripts[2];
	uint32_t nrscripts[2];
	/* scratch, reused from host to host */
	struct port_tmp *ptmp;
	size_t ptmp_cap;
	struct store_host_rec rec; /* a stored host as a record */
	/* script outputs taken from stored hosts (diff_snapshot_take_store),
	 * not copied into the arena; `take`: copy_scripts() keeps them */
	char **taken;
	size_t ntaken, ctaken;
	int take;
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

/* Make room for n elements of `size` in *v (capacity *cap). */
static int scratch(void *v, size_t *cap, size_t n, size_t size)
{
	void **vp = v;
	size_t ncap;
	void *nv;

	if (n <= *cap)
		return 0;
	ncap = *cap ? *cap : 16;
	while (ncap < n) {
		if (ncap > SIZE_MAX / 2)
			return SDB_ENOMEM;
		ncap *= 2;
	}
	if (!(nv = sdb_reallocarray(*vp, ncap, size)))
		return SDB_ENOMEM;
	*vp = nv;
	*cap = ncap;
	return 0;
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

static int cmp_extra(const void *x, const void *y)
{
	const struct diff_extraports *a = x, *b = y;

	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	return a->count < b->count ? -1 : a->count > b->count;
}

/* ndiff orders ports by (number, protocol name): ip < sctp < tcp < udp. */
static const uint8_t proto_rank[REC_PROTO__COUNT] = {
    [REC_PROTO_TCP] = 2, [REC_PROTO_UDP] = 3, [REC_PROTO_SCTP] = 1, [REC_PROTO_IP] = 0};

static int port_cmp(const struct diff_port *a, const struct diff_port *b)
{
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->proto != b->proto)
		return proto_rank[a->proto] < proto_rank[b->proto] ? -1 : 1;
	return 0;
}

static int cmp_port_tmp(const void *x, const void *y)
{
	const struct port_tmp *a = x, *b = y;
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
	if ((r = scratch(&s->ptmp, &s->ptmp_cap, h->nports, sizeof(*s->ptmp))) != 0)
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

	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 256;
		void *nv = sdb_reallocarray(s->hosts, ncap, sizeof(*s->hosts));
		if (!nv)
			return SDB_ENOMEM;
		s->hosts = nv;
		s->cap = ncap;
	}
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
	if ((r = scratch(&s->taken, &s->ctaken, s->ntaken + n, sizeof(*s->taken))) != 0 ||
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
	struct store_host_filter f;
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
	memset(&f, 0, sizeof(f));
	f.job_id = job_id;
	f.port = -1;
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

/* ---- comparison ----------------------------------------------------------- */

static int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static const struct diff_port_info no_info;

static const struct diff_port_info *port_info(const struct diff_port *p)
{
	return p && p->info ? p->info : &no_info;
}

/* ndiff compares name, product, version and extrainfo; we also compare the
 * tunnel (http vs ssl/http is a change: docs/DIFF.md). */
static int service_eq(const struct diff_port *a, const struct diff_port *b)
{
	const struct diff_port_info *x = port_info(a), *y = port_info(b);

	return str_eq(x->name, y->name) && str_eq(x->product, y->product) &&
	       str_eq(x->version, y->version) && str_eq(x->extrainfo, y->extrainfo) &&
	       str_eq(x->tunnel, y->tunnel);
}

/* ndiff's Host.is_extraports(): an unlisted port, or a state the host
 * summarised in <extraports>.  Such ports are left out when both sides
 * are. */
static int is_extraports(const struct diff_host *h, const struct diff_port *p)
{
	if (!p)
		return 1;
	if (!h)
		return 0;
	for (size_t i = 0; i < h->nextraports; i++)
		if (h->extraports[i].state == p->state)
			return 1;
	return 0;
}

struct walker {
	int verbose;
	struct diff_port_pair *pp;
	size_t *pp_off; /* where each port's script pairs start in sp */
	size_t np, pp_cap, off_cap;
	struct diff_script_pair *sp;
	size_t ns, sp_cap;
};

static int push_script(struct walker *w, const struct diff_script *a, const struct diff_script *b)
{
	int r;

	if ((r = scratch(&w->sp, &w->sp_cap, w->ns + 1, sizeof(*w->sp))) != 0)
		return r;
	w->sp[w->ns].a = a;
	w->sp[w->ns].b = b;
	w->ns++;
	return 0;
}

/* ndiff's ScriptResultDiff.diff_lists(): a merge of two lists sorted by
 * (id, output), pairing equal ids.  Appends pairs to w->sp; *changed = how
 * many differ. */
static int merge_scripts(struct walker *w, const struct diff_script *a, size_t na,
                         const struct diff_script *b, size_t nb, size_t *changed)
{
	size_t i = 0, j = 0;
	int r = 0;

	*changed = 0;
	while (r == 0 && (i < na || j < nb)) {
		int c = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i].id, b[j].id);

		if (c < 0) {
			r = push_script(w, &a[i++], NULL);
			++*changed;
		} else if (c > 0) {
			r = push_script(w, NULL, &b[j++]);
			++*changed;
		} else {
			int same = strcmp(a[i].output, b[j].output) == 0;

			if (!same || w->verbose)
				r = push_script(w, &a[i], &b[j]);
			*changed += !same;
			i++;
			j++;
		}
	}
	return r;
}

static int compare_port(struct walker *w, const struct diff_host *ha, const struct diff_host *hb,
                        const struct diff_port *pa, const struct diff_port *pb, int *any)
{
	const struct diff_port_info *ia = port_info(pa), *ib = port_info(pb);
	size_t mark = w->ns, changed = 0;
	unsigned ch = 0;
	int r;

	if (is_extraports(ha, pa) && is_extraports(hb, pb))
		return 0;
	if (!pa || !pb || pa->state != pb->state)
		ch |= DIFF_PCH_STATE;
	if (!service_eq(pa, pb))
		ch |= DIFF_PCH_SERVICE;
	if ((r = merge_scripts(w, ia->scripts, pa ? pa->nscripts : 0, ib->scripts,
	                       pb ? pb->nscripts : 0, &changed)) != 0)
		return r;
	if (changed)
		ch |= DIFF_PCH_SCRIPTS;
	if (!ch && !w->verbose) {
		w->ns = mark;
		return 0;
	}
	if ((r = scratch(&w->pp, &w->pp_cap, w->np + 1, sizeof(*w->pp))) != 0 ||
	    (r = scratch(&w->pp_off, &w->off_cap, w->np + 1, sizeof(*w->pp_off))) != 0)
		return r;
	w->pp[w->np].a = pa;
	w->pp[w->np].b = pb;
	w->pp[w->np].changes = ch;
	w->pp[w->np].nscripts = w->ns - mark;
	w->pp_off[w->np] = mark;
	w->np++;
	*any |= ch != 0;
	return 0;
}

static int names_eq(const struct diff_host *a, const struct diff_host *b)
{
	size_t na = a ? a->nhostnames : 0, nb = b ? b->nhostnames : 0;

	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a->hostnames[i], b->hostnames[i]) != 0)
			return 0;
	return 1;
}

static size_t extra_count(const struct diff_host *h, const struct diff_extraports *e)
{
	size_t n = 0;

	for (size_t i = 0; h && i < h->nextraports; i++)
		n += cmp_extra(&h->extraports[i], e) == 0;
	return n;
}

/* The same (state, count) pairs, in any order (ndiff compares them in file
 * order: docs/DIFF.md).  A host has a handful at most. */
static int extra_eq(const struct diff_host *a, const struct diff_host *b)
{
	size_t na = a ? a->nextraports : 0, nb = b ? b->nextraports : 0;

	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (extra_count(a, &a->extraports[i]) != extra_count(b, &a->extraports[i]))
			return 0;
	return 1;
}

/* ndiff compares the whole list of OS match names, in order. */
static int osmatches_eq(const struct diff_host *a, const struct diff_host *b)
{
	size_t n = a ? a->nosmatches : 0;

	if (n != (b ? b->nosmatches : 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->osmatches[i], b->osmatches[i]) != 0)
			return 0;
	return 1;
}

static int compare_host(struct walker *w, const struct diff_host *a, const struct diff_host *b,
                        struct diff_host_pair *hp)
{
	size_t i = 0, j = 0, na = a ? a->nports : 0, nb = b ? b->nports : 0, hs_changed = 0;
	int any_port = 0, r;

	memset(hp, 0, sizeof(*hp));
	hp->a = a;
	hp->b = b;
	w->np = w->ns = 0;
	if (!a || !b || a->status != b->status)
		hp->changes |= DIFF_CH_STATUS;
	if (!str_eq(a ? a->mac : NULL, b ? b->mac : NULL))
		hp->changes |= DIFF_CH_MAC;
	if (!names_eq(a, b))
		hp->changes |= DIFF_CH_HOSTNAMES;
	if (!osmatches_eq(a, b))
		hp->changes |= DIFF_CH_OS;
	if (!extra_eq(a, b))
		hp->changes |= DIFF_CH_EXTRAPORTS;
	if ((r = merge_scripts(w, a ? a->scripts : NULL, a ? a->nscripts : 0, b ? b->scripts : NULL,
	                       b ? b->nscripts : 0, &hs_changed)) != 0)
		return r;
	hp->nscripts = w->ns;
	if (hs_changed)
		hp->changes |= DIFF_CH_SCRIPTS;
	while (i < na || j < nb) {
		int c = i >= na ? 1 : j >= nb ? -1 : port_cmp(&a->ports[i], &b->ports[j]);

		if (c < 0)
			r = compare_port(w, a, b, &a->ports[i++], NULL, &any_port);
		else if (c > 0)
			r = compare_port(w, a, b, NULL, &b->ports[j++], &any_port);
		else
			r = compare_port(w, a, b, &a->ports[i++], &b->ports[j++], &any_port);
		if (r != 0)
			return r;
	}
	if (any_port)
		hp->changes |= DIFF_CH_PORTS;
	/* the arrays are final: point into them */
	for (size_t k = 0; k < w->np; k++)
		w->pp[k].scripts = w->pp[k].nscripts ? w->sp + w->pp_off[k] : NULL;
	hp->scripts = hp->nscripts ? w->sp : NULL;
	hp->ports = w->np ? w->pp : NULL;
	hp->nports = w->np;
	hp->kind = !a            ? DIFF_ADDED
	           : !b          ? DIFF_REMOVED
	           : hp->changes ? DIFF_CHANGED
	                         : DIFF_UNCHANGED;
	return 0;
}

int diff_walk(const struct diff_snapshot *a, const struct diff_snapshot *b, int verbose,
              int (*cb)(void *ctx, const struct diff_host_pair *hp), void *ctx,
              struct diff_summary *sum)
{
	struct walker w;
	struct diff_summary tally;
	size_t i = 0, j = 0;
	int r = 0;

	memset(&w, 0, sizeof(w));
	memset(&tally, 0, sizeof(tally));
	w.verbose = verbose;
	while (i < a->n || j < b->n) {
		const struct diff_host *ha = NULL, *hb = NULL;
		struct diff_host_pair hp;
		int c = i >= a->n   ? 1
		        : j >= b->n ? -1
		                    : memcmp(a->hosts[i].key, b->hosts[j].key, 16);

		if (c <= 0)
			ha = &a->hosts[i++];
		if (c >= 0)
			hb = &b->hosts[j++];
		if ((r = compare_host(&w, ha, hb, &hp)) != 0)
			goto out;
		switch (hp.kind) {
		case DIFF_ADDED:
			tally.added++;
			break;
		case DIFF_REMOVED:
			tally.removed++;
			break;
		case DIFF_CHANGED:
			tally.changed++;
			break;
		default:
			tally.unchanged++;
			break;
		}
		if ((hp.kind != DIFF_UNCHANGED || verbose) && (r = cb(ctx, &hp)) != 0)
			goto out;
	}
	r = 0;
out:
	free(w.pp);
	free(w.pp_off);
	free(w.sp);
	if (sum)
		*sum = tally;
	return r;
}

/* ---- writing: shared -------------------------------------------------------- */

struct wr {
	FILE *f;
	const struct diff_snapshot *a, *b;
	int verbose;
	struct buf tmp;      /* a line or a cell being built */
	struct buf svc, ver; /* a port row's SERVICE and VERSION */
	/* text: the port table / script lines of one host.  A script pair's
	 * line diff is not buffered with the table (a host may hold megabytes
	 * of script output): its row stands for it, and tab_print() runs the
	 * line diff again, writing each line as it comes (raw_mode). */
	struct buf cells;
	struct trow {
		size_t off;
		unsigned ncells;                   /* 0: sp's lines */
		const struct diff_script_pair *sp; /* non-NULL: the line diff of sp */
	} * rows;
	size_t nrows, rows_cap;
	size_t width[5];
	enum { RAW_COUNT, RAW_WRITE } raw_mode; /* what tab_raw() does */
	size_t raw_lines;                       /* RAW_COUNT: lines seen */
	struct buf line;                        /* RAW_WRITE: the line being written */
	/* script lines of the two sides (text) */
	struct buf la, lb;
	size_t *oa, *ob;
	size_t oa_cap, ob_cap;
	const char **pa, **pb; /* the lines as pointers */
	size_t pa_cap, pb_cap;
	uint32_t *lcs;
	size_t lcs_cap;
	char xml_group;                  /* XML OS list: '-' inside <a>, '+' inside <b>, else 0 */
	struct diff_script_pair *run_sp; /* the run's pre- or post-scan script pairs */
	size_t nrun_sp;
	size_t nhosts; /* JSON: hosts written so far */
};

static const char *status_name(const struct diff_host *h)
{
	return rec_host_status_name((enum rec_host_status)h->status);
}

static const char *state_name(const struct diff_port *p)
{
	return rec_port_state_name((enum rec_port_state)p->state);
}

static const char *proto_name(const struct diff_port *p)
{
	return rec_proto_name((enum rec_proto)p->proto);
}

static int wr_err(const struct wr *w)
{
	return ferror(w->f) ? SDB_EIO : 0;
}

/* nmap's and ndiff's banner: "Nmap 7.93 scan initiated DATE as: ARGS". */
static int banner(struct buf *b, const struct diff_meta *m)
{
	int r;

	buf_reset(b);
	r = buf_append_str(b, m->scanner && strcmp(m->scanner, "nmap") != 0 ? m->scanner : "Nmap");
	if (r == 0 && m->version)
		r = buf_printf(b, " %s", m->version);
	if (r == 0)
		r = buf_append_str(b, " scan");
	if (r == 0 && m->start) {
		char d[64];
		struct tm tm;
		time_t t = (time_t)m->start;

		if (localtime_r(&t, &tm) && strftime(d, sizeof(d), "%a %b %d %H:%M:%S %Y", &tm))
			r = buf_printf(b, " initiated %s", d);
	}
	if (r == 0 && m->args)
		r = buf_printf(b, " as: %s", m->args);
	return r;
}

/* ---- text ------------------------------------------------------------------- */

/* Append s made safe for a terminal: control characters (C0, DEL, and the
 * UTF-8 encoded C1 controls) become '?'. */
static int put_safe(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int r = 0;

	while (i < n && r == 0) {
		int bad = 0;
		size_t skip = 1;

		if (u[i] < 0x20 || u[i] == 0x7f)
			bad = 1;
		else if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			bad = 1, skip = 2;
		if (!bad) {
			i++;
			continue;
		}
		r = buf_append(b, s + run, i - run);
		if (r == 0)
			r = buf_append_char(b, '?');
		i += skip;
		run = i;
	}
	if (r == 0)
		r = buf_append(b, s + run, n - run);
	return r;
}

static int put_safe_str(struct buf *b, const char *s)
{
	return put_safe(b, s, strlen(s));
}

/* Columns a string takes: its UTF-8 code points. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* "web.example.com, www (192.0.2.1, 00:11:22:33:44:55)" */
static int host_name(struct buf *b, const struct diff_host *h)
{
	int r = 0;

	for (size_t i = 0; i < h->nhostnames && r == 0; i++) {
		if (i)
			r = buf_append_str(b, ", ");
		if (r == 0)
			r = put_safe_str(b, h->hostnames[i]);
	}
	if (r == 0 && h->nhostnames)
		r = buf_append_str(b, " (");
	if (r == 0)
		r = buf_append_str(b, h->addr);
	if (r == 0 && h->mac)
		r = buf_printf(b, ", %s", h->mac);
	if (r == 0 && h->nhostnames)
		r = buf_append_char(b, ')');
	return r;
}

static int host_line(struct wr *w, char mark, const struct diff_host *h)
{
	int r;

	buf_reset(&w->tmp);
	if ((r = host_name(&w->tmp, h)) != 0)
		return r;
	fprintf(w->f, "%c%s:\n", mark, buf_str(&w->tmp));
	return 0;
}

static void extra_line(struct wr *w, char mark, const struct diff_host *h)
{
	fprintf(w->f, "%cNot shown: ", mark);
	for (size_t i = 0; i < h->nextraports; i++)
		fprintf(w->f, "%s%ld %s ports", i ? ", " : "", h->extraports[i].count,
		        rec_port_state_name((enum rec_port_state)h->extraports[i].state));
	fputc('\n', w->f);
}

static void tab_reset(struct wr *w)
{
	buf_reset(&w->cells);
	w->nrows = 0;
	memset(w->width, 0, sizeof(w->width));
}

static int tab_push(struct wr *w, unsigned ncells)
{
	int r;

	if ((r = scratch(&w->rows, &w->rows_cap, w->nrows + 1, sizeof(*w->rows))) != 0)
		return r;
	w->rows[w->nrows].off = w->cells.len;
	w->rows[w->nrows].ncells = ncells;
	w->rows[w->nrows].sp = NULL;
	w->nrows++;
	return 0;
}

/* A row of up to 5 cells (NULL cells at the end are dropped, as ndiff's
 * Table does; a NULL in the middle is empty). */
static int tab_row(struct wr *w, const char *const c[5])
{
	unsigned n = 5;
	int r;

	while (n > 0 && !c[n - 1])
		n--;
	if ((r = tab_push(w, n)) != 0)
		return r;
	for (unsigned i = 0; i < n && r == 0; i++) {
		size_t start = w->cells.len, wd;

		if (c[i])
			r = put_safe_str(&w->cells, c[i]);
		if (r == 0)
			r = buf_append_char(&w->cells, '\0');
		if (r == 0 && (wd = text_width(w->cells.data + start)) > w->width[i])
			w->width[i] = wd;
	}
	return r;
}

/* A raw line of a script's line diff: mark + text (made safe), counted
 * (RAW_COUNT) or written at once (RAW_WRITE, from tab_print()). */
static int tab_raw(struct wr *w, char mark, const char *s, size_t n)
{
	int r;

	if (w->raw_mode == RAW_COUNT) {
		w->raw_lines++;
		return 0;
	}
	buf_reset(&w->line);
	if ((r = buf_append_char(&w->line, mark)) == 0 && (r = put_safe(&w->line, s, n)) == 0 &&
	    (r = buf_append_char(&w->line, '\n')) == 0)
		fwrite(w->line.data, 1, w->line.len, w->f);
	return r;
}

static int script_diff_rows(struct wr *w, const struct diff_script_pair *sp);

/* A row standing for the line diff of sp, if it shows any line. */
static int tab_scripts(struct wr *w, const struct diff_script_pair *sp)
{
	int r;

	w->raw_mode = RAW_COUNT;
	w->raw_lines = 0;
	if ((r = script_diff_rows(w, sp)) != 0 || w->raw_lines == 0)
		return r;
	if ((r = tab_push(w, 0)) != 0)
		return r;
	w->rows[w->nrows - 1].sp = sp;
	return 0;
}

static int tab_print(struct wr *w)
{
	static const char *const pad[5] = {"", " ", " ", " ", ""};
	int r = 0;

	for (size_t i = 0; i < w->nrows && r == 0; i++) {
		const char *c;
		size_t len = 0;

		if (w->rows[i].sp) {
			w->raw_mode = RAW_WRITE;
			r = script_diff_rows(w, w->rows[i].sp);
			w->raw_mode = RAW_COUNT;
			continue;
		}
		c = w->cells.data + w->rows[i].off; /* cells exist: none when only scripts */
		buf_reset(&w->tmp);
		for (unsigned k = 0; k < w->rows[i].ncells; k++) {
			size_t wd = text_width(c);

			buf_append_str(&w->tmp, c);
			for (; wd < w->width[k]; wd++)
				buf_append_char(&w->tmp, ' ');
			buf_append_str(&w->tmp, pad[k]);
			c += strlen(c) + 1;
		}
		len = w->tmp.len;
		while (len > 0 && w->tmp.data[len - 1] == ' ')
			len--;
		fwrite(w->tmp.data, 1, len, w->f);
		fputc('\n', w->f);
	}
	return r;
}

/*
 * A script's lines as ndiff shows them (ScriptResult.get_lines): the output
 * split into lines, "ID: " before the first, "|  " before each but the
 * last, "|_ " before the last.  No output, no lines.  Lines go into `b`
 * (NUL-terminated each), their offsets into *off (count *n).
 */
static int script_lines(const struct diff_script *s, struct buf *b, size_t **off, size_t *cap,
                        size_t *n)
{
	const char *p = s ? s->output : NULL;
	size_t nl = 0;
	int r = 0;

	buf_reset(b);
	*n = 0;
	if (!p || !*p)
		return 0;
	while (*p && r == 0) {
		size_t len = strcspn(p, "\r\n");
		const char *next = p + len;
		int last;

		if (*next == '\r' && next[1] == '\n')
			next += 2;
		else if (*next)
			next++;
		last = *next == '\0';
		if ((r = scratch(off, cap, nl + 1, sizeof(**off))) != 0)
			return r;
		(*off)[nl++] = b->len;
		r = buf_append_str(b, last ? "|_ " : "|  ");
		if (r == 0 && nl == 1)
			r = buf_printf(b, "%s: ", s->id);
		if (r == 0)
			r = buf_append(b, p, len);
		if (r == 0)
			r = buf_append_char(b, '\0');
		p = next;
	}
	*n = nl;
	return r;
}

typedef int (*line_emit)(struct wr *w, char mark, const char *line);

/*
 * Line diff of A[0..na) and B[0..nb): emit(w, mark, line) for each line in
 * order, mark ' ' common, '-' only in A, '+' only in B; within a changed
 * stretch the '-' lines come first (ndiff's difflib opcodes, in substance).
 * Longest common subsequence of the middle once the common head and tail
 * are cut off; a middle too big for that is shown as replaced.  Equal
 * lists emit nothing unless verbose.
 */
static int line_diff(struct wr *w, const char *const *A, size_t na, const char *const *B, size_t nb,
                     line_emit emit)
{
	size_t pre = 0, suf = 0, ma, mb;
	int r = 0;

	while (pre < na && pre < nb && strcmp(A[pre], B[pre]) == 0)
		pre++;
	while (suf < na - pre && suf < nb - pre && strcmp(A[na - 1 - suf], B[nb - 1 - suf]) == 0)
		suf++;
	if (pre == na && pre == nb && !w->verbose)
		return 0;
	for (size_t i = 0; i < pre && r == 0; i++)
		r = emit(w, ' ', A[i]);
	ma = na - pre - suf;
	mb = nb - pre - suf;
	if (r == 0 && ma && mb && (ma + 1) <= LINE_DIFF_MAX_CELLS / (mb + 1)) {
		/* L[i][j] = LCS of a[pre+i..pre+ma) and b[pre+j..pre+mb) */
		size_t cols = mb + 1, i = 0, j = 0, dels = 0, dstart = 0, ins = 0, istart = 0;

		if ((r = scratch(&w->lcs, &w->lcs_cap, (ma + 1) * cols, sizeof(*w->lcs))) != 0)
			return r;
		for (size_t x = ma + 1; x-- > 0;)
			for (size_t y = mb + 1; y-- > 0;) {
				uint32_t v;

				if (x == ma || y == mb)
					v = 0;
				else if (strcmp(A[pre + x], B[pre + y]) == 0)
					v = w->lcs[(x + 1) * cols + y + 1] + 1;
				else
					v = w->lcs[(x + 1) * cols + y] > w->lcs[x * cols + y + 1]
					        ? w->lcs[(x + 1) * cols + y]
					        : w->lcs[x * cols + y + 1];
				w->lcs[x * cols + y] = v;
			}
		while (r == 0 && (i < ma || j < mb)) {
			int eq = i < ma && j < mb && strcmp(A[pre + i], B[pre + j]) == 0;

			if (!eq) {
				if (j >= mb || (i < ma && w->lcs[(i + 1) * cols + j] >=
				                              w->lcs[i * cols + j + 1])) {
					if (!dels++)
						dstart = i;
					i++;
				} else {
					if (!ins++)
						istart = j;
					j++;
				}
				if (i < ma || j < mb)
					continue;
			}
			for (size_t k = 0; k < dels && r == 0; k++)
				r = emit(w, '-', A[pre + dstart + k]);
			for (size_t k = 0; k < ins && r == 0; k++)
				r = emit(w, '+', B[pre + istart + k]);
			dels = ins = 0;
			if (eq && r == 0) {
				r = emit(w, ' ', A[pre + i]);
				i++;
				j++;
			}
		}
	} else {
		for (size_t i = 0; i < ma && r == 0; i++)
			r = emit(w, '-', A[pre + i]);
		for (size_t j = 0; j < mb && r == 0; j++)
			r = emit(w, '+', B[pre + j]);
	}
	for (size_t i = na - suf; i < na && r == 0; i++)
		r = emit(w, ' ', A[i]);
	return r;
}

static int emit_tab(struct wr *w, char mark, const char *line)
{
	return tab_raw(w, mark, line, strlen(line));
}

/* The lines script_lines() put in `b` at offsets off[0..n), as pointers. */
static int line_ptrs(const struct buf *b, const size_t *off, size_t n, const char ***v, size_t *cap)
{
	int r = scratch(v, cap, n ? n : 1, sizeof(**v));

	for (size_t i = 0; i < n && r == 0; i++)
		(*v)[i] = b->data + off[i];
	return r;
}

/* Line diff of the two scripts' lines into raw table rows. */
static int script_diff_rows(struct wr *w, const struct diff_script_pair *sp)
{
	size_t na, nb;
	int r;

	if ((r = script_lines(sp->a, &w->la, &w->oa, &w->oa_cap, &na)) != 0 ||
	    (r = script_lines(sp->b, &w->lb, &w->ob, &w->ob_cap, &nb)) != 0 ||
	    (r = line_ptrs(&w->la, w->oa, na, &w->pa, &w->pa_cap)) != 0 ||
	    (r = line_ptrs(&w->lb, w->ob, nb, &w->pb, &w->pb_cap)) != 0)
		return r;
	return line_diff(w, w->pa, na, w->pb, nb, emit_tab);
}

/* ndiff's PORT STATE SERVICE VERSION row of one side of a port. */
static int port_row(struct wr *w, char mark, const struct diff_port *p)
{
	const struct diff_port_info *in = port_info(p);
	char m[2] = {mark, '\0'}, spec[32];
	const char *c[5];
	int r = 0;

	buf_reset(&w->svc);
	buf_reset(&w->ver);
	snprintf(spec, sizeof(spec), "%u/%s", (unsigned)p->port, proto_name(p));
	if (in->tunnel)
		r = buf_append_str(&w->svc, in->tunnel);
	if (r == 0 && in->name)
		r = buf_printf(&w->svc, "%s%s", in->tunnel ? "/" : "", in->name);
	if (r == 0 && in->product)
		r = buf_append_str(&w->ver, in->product);
	if (r == 0 && in->version)
		r = buf_printf(&w->ver, "%s%s", w->ver.len ? " " : "", in->version);
	if (r == 0 && in->extrainfo)
		r = buf_printf(&w->ver, "%s(%s)", w->ver.len ? " " : "", in->extrainfo);
	if (r != 0)
		return r;
	c[0] = m;
	c[1] = spec;
	c[2] = state_name(p);
	c[3] = in->tunnel || in->name ? buf_str(&w->svc) : NULL;
	c[4] = in->product || in->version || in->extrainfo ? buf_str(&w->ver) : NULL;
	return tab_row(w, c);
}

/* ndiff's print_script_result_diffs_text(): "\n Host script results:" (or
 * Pre-scan/Post-scan; '-'/'+' when only A/B has scripts) and the line diff
 * of each pair, when any line is shown.  na/nb: the scripts each side has. */
static int text_scripts(struct wr *w, const char *title, const struct diff_script_pair *sp,
                        size_t n, size_t na, size_t nb)
{
	int r = 0;

	tab_reset(w);
	for (size_t k = 0; k < n && r == 0; k++)
		r = tab_scripts(w, &sp[k]);
	if (r == 0 && w->nrows > 0) {
		fprintf(w->f, "\n%c%s script results:\n",
		        nb == 0   ? '-'
		        : na == 0 ? '+'
		                  : ' ',
		        title);
		r = tab_print(w);
	}
	return r;
}

/* "-  Linux 5.0 - 5.4": one OS match line of ndiff's "OS details". */
static int emit_os_text(struct wr *w, char mark, const char *name)
{
	int r;

	buf_reset(&w->tmp);
	if ((r = put_safe_str(&w->tmp, name)) == 0)
		fprintf(w->f, "%c  %s\n", mark, buf_str(&w->tmp));
	return r;
}

static int text_host(void *ctx, const struct diff_host_pair *hp)
{
	struct wr *w = ctx;
	const struct diff_host *a = hp->a, *b = hp->b;
	static const char *const head[5] = {NULL, "PORT", "STATE", "SERVICE", "VERSION"};
	const char *c[5];
	char mark[2];
	int r = 0;

	fputc('\n', w->f);
	/* names and addresses */
	if (!a || !b || (hp->changes & (DIFF_CH_MAC | DIFF_CH_HOSTNAMES))) {
		if (a)
			r = host_line(w, '-', a);
		if (r == 0 && b)
			r = host_line(w, '+', b);
	} else {
		r = host_line(w, ' ', a);
	}
	if (r != 0)
		return r;
	/* state */
	if (hp->changes & DIFF_CH_STATUS) {
		if (a)
			fprintf(w->f, "-Host is %s.\n", status_name(a));
		if (b)
			fprintf(w->f, "+Host is %s.\n", status_name(b));
	} else if (w->verbose) {
		fprintf(w->f, " Host is %s.\n", status_name(b));
	}
	/* extraports */
	if (hp->changes & DIFF_CH_EXTRAPORTS) {
		if (a && a->nextraports)
			extra_line(w, '-', a);
		if (b && b->nextraports)
			extra_line(w, '+', b);
	} else if (w->verbose && a && a->nextraports) {
		extra_line(w, ' ', a);
	}
	/* port table */
	tab_reset(w);
	mark[0] = !a ? '+' : !b ? '-' : ' ';
	mark[1] = '\0';
	memcpy(c, head, sizeof(c));
	c[0] = mark;
	if ((r = tab_row(w, c)) != 0)
		return r;
	for (size_t i = 0; i < hp->nports && r == 0; i++) {
		const struct diff_port_pair *pp = &hp->ports[i];

		if (!(pp->changes & (DIFF_PCH_STATE | DIFF_PCH_SERVICE))) {
			r = port_row(w, ' ', pp->a ? pp->a : pp->b);
		} else {
			if (!is_extraports(a, pp->a))
				r = port_row(w, '-', pp->a);
			if (r == 0 && !is_extraports(b, pp->b))
				r = port_row(w, '+', pp->b);
		}
		for (size_t k = 0; k < pp->nscripts && r == 0; k++)
			r = tab_scripts(w, &pp->scripts[k]);
	}
	if (r == 0 && w->nrows > 1)
		r = tab_print(w);
	if (r != 0)
		return r;
	/* OS: the list of matches */
	if ((hp->changes & DIFF_CH_OS) || w->verbose) {
		size_t na = a ? a->nosmatches : 0, nb = b ? b->nosmatches : 0;

		if (na)
			fputs(nb ? " OS details:\n" : "-OS details:\n", w->f);
		else if (nb)
			fputs("+OS details:\n", w->f);
		if ((r = line_diff(w, na ? a->osmatches : NULL, na, nb ? b->osmatches : NULL, nb,
		                   emit_os_text)) != 0)
			return r;
	}
	if ((r = text_scripts(w, "Host", hp->scripts, hp->nscripts, a ? a->nscripts : 0,
	                      b ? b->nscripts : 0)) != 0)
		return r;
	return wr_err(w);
}

/* The run's pre-scan (post == 0) or post-scan (post == 1) script pairs,
 * paired as ndiff's diff_lists() does, into w->run_sp/nrun_sp; *na and *nb
 * say how many scripts each side has. */
static int run_script_pairs(struct wr *w, int post, size_t *na, size_t *nb)
{
	struct walker wk;
	size_t changed;
	int r;

	memset(&wk, 0, sizeof(wk));
	wk.verbose = w->verbose;
	*na = w->a->nrscripts[post];
	*nb = w->b->nrscripts[post];
	r = merge_scripts(&wk, w->a->rscripts[post], *na, w->b->rscripts[post], *nb, &changed);
	free(w->run_sp);
	w->run_sp = wk.sp;
	w->nrun_sp = wk.ns;
	return r;
}

/* ndiff's " Pre-scan script results:" / " Post-scan script results:". */
static int text_run_scripts(struct wr *w, int post)
{
	size_t na, nb;
	int r;

	if ((r = run_script_pairs(w, post, &na, &nb)) != 0 ||
	    (r = text_scripts(w, post ? "Post-scan" : "Pre-scan", w->run_sp, w->nrun_sp, na, nb)) !=
	        0)
		return r;
	return wr_err(w);
}

static int text_begin(struct wr *w)
{
	struct buf ba;
	int r;

	buf_init(&ba, TEXT_MAX);
	if ((r = banner(&ba, diff_snapshot_meta(w->a))) == 0 &&
	    (r = banner(&w->tmp, diff_snapshot_meta(w->b))) == 0) {
		struct buf sa;

		buf_init(&sa, TEXT_MAX);
		if (strcmp(buf_str(&ba), buf_str(&w->tmp)) != 0) {
			if ((r = put_safe_str(&sa, buf_str(&ba))) == 0)
				fprintf(w->f, "-%s\n", buf_str(&sa));
			buf_reset(&sa);
			if (r == 0 && (r = put_safe_str(&sa, buf_str(&w->tmp))) == 0)
				fprintf(w->f, "+%s\n", buf_str(&sa));
		} else if (w->verbose) {
			if ((r = put_safe_str(&sa, buf_str(&ba))) == 0)
				fprintf(w->f, " %s\n", buf_str(&sa));
		}
		buf_free(&sa);
	}
	buf_free(&ba);
	return r;
}

/* ---- XML (ndiff's nmapdiff document) ------------------------------------------ */

/* Escaped attribute value: & < > " and TAB/LF/CR as references (so that a
 * parser gives back the same text), other characters XML 1.0 cannot hold
 * as '?', bytes that are not UTF-8 as U+FFFD. */
static void xml_text(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0, i = 0;

	while (u[i]) {
		const char *rep = NULL;
		size_t n = utf8_seq_len(u + i);

		if (n == 1) {
			switch (u[i]) {
			case '&':
				rep = "&amp;";
				break;
			case '<':
				rep = "&lt;";
				break;
			case '>':
				rep = "&gt;";
				break;
			case '"':
				rep = "&quot;";
				break;
			case '\t':
				rep = "&#x9;";
				break;
			case '\n':
				rep = "&#xa;";
				break;
			case '\r':
				rep = "&#xd;";
				break;
			default:
				if (u[i] < 0x20)
					rep = "?";
			}
		} else if (n == 0) {
			rep = "\xef\xbf\xbd";
			n = 1;
		} else if (n == 3 && u[i] == 0xef && u[i + 1] == 0xbf && u[i + 2] >= 0xbe) {
			rep = "?"; /* U+FFFE, U+FFFF are not XML characters */
		}
		if (!rep) {
			i += n;
			continue;
		}
		fwrite(s + run, 1, i - run, f);
		fputs(rep, f);
		i += n;
		run = i;
	}
	fwrite(s + run, 1, i - run, f);
}

static void xml_attr(FILE *f, const char *name, const char *v)
{
	if (!v)
		return;
	fprintf(f, " %s=\"", name);
	xml_text(f, v);
	fputc('"', f);
}

static void xml_nmaprun(struct wr *w, const struct diff_meta *m)
{
	fputs("<nmaprun", w->f);
	xml_attr(w->f, "scanner", m->scanner);
	xml_attr(w->f, "args", m->args);
	if (m->start) {
		char d[64];
		struct tm tm;
		time_t t = (time_t)m->start;

		fprintf(w->f, " start=\"%lld\"", (long long)m->start);
		if (localtime_r(&t, &tm) && strftime(d, sizeof(d), "%a %b %d %H:%M:%S %Y", &tm))
			xml_attr(w->f, "startstr", d);
	}
	xml_attr(w->f, "version", m->version);
	fputs("/>\n", w->f);
}

static void xml_status(struct wr *w, const struct diff_host *h)
{
	fprintf(w->f, "<status state=\"%s\"/>\n", status_name(h));
}

static void xml_addr(struct wr *w, const char *addr, const char *type)
{
	fputs("<address", w->f);
	xml_attr(w->f, "addr", addr);
	fprintf(w->f, " addrtype=\"%s\"/>\n", type);
}

static void xml_hostname(struct wr *w, const char *name)
{
	fputs("<hostname", w->f);
	xml_attr(w->f, "name", name);
	fputs("/>\n", w->f);
}

static void xml_extra(struct wr *w, const struct diff_host *h)
{
	for (size_t i = 0; h && i < h->nextraports; i++)
		fprintf(w->f, "<extraports state=\"%s\" count=\"%ld\"/>\n",
		        rec_port_state_name((enum rec_port_state)h->extraports[i].state),
		        h->extraports[i].count);
}

static void xml_service(struct wr *w, const struct diff_port *p)
{
	const struct diff_port_info *in = port_info(p);

	if (!in->name && !in->product && !in->version && !in->extrainfo && !in->tunnel)
		return;
	fputs("<service", w->f);
	xml_attr(w->f, "name", in->name);
	xml_attr(w->f, "product", in->product);
	xml_attr(w->f, "version", in->version);
	xml_attr(w->f, "extrainfo", in->extrainfo);
	xml_attr(w->f, "tunnel", in->tunnel);
	fputs("/>\n", w->f);
}

static void xml_script(struct wr *w, const struct diff_script *s)
{
	fputs("<script", w->f);
	xml_attr(w->f, "id", s->id);
	xml_attr(w->f, "output", s->output);
	fputs("/>\n", w->f);
}

static void xml_script_pair(struct wr *w, const struct diff_script_pair *sp)
{
	if (sp->a && sp->b && strcmp(sp->a->output, sp->b->output) == 0) {
		xml_script(w, sp->a);
		return;
	}
	if (sp->a) {
		fputs("<a>\n", w->f);
		xml_script(w, sp->a);
		fputs("</a>\n", w->f);
	}
	if (sp->b) {
		fputs("<b>\n", w->f);
		xml_script(w, sp->b);
		fputs("</b>\n", w->f);
	}
}

/* ndiff's script_result_diffs_to_dom_fragment(): <TAG> (hostscript,
 * prescript, postscript) with the pairs (changed ones; all with verbose),
 * or, when one side has no scripts, the other's whole list as <TAG> in its
 * <a>/<b>.  Nothing when neither has any, or nothing changed (no -v). */
static void xml_scripts(struct wr *w, const char *tag, const struct diff_script *sa, size_t na,
                        const struct diff_script *sb, size_t nb, const struct diff_script_pair *sp,
                        size_t n)
{
	if ((n == 0 && !w->verbose) || (na == 0 && nb == 0))
		return;
	if (na == 0 || nb == 0) {
		const struct diff_script *v = na ? sa : sb;
		const char *side = na ? "a" : "b";

		fprintf(w->f, "<%s>\n<%s>\n", side, tag);
		for (size_t i = 0; i < na + nb; i++)
			xml_script(w, &v[i]);
		fprintf(w->f, "</%s>\n</%s>\n", tag, side);
	} else {
		fprintf(w->f, "<%s>\n", tag);
		for (size_t i = 0; i < n; i++)
			xml_script_pair(w, &sp[i]);
		fprintf(w->f, "</%s>\n", tag);
	}
}

/* A whole port, or a bare <port/> for a side that did not list it. */
static void xml_port(struct wr *w, const struct diff_port *p, const struct diff_port *spec)
{
	const struct diff_port_info *in = port_info(p);

	fprintf(w->f, "<port portid=\"%u\" protocol=\"%s\"", (unsigned)spec->port,
	        proto_name(spec));
	if (!p) {
		fputs("/>\n", w->f);
		return;
	}
	fprintf(w->f, ">\n<state state=\"%s\"/>\n", state_name(p));
	xml_service(w, p);
	for (size_t i = 0; i < p->nscripts; i++)
		xml_script(w, &in->scripts[i]);
	fputs("</port>\n", w->f);
}

/* A whole host (added or removed), as ndiff's Host.to_dom_fragment(). */
static void xml_whole_host(struct wr *w, const struct diff_host *h)
{
	int ports = 0;

	fputs("<host>\n", w->f);
	xml_status(w, h);
	xml_addr(w, h->addr, h->family == 6 ? "ipv6" : "ipv4");
	if (h->mac)
		xml_addr(w, h->mac, "mac");
	if (h->nhostnames) {
		fputs("<hostnames>\n", w->f);
		for (size_t i = 0; i < h->nhostnames; i++)
			xml_hostname(w, h->hostnames[i]);
		fputs("</hostnames>\n", w->f);
	}
	ports = h->nextraports > 0;
	for (size_t i = 0; i < h->nports && !ports; i++)
		ports = !is_extraports(h, &h->ports[i]);
	if (ports) {
		fputs("<ports>\n", w->f);
		xml_extra(w, h);
		for (size_t i = 0; i < h->nports; i++)
			if (!is_extraports(h, &h->ports[i]))
				xml_port(w, &h->ports[i], &h->ports[i]);
		fputs("</ports>\n", w->f);
	}
	if (h->nosmatches) {
		fputs("<os>\n", w->f);
		for (size_t i = 0; i < h->nosmatches; i++) {
			fputs("<osmatch", w->f);
			xml_attr(w->f, "name", h->osmatches[i]);
			fputs("/>\n", w->f);
		}
		fputs("</os>\n", w->f);
	}
	if (h->nscripts) {
		fputs("<hostscript>\n", w->f);
		for (size_t i = 0; i < h->nscripts; i++)
			xml_script(w, &h->scripts[i]);
		fputs("</hostscript>\n", w->f);
	}
	fputs("</host>\n", w->f);
}

static void xml_portdiff(struct wr *w, const struct diff_port_pair *pp)
{
	const struct diff_port *spec = pp->a ? pp->a : pp->b;

	if (pp->changes == 0) { /* verbose: an unchanged port */
		xml_port(w, spec, spec);
		return;
	}
	fputs("<portdiff>\n", w->f);
	if (!(pp->changes & DIFF_PCH_STATE)) {
		fprintf(w->f, "<port portid=\"%u\" protocol=\"%s\">\n<state state=\"%s\"/>\n",
		        (unsigned)spec->port, proto_name(spec), state_name(spec));
		if (!(pp->changes & DIFF_PCH_SERVICE)) {
			xml_service(w, pp->a);
		} else {
			fputs("<a>\n", w->f);
			xml_service(w, pp->a);
			fputs("</a>\n<b>\n", w->f);
			xml_service(w, pp->b);
			fputs("</b>\n", w->f);
		}
		for (size_t i = 0; i < pp->nscripts; i++)
			xml_script_pair(w, &pp->scripts[i]);
		fputs("</port>\n", w->f);
	} else {
		fputs("<a>\n", w->f);
		xml_port(w, pp->a, spec);
		fputs("</a>\n<b>\n", w->f);
		xml_port(w, pp->b, spec);
		fputs("</b>\n", w->f);
	}
	fputs("</portdiff>\n", w->f);
}

static void xml_names(struct wr *w, const struct diff_host *a, const struct diff_host *b)
{
	size_t i = 0, j = 0, na = a->nhostnames, nb = b->nhostnames;
	int open = 0;

	/* common names, then <a> only-a, then <b> only-b (ndiff's order) */
	for (int pass = 0; pass < 3; pass++) {
		int wrapped = 0;

		for (i = 0, j = 0; i < na || j < nb;) {
			int c = i >= na   ? 1
			        : j >= nb ? -1
			                  : strcmp(a->hostnames[i], b->hostnames[j]);
			const char *name = NULL;

			if (c == 0) {
				name = pass == 0 ? a->hostnames[i] : NULL;
				i++;
				j++;
			} else if (c < 0) {
				name = pass == 1 ? a->hostnames[i] : NULL;
				i++;
			} else {
				name = pass == 2 ? b->hostnames[j] : NULL;
				j++;
			}
			if (!name)
				continue;
			if (!open) {
				fputs("<hostnames>\n", w->f);
				open = 1;
			}
			if (pass > 0 && !wrapped) {
				fputs(pass == 1 ? "<a>\n" : "<b>\n", w->f);
				wrapped = 1;
			}
			xml_hostname(w, name);
		}
		if (wrapped)
			fputs(pass == 1 ? "</a>\n" : "</b>\n", w->f);
	}
	if (open)
		fputs("</hostnames>\n", w->f);
}

/* One OS match as ndiff writes it: a run of removed ones in one <a>, of
 * added ones in one <b>, common ones bare.  name == NULL closes the run. */
static int emit_os_xml(struct wr *w, char mark, const char *name)
{
	if (w->xml_group && w->xml_group != mark) {
		fputs(w->xml_group == '-' ? "</a>\n" : "</b>\n", w->f);
		w->xml_group = 0;
	}
	if (!name)
		return 0;
	if (mark != ' ' && !w->xml_group) {
		fputs(mark == '-' ? "<a>\n" : "<b>\n", w->f);
		w->xml_group = mark;
	}
	fputs("<osmatch", w->f);
	xml_attr(w->f, "name", name);
	fputs("/>\n", w->f);
	return 0;
}

static int xml_host(void *ctx, const struct diff_host_pair *hp)
{
	struct wr *w = ctx;
	const struct diff_host *a = hp->a, *b = hp->b;

	fputs("<hostdiff>\n", w->f);
	if (!a || !b) {
		fputs(a ? "<a>\n" : "<b>\n", w->f);
		xml_whole_host(w, a ? a : b);
		fputs(a ? "</a>\n" : "</b>\n", w->f);
		fputs("</hostdiff>\n", w->f);
		return wr_err(w);
	}
	fputs("<host>\n", w->f);
	if (hp->changes & DIFF_CH_STATUS) {
		fputs("<a>\n", w->f);
		xml_status(w, a);
		fputs("</a>\n<b>\n", w->f);
		xml_status(w, b);
		fputs("</b>\n", w->f);
	} else if (w->verbose) {
		xml_status(w, a);
	}
	xml_addr(w, a->addr, a->family == 6 ? "ipv6" : "ipv4");
	if (!(hp->changes & DIFF_CH_MAC)) {
		if (a->mac)
			xml_addr(w, a->mac, "mac");
	} else {
		if (a->mac) {
			fputs("<a>\n", w->f);
			xml_addr(w, a->mac, "mac");
			fputs("</a>\n", w->f);
		}
		if (b->mac) {
			fputs("<b>\n", w->f);
			xml_addr(w, b->mac, "mac");
			fputs("</b>\n", w->f);
		}
	}
	xml_names(w, a, b);
	if (a->nextraports || b->nextraports || hp->nports) {
		fputs("<ports>\n", w->f);
		if (!(hp->changes & DIFF_CH_EXTRAPORTS)) {
			xml_extra(w, a);
		} else {
			fputs(a->nextraports ? "<a>\n" : "<a/>\n", w->f);
			xml_extra(w, a);
			fputs(a->nextraports ? "</a>\n" : "", w->f);
			fputs(b->nextraports ? "<b>\n" : "<b/>\n", w->f);
			xml_extra(w, b);
			fputs(b->nextraports ? "</b>\n" : "", w->f);
		}
		for (size_t i = 0; i < hp->nports; i++)
			xml_portdiff(w, &hp->ports[i]);
		fputs("</ports>\n", w->f);
	}
	if (((hp->changes & DIFF_CH_OS) || w->verbose) && (a->nosmatches || b->nosmatches)) {
		int r;

		fputs("<os>\n", w->f);
		w->xml_group = 0;
		if ((r = line_diff(w, a->osmatches, a->nosmatches, b->osmatches, b->nosmatches,
		                   emit_os_xml)) != 0)
			return r;
		emit_os_xml(w, ' ', NULL);
		fputs("</os>\n", w->f);
	}
	xml_scripts(w, "hostscript", a->scripts, a->nscripts, b->scripts, b->nscripts, hp->scripts,
	            hp->nscripts);
	fputs("</host>\n</hostdiff>\n", w->f);
	return wr_err(w);
}

static int meta_differs(const struct diff_meta *a, const struct diff_meta *b)
{
	return !str_eq(a->scanner, b->scanner) || !str_eq(a->version, b->version) ||
	       !str_eq(a->args, b->args) || a->start != b->start || a->end != b->end;
}

/* <prescript>/<postscript> as ndiff means to write them (xml_scripts). */
static int xml_run_scripts(struct wr *w, int post)
{
	const char *tag = post ? "postscript" : "prescript";
	size_t na, nb;
	int r;

	if ((r = run_script_pairs(w, post, &na, &nb)) != 0)
		return r;
	xml_scripts(w, tag, w->a->rscripts[post], na, w->b->rscripts[post], nb, w->run_sp,
	            w->nrun_sp);
	return wr_err(w);
}

static void xml_begin(struct wr *w)
{
	const struct diff_meta *ma = diff_snapshot_meta(w->a), *mb = diff_snapshot_meta(w->b);

	/* ndiff's layout: its XMLGenerator writes these tags with no line
	 * breaks, its DOM fragments one element a line */
	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<nmapdiff version=\"1\"><scandiff>",
	      w->f);
	if (meta_differs(ma, mb)) {
		fputs("<a>", w->f);
		xml_nmaprun(w, ma);
		fputs("</a><b>", w->f);
		xml_nmaprun(w, mb);
		fputs("</b>", w->f);
	} else if (w->verbose) {
		xml_nmaprun(w, ma);
	}
}

/* ---- JSON ------------------------------------------------------------------- */

/* A JSON string (or null): control characters escaped, bytes that are not
 * UTF-8 as U+FFFD. */
static void json_str(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0, i = 0;

	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	while (u[i]) {
		char esc[8];
		const char *rep = NULL;
		size_t n = utf8_seq_len(u + i);

		if (n == 0) {
			rep = "\\ufffd";
			n = 1;
		} else if (n == 1 && (u[i] < 0x20 || u[i] == '"' || u[i] == '\\')) {
			switch (u[i]) {
			case '"':
				rep = "\\\"";
				break;
			case '\\':
				rep = "\\\\";
				break;
			case '\n':
				rep = "\\n";
				break;
			case '\r':
				rep = "\\r";
				break;
			case '\t':
				rep = "\\t";
				break;
			default:
				snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
				rep = esc;
			}
		}
		if (!rep) {
			i += n;
			continue;
		}
		fwrite(s + run, 1, i - run, f);
		fputs(rep, f);
		i += n;
		run = i;
	}
	fwrite(s + run, 1, i - run, f);
	fputc('"', f);
}

static void json_meta(struct wr *w, const struct diff_meta *m)
{
	char t[TIME_ISO_LEN];

	fputs("{\"job_id\":", w->f);
	if (m->job_id)
		fprintf(w->f, "%lld", (long long)m->job_id);
	else
		fputs("null", w->f);
	fputs(",\"file\":", w->f);
	json_str(w->f, m->file);
	fputs(",\"scanner\":", w->f);
	json_str(w->f, m->scanner);
	fputs(",\"version\":", w->f);
	json_str(w->f, m->version);
	fputs(",\"args\":", w->f);
	json_str(w->f, m->args);
	time_format_iso(m->start, t);
	fputs(",\"start\":", w->f);
	json_str(w->f, m->start ? t : NULL);
	time_format_iso(m->end, t);
	fputs(",\"end\":", w->f);
	json_str(w->f, m->end ? t : NULL);
	fputc('}', w->f);
}

static void json_names(struct wr *w, const struct diff_host *h)
{
	if (!h) {
		fputs("null", w->f);
		return;
	}
	fputc('[', w->f);
	for (size_t i = 0; i < h->nhostnames; i++) {
		if (i)
			fputc(',', w->f);
		json_str(w->f, h->hostnames[i]);
	}
	fputc(']', w->f);
}

static void json_os(struct wr *w, const struct diff_host *h)
{
	if (!h || !h->os) {
		fputs("null", w->f);
		return;
	}
	fputs("{\"name\":", w->f);
	json_str(w->f, h->os);
	if (h->os_accuracy >= 0)
		fprintf(w->f, ",\"accuracy\":%d", h->os_accuracy);
	else
		fputs(",\"accuracy\":null", w->f);
	fputs(",\"matches\":[", w->f);
	for (size_t i = 0; i < h->nosmatches; i++) {
		if (i)
			fputc(',', w->f);
		json_str(w->f, h->osmatches[i]);
	}
	fputs("]}", w->f);
}

static void json_extra(struct wr *w, const struct diff_host *h)
{
	if (!h) {
		fputs("null", w->f);
		return;
	}
	fputc('[', w->f);
	for (size_t i = 0; i < h->nextraports; i++)
		fprintf(w->f, "%s{\"state\":\"%s\",\"count\":%ld}", i ? "," : "",
		        rec_port_state_name((enum rec_port_state)h->extraports[i].state),
		        h->extraports[i].count);
	fputc(']', w->f);
}

static void json_port_side(struct wr *w, const struct diff_port *p)
{
	const struct diff_port_info *in = port_info(p);

	if (!p) {
		fputs("null", w->f);
		return;
	}
	fprintf(w->f, "{\"state\":\"%s\",\"service\":", state_name(p));
	json_str(w->f, in->name);
	fputs(",\"product\":", w->f);
	json_str(w->f, in->product);
	fputs(",\"version\":", w->f);
	json_str(w->f, in->version);
	fputs(",\"extrainfo\":", w->f);
	json_str(w->f, in->extrainfo);
	fputs(",\"tunnel\":", w->f);
	json_str(w->f, in->tunnel);
	fputc('}', w->f);
}

static void json_scripts(struct wr *w, const struct diff_script_pair *sp, size_t n)
{
	fputc('[', w->f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"id\":" : "{\"id\":", w->f);
		json_str(w->f, sp[i].a ? sp[i].a->id : sp[i].b->id);
		fputs(",\"a\":", w->f);
		json_str(w->f, sp[i].a ? sp[i].a->output : NULL);
		fputs(",\"b\":", w->f);
		json_str(w->f, sp[i].b ? sp[i].b->output : NULL);
		fputc('}', w->f);
	}
	fputc(']', w->f);
}

static void json_changes(struct wr *w, unsigned ch, const char *const *names, size_t n)
{
	int first = 1;

	fputc('[', w->f);
	for (size_t i = 0; i < n; i++) {
		if (!(ch & (1u << i)))
			continue;
		fprintf(w->f, "%s\"%s\"", first ? "" : ",", names[i]);
		first = 0;
	}
	fputc(']', w->f);
}

static const char *const host_change_names[] = {"status", "mac",        "hostnames", "ports",
                                                "os",     "extraports", "scripts"};
static const char *const port_change_names[] = {"state", "service", "scripts"};
static const char *const kind_names[] = {"unchanged", "added", "removed", "changed"};

static int json_host(void *ctx, const struct diff_host_pair *hp)
{
	struct wr *w = ctx;
	const struct diff_host *a = hp->a, *b = hp->b, *h = a ? a : b;

	fputs(w->nhosts++ ? ",\n{\"addr\":" : "\n{\"addr\":", w->f);
	json_str(w->f, h->addr);
	fprintf(w->f, ",\"family\":%d,\"change\":\"%s\",\"changes\":", h->family,
	        kind_names[hp->kind]);
	json_changes(w, hp->changes, host_change_names,
	             sizeof(host_change_names) / sizeof(host_change_names[0]));
	fputs(",\"status\":{\"a\":", w->f);
	json_str(w->f, a ? status_name(a) : NULL);
	fputs(",\"b\":", w->f);
	json_str(w->f, b ? status_name(b) : NULL);
	fputs("},\"mac\":{\"a\":", w->f);
	json_str(w->f, a ? a->mac : NULL);
	fputs(",\"b\":", w->f);
	json_str(w->f, b ? b->mac : NULL);
	fputs("},\"hostnames\":{\"a\":", w->f);
	json_names(w, a);
	fputs(",\"b\":", w->f);
	json_names(w, b);
	fputs("},\"os\":{\"a\":", w->f);
	json_os(w, a);
	fputs(",\"b\":", w->f);
	json_os(w, b);
	fputs("},\"extraports\":{\"a\":", w->f);
	json_extra(w, a);
	fputs(",\"b\":", w->f);
	json_extra(w, b);
	fputs("},\"ports\":[", w->f);
	for (size_t i = 0; i < hp->nports; i++) {
		const struct diff_port_pair *pp = &hp->ports[i];
		const struct diff_port *spec = pp->a ? pp->a : pp->b;
		const char *kind = !pp->a        ? "added"
		                   : !pp->b      ? "removed"
		                   : pp->changes ? "changed"
		                                 : "unchanged";

		fprintf(w->f, "%s{\"protocol\":\"%s\",\"port\":%u,\"change\":\"%s\",\"changes\":",
		        i ? "," : "", proto_name(spec), (unsigned)spec->port, kind);
		json_changes(w, pp->changes, port_change_names,
		             sizeof(port_change_names) / sizeof(port_change_names[0]));
		fputs(",\"a\":", w->f);
		json_port_side(w, pp->a);
		fputs(",\"b\":", w->f);
		json_port_side(w, pp->b);
		fputs(",\"scripts\":", w->f);
		json_scripts(w, pp->scripts, pp->nscripts);
		fputc('}', w->f);
	}
	fputs("],\"scripts\":", w->f);
	json_scripts(w, hp->scripts, hp->nscripts);
	fputc('}', w->f);
	return wr_err(w);
}

/* ---- the entry point ------------------------------------------------------------ */

int diff_write(FILE *f, enum diff_format fmt, const struct diff_snapshot *a,
               const struct diff_snapshot *b, int verbose, int *different)
{
	int (*host_cb)(void *, const struct diff_host_pair *);
	struct diff_summary sum;
	struct wr w;
	int r;

	memset(&w, 0, sizeof(w));
	w.f = f;
	w.a = a;
	w.b = b;
	w.verbose = verbose;
	buf_init(&w.tmp, TEXT_MAX);
	buf_init(&w.cells, TEXT_MAX);
	buf_init(&w.svc, TEXT_MAX);
	buf_init(&w.ver, TEXT_MAX);
	buf_init(&w.la, TEXT_MAX);
	buf_init(&w.lb, TEXT_MAX);
	buf_init(&w.line, TEXT_MAX);
	switch (fmt) {
	case DIFF_FMT_XML:
		xml_begin(&w);
		if ((r = xml_run_scripts(&w, 0)) != 0)
			goto out;
		host_cb = xml_host;
		break;
	case DIFF_FMT_JSON:
		fputs("{\"a\":", f);
		json_meta(&w, diff_snapshot_meta(a));
		fputs(",\"b\":", f);
		json_meta(&w, diff_snapshot_meta(b));
		if ((r = run_script_pairs(&w, 0, &(size_t){0}, &(size_t){0})) != 0)
			goto out;
		fputs(",\"prescript\":", f);
		json_scripts(&w, w.run_sp, w.nrun_sp);
		fputs(",\"hosts\":[", f);
		host_cb = json_host;
		break;
	default:
		if ((r = text_begin(&w)) != 0 || (r = text_run_scripts(&w, 0)) != 0)
			goto out;
		host_cb = text_host;
		break;
	}
	if ((r = diff_walk(a, b, verbose, host_cb, &w, &sum)) != 0)
		goto out;
	if (fmt == DIFF_FMT_XML) {
		if ((r = xml_run_scripts(&w, 1)) != 0)
			goto out;
		fputs("</scandiff></nmapdiff>\n", f);
	} else if (fmt == DIFF_FMT_JSON) {
		if ((r = run_script_pairs(&w, 1, &(size_t){0}, &(size_t){0})) != 0)
			goto out;
		fprintf(f, "%s],\"postscript\":", w.nhosts ? "\n" : "");
		json_scripts(&w, w.run_sp, w.nrun_sp);
		fprintf(f,
		        ",\"summary\":{\"added\":%zu,\"removed\":%zu,\"changed\":%zu,"
		        "\"unchanged\":%zu},\"different\":%s}\n",
		        sum.added, sum.removed, sum.changed, sum.unchanged,
		        sum.added + sum.removed + sum.changed ? "true" : "false");
	} else if ((r = text_run_scripts(&w, 1)) != 0) {
		goto out;
	}
	if (different)
		*different = sum.added + sum.removed + sum.changed > 0;
	r = wr_err(&w);
out:
	buf_free(&w.tmp);
	buf_free(&w.cells);
	buf_free(&w.svc);
	buf_free(&w.ver);
	buf_free(&w.la);
	buf_free(&w.lb);
	buf_free(&w.line);
	free(w.rows);
	free(w.oa);
	free(w.ob);
	free(w.lcs);
	free(w.pa);
	free(w.pb);
	free(w.run_sp);
	return r;
}
