/*
 * test_store_contract.c - the storage contract suite: what every backend
 * behind store.h must do (ARCHITECTURE invariants 1-8).  It includes
 * store.h and job_writer.h only, never a backend header, so the same
 * program runs against SQLite and (later) PostgreSQL.
 *
 * Database: $SCANDB_TEST_DB if set (e.g. a postgresql:// URL; it is reset
 * to an empty schema with `migrate down` before each test), else a fresh
 * SQLite file under $TEST_TMPDIR for every test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/record.h"
#include "core/timeutil.h"
#include "app/job_writer.h"
#include "app/process.h"
#include "store/store.h"
#include "testutil.h"

/* ---- per-test database ------------------------------------------------------ */

struct fixture {
	char *dir; /* scratch dir (SQLite default), or NULL */
	char target[4096];
	struct store *st;
};

/* Open `target` or fail the test with the store's reason. */
static struct store *open_store(const char *target)
{
	char err[512];
	struct store *st = NULL;
	int r = store_open(target, &st, err, sizeof(err));

	if (r != 0)
		print_error("store_open(%s) = %d (%s): %s\n", target, r, sdb_strerror(r), err);
	assert_int_equal(r, 0);
	assert_non_null(st);
	return st;
}

/* Fail with the handle's message when r != want. */
#define assert_rc(st, r, want)                                                                     \
	do {                                                                                       \
		int r_ = (r), w_ = (want);                                                         \
		if (r_ != w_)                                                                      \
			print_error("%s:%d: got %d (%s), want %d (%s); store says: %s\n",          \
			            __FILE__, __LINE__, r_, sdb_strerror(r_), w_,                  \
			            sdb_strerror(w_), store_errmsg(st));                           \
		assert_int_equal(r_, w_);                                                          \
	} while (0)

#define assert_ok(st, r) assert_rc(st, r, 0)

/* A fresh, empty database (no tables); not yet opened by the fixture. */
static int setup_raw(void **state)
{
	static int seq;
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *env = getenv("SCANDB_TEST_DB");

	assert_non_null(fx);
	if (env && *env) {
		/* A shared server database: revert every migration so the test
		 * starts from nothing (the down scripts drop every table). */
		struct store *st;
		int r;

		snprintf(fx->target, sizeof(fx->target), "%s", env);
		st = open_store(fx->target);
		r = store_migrate_down(st, 0, NULL);
		if (r != 0)
			print_error("resetting %s with migrate down 0: %s\n", env,
			            store_errmsg(st));
		assert_int_equal(r, 0);
		store_close(st);
	} else {
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "contract-%ld-%d", (long)getpid(), ++seq);
		fx->dir = tu_mkdtemp(prefix);
		assert_non_null(fx->dir);
		snprintf(fx->target, sizeof(fx->target), "%s/scandb.sqlite", fx->dir);
	}
	*state = fx;
	return 0;
}

/* A fresh database, opened and made ready (bootstrapped). */
static int setup(void **state)
{
	struct fixture *fx;

	setup_raw(state);
	fx = *state;
	fx->st = open_store(fx->target);
	/* A shared server database was reset with `migrate down`: it is not
	 * brand-new (the bookkeeping table stays), so migrate it explicitly. */
	if (!fx->dir)
		assert_ok(fx->st, store_migrate_up(fx->st, 0, NULL));
	assert_ok(fx->st, store_ensure_ready(fx->st));
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (!fx)
		return 0;
	store_close(fx->st);
	if (fx->dir) {
		tu_rmtree(fx->dir);
		free(fx->dir);
	}
	free(fx);
	return 0;
}

/* ---- record builders -------------------------------------------------------- */

static struct rec_host host_rec(const char *addr, enum rec_host_status s, int64_t start)
{
	struct rec_host h;

	memset(&h, 0, sizeof(h));
	h.status = s;
	h.reason = s == REC_HOST_UP ? "syn-ack" : "no-response";
	h.reason_ttl = 64;
	h.starttime = start;
	h.endtime = start ? start + 5 : 0;
	h.addr = addr;
	h.family = strchr(addr, ':') ? 6 : 4;
	h.uptime_seconds = -1;
	h.distance = -1;
	h.os.accuracy = -1;
	return h;
}

static struct rec_port port_rec(enum rec_proto proto, int port, enum rec_port_state s,
                                const char *service)
{
	struct rec_port p;

	memset(&p, 0, sizeof(p));
	p.proto = proto;
	p.port = port;
	p.state = s;
	p.reason = s == REC_PORT_OPEN ? "syn-ack" : "reset";
	p.reason_ttl = 64;
	if (service) {
		p.has_service = 1;
		p.service.name = service;
		p.service.method = "table";
		p.service.conf = 3;
	} else {
		p.service.conf = -1;
	}
	return p;
}

/* One job: feed run_begin, scaninfo, hosts, run_end, then commit. */
struct job_spec {
	const char *source;
	int64_t start;
	const struct rec_host *hosts;
	size_t nhosts;
	const char *hash; /* content hash or NULL */
	int forced;
};

/*
 * Write a job through the job writer exactly as an importer does.  Returns
 * the first error (a sink callback's or commit's) after aborting.
 */
static int write_job(struct store *st, const struct job_spec *js, int64_t *job_id,
                     int64_t *existing)
{
	struct job_writer_opts o = {.kind = STORE_JOB_IMPORT,
	                            .source = js->source,
	                            .args = "nmap -oX - test",
	                            .forced = js->forced};
	struct rec_run run = {.scanner = "nmap",
	                      .args = "nmap -oX - test",
	                      .version = "7.94",
	                      .xmloutputversion = "1.05",
	                      .start = js->start};
	struct rec_scaninfo si = {
	    .type = "syn", .proto = REC_PROTO_TCP, .numservices = 1000, .services = "1-1000"};
	struct rec_runstats rs = {.finished = 1,
	                          .end = js->start + 100,
	                          .elapsed = 100.0,
	                          .summary = "done",
	                          .exit = "success",
	                          .hosts_up = -1,
	                          .hosts_down = -1,
	                          .hosts_total = -1};
	const struct ingest_sink *sink;
	struct job_writer *w = NULL;
	int r;

	if (job_id)
		*job_id = 0;
	if ((r = job_writer_begin(st, &o, &w)) != 0)
		return r;
	if (job_id)
		*job_id = job_writer_job_id(w);
	sink = job_writer_sink(w);
	if ((r = sink->run_begin(sink->ctx, &run)) != 0)
		goto fail;
	if ((r = sink->scaninfo(sink->ctx, &si)) != 0)
		goto fail;
	for (size_t i = 0; i < js->nhosts; i++)
		if ((r = sink->host(sink->ctx, &js->hosts[i])) != 0)
			goto fail;
	if ((r = sink->run_end(sink->ctx, &rs)) != 0)
		goto fail;
	r = job_writer_commit(w, js->hash, existing);
	job_writer_free(w);
	return r;
fail:
	job_writer_abort(w);
	job_writer_free(w);
	return r;
}

/* ---- reading back ------------------------------------------------------------ */

static struct store_host_filter any_filter(void)
{
	struct store_host_filter f;

	memset(&f, 0, sizeof(f));
	f.port = -1;
	return f;
}

struct host_list {
	struct store_host **v;
	size_t n;
};

static int collect_host(void *ctx, struct store_host *h)
{
	struct host_list *l = ctx;
	struct store_host **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));

	if (!nv) {
		store_host_free(h);
		return SDB_ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = h;
	return 0;
}

static void host_list_free(struct host_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_host_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static struct host_list get_hosts(struct store *st, const struct store_host_filter *f)
{
	struct host_list l = {NULL, 0};

	assert_ok(st, store_hosts_each(st, f, collect_host, &l));
	return l;
}

static size_t count_hosts_f(struct store *st, const struct store_host_filter *f)
{
	struct host_list l = get_hosts(st, f);
	size_t n = l.n;

	host_list_free(&l);
	return n;
}

static size_t count_hosts(struct store *st)
{
	struct store_host_filter f = any_filter();

	return count_hosts_f(st, &f);
}

struct job_list {
	struct store_job **v;
	size_t n;
};

static int collect_job(void *ctx, struct store_job *j)
{
	struct job_list *l = ctx;
	struct store_job **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));

	if (!nv) {
		store_job_free(j);
		return SDB_ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = j;
	return 0;
}

static void job_list_free(struct job_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_job_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static struct job_list get_jobs(struct store *st, const char *status)
{
	struct job_list l = {NULL, 0};

	assert_ok(st, store_jobs_each(st, status, collect_job, &l));
	return l;
}

static size_t count_jobs(struct store *st, const char *status)
{
	struct job_list l = get_jobs(st, status);
	size_t n = l.n;

	job_list_free(&l);
	return n;
}

/* The one host with address `addr` in view `job_id` (0 = latest), or NULL. */
static struct store_host *get_host(struct store *st, const char *addr, int64_t job_id)
{
	struct store_host_filter f = any_filter();
	struct host_list l;
	struct store_host *h = NULL;

	f.addr = addr;
	f.job_id = job_id;
	l = get_hosts(st, &f);
	if (l.n > 1)
		print_error("filter addr=%s returned %zu hosts, want at most 1\n", addr, l.n);
	assert_true(l.n <= 1);
	if (l.n == 1) {
		h = l.v[0];
		l.n = 0;
	}
	host_list_free(&l);
	return h;
}

static const struct store_port *find_port(const struct store_host *h, const char *proto, int port)
{
	for (size_t i = 0; i < h->nports; i++)
		if (h->ports[i].port == port && strcmp(h->ports[i].protocol, proto) == 0)
			return &h->ports[i];
	return NULL;
}

/* The addresses of a host list joined with ",", for comparing with one string. */
static void addrs_of(const struct host_list *l, char *out, size_t outlen)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->n && off < outlen; i++)
		off +=
		    (size_t)snprintf(out + off, outlen - off, "%s%s", i ? "," : "", l->v[i]->addr);
}

static void assert_filter(struct store *st, const struct store_host_filter *f, const char *want,
                          const char *what)
{
	struct host_list l = get_hosts(st, f);
	char got[1024];

	addrs_of(&l, got, sizeof(got));
	if (strcmp(got, want) != 0)
		print_error("filter %s: got [%s], want [%s]\n", what, got, want);
	assert_string_equal(got, want);
	host_list_free(&l);
}

/* Nothing at all is stored: no job (any status), no host. */
static void assert_empty(struct store *st, const char *why)
{
	size_t nj = count_jobs(st, NULL), nh = count_hosts(st);

	if (nj || nh)
		print_error("%s: want an empty database, found %zu jobs and %zu hosts\n", why, nj,
		            nh);
	assert_int_equal(nj, 0);
	assert_int_equal(nh, 0);
}

/* ---- tests ----------------------------------------------------------------- */

/* open + ensure_ready bootstraps a brand-new database; twice is harmless. */
static void test_bootstrap(void **state)
{
	struct fixture *fx = *state;
	struct store_migration *ms = NULL;
	size_t n = 0;
	struct store *st2;

	fx->st = open_store(fx->target);
	assert_non_null(store_backend_name(fx->st));
	/* before: every migration known, none applied */
	assert_ok(fx->st, store_migrate_status(fx->st, &ms, &n));
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ms[i].known, 1);
		assert_int_equal(ms[i].applied, 0);
		assert_int_equal(strlen(ms[i].checksum), 64);
		if (i)
			assert_true(ms[i].version > ms[i - 1].version);
	}
	free(ms);

	/* (a shared server database reset by `migrate down` is not brand-new:
	 * ensure_ready would call it behind; migrate it like an operator would) */
	if (!fx->dir)
		assert_ok(fx->st, store_migrate_up(fx->st, 0, NULL));
	assert_ok(fx->st, store_ensure_ready(fx->st));
	assert_ok(fx->st, store_migrate_status(fx->st, &ms, &n));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ms[i].applied, 1);
		assert_int_equal(ms[i].checksum_ok, 1);
		assert_int_equal(ms[i].known, 1);
		assert_true(ms[i].applied_at > 0);
	}
	free(ms);
	assert_ok(fx->st, store_migrate_verify(fx->st));
	assert_empty(fx->st, "new database");

	/* again, and from a second connection */
	assert_ok(fx->st, store_ensure_ready(fx->st));
	st2 = open_store(fx->target);
	assert_ok(st2, store_ensure_ready(st2));
	assert_int_equal(count_jobs(st2, NULL), 0);
	store_close(st2);
}

/* migrate status / down / up / verify round trip, data gone and back. */
static void test_migrate_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct store_migration *ms = NULL;
	size_t n = 0, nmig;
	int cnt = -1, r;
	struct rec_host h = host_rec("10.1.1.1", REC_HOST_UP, 1000);
	struct job_spec js = {.source = "before-down.xml", .start = 1000, .hosts = &h, .nhosts = 1};
	int64_t jid;
	struct job_list jl = {NULL, 0};

	assert_ok(st, write_job(st, &js, &jid, NULL));
	assert_int_equal(count_jobs(st, NULL), 1);
	assert_ok(st, store_migrate_status(st, &ms, &n));
	nmig = n;
	free(ms);

	/* up when up to date applies nothing */
	assert_ok(st, store_migrate_up(st, 0, &cnt));
	assert_int_equal(cnt, 0);

	/* all the way down */
	assert_ok(st, store_migrate_down(st, 0, &cnt));
	assert_int_equal(cnt, (int)nmig);
	assert_ok(st, store_migrate_status(st, &ms, &n));
	assert_int_equal(n, nmig);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(ms[i].applied, 0);
	free(ms);
	/* the data tables are gone: reading fails */
	r = store_jobs_each(st, NULL, collect_job, &jl);
	job_list_free(&jl);
	if (r == 0)
		print_error("jobs_each succeeded after migrate down to 0\n");
	assert_true(r < 0);
	/* a migrated-down database is "behind", not new: refused, naming the fix */
	r = store_ensure_ready(st);
	assert_rc(st, r, SDB_ESCHEMA);
	if (!strstr(store_errmsg(st), "scandb migrate up"))
		print_error("behind message does not name 'scandb migrate up': %s\n",
		            store_errmsg(st));
	assert_non_null(strstr(store_errmsg(st), "scandb migrate up"));
	/* down again is a no-op */
	assert_ok(st, store_migrate_down(st, 0, &cnt));
	assert_int_equal(cnt, 0);

	/* up: everything back, exactly once, empty */
	assert_ok(st, store_migrate_up(st, 0, &cnt));
	assert_int_equal(cnt, (int)nmig);
	assert_ok(st, store_migrate_verify(st));
	assert_ok(st, store_ensure_ready(st));
	assert_ok(st, store_migrate_status(st, &ms, &n));
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ms[i].applied, 1);
		assert_int_equal(ms[i].checksum_ok, 1);
	}
	free(ms);
	assert_empty(st, "after migrate down + up");
	assert_ok(st, store_migrate_up(st, 0, &cnt));
	assert_int_equal(cnt, 0);

	/* one step down (target < 0), then up again */
	assert_ok(st, store_migrate_down(st, -1, &cnt));
	assert_int_equal(cnt, 1);
	assert_ok(st, store_migrate_up(st, 0, &cnt));
	assert_int_equal(cnt, 1);
	assert_ok(st, store_ensure_ready(st));

	/* and the database works again */
	assert_ok(st, write_job(st, &js, &jid, NULL));
	assert_int_equal(count_jobs(st, "completed"), 1);
	assert_int_equal(count_hosts(st), 1);
}

