/*
 * test_events.c - unit tests of the change-event rules (history/events.h):
 * a host's state (struct ev_host) is built by hand, scans (struct rec_host)
 * are applied with ev_step(), and every emitted event is checked field by
 * field: kind, protocol/port, detail, old and new value, job, previous job
 * and time.  Pure: no database, no files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/record.h"
#include "core/scope.h"
#include "history/events.h"

/* Scan times of jobs 1, 2, 3, ... */
#define T1 1700000000
#define T2 (T1 + 3600)
#define T3 (T1 + 7200)
#define T4 (T1 + 10800)
#define T5 (T1 + 14400)

#define TCP  REC_PROTO_TCP
#define UDP  REC_PROTO_UDP
#define OPEN REC_PORT_OPEN
#define CLSD REC_PORT_CLOSED
#define FILT REC_PORT_FILTERED
#define OPFI REC_PORT_OPEN_FILTERED

/* ---- collecting events ---------------------------------------------------- */

struct rec_ev {
	enum ev_kind kind;
	int proto, port;
	char *detail, *old_value, *new_value;
	int64_t job_id, prev_job_id, at;
};

struct evlog {
	struct rec_ev v[64];
	size_t n;
	int fail_at; /* emit returns SDB_EIO on this call (1-based); 0 never */
	int calls;
};

static char *dup_or_null(const char *s)
{
	char *c;

	if (!s)
		return NULL;
	c = strdup(s);
	assert_non_null(c);
	return c;
}

static int collect(void *ctx, const struct ev_event *e)
{
	struct evlog *l = ctx;
	struct rec_ev *r;

	l->calls++;
	if (l->fail_at && l->calls == l->fail_at)
		return SDB_EIO;
	assert_true(l->n < sizeof(l->v) / sizeof(l->v[0]));
	r = &l->v[l->n++];
	r->kind = e->kind;
	r->proto = e->proto;
	r->port = e->port;
	r->detail = dup_or_null(e->detail);
	r->old_value = dup_or_null(e->old_value);
	r->new_value = dup_or_null(e->new_value);
	r->job_id = e->job_id;
	r->prev_job_id = e->prev_job_id;
	r->at = e->at;
	return 0;
}

static void evlog_clear(struct evlog *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].detail);
		free(l->v[i].old_value);
		free(l->v[i].new_value);
	}
	l->n = 0;
	l->calls = 0;
	l->fail_at = 0;
}

static void print_events(const struct evlog *l)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct rec_ev *e = &l->v[i];
		print_message("  [%zu] %s proto=%d port=%d detail=%s old=%s new=%s job=%lld "
		              "prev=%lld at=%lld\n",
		              i, ev_kind_name(e->kind), e->proto, e->port,
		              e->detail ? e->detail : "NULL", e->old_value ? e->old_value : "NULL",
		              e->new_value ? e->new_value : "NULL", (long long)e->job_id,
		              (long long)e->prev_job_id, (long long)e->at);
	}
}

static int str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Exactly `n` events were emitted (prints them when not). */
#define assert_nevents(l, want)                                                                    \
	do {                                                                                       \
		if ((l)->n != (size_t)(want)) {                                                    \
			print_error("%s:%d: %zu events, want %d:\n", __FILE__, __LINE__, (l)->n,   \
			            (int)(want));                                                  \
			print_events(l);                                                           \
		}                                                                                  \
		assert_int_equal((l)->n, (want));                                                  \
	} while (0)

/* Event i is exactly this one, every field. */
static void check_ev(const struct evlog *l, size_t i, enum ev_kind kind, int proto, int port,
                     const char *detail, const char *old_value, const char *new_value, int64_t job,
                     int64_t prev, int64_t at, int line)
{
	const struct rec_ev *e;

	if (i >= l->n) {
		print_error("line %d: no event [%zu]; have:\n", line, i);
		print_events(l);
		fail();
	}
	e = &l->v[i];
	if (e->kind != kind || e->proto != proto || e->port != port ||
	    !str_same(e->detail, detail) || !str_same(e->old_value, old_value) ||
	    !str_same(e->new_value, new_value) || e->job_id != job || e->prev_job_id != prev ||
	    e->at != at) {
		print_error("line %d: event [%zu] differs; want %s proto=%d port=%d detail=%s "
		            "old=%s new=%s job=%lld prev=%lld at=%lld; have:\n",
		            line, i, ev_kind_name(kind), proto, port, detail ? detail : "NULL",
		            old_value ? old_value : "NULL", new_value ? new_value : "NULL",
		            (long long)job, (long long)prev, (long long)at);
		print_events(l);
		fail();
	}
}
#define CHECK_EV(l, i, kind, proto, port, detail, o, n, job, prev, at)                             \
	check_ev(l, i, kind, proto, port, detail, o, n, job, prev, at, __LINE__)

/* ---- building scans ----------------------------------------------------- */

static struct rec_host host(enum rec_host_status st)
{
	struct rec_host h;

	memset(&h, 0, sizeof(h));
	h.status = st;
	h.reason = st == REC_HOST_UP ? "syn-ack" : "no-response";
	h.reason_ttl = -1;
	h.addr = "192.0.2.1";
	h.family = 4;
	h.uptime_seconds = -1;
	h.distance = -1;
	h.os.accuracy = -1;
	return h;
}

static struct rec_host up_with(const struct rec_port *ports, size_t n)
{
	struct rec_host h = host(REC_HOST_UP);

	h.ports = ports;
	h.nports = n;
	return h;
}

static struct rec_port port(enum rec_proto proto, int num, enum rec_port_state st)
{
	struct rec_port p;

	memset(&p, 0, sizeof(p));
	p.proto = proto;
	p.port = num;
	p.state = st;
	p.reason = st == OPEN ? "syn-ack" : st == CLSD ? "reset" : "no-response";
	p.reason_ttl = -1;
	p.service.conf = -1;
	return p;
}

/* A port with a service as nmap reports it (method "table" or "probed"). */
static struct rec_port svc(enum rec_proto proto, int num, enum rec_port_state st, const char *name,
                           const char *product, const char *version, const char *extrainfo,
                           const char *method)
{
	struct rec_port p = port(proto, num, st);

	p.has_service = 1;
	p.service.name = name;
	p.service.product = product;
	p.service.version = version;
	p.service.extrainfo = extrainfo;
	p.service.method = method;
	p.service.conf = method && strcmp(method, "probed") == 0 ? 10 : 3;
	return p;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Apply one scan (job `job` at `at`, probed scope in stored text form). */
static void step(struct ev_host *h, int64_t job, int64_t at, const char *scope_text,
                 const struct rec_host *scan, struct evlog *log)
{
	struct scan_scope sc;
	int r;

	evlog_clear(log);
	assert_int_equal(scope_parse(scope_text, &sc), 0);
	r = ev_step(h, job, at, &sc, scan, EV_GONE_AFTER_DEFAULT, collect, log);
	scope_free(&sc);
	assert_int_equal(r, 0);
}

static const struct ev_port *find_port(const struct ev_host *h, enum rec_proto proto, int num)
{
	for (size_t i = 0; i < h->nports; i++)
		if (h->ports[i].proto == proto && h->ports[i].port == num)
			return &h->ports[i];
	print_error("port %d/%s is not in the state\n", num, rec_proto_name(proto));
	fail();
	return NULL;
}

/* The state of one port: state, latest probing job and time, history. */
static void check_port(const struct ev_host *h, enum rec_proto proto, int num,
                       enum rec_port_state st, int64_t job, int64_t seen_at, int64_t first,
                       int64_t last, int64_t closed, int line)
{
	const struct ev_port *p = find_port(h, proto, num);

	if (p->state != st || p->job_id != job || p->seen_at != seen_at || p->first_seen != first ||
	    p->last_seen != last || p->closed_at != closed) {
		print_error("line %d: port %d/%s: want state=%s job=%lld seen_at=%lld first=%lld "
		            "last=%lld closed=%lld; have state=%s job=%lld seen_at=%lld first=%lld "
		            "last=%lld closed=%lld\n",
		            line, num, rec_proto_name(proto), rec_port_state_name(st),
		            (long long)job, (long long)seen_at, (long long)first, (long long)last,
		            (long long)closed, rec_port_state_name(p->state), (long long)p->job_id,
		            (long long)p->seen_at, (long long)p->first_seen,
		            (long long)p->last_seen, (long long)p->closed_at);
		fail();
	}
}
#define CHECK_PORT(h, proto, num, st, job, seen, first, last, closed)                              \
	check_port(h, proto, num, st, job, seen, first, last, closed, __LINE__)

/* ---- new hosts ------------------------------------------------------------ */

/* A new host that is up: one host_up (old NULL), no per-port events. */
static void test_new_host_up(void **state)
{
	struct rec_port p1[] = {
	    svc(TCP, 22, OPEN, "ssh", NULL, NULL, NULL, "table"),
	    port(TCP, 80, OPEN),
	    port(TCP, 113, CLSD),
	};
	struct rec_host s1 = up_with(p1, N(p1));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_UP, -1, -1, NULL, NULL, "up", 1, 0, T1);
	assert_true(h.known);
	assert_int_equal(h.status, REC_HOST_UP);
	assert_int_equal(h.job_id, 1);
	assert_int_equal(h.at, T1);
	assert_int_equal(h.nports, 3);
	CHECK_PORT(&h, TCP, 22, OPEN, 1, T1, T1, T1, 0);
	CHECK_PORT(&h, TCP, 80, OPEN, 1, T1, T1, T1, 0);
	CHECK_PORT(&h, TCP, 113, CLSD, 1, T1, 0, 0, 0);
	assert_string_equal(find_port(&h, TCP, 22)->service, "ssh");
	assert_string_equal(find_port(&h, TCP, 22)->method, "table");
	for (size_t i = 0; i < h.nports; i++)
		assert_true(h.ports[i].dirty);

	evlog_clear(&log);
	ev_host_free(&h);
}

