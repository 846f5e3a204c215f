/*
 * scan.c - the use case "run one scan" (app/scan.h): runs nmap (no shell,
 * "-oX -" added) and stores its results as one job.  Holds: the job row
 * and its heartbeat, watching nmap's XML as it streams (validation and
 * progress, told to the observer), the spool, nmap's warnings, marking a
 * job failed, and storing the results through the job writer with retries.
 * Prints nothing; the job state machine is drawn in scan.h.
 *
 * nmap's XML is parsed as it streams (validation, progress) and spooled to
 * an unlinked temporary file; when nmap has finished, the spool goes
 * through the import path into the job in one transaction.  The write lock
 * is therefore held for the storing only, not for the whole scan, and
 * memory stays flat however big the scan.  With keep_xml, what nmap wrote
 * is also copied as it streams to that file (core/outfile.h: a temporary
 * name, renamed once nmap's output has ended).
 */
#include "app/scan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/job_retry.h"
#include "app/process.h"
#include "core/error.h"
#include "core/outfile.h"
#include "core/timeutil.h"
#include "ingest/nmap_xml.h"
#include "scan/nmap_run.h"

#define HEARTBEAT_S   2     /* progress/heartbeat interval */
#define JOB_TIMEOUT_S 120   /* a job with no heartbeat for this long is stale */
#define READ_MAX      65536 /* bytes of nmap's output read at once */
#define WARN_MAX      2048  /* bytes of nmap's warnings kept on the job */

struct scan_watch {
	long hosts;
	long hosts_total; /* nmap's runstats: hosts scanned, up or down; -1 absent */
	double percent;
	char task[64];
};

static int watch_host(void *ctx, const struct rec_host *h)
{
	struct scan_watch *sw = ctx;

	(void)h;
	sw->hosts++;
	return 0;
}

static int watch_run_end(void *ctx, const struct rec_runstats *rs)
{
	struct scan_watch *sw = ctx;

	sw->hosts_total = rs->hosts_total;
	return 0;
}

static int watch_progress(void *ctx, const char *task, double percent)
{
	struct scan_watch *sw = ctx;

	sw->percent = percent;
	snprintf(sw->task, sizeof(sw->task), "%s", task ? task : "");
	return 0;
}

/* One scan while it runs: what the steps of app_scan_run share. */
struct scan_run {
	struct store *st;
	const struct app_scan_observer *obs;
	struct app_scan_result *res;
	int64_t created;
	struct nmap_run nr;
	struct nmap_parser *np;
	struct scan_watch sw;
	FILE *spool;
	struct outfile keep; /* o->keep_xml, while keep.f */
	int eof;             /* nmap's output was read to its end */
	char *buf;           /* READ_MAX bytes */
	int parse_failed;
	int stopped; /* the signal number obs->stop() answered */
};

const char *app_scan_refused_arg(char *const *args, size_t nargs)
{
	for (size_t i = 0; i < nargs; i++)
		if (strncmp(args[i], "-oX", 3) == 0 || strncmp(args[i], "-oA", 3) == 0 ||
		    strcmp(args[i], "--stats-every") == 0)
			return args[i];
	return NULL;
}

int app_scan_find_nmap(char *path, size_t len)
{
	return nmap_run_find(path, len);
}

/* Mark the job failed with `error` (res->unmarked and mark_error when that
 * fails too) and return `outcome`. */
static enum app_scan_outcome store_failure(struct scan_run *s, const char *error,
                                           enum app_scan_outcome outcome)
{
	struct store_job_final f;
	int r;

	memset(&f, 0, sizeof(f));
	f.status = STORE_JOB_FAILED;
	f.error = error;
	f.started_at = s->created;
	f.elapsed = -1;
	f.hosts_up = f.hosts_down = f.hosts_total = -1;
	f.ports_open = -1;
	if ((r = store_tx_begin(s->st)) == 0) {
		if ((r = store_job_finish(s->st, s->res->job_id, &f, NULL)) == 0)
			r = store_tx_commit(s->st);
		else
			store_tx_rollback(s->st);
	}
	if (r != 0) {
		s->res->unmarked = 1;
		snprintf(s->res->mark_error, sizeof(s->res->mark_error), "%s", store_errmsg(s->st));
	}
	s->res->outcome = outcome;
	return outcome;
}

