/*
 * cmd_import.c - `scandb import [--force] [--partial] FILE... | -`: parses
 * the options, imports each file with app_import_file() (app/import.h: one
 * job, one transaction per file; the --partial second reading, the dedup
 * decision and the retries live there), in app_import_order()'s order
 * (oldest scan first), and prints.  A bad file is reported with
 * file:line:col and leaves nothing behind; the other files are still
 * imported and the summary says so.  The parser's warnings go to stderr as
 * they come, and the progress line is drawn by an observer of the import.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app/import.h"
#include "cli/cli.h"
#include "core/timeutil.h"
#include "ingest/ingest_detect.h"

/* The import's observer: the progress line, warnings and retries on stderr. */
struct import_view {
	struct cli *c;
	struct cli_progress prog;
};

static void view_begin(void *ctx)
{
	struct import_view *v = ctx;

	cli_progress_start(&v->prog, v->c);
}

static void view_progress(void *ctx, const struct app_import_progress *p)
{
	struct import_view *v = ctx;

	if (p->committing)
		cli_progress_update(&v->prog, "importing %s: committing", p->name);
	else if (p->size > 0)
		cli_progress_update(&v->prog, "importing %s: %.0f%%, %ld hosts", p->name,
		                    100.0 * (double)p->bytes / (double)p->size, p->hosts);
	else
		cli_progress_update(&v->prog, "importing %s: %.1f MB, %ld hosts", p->name,
		                    (double)p->bytes / 1e6, p->hosts);
}

static void view_end(void *ctx)
{
	struct import_view *v = ctx;

	cli_progress_done(&v->prog);
}

static void view_warning(void *ctx, const char *msg)
{
	(void)ctx;
	cli_err("warning: %s", msg);
}

static void view_retrying(void *ctx, const char *error, int attempt, int attempts)
{
	struct import_view *v = ctx;

	if (!v->c->quiet)
		cli_err("%s; retrying the whole file (attempt %d of %d)", error, attempt, attempts);
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: scandb import [--force] [--partial] [--ports SPEC] [--format table|json]\n"
	        "                     FILE... | -\n\n"
	        "Import scan results: nmap XML (nmap -oX), masscan -oX, -oJ, -oL and -oD,\n"
	        "zmap CSV (with a header line) and JSON; the format is told from the\n"
	        "content, never the file name.  Each file becomes one job, stored in\n"
	        "one transaction: a file that fails to parse leaves nothing behind, and\n"
	        "the other files are still imported.  '-' reads standard input.  Options\n"
	        "may come before or after the files; '--' ends the options.\n\n"
	        "Files are imported in scan-time order (nmap's start time, masscan's and\n"
	        "zmap's first timestamp; oldest first, files without one first), whatever\n"
	        "order they are given in, and the results are listed in that order; a file\n"
	        "whose time cannot be read keeps its place, and standard input comes last.\n\n"
	        "  --force        import even if the same content was imported before\n"
	        "  --partial      keep the complete hosts of a file that was cut off (nmap\n"
	        "                 killed) as a partial job: it closes no port and downs\n"
	        "                 no host it does not list (standard input: always read\n"
	        "                 as partial)\n"
	        "  --ports SPEC   masscan and zmap files: the ports the scan probed\n"
	        "                 (22,80-90,U:53 as masscan's -p).  Without it, only the\n"
	        "                 ports the file reports count as probed: a port it does\n"
	        "                 not list is never taken as closed (scandb(1))\n"
	        "  --format FMT   table (default) or json: one result per file on stdout\n\n"
	        "Values nmap or Zenmap wrote that scandb cannot store as they are (an\n"
	        "unknown service method, an end time before the start, ...) are read as\n"
	        "documented ones, with a warning naming FILE:LINE:COL on stderr.  A run\n"
	        "that nmap ended in error is stored as a failed job with nmap's message.\n\n"
	        "Exit status: 0 if every file was imported (or already was), 1 if any\n"
	        "file failed, 2 on usage errors.\n");
}

