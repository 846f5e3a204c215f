/*
 * import.c - the use case "import one file" (app/import.h): one file, one
 * job, one transaction.  Holds: the import's sink in front of the job
 * writer's, the content hash and its dedup decision (job_writer_commit
 * answers SDB_EEXISTS), the --partial second reading, the retries of a lost
 * transaction, and the import order of many files (oldest scan first).
 * Prints nothing: progress, warnings and retries go to the observer.
 *
 * The import's sink (fwd_*, "the import adapter") hands each record on to
 * the job writer's sink, and is not only a relay: it keeps the import's
 * policy, which neither the parser nor the writer can know -
 *   - whose failure it is: a callback of the writer that fails is the
 *     store's (the error is store_errmsg(), naming the job), anything else
 *     the parser's (its "FILE:LINE:COL: ..." message);
 *   - a cut-off document: unless the import is partial, the run's end of a
 *     cut-off file is not handed on (its hosts were stored with the scan's
 *     scope): the reading stops, and --partial reads the file again;
 *   - what the observer is told: the hosts read (progress), each warning
 *     once across both readings.
 * The content hash is taken from the bytes as they are read (on_chunk),
 * not from the records.
 *
 * --partial: a file cut off after complete hosts (nmap killed) is read
 * once as usual; when it turns out cut off, that attempt is dropped and
 * the file read again into a partial job (job_writer_opts.partial: its
 * scope is empty, so it closes no port and downs no host).  Standard input
 * cannot be read again: with --partial it is read as partial at once.
 *
 * Order: the files are imported oldest scan first (app_import_order:
 * nmap's start time, read from the first few KB of each and kept for the
 * file's import, which takes the write lock in scan-time order with it: a
 * file is read for its time once; a single file, by its first attempt,
 * never standard input), so that one
 * command importing an archive appends every scan after the ones it stored
 * before it and the history never has to be derived again
 * (app/job_late.c, late scans).
 */
#include "app/import.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/job_retry.h"
#include "core/error.h"
#include "core/hash.h"
#include "ingest/ingest_detect.h"
#include "ingest/nmap_xml.h"

/* One reading of one file: the import's sink in front of the job writer's
 * (inner), see above. */
struct import_ctx {
	const struct ingest_sink *inner;
	int store_failed;
	struct hash_ctx *hash;
	const struct app_import_observer *obs;
	const char *name;
	uint64_t size;
	uint64_t bytes; /* read so far */
	long hosts;
	int partial; /* this attempt stores a partial job */
	int cut_off; /* the file ended early and this attempt is not partial */
	int warned;  /* the warnings were told by an earlier attempt */
};

/* What the job writer's callback answered: a failure there is the store's. */
static int writer_said(struct import_ctx *ic, int r)
{
	ic->store_failed |= r != 0;
	return r;
}

static int fwd_run_begin(void *ctx, const struct rec_run *run)
{
	struct import_ctx *ic = ctx;

	return writer_said(ic, ic->inner->run_begin(ic->inner->ctx, run));
}

static int fwd_scaninfo(void *ctx, const struct rec_scaninfo *si)
{
	struct import_ctx *ic = ctx;

	return writer_said(ic, ic->inner->scaninfo(ic->inner->ctx, si));
}

static int fwd_host(void *ctx, const struct rec_host *h)
{
	struct import_ctx *ic = ctx;

	ic->hosts++;
	return writer_said(ic, ic->inner->host(ic->inner->ctx, h));
}

static int fwd_run_end(void *ctx, const struct rec_runstats *rs)
{
	struct import_ctx *ic = ctx;

	if (rs->truncated && !ic->partial) {
		/* its hosts were stored with the scan's scope: read it again */
		ic->cut_off = 1;
		return SDB_EINTR;
	}
	return writer_said(ic, ic->inner->run_end(ic->inner->ctx, rs));
}

static int fwd_warning(void *ctx, const char *msg)
{
	struct import_ctx *ic = ctx;

	if (!ic->warned && ic->obs->warning) /* not again on a second reading */
		ic->obs->warning(ic->obs->ctx, msg);
	return 0;
}

