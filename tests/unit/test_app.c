/*
 * test_app.c - the use cases of src/app/ called as a front door other than
 * the CLI would call them: no cli/ code, a store opened here, an observer
 * that counts what it is told.  Import one file (imported, duplicate,
 * forced, failures, the --partial second reading, warnings told once, the
 * progress observer), the import order (and the scan times it keeps for
 * the imports), the job writer's checkpoint document (app/checkpoint.h),
 * an error told through the store handle (store_set_error), run one scan
 * (with stand-in nmap scripts: completed, nmap failing, stopped, warnings
 * that leave no host), and this process's identity.  SQLite only: the use
 * cases are the same code on both backends, whose contract the store suite
 * checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/checkpoint.h"
#include "app/import.h"
#include "app/process.h"
#include "app/scan.h"
#include "core/error.h"
#include "store/store.h"
#include "testutil.h"

struct fixture {
	char *dir;
	struct store *st;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char path[4096], err[512];

	assert_non_null(fx);
	fx->dir = tu_mkdtemp("app");
	assert_non_null(fx->dir);
	snprintf(path, sizeof(path), "%s/scandb.sqlite", fx->dir);
	assert_int_equal(store_open(path, &fx->st, err, sizeof(err)), 0);
	assert_int_equal(store_ensure_ready(fx->st), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	store_close(fx->st);
	tu_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* Write `text` to dir/name; returns the malloc'ed path. */
static char *write_file(const char *dir, const char *name, const char *text, int mode)
{
	char *p = tu_path(dir, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(p, (mode_t)mode), 0);
	return p;
}

/* ---- import ------------------------------------------------------------- */

struct import_seen {
	int begins, ends, progress, committing, warnings, retries;
	int method_warnings; /* of them: about the service method */
	long last_hosts;
	uint64_t last_bytes, size;
	char warning[512];
};

static void seen_begin(void *ctx)
{
	((struct import_seen *)ctx)->begins++;
}

static void seen_progress(void *ctx, const struct app_import_progress *p)
{
	struct import_seen *s = ctx;

	s->progress++;
	s->committing += p->committing;
	s->last_hosts = p->hosts;
	s->last_bytes = p->bytes;
	s->size = p->size;
}

static void seen_end(void *ctx)
{
	((struct import_seen *)ctx)->ends++;
}

static void seen_warning(void *ctx, const char *msg)
{
	struct import_seen *s = ctx;

	s->warnings++;
	s->method_warnings += strstr(msg, "unknown service method") != NULL;
	snprintf(s->warning, sizeof(s->warning), "%s", msg);
}

static void seen_retrying(void *ctx, const char *error, int attempt, int attempts)
{
	(void)error;
	(void)attempt;
	(void)attempts;
	((struct import_seen *)ctx)->retries++;
}

static struct app_import_observer observer(struct import_seen *s)
{
	return (struct app_import_observer){.ctx = s,
	                                    .begin = seen_begin,
	                                    .progress = seen_progress,
	                                    .end = seen_end,
	                                    .warning = seen_warning,
	                                    .retrying = seen_retrying};
}

static void test_import_dedup_and_force(void **state)
{
	struct fixture *fx = *state;
	struct import_seen seen = {0};
	struct app_import_observer obs = observer(&seen);
	struct app_import_opts o = {.obs = &obs};
	struct app_import_result res;
	char *path = tu_path(tu_nmap_data_dir(), "simple.xml");
	int64_t first;

	assert_int_equal(app_import_file(fx->st, path, &o, &res), APP_IMPORT_IMPORTED);
	assert_int_equal(res.status, APP_IMPORT_IMPORTED);
	assert_true(res.job_id > 0);
	assert_int_equal(res.stats.hosts, 1);
	assert_int_equal(res.stats.ports, 2);
	assert_int_equal(res.stats.ports_open, 1);
	/* the observer saw one reading, its bytes and hosts, and the commit */
	assert_int_equal(seen.begins, 1);
	assert_int_equal(seen.ends, 1);
	assert_int_equal(seen.committing, 1);
	assert_true(seen.progress >= 2);
	assert_int_equal(seen.last_hosts, 1);
	assert_true(seen.size > 0);
	assert_int_equal(seen.last_bytes, seen.size);
	assert_int_equal(seen.warnings, 0);
	first = res.job_id;

	/* the same content again: the stored job, nothing new */
	assert_int_equal(app_import_file(fx->st, path, &o, &res), APP_IMPORT_DUPLICATE);
	assert_int_equal(res.job_id, first);
	assert_int_equal(res.code, SDB_EEXISTS);
	/* forced: a new job; and no observer at all is fine */
	o.force = 1;
	o.obs = NULL;
	assert_int_equal(app_import_file(fx->st, path, &o, &res), APP_IMPORT_IMPORTED);
	assert_true(res.job_id > first);
	free(path);
}

