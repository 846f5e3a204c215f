/*
 * cmd_scan.c - `scandb scan [NMAP-OPTIONS...] TARGET...`: runs nmap (no
 * shell, "-oX -" added) and stores its results as one job.
 *
 * Job state machine:
 *   (none) --job row committed-->  running   (visible at once, with progress
 *                                             and a timeout_at heartbeat)
 *   running --results + status in ONE transaction--> completed
 *   running --nmap failed / bad output / signal--> failed (error kept)
 *   running --process killed--> reaped as failed by the next `jobs`
 *                               (worker gone or timeout_at passed)
 * nmap's XML is parsed as it streams (validation, progress) and spooled to
 * an unlinked temporary file; when nmap has finished, the spool goes
 * through the import path into the job in one transaction.  The write lock
 * is therefore held for the storing only, not for the whole scan, and
 * memory stays flat however big the scan.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/retry.h"
#include "core/timeutil.h"
#include "ingest/nmap_xml.h"
#include "scan/nmap_run.h"
#include "store/job_writer.h"

#define HEARTBEAT_S   2   /* progress/heartbeat interval */
#define JOB_TIMEOUT_S 120 /* a job with no heartbeat for this long is stale */

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

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

static void usage(FILE *f)
{
	fprintf(f, "usage: scandb scan [NMAP-OPTIONS...] TARGET...\n\n"
	           "Runs nmap with the given options and targets (scandb adds '-oX -' and\n"
	           "'--stats-every 2s') and stores the results as one job.  The job is\n"
	           "visible as 'running' at once (scandb jobs); its results appear together\n"
	           "when nmap has finished.  If nmap fails, the job is marked failed with\n"
	           "nmap's error output.\n\n"
	           "  scandb scan -sT -p 1-1024 127.0.0.1\n"
	           "  scandb scan -sV --top-ports 100 192.0.2.0/24\n\n"
	           "Options -oX/-oA are not allowed (scandb reads nmap's XML itself).\n"
	           "SCANDB_NMAP names the nmap binary if it is not on PATH.\n");
}

static int store_failure(struct cli *c, int64_t id, int64_t created, const char *error)
{
	struct store_job_final f;
	int r;

	memset(&f, 0, sizeof(f));
	f.status = STORE_JOB_FAILED;
	f.error = error;
	f.started_at = created;
	f.elapsed = -1;
	f.hosts_up = f.hosts_down = f.hosts_total = -1;
	f.ports_open = -1;
	if ((r = store_tx_begin(c->st)) == 0) {
		if ((r = store_job_finish(c->st, id, &f, NULL)) == 0)
			r = store_tx_commit(c->st);
		else
			store_tx_rollback(c->st);
	}
	if (r != 0)
		cli_err("scan: could not mark job %lld failed: %s", (long long)id,
		        store_errmsg(c->st));
	return r;
}

/* How often storing a scan's results is tried when its transaction is lost
 * to a transient failure (the spool file is read again each time). */
#define SCAN_STORE_ATTEMPTS 5

static int store_results_once(struct cli *c, int64_t id, int fd, const char *warning, char *err,
                              size_t errlen, struct job_writer_stats *stats);

/* Parse the spooled XML into the job in one transaction, retried whole
 * (with backoff) while it fails with SDB_ETRANSIENT. */
static int store_results(struct cli *c, int64_t id, int fd, const char *warning, char *err,
                         size_t errlen, struct job_writer_stats *stats)
{
	int r;

	for (int attempt = 1;; attempt++) {
		r = store_results_once(c, id, fd, warning, err, errlen, stats);
		if (r != SDB_ETRANSIENT || attempt >= SCAN_STORE_ATTEMPTS)
			return r;
		if (!c->quiet)
			cli_err("scan: job %lld: %s; storing the results again (attempt %d of %d)",
			        (long long)id, err, attempt + 1, SCAN_STORE_ATTEMPTS);
		retry_sleep(&cli_job_retry, attempt - 1);
	}
}

static int store_results_once(struct cli *c, int64_t id, int fd, const char *warning, char *err,
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
	if ((r = job_writer_begin(c->st, &o, &w)) != 0) {
		snprintf(err, errlen, "%s", store_errmsg(c->st));
		return r;
	}
	err[0] = '\0';
	r = nmap_xml_parse_fd(fd, "nmap output", job_writer_sink(w), NULL, NULL, err, errlen);
	if (r == 0)
		r = job_writer_commit(w, NULL, NULL);
	if (r != 0 && !err[0])
		snprintf(err, errlen, "%s", store_errmsg(c->st));
	if (r == 0)
		job_writer_stats(w, stats);
	job_writer_free(w);
	return r;
}