/* A new host seen down: no event at all, nothing about ports. */
static void test_new_host_down(void **state)
{
	struct rec_host s1 = host(REC_HOST_DOWN);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	assert_nevents(&log, 0);
	assert_true(h.known);
	assert_int_equal(h.status, REC_HOST_DOWN);
	assert_int_equal(h.job_id, 1);
	assert_int_equal(h.nports, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* ---- ports opened, closed, reopened ---------------------------------------- */

static void test_port_open_close_reopen(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN)};
	struct rec_port p3[] = {port(TCP, 22, OPEN), port(TCP, 80, CLSD)};
	struct rec_port p4[] = {port(TCP, 22, OPEN), port(TCP, 80, CLSD)};
	struct rec_port p5[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN)};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2)), s3 = up_with(p3, N(p3)),
	                s4 = up_with(p4, N(p4)), s5 = up_with(p5, N(p5));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	assert_nevents(&log, 1);

	/* newly open */
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 1);
	assert_int_equal(log.v[0].kind, EV_PORT_OPENED);
	assert_int_equal(log.v[0].proto, TCP);
	assert_int_equal(log.v[0].port, 80);
	assert_null(log.v[0].old_value);
	assert_string_equal(log.v[0].new_value, "open");
	assert_int_equal(log.v[0].job_id, 2);
	assert_int_equal(log.v[0].at, T2);
	CHECK_PORT(&h, TCP, 22, OPEN, 2, T2, T1, T2, 0);
	CHECK_PORT(&h, TCP, 80, OPEN, 2, T2, T2, T2, 0);

	/* open -> closed (listed closed) */
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_PORT_CLOSED, TCP, 80, NULL, "open", "closed", 3, 2, T3);
	CHECK_PORT(&h, TCP, 80, CLSD, 3, T3, T2, T2, T3);
	CHECK_PORT(&h, TCP, 22, OPEN, 3, T3, T1, T3, 0);

	/* still closed: nothing, closed_at kept */
	step(&h, 4, T4, "tcp:1-1000", &s4, &log);
	assert_nevents(&log, 0);
	CHECK_PORT(&h, TCP, 80, CLSD, 4, T4, T2, T2, T3);

	/* reopened: closed_at cleared, first_seen kept, last_seen moves */
	step(&h, 5, T5, "tcp:1-1000", &s5, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_PORT_OPENED, TCP, 80, NULL, "closed", "open", 5, 4, T5);
	CHECK_PORT(&h, TCP, 80, OPEN, 5, T5, T2, T5, 0);

	evlog_clear(&log);
	ev_host_free(&h);
}

/*
 * A port the host's previous scan did not list opens: the event must still
 * name the previous job it is compared with (issue 4: "Each event names the
 * job that saw it and the previous job it is compared with").  The previous
 * scan probed tcp 1-1000 and so covered port 80.
 */
static void test_port_opened_names_previous_job(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN)};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_PORT_OPENED, TCP, 80, NULL, NULL, "open", 2, 1, T2);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* A port first listed closed, later open: port_opened old "closed". */
static void test_closed_then_open(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 113, CLSD)};
	struct rec_port p2[] = {port(TCP, 22, OPEN), port(TCP, 113, OPEN)};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_PORT_OPENED, TCP, 113, NULL, "closed", "open", 2, 1, T2);
	CHECK_PORT(&h, TCP, 113, OPEN, 2, T2, T2, T2, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* open -> filtered (listed): port_closed with new "filtered". */
static void test_open_to_filtered_listed(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 443, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, OPEN), port(TCP, 443, FILT)};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_PORT_CLOSED, TCP, 443, NULL, "open", "filtered", 2, 1, T2);
	CHECK_PORT(&h, TCP, 443, FILT, 2, T2, T1, T1, T2);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* ---- scope-aware: no false "closed" -------------------------------------- */

/*
 * Scan 1 (tcp 1-1000) sees 22 and 443 open; scan 2 probes only tcp 1-100
 * and lists 22 open: nothing about 443, which keeps its state, job and
 * last_seen; scan 3 probes 1-1000 again and lists only 22: 443 is closed.
 */
static void test_scope_aware(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 443, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, OPEN)};
	struct rec_extraports x2[] = {{CLSD, 99, "reset:99"}};
	struct rec_port p3[] = {port(TCP, 22, OPEN)};
	struct rec_extraports x3[] = {{CLSD, 999, "reset:999"}};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2)), s3 = up_with(p3, N(p3));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s2.extraports = x2;
	s2.nextraports = N(x2);
	s3.extraports = x3;
	s3.nextraports = N(x3);
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);

	step(&h, 2, T2, "tcp:1-100", &s2, &log);
	assert_nevents(&log, 0);
	CHECK_PORT(&h, TCP, 22, OPEN, 2, T2, T1, T2, 0);
	CHECK_PORT(&h, TCP, 443, OPEN, 1, T1, T1, T1, 0);
	assert_false(find_port(&h, TCP, 443)->dirty);
	assert_true(find_port(&h, TCP, 22)->dirty);

	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 1);
	/* compared with the last scan that probed it: job 1, not job 2 */
	CHECK_EV(&log, 0, EV_PORT_CLOSED, TCP, 443, NULL, "open", "closed", 3, 1, T3);
	CHECK_PORT(&h, TCP, 443, CLSD, 3, T3, T1, T1, T3);
	assert_true(find_port(&h, TCP, 443)->dirty);
	assert_null(find_port(&h, TCP, 443)->reason);

	evlog_clear(&log);
	ev_host_free(&h);
}

/* A narrower scan that does cover the port is evidence: 1-100 covers 80. */
static void test_narrow_scope_covering_port(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, OPEN)};
	struct rec_extraports x2[] = {{CLSD, 99, "reset:99"}};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s2.extraports = x2;
	s2.nextraports = N(x2);
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-100", &s2, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_PORT_CLOSED, TCP, 80, NULL, "open", "closed", 2, 1, T2);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* The brief's exact case: scan 2 probes tcp 1-100 and says nothing about
 * 443 (scan 1 saw 22 and 443 open). */
