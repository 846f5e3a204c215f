/*
 * cmd_hosts.c - `scandb hosts` (hosts and their ports, filtered) and
 * `scandb host ADDRESS` (one host in detail, nmap-like).  Each host is shown
 * as one job saw it: its most recent scan, or the job named by --job.
 * Results are streamed from the store; only the text table buffers rows
 * (to size its columns).  Formats and field names: output.c, docs/OUTPUT.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "app/listing.h"
#include "app/views.h"
#include "cli/cli.h"
#include "cli/host_filter.h"
#include "cli/listing_opt.h"
#include "cli/host_says.h"
#include "cli/output.h"
#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"

/* Table cells wider than this are cut with "…". */
#define HOSTS_NAME_MAX 30
#define HOSTS_OS_MAX   30
/* Cap on one formatted line of the `host` view. */
#define HOST_LINE_MAX (16u << 20)

enum { OPT_ALL_STATES = CLI_HF_NEXT, OPT_FORMAT };

static const char hosts_usage[] =
    "usage: scandb hosts [--port N[/tcp|udp|sctp]] [--service NAME]\n"
    "                    [--status up|down|gone|unknown|skipped] [--net CIDR] [--job ID]\n"
    "                    [--changed-since WHEN] [--new-since WHEN]\n"
    "                    [--all-states] [--sort [-]FIELD] [--limit N]\n"
    "                    [--format table|json|ndjson|csv]\n"
    "\n"
    "List hosts in address order, in their current state: each port as the most\n"
    "recent scan that probed it saw it (a scan of other ports, or one that found\n"
    "the host down, changes nothing), or exactly as job ID saw them.\n"
    "\n"
    "  FILTER            search terms, ANDed (also or, not or !, parentheses):\n"
    "                    port:22/tcp service:ssh product:openssh version:<8.0\n"
    "                    cpe:PREFIX script:ID[~/REGEX/i] hostname:GLOB os:linux\n"
    "                    mac-vendor:cisco net:CIDR tag:lab status:up first-seen:<7d\n"
    "                    changed:<1d finding:high+ (man scandb: SEARCH)\n"
    "  --port N[/PROTO]  hosts with port N open (any protocol unless given)\n"
    "  --service NAME    hosts with an open port running service NAME\n"
    "  --status STATUS   hosts whose status in the scan shown is STATUS\n"
    "  --net CIDR        hosts inside CIDR (10.0.0.0/8, 2001:db8::/32, or one address)\n"
    "  --job ID          show hosts as job ID saw them (only hosts in that job)\n"
    "  --changed-since WHEN  hosts with a change event since WHEN (7d, 12h, a date)\n"
    "  --new-since WHEN  hosts first seen since WHEN\n"
    "  --all-states      table: list every port with its state, not only open ones\n" CLI_LIST_USAGE
    "  --format FORMAT   table (default), json, ndjson or csv\n"
    "\n"
    "Sort fields: addr (the default order, streamed), status, hostname, os, ports\n"
    "(open ports), first_seen, last_seen.  Another order than addr holds the\n"
    "hosts in memory (only N of them with --limit N) and prints them at the end.\n";

static const char host_usage[] =
    "usage: scandb host ADDRESS [--job ID] [--format table|json|ndjson|csv]\n"
    "\n"
    "Show one host: addresses, names, OS, every port with its service and\n"
    "script output, as its most recent scan saw it (or as job ID saw it).\n"
    "\n"
    "  --job ID          show the host as job ID saw it\n"
    "  --format FORMAT   table (default), json, ndjson or csv\n";

struct hosts_ctx {
	struct output_list l;
	struct listing lst;
	int all_states;
};

static const char *const hosts_cols[] = {"ADDRESS", "STATUS",     "HOSTNAME",
                                         "OS",      "OPEN PORTS", "LAST SEEN"};

/* The OPEN PORTS cell: "22/tcp ssh, 443/tcp ssl/http", or with all_states
 * every port "22/tcp open ssh, 81/tcp closed". */
