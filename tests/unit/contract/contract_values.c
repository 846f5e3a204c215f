/*
 * contract_values.c - storage contract: impossible values refused and the
 * transaction undone (invariant 4), the same refusal word for word on both
 * backends, and SQL text in data stored verbatim (invariant 5).
 */
#include "contract.h"

#include <string.h>

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

/* ---- the group (test_store_contract.c runs it) ---------------------------- */

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_constraints, setup, teardown),
    cmocka_unit_test_setup_teardown(test_constraint_host_status, setup, teardown),
    cmocka_unit_test_setup_teardown(test_value_checks_once, setup, teardown),
    cmocka_unit_test_setup_teardown(test_sql_text_verbatim, setup, teardown),
};
const struct contract_group contract_values = {"values", tests, sizeof(tests) / sizeof(tests[0])};