int cmd_scan(struct cli *c, int argc, char **argv)
{
	struct nmap_run nr;
	struct nmap_parser *np = NULL;
	struct scan_watch sw;
	struct ingest_sink watch = {
	    .ctx = &sw, .host = watch_host, .progress = watch_progress, .run_end = watch_run_end};
	struct cli_progress prog;
	struct job_writer_stats stats;
	struct sigaction sa, old_int, old_term;
	char nmap[4096], err[2048], warn[2048];
	char *cmdline = NULL, *buf = NULL;
	FILE *spool = NULL;
	int64_t id = 0, created;
	double last_beat;
	int rc = CLI_FAIL, r, parse_failed = 0;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "-oX", 3) == 0 || strncmp(argv[i], "-oA", 3) == 0 ||
		    strcmp(argv[i], "--stats-every") == 0)
			return cli_usage_err("scan",
			                     "'%s' is not allowed: scandb reads nmap's XML "
			                     "output itself",
			                     argv[i]);
	if (nmap_run_find(nmap, sizeof(nmap)) != 0) {
		cli_err("scan: nmap is not installed (or not on PATH). Install it with "
		        "'sudo apt-get install nmap' (Debian/Ubuntu) or from https://nmap.org, "
		        "or set SCANDB_NMAP to its path");
		return CLI_FAIL;
	}
	memset(&sw, 0, sizeof(sw));
	sw.hosts_total = -1;
	nmap_run_init(&nr);
	if ((rc = cli_open_as(c, CLI_OPEN_WRITE, NULL, 0)) != CLI_OK)
		return rc;
	rc = CLI_FAIL;
	if (!(cmdline = nmap_run_cmdline(nmap, argv + 1, (size_t)(argc - 1))) ||
	    !(buf = malloc(65536))) {
		cli_err("out of memory");
		goto out;
	}
	if (!(spool = tmpfile())) {
		cli_err("scan: cannot create a temporary file: %s", strerror(errno));
		goto out;
	}

	/* 1. The job row, committed on its own so it is visible while running. */
	created = time_now();
	{
		struct store_job_new j = {
		    .kind = STORE_JOB_SCAN,
		    .status = STORE_JOB_RUNNING,
		    .source = "nmap",
		    .args = cmdline,
		    .worker_id = job_writer_worker_id(),
		    .created_at = created,
		    .timeout_at = created + JOB_TIMEOUT_S,
		};
		if ((r = store_tx_begin(c->st)) == 0) {
			if ((r = store_job_insert(c->st, &j, &id)) == 0)
				r = store_tx_commit(c->st);
			else
				store_tx_rollback(c->st);
		}
		if (r != 0) {
			cli_err("scan: cannot create the job: %s", store_errmsg(c->st));
			goto out;
		}
	}
	if (!c->quiet)
		fprintf(stderr, "scandb: job %lld: running %s\n", (long long)id, cmdline);

	/* 2. Run nmap; validate and spool its output as it streams. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	if ((r = nmap_run_start(&nr, nmap, argv + 1, (size_t)(argc - 1))) != 0) {
		snprintf(err, sizeof(err), "could not start %s: %s", nmap, strerror(errno));
		store_failure(c, id, created, err);
		cli_err("scan: %s", err);
		goto restore;
	}
	if ((r = nmap_parser_new(&watch, "nmap output", &np)) != 0) {
		cli_err("out of memory");
		goto restore;
	}
	cli_progress_start(&prog, c);
	last_beat = time_mono();
	for (;;) {
		long n = nmap_run_read(&nr, buf, 65536, 500);
		if (got_signal)
			break;
		if (n > 0) {
			if (fwrite(buf, 1, (size_t)n, spool) != (size_t)n) {
				snprintf(err, sizeof(err), "cannot write the spool file: %s",
				         strerror(errno));
				parse_failed = 1;
				break;
			}
			if (!parse_failed && nmap_parser_feed(np, buf, (size_t)n, 0) != 0)
				parse_failed = 1;
		} else if (n == 0) {
			if (!parse_failed && nmap_parser_feed(np, "", 0, 1) != 0)
				parse_failed = 1;
			break;
		} else if (n != SDB_EINTR) {
			snprintf(err, sizeof(err), "reading nmap's output failed");
			parse_failed = 1;
			break;
		}
		cli_progress_update(&prog, "scan job %lld: %s %.0f%%, %ld hosts", (long long)id,
		                    sw.task[0] ? sw.task : "starting", sw.percent, sw.hosts);
		if (time_mono() - last_beat >= HEARTBEAT_S) {
			/* heartbeat: progress and a fresh timeout, in a small tx */
			int pct = sw.percent < 0 ? 0 : sw.percent > 99 ? 99 : (int)sw.percent;
			last_beat = time_mono();
			if (store_tx_begin(c->st) == 0) {
				if (store_job_progress(c->st, id, pct,
				                       time_now() + JOB_TIMEOUT_S) == 0)
					store_tx_commit(c->st);
				else
					store_tx_rollback(c->st);
			}
		}
	}
	cli_progress_done(&prog);
	if (got_signal) {
		nmap_run_kill(&nr);
		snprintf(err, sizeof(err), "interrupted by signal %d; nmap was stopped",
		         (int)got_signal);
		store_failure(c, id, created, err);
		cli_err("scan: job %lld: %s", (long long)id, err);
		goto restore;
	}
	nmap_run_wait(&nr);
	if (nr.exit_status != 0) {
		const char *e = nmap_run_stderr(&nr);
		snprintf(err, sizeof(err), "nmap exited with status %d%s%s", nr.exit_status,
		         *e ? ": " : "", e);
		/* keep the message on one line-ish: trim trailing newlines */
		for (size_t l = strlen(err); l > 0 && err[l - 1] == '\n'; l--)
			err[l - 1] = '\0';
		store_failure(c, id, created, err);
		cli_err("scan: job %lld failed: %s", (long long)id, err);
		goto restore;
	}
	if (parse_failed) {
		if (np && nmap_parser_errmsg(np)[0])
			snprintf(err, sizeof(err), "%s", nmap_parser_errmsg(np));
		store_failure(c, id, created, err);
		cli_err("scan: job %lld failed: %s", (long long)id, err);
		goto restore;
	}

	/* nmap's warnings (a name that does not resolve, a bad netmask, no
	 * targets) are shown and kept on the job; a scan they left with
	 * nothing scanned failed: a cron job with a stale host name must not
	 * record empty successes forever. */
	if (nmap_run_warnings(&nr, warn, sizeof(warn)) > 0) {
		for (const char *p = warn; *p;) {
			size_t l = strcspn(p, "\n");
			cli_err("scan: job %lld: nmap: %.*s", (long long)id, (int)l, p);
			p += l + (p[l] == '\n');
		}
		if ((sw.hosts_total >= 0 ? sw.hosts_total : sw.hosts) == 0) {
			snprintf(err, sizeof(err), "nmap scanned no host: %s", warn);
			for (char *q = err; *q; q++)
				if (*q == '\n')
					*q = ' ';
			store_failure(c, id, created, err);
			cli_err(
			    "scan: job %lld failed: nmap scanned no host (see its warnings above)",
			    (long long)id);
			goto restore;
		}
		{
			char w2[sizeof(warn) + 32];
			snprintf(w2, sizeof(w2), "nmap warned: %s", warn);
			for (char *q = w2; *q; q++)
				if (*q == '\n')
					*q = ' ';
			memcpy(warn, w2, sizeof(warn) - 1);
			warn[sizeof(warn) - 1] = '\0';
		}
	} else {
		warn[0] = '\0';
	}

	/* 3. Results and final status together, in one transaction. */
	fflush(spool);
	memset(&stats, 0, sizeof(stats));
	if ((r = store_results(c, id, fileno(spool), warn[0] ? warn : NULL, err, sizeof(err),
	                       &stats)) != 0) {
		store_failure(c, id, created, err);
		cli_err("scan: job %lld failed: %s", (long long)id, err);
		goto restore;
	}
	printf("scan job %lld completed: %ld hosts (%ld up), %ld ports (%ld open)\n", (long long)id,
	       stats.hosts, stats.hosts_up, stats.ports, stats.ports_open);
	rc = CLI_OK;
restore:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
out:
	nmap_parser_free(np);
	nmap_run_free(&nr);
	if (spool)
		fclose(spool);
	free(cmdline);
	free(buf);
	return rc;
}
