/*
 * sqlite_floor.c - what SQLite alone costs to store the port rows of an
 * import, without any parsing: the floor under `scandb import`'s storage.
 *
 *   sqlite_floor MIGRATION.sql HOSTS PORTS_PER_HOST MODE
 *
 * MODE "bare":   one WITHOUT ROWID table with the ports primary key only,
 *                no CHECKs, no foreign keys, no secondary index.
 * MODE "schema": the real schema (the migration file given), foreign_keys
 *                on, one job, HOSTS plain host rows, then every port row
 *                (state open, reason syn-ack) with the statement scandb uses.
 * Both: WAL, synchronous=FULL, one transaction, one prepared statement.
 * Prints the seconds spent from BEGIN to COMMIT.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *s;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		return NULL;
	if (!(s = malloc((size_t)n + 1)) || fread(s, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(s);
		return NULL;
	}
	s[n] = '\0';
	fclose(f);
	return s;
}

static void must(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "sqlite_floor: %s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *dbpath = "sqlite_floor.db";
	sqlite3 *db;
	sqlite3_stmt *hs, *ps;
	char *ddl;
	long hosts, per;
	int schema;
	double t0;

	if (argc != 5 || (strcmp(argv[4], "bare") != 0 && strcmp(argv[4], "schema") != 0)) {
		fprintf(stderr, "usage: %s MIGRATION.sql HOSTS PORTS_PER_HOST bare|schema\n",
		        argv[0]);
		return 2;
	}
	hosts = strtol(argv[2], NULL, 10);
	per = strtol(argv[3], NULL, 10);
	schema = strcmp(argv[4], "schema") == 0;
	remove(dbpath);
	remove("sqlite_floor.db-wal");
	remove("sqlite_floor.db-shm");
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	must(NULL, sqlite3_open(dbpath, &db), "open");
	must(db,
	     sqlite3_exec(db,
	                  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	                  "PRAGMA cache_size=-16000; PRAGMA foreign_keys=ON",
	                  NULL, NULL, NULL),
	     "pragmas");
	if (schema) {
		if (!(ddl = slurp(argv[1]))) {
			perror(argv[1]);
			return 1;
		}
		must(db, sqlite3_exec(db, ddl, NULL, NULL, NULL), "migration");
		free(ddl);
	} else {
		must(db,
		     sqlite3_exec(db,
		                  "CREATE TABLE hosts(id INTEGER PRIMARY KEY, addr TEXT);"
		                  "CREATE TABLE ports(job_id INTEGER NOT NULL, host_id INTEGER NOT "
		                  "NULL, protocol TEXT NOT NULL, port INTEGER NOT NULL, state TEXT "
		                  "NOT NULL, reason TEXT, reason_ttl INTEGER, PRIMARY KEY(job_id, "
		                  "host_id, protocol, port)) WITHOUT ROWID",
		                  NULL, NULL, NULL),
		     "bare table");
	}
	t0 = now();
	must(db, sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), "begin");
	if (schema)
		must(db,
		     sqlite3_exec(db,
		                  "INSERT INTO jobs(id, kind, source, status, created_at) "
		                  "VALUES (1, 'import', 'floor', 'running', 1)",
		                  NULL, NULL, NULL),
		     "job");
	must(db,
	     sqlite3_prepare_v2(db,
	                        schema ? "INSERT INTO hosts(id, addr, addr_key, family, status, "
	                                 "first_seen, last_seen) VALUES (?1, ?2, zeroblob(16), 4, "
	                                 "'up', 1, 1)"
	                               : "INSERT INTO hosts(id, addr) VALUES (?1, ?2)",
	                        -1, &hs, NULL),
	     "prepare hosts");
	must(db,
	     sqlite3_prepare_v2(db,
	                        "INSERT INTO ports(job_id, host_id, protocol, port, state, reason, "
	                        "reason_ttl) VALUES (1, ?1, 'tcp', ?2, ?3, 'syn-ack', 0)",
	                        -1, &ps, NULL),
	     "prepare ports");
	for (long h = 1; h <= hosts; h++) {
		char addr[32];
		snprintf(addr, sizeof(addr), "10.%ld.%ld.%ld", (h >> 16) & 255, (h >> 8) & 255,
		         h & 255);
		sqlite3_bind_int64(hs, 1, h);
		sqlite3_bind_text(hs, 2, addr, -1, SQLITE_TRANSIENT);
		must(db, sqlite3_step(hs), "host row");
		sqlite3_reset(hs);
		for (long p = 0; p < per; p++) {
			sqlite3_bind_int64(ps, 1, h);
			sqlite3_bind_int64(ps, 2, 18001 + p);
			/* like the benchmark scan: the last port of each host closed */
			sqlite3_bind_text(ps, 3, per > 1 && p == per - 1 ? "closed" : "open", -1,
			                  SQLITE_STATIC);
			must(db, sqlite3_step(ps), "port row");
			sqlite3_reset(ps);
		}
	}
	must(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
	printf("%.3f\n", now() - t0);
	sqlite3_finalize(hs);
	sqlite3_finalize(ps);
	sqlite3_close(db);
	remove(dbpath);
	remove("sqlite_floor.db-wal");
	remove("sqlite_floor.db-shm");
	return 0;
}
