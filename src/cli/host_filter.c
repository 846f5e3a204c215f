/*
 * host_filter.c - the typed filter flags the listing commands share
 * (`hosts`, `services`) and their search terms (see host_filter.h): each
 * flag's value is parsed by app/host_filter.c, the parser the HTTP API's
 * query parameters use too.
 */
#include "cli/host_filter.h"

#include <stdint.h>
#include <stdio.h>

#include "app/host_filter.h"
#include "cli/cli.h"
#include "core/timeutil.h"

int cli_host_filter_opt(const char *cmd, int ch, char *arg, struct store_host_filter *f)
{
	static const struct {
		int ch;
		enum host_filter_key key;
		const char *flag;
	} flags[] = {
	    {CLI_HF_PORT, HOST_FILTER_PORT, "--port"},
	    {CLI_HF_SERVICE, HOST_FILTER_SERVICE, "--service"},
	    {CLI_HF_STATUS, HOST_FILTER_STATUS, "--status"},
	    {CLI_HF_NET, HOST_FILTER_NET, "--net"},
	    {CLI_HF_JOB, HOST_FILTER_JOB, "--job"},
	    {CLI_HF_CHANGED_SINCE, HOST_FILTER_CHANGED_SINCE, "--changed-since"},
	    {CLI_HF_NEW_SINCE, HOST_FILTER_NEW_SINCE, "--new-since"},
	};
	char msg[256];

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (flags[i].ch != ch)
			continue;
		if (host_filter_set(f, flags[i].key, arg, time_now(), msg, sizeof(msg)) != 0)
			return cli_usage_err(cmd, "%s: %s", flags[i].flag, msg);
		return 0;
	}
	return CLI_ARG_UNKNOWN;
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
