/*
 * sqlite_admin_backup.c - backup and restore on SQLite (store_int.h backup,
 * restore_open, restore_verify, restore_apply, restore_close) with SQLite's
 * online backup API: a copy checked as restore checks it, published by
 * store__backup_publish; a restore validated before it replaces the
 * database in one write transaction.  The policies (naming, what a restore
 * accepts) are store_ops.c's and the CLI's.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/timeutil.h"

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
		if (rc == SQLITE_DONE || !store__sqlite_busy(rc))
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
	int rc, r = 0;

	*out = NULL;
	*n = 0;
	rc = sqlite3_prepare_v2(db, STORE__SQLITE_APPLIED_SQL, -1, &stmt, NULL);
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
	r = store__sqlite_applied_rows(stmt, out, n, &rc);
	if (r == SDB_ENOMEM)
		r = store__set_err(&s->base, SDB_ENOMEM, "restore: out of memory");
	else if (r != 0)
		r = store__set_err(&s->base, SDB_EPARSE, "%s: cannot read schema_migrations: %s",
		                   path, sqlite3_errmsg(db));
out:
	sqlite3_finalize(stmt);
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
