/*
 * contract.c - the storage contract suite's shared fixture and helpers:
 * a fresh database per test, record builders, a job written through the job
 * writer as an importer does, reading hosts, jobs and events back, and the
 * history tests' scans and checks.  Declared in contract.h.
 */
#include "contract.h"

#include <string.h>
#include <unistd.h>

/* ---- per-test database ------------------------------------------------------ */

/* Open `target` or fail the test with the store's reason. */
struct store *open_store(const char *target)
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

/* A fresh, empty database (no tables); not yet opened by the fixture. */
int setup_raw(void **state)
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
int setup(void **state)
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

int teardown(void **state)
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

struct rec_host host_rec(const char *addr, enum rec_host_status s, int64_t start)
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

struct rec_port port_rec(enum rec_proto proto, int port, enum rec_port_state s, const char *service)
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

/*
 * Write a job through the job writer exactly as an importer does.  Returns
 * the first error (a sink callback's or commit's) after aborting.
 */
int write_job(struct store *st, const struct job_spec *js, int64_t *job_id, int64_t *existing)
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

struct store_host_filter any_filter(void)
{
	struct store_host_filter f = STORE_HOST_FILTER_ANY;

	return f;
}

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

void host_list_free(struct host_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_host_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

struct host_list get_hosts(struct store *st, const struct store_host_filter *f)
{
	struct host_list l = {NULL, 0};

	assert_ok(st, store_hosts_each(st, f, collect_host, &l));
	return l;
}

size_t count_hosts_f(struct store *st, const struct store_host_filter *f)
{
	struct host_list l = get_hosts(st, f);
	size_t n = l.n;

	host_list_free(&l);
	return n;
}

size_t count_hosts(struct store *st)
{
	struct store_host_filter f = any_filter();

	return count_hosts_f(st, &f);
}

int collect_job(void *ctx, struct store_job *j)
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

void job_list_free(struct job_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_job_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

struct job_list get_jobs(struct store *st, const char *status)
{
	struct job_list l = {NULL, 0};

	assert_ok(st, store_jobs_each(st, status, collect_job, &l));
	return l;
}

size_t count_jobs(struct store *st, const char *status)
{
	struct job_list l = get_jobs(st, status);
	size_t n = l.n;

	job_list_free(&l);
	return n;
}

/* The one host with address `addr` in view `job_id` (0 = latest), or NULL. */
struct store_host *get_host(struct store *st, const char *addr, int64_t job_id)
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

const struct store_port *find_port(const struct store_host *h, const char *proto, int port)
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

void assert_filter(struct store *st, const struct store_host_filter *f, const char *want,
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
void assert_empty(struct store *st, const char *why)
{
	size_t nj = count_jobs(st, NULL), nh = count_hosts(st);

	if (nj || nh)
		print_error("%s: want an empty database, found %zu jobs and %zu hosts\n", why, nj,
		            nh);
	assert_int_equal(nj, 0);
	assert_int_equal(nh, 0);
}

/* ---- jobs written as running (the scan path) ---------------------------- */

int64_t insert_running(struct store *st, const char *worker, int64_t created, int64_t timeout_at)
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

void assert_job_status(struct store *st, int64_t id, const char *want)
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

/* ---- history: change events and the current state (issue 4) ----------------- */

/* Write one scan through the job writer as an importer does. */
int write_hscan(struct store *st, const struct hscan *s, int64_t *job_id, struct job_times *jt)
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
int64_t hscan1(struct store *st, int64_t t, const char *tcp, const char *udp, struct rec_host h,
               struct job_times *jt)
{
	struct hscan s = {t, tcp, udp, &h, 1};
	int64_t id;

	h.starttime = t;
	h.endtime = t + 5;
	assert_ok(st, write_hscan(st, &s, &id, jt));
	return id;
}

struct rec_host hhost(const char *addr, enum rec_host_status s, const struct rec_port *p, size_t np)
{
	struct rec_host h = host_rec(addr, s, 0);

	h.ports = p;
	h.nports = np;
	return h;
}

struct rec_port hport(enum rec_proto proto, int num, enum rec_port_state s)
{
	return port_rec(proto, num, s, NULL);
}

struct rec_port hsvc(int num, const char *name, const char *product, const char *version)
{
	struct rec_port p = port_rec(REC_PROTO_TCP, num, REC_PORT_OPEN, name);

	p.service.product = product;
	p.service.version = version;
	p.service.method = "probed";
	p.service.conf = 10;
	return p;
}

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

void ev_list_free(struct ev_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		store_event_free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

struct store_event_filter ev_filter(void)
{
	struct store_event_filter f;

	memset(&f, 0, sizeof(f));
	return f;
}

struct ev_list get_events(struct store *st, const struct store_event_filter *f)
{
	struct ev_list l = {NULL, 0};

	assert_ok(st, store_events_each(st, f, collect_event, &l));
	return l;
}

struct ev_list host_events(struct store *st, const char *addr)
{
	struct store_event_filter f = ev_filter();

	f.addr = addr;
	return get_events(st, &f);
}

void print_store_events(const struct ev_list *l)
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

/* Event i is exactly this one (proto NULL and port -1: host-level). */
void check_sev(const struct ev_list *l, size_t i, const char *addr, const char *kind,
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

/* A port of the current view: state and history. */
void check_state(struct store *st, const char *addr, const char *proto, int num, const char *state,
                 int64_t job, int64_t first, int64_t last, int64_t closed, int line)
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
