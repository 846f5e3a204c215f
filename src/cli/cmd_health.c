/*
 * cmd_health.c - `scandb health`: can scandb use this database right now?
 * Connects (a missing SQLite file is not created), runs a trivial query and
 * times it, and reports the backend, its version and the migration state.
 * Exit 0 healthy, 1 not (unreachable, garbage, behind, ahead, changed).
 * The result (also an unhealthy one) goes to stdout; docs/OPERATIONS.md.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/error.h"

static const char usage[] =
    "usage: scandb health [--format table|json]\n"
    "\n"
    "Connect to the database, run a trivial query and report: healthy or not,\n"
    "backend, server version, query latency, schema version and pending\n"
    "migrations.  A missing database file is reported, not created.\n"
    "\n"
    "  --format FORMAT   table (default) or json\n"
    "\n"
    "Exit status: 0 healthy, 1 not healthy (unreachable, not a database,\n"
    "schema behind or ahead of this scandb), 2 usage error.\n";

static int print_json(const struct store_health *h, int ok, const char *error)
{
	json_t *o = json_object();

	if (!o)
		return output_err("health", SDB_ENOMEM);
	json_object_set_new(o, "healthy", json_boolean(ok && h->healthy));
	json_object_set_new(o, "backend", ok ? json_string(h->backend) : json_null());
	json_object_set_new(o, "server_version", ok ? json_string(h->server_version) : json_null());
	json_object_set_new(o, "latency_ms", ok ? json_real(h->latency_ms) : json_null());
	json_object_set_new(o, "schema_version",
	                    ok ? json_integer(h->schema_version) : json_null());
	json_object_set_new(o, "latest_version",
	                    ok ? json_integer(h->latest_version) : json_null());
	json_object_set_new(o, "pending_migrations", ok ? json_integer(h->pending) : json_null());
	json_object_set_new(o, "unknown_migrations", ok ? json_integer(h->unknown) : json_null());
	json_object_set_new(o, "changed_migrations", ok ? json_integer(h->changed) : json_null());
	json_object_set_new(o, "problem",
	                    error ? json_string(error)
	                          : ops_json_str(h->problem[0] ? h->problem : NULL));
	return output_json_print(stdout, o) ? output_err("health", SDB_EIO) : CLI_OK;
}

static void print_table(const struct store_health *h)
{
	printf("status:          %s\n", h->healthy ? "healthy" : "NOT HEALTHY");
	printf("backend:         %s\n", h->backend);
	printf("server version:  %s\n", h->server_version);
	printf("latency:         %.3f ms\n", h->latency_ms);
	printf("schema version:  %d (this scandb: %d)\n", h->schema_version, h->latest_version);
	printf("pending:         %d migration%s\n", h->pending, h->pending == 1 ? "" : "s");
	if (h->unknown || h->changed)
		printf("unknown/changed: %d/%d\n", h->unknown, h->changed);
	if (h->problem[0])
		printf("problem:         %s\n", h->problem);
}

/* cli_args.on_opt: --format table|json. */
static int health_opt(void *ctx, int ch, char *arg)
{
	return ch == 'f' ? ops_parse_format("health", arg, 0, ctx) : CLI_ARG_UNKNOWN;
}

int cmd_health(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	enum cli_format fmt = CLI_FMT_TABLE;
	const struct cli_args spec = {.cmd = "health",
	                              .usage = usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = health_opt,
	                              .ctx = &fmt};
	struct store_health h;
	char msg[1536];
	int r;

	if ((r = cli_parse_args(&spec, argc, argv, NULL)) != CLI_GO_ON)
		return r;
	memset(&h, 0, sizeof(h));
	if (cli_open_as(c, CLI_OPEN_INSPECT, msg, sizeof(msg)) != CLI_OK) {
		cli_err("not healthy: %s", msg);
		if (fmt == CLI_FMT_JSON)
			print_json(&h, 0, msg);
		return CLI_FAIL;
	}
	if ((r = store_health(c->st, &h)) != 0) {
		char shown[sizeof(c->db)];

		store_target_display(c->db, shown, sizeof(shown)); /* never the password */
		snprintf(msg, sizeof(msg), "database %s: %s", shown, store_errmsg(c->st));
		cli_err("not healthy: %s", msg);
		if (fmt == CLI_FMT_JSON)
			print_json(&h, 0, msg);
		return CLI_FAIL;
	}
	if (fmt == CLI_FMT_JSON) {
		if ((r = print_json(&h, 1, NULL)) != CLI_OK)
			return r;
	} else {
		print_table(&h);
	}
	return h.healthy ? CLI_OK : CLI_FAIL;
}