/* How often storing a scan's results is tried when its transaction is lost
 * to a transient failure (the spool file is read again each time). */
#define SCAN_STORE_ATTEMPTS 5

static int store_results_once(struct store *st, int64_t id, int fd, const char *warning, char *err,
                              size_t errlen, struct job_writer_stats *stats);

/* Parse the spooled XML into the job in one transaction, retried whole
 * (with backoff) while it fails with SDB_ETRANSIENT. */
static int store_results(struct store *st, const struct app_scan_observer *obs, int64_t id, int fd,
                         const char *warning, char *err, size_t errlen,
                         struct job_writer_stats *stats)
{
	int r;

	for (int attempt = 1;; attempt++) {
		r = store_results_once(st, id, fd, warning, err, errlen, stats);
		if (r != SDB_ETRANSIENT || attempt >= SCAN_STORE_ATTEMPTS)
			return r;
		if (obs->retrying)
			obs->retrying(obs->ctx, id, err, attempt + 1, SCAN_STORE_ATTEMPTS);
		retry_sleep(&app_job_retry, attempt - 1);
	}
}

static int store_results_once(struct store *st, int64_t id, int fd, const char *warning, char *err,
                              size_t errlen, struct job_writer_stats *stats)
{
	struct job_writer_opts o = {
	    .kind = STORE_JOB_SCAN, .source = "nmap", .existing_job_id = id, .warning = warning};
	struct job_writer *w = NULL;
	int r;

	if (lseek(fd, 0, SEEK_SET) != 0) {
		snprintf(err, errlen, "cannot rewind the spool file: %s", strerror(errno));
		return SDB_EIO;
	}
	if ((r = job_writer_begin(st, &o, &w)) != 0) {
		snprintf(err, errlen, "%s", store_errmsg(st));
		return r;
	}
	err[0] = '\0';
	r = nmap_xml_parse_fd(fd, "nmap output", job_writer_sink(w), NULL, NULL, err, errlen);
	if (r == 0)
		r = job_writer_commit(w, NULL, NULL);
	if (r != 0 && !err[0])
		snprintf(err, errlen, "%s", store_errmsg(st));
	if (r == 0)
		job_writer_stats(w, stats);
	job_writer_free(w);
	return r;
}

/* 1. The job row, committed on its own so it is visible while running. */
static int create_job(struct scan_run *s, const char *cmdline)
{
	struct store *st = s->st;
	struct store_job_new j = {
	    .kind = STORE_JOB_SCAN,
	    .status = STORE_JOB_RUNNING,
	    .source = "nmap",
	    .args = cmdline,
	    .worker_id = app_process_worker_id(),
	};
	int r;

	s->created = time_now();
	j.created_at = s->created;
	j.timeout_at = s->created + JOB_TIMEOUT_S;
	if ((r = store_tx_begin(st)) == 0) {
		if ((r = store_job_insert(st, &j, &s->res->job_id)) == 0)
			r = store_tx_commit(st);
		else
			store_tx_rollback(st);
	}
	if (r != 0)
		s->res->job_id = 0;
	return r;
}

/* Heartbeat: progress and a fresh timeout, in a small tx. */
static void heartbeat(struct scan_run *s)
{
	double pct_d = s->sw.percent;
	int pct = pct_d < 0 ? 0 : pct_d > 99 ? 99 : (int)pct_d;

	if (store_tx_begin(s->st) == 0) {
		if (store_job_progress(s->st, s->res->job_id, pct, time_now() + JOB_TIMEOUT_S) == 0)
			store_tx_commit(s->st);
		else
			store_tx_rollback(s->st);
	}
}

/* A copy of what nmap wrote into the kept file; a failure is told in
 * res->keep_error, and the copy stops (the scan goes on). */
static void keep_write(struct scan_run *s, size_t n)
{
	if (!s->keep.f)
		return;
	if (fwrite(s->buf, 1, n, s->keep.f) != n) {
		snprintf(s->res->keep_error, sizeof(s->res->keep_error), "cannot write %s: %s",
		         s->keep.path, strerror(errno));
		outfile_abort(&s->keep);
	}
}

