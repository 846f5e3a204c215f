/*
 * contract.h - the storage contract suite's shared fixture and helpers
 * (defined in contract.c) and its groups of tests, one per area file
 * (contract_*.c), which test_store_contract.c runs as one cmocka group.
 * The suite includes store.h and job_writer.h only, never a backend
 * header, so the same program runs against SQLite and PostgreSQL.
 * Not part of scandb; linked into test_store_contract only.
 */
#ifndef SDB_TESTS_CONTRACT_H
#define SDB_TESTS_CONTRACT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/record.h"
#include "core/timeutil.h"
#include "app/job_writer.h"
#include "app/process.h"
#include "store/store.h"
#include "testutil.h"

/* One area's tests (contract_<name>.c); test_store_contract.c runs them all. */
struct contract_group {
	const char *name;
	const struct CMUnitTest *tests;
	size_t n;
};

extern const struct contract_group contract_migrate;
extern const struct contract_group contract_jobs;
extern const struct contract_group contract_hosts;
extern const struct contract_group contract_values;
extern const struct contract_group contract_history;
extern const struct contract_group contract_history_order;
extern const struct contract_group contract_ops;
extern const struct contract_group contract_tags;

/* ---- per-test database ------------------------------------------------------ */

struct fixture {
	char *dir; /* scratch dir (SQLite default), or NULL */
	char target[4096];
	struct store *st;
};

/* Open `target` or fail the test with the store's reason. */
struct store *open_store(const char *target);

/* Fail with the handle's message when r != want. */
#define assert_rc(st, r, want)                                                                     \
	do {                                                                                       \
		int r_ = (r), w_ = (want);                                                         \
		if (r_ != w_)                                                                      \
			print_error("%s:%d: got %d (%s), want %d (%s); store says: %s\n",          \
			            __FILE__, __LINE__, r_, sdb_strerror(r_), w_,                  \
			            sdb_strerror(w_), store_errmsg(st));                           \
		assert_int_equal(r_, w_);                                                          \
	} while (0)

#define assert_ok(st, r) assert_rc(st, r, 0)

/* A fresh, empty database (no tables); not yet opened by the fixture. */
int setup_raw(void **state);

/* A fresh database, opened and made ready (bootstrapped). */
int setup(void **state);
int teardown(void **state);

/* ---- record builders -------------------------------------------------------- */

struct rec_host host_rec(const char *addr, enum rec_host_status s, int64_t start);
struct rec_port port_rec(enum rec_proto proto, int port, enum rec_port_state s,
                         const char *service);

/* One job: feed run_begin, scaninfo, hosts, run_end, then commit. */
struct job_spec {
	const char *source;
	int64_t start;
	const struct rec_host *hosts;
	size_t nhosts;
	const char *hash; /* content hash or NULL */
	int forced;
};

/*
 * Write a job through the job writer exactly as an importer does.  Returns
 * the first error (a sink callback's or commit's) after aborting.
 */
int write_job(struct store *st, const struct job_spec *js, int64_t *job_id, int64_t *existing);

/* ---- reading back ------------------------------------------------------------ */

struct store_host_filter any_filter(void);

struct host_list {
	struct store_host **v;
	size_t n;
};

void host_list_free(struct host_list *l);
struct host_list get_hosts(struct store *st, const struct store_host_filter *f);
size_t count_hosts_f(struct store *st, const struct store_host_filter *f);
size_t count_hosts(struct store *st);

struct job_list {
	struct store_job **v;
	size_t n;
};

int collect_job(void *ctx, struct store_job *j);
void job_list_free(struct job_list *l);
struct job_list get_jobs(struct store *st, const char *status);
size_t count_jobs(struct store *st, const char *status);

/* The one host with address `addr` in view `job_id` (0 = latest), or NULL. */
struct store_host *get_host(struct store *st, const char *addr, int64_t job_id);
const struct store_port *find_port(const struct store_host *h, const char *proto, int port);

/* The hosts `f` selects are exactly `want` (addresses joined with ","). */
void assert_filter(struct store *st, const struct store_host_filter *f, const char *want,
                   const char *what);

/* Nothing at all is stored: no job (any status), no host. */
void assert_empty(struct store *st, const char *why);

/* ---- jobs written as running (the scan path) ---------------------------- */

/* A running scan job of `worker`, committed; returns its id. */
int64_t insert_running(struct store *st, const char *worker, int64_t created, int64_t timeout_at);
/* Job `id` has status `want` (a failed one has an error text). */
void assert_job_status(struct store *st, int64_t id, const char *want);

/* ---- history: change events and the current state (issue 4) ----------------- */

/* One scan of the history tests: its time, probed scope (scaninfo
 * services per protocol; NULL = that protocol not scanned) and hosts. */
struct hscan {
	int64_t start;
	const char *tcp, *udp;
	const struct rec_host *hosts;
	size_t nhosts;
};

/* job id -> scan time of every job a history test wrote (job ids differ
 * between import orders; times do not). */
struct job_times {
	int64_t id[64], at[64];
	size_t n;
};

/* Write one scan through the job writer as an importer does. */
int write_hscan(struct store *st, const struct hscan *s, int64_t *job_id, struct job_times *jt);
/* Write a scan of one host, failing the test on error; returns its job. */
int64_t hscan1(struct store *st, int64_t t, const char *tcp, const char *udp, struct rec_host h,
               struct job_times *jt);
struct rec_host hhost(const char *addr, enum rec_host_status s, const struct rec_port *p,
                      size_t np);
struct rec_port hport(enum rec_proto proto, int num, enum rec_port_state s);
struct rec_port hsvc(int num, const char *name, const char *product, const char *version);

struct ev_list {
	struct store_event **v;
	size_t n;
};

void ev_list_free(struct ev_list *l);
struct store_event_filter ev_filter(void);
struct ev_list get_events(struct store *st, const struct store_event_filter *f);
struct ev_list host_events(struct store *st, const char *addr);
void print_store_events(const struct ev_list *l);

#define NOCHECK (-12345) /* prev job not checked */

/* Event i is exactly this one (proto NULL and port -1: host-level). */
void check_sev(const struct ev_list *l, size_t i, const char *addr, const char *kind,
               const char *proto, int port, const char *detail, const char *old_value,
               const char *new_value, int64_t job, int64_t prev, int64_t at, int line);
#define CHECK_SEV(l, i, addr, kind, proto, port, detail, o, n, job, prev, at)                      \
	check_sev(l, i, addr, kind, proto, port, detail, o, n, job, prev, at, __LINE__)

#define assert_nev(l, want)                                                                        \
	do {                                                                                       \
		if ((l)->n != (size_t)(want)) {                                                    \
			print_error("%s:%d: %zu events, want %d:\n", __FILE__, __LINE__, (l)->n,   \
			            (int)(want));                                                  \
			print_store_events(l);                                                     \
		}                                                                                  \
		assert_int_equal((l)->n, (want));                                                  \
	} while (0)

/* A port of the current view: state and history. */
void check_state(struct store *st, const char *addr, const char *proto, int num, const char *state,
                 int64_t job, int64_t first, int64_t last, int64_t closed, int line);
#define CHECK_STATE(st, addr, proto, num, state, job, first, last, closed)                         \
	check_state(st, addr, proto, num, state, job, first, last, closed, __LINE__)

#define H0    1800000000
#define HT(n) (H0 + 86400 * (int64_t)(n))

#endif
