/*
 * store_sqlite_admin.c - the SQLite side of the database operations
 * (store.h "operations", docs/OPERATIONS.md): the generic query slots that
 * store.c's health/stats/doctor/prune logic runs on, page-level sizes
 * (dbstat), integrity_check / foreign_key_check, and backup / restore with
 * SQLite's online backup API.  The policies (what prune keeps, which
 * relations are checked for orphans, how backups are named) are store.c's
 * and the CLI's, not this file's.
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"

/* Prepare a one-shot statement and bind params[i] to "$<i+1>" (store.c
 * writes portable SQL with $N parameters; SQLite names them "$1", ...). */
static int prepare_params(struct store_sqlite *s, const char *sql, const int64_t *params,
                          size_t nparams, sqlite3_stmt **out)
{
	sqlite3_stmt *stmt = NULL;
	int rc;

	*out = NULL;
	rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store__sqlite_err(s, rc, "preparing an operations query");
	for (size_t i = 0; i < nparams; i++) {
		char name[16];
		int idx;

		snprintf(name, sizeof(name), "$%zu", i + 1);
		idx = sqlite3_bind_parameter_index(stmt, name);
		if (idx > 0 && (rc = sqlite3_bind_int64(stmt, idx, params[i])) != SQLITE_OK) {
			int r = store__sqlite_err(s, rc, "binding parameter %s", name);
			sqlite3_finalize(stmt);
			return r;
		}
	}
	*out = stmt;
	return 0;
}

