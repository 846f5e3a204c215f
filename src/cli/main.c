/*
 * main.c - scandb's entry point: global options (--db, -q, --no-progress),
 * the database location default, and dispatch to one cmd_*() per
 * subcommand.  The only place besides cmd_*.c that chooses exit statuses.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

struct command {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
    {"import", cmd_import, "import nmap XML, masscan or zmap files (or '-' for stdin)"},
    {"scan", cmd_scan, "run nmap and store its results"},
    {"hosts", cmd_hosts, "list hosts and their ports"},
    {"host", cmd_host, "show one host"},
    {"services", cmd_services, "list open ports with service and version"},
    {"jobs", cmd_jobs, "list scans and imports"},
    {"job", cmd_job, "show one job (job rm ID: remove one)"},
    {"tag", cmd_tag, "add or remove tags on hosts"},
    {"tags", cmd_tags, "list tags (or one host's)"},
    {"note", cmd_note, "add, list or remove notes on a host"},
    {"findings", cmd_findings, "list findings (vulnerabilities, rule matches)"},
    {"finding", cmd_finding, "show one finding or set its status"},
    {"export", cmd_export, "write a job or the current state as nmap XML, CSV, JSON or HTML"},
    {"diff", cmd_diff, "compare two scans (jobs or nmap XML files), like ndiff"},
    {"changes", cmd_changes, "what changed on the network (since a time)"},
    {"history", cmd_history, "one host's timeline of changes"},
    {"migrate", cmd_migrate, "show, apply or revert schema migrations"},
    {"health", cmd_health, "can scandb use the database? (exit 0 healthy, 1 not)"},
    {"stats", cmd_stats, "rows and sizes per table and index, jobs by status"},
    {"doctor", cmd_doctor, "check the data (integrity, orphans, stuck jobs); --fix"},
    {"backup", cmd_backup, "consistent copy of the database while it is in use"},
    {"restore", cmd_restore, "replace the database with a validated backup"},
    {"prune", cmd_prune, "remove old jobs and their results (keeps current state)"},
    {"serve", cmd_serve, "the HTTP API (read endpoints, tokens, metrics)"},
    {"token", cmd_token, "create, list or revoke API tokens of `serve`"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: scandb [--db PATH|URL] [-q] [--no-progress] COMMAND [options]\n"
	           "       scandb COMMAND --help\n\n"
	           "Keeps the history of a network: imports nmap XML, runs nmap, stores\n"
	           "every scan, and answers what is on the network now, what changed,\n"
	           "and since when.\n\n"
	           "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nOptions (before or after COMMAND):\n"
	           "  --db PATH       database file (default: $SCANDB_DB, else\n"
	           "                  $XDG_DATA_HOME/scandb/scandb.db, i.e.\n"
	           "                  ~/.local/share/scandb/scandb.db), or a PostgreSQL\n"
	           "                  database: postgresql://USER@HOST[:PORT]/DB or\n"
	           "                  pg:'host=... dbname=...' (libpq; PG* variables and\n"
	           "                  ~/.pgpass apply)\n"
	           "  -q, --quiet     no progress line, no summaries on stderr\n"
	           "  --no-progress   no progress line\n"
	           "  --version       print the version\n\n"
	           "Reading commands (hosts, host, services, export, jobs, job, findings,\n"
	           "finding, changes, history, diff, stats, doctor, health, backup, migrate\n"
	           "status)\n"
	           "never create or change a database; import, scan, migrate up and\n"
	           "restore create a new one.\n\n"
	           "Exit status: 0 success, 1 failure, 2 usage error (diff: 0 same,\n"
	           "1 different, 2 error).\n");
}

/* $SCANDB_DB, else $XDG_DATA_HOME/scandb/scandb.db, else
 * $HOME/.local/share/scandb/scandb.db. */