static void test_import_failures_store_nothing(void **state)
{
	struct fixture *fx = *state;
	struct app_import_opts o = {.truncated_hint = "HINT"};
	struct app_import_result res;
	struct store_job *j = NULL;
	char *bad;

	assert_int_equal(app_import_file(fx->st, "/nonexistent/scan.xml", &o, &res),
	                 APP_IMPORT_FAILED);
	assert_non_null(strstr(res.error, "/nonexistent/scan.xml: cannot open: "));
	assert_int_equal(app_import_file(fx->st, fx->dir, &o, &res), APP_IMPORT_FAILED);
	assert_non_null(strstr(res.error, ": is a directory"));
	bad = write_file(fx->dir, "bad.xml", "<nmaprun><host>", 0644);
	assert_int_equal(app_import_file(fx->st, bad, &o, &res), APP_IMPORT_FAILED);
	/* the parser's message, with the caller's hint for a cut-off file */
	assert_non_null(strstr(res.error, bad));
	assert_int_equal(res.job_id, 0);
	/* no job of any attempt is left */
	assert_int_equal(store_job_get(fx->st, 1, &j), SDB_ENOTFOUND);
	free(bad);
}

/* simple.xml with a value the parser warns about, cut off after its host */
static char *cut_off_with_warning(const char *dir)
{
	size_t len;
	char *text = tu_read_nmap_sample("simple.xml", &len), *end, *path, *m;

	assert_non_null((m = strstr(text, "method=\"table\"")));
	memcpy(m, "method=\"xxxxx\"", 14);
	assert_non_null((end = strstr(text, "</host>")));
	end[strlen("</host>\n")] = '\0';
	path = write_file(dir, "cut.xml", text, 0644);
	free(text);
	return path;
}

static void test_import_partial_reads_again_warns_once(void **state)
{
	struct fixture *fx = *state;
	struct import_seen seen = {0};
	struct app_import_observer obs = observer(&seen);
	struct app_import_opts o = {.obs = &obs, .truncated_hint = "HINT"};
	struct app_import_result res;
	char *path = cut_off_with_warning(fx->dir);

	/* whole scans only: refused, with the hint, nothing stored */
	assert_int_equal(app_import_file(fx->st, path, &o, &res), APP_IMPORT_FAILED);
	assert_non_null(strstr(res.error, "HINT"));
	assert_int_equal(seen.warnings, 1);
	/* --partial: read whole first, then again as partial; warned once */
	memset(&seen, 0, sizeof(seen));
	o.partial = 1;
	assert_int_equal(app_import_file(fx->st, path, &o, &res), APP_IMPORT_IMPORTED);
	assert_int_equal(res.stats.partial, 1);
	assert_int_equal(res.stats.truncated, 1);
	assert_int_equal(res.stats.hosts, 1);
	assert_int_equal(seen.begins, 2);
	assert_int_equal(seen.ends, 2);
	/* the method's warning once (not again on the second reading), and
	 * the partial reading's own: "the file ends before </nmaprun>" */
	assert_int_equal(seen.method_warnings, 1);
	assert_int_equal(seen.warnings, 2);
	assert_non_null(strstr(seen.warning, "cut off"));
	assert_int_equal(seen.retries, 0);
	free(path);
}

