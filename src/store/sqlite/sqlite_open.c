/*
 * store_sqlite.c - the SQLite backend (store_int.h): opening and configuring a
 * connection, transactions with BUSY retries (invariant 7), the migrations
 * bookkeeping slots, and the job write path (jobs, host upserts, host_scans,
 * ports, extraports, scripts, marking stale jobs failed).  The read queries
 * live in store_sqlite_query.c; the generic migration algorithm in
 * store_migrate.c, the wrappers in store.c, which jobs are stale in
 * store_ops.c.  No SQL text is ever built from input: all data is bound.
 *
 * Every statement is prepared once per connection (store__sqlite_stmt) and
 * reused: the import hot path is one bind/step/reset per row.
 */
#include "store/sqlite/sqlite_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"

#define BUSY_TIMEOUT_MS   5000
#define CACHE_SIZE_PRAGMA "PRAGMA cache_size=-16000" /* 16 MB page cache */

/* ---- helpers shared with store_sqlite_query.c -------------------------- */

int store__sqlite_code(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SDB_EBUSY;
	case SQLITE_CONSTRAINT:
		return SDB_ECONSTRAINT;
	case SQLITE_NOMEM:
		return SDB_ENOMEM;
	default:
		return SDB_EDB;
	}
}

int store__sqlite_err(struct store_sqlite *s, int rc, const char *fmt, ...)
{
	char what[512], full[1024];
	const char *msg;
	int err = store__sqlite_code(rc);
	va_list ap;

	if (err == 0)
		err = SDB_EDB;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	/* sqlite3_errmsg describes the last failed call on this connection;
	 * fall back to the code's generic text if it was overwritten. */
	msg = s->db && (sqlite3_errcode(s->db) & 0xff) == (rc & 0xff) ? sqlite3_errmsg(s->db)
	                                                              : sqlite3_errstr(rc);
	/* "database or disk is full", "disk I/O error": say which, and where */
	if (store__sqlite_full(s->db, rc, NULL, full, sizeof(full)))
		msg = full;
	return store__set_err(&s->base, err, "%s: %s", what, msg);
}

int store__sqlite_stmt(struct store_sqlite *s, enum sq_stmt id, const char *sql, sqlite3_stmt **out)
{
	int rc;

	*out = NULL;
	if (s->stmt[id]) {
		sqlite3_reset(s->stmt[id]);
		sqlite3_clear_bindings(s->stmt[id]);
		*out = s->stmt[id];
		return 0;
	}
	rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[id], NULL);
	if (rc != SQLITE_OK) {
		int r = store__sqlite_err(s, rc, "preparing a statement");
		sqlite3_finalize(s->stmt[id]);
		s->stmt[id] = NULL;
		return r;
	}
	*out = s->stmt[id];
	return 0;
}

void store__sqlite_done(sqlite3_stmt *stmt)
{
	if (stmt) {
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
	}
}

int store__sqlite_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
	return v ? sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, idx);
}

int store__sqlite_bind_opt_int(sqlite3_stmt *st, int idx, long v)
{
	return v >= 0 ? sqlite3_bind_int64(st, idx, v) : sqlite3_bind_null(st, idx);
}

int store__sqlite_bind_time(sqlite3_stmt *st, int idx, int64_t t)
{
	return t != 0 ? sqlite3_bind_int64(st, idx, t) : sqlite3_bind_null(st, idx);
}

/* Shorter local names. */
#define bind_text store__sqlite_bind_text
#define bind_opt  store__sqlite_bind_opt_int
#define bind_time store__sqlite_bind_time

static int is_busy(int rc)
{
	return (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
}

/* A failed bind: SQLite recorded the reason on the connection. */
static int bind_failed(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what)
{
	int r = store__sqlite_err(s, sqlite3_errcode(s->db), "%s: binding values", what);

	store__sqlite_done(stmt);
	return r;
}

/* Run a cached statement that returns no rows. */
static int step_done(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt), r = 0;

	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "%s", what);
	store__sqlite_done(stmt);
	return r;
}

/* Run a cached "... RETURNING id" statement (one row). */
static int step_returning_id(struct store_sqlite *s, sqlite3_stmt *stmt, const char *what,
                             int64_t *id)
{
	int rc = sqlite3_step(stmt), r = 0;

	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		rc = sqlite3_step(stmt);
	}
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "%s", what);
	store__sqlite_done(stmt);
	return r;
}

/* Run one statement without data (setup SQL, migration scripts). */
static int exec_sql(struct store_sqlite *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store__sqlite_err(s, rc, "%s", what);
}

/* How long a writer waits for the write lock before giving up: writers
 * queue behind each other (a big import holds the lock while it runs), so
 * this is generous.  SCANDB_LOCK_TIMEOUT (seconds) overrides it. */
#define LOCK_WAIT_DEFAULT_S 600

