/*
 * cmd_services.c - `scandb services`: one row per open (host, port) of the
 * current state, with its service, product, version and first/last
 * sighting (Metasploit's `services`), or with --top the most frequent
 * values among those rows (IVRE's `top`).  The rows and counts come from
 * app/services.c; this file parses the options and prints them as a table,
 * json, ndjson or csv (docs/OUTPUT.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "app/listing.h"
#include "app/services.h"
#include "cli/cli.h"
#include "cli/host_filter.h"
#include "cli/listing_opt.h"
#include "cli/output.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"

/* Table cells wider than this are cut with "…". */
#define SERVICES_PRODUCT_MAX 30
#define SERVICES_VERSION_MAX 30
/* Cap on one built table cell. */
#define SERVICES_CELL_MAX (1u << 20)

/* --top's default number of values. */
#define SERVICES_TOP_N 20

enum { OPT_TOP = CLI_HF_NEXT, OPT_FORMAT };

static const char services_usage[] =
    "usage: scandb services [--port N[/tcp|udp|sctp]] [--service NAME]\n"
    "                       [--status up|down|unknown|skipped] [--net CIDR]\n"
    "                       [--changed-since WHEN] [--new-since WHEN]\n"
    "                       [--sort [-]FIELD] [--limit N]\n"
    "                       [--top service|product|port|os|cpe [-n N]]\n"
    "                       [--format table|json|ndjson|csv]\n"
    "\n"
    "List every open port of the current state, one row per host and port, in\n"
    "address order: its service, product and version, and when it was first and\n"
    "last seen open.  With --top, count the distinct values of a field over\n"
    "those rows instead, most frequent first.\n"
    "\n"
    "  FILTER            search terms (man scandb: SEARCH), e.g. product:openssh\n"
    "                    version:<8.0 '!tag:lab': rows of the hosts that match, and\n"
    "                    of those only the ports that pass the port terms ANDed\n"
    "  --port N[/PROTO]  only port N (any protocol unless given)\n"
    "  --service NAME    only ports running service NAME\n"
    "  --status STATUS   only hosts whose current status is STATUS\n"
    "  --net CIDR        only hosts inside CIDR (10.0.0.0/8, 2001:db8::/32, or one address)\n"
    "  --changed-since WHEN  only hosts with a change event since WHEN (7d, 12h, a date)\n"
    "  --new-since WHEN  only hosts first seen since WHEN\n" CLI_LIST_USAGE
    "  --top FIELD       the N most frequent values of FIELD among the rows:\n"
    "                    service, product, port (22/tcp), cpe (each CPE of a port),\n"
    "                    os (counted once per host); rows without one are not counted\n"
    "  -n N              how many values --top shows (default 20)\n"
    "  --format FORMAT   table (default), json, ndjson or csv\n"
    "\n"
    "Sort fields: addr (the default order, streamed), port, protocol, service,\n"
    "product, version, first_seen, last_seen.  Another order holds the rows in\n"
    "memory (only N with --limit N).\n";

