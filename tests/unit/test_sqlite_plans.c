/*
 * test_sqlite_plans.c - "Indexes follow the questions": every hot query of
 * the SQLite backend is planned with EXPLAIN QUERY PLAN and must use the
 * access paths written next to it (ARCHITECTURE, "Each hot query's plan is
 * checked in a test").
 *
 * The SQL checked is the very text the program prepares, never a copy:
 *  - the read queries come from store__sqlite_hot_queries (sqlite/sqlite_int.h),
 *    the table sqlite/sqlite_query.c prepares its statements from; the test
 *    also checks that the statements the program cached were prepared from
 *    exactly those strings;
 *  - the job lookups and reaping statements of sqlite/sqlite_jobs.c are read back
 *    with sqlite3_sql() from the statement cache of a handle that has just
 *    run them (their expected plans are listed here, in sqlite_c_plans).
 *
 * The database is made the way the program makes one (store_open +
 * store_ensure_ready, then jobs through the job writer, a duplicate import,
 * a stale job reaped) and then opened with sqlite3 directly.  No ANALYZE:
 * the program does not run it, so the planner sees what it sees in use.
 *
 * The checker (plan_check) fails a plan when
 *  - an access path (a SEARCH, SCAN, temp b-tree or automatic index line)
 *    does not start with one of the query's expected fragments: a full scan,
 *    a sort or an index nobody asked for;
 *  - an expected fragment starts no access path: the planner stopped using
 *    an index (or the primary key prefix) the query was written for.
 * The last three cases prove the checker can fail: on plans written by hand,
 * on scratch copies of the database with each expected index dropped, and
 * on a query rewritten so that the planner picks another index.
 *
 * SHOW_PLANS=1 prints every plan; KEEP_TEST_DB=1 keeps the database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/addr.h"
#include "core/error.h"
#include "core/filter.h"
#include "core/record.h"
#include "core/timeutil.h"
#include "app/job_writer.h"
#include "app/process.h"
#include "store/store.h"
#include "store/sqlite/sqlite_int.h"
#include "testutil.h"

/* Size of the test database: realistic enough that every query returns rows
 * (the planner itself does not look at sizes without ANALYZE). */
#define NJOBS  3
#define NHOSTS 2000
#define NPORTS 10

/* ---- the statements of sqlite_jobs.c and their plans ------------------------- */

/*
 * sqlite/sqlite_jobs.c keeps these statements' text inline; the test reads it back
 * from the handle's statement cache after the fixture has run each of them.
 * Expected plans use the same fragments as store__sqlite_hot_queries.
 */
struct plan_spec {
	enum sq_stmt id;
	const char *name;
	const char *plan[STORE__SQLITE_PLAN_MAX];
};

static const struct plan_spec sqlite_c_plans[] = {
    /* import: is this content already stored?  The partial unique index. */
    {SQ_JOB_BY_HASH_DONE, "job_by_hash_done", {"SEARCH jobs USING INDEX jobs_content_hash"}},
    /* import of content already stored: who holds the hash we collided
     * with?  Only completed rows are in the unique index, so the query
     * says so and the partial index serves it. */
    {SQ_JOB_BY_HASH_ANY, "job_by_hash_any", {"SEARCH jobs USING INDEX jobs_content_hash"}},
    /* the reaper's write: one stale job, by id (which jobs are stale is
     * read with the jobs listing by status, a hot query) */
    {SQ_JOB_FAIL, "job_fail", {"SEARCH jobs USING INTEGER PRIMARY KEY (rowid=?)"}},
};

/* One query to check: name, the program's SQL, the expected fragments. */
struct checked {
	const char *name;
	char *sql; /* owned copy of the program's text (see above) */
	const char *const *plan;
};

/* ---- fixture: a database the program made --------------------------------- */

/* Every distinct statement the program ran in the fixture (sqlite3_sql of
 * each statement, from a trace on its connection): what the index check
 * plans. */
#define TRACED_MAX 512
struct traced {
	char *sql[TRACED_MAX];
	size_t n;
};

struct fixture {
	char *dir;
	char *path;
	struct checked q[SQ__COUNT];
	size_t nq;
	struct traced traced;
};

static int trace_stmt(unsigned type, void *ctx, void *p, void *x)
{
	struct traced *t = ctx;
	const char *sql;

	(void)x;
	if (type != SQLITE_TRACE_STMT || !(sql = sqlite3_sql((sqlite3_stmt *)p)))
		return 0;
	/* past the comments that head a migration's statements */
	for (;;) {
		sql += strspn(sql, " \t\r\n");
		if (strncmp(sql, "--", 2) != 0)
			break;
		sql += strcspn(sql, "\n");
	}
	/* Queries, and prune's temporary tables; not DDL or PRAGMAs.  Not
	 * the inserts into scandb's tables either: SQLite plans with each
	 * insert the foreign-key actions a REPLACE of a parent row would
	 * run, which never run (an INSERT INTO jobs lists a search of every
	 * table that references jobs); prune's inserts into its temporary
	 * tables (which nothing references) are its selections. */
	if (strncmp(sql, "SELECT", 6) != 0 && strncmp(sql, "UPDATE", 6) != 0 &&
	    strncmp(sql, "DELETE", 6) != 0 && strncmp(sql, "WITH", 4) != 0 &&
	    strncmp(sql, "INSERT INTO scandb_", 19) != 0 && strncmp(sql, "CREATE TEMP", 11) != 0)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->sql[i], sql) == 0)
			return 0;
	if (t->n < TRACED_MAX && (t->sql[t->n] = strdup(sql)) != NULL)
		t->n++;
	return 0;
}

static void trace(struct store *st, struct traced *t)
{
	sqlite3_trace_v2(store__sqlite(st)->db, SQLITE_TRACE_STMT, trace_stmt, t);
}

