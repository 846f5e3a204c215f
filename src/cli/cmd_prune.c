/*
 * cmd_prune.c - `scandb prune --older-than WHEN [--keep-last N] [--dry-run]`:
 * remove old jobs and their results in one transaction (store_prune says
 * which jobs; foreign keys cascade to their rows), and report what was
 * removed, or with --dry-run what would be.  What prune keeps and what it
 * does to the history: docs/OPERATIONS.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/timeutil.h"

static const char usage[] =
    "usage: scandb prune --older-than WHEN [--keep-last N] [--dry-run] [--force]\n"
    "                    [--format table|json|ndjson|csv]\n"
    "\n"
    "Remove jobs (scans and imports) whose scan time is before WHEN, with all\n"
    "their results, in one transaction, and report what was removed.  Kept\n"
    "whatever their age: running and queued jobs, the N newest jobs\n"
    "(--keep-last), and every job the current state needs (each host's latest\n"
    "scan, each port's latest probing scan), so 'scandb hosts' does not\n"
    "change.  The change events of removed jobs go with them.\n"
    "\n"
    "  --older-than WHEN  a duration (90d, 12w, 36h, 6mo, 1y) or a date\n"
    "                     (2026-01-01); s m h d w mo y: seconds, minutes,\n"
    "                     hours, days, weeks, 30-day months, 365-day years\n"
    "  --keep-last N      keep the N newest jobs regardless of age\n"
    "  --dry-run          report what would be removed; change nothing\n"
    "  --force            needed when WHEN is less than a day ago (30m is\n"
    "                     minutes: a typo for 30mo would remove almost all)\n"
    "  --format FORMAT    table (default), json, or ndjson/csv (one row per\n"
    "                     relation: table, column, action, rows)\n";

/* "1-3, 7, 9" into a growing JSON-free text, capped with "...". */
static void id_ranges(const int64_t *v, size_t n, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && off + 32 < len; i++) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		if (j > i)
			off += (size_t)snprintf(out + off, len - off, "%s%" PRId64 "-%" PRId64,
			                        i ? ", " : "", v[i], v[j]);
		else
			off += (size_t)snprintf(out + off, len - off, "%s%" PRId64, i ? ", " : "",
			                        v[i]);
		i = j;
		if (off + 32 >= len && j + 1 < n)
			snprintf(out + off, len - off, ", ...");
	}
}

static int print_json(const struct store_prune_opts *o, const struct store_prune_result *res)
{
	json_t *obj = json_object(), *jobs = json_array(), *del = json_object(),
	       *setnull = json_object();

	if (!obj || !jobs || !del || !setnull) {
		json_decref(obj);
		json_decref(jobs);
		json_decref(del);
		json_decref(setnull);
		return output_err("prune", SDB_ENOMEM);
	}
	for (size_t i = 0; i < res->njobs; i++)
		json_array_append_new(jobs, json_integer(res->jobs[i]));
	for (size_t i = 0; i < res->ncounts; i++) {
		const struct store_prune_count *c = &res->counts[i];
		if (c->set_null) {
			char key[80];
			snprintf(key, sizeof(key), "%s.%s", c->table, c->column);
			json_object_set_new(setnull, key, json_integer(c->rows));
		} else {
			json_t *prev = json_object_get(del, c->table);
			json_int_t n = prev ? json_integer_value(prev) : 0;
			json_object_set_new(del, c->table, json_integer(n + c->rows));
		}
	}
	json_object_set_new(obj, "dry_run", json_boolean(o->dry_run));
	json_object_set_new(obj, "older_than", ops_json_time(o->older_than));
	json_object_set_new(obj, "keep_last", json_integer(o->keep_last));
	json_object_set_new(obj, "jobs", jobs);
	json_object_set_new(obj, "deleted", del);
	json_object_set_new(obj, "set_null", setnull);
	json_object_set_new(obj, "kept",
	                    json_pack("{s:I, s:I, s:I}", "current_state",
	                              (json_int_t)res->kept_current, "unfinished",
	                              (json_int_t)res->kept_unfinished, "keep_last",
	                              (json_int_t)res->kept_last));
	return output_json_print(stdout, obj) ? output_err("prune", SDB_EIO) : CLI_OK;
}

/* ndjson/csv: one row per relation to jobs (and jobs itself). */
static int print_rows(const struct store_prune_result *res, enum cli_format fmt)
{
	static const char *const keys[] = {"table", "column", "action", "rows"};
	json_t *rows = json_array();

	for (size_t i = 0; rows && i < res->ncounts; i++) {
		const struct store_prune_count *c = &res->counts[i];
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:I}", "table", c->table,
		                                      "column", c->column, "action",
		                                      c->set_null ? "set_null" : "deleted", "rows",
		                                      (json_int_t)c->rows));
	}
	return ops_print_rows(fmt, keys, 4, rows) ? output_err("prune", SDB_EIO) : CLI_OK;
}