static int ports_cell(const struct store_host *h, int all_states, struct buf *b)
{
	int r = 0;

	for (size_t i = 0; i < h->nports && r == 0; i++) {
		const struct store_port *p = &h->ports[i];

		if (!all_states && (!p->state || strcmp(p->state, "open") != 0))
			continue;
		r = buf_printf(b, "%s%d/%s", b->len ? ", " : "", p->port,
		               p->protocol ? p->protocol : "?");
		if (r == 0 && all_states)
			r = buf_printf(b, " %s", p->state ? p->state : "?");
		if (r == 0 && p->service && *p->service)
			r = buf_append_char(b, ' ');
		if (r == 0)
			r = output_service_append(b, p);
	}
	return r;
}

static int hosts_table_row(struct hosts_ctx *x, const struct store_host *h)
{
	char last[TIME_ISO_LEN];
	const char *cells[6];
	struct buf names, ports;
	int r = 0;

	buf_init(&names, HOST_LINE_MAX);
	buf_init(&ports, HOST_LINE_MAX);
	for (size_t i = 0; i < h->nhostnames && r == 0; i++)
		r = buf_printf(&names, "%s%s", i ? "," : "", h->hostnames[i]);
	if (r == 0)
		r = ports_cell(h, x->all_states, &ports);
	if (r != 0)
		goto out;
	time_format_iso(h->last_seen, last);
	cells[0] = h->addr;
	cells[1] = h->status;
	cells[2] = buf_str(&names);
	cells[3] = h->os;
	cells[4] = buf_str(&ports);
	cells[5] = last;
	r = output_list_row(&x->l, cells);
out:
	buf_free(&names);
	buf_free(&ports);
	return r;
}

/* The listing's emit: print or buffer one host, then free it. */
static int emit_host(void *ctx, void *item)
{
	struct hosts_ctx *x = ctx;
	struct store_host *h = item;
	int r;

	switch (x->l.fmt) {
	case CLI_FMT_JSON:
	case CLI_FMT_NDJSON:
		r = output_stream_host(&x->l.js, h);
		break;
	case CLI_FMT_CSV:
		r = output_host_csv_rows(stdout, h);
		break;
	default:
		r = hosts_table_row(x, h);
		break;
	}
	store_host_free(h);
	x->l.n++;
	x->l.err = r;
	return r;
}

static void drop_host(void *item)
{
	store_host_free(item);
}

/* store_hosts_each() callback: the host to the listing (sort, limit). */
static int on_host(void *ctx, struct store_host *h)
{
	struct hosts_ctx *x = ctx;

	return listing_add(&x->lst, h);
}

/* store_hosts_each() callback of `host`: keep the host in *ctx. */
static int on_one_host(void *ctx, struct store_host *h)
{
	struct store_host **one = ctx;

	store_host_free(*one);
	*one = h;
	return 0;
}

static const struct option hosts_opts[] = {
    CLI_HF_OPT_PORT,
    CLI_HF_OPT_SERVICE,
    CLI_HF_OPT_STATUS,
    CLI_HF_OPT_NET,
    CLI_HF_OPT_JOB,
    {"all-states", no_argument, NULL, OPT_ALL_STATES},
    CLI_HF_OPT_CHANGED_SINCE,
    CLI_HF_OPT_NEW_SINCE,
    CLI_LIST_OPT_SORT,
    CLI_LIST_OPT_LIMIT,
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What `hosts` was asked. */
struct hosts_args {
	struct store_host_filter f;
	struct listing_order o;
	int all_states;
	enum cli_format fmt;
};

/* cli_args.on_opt of `hosts`. */
static int hosts_opt(void *ctx, int ch, char *arg)
{
	struct hosts_args *a = ctx;

	switch (ch) {
	case OPT_ALL_STATES:
		a->all_states = 1;
		return 0;
	case OPT_FORMAT:
		return cli_parse_format("hosts", arg, &a->fmt);
	case CLI_LIST_SORT:
	case CLI_LIST_LIMIT:
		return cli_listing_opt("hosts", ch, arg, listing_host_fields, &a->o);
	default:
		return cli_host_filter_opt("hosts", ch, arg, &a->f);
	}
}

int cmd_hosts(struct cli *c, int argc, char **argv)
{
	struct hosts_args a = {STORE_HOST_FILTER_ANY, {NULL, 0, 0}, 0, CLI_FMT_TABLE};
	const struct cli_args spec = {.cmd = "hosts",
	                              .usage = hosts_usage,
	                              .shortopts = ":h",
	                              .opts = hosts_opts,
	                              .on_opt = hosts_opt,
	                              .ctx = &a,
	                              .max = -1};
	struct filter expr;
	int first = 0;
	struct hosts_ctx x;
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if ((r = cli_host_filter_terms("hosts", argc, argv, first, &expr, &a.f)) != 0)
		return r;
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK) {
		filter_free(&expr);
		return r;
	}
	if (a.f.job_id > 0 && (r = output_find_job(c, a.f.job_id, NULL)) != CLI_OK) {
		filter_free(&expr);
		return r;
	}
	memset(&x, 0, sizeof(x));
	x.all_states = a.all_states;
	listing_init(&x.lst, &a.o, emit_host, drop_host, &x);
	if ((r = output_list_begin(&x.l, a.fmt, 6, hosts_cols, output_host_csv_header)) == 0) {
		output_table_max(&x.l.tab, 2, HOSTS_NAME_MAX);
		output_table_max(&x.l.tab, 3, HOSTS_OS_MAX);
		r = store_hosts_each(c->st, &a.f, on_host, &x);
	}
	r = listing_end(&x.lst, r);
	r = output_list_end(c, &x.l, r, "host");
	filter_free(&expr);
	return r;
}

