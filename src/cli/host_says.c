/*
 * host_says.c - a host's tags and notes as the CLI shows them
 * (host_says.h): the `host` table's lines (their JSON objects are
 * app/views.c's, which the HTTP API answers with too).
 */
#include "cli/host_says.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "app/views.h"
#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/buf.h"
#include "core/error.h"

static int tag_word(void *ctx, const char *tag, int64_t at, const char *author)
{
	struct buf *b = ctx;

	(void)at;
	(void)author;
	return buf_printf(b, "%s%s", b->len ? ", " : "", tag);
}

struct note_out {
	FILE *f;
	int n; /* notes printed */
};

/* One note: "  #ID  TIME  AUTHOR" then its lines, indented, made safe;
 * "Notes:" before the first. */
static int note_lines(void *ctx, const struct store_note *n)
{
	struct note_out *o = ctx;
	FILE *f = o->f;
	char at[TIME_ISO_LEN], *author = output_text(n->author, 64, "-");
	const char *p = n->text;

	if (!author)
		return SDB_ENOMEM;
	if (o->n++ == 0)
		fputs("\nNotes:\n", f);
	time_format_iso(n->at, at);
	fprintf(f, "  #%" PRId64 "  %s  %s\n", n->id, at, author);
	free(author);
	while (*p) {
		size_t len = strcspn(p, "\n");
		char *part = strndup(p, len), *safe = part ? output_text(part, 0, "") : NULL;

		free(part);
		if (!safe)
			return SDB_ENOMEM;
		fprintf(f, "      %s\n", safe);
		free(safe);
		p += len + (p[len] == '\n');
	}
	return ferror(f) ? SDB_EIO : 0;
}

int host_says_print(struct store *st, int64_t host_id, FILE *f)
{
	struct buf b;
	int r;

	buf_init(&b, 1 << 20);
	if ((r = store_host_tags(st, host_id, tag_word, &b)) == 0 && b.len) {
		char *safe = output_text(buf_str(&b), 0, "");
		if (!safe)
			r = SDB_ENOMEM;
		else
			fprintf(f, "Tags:        %s\n", safe);
		free(safe);
	}
	buf_free(&b);
	if (r == 0) {
		struct note_out o = {f, 0};
		r = store_host_notes(st, host_id, note_lines, &o);
	}
	return r;
}
