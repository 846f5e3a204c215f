/*
 * fuzz_filter.c - libFuzzer target for the search language (core/filter.c)
 * and its SQL (store/store_filter.c).  Checks their promises: any input is
 * parsed or refused with a message (SDB_EPARSE, SDB_ETOOBIG, SDB_ENOMEM)
 * and an empty tree; a parse stays within the limits (FILTER_TERMS_MAX
 * terms) and compiles, in both dialects and both views, to SQL whose text
 * depends on no value: the same tree with every value replaced compiles to
 * the same text (invariant 5).  The input is read as one string
 * (the API's form) and, split at newlines, as command-line words.
 * See fuzz/README.md for how to build and run it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/filter.h"
#include "store/store_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW INT64_C(1800000000)

/* The SQL text of f, in dialect d and view cur (malloc'ed). */
static char *sql_text(const struct filter *f, int d, int cur)
{
	struct buf sql, vals;
	struct store_fsql q = {0};
	char *out;

	buf_init(&sql, (size_t)1 << 22);
	buf_init(&vals, (size_t)1 << 22);
	if (store__filter_sql(f, cur, (enum store_dialect)d, 11, &sql, &q) != 0 ||
	    store__fsql_pg_array(&q, &vals) != 0)
		abort();
	out = strdup(buf_str(&sql));
	store__fsql_free(&q);
	buf_free(&sql);
	buf_free(&vals);
	return out;
}

static void check_tree(struct filter *f)
{
	static char other[] = "other value";
	size_t terms = 0;
	char *a[4], **saved = malloc(2 * f->n * sizeof(*saved));

	if (!saved || f->root < 0 || (size_t)f->root >= f->n)
		abort();
	for (size_t i = 0; i < f->n; i++)
		terms += f->nodes[i].kind == FILTER_TERM;
	if (terms == 0 || terms > FILTER_TERMS_MAX)
		abort();
	for (int k = 0; k < 4; k++)
		a[k] = sql_text(f, k / 2, k % 2);
	/* every value replaced: the same text (invariant 5) */
	for (size_t i = 0, s = 0; i < f->n; i++) {
		saved[s++] = f->nodes[i].text;
		saved[s++] = f->nodes[i].regex;
		if (f->nodes[i].text)
			f->nodes[i].text = other;
		if (f->nodes[i].regex)
			f->nodes[i].regex = other;
	}
	for (int k = 0; k < 4; k++) {
		char *b = sql_text(f, k / 2, k % 2);
		if (strcmp(a[k], b) != 0)
			abort();
		free(a[k]);
		free(b);
	}
	for (size_t i = 0, s = 0; i < f->n; i++) {
		f->nodes[i].text = saved[s++];
		f->nodes[i].regex = saved[s++];
	}
	free(saved);
}

static void one(int r, struct filter *f, const char *err)
{
	if (r == 0 && f->root < 0) {
		if (f->n != 0) /* no term: an empty tree */
			abort();
		filter_free(f);
	} else if (r == 0) {
		check_tree(f);
		filter_free(f);
	} else if ((r != SDB_EPARSE && r != SDB_ETOOBIG && r != SDB_ENOMEM) || !err[0] ||
	           f->nodes || f->root != -1) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *words[64], *p;
	char err[FILTER_ERR_MAX];
	struct filter f;
	size_t n = 0;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* the parser reads text up to its first NUL */
	one(filter_parse_string(text, NOW, &f, err), &f, err);
	for (p = text; n < 64;) {
		char *nl = strchr(p, '\n');
		words[n++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	one(filter_parse_words((const char *const *)words, n, NOW, &f, err), &f, err);
	free(text);
	return 0;
}
