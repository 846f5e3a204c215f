/*
 * listing_opt.h - the --sort FIELD and --limit N flags every listing
 * (hosts, services, changes, findings, jobs) takes, parsed into an
 * app/listing.h order.  One parser, so that every listing spells and
 * checks them the same way.
 */
#ifndef SDB_CLI_LISTING_OPT_H
#define SDB_CLI_LISTING_OPT_H

#include <getopt.h>

#include "app/listing.h"

/* getopt codes of the flags (above the commands' and host_filter's). */
enum { CLI_LIST_SORT = 1024, CLI_LIST_LIMIT };

/* clang-format off */
#define CLI_LIST_OPT_SORT  {"sort", required_argument, NULL, CLI_LIST_SORT}
#define CLI_LIST_OPT_LIMIT {"limit", required_argument, NULL, CLI_LIST_LIMIT}
/* clang-format on */

/* The usage lines of the flags, for a command's --help text. */
#define CLI_LIST_USAGE                                                                             \
	"  --sort [-]FIELD   order by FIELD (-FIELD: descending); see below\n"                     \
	"  --limit N         at most N rows\n"

/*
 * Parse flag `ch` (a CLI_LIST_* code) with argument `arg` into *o, the
 * field among `fields`; usage errors name the command `cmd`, the flag and,
 * for --sort, the unknown field and the known ones.  Returns 0, the exit
 * status of a usage error (printed), or CLI_ARG_UNKNOWN if ch is neither.
 */
int cli_listing_opt(const char *cmd, int ch, const char *arg, const struct listing_field *fields,
                    struct listing_order *o);

#endif