static int on_chunk(void *ctx, const void *data, size_t len, uint64_t total)
{
	struct import_ctx *ic = ctx;
	int r;

	if ((r = hash_update(ic->hash, data, len)) != 0)
		return r;
	ic->bytes = total;
	if (ic->obs->progress) {
		struct app_import_progress p = {
		    .name = ic->name, .bytes = total, .size = ic->size, .hosts = ic->hosts};
		ic->obs->progress(ic->obs->ctx, &p);
	}
	return 0;
}

/* Open `path` ("-": standard input) for one reading: the descriptor (close
 * it unless it is STDIN_FILENO), its name for messages, its source for the
 * job (the real path) and *size (0: not a regular file); -1 with
 * res->error set when it cannot be read. */
static int open_input(const char *path, const char **name, char *source, size_t srclen,
                      uint64_t *size, struct app_import_result *res)
{
	struct stat sb;
	int fd;

	if (strcmp(path, "-") == 0) {
		fd = STDIN_FILENO;
		*name = "<stdin>";
		snprintf(source, srclen, "<stdin>");
	} else {
		*name = path;
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			snprintf(res->error, sizeof(res->error), "%s: cannot open: %s", path,
			         strerror(errno));
			return -1;
		}
		if (fstat(fd, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			snprintf(res->error, sizeof(res->error), "%s: is a directory", path);
			close(fd);
			return -1;
		}
		if (!realpath(path, source))
			snprintf(source, srclen, "%s", path);
	}
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
		*size = (uint64_t)sb.st_size;
	return fd;
}

