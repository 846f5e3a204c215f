/*
 * contract_migrate.c - storage contract: bootstrapping a brand-new database
 * and migrate status / down / up / verify.
 */
#include "contract.h"

#include <string.h>

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

/* ---- the group (test_store_contract.c runs it) ---------------------------- */

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_bootstrap, setup_raw, teardown),
    cmocka_unit_test_setup_teardown(test_migrate_round_trip, setup, teardown),
};
const struct contract_group contract_migrate = {"migrate", tests, sizeof(tests) / sizeof(tests[0])};
