/*
 * sqlite_admin_doctor.c - the SQLite checks of `scandb doctor` (store_int.h
 * doctor): integrity_check or quick_check (with the rows that break their
 * table's CHECK or NOT NULL constraints tallied per table) and
 * foreign_key_check.  The generic checks are store_doctor.c's.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/vec.h"

/* Per-table tallies of integrity_check lines about constraints. */
struct tally {
	char table[128];
	int64_t n;
};

/* One more line about `table` in the tallies *v[0..*n) of capacity *cap. */
static int tally_add(struct tally **v, size_t *n, size_t *cap, const char *table)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*v)[i].table, table) == 0) {
			(*v)[i].n++;
			return 0;
		}
	}
	if (VEC_RESERVE(*v, *cap, *n + 1, 4) != 0)
		return SDB_ENOMEM;
	snprintf((*v)[*n].table, sizeof((*v)[*n].table), "%s", table);
	(*v)[*n].n = 1;
	(*n)++;
	return 0;
}

/* "CHECK constraint failed in jobs" / "NULL value in jobs.kind": the table
 * named after the prefix, into table[len]; 0 if the line is neither. */
static int constraint_line(const char *line, char *table, size_t len)
{
	static const char *const prefixes[] = {"CHECK constraint failed in ", "NULL value in "};

	for (size_t i = 0; i < 2; i++) {
		size_t pl = strlen(prefixes[i]), k = 0;
		if (strncmp(line, prefixes[i], pl) != 0)
			continue;
		for (const char *p = line + pl; *p && *p != '.' && *p != ' ' && k + 1 < len; p++)
			table[k++] = *p;
		table[k] = '\0';
		return 1;
	}
	return 0;
}

/* integrity_check takes about this many times quick_check's time: it also
 * looks up every index entry of every row (measured on scandb databases of
 * 10 and 100 daily scans of 16,384 hosts, bench/scale.sh: 1.75 and 1.4). */
#define FULL_OVER_QUICK 1.5

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* The rows integrity_check found breaking their table's CHECK or NOT NULL
 * constraints, a problem per table (the "check_constraints" check). */
static int report_constraints(struct store_doctor_report *rep, const struct tally *checks,
                              size_t nchecks)
{
	int r;

	for (size_t i = 0; i < nchecks; i++) {
		char what[512], fix[512];
		snprintf(what, sizeof(what),
		         "%lld row%s of %s break%s the table's CHECK or NOT NULL constraints",
		         (long long)checks[i].n, checks[i].n == 1 ? "" : "s", checks[i].table,
		         checks[i].n == 1 ? "s" : "");
		snprintf(fix, sizeof(fix),
		         "find them with the CHECK expressions of: sqlite3 DB '.schema %s' "
		         "(SELECT rowid, * FROM %s WHERE NOT (<check>)); correct or DELETE them, "
		         "or restore a backup (scandb restore --force FILE)",
		         checks[i].table, checks[i].table);
		if ((r = store__doctor_problem(rep, "check_constraints", checks[i].n, what, fix)) !=
		    0)
			return r;
	}
	return nchecks == 0 ? store__doctor_check(rep, "check_constraints", "ok", NULL) : 0;
}

/* The "integrity" check's result: `other` problems that are not constraint
 * violations (the first of them in `first`), found in `took` seconds. */
static int report_integrity(struct store_doctor_report *rep, int quick, int64_t other,
                            const char *first, double took)
{
	char what[768], detail[512];

	if (other) {
		int index_only = strstr(first, "index") != NULL;
		snprintf(what, sizeof(what), "%s found %lld problem%s, first: %s",
		         quick ? "quick_check" : "integrity_check", (long long)other,
		         other == 1 ? "" : "s", first);
		return store__doctor_problem(rep, "integrity", other, what,
		                             index_only ? "REINDEX;  (then run scandb doctor again)"
		                                        : "restore the latest good backup: scandb "
		                                          "restore --force FILE (or salvage with: "
		                                          "sqlite3 DB .recover | sqlite3 NEW.db)");
	}
	if (quick)
		snprintf(detail, sizeof(detail),
		         "quick_check in %.1f s; the full check (doctor without --quick) also "
		         "matches every index entry to its row: about %.0f s on this file",
		         took, took * FULL_OVER_QUICK + 0.5);
	else
		snprintf(detail, sizeof(detail), "integrity_check in %.1f s", took);
	return store__doctor_check(rep, "integrity", "ok", detail);
}