static struct store *open_store(const char *path)
{
	char err[512];
	struct store *st = NULL;
	int r = store_open(path, &st, err, sizeof(err));

	if (r != 0)
		print_error("store_open(%s) = %d (%s): %s\n", path, r, sdb_strerror(r), err);
	assert_int_equal(r, 0);
	return st;
}

#define assert_ok(st, expr)                                                                        \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		if (r_ != 0)                                                                       \
			print_error("%s:%d: %s = %d (%s): %s\n", __FILE__, __LINE__, #expr, r_,    \
			            sdb_strerror(r_), store_errmsg(st));                           \
		assert_int_equal(r_, 0);                                                           \
	} while (0)

/* Deterministic per-(job, host) choices. */
static unsigned mix(unsigned a, unsigned b)
{
	unsigned x = a * 2654435761u ^ (b + 0x9e3779b9u + (a << 6) + (a >> 2));

	x ^= x >> 15;
	x *= 2246822519u;
	x ^= x >> 13;
	return x;
}

static const int port_pool[] = {21,   22,   23,   25,   53,   80,    110,   111,  135,  139,
                                143,  443,  445,  993,  995,  1433,  3306,  3389, 5432, 5900,
                                6379, 8000, 8080, 8443, 9200, 11211, 27017, 31337};
static const char *const svc_pool[] = {"ftp", "ssh", "telnet", "smtp", "domain", "http", "pop3"};
static const char *const cpes[] = {"cpe:/a:example:thing:1.0"};

/*
 * Write job `j` (0-based) through the job writer exactly as an import does:
 * hosts [first, first + n), NPORTS ports each (some open with a service and
 * a script), one extraports line and a host script.  Returns commit's code
 * (SDB_EEXISTS for a duplicate hash); *job_id is the job's id.
 */
static int write_job(struct store *st, int j, int first, int n, const char *hash, int64_t *job_id)
{
	struct job_writer_opts o = {.kind = STORE_JOB_IMPORT, .source = "plans.xml"};
	struct rec_run run = {.scanner = "nmap",
	                      .args = "nmap -sV -oX plans.xml 10.0.0.0/16",
	                      .version = "7.94",
	                      .xmloutputversion = "1.05",
	                      .start = 1700000000 + (int64_t)j * 86400};
	struct rec_scaninfo si = {
	    .type = "syn", .proto = REC_PROTO_TCP, .numservices = 1000, .services = "1-1000"};
	struct rec_runstats rs = {.finished = 1,
	                          .end = run.start + 600,
	                          .elapsed = 600.0,
	                          .summary = "done",
	                          .exit = "success",
	                          .hosts_up = n,
	                          .hosts_down = 0,
	                          .hosts_total = n};
	const struct ingest_sink *sink;
	struct job_writer *w = NULL;
	int64_t existing = 0;
	int r;

	assert_ok(st, job_writer_begin(st, &o, &w));
	*job_id = job_writer_job_id(w);
	sink = job_writer_sink(w);
	assert_ok(st, sink->run_begin(sink->ctx, &run));
	assert_ok(st, sink->scaninfo(sink->ctx, &si));
	for (int k = first; k < first + n; k++) {
		char addr[32], name[64], banner[64];
		struct rec_port ports[NPORTS];
		struct rec_script port_script = {.id = "banner", .output = banner};
		struct rec_script host_script = {.id = "smb-os-discovery", .output = "OS: Unix"};
		struct rec_hostname hn = {.name = name, .type = "PTR"};
		struct rec_extraports ep = {
		    .state = REC_PORT_CLOSED, .count = 990, .reasons = "reset:990"};
		struct rec_host h = {.status = REC_HOST_UP,
		                     .reason = "syn-ack",
		                     .reason_ttl = 64,
		                     .starttime = run.start + k / 10,
		                     .endtime = run.start + k / 10 + 5,
		                     .addr = addr,
		                     .family = 4,
		                     .hostnames = &hn,
		                     .nhostnames = 1,
		                     .uptime_seconds = -1,
		                     .distance = 1,
		                     .extraports = &ep,
		                     .nextraports = 1,
		                     .ports = ports,
		                     .nports = NPORTS,
		                     .scripts = k % 7 == 0 ? &host_script : NULL,
		                     .nscripts = k % 7 == 0 ? 1 : 0};
		unsigned base = mix((unsigned)j, (unsigned)k);

		snprintf(addr, sizeof(addr), "10.0.%d.%d", k / 256, k % 256);
		snprintf(name, sizeof(name), "h%d.example.test", k);
		snprintf(banner, sizeof(banner), "SSH-2.0-OpenSSH_9.%u", base % 10);
		memset(ports, 0, sizeof(ports));
		/* NPORTS distinct ports: a window of the pool at a per-host offset. */
		for (int i = 0; i < NPORTS; i++) {
			struct rec_port *p = &ports[i];
			unsigned sel = mix(base, (unsigned)i);
			size_t pool = sizeof(port_pool) / sizeof(port_pool[0]);

			p->proto = REC_PROTO_TCP;
			p->port = port_pool[(base % pool + (unsigned)i) % pool];
			p->state = sel % 10 < 6   ? REC_PORT_OPEN
			           : sel % 10 < 9 ? REC_PORT_CLOSED
			                          : REC_PORT_FILTERED;
			p->reason = p->state == REC_PORT_OPEN ? "syn-ack" : "reset";
			p->reason_ttl = 64;
			if (p->state == REC_PORT_OPEN) {
				p->has_service = 1;
				p->service.name = svc_pool[sel % 7];
				p->service.product = "Example";
				p->service.version = "1.0";
				p->service.method = "probed";
				p->service.conf = 10;
				p->service.cpes = cpes;
				p->service.ncpes = 1;
				if (sel % 3 == 0) {
					p->scripts = &port_script;
					p->nscripts = 1;
				}
			}
		}
		/* the job writer wants ports in (protocol, port) order */
		for (int a = 1; a < NPORTS; a++)
			for (int b = a; b > 0 && ports[b - 1].port > ports[b].port; b--) {
				struct rec_port t = ports[b];
				ports[b] = ports[b - 1];
				ports[b - 1] = t;
			}
		assert_ok(st, sink->host(sink->ctx, &h));
	}
	assert_ok(st, sink->run_end(sink->ctx, &rs));
	r = job_writer_commit(w, hash, &existing);
	if (r != 0 && r != SDB_EEXISTS)
		print_error("commit of job %d: %d (%s): %s\n", j, r, sdb_strerror(r),
		            store_errmsg(st));
	job_writer_free(w);
	return r;
}