/* Invariant 1: a job is invisible to other connections until commit. */
static void test_job_visible_only_after_commit(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st, *reader = open_store(fx->target);
	struct rec_port ports[2] = {port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh"),
	                            port_rec(REC_PROTO_TCP, 80, REC_PORT_CLOSED, "http")};
	struct rec_host h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	struct job_writer_opts o = {.kind = STORE_JOB_IMPORT, .source = "visible.xml"};
	struct rec_run run = {.scanner = "nmap", .version = "7.94", .start = 1000};
	static const struct rec_script pre[] = {{"broadcast-ping", "IP: 10.0.0.9\n'; --"},
	                                        {"targets-sniffer", NULL}};
	static const struct rec_script post[] = {{"reverse-index", "22/tcp: 10.0.0.1"}};
	static const char *const osm[] = {"Linux 5.0 - 5.4", "Linux 4.15", "Linux 5.0 - 5.4"};
	struct rec_runstats rs = {.finished = 1,
	                          .end = 1100,
	                          .elapsed = 100,
	                          .hosts_up = 1,
	                          .hosts_down = 0,
	                          .hosts_total = 1,
	                          .prescripts = pre,
	                          .nprescripts = 2,
	                          .postscripts = post,
	                          .npostscripts = 1};
	const struct ingest_sink *sink;
	struct job_writer *w;
	struct job_writer_stats stats;
	struct store_job *j = NULL;
	struct store_host *sh;
	struct store_script *sc = NULL;
	size_t nsc = 0;
	int64_t id;

	h.ports = ports;
	h.nports = 2;
	h.has_os = 1;
	h.os.name = osm[0];
	h.os.accuracy = 98;
	h.osmatches = osm;
	h.nosmatches = 3;
	assert_ok(reader, store_ensure_ready(reader));
	assert_ok(st, job_writer_begin(st, &o, &w));
	id = job_writer_job_id(w);
	assert_true(id > 0);
	sink = job_writer_sink(w);
	assert_ok(st, sink->run_begin(sink->ctx, &run));
	assert_ok(st, sink->host(sink->ctx, &h));
	assert_ok(st, sink->run_end(sink->ctx, &rs));
	job_writer_stats(w, &stats);
	assert_int_equal(stats.hosts, 1);
	assert_int_equal(stats.hosts_up, 1);
	assert_int_equal(stats.ports, 2);
	assert_int_equal(stats.ports_open, 1);

	/* not committed: another connection sees nothing, not even the job */
	assert_int_equal(count_jobs(reader, NULL), 0);
	assert_int_equal(count_hosts(reader), 0);
	assert_rc(reader, store_job_get(reader, id, &j), SDB_ENOTFOUND);
	assert_null(j);
	assert_ok(reader, store_run_scripts(reader, id, 0, &sc, &nsc));
	assert_int_equal(nsc, 0);

	assert_ok(st, job_writer_commit(w, NULL, NULL));
	job_writer_free(w);

	/* committed: all of it at once */
	assert_int_equal(count_jobs(reader, "completed"), 1);
	assert_int_equal(count_jobs(reader, "running"), 0);
	assert_ok(reader, store_job_get(reader, id, &j));
	assert_string_equal(j->status, "completed");
	assert_string_equal(j->kind, "import");
	assert_string_equal(j->source, "visible.xml");
	assert_int_equal(j->started_at, 1000);
	assert_int_equal(j->completed_at, 1100);
	assert_int_equal(j->hosts_up, 1);
	assert_int_equal(j->ports_open, 1);
	assert_int_equal(j->forced, 0);
	assert_null(j->content_hash);
	assert_string_equal(j->scanner, "nmap");
	store_job_free(j);
	sh = get_host(reader, "10.0.0.1", 0);
	assert_non_null(sh);
	assert_int_equal(sh->nports, 2);
	assert_int_equal(sh->job_id, id);
	assert_string_equal(sh->status, "up");
	/* every OS match, in order, repeats kept */
	assert_string_equal(sh->os, "Linux 5.0 - 5.4");
	assert_int_equal(sh->nosmatches, 3);
	assert_string_equal(sh->osmatches[0], "Linux 5.0 - 5.4");
	assert_string_equal(sh->osmatches[1], "Linux 4.15");
	assert_string_equal(sh->osmatches[2], "Linux 5.0 - 5.4");
	store_host_free(sh);
	/* the run's scripts, in order, verbatim (no output: "") */
	assert_ok(reader, store_run_scripts(reader, id, 0, &sc, &nsc));
	assert_int_equal(nsc, 2);
	assert_string_equal(sc[0].id, "broadcast-ping");
	assert_string_equal(sc[0].output, "IP: 10.0.0.9\n'; --");
	assert_string_equal(sc[1].id, "targets-sniffer");
	assert_string_equal(sc[1].output, "");
	store_scripts_free(sc, nsc);
	assert_ok(reader, store_run_scripts(reader, id, 1, &sc, &nsc));
	assert_int_equal(nsc, 1);
	assert_string_equal(sc[0].output, "22/tcp: 10.0.0.1");
	store_scripts_free(sc, nsc);
	assert_ok(reader, store_run_scripts(reader, id + 1, 1, &sc, &nsc));
	assert_int_equal(nsc, 0);
	store_close(reader);
}

/* Invariant 1: abort leaves no job, no host, no port. */
static void test_abort_leaves_nothing(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port ports[3] = {port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh"),
	                            port_rec(REC_PROTO_TCP, 443, REC_PORT_OPEN, "https"),
	                            port_rec(REC_PROTO_UDP, 53, REC_PORT_OPEN, "domain")};
	struct rec_script hs = {.id = "whois", .output = "x"};
	struct rec_host h[2] = {host_rec("10.0.0.1", REC_HOST_UP, 1000),
	                        host_rec("10.0.0.2", REC_HOST_UP, 1000)};
	struct rec_script pre = {.id = "broadcast-ping", .output = "IP: 10.0.0.9"};
	struct rec_runstats rs = {.finished = 1, .end = 1100, .prescripts = &pre, .nprescripts = 1};
	struct job_writer_opts o = {.kind = STORE_JOB_IMPORT, .source = "abort.xml"};
	const struct ingest_sink *sink;
	struct job_writer *w;
	int64_t id;
	struct store_host_filter f = any_filter();

	h[0].ports = ports;
	h[0].nports = 3;
	h[1].scripts = &hs;
	h[1].nscripts = 1;
	assert_ok(st, job_writer_begin(st, &o, &w));
	id = job_writer_job_id(w);
	sink = job_writer_sink(w);
	assert_ok(st, sink->host(sink->ctx, &h[0]));
	assert_ok(st, sink->host(sink->ctx, &h[1]));
	assert_ok(st, sink->run_end(sink->ctx, &rs));
	job_writer_abort(w);
	job_writer_abort(w); /* twice is harmless */
	job_writer_free(w);
	assert_empty(st, "after job_writer_abort");
	{
		struct store_script *sc = NULL;
		size_t nsc = 0;

		assert_ok(st, store_run_scripts(st, id, 0, &sc, &nsc));
		assert_int_equal(nsc, 0);
	}
	f.job_id = id;
	assert_int_equal(count_hosts_f(st, &f), 0);

	/* free without commit is an abort too */
	assert_ok(st, job_writer_begin(st, &o, &w));
	sink = job_writer_sink(w);
	assert_ok(st, sink->host(sink->ctx, &h[0]));
	job_writer_free(w);
	assert_empty(st, "after job_writer_free without commit");

	/* the handle is still usable */
	{
		struct job_spec js = {
		    .source = "after.xml", .start = 2000, .hosts = h, .nhosts = 2};
		assert_ok(st, write_job(st, &js, &id, NULL));
		assert_int_equal(count_jobs(st, NULL), 1);
		assert_int_equal(count_hosts(st), 2);
	}
}

/* Invariant 2 + "latest scan wins": upsert from several jobs, out of order. */
static void test_host_upsert_merge(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_hostname hn_a = {"a.example", "PTR"}, hn_b = {"b.example", "PTR"},
	                    hn_c = {"c.example", "user"};
	struct rec_port pa[2] = {port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh"),
	                         port_rec(REC_PROTO_TCP, 80, REC_PORT_OPEN, "http")};
	struct rec_port pb[3] = {port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh"),
	                         port_rec(REC_PROTO_TCP, 80, REC_PORT_CLOSED, "http"),
	                         port_rec(REC_PROTO_TCP, 443, REC_PORT_OPEN, "https")};
	struct rec_port pc[1] = {port_rec(REC_PROTO_TCP, 8080, REC_PORT_OPEN, "http-proxy")};
	struct rec_host a = host_rec("10.0.0.1", REC_HOST_UP, 2000);
	struct rec_host b = host_rec("10.0.0.1", REC_HOST_UP, 3000);
	struct rec_host c = host_rec("10.0.0.1", REC_HOST_DOWN, 1000);
	struct job_spec ja = {.source = "a.xml", .start = 2000, .hosts = &a, .nhosts = 1};
	struct job_spec jb = {.source = "b.xml", .start = 3000, .hosts = &b, .nhosts = 1};
	struct job_spec jc = {.source = "c.xml", .start = 1000, .hosts = &c, .nhosts = 1};
	int64_t ida, idb, idc;
	struct store_host *h;
	const struct store_port *p;

	a.hostnames = &hn_a;
	a.nhostnames = 1;
	a.ports = pa;
	a.nports = 2;
	a.has_os = 1;
	a.os = (struct rec_os){.name = "Linux 4.X",
	                       .accuracy = 90,
	                       .vendor = "Linux",
	                       .family = "Linux",
	                       .gen = "4.X",
	                       .type = "general purpose"};
	b.hostnames = &hn_b;
	b.nhostnames = 1;
	b.ports = pb;
	b.nports = 3;
	b.mac = "00:11:22:33:44:55";
	b.mac_vendor = "Acme";
	b.has_os = 1;
	b.os = (struct rec_os){.name = "Linux 5.X",
	                       .accuracy = 95,
	                       .vendor = "Linux",
	                       .family = "Linux",
	                       .gen = "5.X",
	                       .type = "general purpose"};
	c.hostnames = &hn_c;
	c.nhostnames = 1;
	c.ports = pc;
	c.nports = 1;
	c.mac = "66:77:88:99:AA:BB";
	c.has_os = 1;
	c.os = (struct rec_os){.name = "Windows 2000", .accuracy = 80};

	assert_ok(st, write_job(st, &ja, &ida, NULL));
	assert_ok(st, write_job(st, &jb, &idb, NULL));
	assert_int_equal(count_hosts(st), 1);
	h = get_host(st, "10.0.0.1", 0);
	assert_non_null(h);
	assert_int_equal(h->first_seen, 2000);
	assert_int_equal(h->last_seen, 3000);
	assert_int_equal(h->job_id, idb);
	assert_int_equal(h->scanned_at, 3000);
	assert_int_equal(h->nhostnames, 1);
	assert_string_equal(h->hostnames[0], "b.example");
	assert_string_equal(h->mac, "00:11:22:33:44:55");
	assert_non_null(h->os);
	assert_string_equal(h->os, "Linux 5.X");
	assert_int_equal(h->os_accuracy, 95);
	assert_int_equal(h->nports, 3);
	store_host_free(h);

	/* an OLDER scan imported later extends first_seen and changes nothing else */
	assert_ok(st, write_job(st, &jc, &idc, NULL));
	assert_int_equal(count_hosts(st), 1);
	h = get_host(st, "10.0.0.1", 0);
	assert_non_null(h);
	if (h->job_id != idb)
		print_error("latest view shows job %lld (imported last, scanned at 1000), want job "
		            "%lld (scanned at 3000)\n",
		            (long long)h->job_id, (long long)idb);
	assert_int_equal(h->first_seen, 1000);
	assert_int_equal(h->last_seen, 3000);
	assert_int_equal(h->job_id, idb);
	assert_int_equal(h->scanned_at, 3000);
	assert_string_equal(h->status, "up");
	assert_int_equal(h->nhostnames, 1);
	assert_string_equal(h->hostnames[0], "b.example");
	assert_string_equal(h->mac, "00:11:22:33:44:55");
	assert_string_equal(h->os, "Linux 5.X");
	assert_int_equal(h->nports, 3);
	assert_null(find_port(h, "tcp", 8080));
	store_host_free(h);

	/* each job's own view (scandb hosts --job ID) */
	h = get_host(st, "10.0.0.1", ida);
	assert_non_null(h);
	assert_int_equal(h->job_id, ida);
	assert_int_equal(h->scanned_at, 2000);
	assert_int_equal(h->first_seen, 1000); /* across all jobs */
	assert_int_equal(h->last_seen, 3000);
	assert_int_equal(h->nports, 2);
	p = find_port(h, "tcp", 80);
	assert_non_null(p);
	assert_string_equal(p->state, "open");
	assert_null(find_port(h, "tcp", 443));
	store_host_free(h);

	h = get_host(st, "10.0.0.1", idb);
	assert_non_null(h);
	assert_int_equal(h->nports, 3);
	p = find_port(h, "tcp", 80);
	assert_non_null(p);
	assert_string_equal(p->state, "closed");
	p = find_port(h, "tcp", 443);
	assert_non_null(p);
	assert_string_equal(p->state, "open");
	assert_string_equal(p->service, "https");
	store_host_free(h);

	h = get_host(st, "10.0.0.1", idc);
	assert_non_null(h);
	assert_int_equal(h->job_id, idc);
	assert_int_equal(h->scanned_at, 1000);
	assert_string_equal(h->status, "down");
	assert_int_equal(h->nports, 1);
	assert_non_null(find_port(h, "tcp", 8080));
	store_host_free(h);

	/* a job that did not see the host has no view of it */
	{
		struct rec_host other = host_rec("10.0.0.99", REC_HOST_UP, 5000);
		struct job_spec jd = {
		    .source = "d.xml", .start = 5000, .hosts = &other, .nhosts = 1};
		int64_t idd;

		assert_ok(st, write_job(st, &jd, &idd, NULL));
		assert_null(get_host(st, "10.0.0.1", idd));
		assert_int_equal(count_hosts(st), 2);
	}
}

/* Several hosts in one job, two jobs sharing some: still one row per address. */
static void test_host_upsert_many(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	enum { N = 40 };
	char addrs[N][32];
	struct rec_host hs[N];
	struct rec_port p = port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");

	for (int i = 0; i < N; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "172.16.%d.%d", i / 10, i % 10 + 1);
		hs[i] = host_rec(addrs[i], REC_HOST_UP, 1000 + i);
		hs[i].ports = &p;
		hs[i].nports = 1;
	}
	{
		struct job_spec j1 = {.source = "m1.xml", .start = 1000, .hosts = hs, .nhosts = 30};
		struct job_spec j2 = {
		    .source = "m2.xml", .start = 9000, .hosts = hs + 10, .nhosts = 30};
		int64_t id1, id2;
		struct store_host_filter f = any_filter();

		assert_ok(st, write_job(st, &j1, &id1, NULL));
		assert_ok(st, write_job(st, &j2, &id2, NULL));
		assert_int_equal(count_hosts(st), N);
		f.job_id = id1;
		assert_int_equal(count_hosts_f(st, &f), 30);
		f.job_id = id2;
		assert_int_equal(count_hosts_f(st, &f), 30);
	}
}

/* Same content twice: SDB_EEXISTS with the existing id, nothing stored;
 * forced: stored. */
static void test_content_hash_duplicate(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	const char *hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	struct rec_host h1 = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	struct rec_host h2 = host_rec("10.0.0.2", REC_HOST_UP, 2000);
	struct job_spec j1 = {
	    .source = "one.xml", .start = 1000, .hosts = &h1, .nhosts = 1, .hash = hash};
	struct job_spec j2 = {
	    .source = "two.xml", .start = 2000, .hosts = &h2, .nhosts = 1, .hash = hash};
	int64_t id1, id2, existing = 0, found = 0;
	struct store_job *j = NULL;

	assert_ok(st, write_job(st, &j1, &id1, NULL));
	assert_ok(st, store_job_find_by_hash(st, hash, &found));
	assert_int_equal(found, id1);
	assert_ok(st, store_job_get(st, id1, &j));
	assert_string_equal(j->content_hash, hash);
	store_job_free(j);

	assert_rc(st, write_job(st, &j2, &id2, &existing), SDB_EEXISTS);
	assert_int_equal(existing, id1);
	assert_int_equal(count_jobs(st, NULL), 1);
	assert_int_equal(count_hosts(st), 1);
	assert_null(get_host(st, "10.0.0.2", 0));

	/* forced: allowed, a second job with the same hash */
	j2.forced = 1;
	existing = 0;
	assert_ok(st, write_job(st, &j2, &id2, &existing));
	assert_true(id2 != id1);
	assert_int_equal(count_jobs(st, "completed"), 2);
	assert_int_equal(count_hosts(st), 2);
	assert_ok(st, store_job_get(st, id2, &j));
	assert_int_equal(j->forced, 1);
	assert_string_equal(j->content_hash, hash);
	store_job_free(j);
	/* find_by_hash names the unforced original */
	assert_ok(st, store_job_find_by_hash(st, hash, &found));
	assert_int_equal(found, id1);
	/* an unknown hash */
	assert_rc(
	    st,
	    store_job_find_by_hash(
	        st, "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", &found),
	    SDB_ENOTFOUND);
	/* forced twice more is still fine */
	assert_ok(st, write_job(st, &j2, &id2, NULL));
	assert_int_equal(count_jobs(st, NULL), 3);
}