static void test_import_order_oldest_first(void **state)
{
	struct fixture *fx = *state;
	const char *data = tu_nmap_data_dir();
	/* start times: os 1247268183 < simple 1247268210 < complex 1247269633 */
	char *complex = tu_path(data, "complex.xml"), *simple = tu_path(data, "simple.xml"),
	     *os = tu_path(data, "os.xml");
	const char *files[] = {complex, "-", "/nonexistent.xml", simple, os};
	const char *again[] = {simple, os};
	struct app_import_time times[5], one = {7, 7};
	struct import_seen seen = {0};
	const struct app_import_observer obs = observer(&seen);
	struct app_import_opts o = {.obs = &obs};
	struct app_import_result res;

	memset(times, 0x5a, sizeof(times));
	assert_int_equal(app_import_order(files, times, 5), 0);
	/* the dated files take their places (0, 3, 4) in time order; the
	 * unreadable one keeps its place; standard input goes last */
	assert_string_equal(files[0], os);
	assert_string_equal(files[1], "/nonexistent.xml");
	assert_string_equal(files[2], simple);
	assert_string_equal(files[3], complex);
	assert_string_equal(files[4], "-");
	/* each file's scan time, as read, goes with it: not read again by its
	 * import; standard input was not read */
	assert_int_equal(times[0].read, 1);
	assert_int_equal(times[0].start, 1247268183);
	assert_int_equal(times[1].read, 1);
	assert_int_equal(times[1].start, 0);
	assert_int_equal(times[2].read, 1);
	assert_int_equal(times[2].start, 1247268210);
	assert_int_equal(times[3].read, 1);
	assert_int_equal(times[3].start, 1247269633);
	assert_int_equal(times[4].read, 0);
	/* without times, the same order */
	assert_int_equal(app_import_order(again, NULL, 2), 0);
	assert_string_equal(again[0], os);
	assert_string_equal(again[1], simple);
	/* one file: nothing read, its import reads it */
	assert_int_equal(app_import_order(again, &one, 1), 0);
	assert_int_equal(one.read, 0);
	/* the imports take the times with them */
	for (int i = 0; i < 4; i++) {
		o.time = &times[i];
		assert_int_equal(app_import_file(fx->st, files[i], &o, &res),
		                 i == 1 ? APP_IMPORT_FAILED : APP_IMPORT_IMPORTED);
	}
	free(complex);
	free(simple);
	free(os);
}

/* ---- the job writer's checkpoint document -------------------------------- */

static void test_checkpoint_round_trip(void **state)
{
	struct ev_host h, back;
	struct ev_port p = {.proto = REC_PROTO_TCP,
	                    .port = 22,
	                    .state = REC_PORT_OPEN,
	                    .reason = "syn-ack",
	                    .service = "ssh",
	                    .product = "OpenSSH",
	                    .job_id = 3,
	                    .seen_at = 1000,
	                    .first_seen = 900};
	char *doc = NULL;

	(void)state;
	ev_host_init(&h);
	ev_host_init(&back);
	h.known = 1;
	h.status = REC_HOST_UP;
	h.job_id = 3;
	h.at = 1000;
	assert_non_null(h.os = strdup("Linux"));
	assert_int_equal(ev_host_put_port(&h, &p), 0);
	p.proto = REC_PROTO_UDP;
	p.port = 53;
	p.state = REC_PORT_CLOSED;
	p.service = NULL;
	assert_int_equal(ev_host_put_port(&h, &p), 0);
	assert_int_equal(ev_host_put_script(&h, REC_PROTO_TCP, 22, "ssh-hostkey", "key", 3), 0);
	assert_int_equal(ev_host_put_script(&h, -1, -1, "smb-os-discovery", "Windows", 2), 0);
	assert_int_equal(checkpoint_doc(&h, &doc), 0);
	assert_non_null(doc);
	assert_int_equal(checkpoint_read(doc, &back), 0);
	assert_int_equal(ev_host_same(&h, &back), 1);
	assert_int_equal(back.nports, 2);
	assert_string_equal(back.ports[0].reason, "syn-ack");
	assert_int_equal(back.ports[0].seen_at, 1000);
	assert_int_equal(back.ports[0].first_seen, 0); /* not kept: see checkpoint.h */
	assert_null(back.mac);
	ev_host_free(&back);
	free(doc);
	ev_host_free(&h);
}

