/*
 * cli.c - what every subcommand shares (see cli.h): error printing, opening
 * the store with the schema check, option value parsing, the getopt prologue
 * of every command (cli_parse_args), the progress line.
 */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "app/job_writer.h"
#include "app/process.h"
#include "core/error.h"
#include "core/timeutil.h"

/* Is a progress line on the screen (cli_err erases it first)? */
static int progress_visible;

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (progress_visible) {
		fputs("\r\033[K", stderr); /* the message replaces the progress line */
		progress_visible = 0;
	}
	fputs("scandb: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "scandb %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'scandb %s --help'.\n", cmd);
	return CLI_USAGE;
}

/* Print (or, with msg, keep) one message about the database. */
static void open_err(char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void open_err(char *msg, size_t msglen, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (msg)
		snprintf(msg, msglen, "%s", text);
	else
		cli_err("%s", text);
}

int cli_open_as(struct cli *c, enum cli_open mode, char *msg, size_t msglen)
{
	static const int flags[] = {
	    [CLI_OPEN_READ] = STORE_OPEN_READONLY,
	    [CLI_OPEN_INSPECT] = STORE_OPEN_QUERY_ONLY,
	    [CLI_OPEN_UPDATE] = 0,
	    [CLI_OPEN_WRITE] = STORE_OPEN_CREATE,
	    [CLI_OPEN_MIGRATE] = STORE_OPEN_CREATE,
	    [CLI_OPEN_ADMIN] = 0,
	};
	char buf[1024], shown[sizeof(c->db)];
	enum store_schema_kind kind;
	int r;

	buf[0] = '\0';
	/* the target may hold a password: messages show it masked */
	store_target_display(c->db, shown, sizeof(shown));
	if ((r = store_open_mode(c->db, flags[mode], &c->st, buf, sizeof(buf))) != 0) {
		/* SQLite's messages name the file; PostgreSQL's do not */
		if (store_target_is_pg(c->db) || !buf[0])
			open_err(msg, msglen, "cannot open database %s: %s", shown,
			         buf[0] ? buf : sdb_strerror(r));
		else
			open_err(msg, msglen, "%s", buf);
		return CLI_FAIL;
	}
	if ((r = store_schema_kind(c->st, &kind)) != 0) {
		open_err(msg, msglen, "cannot read %s: %s", shown, store_errmsg(c->st));
		goto fail;
	}
	if (kind == STORE_SCHEMA_FOREIGN) {
		open_err(msg, msglen,
		         "%s is not a scandb database (it has tables of its own and no "
		         "schema_migrations table)",
		         shown);
		goto fail;
	}
	if (kind == STORE_SCHEMA_NEW && (mode == CLI_OPEN_READ || mode == CLI_OPEN_UPDATE)) {
		open_err(msg, msglen,
		         "%s is empty: there is no scandb data in it yet ('scandb import' or "
		         "'scandb scan' creates it)",
		         shown);
		goto fail;
	}
	if ((mode == CLI_OPEN_READ || mode == CLI_OPEN_UPDATE || mode == CLI_OPEN_WRITE) &&
	    (r = store_ensure_ready(c->st)) != 0) {
		open_err(msg, msglen, "%s: %s", shown, store_errmsg(c->st));
		goto fail;
	}
	/* The commands that make jobs (import, scan) first record as failed the
	 * running jobs whose process died or timed out (readers only show them
	 * so: cmd_jobs.c).  Failing to is a warning: the new job is unaffected. */
	if (mode == CLI_OPEN_WRITE &&
	    store_jobs_reap_stale(c->st, time_now(), app_process_hostname(), NULL) != 0)
		cli_err("warning: cannot record dead jobs as failed: %s", store_errmsg(c->st));
	return CLI_OK;
fail:
	cli_close(c);
	return CLI_FAIL;
}

int cli_open_db(struct cli *c, int existing, int ready, char *msg, size_t msglen)
{
	enum cli_open mode = existing ? (ready ? CLI_OPEN_UPDATE : CLI_OPEN_ADMIN)
	                              : (ready ? CLI_OPEN_WRITE : CLI_OPEN_MIGRATE);

	return cli_open_as(c, mode, msg, msglen);
}

int cli_open(struct cli *c, int ready)
{
	return cli_open_db(c, 0, ready, NULL, 0);
}

void cli_close(struct cli *c)
{
	store_close(c->st);
	c->st = NULL;
}

int cli_parse_format(const char *cmd, const char *s, enum cli_format *out)
{
	static const char *const names[] = {"table", "json", "ndjson", "csv"};

	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum cli_format)i;
			return 0;
		}
	}
	return cli_usage_err(cmd, "unknown format '%s' (use table, json, ndjson or csv)", s);
}

