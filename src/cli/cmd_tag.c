/*
 * cmd_tag.c - `scandb tag ADDR|CIDR add|rm TAG...` (tags on the known hosts
 * of an address or a CIDR block; app/tags.c) and `scandb tags [ADDR]` (every
 * tag with its number of hosts, or one host's tags).  Formats and fields:
 * docs/OUTPUT.md.
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
#include "core/error.h"
#include "core/timeutil.h"

static const char tag_usage[] =
    "usage: scandb tag ADDR|CIDR add|rm TAG... [--format table|json]\n"
    "\n"
    "Add tags to, or remove them from, a known host or every known host of a\n"
    "CIDR block (10.0.0.0/24, 2001:db8::/64).  A tag is 1-64 letters, digits\n"
    "and - _ . : characters.  Adding a tag a host has, or removing one it has\n"
    "not, is not an error; the command says how many hosts changed.  The\n"
    "author is $SCANDB_AUTHOR, else the user's login name.\n"
    "\n"
    "  --format FORMAT   table (default) or json\n";

static const char tags_usage[] = "usage: scandb tags [ADDR] [--format table|json|ndjson|csv]\n"
                                 "\n"
                                 "List every tag with the number of hosts that have it, or\n"
                                 "the tags of one host (when added, by whom).\n"
                                 "\n"
                                 "  --format FORMAT   table (default), json, ndjson or csv\n";

static const struct option fmt_opts[] = {
    {"format", required_argument, NULL, 'f'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

struct fmt_arg {
	const char *cmd;
	int tabular;
	enum cli_format fmt;
};

static int fmt_opt(void *ctx, int ch, char *arg)
{
	struct fmt_arg *a = ctx;

	if (ch == 'f')
		return ops_parse_format(a->cmd, arg, a->tabular, &a->fmt);
	return CLI_ARG_UNKNOWN;
}

/* The operands of `tag`: target, action, tags; usage errors name them. */
static int tag_check(char **v, int n)
{
	unsigned char lo[16], hi[16];
	int add;

	if (addr_parse(v[0], NULL, NULL, lo) != 0 && addr_cidr_parse(v[0], lo, hi) != 0)
		return cli_usage_err("tag", "ADDR|CIDR: '%s' is not an address or a CIDR block",
		                     v[0]);
	if (n < 2)
		return cli_usage_err("tag", "missing add or rm");
	add = strcmp(v[1], "add") == 0;
	if (!add && strcmp(v[1], "rm") != 0)
		return cli_usage_err("tag", "'%s': the action is add or rm", v[1]);
	if (n < 3)
		return cli_usage_err("tag", "missing TAG");
	for (int i = 2; i < n; i++) {
		if (!store_tag_valid(v[i])) {
			char *safe = output_text(v[i], 80, "");
			cli_usage_err(
			    "tag", "TAG '%s': a tag is 1-%d letters, digits and - _ . : characters",
			    safe ? safe : "?", STORE_TAG_MAX);
			free(safe);
			return CLI_USAGE;
		}
	}
	return add ? 1 : 0;
}

int cmd_tag(struct cli *c, int argc, char **argv)
{
	struct fmt_arg a = {"tag", 0, CLI_FMT_TABLE};
	const struct cli_args spec = {.cmd = "tag",
	                              .usage = tag_usage,
	                              .shortopts = ":h",
	                              .opts = fmt_opts,
	                              .on_opt = fmt_opt,
	                              .ctx = &a,
	                              .min = 1,
	                              .max = -1,
	                              .missing = "ADDR|CIDR"};
	struct app_tag_result res;
	const char *author;
	int first, add, bad, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if ((add = tag_check(argv + first, argc - first)) == CLI_USAGE)
		return CLI_USAGE;
	author = app_author(&bad);
	if (bad)
		return cli_usage_err("tag", "SCANDB_AUTHOR: not 1-%d bytes of printable UTF-8",
		                     STORE_AUTHOR_MAX);
	if ((r = cli_open_as(c, CLI_OPEN_UPDATE, NULL, 0)) != CLI_OK)
		return r;
	if ((r = app_tag(c->st, argv[first], add, (const char *const *)argv + first + 2,
	                 (size_t)(argc - first - 2), time_now(), author, &res)) != 0)
		return output_store_err(c, "tag", r);
	if (a.fmt == CLI_FMT_JSON) {
		json_t *tags = json_array(), *o;

		for (int i = first + 2; tags && i < argc; i++)
			json_array_append_new(tags, json_string(argv[i]));
		o = json_pack("{s:s, s:s, s:o?, s:I, s:I}", "target", argv[first], "action",
		              add ? "add" : "rm", "tags", tags, "hosts_matched",
		              (json_int_t)res.matched, "hosts_changed", (json_int_t)res.changed);
		if (!o)
			return output_err("tag", SDB_ENOMEM);
		return output_json_print(stdout, o) == 0 ? CLI_OK : output_err("tag", SDB_EIO);
	}
	printf("%s: %" PRId64 " of %" PRId64 " known host%s changed\n", add ? "added" : "removed",
	       res.changed, res.matched, res.matched == 1 ? "" : "s");
	return CLI_OK;
}