static void test_checkpoint_refuses_what_is_not_one(void **state)
{
	static const char *const bad[] = {
	    "not json",
	    "[]",
	    "{\"status\": \"up\", \"job\": 1, \"at\": 2, \"ports\": []}",
	    "{\"status\": \"sideways\", \"job\": 1, \"at\": 2, \"ports\": [], \"scripts\": []}",
	    "{\"status\": \"up\", \"job\": 1, \"at\": 2, \"os\": 5, \"ports\": [], "
	    "\"scripts\": []}",
	    "{\"status\": \"up\", \"job\": 1, \"at\": 2, \"ports\": [[\"tcp\", 70000, \"open\", "
	    "1, 2, null, null, null, null, null, null, null]], \"scripts\": []}",
	    "{\"status\": \"up\", \"job\": 1, \"at\": 2, \"ports\": [[\"tcp\", 22, \"open\", "
	    "1, 2, null, null, null, null, null, null, null]], \"scripts\": [[null, -1, null, "
	    "\"out\", 1]]}",
	};
	struct ev_host h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		ev_host_init(&h);
		assert_int_equal(checkpoint_read(bad[i], &h), SDB_EDB);
		/* nothing half-read is left */
		assert_int_equal(h.nports, 0);
		assert_int_equal(h.nscripts, 0);
		assert_null(h.os);
		ev_host_free(&h);
	}
}

/* ---- an error told through the store handle ------------------------------ */

static void test_store_set_error(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(
	    store_set_error(fx->st, SDB_EDB, "%s: scan %lld came out of order", "192.0.2.1", 42LL),
	    SDB_EDB);
	assert_string_equal(store_errmsg(fx->st), "192.0.2.1: scan 42 came out of order");
}

/* ---- scan --------------------------------------------------------------- */

struct scan_seen {
	int started, begins, ends, warnings, stop_after; /* stop(): after N asks */
	int asked;
	int64_t job_id;
	char cmdline[512], warning[512];
};

static void scan_started(void *ctx, int64_t job_id, const char *cmdline)
{
	struct scan_seen *s = ctx;

	s->started++;
	s->job_id = job_id;
	snprintf(s->cmdline, sizeof(s->cmdline), "%s", cmdline);
}

static int scan_stop(void *ctx)
{
	struct scan_seen *s = ctx;

	return s->stop_after && ++s->asked >= s->stop_after ? 15 : 0;
}

static void scan_begin(void *ctx)
{
	((struct scan_seen *)ctx)->begins++;
}

static void scan_end(void *ctx)
{
	((struct scan_seen *)ctx)->ends++;
}

static void scan_warning(void *ctx, int64_t job_id, const char *line, size_t len)
{
	struct scan_seen *s = ctx;

	assert_int_equal(job_id, s->job_id);
	s->warnings++;
	snprintf(s->warning, sizeof(s->warning), "%.*s", (int)len, line);
}

/* Run a stand-in nmap (a shell script with `body`) through app_scan_run. */
static enum app_scan_outcome scan_with(struct fixture *fx, const char *body, struct scan_seen *seen,
                                       struct app_scan_result *res)
{
	const struct app_scan_observer obs = {.ctx = seen,
	                                      .started = scan_started,
	                                      .stop = scan_stop,
	                                      .begin = scan_begin,
	                                      .end = scan_end,
	                                      .nmap_warning = scan_warning};
	char *args[] = {"-sT", "192.0.2.1"};
	char script[8192];
	char *nmap;
	struct app_scan_opts o = {.args = args, .nargs = 2, .obs = &obs};
	enum app_scan_outcome oc;

	snprintf(script, sizeof(script), "#!/bin/sh\n%s\n", body);
	nmap = write_file(fx->dir, "nmap", script, 0755);
	o.nmap = nmap;
	oc = app_scan_run(fx->st, &o, res);
	assert_int_equal(oc, res->outcome);
	free(nmap);
	return oc;
}