static int count_host(void *ctx, struct store_host *h)
{
	(*(size_t *)ctx)++;
	store_host_free(h);
	return 0;
}

static int count_event(void *ctx, struct store_event *e)
{
	(*(size_t *)ctx)++;
	store_event_free(e);
	return 0;
}

static int count_finding(void *ctx, struct store_finding *f)
{
	(*(size_t *)ctx)++;
	store_finding_free(f);
	return 0;
}

static int count_job(void *ctx, struct store_job *j)
{
	(*(size_t *)ctx)++;
	store_job_free(j);
	return 0;
}

/* A 64-hex content hash for job j. */
static void job_hash(int j, char out[65])
{
	for (int i = 0; i < 64; i++)
		out[i] = "0123456789abcdef"[(j * 7 + i) % 16];
	out[64] = '\0';
}

/* Run every hot statement once through store.h, so that each is in the
 * handle's statement cache. */
/* Listings with search terms the fixture runs; `index`: the index the
 * term's hot path must use in the statement the program prepared (marked
 * by `marker`, a piece of store_filter.c's SQL for it). */
static const struct {
	const char *expr;
	int64_t job;
	const char *marker, *index;
} search_exprs[] = {
    {"net:10.0.0.0/24", 0, "h.addr_key BETWEEN ?11 AND ?12", "hosts_addr_key"},
    {"tag:lab", 0, "FROM host_tags t WHERE t.tag = ?11", "host_tags_tag"},
    {"changed:>2000-01-01", 0, "e.at >= ?11", "host_events_host_at"},
    {"!tag:lab changed:>2000-01-01 port:22", 0, "FROM host_tags t", "host_tags_tag"},
    {"port:22 service:ssh or net:10.0.0.0/8", 2, "p.job_id = hs.job_id", NULL},
};

/* The listings of search_exprs, each a statement of its own (store_filter.c). */
static void exercise_search(struct store *st)
{
	for (size_t i = 0; i < sizeof(search_exprs) / sizeof(search_exprs[0]); i++) {
		struct store_host_filter f = STORE_HOST_FILTER_ANY;
		struct filter e;
		char err[FILTER_ERR_MAX];
		size_t n = 0;

		assert_int_equal(filter_parse_string(search_exprs[i].expr, time_now(), &e, err), 0);
		f.expr = &e;
		f.job_id = search_exprs[i].job;
		assert_ok(st, store_hosts_each(st, &f, count_host, &n));
		filter_free(&e);
	}
}
/* store_top_values() callback: count the values. */
static int count_value(void *ctx, const char *value, int64_t count)
{
	(void)value;
	*(int64_t *)ctx += count;
	return 0;
}

/* services --top: each field's GROUP BY, plain and with search terms (a
 * host term and the port terms it applies per row). */
static void exercise_top(struct store *st)
{
	for (int field = STORE_TOP_SERVICE; field <= STORE_TOP_CPE; field++) {
		struct store_host_filter f = STORE_HOST_FILTER_ANY;
		struct filter e;
		char err[FILTER_ERR_MAX];
		int64_t n = 0;

		assert_ok(st,
		          store_top_values(st, &f, (enum store_top_field)field, count_value, &n));
		assert_true(n > 0 || field == STORE_TOP_OS); /* the fixture has no OS */
		assert_int_equal(filter_parse_string("net:10.0.0.0/8 port:22", time_now(), &e, err),
		                 0);
		f.expr = &e;
		assert_ok(st,
		          store_top_values(st, &f, (enum store_top_field)field, count_value, &n));
		filter_free(&e);
	}
}
static void exercise_tags(struct store *st);