static void test_scope_other_protocol_and_range(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 443, OPEN), port(UDP, 53, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, OPEN)};
	struct rec_extraports x2[] = {{CLSD, 99, NULL}};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s2.extraports = x2;
	s2.nextraports = N(x2);
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000;udp:53", &s1, &log);
	/* tcp 1-100 only: 443/tcp and 53/udp were not probed */
	step(&h, 2, T2, "tcp:1-100", &s2, &log);
	assert_nevents(&log, 0);
	CHECK_PORT(&h, TCP, 443, OPEN, 1, T1, T1, T1, 0);
	CHECK_PORT(&h, UDP, 53, OPEN, 1, T1, T1, T1, 0);
	/* an empty scope (a ping scan) probes nothing */
	step(&h, 3, T3, "", &s2, &log);
	assert_nevents(&log, 0);
	CHECK_PORT(&h, TCP, 443, OPEN, 1, T1, T1, T1, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* Unlisted but covered ports take the extraports state. */
static void test_unlisted_takes_extraports_state(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN), port(TCP, 443, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, OPEN)};
	struct rec_extraports filt[] = {{FILT, 997, "no-response:997"}, {CLSD, 2, "reset:2"}};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s2.extraports = filt;
	s2.nextraports = N(filt);
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	/* unlisted ports in (proto, port) order */
	assert_nevents(&log, 2);
	CHECK_EV(&log, 0, EV_PORT_CLOSED, TCP, 80, NULL, "open", "filtered", 2, 1, T2);
	CHECK_EV(&log, 1, EV_PORT_CLOSED, TCP, 443, NULL, "open", "filtered", 2, 1, T2);
	CHECK_PORT(&h, TCP, 80, FILT, 2, T2, T1, T1, T2);
	CHECK_PORT(&h, TCP, 443, FILT, 2, T2, T1, T1, T2);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* No extraports at all: a covered, unlisted port counts as closed. */
static void test_unlisted_without_extraports_is_closed(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, OPEN)};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:22,80", &s1, &log);
	step(&h, 2, T2, "tcp:22,80", &s2, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_PORT_CLOSED, TCP, 80, NULL, "open", "closed", 2, 1, T2);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* UDP: nmap folds unresponsive UDP ports as open|filtered. */
static void test_udp_open_filtered_extraports(void **state)
{
	struct rec_port p1[] = {port(UDP, 53, OPEN), port(UDP, 161, OPEN)};
	struct rec_port p2[] = {port(UDP, 53, OPEN)};
	/* more closed than open|filtered: UDP takes open|filtered, which
	 * cannot tell open from filtered: no news about a port known open */
	struct rec_extraports x2[] = {{CLSD, 900, "port-unreach:900"},
	                              {OPFI, 98, "no-response:98"}};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s2.extraports = x2;
	s2.nextraports = N(x2);
	ev_host_init(&h);
	step(&h, 1, T1, "udp:1-1000", &s1, &log);
	step(&h, 2, T2, "udp:1-1000", &s2, &log);
	assert_nevents(&log, 0);
	CHECK_PORT(&h, UDP, 161, OPEN, 1, T1, T1, T1, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* A tcp-only scan says nothing about UDP ports, even at the same number. */
static void test_scope_is_per_protocol(void **state)
{
	struct rec_port p1[] = {port(TCP, 53, OPEN), port(UDP, 53, OPEN)};
	struct rec_port p2[] = {port(TCP, 53, OPEN)};
	struct rec_extraports x2[] = {{CLSD, 999, NULL}};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s2.extraports = x2;
	s2.nextraports = N(x2);
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000;udp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 0);
	CHECK_PORT(&h, UDP, 53, OPEN, 1, T1, T1, T1, 0);
	CHECK_PORT(&h, TCP, 53, OPEN, 2, T2, T1, T2, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/*
 * An ACK scan (-sA) cannot tell open from closed: nmap reports every port it
 * probed as "unfiltered" (or "filtered"), folding open ports into
 * <extraports state="unfiltered"> too (seen with nmap 7.93 against a
 * listener on 127.0.0.1).  It is no evidence that an open port closed, and
 * must not make the next SYN scan report the port opened again.
 */
static void test_ack_scan_unfiltered_is_not_closed(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN)};
	struct rec_port p2[] = {port(TCP, 80, REC_PORT_UNFILTERED)};
	struct rec_extraports x2[] = {{REC_PORT_UNFILTERED, 999, "reset:999"}};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2)), s3 = up_with(p1, N(p1));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s2.extraports = x2;
	s2.nextraports = N(x2);
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 0);
	assert_int_equal(find_port(&h, TCP, 22)->state, OPEN);
	assert_int_equal(find_port(&h, TCP, 80)->state, OPEN);
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* ---- host down / up ---------------------------------------------------------- */

static void test_host_down_then_up(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN)};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = host(REC_HOST_DOWN), s3 = up_with(p1, N(p1));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);

	/* down: one host_down, ports unchanged (a down host says nothing) */
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_DOWN, -1, -1, NULL, "up", "down", 2, 1, T2);
	assert_int_equal(h.status, REC_HOST_DOWN);
	assert_int_equal(h.job_id, 2);
	CHECK_PORT(&h, TCP, 22, OPEN, 1, T1, T1, T1, 0);
	CHECK_PORT(&h, TCP, 80, OPEN, 1, T1, T1, T1, 0);
	for (size_t i = 0; i < h.nports; i++)
		assert_false(h.ports[i].dirty);

	/* still down: nothing */
	step(&h, 3, T3, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 0);

	/* back up with the same ports: host_up only */
	step(&h, 4, T4, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_UP, -1, -1, NULL, "down", "up", 4, 3, T4);
	CHECK_PORT(&h, TCP, 22, OPEN, 4, T4, T1, T4, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* Back up with a port gone: host_up first, then port_closed (fixed order). */
static void test_host_up_with_port_change_order(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN)};
	struct rec_port p3[] = {port(TCP, 22, OPEN), port(TCP, 80, CLSD), port(TCP, 443, OPEN)};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = host(REC_HOST_DOWN), s3 = up_with(p3, N(p3));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 3);
	CHECK_EV(&log, 0, EV_HOST_UP, -1, -1, NULL, "down", "up", 3, 2, T3);
	/* compared with the last scan that probed port 80 (job 1, not the
	 * down scan) */
	CHECK_EV(&log, 1, EV_PORT_CLOSED, TCP, 80, NULL, "open", "closed", 3, 1, T3);
	assert_int_equal(log.v[2].kind, EV_PORT_OPENED);
	assert_int_equal(log.v[2].port, 443);
	evlog_clear(&log);
	ev_host_free(&h);
}

/*
 * A list scan (-sL: status "unknown") or a skipped host says nothing about
 * whether the host is up; a later down scan is still a host_down against
 * the last scan that saw it up.
 */
static void test_unknown_status_does_not_hide_host_down(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN)};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = host(REC_HOST_UNKNOWN),
	                s3 = host(REC_HOST_DOWN);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "", &s2, &log);
	assert_nevents(&log, 0);
	CHECK_PORT(&h, TCP, 22, OPEN, 1, T1, T1, T1, 0);
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 1);
	/* prev_job (1 or 2) is the implementer's call; the rest is not */
	assert_int_equal(log.v[0].kind, EV_HOST_DOWN);
	assert_string_equal(log.v[0].old_value, "up");
	assert_string_equal(log.v[0].new_value, "down");
	assert_int_equal(log.v[0].job_id, 3);
	assert_int_equal(log.v[0].at, T3);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* ---- services ------------------------------------------------------------------ */

static void test_service_changed_probed(void **state)
{
	struct rec_port p1[] = {
	    svc(TCP, 22, OPEN, "ssh", "OpenSSH", "8.9p1", "protocol 2.0", "probed"),
	    svc(TCP, 80, OPEN, "http", "nginx", "1.22.1", NULL, "probed"),
	};
	struct rec_port p2[] = {
	    svc(TCP, 22, OPEN, "ssh", "OpenSSH", "9.2p1", "protocol 2.0", "probed"),
	    svc(TCP, 80, OPEN, "http", "nginx", "1.22.1", NULL, "probed"),
	};
	/* product changes, name changes, extrainfo disappears */
	struct rec_port p3[] = {
	    svc(TCP, 22, OPEN, "ssh", "Dropbear sshd", "2022.83", NULL, "probed"),
	    svc(TCP, 80, OPEN, "https", "Apache httpd", "2.4.57", "(Debian)", "probed"),
	};
	struct rec_host s1 = up_with(p1, N(p1)), s2 = up_with(p2, N(p2)), s3 = up_with(p3, N(p3));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	p3[1].service.tunnel = "ssl";
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_SERVICE_CHANGED, TCP, 22, NULL, "ssh OpenSSH 8.9p1 (protocol 2.0)",
	         "ssh OpenSSH 9.2p1 (protocol 2.0)", 2, 1, T2);
	assert_string_equal(find_port(&h, TCP, 22)->version, "9.2p1");

	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 2);
	CHECK_EV(&log, 0, EV_SERVICE_CHANGED, TCP, 22, NULL, "ssh OpenSSH 9.2p1 (protocol 2.0)",
	         "ssh Dropbear sshd 2022.83", 3, 2, T3);
	CHECK_EV(&log, 1, EV_SERVICE_CHANGED, TCP, 80, NULL, "http nginx 1.22.1",
	         "ssl/https Apache httpd 2.4.57 ((Debian))", 3, 2, T3);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* Version detection on one side only: not comparable, no event; the
 * probed details are kept when a later scan has only the table guess. */