static double lock_wait_seconds(void)
{
	const char *v = getenv("SCANDB_LOCK_TIMEOUT");
	char *end;
	double d;

	if (v && *v) {
		d = strtod(v, &end);
		if (*end == '\0' && d >= 0 && d <= 86400)
			return d;
	}
	return LOCK_WAIT_DEFAULT_S;
}

/* Run a cached statement that takes no parameters, retrying BUSY with
 * backoff and jitter until the lock wait runs out (BEGIN IMMEDIATE /
 * COMMIT); `what` completes "could not ...". */
static int step_retry(struct store_sqlite *s, enum sq_stmt id, const char *sql, const char *what)
{
	sqlite3_stmt *stmt;
	double start = time_mono(), limit = lock_wait_seconds();
	int rc = SQLITE_OK, r, attempt;

	for (attempt = 0;; attempt++) {
		if ((r = store__sqlite_stmt(s, id, sql, &stmt)) != 0)
			return r;
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE) {
			store__sqlite_done(stmt);
			return 0;
		}
		if (!is_busy(rc)) {
			r = store__sqlite_err(s, rc, "could not %s", what);
			store__sqlite_done(stmt);
			return r;
		}
		store__sqlite_done(stmt);
		if (time_mono() - start >= limit)
			break;
		store__backoff(attempt < STORE_RETRY_MAX ? attempt : STORE_RETRY_MAX);
	}
	return store__set_err(&s->base, SDB_EBUSY,
	                      "could not %s: %s after waiting %.0f s (%d attempts) for another "
	                      "writer; SCANDB_LOCK_TIMEOUT sets how long to wait",
	                      what, sqlite3_errstr(rc), time_mono() - start, attempt + 1);
}

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
			int r =
			    is_busy(rc) ? 0 : store__sqlite_err(s, rc, "setting WAL journal mode");
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
	if ((r = exec_sql(s, "PRAGMA foreign_keys=ON", "enabling foreign keys")) != 0)
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
	if (readonly)
		return exec_sql(s, CACHE_SIZE_PRAGMA, "setting the cache size");
	if ((r = set_wal(s)) != 0)
		return r;
	/* One commit per job: FULL is cheap, and a finished import survives a
	 * power loss. */
	if ((r = exec_sql(s, "PRAGMA synchronous=FULL", "setting synchronous mode")) != 0)
		return r;
	return exec_sql(s, CACHE_SIZE_PRAGMA, "setting the cache size");
}

static void sq_close(struct store *st)
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

static int table_exists(struct store_sqlite *s, const char *name, int *exists);

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
	if ((r = table_exists(s, "schema_migrations", &mine)) != 0)
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

static int sq_open_mode(const char *target, int flags, struct store **out, char *errmsg,
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
		if ((r = exec_sql(s, "PRAGMA query_only=ON", "making the connection query-only")) ==
		    0) {
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
	sq_close(s ? &s->base : NULL);
	return r;
}

static int sq_open(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	return sq_open_mode(target, STORE_OPEN_CREATE, out, errmsg, errlen);
}

static int sq_is_readonly(const struct store *st)
{
	const struct store_sqlite *s = (const struct store_sqlite *)st;

	return sqlite3_db_readonly(s->db, "main") == 1 || s->query_only;
}

static int sq_table_exists(struct store *st, const char *name, int *exists)
{
	return table_exists(store__sqlite(st), name, exists);
}

/* ---- transactions -------------------------------------------------------- */

static int sq_tx_begin(struct store *st, int64_t order_at)
{
	(void)order_at;                 /* SQLite's writers take the lock as they come */
	store__sqlite(st)->hint_id = 0; /* only what this transaction loaded */
	return step_retry(store__sqlite(st), SQ_BEGIN, "BEGIN IMMEDIATE",
	                  "begin write transaction");
}

static int sq_tx_commit(struct store *st)
{
	return step_retry(store__sqlite(st), SQ_COMMIT, "COMMIT", "commit transaction");
}

/* Safe after any failure, and when no transaction is open (SQLite rolls
 * some errors back by itself).  Keeps the message of the failure that led
 * here unless the rollback itself fails. */
static int sq_tx_rollback(struct store *st)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int r;

	s->hint_id = 0;
	if (sqlite3_get_autocommit(s->db))
		return 0;
	for (int i = 0; i < SQ__COUNT; i++)
		if (s->stmt[i])
			sqlite3_reset(s->stmt[i]);
	if ((r = store__sqlite_stmt(s, SQ_ROLLBACK, "ROLLBACK", &stmt)) != 0)
		return r;
	return step_done(s, stmt, "rolling back the transaction");
}

/* ---- migrations bookkeeping (store.c runs the algorithm) ---------------- */

static int sq_exec_script(struct store *st, const char *sql)
{
	return exec_sql(store__sqlite(st), sql, "running a migration script");
}

