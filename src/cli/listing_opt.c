/*
 * listing_opt.c - parsing of --sort and --limit, the flags every listing
 * shares; see listing_opt.h.
 */
#include "cli/listing_opt.h"

#include <stdint.h>

#include "cli/cli.h"

int cli_listing_opt(const char *cmd, int ch, const char *arg, const struct listing_field *fields,
                    struct listing_order *o)
{
	char names[256];
	int64_t n;
	int r;

	switch (ch) {
	case CLI_LIST_SORT:
		if (listing_order_parse(fields, arg, o) == 0)
			return 0;
		listing_field_names(fields, names, sizeof(names));
		return cli_usage_err(
		    cmd, "--sort: unknown field '%s' (use %s, or -FIELD for descending)", arg,
		    names);
	case CLI_LIST_LIMIT:
		if ((r = cli_parse_i64(cmd, "--limit", arg, 1, INT64_MAX, &n)) != 0)
			return r;
		o->limit = (size_t)n;
		return 0;
	default:
		return CLI_ARG_UNKNOWN;
	}
}