/* Feed one host that must be refused; check the error and that nothing stays. */
static void check_refused(struct store *st, const struct rec_host *bad, const char *what)
{
	struct rec_host good = host_rec("10.9.9.9", REC_HOST_UP, 500);
	struct rec_host hosts[2] = {good, *bad};
	struct job_spec js = {.source = "bad.xml", .start = 1000, .hosts = hosts, .nhosts = 2};
	int64_t id;
	int r = write_job(st, &js, &id, NULL);

	if (r != SDB_ECONSTRAINT && r != SDB_EUSAGE && r != SDB_ERANGE)
		print_error("%s: write returned %d (%s), want SDB_ECONSTRAINT or SDB_EUSAGE; store "
		            "says: %s\n",
		            what, r, sdb_strerror(r), store_errmsg(st));
	assert_true(r == SDB_ECONSTRAINT || r == SDB_EUSAGE || r == SDB_ERANGE);
	if (count_jobs(st, NULL) != 0 || count_hosts(st) != 0)
		print_error("%s: the refused job left rows behind\n", what);
	assert_empty(st, what);
}

/* Invariant 4: CHECKs refuse impossible values and the transaction is undone. */
static void test_constraints(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port p;
	struct rec_host h;
	struct rec_extraports ep;

	p = port_rec(REC_PROTO_TCP, 70000, REC_PORT_OPEN, "ssh");
	h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	h.ports = &p;
	h.nports = 1;
	check_refused(st, &h, "port 70000");

	p = port_rec(REC_PROTO_TCP, -2, REC_PORT_OPEN, NULL);
	check_refused(st, &h, "port -2");

	p = port_rec(REC_PROTO_TCP, 22, (enum rec_port_state)42, NULL);
	check_refused(st, &h, "port state 42");

	p = port_rec((enum rec_proto)17, 22, REC_PORT_OPEN, NULL);
	check_refused(st, &h, "protocol 17");

	p = port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");
	p.service.conf = 11;
	check_refused(st, &h, "service conf 11");

	p = port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");
	p.reason_ttl = 300;
	check_refused(st, &h, "port reason_ttl 300");

	p = port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");
	p.service.method = "guessed";
	check_refused(st, &h, "service method 'guessed'");

	h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	h.has_os = 1;
	h.os.name = "Linux";
	h.os.accuracy = 101;
	check_refused(st, &h, "os accuracy 101");

	h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	h.distance = 256;
	check_refused(st, &h, "distance 256");

	h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	ep = (struct rec_extraports){.state = (enum rec_port_state)77, .count = 5};
	h.extraports = &ep;
	h.nextraports = 1;
	check_refused(st, &h, "extraports state 77");
	ep = (struct rec_extraports){.state = REC_PORT_CLOSED, .count = -5};
	check_refused(st, &h, "extraports count -5");

	/* after all that the handle still works and the data is fine */
	{
		struct rec_host ok = host_rec("10.0.0.1", REC_HOST_UP, 1000);
		struct job_spec js = {.source = "ok.xml", .start = 1000, .hosts = &ok, .nhosts = 1};
		int64_t id;

		assert_ok(st, write_job(st, &js, &id, NULL));
		assert_int_equal(count_jobs(st, "completed"), 1);
		assert_int_equal(count_hosts(st), 1);
	}

	/* the direct wrappers refuse bad arguments too */
	{
		struct rec_port bad = port_rec(REC_PROTO_TCP, 65536, REC_PORT_OPEN, NULL);
		int64_t hid = 0;
		int r;

		assert_ok(st, store_tx_begin(st));
		r = store_port_insert(st, 1, 1, &bad);
		assert_true(r == SDB_EUSAGE || r == SDB_ECONSTRAINT || r == SDB_ERANGE);
		assert_rc(st,
		          store_host_upsert(st, 1, 1000, &(struct rec_host){.addr = NULL}, &hid),
		          SDB_EUSAGE);
		assert_ok(st, store_tx_rollback(st));
		assert_rc(st, store_job_progress(st, 1, 101, 0), SDB_ERANGE);
	}
}

/* Invariant 4 for the host status enumeration: a value outside the enum is
 * refused, not stored as some valid status. */
static void test_constraint_host_status(void **state)
{
	struct fixture *fx = *state;
	struct rec_host h = host_rec("10.0.0.1", (enum rec_host_status)9, 1000);

	check_refused(fx->st, &h, "host status 9");
	h.status = (enum rec_host_status) - 1;
	check_refused(fx->st, &h, "host status -1");
}

/* The same refusal of a bad value, word for word, on both backends: the
 * wrappers check once (store.c), before the backend sees the row.  (Before,
 * only PostgreSQL checked in C; SQLite left these to its CHECKs, which said
 * only "CHECK constraint failed".) */
static void expect_range(struct store *st, int r, const char *want)
{
	assert_rc(st, r, SDB_ERANGE);
	if (strcmp(store_errmsg(st), want) != 0)
		print_error("message '%s', want '%s'\n", store_errmsg(st), want);
	assert_string_equal(store_errmsg(st), want);
}

static void test_value_checks_once(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct store_job_new jn = {.kind = STORE_JOB_IMPORT,
	                           .status = STORE_JOB_RUNNING,
	                           .source = "checks.xml",
	                           .created_at = 1000};
	struct rec_host h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	struct rec_port p;
	struct rec_extraports ep = {.state = REC_PORT_CLOSED, .count = -5};
	struct rec_script sc = {.id = "banner", .output = "x"};
	int64_t job = 0, hid = 0;
	char want[160];

	assert_ok(st, store_tx_begin(st));
	assert_ok(st, store_job_insert(st, &jn, &job));
	assert_ok(st, store_host_upsert(st, job, 1000, &h, &hid));

	h.has_os = 1;
	h.os.name = "Linux";
	h.os.accuracy = 101;
	expect_range(st, store_host_upsert(st, job, 1000, &h, &hid),
	             "host 10.0.0.1: OS accuracy above 100");
	expect_range(st, store_host_scan_insert(st, job, hid, 1000, &h, NULL),
	             "host 10.0.0.1: OS accuracy above 100");
	h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	h.reason_ttl = 256;
	expect_range(st, store_host_scan_insert(st, job, hid, 1000, &h, NULL),
	             "host 10.0.0.1: reason_ttl above 255");
	h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	h.distance = 256;
	expect_range(st, store_host_scan_insert(st, job, hid, 1000, &h, NULL),
	             "host 10.0.0.1: distance above 255");
	h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	h.endtime = 999;
	expect_range(st, store_host_scan_insert(st, job, hid, 1000, &h, NULL),
	             "host 10.0.0.1: end time before start time");
	h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	expect_range(st, store_host_scan_insert(st, job, hid, -1, &h, NULL),
	             "host 10.0.0.1: scan time before 1970");
	h.status = (enum rec_host_status)9;
	expect_range(st, store_host_upsert(st, job, 1000, &h, &hid),
	             "host 10.0.0.1: 9 is not a host status");

	p = port_rec(REC_PROTO_TCP, 22, (enum rec_port_state)42, NULL);
	snprintf(want, sizeof(want), "port 22 (protocol 0) of host %lld: not a port state",
	         (long long)hid);
	expect_range(st, store_port_insert(st, job, hid, &p), want);
	p = port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");
	p.service.conf = 11;
	snprintf(want, sizeof(want), "port 22 (protocol 0) of host %lld: service conf above 10",
	         (long long)hid);
	expect_range(st, store_port_insert(st, job, hid, &p), want);
	p = port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");
	p.service.method = "guessed";
	snprintf(want, sizeof(want),
	         "port 22 (protocol 0) of host %lld: service method is neither 'table' nor "
	         "'probed'",
	         (long long)hid);
	expect_range(st, store_port_insert(st, job, hid, &p), want);

	snprintf(want, sizeof(want), "extraports of host %lld in job %lld: negative count",
	         (long long)hid, (long long)job);
	expect_range(st, store_extraports_insert(st, job, hid, &ep), want);

	p = port_rec((enum rec_proto)17, 22, REC_PORT_OPEN, NULL);
	snprintf(want, sizeof(want), "script banner of host %lld: bad port", (long long)hid);
	expect_range(st, store_script_insert(st, job, hid, &p, &sc), want);

	assert_ok(st, store_tx_rollback(st));
	assert_empty(st, "refused values");
}