static void test_scan_completed(void **state)
{
	struct fixture *fx = *state;
	struct scan_seen seen = {0};
	struct app_scan_result res;
	struct store_job *j = NULL;
	char body[4096];

	snprintf(body, sizeof(body), "cat '%s/simple.xml'", tu_nmap_data_dir());
	assert_int_equal(scan_with(fx, body, &seen, &res), APP_SCAN_COMPLETED);
	assert_true(res.job_id > 0);
	assert_int_equal(seen.started, 1);
	assert_int_equal(seen.job_id, res.job_id);
	assert_non_null(strstr(seen.cmdline, "-sT 192.0.2.1"));
	assert_int_equal(seen.begins, 1);
	assert_int_equal(seen.ends, 1);
	assert_int_equal(res.stats.hosts, 1);
	assert_int_equal(res.stats.ports_open, 1);
	assert_int_equal(res.unmarked, 0);
	assert_int_equal(store_job_get(fx->st, res.job_id, &j), 0);
	assert_string_equal(j->status, "completed");
	assert_string_equal(j->worker_id, app_process_worker_id());
	store_job_free(j);
}

static void test_scan_failures_mark_the_job(void **state)
{
	struct fixture *fx = *state;
	struct scan_seen seen = {0};
	struct app_scan_result res;
	struct store_job *j = NULL;

	/* nmap fails: its status and stderr are the job's error */
	assert_int_equal(scan_with(fx, "echo 'bad option' >&2; exit 3", &seen, &res),
	                 APP_SCAN_FAILED);
	assert_string_equal(res.error, "nmap exited with status 3: bad option");
	assert_int_equal(store_job_get(fx->st, res.job_id, &j), 0);
	assert_string_equal(j->status, "failed");
	assert_string_equal(j->error, res.error);
	store_job_free(j);

	/* warnings and nothing scanned: failed, each line told */
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(scan_with(fx,
	                           "echo 'Failed to resolve \"x.invalid\".' >&2\n"
	                           "echo '<?xml version=\"1.0\"?><nmaprun scanner=\"nmap\">"
	                           "<runstats><finished time=\"1\"/><hosts up=\"0\" down=\"0\" "
	                           "total=\"0\"/></runstats></nmaprun>'",
	                           &seen, &res),
	                 APP_SCAN_NO_HOST);
	assert_int_equal(seen.warnings, 1);
	assert_string_equal(seen.warning, "Failed to resolve \"x.invalid\".");
	assert_non_null(strstr(res.error, "nmap scanned no host: Failed to resolve"));

	/* stopped by the observer: nmap killed, the job failed */
	memset(&seen, 0, sizeof(seen));
	seen.stop_after = 1;
	assert_int_equal(scan_with(fx, "sleep 30", &seen, &res), APP_SCAN_STOPPED);
	assert_string_equal(res.error, "interrupted by signal 15; nmap was stopped");
	assert_int_equal(seen.ends, 1);
	assert_int_equal(store_job_get(fx->st, res.job_id, &j), 0);
	assert_string_equal(j->status, "failed");
	store_job_free(j);
}

static void test_scan_refused_args(void **state)
{
	char *ok[] = {"-sT", "-p", "22", "h"};
	char *ox[] = {"-sT", "-oX", "f"};
	char *oa[] = {"-oAbase", "h"};
	char *se[] = {"h", "--stats-every", "1s"};

	(void)state;
	assert_null(app_scan_refused_arg(ok, 4));
	assert_string_equal(app_scan_refused_arg(ox, 3), "-oX");
	assert_string_equal(app_scan_refused_arg(oa, 2), "-oAbase");
	assert_string_equal(app_scan_refused_arg(se, 3), "--stats-every");
}

/* ---- process identity --------------------------------------------------- */

static void test_process_identity(void **state)
{
	char want[512], host[256] = "";

	(void)state;
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	assert_string_equal(app_process_hostname(), host);
	snprintf(want, sizeof(want), "%s:%ld", host, (long)getpid());
	assert_string_equal(app_process_worker_id(), want);
	/* the one the scan's job row carries */
	assert_ptr_equal(app_process_worker_id(), app_process_worker_id());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_import_dedup_and_force, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_failures_store_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_import_partial_reads_again_warns_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_import_order_oldest_first, setup, teardown),
	    cmocka_unit_test(test_checkpoint_round_trip),
	    cmocka_unit_test(test_checkpoint_refuses_what_is_not_one),
	    cmocka_unit_test_setup_teardown(test_store_set_error, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_completed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_failures_mark_the_job, setup, teardown),
	    cmocka_unit_test(test_scan_refused_args),
	    cmocka_unit_test(test_process_identity),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
