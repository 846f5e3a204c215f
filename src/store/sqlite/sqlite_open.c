/*
 * sqlite_open.c - opening a SQLite database (store_int.h open, open_mode,
 * close, is_readonly, table_exists): the file and its directories, the
 * read-only fallbacks, refusing another application's database, and the
 * connection's settings (foreign keys, WAL, synchronous, cache).
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "core/buf.h"
#include "core/error.h"

#define BUSY_TIMEOUT_MS   STORE__SQLITE_BUSY_MS
#define CACHE_SIZE_PRAGMA "PRAGMA cache_size=-16000" /* 16 MB page cache */

/* ---- open / close -------------------------------------------------------- */

static int open_fail(char *errmsg, size_t errlen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int open_fail(char *errmsg, size_t errlen, int err, const char *fmt, ...)
{
	va_list ap;

	if (errmsg && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(errmsg, errlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* mkdir -p (mode 0700) of the directory holding `path`. */
static int make_parent_dirs(const char *path, char *errmsg, size_t errlen)
{
	char dir[PATH_MAX];
	char *slash, *p;

	if (sdb_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
		return open_fail(errmsg, errlen, SDB_EUSAGE, "database path is too long: %.64s...",
		                 path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0; /* in the current directory, or in / */
	*slash = '\0';
	for (p = dir + 1;; p++) {
		char c = *p;
		struct stat sb;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST &&
		    !(stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode)))
			return open_fail(errmsg, errlen, SDB_EIO,
			                 "could not create directory %s for the database: %s", dir,
			                 strerror(errno));
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

/* PRAGMA journal_mode=WAL: concurrent first opens of a new file race for
 * the exclusive lock this needs, so BUSY is retried. */
static int set_wal(struct store_sqlite *s)
{
	sqlite3_stmt *stmt = NULL;
	char mode[16] = "";
	int rc = SQLITE_OK;

	for (int attempt = 0; attempt < STORE_RETRY_MAX; attempt++) {
		rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(stmt);
			if (rc == SQLITE_ROW) {
				const unsigned char *m = sqlite3_column_text(stmt, 0);
				sdb_strlcpy(mode, m ? (const char *)m : "", sizeof(mode));
				rc = SQLITE_OK;
			}
		}
		if (rc != SQLITE_OK) {
			int r = store__sqlite_busy(rc)
			            ? 0
			            : store__sqlite_err(s, rc, "setting WAL journal mode");
			sqlite3_finalize(stmt);
			stmt = NULL;
			if (r != 0)
				return r;
			if (attempt + 1 < STORE_RETRY_MAX)
				store__backoff(attempt);
			continue;
		}
		sqlite3_finalize(stmt);
		/* An in-memory database answers "memory": nothing to share. */
		if (strcmp(mode, "wal") != 0 && strcmp(mode, "memory") != 0)
			return store__set_err(&s->base, SDB_EDB,
			                      "could not switch to WAL journal mode (SQLite kept "
			                      "'%s'; is the file system local?)",
			                      mode);
		return 0;
	}
	return store__set_err(&s->base, SDB_EBUSY,
	                      "could not set WAL journal mode: %s after %d attempts",
	                      sqlite3_errstr(rc), STORE_RETRY_MAX);
}

/* The connection's settings.  Read-only: foreign keys and the cache only
 * (the journal mode is the file's; changing it would write the file). */
static int configure(struct store_sqlite *s, int readonly)
{
	sqlite3_stmt *stmt = NULL;
	int rc, on = 0, r;

	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	if ((r = store__sqlite_exec(s, "PRAGMA foreign_keys=ON", "enabling foreign keys")) != 0)
		return r;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA foreign_keys", -1, &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		on = sqlite3_column_int(stmt, 0);
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_OK)
		r = store__sqlite_err(s, rc, "checking foreign keys");
	sqlite3_finalize(stmt);
	if (r != 0)
		return r;
	if (on != 1)
		return store__set_err(&s->base, SDB_EDB,
		                      "this SQLite library cannot enforce foreign keys "
		                      "(built with SQLITE_OMIT_FOREIGN_KEY?)");
	if ((r = store__sqlite_functions(s)) != 0)
		return r;
	if (readonly)
		return store__sqlite_exec(s, CACHE_SIZE_PRAGMA, "setting the cache size");
	if ((r = set_wal(s)) != 0)
		return r;
	/* One commit per job: FULL is cheap, and a finished import survives a
	 * power loss. */
	if ((r = store__sqlite_exec(s, "PRAGMA synchronous=FULL", "setting synchronous mode")) != 0)
		return r;
	return store__sqlite_exec(s, CACHE_SIZE_PRAGMA, "setting the cache size");
}

void store__sqlite_close(struct store *st)
{
	struct store_sqlite *s = store__sqlite(st);

	if (!s)
		return;
	for (int i = 0; i < SQ__COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	/* Every statement is finalized, so this closes (and rolls back an
	 * open transaction) at once. */
	sqlite3_close(s->db);
	free(s);
}

/* Process-wide SQLite settings, before the library initialises: no memory
 * statistics (they take a global mutex on every allocation, ~15% of an
 * import).  Connections are opened NOMUTEX: one connection, one thread. */
static void sq_global_init(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	sqlite3_initialize();
}

/*
 * Read the schema (the first read of the file: a file that is not SQLite
 * fails here) and refuse another application's database: tables, but no
 * schema_migrations.  Runs before anything is written to the file, so a
 * foreign file is left byte for byte as it was.
 */
static int check_schema(struct store_sqlite *s, const char *path, char *errmsg, size_t errlen)
{
	sqlite3_stmt *stmt = NULL;
	int rc, tables = 0, mine = 0, r;

	rc = sqlite3_prepare_v2(s->db,
	                        "SELECT count(*) FROM sqlite_master WHERE type IN ('table', "
	                        "'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
	                        -1, &stmt, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		tables = sqlite3_column_int(stmt, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_OK) {
		int code = sqlite3_errcode(s->db) & 0xff;
		if (code == SQLITE_NOTADB)
			return open_fail(errmsg, errlen, SDB_EDB, "%s is not a SQLite database",
			                 path);
		if (code == SQLITE_CORRUPT)
			return open_fail(errmsg, errlen, SDB_EDB,
			                 "%s is a damaged SQLite database: %s", path,
			                 sqlite3_errmsg(s->db));
		return open_fail(errmsg, errlen,
		                 store__sqlite_code(rc) ? store__sqlite_code(rc) : SDB_EDB,
		                 "cannot read %s: %s", path, sqlite3_errmsg(s->db));
	}
	if (tables == 0)
		return 0;
	if ((r = store__sqlite_has_table(s, "schema_migrations", &mine)) != 0)
		return open_fail(errmsg, errlen, r, "cannot read %s: %s", path, s->base.errmsg);
	if (!mine)
		return open_fail(errmsg, errlen, SDB_ESCHEMA,
		                 "%s is not a scandb database (it has tables of its own and no "
		                 "schema_migrations table)",
		                 path);
	return 0;
}

/* sqlite3_open_v2, then the first read.  A read-only connection to a WAL
 * database needs the -shm and -wal files, which it creates if it may; in a
 * directory where it may not (and with no -wal, i.e. no writer has the
 * file open) the file is read as immutable. */
static int open_conn(struct store_sqlite *s, const char *path, int flags, char *errmsg,
                     size_t errlen)
{
	int readonly = flags & STORE_OPEN_READONLY;
	int looking = flags & (STORE_OPEN_READONLY | STORE_OPEN_QUERY_ONLY);
	int oflags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) |
	             ((flags & STORE_OPEN_CREATE) ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
	int rc, r;

	rc = sqlite3_open_v2(path, &s->db, oflags, NULL);
	if (rc != SQLITE_OK) {
		int e = s->db ? sqlite3_system_errno(s->db) : 0;
		return open_fail(
		    errmsg, errlen, store__sqlite_code(rc) ? store__sqlite_code(rc) : SDB_EDB,
		    "cannot open %s: %s", path,
		    e ? strerror(e) : (s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc)));
	}
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	r = check_schema(s, path, errmsg, errlen);
	/* (SQLite says CANTOPEN, or READONLY_CANTINIT when it cannot make the
	 * -shm) */
	if (r != 0 && looking &&
	    ((sqlite3_errcode(s->db) & 0xff) == SQLITE_CANTOPEN ||
	     (sqlite3_errcode(s->db) & 0xff) == SQLITE_READONLY) &&
	    strcmp(path, ":memory:") != 0) {
		char wal[PATH_MAX + 8];
		struct stat sb;
		char *uri;

		snprintf(wal, sizeof(wal), "%s-wal", path);
		if (stat(wal, &sb) == 0)
			return r;
		if (!(uri = sqlite3_mprintf("file:%s?immutable=1", path)))
			return open_fail(errmsg, errlen, SDB_ENOMEM, "out of memory opening %s",
			                 path);
		sqlite3_close(s->db);
		s->db = NULL;
		rc = sqlite3_open_v2(uri, &s->db,
		                     SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
		                     NULL);
		sqlite3_free(uri);
		if (rc != SQLITE_OK)
			return open_fail(errmsg, errlen, SDB_EDB, "cannot open %s: %s", path,
			                 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		sqlite3_extended_result_codes(s->db, 1);
		sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
		r = check_schema(s, path, errmsg, errlen);
	}
	return r;
}

int store__sqlite_open_mode(const char *target, int flags, struct store **out, char *errmsg,
                            size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct store_sqlite *s = NULL;
	const char *path = target;
	struct stat sb;
	int r;

	*out = NULL;
	pthread_once(&once, sq_global_init);
	if (strncmp(path, "sqlite:", 7) == 0)
		path += 7;
	if (!*path)
		return open_fail(errmsg, errlen, SDB_EUSAGE, "no database file given in '%s'",
		                 target);
	if (strcmp(path, ":memory:") != 0) {
		if (stat(path, &sb) != 0) {
			if (!(flags & STORE_OPEN_CREATE) || (flags & STORE_OPEN_READONLY))
				return open_fail(errmsg, errlen, SDB_ENOTFOUND, "no database at %s",
				                 path);
			if ((r = make_parent_dirs(path, errmsg, errlen)) != 0)
				return r;
		} else if (S_ISDIR(sb.st_mode)) {
			return open_fail(errmsg, errlen, SDB_EUSAGE,
			                 "%s is a directory, not a database file", path);
		}
	}
	if (!(s = calloc(1, sizeof(*s))))
		return open_fail(errmsg, errlen, SDB_ENOMEM, "out of memory opening %s", path);
	s->base.ops = &store_sqlite_ops;
	if ((r = open_conn(s, path, flags, errmsg, errlen)) != 0)
		goto out;
	if ((r = configure(s, (flags & STORE_OPEN_QUERY_ONLY) ||
	                          sqlite3_db_readonly(s->db, "main") == 1)) == 0 &&
	    (flags & STORE_OPEN_QUERY_ONLY))
		if ((r = store__sqlite_exec(s, "PRAGMA query_only=ON",
		                            "making the connection query-only")) == 0) {
			/* nor does closing it write (no checkpoint) */
			sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
			s->query_only = 1;
		}
	if (r != 0) {
		if ((sqlite3_errcode(s->db) & 0xff) == SQLITE_READONLY)
			open_fail(errmsg, errlen, r, "cannot write %s: %s", path,
			          "the file or its directory is read-only");
		else
			open_fail(errmsg, errlen, r, "cannot use %s: %s", path, s->base.errmsg);
		goto out;
	}
	*out = &s->base;
	s = NULL;
	r = 0;
out:
	store__sqlite_close(s ? &s->base : NULL);
	return r;
}

int store__sqlite_open(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	return store__sqlite_open_mode(target, STORE_OPEN_CREATE, out, errmsg, errlen);
}

int store__sqlite_is_readonly(const struct store *st)
{
	const struct store_sqlite *s = (const struct store_sqlite *)st;

	return sqlite3_db_readonly(s->db, "main") == 1 || s->query_only;
}

int store__sqlite_table_exists(struct store *st, const char *name, int *exists)
{
	return store__sqlite_has_table(store__sqlite(st), name, exists);
}