/* Invariant 5: SQL text in data is stored and returned byte for byte. */
static void test_sql_text_verbatim(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	static const char *const names[] = {
	    "'); DROP TABLE hosts;--", "Robert'); DROP TABLE students;--",
	    "quote\"and\\backslash",   "tab\there\nnewline",
	    "ünïcödé.例え.jp",         "%s%n%x",
	};
	const char *out_text = "line1\n'); DELETE FROM jobs; --\n\"quoted\" \\ back\tslash %s\r\n"
	                       "Robert'); DROP TABLE students;-- ☃";
	struct rec_hostname hn[6];
	struct rec_script ps = {.id = "x'); DROP TABLE ports;--", .output = out_text};
	struct rec_script hscript = {.id = "whois", .output = "'); DROP TABLE scripts;--"};
	const char *cpes[2] = {"cpe:/a:o'reilly:\"x\"", "cpe:/o:linux:linux_kernel"};
	struct rec_port p = port_rec(REC_PROTO_TCP, 80, REC_PORT_OPEN, "http");
	struct rec_host h = host_rec("10.0.0.7", REC_HOST_UP, 1000);
	struct job_spec js = {
	    .source = "'; DROP TABLE jobs;--.xml", .start = 1000, .hosts = &h, .nhosts = 1};
	int64_t id;
	struct store_host *sh;
	struct store_job *j = NULL;
	const struct store_port *sp;

	for (size_t i = 0; i < 6; i++)
		hn[i] = (struct rec_hostname){names[i], "user"};
	p.service.product = "Apache'); DROP TABLE hosts;--";
	p.service.version = "2.4\" OR 1=1 --";
	p.service.extrainfo = "Robert'); DROP TABLE students;--";
	p.service.cpes = cpes;
	p.service.ncpes = 2;
	p.scripts = &ps;
	p.nscripts = 1;
	h.hostnames = hn;
	h.nhostnames = 6;
	h.ports = &p;
	h.nports = 1;
	h.scripts = &hscript;
	h.nscripts = 1;
	h.mac_vendor = "O'Neil \"Systems\"";
	h.mac = "00:11:22:33:44:55";
	h.reason = "syn-ack'--";
	assert_ok(st, write_job(st, &js, &id, NULL));

	sh = get_host(st, "10.0.0.7", 0);
	assert_non_null(sh);
	assert_int_equal(sh->nhostnames, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(sh->hostnames[i], names[i]);
	assert_string_equal(sh->mac_vendor, "O'Neil \"Systems\"");
	assert_int_equal(sh->nscripts, 1);
	assert_string_equal(sh->scripts[0].id, "whois");
	assert_string_equal(sh->scripts[0].output, "'); DROP TABLE scripts;--");
	assert_int_equal(sh->nports, 1);
	sp = &sh->ports[0];
	assert_string_equal(sp->product, "Apache'); DROP TABLE hosts;--");
	assert_string_equal(sp->version, "2.4\" OR 1=1 --");
	assert_string_equal(sp->extrainfo, "Robert'); DROP TABLE students;--");
	assert_int_equal(sp->ncpes, 2);
	assert_string_equal(sp->cpes[0], "cpe:/a:o'reilly:\"x\"");
	assert_string_equal(sp->cpes[1], "cpe:/o:linux:linux_kernel");
	assert_int_equal(sp->nscripts, 1);
	assert_string_equal(sp->scripts[0].id, "x'); DROP TABLE ports;--");
	assert_memory_equal(sp->scripts[0].output, out_text, strlen(out_text) + 1);
	store_host_free(sh);

	assert_ok(st, store_job_get(st, id, &j));
	assert_string_equal(j->source, "'; DROP TABLE jobs;--.xml");
	store_job_free(j);
	/* and every table is still there */
	assert_int_equal(count_jobs(st, NULL), 1);
	assert_int_equal(count_hosts(st), 1);
}

/* store_hosts_each filters: port, protocol, service, status, net, addr, job. */
static void test_filters(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port p1[2] = {port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh"),
	                         port_rec(REC_PROTO_TCP, 80, REC_PORT_OPEN, "http")};
	struct rec_port p2[2] = {port_rec(REC_PROTO_TCP, 80, REC_PORT_CLOSED, "http"),
	                         port_rec(REC_PROTO_UDP, 53, REC_PORT_OPEN, "domain")};
	struct rec_port p4[1] = {port_rec(REC_PROTO_TCP, 443, REC_PORT_OPEN, "https")};
	struct rec_port p6[2] = {port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh"),
	                         port_rec(REC_PROTO_TCP, 443, REC_PORT_FILTERED, "https")};
	struct rec_host hs[6] = {
	    host_rec("192.168.1.1", REC_HOST_UP, 1000), host_rec("2001:db8::1", REC_HOST_UP, 1000),
	    host_rec("10.0.0.2", REC_HOST_UP, 1000),    host_rec("10.0.1.5", REC_HOST_DOWN, 1000),
	    host_rec("9.1.2.3", REC_HOST_UP, 1000),     host_rec("10.0.0.1", REC_HOST_UP, 1000),
	};
	struct job_spec js = {.source = "filters.xml", .start = 1000, .hosts = hs, .nhosts = 6};
	struct store_host_filter f;
	int64_t id;

	hs[0].ports = p4;
	hs[0].nports = 1;
	hs[1].ports = p6;
	hs[1].nports = 2;
	hs[2].ports = p2;
	hs[2].nports = 2;
	hs[5].ports = p1;
	hs[5].nports = 2;
	assert_ok(st, write_job(st, &js, &id, NULL));

	f = any_filter();
	/* numeric address order (9.x before 10.x; IPv4 before IPv6) */
	assert_filter(st, &f, "9.1.2.3,10.0.0.1,10.0.0.2,10.0.1.5,192.168.1.1,2001:db8::1", "none");
	f.job_id = id;
	assert_filter(st, &f, "9.1.2.3,10.0.0.1,10.0.0.2,10.0.1.5,192.168.1.1,2001:db8::1", "job");

	f = any_filter();
	f.port = 22;
	assert_filter(st, &f, "10.0.0.1,2001:db8::1", "port 22");
	f.port = 80;
	assert_filter(st, &f, "10.0.0.1", "port 80 (open only)");
	f.port = 443;
	assert_filter(st, &f, "192.168.1.1", "port 443 (filtered is not open)");
	f.port = 53;
	assert_filter(st, &f, "10.0.0.2", "port 53");
	f.protocol = "udp";
	assert_filter(st, &f, "10.0.0.2", "port 53/udp");
	f.protocol = "tcp";
	assert_filter(st, &f, "", "port 53/tcp");
	f.port = 22;
	assert_filter(st, &f, "10.0.0.1,2001:db8::1", "port 22/tcp");
	f.port = 9999;
	f.protocol = NULL;
	assert_filter(st, &f, "", "port 9999");

	f = any_filter();
	f.service = "ssh";
	assert_filter(st, &f, "10.0.0.1,2001:db8::1", "service ssh");
	f.service = "http";
	assert_filter(st, &f, "10.0.0.1", "service http (open only)");
	f.service = "https";
	assert_filter(st, &f, "192.168.1.1", "service https");
	f.service = "domain";
	assert_filter(st, &f, "10.0.0.2", "service domain");
	f.service = "nope";
	assert_filter(st, &f, "", "service nope");

	f = any_filter();
	f.status = "down";
	assert_filter(st, &f, "10.0.1.5", "status down");
	f.status = "up";
	assert_filter(st, &f, "9.1.2.3,10.0.0.1,10.0.0.2,192.168.1.1,2001:db8::1", "status up");

	f = any_filter();
	f.has_net = 1;
	assert_int_equal(addr_cidr_parse("10.0.0.0/24", f.net_lo, f.net_hi), 0);
	assert_filter(st, &f, "10.0.0.1,10.0.0.2", "net 10.0.0.0/24");
	assert_int_equal(addr_cidr_parse("10.0.0.0/8", f.net_lo, f.net_hi), 0);
	assert_filter(st, &f, "10.0.0.1,10.0.0.2,10.0.1.5", "net 10.0.0.0/8");
	assert_int_equal(addr_cidr_parse("0.0.0.0/0", f.net_lo, f.net_hi), 0);
	assert_filter(st, &f, "9.1.2.3,10.0.0.1,10.0.0.2,10.0.1.5,192.168.1.1", "net 0.0.0.0/0");
	assert_int_equal(addr_cidr_parse("2001:db8::/32", f.net_lo, f.net_hi), 0);
	assert_filter(st, &f, "2001:db8::1", "net 2001:db8::/32");
	assert_int_equal(addr_cidr_parse("10.0.0.1", f.net_lo, f.net_hi), 0);
	assert_filter(st, &f, "10.0.0.1", "net 10.0.0.1/32");
	assert_int_equal(addr_cidr_parse("172.16.0.0/12", f.net_lo, f.net_hi), 0);
	assert_filter(st, &f, "", "net 172.16.0.0/12");
	/* combined */
	assert_int_equal(addr_cidr_parse("10.0.0.0/8", f.net_lo, f.net_hi), 0);
	f.port = 22;
	assert_filter(st, &f, "10.0.0.1", "net 10/8 + port 22");
	f.port = -1;
	f.status = "down";
	assert_filter(st, &f, "10.0.1.5", "net 10/8 + status down");

	f = any_filter();
	f.addr = "192.168.1.1";
	assert_filter(st, &f, "192.168.1.1", "addr 192.168.1.1");
	f.addr = "2001:db8::1";
	assert_filter(st, &f, "2001:db8::1", "addr 2001:db8::1");
	f.addr = "10.9.9.9";
	assert_filter(st, &f, "", "addr 10.9.9.9");
	f.addr = "10.0.0.1";
	f.port = 80;
	assert_filter(st, &f, "10.0.0.1", "addr + port");
	f.port = 443;
	assert_filter(st, &f, "", "addr + port (no)");

	/* a job id that does not exist */
	f = any_filter();
	f.job_id = id + 1000;
	assert_filter(st, &f, "", "unknown job");
}

static int stop_after_one(void *ctx, struct store_host *h)
{
	(*(int *)ctx)++;
	store_host_free(h);
	return 42;
}

static int stop_job_after_one(void *ctx, struct store_job *j)
{
	(*(int *)ctx)++;
	store_job_free(j);
	return 43;
}

/* A callback's non-zero return stops the walk and is returned; jobs newest first. */
static void test_callback_stop_and_order(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_host hs[3] = {host_rec("10.0.0.1", REC_HOST_UP, 1000),
	                         host_rec("10.0.0.2", REC_HOST_UP, 1000),
	                         host_rec("10.0.0.3", REC_HOST_UP, 1000)};
	struct job_spec js = {.source = "j.xml", .start = 1000, .hosts = hs, .nhosts = 3};
	struct store_host_filter f = any_filter();
	int64_t ids[3];
	int calls = 0;
	struct job_list jl;

	for (int i = 0; i < 3; i++) {
		js.start = 1000 + i * 100;
		assert_ok(st, write_job(st, &js, &ids[i], NULL));
	}
	assert_int_equal(store_hosts_each(st, &f, stop_after_one, &calls), 42);
	assert_int_equal(calls, 1);
	calls = 0;
	assert_int_equal(store_jobs_each(st, NULL, stop_job_after_one, &calls), 43);
	assert_int_equal(calls, 1);
	/* the handle is fine after a stopped walk */
	assert_int_equal(count_hosts(st), 3);

	jl = get_jobs(st, NULL);
	assert_int_equal(jl.n, 3);
	assert_int_equal(jl.v[0]->id, ids[2]);
	assert_int_equal(jl.v[2]->id, ids[0]);
	job_list_free(&jl);
	assert_int_equal(count_jobs(st, "failed"), 0);
	assert_int_equal(count_jobs(st, "completed"), 3);
	assert_rc(st, store_jobs_each(st, "bogus", collect_job, &jl), SDB_EUSAGE);
	assert_rc(st, store_job_get(st, ids[2] + 100, &(struct store_job *){NULL}), SDB_ENOTFOUND);
}

/* Invariant 8: results stay valid after the connection is closed. */
static void test_results_outlive_store(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_hostname hn = {"kept.example", "PTR"};
	struct rec_script sc = {.id = "banner", .output = "SSH-2.0-OpenSSH_9.6"};
	struct rec_port p = port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");
	struct rec_extraports ep = {.state = REC_PORT_CLOSED, .count = 998, .reasons = "reset:998"};
	struct rec_host h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
	struct job_spec js = {.source = "kept.xml", .start = 1000, .hosts = &h, .nhosts = 1};
	struct store_host_filter f = any_filter();
	struct host_list hl;
	struct job_list jl;
	struct store_job *j = NULL;
	int64_t id;

	p.service.product = "OpenSSH";
	p.scripts = &sc;
	p.nscripts = 1;
	h.ports = &p;
	h.nports = 1;
	h.hostnames = &hn;
	h.nhostnames = 1;
	h.extraports = &ep;
	h.nextraports = 1;
	assert_ok(st, write_job(st, &js, &id, NULL));
	hl = get_hosts(st, &f);
	jl = get_jobs(st, NULL);
	assert_ok(st, store_job_get(st, id, &j));
	store_close(st);
	fx->st = NULL;

	/* scribble over freed memory so dangling pointers show */
	{
		char *junk[64];
		for (int i = 0; i < 64; i++) {
			junk[i] = malloc(256);
			memset(junk[i], 'Z', 256);
		}
		for (int i = 0; i < 64; i++)
			free(junk[i]);
	}
	assert_int_equal(hl.n, 1);
	assert_string_equal(hl.v[0]->addr, "10.0.0.1");
	assert_string_equal(hl.v[0]->status, "up");
	assert_int_equal(hl.v[0]->nhostnames, 1);
	assert_string_equal(hl.v[0]->hostnames[0], "kept.example");
	assert_int_equal(hl.v[0]->nports, 1);
	assert_string_equal(hl.v[0]->ports[0].protocol, "tcp");
	assert_string_equal(hl.v[0]->ports[0].state, "open");
	assert_string_equal(hl.v[0]->ports[0].service, "ssh");
	assert_string_equal(hl.v[0]->ports[0].product, "OpenSSH");
	assert_int_equal(hl.v[0]->ports[0].nscripts, 1);
	assert_string_equal(hl.v[0]->ports[0].scripts[0].output, "SSH-2.0-OpenSSH_9.6");
	assert_int_equal(hl.v[0]->nextraports, 1);
	assert_string_equal(hl.v[0]->extraports[0].state, "closed");
	assert_int_equal(hl.v[0]->extraports[0].count, 998);
	assert_int_equal(jl.n, 1);
	assert_string_equal(jl.v[0]->source, "kept.xml");
	assert_string_equal(jl.v[0]->status, "completed");
	assert_string_equal(j->source, "kept.xml");
	assert_string_equal(j->kind, "import");
	host_list_free(&hl);
	job_list_free(&jl);
	store_job_free(j);
	store_host_free(NULL);
	store_job_free(NULL);
}

/* Faults injected at the wrappers: nothing of the job is stored. */
static void test_fault_injection(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port ports[2] = {port_rec(REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh"),
	                            port_rec(REC_PROTO_TCP, 80, REC_PORT_OPEN, "http")};
	struct rec_host hs[2] = {host_rec("10.0.0.1", REC_HOST_UP, 1000),
	                         host_rec("10.0.0.2", REC_HOST_UP, 1000)};
	struct job_writer_opts o = {.kind = STORE_JOB_IMPORT, .source = "fault.xml"};
	struct job_spec js = {.source = "fault.xml", .start = 1000, .hosts = hs, .nhosts = 2};
	const struct ingest_sink *sink;
	struct job_writer *w;
	int64_t id;
	int r;

	hs[0].ports = ports;
	hs[0].nports = 2;
	hs[1].ports = ports;
	hs[1].nports = 2;

	/* the 3rd port_insert fails: two succeed, then the fault */
	assert_ok(st, job_writer_begin(st, &o, &w));
	sink = job_writer_sink(w);
	assert_ok(st, sink->host(sink->ctx, &hs[0]));
	store_inject_fault(st, "port_insert", 1, SDB_EIO);
	r = sink->host(sink->ctx, &hs[1]);
	assert_rc(st, r, SDB_EIO);
	assert_non_null(strstr(store_errmsg(st), "port_insert"));
	job_writer_abort(w);
	job_writer_free(w);
	assert_empty(st, "port_insert fault");

	/* tx_commit fails: commit reports it, nothing stored */
	assert_ok(st, job_writer_begin(st, &o, &w));
	sink = job_writer_sink(w);
	assert_ok(st, sink->host(sink->ctx, &hs[0]));
	assert_ok(st, sink->host(sink->ctx, &hs[1]));
	store_inject_fault(st, "tx_commit", 1, SDB_EIO);
	assert_rc(st, job_writer_commit(w, NULL, NULL), SDB_EIO);
	job_writer_abort(w); /* safe after a failed commit */
	job_writer_free(w);
	assert_empty(st, "tx_commit fault");

	/* job_finish fails */
	store_inject_fault(st, "job_finish", 1, SDB_EDB);
	assert_rc(st, write_job(st, &js, &id, NULL), SDB_EDB);
	assert_empty(st, "job_finish fault");

	/* a busy database at begin (after retries): nothing opened */
	store_inject_fault(st, "tx_begin", 1, SDB_EBUSY);
	assert_rc(st, write_job(st, &js, &id, NULL), SDB_EBUSY);
	assert_empty(st, "tx_begin fault");

	/* host_upsert, script_insert, and "*" (any operation) */
	store_inject_fault(st, "host_upsert", 1, SDB_ENOMEM);
	{
		struct job_spec one = js;
		one.nhosts = 1;
		/* the fault hits the first host of this job */
		assert_rc(st, write_job(st, &one, &id, NULL), SDB_ENOMEM);
	}
	assert_empty(st, "host_upsert fault");
	store_inject_fault(st, "script_insert", 1, SDB_EDB);
	{
		struct rec_script sc = {.id = "x", .output = "y"};
		struct rec_host hh = hs[1];
		struct job_spec two = js;
		struct rec_host both[2] = {hs[0], hh};

		both[1].scripts = &sc;
		both[1].nscripts = 1;
		two.hosts = both;
		assert_rc(st, write_job(st, &two, &id, NULL), SDB_EDB);
	}
	assert_empty(st, "script_insert fault");
	store_inject_fault(st, "*", 1, SDB_EIO);
	assert_true(write_job(st, &js, &id, NULL) != 0);
	assert_empty(st, "'*' fault");

	/* every fault consumed: the same job now goes through */
	assert_ok(st, write_job(st, &js, &id, NULL));
	assert_int_equal(count_jobs(st, "completed"), 1);
	assert_int_equal(count_hosts(st), 2);
	{
		struct store_host *h = get_host(st, "10.0.0.2", 0);
		assert_non_null(h);
		assert_int_equal(h->nports, 2);
		store_host_free(h);
	}
}

/* A pid that is certainly not running: a child we forked and reaped. */
static long dead_pid(void)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return (long)pid;
}

static int64_t insert_running(struct store *st, const char *worker, int64_t created,
                              int64_t timeout_at)
{
	struct store_job_new j = {.kind = STORE_JOB_SCAN,
	                          .status = STORE_JOB_RUNNING,
	                          .source = "nmap",
	                          .args = "nmap -sS 10.0.0.0/24",
	                          .worker_id = worker,
	                          .created_at = created,
	                          .timeout_at = timeout_at};
	int64_t id = 0;

	assert_ok(st, store_tx_begin(st));
	assert_ok(st, store_job_insert(st, &j, &id));
	assert_ok(st, store_tx_commit(st));
	assert_true(id > 0);
	return id;
}

static void assert_job_status(struct store *st, int64_t id, const char *want)
{
	struct store_job *j = NULL;

	assert_ok(st, store_job_get(st, id, &j));
	if (strcmp(j->status, want) != 0)
		print_error("job %lld (worker %s) is '%s', want '%s'\n", (long long)id,
		            j->worker_id ? j->worker_id : "(null)", j->status, want);
	assert_string_equal(j->status, want);
	if (strcmp(want, "failed") == 0) {
		if (!j->error || !*j->error)
			print_error("reaped job %lld has no error text\n", (long long)id);
		assert_non_null(j->error);
	}
	store_job_free(j);
}

/* Stale running jobs: dead local worker or past timeout → failed. */
static void assert_job_error(struct store *st, int64_t id, const char *want)
{
	struct store_job *j = NULL;

	assert_ok(st, store_job_get(st, id, &j));
	if (!j->error || strcmp(j->error, want) != 0)
		print_error("job %lld: error '%s', want '%s'\n", (long long)id,
		            j->error ? j->error : "(null)", want);
	assert_non_null(j->error);
	assert_string_equal(j->error, want);
	store_job_free(j);
}

static void test_reap_stale(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	int64_t now = time_now();
	char dead[64], live[64];
	int64_t id_dead, id_timeout, id_live, id_live_other, id_live_progress;
	int reaped = -1;

	snprintf(dead, sizeof(dead), "thishost:%ld", dead_pid());
	snprintf(live, sizeof(live), "thishost:%ld", (long)getpid());
	id_dead = insert_running(st, dead, now - 30, now + 3600);
	id_timeout = insert_running(st, "otherhost:12345", now - 7200, now - 60);
	id_live = insert_running(st, live, now - 30, now + 3600);
	/* another machine's pid: we cannot judge it, its timeout is ahead */
	id_live_other = insert_running(st, "otherhost:1", now - 30, now + 3600);
	/* no timeout at all, live local worker, with a heartbeat */
	id_live_progress = insert_running(st, live, now - 30, 0);
	assert_ok(st, store_tx_begin(st));
	assert_ok(st, store_job_progress(st, id_live_progress, 40, now + 600));
	assert_ok(st, store_tx_commit(st));

	assert_int_equal(count_jobs(st, "running"), 5);
	assert_ok(st, store_jobs_reap_stale(st, now, "thishost", &reaped));
	assert_int_equal(reaped, 2);
	assert_job_status(st, id_dead, "failed");
	assert_job_status(st, id_timeout, "failed");
	assert_job_status(st, id_live, "running");
	assert_job_status(st, id_live_other, "running");
	assert_job_status(st, id_live_progress, "running");
	/* the errors recorded are the rule's words (store_job_is_stale), the
	 * same on both backends */
	{
		char want[160], at[TIME_ISO_LEN];

		snprintf(want, sizeof(want),
		         "worker %s is gone (process died before the job finished)", dead);
		assert_job_error(st, id_dead, want);
		time_format_iso(now - 60, at);
		snprintf(want, sizeof(want), "timed out at %s without a heartbeat", at);
		assert_job_error(st, id_timeout, want);
	}
	{
		struct store_job *j = NULL;
		assert_ok(st, store_job_get(st, id_live_progress, &j));
		assert_int_equal(j->progress, 40);
		assert_int_equal(j->timeout_at, now + 600);
		store_job_free(j);
	}

	/* again: nothing more to do */
	assert_ok(st, store_jobs_reap_stale(st, now, "thishost", &reaped));
	assert_int_equal(reaped, 0);
	/* later, the heartbeat job's timeout has passed */
	assert_ok(st, store_jobs_reap_stale(st, now + 601, "thishost", &reaped));
	assert_int_equal(reaped, 1);
	assert_job_status(st, id_live_progress, "failed");
	assert_job_status(st, id_live, "running");
	/* completed jobs are never touched */
	{
		struct rec_host h = host_rec("10.0.0.1", REC_HOST_UP, 1000);
		struct job_spec js = {
		    .source = "done.xml", .start = 1000, .hosts = &h, .nhosts = 1};
		int64_t id;

		assert_ok(st, write_job(st, &js, &id, NULL));
		assert_ok(st, store_jobs_reap_stale(st, now + 999999, "thishost", &reaped));
		assert_job_status(st, id, "completed");
	}
	assert_int_equal(count_jobs(st, "completed"), 1);
}

/* The scan path: a job row committed as running, records written later. */
static void test_scan_existing_job(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	int64_t now = time_now();
	int64_t id = insert_running(st, app_process_worker_id(), now, now + 3600);
	struct job_writer_opts o = {.kind = STORE_JOB_SCAN,
	                            .source = "nmap",
	                            .args = "nmap -sS 10.0.0.1",
	                            .existing_job_id = id};
	struct rec_host h = host_rec("10.0.0.1", REC_HOST_UP, now);
	const struct ingest_sink *sink;
	struct job_writer *w;
	struct store_job *j = NULL;

	assert_job_status(st, id, "running");
	assert_ok(st, job_writer_begin(st, &o, &w));
	assert_int_equal(job_writer_job_id(w), id);
	sink = job_writer_sink(w);
	assert_ok(st, sink->host(sink->ctx, &h));
	assert_ok(st, job_writer_commit(w, NULL, NULL));
	job_writer_free(w);
	assert_int_equal(count_jobs(st, NULL), 1);
	assert_ok(st, store_job_get(st, id, &j));
	assert_string_equal(j->status, "completed");
	assert_string_equal(j->kind, "scan");
	assert_true(j->completed_at >= j->started_at);
	store_job_free(j);
	assert_int_equal(count_hosts(st), 1);
}

/* ---- history: change events and the current state (issue 4) ----------------- */

/* One scan of the history tests: its time, probed scope (scaninfo
 * services per protocol; NULL = that protocol not scanned) and hosts. */
struct hscan {
	int64_t start;
	const char *tcp, *udp;
	const struct rec_host *hosts;
	size_t nhosts;
};

/* job id -> scan time of every job a history test wrote (job ids differ
 * between import orders; times do not). */
struct job_times {
	int64_t id[64], at[64];
	size_t n;
};

static int64_t job_time(const struct job_times *jt, int64_t id)
{
	if (id == 0)
		return 0;
	for (size_t i = 0; i < jt->n; i++)
		if (jt->id[i] == id)
			return jt->at[i];
	print_error("job %lld was not written by this test\n", (long long)id);
	fail();
	return -1;
}

/* Write one scan through the job writer as an importer does. */
static int write_hscan(struct store *st, const struct hscan *s, int64_t *job_id,
                       struct job_times *jt)
{
	struct job_writer_opts o = {
	    .kind = STORE_JOB_IMPORT, .source = "history.xml", .args = "nmap -oX - hist"};
	struct rec_run run = {.scanner = "nmap",
	                      .args = "nmap -oX - hist",
	                      .version = "7.94",
	                      .xmloutputversion = "1.05",
	                      .start = s->start};
	struct rec_scaninfo tcp = {
	    .type = "syn", .proto = REC_PROTO_TCP, .numservices = 1, .services = s->tcp};
	struct rec_scaninfo udp = {
	    .type = "udp", .proto = REC_PROTO_UDP, .numservices = 1, .services = s->udp};
	struct rec_runstats rs = {.finished = 1,
	                          .end = s->start + 60,
	                          .elapsed = 60.0,
	                          .summary = "done",
	                          .exit = "success",
	                          .hosts_up = -1,
	                          .hosts_down = -1,
	                          .hosts_total = -1};
	const struct ingest_sink *sink;
	struct job_writer *w = NULL;
	int r;

	if (job_id)
		*job_id = 0;
	if ((r = job_writer_begin(st, &o, &w)) != 0)
		return r;
	sink = job_writer_sink(w);
	if ((r = sink->run_begin(sink->ctx, &run)) != 0 ||
	    (s->tcp && (r = sink->scaninfo(sink->ctx, &tcp)) != 0) ||
	    (s->udp && (r = sink->scaninfo(sink->ctx, &udp)) != 0))
		goto fail;
	for (size_t i = 0; i < s->nhosts; i++)
		if ((r = sink->host(sink->ctx, &s->hosts[i])) != 0)
			goto fail;
	if ((r = sink->run_end(sink->ctx, &rs)) != 0)
		goto fail;
	if (job_id)
		*job_id = job_writer_job_id(w);
	if (jt && jt->n < 64) {
		jt->id[jt->n] = job_writer_job_id(w);
		jt->at[jt->n++] = s->start;
	}
	r = job_writer_commit(w, NULL, NULL);
	job_writer_free(w);
	return r;
fail:
	job_writer_abort(w);
	job_writer_free(w);
	return r;
}

/* Write a scan of one host, failing the test on error; returns its job. */
static int64_t hscan1(struct store *st, int64_t t, const char *tcp, const char *udp,
                      struct rec_host h, struct job_times *jt)
{
	struct hscan s = {t, tcp, udp, &h, 1};
	int64_t id;

	h.starttime = t;
	h.endtime = t + 5;
	assert_ok(st, write_hscan(st, &s, &id, jt));
	return id;
}

static struct rec_host hhost(const char *addr, enum rec_host_status s, const struct rec_port *p,
                             size_t np)
{
	struct rec_host h = host_rec(addr, s, 0);

	h.ports = p;
	h.nports = np;
	return h;
}

static struct rec_port hport(enum rec_proto proto, int num, enum rec_port_state s)
{
	return port_rec(proto, num, s, NULL);
}

static struct rec_port hsvc(int num, const char *name, const char *product, const char *version)
{
	struct rec_port p = port_rec(REC_PROTO_TCP, num, REC_PORT_OPEN, name);

	p.service.product = product;
	p.service.version = version;
	p.service.method = "probed";
	p.service.conf = 10;
	return p;
}

struct ev_list {
	struct store_event **v;
	size_t n;
};

static int collect_event(void *ctx, struct store_event *e)
{
	struct ev_list *l = ctx;
	struct store_event **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));

	if (!nv) {
		store_event_free(e);
		return SDB_ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = e;
	return 0;
}