int store__sqlite_query_int(struct store *st, const char *sql, const int64_t *params,
                            size_t nparams, int (*cb)(void *ctx, int64_t v), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int rc, r;

	if ((r = prepare_params(s, sql, params, nparams, &stmt)) != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((r = cb(ctx, sqlite3_column_int64(stmt, 0))) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "running an operations query");
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_query_text(struct store *st, const char *sql, const int64_t *params,
                             size_t nparams,
                             int (*cb)(void *ctx, const char *const *col, const size_t *len),
                             void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	const char *col[STORE__TEXT_COLS];
	size_t len[STORE__TEXT_COLS];
	sqlite3_stmt *stmt;
	int rc, ncol, r;

	if ((r = prepare_params(s, sql, params, nparams, &stmt)) != 0)
		return r;
	ncol = sqlite3_column_count(stmt);
	if (ncol > STORE__TEXT_COLS)
		ncol = STORE__TEXT_COLS;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		for (int i = 0; i < ncol; i++) {
			col[i] = (const char *)sqlite3_column_text(stmt, i);
			len[i] = (size_t)sqlite3_column_bytes(stmt, i);
		}
		if ((r = cb(ctx, col, len)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "running an operations query");
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_exec_params(struct store *st, const char *sql, const int64_t *params,
                              size_t nparams, int64_t *changes)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int rc, r;

	if (changes)
		*changes = 0;
	if ((r = prepare_params(s, sql, params, nparams, &stmt)) != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "running an operations statement");
	else if (changes)
		*changes = sqlite3_changes64(s->db);
	sqlite3_finalize(stmt);
	return r;
}

int store__sqlite_ping(struct store *st, char *version, size_t len)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	/* A query that reads the database file, not only the library. */
	rc = sqlite3_prepare_v2(s->db,
	                        "SELECT sqlite_version(), (SELECT count(*) FROM sqlite_master)", -1,
	                        &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(stmt, 0);
		snprintf(version, len, "%s", v ? (const char *)v : "?");
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		r = store__sqlite_err(s, rc, "running a trivial query");
	sqlite3_finalize(stmt);
	return r;
}

/* ---- stats ----------------------------------------------------------------- */

static int pragma_int(struct store_sqlite *s, const char *sql, int64_t *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	*out = 0;
	rc = sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(stmt, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		r = store__sqlite_err(s, rc, "%s", sql);
	sqlite3_finalize(stmt);
	return r;
}

/* Schema object names we put into SQL text (count(*)) must be plain
 * identifiers; anything else is not ours and is left uncounted. */
static int plain_ident(const char *n)
{
	if (!*n)
		return 0;
	for (; *n; n++)
		if (!((*n >= 'a' && *n <= 'z') || (*n >= 'A' && *n <= 'Z') ||
		      (*n >= '0' && *n <= '9') || *n == '_'))
			return 0;
	return 1;
}

static int stats_objects(struct store_sqlite *s, struct store_stats *out)
{
	sqlite3_stmt *stmt = NULL;
	size_t cap = 0;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(s->db,
	                        "SELECT type = 'index', name, tbl_name FROM sqlite_master"
	                        " WHERE type IN ('table', 'index') AND (type = 'index' OR"
	                        " name NOT LIKE 'sqlite\\_%' ESCAPE '\\')"
	                        " ORDER BY type DESC, name",
	                        -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return store__sqlite_err(s, rc, "reading the schema");
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_stat_obj *o;
		const unsigned char *name = sqlite3_column_text(stmt, 1);
		const unsigned char *tbl = sqlite3_column_text(stmt, 2);

		if (out->nobjs == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			void *p = sdb_reallocarray(out->objs, ncap, sizeof(*out->objs));
			if (!p) {
				r = store__set_err(&s->base, SDB_ENOMEM, "stats: out of memory");
				goto out;
			}
			out->objs = p;
			cap = ncap;
		}
		o = &out->objs[out->nobjs++];
		memset(o, 0, sizeof(*o));
		o->is_index = sqlite3_column_int(stmt, 0);
		snprintf(o->name, sizeof(o->name), "%s", name ? (const char *)name : "");
		snprintf(o->table, sizeof(o->table), "%s", tbl ? (const char *)tbl : "");
		o->rows = -1;
		o->bytes = -1;
	}
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading the schema");
out:
	sqlite3_finalize(stmt);
	return r;
}

static int stats_rows(struct store_sqlite *s, struct store_stats *out)
{
	int r;

	for (size_t i = 0; i < out->nobjs; i++) {
		struct store_stat_obj *o = &out->objs[i];
		char sql[256];

		if (o->is_index || !plain_ident(o->name))
			continue;
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM \"%s\"", o->name);
		if ((r = pragma_int(s, sql, &o->rows)) != 0)
			return r;
	}
	return 0;
}

/* Sizes per b-tree from the dbstat virtual table (aggregate rows); index
 * entries are its cells.  0, or SDB_EUNSUPPORTED when dbstat is absent. */
static int stats_dbstat(struct store_sqlite *s, struct store_stats *out)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT name, pgsize, ncell FROM dbstat WHERE aggregate = 1",
	                        -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(stmt);
		return SDB_EUNSUPPORTED;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(stmt, 0);

		for (size_t i = 0; name && i < out->nobjs; i++) {
			struct store_stat_obj *o = &out->objs[i];
			if (strcmp(o->name, (const char *)name) != 0)
				continue;
			o->bytes = sqlite3_column_int64(stmt, 1);
			if (o->is_index)
				o->rows = sqlite3_column_int64(stmt, 2);
		}
	}
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading dbstat");
	sqlite3_finalize(stmt);
	return r;
}

/* A b-tree of at most SAMPLE_PAGES pages is read whole (exact figures); a
 * larger one is estimated from its first SAMPLE_PAGES pages (1 MB of 4 KB
 * pages: with 100 daily scans of 16,384 hosts, 1.9 GB, every estimate was
 * within 15 % of the truth, and 1,000 pages did no better). */
#define SAMPLE_PAGES  256
#define SAMPLE_LEVELS 16

struct tree_est {
	double pages, cells, leaf_cells;
	int estimated;
};

/*
 * One b-tree (table or index `name`) from dbstat, which lists its pages
 * depth first from the root.  Up to SAMPLE_PAGES pages, every page is
 * counted.  Beyond, the first SAMPLE_PAGES give for each level of the tree
 * the mean number of children of an interior page and of cells of a page:
 * each level has the pages of the one above times their mean children, and
 * overflow pages come in the proportion seen per leaf.  The root's children
 * are exact; deeper levels are sampled on the left of the tree (its oldest
 * rows), within a few percent on scandb's tables, and the caller scales the
 * estimates so that all b-trees add up to the file's pages.
 */
static int tree_sample(struct store_sqlite *s, sqlite3_stmt *q, const char *name,
                       struct tree_est *out)
{
	double children[SAMPLE_LEVELS] = {0}, cells[SAMPLE_LEVELS] = {0};
	int interior[SAMPLE_LEVELS] = {0}, seen[SAMPLE_LEVELS] = {0};
	double all_cells = 0, leaf_cells = 0, level = 1;
	int64_t n = 0, overflow = 0, leaves = 0;
	int depth = 0, rc;

	memset(out, 0, sizeof(*out));
	sqlite3_reset(q);
	if (sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC) != SQLITE_OK)
		return store__sqlite_err(s, sqlite3_errcode(s->db), "stats: reading %s", name);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *path = (const char *)sqlite3_column_text(q, 0);
		const char *type = (const char *)sqlite3_column_text(q, 1);
		double nc = (double)sqlite3_column_int64(q, 2);
		int d = -1;

		if (n == SAMPLE_PAGES) {
			out->estimated = 1;
			break;
		}
		n++;
		if (type && strcmp(type, "overflow") == 0) {
			overflow++;
			continue;
		}
		for (const char *p = path; p && *p; p++)
			d += *p == '/';
		d = d < 0 ? 0 : d >= SAMPLE_LEVELS ? SAMPLE_LEVELS - 1 : d;
		depth = d > depth ? d : depth;
		seen[d]++;
		cells[d] += nc;
		all_cells += nc;
		if (type && strcmp(type, "internal") == 0) {
			interior[d]++;
			children[d] += nc + 1;
		} else {
			leaves++;
			leaf_cells += nc;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store__sqlite_err(s, rc, "stats: reading dbstat for %s", name);
	sqlite3_reset(q);
	if (!out->estimated) {
		out->pages = (double)n;
		out->cells = all_cells;
		out->leaf_cells = leaf_cells;
		return 0;
	}
	for (int d = 0; d <= depth; d++) {
		double per = seen[d] ? cells[d] / seen[d] : 0;

		out->pages += level;
		out->cells += level * per;
		if (d == depth) {
			out->leaf_cells = level * per;
			if (leaves)
				out->pages += level * (double)overflow / (double)leaves;
		} else {
			level *= interior[d] ? children[d] / interior[d] : 0;
		}
	}
	return 0;
}

/* Rows and sizes from samples of every b-tree (tree_sample), the estimates
 * scaled so that all b-trees add up to the pages the file uses.  0, or
 * SDB_EUNSUPPORTED without dbstat. */
static int stats_sampled(struct store_sqlite *s, struct store_stats *out, int64_t page_size,
                         int64_t used_pages)
{
	sqlite3_stmt *q = NULL, *other = NULL, *norowid = NULL;
	struct tree_est *est = NULL;
	double exact_pages = 0, est_pages = 0, scale = 1;
	int rc, r = 0, any = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT path, pagetype, ncell FROM dbstat WHERE name = ?1",
	                       -1, &q, NULL) != SQLITE_OK) {
		sqlite3_finalize(q);
		return SDB_EUNSUPPORTED;
	}
	if (out->nobjs && !(est = calloc(out->nobjs, sizeof(*est)))) {
		r = store__set_err(&s->base, SDB_ENOMEM, "stats: out of memory");
		goto out;
	}
	for (size_t i = 0; i < out->nobjs; i++) {
		if ((r = tree_sample(s, q, out->objs[i].name, &est[i])) != 0)
			goto out;
		if (est[i].estimated)
			est_pages += est[i].pages;
		else
			exact_pages += est[i].pages;
	}
	/* the b-trees that are not listed (the schema's own, sqlite_sequence) */
	rc = sqlite3_prepare_v2(s->db,
	                        "SELECT 'sqlite_schema' UNION ALL SELECT name FROM sqlite_master"
	                        " WHERE type = 'table' AND rootpage > 0"
	                        " AND name LIKE 'sqlite\\_%' ESCAPE '\\'",
	                        -1, &other, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(other)) == SQLITE_ROW) {
		struct tree_est t;

		if ((r = tree_sample(s, q, (const char *)sqlite3_column_text(other, 0), &t)) != 0)
			goto out;
		if (t.estimated)
			est_pages += t.pages;
		else
			exact_pages += t.pages;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "stats: reading the schema");
		goto out;
	}
	if (est_pages > 0 && (double)used_pages > exact_pages)
		scale = ((double)used_pages - exact_pages) / est_pages;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1"
	                       " AND sql LIKE '%WITHOUT ROWID%'",
	                       -1, &norowid, NULL) != SQLITE_OK) {
		r = store__sqlite_err(s, sqlite3_errcode(s->db), "stats: reading the schema");
		goto out;
	}
	for (size_t i = 0; i < out->nobjs; i++) {
		struct store_stat_obj *o = &out->objs[i];
		double f = est[i].estimated ? scale : 1, rows;
		int all_cells = o->is_index;

		if (!o->is_index) {
			/* a table without rowid is an index b-tree: rows in every
			 * page; a rowid table keeps them in its leaves */
			sqlite3_bind_text(norowid, 1, o->name, -1, SQLITE_STATIC);
			all_cells = sqlite3_step(norowid) == SQLITE_ROW;
			sqlite3_reset(norowid);
		}
		rows = all_cells ? est[i].cells : est[i].leaf_cells;
		o->rows = (int64_t)(rows * f + 0.5);
		o->bytes = (int64_t)(est[i].pages * f + 0.5) * page_size;
		o->estimated = o->bytes_estimated = est[i].estimated;
		any |= o->estimated;
	}
	snprintf(out->size_method, sizeof(out->size_method), "%s",
	         any ? "dbstat sample" : "dbstat");