static void test_service_table_vs_probed(void **state)
{
	struct rec_port probed[] = {svc(TCP, 22, OPEN, "ssh", "OpenSSH", "9.2p1", NULL, "probed")};
	struct rec_port table[] = {svc(TCP, 22, OPEN, "ssh", NULL, NULL, NULL, "table")};
	struct rec_port table_other[] = {svc(TCP, 22, OPEN, "telnet", NULL, NULL, NULL, "table")};
	struct rec_port probed2[] = {svc(TCP, 22, OPEN, "ssh", "OpenSSH", "9.2p1", NULL, "probed")};
	struct rec_host sp = up_with(probed, N(probed)), st = up_with(table, N(table)),
	                so = up_with(table_other, N(table_other)),
	                sp2 = up_with(probed2, N(probed2));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	/* table first, then probed: no event */
	step(&h, 1, T1, "tcp:1-1000", &st, &log);
	step(&h, 2, T2, "tcp:1-1000", &sp, &log);
	assert_nevents(&log, 0);
	assert_string_equal(find_port(&h, TCP, 22)->product, "OpenSSH");
	/* probed, then table with the same name: no event, probed kept */
	step(&h, 3, T3, "tcp:1-1000", &st, &log);
	assert_nevents(&log, 0);
	assert_string_equal(find_port(&h, TCP, 22)->method, "probed");
	assert_string_equal(find_port(&h, TCP, 22)->version, "9.2p1");
	/* the same probed result again: nothing */
	step(&h, 4, T4, "tcp:1-1000", &sp2, &log);
	assert_nevents(&log, 0);
	/* probed vs table with another name: levels differ, no event */
	step(&h, 5, T5, "tcp:1-1000", &so, &log);
	assert_nevents(&log, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* Table guesses on both sides compare by name only. */
static void test_service_table_both(void **state)
{
	struct rec_port a[] = {svc(TCP, 8080, OPEN, "http-proxy", NULL, NULL, NULL, "table")};
	struct rec_port b[] = {svc(TCP, 8080, OPEN, "http-alt", NULL, NULL, NULL, "table")};
	struct rec_host sa = up_with(a, N(a)), sb = up_with(b, N(b));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-10000", &sa, &log);
	step(&h, 2, T2, "tcp:1-10000", &sb, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_SERVICE_CHANGED, TCP, 8080, NULL, "http-proxy", "http-alt", 2, 1, T2);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* A port without any service element says nothing about the service. */
static void test_service_absent_no_event(void **state)
{
	struct rec_port a[] = {svc(TCP, 22, OPEN, "ssh", "OpenSSH", "9.2p1", NULL, "probed")};
	struct rec_port b[] = {port(TCP, 22, OPEN)};
	struct rec_host sa = up_with(a, N(a)), sb = up_with(b, N(b));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &sa, &log);
	step(&h, 2, T2, "tcp:1-1000", &sb, &log);
	assert_nevents(&log, 0);
	assert_string_equal(find_port(&h, TCP, 22)->product, "OpenSSH");
	evlog_clear(&log);
	ev_host_free(&h);
}

/* ---- OS, MAC, hostnames ---------------------------------------------------- */

static void test_os_changed_only_when_reported(void **state)
{
	struct rec_host s1 = host(REC_HOST_UP), s2 = host(REC_HOST_UP), s3 = host(REC_HOST_UP),
	                s4 = host(REC_HOST_UP);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s1.has_os = 1;
	s1.os.name = "Linux 5.0 - 5.14";
	s1.os.accuracy = 98;
	/* s2: no OS detection */
	s3.has_os = 1;
	s3.os.name = "Microsoft Windows 10 1809";
	s3.os.accuracy = 95;
	s4.has_os = 1;
	s4.os.name = "Microsoft Windows 10 1809";
	s4.os.accuracy = 93;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	assert_nevents(&log, 1); /* host_up */
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 0);
	assert_string_equal(h.os, "Linux 5.0 - 5.14");
	/* compared with the latest scan that reported an OS; the previous
	 * job is the host's previous scan (events.h) */
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_OS_CHANGED, -1, -1, NULL, "Linux 5.0 - 5.14",
	         "Microsoft Windows 10 1809", 3, 2, T3);
	/* same name, other accuracy: nothing */
	step(&h, 4, T4, "tcp:1-1000", &s4, &log);
	assert_nevents(&log, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

static void test_mac_changed(void **state)
{
	struct rec_host s1 = host(REC_HOST_UP), s2 = host(REC_HOST_UP), s3 = host(REC_HOST_UP);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s1.mac = "00:11:22:33:44:55";
	/* s2: no MAC (routed scan) */
	s3.mac = "66:77:88:99:AA:BB";
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 0);
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_MAC_CHANGED, -1, -1, NULL, "00:11:22:33:44:55", "66:77:88:99:AA:BB", 3,
	         2, T3);
	step(&h, 4, T4, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

static void test_hostname_changed(void **state)
{
	struct rec_hostname n1[] = {{"www.example.test", "PTR"}, {"a.example.test", "user"}};
	/* same set, other order and a duplicate: no change */
	struct rec_hostname n2[] = {
	    {"a.example.test", "user"}, {"www.example.test", "PTR"}, {"a.example.test", "PTR"}};
	struct rec_hostname n4[] = {{"new.example.test", "PTR"}};
	struct rec_host s1 = host(REC_HOST_UP), s2 = host(REC_HOST_UP), s3 = host(REC_HOST_UP),
	                s4 = host(REC_HOST_UP);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s1.hostnames = n1;
	s1.nhostnames = N(n1);
	s2.hostnames = n2;
	s2.nhostnames = N(n2);
	/* s3: no names (no DNS resolution, -n) */
	s4.hostnames = n4;
	s4.nhostnames = N(n4);
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	assert_string_equal(h.hostnames, "a.example.test,www.example.test");
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 0);
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 0);
	step(&h, 4, T4, "tcp:1-1000", &s4, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOSTNAME_CHANGED, -1, -1, NULL, "a.example.test,www.example.test",
	         "new.example.test", 4, 3, T4);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* A down host's names, OS and MAC are not reported: no event, no change. */
static void test_down_host_says_nothing_about_attributes(void **state)
{
	struct rec_hostname n1[] = {{"a.example.test", "user"}};
	struct rec_hostname n2[] = {{"b.example.test", "user"}};
	struct rec_host s1 = host(REC_HOST_UP), s2 = host(REC_HOST_DOWN), s3 = host(REC_HOST_UP);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s1.hostnames = n1;
	s1.nhostnames = 1;
	s2.hostnames = n2; /* nmap writes the user's target name for down hosts */
	s2.nhostnames = 1;
	s3.hostnames = n2;
	s3.nhostnames = 1;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 1);
	assert_int_equal(log.v[0].kind, EV_HOST_DOWN);
	assert_string_equal(h.hostnames, "a.example.test");
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	assert_nevents(&log, 2);
	CHECK_EV(&log, 0, EV_HOST_UP, -1, -1, NULL, "down", "up", 3, 2, T3);
	CHECK_EV(&log, 1, EV_HOSTNAME_CHANGED, -1, -1, NULL, "a.example.test", "b.example.test", 3,
	         2, T3);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* ---- scripts ------------------------------------------------------------------- */

static void test_script_changed(void **state)
{
	struct rec_script hs1[] = {{"smb-os-discovery", "OS: Windows 10"}};
	struct rec_script hs3[] = {{"smb-os-discovery", "OS: Windows 11"}};
	struct rec_script ps1[] = {{"http-title", "Welcome"}, {"http-server-header", "nginx"}};
	struct rec_script ps3[] = {{"http-title", "Login"}, {"http-server-header", "nginx"}};
	struct rec_port p1[] = {port(TCP, 80, OPEN)};
	struct rec_port p2[] = {port(TCP, 80, OPEN)};
	struct rec_port p3[] = {port(TCP, 80, OPEN)};
	struct rec_host s1 = up_with(p1, 1), s2 = up_with(p2, 1), s3 = up_with(p3, 1);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	p1[0].scripts = ps1;
	p1[0].nscripts = N(ps1);
	s1.scripts = hs1;
	s1.nscripts = N(hs1);
	/* s2: no scripts run */
	p3[0].scripts = ps3;
	p3[0].nscripts = N(ps3);
	s3.scripts = hs3;
	s3.nscripts = N(hs3);
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	step(&h, 2, T2, "tcp:1-1000", &s2, &log);
	assert_nevents(&log, 0);
	step(&h, 3, T3, "tcp:1-1000", &s3, &log);
	/* host scripts first, then port scripts; previous job = the scan
	 * that wrote the old output */
	assert_nevents(&log, 2);
	CHECK_EV(&log, 0, EV_SCRIPT_CHANGED, -1, -1, "smb-os-discovery", "OS: Windows 10",
	         "OS: Windows 11", 3, 1, T3);
	CHECK_EV(&log, 1, EV_SCRIPT_CHANGED, TCP, 80, "http-title", "Welcome", "Login", 3, 1, T3);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* The same script id on two ports is two scripts. */
static void test_script_keyed_by_port(void **state)
{
	struct rec_script a[] = {{"ssl-cert", "CN=a"}};
	struct rec_script b[] = {{"ssl-cert", "CN=b"}};
	struct rec_port p1[] = {port(TCP, 443, OPEN), port(TCP, 8443, OPEN)};
	struct rec_port p2[] = {port(TCP, 443, OPEN), port(TCP, 8443, OPEN)};
	struct rec_host s1 = up_with(p1, 2), s2 = up_with(p2, 2);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	p1[0].scripts = a;
	p1[0].nscripts = 1;
	p1[1].scripts = b;
	p1[1].nscripts = 1;
	p2[0].scripts = a;
	p2[0].nscripts = 1;
	p2[1].scripts = b;
	p2[1].nscripts = 1;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-10000", &s1, &log);
	step(&h, 2, T2, "tcp:1-10000", &s2, &log);
	assert_nevents(&log, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* ---- a loaded state ------------------------------------------------------------- */

/* The job writer loads a port state document in any order; ev_step sees them
 * sorted and emits unlisted-port events in (protocol, port) order. */
static void test_loaded_state(void **state)
{
	struct ev_port a = {0}, b = {0}, c = {0};
	struct rec_port p[] = {port(TCP, 22, OPEN)};
	struct rec_extraports x[] = {{CLSD, 1000, NULL}, {OPFI, 1000, NULL}};
	struct rec_host s = up_with(p, 1);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	s.extraports = x;
	s.nextraports = N(x);
	ev_host_init(&h);
	h.known = 1;
	h.status = REC_HOST_UP;
	h.job_id = 7;
	h.at = T1;
	a.proto = UDP;
	a.port = 161;
	a.state = OPEN;
	a.job_id = 6;
	a.seen_at = T1 - 60;
	a.first_seen = T1 - 60;
	a.last_seen = T1 - 60;
	a.service = "snmp";
	b.proto = TCP;
	b.port = 8080;
	b.state = OPEN;
	b.job_id = 7;
	b.seen_at = T1;
	b.first_seen = T1 - 600;
	b.last_seen = T1;
	c.proto = TCP;
	c.port = 22;
	c.state = OPEN;
	c.job_id = 7;
	c.seen_at = T1;
	c.first_seen = T1;
	c.last_seen = T1;
	assert_int_equal(ev_host_put_port(&h, &a), 0);
	assert_int_equal(ev_host_put_port(&h, &b), 0);
	assert_int_equal(ev_host_put_port(&h, &c), 0);
	/* putting the same key again replaces it */
	assert_int_equal(ev_host_put_port(&h, &c), 0);
	assert_int_equal(h.nports, 3);
	assert_int_equal(h.ports[0].port, 22);
	assert_int_equal(h.ports[1].port, 8080);
	assert_int_equal(h.ports[2].port, 161);
	/* the strings were copied */
	assert_ptr_not_equal(h.ports[2].service, a.service);
	assert_string_equal(h.ports[2].service, "snmp");

	step(&h, 8, T2, "tcp:1-65535;udp:1-1000", &s, &log);
	/* 8080 closed; 161/udp "open|filtered" (no answer) is no news about
	 * a port known open: it stays as loaded */
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_PORT_CLOSED, TCP, 8080, NULL, "open", "closed", 8, 7, T2);
	CHECK_PORT(&h, TCP, 8080, CLSD, 8, T2, T1 - 600, T1, T2);
	CHECK_PORT(&h, UDP, 161, OPEN, 6, T1 - 60, T1 - 60, T1 - 60, 0);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* A stored script output is compared with the next one. */
static void test_loaded_script(void **state)
{
	struct rec_script now[] = {{"banner", "SSH-2.0-OpenSSH_9.2"}};
	struct rec_port p[] = {port(TCP, 22, OPEN)};
	struct rec_host s = up_with(p, 1);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	p[0].scripts = now;
	p[0].nscripts = 1;
	ev_host_init(&h);
	h.known = 1;
	h.status = REC_HOST_UP;
	h.job_id = 4;
	h.at = T1;
	assert_int_equal(ev_host_put_script(&h, TCP, 22, "banner", "SSH-2.0-OpenSSH_8.9", 3), 0);
	assert_int_equal(ev_host_put_script(&h, TCP, 22, "banner", "SSH-2.0-OpenSSH_9.0", 4), 0);
	assert_int_equal(h.nscripts, 1);
	step(&h, 5, T2, "tcp:1-1000", &s, &log);
	/* port 22 was not in the state: it is new to the state (opened) */
	assert_true(log.n >= 1);
	CHECK_EV(&log, log.n - 1, EV_SCRIPT_CHANGED, TCP, 22, "banner", "SSH-2.0-OpenSSH_9.0",
	         "SSH-2.0-OpenSSH_9.2", 5, 4, T2);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* Raw pointers of the script_changed events, to use after ev_step returns. */
struct rawlog {
	const char *old_value[4], *new_value[4], *detail[4];
	size_t n;
};

static int collect_raw(void *ctx, const struct ev_event *e)
{
	struct rawlog *l = ctx;

	if (e->kind == EV_SCRIPT_CHANGED && l->n < N(l->old_value)) {
		l->old_value[l->n] = e->old_value;
		l->new_value[l->n] = e->new_value;
		l->detail[l->n++] = e->detail;
	}
	return 0;
}

/* A script_changed event's strings (megabytes of output, possibly) stay
 * valid after ev_step, until the next step - the job writer keeps them for
 * the findings without a copy.  With h.borrow the state points at the
 * scan's outputs instead of copying them; ev_host_own() copies them in. */
static void test_script_outputs_not_copied(void **state)
{
	char out1[] = "OS: Windows 10", out2[] = "OS: Windows 11", out3[] = "OS: Windows 12";
	struct rec_script hs1[] = {{"smb-os-discovery", out1}};
	struct rec_script hs2[] = {{"smb-os-discovery", out2}};
	struct rec_script hs3[] = {{"smb-os-discovery", out3}};
	struct rec_host s1 = host(REC_HOST_UP), s2 = host(REC_HOST_UP), s3 = host(REC_HOST_UP);
	struct scan_scope sc;
	struct rawlog raw = {0};
	struct ev_host h;

	(void)state;
	s1.scripts = hs1;
	s2.scripts = hs2;
	s3.scripts = hs3;
	s1.nscripts = s2.nscripts = s3.nscripts = 1;
	assert_int_equal(scope_parse("tcp:1-1000", &sc), 0);
	for (int borrow = 0; borrow < 2; borrow++) {
		ev_host_init(&h);
		h.borrow = borrow;
		/* a stored output (owned), then a scan that changes it */
		assert_int_equal(
		    ev_host_put_script(&h, -1, -1, "smb-os-discovery", "OS: Windows 8", 1), 0);
		h.known = 1;
		h.status = REC_HOST_UP;
		h.job_id = 1;
		h.at = T1;
		memset(&raw, 0, sizeof(raw));
		assert_int_equal(
		    ev_step(&h, 2, T2, &sc, &s1, EV_GONE_AFTER_DEFAULT, collect_raw, &raw), 0);
		assert_int_equal(raw.n, 1);
		/* the replaced output is still readable (ASan: not freed) */
		assert_string_equal(raw.old_value[0], "OS: Windows 8");
		assert_string_equal(raw.new_value[0], "OS: Windows 10");
		assert_string_equal(raw.detail[0], "smb-os-discovery");
		assert_int_equal(h.nscripts, 1);
		if (borrow)
			assert_ptr_equal(h.scripts[0].output, out1); /* not copied */
		else
			assert_ptr_not_equal(h.scripts[0].output, out1);
		/* borrowed again from the next scan; the event's old output is
		 * the previous scan's own */
		memset(&raw, 0, sizeof(raw));
		assert_int_equal(
		    ev_step(&h, 3, T3, &sc, &s2, EV_GONE_AFTER_DEFAULT, collect_raw, &raw), 0);
		assert_int_equal(raw.n, 1);
		assert_string_equal(raw.old_value[0], "OS: Windows 10");
		assert_string_equal(raw.new_value[0], "OS: Windows 11");
		/* the same output again: no event, nothing copied */
		memset(&raw, 0, sizeof(raw));
		assert_int_equal(
		    ev_step(&h, 4, T4, &sc, &s2, EV_GONE_AFTER_DEFAULT, collect_raw, &raw), 0);
		assert_int_equal(raw.n, 0);
		assert_int_equal(h.scripts[0].job_id, 4);
		/* kept across scans: owned copies, the scan may go */
		assert_int_equal(ev_host_own(&h), 0);
		assert_ptr_not_equal(h.scripts[0].output, out2);
		assert_string_equal(h.scripts[0].output, "OS: Windows 11");
		memset(out2, 'x', sizeof(out2) - 1);
		memset(&raw, 0, sizeof(raw));
		assert_int_equal(
		    ev_step(&h, 5, T5, &sc, &s3, EV_GONE_AFTER_DEFAULT, collect_raw, &raw), 0);
		assert_int_equal(raw.n, 1);
		assert_string_equal(raw.old_value[0], "OS: Windows 11");
		memcpy(out2, "OS: Windows 11", sizeof(out2));
		ev_host_free(&h);
	}
	scope_free(&sc);
}

/* A host of 65,536 scripts (the parser's limit) is stepped in linear time:
 * each script is found through an index, not a search of all of them. */
static void test_many_scripts(void **state)
{
	enum { NP = 16384, PER = 4 };
	struct rec_port *p = calloc(NP, sizeof(*p));
	struct rec_script *sc = calloc((size_t)NP * PER, sizeof(*sc));
	char(*out)[32] = calloc((size_t)NP * PER, sizeof(*out));
	static const char *const ids[PER] = {"http-title", "ssl-cert", "banner", "vulners"};
	struct rec_host s = host(REC_HOST_UP);
	struct scan_scope sc_all;
	struct rawlog raw = {0};
	struct timespec t0, t1;
	struct ev_host h;
	double secs;

	(void)state;
	assert_non_null(p);
	assert_non_null(sc);
	assert_non_null(out);
	for (int i = 0; i < NP; i++) {
		p[i] = port(TCP, i + 1, OPEN);
		p[i].scripts = &sc[i * PER];
		p[i].nscripts = PER;
		for (int k = 0; k < PER; k++) {
			snprintf(out[i * PER + k], sizeof(out[0]), "output %d %d", i, k);
			sc[i * PER + k] = (struct rec_script){ids[k], out[i * PER + k]};
		}
	}
	s.ports = p;
	s.nports = NP;
	assert_int_equal(scope_parse("tcp:1-65535", &sc_all), 0);
	ev_host_init(&h);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(ev_step(&h, 1, T1, &sc_all, &s, EV_GONE_AFTER_DEFAULT, collect_raw, &raw),
	                 0);
	/* the last port's outputs change: the state finds each old one */
	for (int k = 0; k < PER; k++)
		out[(NP - 1) * PER + k][0] = 'O';
	assert_int_equal(ev_step(&h, 2, T2, &sc_all, &s, EV_GONE_AFTER_DEFAULT, collect_raw, &raw),
	                 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_int_equal(h.nscripts, (size_t)NP * PER);
	assert_int_equal(raw.n, 4); /* the first 4 script_changed events */
	assert_string_equal(raw.detail[0], "http-title");
	assert_string_equal(raw.old_value[0], "output 16383 0");
	if (secs > 10.0)
		fail_msg("two steps of 65,536 scripts took %.1f s", secs);
	ev_host_free(&h);
	scope_free(&sc_all);
	free(out);
	free(sc);
	free(p);
}

/* ---- plumbing ------------------------------------------------------------------- */

static void test_emit_error_stops(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN), port(TCP, 80, OPEN), port(TCP, 443, OPEN)};
	struct rec_port p2[] = {port(TCP, 22, CLSD), port(TCP, 80, CLSD), port(TCP, 443, CLSD)};
	struct rec_host s1 = up_with(p1, 3), s2 = up_with(p2, 3);
	struct scan_scope sc;
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step(&h, 1, T1, "tcp:1-1000", &s1, &log);
	evlog_clear(&log);
	log.fail_at = 2;
	assert_int_equal(scope_parse("tcp:1-1000", &sc), 0);
	assert_int_equal(ev_step(&h, 2, T2, &sc, &s2, EV_GONE_AFTER_DEFAULT, collect, &log),
	                 SDB_EIO);
	scope_free(&sc);
	assert_int_equal(log.calls, 2);
	assert_int_equal(log.n, 1);
	evlog_clear(&log);
	ev_host_free(&h);

	/* a NULL emit is allowed: the state still moves */
	ev_host_init(&h);
	assert_int_equal(scope_parse("tcp:1-1000", &sc), 0);
	assert_int_equal(ev_step(&h, 1, T1, &sc, &s1, EV_GONE_AFTER_DEFAULT, NULL, NULL), 0);
	assert_int_equal(ev_step(&h, 2, T2, &sc, &s2, EV_GONE_AFTER_DEFAULT, NULL, NULL), 0);
	scope_free(&sc);
	CHECK_PORT(&h, TCP, 80, CLSD, 2, T2, T1, T1, T2);
	ev_host_free(&h);
}

/* ---- copying and comparing states (late scans) ---------------------------------- */

/* A tiny random generator (the tests must not depend on libc's rand). */
static uint32_t rnd_state = 1;
static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/* A random scan of one host: some of a few ports, in any state (ambiguous
 * ones included), with a probed, table or no service of one of two names,
 * scripts, OS, MAC, names; or the host down or unknown.  The arrays are
 * the caller's (filled here). */
struct rscan {
	struct rec_host h;
	struct rec_port ports[6];
	struct rec_script pscripts[6];
	struct rec_script hscript;
	struct rec_extraports extra;
	struct rec_hostname name;
	char scope[64];
};

static void random_scan(struct rscan *r)
{
	static const int nums[] = {21, 22, 80, 443, 8080};
	static const enum rec_port_state states[] = {OPEN, OPEN, CLSD,
	                                             FILT, OPFI, REC_PORT_UNFILTERED};
	static const char *const names[] = {"ssh", "http"};
	static const char *const versions[] = {"1.0", "2.0"};
	static const char *const outputs[] = {"Welcome", "Login"};
	static const char *const scopes[] = {"tcp:1-65535", "tcp:1-65535", "tcp:1-100",
	                                     "tcp:20-30,80;udp:53", "udp:53"};
	uint32_t k = rnd(10);

	memset(r, 0, sizeof(*r));
	snprintf(r->scope, sizeof(r->scope), "%s", scopes[rnd(N(scopes))]);
	if (k == 0) {
		r->h = host(REC_HOST_DOWN);
		return;
	}
	if (k == 1) {
		r->h = host(REC_HOST_UNKNOWN);
		return;
	}
	r->h = up_with(r->ports, 0);
	for (size_t i = 0; i < N(nums); i++) {
		struct rec_port *p;
		uint32_t sv = rnd(4);

		if (rnd(3) == 0)
			continue;
		p = &r->ports[r->h.nports];
		*p = port(TCP, nums[i], states[rnd(N(states))]);
		if (sv == 1)
			*p = svc(TCP, nums[i], p->state, names[rnd(2)], "Prod", versions[rnd(2)],
			         NULL, "probed");
		else if (sv == 2)
			*p = svc(TCP, nums[i], p->state, names[rnd(2)], NULL, NULL, NULL, "table");
		if (rnd(3) == 0) {
			r->pscripts[r->h.nports] =
			    (struct rec_script){"http-title", outputs[rnd(2)]};
			p->scripts = &r->pscripts[r->h.nports];
			p->nscripts = 1;
		}
		r->h.nports++;
	}
	if (rnd(2)) {
		r->ports[r->h.nports++] = port(UDP, 53, rnd(2) ? OPEN : OPFI);
	}
	r->extra = (struct rec_extraports){rnd(2) ? CLSD : FILT, 1000, NULL};
	r->h.extraports = &r->extra;
	r->h.nextraports = rnd(4) ? 1 : 0;
	if (rnd(2)) {
		r->h.has_os = 1;
		r->h.os.name = rnd(2) ? "Linux 5.X" : "Linux 6.X";
	}
	if (rnd(2))
		r->h.mac = rnd(2) ? "00:11:22:33:44:55" : "66:77:88:99:AA:BB";
	if (rnd(2)) {
		r->name = (struct rec_hostname){rnd(2) ? "a.example" : "b.example", "PTR"};
		r->h.hostnames = &r->name;
		r->h.nhostnames = 1;
	}
	if (rnd(3) == 0) {
		r->hscript = (struct rec_script){"clock-skew", outputs[rnd(2)]};
		r->h.scripts = &r->hscript;
		r->h.nscripts = 1;
	}
}

static void apply_random(struct ev_host *h, int64_t job, struct rscan *r, struct evlog *log)
{
	step(h, job, T1 + job * 60, r->scope, &r->h, log);
}

static int evlogs_same(const struct evlog *a, const struct evlog *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const struct rec_ev *x = &a->v[i], *y = &b->v[i];
		if (x->kind != y->kind || x->proto != y->proto || x->port != y->port ||
		    !str_same(x->detail, y->detail) || !str_same(x->old_value, y->old_value) ||
		    !str_same(x->new_value, y->new_value) || x->job_id != y->job_id ||
		    x->prev_job_id != y->prev_job_id || x->at != y->at)
			return 0;
	}
	return 1;
}

/*
 * ev_host_copy is a deep copy; ev_host_same holds between a state and a
 * copy whose ports differ only in what ev_step writes and never reads
 * (reason, first/last seen, closed_at, seen_at), and then every later scan
 * derives the same events from both and they stay the same.  It fails on a
 * difference ev_step reads.  Random histories of one host, fixed seed.
 */
static void test_copy_and_same(void **state)
{
	struct evlog la = {0}, lb = {0};

	(void)state;
	rnd_state = 16;
	for (int round = 0; round < 300; round++) {
		struct ev_host a, b;
		struct rscan r;
		int64_t job = 1;

		ev_host_init(&a);
		ev_host_init(&b);
		for (int i = rnd(8); i >= 0; i--) {
			random_scan(&r);
			apply_random(&a, job++, &r, &la);
		}
		assert_int_equal(ev_host_copy(&b, &a), 0);
		assert_true(ev_host_same(&a, &b));
		assert_true(ev_host_same(&b, &a));
		for (size_t i = 0; i < b.nports; i++) {
			assert_true(!a.ports[i].service ||
			            a.ports[i].service != b.ports[i].service);
			free(b.ports[i].reason);
			b.ports[i].reason = NULL;
			b.ports[i].first_seen += 7;
			b.ports[i].last_seen = 0;
			b.ports[i].closed_at = -1;
			b.ports[i].seen_at = 1;
		}
		/* (scripts are found through the state's index, not their order
		 * in the array: ev_host_same compares them as sets) */
		assert_true(ev_host_same(&a, &b));
		for (int i = 0; i < 6; i++) {
			random_scan(&r);
			apply_random(&a, job, &r, &la);
			apply_random(&b, job++, &r, &lb);
			if (!evlogs_same(&la, &lb)) {
				print_events(&la);
				print_events(&lb);
				fail_msg("round %d: the same scan derived other events", round);
			}
			assert_true(ev_host_same(&a, &b));
		}
		/* what ev_step reads differs: not the same */
		if (b.nports > 0) {
			b.ports[0].job_id++;
			assert_false(ev_host_same(&a, &b));
			b.ports[0].job_id--;
			b.ports[0].state = b.ports[0].state == OPEN ? CLSD : OPEN;
			assert_false(ev_host_same(&a, &b));
			b.ports[0].state = a.ports[0].state;
			free(b.ports[0].method);
			b.ports[0].method = strdup(a.ports[0].method ? "" : "probed");
			assert_false(ev_host_same(&a, &b));
		}
		if (b.nscripts > 0) {
			b.scripts[0].job_id++;
			assert_false(ev_host_same(&a, &b));
			b.scripts[0].job_id--;
		}
		b.job_id++;
		assert_false(ev_host_same(&a, &b));
		b.job_id--;
		free(b.os);
		b.os = strdup(a.os ? "" : "Plan 9");
		assert_false(ev_host_same(&a, &b));
		ev_host_free(&a);
		ev_host_free(&b);
	}
	evlog_clear(&la);
	evlog_clear(&lb);
}

/* ---- gone: the covering scans that saw the host down or did not list it ---- */

static void miss(struct ev_host *h, int64_t job, int64_t at, int gone_after, struct evlog *log)
{
	evlog_clear(log);
	assert_int_equal(ev_miss(h, job, at, gone_after, collect, log), 0);
}

static void step_n(struct ev_host *h, int64_t job, int64_t at, const struct rec_host *scan,
                   int gone_after, struct evlog *log)
{
	struct scan_scope sc;
	int r;

	evlog_clear(log);
	assert_int_equal(scope_parse("tcp:1-1000", &sc), 0);
	r = ev_step(h, job, at, &sc, scan, gone_after, collect, log);
	scope_free(&sc);
	assert_int_equal(r, 0);
}

#define T(n) (T1 + 3600 * ((n)-1))

/* Not listed by three covering scans: one host_gone at the third, no event
 * before; further misses say nothing; listed up again: host_up from gone. */
static void test_gone_after_three_misses(void **state)
{
	struct rec_port p1[] = {port(TCP, 22, OPEN)};
	struct rec_host up = up_with(p1, N(p1));
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step_n(&h, 1, T(1), &up, 3, &log);
	miss(&h, 2, T(2), 3, &log);
	assert_nevents(&log, 0);
	assert_int_equal(h.status, REC_HOST_UP);
	assert_int_equal(h.misses, 1);
	assert_true(h.gone_dirty);
	assert_int_equal(h.miss_job, 2);
	assert_int_equal(h.miss_at, T(2));
	assert_int_equal(h.job_id, 1); /* its latest scan stays the one that listed it */
	miss(&h, 3, T(3), 3, &log);
	assert_nevents(&log, 0);
	miss(&h, 4, T(4), 3, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_GONE, -1, -1, NULL, "up", "gone", 4, 1, T(4));
	assert_int_equal(h.status, REC_HOST_GONE);
	miss(&h, 5, T(5), 3, &log);
	assert_nevents(&log, 0);
	assert_int_equal(h.status, REC_HOST_GONE);
	assert_int_equal(h.misses, 4);
	/* its ports are what the last scan that saw it up said */
	CHECK_PORT(&h, TCP, 22, OPEN, 1, T(1), T(1), T(1), 0);

	step_n(&h, 6, T(6), &up, 3, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_UP, -1, -1, NULL, "gone", "up", 6, 1, T(6));
	assert_int_equal(h.status, REC_HOST_UP);
	assert_int_equal(h.misses, 0);
	assert_true(h.gone_dirty);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* Listed down counts as a miss too: host_down at the first, host_gone at
 * the Nth; a down after gone keeps it gone; an up in between resets. */
static void test_gone_down_scans_count(void **state)
{
	struct rec_host up = host(REC_HOST_UP), down = host(REC_HOST_DOWN),
	                unknown = host(REC_HOST_UNKNOWN);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	step_n(&h, 1, T(1), &up, 3, &log);
	step_n(&h, 2, T(2), &down, 3, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_DOWN, -1, -1, NULL, "up", "down", 2, 1, T(2));
	miss(&h, 3, T(3), 3, &log);
	assert_nevents(&log, 0);
	/* an up resets the count */
	step_n(&h, 4, T(4), &up, 3, &log);
	CHECK_EV(&log, 0, EV_HOST_UP, -1, -1, NULL, "down", "up", 4, 2, T(4));
	assert_int_equal(h.misses, 0);
	step_n(&h, 5, T(5), &down, 3, &log);
	/* a list scan's unknown neither counts nor resets */
	step_n(&h, 6, T(6), &unknown, 3, &log);
	assert_nevents(&log, 0);
	assert_int_equal(h.status, REC_HOST_DOWN);
	assert_int_equal(h.misses, 1);
	assert_false(h.gone_dirty);
	miss(&h, 7, T(7), 3, &log);
	assert_nevents(&log, 0);
	step_n(&h, 8, T(8), &down, 3, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_GONE, -1, -1, NULL, "down", "gone", 8, 6, T(8));
	step_n(&h, 9, T(9), &down, 3, &log);
	assert_nevents(&log, 0);
	assert_int_equal(h.status, REC_HOST_GONE);
	step_n(&h, 10, T(10), &unknown, 3, &log);
	assert_int_equal(h.status, REC_HOST_GONE);
	step_n(&h, 11, T(11), &up, 3, &log);
	CHECK_EV(&log, 0, EV_HOST_UP, -1, -1, NULL, "gone", "up", 11, 10, T(11));
	evlog_clear(&log);
	ev_host_free(&h);
}

/* --gone-after 1: the first miss makes it gone (a down scan gives host_gone
 * instead of host_down); 0: never gone; an unknown host misses nothing. */
static void test_gone_after_one_and_never(void **state)
{
	struct rec_host up = host(REC_HOST_UP), down = host(REC_HOST_DOWN);
	struct ev_host h;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&h);
	miss(&h, 1, T(1), 1, &log);
	assert_nevents(&log, 0);
	assert_false(h.known);
	assert_false(h.gone_dirty);
	step_n(&h, 2, T(2), &up, 1, &log);
	step_n(&h, 3, T(3), &down, 1, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_GONE, -1, -1, NULL, "up", "gone", 3, 2, T(3));
	step_n(&h, 4, T(4), &up, 1, &log);
	miss(&h, 5, T(5), 1, &log);
	assert_nevents(&log, 1);
	CHECK_EV(&log, 0, EV_HOST_GONE, -1, -1, NULL, "up", "gone", 5, 4, T(5));
	ev_host_free(&h);

	ev_host_init(&h);
	step_n(&h, 1, T(1), &up, 0, &log);
	for (int i = 2; i < 10; i++)
		miss(&h, i, T(i), 0, &log);
	assert_nevents(&log, 0);
	assert_int_equal(h.status, REC_HOST_UP);
	assert_int_equal(h.misses, 8);
	evlog_clear(&log);
	ev_host_free(&h);
}

/* Two states that differ only in their misses are not the same: a later
 * miss would derive different events from them. */
static void test_gone_misses_compared(void **state)
{
	struct rec_host up = host(REC_HOST_UP);
	struct ev_host a, b;
	struct evlog log = {0};

	(void)state;
	ev_host_init(&a);
	ev_host_init(&b);
	step_n(&a, 1, T(1), &up, 3, &log);
	assert_int_equal(ev_host_copy(&b, &a), 0);
	assert_true(ev_host_same(&a, &b));
	miss(&b, 2, T(2), 3, &log);
	assert_false(ev_host_same(&a, &b));
	assert_int_equal(ev_host_copy(&a, &b), 0);
	assert_true(ev_host_same(&a, &b));
	assert_int_equal(a.misses, 1);
	assert_int_equal(a.miss_job, 2);
	evlog_clear(&log);
	ev_host_free(&a);
	ev_host_free(&b);
}

static void test_kind_names(void **state)
{
	static const char *const names[] = {
	    "host_up",    "host_down",   "port_opened",      "port_closed",    "service_changed",
	    "os_changed", "mac_changed", "hostname_changed", "script_changed", "host_gone",
	};
	enum ev_kind k;

	(void)state;
	assert_int_equal(EV__COUNT, N(names));
	for (int i = 0; i < EV__COUNT; i++) {
		assert_string_equal(ev_kind_name((enum ev_kind)i), names[i]);
		assert_int_equal(ev_kind_parse(names[i], &k), 0);
		assert_int_equal(k, i);
	}
	assert_string_equal(ev_kind_name(EV__COUNT), "?");
	assert_int_equal(ev_kind_parse("port_open", &k), SDB_EPARSE);
	assert_int_equal(ev_kind_parse("", &k), SDB_EPARSE);
	assert_int_equal(ev_kind_parse("HOST_UP", &k), SDB_EPARSE);
	assert_int_equal(ev_kind_parse(NULL, &k), SDB_EPARSE);
}

static void test_hostnames_text(void **state)
{
	struct rec_hostname n[] = {{"b", "PTR"}, {"", "PTR"}, {"a", "user"}, {"b", "user"}};
	struct rec_hostname e[] = {{"", "PTR"}};
	struct rec_host s = host(REC_HOST_UP);
	char *t;

	(void)state;
	assert_null(ev_hostnames(&s));
	s.hostnames = n;
	s.nhostnames = N(n);
	t = ev_hostnames(&s);
	assert_non_null(t);
	assert_string_equal(t, "a,b");
	free(t);
	s.hostnames = e;
	s.nhostnames = 1;
	assert_null(ev_hostnames(&s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_new_host_up),
	    cmocka_unit_test(test_new_host_down),
	    cmocka_unit_test(test_port_open_close_reopen),
	    cmocka_unit_test(test_port_opened_names_previous_job),
	    cmocka_unit_test(test_closed_then_open),
	    cmocka_unit_test(test_open_to_filtered_listed),
	    cmocka_unit_test(test_scope_aware),
	    cmocka_unit_test(test_narrow_scope_covering_port),
	    cmocka_unit_test(test_scope_other_protocol_and_range),
	    cmocka_unit_test(test_unlisted_takes_extraports_state),
	    cmocka_unit_test(test_unlisted_without_extraports_is_closed),
	    cmocka_unit_test(test_udp_open_filtered_extraports),
	    cmocka_unit_test(test_scope_is_per_protocol),
	    cmocka_unit_test(test_ack_scan_unfiltered_is_not_closed),
	    cmocka_unit_test(test_host_down_then_up),
	    cmocka_unit_test(test_host_up_with_port_change_order),
	    cmocka_unit_test(test_unknown_status_does_not_hide_host_down),
	    cmocka_unit_test(test_service_changed_probed),
	    cmocka_unit_test(test_service_table_vs_probed),
	    cmocka_unit_test(test_service_table_both),
	    cmocka_unit_test(test_service_absent_no_event),
	    cmocka_unit_test(test_os_changed_only_when_reported),
	    cmocka_unit_test(test_mac_changed),
	    cmocka_unit_test(test_hostname_changed),
	    cmocka_unit_test(test_down_host_says_nothing_about_attributes),
	    cmocka_unit_test(test_script_changed),
	    cmocka_unit_test(test_script_keyed_by_port),
	    cmocka_unit_test(test_loaded_state),
	    cmocka_unit_test(test_copy_and_same),
	    cmocka_unit_test(test_loaded_script),
	    cmocka_unit_test(test_script_outputs_not_copied),
	    cmocka_unit_test(test_many_scripts),
	    cmocka_unit_test(test_emit_error_stops),
	    cmocka_unit_test(test_gone_after_three_misses),
	    cmocka_unit_test(test_gone_down_scans_count),
	    cmocka_unit_test(test_gone_after_one_and_never),
	    cmocka_unit_test(test_gone_misses_compared),
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_hostnames_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
