/*
 * cmd_serve.c - `scandb serve`: parse its options (and SCANDB_POOL_MAX,
 * SCANDB_POOL_ACQUIRE_TIMEOUT, SCANDB_SLOW_QUERY_MS), check the database
 * is there with a current schema, then hand over to the HTTP server
 * (src/http/) until SIGTERM or SIGINT.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "http/http.h"

static const char serve_usage[] =
    "usage: scandb serve [--listen ADDR:PORT] [--no-auth] [--pool-size N]\n"
    "                    [--max-connections N] [--timeout SECONDS]\n"
    "                    [--max-body BYTES] [--max-header BYTES] [--max-upload BYTES]\n"
    "\n"
    "Answer the HTTP API (see the manual page) on ADDR:PORT until SIGTERM or\n"
    "SIGINT.\n"
    "Requests need a token (`scandb token create`) in Authorization: Bearer\n"
    "TOKEN or X-API-Key: TOKEN; /healthz and /readyz need none.  One line per\n"
    "request goes to stderr (none with -q).\n"
    "\n"
    "  --listen ADDR:PORT     numeric address and port (default 127.0.0.1:8080;\n"
    "                         [::1]:8080 for IPv6; port 0: any free port)\n"
    "  --no-auth              no token needed: only on a loopback address\n"
    "  --pool-size N          database connections, at most (default\n"
    "                         $SCANDB_POOL_MAX, else 10); a request waits\n"
    "                         $SCANDB_POOL_ACQUIRE_TIMEOUT seconds (default 5)\n"
    "                         for one, then gets 503 with Retry-After\n"
    "  --max-connections N    client connections at once (default 256)\n"
    "  --timeout SECONDS      a client must send its request headers, and may\n"
    "                         stay idle, this long (default 10)\n"
    "  --max-body BYTES       larger request bodies get 413 (default 1048576)\n"
    "  --max-header BYTES     a larger request line and headers get 413\n"
    "                         (default 8192)\n"
    "  --max-upload BYTES     a larger scan uploaded to POST /api/v1/imports\n"
    "                         gets 413 (default 1073741824)\n";

enum {
	OPT_LISTEN = 256,
	OPT_NO_AUTH,
	OPT_POOL,
	OPT_MAXCONN,
	OPT_TIMEOUT,
	OPT_BODY,
	OPT_HEADER,
	OPT_UPLOAD
};

static const struct option serve_opts[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"no-auth", no_argument, NULL, OPT_NO_AUTH},
    {"pool-size", required_argument, NULL, OPT_POOL},
    {"max-connections", required_argument, NULL, OPT_MAXCONN},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-body", required_argument, NULL, OPT_BODY},
    {"max-header", required_argument, NULL, OPT_HEADER},
    {"max-upload", required_argument, NULL, OPT_UPLOAD},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int serve_opt(void *ctx, int ch, char *arg)
{
	struct http_config *cfg = ctx;
	int64_t v;
	int r;

	switch (ch) {
	case OPT_LISTEN:
		if (http_parse_listen(arg, cfg) != 0)
			return cli_usage_err("serve",
			                     "--listen: '%s' is not ADDR:PORT (a numeric address, "
			                     "port 0-65535)",
			                     arg);
		return 0;
	case OPT_NO_AUTH:
		cfg->no_auth = 1;
		return 0;
	case OPT_POOL:
		r = cli_parse_i64("serve", "--pool-size", arg, 1, 1000, &v);
		cfg->pool_max = (int)v;
		return r;
	case OPT_MAXCONN:
		r = cli_parse_i64("serve", "--max-connections", arg, 1, 65536, &v);
		cfg->max_connections = (int)v;
		return r;
	case OPT_TIMEOUT:
		r = cli_parse_i64("serve", "--timeout", arg, 1, 3600, &v);
		cfg->conn_timeout = (int)v;
		return r;
	case OPT_BODY:
		r = cli_parse_i64("serve", "--max-body", arg, 1, INT64_C(1) << 40, &v);
		cfg->max_body = (size_t)v;
		return r;
	case OPT_UPLOAD:
		r = cli_parse_i64("serve", "--max-upload", arg, 1, INT64_C(1) << 40, &v);
		cfg->max_upload = (size_t)v;
		return r;
	case OPT_HEADER:
		r = cli_parse_i64("serve", "--max-header", arg, 256, 1 << 20, &v);
		cfg->max_header = (size_t)v;
		return r;
	default:
		return CLI_ARG_UNKNOWN;
	}
}

/* SCANDB_POOL_MAX, SCANDB_POOL_ACQUIRE_TIMEOUT and SCANDB_SLOW_QUERY_MS
 * (the flags win). */
static int serve_env(struct http_config *cfg)
{
	const char *v = getenv("SCANDB_POOL_MAX");
	char *end;
	double t;
	long n;

	if (v && *v) {
		n = strtol(v, &end, 10);
		if (*end || n < 1 || n > 1000) {
			cli_err("serve: SCANDB_POOL_MAX: '%s' is not a number in 1..1000", v);
			return CLI_USAGE;
		}
		cfg->pool_max = (int)n;
	}
	if ((v = getenv("SCANDB_SLOW_QUERY_MS")) && *v) {
		n = strtol(v, &end, 10);
		if (*end || n < 0 || n > 3600000) {
			cli_err(
			    "serve: SCANDB_SLOW_QUERY_MS: '%s' is not milliseconds in 0..3600000",
			    v);
			return CLI_USAGE;
		}
		cfg->slow_ms = (int)n;
	}
	if ((v = getenv("SCANDB_POOL_ACQUIRE_TIMEOUT")) && *v) {
		t = strtod(v, &end);
		if (*end || !(t >= 0.0 && t <= 3600.0)) {
			cli_err(
			    "serve: SCANDB_POOL_ACQUIRE_TIMEOUT: '%s' is not seconds in 0..3600",
			    v);
			return CLI_USAGE;
		}
		cfg->acquire_timeout = t;
	}
	return CLI_OK;
}

int cmd_serve(struct cli *c, int argc, char **argv)
{
	struct http_config cfg;
	const struct cli_args spec = {.cmd = "serve",
	                              .usage = serve_usage,
	                              .shortopts = ":h",
	                              .opts = serve_opts,
	                              .on_opt = serve_opt,
	                              .ctx = &cfg};
	char err[512];
	int r;

	http_config_default(&cfg);
	if ((r = serve_env(&cfg)) != CLI_OK)
		return r;
	if ((r = cli_parse_args(&spec, argc, argv, NULL)) != CLI_GO_ON)
		return r;
	if (cfg.no_auth && !http_host_is_loopback(cfg.host))
		return cli_usage_err("serve",
		                     "--no-auth is only allowed on a loopback address "
		                     "(127.0.0.1, ::1), not %s",
		                     cfg.host);
	if ((r = cli_open_as(c, CLI_OPEN_UPDATE, NULL, 0)) != CLI_OK)
		return r;
	cli_close(c);
	if (cfg.no_auth)
		fprintf(stderr,
		        "scandb serve: WARNING: --no-auth: every request is allowed without "
		        "a token\n");
	cfg.access_log = !c->quiet;
	/* A long-lived server with a thread per connection: few malloc arenas,
	 * freed memory given back (main() tunes these for a one-shot import),
	 * so that its RSS stays flat under load. */
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_TRIM_THRESHOLD, 1 << 20);
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	if (http_serve(&cfg, c->db, err, sizeof(err)) != 0) {
		cli_err("serve: %s", err);
		return CLI_FAIL;
	}
	return CLI_OK;
}