out:
	sqlite3_finalize(q);
	sqlite3_finalize(other);
	sqlite3_finalize(norowid);
	free(est);
	return r;
}

int store__sqlite_stats(struct store *st, int exact, struct store_stats *out)
{
	struct store_sqlite *s = store__sqlite(st);
	int64_t page_size, pages, free_pages;
	int opened = 0, r;

	/* one read transaction: the sizes, samples and counts belong to one
	 * state of the file */
	if (sqlite3_get_autocommit(s->db)) {
		if (sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
			return store__sqlite_err(s, sqlite3_errcode(s->db), "stats: BEGIN");
		opened = 1;
	}
	if ((r = pragma_int(s, "PRAGMA page_size", &page_size)) != 0 ||
	    (r = pragma_int(s, "PRAGMA page_count", &pages)) != 0 ||
	    (r = pragma_int(s, "PRAGMA freelist_count", &free_pages)) != 0)
		goto done;
	out->db_bytes = page_size * pages;
	out->free_bytes = page_size * free_pages;
	if ((r = stats_objects(s, out)) != 0)
		goto done;
	if (!exact) {
		r = stats_sampled(s, out, page_size, pages - free_pages);
		if (r != SDB_EUNSUPPORTED)
			goto done;
	}
	if ((r = stats_rows(s, out)) != 0)
		goto done;
	r = stats_dbstat(s, out);
	if (r == SDB_EUNSUPPORTED) {
		/* Without dbstat only the whole file's pages can be counted. */
		snprintf(out->size_method, sizeof(out->size_method), "page count");
		r = 0;
		goto done;
	}
	snprintf(out->size_method, sizeof(out->size_method), "dbstat");
done:
	if (opened)
		sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return r;
}

/* ---- doctor ------------------------------------------------------------------ */

/* Per-table tallies of integrity_check lines about constraints. */
struct tally {
	char table[128];
	int64_t n;
};

static int tally_add(struct tally **v, size_t *n, const char *table)
{
	void *p;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*v)[i].table, table) == 0) {
			(*v)[i].n++;
			return 0;
		}
	}
	if (!(p = sdb_reallocarray(*v, *n + 1, sizeof(**v))))
		return SDB_ENOMEM;
	*v = p;
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
	size_t nchecks = 0;
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
			if ((r = tally_add(&checks, &nchecks, table)) != 0)
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
	size_t n = 0;
	sqlite3_stmt *stmt = NULL;
	int rc, r = 0;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA foreign_key_check", -1, &stmt, NULL);
	while (stmt && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *tbl = (const char *)sqlite3_column_text(stmt, 0);
		const char *parent = (const char *)sqlite3_column_text(stmt, 2);
		char key[128];

		snprintf(key, sizeof(key), "%s -> %s", tbl ? tbl : "?", parent ? parent : "?");
		if ((r = tally_add(&t, &n, key)) != 0)
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

/* ---- backup ---------------------------------------------------------------- */

/* SQLite's directory for its temporary files (unixTempFileDir's order). */
static const char *sqlite_temp_dir(void)
{
	const char *c[] = {getenv("SQLITE_TMPDIR"), getenv("TMPDIR"), "/var/tmp", "/usr/tmp",
	                   "/tmp"};
	struct stat sb;

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (c[i] && *c[i] && stat(c[i], &sb) == 0 && S_ISDIR(sb.st_mode) &&
		    access(c[i], W_OK | X_OK) == 0)
			return c[i];
	return ".";
}

int store__sqlite_full(sqlite3 *db, int rc, const char *name, char *out, size_t len)
{
	int code = rc & 0xff, e = db ? sqlite3_system_errno(db) : 0;
	const char *file = name ? name : db ? sqlite3_db_filename(db, "main") : NULL;
	const char *tmp = sqlite_temp_dir();
	char dir[4096];

	/* (SQLITE_FULL: a short write, errno cleared; we set no
	 * max_page_count, so it is the disk) */
	if (!(code == SQLITE_FULL || (code == SQLITE_IOERR && (e == ENOSPC || e == EDQUOT))))
		return 0;
	if (file && *file)
		store__dir_of(file, dir, sizeof(dir));
	else
		snprintf(dir, sizeof(dir), "%s", tmp);
	/* the one of the database's directory and SQLite's temporary
	 * directory (sorting, large transactions) with less room */
	if (file && *file && strcmp(dir, tmp) != 0 && store__dir_free(tmp) >= 0 &&
	    store__dir_free(tmp) < store__dir_free(dir))
		store__disk_full(tmp, "SQLite's temporary files", out, len);
	else
		store__disk_full(dir, file && *file ? file : NULL, out, len);
	return 1;
}

/* Copy src's main database into dst in one step (-1): one read transaction
 * on the source for the whole copy, so concurrent writers (WAL) neither
 * block it nor restart it.  BUSY/LOCKED (a writer holding the destination,
 * or a WAL recovery) are retried with backoff. */
static int copy_db(struct store_sqlite *s, sqlite3 *dst, sqlite3 *src, const char *dst_name,
                   const char *what)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	double start = time_mono();
	int rc, attempt = 0;

	if (!b)
		return store__set_err(&s->base, SDB_EDB, "%s: %s", what, sqlite3_errmsg(dst));
	for (;;) {
		rc = sqlite3_backup_step(b, -1);
		if (rc == SQLITE_DONE ||
		    ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED))
			break;
		if (time_mono() - start > 600)
			break;
		store__backoff(attempt < STORE_RETRY_MAX ? attempt++ : STORE_RETRY_MAX);
	}
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		char full[1024];
		if (store__sqlite_full(dst, rc, dst_name, full, sizeof(full)) ||
		    store__sqlite_full(src, rc, NULL, full, sizeof(full)))
			return store__set_err(&s->base, SDB_EIO, "%s: %s", what, full);
		return store__set_err(&s->base,
		                      store__sqlite_code(rc) ? store__sqlite_code(rc) : SDB_EDB,
		                      "%s: %s (%s)", what, sqlite3_errstr(rc), sqlite3_errmsg(dst));
	}
	return 0;
}