int cli_parse_i64(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi,
                  int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return cli_usage_err(cmd, "%s: '%s' is not a number in %lld..%lld", opt, s,
		                     (long long)lo, (long long)hi);
	*out = (int64_t)v;
	return 0;
}

int cli_parse_gone_after(const char *cmd, const char *s, int *out)
{
	int64_t v;
	int rc;

	if (!s)
		return cli_usage_err(cmd, "--gone-after needs a number of scans");
	if ((rc = cli_parse_i64(cmd, "--gone-after", s, 0, CLI_GONE_AFTER_MAX, &v)) != 0)
		return rc;
	*out = v == 0 ? JOB_WRITER_GONE_NEVER : (int)v;
	return 0;
}

size_t cli_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64], i, j;

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *cli_closest_in(const char *arg, const struct option *opts)
{
	char word[64];
	const char *best = NULL;
	size_t bestd = 3, n;

	if (!opts || strncmp(arg, "--", 2) != 0)
		return NULL;
	n = strcspn(arg + 2, "=");
	if (n >= sizeof(word))
		return NULL;
	memcpy(word, arg + 2, n);
	word[n] = '\0';
	for (const struct option *o = opts; o->name; o++) {
		size_t d = cli_edit_distance(word, o->name);
		if (d == 0)
			return NULL; /* known here, refused for another reason */
		if (d < bestd) {
			best = o->name;
			bestd = d;
		}
	}
	return best;
}

int cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}

/* A getopt_long() failure (ch '?' or ':', or an option the command
 * refused) as a usage error of `cmd`; CLI_USAGE. */
static int getopt_err(const char *cmd, const struct option *opts, int ch, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?", *best;

	if (ch == ':')
		return cli_usage_err(cmd, "option '%s' needs a value", arg);
	if (optopt > 0 && optopt < 256 && strncmp(arg, "--", 2) != 0)
		return cli_usage_err(cmd, "unknown option '-%c'", optopt);
	if ((best = cli_closest_in(arg, opts)) != NULL)
		return cli_usage_err(cmd, "unknown option '%s'; did you mean '--%s'?", arg, best);
	return cli_usage_err(cmd, "unknown option '%s'", arg);
}

int cli_parse_args(const struct cli_args *a, int argc, char **argv, int *first)
{
	int ch, r;

	if (cli_wants_help(argc, argv)) {
		fputs(a->usage, stdout);
		return CLI_OK;
	}
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, a->shortopts, a->opts, NULL)) != -1) {
		r = ch == ':' || ch == '?' ? CLI_ARG_UNKNOWN : a->on_opt(a->ctx, ch, optarg);
		if (r == CLI_ARG_UNKNOWN)
			return getopt_err(a->cmd, a->opts, ch, argv);
		if (r != 0)
			return r;
	}
	if (argc - optind < a->min)
		return cli_usage_err(a->cmd, "missing %s", a->missing);
	if (a->max >= 0 && argc - optind > a->max)
		return cli_usage_err(a->cmd, "unexpected argument '%s'", argv[optind + a->max]);
	if (first)
		*first = optind;
	return CLI_GO_ON;
}

void cli_progress_start(struct cli_progress *p, const struct cli *c)
{
	p->enabled = c->progress && !c->quiet;
	p->start = time_mono();
	p->last = 0;
	p->shown = 0;
}

int cli_term_width(int fd)
{
	struct winsize ws;
	const char *v = getenv("COLUMNS");
	char *end;
	long n;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	if (v && *v) {
		n = strtol(v, &end, 10);
		if (*end == '\0' && n > 0 && n < 10000)
			return (int)n;
	}
	return 80;
}

/* Columns of UTF-8 text: one per character (no wide-character tables; a
 * path's CJK characters may take two, which the spare column absorbs
 * only partly). */
static size_t columns(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

/* Byte offset after the first `cols` characters of s[0..len). */
static size_t head_bytes(const char *s, size_t len, size_t cols)
{
	size_t i = 0;

	for (size_t c = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && c++ == cols)
			break;
	}
	return i;
}

