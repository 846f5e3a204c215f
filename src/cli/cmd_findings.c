/*
 * cmd_findings.c - `scandb findings` (things to act on, filtered by status,
 * severity, host) and `scandb finding ID [set-status STATUS [--note TEXT]]`
 * (one finding with its history; a user's status change, recorded with its
 * time and note).  What makes a finding and its lifecycle:
 * history/findings.c; the JSON shape: docs/FINDINGS.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "app/findings.h"
#include "app/listing.h"
#include "cli/cli.h"
#include "cli/listing_opt.h"
#include "cli/output.h"
#include "core/addr.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "history/findings.h"

#define FINDINGS_TITLE_MAX 60

enum { OPT_STATUS = 256, OPT_SEVERITY, OPT_HOST, OPT_FORMAT, OPT_NOTE };

static const char findings_usage[] =
    "usage: scandb findings [--status STATUS] [--severity SEVERITY] [--host ADDR]\n"
    "                       [--sort [-]FIELD] [--limit N] [--format table|json|ndjson|csv]\n"
    "\n"
    "List findings (vulnerabilities reported by NSE scripts, matches of your\n"
    "rules on changes), by id.\n"
    "\n"
    "  --status STATUS     open, pending_validation, confirmed, false_positive,\n"
    "                      manual_review, skipped, error or resolved\n"
    "  --severity SEV      info, low, medium, high or critical\n"
    "  --host ADDR         one host\n" CLI_LIST_USAGE
    "  --format FORMAT     table (default), json, ndjson or csv\n"
    "\n"
    "Sort fields: id (the default order, streamed), severity, status, addr, port,\n"
    "type, title, first_seen, last_seen.  Another order holds the findings in\n"
    "memory (only N with --limit N).\n";

static const char finding_usage[] =
    "usage: scandb finding ID [--format table|json|ndjson|csv]\n"
    "       scandb finding ID set-status STATUS [--note TEXT]\n"
    "\n"
    "Show one finding with the jobs that saw it and its status history, or set\n"
    "its status (recorded with the time and the note).\n"
    "\n"
    "  STATUS is open, pending_validation, confirmed, false_positive,\n"
    "  manual_review, skipped, error or resolved.\n";

static const char status_list[] = "open, pending_validation, confirmed, false_positive, "
                                  "manual_review, skipped, error or resolved";

/* ---- output ------------------------------------------------------------- */

static const char *const csv_cols[] = {"id",        "addr",  "protocol",   "port",   "type",
                                       "source",    "title", "severity",   "status", "first_seen",
                                       "last_seen", "jobs",  "fingerprint"};
#define NCSV (sizeof(csv_cols) / sizeof(csv_cols[0]))

static int csv_header(FILE *f)
{
	return output_csv_row(f, csv_cols, NCSV);
}

static int csv_row(FILE *out, const struct store_finding *f)
{
	char id[24], port[16], first[TIME_ISO_LEN], last[TIME_ISO_LEN], *jobs;
	const char *v[NCSV];
	size_t cap = f->njobs * 21 + 1, len = 0;
	int r;

	if (!(jobs = malloc(cap)))
		return SDB_ENOMEM;
	jobs[0] = '\0';
	for (size_t i = 0; i < f->njobs; i++)
		len +=
		    (size_t)snprintf(jobs + len, cap - len, "%s%" PRId64, i ? " " : "", f->jobs[i]);
	snprintf(id, sizeof(id), "%" PRId64, f->id);
	snprintf(port, sizeof(port), "%d", f->port);
	time_format_iso(f->first_seen, first);
	time_format_iso(f->last_seen, last);
	v[0] = id;
	v[1] = f->addr;
	v[2] = f->protocol;
	v[3] = f->port >= 0 ? port : NULL;
	v[4] = f->type;
	v[5] = f->source;
	v[6] = f->title;
	v[7] = f->severity;
	v[8] = f->status;
	v[9] = first;
	v[10] = last;
	v[11] = jobs;
	v[12] = f->fingerprint;
	r = output_csv_row(out, v, NCSV);
	free(jobs);
	return r;
}

