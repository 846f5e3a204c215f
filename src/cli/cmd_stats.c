/*
 * cmd_stats.c - `scandb stats [--exact]`: how big the database is and what
 * is in it: rows and on-disk size per table and index (large ones estimated
 * from a sample of their pages, marked "~", unless --exact), the database
 * size, jobs by status, the oldest and newest job (store_stats; sizes from
 * SQLite's dbstat, PostgreSQL's catalog).  docs/OPERATIONS.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/views.h"
#include "cli/cli.h"
#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/error.h"
#include "core/timeutil.h"

static const char usage[] =
    "usage: scandb stats [--exact] [--format table|json|ndjson|csv]\n"
    "\n"
    "Rows and on-disk size of every table and index, the database size, jobs\n"
    "by status, hosts by status (up, down, gone, ...), and the oldest and\n"
    "newest job (by scan time).  The rows and\n"
    "sizes of large tables and indexes are estimated from a sample of their\n"
    "pages (marked ~; \"estimated\": true), so stats answers in well under a\n"
    "second whatever the size of the database; the database size is exact.\n"
    "\n"
    "  --exact           count every row and page (reads the whole database)\n"
    "  --format FORMAT   table (default), json, or ndjson/csv (one row per\n"
    "                    table and index: kind, name, table, rows, bytes,\n"
    "                    estimated)\n";

/* ndjson/csv: one row per table and index. */
static int print_rows(const struct store_stats *s, enum cli_format fmt)
{
	static const char *const keys[] = {"kind", "name", "table", "rows", "bytes", "estimated"};
	json_t *rows = json_array();

	for (size_t i = 0; rows && i < s->nobjs; i++) {
		const struct store_stat_obj *x = &s->objs[i];
		json_array_append_new(
		    rows, json_pack("{s:s, s:s, s:s, s:o, s:o, s:b}", "kind",
		                    x->is_index ? "index" : "table", "name", x->name, "table",
		                    x->table, "rows", ops_json_opt(x->rows), "bytes",
		                    ops_json_opt(x->bytes), "estimated", x->estimated));
	}
	return ops_print_rows(fmt, keys, 6, rows) ? output_err("stats", SDB_EIO) : CLI_OK;
}

static int64_t job_time(const struct store_job *j)
{
	return j->started_at ? j->started_at : j->created_at;
}

static int print_json(const struct store_stats *s)
{
	json_t *o = view_stats_json(s);

	if (!o)
		return output_err("stats", SDB_ENOMEM);
	return output_json_print(stdout, o) ? output_err("stats", SDB_EIO) : CLI_OK;
}

static void job_line(const char *label, const struct store_job *j)
{
	char at[TIME_ISO_LEN];
	char *src;

	if (!j) {
		printf("%-12s -\n", label);
		return;
	}
	time_format_iso(job_time(j), at);
	src = output_text(j->source, 60, "-");
	printf("%-12s %" PRId64 "  %s  %s  %s\n", label, j->id, at, j->status, src ? src : "-");
	free(src);
}

static int print_table(const struct store_stats *s)
{
	static const char *const tcols[] = {"TABLE", "ROWS", "SIZE"};
	static const char *const icols[] = {"INDEX", "TABLE", "ENTRIES", "SIZE"};
	struct output_table t, ix;
	char size[32], free_[32];
	int estimated = 0, r;

	ops_bytes(s->db_bytes, size, sizeof(size));
	ops_bytes(s->free_bytes, free_, sizeof(free_));
	printf("%-12s %s\n", "backend", s->backend);
	printf("%-12s %s (unused %s; sizes by %s)\n", "database", size, free_, s->size_method);
	printf("%-12s %" PRId64 " (queued %" PRId64 ", running %" PRId64 ", completed %" PRId64
	       ", failed %" PRId64 ", cancelled %" PRId64 ")\n",
	       "jobs", s->jobs_total, s->jobs_by_status[0], s->jobs_by_status[1],
	       s->jobs_by_status[2], s->jobs_by_status[3], s->jobs_by_status[4]);
	job_line("oldest job", s->oldest_job);
	job_line("newest job", s->newest_job);
	printf("%-12s %" PRId64 " (up %" PRId64 ", down %" PRId64 ", gone %" PRId64
	       ", unknown %" PRId64 ", skipped %" PRId64 ")\n",
	       "hosts", s->hosts_total, s->hosts_by_status[REC_HOST_UP],
	       s->hosts_by_status[REC_HOST_DOWN], s->hosts_by_status[REC_HOST_GONE],
	       s->hosts_by_status[REC_HOST_UNKNOWN], s->hosts_by_status[REC_HOST_SKIPPED]);
	putchar('\n');
	if ((r = output_table_init(&t, 3, tcols)) != 0)
		return output_err("stats", r);
	if ((r = output_table_init(&ix, 4, icols)) != 0) {
		output_table_free(&t);
		return output_err("stats", r);
	}
	for (size_t i = 0; i < s->nobjs && r == 0; i++) {
		const struct store_stat_obj *x = &s->objs[i];
		char rows[24] = "-", bytes[40];

		if (x->rows >= 0)
			snprintf(rows, sizeof(rows), "%s%" PRId64, x->estimated ? "~" : "",
			         x->rows);
		ops_bytes(x->bytes, bytes + (x->bytes_estimated ? 1 : 0),
		          sizeof(bytes) - (x->bytes_estimated ? 1 : 0));
		if (x->bytes_estimated)
			bytes[0] = '~';
		estimated |= x->estimated;
		if (x->is_index) {
			const char *cells[4] = {x->name, x->table, rows, bytes};
			r = output_table_add(&ix, cells);
		} else {
			const char *cells[3] = {x->name, rows, bytes};
			r = output_table_add(&t, cells);
		}
	}
	if (r == 0)
		r = output_table_print(&t, stdout);
	if (r == 0 && putchar('\n') == EOF)
		r = SDB_EIO;
	if (r == 0)
		r = output_table_print(&ix, stdout);
	if (r == 0 && estimated &&
	    printf("\n~ estimated from a sample of the pages of each large table and index "
	           "(scandb stats --exact counts them all)\n") < 0)
		r = SDB_EIO;
	output_table_free(&t);
	output_table_free(&ix);
	return r ? output_err("stats", r) : CLI_OK;
}

/* What `stats` was asked. */
struct stats_args {
	enum cli_format fmt;
	int exact;
};

/* cli_args.on_opt: --exact, --format. */
static int stats_opt(void *ctx, int ch, char *arg)
{
	struct stats_args *a = ctx;

	if (ch == 'x') {
		a->exact = 1;
		return 0;
	}
	return ch == 'f' ? ops_parse_format("stats", arg, 1, &a->fmt) : CLI_ARG_UNKNOWN;
}

int cmd_stats(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"exact", no_argument, NULL, 'x'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct stats_args a = {CLI_FMT_TABLE, 0};
	const struct cli_args spec = {.cmd = "stats",
	                              .usage = usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = stats_opt,
	                              .ctx = &a};
	struct store_stats s;
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, NULL)) != CLI_GO_ON)
		return r;
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	if ((r = store_stats(c->st, a.exact, &s)) != 0)
		return output_store_err(c, "stats", r);
	r = a.fmt == CLI_FMT_JSON    ? print_json(&s)
	    : a.fmt == CLI_FMT_TABLE ? print_table(&s)
	                             : print_rows(&s, a.fmt);
	store_stats_free(&s);
	return r;
}