static int exec_on(struct store_sqlite *s, sqlite3 *db, const char *name, const char *sql,
                   const char *what)
{
	char *msg = NULL, full[1024];
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg), r = 0;

	if (rc != SQLITE_OK && store__sqlite_full(db, rc, name, full, sizeof(full)))
		r = store__set_err(&s->base, SDB_EIO, "%s: %s", what, full);
	else if (rc != SQLITE_OK)
		r = store__set_err(&s->base,
		                   store__sqlite_code(rc) ? store__sqlite_code(rc) : SDB_EDB,
		                   "%s: %s", what, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return r;
}

static int check_file(struct store_sqlite *s, sqlite3 *db, const char *path);

int store__sqlite_backup(struct store *st, const char *path, struct store_backup_info *info)
{
	struct store_sqlite *s = store__sqlite(st);
	struct store__tmp tmp = {.fd = -1};
	sqlite3 *dst = NULL;
	double t0 = time_mono();
	struct stat sb;
	int r;

	/* FILE.tmp-XXXXXX: removed (with its journal) on any error, and by a
	 * SIGINT, SIGTERM or SIGHUP that ends scandb on the way */
	if ((r = store__tmp_create(st, path, &tmp)) != 0)
		return r;
	if (sqlite3_open_v2(tmp.path, &dst, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		r = store__set_err(st, SDB_EIO, "cannot open %s: %s", tmp.path,
		                   dst ? sqlite3_errmsg(dst) : "out of memory");
		goto fail;
	}
	if ((r = copy_db(s, dst, s->db, path, "backing up the database")) != 0)
		goto fail;
	/* The copy is checked as restore will check it (integrity_check,
	 * foreign_key_check): a backup of a damaged database fails here,
	 * loudly, instead of when it is needed. */
	if ((r = check_file(s, dst, "the copy")) != 0) {
		char why[sizeof(st->errmsg)];
		snprintf(why, sizeof(why), "%s", st->errmsg);
		r = store__set_err(st, SDB_EPARSE,
		                   "the database is damaged, no backup was written (%s): run "
		                   "'scandb doctor' to see what is wrong",
		                   why);
		goto fail;
	}
	/* The copy carries the source's WAL flag; a backup is one
	 * self-contained file, so switch it to a rollback journal. */
	if ((r = exec_on(s, dst, path, "PRAGMA journal_mode=DELETE", "finishing the backup")) != 0)
		goto fail;
	if (sqlite3_close(dst) != SQLITE_OK) {
		r = store__set_err(st, SDB_EIO, "closing %s: %s", tmp.path, sqlite3_errmsg(dst));
		dst = NULL;
		goto fail;
	}
	dst = NULL;
	if ((r = store__backup_publish(st, tmp.path, path)) != 0)
		goto fail;
	store__tmp_release(&tmp);
	snprintf(info->method, sizeof(info->method), "sqlite3 online backup API, one step");
	info->bytes = stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
	info->seconds = time_mono() - t0;
	return 0;
fail:
	if (dst)
		sqlite3_close(dst);
	store__tmp_remove(&tmp); /* after SQLite let go of it (and its journal) */
	return r;
}

/* ---- restore ------------------------------------------------------------- */

static int read_applied(struct store_sqlite *s, sqlite3 *db, const char *path,
                        struct store_applied **out, size_t *n)
{
	sqlite3_stmt *stmt = NULL;
	struct store_applied *rows = NULL;
	size_t cnt = 0;
	int rc, r = 0;

	*out = NULL;
	*n = 0;
	rc = sqlite3_prepare_v2(db,
	                        "SELECT version, name, checksum, applied_at FROM schema_migrations"
	                        " ORDER BY version",
	                        -1, &stmt, NULL);
	if (rc != SQLITE_OK) {
		int code = rc & 0xff;
		if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)
			r = store__set_err(&s->base, SDB_EPARSE, "%s is not a SQLite database (%s)",
			                   path, sqlite3_errmsg(db));
		else if (code == SQLITE_ERROR)
			r = store__set_err(&s->base, SDB_EPARSE, "%s is not a scandb database (%s)",
			                   path, sqlite3_errmsg(db));
		else
			r = store__set_err(&s->base, SDB_EIO, "cannot read %s: %s", path,
			                   sqlite3_errmsg(db));
		goto out;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(stmt, 1);
		const unsigned char *sum = sqlite3_column_text(stmt, 2);
		void *p = sdb_reallocarray(rows, cnt + 1, sizeof(*rows));

		if (!p) {
			r = store__set_err(&s->base, SDB_ENOMEM, "restore: out of memory");
			goto out;
		}
		rows = p;
		memset(&rows[cnt], 0, sizeof(rows[cnt]));
		rows[cnt].version = sqlite3_column_int(stmt, 0);
		sdb_strlcpy(rows[cnt].name, name ? (const char *)name : "", sizeof(rows[cnt].name));
		sdb_strlcpy(rows[cnt].checksum, sum ? (const char *)sum : "",
		            sizeof(rows[cnt].checksum));
		rows[cnt].applied_at = sqlite3_column_int64(stmt, 3);
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		r = store__set_err(&s->base, SDB_EPARSE, "%s: cannot read schema_migrations: %s",
		                   path, sqlite3_errmsg(db));
		goto out;
	}
	*out = rows;
	*n = cnt;
	rows = NULL;
out:
	sqlite3_finalize(stmt);
	free(rows);
	return r;
}

