/*
 * cmd_diff.c - `scandb diff A B`: what changed between two scans, each an
 * nmap XML file or a stored job (diff/diff.h does the work).  Owns: the
 * arguments, telling files from job ids, opening the database only when a
 * job is named, reading the two sides in parallel, and the exit status, which
 * is ndiff's: 0 same, 1 different, 2 error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "core/error.h"
#include "diff/diff.h"

/* ndiff's exit statuses (CLI_FAIL means "different" here). */
enum { DIFF_EXIT_SAME = 0, DIFF_EXIT_DIFFERENT = 1, DIFF_EXIT_ERROR = 2 };

enum { OPT_FORMAT = 256, OPT_TEXT, OPT_XML, OPT_JSON };

static const char diff_usage[] =
    "usage: scandb diff A B [--format text|xml|json] [-v|--verbose]\n"
    "\n"
    "Show what changed between two scans, like ndiff.  A and B are each an nmap\n"
    "XML file (or '-' for standard input), or the id of a stored job: an\n"
    "argument that names an existing file is a file, else it must be a job id.\n"
    "Files are read without storing them and need no database.\n"
    "\n"
    "  --format FORMAT  text (default; reads like ndiff), xml (ndiff's nmapdiff\n"
    "                   document) or json\n"
    "  --text, --xml, --json  the same as --format text|xml|json\n"
    "  -v, --verbose    also show hosts and ports that did not change\n"
    "\n"
    "Exit status: 0 no differences, 1 differences, 2 error.  As in ndiff, the\n"
    "hosts count; changes in the run's pre-/post-scan scripts are shown only.\n";

struct side {
	const char *arg;
	int is_file;
	int64_t job_id;
	struct store *st; /* for a job: the connection it is read on */
	int open_errno;   /* a file that could not be opened */
	struct diff_snapshot *snap;
	int r;
	char err[1024];
};

/* A strictly positive decimal job id, or 0. */
static int64_t job_id_arg(const char *s)
{
	char *end;
	long long v;

	if (!*s || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 1)
		return 0;
	return (int64_t)v;
}

/* Is `arg` a file (1), a job id (0), or neither (-1, message printed)? */
static int classify(struct side *sd)
{
	struct stat st;

	if (strcmp(sd->arg, "-") == 0 || stat(sd->arg, &st) == 0) {
		if (strcmp(sd->arg, "-") != 0 && S_ISDIR(st.st_mode)) {
			cli_err("diff: %s: is a directory", sd->arg);
			return -1;
		}
		sd->is_file = 1;
		return 1;
	}
	if ((sd->job_id = job_id_arg(sd->arg)) > 0)
		return 0;
	cli_err("diff: %s: no such file, and not a job id", sd->arg);
	return -1;
}

static void load_job(struct side *sd)
{
	sd->r = diff_snapshot_load_job(sd->snap, sd->st, sd->job_id, sd->err, sizeof(sd->err));
	if (sd->r == 0 && (sd->r = diff_snapshot_finish(sd->snap)) != 0)
		snprintf(sd->err, sizeof(sd->err), "job %lld: %s", (long long)sd->job_id,
		         sdb_strerror(sd->r));
}

/* One side, on whichever thread runs it. */
static void *load_side(void *arg)
{
	struct side *sd = arg;
	int fd = 0;

	if (!sd->is_file) {
		load_job(sd);
		return NULL;
	}

	if (strcmp(sd->arg, "-") != 0 && (fd = open(sd->arg, O_RDONLY | O_CLOEXEC)) < 0) {
		sd->open_errno = errno; /* strerror() is for the main thread */
		sd->r = SDB_EIO;
		return NULL;
	}
	sd->r = diff_snapshot_load_fd(sd->snap, fd, strcmp(sd->arg, "-") == 0 ? "<stdin>" : sd->arg,
	                              sd->err, sizeof(sd->err));
	if (sd->r == 0 && (sd->r = diff_snapshot_finish(sd->snap)) != 0)
		snprintf(sd->err, sizeof(sd->err), "%s: %s", sd->arg, sdb_strerror(sd->r));
	if (fd > 0)
		close(fd);
	return NULL;
}

/* Job ids need the database, but asking for one must not create it. */
static int open_db(struct cli *c)
{
	const char *path = c->db;
	struct stat st;

	if (strncmp(path, "sqlite:", 7) == 0)
		path += 7;
	if (!store_target_is_pg(c->db) && stat(path, &st) != 0 && errno == ENOENT) {
		cli_err("diff: no database at %s (job ids are looked up there; use --db)", path);
		return DIFF_EXIT_ERROR;
	}
	return cli_open_as(c, CLI_OPEN_READ, NULL, 0) == CLI_OK ? 0 : DIFF_EXIT_ERROR;
}

static void warn_dups(const struct side *sd)
{
	size_t n = diff_snapshot_duplicates(sd->snap);

	if (n)
		cli_err("diff: %s: %zu host%s listed more than once; the first of each "
		        "address is compared",
		        sd->arg, n, n == 1 ? "" : "s");
}

static const struct option opts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"text", no_argument, NULL, OPT_TEXT},
    {"xml", no_argument, NULL, OPT_XML},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What `diff` was asked. */
struct diff_args {
	enum diff_format fmt;
	int fmt_set; /* a format option was given: another must agree */
	int verbose;
};