/* What each file's import came to, as one line of the table. */
static void print_result(const char *file, const struct app_import_result *res)
{
	const struct job_writer_stats *st = &res->stats;

	switch (res->status) {
	case APP_IMPORT_IMPORTED:
		if (st->nmap_failed) {
			printf("%s: imported as failed job %lld (%s)\n", file,
			       (long long)res->job_id, res->nmap_error);
		} else if (st->partial) {
			printf("%s: imported as partial job %lld: kept %ld complete host%s (%ld "
			       "up), %ld ports (%ld open)%s\n",
			       file, (long long)res->job_id, st->hosts, st->hosts == 1 ? "" : "s",
			       st->hosts_up, st->ports, st->ports_open,
			       st->truncated ? "; the file was cut off"
			                     : "; the file was complete, but read as partial");
		} else {
			printf(
			    "%s: imported as job %lld: %ld hosts (%ld up), %ld ports (%ld open)\n",
			    file, (long long)res->job_id, st->hosts, st->hosts_up, st->ports,
			    st->ports_open);
		}
		break;
	case APP_IMPORT_DUPLICATE:
		printf("%s: already imported as job %lld (use --force to import it again)\n", file,
		       (long long)res->job_id);
		break;
	default:
		break;
	}
}

/* One file's result as an element of the --format json array. */
static json_t *json_result(const char *file, const struct app_import_result *res)
{
	static const char *const st[] = {"imported", "duplicate", "failed"};
	int failed = res->status != APP_IMPORT_IMPORTED && res->status != APP_IMPORT_DUPLICATE;

	return json_pack(
	    "{s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:b, s:s?, s:o}", "file", file, "status",
	    st[res->status], "job_id", failed ? json_null() : json_integer(res->job_id), "hosts",
	    (json_int_t)res->stats.hosts, "hosts_up", (json_int_t)res->stats.hosts_up, "ports",
	    (json_int_t)res->stats.ports, "ports_open", (json_int_t)res->stats.ports_open,
	    "partial", res->stats.partial, "job_status",
	    failed                               ? NULL
	    : res->stats.nmap_failed             ? "failed"
	    : res->status == APP_IMPORT_IMPORTED ? "completed"
	                                         : NULL,
	    "error",
	    failed                   ? json_string(res->error)
	    : res->stats.nmap_failed ? json_string(res->nmap_error)
	                             : json_null());
}

struct import_args {
	enum cli_format fmt;
	int force, partial;
	const char *ports;  /* --ports SPEC, or NULL */
	const char **files; /* argv's, in the order given; freed by the caller */
	int nfiles;
};

/*
 * Options anywhere, files in order; "--" ends the options, "-" is a file
 * (standard input).  By hand, not getopt: GNU getopt's permuting depends on
 * POSIXLY_CORRECT, and this must not.  CLI_OK, or the exit status to end
 * with (--help: CLI_OK with a->nfiles = -1).
 */
static int parse_args(int argc, char **argv, struct import_args *a)
{
	int no_more_opts = 0, nstdin = 0, rc;

	for (int i = 1; i < argc; i++) {
		const char *s = argv[i];

		if (no_more_opts || s[0] != '-' || strcmp(s, "-") == 0) {
			a->files[a->nfiles++] = s;
		} else if (strcmp(s, "--") == 0) {
			no_more_opts = 1;
		} else if (strcmp(s, "--force") == 0) {
			a->force = 1;
		} else if (strcmp(s, "--partial") == 0) {
			a->partial = 1;
		} else if (strcmp(s, "--format") == 0 || strncmp(s, "--format=", 9) == 0) {
			const char *v = s[8] == '=' ? s + 9 : i + 1 < argc ? argv[++i] : NULL;

			if (!v)
				return cli_usage_err("import", "--format needs a value");
			if ((rc = cli_parse_format("import", v, &a->fmt)) != 0)
				return rc;
		} else if (strcmp(s, "--ports") == 0 || strncmp(s, "--ports=", 8) == 0) {
			char why[160];

			a->ports = s[7] == '=' ? s + 8 : i + 1 < argc ? argv[++i] : NULL;
			if (!a->ports)
				return cli_usage_err("import", "--ports needs a value");
			if (ingest_ports_check(a->ports, why, sizeof(why)) != 0)
				return cli_usage_err("import", "%s", why);
		} else if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
			usage(stdout);
			a->nfiles = -1;
			return CLI_OK;
		} else {
			static const struct option known[] = {
			    {"force", no_argument, NULL, 0},
			    {"format", required_argument, NULL, 0},
			    {"help", no_argument, NULL, 0},
			    {"partial", no_argument, NULL, 0},
			    {"ports", required_argument, NULL, 0},
			    {NULL, 0, NULL, 0},
			};
			const char *best = cli_closest_in(s, known);

			return best ? cli_usage_err("import",
			                            "unknown option '%s'; did you mean '--%s'?", s,
			                            best)
			            : cli_usage_err("import", "unknown option '%s'", s);
		}
	}
	rc = CLI_OK;
	if (a->nfiles == 0)
		rc = cli_usage_err("import", "no files given");
	else if (a->fmt == CLI_FMT_CSV || a->fmt == CLI_FMT_NDJSON)
		rc = cli_usage_err("import", "--format must be table or json");
	for (int i = 0; i < a->nfiles; i++)
		nstdin += strcmp(a->files[i], "-") == 0;
	if (rc == CLI_OK && nstdin > 1)
		rc = cli_usage_err("import", "'-' (standard input) given more than once");
	return rc;
}

