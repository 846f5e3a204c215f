/*
 * cmd_import.c - `scandb import [--force] [--partial] FILE... | -`: each file
 * is one job, parsed as a stream straight into the job writer (one
 * transaction per file).  A bad file is reported with file:line:col and
 * leaves nothing behind; the other files are still imported and the summary
 * says so.  The parser's warnings (values it read as documented ones) go to
 * stderr as they come.
 *
 * --partial: a file cut off after complete hosts (nmap killed) is read
 * once as usual; when it turns out cut off, that attempt is dropped and
 * the file read again into a partial job (job_writer_opts.partial: its
 * scope is empty, so it closes no port and downs no host).  Standard input
 * cannot be read again: with --partial it is read as partial at once.
 *
 * Order: the files are imported oldest scan first (order_files: nmap's start
 * time, read from the first few KB of each), so that one command importing
 * an archive appends every scan after the ones it stored before it and the
 * history never has to be derived again (store/job_writer.c, late scans).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/timeutil.h"
#include "ingest/ingest_pipe.h"
#include "ingest/nmap_xml.h"
#include "store/job_writer.h"

enum import_status { IMP_IMPORTED, IMP_DUPLICATE, IMP_FAILED, IMP_CUT_OFF };

struct import_result {
	enum import_status status;
	int code; /* the error code of a failure (SDB_ETRANSIENT: retry) */
	int64_t job_id;
	struct job_writer_stats stats;
	char error[1200];
	char nmap_error[1200]; /* stats.nmap_failed: the job's error */
};

/* Per-file context: forwards records to the job writer and remembers
 * whether a failure came from the store (vs. the parser). */
struct import_ctx {
	const struct ingest_sink *inner;
	int store_failed;
	struct hash_ctx *hash;
	struct cli_progress *progress;
	const char *name;
	uint64_t size;
	long hosts;
	int partial; /* this attempt stores a partial job */
	int cut_off; /* the file ended early and this attempt is not partial */
	int warned;  /* the warnings were printed by an earlier attempt */
};

static int fwd_run_begin(void *ctx, const struct rec_run *run)
{
	struct import_ctx *ic = ctx;
	int r = ic->inner->run_begin(ic->inner->ctx, run);

	ic->store_failed |= r != 0;
	return r;
}

static int fwd_scaninfo(void *ctx, const struct rec_scaninfo *si)
{
	struct import_ctx *ic = ctx;
	int r = ic->inner->scaninfo(ic->inner->ctx, si);

	ic->store_failed |= r != 0;
	return r;
}

static int fwd_host(void *ctx, const struct rec_host *h)
{
	struct import_ctx *ic = ctx;
	int r = ic->inner->host(ic->inner->ctx, h);

	ic->store_failed |= r != 0;
	ic->hosts++;
	return r;
}

static int fwd_run_end(void *ctx, const struct rec_runstats *rs)
{
	struct import_ctx *ic = ctx;
	int r;

	if (rs->truncated && !ic->partial) {
		/* its hosts were stored with the scan's scope: read it again */
		ic->cut_off = 1;
		return SDB_EINTR;
	}
	r = ic->inner->run_end(ic->inner->ctx, rs);
	ic->store_failed |= r != 0;
	return r;
}

static int fwd_warning(void *ctx, const char *msg)
{
	struct import_ctx *ic = ctx;

	if (!ic->warned) /* not again on a second reading */
		cli_err("warning: %s", msg);
	return 0;
}

static int on_chunk(void *ctx, const void *data, size_t len, uint64_t total)
{
	struct import_ctx *ic = ctx;
	int r;

	if ((r = hash_update(ic->hash, data, len)) != 0)
		return r;
	if (ic->size > 0)
		cli_progress_update(ic->progress, "importing %s: %.0f%%, %ld hosts", ic->name,
		                    100.0 * (double)total / (double)ic->size, ic->hosts);
	else
		cli_progress_update(ic->progress, "importing %s: %.1f MB, %ld hosts", ic->name,
		                    (double)total / 1e6, ic->hosts);
	return 0;
}

/* How much of a file is read to find its scan time (nmap writes <nmaprun>
 * within the first few hundred bytes, after the XML declaration, DOCTYPE,
 * stylesheet and a comment). */
#define ORDER_PEEK_MAX ((size_t)64 << 10)