/* "ok" from integrity_check and nothing from foreign_key_check, or
 * SDB_EPARSE naming the first problem. */
static int check_file(struct store_sqlite *s, sqlite3 *db, const char *path)
{
	static const char *const sql[2] = {"PRAGMA integrity_check(1)", "PRAGMA foreign_key_check"};
	int r = 0;

	for (int i = 0; i < 2 && r == 0; i++) {
		sqlite3_stmt *stmt = NULL;
		int rc = sqlite3_prepare_v2(db, sql[i], -1, &stmt, NULL);

		if (rc == SQLITE_OK)
			rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW && i == 0) {
			const char *v = (const char *)sqlite3_column_text(stmt, 0);
			if (!v || strcmp(v, "ok") != 0)
				r = store__set_err(&s->base, SDB_EPARSE,
				                   "%s fails integrity_check: %s", path,
				                   v ? v : "?");
		} else if (rc == SQLITE_ROW) {
			const char *t = (const char *)sqlite3_column_text(stmt, 0);
			r = store__set_err(&s->base, SDB_EPARSE,
			                   "%s fails foreign_key_check (table %s)", path,
			                   t ? t : "?");
		} else if (rc != SQLITE_DONE) {
			r = store__set_err(&s->base, SDB_EPARSE, "%s fails %s: %s", path, sql[i],
			                   sqlite3_errmsg(db));
		}
		sqlite3_finalize(stmt);
	}
	return r;
}