/* ---- `host`: the nmap-like view ------------------------------------------- */

/* Print one formatted line, made terminal-safe (output_text). */
static int line(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int line(FILE *f, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	char *safe = NULL;
	int r;

	buf_init(&b, HOST_LINE_MAX);
	va_start(ap, fmt);
	r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0 && !(safe = output_text(buf_str(&b), 0, "")))
		r = SDB_ENOMEM;
	if (r == 0 && (fputs(safe, f) == EOF || fputc('\n', f) == EOF))
		r = SDB_EIO;
	free(safe);
	buf_free(&b);
	return r;
}

/*
 * Script output the nmap way: "| id: first line", then "|  next line" for
 * each further line (a final newline adds no empty line).  Each line goes
 * to `emit`.
 */
static int script_lines(const struct store_script *s, int (*emit)(void *, const char *), void *ctx)
{
	const char *p = s->output ? s->output : "";
	struct buf b;
	int r = 0, first = 1;

	buf_init(&b, HOST_LINE_MAX);
	do {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n > 0 && p[n - 1] == '\r')
			n--;
		buf_reset(&b);
		if (first)
			r = buf_printf(&b, "| %s: ", s->id ? s->id : "?");
		else
			r = buf_append_str(&b, "|  ");
		if (r == 0)
			r = buf_append(&b, p, n);
		if (r == 0)
			r = emit(ctx, buf_str(&b));
		first = 0;
		p = nl ? nl + 1 : NULL;
	} while (r == 0 && p && *p);
	buf_free(&b);
	return r;
}

static int emit_stdout(void *ctx, const char *s)
{
	return line(ctx, "%s", s);
}

/* The VERSION cell: product, version and extrainfo joined by spaces. */
static int version_cell(const struct store_port *p, struct buf *b)
{
	const char *parts[3] = {p->product, p->version, p->extrainfo};
	int r = 0;

	for (size_t i = 0; i < 3 && r == 0; i++)
		if (parts[i] && *parts[i])
			r = buf_printf(b, "%s%s", b->len ? " " : "", parts[i]);
	return r;
}

/* The ports as a table; each port's script output is printed under its
 * row as it is read (not buffered with the table: a host may hold
 * megabytes of it). */
static int host_ports_table(const struct store_host *h, FILE *f)
{
	static const char *const cols[] = {"PORT", "STATE", "SERVICE", "VERSION"};
	struct output_table t;
	struct buf port, svc, ver;
	int r;

	if ((r = output_table_init(&t, 4, cols)) != 0)
		return r;
	buf_init(&port, HOST_LINE_MAX);
	buf_init(&svc, HOST_LINE_MAX);
	buf_init(&ver, HOST_LINE_MAX);
	for (size_t i = 0; i < h->nports && r == 0; i++) {
		const struct store_port *p = &h->ports[i];
		const char *cells[4];

		buf_reset(&port);
		buf_reset(&svc);
		buf_reset(&ver);
		r = buf_printf(&port, "%d/%s", p->port, p->protocol ? p->protocol : "?");
		if (r == 0)
			r = output_service_append(&svc, p);
		if (r == 0)
			r = version_cell(p, &ver);
		cells[0] = buf_str(&port);
		cells[1] = p->state;
		cells[2] = buf_str(&svc);
		cells[3] = buf_str(&ver);
		if (r == 0)
			r = output_table_add(&t, cells);
	}
	if (r == 0)
		r = output_table_print_header(&t, f);
	for (size_t i = 0; i < h->nports && r == 0; i++) {
		r = output_table_print_row(&t, f, i);
		for (size_t k = 0; k < h->ports[i].nscripts && r == 0; k++)
			r = script_lines(&h->ports[i].scripts[k], emit_stdout, f);
	}
	buf_free(&port);
	buf_free(&svc);
	buf_free(&ver);
	output_table_free(&t);
	return r;
}

