/*
 * cmd_scan.c - `scandb scan [NMAP-OPTIONS...] TARGET...`: checks the
 * arguments, finds nmap, opens the database and runs the scan with
 * app_scan_run() (app/scan.h: the job row, nmap, the spool and the one
 * transaction live there), then prints.  Holds the observer that draws the
 * progress line and prints nmap's warnings and the retries, and the
 * SIGINT/SIGTERM handlers that stop nmap (installed once the job is
 * running, restored when the scan ends).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/scan.h"
#include "cli/cli.h"

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* The scan's observer, and the signal handlers it installs. */
struct scan_view {
	struct cli *c;
	struct cli_progress prog;
	int handlers; /* old_int and old_term hold what to restore */
	struct sigaction old_int, old_term;
};

static void view_started(void *ctx, int64_t job_id, const char *cmdline)
{
	struct scan_view *v = ctx;
	struct sigaction sa;

	if (!v->c->quiet)
		fprintf(stderr, "scandb: job %lld: running %s\n", (long long)job_id, cmdline);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &v->old_int);
	sigaction(SIGTERM, &sa, &v->old_term);
	v->handlers = 1;
}

static int view_stop(void *ctx)
{
	(void)ctx;
	return (int)got_signal;
}

static void view_begin(void *ctx)
{
	struct scan_view *v = ctx;

	cli_progress_start(&v->prog, v->c);
}

static void view_progress(void *ctx, const struct app_scan_progress *p)
{
	struct scan_view *v = ctx;

	cli_progress_update(&v->prog, "scan job %lld: %s %.0f%%, %ld hosts", (long long)p->job_id,
	                    p->task[0] ? p->task : "starting", p->percent, p->hosts);
}

static void view_end(void *ctx)
{
	struct scan_view *v = ctx;

	cli_progress_done(&v->prog);
}

static void view_nmap_warning(void *ctx, int64_t job_id, const char *line, size_t len)
{
	(void)ctx;
	cli_err("scan: job %lld: nmap: %.*s", (long long)job_id, (int)len, line);
}

static void view_retrying(void *ctx, int64_t job_id, const char *error, int attempt, int attempts)
{
	struct scan_view *v = ctx;

	if (!v->c->quiet)
		cli_err("scan: job %lld: %s; storing the results again (attempt %d of %d)",
		        (long long)job_id, error, attempt, attempts);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: scandb scan [--keep-xml FILE] [NMAP-OPTIONS...] TARGET...\n\n"
	           "Runs nmap with the given options and targets (scandb adds '-oX -' and\n"
	           "'--stats-every 2s') and stores the results as one job.  The job is\n"
	           "visible as 'running' at once (scandb jobs); its results appear together\n"
	           "when nmap has finished.  If nmap fails, the job is marked failed with\n"
	           "nmap's error output.\n\n"
	           "  scandb scan -sT -p 1-1024 127.0.0.1\n"
	           "  scandb scan -sV --top-ports 100 192.0.2.0/24\n\n"
	           "  --keep-xml FILE  also keep nmap's own XML output as FILE (written as\n"
	           "                   nmap runs, under a temporary name renamed at the end)\n\n"
	           "Options -oX/-oA are not allowed (scandb reads nmap's XML itself).\n"
	           "SCANDB_NMAP names the nmap binary if it is not on PATH.\n");
}

