/*
 * pg_tags.c - the tags and notes slots of the PostgreSQL backend (store.h
 * "tags and notes"; the values are checked in store_tags.c), as
 * sqlite/sqlite_tags.c: a host's id by address, tags added to or removed
 * from the known hosts of an address range (one statement, RETURNING the
 * hosts changed), the tags with their host counts, one host's tags and
 * notes, a note added or removed.
 */
#include "store/pg/pg_int.h"

#include <stdlib.h>

#include "core/error.h"

static const char *val(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int store__pg_host_id(struct store *st, const char *addr, int64_t *id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	*id = 0;
	store__pg_p_text(&p, addr);
	if ((r = store__pg_exec(s, PG_HOST_ID, "SELECT id FROM hosts WHERE addr = $1::inet", &p, 0,
	                        &res, "looking up host %s", addr)) != 0)
		return r;
	if (PQntuples(res) == 1)
		*id = store__pg_i64(res, 0, 0);
	PQclear(res);
	return *id ? 0 : store__set_err(st, SDB_ENOTFOUND, "no host %s in the database", addr);
}

int store__pg_tag_set(struct store *st, const unsigned char lo[16], const unsigned char hi[16],
                      const char *tag, int add, int64_t at, const char *author, int64_t *matched,
                      int (*changed)(void *ctx, int64_t host_id), void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	char lohex[35], hihex[35];
	PGresult *res = NULL;
	int r;

	store__pg_key_hex(lo, lohex);
	store__pg_key_hex(hi, hihex);
	store__pg_p_text(&p, lohex);
	store__pg_p_text(&p, hihex);
	if ((r = store__pg_exec(s, PG_TAG_MATCH,
	                        "SELECT count(*) FROM hosts WHERE addr_key BETWEEN $1::bytea"
	                        " AND $2::bytea",
	                        &p, 0, &res, "finding the hosts to tag")) != 0)
		return r;
	*matched = store__pg_i64(res, 0, 0);
	PQclear(res);
	store__pg_p_text(&p, tag);
	if (add) {
		store__pg_p_int(&p, at);
		store__pg_p_text(&p, author);
		r = store__pg_exec(
		    s, PG_TAG_ADD,
		    "INSERT INTO host_tags (host_id, tag, created_at, author)"
		    " SELECT id, $3::text, to_timestamp($4::bigint), $5::text FROM hosts"
		    " WHERE addr_key BETWEEN $1::bytea AND $2::bytea"
		    " ON CONFLICT DO NOTHING RETURNING host_id",
		    &p, 0, &res, "adding tag %s", tag);
	} else {
		r = store__pg_exec(s, PG_TAG_RM,
		                   "DELETE FROM host_tags WHERE tag = $3::text AND host_id IN"
		                   " (SELECT id FROM hosts WHERE addr_key BETWEEN $1::bytea"
		                   " AND $2::bytea) RETURNING host_id",
		                   &p, 0, &res, "removing tag %s", tag);
	}
	for (int i = 0; r == 0 && changed && i < PQntuples(res); i++)
		r = changed(ctx, store__pg_i64(res, i, 0));
	PQclear(res);
	return r;
}

int store__pg_tags_each(struct store *st, int (*cb)(void *ctx, const char *tag, int64_t hosts),
                        void *ctx)
{
	struct store_pg *s = store__pg(st);
	PGresult *res = NULL;
	int r;

	if ((r = store__pg_exec(s, PG_TAGS_EACH,
	                        "SELECT tag, count(*) FROM host_tags GROUP BY tag ORDER BY tag",
	                        NULL, 0, &res, "listing tags")) != 0)
		return r;
	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = cb(ctx, val(res, i, 0), store__pg_i64(res, i, 1));
	PQclear(res);
	return r;
}

int store__pg_host_tags(struct store *st, int64_t host_id,
                        int (*cb)(void *ctx, const char *tag, int64_t at, const char *author),
                        void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_int(&p, host_id);
	if ((r = store__pg_exec(
	         s, PG_HOST_TAGS,
	         "SELECT tag, " EP("created_at") ", author FROM host_tags"
	                                         " WHERE host_id = $1::bigint ORDER BY tag",
	         &p, 0, &res, "listing the tags of a host")) != 0)
		return r;
	for (int i = 0; r == 0 && i < PQntuples(res); i++)
		r = cb(ctx, val(res, i, 0), store__pg_i64(res, i, 1), val(res, i, 2));
	PQclear(res);
	return r;
}

int store__pg_note_add(struct store *st, int64_t host_id, int64_t at, const char *author,
                       const char *text, int64_t *id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_int(&p, host_id);
	store__pg_p_int(&p, at);
	store__pg_p_text(&p, author);
	store__pg_p_text(&p, text);
	if ((r = store__pg_exec(s, PG_NOTE_ADD,
	                        "INSERT INTO host_notes (host_id, at, author, text)"
	                        " VALUES ($1::bigint, to_timestamp($2::bigint), $3::text, $4::text)"
	                        " RETURNING id",
	                        &p, 0, &res, "adding a note")) != 0)
		return r;
	*id = store__pg_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int store__pg_host_notes(struct store *st, int64_t host_id,
                         int (*cb)(void *ctx, const struct store_note *n), void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_int(&p, host_id);
	if ((r = store__pg_exec(
	         s, PG_HOST_NOTES,
	         "SELECT id, " EP("at") ", author, text FROM host_notes"
	                                " WHERE host_id = $1::bigint ORDER BY at, id",
	         &p, 0, &res, "listing the notes of a host")) != 0)
		return r;
	for (int i = 0; r == 0 && i < PQntuples(res); i++) {
		struct store_note n = {store__pg_i64(res, i, 0), host_id, store__pg_i64(res, i, 1),
		                       val(res, i, 2), val(res, i, 3)};
		r = cb(ctx, &n);
	}
	PQclear(res);
	return r;
}

int store__pg_note_rm(struct store *st, int64_t id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r, n;

	store__pg_p_int(&p, id);
	if ((r = store__pg_exec(s, PG_NOTE_RM, "DELETE FROM host_notes WHERE id = $1::bigint", &p,
	                        0, &res, "removing note %lld", (long long)id)) != 0)
		return r;
	n = atoi(PQcmdTuples(res));
	PQclear(res);
	return n ? 0 : store__set_err(st, SDB_ENOTFOUND, "no note %lld", (long long)id);
}