static void ev_list_free(struct ev_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_event_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static struct store_event_filter ev_filter(void)
{
	struct store_event_filter f;

	memset(&f, 0, sizeof(f));
	return f;
}

static struct ev_list get_events(struct store *st, const struct store_event_filter *f)
{
	struct ev_list l = {NULL, 0};

	assert_ok(st, store_events_each(st, f, collect_event, &l));
	return l;
}

static struct ev_list host_events(struct store *st, const char *addr)
{
	struct store_event_filter f = ev_filter();

	f.addr = addr;
	return get_events(st, &f);
}

static void print_store_events(const struct ev_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct store_event *e = l->v[i];
		print_message("  [%zu] %s %s %s/%d detail=%s old=%s new=%s job=%lld prev=%lld "
		              "at=%lld\n",
		              i, e->addr, e->kind, e->protocol ? e->protocol : "-", e->port,
		              e->detail ? e->detail : "NULL", e->old_value ? e->old_value : "NULL",
		              e->new_value ? e->new_value : "NULL", (long long)e->job_id,
		              (long long)e->prev_job_id, (long long)e->at);
	}
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

#define NOCHECK (-12345) /* prev job not checked */

/* Event i is exactly this one (proto NULL and port -1: host-level). */
static void check_sev(const struct ev_list *l, size_t i, const char *addr, const char *kind,
                      const char *proto, int port, const char *detail, const char *old_value,
                      const char *new_value, int64_t job, int64_t prev, int64_t at, int line)
{
	const struct store_event *e = i < l->n ? l->v[i] : NULL;

	if (!e || strcmp(e->addr, addr) != 0 || strcmp(e->kind, kind) != 0 ||
	    !same_str(e->protocol, proto) || e->port != port || !same_str(e->detail, detail) ||
	    !same_str(e->old_value, old_value) || !same_str(e->new_value, new_value) ||
	    e->job_id != job || (prev != NOCHECK && e->prev_job_id != prev) || e->at != at) {
		print_error("line %d: event [%zu]: want %s %s %s/%d detail=%s old=%s new=%s "
		            "job=%lld prev=%lld at=%lld; have:\n",
		            line, i, addr, kind, proto ? proto : "-", port,
		            detail ? detail : "NULL", old_value ? old_value : "NULL",
		            new_value ? new_value : "NULL", (long long)job, (long long)prev,
		            (long long)at);
		print_store_events(l);
		fail();
	}
}
#define CHECK_SEV(l, i, addr, kind, proto, port, detail, o, n, job, prev, at)                      \
	check_sev(l, i, addr, kind, proto, port, detail, o, n, job, prev, at, __LINE__)

#define assert_nev(l, want)                                                                        \
	do {                                                                                       \
		if ((l)->n != (size_t)(want)) {                                                    \
			print_error("%s:%d: %zu events, want %d:\n", __FILE__, __LINE__, (l)->n,   \
			            (int)(want));                                                  \
			print_store_events(l);                                                     \
		}                                                                                  \
		assert_int_equal((l)->n, (want));                                                  \
	} while (0)

/* A port of the current view: state and history. */
static void check_state(struct store *st, const char *addr, const char *proto, int num,
                        const char *state, int64_t job, int64_t first, int64_t last, int64_t closed,
                        int line)
{
	struct store_host *h = get_host(st, addr, 0);
	const struct store_port *p;

	if (!h) {
		print_error("line %d: host %s not in the current view\n", line, addr);
		fail();
	}
	p = find_port(h, proto, num);
	if (!p || strcmp(p->state, state) != 0 || p->state_job_id != job ||
	    p->first_seen != first || p->last_seen != last || p->closed_at != closed) {
		if (p)
			print_error("line %d: %s %d/%s: want %s job=%lld first=%lld last=%lld "
			            "closed=%lld; have %s job=%lld first=%lld last=%lld "
			            "closed=%lld\n",
			            line, addr, num, proto, state, (long long)job, (long long)first,
			            (long long)last, (long long)closed, p->state,
			            (long long)p->state_job_id, (long long)p->first_seen,
			            (long long)p->last_seen, (long long)p->closed_at);
		else
			print_error("line %d: %s %d/%s not in the current view\n", line, addr, num,
			            proto);
		store_host_free(h);
		fail();
	}
	store_host_free(h);
}
#define CHECK_STATE(st, addr, proto, num, state, job, first, last, closed)                         \
	check_state(st, addr, proto, num, state, job, first, last, closed, __LINE__)

#define H0    1800000000
#define HT(n) (H0 + 86400 * (int64_t)(n))

/* The lifecycle of one host's port, written in time order. */
static void test_history_port_lifecycle(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	const char *a = "192.0.2.1";
	struct rec_port p1[] = {hsvc(22, "ssh", "OpenSSH", "8.9p1"),
	                        hport(REC_PROTO_TCP, 113, REC_PORT_CLOSED)};
	struct rec_port p2[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1"),
	                        hport(REC_PROTO_TCP, 80, REC_PORT_OPEN)};
	struct rec_port p3[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1"),
	                        hport(REC_PROTO_TCP, 80, REC_PORT_CLOSED)};
	struct rec_port p5[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1"),
	                        hport(REC_PROTO_TCP, 80, REC_PORT_OPEN)};
	struct rec_extraports x2[] = {{REC_PORT_CLOSED, 998, "reset:998"}};
	struct rec_host h2 = hhost(a, REC_HOST_UP, p2, 2);
	int64_t j1, j2, j3, j4, j5;
	struct ev_list l;
	struct store_host *h;

	h2.extraports = x2;
	h2.nextraports = 1;
	j1 = hscan1(st, HT(1), "1-1000", NULL, hhost(a, REC_HOST_UP, p1, 2), NULL);
	l = host_events(st, a);
	assert_nev(&l, 1);
	CHECK_SEV(&l, 0, a, "host_up", NULL, -1, NULL, NULL, "up", j1, 0, HT(1));
	ev_list_free(&l);
	CHECK_STATE(st, a, "tcp", 22, "open", j1, HT(1), HT(1), 0);
	CHECK_STATE(st, a, "tcp", 113, "closed", j1, 0, 0, 0);

	j2 = hscan1(st, HT(2), "1-1000", NULL, h2, NULL);
	l = host_events(st, a);
	assert_nev(&l, 3);
	CHECK_SEV(&l, 1, a, "service_changed", "tcp", 22, NULL, "ssh OpenSSH 8.9p1",
	          "ssh OpenSSH 9.2p1", j2, j1, HT(2));
	CHECK_SEV(&l, 2, a, "port_opened", "tcp", 80, NULL, NULL, "open", j2, NOCHECK, HT(2));
	ev_list_free(&l);
	/* 113 was not listed but covered: the extraports state */
	CHECK_STATE(st, a, "tcp", 113, "closed", j2, 0, 0, 0);
	CHECK_STATE(st, a, "tcp", 80, "open", j2, HT(2), HT(2), 0);

	j3 = hscan1(st, HT(3), "1-1000", NULL, hhost(a, REC_HOST_UP, p3, 2), NULL);
	l = host_events(st, a);
	assert_nev(&l, 4);
	CHECK_SEV(&l, 3, a, "port_closed", "tcp", 80, NULL, "open", "closed", j3, j2, HT(3));
	ev_list_free(&l);
	CHECK_STATE(st, a, "tcp", 80, "closed", j3, HT(2), HT(2), HT(3));
	CHECK_STATE(st, a, "tcp", 22, "open", j3, HT(1), HT(3), 0);

	/* down: one event, ports untouched */
	j4 = hscan1(st, HT(4), "1-1000", NULL, hhost(a, REC_HOST_DOWN, NULL, 0), NULL);
	l = host_events(st, a);
	assert_nev(&l, 5);
	CHECK_SEV(&l, 4, a, "host_down", NULL, -1, NULL, "up", "down", j4, j3, HT(4));
	ev_list_free(&l);
	CHECK_STATE(st, a, "tcp", 80, "closed", j3, HT(2), HT(2), HT(3));
	CHECK_STATE(st, a, "tcp", 22, "open", j3, HT(1), HT(3), 0);
	h = get_host(st, a, 0);
	assert_non_null(h);
	assert_string_equal(h->status, "down");
	assert_int_equal(h->job_id, j4);
	store_host_free(h);

	/* back up, 80 reopened: closed_at cleared, first_seen kept */
	j5 = hscan1(st, HT(5), "1-1000", NULL, hhost(a, REC_HOST_UP, p5, 2), NULL);
	l = host_events(st, a);
	assert_nev(&l, 7);
	CHECK_SEV(&l, 5, a, "host_up", NULL, -1, NULL, "down", "up", j5, j4, HT(5));
	CHECK_SEV(&l, 6, a, "port_opened", "tcp", 80, NULL, "closed", "open", j5, j3, HT(5));
	ev_list_free(&l);
	CHECK_STATE(st, a, "tcp", 80, "open", j5, HT(2), HT(5), 0);
	CHECK_STATE(st, a, "tcp", 22, "open", j5, HT(1), HT(5), 0);
	/* the service of the current view is the probed one */
	h = get_host(st, a, 0);
	assert_non_null(h);
	assert_string_equal(find_port(h, "tcp", 22)->version, "9.2p1");
	assert_int_equal(find_port(h, "tcp", 22)->state_seen_at, HT(5));
	store_host_free(h);

	/* a job's view carries no port history */
	h = get_host(st, a, j3);
	assert_non_null(h);
	assert_int_equal(h->nports, 2);
	for (size_t i = 0; i < h->nports; i++) {
		assert_int_equal(h->ports[i].first_seen, 0);
		assert_int_equal(h->ports[i].last_seen, 0);
		assert_int_equal(h->ports[i].closed_at, 0);
		assert_int_equal(h->ports[i].state_job_id, 0);
	}
	store_host_free(h);
}

/* A scan that did not probe a port says nothing about it. */
static void test_history_scope_aware(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	const char *a = "192.0.2.2";
	struct rec_port p1[] = {hport(REC_PROTO_TCP, 22, REC_PORT_OPEN),
	                        hport(REC_PROTO_TCP, 443, REC_PORT_OPEN)};
	struct rec_port p2[] = {hport(REC_PROTO_TCP, 22, REC_PORT_OPEN)};
	struct rec_extraports x2[] = {{REC_PORT_CLOSED, 99, "reset:99"}};
	struct rec_extraports x3[] = {{REC_PORT_FILTERED, 999, "no-response:999"}};
	struct rec_port u4[] = {hport(REC_PROTO_UDP, 53, REC_PORT_OPEN),
	                        hport(REC_PROTO_UDP, 161, REC_PORT_OPEN)};
	struct rec_port u5[] = {hport(REC_PROTO_UDP, 53, REC_PORT_OPEN)};
	struct rec_extraports x5[] = {{REC_PORT_OPEN_FILTERED, 199, "no-response:199"}};
	struct rec_host h2 = hhost(a, REC_HOST_UP, p2, 1), h3 = hhost(a, REC_HOST_UP, p2, 1),
	                h5 = hhost(a, REC_HOST_UP, u5, 1);
	struct store_host_filter f = any_filter();
	int64_t j1, j2, j3, j4, j5;
	struct ev_list l;
	struct store_host *h;

	h2.extraports = x2;
	h2.nextraports = 1;
	h3.extraports = x3;
	h3.nextraports = 1;
	h5.extraports = x5;
	h5.nextraports = 1;
	j1 = hscan1(st, HT(1), "1-1000", NULL, hhost(a, REC_HOST_UP, p1, 2), NULL);
	j2 = hscan1(st, HT(2), "1-100", NULL, h2, NULL);
	l = host_events(st, a);
	assert_nev(&l, 1); /* host_up of scan 1 only */
	ev_list_free(&l);
	CHECK_STATE(st, a, "tcp", 443, "open", j1, HT(1), HT(1), 0);
	CHECK_STATE(st, a, "tcp", 22, "open", j2, HT(1), HT(2), 0);
	h = get_host(st, a, 0);
	assert_int_equal(find_port(h, "tcp", 443)->state_seen_at, HT(1));
	store_host_free(h);
	/* the current view's port filter sees 443 open; job 2's view does not */
	f.port = 443;
	assert_filter(st, &f, a, "current view --port 443");
	f.job_id = j2;
	assert_filter(st, &f, "", "job 2 --port 443");

	j3 = hscan1(st, HT(3), "1-1000", NULL, h3, NULL);
	l = host_events(st, a);
	assert_nev(&l, 2);
	CHECK_SEV(&l, 1, a, "port_closed", "tcp", 443, NULL, "open", "filtered", j3, j1, HT(3));
	ev_list_free(&l);
	CHECK_STATE(st, a, "tcp", 443, "filtered", j3, HT(1), HT(1), HT(3));

	/* UDP: unresponsive ports fold as open|filtered */
	j4 = hscan1(st, HT(4), NULL, "53,161", hhost(a, REC_HOST_UP, u4, 2), NULL);
	j5 = hscan1(st, HT(5), NULL, "1-200", h5, NULL);
	l = host_events(st, a);
	/* 161 folded as open|filtered (no answer): no news about an open port */
	assert_nev(&l, 4);
	assert_string_equal(l.v[2]->kind, "port_opened");
	assert_int_equal(l.v[2]->port, 53);
	assert_string_equal(l.v[3]->kind, "port_opened");
	assert_int_equal(l.v[3]->port, 161);
	ev_list_free(&l);
	CHECK_STATE(st, a, "udp", 161, "open", j4, HT(4), HT(4), 0);
	CHECK_STATE(st, a, "udp", 53, "open", j5, HT(4), HT(5), 0);
	/* the UDP-only scans said nothing about TCP */
	CHECK_STATE(st, a, "tcp", 22, "open", j3, HT(1), HT(3), 0);
}

/*
 * The five scans of one host used by the out-of-order tests; each scan
 * exercises a different rule.  Expected, in time order:
 *  S1 up: host_up
 *  S2 tcp 1-100: service_changed 22, script_changed 80 http-title (443 unprobed)
 *  S3 down: host_down
 *  S4 tcp 1-1000 + udp: host_up, port_closed 80, port_opened 8080,
 *     port_opened 53/udp, port_closed 443 (filtered), os/mac/hostname_changed
 *  S5 tcp 1-10000: port_opened 80, port_closed 8080
 */
#define OOO_N 5
static const struct rec_script ooo_title1[] = {{"http-title", "Welcome"}};
static const struct rec_script ooo_title2[] = {{"http-title", "Login"}};
static const struct rec_hostname ooo_name_a[] = {{"a.example.test", "PTR"}};
static const struct rec_hostname ooo_name_b[] = {{"b.example.test", "PTR"}};
static const struct rec_extraports ooo_filt996[] = {{REC_PORT_FILTERED, 996, NULL}};
static const struct rec_extraports ooo_closed98[] = {{REC_PORT_CLOSED, 98, NULL}};
static const struct rec_extraports ooo_filt997[] = {{REC_PORT_FILTERED, 997, NULL}};
static const struct rec_extraports ooo_closed997[] = {{REC_PORT_CLOSED, 997, NULL}};

struct ooo_store {
	struct rec_port p[OOO_N][6];
};

static struct hscan ooo_scan(int i, const char *addr, struct ooo_store *m, struct rec_host *h)
{
	struct rec_port *p = m->p[i];
	struct hscan s = {HT(10 + i), "1-1000", NULL, h, 1};
	size_t n = 0;

	*h = host_rec(addr, REC_HOST_UP, HT(10 + i));
	switch (i) {
	case 0:
		p[n++] = hsvc(22, "ssh", "OpenSSH", "8.9p1");
		p[n] = hsvc(80, "http", "nginx", "1.22.1");
		p[n].scripts = ooo_title1;
		p[n++].nscripts = 1;
		p[n++] = hport(REC_PROTO_TCP, 113, REC_PORT_CLOSED);
		p[n++] = hport(REC_PROTO_TCP, 443, REC_PORT_OPEN);
		h->extraports = ooo_filt996;
		h->has_os = 1;
		h->os.name = "Linux 5.X";
		h->mac = "00:11:22:33:44:55";
		h->hostnames = ooo_name_a;
		h->nhostnames = 1;
		break;
	case 1:
		s.tcp = "1-100";
		p[n++] = hsvc(22, "ssh", "OpenSSH", "9.2p1");
		p[n] = hsvc(80, "http", "nginx", "1.22.1");
		p[n].scripts = ooo_title2;
		p[n++].nscripts = 1;
		h->extraports = ooo_closed98;
		h->has_os = 1;
		h->os.name = "Linux 5.X";
		h->mac = "00:11:22:33:44:55";
		h->hostnames = ooo_name_a;
		h->nhostnames = 1;
		break;
	case 2:
		*h = host_rec(addr, REC_HOST_DOWN, HT(10 + i));
		break;
	case 3:
		s.udp = "53,161";
		p[n++] = hsvc(22, "ssh", "OpenSSH", "9.2p1");
		p[n++] = hport(REC_PROTO_TCP, 80, REC_PORT_CLOSED);
		p[n++] = hport(REC_PROTO_TCP, 8080, REC_PORT_OPEN);
		p[n++] = hport(REC_PROTO_UDP, 53, REC_PORT_OPEN);
		p[n++] = hport(REC_PROTO_UDP, 161, REC_PORT_OPEN_FILTERED);
		h->extraports = ooo_filt997;
		h->has_os = 1;
		h->os.name = "Linux 6.X";
		h->mac = "66:77:88:99:AA:BB";
		h->hostnames = ooo_name_b;
		h->nhostnames = 1;
		break;
	default:
		s.tcp = "1-10000";
		p[n++] = hsvc(22, "ssh", "OpenSSH", "9.2p1");
		p[n] = hsvc(80, "http", "nginx", "1.22.1");
		p[n].scripts = ooo_title2;
		p[n++].nscripts = 1;
		h->extraports = ooo_closed997;
		h->has_os = 1;
		h->os.name = "Linux 6.X";
		h->mac = "66:77:88:99:AA:BB";
		h->hostnames = ooo_name_b;
		h->nhostnames = 1;
		break;
	}
	h->nextraports = h->extraports ? 1 : 0;
	h->ports = p;
	h->nports = n;
	return s;
}

/* Write the five scans of `addr` in the order given (indexes 0-4). */
static void ooo_write(struct store *st, const char *addr, const int *order, struct job_times *jt)
{
	for (int k = 0; k < OOO_N; k++) {
		struct ooo_store m;
		struct rec_host h;
		struct hscan s = ooo_scan(order[k], addr, &m, &h);
		assert_ok(st, write_hscan(st, &s, NULL, jt));
	}
}

/* One event as text, jobs named by their scan times (ids differ). */
static void event_text(const struct store_event *e, const struct job_times *jt, char *out,
                       size_t len)
{
	snprintf(out, len, "%s %s/%d detail=%s old=%s new=%s at=%lld job@%lld prev@%lld", e->kind,
	         e->protocol ? e->protocol : "-", e->port, e->detail ? e->detail : "NULL",
	         e->old_value ? e->old_value : "NULL", e->new_value ? e->new_value : "NULL",
	         (long long)e->at, (long long)job_time(jt, e->job_id),
	         (long long)job_time(jt, e->prev_job_id));
}

/* One host's whole history and current port state, as text. */
static char *history_text(struct store *st, const char *addr, const struct job_times *jt)
{
	struct ev_list l = host_events(st, addr);
	struct store_host *h = get_host(st, addr, 0);
	size_t cap = 16384, off = 0;
	char *out = malloc(cap), line[1024];

	assert_non_null(out);
	assert_non_null(h);
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		if (i > 0)
			assert_true(l.v[i]->at >= l.v[i - 1]->at); /* scan-time order */
		event_text(l.v[i], jt, line, sizeof(line));
		off += (size_t)snprintf(out + off, cap - off, "%s\n", line);
		assert_true(off < cap);
	}
	off += (size_t)snprintf(out + off, cap - off, "status=%s scanned_at=%lld os=%s mac=%s\n",
	                        h->status, (long long)h->scanned_at, h->os ? h->os : "NULL",
	                        h->mac ? h->mac : "NULL");
	for (size_t i = 0; i < h->nports; i++) {
		const struct store_port *p = &h->ports[i];
		off += (size_t)snprintf(
		    out + off, cap - off,
		    "%d/%s %s svc=%s %s %s job@%lld seen=%lld first=%lld last=%lld closed=%lld\n",
		    p->port, p->protocol, p->state, p->service ? p->service : "-",
		    p->product ? p->product : "-", p->version ? p->version : "-",
		    (long long)job_time(jt, p->state_job_id), (long long)p->state_seen_at,
		    (long long)p->first_seen, (long long)p->last_seen, (long long)p->closed_at);
		assert_true(off < cap);
	}
	store_host_free(h);
	ev_list_free(&l);
	return out;
}