static const char *const table_cols[] = {"ID",     "ADDR",  "PORT",      "SEVERITY",
                                         "STATUS", "TITLE", "LAST SEEN", "JOBS"};

static int table_row(struct output_list *l, const struct store_finding *f)
{
	char id[24], port[32], last[TIME_ISO_LEN], njobs[24];
	const char *cells[8];

	snprintf(id, sizeof(id), "%" PRId64, f->id);
	if (f->protocol)
		snprintf(port, sizeof(port), "%d/%s", f->port, f->protocol);
	time_format_iso(f->last_seen, last);
	snprintf(njobs, sizeof(njobs), "%zu", f->njobs);
	cells[0] = id;
	cells[1] = f->addr;
	cells[2] = f->protocol ? port : NULL;
	cells[3] = f->severity;
	cells[4] = f->status;
	cells[5] = f->title;
	cells[6] = last;
	cells[7] = njobs;
	return output_list_row(l, cells);
}

/* The listing's emit: print one finding, then free it. */
static int on_finding(void *ctx, void *item)
{
	struct output_list *l = ctx;
	struct store_finding *f = item;
	int r;

	switch (l->fmt) {
	case CLI_FMT_JSON:
	case CLI_FMT_NDJSON:
		r = output_stream_item(&l->js, view_finding_json(f));
		break;
	case CLI_FMT_CSV:
		r = csv_row(stdout, f);
		break;
	default:
		r = table_row(l, f);
		break;
	}
	store_finding_free(f);
	l->n++;
	l->err = r;
	return r;
}

static void drop_finding(void *item)
{
	store_finding_free(item);
}

/* store_findings_each() callback: the finding to the listing (ctx). */
static int to_listing(void *ctx, struct store_finding *f)
{
	return listing_add(ctx, f);
}

/* ---- findings -------------------------------------------------------------- */

/* What `findings` was asked (flt.addr points into addr). */
struct findings_args {
	struct store_finding_filter flt;
	struct listing_order o;
	enum cli_format fmt;
	char addr[ADDR_TEXT_MAX];
};

/* cli_args.on_opt of `findings`. */
static int findings_opt(void *ctx, int ch, char *arg)
{
	const char *cmd = "findings";
	struct findings_args *a = ctx;
	enum findings_severity sev;
	enum findings_status stat;

	switch (ch) {
	case OPT_FORMAT:
		return cli_parse_format(cmd, arg, &a->fmt);
	case CLI_LIST_SORT:
	case CLI_LIST_LIMIT:
		return cli_listing_opt(cmd, ch, arg, listing_finding_fields, &a->o);
	case OPT_STATUS:
		if (findings_status_parse(arg, &stat) != 0)
			return cli_usage_err(cmd, "--status: unknown status '%s' (use %s)", arg,
			                     status_list);
		a->flt.status = findings_status_name(stat);
		return 0;
	case OPT_SEVERITY:
		if (findings_severity_parse(arg, &sev) != 0)
			return cli_usage_err(cmd,
			                     "--severity: unknown severity '%s' (use "
			                     "info, low, medium, high or critical)",
			                     arg);
		a->flt.severity = findings_severity_name(sev);
		return 0;
	case OPT_HOST:
		if (addr_parse(arg, a->addr, NULL, NULL) != 0)
			return cli_usage_err(cmd, "--host: '%s' is not an IP address", arg);
		a->flt.addr = a->addr;
		return 0;
	default:
		return CLI_ARG_UNKNOWN;
	}
}