/* The kept file published when nmap's output was read whole, else removed. */
static void keep_finish(struct scan_run *s)
{
	if (!s->keep.f)
		return;
	if (!s->eof || s->stopped)
		outfile_abort(&s->keep);
	else
		(void)outfile_commit(&s->keep, s->res->keep_error, sizeof(s->res->keep_error));
}

/* 2. Read nmap's output until it ends (or stop() answers): spool it,
 * validate it as it streams, tell the progress, beat the heart. */
static void watch_nmap(struct scan_run *s)
{
	const struct app_scan_observer *obs = s->obs;
	char *err = s->res->error;
	size_t errlen = sizeof(s->res->error);
	double last_beat = time_mono();

	if (obs->begin)
		obs->begin(obs->ctx);
	for (;;) {
		long n = nmap_run_read(&s->nr, s->buf, READ_MAX, 500);
		if (obs->stop && (s->stopped = obs->stop(obs->ctx)) != 0)
			break;
		if (n > 0) {
			if (fwrite(s->buf, 1, (size_t)n, s->spool) != (size_t)n) {
				snprintf(err, errlen, "cannot write the spool file: %s",
				         strerror(errno));
				s->parse_failed = 1;
				break;
			}
			keep_write(s, (size_t)n);
			if (!s->parse_failed && nmap_parser_feed(s->np, s->buf, (size_t)n, 0) != 0)
				s->parse_failed = 1;
		} else if (n == 0) {
			s->eof = 1;
			if (!s->parse_failed && nmap_parser_feed(s->np, "", 0, 1) != 0)
				s->parse_failed = 1;
			break;
		} else if (n != SDB_EINTR) {
			snprintf(err, errlen, "reading nmap's output failed");
			s->parse_failed = 1;
			break;
		}
		if (obs->progress) {
			struct app_scan_progress p = {.job_id = s->res->job_id,
			                              .task = s->sw.task,
			                              .percent = s->sw.percent,
			                              .hosts = s->sw.hosts};
			obs->progress(obs->ctx, &p);
		}
		if (time_mono() - last_beat >= HEARTBEAT_S) {
			last_beat = time_mono();
			heartbeat(s);
		}
	}
	if (obs->end)
		obs->end(obs->ctx);
}

/*
 * nmap's warnings (a name that does not resolve, a bad netmask, no
 * targets) are told and kept on the job (warn: "nmap warned: ...", or ""
 * when there were none); a scan they left with nothing scanned failed: a
 * cron job with a stale host name must not record empty successes forever.
 * 0, or APP_SCAN_NO_HOST with the job marked failed.
 */
static int check_warnings(struct scan_run *s, char *warn, size_t warnlen)
{
	const struct app_scan_observer *obs = s->obs;
	char *err = s->res->error;
	size_t errlen = sizeof(s->res->error);

	if (nmap_run_warnings(&s->nr, warn, warnlen) <= 0) {
		warn[0] = '\0';
		return 0;
	}
	for (const char *p = warn; *p;) {
		size_t l = strcspn(p, "\n");
		if (obs->nmap_warning)
			obs->nmap_warning(obs->ctx, s->res->job_id, p, l);
		p += l + (p[l] == '\n');
	}
	if ((s->sw.hosts_total >= 0 ? s->sw.hosts_total : s->sw.hosts) == 0) {
		snprintf(err, errlen, "nmap scanned no host: %s", warn);
		for (char *q = err; *q; q++)
			if (*q == '\n')
				*q = ' ';
		return store_failure(s, err, APP_SCAN_NO_HOST);
	}
	{
		char w2[WARN_MAX + 32];
		snprintf(w2, sizeof(w2), "nmap warned: %s", warn);
		for (char *q = w2; *q; q++)
			if (*q == '\n')
				*q = ' ';
		snprintf(warn, warnlen, "%s", w2);
	}
	return 0;
}

/* nmap has ended (or was stopped): how did it go?  0 when its output is
 * good to store, else the outcome with the job marked failed. */
