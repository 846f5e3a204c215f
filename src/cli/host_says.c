/*
 * host_says.c - a host's tags and notes as the CLI shows them
 * (host_says.h): JSON objects and the `host` table's lines.
 */
#include "cli/host_says.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/buf.h"
#include "core/error.h"

json_t *host_tag_json(const char *tag, int64_t at, const char *author)
{
	return json_pack("{s:s, s:o, s:s?}", "tag", tag, "added", ops_json_time(at), "author",
	                 author);
}

json_t *host_note_json(const struct store_note *n)
{
	return json_pack("{s:I, s:o, s:s?, s:s}", "id", (json_int_t)n->id, "at",
	                 ops_json_time(n->at), "author", n->author, "text", n->text);
}

static int add_tag_json(void *ctx, const char *tag, int64_t at, const char *author)
{
	json_t *o = host_tag_json(tag, at, author);

	return o && json_array_append_new(ctx, o) == 0 ? 0 : SDB_ENOMEM;
}

static int add_note_json(void *ctx, const struct store_note *n)
{
	json_t *o = host_note_json(n);

	return o && json_array_append_new(ctx, o) == 0 ? 0 : SDB_ENOMEM;
}

int host_says_add_json(struct store *st, int64_t host_id, json_t *obj)
{
	json_t *tags = json_array(), *notes = json_array();
	int r = SDB_ENOMEM;

	if (tags && notes && (r = store_host_tags(st, host_id, add_tag_json, tags)) == 0 &&
	    (r = store_host_notes(st, host_id, add_note_json, notes)) == 0) {
		json_object_set(obj, "tags", tags);
		json_object_set(obj, "notes", notes);
	}
	json_decref(tags);
	json_decref(notes);
	return r;
}

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
