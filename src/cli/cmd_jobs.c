/*
 * cmd_jobs.c - `scandb jobs` (scans and imports, newest first) and
 * `scandb job ID` (one job, every field; `job rm ...` goes to
 * cmd_job_rm.c).  Both are readers and never write
 * (invariant 13): a running job whose process died or timed out is SHOWN
 * failed, with the error the reaper will record (store_job_is_stale), so a
 * crashed scan is never shown as running forever; the next import or scan
 * records it (cli_open_as), as `doctor --fix` does.  Formats and field
 * names: output.c, docs/OUTPUT.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "app/listing.h"
#include "cli/cli.h"
#include "cli/listing_opt.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/timeutil.h"

/* Table cells wider than this are cut with "…" (SOURCE keeps its end). */
#define JOBS_SOURCE_MAX 40
#define JOBS_ERROR_MAX  50

enum { OPT_STATUS = 256, OPT_FORMAT };

static const char jobs_usage[] =
    "usage: scandb jobs [--status queued|running|completed|failed|cancelled]\n"
    "                   [--sort [-]FIELD] [--limit N] [--format table|json|ndjson|csv]\n"
    "\n"
    "List scans and imports, newest first.\n"
    "\n"
    "  --status STATUS   only jobs with this status\n" CLI_LIST_USAGE
    "  --format FORMAT   table (default), json, ndjson or csv\n"
    "\n"
    "Sort fields: created_at (-created_at is the default order, streamed), id,\n"
    "kind, status, started_at, completed_at, hosts_up, ports_open, elapsed.\n"
    "Another order holds the jobs in memory (only N with --limit N).\n";

static const char job_usage[] =
    "usage: scandb job ID [--format table|json|ndjson|csv]\n"
    "       scandb job rm ID [--dry-run] [--format table|json|ndjson|csv]\n"
    "\n"
    "Show every field of one scan or import; `job rm` removes one (its own\n"
    "help says how).\n"
    "\n"
    "  --format FORMAT   table (default), json, ndjson or csv\n";

static const struct option jobs_opts[] = {
    CLI_LIST_OPT_SORT,
    CLI_LIST_OPT_LIMIT,
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {"status", required_argument, NULL, OPT_STATUS},
    {NULL, 0, NULL, 0},
};
static const struct option job_opts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What `jobs` or `job` was asked. */
struct jobs_args {
	const char *cmd;
	enum cli_format fmt;
	const char *status; /* jobs --status, or NULL */
	struct listing_order o;
};

/* cli_args.on_opt of both commands (only jobs_opts has --status). */
static int jobs_opt(void *ctx, int ch, char *arg)
{
	struct jobs_args *a = ctx;
	enum store_job_status st;

	switch (ch) {
	case OPT_FORMAT:
		return cli_parse_format(a->cmd, arg, &a->fmt);
	case CLI_LIST_SORT:
	case CLI_LIST_LIMIT:
		return cli_listing_opt(a->cmd, ch, arg, listing_job_fields, &a->o);
	case OPT_STATUS:
		if (store_job_status_parse(arg, &st) != 0)
			return cli_usage_err(a->cmd,
			                     "--status: unknown job status '%s' (use queued, "
			                     "running, completed, failed or cancelled)",
			                     arg);
		a->status = store_job_status_name(st);
		return 0;
	default:
		return CLI_ARG_UNKNOWN;
	}
}

/* "…" + the last max - 1 columns of s (a path's end says most), or s. */
static const char *tail_cell(const char *s, size_t max, char *out, size_t outlen)
{
	size_t w = output_width(s);
	const char *p = s;

	if (!s || w <= max)
		return s;
	for (; w > max - 1; p++)
		w -= ((unsigned char)*p & 0xc0) != 0x80;
	while (((unsigned char)*p & 0xc0) == 0x80)
		p++;
	snprintf(out, outlen, "\xe2\x80\xa6%s", p);
	return out;
}

static const char *const jobs_cols[] = {"ID",        "KIND", "STATUS",     "SOURCE", "STARTED",
                                        "COMPLETED", "UP",   "OPEN PORTS", "ERROR"};

static int jobs_table_row(struct output_list *l, const struct store_job *j)
{
	char id[24], up[24], open[24], started[TIME_ISO_LEN], completed[TIME_ISO_LEN];
	char source[4 * JOBS_SOURCE_MAX + 4], status[64];
	const char *cells[9];

	snprintf(id, sizeof(id), "%" PRId64, j->id);
	snprintf(up, sizeof(up), "%ld", j->hosts_up);
	snprintf(open, sizeof(open), "%ld", j->ports_open);
	time_format_iso(j->started_at, started);
	time_format_iso(j->completed_at, completed);
	cells[0] = id;
	cells[1] = j->kind;
	/* a job that holds part of a scan (import --partial) says so */
	snprintf(status, sizeof(status), "%s%s", j->status, j->partial ? " (partial)" : "");
	cells[2] = status;
	cells[3] = tail_cell(j->source, JOBS_SOURCE_MAX, source, sizeof(source));
	cells[4] = started;
	cells[5] = completed;
	cells[6] = j->hosts_up >= 0 ? up : NULL;
	cells[7] = j->ports_open >= 0 ? open : NULL;
	cells[8] = j->error;
	return output_list_row(l, cells);
}

