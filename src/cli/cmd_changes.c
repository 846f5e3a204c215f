/*
 * cmd_changes.c - `scandb changes` (change events across the network, since
 * a time) and `scandb history ADDRESS` (one host's timeline).  Events are
 * derived at import (history/events.c); this file only selects and prints
 * them, oldest first, in table, json, ndjson or csv.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/listing.h"
#include "cli/cli.h"
#include "cli/listing_opt.h"
#include "cli/output.h"
#include "core/addr.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "history/events.h"

static const char changes_usage[] =
    "usage: scandb changes [--since 7d|DATE] [--host ADDR] [--net CIDR]\n"
    "                      [--kind KIND[,KIND...]] [--sort [-]FIELD] [--limit N]\n"
    "                      [--format table|json|ndjson|csv]\n\n"
    "What changed on the network, oldest first: hosts that came up or went down,\n"
    "ports opened or closed, services, OS, MAC, hostnames and script output that\n"
    "changed.  Times are scan times.  A port is reported closed only by a scan\n"
    "that probed it while the host was up.\n\n"
    "  --since WHEN     events at or after WHEN: a duration back from now (90m,\n"
    "                   12h, 7d, 2w, 6mo, 1y) or a date (2026-11-01,\n"
    "                   2026-11-01T10:00:00Z); default: all\n"
    "  --host ADDR      one host\n"
    "  --net CIDR       hosts in a block\n"
    "  --kind LIST      host_up, host_down, port_opened, port_closed,\n"
    "                   service_changed, os_changed, mac_changed,\n"
    "                   hostname_changed, script_changed, host_gone (the\n"
    "                   last --gone-after scans that covered it saw it down\n"
    "                   or did not list it; see scandb import --help)\n" CLI_LIST_USAGE
    "  --format FORMAT  table (default), json, ndjson or csv\n\n"
    "Sort fields: at (the default order, streamed), addr, kind, port, job_id.\n"
    "Another order holds the events in memory (only N with --limit N);\n"
    "--sort -at --limit N gives the N latest.\n";

static const char history_usage[] =
    "usage: scandb history ADDRESS [--since WHEN] [--sort [-]FIELD] [--limit N]\n"
    "                      [--format table|json|ndjson|csv]\n\n"
    "One host's timeline: every change scandb derived for it, oldest first.\n"
    "An address scandb never saw is an error (exit 1).\n\n"
    "  --since WHEN     events at or after WHEN: a duration back from now (90m,\n"
    "                   12h, 7d, 2w, 6mo, 1y) or a date (2026-11-01,\n"
    "                   2026-11-01T10:00:00Z); default: all\n" CLI_LIST_USAGE
    "  --format FORMAT  table (default), json, ndjson or csv\n\n"
    "Sort fields: at (the default order, streamed), kind, port, job_id.\n";

static const char *const cols[] = {"WHEN", "ADDRESS", "EVENT", "PORT", "OLD", "NEW", "JOB"};

static int csv_header(FILE *f)
{
	static const char *const h[] = {"at",     "addr", "kind", "protocol", "port",
	                                "script", "old",  "new",  "job_id",   "prev_job_id"};
	return output_csv_row(f, h, sizeof(h) / sizeof(h[0]));
}

static int event_row(struct output_list *l, const struct store_event *e)
{
	char at[TIME_ISO_LEN], port[32] = "", job[48];
	char *old = NULL, *new_ = NULL;
	int r;

	time_format_iso(e->at, at);
	if (e->port >= 0)
		snprintf(port, sizeof(port), "%d/%s", e->port, e->protocol ? e->protocol : "?");
	if (e->prev_job_id)
		snprintf(job, sizeof(job), "%lld (vs %lld)", (long long)e->job_id,
		         (long long)e->prev_job_id);
	else
		snprintf(job, sizeof(job), "%lld", (long long)e->job_id);
	if (l->fmt == CLI_FMT_CSV) {
		char jid[24], pjid[24] = "";
		const char *v[10];
		snprintf(jid, sizeof(jid), "%lld", (long long)e->job_id);
		if (e->prev_job_id)
			snprintf(pjid, sizeof(pjid), "%lld", (long long)e->prev_job_id);
		snprintf(port, sizeof(port), "%d", e->port);
		v[0] = at;
		v[1] = e->addr;
		v[2] = e->kind;
		v[3] = e->protocol ? e->protocol : "";
		v[4] = e->port >= 0 ? port : "";
		v[5] = e->detail ? e->detail : "";
		v[6] = e->old_value ? e->old_value : "";
		v[7] = e->new_value ? e->new_value : "";
		v[8] = jid;
		v[9] = pjid;
		return output_csv_row(stdout, v, 10);
	}
	/* table: one line per event; script output is shortened */
	old = output_text(e->old_value, 40, "-");
	new_ = output_text(e->new_value, 40, "-");
	if (!old || !new_) {
		r = SDB_ENOMEM;
	} else {
		char kind[96];
		const char *cells[7];
		snprintf(kind, sizeof(kind), "%s%s%s", e->kind, e->detail ? " " : "",
		         e->detail ? e->detail : "");
		cells[0] = at;
		cells[1] = e->addr;
		cells[2] = kind;
		cells[3] = port[0] ? port : "-";
		cells[4] = old;
		cells[5] = new_;
		cells[6] = job;
		r = output_list_row(l, cells);
	}
	free(old);
	free(new_);
	return r;
}

