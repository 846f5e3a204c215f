/*
 * sqlite_admin_damaged.c - a SQLite database too damaged to open (store.h
 * store_file_damaged, store_doctor_damaged, store_restore_damaged): telling
 * it from a file that is merely absent or busy, the doctor's one problem for
 * it, and restoring a backup in its place while the damaged file (with its
 * WAL or journal) is kept aside.
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

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