static void exercise(struct store *st)
{
	struct store_host_filter f = STORE_HOST_FILTER_ANY;
	struct store_job *job = NULL;
	struct store_job_new jn = {.kind = STORE_JOB_SCAN,
	                           .status = STORE_JOB_RUNNING,
	                           .source = "nmap",
	                           .args = "nmap 10.0.0.0/24"};
	char worker[300], hash[65];
	int64_t id = 0;
	size_t n = 0;
	int reaped = 0;
	pid_t pid;

	/* the latest view with a port filter, and one job's view */
	f.port = 22;
	assert_ok(st, store_hosts_each(st, &f, count_host, &n));
	assert_true(n > 0);
	f.port = -1;
	f.job_id = 2;
	n = 0;
	assert_ok(st, store_hosts_each(st, &f, count_host, &n));
	assert_int_equal(n, NHOSTS);
	exercise_search(st);
	exercise_top(st);
	/* findings (the rules file of setup raised some) */
	{
		struct store_finding_filter ff;

		memset(&ff, 0, sizeof(ff));
		n = 0;
		assert_ok(st, store_findings_each(st, &ff, count_finding, &n));
		assert_true(n > 0);
	}
	/* jobs */
	n = 0;
	assert_ok(st, store_jobs_each(st, NULL, count_job, &n));
	assert_int_equal(n, NJOBS);
	n = 0;
	assert_ok(st, store_jobs_each(st, "completed", count_job, &n));
	assert_int_equal(n, NJOBS);
	assert_ok(st, store_job_get(st, 1, &job));
	store_job_free(job);
	{
		struct store_script *rs = NULL;

		assert_ok(st, store_run_scripts(st, 1, 0, &rs, &n));
		assert_int_equal(n, 0);
		store_scripts_free(rs, n);
	}
	job_hash(0, hash);
	assert_ok(st, store_job_find_by_hash(st, hash, &id));
	assert_int_equal(id, 1);

	/* a running job whose worker is a process that has exited: reaped */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	snprintf(worker, sizeof(worker), "%s:%ld", app_process_hostname(), (long)pid);
	jn.worker_id = worker;
	jn.created_at = time_now();
	jn.timeout_at = jn.created_at + 3600;
	assert_ok(st, store_tx_begin(st));
	assert_ok(st, store_job_insert(st, &jn, &id));
	assert_ok(st, store_tx_commit(st));
	assert_ok(st, store_jobs_reap_stale(st, time_now(), app_process_hostname(), &reaped));
	assert_int_equal(reaped, 1);

	/* an older scan of some hosts arriving last: the history replay path
	 * (forget the host's events and port state, walk its scans) */
	{
		struct store_event_filter ef;

		job_hash(NJOBS + 5, hash);
		assert_int_equal(write_job(st, -1, 0, 3, hash, &id), 0);
		/* change events: across hosts since a time, and of one host */
		memset(&ef, 0, sizeof(ef));
		n = 0;
		assert_ok(st, store_events_each(st, &ef, count_event, &n));
		assert_true(n > 0);
		ef.addr = "10.0.0.1";
		n = 0;
		assert_ok(st, store_events_each(st, &ef, count_event, &n));
		assert_true(n > 0);
	}
	exercise_tags(st);
}

static int count_tag(void *ctx, const char *tag, int64_t hosts)
{
	(void)tag;
	(void)hosts;
	++*(size_t *)ctx;
	return 0;
}

static int count_host_tag(void *ctx, const char *tag, int64_t at, const char *author)
{
	(void)tag;
	(void)at;
	(void)author;
	++*(size_t *)ctx;
	return 0;
}

static int count_note(void *ctx, const struct store_note *nt)
{
	(void)nt;
	++*(size_t *)ctx;
	return 0;
}

/* Tags on a block and on one host, the tag counts, a host's tags and
 * notes, a note removed (store.h "tags and notes"). */
static void exercise_tags(struct store *st)
{
	unsigned char lo[16], hi[16];
	int64_t host_id = 0, note = 0, matched = 0;
	size_t n = 0;

	assert_int_equal(addr_cidr_parse("10.0.0.0/24", lo, hi), 0);
	assert_ok(st, store_tag_set(st, lo, hi, "web", 1, 1, "plans", &matched, NULL, NULL));
	assert_true(matched > 0);
	assert_ok(st, store_tag_set(st, lo, hi, "web", 0, 1, NULL, &matched, NULL, NULL));
	assert_ok(st, store_tag_set(st, lo, hi, "lab", 1, 1, NULL, &matched, NULL, NULL));
	assert_ok(st, store_tags_each(st, count_tag, &n));
	assert_int_equal(n, 1);
	assert_ok(st, store_host_id(st, "10.0.0.1", &host_id));
	n = 0;
	assert_ok(st, store_host_tags(st, host_id, count_host_tag, &n));
	assert_int_equal(n, 1);
	assert_ok(st, store_note_add(st, host_id, 1, "plans", "a note", &note));
	n = 0;
	assert_ok(st, store_host_notes(st, host_id, count_note, &n));
	assert_int_equal(n, 1);
	assert_ok(st, store_note_rm(st, note));
}

/* A prune of the jobs of the first day, on a copy of the database (the other tests
 * read the fixture as it is), traced like the rest. */
