/*
 * contract_ops.c - storage contract: database operations: prune (what it
 * keeps, findings kept, a failed prune changes nothing), doctor, health and stats.
 */
#include "contract.h"

#include <string.h>

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

/* ---- the group (test_store_contract.c runs it) ---------------------------- */

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_prune, setup, teardown),
    cmocka_unit_test_setup_teardown(test_prune_fault_atomic, setup, teardown),
    cmocka_unit_test_setup_teardown(test_prune_keeps_findings, setup, teardown),
    cmocka_unit_test_setup_teardown(test_doctor_healthy, setup, teardown),
    cmocka_unit_test_setup_teardown(test_doctor_stuck_job, setup, teardown),
    cmocka_unit_test_setup_teardown(test_health_and_stats, setup, teardown),
};
const struct contract_group contract_ops = {"ops", tests, sizeof(tests) / sizeof(tests[0])};