static int sq_migrations_table(struct store *st)
{
	return exec_sql(store__sqlite(st),
	                "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                " version INTEGER PRIMARY KEY,"
	                " name TEXT NOT NULL,"
	                " checksum TEXT NOT NULL CHECK (length(checksum) = 64),"
	                " applied_at INTEGER NOT NULL)",
	                "creating the schema_migrations table");
}

/* One-shot statements for the (rare) bookkeeping queries: the tables they
 * touch come and go with migrations, so nothing is cached. */
static int prepare_once(struct store_sqlite *s, const char *sql, sqlite3_stmt **stmt,
                        const char *what)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL);

	return rc == SQLITE_OK ? 0 : store__sqlite_err(s, rc, "%s", what);
}

static int table_exists(struct store_sqlite *s, const char *name, int *exists)
{
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	*exists = 0;
	if ((r = prepare_once(s, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
	                      &stmt, "reading the schema")) != 0)
		return r;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*exists = 1;
	else if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "reading the schema");
	sqlite3_finalize(stmt);
	return r;
}

static int sq_migrations_applied(struct store *st, struct store_applied **out, size_t *n)
{
	struct store_sqlite *s = store__sqlite(st);
	struct store_applied *rows = NULL;
	sqlite3_stmt *stmt = NULL;
	size_t cnt = 0, cap = 0;
	int exists, rc, r;

	*out = NULL;
	*n = 0;
	if ((r = table_exists(s, "schema_migrations", &exists)) != 0 || !exists)
		return r;
	if ((r = prepare_once(s,
	                      "SELECT version, name, checksum, applied_at FROM schema_migrations "
	                      "ORDER BY version",
	                      &stmt, "reading schema_migrations")) != 0)
		return r;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *name = sqlite3_column_text(stmt, 1);
		const unsigned char *sum = sqlite3_column_text(stmt, 2);
		struct store_applied *a;

		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *p = sdb_reallocarray(rows, ncap, sizeof(*rows));
			if (!p) {
				r = store__set_err(st, SDB_ENOMEM,
				                   "reading schema_migrations: out "
				                   "of memory");
				goto out;
			}
			rows = p;
			cap = ncap;
		}
		a = &rows[cnt++];
		memset(a, 0, sizeof(*a));
		a->version = sqlite3_column_int(stmt, 0);
		sdb_strlcpy(a->name, name ? (const char *)name : "", sizeof(a->name));
		sdb_strlcpy(a->checksum, sum ? (const char *)sum : "", sizeof(a->checksum));
		a->applied_at = sqlite3_column_int64(stmt, 3);
	}
	if (rc != SQLITE_DONE) {
		r = store__sqlite_err(s, rc, "reading schema_migrations");
		goto out;
	}
	*out = rows;
	*n = cnt;
	rows = NULL;
	r = 0;
out:
	sqlite3_finalize(stmt);
	free(rows);
	return r;
}

static int sq_migration_record(struct store *st, const struct store_applied *a)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	if ((r = prepare_once(s,
	                      "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
	                      " VALUES (?1, ?2, ?3, ?4)",
	                      &stmt, "recording a migration")) != 0)
		return r;
	sqlite3_bind_int(stmt, 1, a->version);
	sqlite3_bind_text(stmt, 2, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, a->checksum, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, a->applied_at);
	if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "recording migration %04d_%s", a->version, a->name);
	sqlite3_finalize(stmt);
	return r;
}

static int sq_migration_unrecord(struct store *st, int version)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	if ((r = prepare_once(s, "DELETE FROM schema_migrations WHERE version = ?1", &stmt,
	                      "unrecording a migration")) != 0)
		return r;
	sqlite3_bind_int(stmt, 1, version);
	if ((rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "unrecording migration %04d", version);
	else if (sqlite3_changes(s->db) == 0)
		r = store__set_err(st, SDB_ENOTFOUND, "migration %04d is not recorded as applied",
		                   version);
	sqlite3_finalize(stmt);
	return r;
}

static int sq_is_empty(struct store *st, int *empty)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt = NULL;
	int rc, r;

	*empty = 0;
	if ((r = prepare_once(s,
	                      "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type IN ('table', "
	                      "'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\')",
	                      &stmt, "reading the schema")) != 0)
		return r;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*empty = sqlite3_column_int(stmt, 0) == 0;
	else
		r = store__sqlite_err(s, rc, "reading the schema");
	sqlite3_finalize(stmt);
	return r;
}

/* ---- jobs ----------------------------------------------------------------- */

