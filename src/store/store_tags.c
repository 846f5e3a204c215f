/*
 * store_tags.c - the wrappers of the tag and note slots (store.h "tags
 * and notes"): the values are checked here once for both backends -- a
 * tag's characters and length, a note's and an author's text (UTF-8, no
 * control characters but newline and tab in a note) -- before a backend
 * (sqlite/sqlite_tags.c, pg/pg_tags.c) stores them.
 */
#include <string.h>

#include "core/error.h"
#include "core/utf8.h"
#include "store/store_int.h"

int store_tag_valid(const char *tag)
{
	size_t n = tag ? strlen(tag) : 0;

	if (n == 0 || n > STORE_TAG_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)tag[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			return 0;
	}
	return 1;
}

int store_note_text_valid(const char *text, size_t max, int one_line)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n = text ? strlen(text) : 0;

	if (n == 0 || n > max)
		return 0;
	while (*p) {
		size_t k = utf8_seq_len(p);

		if (k == 0)
			return 0;
		if (k == 1 && (*p < 0x20 || *p == 0x7f) && (one_line || (*p != '\n' && *p != '\t')))
			return 0;
		/* C1 controls (U+0080-U+009F) */
		if (k == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			return 0;
		p += k;
	}
	return 1;
}

int store_host_id(struct store *st, const char *addr, int64_t *id)
{
	if (!addr || !id)
		return SDB_EUSAGE;
	STORE__CALL(st, host_id, addr, id);
}

int store_tag_set(struct store *st, const unsigned char lo[16], const unsigned char hi[16],
                  const char *tag, int add, int64_t at, const char *author, int64_t *matched,
                  int (*changed)(void *ctx, int64_t host_id), void *ctx)
{
	if (!st || !lo || !hi || !matched)
		return SDB_EUSAGE;
	if (!store_tag_valid(tag))
		return store__set_err(
		    st, SDB_ERANGE, "tag '%.80s': not 1-%d letters, digits or -_.:", tag ? tag : "",
		    STORE_TAG_MAX);
	if (at < 0)
		return store__set_err(st, SDB_ERANGE, "tag time %lld: before 1970", (long long)at);
	if (author && !store_note_text_valid(author, STORE_AUTHOR_MAX, 1))
		return store__set_err(st, SDB_ERANGE,
		                      "tag author: not 1-%d bytes of printable UTF-8",
		                      STORE_AUTHOR_MAX);
	STORE__CALL(st, tag_set, lo, hi, tag, add, at, author, matched, changed, ctx);
}

int store_tags_each(struct store *st, int (*cb)(void *ctx, const char *tag, int64_t hosts),
                    void *ctx)
{
	if (!cb)
		return SDB_EUSAGE;
	STORE__CALL(st, tags_each, cb, ctx);
}

int store_host_tags(struct store *st, int64_t host_id,
                    int (*cb)(void *ctx, const char *tag, int64_t at, const char *author),
                    void *ctx)
{
	if (!cb)
		return SDB_EUSAGE;
	STORE__CALL(st, host_tags, host_id, cb, ctx);
}

int store_note_add(struct store *st, int64_t host_id, int64_t at, const char *author,
                   const char *text, int64_t *id)
{
	if (!st || !id)
		return SDB_EUSAGE;
	if (!store_note_text_valid(text, STORE_NOTE_MAX, 0))
		return store__set_err(
		    st, SDB_ERANGE,
		    "note text: not 1-%d bytes of UTF-8 without control characters"
		    " (newline and tab allowed)",
		    STORE_NOTE_MAX);
	if (author && !store_note_text_valid(author, STORE_AUTHOR_MAX, 1))
		return store__set_err(st, SDB_ERANGE,
		                      "note author: not 1-%d bytes of printable UTF-8",
		                      STORE_AUTHOR_MAX);
	if (at < 0)
		return store__set_err(st, SDB_ERANGE, "note time %lld: before 1970", (long long)at);
	STORE__CALL(st, note_add, host_id, at, author, text, id);
}

int store_host_notes(struct store *st, int64_t host_id,
                     int (*cb)(void *ctx, const struct store_note *n), void *ctx)
{
	if (!cb)
		return SDB_EUSAGE;
	STORE__CALL(st, host_notes, host_id, cb, ctx);
}

int store_note_rm(struct store *st, int64_t id)
{
	STORE__CALL(st, note_rm, id);
}
