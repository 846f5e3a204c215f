/*
 * host_filter.h - the typed filter flags shared by the listing commands
 * (`hosts`, `services`): --port, --service, --status, --net, --job,
 * --changed-since, --new-since, parsed into a store_host_filter, and the
 * search terms given as operands (core/filter.h).  One parser, so that
 * every listing spells and checks them the same way.
 */
#ifndef SDB_CLI_HOST_FILTER_H
#define SDB_CLI_HOST_FILTER_H

#include <getopt.h>

#include "store/store.h"

/* getopt codes of the shared flags; a command numbers its own options
 * from CLI_HF_NEXT on. */
enum {
	CLI_HF_PORT = 256,
	CLI_HF_SERVICE,
	CLI_HF_STATUS,
	CLI_HF_NET,
	CLI_HF_JOB,
	CLI_HF_CHANGED_SINCE,
	CLI_HF_NEW_SINCE,
	CLI_HF_NEXT
};

/* struct option entries of the flags, for a command's option table. */
/* clang-format off */
#define CLI_HF_OPT_PORT          {"port", required_argument, NULL, CLI_HF_PORT}
#define CLI_HF_OPT_SERVICE       {"service", required_argument, NULL, CLI_HF_SERVICE}
#define CLI_HF_OPT_STATUS        {"status", required_argument, NULL, CLI_HF_STATUS}
#define CLI_HF_OPT_NET           {"net", required_argument, NULL, CLI_HF_NET}
#define CLI_HF_OPT_JOB           {"job", required_argument, NULL, CLI_HF_JOB}
#define CLI_HF_OPT_CHANGED_SINCE {"changed-since", required_argument, NULL, CLI_HF_CHANGED_SINCE}
#define CLI_HF_OPT_NEW_SINCE     {"new-since", required_argument, NULL, CLI_HF_NEW_SINCE}
/* clang-format on */

/*
 * Parse flag `ch` (a CLI_HF_* code) with argument `arg` into *f; usage
 * errors name the flag and the command `cmd`.  Returns 0, the exit status
 * of a usage error (printed), or CLI_ARG_UNKNOWN if ch is not one of them.
 */
int cli_host_filter_opt(const char *cmd, int ch, char *arg, struct store_host_filter *f);

/*
 * The search terms (docs/SEARCH.md) among a listing's operands,
 * argv[first..argc), parsed into *expr and set as f->expr (ANDed with the
 * typed flags).  A bad expression prints "scandb: filter: 'TERM' at
 * argument N: what is wrong" and returns CLI_USAGE; else 0.  The caller
 * frees *expr with filter_free() after the listing (also when none).
 */
int cli_host_filter_terms(const char *cmd, int argc, char **argv, int first, struct filter *expr,
                          struct store_host_filter *f);

#endif