static int check_nmap(struct scan_run *s)
{
	char *err = s->res->error;
	size_t errlen = sizeof(s->res->error);

	if (s->stopped) {
		nmap_run_kill(&s->nr);
		snprintf(err, errlen, "interrupted by signal %d; nmap was stopped", s->stopped);
		return store_failure(s, err, APP_SCAN_STOPPED);
	}
	nmap_run_wait(&s->nr);
	if (s->nr.exit_status != 0) {
		const char *e = nmap_run_stderr(&s->nr);
		snprintf(err, errlen, "nmap exited with status %d%s%s", s->nr.exit_status,
		         *e ? ": " : "", e);
		/* keep the message on one line-ish: trim trailing newlines */
		for (size_t l = strlen(err); l > 0 && err[l - 1] == '\n'; l--)
			err[l - 1] = '\0';
		return store_failure(s, err, APP_SCAN_FAILED);
	}
	if (s->parse_failed) {
		if (s->np && nmap_parser_errmsg(s->np)[0])
			snprintf(err, errlen, "%s", nmap_parser_errmsg(s->np));
		return store_failure(s, err, APP_SCAN_FAILED);
	}
	return 0;
}

/* 2 and 3: run nmap into the job's spool, then store its results and the
 * final status together, in one transaction. */
static enum app_scan_outcome run_and_store(struct scan_run *s, const struct app_scan_opts *o)
{
	struct app_scan_result *res = s->res;
	struct ingest_sink watch = {.ctx = &s->sw,
	                            .host = watch_host,
	                            .progress = watch_progress,
	                            .run_end = watch_run_end};
	char warn[WARN_MAX];
	int r;

	if (nmap_run_start(&s->nr, o->nmap, o->args, o->nargs) != 0) {
		snprintf(res->error, sizeof(res->error), "could not start %s: %s", o->nmap,
		         strerror(errno));
		return store_failure(s, res->error, APP_SCAN_NOT_STARTED);
	}
	if (nmap_parser_new(&watch, "nmap output", &s->np) != 0) {
		snprintf(res->error, sizeof(res->error), "out of memory");
		return res->outcome = APP_SCAN_NO_MEMORY;
	}
	watch_nmap(s);
	keep_finish(s);
	if ((r = check_nmap(s)) != 0 || (r = check_warnings(s, warn, sizeof(warn))) != 0)
		return (enum app_scan_outcome)r;
	fflush(s->spool);
	memset(&res->stats, 0, sizeof(res->stats));
	if (store_results(s->st, s->obs, res->job_id, fileno(s->spool), warn[0] ? warn : NULL,
	                  res->error, sizeof(res->error), &res->stats) != 0)
		return store_failure(s, res->error, APP_SCAN_FAILED);
	res->error[0] = '\0';
	return res->outcome = APP_SCAN_COMPLETED;
}

enum app_scan_outcome app_scan_run(struct store *st, const struct app_scan_opts *o,
                                   struct app_scan_result *res)
{
	static const struct app_scan_observer nobody;
	struct scan_run s;
	char *cmdline = NULL;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	s.st = st;
	s.obs = o->obs ? o->obs : &nobody;
	s.res = res;
	s.sw.hosts_total = -1;
	nmap_run_init(&s.nr);
	res->outcome = APP_SCAN_NO_MEMORY;
	if (!(cmdline = nmap_run_cmdline(o->nmap, o->args, o->nargs)) ||
	    !(s.buf = malloc(READ_MAX))) {
		snprintf(res->error, sizeof(res->error), "out of memory");
		goto out;
	}
	if (!(s.spool = tmpfile())) {
		snprintf(res->error, sizeof(res->error), "%s", strerror(errno));
		res->outcome = APP_SCAN_NO_SPOOL;
		goto out;
	}
	if (o->keep_xml &&
	    outfile_open(&s.keep, o->keep_xml, res->error, sizeof(res->error)) != 0) {
		res->outcome = APP_SCAN_NO_KEEP;
		goto out;
	}
	if (create_job(&s, cmdline) != 0) {
		snprintf(res->error, sizeof(res->error), "%s", store_errmsg(st));
		res->outcome = APP_SCAN_NO_JOB;
		goto out;
	}
	if (s.obs->started)
		s.obs->started(s.obs->ctx, res->job_id, cmdline);
	run_and_store(&s, o);
out:
	nmap_parser_free(s.np);
	nmap_run_free(&s.nr);
	if (s.spool)
		fclose(s.spool);
	outfile_abort(&s.keep);
	free(cmdline);
	free(s.buf);
	return res->outcome;
}