static const char *const tags_cols[] = {"TAG", "HOSTS"};
static const char *const host_tags_cols[] = {"TAG", "ADDED", "AUTHOR"};

static int csv_tags_header(FILE *f)
{
	const char *h[] = {"tag", "hosts"};
	return output_csv_row(f, h, 2);
}

static int csv_host_tags_header(FILE *f)
{
	const char *h[] = {"tag", "added", "author"};
	return output_csv_row(f, h, 3);
}

static int on_tag(void *ctx, const char *tag, int64_t hosts)
{
	struct output_list *l = ctx;
	char n[24];
	const char *cells[2] = {tag, n};

	snprintf(n, sizeof(n), "%" PRId64, hosts);
	l->n++;
	if (l->fmt == CLI_FMT_JSON || l->fmt == CLI_FMT_NDJSON)
		l->err = output_stream_item(
		    &l->js, json_pack("{s:s, s:I}", "tag", tag, "hosts", (json_int_t)hosts));
	else if (l->fmt == CLI_FMT_CSV)
		l->err = output_csv_row(stdout, cells, 2);
	else
		l->err = output_list_row(l, cells);
	return l->err;
}

static int on_host_tag(void *ctx, const char *tag, int64_t at, const char *author)
{
	struct output_list *l = ctx;
	char when[TIME_ISO_LEN];
	const char *cells[3] = {tag, when, author};

	time_format_iso(at, when);
	l->n++;
	if (l->fmt == CLI_FMT_JSON || l->fmt == CLI_FMT_NDJSON)
		l->err = output_stream_item(&l->js, view_host_tag_json(tag, at, author));
	else if (l->fmt == CLI_FMT_CSV)
		l->err = output_csv_row(stdout, cells, 3);
	else
		l->err = output_list_row(l, cells);
	return l->err;
}

int cmd_tags(struct cli *c, int argc, char **argv)
{
	struct fmt_arg a = {"tags", 1, CLI_FMT_TABLE};
	const struct cli_args spec = {.cmd = "tags",
	                              .usage = tags_usage,
	                              .shortopts = ":h",
	                              .opts = fmt_opts,
	                              .on_opt = fmt_opt,
	                              .ctx = &a,
	                              .min = 0,
	                              .max = 1};
	struct output_list l;
	char addr[ADDR_TEXT_MAX];
	int64_t id = 0;
	int first, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if (first < argc && addr_parse(argv[first], addr, NULL, NULL) != 0)
		return cli_usage_err("tags", "ADDR: '%s' is not an IPv4 or IPv6 address",
		                     argv[first]);
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	if (first < argc && (r = store_host_id(c->st, addr, &id)) != 0)
		return output_store_err(c, "tags", r);
	if (first < argc) {
		if ((r = output_list_begin(&l, a.fmt, 3, host_tags_cols, csv_host_tags_header)) ==
		    0)
			r = store_host_tags(c->st, id, on_host_tag, &l);
	} else if ((r = output_list_begin(&l, a.fmt, 2, tags_cols, csv_tags_header)) == 0) {
		r = store_tags_each(c->st, on_tag, &l);
	}
	return output_list_end(c, &l, r, "tag");
}
