/*
 * cli.c - what every subcommand shares (see cli.h): error printing, opening
 * the store with the schema check, option value parsing, the progress line.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timeutil.h"

void cli_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
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

static const struct option *last_opts;

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *opts)
{
	last_opts = opts;
	return getopt_long(argc, argv, shortopts, opts, NULL);
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

const char *cli_closest_option(const char *arg)
{
	char word[64];
	const char *best = NULL;
	size_t bestd = 3, n;

	if (!last_opts || strncmp(arg, "--", 2) != 0)
		return NULL;
	n = strcspn(arg + 2, "=");
	if (n >= sizeof(word))
		return NULL;
	memcpy(word, arg + 2, n);
	word[n] = '\0';
	for (const struct option *o = last_opts; o->name; o++) {
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

void cli_progress_start(struct cli_progress *p, const struct cli *c)
{
	p->enabled = c->progress && !c->quiet;
	p->start = time_mono();
	p->last = 0;
	p->shown = 0;
}

void cli_progress_update(struct cli_progress *p, const char *fmt, ...)
{
	va_list ap;
	double now;

	if (!p->enabled)
		return;
	now = time_mono();
	if (now - p->start < 1.0 || now - p->last < 0.1)
		return;
	p->last = now;
	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " [%.0fs]", now - p->start);
	fflush(stderr);
	p->shown = 1;
}

void cli_progress_done(struct cli_progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	p->shown = 0;
}
