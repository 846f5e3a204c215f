/*
 * cmd_export.c - `scandb export JOB | --current [FILTER] [--format F] [-o
 * FILE]`: parse the options, pick a writer and where it writes (stdout, or
 * FILE written under a temporary name and renamed when complete:
 * core/outfile.h), and run the use case (app/export.c).  The nmap XML and
 * HTML writers are export/'s; the JSON and CSV writers here are the
 * listings' own objects and rows (cli/output.c): a host is the object
 * `hosts --format json` prints, a CSV row the row of `hosts --format csv`.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "app/export.h"
#include "cli/cli.h"
#include "cli/host_filter.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/outfile.h"
#include "core/timeutil.h"
#include "export/export.h"

enum { OPT_CURRENT = CLI_HF_NEXT, OPT_FORMAT };

static const char export_usage[] =
    "usage: scandb export JOB | --current [--format nmap-xml|csv|json|html]\n"
    "                     [-o FILE] [--port N[/tcp|udp|sctp]] [--service NAME]\n"
    "                     [--status up|down|unknown|skipped] [--net CIDR]\n"
    "                     [--changed-since WHEN] [--new-since WHEN] [FILTER...]\n"
    "\n"
    "Write a stored job (JOB, its id) or the current state (--current: each\n"
    "host as its latest scan saw it) as one document: nmap's XML (ndiff,\n"
    "nmap.xsl and `scandb import` read it back), CSV (one row per host and\n"
    "port, as `hosts --format csv`), JSON (the hosts as `hosts --format json`)\n"
    "or a self-contained HTML report.  Hosts are written as they are read:\n"
    "memory does not grow with their number.\n"
    "\n"
    "  --current         the current state instead of one job\n"
    "  --format FORMAT   nmap-xml (default), csv, json or html\n"
    "  -o, --output FILE write FILE (complete, or not at all) instead of stdout\n"
    "  --port N[/PROTO]  only hosts with port N open (any protocol unless given)\n"
    "  --service NAME    only hosts with an open port running service NAME\n"
    "  --status STATUS   only hosts whose status is STATUS\n"
    "  --net CIDR        only hosts inside CIDR (10.0.0.0/8, 2001:db8::/32, or one address)\n"
    "  --changed-since WHEN  only hosts with a change event since WHEN (7d, 12h, a date)\n"
    "  --new-since WHEN  only hosts first seen since WHEN\n"
    "\n"
    "FILTER: search terms, as for `hosts` (port:22 product:openssh '!tag:lab';\n"
    "the man page's SEARCH section).  A filtered export holds whole hosts (all\n"
    "their ports).  The man page,\n"
    "scandb(1), says what each format holds and which tools read it.\n";

static const struct option export_opts[] = {
    CLI_HF_OPT_PORT,
    CLI_HF_OPT_SERVICE,
    CLI_HF_OPT_STATUS,
    CLI_HF_OPT_NET,
    CLI_HF_OPT_CHANGED_SINCE,
    CLI_HF_OPT_NEW_SINCE,
    {"current", no_argument, NULL, OPT_CURRENT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

enum export_format { EXPORT_NMAP_XML = 0, EXPORT_CSV, EXPORT_JSON, EXPORT_HTML };
static const char *const export_formats[] = {"nmap-xml", "csv", "json", "html"};

/* What `export` was asked. */
struct export_args {
	struct store_host_filter f;
	int current;
	enum export_format fmt;
	const char *output; /* NULL: stdout */
};

/* ---- JSON: {"export":{...},"job":{...},"hosts":[...],"totals":{...}} ---- */

/* The ctx of every writer: the JSON and CSV ones here, and export/'s, which
 * take it as the struct export_file it starts with. */
struct export_cli {
	struct export_file out; /* first */
	struct output_stream js;
};

static int json_begin(void *ctx, const struct export_run *run)
{
	struct export_cli *x = ctx;
	FILE *f = x->out.f;
	char at[TIME_ISO_LEN];
	json_t *meta;
	int r;

	time_format_iso(run->now, at);
	meta = json_pack("{s:s,s:o,s:s,s:b,s:s}", "of", run->job ? "job" : "current state",
	                 "job_id", run->job ? json_integer(run->job->id) : json_null(),
	                 "exported_at", at, "filtered", run->filtered, "scandb", SCANDB_VERSION);
	if (fputs("{\"export\":", f) == EOF || (r = output_json_print(f, meta)) != 0)
		return meta ? SDB_EIO : SDB_ENOMEM;
	if (fputs(",\"job\":", f) == EOF || (!run->job && fputs("null", f) == EOF))
		return SDB_EIO;
	if (run->job && (r = output_json_print(f, view_job_json(run->job))) != 0)
		return r;
	if (fputs(",\"hosts\":", f) == EOF)
		return SDB_EIO;
	return output_stream_begin(&x->js, f, CLI_FMT_JSON);
}

static int json_host(void *ctx, const struct store_host *h)
{
	struct export_cli *x = ctx;

	return output_stream_host(&x->js, h);
}