static void prune_copy(struct fixture *fx)
{
	struct store_prune_opts o = {.older_than = 1700000000 + 86400, .keep_last = 0};
	struct store_prune_result res;
	char *copy = tu_path(fx->dir, "pruned.db");
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b;
	struct store *st;

	assert_int_equal(sqlite3_open_v2(fx->path, &src, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_open(copy, &dst), SQLITE_OK);
	b = sqlite3_backup_init(dst, "main", src, "main");
	assert_non_null(b);
	assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
	assert_int_equal(sqlite3_backup_finish(b), SQLITE_OK);
	sqlite3_close(dst);
	sqlite3_close(src);
	st = open_store(copy);
	trace(st, &fx->traced);
	/* (whether a job goes or stays, its DELETE runs, and plans are what
	 * the test reads) */
	assert_ok(st, store_prune(st, &o, &res));
	store_prune_result_free(&res);
	store_close(st);
	free(copy);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	sqlite3_stmt *cached;
	struct store *st;
	char hash[65];
	int64_t id;

	assert_non_null(fx);
	fx->dir = tu_mkdtemp("plans");
	assert_non_null(fx->dir);
	fx->path = tu_path(fx->dir, "plans.db");
	{
		/* rules, so that imports raise findings (and run their queries) */
		char *rules = tu_path(fx->dir, "rules.conf");
		FILE *f = fopen(rules, "w");

		assert_non_null(f);
		fputs("port_opened * medium \"Port opened\"\n"
		      "port_closed * low \"Port closed\"\n"
		      "service_changed * low \"Service changed\"\n",
		      f);
		assert_int_equal(fclose(f), 0);
		assert_int_equal(setenv("SCANDB_RULES", rules, 1), 0);
		free(rules);
	}
	st = open_store(fx->path);
	trace(st, &fx->traced);
	assert_ok(st, store_ensure_ready(st));
	/* NJOBS jobs; the last one misses the first quarter of the hosts, so
	 * their latest job is an older one. */
	for (int j = 0; j < NJOBS; j++) {
		int first = j == NJOBS - 1 ? NHOSTS / 4 : 0;

		job_hash(j, hash);
		assert_int_equal(write_job(st, j, first, NHOSTS - first, hash, &id), 0);
	}
	/* the same content again: refused, which looks up the holder */
	job_hash(0, hash);
	assert_int_equal(write_job(st, 0, 0, 10, hash, &id), SDB_EEXISTS);
	exercise(st);

	/* The program's statements, from the handle's cache. */
	for (int i = 0; i < SQ__COUNT; i++) {
		const struct store__sqlite_query *q = &store__sqlite_hot_queries[i];

		if (!q->sql)
			continue;
		cached = store__sqlite(st)->stmt[i];
		if (!cached)
			print_error("hot query %s was not run by the fixture\n", q->name);
		assert_non_null(cached);
		/* prepared from the table's text: the table is what runs */
		assert_string_equal(sqlite3_sql(cached), q->sql);
		assert_true(fx->nq < SQ__COUNT);
		fx->q[fx->nq].name = q->name;
		fx->q[fx->nq].sql = strdup(q->sql);
		fx->q[fx->nq].plan = q->plan;
		assert_non_null(fx->q[fx->nq].sql);
		fx->nq++;
	}
	for (size_t i = 0; i < sizeof(sqlite_c_plans) / sizeof(sqlite_c_plans[0]); i++) {
		const struct plan_spec *p = &sqlite_c_plans[i];

		cached = store__sqlite(st)->stmt[p->id];
		if (!cached)
			print_error("statement %s was not run by the fixture\n", p->name);
		assert_non_null(cached);
		assert_true(fx->nq < SQ__COUNT);
		fx->q[fx->nq].name = p->name;
		fx->q[fx->nq].sql = strdup(sqlite3_sql(cached));
		fx->q[fx->nq].plan = p->plan;
		assert_non_null(fx->q[fx->nq].sql);
		fx->nq++;
	}
	store_close(st);
	prune_copy(fx);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	if (!fx)
		return 0;
	for (size_t i = 0; i < fx->nq; i++)
		free(fx->q[i].sql);
	for (size_t i = 0; i < fx->traced.n; i++)
		free(fx->traced.sql[i]);
	if (getenv("KEEP_TEST_DB"))
		fprintf(stderr, "kept %s\n", fx->path);
	else
		tu_rmtree(fx->dir);
	free(fx->path);
	free(fx->dir);
	free(fx);
	return 0;
}

/* ---- plans ------------------------------------------------------------------ */

#define PLAN_MAX 64

struct plan {
	size_t n;
	int id[PLAN_MAX];
	int parent[PLAN_MAX];
	char *detail[PLAN_MAX];
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->detail[i]);
	p->n = 0;
}

static int plan_get_quiet(sqlite3 *db, const char *sql, struct plan *p, int quiet);

/* EXPLAIN QUERY PLAN of `sql` on db, into *p. */
static int plan_get(sqlite3 *db, const char *sql, struct plan *p)
{
	return plan_get_quiet(db, sql, p, 0);
}

/* The same; quiet: a statement that cannot be planned says nothing. */
static int plan_get_quiet(sqlite3 *db, const char *sql, struct plan *p, int quiet)
{
	sqlite3_stmt *q = NULL;
	size_t len = strlen(sql) + 32;
	char *eqp = malloc(len);
	int rc;

	memset(p, 0, sizeof(*p));
	assert_non_null(eqp);
	snprintf(eqp, len, "EXPLAIN QUERY PLAN %s", sql);
	rc = sqlite3_prepare_v2(db, eqp, -1, &q, NULL);
	free(eqp);
	if (rc != SQLITE_OK) {
		if (!quiet)
			print_error("EXPLAIN QUERY PLAN failed: %s\n%s\n", sqlite3_errmsg(db), sql);
		return rc;
	}
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && p->n < PLAN_MAX) {
		p->id[p->n] = sqlite3_column_int(q, 0);
		p->parent[p->n] = sqlite3_column_int(q, 1);
		p->detail[p->n] = strdup((const char *)sqlite3_column_text(q, 3));
		assert_non_null(p->detail[p->n]);
		p->n++;
	}
	sqlite3_finalize(q);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

/* Print the plan as the sqlite3 shell does (indented by depth). */
static void plan_print(const char *name, const struct plan *p)
{
	print_message("plan of %s:\n", name);
	for (size_t i = 0; i < p->n; i++) {
		int depth = 0;

		for (int par = p->parent[i]; par != 0 && depth < 16; depth++) {
			size_t k = 0;
			while (k < p->n && p->id[k] != par)
				k++;
			par = k < p->n ? p->parent[k] : 0;
		}
		print_message("  %*s%s\n", depth * 3, "", p->detail[i]);
	}
}

/* An access path: how a table, subquery or sort is reached. */
static int is_access(const char *d)
{
	return strncmp(d, "SEARCH ", 7) == 0 || strncmp(d, "SCAN ", 5) == 0 ||
	       strstr(d, "TEMP B-TREE") != NULL || strstr(d, "AUTOMATIC") != NULL;
}