static int sq_job_insert(struct store *st, const struct store_job_new *j, int64_t *id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int b = 0, r;

	if ((r = store__sqlite_stmt(s, SQ_JOB_INSERT,
	                            "INSERT INTO jobs (id, kind, source, status, args, worker_id,"
	                            " created_at, timeout_at, forced)"
	                            " VALUES ((SELECT max(last_id, coalesce((SELECT max(id)"
	                            " FROM jobs), 0)) + 1 FROM job_id_high_water),"
	                            " ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
	                            &stmt)) != 0)
		return r;
	b |= bind_text(stmt, 1, store_job_kind_name(j->kind));
	b |= bind_text(stmt, 2, j->source);
	b |= bind_text(stmt, 3, store_job_status_name(j->status));
	b |= bind_text(stmt, 4, j->args);
	b |= bind_text(stmt, 5, j->worker_id);
	b |= sqlite3_bind_int64(stmt, 6, j->created_at);
	b |= bind_time(stmt, 7, j->timeout_at);
	b |= sqlite3_bind_int(stmt, 8, j->forced ? 1 : 0);
	if (b)
		return bind_failed(s, stmt, "creating the job");
	return step_returning_id(s, stmt, "creating the job", id);
}

static int sq_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	char what[64];
	int b = 0, r;

	snprintf(what, sizeof(what), "updating the progress of job %lld", (long long)id);
	if ((r = store__sqlite_stmt(s, SQ_JOB_PROGRESS,
	                            "UPDATE jobs SET progress = ?2, timeout_at = ?3 WHERE id = ?1",
	                            &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, id);
	b |= sqlite3_bind_int(stmt, 2, progress);
	b |= bind_time(stmt, 3, timeout_at);
	if (b)
		return bind_failed(s, stmt, what);
	if ((r = step_done(s, stmt, what)) != 0)
		return r;
	if (sqlite3_changes(s->db) == 0)
		return store__set_err(st, SDB_ENOTFOUND, "no job with id %lld", (long long)id);
	return 0;
}

/* The unforced job other than `self` that holds `hash`. */
static int job_holding_hash(struct store_sqlite *s, const char *hash, int64_t self, int64_t *id)
{
	sqlite3_stmt *stmt;
	int rc, r;

	if ((r = store__sqlite_stmt(s, SQ_JOB_BY_HASH_ANY,
	                            "SELECT id FROM jobs WHERE content_hash = ?1 AND forced = 0"
	                            " AND status = 'completed' AND id <> ?2 ORDER BY id LIMIT 1",
	                            &stmt)) != 0)
		return r;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, self);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = SDB_ENOTFOUND;
	} else {
		r = store__sqlite_err(s, rc, "looking up the job with content hash %.12s", hash);
	}
	store__sqlite_done(stmt);
	return r;
}

static int sq_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                         int64_t *existing_id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int64_t other = 0;
	char what[64];
	int b = 0, rc, r;

	snprintf(what, sizeof(what), "finishing job %lld", (long long)id);
	if ((r = store__sqlite_stmt(s, SQ_JOB_FINISH,
	                            "UPDATE jobs SET status = ?2, error = ?3, scanner = ?4,"
	                            " scanner_version = ?5, args = coalesce(?6, args),"
	                            " content_hash = ?7, probed_scope = ?8, started_at = ?9,"
	                            " completed_at = ?10, elapsed = ?11, hosts_up = ?12,"
	                            " hosts_down = ?13, hosts_total = ?14, ports_open = ?15,"
	                            " partial = ?16, progress = CASE WHEN ?2 = 'completed' THEN 100"
	                            " ELSE progress END"
	                            " WHERE id = ?1",
	                            &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, id);
	b |= bind_text(stmt, 2, store_job_status_name(f->status));
	b |= bind_text(stmt, 3, f->error);
	b |= bind_text(stmt, 4, f->scanner);
	b |= bind_text(stmt, 5, f->scanner_version);
	b |= bind_text(stmt, 6, f->args);
	b |= bind_text(stmt, 7, f->content_hash);
	b |= bind_text(stmt, 8, f->probed_scope);
	b |= bind_time(stmt, 9, f->started_at);
	b |= bind_time(stmt, 10, f->completed_at);
	b |= f->elapsed >= 0 ? sqlite3_bind_double(stmt, 11, f->elapsed)
	                     : sqlite3_bind_null(stmt, 11);
	b |= bind_opt(stmt, 12, f->hosts_up);
	b |= bind_opt(stmt, 13, f->hosts_down);
	b |= bind_opt(stmt, 14, f->hosts_total);
	b |= bind_opt(stmt, 15, f->ports_open);
	b |= sqlite3_bind_int(stmt, 16, f->partial != 0);
	if (b)
		return bind_failed(s, stmt, what);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		store__sqlite_done(stmt);
		if (sqlite3_changes(s->db) == 0)
			return store__set_err(st, SDB_ENOTFOUND, "no job with id %lld",
			                      (long long)id);
		return 0;
	}
	if (rc != SQLITE_CONSTRAINT_UNIQUE || !f->content_hash) {
		r = store__sqlite_err(s, rc, "%s", what);
		store__sqlite_done(stmt);
		return r;
	}
	/* Only jobs_content_hash is unique here: the same content is already
	 * held by another unforced job.  The failed UPDATE was undone on its
	 * own; the transaction is still usable. */
	store__sqlite_done(stmt);
	if ((r = job_holding_hash(s, f->content_hash, id, &other)) != 0) {
		if (r == SDB_ENOTFOUND)
			r = store__set_err(st, SDB_ECONSTRAINT,
			                   "%s: content hash %.12s is already taken, but no job "
			                   "holding it was found",
			                   what, f->content_hash);
		return r;
	}
	if (existing_id)
		*existing_id = other;
	return store__set_err(st, SDB_EEXISTS, "the same content was already stored as job %lld",
	                      (long long)other);
}