/* The restore slots (store_int.h; store_ops.c's store_restore holds the
 * policy): the file is opened read-only, so no journal of its own is
 * created or replayed into it, and validated before anything is touched. */
int store__sqlite_restore_open(struct store *st, const char *path, void **file,
                               struct store_applied **rows, size_t *n)
{
	struct store_sqlite *s = store__sqlite(st);
	const char *main_file = sqlite3_db_filename(s->db, "main");
	sqlite3 *src = NULL;
	struct stat a, b;
	int r;

	*file = NULL;
	if (main_file && *main_file && stat(path, &a) == 0 && stat(main_file, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return store__set_err(st, SDB_EUSAGE, "%s is the database itself", path);
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		r = store__set_err(st, SDB_EPARSE, "cannot open %s: %s", path,
		                   src ? sqlite3_errmsg(src) : "out of memory");
		sqlite3_close(src);
		return r;
	}
	if ((r = read_applied(s, src, path, rows, n)) != 0) {
		sqlite3_close(src);
		return r;
	}
	*file = src;
	return 0;
}

int store__sqlite_restore_verify(struct store *st, void *file, const char *path)
{
	return check_file(store__sqlite(st), file, path);
}

int store__sqlite_restore_apply(struct store *st, void *file, const char *path)
{
	struct store_sqlite *s = store__sqlite(st);
	int r;

	(void)path;
	/* One step: the whole copy is one write transaction on the target,
	 * so other connections see the old database or the restored one. */
	if ((r = copy_db(s, s->db, file, NULL, "restoring the database")) != 0)
		return r;
	/* SQLite keeps a WAL destination in WAL mode (the backup's rollback
	 * journal flag is not copied); make sure, for a target that was not. */
	return exec_on(s, s->db, NULL, "PRAGMA journal_mode=WAL",
	               "switching to WAL after the restore");
}

void store__sqlite_restore_close(struct store *st, void *file)
{
	(void)st;
	sqlite3_close(file);
}

/* ---- a database too damaged to open ------------------------------------------ */

/* The file of a SQLite target ("sqlite:" prefix off), or NULL for a
 * PostgreSQL one. */
static const char *sqlite_file(const char *target)
{
	if (!target || store_target_is_pg(target))
		return NULL;
	return strncmp(target, "sqlite:", 7) == 0 ? target + 7 : target;
}

int store_file_damaged(const char *target, char *why, size_t len)
{
	const char *path = sqlite_file(target);
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	struct stat sb;
	int rc, code, damaged = 0;

	if (why && len)
		why[0] = '\0';
	if (!path || !*path || strcmp(path, ":memory:") == 0 || stat(path, &sb) != 0 ||
	    !S_ISREG(sb.st_mode))
		return 0;
	/* read-only: looking changes nothing (no journal replayed into it) */
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW)
		rc = SQLITE_OK;
	code = db ? sqlite3_errcode(db) & 0xff : rc & 0xff;
	if (rc != SQLITE_OK && (code == SQLITE_NOTADB || code == SQLITE_CORRUPT)) {
		damaged = 1;
		if (why && len)
			snprintf(why, len, "%s",
			         code == SQLITE_NOTADB ? "its header is not a SQLite database's"
			                               : sqlite3_errmsg(db));
	}
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return damaged;
}