static void assert_same_history(const char *what_a, const char *a, const char *what_b,
                                const char *b)
{
	if (strcmp(a, b) != 0)
		print_error("history differs:\n--- %s\n%s--- %s\n%s", what_a, a, what_b, b);
	assert_string_equal(a, b);
}

/* Files imported out of order give the same events and state as in order. */
static void test_history_out_of_order(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	static const int in_order[OOO_N] = {0, 1, 2, 3, 4};
	static const int shuffled[OOO_N] = {2, 0, 4, 1, 3};
	static const int reversed[OOO_N] = {4, 3, 2, 1, 0};
	const char *x = "198.51.100.1", *y = "198.51.100.2", *z = "198.51.100.3";
	struct job_times jt = {.n = 0};
	struct ev_list l;
	char *hx, *hy, *hz;
	int64_t j[OOO_N];

	ooo_write(st, x, in_order, &jt);
	ooo_write(st, y, shuffled, &jt);
	ooo_write(st, z, reversed, &jt);
	for (int i = 0; i < OOO_N; i++)
		j[i] = jt.id[i]; /* x's jobs, in time order */

	/* the in-order history, event by event */
	l = host_events(st, x);
	assert_nev(&l, 14);
	CHECK_SEV(&l, 0, x, "host_up", NULL, -1, NULL, NULL, "up", j[0], 0, HT(10));
	CHECK_SEV(&l, 1, x, "service_changed", "tcp", 22, NULL, "ssh OpenSSH 8.9p1",
	          "ssh OpenSSH 9.2p1", j[1], j[0], HT(11));
	CHECK_SEV(&l, 2, x, "script_changed", "tcp", 80, "http-title", "Welcome", "Login", j[1],
	          j[0], HT(11));
	CHECK_SEV(&l, 3, x, "host_down", NULL, -1, NULL, "up", "down", j[2], j[1], HT(12));
	CHECK_SEV(&l, 4, x, "host_up", NULL, -1, NULL, "down", "up", j[3], j[2], HT(13));
	CHECK_SEV(&l, 5, x, "port_closed", "tcp", 80, NULL, "open", "closed", j[3], j[1], HT(13));
	CHECK_SEV(&l, 6, x, "port_opened", "tcp", 8080, NULL, NULL, "open", j[3], NOCHECK, HT(13));
	CHECK_SEV(&l, 7, x, "port_opened", "udp", 53, NULL, NULL, "open", j[3], NOCHECK, HT(13));
	CHECK_SEV(&l, 8, x, "port_closed", "tcp", 443, NULL, "open", "filtered", j[3], j[0],
	          HT(13));
	CHECK_SEV(&l, 9, x, "os_changed", NULL, -1, NULL, "Linux 5.X", "Linux 6.X", j[3], j[2],
	          HT(13));
	CHECK_SEV(&l, 10, x, "mac_changed", NULL, -1, NULL, "00:11:22:33:44:55",
	          "66:77:88:99:AA:BB", j[3], j[2], HT(13));
	CHECK_SEV(&l, 11, x, "hostname_changed", NULL, -1, NULL, "a.example.test", "b.example.test",
	          j[3], j[2], HT(13));
	CHECK_SEV(&l, 12, x, "port_opened", "tcp", 80, NULL, "closed", "open", j[4], j[3], HT(14));
	CHECK_SEV(&l, 13, x, "port_closed", "tcp", 8080, NULL, "open", "closed", j[4], j[3],
	          HT(14));
	ev_list_free(&l);
	CHECK_STATE(st, x, "tcp", 22, "open", j[4], HT(10), HT(14), 0);
	CHECK_STATE(st, x, "tcp", 80, "open", j[4], HT(10), HT(14), 0);
	CHECK_STATE(st, x, "tcp", 113, "closed", j[4], 0, 0, 0);
	CHECK_STATE(st, x, "tcp", 443, "closed", j[4], HT(10), HT(10), HT(13));
	CHECK_STATE(st, x, "tcp", 8080, "closed", j[4], HT(13), HT(13), HT(14));
	CHECK_STATE(st, x, "udp", 53, "open", j[3], HT(13), HT(13), 0);
	CHECK_STATE(st, x, "udp", 161, "open|filtered", j[3], 0, 0, 0);

	hx = history_text(st, x, &jt);
	hy = history_text(st, y, &jt);
	hz = history_text(st, z, &jt);
	assert_same_history("in order", hx, "shuffled 3,1,5,2,4", hy);
	assert_same_history("in order", hx, "reversed", hz);
	free(hx);
	free(hy);
	free(hz);

	/* across hosts, events come in scan-time order, not import order */
	{
		struct store_event_filter f = ev_filter();
		l = get_events(st, &f);
		assert_nev(&l, 42);
		for (size_t i = 1; i < l.n; i++)
			assert_true(l.v[i]->at >= l.v[i - 1]->at);
		ev_list_free(&l);
	}
}

/*
 * OS, MAC and hostnames are compared with the latest scan that REPORTED
 * them (events.h).  Scan B (no OS/MAC/names) arriving before the older
 * scan A must not lose A's values: a later scan C is compared with A.
 */
static void test_history_out_of_order_attributes(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	static const struct rec_hostname na[] = {{"a.example.test", "PTR"}};
	static const struct rec_hostname nc[] = {{"c.example.test", "PTR"}};
	const char *addrs[2] = {"198.51.100.10", "198.51.100.11"};
	static const int orders[2][3] = {{0, 1, 2}, {1, 0, 2}}; /* A B C and B A C */
	struct job_times jt = {.n = 0};
	char *text[2];

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 3; i++) {
			int s = orders[k][i];
			struct rec_host h = host_rec(addrs[k], REC_HOST_UP, 0);
			if (s == 0) {
				h.has_os = 1;
				h.os.name = "Linux 5.X";
				h.mac = "00:11:22:33:44:55";
				h.hostnames = na;
				h.nhostnames = 1;
			} else if (s == 2) {
				h.has_os = 1;
				h.os.name = "Microsoft Windows 11";
				h.mac = "66:77:88:99:AA:BB";
				h.hostnames = nc;
				h.nhostnames = 1;
			}
			hscan1(st, HT(20 + s), "1-1000", NULL, h, &jt);
		}
		text[k] = history_text(st, addrs[k], &jt);
	}
	/* A B C: events at C compared with A's values, prev = B */
	{
		struct ev_list l = host_events(st, addrs[0]);
		int64_t jb = jt.id[1], jc = jt.id[2];
		assert_nev(&l, 4);
		CHECK_SEV(&l, 1, addrs[0], "os_changed", NULL, -1, NULL, "Linux 5.X",
		          "Microsoft Windows 11", jc, jb, HT(22));
		CHECK_SEV(&l, 2, addrs[0], "mac_changed", NULL, -1, NULL, "00:11:22:33:44:55",
		          "66:77:88:99:AA:BB", jc, jb, HT(22));
		CHECK_SEV(&l, 3, addrs[0], "hostname_changed", NULL, -1, NULL, "a.example.test",
		          "c.example.test", jc, jb, HT(22));
		ev_list_free(&l);
	}
	assert_same_history("A B C", text[0], "B A C", text[1]);
	free(text[0]);
	free(text[1]);
}

/*
 * A host that was down says nothing about its names (events.h), even when
 * nmap wrote the target's name into the down host's record: up(a), down(b),
 * up(b) is a hostname change a -> b at the third scan, in any import order.
 */
