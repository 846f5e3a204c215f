/*
 * ops_util.h - what the database operations commands (health, stats,
 * doctor, backup, restore, prune; docs/OPERATIONS.md) share: opening a
 * database that must already exist, sizes for people, and the JSON
 * helpers of their output.  Not used by the other commands.
 */
#ifndef SDB_CLI_OPS_UTIL_H
#define SDB_CLI_OPS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli.h"

/* "12.3 MiB", "512 B", "-" for b < 0, into out[len]. */
void ops_bytes(int64_t b, char *out, size_t len);

/* JSON string or null for NULL; an integer or null for v < 0; an ISO time
 * or null for t == 0. */
json_t *ops_json_str(const char *s);
json_t *ops_json_opt(int64_t v);
json_t *ops_json_time(int64_t t);

/* "--format table|json", and ndjson|csv when `tabular` (the command has
 * rows to print); CLI_USAGE after printing for others. */
int ops_parse_format(const char *cmd, const char *s, int tabular, enum cli_format *out);

/*
 * The rows of a tabular result as ndjson (each object of `rows`, a JSON
 * array, on its own line) or CSV (a header of `keys`, then each object's
 * values in key order: strings verbatim, numbers as numbers, null and
 * booleans as "", "true", "false").  Takes `rows`.  0 or an SDB_* code.
 */
int ops_print_rows(enum cli_format fmt, const char *const *keys, size_t nkeys, json_t *rows);

#endif