static int default_db(char *out, size_t len)
{
	const char *v = getenv("SCANDB_DB");
	int n;

	if (v && *v)
		n = snprintf(out, len, "%s", v);
	else if ((v = getenv("XDG_DATA_HOME")) && *v == '/')
		n = snprintf(out, len, "%s/scandb/scandb.db", v);
	else if ((v = getenv("HOME")) && *v)
		n = snprintf(out, len, "%s/.local/share/scandb/scandb.db", v);
	else
		return -1;
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/*
 * The --db value may hold a password (postgresql://user:PASSWORD@host/db or
 * "pg:... password=PASSWORD"): once it is copied, overwrite it in argv
 * itself with the masked form, so that ps and /proc/PID/cmdline show "***".
 * The masked text is cut to the original length if it is longer (a
 * password shorter than "***").
 */
static void hide_password(char *arg)
{
	char shown[sizeof(((struct cli *)0)->db)];
	size_t n = strlen(arg), m;

	store_target_display(arg, shown, sizeof(shown));
	if (strcmp(shown, arg) == 0)
		return;
	m = strlen(shown);
	if (m > n)
		m = n;
	memcpy(arg, shown, m);
	memset(arg + m, '\0', n - m);
}

static int unknown_command(const char *name)
{
	const char *best = NULL;
	size_t bestd = 3;

	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		size_t d = cli_edit_distance(name, commands[k].name);
		if (d < bestd || (!best && strncmp(commands[k].name, name, strlen(name)) == 0 &&
		                  strlen(name) >= 2)) {
			best = commands[k].name;
			bestd = d;
		}
	}
	if (best)
		fprintf(stderr, "scandb: unknown command '%s'; did you mean '%s'?\n", name, best);
	else
		fprintf(stderr, "scandb: unknown command '%s'\n", name);
	fprintf(stderr, "Try 'scandb --help'.\n");
	return CLI_USAGE;
}

/*
 * One global option at argv[*i] (--db PATH, --db=PATH, -q, --quiet,
 * --no-progress): taken into c / *db and 1 returned (with *i past its
 * value); 0 if argv[*i] is not one; -CLI_USAGE (printed) if --db lacks its
 * value.
 */
static int global_option(struct cli *c, char **db, int argc, char **argv, int *i)
{
	const char *a = argv[*i];

	if (strcmp(a, "--db") == 0) {
		if (*i + 1 >= argc) {
			fprintf(stderr, "scandb: --db needs a value\nTry 'scandb --help'.\n");
			return -CLI_USAGE;
		}
		if (*db)
			hide_password(*db); /* the last --db wins; none stays readable */
		*db = argv[++*i];
	} else if (strncmp(a, "--db=", 5) == 0) {
		if (*db)
			hide_password(*db);
		*db = argv[*i] + 5;
	} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
		c->quiet = 1;
	} else if (strcmp(a, "--no-progress") == 0) {
		c->progress = 0;
	} else {
		return 0;
	}
	return 1;
}

/* Does the command's argv ask for its help?  (scan: only as its first
 * argument; the rest is nmap's.) */
static int asks_help(const char *cmd, int argc, char **argv)
{
	if (strcmp(cmd, "scan") == 0)
		return argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
	return cli_wants_help(argc, argv);
}

static void global_help(void)
{
	printf("\nGlobal options (before or after the command): --db PATH|URL (database;\n"
	       "default $SCANDB_DB, else ~/.local/share/scandb/scandb.db), -q/--quiet,\n"
	       "--no-progress.\n");
}

/* An unknown option before the command: "did you mean" one of the global options. */
static int unknown_global_option(const char *a)
{
	static const struct option known[] = {
	    {"db", required_argument, NULL, 0},    {"help", no_argument, NULL, 0},
	    {"no-progress", no_argument, NULL, 0}, {"quiet", no_argument, NULL, 0},
	    {"version", no_argument, NULL, 0},     {NULL, 0, NULL, 0},
	};
	const char *best = cli_closest_in(a, known);

	if (best)
		fprintf(stderr, "scandb: unknown option '%s'; did you mean '--%s'?\n", a, best);
	else
		fprintf(stderr, "scandb: unknown option '%s'\nTry 'scandb --help'.\n", a);
	return CLI_USAGE;
}

/*
 * The options before the command: global ones, --help, --version.
 * CLI_GO_ON with *i at the command (or argc), or the exit status.
 */
