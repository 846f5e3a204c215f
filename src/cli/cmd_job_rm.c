/*
 * cmd_job_rm.c - `scandb job rm ID [--dry-run] [--format ...]`: remove one
 * mistaken import or scan; the history of the hosts it touched is derived
 * again as if it had never been imported (app/job_rm.c).  --dry-run says
 * what would go and changes nothing.  `scandb job ID` (cmd_jobs.c) hands
 * `job rm ...` here.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "app/job_rm.h"
#include "cli/cli.h"
#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/error.h"

static const char usage[] =
    "usage: scandb job rm ID [--dry-run] [--format table|json|ndjson|csv]\n"
    "\n"
    "Remove one scan or import (a mistaken one) and derive the history of the\n"
    "hosts it saw again, in one transaction, as if it had never been imported:\n"
    "their change events, port state, current fields and findings.  Hosts that\n"
    "only this job saw are removed.  A queued or running job is refused.\n"
    "\n"
    "  --dry-run         say what would go; change nothing\n"
    "  --format FORMAT   table (default), json, ndjson or csv\n";

struct rm_args {
	enum cli_format fmt;
	int dry_run;
};

static int rm_opt(void *ctx, int ch, char *arg)
{
	struct rm_args *a = ctx;

	switch (ch) {
	case 'n':
		a->dry_run = 1;
		return 0;
	case 'f':
		return cli_parse_format("job rm", arg, &a->fmt);
	default:
		return CLI_ARG_UNKNOWN;
	}
}

static const char *const rm_keys[] = {
    "job",     "dry_run", "hosts", "hosts_removed", "ports", "events", "events_derived_again",
    "findings"};

static int print_result(int64_t id, const struct rm_args *a, const struct store_job_rm_count *n)
{
	json_t *o = json_pack(
	    "{s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I}", rm_keys[0], (json_int_t)id, rm_keys[1],
	    a->dry_run, rm_keys[2], (json_int_t)n->hosts, rm_keys[3], (json_int_t)n->hosts_gone,
	    rm_keys[4], (json_int_t)n->ports, rm_keys[5], (json_int_t)n->events, rm_keys[6],
	    (json_int_t)n->events_again, rm_keys[7], (json_int_t)n->findings);
	json_t *rows;

	if (!o)
		return output_err("job rm", SDB_ENOMEM);
	if (a->fmt == CLI_FMT_JSON)
		return output_json_print(stdout, o) ? output_err("job rm", SDB_EIO) : CLI_OK;
	if (a->fmt != CLI_FMT_TABLE) {
		if (!(rows = json_array()) || json_array_append_new(rows, o) != 0)
			return output_err("job rm", SDB_ENOMEM);
		return ops_print_rows(a->fmt, rm_keys, 8, rows) ? output_err("job rm", SDB_EIO)
		                                                : CLI_OK;
	}
	json_decref(o);
	printf("%s job %" PRId64 ": %" PRId64 " host%s (%" PRId64
	       " seen only by it: removed), %" PRId64 " port rows, %" PRId64
	       " change events; %" PRId64 " later events derived again; %" PRId64
	       " findings seen by it\n",
	       a->dry_run ? "would remove" : "removed", id, n->hosts, n->hosts == 1 ? "" : "s",
	       n->hosts_gone, n->ports, n->events, n->events_again, n->findings);
	return ferror(stdout) ? output_err("job rm", SDB_EIO) : CLI_OK;
}

int cmd_job_rm(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dry-run", no_argument, NULL, 'n'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rm_args a = {CLI_FMT_TABLE, 0};
	const struct cli_args spec = {.cmd = "job rm",
	                              .usage = usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = rm_opt,
	                              .ctx = &a,
	                              .min = 1,
	                              .max = 1,
	                              .missing = "job ID"};
	struct store_job_rm_count n;
	int64_t id;
	int first, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if ((r = cli_parse_i64("job rm", "ID", argv[first], 1, INT64_MAX, &id)) != 0)
		return r;
	if ((r = cli_open_as(c, CLI_OPEN_UPDATE, NULL, 0)) != CLI_OK)
		return r;
	if ((r = app_job_rm(c->st, id, a.dry_run, &n)) != 0)
		return output_store_err(c, "job rm", r);
	if ((r = print_result(id, &a, &n)) == CLI_OK && !c->quiet && a.dry_run)
		cli_err("dry run: nothing was changed");
	return r;
}