static int sq_job_find_by_hash(struct store *st, const char *hash, int64_t *id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int rc, r;

	*id = 0;
	if ((r = store__sqlite_stmt(s, SQ_JOB_BY_HASH_DONE,
	                            "SELECT id FROM jobs WHERE content_hash = ?1 AND forced = 0"
	                            " AND status = 'completed' ORDER BY id LIMIT 1",
	                            &stmt)) != 0)
		return r;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(stmt, 0);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = store__set_err(st, SDB_ENOTFOUND, "no completed job with content hash %.12s",
		                   hash);
	} else {
		r = store__sqlite_err(s, rc, "looking up content hash %.12s", hash);
	}
	store__sqlite_done(stmt);
	return r;
}

/* ---- the reaper's write (store_int.h jobs_fail) -------------------------- */

static int sq_jobs_fail(struct store *st, const struct store__stale_job *v, size_t n, int64_t now,
                        int *count)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int r;

	*count = 0;
	if ((r = sq_tx_begin(st, 0)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if ((r = store__sqlite_stmt(s, SQ_JOB_FAIL,
		                            "UPDATE jobs SET status = 'failed', error = ?2"
		                            " WHERE id = ?1 AND status = 'running'"
		                            " AND (?3 = 0 OR timeout_at < ?4)",
		                            &stmt)) != 0)
			goto fail;
		sqlite3_bind_int64(stmt, 1, v[i].id);
		sqlite3_bind_text(stmt, 2, v[i].why, -1, SQLITE_STATIC);
		sqlite3_bind_int(stmt, 3, v[i].timed_out);
		sqlite3_bind_int64(stmt, 4, now);
		if ((r = step_done(s, stmt, "reaping stale jobs: marking a job failed")) != 0)
			goto fail;
		*count += sqlite3_changes(s->db);
	}
	if ((r = sq_tx_commit(st)) == 0)
		return 0;
fail:
	sq_tx_rollback(st);
	*count = 0;
	return r;
}

/* ---- hosts and what was seen of them ------------------------------------ */

/* The host's "current" fields follow the newest observation by scan time,
 * so importing an old file after a new one does not roll them back.  One
 * SET clause, V(col) naming the new value: excluded.col in the upsert, the
 * bound parameter in the update by id (a host the history just loaded). */
/* clang-format off */
#define NEW_EXCLUDED(col) "excluded." #col
#define NEW_PARAM(col) NEW_PARAM_##col
#define NEW_PARAM_status "?4"
#define NEW_PARAM_mac "?5"
#define NEW_PARAM_mac_vendor "?6"
#define NEW_PARAM_hostnames "coalesce(?7, '[]')"
#define NEW_PARAM_os_name "?8"
#define NEW_PARAM_os_accuracy "?9"
#define NEW_PARAM_first_seen "?10"
#define NEW_PARAM_last_seen "?10"
#define NEW_PARAM_last_job_id "?11"
#define NEWER_THAN_STORED(V) V(last_seen) " >= hosts.last_seen"
#define HOST_MERGE_SET(V) \
	" status = CASE WHEN " NEWER_THAN_STORED(V) " AND (" V(status) " = 'up'" \
	"  OR " V(status) " = 'down' OR (hosts.status <> 'up' AND hosts.status <> 'down'))" \
	"  THEN " V(status) " ELSE hosts.status END," \
	" mac = CASE WHEN " NEWER_THAN_STORED(V) " AND " V(mac) " IS NOT NULL" \
	"  THEN " V(mac) " ELSE hosts.mac END," \
	" mac_vendor = CASE WHEN " NEWER_THAN_STORED(V) " AND " V(mac) " IS NOT NULL" \
	"  THEN " V(mac_vendor) " ELSE hosts.mac_vendor END," \
	" hostnames = CASE WHEN " NEWER_THAN_STORED(V) " AND " V(hostnames) " <> '[]'" \
	"  THEN " V(hostnames) " ELSE hosts.hostnames END," \
	" os_name = CASE WHEN " NEWER_THAN_STORED(V) " AND " V(os_name) " IS NOT NULL" \
	"  THEN " V(os_name) " ELSE hosts.os_name END," \
	" os_accuracy = CASE WHEN " NEWER_THAN_STORED(V) " AND " V(os_name) " IS NOT NULL" \
	"  THEN " V(os_accuracy) " ELSE hosts.os_accuracy END," \
	" last_job_id = CASE WHEN " NEWER_THAN_STORED(V) " THEN " V(last_job_id) \
	"  ELSE hosts.last_job_id END," \
	" first_seen = CASE WHEN " V(first_seen) " = 0 THEN hosts.first_seen" \
	"  WHEN hosts.first_seen = 0 THEN " V(first_seen) \
	"  ELSE min(hosts.first_seen, " V(first_seen) ") END," \
	" last_seen = max(hosts.last_seen, " V(last_seen) ")"