struct peek {
	int seen;
	int64_t start;
};

static int peek_run_begin(void *ctx, const struct rec_run *run)
{
	struct peek *pk = ctx;

	pk->seen = 1;
	pk->start = run->start;
	return SDB_EINTR; /* that is all we wanted */
}

/*
 * The scan time in the regular file open on `fd` for ordering, read by the
 * nmap parser from its first ORDER_PEEK_MAX bytes (with pread: the file
 * offset does not move): 1 and *start (0: undated) when its <nmaprun> was
 * read, 0 when it cannot be told (not a regular file - a pipe cannot be
 * read twice -, not nmap XML there): the import itself says what is wrong
 * with such a file.
 */
static int peek_start_fd(int fd, const char *path, int64_t *start)
{
	struct ingest_sink sink = {.run_begin = peek_run_begin};
	struct nmap_parser *p = NULL;
	struct peek pk = {0, 0};
	struct stat sb;
	char buf[4096];
	size_t total = 0;
	int r = 0;

	*start = 0;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
		return 0;
	sink.ctx = &pk;
	if (nmap_parser_new(&sink, path, &p) == 0) {
		while (!pk.seen && r == 0 && total < ORDER_PEEK_MAX) {
			ssize_t n = pread(fd, buf, sizeof(buf), (off_t)total);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			total += (size_t)n;
			r = nmap_parser_feed(p, buf, (size_t)n, 0);
		}
		nmap_parser_free(p);
	}
	*start = pk.start;
	return pk.seen;
}

/* The same for the file at `path` (opened without blocking: a FIFO is not
 * read). */
static int peek_start(const char *path, int64_t *start)
{
	int fd, seen;

	*start = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return 0;
	seen = peek_start_fd(fd, path, start);
	close(fd);
	return seen;
}

/* One attempt at one file.  partial: 0 = a whole scan, 1 = store a partial
 * job (2: the same, its warnings already printed), -1 = a whole scan, but a
 * cut-off file ends as IMP_CUT_OFF (nothing stored) so that the caller can
 * read it again as partial. */
static void import_one(struct cli *c, const char *path, int force, int partial,
                       struct import_result *res)
{
	struct job_writer *w = NULL;
	struct job_writer_opts o;
	struct import_ctx ic;
	struct ingest_sink sink;
	struct cli_progress prog;
	struct stat sb;
	char source[PATH_MAX], perr[1024], hex[HASH_HEX_LEN + 1];
	const char *name;
	int64_t existing = 0;
	int fd = -1, r;

	memset(res, 0, sizeof(*res));
	memset(&ic, 0, sizeof(ic));
	res->status = IMP_FAILED;
	perr[0] = '\0';
	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
		name = "<stdin>";
		snprintf(source, sizeof(source), "<stdin>");
	} else {
		name = path;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(res->error, sizeof(res->error), "%s: cannot open: %s", path,
			         strerror(errno));
			return;
		}
		if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			snprintf(res->error, sizeof(res->error), "%s: is a directory", path);
			goto out;
		}
		if (!realpath(path, source))
			snprintf(source, sizeof(source), "%s", path);
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		ic.size = (uint64_t)sb.st_size;
	memset(&o, 0, sizeof(o));
	o.kind = STORE_JOB_IMPORT;
	o.source = source;
	o.forced = force;
	o.partial = partial > 0;
	/* its scan time, so that concurrent importers store in scan-time order */
	if (fd != STDIN_FILENO)
		peek_start_fd(fd, path, &o.scan_time);
	ic.partial = partial > 0;
	ic.warned = partial == 2;
	if ((r = job_writer_begin(c->st, &o, &w)) != 0) {
		res->code = r;
		snprintf(res->error, sizeof(res->error), "%s: %s", name, store_errmsg(c->st));
		goto out;
	}
	if (!(ic.hash = hash_new())) {
		snprintf(res->error, sizeof(res->error), "%s: out of memory", name);
		goto out;
	}
	cli_progress_start(&prog, c);
	ic.inner = job_writer_sink(w);
	ic.progress = &prog;
	ic.name = name;
	sink = (struct ingest_sink){
	    .ctx = &ic,
	    .run_begin = fwd_run_begin,
	    .scaninfo = fwd_scaninfo,
	    .host = fwd_host,
	    .run_end = fwd_run_end,
	    .warning = fwd_warning,
	    .accept_truncated = partial != 0,
	    .truncated_hint = "`scandb import --partial` keeps what is complete",
	};
	r = ingest_pipe_parse_fd(fd, name, &sink, on_chunk, &ic, perr, sizeof(perr));
	if (r == 0) {
		cli_progress_update(&prog, "importing %s: committing", name);
		r = hash_final(ic.hash, hex);
		ic.hash = NULL;
		if (r == 0)
			r = job_writer_commit(w, hex, &existing);
		ic.store_failed = r != 0;
	}
	cli_progress_done(&prog);
	res->code = r;
	if (ic.cut_off) {
		res->status = IMP_CUT_OFF;
	} else if (r == SDB_EEXISTS) {
		res->status = IMP_DUPLICATE;
		res->job_id = existing;
	} else if (r != 0) {
		snprintf(res->error, sizeof(res->error), "%s",
		         ic.store_failed || !perr[0] ? store_errmsg(c->st) : perr);
		if (ic.store_failed) {
			char tmp[sizeof(res->error)];
			snprintf(tmp, sizeof(tmp), "%s", res->error);
			/* name the job: its rows are gone, but the id says which
			 * attempt failed */
			snprintf(res->error, sizeof(res->error), "%s: job %lld: %s", name,
			         (long long)job_writer_job_id(w), tmp);
		}
	} else {
		res->status = IMP_IMPORTED;
		res->job_id = job_writer_job_id(w);
		job_writer_stats(w, &res->stats);
		if (res->stats.nmap_failed)
			snprintf(res->nmap_error, sizeof(res->nmap_error),
			         "nmap ended in error: %s",
			         job_writer_nmap_error(w)[0] ? job_writer_nmap_error(w)
			                                     : "(no message)");
	}