int store_doctor_damaged(const char *target, struct store_doctor_report *out)
{
	char why[512], what[768], fix[1024];
	const char *path = sqlite_file(target);
	int r;

	memset(out, 0, sizeof(*out));
	if (!store_file_damaged(target, why, sizeof(why)))
		return 0;
	snprintf(what, sizeof(what), "%s cannot be opened: %s", path, why);
	snprintf(fix, sizeof(fix),
	         "restore the latest good backup: scandb restore --force BACKUP (it replaces "
	         "the damaged file, which is kept aside as %s.damaged-<time>; salvage from "
	         "that with: sqlite3 FILE .recover | sqlite3 NEW.db)",
	         path);
	if ((r = store__doctor_problem(out, "integrity", -1, what, fix)) != 0) {
		store_doctor_report_free(out);
		return r;
	}
	return 1;
}

/* rename from -> to if from exists; 0, or -1 with errno. */
static int move_if_there(const char *from, const char *to)
{
	if (rename(from, to) == 0 || errno == ENOENT)
		return 0;
	return -1;
}

static const char *const side_files[] = {"-wal", "-journal"};

/* 1. The backup restored into a new file next to the damaged one (tmp, a
 * "PATH.restore-XXXXXX" name), with the database's own mode, validated as
 * every restore is: migrations, integrity.  On failure tmp is left for the
 * caller to remove. */
