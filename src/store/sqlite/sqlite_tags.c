/*
 * sqlite_tags.c - the tags and notes slots of the SQLite backend (store.h
 * "tags and notes"; the values are checked in store_tags.c): a host's id by
 * address, tags added to or removed from the known hosts of an address
 * range (one statement, RETURNING the hosts changed), the tags with their
 * host counts, one host's tags and notes, a note added or removed.
 */
#include "store/sqlite/sqlite_int.h"

#include "core/error.h"

static const char *col_text(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

int store__sqlite_host_id(struct store *st, const char *addr, int64_t *id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	*id = 0;
	if ((r = store__sqlite_hot(s, SQ_HOST_ID, &q)) != 0)
		return r;
	sqlite3_bind_text(q, 1, addr, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		r = 0;
	} else if (rc == SQLITE_DONE) {
		r = store__set_err(st, SDB_ENOTFOUND, "no host %s in the database", addr);
	} else {
		r = store__sqlite_err(s, rc, "looking up host %s", addr);
	}
	store__sqlite_done(q);
	return r;
}

/* The statements are in the hot table (sqlite_query.c), with their plans. */

static int bind_range(sqlite3_stmt *q, const unsigned char lo[16], const unsigned char hi[16])
{
	return sqlite3_bind_blob(q, 1, lo, 16, SQLITE_STATIC) |
	       sqlite3_bind_blob(q, 2, hi, 16, SQLITE_STATIC);
}

int store__sqlite_tag_set(struct store *st, const unsigned char lo[16], const unsigned char hi[16],
                          const char *tag, int add, int64_t at, const char *author,
                          int64_t *matched, int (*changed)(void *ctx, int64_t host_id), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_TAG_MATCH, &q)) != 0)
		return r;
	rc = bind_range(q, lo, hi);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		*matched = sqlite3_column_int64(q, 0);
		rc = SQLITE_OK;
	}
	store__sqlite_done(q);
	if (rc != SQLITE_OK)
		return store__sqlite_err(s, rc, "finding the hosts to tag");
	r = store__sqlite_hot(s, add ? SQ_TAG_ADD : SQ_TAG_RM, &q);
	if (r != 0)
		return r;
	rc = bind_range(q, lo, hi) | sqlite3_bind_text(q, 3, tag, -1, SQLITE_STATIC);
	if (add)
		rc |= sqlite3_bind_int64(q, 4, at) | store__sqlite_bind_text(q, 5, author);
	if (rc == SQLITE_OK)
		while ((rc = sqlite3_step(q)) == SQLITE_ROW)
			if (changed && (r = changed(ctx, sqlite3_column_int64(q, 0))) != 0)
				break;
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "%s tag %s", add ? "adding" : "removing", tag);
	store__sqlite_done(q);
	return r;
}

int store__sqlite_tags_each(struct store *st, int (*cb)(void *ctx, const char *tag, int64_t hosts),
                            void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_TAGS_EACH, &q)) != 0)
		return r;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = cb(ctx, col_text(q, 0), sqlite3_column_int64(q, 1))) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "listing tags");
	store__sqlite_done(q);
	return r;
}

int store__sqlite_host_tags(struct store *st, int64_t host_id,
                            int (*cb)(void *ctx, const char *tag, int64_t at, const char *author),
                            void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_HOST_TAGS, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, host_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = cb(ctx, col_text(q, 0), sqlite3_column_int64(q, 1), col_text(q, 2))) != 0)
			break;
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "listing the tags of a host");
	store__sqlite_done(q);
	return r;
}

int store__sqlite_note_add(struct store *st, int64_t host_id, int64_t at, const char *author,
                           const char *text, int64_t *id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_stmt(s, SQ_NOTE_ADD,
	                            "INSERT INTO host_notes (host_id, at, author, text)"
	                            " VALUES (?1, ?2, ?3, ?4) RETURNING id",
	                            &q)) != 0)
		return r;
	rc = sqlite3_bind_int64(q, 1, host_id) | sqlite3_bind_int64(q, 2, at) |
	     store__sqlite_bind_text(q, 3, author) | store__sqlite_bind_text(q, 4, text);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		rc = sqlite3_step(q);
	}
	r = rc == SQLITE_DONE ? 0 : store__sqlite_err(s, rc, "adding a note");
	store__sqlite_done(q);
	return r;
}

int store__sqlite_host_notes(struct store *st, int64_t host_id,
                             int (*cb)(void *ctx, const struct store_note *n), void *ctx)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_HOST_NOTES, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, host_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_note n = {sqlite3_column_int64(q, 0), host_id,
		                       sqlite3_column_int64(q, 1), col_text(q, 2), col_text(q, 3)};
		if ((r = cb(ctx, &n)) != 0)
			break;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "listing the notes of a host");
	store__sqlite_done(q);
	return r;
}

int store__sqlite_note_rm(struct store *st, int64_t id)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *q;
	int rc, r;

	if ((r = store__sqlite_hot(s, SQ_NOTE_RM, &q)) != 0)
		return r;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc != SQLITE_DONE)
		r = store__sqlite_err(s, rc, "removing note %lld", (long long)id);
	else if (sqlite3_changes(s->db) == 0)
		r = store__set_err(st, SDB_ENOTFOUND, "no note %lld", (long long)id);
	store__sqlite_done(q);
	return r;
}