out:
	hash_free(ic.hash);
	job_writer_free(w);
	if (fd > STDIN_FILENO)
		close(fd);
}

/* How often a job lost to a transient database failure (PostgreSQL: a lost
 * connection, a serialization failure or deadlock) is tried in all. */
#define IMPORT_ATTEMPTS 5

/*
 * One file, retried whole while it fails with SDB_ETRANSIENT: the
 * transaction is gone (nothing of it was stored; a COMMIT whose outcome was
 * unknown has been checked by the store), the file is read again from the
 * start.  Standard input cannot be read again: it fails at once.
 */
static void import_retrying(struct cli *c, const char *path, int force, int partial,
                            struct import_result *res)
{
	/* --partial: standard input is read once, as partial; a file is read
	 * whole first and again as partial only if it was cut off */
	int mode = !partial ? 0 : strcmp(path, "-") == 0 ? 1 : -1;

	for (int attempt = 1;; attempt++) {
		char tmp[sizeof(res->error)];
		struct timespec ts;
		long ms;

		import_one(c, path, force, mode, res);
		if (res->status == IMP_CUT_OFF) {
			mode = 2;
			import_one(c, path, force, mode, res);
		}
		if (res->status != IMP_FAILED || res->code != SDB_ETRANSIENT)
			return;
		snprintf(tmp, sizeof(tmp), "%s", res->error);
		if (strcmp(path, "-") == 0) {
			snprintf(res->error, sizeof(res->error),
			         "%s (standard input cannot be read again: not retried; nothing of "
			         "it was stored)",
			         tmp);
			return;
		}
		if (attempt >= IMPORT_ATTEMPTS) {
			snprintf(res->error, sizeof(res->error),
			         "%s (gave up after %d attempts; nothing of it was stored)", tmp,
			         attempt);
			return;
		}
		if (!c->quiet)
			cli_err("%s; retrying the whole file (attempt %d of %d)", tmp, attempt + 1,
			        IMPORT_ATTEMPTS);
		/* 0.5, 1, 2, 4 s, plus up to 50% jitter */
		ms = 500L << (attempt - 1);
		ms += rand() % (ms / 2 + 1);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: scandb import [--force] [--partial] [--format table|json] FILE... | -\n\n"
	        "Import nmap XML files (nmap -oX).  Each file becomes one job, stored in\n"
	        "one transaction: a file that fails to parse leaves nothing behind, and\n"
	        "the other files are still imported.  '-' reads standard input.  Options\n"
	        "may come before or after the files; '--' ends the options.\n\n"
	        "Files are imported in scan-time order (nmap's start time, oldest first;\n"
	        "files without one first), whatever order they are given in, and the\n"
	        "results are listed in that order; a file whose time cannot be read keeps\n"
	        "its place, and standard input comes last.\n\n"
	        "  --force        import even if the same content was imported before\n"
	        "  --partial      keep the complete hosts of a file that was cut off (nmap\n"
	        "                 killed) as a partial job: it closes no port and downs\n"
	        "                 no host it does not list (standard input: always read\n"
	        "                 as partial)\n"
	        "  --format FMT   table (default) or json: one result per file on stdout\n\n"
	        "Values nmap or Zenmap wrote that scandb cannot store as they are (an\n"
	        "unknown service method, an end time before the start, ...) are read as\n"
	        "documented ones, with a warning naming FILE:LINE:COL on stderr.  A run\n"
	        "that nmap ended in error is stored as a failed job with nmap's message.\n\n"
	        "Exit status: 0 if every file was imported (or already was), 1 if any\n"
	        "file failed, 2 on usage errors.\n");
}

