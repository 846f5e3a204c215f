/*
 * cmd_note.c - `scandb note ADDR TEXT...` (a dated note with its author on
 * a known host; app/tags.c), `scandb note ADDR` (the host's notes, oldest
 * first) and `scandb note rm ID`.  Formats and fields: docs/OUTPUT.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/tags.h"
#include "app/views.h"
#include "cli/cli.h"
#include "cli/host_says.h"
#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"

static const char usage[] =
    "usage: scandb note ADDR TEXT...  [--format table|json]\n"
    "       scandb note ADDR          [--format table|json|ndjson|csv]\n"
    "       scandb note rm ID\n"
    "\n"
    "Add a note to a known host (its words joined by spaces; newlines and tabs\n"
    "are kept, other control characters refused; up to 65536 bytes), list the\n"
    "host's notes oldest first, or remove note ID.  The author is\n"
    "$SCANDB_AUTHOR, else the user's login name; the time is now.\n"
    "\n"
    "  --format FORMAT   table (default), json, ndjson or csv (csv and ndjson:\n"
    "                    the listing only)\n";

static const struct option opts[] = {
    {"format", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int note_opt(void *ctx, int ch, char *arg)
{
	if (ch == 'f')
		return cli_parse_format("note", arg, ctx);
	return CLI_ARG_UNKNOWN;
}

static const char *const note_cols[] = {"ID", "AT", "AUTHOR", "TEXT"};

static int csv_note_header(FILE *f)
{
	const char *h[] = {"id", "at", "author", "text"};
	return output_csv_row(f, h, 4);
}

static int on_note(void *ctx, const struct store_note *n)
{
	struct output_list *l = ctx;
	char id[24], at[TIME_ISO_LEN];
	const char *cells[4] = {id, at, n->author, n->text};

	snprintf(id, sizeof(id), "%" PRId64, n->id);
	time_format_iso(n->at, at);
	l->n++;
	if (l->fmt == CLI_FMT_JSON || l->fmt == CLI_FMT_NDJSON)
		l->err = output_stream_item(&l->js, view_host_note_json(n));
	else if (l->fmt == CLI_FMT_CSV)
		l->err = output_csv_row(stdout, cells, 4);
	else
		l->err = output_list_row(l, cells);
	return l->err;
}

static int note_list(struct cli *c, const char *addr, enum cli_format fmt)
{
	struct output_list l;
	int64_t id;
	int r;

	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	if ((r = store_host_id(c->st, addr, &id)) != 0)
		return output_store_err(c, "note", r);
	if ((r = output_list_begin(&l, fmt, 4, note_cols, csv_note_header)) == 0) {
		output_table_max(&l.tab, 3, 60);
		r = store_host_notes(c->st, id, on_note, &l);
	}
	return output_list_end(c, &l, r, "note");
}

static int note_rm(struct cli *c, char **v, int n)
{
	int64_t id;
	int r;

	if (n != 2)
		return cli_usage_err("note",
		                     n < 2 ? "rm: missing note ID" : "rm: unexpected argument '%s'",
		                     n < 2 ? "" : v[2]);
	if ((r = cli_parse_i64("note", "ID", v[1], 1, INT64_MAX, &id)) != 0)
		return r;
	if ((r = cli_open_as(c, CLI_OPEN_UPDATE, NULL, 0)) != CLI_OK)
		return r;
	if ((r = store_note_rm(c->st, id)) != 0)
		return output_store_err(c, "note rm", r);
	if (!c->quiet)
		printf("removed note %" PRId64 "\n", id);
	return CLI_OK;
}

static int note_add(struct cli *c, const char *addr, char **words, int n, enum cli_format fmt)
{
	struct buf b;
	const char *author;
	int64_t id;
	int bad, r = 0;

	buf_init(&b, STORE_NOTE_MAX + 1);
	for (int i = 0; i < n && r == 0; i++)
		r = buf_printf(&b, "%s%s", i ? " " : "", words[i]);
	if (r != 0 || !store_note_text_valid(buf_str(&b), STORE_NOTE_MAX, 0)) {
		buf_free(&b);
		return cli_usage_err(
		    "note",
		    "TEXT: a note is 1-%d bytes of UTF-8 without control characters"
		    " (newline and tab allowed)",
		    STORE_NOTE_MAX);
	}
	author = app_author(&bad);
	if (bad) {
		buf_free(&b);
		return cli_usage_err("note", "SCANDB_AUTHOR: not 1-%d bytes of printable UTF-8",
		                     STORE_AUTHOR_MAX);
	}
	if ((r = cli_open_as(c, CLI_OPEN_UPDATE, NULL, 0)) == CLI_OK &&
	    (r = app_note_add(c->st, addr, buf_str(&b), time_now(), author, &id)) != 0)
		r = output_store_err(c, "note", r);
	buf_free(&b);
	if (r != CLI_OK)
		return r;
	if (fmt == CLI_FMT_JSON)
		return output_json_print(
		           stdout, json_pack("{s:I, s:s}", "id", (json_int_t)id, "addr", addr))
		           ? output_err("note", SDB_EIO)
		           : CLI_OK;
	printf("added note %" PRId64 " to %s\n", id, addr);
	return CLI_OK;
}

int cmd_note(struct cli *c, int argc, char **argv)
{
	enum cli_format fmt = CLI_FMT_TABLE;
	const struct cli_args spec = {.cmd = "note",
	                              .usage = usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = note_opt,
	                              .ctx = &fmt,
	                              .min = 1,
	                              .max = -1,
	                              .missing = "ADDR"};
	char addr[ADDR_TEXT_MAX];
	int first, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if (strcmp(argv[first], "rm") == 0)
		return note_rm(c, argv + first, argc - first);
	if (addr_parse(argv[first], addr, NULL, NULL) != 0)
		return cli_usage_err("note", "ADDR: '%s' is not an IPv4 or IPv6 address",
		                     argv[first]);
	if (first + 1 == argc)
		return note_list(c, addr, fmt);
	if (fmt != CLI_FMT_TABLE && fmt != CLI_FMT_JSON)
		return cli_usage_err("note", "--format: adding a note answers in table or json");
	return note_add(c, addr, argv + first + 1, argc - first - 1, fmt);
}
