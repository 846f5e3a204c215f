/*
 * sqlite_func.c - the SQL functions the SQLite backend registers on each
 * connection for the search language (store_filter.c): scandb_vercmp, the
 * version order of core/filter.c, and scandb_regexp, a POSIX extended
 * regex match (SQLite has no REGEXP of its own), its compiled pattern
 * cached per statement with sqlite3_get_auxdata.
 */
#include "store/sqlite/sqlite_int.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "core/filter.h"

/* scandb_vercmp(stored, norm): -1, 0, 1; NULL when either is NULL or the
 * stored version has no leading number (so it passes no comparison). */
static void fn_vercmp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *a = (const char *)sqlite3_value_text(argv[0]);
	const char *b = (const char *)sqlite3_value_text(argv[1]);
	int c;

	(void)argc;
	if (!a || !b || (c = filter_version_cmp(a, b)) == 2) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_int(ctx, c);
}

struct cached_re {
	regex_t re;
	int icase;
};

static void re_free(void *p)
{
	struct cached_re *c = p;

	regfree(&c->re);
	free(c);
}

/* scandb_regexp(pattern, text, icase): 1 if text matches, 0 if not, NULL
 * for a NULL text; a pattern that does not compile is an error. */
static void fn_regexp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const char *pat = (const char *)sqlite3_value_text(argv[0]);
	const char *text = (const char *)sqlite3_value_text(argv[1]);
	int icase = sqlite3_value_int(argv[2]) != 0;
	struct cached_re *c = sqlite3_get_auxdata(ctx, 0);

	(void)argc;
	if (!pat || !text) {
		sqlite3_result_null(ctx);
		return;
	}
	if (!c || c->icase != icase) {
		if (!(c = malloc(sizeof(*c)))) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		c->icase = icase;
		if (regcomp(&c->re, pat, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) != 0) {
			free(c);
			sqlite3_result_error(ctx, "scandb_regexp: the pattern does not compile",
			                     -1);
			return;
		}
		/* SQLite owns c from here (re_free), even if it cannot keep it */
		sqlite3_set_auxdata(ctx, 0, c, re_free);
		if (!(c = sqlite3_get_auxdata(ctx, 0))) {
			/* not kept: compile again for this one call */
			struct cached_re once;
			if (regcomp(&once.re, pat,
			            REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) != 0) {
				sqlite3_result_error(
				    ctx, "scandb_regexp: the pattern does not compile", -1);
				return;
			}
			sqlite3_result_int(ctx, regexec(&once.re, text, 0, NULL, 0) == 0);
			regfree(&once.re);
			return;
		}
	}
	sqlite3_result_int(ctx, regexec(&c->re, text, 0, NULL, 0) == 0);
}

int store__sqlite_functions(struct store_sqlite *s)
{
	const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
	int rc;

	rc = sqlite3_create_function(s->db, "scandb_vercmp", 2, flags, NULL, fn_vercmp, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_create_function(s->db, "scandb_regexp", 3, flags, NULL, fn_regexp,
		                             NULL, NULL);
	return rc == SQLITE_OK ? 0 : store__sqlite_err(s, rc, "registering SQL functions");
}