static int restore_beside(const char *path, mode_t mode, const char *backup,
                          struct store_restore_info *info, char *tmp, size_t tmplen, char *errmsg,
                          size_t errlen)
{
	struct store *st = NULL;
	int fd, r;

	tmp[0] = '\0';
	if (snprintf(tmp, tmplen, "%s.restore-XXXXXX", path) >= (int)tmplen) {
		tmp[0] = '\0';
		snprintf(errmsg, errlen, "%s: the name is too long", path);
		return SDB_EUSAGE;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		tmp[0] = '\0';
		snprintf(errmsg, errlen, "cannot create a file next to %s: %s", path,
		         strerror(errno));
		return SDB_EIO;
	}
	(void)fchmod(fd, mode & 0777);
	close(fd);
	if ((r = store_open_mode(tmp, STORE_OPEN_CREATE, &st, errmsg, errlen)) != 0)
		return r;
	if ((r = store_restore(st, backup, 0, info)) != 0)
		snprintf(errmsg, errlen, "%s", store_errmsg(st));
	store_close(st); /* checkpoints: the file alone holds it all */
	return r;
}

/* 2a. "PATH.damaged-<stamp>[-k]": a name no earlier damaged file (or its
 * WAL or journal) has, since rename would replace it. */
static int damaged_name(const char *path, char *name, size_t len, char *errmsg, size_t errlen)
{
	char stamp[32], to[4200];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int k = 0; k < 100; k++) {
		struct stat x;
		int taken = 0;

		snprintf(name, len, "%s.damaged-%s%s%.0d", path, stamp, k ? "-" : "", k);
		for (size_t i = 0; i < 3; i++) {
			snprintf(to, sizeof(to), "%s%s", name, i < 2 ? side_files[i] : "");
			taken |= lstat(to, &x) == 0 || errno != ENOENT;
		}
		if (!taken)
			return 0;
	}
	snprintf(errmsg, errlen, "cannot find a free name for %s.damaged-%s", path, stamp);
	return SDB_EEXISTS;
}

/* A file and its -wal, -journal and -shm removed (a failed restore's). */
static void remove_with_sides(const char *file)
{
	char side[4200];

	for (size_t i = 0; i < 2; i++) {
		snprintf(side, sizeof(side), "%s%s", file, side_files[i]);
		unlink(side);
	}
	snprintf(side, sizeof(side), "%s-shm", file);
	unlink(side);
	unlink(file);
}

int store_restore_damaged(const char *target, const char *backup, struct store_restore_info *info,
                          char *kept, size_t keptlen, char *errmsg, size_t errlen)
{
	const char *path = sqlite_file(target);
	char tmp[4096], name[4200], from[4200], to[4200];
	struct stat sb;
	int moved = 0, r;

	if (kept && keptlen)
		kept[0] = '\0';
	if (!path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		snprintf(errmsg, errlen, "%s is not a damaged SQLite database file",
		         path ? path : "the target");
		return SDB_EUSAGE;
	}
	if ((r = restore_beside(path, sb.st_mode, backup, info, tmp, sizeof(tmp), errmsg,
	                        errlen)) != 0 ||
	    (r = damaged_name(path, name, sizeof(name), errmsg, errlen)) != 0)
		goto fail;
	/* 2b. the damaged file and its WAL / journal kept aside under that name
	 * (a WAL or hot journal left next to the new file would be replayed
	 * into it); its -shm (a cache of the WAL's index) is dropped */
	for (moved = 0; moved < 2; moved++) {
		snprintf(from, sizeof(from), "%s%s", path, side_files[moved]);
		snprintf(to, sizeof(to), "%s%s", name, side_files[moved]);
		if (move_if_there(from, to) != 0) {
			snprintf(errmsg, errlen, "cannot move %s aside: %s", from, strerror(errno));
			r = SDB_EIO;
			goto undo;
		}
	}
	if (rename(path, name) != 0) {
		snprintf(errmsg, errlen, "cannot move %s aside: %s", path, strerror(errno));
		r = SDB_EIO;
		goto undo;
	}
	snprintf(from, sizeof(from), "%s-shm", path);
	unlink(from);
	/* 3. the restored file takes the name */
	if (rename(tmp, path) != 0) {
		int e = errno;
		(void)rename(name, path); /* the damaged one back */
		snprintf(errmsg, errlen, "cannot move the restored database to %s: %s", path,
		         strerror(e));
		r = SDB_EIO;
		goto undo;
	}
	if (kept && keptlen)
		snprintf(kept, keptlen, "%s", name);
	return 0;
undo:
	while (moved-- > 0) {
		snprintf(from, sizeof(from), "%s%s", name, side_files[moved]);
		snprintf(to, sizeof(to), "%s%s", path, side_files[moved]);
		(void)move_if_there(from, to);
	}
fail:
	if (tmp[0])
		remove_with_sides(tmp);
	return r;
}
