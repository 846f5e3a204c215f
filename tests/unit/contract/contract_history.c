/*
 * contract_history.c - storage contract: change events and the current port
 * state (issue 4): a port's lifecycle, scope-aware scans, the events and
 * hosts filters on history, atomicity, the same scan stored twice, and the
 * gone slots (target ranges, missed hosts, saving misses).
 */
#include "contract.h"

#include <stdio.h>
#include <string.h>

#include "core/addr.h"

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

/* ---- the group (test_store_contract.c runs it) ---------------------------- */

/* Gone (store.h "gone hosts"): a job's target ranges (stored once each,
 * read back with the job's time), the known hosts of a range a job did not
 * list, and saving a host's misses and status. */
struct missed_seen {
	int n;
	int64_t id;
	char addr[64];
	struct ev_host h;
};

static int missed_cb(void *ctx, int64_t host_id, const char *addr, const struct ev_host *h)
{
	struct missed_seen *m = ctx;

	m->n++;
	m->id = host_id;
	snprintf(m->addr, sizeof(m->addr), "%s", addr);
	m->h = *h;
	return 0;
}

struct ranges_seen {
	int n;
	int64_t job_id, at;
	struct addr_range r;
};

static int ranges_cb(void *ctx, int64_t job_id, int64_t at, const struct addr_range *r)
{
	struct ranges_seen *x = ctx;

	x->n++;
	x->job_id = job_id;
	x->at = at;
	x->r = *r;
	return 0;
}

static void test_history_gone_slots(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct addr_range r[2];
	struct missed_seen m = {0};
	struct ranges_seen x = {0};
	struct store_host_filter f = any_filter();
	struct host_list hl;
	struct ev_host h;
	int64_t j1, id = 0;

	j1 = hscan1(st, HT(1), "1-1000", NULL, hhost("192.0.2.1", REC_HOST_UP, NULL, 0), NULL);
	hscan1(st, HT(2), "1-1000", NULL, hhost("192.0.2.2", REC_HOST_UP, NULL, 0), NULL);
	hscan1(st, HT(3), "1-1000", NULL, hhost("198.51.100.1", REC_HOST_UP, NULL, 0), NULL);
	assert_int_equal(addr_cidr_parse("192.0.2.0/24", r[0].lo, r[0].hi), 0);
	r[1] = r[0];
	assert_ok(st, store_tx_begin(st));
	assert_ok(st, store_job_targets_put(st, j1, r, 2));
	/* job 1 listed .1 only: .2 is in its range and missed; 198.51.100.1 is not */
	assert_ok(st, store_hosts_missed(st, j1, &r[0], STORE_MISSED_PAGE, missed_cb, &m));
	assert_int_equal(m.n, 1);
	assert_string_equal(m.addr, "192.0.2.2");
	assert_true(m.h.known);
	assert_int_equal(m.h.status, REC_HOST_UP);
	assert_int_equal(m.h.at, HT(2));
	assert_int_equal(m.h.misses, 0);
	m.h.misses = 3;
	m.h.miss_job = j1;
	m.h.miss_at = HT(1);
	m.h.status = REC_HOST_GONE;
	{
		struct store_gone g = {m.id, &m.h};
		assert_ok(st, store_hosts_gone_save(st, &g, 1));
	}
	assert_ok(st, store_tx_commit(st));

	assert_ok(st, store_job_targets_each(st, ranges_cb, &x));
	assert_int_equal(x.n, 1); /* stored once */
	assert_int_equal(x.job_id, j1);
	assert_int_equal(x.at, HT(1));
	assert_memory_equal(x.r.lo, r[0].lo, 16);
	assert_memory_equal(x.r.hi, r[0].hi, 16);
	f.status = REC_HOST_GONE;
	hl = get_hosts(st, &f);
	assert_int_equal(hl.n, 1);
	assert_string_equal(hl.v[0]->addr, "192.0.2.2");
	assert_string_equal(hl.v[0]->status, "gone");
	host_list_free(&hl);
	ev_host_init(&h);
	assert_ok(st, store_history_load(st, "192.0.2.2", HT(4), j1 + 10, &id, &h));
	assert_int_equal(h.status, REC_HOST_GONE);
	assert_int_equal(h.misses, 3);
	assert_int_equal(h.miss_job, j1);
	assert_int_equal(h.miss_at, HT(1));
	/* a scan older than the latest miss is late */
	assert_false(store_history_in_order(&h, HT(1) - 1, j1 + 10));
	assert_true(store_history_in_order(&h, HT(4), j1 + 10));
	ev_host_free(&h);
	/* a range that ends before it starts is refused */
	memcpy(r[1].lo, r[0].hi, 16);
	memcpy(r[1].hi, r[0].lo, 16);
	assert_ok(st, store_tx_begin(st));
	assert_rc(st, store_job_targets_put(st, j1, &r[1], 1), SDB_ERANGE);
	store_tx_rollback(st);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_history_port_lifecycle, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_scope_aware, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_filters, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_events_callback_stop, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_events_host_and_net, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_atomic, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_same_scan_twice, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_gone_slots, setup, teardown),
};
const struct contract_group contract_history = {"history", tests, sizeof(tests) / sizeof(tests[0])};
