/*
 * cli.h - what every subcommand shares: the global options, opening the
 * store with the schema check, error printing, output format selection and
 * the progress line.  Only code under src/cli/ prints or chooses exit codes.
 *
 * Exit statuses: CLI_OK 0, CLI_FAIL 1, CLI_USAGE 2 (diff: 0 same, 1 diff,
 * 2 error, like ndiff).
 */
#ifndef SDB_CLI_CLI_H
#define SDB_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "core/retry.h"
#include "store/store.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

enum cli_format { CLI_FMT_TABLE = 0, CLI_FMT_JSON, CLI_FMT_NDJSON, CLI_FMT_CSV };

struct cli {
	const char *prog; /* "scandb" */
	char db[4096];    /* resolved database target */
	int quiet;        /* -q: no progress, no summaries */
	int progress;     /* stderr is a terminal and not --no-progress */
	struct store *st; /* opened by cli_open() */
};

/* The wait before a whole job lost to SDB_ETRANSIENT is tried again
 * (import re-reads its file, scan its spool): 0.5, 1, 2, 4 s, plus up to
 * 50%.  retry_sleep(&cli_job_retry, n) before retry n (0 for the first). */
extern const struct retry_backoff cli_job_retry;

/* Print "scandb: message" to stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "scandb COMMAND: message\nTry 'scandb COMMAND --help'." and
 * return CLI_USAGE. */
int cli_usage_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * How a command opens c->db (invariants 6 and 13).  Every mode refuses
 * another application's database ("PATH is not a scandb database"), and
 * only the writers' modes create a missing SQLite file.
 *   READ     reading commands: must exist, opened read-only, schema current;
 *            never created, migrated or written
 *   INSPECT  looking at any scandb database (doctor, migrate status/verify,
 *            health): must exist, read-only, no schema check
 *   UPDATE   changing data of an existing database (prune, finding
 *            --status, doctor --fix): must exist, schema current
 *   WRITE    import, scan: created if missing; a new (empty) database gets
 *            the schema; else the schema must be current
 *   MIGRATE  migrate up, restore: created if missing, no schema check
 *   ADMIN    migrate down, doctor --fix, backup: must exist, no schema check
 * On failure prints the reason (unless msg is non-NULL, which then receives
 * it), leaves c->st NULL and returns CLI_FAIL.  Messages name the database
 * once, with any password masked.
 */
enum cli_open {
	CLI_OPEN_READ = 0,
	CLI_OPEN_INSPECT,
	CLI_OPEN_UPDATE,
	CLI_OPEN_WRITE,
	CLI_OPEN_MIGRATE,
	CLI_OPEN_ADMIN,
};
int cli_open_as(struct cli *c, enum cli_open mode, char *msg, size_t msglen);
/* Older interface (cmd_backup.c): existing = 0 creates, ready = 1 checks
 * the schema: (1,1) UPDATE, (1,0) REVERT, (0,1) WRITE, (0,0) MIGRATE. */
int cli_open_db(struct cli *c, int existing, int ready, char *msg, size_t msglen);
/* cli_open_db(c, 0, ready, NULL, 0). */
int cli_open(struct cli *c, int ready);
void cli_close(struct cli *c);

/* "table", "json", "ndjson", "csv" → 0, or CLI_USAGE after printing. */
int cli_parse_format(const char *cmd, const char *s, enum cli_format *out);
/* Strict integer option parse; CLI_USAGE after printing on error. */
int cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi,
                  int64_t *out);

struct option;
/* getopt_long() that remembers `opts`, so that an unknown option's message
 * (output_getopt_err) can suggest the closest one. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts);
/* The long option of the last cli_getopt() table closest to `arg`
 * ("--formt" -> "format"), or NULL if none is close. */
const char *cli_closest_option(const char *arg);
/* The same for a command that parses its options by hand: the closest
 * name in `opts` (terminated by a NULL name). */
const char *cli_closest_in(const char *arg, const struct option *opts);
/* Levenshtein distance of a and b (99 for words of 63 bytes or more). */
size_t cli_edit_distance(const char *a, const char *b);

/* Does argv contain -h/--help before "--"? */
int cli_wants_help(int argc, char **argv);

/*
 * Progress line on stderr (only when c->progress): shown once an operation
 * has run for more than a second, refreshed at most 10 times a second,
 * erased by cli_progress_done() (and by cli_err, whose message takes its
 * place).  One line that never wraps: rewritten in place with \r and
 * clear-to-end-of-line, cut to the terminal's width less one column
 * (TIOCGWINSZ, else $COLUMNS, else 80) by dropping the middle of the
 * message ("importing /very/lo…/scan.xml").  The elapsed time follows,
 * and an ETA when the message holds a percentage ("37%": the total is
 * known).  Never writes to stdout.
 */
struct cli_progress {
	int enabled;
	double start;
	double last;
	int shown;
};
void cli_progress_start(struct cli_progress *p, const struct cli *c);
/* Columns of the terminal on fd: TIOCGWINSZ, else $COLUMNS, else 80. */
int cli_term_width(int fd);
void cli_progress_update(struct cli_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cli_progress_done(struct cli_progress *p);

/* Subcommands: argv[0] is the command name. */
int cmd_migrate(struct cli *c, int argc, char **argv);
int cmd_import(struct cli *c, int argc, char **argv);
int cmd_scan(struct cli *c, int argc, char **argv);
int cmd_hosts(struct cli *c, int argc, char **argv);
int cmd_host(struct cli *c, int argc, char **argv);
int cmd_jobs(struct cli *c, int argc, char **argv);
int cmd_job(struct cli *c, int argc, char **argv);
int cmd_diff(struct cli *c, int argc, char **argv);
int cmd_findings(struct cli *c, int argc, char **argv);
int cmd_finding(struct cli *c, int argc, char **argv);
int cmd_changes(struct cli *c, int argc, char **argv);
int cmd_history(struct cli *c, int argc, char **argv);
/* database operations (docs/OPERATIONS.md) */
int cmd_health(struct cli *c, int argc, char **argv);
int cmd_stats(struct cli *c, int argc, char **argv);
int cmd_doctor(struct cli *c, int argc, char **argv);
int cmd_backup(struct cli *c, int argc, char **argv);
int cmd_restore(struct cli *c, int argc, char **argv);
int cmd_prune(struct cli *c, int argc, char **argv);

#endif