/* The files' results so far, for the summary line. */
struct import_tally {
	int ok, dup, fail;
	long hosts, ports;
};

/* Say what one file's import came to: stderr for failures and notes, then
 * its table line, or its element of the json array (arr). */
static void report(struct cli *c, const char *file, const struct app_import_result *res,
                   enum cli_format fmt, json_t *arr, struct import_tally *t)
{
	json_t *o;

	switch (res->status) {
	case APP_IMPORT_IMPORTED:
		t->ok++;
		if (res->stats.duplicates && !c->quiet)
			cli_err("%s: %ld host%s listed more than once; the first listing of "
			        "each was kept",
			        file, res->stats.duplicates, res->stats.duplicates == 1 ? "" : "s");
		t->hosts += res->stats.hosts;
		t->ports += res->stats.ports;
		break;
	case APP_IMPORT_DUPLICATE:
		t->dup++;
		break;
	default:
		t->fail++;
		cli_err("%s", res->error);
		break;
	}
	if (fmt == CLI_FMT_TABLE)
		print_result(file, res);
	if (arr && (o = json_result(file, res)))
		json_array_append_new(arr, o);
}

int cmd_import(struct cli *c, int argc, char **argv)
{
	struct import_args a = {.fmt = CLI_FMT_TABLE};
	struct import_view view = {.c = c};
	const struct app_import_observer obs = {
	    .ctx = &view,
	    .begin = view_begin,
	    .progress = view_progress,
	    .end = view_end,
	    .warning = view_warning,
	    .retrying = view_retrying,
	};
	struct app_import_opts opts = {
	    .truncated_hint = "`scandb import --partial` keeps what is complete", .obs = &obs};
	struct import_tally t = {0};
	struct app_import_time *times = NULL;
	double t0;
	json_t *arr = NULL;
	int rc;

	if (argc < 1 || !(a.files = calloc((size_t)argc, sizeof(*a.files)))) {
		cli_err("out of memory");
		return CLI_FAIL;
	}
	if ((rc = parse_args(argc, argv, &a)) != CLI_OK || a.nfiles < 0 ||
	    (rc = cli_open(c, 1)) != CLI_OK)
		goto out;
	rc = CLI_FAIL;
	if ((a.fmt == CLI_FMT_JSON && !(arr = json_array())) ||
	    !(times = calloc((size_t)a.nfiles + 1, sizeof(*times))) ||
	    app_import_order(a.files, times, a.nfiles) != 0) {
		cli_err("out of memory");
		goto out;
	}
	opts.force = a.force;
	opts.partial = a.partial;
	opts.ports = a.ports;
	t0 = time_mono();
	for (int i = 0; i < a.nfiles; i++) {
		struct app_import_result res;

		opts.time = &times[i]; /* read by app_import_order: not again */
		app_import_file(c->st, a.files[i], &opts, &res);
		report(c, a.files[i], &res, a.fmt, arr, &t);
	}
	if (arr) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	if (!c->quiet && a.nfiles > 1)
		fprintf(stderr,
		        "scandb: %d file%s: %d imported, %d already imported, %d failed "
		        "(%ld hosts, %ld ports in %.2f s)\n",
		        a.nfiles, a.nfiles == 1 ? "" : "s", t.ok, t.dup, t.fail, t.hosts, t.ports,
		        time_mono() - t0);
	rc = t.fail ? CLI_FAIL : CLI_OK;
out:
	json_decref(arr);
	free(a.files);
	free(times);
	return rc;
}