struct jobs_list {
	struct output_list l;
	struct listing lst;
	const char *status; /* --status, applied after view_job_as_reaped, or NULL */
};

/* store_jobs_each() callback: the job as shown, if --status wants it, to
 * the listing (sort, limit). */
static int on_job(void *ctx, struct store_job *j)
{
	struct jobs_list *jl = ctx;
	int r;

	if ((r = view_job_as_reaped(j, time_now())) != 0 ||
	    (jl->status && strcmp(j->status, jl->status) != 0)) {
		store_job_free(j);
		return r;
	}
	return listing_add(&jl->lst, j);
}

static void drop_job(void *item)
{
	store_job_free(item);
}

/* The listing's emit: print one job, then free it. */
static int emit_job(void *ctx, void *item)
{
	struct jobs_list *jl = ctx;
	struct output_list *l = &jl->l;
	struct store_job *j = item;
	int r;

	switch (l->fmt) {
	case CLI_FMT_JSON:
	case CLI_FMT_NDJSON:
		r = output_stream_item(&l->js, view_job_json(j));
		break;
	case CLI_FMT_CSV:
		r = output_job_csv_row(stdout, j);
		break;
	default:
		r = jobs_table_row(l, j);
		break;
	}
	store_job_free(j);
	l->n++;
	l->err = r;
	return r;
}

int cmd_jobs(struct cli *c, int argc, char **argv)
{
	struct jobs_args a = {"jobs", CLI_FMT_TABLE, NULL, {NULL, 0, 0}};
	const struct cli_args spec = {.cmd = "jobs",
	                              .usage = jobs_usage,
	                              .shortopts = ":h",
	                              .opts = jobs_opts,
	                              .on_opt = jobs_opt,
	                              .ctx = &a};
	const char *status, *query_status;
	struct jobs_list jl = {0};
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, NULL)) != CLI_GO_ON)
		return r;
	status = a.status;
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	/* a running job may be shown failed: those two statuses are decided
	 * here, after view_job_as_reaped, the others by the query */
	jl.status = status;
	query_status = status && (strcmp(status, "running") == 0 || strcmp(status, "failed") == 0)
	                   ? NULL
	                   : status;
	listing_init(&jl.lst, &a.o, emit_job, drop_job, &jl);
	if ((r = output_list_begin(&jl.l, a.fmt, 9, jobs_cols, output_job_csv_header)) == 0) {
		output_table_max(&jl.l.tab, 8, JOBS_ERROR_MAX);
		r = store_jobs_each(c->st, query_status, on_job, &jl);
	}
	r = listing_end(&jl.lst, r);
	return output_list_end(c, &jl.l, r, "job");
}

/* `job ID` as "key: value" lines, keys named as in the JSON object, values
 * aligned (the longest key, "scanner_version", is 15 characters). */
static int print_job_block(const struct store_job *j, FILE *f)
{
	struct output_job_text t;

	output_job_text(j, &t);
	for (size_t i = 0; i < OUTPUT_JOB_NFIELDS; i++) {
		const char *key = output_job_keys[i];
		char *safe = output_text(t.v[i], 0, "-");

		if (!safe)
			return SDB_ENOMEM;
		fprintf(f, "%s:%*s%s\n", key, (int)(17 - strlen(key)), "", safe);
		free(safe);
	}
	return ferror(f) ? SDB_EIO : 0;
}

/* Job id in format fmt, shown as the reaper would record it. */
static int show_job(struct cli *c, int64_t id, enum cli_format fmt)
{
	struct store_job *j = NULL;
	int r;

	if ((r = output_find_job(c, id, &j)) != CLI_OK)
		return r;
	if ((r = view_job_as_reaped(j, time_now())) != 0) {
		store_job_free(j);
		return output_err("cannot show the job", r);
	}
	switch (fmt) {
	case CLI_FMT_JSON:
	case CLI_FMT_NDJSON:
		r = output_json_print(stdout, view_job_json(j));
		break;
	case CLI_FMT_CSV:
		r = output_job_csv_header(stdout);
		if (r == 0)
			r = output_job_csv_row(stdout, j);
		break;
	default:
		r = print_job_block(j, stdout);
		break;
	}
	store_job_free(j);
	return r ? output_err("cannot show the job", r) : CLI_OK;
}

int cmd_job(struct cli *c, int argc, char **argv)
{
	struct jobs_args a = {"job", CLI_FMT_TABLE, NULL, {NULL, 0, 0}};
	const struct cli_args spec = {.cmd = "job",
	                              .usage = job_usage,
	                              .shortopts = ":h",
	                              .opts = job_opts,
	                              .on_opt = jobs_opt,
	                              .ctx = &a,
	                              .min = 1,
	                              .max = 1,
	                              .missing = "job ID"};
	int64_t id;
	int first, r;

	if (argc >= 2 && strcmp(argv[1], "rm") == 0) /* `job rm ID`: cmd_job_rm.c */
		return cmd_job_rm(c, argc - 1, argv + 1);
	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if ((r = cli_parse_i64("job", "ID", argv[first], 1, INT64_MAX, &id)) != 0)
		return r;
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	return show_job(c, id, a.fmt);
}
