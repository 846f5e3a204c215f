/*
 * contract_hosts.c - storage contract: one row per host, "latest scan wins"
 * (invariant 2), the hosts filters, callbacks that stop a walk, and results
 * that outlive the connection (invariant 8).
 */
#include "contract.h"

#include <string.h>

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
	f.protocol = REC_PROTO_UDP;
	assert_filter(st, &f, "10.0.0.2", "port 53/udp");
	f.protocol = REC_PROTO_TCP;
	assert_filter(st, &f, "", "port 53/tcp");
	f.port = 22;
	assert_filter(st, &f, "10.0.0.1,2001:db8::1", "port 22/tcp");
	f.port = 9999;
	f.protocol = REC_PROTO_ANY;
	assert_filter(st, &f, "", "port 9999");
	/* a protocol alone: an open port of it */
	f.port = -1;
	f.protocol = REC_PROTO_UDP;
	assert_filter(st, &f, "10.0.0.2", "any udp port");

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
	f.status = REC_HOST_DOWN;
	assert_filter(st, &f, "10.0.1.5", "status down");
	f.status = REC_HOST_UP;
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
	f.status = REC_HOST_DOWN;
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

/* A filter's protocol and status outside their enumerations: refused by
 * the wrapper with a message naming the value, before any backend runs. */
static void test_filter_bad_enum(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	struct store_host_filter f = any_filter();
	int calls = 0;

	f.protocol = REC_PROTO__COUNT;
	assert_rc(st, store_hosts_each(st, &f, stop_after_one, &calls), SDB_EUSAGE);
	assert_string_equal(store_errmsg(st), "host filter: 4 is not a protocol");
	f.protocol = (enum rec_proto) - 2;
	assert_rc(st, store_hosts_each(st, &f, stop_after_one, &calls), SDB_EUSAGE);
	f = any_filter();
	f.status = (enum rec_host_status)(REC_HOST_GONE + 1);
	assert_rc(st, store_hosts_each(st, &f, stop_after_one, &calls), SDB_EUSAGE);
	assert_string_equal(store_errmsg(st), "host filter: 5 is not a host status");
	f.status = (enum rec_host_status) - 2;
	assert_rc(st, store_hosts_each(st, &f, stop_after_one, &calls), SDB_EUSAGE);
	assert_int_equal(calls, 0);
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

/* ---- the group (test_store_contract.c runs it) ---------------------------- */

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_host_upsert_merge, setup, teardown),
    cmocka_unit_test_setup_teardown(test_host_upsert_many, setup, teardown),
    cmocka_unit_test_setup_teardown(test_filters, setup, teardown),
    cmocka_unit_test_setup_teardown(test_callback_stop_and_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_filter_bad_enum, setup, teardown),
    cmocka_unit_test_setup_teardown(test_results_outlive_store, setup, teardown),
};
const struct contract_group contract_hosts = {"hosts", tests, sizeof(tests) / sizeof(tests[0])};