/* What one reading came to (r: its code), into *res. */
static void settle(struct job_writer *w, struct store *st, const struct import_ctx *ic, int r,
                   const char *perr, int64_t existing, struct app_import_result *res)
{
	res->code = r;
	if (r == SDB_EEXISTS) {
		res->status = APP_IMPORT_DUPLICATE;
		res->job_id = existing;
	} else if (r != 0) {
		snprintf(res->error, sizeof(res->error), "%s",
		         ic->store_failed || !perr[0] ? store_errmsg(st) : perr);
		if (ic->store_failed) {
			char tmp[sizeof(res->error)];
			snprintf(tmp, sizeof(tmp), "%s", res->error);
			/* name the job: its rows are gone, but the id says which
			 * attempt failed */
			snprintf(res->error, sizeof(res->error), "%s: job %lld: %s", ic->name,
			         (long long)job_writer_job_id(w), tmp);
		}
	} else {
		res->status = APP_IMPORT_IMPORTED;
		res->job_id = job_writer_job_id(w);
		job_writer_stats(w, &res->stats);
		if (res->stats.nmap_failed)
			snprintf(res->nmap_error, sizeof(res->nmap_error),
			         "nmap ended in error: %s",
			         job_writer_nmap_error(w)[0] ? job_writer_nmap_error(w)
			                                     : "(no message)");
	}
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

/* A masscan or zmap file's scan time (ingest_peek_time, from its first
 * bytes): 1 with *seen (1: its format was told) and *start, or 0 when the
 * file is in another format (nmap XML: its parser reads it). */
static int masscan_start(int fd, int64_t *start, int *seen)
{
	char head[INGEST_DETECT_HEAD];
	ssize_t n;
	enum ingest_format f;

	do
		n = pread(fd, head, sizeof(head), 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return 0;
	f = ingest_detect(head, (size_t)n);
	if (f == INGEST_UNKNOWN || f == INGEST_NMAP_XML)
		return 0;
	ingest_peek_time(f, head, (size_t)n, start);
	*seen = 1;
	return 1;
}

/*
 * The scan time in the regular file open on `fd` for ordering, read by the
 * nmap parser from its first ORDER_PEEK_MAX bytes (with pread: the file
 * offset does not move): 1 and *start (0: undated) when its <nmaprun> was
 * read, 0 when it cannot be told (not a regular file - a pipe cannot be
 * read twice -, not nmap XML there): the import itself says what is wrong
 * with such a file.  masscan and zmap files: ingest_peek_time's.
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
	if (masscan_start(fd, start, &r))
		return r;
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

/* Read the file open on fd through the import's sink into writer w (ic
 * set up), then commit the job: 0 or the error (the parser's in perr). */
static int read_and_commit(struct import_ctx *ic, struct job_writer *w, int fd,
                           const struct app_import_opts *io, int partial, char *perr,
                           size_t perrlen, int64_t *existing)
{
	const struct app_import_observer *obs = ic->obs;
	struct ingest_sink sink = {
	    .ctx = ic,
	    .run_begin = fwd_run_begin,
	    .scaninfo = fwd_scaninfo,
	    .host = fwd_host,
	    .run_end = fwd_run_end,
	    .warning = fwd_warning,
	    .accept_truncated = partial != 0,
	    .truncated_hint = io->truncated_hint,
	};
	struct ingest_opts iopts = {.ports = io->ports};
	char hex[HASH_HEX_LEN + 1];
	int r;

	ic->inner = job_writer_sink(w);
	if ((r = ingest_parse_fd(fd, ic->name, &sink, on_chunk, ic, &iopts, NULL, perr, perrlen)) !=
	    0)
		return r;
	if (obs->progress) {
		struct app_import_progress p = {.name = ic->name,
		                                .bytes = ic->bytes,
		                                .size = ic->size,
		                                .hosts = ic->hosts,
		                                .committing = 1};
		obs->progress(obs->ctx, &p);
	}
	r = hash_final(ic->hash, hex);
	ic->hash = NULL;
	if (r == 0)
		r = job_writer_commit(w, hex, existing);
	ic->store_failed = r != 0;
	return r;
}

/* One attempt at one file.  partial: 0 = a whole scan, 1 = store a partial
 * job (2: the same, its warnings already told), -1 = a whole scan, but a
 * cut-off file ends with *cut_off set (nothing stored) so that the caller
 * can read it again as partial.  *t: the file's scan time, read here
 * (once) if nobody has. */
static void import_one(struct store *st, const char *path, const struct app_import_opts *io,
                       int partial, struct app_import_time *t,
                       const struct app_import_observer *obs, struct app_import_result *res,
                       int *cut_off)
{
	struct job_writer *w = NULL;
	struct job_writer_opts o;
	struct import_ctx ic;
	char source[PATH_MAX], perr[1024];
	const char *name;
	int64_t existing = 0;
	int fd, r;

	memset(res, 0, sizeof(*res));
	memset(&ic, 0, sizeof(ic));
	*cut_off = 0;
	ic.obs = obs;
	res->status = APP_IMPORT_FAILED;
	perr[0] = '\0';
	if ((fd = open_input(path, &name, source, sizeof(source), &ic.size, res)) < 0)
		return;
	if (io->name) {
		name = io->name;
		snprintf(source, sizeof(source), "%s", io->name);
	}
	memset(&o, 0, sizeof(o));
	o.kind = STORE_JOB_IMPORT;
	o.source = source;
	o.forced = io->force;
	o.partial = partial > 0;
	o.gone_after = io->gone_after;
	/* its scan time, so that concurrent importers store in scan-time order */
	if (fd != STDIN_FILENO) {
		if (!t->read) {
			peek_start_fd(fd, path, &t->start);
			t->read = 1;
		}
		o.scan_time = t->start;
	}
	ic.partial = partial > 0;
	ic.warned = partial == 2;
	if ((r = job_writer_begin(st, &o, &w)) != 0) {
		res->code = r;
		snprintf(res->error, sizeof(res->error), "%s: %s", name, store_errmsg(st));
		goto out;
	}
	if (!(ic.hash = hash_new())) {
		snprintf(res->error, sizeof(res->error), "%s: out of memory", name);
		goto out;
	}
	if (obs->begin)
		obs->begin(obs->ctx);
	ic.name = name;
	r = read_and_commit(&ic, w, fd, io, partial, perr, sizeof(perr), &existing);
	if (obs->end)
		obs->end(obs->ctx);
	if (ic.cut_off) {
		res->code = r;
		*cut_off = 1;
	} else {
		settle(w, st, &ic, r, perr, existing, res);
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
enum app_import_status app_import_file(struct store *st, const char *path,
                                       const struct app_import_opts *o,
                                       struct app_import_result *res)
{
	static const struct app_import_observer nobody;
	const struct app_import_observer *obs = o->obs ? o->obs : &nobody;
	/* the scan time: app_import_order's, else read by the first attempt */
	struct app_import_time t = o->time ? *o->time : (struct app_import_time){0, 0};
	int partial = o->partial;
	/* --partial: standard input is read once, as partial; a file is read
	 * whole first and again as partial only if it was cut off */
	int mode = !partial ? 0 : strcmp(path, "-") == 0 ? 1 : -1;

	for (int attempt = 1;; attempt++) {
		char tmp[sizeof(res->error)];
		int cut_off;

		import_one(st, path, o, mode, &t, obs, res, &cut_off);
		if (cut_off) {
			mode = 2;
			import_one(st, path, o, mode, &t, obs, res, &cut_off);
		}
		if (res->status != APP_IMPORT_FAILED || res->code != SDB_ETRANSIENT)
			return res->status;
		snprintf(tmp, sizeof(tmp), "%s", res->error);
		if (strcmp(path, "-") == 0) {
			snprintf(res->error, sizeof(res->error),
			         "%s (standard input cannot be read again: not retried; nothing of "
			         "it was stored)",
			         tmp);
			return res->status;
		}
		if (attempt >= IMPORT_ATTEMPTS) {
			snprintf(res->error, sizeof(res->error),
			         "%s (gave up after %d attempts; nothing of it was stored)", tmp,
			         attempt);
			return res->status;
		}
		if (obs->retrying)
			obs->retrying(obs->ctx, tmp, attempt + 1, IMPORT_ATTEMPTS);
		/* 0.5, 1, 2, 4 s, plus up to 50% jitter */
		retry_sleep(&app_job_retry, attempt - 1);
	}
}

/* ---- import order (app_import_order) ------------------------------------ */

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

/* Undated files rank below every dated scan, hence first; standard input
 * comes last because it cannot be read twice. */
int app_import_order(const char **files, struct app_import_time *times, int n)
{
	struct order_ent *v;
	unsigned char *readable;
	int nv = 0, k = 0, stdin_at = -1;

	if (n < 2) {
		if (times && n == 1)
			times[0] = (struct app_import_time){0, 0}; /* not read */
		return 0;
	}
	v = calloc((size_t)n, sizeof(*v));
	readable = calloc((size_t)n, 1);
	if (!v || !readable) {
		free(v);
		free(readable);
		return SDB_ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct app_import_time t = {0, 0};

		if (strcmp(files[i], "-") == 0) {
			stdin_at = i;
		} else {
			t.read = 1; /* (start stays 0 when the peek reads nothing) */
			if (peek_start(files[i], &t.start)) {
				v[nv++] = (struct order_ent){files[i], t.start, i};
				readable[i] = 1;
			}
		}
		if (times)
			times[i] = t;
	}
	qsort(v, (size_t)nv, sizeof(*v), cmp_order);
	/* the files whose time was read take, in time order, the places
	 * those files had; the others stay where they were */
	for (int i = 0; i < n; i++) {
		if (readable[i]) {
			if (times)
				times[i] = (struct app_import_time){1, v[k].start};
			files[i] = v[k++].file;
		}
	}
	if (stdin_at >= 0) {
		memmove(&files[stdin_at], &files[stdin_at + 1],
		        (size_t)(n - stdin_at - 1) * sizeof(*files));
		files[n - 1] = "-";
		if (times) {
			memmove(&times[stdin_at], &times[stdin_at + 1],
			        (size_t)(n - stdin_at - 1) * sizeof(*times));
			times[n - 1] = (struct app_import_time){0, 0};
		}
	}
	free(v);
	free(readable);
	return 0;
}