static const struct option services_opts[] = {
    CLI_HF_OPT_PORT,
    CLI_HF_OPT_SERVICE,
    CLI_HF_OPT_STATUS,
    CLI_HF_OPT_NET,
    CLI_HF_OPT_CHANGED_SINCE,
    CLI_HF_OPT_NEW_SINCE,
    CLI_LIST_OPT_SORT,
    CLI_LIST_OPT_LIMIT,
    {"top", required_argument, NULL, OPT_TOP},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *const services_cols[] = {"ADDRESS", "PORT",       "SERVICE",  "PRODUCT",
                                            "VERSION", "FIRST SEEN", "LAST SEEN"};

/* The CSV columns, also the keys of a row's JSON object. */
#define SERVICES_NFIELDS 10
static const char *const services_keys[SERVICES_NFIELDS] = {
    "addr",    "protocol", "port",      "service",    "tunnel",
    "product", "version",  "extrainfo", "first_seen", "last_seen",
};

/* What `services` was asked. */
struct services_args {
	struct store_host_filter f;
	struct listing_order o;
	enum cli_format fmt;
	const char *top; /* --top FIELD, or NULL */
	enum services_top_field top_field;
	int64_t top_n; /* -n, 0 if not given */
};

/* One row's fields as text, in services_keys order (NULL: absent). */
struct services_text {
	const char *v[SERVICES_NFIELDS];
	char port[8], first[TIME_ISO_LEN], last[TIME_ISO_LEN];
};

static void services_text(const struct store_host *h, const struct store_port *p,
                          struct services_text *t)
{
	snprintf(t->port, sizeof(t->port), "%d", p->port);
	time_format_iso(p->first_seen, t->first);
	time_format_iso(p->last_seen, t->last);
	t->v[0] = h->addr;
	t->v[1] = p->protocol;
	t->v[2] = t->port;
	t->v[3] = p->service;
	t->v[4] = p->tunnel;
	t->v[5] = p->product;
	t->v[6] = p->version;
	t->v[7] = p->extrainfo;
	t->v[8] = t->first[0] ? t->first : NULL;
	t->v[9] = t->last[0] ? t->last : NULL;
}

static int services_csv_header(FILE *f)
{
	return output_csv_row(f, services_keys, SERVICES_NFIELDS);
}

/* A row as a JSON object; the port is a number, absent values null. */
static json_t *services_json(const struct services_text *t, int port)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < SERVICES_NFIELDS; i++) {
		json_t *v = i == 2    ? json_integer(port)
		            : t->v[i] ? json_string(t->v[i])
		                      : json_null();

		if (json_object_set_new(o, services_keys[i], v) != 0) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

/* A table row: "22/tcp", the service as nmap shows it ("ssl/http"). */
static int services_table_row(struct output_list *l, const struct store_port *p,
                              const struct services_text *t)
{
	const char *cells[7];
	struct buf port, svc;
	int r;

	buf_init(&port, SERVICES_CELL_MAX);
	buf_init(&svc, SERVICES_CELL_MAX);
	r = buf_printf(&port, "%s/%s", t->port, t->v[1] ? t->v[1] : "?");
	if (r == 0)
		r = output_service_append(&svc, p);
	cells[0] = t->v[0];
	cells[1] = buf_str(&port);
	cells[2] = buf_str(&svc);
	cells[3] = t->v[5];
	cells[4] = t->v[6];
	cells[5] = t->v[8];
	cells[6] = t->v[9];
	if (r == 0)
		r = output_list_row(l, cells);
	buf_free(&port);
	buf_free(&svc);
	return r;
}

/* services_each() callback: print (or, for a table, maybe keep) one row. */
static int on_row(void *ctx, const struct store_host *h, const struct store_port *p)
{
	struct output_list *l = ctx;
	struct services_text t;
	int r;

	services_text(h, p, &t);
	switch (l->fmt) {
	case CLI_FMT_JSON:
	case CLI_FMT_NDJSON:
		r = output_stream_item(&l->js, services_json(&t, p->port));
		break;
	case CLI_FMT_CSV:
		r = output_csv_row(stdout, t.v, SERVICES_NFIELDS);
		break;
	default:
		r = services_table_row(l, p, &t);
		break;
	}
	l->n++;
	l->err = r;
	return r;
}

/* cli_args.on_opt of `services`. */
static int services_opt(void *ctx, int ch, char *arg)
{
	struct services_args *a = ctx;

	switch (ch) {
	case CLI_LIST_SORT:
	case CLI_LIST_LIMIT:
		return cli_listing_opt("services", ch, arg, listing_service_fields, &a->o);
	case OPT_TOP:
		if (services_top_field_parse(arg, &a->top_field) != 0)
			return cli_usage_err("services",
			                     "--top: unknown field '%s' (use service, product, "
			                     "port, os or cpe)",
			                     arg);
		a->top = arg;
		return 0;
	case 'n':
		return cli_parse_i64("services", "-n", arg, 1, INT64_MAX, &a->top_n);
	case OPT_FORMAT:
		return cli_parse_format("services", arg, &a->fmt);
	default:
		return cli_host_filter_opt("services", ch, arg, &a->f);
	}
}

/* ---- --top ------------------------------------------------------------------ */

static int top_csv_header(FILE *f)
{
	static const char *const h[] = {"value", "count"};

	return output_csv_row(f, h, 2);
}

/* Print the counts of `services --top` as a's format asks. */
static int print_top(struct cli *c, const struct services_args *a)
{
	static const char *const cols[][2] = {
	    {"SERVICE", "COUNT"}, {"PRODUCT", "COUNT"}, {"PORT", "COUNT"},
	    {"OS", "COUNT"},      {"CPE", "COUNT"},
	};
	struct services_count *v = NULL;
	struct output_list l;
	size_t nv = 0;
	int r;

	memset(&l, 0, sizeof(l));
	if ((r = output_list_begin(&l, a->fmt, 2, cols[a->top_field], top_csv_header)) == 0)
		r = services_top(c->st, &a->f, a->top_field,
		                 a->top_n ? (size_t)a->top_n : SERVICES_TOP_N, &v, &nv);
	for (size_t i = 0; r == 0 && i < nv; i++) {
		char count[24];
		const char *cells[2] = {v[i].value, count};

		snprintf(count, sizeof(count), "%zu", v[i].count);
		if (a->fmt == CLI_FMT_JSON || a->fmt == CLI_FMT_NDJSON)
			r = output_stream_item(&l.js, json_pack("{s:s, s:I}", "value", v[i].value,
			                                        "count", (json_int_t)v[i].count));
		else if (a->fmt == CLI_FMT_CSV)
			r = output_csv_row(stdout, cells, 2);
		else
			r = output_list_row(&l, cells);
		l.n++;
		l.err = r;
	}
	services_counts_free(v, nv);
	return output_list_end(c, &l, r, "value");
}

/* Usage errors of option combinations: -n and --sort/--limit go with or
 * without --top.  0 or CLI_USAGE (printed). */
static int services_check(const struct services_args *a)
{
	if (a->top_n && !a->top)
		return cli_usage_err("services", "-n goes with --top");
	if (a->top && (a->o.field || a->o.limit))
		return cli_usage_err("services",
		                     "--top counts values: use -n N, not --sort or --limit");
	return 0;
}

int cmd_services(struct cli *c, int argc, char **argv)
{
	struct services_args a = {STORE_HOST_FILTER_ANY, {NULL, 0, 0}, CLI_FMT_TABLE, NULL, 0, 0};
	const struct cli_args spec = {.cmd = "services",
	                              .usage = services_usage,
	                              .shortopts = ":hn:",
	                              .opts = services_opts,
	                              .on_opt = services_opt,
	                              .ctx = &a,
	                              .max = -1};
	struct filter expr;
	int first = 0;
	struct output_list l;
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if ((r = services_check(&a)) != 0)
		return r;
	if ((r = cli_host_filter_terms("services", argc, argv, first, &expr, &a.f)) != 0)
		return r;
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK) {
		filter_free(&expr);
		return r;
	}
	if (a.top) {
		r = print_top(c, &a);
		filter_free(&expr);
		return r;
	}
	memset(&l, 0, sizeof(l));
	if ((r = output_list_begin(&l, a.fmt, 7, services_cols, services_csv_header)) == 0) {
		output_table_max(&l.tab, 3, SERVICES_PRODUCT_MAX);
		output_table_max(&l.tab, 4, SERVICES_VERSION_MAX);
		r = services_list(c->st, &a.f, &a.o, on_row, &l);
	}
	r = output_list_end(c, &l, r, "service");
	filter_free(&expr);
	return r;
}