/* The listing's emit: print one event, then free it. */
static int on_event(void *ctx, void *item)
{
	struct output_list *l = ctx;
	struct store_event *e = item;
	int r;

	if (l->fmt == CLI_FMT_JSON || l->fmt == CLI_FMT_NDJSON)
		r = output_stream_item(&l->js, view_event_json(e));
	else
		r = event_row(l, e);
	store_event_free(e);
	l->n++;
	l->err = r;
	return r;
}

static void drop_event(void *item)
{
	store_event_free(item);
}

/* store_events_each() callback: the event to the listing (ctx). */
static int to_listing(void *ctx, struct store_event *e)
{
	return listing_add(ctx, e);
}

static int parse_kinds(const char *cmd, const char *list, unsigned *out)
{
	char *copy = strdup(list), *part, *next;
	int r = 0;

	if (!copy)
		return cli_usage_err(cmd, "out of memory");
	*out = 0;
	for (part = copy; part && r == 0; part = next) {
		enum ev_kind k;
		if ((next = strchr(part, ',')))
			*next++ = '\0';
		if (ev_kind_parse(part, &k) != 0)
			r = cli_usage_err(cmd, "--kind: unknown event kind '%s'", part);
		else
			*out |= 1u << k;
	}
	free(copy);
	return r;
}

enum { OPT_SINCE = 256, OPT_HOST, OPT_NET, OPT_KIND, OPT_FORMAT };

static int count_host(void *ctx, struct store_host *h)
{
	(*(int *)ctx)++;
	store_host_free(h);
	return 0;
}

/* history of an address never seen: an error, as `host` says it. */
static int host_known(struct cli *c, const char *addr)
{
	struct store_host_filter hf = STORE_HOST_FILTER_ANY;
	int n = 0, r;

	hf.addr = addr;
	if ((r = store_hosts_each(c->st, &hf, count_host, &n)) != 0)
		return output_store_err(c, "cannot read the database", r);
	if (n == 0) {
		cli_err("no host %s in the database", addr);
		return CLI_FAIL;
	}
	return CLI_OK;
}

static const struct option opts[] = {
    {"since", required_argument, NULL, OPT_SINCE},
    {"host", required_argument, NULL, OPT_HOST},
    {"net", required_argument, NULL, OPT_NET},
    {"kind", required_argument, NULL, OPT_KIND},
    {"format", required_argument, NULL, OPT_FORMAT},
    CLI_LIST_OPT_SORT,
    CLI_LIST_OPT_LIMIT,
    {NULL, 0, NULL, 0},
};

