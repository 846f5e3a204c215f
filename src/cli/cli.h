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
/* `--gone-after N` of import and scan (0: never gone) as
 * job_writer_opts.gone_after takes it.  CLI_USAGE after printing on error. */
int cli_parse_gone_after(const char *cmd, const char *s, int *out);
#define CLI_GONE_AFTER_MAX 100000

struct option;

/*
 * The prologue of every command that takes getopt options (cli_parse_args):
 *   1. -h/--help before "--" (cli_wants_help): `usage` on stdout, CLI_OK;
 *   2. getopt_long(shortopts, opts) from argv[1]; each option it finds goes
 *      to on_opt(ctx, ch, optarg), which returns 0 to go on, CLI_ARG_UNKNOWN
 *      for one this command refuses, or the exit status to stop with (after
 *      printing its usage error);
 *   3. an unknown option or a missing value: "scandb CMD: unknown option
 *      '--formt'; did you mean '--format'?" (the closest name in opts),
 *      CLI_USAGE;
 *   4. the operands counted: fewer than min is "missing <missing>", more
 *      than max "unexpected argument '<the first one too many>'", CLI_USAGE.
 * shortopts starts with ':' (a missing value is told from an unknown option).
 */
enum { CLI_ARG_UNKNOWN = -2, CLI_GO_ON = -1 };
struct cli_args {
	const char *cmd;   /* the command's name, in messages */
	const char *usage; /* its --help text */
	const char *shortopts;
	const struct option *opts; /* ends with a NULL name */
	int (*on_opt)(void *ctx, int ch, char *arg);
	void *ctx;
	int min, max;        /* operands accepted; max -1: any number */
	const char *missing; /* what the first operand is ("FILE"), for min > 0 */
};
/* CLI_GO_ON with the operands in argv[*first..argc-1] (first may be NULL
 * for a command that takes none), or the exit status
 * the command returns now (CLI_OK after --help, else CLI_USAGE or what
 * on_opt returned). */
int cli_parse_args(const struct cli_args *a, int argc, char **argv, int *first);

/* For a command that parses its options by hand: the name in `opts`
 * (terminated by a NULL name) closest to `arg` ("--formt" -> "format"),
 * or NULL if none is close. */
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
int cmd_services(struct cli *c, int argc, char **argv);
int cmd_export(struct cli *c, int argc, char **argv);
int cmd_token(struct cli *c, int argc, char **argv);
int cmd_serve(struct cli *c, int argc, char **argv);
int cmd_jobs(struct cli *c, int argc, char **argv);
int cmd_job(struct cli *c, int argc, char **argv);
int cmd_job_rm(struct cli *c, int argc, char **argv);
int cmd_tag(struct cli *c, int argc, char **argv);
int cmd_tags(struct cli *c, int argc, char **argv);
int cmd_note(struct cli *c, int argc, char **argv);
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