/* The scan's outcome, said as it always was. */
static int report_outcome(const struct app_scan_result *res)
{
	long long id = (long long)res->job_id;

	if (res->unmarked)
		cli_err("scan: could not mark job %lld failed: %s", id, res->mark_error);
	switch (res->outcome) {
	case APP_SCAN_COMPLETED:
		printf("scan job %lld completed: %ld hosts (%ld up), %ld ports (%ld open)\n", id,
		       res->stats.hosts, res->stats.hosts_up, res->stats.ports,
		       res->stats.ports_open);
		return CLI_OK;
	case APP_SCAN_NO_MEMORY:
		cli_err("out of memory");
		break;
	case APP_SCAN_NO_KEEP:
		cli_err("scan: --keep-xml: %s", res->error);
		break;
	case APP_SCAN_NO_SPOOL:
		cli_err("scan: cannot create a temporary file: %s", res->error);
		break;
	case APP_SCAN_NO_JOB:
		cli_err("scan: cannot create the job: %s", res->error);
		break;
	case APP_SCAN_NOT_STARTED:
		cli_err("scan: %s", res->error);
		break;
	case APP_SCAN_STOPPED:
		cli_err("scan: job %lld: %s", id, res->error);
		break;
	case APP_SCAN_FAILED:
		cli_err("scan: job %lld failed: %s", id, res->error);
		break;
	case APP_SCAN_NO_HOST:
		cli_err("scan: job %lld failed: nmap scanned no host (see its warnings above)", id);
		break;
	}
	return CLI_FAIL;
}

/* The outcome, then a --keep-xml file that could not be written, which
 * fails the command (the scan itself is stored or failed as it says). */
static int report(const struct app_scan_result *res)
{
	int rc = report_outcome(res);

	if (res->keep_error[0]) {
		cli_err("scan: job %lld: --keep-xml: %s", (long long)res->job_id, res->keep_error);
		rc = CLI_FAIL;
	}
	return rc;
}

/* Take scandb's own "--keep-xml FILE" (or "--keep-xml=FILE") out of nmap's
 * arguments args[0..o->nargs) (compacted in place), into o->keep_xml.
 * 0, or CLI_USAGE after printing. */
static int take_keep_xml(struct app_scan_opts *o, char **args)
{
	size_t n = 0;

	for (size_t i = 0; i < o->nargs; i++) {
		const char *v = NULL;

		if (strcmp(args[i], "--keep-xml") == 0) {
			if (i + 1 >= o->nargs)
				return cli_usage_err("scan", "--keep-xml needs a FILE");
			v = args[++i];
		} else if (strncmp(args[i], "--keep-xml=", 11) == 0) {
			v = args[i] + 11;
		} else {
			args[n++] = args[i];
			continue;
		}
		if (o->keep_xml)
			return cli_usage_err("scan", "--keep-xml is given twice");
		if (!*v)
			return cli_usage_err("scan", "--keep-xml: empty file name");
		o->keep_xml = v;
	}
	o->nargs = n;
	return 0;
}

int cmd_scan(struct cli *c, int argc, char **argv)
{
	struct scan_view v = {.c = c};
	const struct app_scan_observer obs = {
	    .ctx = &v,
	    .started = view_started,
	    .stop = view_stop,
	    .begin = view_begin,
	    .progress = view_progress,
	    .end = view_end,
	    .nmap_warning = view_nmap_warning,
	    .retrying = view_retrying,
	};
	struct app_scan_opts o = {
	    .args = argv + 1, .nargs = argc > 1 ? (size_t)(argc - 1) : 0, .obs = &obs};
	struct app_scan_result res;
	const char *bad;
	char nmap[4096];
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if ((rc = take_keep_xml(&o, argv + 1)) != 0)
		return rc;
	if (o.nargs == 0) {
		usage(stderr);
		return CLI_USAGE;
	}
	if ((bad = app_scan_refused_arg(o.args, o.nargs)))
		return cli_usage_err("scan",
		                     "'%s' is not allowed: scandb reads nmap's XML "
		                     "output itself",
		                     bad);
	if (app_scan_find_nmap(nmap, sizeof(nmap)) != 0) {
		cli_err("scan: nmap is not installed (or not on PATH). Install it with "
		        "'sudo apt-get install nmap' (Debian/Ubuntu) or from https://nmap.org, "
		        "or set SCANDB_NMAP to its path");
		return CLI_FAIL;
	}
	if ((rc = cli_open_as(c, CLI_OPEN_WRITE, NULL, 0)) != CLI_OK)
		return rc;
	o.nmap = nmap;
	app_scan_run(c->st, &o, &res);
	rc = report(&res);
	if (v.handlers) {
		sigaction(SIGINT, &v.old_int, NULL);
		sigaction(SIGTERM, &v.old_term, NULL);
	}
	return rc;
}