/* The OS lines of the `host` view: OS, Device type, Running, OS CPE (b: scratch). */
static int host_os_lines(const struct store_host *h, FILE *f, struct buf *b)
{
	int r = 0;

	if (h->os) {
		if (h->os_accuracy >= 0)
			r = line(f, "OS:          %s (%d%%)", h->os, h->os_accuracy);
		else
			r = line(f, "OS:          %s", h->os);
	}
	if (r == 0 && h->os_type)
		r = line(f, "Device type: %s", h->os_type);
	if (r == 0 && (h->os_vendor || h->os_family || h->os_gen)) {
		/* nmap's "Running": vendor, family unless the same, generation. */
		const char *parts[3] = {h->os_vendor, h->os_family, h->os_gen};

		if (h->os_vendor && h->os_family && strcmp(h->os_vendor, h->os_family) == 0)
			parts[1] = NULL;
		buf_reset(b);
		for (size_t i = 0; i < 3 && r == 0; i++)
			if (parts[i] && *parts[i])
				r = buf_printf(b, "%s%s", b->len ? " " : "", parts[i]);
		if (r == 0)
			r = line(f, "Running:     %s", buf_str(b));
	}
	if (r == 0 && h->os_cpe)
		r = line(f, "OS CPE:      %s", h->os_cpe);
	return r;
}

/* "Not shown:   998 closed tcp ports (reset:998)", if the host has extraports. */
static int host_extraports_line(const struct store_host *h, FILE *f, struct buf *b)
{
	int r = 0;

	if (!h->nextraports)
		return 0;
	buf_reset(b);
	for (size_t i = 0; i < h->nextraports && r == 0; i++) {
		const struct store_extraports *e = &h->extraports[i];

		r = buf_printf(b, "%s%ld %s ports", i ? ", " : "", e->count,
		               e->state ? e->state : "?");
		if (r == 0 && e->reasons && *e->reasons)
			r = buf_printf(b, " (%s)", e->reasons);
	}
	return r ? r : line(f, "Not shown:   %s", buf_str(b));
}

/* The `host` view, nmap-like: the host's lines, its ports, its scripts. */
static int print_host_block(const struct store_host *h, FILE *f)
{
	char first[TIME_ISO_LEN], last[TIME_ISO_LEN], scanned[TIME_ISO_LEN];
	struct buf b;
	int r = 0;

	buf_init(&b, HOST_LINE_MAX);
	time_format_iso(h->first_seen, first);
	time_format_iso(h->last_seen, last);
	time_format_iso(h->scanned_at, scanned);
	for (size_t i = 0; i < h->nhostnames && r == 0; i++)
		r = buf_printf(&b, "%s%s", i ? ", " : "", h->hostnames[i]);
	if (r == 0)
		r = line(f, "Host:        %s%s%s%s", h->addr, h->nhostnames ? " (" : "",
		         h->nhostnames ? h->hostnames[0] : "", h->nhostnames ? ")" : "");
	if (r == 0 && h->nhostnames)
		r = line(f, "Hostnames:   %s", buf_str(&b));
	if (r == 0 && h->mac)
		r = line(f, "MAC:         %s%s%s%s", h->mac, h->mac_vendor ? " (" : "",
		         h->mac_vendor ? h->mac_vendor : "", h->mac_vendor ? ")" : "");
	if (r == 0)
		r = line(f, "Status:      %s%s%s%s", h->status ? h->status : "?",
		         h->reason ? " (" : "", h->reason ? h->reason : "", h->reason ? ")" : "");
	if (r == 0)
		r = host_os_lines(h, f, &b);
	if (r == 0 && h->uptime >= 0)
		r = line(f, "Uptime:      %.3f days%s%s%s", (double)h->uptime / 86400.0,
		         h->lastboot ? " (since " : "", h->lastboot ? h->lastboot : "",
		         h->lastboot ? ")" : "");
	if (r == 0 && h->distance >= 0)
		r = line(f, "Distance:    %d hop%s", h->distance, h->distance == 1 ? "" : "s");
	if (r == 0)
		r = line(f, "First seen:  %s", first);
	if (r == 0)
		r = line(f, "Last seen:   %s", last);
	if (r == 0)
		r = line(f, "Shown:       job %" PRId64 ", scanned %s", h->job_id, scanned);
	if (r == 0)
		r = host_extraports_line(h, f, &b);
	if (r == 0 && h->nports) {
		fputc('\n', f);
		r = host_ports_table(h, f);
	}
	if (r == 0 && h->nscripts) {
		fputc('\n', f);
		r = line(f, "Host script results:");
		for (size_t i = 0; i < h->nscripts && r == 0; i++)
			r = script_lines(&h->scripts[i], emit_stdout, f);
	}
	buf_free(&b);
	return r;
}

