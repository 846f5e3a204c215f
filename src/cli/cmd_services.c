/*
 * cmd_services.c - `scandb services`: one row per open (host, port) of the
 * current state, with its service, product, version and first/last
 * sighting (Metasploit's `services`).  The rows come from app/services.c;
 * this file parses the options and prints them as a table, json, ndjson
 * or csv (docs/OUTPUT.md).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "app/services.h"
#include "cli/cli.h"
#include "cli/host_filter.h"
#include "cli/output.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"

/* Table cells wider than this are cut with "…". */
#define SERVICES_PRODUCT_MAX 30
#define SERVICES_VERSION_MAX 30
/* Cap on one built table cell. */
#define SERVICES_CELL_MAX (1u << 20)

enum { OPT_LIMIT = CLI_HF_NEXT, OPT_FORMAT };

static const char services_usage[] =
    "usage: scandb services [--port N[/tcp|udp|sctp]] [--service NAME]\n"
    "                       [--status up|down|gone|unknown|skipped] [--net CIDR]\n"
    "                       [--changed-since WHEN] [--new-since WHEN]\n"
    "                       [--limit N] [--format table|json|ndjson|csv]\n"
    "\n"
    "List every open port of the current state, one row per host and port, in\n"
    "address order: its service, product and version, and when it was first and\n"
    "last seen open.\n"
    "\n"
    "  --port N[/PROTO]  only port N (any protocol unless given)\n"
    "  --service NAME    only ports running service NAME\n"
    "  --status STATUS   only hosts whose current status is STATUS\n"
    "  --net CIDR        only hosts inside CIDR (10.0.0.0/8, 2001:db8::/32, or one address)\n"
    "  --changed-since WHEN  only hosts with a change event since WHEN (7d, 12h, a date)\n"
    "  --new-since WHEN  only hosts first seen since WHEN\n"
    "  --limit N         at most N rows\n"
    "  --format FORMAT   table (default), json, ndjson or csv\n";

static const struct option services_opts[] = {
    CLI_HF_OPT_PORT,
    CLI_HF_OPT_SERVICE,
    CLI_HF_OPT_STATUS,
    CLI_HF_OPT_NET,
    CLI_HF_OPT_CHANGED_SINCE,
    CLI_HF_OPT_NEW_SINCE,
    {"limit", required_argument, NULL, OPT_LIMIT},
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
	int64_t limit;
	enum cli_format fmt;
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
	case OPT_LIMIT:
		return cli_parse_i64("services", "--limit", arg, 1, INT64_MAX, &a->limit);
	case OPT_FORMAT:
		return cli_parse_format("services", arg, &a->fmt);
	default:
		return cli_host_filter_opt("services", ch, arg, &a->f);
	}
}

int cmd_services(struct cli *c, int argc, char **argv)
{
	struct services_args a = {STORE_HOST_FILTER_ANY, 0, CLI_FMT_TABLE};
	const struct cli_args spec = {.cmd = "services",
	                              .usage = services_usage,
	                              .shortopts = ":h",
	                              .opts = services_opts,
	                              .on_opt = services_opt,
	                              .ctx = &a};
	struct output_list l;
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, NULL)) != CLI_GO_ON)
		return r;
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	memset(&l, 0, sizeof(l));
	if ((r = output_list_begin(&l, a.fmt, 7, services_cols, services_csv_header)) == 0) {
		output_table_max(&l.tab, 3, SERVICES_PRODUCT_MAX);
		output_table_max(&l.tab, 4, SERVICES_VERSION_MAX);
		r = services_each(c->st, &a.f, (size_t)a.limit, on_row, &l);
	}
	return output_list_end(c, &l, r, "service");
}
