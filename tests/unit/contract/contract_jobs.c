/*
 * contract_jobs.c - storage contract: a job is visible whole or not at all
 * (invariant 1), content-hash duplicates, injected faults, stale running
 * jobs reaped, and the scan path (a job committed as running, written later).
 */
#include "contract.h"

#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* ---- the group (test_store_contract.c runs it) ---------------------------- */

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_job_visible_only_after_commit, setup, teardown),
    cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
    cmocka_unit_test_setup_teardown(test_content_hash_duplicate, setup, teardown),
    cmocka_unit_test_setup_teardown(test_fault_injection, setup, teardown),
    cmocka_unit_test_setup_teardown(test_reap_stale, setup, teardown),
    cmocka_unit_test_setup_teardown(test_scan_existing_job, setup, teardown),
};
const struct contract_group contract_jobs = {"jobs", tests, sizeof(tests) / sizeof(tests[0])};