static int starts_with(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Check plan lines against the expected fragments.  Returns the number of
 * problems and describes the first few in why[] (may be NULL).
 */
static int plan_check(const char *const *detail, size_t n, const char *const *expect, char *why,
                      size_t whylen)
{
	int problems = 0;
	size_t used = 0;

	if (why && whylen)
		why[0] = '\0';
#define WHY(...)                                                                                   \
	do {                                                                                       \
		problems++;                                                                        \
		if (why && used < whylen)                                                          \
			used += (size_t)snprintf(why + used, whylen - used, __VA_ARGS__);          \
	} while (0)
	for (size_t i = 0; i < n; i++) {
		int ok = 0;

		if (!is_access(detail[i]))
			continue;
		/* An automatic (transient) index is only fine if asked for. */
		for (size_t k = 0; k < STORE__SQLITE_PLAN_MAX && expect[k] && !ok; k++)
			ok = starts_with(detail[i], expect[k]) &&
			     (!strstr(detail[i], "AUTOMATIC") || strstr(expect[k], "AUTOMATIC"));
		if (!ok)
			WHY("  unexpected access path: %s\n", detail[i]);
	}
	for (size_t k = 0; k < STORE__SQLITE_PLAN_MAX && expect[k]; k++) {
		int found = 0;

		for (size_t i = 0; i < n && !found; i++)
			found = is_access(detail[i]) && starts_with(detail[i], expect[k]);
		if (!found)
			WHY("  expected access path missing: %s\n", expect[k]);
	}
#undef WHY
	return problems;
}

/* What check_query prints about problems: nothing, a failure, or (for the
 * cases that expect problems) information. */
enum { CHECK_QUIET, CHECK_FAIL, CHECK_SHOW };

/* Plan one checked query on db; returns its number of problems.  With
 * $SHOW_PLANS set, every plan is printed. */
static int check_query(sqlite3 *db, const struct checked *c, int mode)
{
	struct plan p;
	char why[2048];
	int problems;

	if (plan_get(db, c->sql, &p) != 0)
		return 1;
	problems = plan_check((const char *const *)p.detail, p.n, c->plan, why, sizeof(why));
	if (mode == CHECK_FAIL && problems) {
		print_error("query %s: %d plan problem(s):\n%s", c->name, problems, why);
		plan_print(c->name, &p);
		print_message("sql: %s\n", c->sql);
	} else if (mode == CHECK_SHOW) {
		print_message("%s: %d plan problem(s) (expected)\n%s", c->name, problems, why);
	}
	if (getenv("SHOW_PLANS"))
		plan_print(c->name, &p);
	plan_free(&p);
	return problems;
}

static sqlite3 *open_db(const char *path)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);

	if (rc != SQLITE_OK)
		print_error("open %s: %s\n", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	assert_int_equal(rc, SQLITE_OK);
	return db;
}

/* ---- tests ---------------------------------------------------------------- */