static int leading_options(struct cli *c, char **db, int argc, char **argv, int *i)
{
	for (*i = 1; *i < argc; ++*i) {
		const char *a = argv[*i];
		int g = global_option(c, db, argc, argv, i);

		if (g < 0)
			return -g;
		if (g > 0)
			continue;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return CLI_OK;
		}
		if (strcmp(a, "--version") == 0) {
			printf("scandb %s\n", SCANDB_VERSION);
			return CLI_OK;
		}
		if (a[0] == '-')
			return unknown_global_option(a);
		break;
	}
	return CLI_GO_ON;
}

/*
 * The same options after the command at argv[i] (before a "--"): taken out
 * of the command's arguments, so that `scandb hosts --db x.db` works and
 * `scandb scan ... --db x.db` does not hand --db to nmap.  The new argc, or
 * minus the exit status of a usage error.
 */
static int trailing_options(struct cli *c, char **db, int argc, char **argv, int i)
{
	int j, k = i + 1;

	for (j = i + 1; j < argc; j++) {
		int g;
		if (strcmp(argv[j], "--") == 0)
			break;
		if ((g = global_option(c, db, argc, argv, &j)) < 0)
			return g;
		if (g == 0)
			argv[k++] = argv[j];
	}
	while (j < argc)
		argv[k++] = argv[j++];
	argv[k] = NULL;
	return k;
}

/* c->db from --db (then masked in argv), or the default. */
static int set_db(struct cli *c, char *db)
{
	if (db) {
		if (snprintf(c->db, sizeof(c->db), "%s", db) >= (int)sizeof(c->db)) {
			fprintf(stderr, "scandb: --db value too long\n");
			return CLI_USAGE;
		}
		hide_password(db);
	} else if (default_db(c->db, sizeof(c->db)) != 0) {
		fprintf(stderr, "scandb: no database: set --db, SCANDB_DB or HOME\n");
		return CLI_USAGE;
	}
	return CLI_OK;
}

static const struct command *find_command(const char *name)
{
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(commands[k].name, name) == 0)
			return &commands[k];
	return NULL;
}

/* `scandb help [COMMAND]`. */
static int help_command(struct cli *c, const char *name)
{
	const struct command *cmd;
	char *hargv[] = {(char *)name, "--help", NULL};
	int rc;

	if (!name) {
		usage(stdout);
		return CLI_OK;
	}
	if (!(cmd = find_command(name)))
		return unknown_command(name);
	if ((rc = cmd->fn(c, 2, hargv)) == CLI_OK)
		global_help();
	return rc;
}

/* Run cmd with its argv; a failed write of its output is a failure. */
static int run_command(struct cli *c, const struct command *cmd, int argc, char **argv)
{
	int help = asks_help(cmd->name, argc, argv);
	int rc = cmd->fn(c, argc, argv);

	if (help && rc == CLI_OK)
		global_help();
	cli_close(c);
	fflush(stdout);
	if (ferror(stdout)) {
		cli_err("error writing output");
		return CLI_FAIL;
	}
	return rc;
}

int main(int argc, char **argv)
{
	const struct command *cmd;
	struct cli c;
	char *db = NULL;
	int i, r;

	/* Keep freed memory for reuse instead of handing it back to the kernel
	 * after every host: the brk/munmap churn cost ~6% of an import.  Peak
	 * memory is unchanged (glibc-specific; harmless elsewhere). */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 4 << 20);
	memset(&c, 0, sizeof(c));
	c.prog = "scandb";
	c.progress = isatty(STDERR_FILENO);
	/* A log of `scandb import ... >log 2>&1` reads in order: stdout is
	 * flushed line by line, as stderr is, when it is not a terminal. */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOLBF, 0);
	if ((r = leading_options(&c, &db, argc, argv, &i)) != CLI_GO_ON)
		return r;
	if (i < argc && (argc = trailing_options(&c, &db, argc, argv, i)) < 0)
		return -argc;
	if (i >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	if ((r = set_db(&c, db)) != CLI_OK)
		return r;
	/* a password held from here on stays out of core dumps */
	store_protect_secrets(c.db);
	if (strcmp(argv[i], "help") == 0)
		return help_command(&c, i + 1 < argc ? argv[i + 1] : NULL);
	if (!(cmd = find_command(argv[i])))
		return unknown_command(argv[i]);
	return run_command(&c, cmd, argc - i, argv + i);
}