/* clang-format on */

static const char sql_host_upsert[] =
    "INSERT INTO hosts (addr, addr_key, family, status, mac, mac_vendor, hostnames,"
    " os_name, os_accuracy, first_seen, last_seen, last_job_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, coalesce(?7, '[]'), ?8, ?9, ?10, ?10, ?11)"
    " ON CONFLICT (addr) DO UPDATE SET" HOST_MERGE_SET(NEW_EXCLUDED) " RETURNING id";

/* (?1-?3 are the upsert's, unused here.) */
static const char sql_host_update[] =
    "UPDATE hosts SET" HOST_MERGE_SET(NEW_PARAM) " WHERE id = ?12 AND ?1 IS NOT NULL"
                                                 " AND ?2 IS NOT NULL AND ?3 IS NOT NULL";

static int sq_host_upsert(struct store *st, int64_t job_id, int64_t seen_at,
                          const struct rec_host *h, int64_t *host_id)
{
	struct store_sqlite *s = store__sqlite(st);
	unsigned char key[16];
	sqlite3_stmt *stmt;
	char *names = NULL;
	int64_t hinted;
	int family, b = 0, rc = SQLITE_OK, r;

	if (addr_parse(h->addr, NULL, &family, key) != 0)
		return store__set_err(st, SDB_EPARSE, "host address '%s' is not an IP address",
		                      h->addr);
	if ((r = store__hostnames_json(&s->base, h, &names)) != 0)
		return r;
	/* the host the history just loaded: updated by id, no search by address */
	hinted = s->hint_id > 0 && strcmp(s->hint_addr, h->addr) == 0 ? s->hint_id : 0;
	s->hint_id = 0;
	r = hinted ? store__sqlite_stmt(s, SQ_HOST_UPDATE, sql_host_update, &stmt)
	           : store__sqlite_stmt(s, SQ_HOST_UPSERT, sql_host_upsert, &stmt);
	if (r != 0)
		goto out;
	b |= bind_text(stmt, 1, h->addr);
	b |= sqlite3_bind_blob(stmt, 2, key, sizeof(key), SQLITE_STATIC);
	b |= sqlite3_bind_int(stmt, 3, family);
	b |= bind_text(stmt, 4, rec_host_status_name(h->status));
	b |= bind_text(stmt, 5, h->mac);
	b |= bind_text(stmt, 6, h->mac ? h->mac_vendor : NULL);
	b |= bind_text(stmt, 7, names);
	b |= bind_text(stmt, 8, h->has_os ? h->os.name : NULL);
	b |= bind_opt(stmt, 9, h->has_os && h->os.name ? h->os.accuracy : -1);
	b |= sqlite3_bind_int64(stmt, 10, seen_at);
	b |= sqlite3_bind_int64(stmt, 11, job_id);
	if (hinted) {
		b |= sqlite3_bind_int64(stmt, 12, hinted);
		if (!b && (rc = sqlite3_step(stmt)) == SQLITE_DONE) {
			if (sqlite3_changes(s->db) != 1)
				rc = SQLITE_NOTFOUND; /* under the write lock: cannot be */
			*host_id = hinted;
		}
	} else if (!b && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*host_id = sqlite3_column_int64(stmt, 0);
		rc = sqlite3_step(stmt);
	}
	if (b || rc != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc, "storing host %s",
		                      h->addr);
	store__sqlite_done(stmt);
out:
	free(names);
	return r;
}