int cmd_findings(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    CLI_LIST_OPT_SORT,
	    CLI_LIST_OPT_LIMIT,
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, 'h'},
	    {"host", required_argument, NULL, OPT_HOST},
	    {"severity", required_argument, NULL, OPT_SEVERITY},
	    {"status", required_argument, NULL, OPT_STATUS},
	    {NULL, 0, NULL, 0},
	};
	struct findings_args a = {{0, NULL, NULL, NULL}, {NULL, 0, 0}, CLI_FMT_TABLE, ""};
	const struct cli_args spec = {.cmd = "findings",
	                              .usage = findings_usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = findings_opt,
	                              .ctx = &a};
	struct output_list l;
	struct listing lst;
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, NULL)) != CLI_GO_ON)
		return r;
	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	listing_init(&lst, &a.o, on_finding, drop_finding, &l);
	if ((r = output_list_begin(&l, a.fmt, 8, table_cols, csv_header)) == 0) {
		output_table_max(&l.tab, 5, FINDINGS_TITLE_MAX);
		r = store_findings_each(c->st, &a.flt, to_listing, &lst);
	}
	r = listing_end(&lst, r);
	return output_list_end(c, &l, r, "finding");
}

/* ---- finding ID ---------------------------------------------------------------- */

struct one {
	struct store_finding *f;
};

static int keep_one(void *ctx, struct store_finding *f)
{
	struct one *o = ctx;

	store_finding_free(o->f);
	o->f = f;
	return 0;
}

static int print_block(const struct store_finding *f, FILE *out)
{
	char first[TIME_ISO_LEN], last[TIME_ISO_LEN], at[TIME_ISO_LEN], port[32];
	char *safe;

	time_format_iso(f->first_seen, first);
	time_format_iso(f->last_seen, last);
	if (f->protocol)
		snprintf(port, sizeof(port), "%d/%s", f->port, f->protocol);
	else
		snprintf(port, sizeof(port), "-");
	fprintf(out, "id:          %" PRId64 "\naddr:        %s\nport:        %s\n", f->id, f->addr,
	        port);
	if (!(safe = output_text(f->title, 0, "-")))
		return SDB_ENOMEM;
	fprintf(out, "type:        %s\ntitle:       %s\nseverity:    %s\nstatus:      %s\n",
	        f->type, safe, f->severity, f->status);
	free(safe);
	if (!(safe = output_text(f->fingerprint, 0, "-")))
		return SDB_ENOMEM;
	fprintf(out, "fingerprint: %s\nfirst_seen:  %s\nlast_seen:   %s\njobs:       ", safe, first,
	        last);
	free(safe);
	for (size_t i = 0; i < f->njobs; i++)
		fprintf(out, " %" PRId64, f->jobs[i]);
	if (!(safe = output_text(f->details, 0, "-")))
		return SDB_ENOMEM;
	fprintf(out, "\ndetails:     %s\nhistory:\n", safe);
	free(safe);
	for (size_t i = 0; i < f->nhistory; i++) {
		const struct store_finding_change *h = &f->history[i];
		time_format_iso(h->at, at);
		if (!(safe = output_text(h->note, 0, "")))
			return SDB_ENOMEM;
		fprintf(out, "  %s  %s -> %s%s%s\n", at, h->old_status ? h->old_status : "(new)",
		        h->new_status, *safe ? "  " : "", safe);
		free(safe);
	}
	return ferror(out) ? SDB_EIO : 0;
}

static int set_status(struct cli *c, int64_t id, const char *status, const char *note)
{
	char *old = NULL;
	int r;

	if ((r = findings_set_user_status(c->st, id, status, note, time_now(), &old)) != 0) {
		if (r == SDB_ENOTFOUND) {
			cli_err("no finding %" PRId64 " in the database", id);
			return CLI_FAIL;
		}
		return output_store_err(c, "cannot change the finding", r);
	}
	if (!c->quiet)
		fprintf(stderr, "finding %" PRId64 ": %s -> %s\n", id, old ? old : "?", status);
	free(old);
	return CLI_OK;
}

