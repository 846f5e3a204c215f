/*
 * test_store_contract.c - the storage contract suite: what every backend
 * behind store.h must do (ARCHITECTURE invariants 1-8).  The tests live
 * by area in contract/contract_*.c (migrate, jobs, hosts, values, history,
 * history_order, ops, tags) with their shared fixture in contract/contract.c;
 * this file runs every area's group as one cmocka group, so the suite is
 * still one program run once per backend.
 *
 * Database: $SCANDB_TEST_DB if set (e.g. a postgresql:// URL; it is reset
 * to an empty schema with `migrate down` before each test), else a fresh
 * SQLite file under $TEST_TMPDIR for every test.
 */
#include "contract/contract.h"

/* Every area, in the order they run. */
static const struct contract_group *const groups[] = {
    &contract_migrate, &contract_jobs,          &contract_hosts, &contract_values,
    &contract_history, &contract_history_order, &contract_ops,   &contract_tags,
};

#define CONTRACT_MAX_TESTS 128

int main(void)
{
	struct CMUnitTest tests[CONTRACT_MAX_TESTS];
	size_t total = 0;
	const char *env = getenv("SCANDB_TEST_DB");
	int failed;

	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		for (size_t i = 0; i < groups[g]->n; i++) {
			if (total == CONTRACT_MAX_TESTS) {
				fprintf(stderr,
				        "more than %d contract tests: raise CONTRACT_MAX_TESTS\n",
				        CONTRACT_MAX_TESTS);
				return 1;
			}
			tests[total++] = groups[g]->tests[i];
		}
	}

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
	/* cmocka_run_group_tests() with the count known at run time (the macro
	 * takes it from sizeof); "tests" is the group name it printed before. */
	failed = _cmocka_run_group_tests("tests", tests, total, NULL, NULL);
	printf("%zu passed, %d failed\n", total - (size_t)(failed > 0 ? failed : 0), failed);
	return failed ? 1 : 0;
}
