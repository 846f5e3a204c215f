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
#include "core/error.h"
#include "core/record.h"
#include "core/timeutil.h"
#include "store/job_writer.h"
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
	struct rec_runstats rs = {.finished = 1,
	                          .end = 1100,
	                          .elapsed = 100,
	                          .hosts_up = 1,
	                          .hosts_down = 0,
	                          .hosts_total = 1};
	const struct ingest_sink *sink;
	struct job_writer *w;
	struct job_writer_stats stats;
	struct store_job *j = NULL;
	struct store_host *sh;
	int64_t id;

	h.ports = ports;
	h.nports = 2;
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
	store_host_free(sh);
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
	job_writer_abort(w);
	job_writer_abort(w); /* twice is harmless */
	job_writer_free(w);
	assert_empty(st, "after job_writer_abort");
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
	int64_t id = insert_running(st, job_writer_worker_id(), now, now + 3600);
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
	    cmocka_unit_test_setup_teardown(test_sql_text_verbatim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_callback_stop_and_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_results_outlive_store, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fault_injection, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reap_stale, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_existing_job, setup, teardown),
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