static int print_table(const struct store_prune_opts *o, const struct store_prune_result *res)
{
	static const char *const cols[] = {"TABLE", "COLUMN", "ROWS", "ACTION"};
	struct output_table t;
	char ids[512], when[TIME_ISO_LEN];
	int r;

	time_format_iso(o->older_than, when);
	id_ranges(res->jobs, res->njobs, ids, sizeof(ids));
	printf("%s %zu job%s older than %s%s%s\n", o->dry_run ? "would remove" : "removed",
	       res->njobs, res->njobs == 1 ? "" : "s", when, res->njobs ? ": " : "", ids);
	if ((r = output_table_init(&t, 4, cols)) != 0)
		return output_err("prune", r);
	for (size_t i = 0; i < res->ncounts && r == 0; i++) {
		const struct store_prune_count *c = &res->counts[i];
		char n[24];
		const char *cells[4];

		snprintf(n, sizeof(n), "%" PRId64, c->rows);
		cells[0] = c->table;
		cells[1] = c->column;
		cells[2] = n;
		cells[3] = c->set_null ? "set to NULL" : "deleted";
		r = output_table_add(&t, cells);
	}
	if (r == 0)
		r = output_table_print(&t, stdout);
	output_table_free(&t);
	if (r != 0)
		return output_err("prune", r);
	printf("kept old jobs: %" PRId64 " needed by the current state, %" PRId64
	       " running or queued, %" PRId64 " among the --keep-last newest\n",
	       res->kept_current, res->kept_unfinished, res->kept_last);
	return CLI_OK;
}

/* What `prune` was asked. */
struct prune_args {
	struct store_prune_opts o;
	enum cli_format fmt;
	int64_t now;
	const char *older_arg; /* --older-than's text, NULL if not given */
	int force;
};

/* cli_args.on_opt of `prune`. */
static int prune_opt(void *ctx, int ch, char *arg)
{
	struct prune_args *a = ctx;

	switch (ch) {
	case 'o':
		if (time_parse_since(arg, a->now, &a->o.older_than) != 0)
			return cli_usage_err("prune",
			                     "--older-than: '%s' is not a duration (90d, "
			                     "12w, 36h) or a date (2026-01-01)",
			                     arg);
		a->older_arg = arg;
		return 0;
	case 'k':
		return cli_parse_i64("prune", "--keep-last", arg, 0, INT64_MAX, &a->o.keep_last);
	case 'n':
		a->o.dry_run = 1;
		return 0;
	case 'F':
		a->force = 1;
		return 0;
	case 'f':
		return ops_parse_format("prune", arg, 1, &a->fmt);
	default:
		return CLI_ARG_UNKNOWN;
	}
}

int cmd_prune(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"older-than", required_argument, NULL, 'o'},
	    {"keep-last", required_argument, NULL, 'k'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"force", no_argument, NULL, 'F'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct prune_args a = {{0, 0, 0}, CLI_FMT_TABLE, time_now(), NULL, 0};
	const struct cli_args spec = {.cmd = "prune",
	                              .usage = usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = prune_opt,
	                              .ctx = &a};
	struct store_prune_result res;
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, NULL)) != CLI_GO_ON)
		return r;
	if (!a.older_arg)
		return cli_usage_err("prune", "--older-than WHEN is required (e.g. 90d)");
	if (a.now - a.o.older_than < 86400 && !a.force && !a.o.dry_run) {
		char when[TIME_ISO_LEN];
		time_format_iso(a.o.older_than, when);
		return cli_usage_err("prune",
		                     "--older-than %s is less than a day ago (%s): it would "
		                     "remove nearly every job; add --force if that is meant, "
		                     "or --dry-run to see what would go",
		                     a.older_arg, when[0] ? when : "the epoch");
	}
	if ((r = cli_open_as(c, CLI_OPEN_UPDATE, NULL, 0)) != CLI_OK)
		return r;
	if ((r = store_prune(c->st, &a.o, &res)) != 0)
		return output_store_err(c, "prune", r);
	r = a.fmt == CLI_FMT_JSON    ? print_json(&a.o, &res)
	    : a.fmt == CLI_FMT_TABLE ? print_table(&a.o, &res)
	                             : print_rows(&res, a.fmt);
	if (r == CLI_OK && !c->quiet && a.o.dry_run)
		cli_err("dry run: nothing was changed");
	store_prune_result_free(&res);
	return r;
}