static int doctor_integrity(struct store_sqlite *s, int quick, struct store_doctor_report *rep)
{
	struct tally *checks = NULL;
	size_t nchecks = 0, cap = 0;
	sqlite3_stmt *stmt = NULL;
	int64_t other = 0;
	char first[512] = "";
	struct timespec t0;
	double took;
	int rc, r = 0;

	/* Both re-validate the CHECK and NOT NULL constraints of every row
	 * (SQLite >= 3.x reports "CHECK constraint failed in T") and read
	 * every page; quick_check does not match index entries to rows. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = sqlite3_prepare_v2(
	    s->db, quick ? "PRAGMA quick_check(10000)" : "PRAGMA integrity_check(10000)", -1, &stmt,
	    NULL);
	while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *line = (const char *)sqlite3_column_text(stmt, 0);
		char table[128];

		if (!line || strcmp(line, "ok") == 0)
			continue;
		if (constraint_line(line, table, sizeof(table))) {
			if ((r = tally_add(&checks, &nchecks, &cap, table)) != 0)
				goto out;
		} else {
			if (!other)
				snprintf(first, sizeof(first), "%s", line);
			other++;
		}
	}
	took = seconds_since(&t0);
	if (rc != SQLITE_DONE) {
		/* A file too damaged to check is the finding, not an error. */
		char what[768];
		snprintf(what, sizeof(what), "%s could not run: %s",
		         quick ? "quick_check" : "integrity_check", sqlite3_errmsg(s->db));
		r = store__doctor_problem(
		    rep, "integrity", -1, what,
		    "restore the latest good backup: scandb restore --force "
		    "FILE (or salvage with: sqlite3 DB .recover | sqlite3 NEW.db)");
		goto out;
	}
	if ((r = report_integrity(rep, quick, other, first, took)) == 0)
		r = report_constraints(rep, checks, nchecks);
out:
	sqlite3_finalize(stmt);
	free(checks);
	return r;
}

static int doctor_fk(struct store_sqlite *s, struct store_doctor_report *rep)
{
	struct tally *t = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &stmt, NULL);
	while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *tbl = (const char *)sqlite3_column_text(stmt, 0);
		const char *parent = (const char *)sqlite3_column_text(stmt, 2);
		char key[128];

		snprintf(key, sizeof(key), "%s -> %s", tbl ? tbl : "?", parent ? parent : "?");
		if ((r = tally_add(&t, &n, &cap, key)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		char what[600];
		snprintf(what, sizeof(what), "foreign_key_check could not run: %s",
		         sqlite3_errmsg(s->db));
		r = store__doctor_problem(rep, "foreign_keys", -1, what,
		                          "repair the database first (see the integrity problem)");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char what[512];
		snprintf(what, sizeof(what),
		         "foreign_key_check: %lld row%s violate%s a foreign key (%s)",
		         (long long)t[i].n, t[i].n == 1 ? "" : "s", t[i].n == 1 ? "s" : "",
		         t[i].table);
		if ((r = store__doctor_problem(rep, "foreign_keys", t[i].n, what,
		                               "see the 'orphans' problems for the SQL that "
		                               "removes them")) != 0)
			goto out;
	}
	if (n == 0) {
		/* every row's keys verified: the orphans check need not */
		rep->fk_rows_checked = 1;
		r = store__doctor_check(rep, "foreign_keys", "ok", NULL);
	}
out:
	sqlite3_finalize(stmt);
	free(t);
	return r;
}

int store__sqlite_doctor(struct store *st, int quick, struct store_doctor_report *rep)
{
	struct store_sqlite *s = store__sqlite(st);
	int r;

	if ((r = doctor_integrity(s, quick, rep)) != 0)
		return r;
	return doctor_fk(s, rep);
}