/* Byte offset where the last `cols` characters of s[0..len) begin. */
static size_t tail_start(const char *s, size_t len, size_t cols)
{
	size_t i = len, c = 0;

	while (i > 0 && c < cols) {
		i--;
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	}
	return i;
}

/* "1h02m", "4m05s", "12s". */
static void fmt_secs(double secs, char *out, size_t len)
{
	long s = secs < 0 ? 0 : secs > 359999 ? 359999 : (long)(secs + 0.5);

	if (s >= 3600)
		snprintf(out, len, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, len, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(out, len, "%lds", s);
}

/* The last "NN%" (or "NN.N%") of the text, or -1. */
static double last_percent(const char *s)
{
	double pct = -1;

	for (const char *p = strchr(s, '%'); p; p = strchr(p + 1, '%')) {
		const char *b = p;
		while (b > s && (isdigit((unsigned char)b[-1]) || b[-1] == '.'))
			b--;
		if (b < p && isdigit((unsigned char)*b))
			pct = strtod(b, NULL);
	}
	return pct;
}

void cli_progress_update(struct cli_progress *p, const char *fmt, ...)
{
	char msg[1024], tail[64], el[16], eta[16], line[1200];
	size_t mlen, tlen, avail, width;
	double now, pct;
	va_list ap;

	if (!p->enabled)
		return;
	now = time_mono();
	if (now - p->start < 1.0 || now - p->last < 0.1)
		return;
	p->last = now;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* no control characters from a file name on the terminal */
	for (char *q = msg; *q; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			*q = '?';
	fmt_secs(now - p->start, el, sizeof(el));
	pct = last_percent(msg);
	if (pct > 0.5 && pct < 100) {
		fmt_secs((now - p->start) * (100 - pct) / pct, eta, sizeof(eta));
		snprintf(tail, sizeof(tail), " [%s, ETA %s]", el, eta);
	} else {
		snprintf(tail, sizeof(tail), " [%s]", el);
	}
	/* The line never reaches the last column (a terminal would wrap it
	 * there, and \r would then rewrite only the second row: a scroll of
	 * lines in a narrow window). */
	width = (size_t)cli_term_width(STDERR_FILENO);
	width = width > 1 ? width - 1 : 1;
	mlen = strlen(msg);
	tlen = columns(tail, strlen(tail));
	if (tlen + 8 > width) {
		tail[0] = '\0'; /* a very narrow window: the message alone */
		tlen = 0;
	}
	avail = width - tlen;
	if (columns(msg, mlen) > avail) {
		/* The middle of the longest word goes (a path: its start and end
		 * say most), so that the figures stay; if that is not enough,
		 * the middle of the whole message.  "…" marks the cut. */
		size_t over = columns(msg, mlen) - avail, ws = 0, wl = 0;
		for (size_t i = 0; i < mlen;) {
			size_t n = strcspn(msg + i, " ");
			if (columns(msg + i, n) > wl) {
				ws = i;
				wl = columns(msg + i, n);
			}
			i += n + (msg[i + n] == ' ');
		}
		if (wl >= over + 1 + 6) {
			size_t keep = wl - over - 1, h = keep / 2;
			size_t wb = strcspn(msg + ws, " ");
			size_t hb = head_bytes(msg + ws, wb, h);
			size_t tb = tail_start(msg + ws, wb, keep - h);
			snprintf(line, sizeof(line), "%.*s\xe2\x80\xa6%s%s", (int)(ws + hb), msg,
			         msg + ws + tb, tail);
		} else {
			size_t keep = avail > 1 ? avail - 1 : 0, h = keep / 2;
			size_t hb = head_bytes(msg, mlen, h), tb = tail_start(msg, mlen, keep - h);
			snprintf(line, sizeof(line), "%.*s\xe2\x80\xa6%s%s", (int)hb, msg, msg + tb,
			         tail);
		}
	} else {
		snprintf(line, sizeof(line), "%s%s", msg, tail);
	}
	fputs("\r\033[K", stderr);
	fputs(line, stderr);
	fflush(stderr);
	p->shown = 1;
	progress_visible = 1;
}

void cli_progress_done(struct cli_progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->shown = 0;
	progress_visible = 0;
}