static int sq_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
                               const struct rec_host *h, const char *state)
{
	struct store_sqlite *s = store__sqlite(st);
	const struct rec_os *os = h->has_os ? &h->os : NULL;
	sqlite3_stmt *stmt;
	char *names = NULL, *osm = NULL;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__hostnames_json(&s->base, h, &names)) != 0 ||
	    (r = store__osmatches_json(&s->base, h, &osm)) != 0)
		goto out;
	if ((r = store__sqlite_stmt(
	         s, SQ_HOST_SCAN_INSERT,
	         "INSERT INTO host_scans (job_id, host_id, status, reason,"
	         " reason_ttl, starttime, endtime, scanned_at, mac, mac_vendor,"
	         " hostnames, os_name, os_accuracy, os_vendor, os_family, os_gen,"
	         " os_type, os_cpe, uptime, lastboot, distance, os_matches, state)"
	         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
	         " coalesce(?11, '[]'), ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
	         " ?20, ?21, ?22, ?23)",
	         &stmt)) != 0)
		goto out;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= sqlite3_bind_int64(stmt, 2, host_id);
	b |= bind_text(stmt, 3, rec_host_status_name(h->status));
	b |= bind_text(stmt, 4, h->reason);
	b |= bind_opt(stmt, 5, h->reason_ttl);
	b |= bind_time(stmt, 6, h->starttime);
	b |= bind_time(stmt, 7, h->endtime);
	b |= sqlite3_bind_int64(stmt, 8, seen_at);
	b |= bind_text(stmt, 9, h->mac);
	b |= bind_text(stmt, 10, h->mac_vendor);
	b |= bind_text(stmt, 11, names);
	b |= bind_text(stmt, 12, os ? os->name : NULL);
	b |= bind_opt(stmt, 13, os ? os->accuracy : -1);
	b |= bind_text(stmt, 14, os ? os->vendor : NULL);
	b |= bind_text(stmt, 15, os ? os->family : NULL);
	b |= bind_text(stmt, 16, os ? os->gen : NULL);
	b |= bind_text(stmt, 17, os ? os->type : NULL);
	b |= bind_text(stmt, 18, os ? os->cpe : NULL);
	b |= bind_opt(stmt, 19, h->uptime_seconds);
	b |= bind_text(stmt, 20, h->lastboot);
	b |= bind_opt(stmt, 21, h->distance);
	b |= bind_text(stmt, 22, osm);
	b |= bind_text(stmt, 23, state);
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing what job %lld saw of host %s", (long long)job_id,
		                      h->addr);
	store__sqlite_done(stmt);
out:
	free(names);
	free(osm);
	return r;
}

static int sq_port_insert(struct store *st, int64_t job_id, int64_t host_id,
                          const struct rec_port *p)
{
	struct store_sqlite *s = store__sqlite(st);
	const struct rec_service *sv = p->has_service ? &p->service : NULL;
	sqlite3_stmt *stmt;
	char *cpe = NULL;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__cpes_json(&s->base, p, &cpe)) != 0)
		return r;
	if ((r = store__sqlite_stmt(s, SQ_PORT_INSERT,
	                            "INSERT INTO ports (job_id, host_id, protocol, port, state,"
	                            " reason, reason_ttl, service, product, version, extrainfo,"
	                            " ostype, method, conf, tunnel, cpe)"
	                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	                            " ?13, ?14, ?15, ?16)",
	                            &stmt)) != 0)
		goto out;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= sqlite3_bind_int64(stmt, 2, host_id);
	b |= bind_text(stmt, 3, rec_proto_name(p->proto));
	b |= sqlite3_bind_int(stmt, 4, p->port);
	b |= bind_text(stmt, 5, rec_port_state_name(p->state));
	b |= bind_text(stmt, 6, p->reason);
	b |= bind_opt(stmt, 7, p->reason_ttl);
	b |= bind_text(stmt, 8, sv ? sv->name : NULL);
	b |= bind_text(stmt, 9, sv ? sv->product : NULL);
	b |= bind_text(stmt, 10, sv ? sv->version : NULL);
	b |= bind_text(stmt, 11, sv ? sv->extrainfo : NULL);
	b |= bind_text(stmt, 12, sv ? sv->ostype : NULL);
	b |= bind_text(stmt, 13, sv ? sv->method : NULL);
	b |= bind_opt(stmt, 14, sv ? sv->conf : -1);
	b |= bind_text(stmt, 15, sv ? sv->tunnel : NULL);
	b |= bind_text(stmt, 16, cpe);
	/* The message is built only on failure: this is the hot path. */
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing port %d/%s of host %lld in job %lld", p->port,
		                      rec_proto_name(p->proto), (long long)host_id,
		                      (long long)job_id);
	store__sqlite_done(stmt);
out:
	free(cpe);
	return r;
}

static int sq_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                                const struct rec_extraports *e)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__sqlite_stmt(
	         s, SQ_EXTRAPORTS_INSERT,
	         "INSERT INTO extraports (job_id, host_id, state, count, reasons)"
	         " VALUES (?1, ?2, ?3, ?4, ?5)",
	         &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= sqlite3_bind_int64(stmt, 2, host_id);
	b |= bind_text(stmt, 3, rec_port_state_name(e->state));
	b |= sqlite3_bind_int64(stmt, 4, e->count);
	b |= bind_text(stmt, 5, e->reasons);
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing extraports (%s) of host %lld in job %lld",
		                      rec_port_state_name(e->state), (long long)host_id,
		                      (long long)job_id);
	store__sqlite_done(stmt);
	return r;
}