static int json_end(void *ctx, const struct export_run *run, const struct export_totals *t)
{
	struct export_cli *x = ctx;
	int r;

	(void)run;
	if ((r = output_stream_end(&x->js)) != 0)
		return r;
	if (fputs(",\"totals\":", x->out.f) == EOF)
		return SDB_EIO;
	if ((r = output_json_print(x->out.f,
	                           json_pack("{s:i,s:i,s:i,s:i}", "hosts", (json_int_t)t->hosts,
	                                     "up", (json_int_t)t->up, "down", (json_int_t)t->down,
	                                     "ports_open", (json_int_t)t->ports_open))) != 0)
		return r;
	return fputs("}\n", x->out.f) == EOF ? SDB_EIO : 0;
}

static const struct export_writer export_json = {json_begin, json_host, json_end};

/* ---- CSV: the rows of `hosts --format csv` ------------------------------ */

static int csv_begin(void *ctx, const struct export_run *run)
{
	(void)run;
	return output_host_csv_header(((struct export_cli *)ctx)->out.f);
}

static int csv_host(void *ctx, const struct store_host *h)
{
	return output_host_csv_rows(((struct export_cli *)ctx)->out.f, h);
}

static int csv_end(void *ctx, const struct export_run *run, const struct export_totals *t)
{
	(void)run;
	(void)t;
	return ferror(((struct export_cli *)ctx)->out.f) ? SDB_EIO : 0;
}

static const struct export_writer export_csv = {csv_begin, csv_host, csv_end};

/* ---- the command ----------------------------------------------------------- */

/* cli_args.on_opt of `export`. */
static int export_opt(void *ctx, int ch, char *arg)
{
	struct export_args *a = ctx;

	switch (ch) {
	case OPT_CURRENT:
		a->current = 1;
		return 0;
	case OPT_FORMAT:
		for (int i = 0; i < 4; i++) {
			if (strcmp(arg, export_formats[i]) == 0) {
				a->fmt = (enum export_format)i;
				return 0;
			}
		}
		return cli_usage_err("export",
		                     "unknown format '%s' (use nmap-xml, csv, json or html)", arg);
	case 'o':
		if (!*arg)
			return cli_usage_err("export", "-o: empty file name");
		a->output = arg;
		return 0;
	default:
		return cli_host_filter_opt("export", ch, arg, &a->f);
	}
}

/* The job named by the first operand (0 with --current, where every
 * operand is a search term), or the usage error; *terms: the index of the
 * first search term. */
static int export_job_id(const struct export_args *a, int argc, char **argv, int first,
                         int64_t *job, int *terms)
{
	*job = 0;
	*terms = first;
	if (a->current)
		return 0;
	if (first >= argc)
		return cli_usage_err("export", "missing JOB (a job id, or --current)");
	*terms = first + 1;
	return cli_parse_i64("export", "JOB", argv[first], 1, INT64_MAX, job);
}

/* Run the export into out->f; report a failure.  CLI_OK or CLI_FAIL. */
static int export_write(struct cli *c, const struct export_args *a, int64_t job,
                        struct export_cli *x)
{
	static const struct export_writer *const writers[] = {&export_nmap_xml, &export_csv,
	                                                      &export_json, &export_html};
	int r = app_export_run(c->st, job, &a->f, (int64_t)time(NULL), writers[a->fmt], x);

	if (r == SDB_EIO)
		return output_err(a->output ? a->output : "export", r);
	if (r == SDB_ENOTFOUND) {
		cli_err("%s", store_errmsg(c->st));
		return CLI_FAIL;
	}
	if (r != 0)
		return r == SDB_ENOMEM ? output_err("export", r) : output_store_err(c, "export", r);
	return CLI_OK;
}

/* Open the database and the output, run the export, publish the file.
 * CLI_OK or the exit status. */
static int export_open_run(struct cli *c, const struct export_args *a, int64_t job)
{
	struct export_cli x;
	struct outfile of;
	char err[4096];
	int r;

	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	memset(&x, 0, sizeof(x));
	x.out.f = stdout;
	if (a->output) {
		if (outfile_open(&of, a->output, err, sizeof(err)) != 0) {
			cli_err("%s", err);
			return CLI_FAIL;
		}
		x.out.f = of.f;
	}
	r = export_write(c, a, job, &x);
	if (!a->output)
		return r;
	if (r != CLI_OK) {
		outfile_abort(&of);
		return r;
	}
	if (outfile_commit(&of, err, sizeof(err)) != 0) {
		cli_err("%s", err);
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cmd_export(struct cli *c, int argc, char **argv)
{
	struct export_args a = {STORE_HOST_FILTER_ANY, 0, EXPORT_NMAP_XML, NULL};
	const struct cli_args spec = {.cmd = "export",
	                              .usage = export_usage,
	                              .shortopts = ":ho:",
	                              .opts = export_opts,
	                              .on_opt = export_opt,
	                              .ctx = &a,
	                              .min = 0,
	                              .max = -1};
	struct filter expr;
	int64_t job;
	int first = argc, terms, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if ((r = export_job_id(&a, argc, argv, first, &job, &terms)) != 0)
		return r;
	if ((r = cli_host_filter_terms("export", argc, argv, terms, &expr, &a.f)) != 0)
		return r;
	r = export_open_run(c, &a, job);
	filter_free(&expr);
	return r;
}