/* What the planner is given is what the program leaves: no statistics. */
static void test_no_statistics(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = open_db(fx->path);
	sqlite3_stmt *q;

	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT count(*) FROM sqlite_master"
	                                    " WHERE name LIKE 'sqlite_stat%'",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* Every hot query uses the access paths written next to it. */
static void test_hot_query_plans(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = open_db(fx->path);
	int bad = 0;

	/* Every statement slot of sqlite_query.c is in the table, with
	 * a plan: a new query cannot skip this test. */
	for (int i = SQ_HOSTS_LATEST; i < SQ__COUNT; i++) {
		const struct store__sqlite_query *q = &store__sqlite_hot_queries[i];

		if (!q->sql || !q->plan[0])
			print_error("statement slot %d has no hot query entry with a plan\n", i);
		assert_non_null(q->sql);
		assert_non_null(q->plan[0]);
	}
	assert_true(fx->nq >= 13);
	for (size_t i = 0; i < fx->nq; i++)
		bad += check_query(db, &fx->q[i], CHECK_FAIL) != 0;
	sqlite3_close(db);
	assert_int_equal(bad, 0);
}

/* The checker itself, on plans written by hand. */
static void test_checker_rejects_bad_plans(void **state)
{
	static const char *const expect[STORE__SQLITE_PLAN_MAX] = {
	    "SEARCH h USING INDEX hosts_addr_key",
	    "SEARCH p USING PRIMARY KEY (job_id=? AND host_id=?)"};
	static const char *const good[] = {
	    "SEARCH h USING INDEX hosts_addr_key (addr_key>? AND addr_key<?)",
	    "CORRELATED SCALAR SUBQUERY 1", "SEARCH p USING PRIMARY KEY (job_id=? AND host_id=?)"};
	/* a full scan of hosts, sorted, instead of the index */
	static const char *const scan[] = {"SCAN h", "USE TEMP B-TREE FOR ORDER BY",
	                                   "CORRELATED SCALAR SUBQUERY 1",
	                                   "SEARCH p USING PRIMARY KEY (job_id=? AND host_id=?)"};
	/* only a prefix of the key: every port of the job, for each host */
	static const char *const prefix[] = {
	    "SEARCH h USING INDEX hosts_addr_key (addr_key>? AND addr_key<?)",
	    "CORRELATED SCALAR SUBQUERY 1", "SEARCH p USING PRIMARY KEY (job_id=?)"};
	/* another index than the one asked for */
	static const char *const other[] = {
	    "SEARCH h USING INDEX hosts_addr_key (addr_key>? AND addr_key<?)",
	    "SEARCH p USING PRIMARY KEY (job_id=? AND host_id=?)",
	    "SEARCH p USING INDEX ports_service (service=?)"};
	static const char *const autoidx[] = {
	    "SEARCH h USING INDEX hosts_addr_key (addr_key>? AND addr_key<?)",
	    "SEARCH p USING AUTOMATIC COVERING INDEX (job_id=? AND host_id=?)"};
	char why[1024];

	(void)state;
#define N(a) (sizeof(a) / sizeof((a)[0]))
	assert_int_equal(plan_check(good, N(good), expect, why, sizeof(why)), 0);
	assert_int_equal(plan_check(scan, N(scan), expect, why, sizeof(why)), 3);
	assert_non_null(strstr(why, "unexpected access path: SCAN h"));
	assert_non_null(strstr(why, "unexpected access path: USE TEMP B-TREE"));
	assert_non_null(strstr(why, "missing: SEARCH h USING INDEX hosts_addr_key"));
	assert_int_equal(plan_check(prefix, N(prefix), expect, why, sizeof(why)), 2);
	assert_non_null(
	    strstr(why, "unexpected access path: SEARCH p USING PRIMARY KEY (job_id=?)"));
	assert_int_equal(plan_check(other, N(other), expect, why, sizeof(why)), 1);
	assert_non_null(strstr(why, "ports_service"));
	assert_int_equal(plan_check(autoidx, N(autoidx), expect, why, sizeof(why)), 2);
	assert_non_null(strstr(why, "AUTOMATIC"));
#undef N
}

/* A scratch in-memory copy of the test database. */
static sqlite3 *scratch_copy(const char *path)
{
	sqlite3 *src = open_db(path), *dst = NULL;
	sqlite3_backup *b;

	assert_int_equal(sqlite3_open(":memory:", &dst), SQLITE_OK);
	b = sqlite3_backup_init(dst, "main", src, "main");
	assert_non_null(b);
	assert_int_equal(sqlite3_backup_step(b, -1), SQLITE_DONE);
	assert_int_equal(sqlite3_backup_finish(b), SQLITE_OK);
	sqlite3_close(src);
	return dst;
}

/* The name of the index a fragment asks for, into out[]; 0 if none. */
static int fragment_index(const char *frag, char *out, size_t len)
{
	const char *p = strstr(frag, "USING INDEX ");
	size_t n;

	if (p)
		p += strlen("USING INDEX ");
	else if ((p = strstr(frag, "USING COVERING INDEX ")) != NULL)
		p += strlen("USING COVERING INDEX ");
	else
		return 0;
	n = strcspn(p, " (");
	if (n == 0 || n >= len)
		return 0;
	memcpy(out, p, n);
	out[n] = '\0';
	return 1;
}

static int query_uses_index(const struct checked *c, const char *index)
{
	char name[128];

	for (size_t k = 0; k < STORE__SQLITE_PLAN_MAX && c->plan[k]; k++)
		if (fragment_index(c->plan[k], name, sizeof(name)) && strcmp(name, index) == 0)
			return 1;
	return 0;
}

/*
 * The checker fails when the schema loses an index: for every index some
 * query asks for, a scratch copy of the database without it must make each
 * of those queries fail the check (and the copy with it must pass).
 */
static void test_dropped_index_is_detected(void **state)
{
	struct fixture *fx = *state;
	const char *done[32];
	size_t ndone = 0, nqueries = 0;

	for (size_t i = 0; i < fx->nq; i++) {
		for (size_t k = 0; k < STORE__SQLITE_PLAN_MAX && fx->q[i].plan[k]; k++) {
			char index[128], sql[256];
			size_t d;
			sqlite3 *db;

			if (!fragment_index(fx->q[i].plan[k], index, sizeof(index)))
				continue;
			/* a UNIQUE constraint's own index cannot be dropped */
			if (strncmp(index, "sqlite_autoindex_", 17) == 0)
				continue;
			for (d = 0; d < ndone && strcmp(done[d], fx->q[i].plan[k]) != 0; d++)
				;
			if (d < ndone)
				continue;
			assert_true(ndone < sizeof(done) / sizeof(done[0]));
			done[ndone++] = fx->q[i].plan[k];

			db = scratch_copy(fx->path);
			snprintf(sql, sizeof(sql), "DROP INDEX \"%s\"", index);
			assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
			for (size_t j = 0; j < fx->nq; j++) {
				int problems;

				if (!query_uses_index(&fx->q[j], index))
					continue;
				print_message("without index %s: ", index);
				problems = check_query(db, &fx->q[j], CHECK_SHOW);
				if (problems == 0)
					print_error(
					    "dropping %s did not change the plan of %s: the "
					    "checker cannot see it\n",
					    index, fx->q[j].name);
				assert_true(problems > 0);
				nqueries++;
			}
			sqlite3_close(db);
		}
	}
	/* hosts_addr_key, scripts_job_host, jobs_status_created (three
	 * queries), jobs_content_hash */
	assert_true(ndone >= 4);
	assert_true(nqueries >= 6);
}

/* The checker fails when a query is rewritten so that the planner changes
 * its mind: without the unary + on h.addr_key, the events of a time range
 * are planned by address (hosts_addr_key, then each host's events)
 * instead of on host_events_at, the index the query was written for. */
static void test_rewritten_query_is_detected(void **state)
{
	struct fixture *fx = *state;
	const struct store__sqlite_query *hq = &store__sqlite_hot_queries[SQ_EVENTS_SINCE];
	struct checked c = {.name = "events_since without +h.addr_key", .plan = hq->plan};
	char *plus;
	sqlite3 *db = open_db(fx->path);

	c.sql = strdup(hq->sql);
	assert_non_null(c.sql);
	plus = strstr(c.sql, "+h.addr_key");
	assert_non_null(plus);
	*plus = ' ';
	assert_true(check_query(db, &c, CHECK_SHOW) > 0);
	free(c.sql);
	sqlite3_close(db);
}

/* ---- every index earns its place ---------------------------------------- */

/*
 * The indexes of db that no plan of the traced statements uses, into
 * unused[] (names, owned by the caller; at most max).  Unique indexes are
 * constraints (jobs_content_hash, the unique address and fingerprint,
 * targets_name): the database uses them on every insert, whatever any plan
 * says.  The plans include foreign-key actions (prune deleting jobs), so
 * db must have foreign_keys on.
 */
/* "SEARCH x USING [COVERING ]INDEX name (...)", name a whole word: a
 * lookup by the index's key (a SCAN through an index reads all of it). */
static int line_uses_index(const char *detail, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(detail, "SEARCH ", 7) != 0)
		return 0;

	for (const char *p = strstr(detail, "INDEX "); p; p = strstr(p + 1, "INDEX ")) {
		const char *w = p + 6;
		if (strncmp(w, name, n) == 0 && (w[n] == '\0' || w[n] == ' '))
			return 1;
	}
	return 0;
}

