/*
 * host_filter.c - parsing of the typed filter flags the listing commands
 * share (`hosts`, `services`) and their search terms; see host_filter.h.
 */
#include "cli/host_filter.h"

#include <stdint.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/addr.h"
#include "core/timeutil.h"

/* --changed-since / --new-since WHEN (ch says which). */
static int since_opt(const char *cmd, int ch, const char *arg, struct store_host_filter *f)
{
	int64_t t;

	if (time_parse_since(arg, time_now(), &t) != 0)
		return cli_usage_err(cmd,
		                     "%s: '%s' is not a duration (7d, 12h, 90m, "
		                     "2w) or a date (2026-11-01)",
		                     ch == CLI_HF_NEW_SINCE ? "--new-since" : "--changed-since",
		                     arg);
	if (t < 1)
		t = 1;
	if (ch == CLI_HF_NEW_SINCE)
		f->new_since = t;
	else
		f->changed_since = t;
	return 0;
}

int cli_host_filter_opt(const char *cmd, int ch, char *arg, struct store_host_filter *f)
{
	int proto;

	switch (ch) {
	case CLI_HF_PORT:
		if (addr_port_spec_parse(arg, &f->port, &proto) != 0)
			return cli_usage_err(cmd,
			                     "--port: '%s' is not a port (use N or "
			                     "N/tcp, N/udp, N/sctp with N 0-65535)",
			                     arg);
		f->protocol = proto >= 0 ? (enum rec_proto)proto : REC_PROTO_ANY;
		return 0;
	case CLI_HF_SERVICE:
		if (!*arg)
			return cli_usage_err(cmd, "--service needs a service name");
		f->service = arg;
		return 0;
	case CLI_HF_STATUS:
		if (rec_host_status_parse(arg, &f->status) != 0)
			return cli_usage_err(cmd,
			                     "--status: unknown host status '%s' (use up, "
			                     "down, gone, unknown or skipped)",
			                     arg);
		return 0;
	case CLI_HF_NET:
		if (addr_cidr_parse(arg, f->net_lo, f->net_hi) != 0)
			return cli_usage_err(cmd,
			                     "--net: '%s' is not an address or CIDR block "
			                     "(e.g. 10.0.0.0/8, 2001:db8::/32)",
			                     arg);
		f->has_net = 1;
		return 0;
	case CLI_HF_JOB:
		return cli_parse_i64(cmd, "--job", arg, 1, INT64_MAX, &f->job_id);
	case CLI_HF_CHANGED_SINCE:
	case CLI_HF_NEW_SINCE:
		return since_opt(cmd, ch, arg, f);
	default:
		return CLI_ARG_UNKNOWN;
	}
}

int cli_host_filter_terms(const char *cmd, int argc, char **argv, int first, struct filter *expr,
                          struct store_host_filter *f)
{
	char err[FILTER_ERR_MAX];
	int r;

	*expr = (struct filter){NULL, 0, -1};
	if (first >= argc)
		return 0;
	r = filter_parse_words((const char *const *)argv + first, (size_t)(argc - first),
	                       time_now(), expr, err);
	if (r != 0) {
		fprintf(stderr,
		        "scandb: filter: %s\nTry 'scandb %s --help' (man scandb: SEARCH).\n", err,
		        cmd);
		return CLI_USAGE;
	}
	f->expr = expr;
	return 0;
}