/* What `finding` was asked. */
struct finding_args {
	enum cli_format fmt;
	int have_fmt;
	const char *note;
};

/* cli_args.on_opt of `finding`. */
static int finding_opt(void *ctx, int ch, char *arg)
{
	struct finding_args *a = ctx;

	switch (ch) {
	case OPT_FORMAT:
		a->have_fmt = 1;
		return cli_parse_format("finding", arg, &a->fmt);
	case OPT_NOTE:
		a->note = arg;
		return 0;
	default:
		return CLI_ARG_UNKNOWN;
	}
}

/* `finding ID set-status STATUS`: ops = its operands after ID. */
static int finding_set_status(struct cli *c, int64_t id, const struct finding_args *a, int nops,
                              char **ops)
{
	const char *cmd = "finding";
	enum findings_status stat;
	int r;

	if (strcmp(ops[0], "set-status") != 0)
		return cli_usage_err(cmd, "unknown action '%s' (use set-status)", ops[0]);
	if (nops < 2)
		return cli_usage_err(cmd, "set-status: missing STATUS (use %s)", status_list);
	if (nops > 2)
		return cli_usage_err(cmd, "unexpected argument '%s'", ops[2]);
	if (findings_status_parse(ops[1], &stat) != 0)
		return cli_usage_err(cmd, "set-status: unknown status '%s' (use %s)", ops[1],
		                     status_list);
	if (a->have_fmt)
		return cli_usage_err(cmd, "set-status takes no --format");
	if ((r = cli_open_as(c, CLI_OPEN_UPDATE, NULL, 0)) != CLI_OK)
		return r;
	return set_status(c, id, findings_status_name(stat), a->note);
}

/* Finding id with its history, in format fmt. */
static int show_finding(struct cli *c, int64_t id, enum cli_format fmt)
{
	struct store_finding_filter flt = {0, NULL, NULL, NULL};
	struct one one = {NULL};
	int r;

	if ((r = cli_open_as(c, CLI_OPEN_READ, NULL, 0)) != CLI_OK)
		return r;
	flt.id = id;
	if ((r = store_findings_each(c->st, &flt, keep_one, &one)) != 0)
		return output_store_err(c, "cannot read the finding", r);
	if (!one.f) {
		cli_err("no finding %" PRId64 " in the database", id);
		return CLI_FAIL;
	}
	switch (fmt) {
	case CLI_FMT_JSON:
	case CLI_FMT_NDJSON:
		r = output_json_print(stdout, view_finding_json(one.f));
		break;
	case CLI_FMT_CSV:
		r = csv_header(stdout);
		if (r == 0)
			r = csv_row(stdout, one.f);
		break;
	default:
		r = print_block(one.f, stdout);
		break;
	}
	store_finding_free(one.f);
	return r ? output_err("cannot show the finding", r) : CLI_OK;
}

int cmd_finding(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, OPT_FORMAT},
	    {"help", no_argument, NULL, 'h'},
	    {"note", required_argument, NULL, OPT_NOTE},
	    {NULL, 0, NULL, 0},
	};
	struct finding_args a = {CLI_FMT_TABLE, 0, NULL};
	/* getopt_long permutes: options may follow the operands
	 * (ID set-status S --note T). */
	const struct cli_args spec = {.cmd = "finding",
	                              .usage = finding_usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = finding_opt,
	                              .ctx = &a,
	                              .min = 1,
	                              .max = -1,
	                              .missing = "finding ID"};
	int64_t id;
	int first, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if ((r = cli_parse_i64("finding", "ID", argv[first], 1, INT64_MAX, &id)) != 0)
		return r;
	if (first + 1 < argc)
		return finding_set_status(c, id, &a, argc - first - 1, argv + first + 1);
	if (a.note)
		return cli_usage_err("finding", "--note goes with set-status");
	return show_finding(c, id, a.fmt);
}