static void test_history_down_scan_names(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	static const struct rec_hostname na[] = {{"a.example.test", "user"}};
	static const struct rec_hostname nb[] = {{"b.example.test", "user"}};
	const char *addrs[2] = {"198.51.100.20", "198.51.100.21"};
	static const int orders[2][3] = {{0, 1, 2}, {2, 0, 1}};
	struct job_times jt = {.n = 0};
	char *text[2];

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 3; i++) {
			int s = orders[k][i];
			struct rec_host h =
			    host_rec(addrs[k], s == 1 ? REC_HOST_DOWN : REC_HOST_UP, 0);
			h.hostnames = s == 0 ? na : nb;
			h.nhostnames = 1;
			hscan1(st, HT(30 + s), "1-1000", NULL, h, &jt);
		}
		text[k] = history_text(st, addrs[k], &jt);
	}
	{
		struct ev_list l = host_events(st, addrs[0]);
		int64_t jb = jt.id[1], jc = jt.id[2];
		assert_nev(&l, 4);
		CHECK_SEV(&l, 1, addrs[0], "host_down", NULL, -1, NULL, "up", "down", jb, jt.id[0],
		          HT(31));
		CHECK_SEV(&l, 2, addrs[0], "host_up", NULL, -1, NULL, "down", "up", jc, jb, HT(32));
		CHECK_SEV(&l, 3, addrs[0], "hostname_changed", NULL, -1, NULL, "a.example.test",
		          "b.example.test", jc, jb, HT(32));
		ev_list_free(&l);
	}
	assert_same_history("in order", text[0], "3,1,2", text[1]);
	free(text[0]);
	free(text[1]);
}

/* store_events_each filters, and the hosts filters on history. */
static void test_history_filters(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port a1[] = {hport(REC_PROTO_TCP, 22, REC_PORT_OPEN)};
	struct rec_port b1[] = {hport(REC_PROTO_TCP, 80, REC_PORT_OPEN)};
	struct rec_port c1[] = {hport(REC_PROTO_TCP, 443, REC_PORT_OPEN)};
	struct rec_port a2[] = {hport(REC_PROTO_TCP, 22, REC_PORT_CLOSED),
	                        hport(REC_PROTO_TCP, 23, REC_PORT_OPEN)};
	struct rec_port c3[] = {hport(REC_PROTO_TCP, 443, REC_PORT_CLOSED)};
	struct rec_host s1[] = {hhost("10.1.0.1", REC_HOST_UP, a1, 1),
	                        hhost("10.1.0.2", REC_HOST_UP, b1, 1),
	                        hhost("10.2.0.1", REC_HOST_UP, c1, 1)};
	struct rec_host s2[] = {hhost("10.1.0.1", REC_HOST_UP, a2, 2),
	                        hhost("10.1.0.2", REC_HOST_DOWN, NULL, 0),
	                        hhost("10.2.0.1", REC_HOST_UP, c1, 1)};
	struct rec_host s3[] = {hhost("10.2.0.1", REC_HOST_UP, c3, 1),
	                        hhost("10.3.0.1", REC_HOST_UP, a1, 1)};
	struct hscan sc1 = {HT(1), "1-1000", NULL, s1, 3}, sc2 = {HT(2), "1-1000", NULL, s2, 3},
	             sc3 = {HT(3), "1-1000", NULL, s3, 2};
	struct store_event_filter f = ev_filter();
	struct store_host_filter hf = any_filter();
	int64_t j1, j2, j3;
	struct ev_list l;

	for (size_t i = 0; i < 3; i++) {
		s1[i].starttime = HT(1);
		s2[i].starttime = HT(2);
	}
	s3[0].starttime = s3[1].starttime = HT(3);
	assert_ok(st, write_hscan(st, &sc1, &j1, NULL));
	assert_ok(st, write_hscan(st, &sc2, &j2, NULL));
	assert_ok(st, write_hscan(st, &sc3, &j3, NULL));

	l = get_events(st, &f);
	assert_nev(&l, 8);
	CHECK_SEV(&l, 0, "10.1.0.1", "host_up", NULL, -1, NULL, NULL, "up", j1, 0, HT(1));
	CHECK_SEV(&l, 1, "10.1.0.2", "host_up", NULL, -1, NULL, NULL, "up", j1, 0, HT(1));
	CHECK_SEV(&l, 2, "10.2.0.1", "host_up", NULL, -1, NULL, NULL, "up", j1, 0, HT(1));
	CHECK_SEV(&l, 3, "10.1.0.1", "port_closed", "tcp", 22, NULL, "open", "closed", j2, j1,
	          HT(2));
	CHECK_SEV(&l, 4, "10.1.0.1", "port_opened", "tcp", 23, NULL, NULL, "open", j2, NOCHECK,
	          HT(2));
	CHECK_SEV(&l, 5, "10.1.0.2", "host_down", NULL, -1, NULL, "up", "down", j2, j1, HT(2));
	CHECK_SEV(&l, 6, "10.2.0.1", "port_closed", "tcp", 443, NULL, "open", "closed", j3, j2,
	          HT(3));
	CHECK_SEV(&l, 7, "10.3.0.1", "host_up", NULL, -1, NULL, NULL, "up", j3, 0, HT(3));
	ev_list_free(&l);

	/* since: at >= since, the boundary included */
	f.since = HT(2);
	l = get_events(st, &f);
	assert_nev(&l, 5);
	CHECK_SEV(&l, 0, "10.1.0.1", "port_closed", "tcp", 22, NULL, "open", "closed", j2, j1,
	          HT(2));
	ev_list_free(&l);
	f.since = HT(2) + 1;
	l = get_events(st, &f);
	assert_nev(&l, 2);
	ev_list_free(&l);
	f.since = HT(3) + 1;
	l = get_events(st, &f);
	assert_nev(&l, 0);
	ev_list_free(&l);

	/* one host; with since */
	f = ev_filter();
	f.addr = "10.1.0.1";
	l = get_events(st, &f);
	assert_nev(&l, 3);
	CHECK_SEV(&l, 0, "10.1.0.1", "host_up", NULL, -1, NULL, NULL, "up", j1, 0, HT(1));
	CHECK_SEV(&l, 2, "10.1.0.1", "port_opened", "tcp", 23, NULL, NULL, "open", j2, NOCHECK,
	          HT(2));
	ev_list_free(&l);
	f.since = HT(2);
	l = get_events(st, &f);
	assert_nev(&l, 2);
	ev_list_free(&l);
	f = ev_filter();
	f.addr = "10.9.9.9";
	l = get_events(st, &f);
	assert_nev(&l, 0);
	ev_list_free(&l);

	/* a block */
	f = ev_filter();
	assert_int_equal(addr_cidr_parse("10.1.0.0/16", f.net_lo, f.net_hi), 0);
	f.has_net = 1;
	l = get_events(st, &f);
	assert_nev(&l, 5);
	for (size_t i = 0; i < l.n; i++)
		assert_memory_equal(l.v[i]->addr, "10.1.0.", 7);
	ev_list_free(&l);

	/* kinds, alone and with a block */
	f.kinds = (1u << EV_PORT_CLOSED) | (1u << EV_HOST_DOWN);
	l = get_events(st, &f);
	assert_nev(&l, 2);
	CHECK_SEV(&l, 0, "10.1.0.1", "port_closed", "tcp", 22, NULL, "open", "closed", j2, j1,
	          HT(2));
	CHECK_SEV(&l, 1, "10.1.0.2", "host_down", NULL, -1, NULL, "up", "down", j2, j1, HT(2));
	ev_list_free(&l);
	f.has_net = 0;
	l = get_events(st, &f);
	assert_nev(&l, 3);
	CHECK_SEV(&l, 2, "10.2.0.1", "port_closed", "tcp", 443, NULL, "open", "closed", j3, j2,
	          HT(3));
	ev_list_free(&l);

	/* hosts: changed since (a change event at or after), new since */
	hf.changed_since = HT(2);
	assert_filter(st, &hf, "10.1.0.1,10.1.0.2,10.2.0.1,10.3.0.1", "changed_since t2");
	hf.changed_since = HT(3);
	assert_filter(st, &hf, "10.2.0.1,10.3.0.1", "changed_since t3");
	hf.changed_since = HT(3) + 1;
	assert_filter(st, &hf, "", "changed_since t3+1");
	hf.changed_since = 0;
	hf.new_since = HT(1);
	assert_filter(st, &hf, "10.1.0.1,10.1.0.2,10.2.0.1,10.3.0.1", "new_since t1");
	hf.new_since = HT(1) + 1;
	assert_filter(st, &hf, "10.3.0.1", "new_since t1+1");
	hf.new_since = HT(3);
	assert_filter(st, &hf, "10.3.0.1", "new_since t3");
	hf.new_since = HT(3) + 1;
	assert_filter(st, &hf, "", "new_since t3+1");
	/* with other filters and in a job's view */
	hf.new_since = 0;
	hf.changed_since = HT(3);
	hf.job_id = j2;
	assert_filter(st, &hf, "10.2.0.1", "job 2, changed_since t3");
	hf.job_id = 0;
	hf.changed_since = HT(2);
	assert_int_equal(addr_cidr_parse("10.1.0.0/16", hf.net_lo, hf.net_hi), 0);
	hf.has_net = 1;
	assert_filter(st, &hf, "10.1.0.1,10.1.0.2", "changed_since t2 in 10.1/16");
	/* the current view: 22 closed, 23 open for 10.1.0.1 */
	hf = any_filter();
	hf.port = 22;
	assert_filter(st, &hf, "10.3.0.1", "current --port 22");
	hf.port = 443;
	assert_filter(st, &hf, "", "current --port 443");
}

static int stop_after_two(void *ctx, struct store_event *e)
{
	int *n = ctx;

	store_event_free(e);
	return ++*n == 2 ? 42 : 0;
}

static void test_history_events_callback_stop(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_host hs[] = {hhost("10.0.0.1", REC_HOST_UP, NULL, 0),
	                        hhost("10.0.0.2", REC_HOST_UP, NULL, 0),
	                        hhost("10.0.0.3", REC_HOST_UP, NULL, 0)};
	struct hscan s = {HT(1), "1-1000", NULL, hs, 3};
	struct store_event_filter f = ev_filter();
	int n = 0;

	assert_ok(st, write_hscan(st, &s, NULL, NULL));
	assert_int_equal(store_events_each(st, &f, stop_after_two, &n), 42);
	assert_int_equal(n, 2);
}

/* Events and port state are written in the job's transaction: a failure
 * while deriving them leaves nothing of the job. */
static void test_history_atomic(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	const char *a = "192.0.2.50";
	struct rec_port p1[] = {hport(REC_PROTO_TCP, 22, REC_PORT_OPEN),
	                        hport(REC_PROTO_TCP, 80, REC_PORT_OPEN)};
	struct rec_port p2[] = {hport(REC_PROTO_TCP, 22, REC_PORT_OPEN),
	                        hport(REC_PROTO_TCP, 80, REC_PORT_CLOSED)};
	static const char *const ops[] = {"event_insert", "port_state_save", "history_load"};
	int64_t j1;
	struct ev_list l;

	j1 = hscan1(st, HT(1), "1-1000", NULL, hhost(a, REC_HOST_UP, p1, 2), NULL);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct rec_host h = hhost(a, REC_HOST_UP, p2, 2);
		struct hscan s = {HT(2), "1-1000", NULL, &h, 1};
		h.starttime = HT(2);
		store_inject_fault(st, ops[i], 1, SDB_EIO);
		assert_rc(st, write_hscan(st, &s, NULL, NULL), SDB_EIO);
		store_inject_fault(st, "*", 0, 0);
		assert_int_equal(count_jobs(st, NULL), 1);
		l = host_events(st, a);
		assert_nev(&l, 1);
		ev_list_free(&l);
		CHECK_STATE(st, a, "tcp", 80, "open", j1, HT(1), HT(1), 0);
	}
	/* an older scan arriving late derives the host's history again: a
	 * failure in any of its steps too */
	static const char *const late_ops[] = {"history_scan_list", "history_scans",
	                                       "history_forget"};
	for (size_t i = 0; i < sizeof(late_ops) / sizeof(late_ops[0]); i++) {
		struct rec_host h = hhost(a, REC_HOST_UP, p2, 2);
		struct hscan s = {HT(0), "1-1000", NULL, &h, 1};
		h.starttime = HT(0);
		store_inject_fault(st, late_ops[i], 1, SDB_EIO);
		assert_rc(st, write_hscan(st, &s, NULL, NULL), SDB_EIO);
		store_inject_fault(st, "*", 0, 0);
		assert_int_equal(count_jobs(st, NULL), 1);
		l = host_events(st, a);
		assert_nev(&l, 1);
		ev_list_free(&l);
		CHECK_STATE(st, a, "tcp", 80, "open", j1, HT(1), HT(1), 0);
	}
	{
		struct rec_host h = hhost(a, REC_HOST_UP, p2, 2);
		struct hscan s = {HT(0), "1-1000", NULL, &h, 1};
		h.starttime = HT(0);
		assert_int_equal(count_jobs(st, NULL), 1);
		l = host_events(st, a);
		assert_nev(&l, 1);
		CHECK_SEV(&l, 0, a, "host_up", NULL, -1, NULL, NULL, "up", j1, 0, HT(1));
		ev_list_free(&l);
		CHECK_STATE(st, a, "tcp", 80, "open", j1, HT(1), HT(1), 0);
		/* and without the fault it goes in: the old scan is the first */
		assert_ok(st, write_hscan(st, &s, NULL, NULL));
		l = host_events(st, a);
		assert_nev(&l, 2);
		assert_int_equal(l.v[0]->at, HT(0));
		assert_string_equal(l.v[0]->kind, "host_up");
		CHECK_SEV(&l, 1, a, "port_opened", "tcp", 80, NULL, "closed", "open", j1,
		          l.v[0]->job_id, HT(1));
		ev_list_free(&l);
		CHECK_STATE(st, a, "tcp", 80, "open", j1, HT(1), HT(1), 0);
	}
}

/* The same scan stored again (--force) changes nothing. */
static void test_history_same_scan_twice(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	const char *a = "192.0.2.60";
	struct rec_port p[] = {hport(REC_PROTO_TCP, 22, REC_PORT_OPEN)};
	int64_t j1;
	struct ev_list l;

	j1 = hscan1(st, HT(1), "1-1000", NULL, hhost(a, REC_HOST_UP, p, 1), NULL);
	(void)hscan1(st, HT(1), "1-1000", NULL, hhost(a, REC_HOST_UP, p, 1), NULL);
	l = host_events(st, a);
	assert_nev(&l, 1);
	CHECK_SEV(&l, 0, a, "host_up", NULL, -1, NULL, NULL, "up", j1, 0, HT(1));
	ev_list_free(&l);
}

/* --host and --net together: the host's events only if it is in the block
 * (as store_hosts_each does with addr and net); kinds apply too. */
static void test_history_events_host_and_net(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port p1[] = {hport(REC_PROTO_TCP, 22, REC_PORT_OPEN)};
	struct rec_port p2[] = {hport(REC_PROTO_TCP, 22, REC_PORT_CLOSED)};
	struct store_event_filter f = ev_filter();
	struct ev_list l;

	(void)hscan1(st, HT(1), "1-1000", NULL, hhost("10.1.0.1", REC_HOST_UP, p1, 1), NULL);
	(void)hscan1(st, HT(2), "1-1000", NULL, hhost("10.1.0.1", REC_HOST_UP, p2, 1), NULL);
	f.addr = "10.1.0.1";
	f.kinds = 1u << EV_PORT_CLOSED;
	l = get_events(st, &f);
	assert_nev(&l, 1);
	assert_string_equal(l.v[0]->kind, "port_closed");
	ev_list_free(&l);
	f.kinds = 0;
	assert_int_equal(addr_cidr_parse("10.1.0.0/16", f.net_lo, f.net_hi), 0);
	f.has_net = 1;
	l = get_events(st, &f);
	assert_nev(&l, 2);
	ev_list_free(&l);
	assert_int_equal(addr_cidr_parse("10.2.0.0/16", f.net_lo, f.net_hi), 0);
	l = get_events(st, &f);
	assert_nev(&l, 0);
	ev_list_free(&l);
}

/* ---- database operations: prune, doctor, health, stats ---------------------- */

#define PT(n) (1600000000 + 86400 * (int64_t)(n)) /* 2020: old by any cutoff */