/* What `changes` or `history` was asked. */
struct changes_args {
	const char *cmd;
	int history; /* `history`: --host, --net and --kind are not its options */
	struct store_event_filter f;
	struct listing_order o;
	enum cli_format fmt;
	const char *host; /* --host, as given */
};

/* An option of `changes` that `history` refuses. */
static int changes_only(const struct changes_args *a, const char *opt)
{
	return cli_usage_err(a->cmd, "unknown option '%s' (an option of 'scandb changes')", opt);
}

/* cli_args.on_opt of both commands. */
static int changes_opt(void *ctx, int ch, char *arg)
{
	struct changes_args *a = ctx;

	switch (ch) {
	case OPT_SINCE:
		if (time_parse_since(arg, time_now(), &a->f.since) != 0)
			return cli_usage_err(a->cmd,
			                     "--since: '%s' is not a duration (7d, 12h, "
			                     "90m, 6mo) or a real date (2026-11-01)",
			                     arg);
		if (a->f.since < 0)
			a->f.since = 0;
		return 0;
	case OPT_HOST:
		if (a->history)
			return changes_only(a, "--host");
		a->host = arg;
		return 0;
	case OPT_NET:
		if (a->history)
			return changes_only(a, "--net");
		if (addr_cidr_parse(arg, a->f.net_lo, a->f.net_hi) != 0)
			return cli_usage_err(a->cmd, "--net: '%s' is not an address or CIDR block",
			                     arg);
		a->f.has_net = 1;
		return 0;
	case OPT_KIND:
		if (a->history)
			return changes_only(a, "--kind");
		return parse_kinds(a->cmd, arg, &a->f.kinds);
	case OPT_FORMAT:
		return cli_parse_format(a->cmd, arg, &a->fmt);
	case CLI_LIST_SORT:
	case CLI_LIST_LIMIT:
		return cli_listing_opt(a->cmd, ch, arg, listing_event_fields, &a->o);
	default:
		return CLI_ARG_UNKNOWN;
	}
}

/* List the events a asks for (of a known host, for `history`). */
static int list_changes(struct cli *c, struct changes_args *a)
{
	struct output_list l;
	struct listing lst;
	int r;

	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	if (a->history && (r = host_known(c, a->f.addr)) != CLI_OK)
		return r;
	listing_init(&lst, &a->o, on_event, drop_event, &l);
	if ((r = output_list_begin(&l, a->fmt, 7, cols, csv_header)) == 0) {
		output_table_max(&l.tab, 4, 40);
		output_table_max(&l.tab, 5, 40);
		r = store_events_each(c->st, &a->f, to_listing, &lst);
	}
	r = listing_end(&lst, r);
	return output_list_end(c, &l, r, "change");
}

static int run(struct cli *c, const char *cmd, const char *usage, int argc, char **argv,
               int history)
{
	struct changes_args a;
	const struct cli_args spec = {.cmd = cmd,
	                              .usage = usage,
	                              .shortopts = ":",
	                              .opts = opts,
	                              .on_opt = changes_opt,
	                              .ctx = &a,
	                              .min = history,
	                              .max = history,
	                              .missing = "ADDRESS"};
	char addr[ADDR_TEXT_MAX];
	int first, r;

	memset(&a, 0, sizeof(a));
	a.cmd = cmd;
	a.history = history;
	a.fmt = CLI_FMT_TABLE;
	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if (history)
		a.host = argv[first];
	if (a.host) {
		if (addr_parse(a.host, addr, NULL, NULL) != 0)
			return cli_usage_err(cmd, "'%s' is not an IPv4 or IPv6 address", a.host);
		a.f.addr = addr;
	}
	return list_changes(c, &a);
}

int cmd_changes(struct cli *c, int argc, char **argv)
{
	return run(c, "changes", changes_usage, argc, argv, 0);
}

int cmd_history(struct cli *c, int argc, char **argv)
{
	return run(c, "history", history_usage, argc, argv, 1);
}