static const struct option host_opts[] = {
    CLI_HF_OPT_JOB,
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* cli_args.on_opt of `host`. */
static int host_opt(void *ctx, int ch, char *arg)
{
	struct hosts_args *a = ctx;

	if (ch == CLI_HF_JOB)
		return cli_host_filter_opt("host", ch, arg, &a->f);
	if (ch == OPT_FORMAT)
		return cli_parse_format("host", arg, &a->fmt);
	return CLI_ARG_UNKNOWN;
}

/* The host of filter f (an address, maybe a job) in format fmt. */
static int show_host(struct cli *c, const struct store_host_filter *f, enum cli_format fmt)
{
	struct store_host *one = NULL;
	int r;

	if (f->job_id > 0 && (r = output_find_job(c, f->job_id, NULL)) != CLI_OK)
		return r;
	if ((r = store_hosts_each(c->st, f, on_one_host, &one)) != 0) {
		r = output_store_err(c, "cannot read the database", r);
		goto out;
	}
	if (!one) {
		if (f->job_id > 0)
			cli_err("no host %s in job %" PRId64, f->addr, f->job_id);
		else
			cli_err("no host %s in the database", f->addr);
		r = CLI_FAIL;
		goto out;
	}
	switch (fmt) {
	case CLI_FMT_JSON:
	case CLI_FMT_NDJSON: {
		/* what people say about it: tags and notes (host_says.c) */
		json_t *more = json_object();
		r = more ? view_host_says_add(c->st, one->id, more) : SDB_ENOMEM;
		if (r == 0)
			r = output_host_json_write_more(stdout, one, more, "\n");
		json_decref(more);
		break;
	}
	case CLI_FMT_CSV:
		r = output_host_csv_header(stdout);
		if (r == 0)
			r = output_host_csv_rows(stdout, one);
		break;
	default:
		r = print_host_block(one, stdout);
		if (r == 0)
			r = host_says_print(c->st, one->id, stdout);
		break;
	}
	r = r ? output_err("cannot show the host", r) : CLI_OK;
out:
	store_host_free(one);
	return r;
}

int cmd_host(struct cli *c, int argc, char **argv)
{
	struct hosts_args a = {STORE_HOST_FILTER_ANY, {NULL, 0, 0}, 0, CLI_FMT_TABLE};
	const struct cli_args spec = {.cmd = "host",
	                              .usage = host_usage,
	                              .shortopts = ":h",
	                              .opts = host_opts,
	                              .on_opt = host_opt,
	                              .ctx = &a,
	                              .min = 1,
	                              .max = 1,
	                              .missing = "ADDRESS"};
	char addr[ADDR_TEXT_MAX];
	int first, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if (addr_parse(argv[first], addr, NULL, NULL) != 0)
		return cli_usage_err("host", "'%s' is not an IPv4 or IPv6 address", argv[first]);
	a.f.addr = addr;
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	return show_host(c, &a.f, a.fmt);
}