/* Everything `scandb hosts` shows of every host (its current state) as
 * one text, to compare before and after an operation. */
static int dump_state_host(void *ctx, struct store_host *h)
{
	struct buf *b = ctx;

	buf_printf(b, "%s job=%lld status=%s first=%lld last=%lld os=%s\n", h->addr,
	           (long long)h->job_id, h->status, (long long)h->first_seen,
	           (long long)h->last_seen, h->os ? h->os : "-");
	for (size_t i = 0; i < h->nports; i++) {
		const struct store_port *p = &h->ports[i];
		buf_printf(b,
		           "  %s/%d %s svc=%s prod=%s ttl=%d conf=%d first=%lld last=%lld "
		           "closed=%lld job=%lld scripts=%zu cpes=%zu\n",
		           p->protocol, p->port, p->state, p->service ? p->service : "-",
		           p->product ? p->product : "-", p->reason_ttl, p->conf,
		           (long long)p->first_seen, (long long)p->last_seen,
		           (long long)p->closed_at, (long long)p->state_job_id, p->nscripts,
		           p->ncpes);
	}
	buf_printf(b, "  scripts=%zu extraports=%zu\n", h->nscripts, h->nextraports);
	store_host_free(h);
	return 0;
}

static char *dump_state(struct store *st)
{
	struct store_host_filter f = any_filter();
	struct buf b;
	char *out;

	buf_init(&b, 1 << 20);
	assert_ok(st, store_hosts_each(st, &f, dump_state_host, &b));
	out = buf_steal(&b);
	buf_free(&b);
	assert_non_null(out);
	return out;
}

static int64_t prune_count(const struct store_prune_result *r, const char *table,
                           const char *column)
{
	for (size_t i = 0; i < r->ncounts; i++)
		if (strcmp(r->counts[i].table, table) == 0 &&
		    strcmp(r->counts[i].column, column) == 0)
			return r->counts[i].rows;
	print_error("prune result has no count for %s.%s\n", table, column);
	fail();
	return -1;
}

static int job_exists(struct store *st, int64_t id)
{
	struct store_job *j = NULL;
	int r = store_job_get(st, id, &j);

	store_job_free(j);
	if (r != 0 && r != SDB_ENOTFOUND)
		assert_ok(st, r);
	return r == 0;
}

/*
 * prune removes old finished jobs and their rows, but never a host's
 * latest scan, a port's latest probing scan, a running job or one of the
 * keep_last newest; the current state is the same before and after; a dry
 * run changes nothing.
 */
static void test_prune(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port pa[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1"),
	                        hport(REC_PROTO_TCP, 80, REC_PORT_OPEN)};
	struct rec_port pd1[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1")};
	struct rec_port pd2[] = {hport(REC_PROTO_TCP, 80, REC_PORT_OPEN)};
	struct store_prune_opts o = {.older_than = PT(1000), .keep_last = 0, .dry_run = 1};
	struct store_prune_result res;
	int64_t a1, a2, a3, b1, c1, c2, d1, d2, run;
	char *before, *after;
	size_t jobs_before;

	/* A: three scans; B: one (job b1 is its latest whatever its age) */
	a1 = hscan1(st, PT(1), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, pa, 2), NULL);
	b1 = hscan1(st, PT(2), "1-1000", NULL, hhost("192.0.2.2", REC_HOST_UP, pa, 1), NULL);
	a2 = hscan1(st, PT(3), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, pa, 2), NULL);
	a3 = hscan1(st, PT(5), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, pa, 1), NULL);
	/* C: down in its latest scan: still the latest */
	c1 = hscan1(st, PT(4), "1-1000", NULL, hhost("192.0.2.3", REC_HOST_UP, pa, 2), NULL);
	c2 = hscan1(st, PT(6), "1-1000", NULL, hhost("192.0.2.3", REC_HOST_DOWN, NULL, 0), NULL);
	/* D: 22 last probed by d1, which is not D's latest scan (d2 only
	 * probed port 80): d1 is kept for port 22's current state */
	d1 = hscan1(st, PT(7), "1-1000", NULL, hhost("192.0.2.4", REC_HOST_UP, pd1, 1), NULL);
	d2 = hscan1(st, PT(8), "80", NULL, hhost("192.0.2.4", REC_HOST_UP, pd2, 1), NULL);
	/* an old job still running */
	run = insert_running(st, "otherhost:1", PT(1), time_now() + 3600);
	jobs_before = count_jobs(st, NULL);
	assert_int_equal(jobs_before, 9);
	before = dump_state(st);

	/* dry run: the report, and nothing changed */
	assert_ok(st, store_prune(st, &o, &res));
	assert_int_equal(res.njobs, 2);
	assert_int_equal(res.jobs[0], a1 < a2 ? a1 : a2);
	assert_int_equal(res.jobs[1], a1 < a2 ? a2 : a1);
	assert_int_equal(prune_count(&res, "jobs", "id"), 2);
	assert_int_equal(prune_count(&res, "host_scans", "job_id"), 2);
	assert_int_equal(prune_count(&res, "ports", "job_id"), 4);
	assert_int_equal(prune_count(&res, "port_state", "job_id"), 0);
	assert_int_equal(prune_count(&res, "hosts", "last_job_id"), 0);
	assert_int_equal(res.kept_unfinished, 1);
	/* a3, b1, c2 (latest scans), c1 (C's ports: c2 found it down), d1
	 * (port 22), d2 */
	assert_int_equal(res.kept_current, 6);
	store_prune_result_free(&res);
	assert_int_equal(count_jobs(st, NULL), jobs_before);
	after = dump_state(st);
	assert_string_equal(after, before);
	free(after);

	/* keep_last covering everything: nothing to remove */
	o.keep_last = 100;
	assert_ok(st, store_prune(st, &o, &res));
	assert_int_equal(res.njobs, 0);
	assert_int_equal(res.kept_last, 8);
	store_prune_result_free(&res);

	/* for real, keeping the newest job */
	o.keep_last = 1;
	o.dry_run = 0;
	assert_ok(st, store_prune(st, &o, &res));
	assert_int_equal(res.njobs, 2);
	assert_int_equal(res.kept_last, 1);
	store_prune_result_free(&res);
	assert_int_equal(count_jobs(st, NULL), jobs_before - 2);
	assert_false(job_exists(st, a1));
	assert_false(job_exists(st, a2));
	assert_true(job_exists(st, a3));
	assert_true(job_exists(st, b1));
	assert_true(job_exists(st, c1));
	assert_true(job_exists(st, c2));
	assert_true(job_exists(st, d1));
	assert_true(job_exists(st, d2));
	assert_true(job_exists(st, run));
	after = dump_state(st);
	assert_string_equal(after, before);
	free(after);
	free(before);

	/* again: nothing left to remove */
	assert_ok(st, store_prune(st, &o, &res));
	assert_int_equal(res.njobs, 0);
	store_prune_result_free(&res);

	/* a cutoff before every job: nothing is old */
	o.older_than = PT(0);
	o.keep_last = 0;
	assert_ok(st, store_prune(st, &o, &res));
	assert_int_equal(res.njobs, 0);
	store_prune_result_free(&res);
}

static int take_finding(void *ctx, struct store_finding *x)
{
	struct store_finding **out = ctx;

	store_finding_free(*out);
	*out = x;
	return 0;
}

/* Pruning a job that saw a finding: the finding stays (with its status
 * history); its list of jobs loses the pruned one. */
static void test_prune_keeps_findings(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port p[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1")};
	struct store_prune_opts o = {.older_than = PT(1000), .keep_last = 0, .dry_run = 0};
	struct store_finding_new fn = {.type = "rule",
	                               .source = "port_opened",
	                               .proto = REC_PROTO_TCP,
	                               .port = 22,
	                               .title = "ssh opened",
	                               .severity = "high",
	                               .fingerprint = "test-prune-finding"};
	struct store_finding_filter ff = {0};
	struct store_finding *x = NULL;
	struct store_prune_result res;
	struct store_host *h;
	int64_t j1, j2, fid = 0;
	int created = 0;

	j1 = hscan1(st, PT(1), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, p, 1), NULL);
	j2 = hscan1(st, PT(2), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, p, 1), NULL);
	h = get_host(st, "192.0.2.1", 0);
	assert_non_null(h);
	assert_ok(st, store_tx_begin(st));
	assert_ok(st, store_finding_upsert(st, h->id, j1, PT(1), &fn, &fid, &created));
	assert_int_equal(created, 1);
	assert_ok(st, store_finding_set_status(st, fid, "open", PT(1), j1, NULL, 0, 1, NULL));
	assert_ok(st, store_finding_upsert(st, h->id, j2, PT(2), &fn, &fid, &created));
	assert_ok(st, store_tx_commit(st));
	store_host_free(h);

	assert_ok(st, store_prune(st, &o, &res));
	assert_int_equal(res.njobs, 1);
	assert_int_equal(res.jobs[0], j1);
	assert_int_equal(prune_count(&res, "finding_jobs", "job_id"), 1);
	assert_int_equal(prune_count(&res, "finding_status_changes", "job_id"), 1);
	store_prune_result_free(&res);

	ff.id = fid;
	assert_ok(st, store_findings_each(st, &ff, take_finding, &x));
	assert_non_null(x);
	assert_int_equal(x->njobs, 1);
	assert_int_equal(x->jobs[0], j2);
	assert_int_equal(x->nhistory, 1);
	assert_int_equal(x->history[0].job_id, 0); /* its scan was pruned: NULL */
	assert_int_equal(x->first_seen, PT(1));
	store_finding_free(x);
}

/* A prune that fails half-way (after its selection) changes nothing and
 * leaves nothing behind: the next prune works. */
static void test_prune_fault_atomic(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port p[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1")};
	struct store_prune_opts o = {.older_than = PT(1000), .keep_last = 0, .dry_run = 0};
	struct store_prune_result res;
	int64_t j1;
	char *before, *after;

	j1 = hscan1(st, PT(1), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, p, 1), NULL);
	hscan1(st, PT(2), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, p, 1), NULL);
	before = dump_state(st);
	store_inject_fault(st, "query_int", 1, SDB_EIO);
	assert_rc(st, store_prune(st, &o, &res), SDB_EIO);
	assert_int_equal(res.njobs, 0);
	assert_null(res.jobs);
	assert_int_equal(count_jobs(st, NULL), 2);
	assert_true(job_exists(st, j1));
	store_inject_fault(st, "exec_params", 1, SDB_EBUSY);
	assert_rc(st, store_prune(st, &o, &res), SDB_EBUSY);
	assert_int_equal(count_jobs(st, NULL), 2);
	/* and then it works */
	assert_ok(st, store_prune(st, &o, &res));
	assert_int_equal(res.njobs, 1);
	assert_int_equal(res.jobs[0], j1);
	store_prune_result_free(&res);
	after = dump_state(st);
	assert_string_equal(after, before);
	free(before);
	free(after);
	/* bad arguments */
	o.keep_last = -1;
	assert_rc(st, store_prune(st, &o, &res), SDB_EUSAGE);
}

/* A healthy database: every generic check ran and found nothing. */
static void test_doctor_healthy(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port p[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1")};
	struct store_doctor_report rep;
	const char *want[] = {"migrations", "orphans", "stuck_jobs"};

	hscan1(st, PT(1), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, p, 1), NULL);
	assert_ok(st, store_doctor(st, 0, time_now(), &rep));
	for (size_t i = 0; i < rep.nproblems; i++)
		print_error("unexpected problem [%s] %s\n", rep.problems[i].check,
		            rep.problems[i].what);
	assert_int_equal(rep.nproblems, 0);
	for (size_t k = 0; k < 3; k++) {
		int found = 0;
		for (size_t i = 0; i < rep.nchecks; i++)
			if (strcmp(rep.checks[i].name, want[k]) == 0) {
				found = 1;
				assert_string_equal(rep.checks[i].status, "ok");
			}
		if (!found)
			print_error("check %s did not run\n", want[k]);
		assert_true(found);
	}
	store_doctor_report_free(&rep);
}

/* A job stuck in running past its timeout is found; fix marks it failed. */
static void test_doctor_stuck_job(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	int64_t now = time_now();
	int64_t stuck = insert_running(st, "otherhost:1", now - 7200, now - 60);
	int64_t live = insert_running(st, "otherhost:2", now - 60, now + 3600);
	struct store_doctor_report rep;

	assert_ok(st, store_doctor(st, 0, now, &rep));
	assert_int_equal(rep.nproblems, 1);
	assert_string_equal(rep.problems[0].check, "stuck_jobs");
	assert_int_equal(rep.problems[0].count, 1);
	assert_non_null(rep.problems[0].fix);
	store_doctor_report_free(&rep);
	assert_job_status(st, stuck, "running"); /* a check changes nothing */

	assert_ok(st, store_doctor(st, 1, now, &rep));
	assert_int_equal(rep.nproblems, 0);
	assert_int_equal(rep.fixed_stuck_jobs, 1);
	store_doctor_report_free(&rep);
	assert_job_status(st, stuck, "failed");
	assert_job_status(st, live, "running");

	assert_ok(st, store_doctor(st, 0, now, &rep));
	assert_int_equal(rep.nproblems, 0);
	store_doctor_report_free(&rep);
}

static void test_health_and_stats(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct rec_port p[] = {hsvc(22, "ssh", "OpenSSH", "9.2p1")};
	struct store_health h;
	struct store_stats s;
	int64_t j1, j2;
	int saw_jobs = 0;

	assert_ok(st, store_health(st, &h));
	assert_int_equal(h.healthy, 1);
	assert_int_equal(h.pending, 0);
	assert_true(h.schema_version >= 4);
	assert_int_equal(h.schema_version, h.latest_version);
	assert_true(h.server_version[0] != '\0');
	assert_true(h.latency_ms >= 0);

	j1 = hscan1(st, PT(2), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, p, 1), NULL);
	j2 = hscan1(st, PT(1), "1-1000", NULL, hhost("192.0.2.2", REC_HOST_UP, p, 1), NULL);
	insert_running(st, "otherhost:1", time_now(), time_now() + 60);
	assert_ok(st, store_stats(st, 0, &s));
	assert_int_equal(s.jobs_total, 3);
	assert_int_equal(s.jobs_by_status[STORE_JOB_COMPLETED], 2);
	assert_int_equal(s.jobs_by_status[STORE_JOB_RUNNING], 1);
	assert_non_null(s.oldest_job);
	assert_int_equal(s.oldest_job->id, j2); /* by scan time, not id */
	assert_non_null(s.newest_job);
	assert_true(s.newest_job->id != j1 && s.newest_job->id != j2);
	assert_true(s.db_bytes > 0);
	for (size_t i = 0; i < s.nobjs; i++) {
		if (!s.objs[i].is_index && strcmp(s.objs[i].name, "jobs") == 0) {
			saw_jobs = 1;
			assert_int_equal(s.objs[i].rows, 3);
		}
	}
	assert_true(saw_jobs);
	store_stats_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_bootstrap, setup_raw, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_visible_only_after_commit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_upsert_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_upsert_many, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_content_hash_duplicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_constraints, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_constraint_host_status, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_value_checks_once, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sql_text_verbatim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callback_stop_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_results_outlive_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_injection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reap_stale, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_existing_job, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_port_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_scope_aware, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_out_of_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_out_of_order_attributes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_down_scan_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_events_callback_stop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_events_host_and_net, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_same_scan_twice, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune_fault_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_prune_keeps_findings, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_doctor_healthy, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_doctor_stuck_job, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_health_and_stats, setup, teardown),
	};
	size_t total = sizeof(tests) / sizeof(tests[0]);
	const char *env = getenv("SCANDB_TEST_DB");
	int failed;

	/* A backend this build does not have is a skip, not 16 failures. */
	if (env && *env) {
		char err[512];
		struct store *st = NULL;
		int r = store_open(env, &st, err, sizeof(err));

		if (r == SDB_EUNSUPPORTED)
			TU_SKIP("SCANDB_TEST_DB=%s: %s", env, err);
		if (r != 0) {
			fprintf(stderr, "cannot open SCANDB_TEST_DB=%s: %s\n", env, err);
			return 1;
		}
		store_close(st);
	}
	printf("storage contract suite: %s\n",
	       getenv("SCANDB_TEST_DB") && *getenv("SCANDB_TEST_DB")
	           ? getenv("SCANDB_TEST_DB")
	           : "fresh SQLite file per test under $TEST_TMPDIR");
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	printf("%zu passed, %d failed\n", total - (size_t)(failed > 0 ? failed : 0), failed);
	return failed ? 1 : 0;
}