static size_t unused_indexes(sqlite3 *db, const struct traced *t, char **unused, size_t max)
{
	sqlite3_stmt *q = NULL;
	size_t n = 0;

	/* prune's temporary tables, for its statements to plan */
	for (size_t i = 0; i < t->n; i++)
		if (strncmp(t->sql[i], "CREATE TEMP TABLE", 17) == 0)
			sqlite3_exec(db, t->sql[i], NULL, NULL, NULL);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT name FROM sqlite_master WHERE type = 'index'"
	                                    " AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%'"
	                                    " ORDER BY name",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		int used = 0;

		for (size_t i = 0; i < t->n && !used; i++) {
			struct plan p;

			if (plan_get_quiet(db, t->sql[i], &p, 1) != 0)
				continue; /* a table the program dropped since */
			for (size_t k = 0; k < p.n && !used; k++)
				used = line_uses_index(p.detail[k], name);
			if (used && getenv("SHOW_PLANS"))
				print_message("index %s: used by %.120s\n", name, t->sql[i]);
			plan_free(&p);
		}
		if (!used && n < max)
			unused[n++] = strdup(name);
	}
	sqlite3_finalize(q);
	return n;
}

/* Every index of the schema is used by some statement the program ran:
 * an import with findings, the listings, the history replay, the findings
 * listing, reaping, prune.  One nobody uses costs every insert for
 * nothing (issue 18: ports_open and ports_service were 23 % of the file). */
static void test_every_index_is_used(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = scratch_copy(fx->path);
	char *unused[32];
	size_t n;

	assert_true(fx->traced.n >= 40);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
	n = unused_indexes(db, &fx->traced, unused, 32);
	for (size_t i = 0; i < n; i++) {
		print_error("index %s: no statement the program runs uses it\n", unused[i]);
		free(unused[i]);
	}
	assert_int_equal(n, 0);
	/* and the check sees an index nobody asked for */
	assert_int_equal(
	    sqlite3_exec(db, "CREATE INDEX ports_by_tunnel ON ports(tunnel)", NULL, NULL, NULL),
	    SQLITE_OK);
	n = unused_indexes(db, &fx->traced, unused, 32);
	assert_int_equal(n, 1);
	assert_string_equal(unused[0], "ports_by_tunnel");
	free(unused[0]);
	sqlite3_close(db);
}

/* Each search term's hot path uses its index (hosts_addr_key, host_tags_tag,
 * host_events_host_at), in the very statement the program prepared for it
 * (the traced text, with the term's bound placeholders). */
static void test_search_term_plans(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = open_db(fx->path);
	int bad = 0;

	for (size_t i = 0; i < sizeof(search_exprs) / sizeof(search_exprs[0]); i++) {
		const char *sql = NULL;
		struct plan p;
		int used = 0;

		if (!search_exprs[i].index)
			continue;
		for (size_t k = 0; k < fx->traced.n && !sql; k++)
			if (strstr(fx->traced.sql[k], search_exprs[i].marker) &&
			    strstr(fx->traced.sql[k], "FROM hosts h"))
				sql = fx->traced.sql[k];
		if (!sql)
			print_error("%s: no statement of the program holds %s\n",
			            search_exprs[i].expr, search_exprs[i].marker);
		assert_non_null(sql);
		assert_int_equal(plan_get(db, sql, &p), 0);
		for (size_t k = 0; k < p.n; k++)
			used |= line_uses_index(p.detail[k], search_exprs[i].index);
		if (!used || getenv("SHOW_PLANS"))
			plan_print(search_exprs[i].expr, &p);
		if (!used)
			print_error("%s: the plan does not use %s\n", search_exprs[i].expr,
			            search_exprs[i].index);
		bad += !used;
		plan_free(&p);
	}
	sqlite3_close(db);
	assert_int_equal(bad, 0);
}

/* services --top's GROUP BY walks the current state once, in hosts_addr_key:
 * each host's host_scans row and port_state document by key, the CPEs'
 * port rows by the ports key; no table is scanned whole, no index made. */
static void test_top_values_plans(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db = open_db(fx->path);
	size_t seen = 0;
	int bad = 0;

	for (size_t k = 0; k < fx->traced.n; k++) {
		const char *sql = fx->traced.sql[k];
		struct plan p;

		if (strncmp(sql, "WITH hh AS (", 12) != 0 || !strstr(sql, "GROUP BY 1"))
			continue;
		seen++;
		assert_int_equal(plan_get(db, sql, &p), 0);
		for (size_t i = 0; i < p.n; i++) {
			const char *d = p.detail[i];
			/* only the JSON arrays' elements are scanned (json_each) */
			if ((strncmp(d, "SCAN ", 5) == 0 && !strstr(d, " VIRTUAL TABLE")) ||
			    strstr(d, "AUTOMATIC")) {
				print_error("top values: %s\n", d);
				bad++;
			}
		}
		if (bad || getenv("SHOW_PLANS"))
			plan_print("top values", &p);
		plan_free(&p);
	}
	sqlite3_close(db);
	assert_int_equal(seen, 10);
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_statistics),
	    cmocka_unit_test(test_hot_query_plans),
	    cmocka_unit_test(test_checker_rejects_bad_plans),
	    cmocka_unit_test(test_dropped_index_is_detected),
	    cmocka_unit_test(test_rewritten_query_is_detected),
	    cmocka_unit_test(test_every_index_is_used),
	    cmocka_unit_test(test_search_term_plans),
	    cmocka_unit_test(test_top_values_plans),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