static int sq_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                            const struct rec_port *port, const struct rec_script *sc)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__sqlite_stmt(s, SQ_SCRIPT_INSERT,
	                            "INSERT INTO scripts (job_id, host_id, protocol, port,"
	                            " script_id, output) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                            &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= sqlite3_bind_int64(stmt, 2, host_id);
	b |= bind_text(stmt, 3, port ? rec_proto_name(port->proto) : NULL);
	b |= port ? sqlite3_bind_int(stmt, 4, port->port) : sqlite3_bind_null(stmt, 4);
	b |= bind_text(stmt, 5, sc->id);
	b |= bind_text(stmt, 6, sc->output ? sc->output : "");
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing script %.64s of host %lld in job %lld", sc->id,
		                      (long long)host_id, (long long)job_id);
	store__sqlite_done(stmt);
	return r;
}

static int sq_run_script_insert(struct store *st, int64_t job_id, int post, int seq,
                                const struct rec_script *sc)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__sqlite_stmt(
	         s, SQ_RUN_SCRIPT_INSERT,
	         "INSERT INTO run_scripts (job_id, phase, seq, script_id, output)"
	         " VALUES (?1, ?2, ?3, ?4, ?5)",
	         &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= bind_text(stmt, 2, post ? "post" : "pre");
	b |= sqlite3_bind_int(stmt, 3, seq);
	b |= bind_text(stmt, 4, sc->id);
	b |= bind_text(stmt, 5, sc->output ? sc->output : "");
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing %s-scan script %.64s of job %lld",
		                      post ? "post" : "pre", sc->id, (long long)job_id);
	store__sqlite_done(stmt);
	return r;
}

/* ---- the ops table --------------------------------------------------------- */

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .migrations = store_sqlite_migrations,
    .nmigrations = &store_sqlite_nmigrations,
    .open = sq_open,
    .close = sq_close,
    .tx_begin = sq_tx_begin,
    .tx_commit = sq_tx_commit,
    .tx_rollback = sq_tx_rollback,
    .migrate_lock = NULL, /* the IMMEDIATE transaction is the lock */
    .exec_script = sq_exec_script,
    .migrations_table = sq_migrations_table,
    .migrations_applied = sq_migrations_applied,
    .migration_record = sq_migration_record,
    .migration_unrecord = sq_migration_unrecord,
    .is_empty = sq_is_empty,
    .table_exists = sq_table_exists,
    .open_mode = sq_open_mode,
    .is_readonly = sq_is_readonly,
    .job_insert = sq_job_insert,
    .job_progress = sq_job_progress,
    .job_finish = sq_job_finish,
    .host_upsert = sq_host_upsert,
    .host_scan_insert = sq_host_scan_insert,
    .port_insert = sq_port_insert,
    .extraports_insert = sq_extraports_insert,
    .script_insert = sq_script_insert,
    .run_script_insert = sq_run_script_insert,
    .run_scripts = store__sqlite_run_scripts,
    .jobs_fail = sq_jobs_fail,
    .job_find_by_hash = sq_job_find_by_hash,
    .history_load = store__sqlite_history_load,
    .port_state_save = store__sqlite_port_state_save,
    .event_insert = store__sqlite_event_insert,
    .history_scan_list = store__sqlite_history_scan_list,
    .history_scans = store__sqlite_history_scans,
    .history_forget = store__sqlite_history_forget,
    .history_states = store__sqlite_history_states,
    .history_states_put = store__sqlite_history_states_put,
    .events_each = store__sqlite_events_each,
    .hosts_each = store__sqlite_hosts_each,
    .jobs_each = store__sqlite_jobs_each,
    .job_get = store__sqlite_job_get,
    /* findings (store_sqlite_findings.c) */
    .findings_of_host = store__sqlite_findings_of_host,
    .finding_upsert = store__sqlite_finding_upsert,
    .finding_set_status = store__sqlite_finding_set_status,
    .findings_each = store__sqlite_findings_each,
    /* operations (store_sqlite_admin.c) */
    .query_int = store__sqlite_query_int,
    .query_text = store__sqlite_query_text,
    .exec_params = store__sqlite_exec_params,
    .ping = store__sqlite_ping,
    .stats = store__sqlite_stats,
    .doctor = store__sqlite_doctor,
    .doctor_privileges = NULL, /* no roles or grants in a file */
    .backup = store__sqlite_backup,
    .restore_open = store__sqlite_restore_open,
    .restore_verify = store__sqlite_restore_verify,
    .restore_apply = store__sqlite_restore_apply,
    .restore_close = store__sqlite_restore_close,
};