/* ---- import order ------------------------------------------------------- */

struct order_ent {
	const char *file;
	int64_t start;
	int idx;
};

static int cmp_order(const void *a, const void *b)
{
	const struct order_ent *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Put files[0..n) in the order to import them: by scan time (nmap's start
 * time, oldest first; undated files, which rank below every dated scan,
 * first), equal times in the order given, so that an archive imported in
 * one command never stores a scan older than one it already stored.  A
 * file whose time cannot be read keeps its place (and fails as it would
 * have); standard input comes last (it cannot be read twice).
 */
static int order_files(const char **files, int n)
{
	struct order_ent *v;
	unsigned char *readable;
	int nv = 0, k = 0, stdin_at = -1;

	if (n < 2)
		return 0;
	v = calloc((size_t)n, sizeof(*v));
	readable = calloc((size_t)n, 1);
	if (!v || !readable) {
		free(v);
		free(readable);
		return SDB_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		int64_t start;

		if (strcmp(files[i], "-") == 0) {
			stdin_at = i;
		} else if (peek_start(files[i], &start)) {
			v[nv++] = (struct order_ent){files[i], start, i};
			readable[i] = 1;
		}
	}
	qsort(v, (size_t)nv, sizeof(*v), cmp_order);
	/* the files whose time was read take, in time order, the places
	 * those files had; the others stay where they were */
	for (int i = 0; i < n; i++)
		if (readable[i])
			files[i] = v[k++].file;
	if (stdin_at >= 0) {
		memmove(&files[stdin_at], &files[stdin_at + 1],
		        (size_t)(n - stdin_at - 1) * sizeof(*files));
		files[n - 1] = "-";
	}
	free(v);
	free(readable);
	return 0;
}

/* What each file's import came to, as one line of the table. */
static void print_result(const char *file, const struct import_result *res)
{
	const struct job_writer_stats *st = &res->stats;

	switch (res->status) {
	case IMP_IMPORTED:
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
	case IMP_DUPLICATE:
		printf("%s: already imported as job %lld (use --force to import it again)\n", file,
		       (long long)res->job_id);
		break;
	default:
		break;
	}
}

int cmd_import(struct cli *c, int argc, char **argv)
{
	enum cli_format fmt = CLI_FMT_TABLE;
	int force = 0, partial = 0, nstdin = 0, n_ok = 0, n_dup = 0, n_fail = 0, nfiles = 0,
	    no_more_opts = 0, rc;
	long hosts = 0, ports = 0;
	const char **files;
	double t0;
	json_t *arr = NULL;

	/* Options anywhere, files in order; "--" ends the options, "-" is a
	 * file (standard input).  By hand, not getopt: GNU getopt's permuting
	 * depends on POSIXLY_CORRECT, and this must not. */
	if (argc < 1 || !(files = calloc((size_t)argc, sizeof(*files)))) {
		cli_err("out of memory");
		return CLI_FAIL;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (no_more_opts || a[0] != '-' || strcmp(a, "-") == 0) {
			files[nfiles++] = a;
		} else if (strcmp(a, "--") == 0) {
			no_more_opts = 1;
		} else if (strcmp(a, "--force") == 0) {
			force = 1;
		} else if (strcmp(a, "--partial") == 0) {
			partial = 1;
		} else if (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0) {
			const char *v = a[8] == '=' ? a + 9 : i + 1 < argc ? argv[++i] : NULL;

			if (!v) {
				rc = cli_usage_err("import", "--format needs a value");
				goto out;
			}
			if ((rc = cli_parse_format("import", v, &fmt)) != 0)
				goto out;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			rc = CLI_OK;
			goto out;
		} else {
			static const struct option known[] = {
			    {"force", no_argument, NULL, 0},
			    {"format", required_argument, NULL, 0},
			    {"help", no_argument, NULL, 0},
			    {"partial", no_argument, NULL, 0},
			    {NULL, 0, NULL, 0},
			};
			const char *best = cli_closest_in(a, known);

			rc = best ? cli_usage_err("import",
			                          "unknown option '%s'; did you mean '--%s'?", a,
			                          best)
			          : cli_usage_err("import", "unknown option '%s'", a);
			goto out;
		}
	}
	rc = CLI_OK;
	if (nfiles == 0)
		rc = cli_usage_err("import", "no files given");
	else if (fmt == CLI_FMT_CSV || fmt == CLI_FMT_NDJSON)
		rc = cli_usage_err("import", "--format must be table or json");
	for (int i = 0; i < nfiles; i++)
		nstdin += strcmp(files[i], "-") == 0;
	if (rc == CLI_OK && nstdin > 1)
		rc = cli_usage_err("import", "'-' (standard input) given more than once");
	if (rc != CLI_OK || (rc = cli_open(c, 1)) != CLI_OK)
		goto out;
	if (fmt == CLI_FMT_JSON && !(arr = json_array())) {
		cli_err("out of memory");
		rc = CLI_FAIL;
		goto out;
	}
	if (order_files(files, nfiles) != 0) {
		cli_err("out of memory");
		rc = CLI_FAIL;
		goto out;
	}
	t0 = time_mono();
	for (int i = 0; i < nfiles; i++) {
		struct import_result res;

		import_retrying(c, files[i], force, partial, &res);
		switch (res.status) {
		case IMP_IMPORTED:
			n_ok++;
			if (res.stats.duplicates && !c->quiet)
				cli_err(
				    "%s: %ld host%s listed more than once; the first listing of "
				    "each was kept",
				    files[i], res.stats.duplicates,
				    res.stats.duplicates == 1 ? "" : "s");
			hosts += res.stats.hosts;
			ports += res.stats.ports;
			break;
		case IMP_DUPLICATE:
			n_dup++;
			break;
		default:
			n_fail++;
			cli_err("%s", res.error);
			break;
		}
		if (fmt == CLI_FMT_TABLE)
			print_result(files[i], &res);
		if (arr) {
			static const char *const st[] = {"imported", "duplicate", "failed",
			                                 "failed"};
			int failed = res.status != IMP_IMPORTED && res.status != IMP_DUPLICATE;
			json_t *o = json_pack("{s:s, s:s, s:o, s:I, s:I, s:I, s:I, s:b, s:s?, s:o}",
			                      "file", files[i], "status", st[res.status], "job_id",
			                      failed ? json_null() : json_integer(res.job_id),
			                      "hosts", (json_int_t)res.stats.hosts, "hosts_up",
			                      (json_int_t)res.stats.hosts_up, "ports",
			                      (json_int_t)res.stats.ports, "ports_open",
			                      (json_int_t)res.stats.ports_open, "partial",
			                      res.stats.partial, "job_status",
			                      failed                       ? NULL
			                      : res.stats.nmap_failed      ? "failed"
			                      : res.status == IMP_IMPORTED ? "completed"
			                                                   : NULL,
			                      "error",
			                      failed                  ? json_string(res.error)
			                      : res.stats.nmap_failed ? json_string(res.nmap_error)
			                                              : json_null());
			if (o)
				json_array_append_new(arr, o);
		}
	}
	if (arr) {
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(arr);
	}
	if (!c->quiet && nfiles > 1)
		fprintf(stderr,
		        "scandb: %d file%s: %d imported, %d already imported, %d failed "
		        "(%ld hosts, %ld ports in %.2f s)\n",
		        nfiles, nfiles == 1 ? "" : "s", n_ok, n_dup, n_fail, hosts, ports,
		        time_mono() - t0);
	rc = n_fail ? CLI_FAIL : CLI_OK;
out:
	free(files);
	return rc;
}