/* cli_args.on_opt of `diff`. */
static int diff_opt(void *ctx, int ch, char *arg)
{
	struct diff_args *a = ctx;
	enum diff_format f;

	switch (ch) {
	case 'v':
		a->verbose = 1;
		return 0;
	case OPT_FORMAT:
		if (strcmp(arg, "text") == 0)
			f = DIFF_FMT_TEXT;
		else if (strcmp(arg, "xml") == 0)
			f = DIFF_FMT_XML;
		else if (strcmp(arg, "json") == 0)
			f = DIFF_FMT_JSON;
		else
			return cli_usage_err("diff", "unknown format '%s' (use text, xml or json)",
			                     arg);
		break;
	case OPT_TEXT:
		f = DIFF_FMT_TEXT;
		break;
	case OPT_XML:
		f = DIFF_FMT_XML;
		break;
	case OPT_JSON:
		f = DIFF_FMT_JSON;
		break;
	default:
		return CLI_ARG_UNKNOWN;
	}
	if (a->fmt_set && f != a->fmt)
		return cli_usage_err("diff", "contradictory output format options");
	a->fmt = f;
	a->fmt_set = 1;
	return 0;
}

/*
 * Load both sides: A on a second thread while B loads on this one (a file
 * is parsed there, a job read on a second connection, *a_st, when B needs
 * c->st too: one connection, one thread).  If that connection or the
 * thread cannot be had, A loads here first.  0, or DIFF_EXIT_ERROR after
 * printing the first side's error.
 */
static int load_sides(struct cli *c, struct side sd[2], struct store **a_st)
{
	pthread_t th;
	int threaded = 0;

	sd[0].st = sd[1].st = c->st;
	if (!sd[0].is_file && !sd[1].is_file) {
		char msg[256];

		if (store_open_mode(c->db, STORE_OPEN_READONLY, a_st, msg, sizeof(msg)) == 0)
			sd[0].st = *a_st;
	}
	if (sd[0].is_file || sd[1].is_file || sd[0].st != sd[1].st)
		threaded = pthread_create(&th, NULL, load_side, &sd[0]) == 0;
	if (!threaded)
		load_side(&sd[0]);
	load_side(&sd[1]);
	if (threaded)
		pthread_join(th, NULL);
	for (int i = 0; i < 2; i++) {
		if (sd[i].r != 0) {
			if (sd[i].open_errno)
				snprintf(sd[i].err, sizeof(sd[i].err), "%s: %s", sd[i].arg,
				         strerror(sd[i].open_errno));
			cli_err("%s", sd[i].err[0] ? sd[i].err : sdb_strerror(sd[i].r));
			return DIFF_EXIT_ERROR;
		}
	}
	return 0;
}

/* Write the comparison of the loaded sides; ndiff's exit status. */
static int write_diff(struct side sd[2], const struct diff_args *a)
{
	int different = 0, r;

	warn_dups(&sd[0]);
	warn_dups(&sd[1]);
	if ((r = diff_write(stdout, a->fmt, sd[0].snap, sd[1].snap, a->verbose, &different)) != 0 ||
	    fflush(stdout) != 0 || ferror(stdout)) {
		cli_err("diff: %s", r == SDB_ENOMEM ? "out of memory" : "error writing output");
		/* Reported here, with ndiff's status 2: drop what could not be
		 * written, so that main() does not fail again and return
		 * CLI_FAIL, which means "different" for diff. */
		__fpurge(stdout);
		clearerr(stdout);
		return DIFF_EXIT_ERROR;
	}
	return different ? DIFF_EXIT_DIFFERENT : DIFF_EXIT_SAME;
}

/* Compare the scans named by sd[0].arg and sd[1].arg. */
static int run_diff(struct cli *c, struct side sd[2], const struct diff_args *a)
{
	struct store *a_st = NULL;
	int r;

	if (classify(&sd[0]) < 0 || classify(&sd[1]) < 0)
		return DIFF_EXIT_ERROR;
	if (sd[0].is_file && sd[1].is_file && strcmp(sd[0].arg, "-") == 0 &&
	    strcmp(sd[1].arg, "-") == 0)
		return cli_usage_err("diff", "standard input ('-') can be only one of the two");
	if ((!sd[0].is_file || !sd[1].is_file) && (r = open_db(c)) != 0)
		return r;
	if (diff_snapshot_new(&sd[0].snap) != 0 || diff_snapshot_new(&sd[1].snap) != 0) {
		cli_err("diff: out of memory");
		r = DIFF_EXIT_ERROR;
	} else if ((r = load_sides(c, sd, &a_st)) == 0) {
		r = write_diff(sd, a);
	}
	store_close(a_st);
	diff_snapshot_free(sd[0].snap);
	diff_snapshot_free(sd[1].snap);
	return r;
}

int cmd_diff(struct cli *c, int argc, char **argv)
{
	struct diff_args a = {DIFF_FMT_TEXT, 0, 0};
	const struct cli_args spec = {.cmd = "diff",
	                              .usage = diff_usage,
	                              .shortopts = ":hv",
	                              .opts = opts,
	                              .on_opt = diff_opt,
	                              .ctx = &a,
	                              .max = -1};
	struct side sd[2];
	int first, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if (argc - first != 2)
		return cli_usage_err("diff", "need exactly two scans (files or job ids), got %d",
		                     argc - first);
	memset(sd, 0, sizeof(sd));
	sd[0].arg = argv[first];
	sd[1].arg = argv[first + 1];
	return run_diff(c, sd, &a);
}
