/*
 * pg_history.c - the PostgreSQL backend's history slots: loading what
 * is known of a host before a scan of it is applied (in ONE round trip: the
 * host, its latest attributes, port state document, script history and
 * findings, as one UNION ALL result; or from the block of known hosts read
 * at once), saving its port state and events through the COPY buffers, the
 * reads a late scan's re-derivation needs (the stored scans of a block of
 * hosts in one round trip) and `changes`.  history_load leaves the hint
 * host_upsert consumes and fills the findings cache; the block cache is
 * this file's (pg_writebehind.c rules 4-6 say who keeps them true).  The
 * rules that derive events are in history/events.c.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"
#include "store/pg/pg_int.h"

#define EPT(col) "(" EP(col) ")::text"

/* k = 0: the host (at most one row) with its host_state (c5-c7, c9: the
 * port state document; NULL without a host_state row); 2: its
 * scripts of every scan, oldest scan first (the latest output of each
 * wins); 3: its findings (kept for findings_of_host). */
/* clang-format off */
static const char sql_hist_load[] =
    "WITH h AS (SELECT h.id, h.status, h.last_job_id, h.last_seen, s.os, s.mac, s.hostnames,"
    "  s.ports, s.misses, s.miss_job_id, s.miss_at FROM hosts h LEFT JOIN host_state s"
    "  ON s.host_id = h.id WHERE h.addr = $1::inet)"
    " SELECT 0 AS k, h.id::text AS c1, h.status AS c2, h.last_job_id::text AS c3,"
    " " EPT("h.last_seen") " AS c4, h.os AS c5, h.mac AS c6, h.hostnames AS c7,"
    " NULL::text AS c8, h.ports::text AS c9, h.misses::text AS c10,"
    " h.miss_job_id::text AS c11, " EPT("h.miss_at") " AS c12, NULL::text AS c13,"
    " NULL::text AS c14, NULL::text AS c15,"
    " 0::bigint AS o1, 0::bigint AS o2, 0::bigint AS o3 FROM h"
    " UNION ALL"
    " SELECT 2, s.protocol, s.port::text, s.script_id, s.output, s.job_id::text, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, " EP("hs.scanned_at") ", s.job_id, s.id"
    " FROM h JOIN scripts s ON s.host_id = h.id"
    " JOIN host_scans hs ON hs.job_id = s.job_id AND hs.host_id = s.host_id"
    " UNION ALL"
    " SELECT 3, f.id::text, f.fingerprint, f.type, f.source, f.key, f.protocol, f.port::text,"
    " f.status, " EPT("f.state_at") ", NULL, NULL, NULL, NULL, NULL, NULL, f.id, 0, 0"
    " FROM h JOIN findings f ON f.host_id = h.id"
    " ORDER BY k, o1, o2, o3";
/* clang-format on */

static int dupcol(const PGresult *q, int row, int col, char **dst)
{
	const char *v = store__pg_col(q, row, col);

	*dst = NULL;
	if (v && !(*dst = strdup(v)))
		return SDB_ENOMEM;
	return 0;
}

/* Rows of the history query start at column `off` (0: one host; 1: a
 * block, whose column 0 is the host's key).  The k = 0 row holds the
 * host's port state document (c9). */
static int load_ports(struct store_pg *s, const PGresult *q, int i, int off, int64_t host_id,
                      struct ev_host *out)
{
	const char *doc = store__pg_col(q, i, off + 9);
	int r = doc ? store__port_state_read(doc, strlen(doc), out) : SDB_EDB;

	if (r == SDB_EDB)
		return store__set_err(&s->base, r,
		                      "the port state of host %lld is not a valid document"
		                      " (host_state.ports)",
		                      (long long)host_id);
	return r;
}

static int load_finding(const PGresult *q, int i, int off, struct store_finding_ref *f)
{
	enum rec_proto p;

	memset(f, 0, sizeof(*f));
	f->id = store__pg_i64(q, i, off + 1);
	if (dupcol(q, i, off + 2, &f->fingerprint) || dupcol(q, i, off + 3, &f->type) ||
	    dupcol(q, i, off + 4, &f->source) || dupcol(q, i, off + 5, &f->key) ||
	    dupcol(q, i, off + 8, &f->status))
		return SDB_ENOMEM;
	f->proto = -1;
	f->port = -1;
	if (store__pg_col(q, i, off + 6) &&
	    rec_proto_parse(store__pg_col(q, i, off + 6), &p) == 0) {
		f->proto = (int)p;
		f->port = (int)store__pg_opt(q, i, off + 7);
	}
	f->state_at = store__pg_i64(q, i, off + 9);
	return 0;
}

/*
 * One host's rows [first, last) of a history result into `out` (the host
 * row first; its scripts only for a scan at (at, job_id) in order, as
 * store.h says), its findings into the findings cache.  Returns the host id.
 */
static int parse_host(struct store_pg *s, const PGresult *q, int first, int last, int off,
                      const char *addr, int64_t at, int64_t job_id, int64_t *host_id,
                      struct ev_host *out)
{
	enum rec_host_status status;
	int nf = 0, r = 0;

	*host_id = store__pg_i64(q, first, off + 1);
	if (rec_host_status_parse(store__pg_col(q, first, off + 2), &status) != 0)
		status = REC_HOST_UNKNOWN;
	out->known = 1;
	out->status = status;
	out->job_id = store__pg_i64(q, first, off + 3);
	out->at = store__pg_i64(q, first, off + 4);
	if ((r = dupcol(q, first, off + 5, &out->os)) != 0 ||
	    (r = dupcol(q, first, off + 6, &out->mac)) != 0 ||
	    (r = dupcol(q, first, off + 7, &out->hostnames)) != 0)
		return store__set_err(&s->base, r, "loading host %s: out of memory", addr);
	if (store__pg_col(q, first, off + 9)) { /* its host_state row */
		out->stored = 1;
		out->misses = (int)store__pg_i64(q, first, off + 10);
		out->miss_job = store__pg_i64(q, first, off + 11);
		out->miss_at = store__pg_i64(q, first, off + 12);
		if ((r = load_ports(s, q, first, off, *host_id, out)) != 0)
			return r == SDB_ENOMEM
			           ? store__set_err(&s->base, r, "loading host %s: out of memory",
			                            addr)
			           : r;
	}
	for (int i = first + 1; i < last; i++) {
		int k = (int)store__pg_i64(q, i, off);
		if (k == 2 && store_history_in_order(out, at, job_id)) {
			int proto = -1, port = -1;
			enum rec_proto pr;
			const char *pc = store__pg_col(q, i, off + 1);
			if (pc && rec_proto_parse(pc, &pr) == 0) {
				proto = (int)pr;
				port = (int)store__pg_i64(q, i, off + 2);
			}
			r = ev_host_put_script(out, proto, port, store__pg_col(q, i, off + 3),
			                       store__pg_col(q, i, off + 4),
			                       store__pg_i64(q, i, off + 5));
		} else if (k == 3) {
			nf++;
		}
		if (r != 0)
			return r == SDB_ENOMEM
			           ? store__set_err(&s->base, r, "loading host %s: out of memory",
			                            addr)
			           : r;
	}
	/* the host's findings, for findings_of_host later in this scan */
	store__pg_fcache_clear(s);
	if (nf > 0 && !(s->fcache.v = calloc((size_t)nf, sizeof(*s->fcache.v))))
		return store__set_err(&s->base, SDB_ENOMEM, "loading host %s: out of memory", addr);
	for (int i = first + 1; i < last; i++) {
		if (store__pg_i64(q, i, off) != 3)
			continue;
		if (load_finding(q, i, off, &s->fcache.v[s->fcache.n++]) != 0) {
			store__pg_fcache_clear(s);
			return store__set_err(&s->base, SDB_ENOMEM,
			                      "loading host %s: out of memory", addr);
		}
	}
	s->fcache.host_id = *host_id;
	s->fcache.valid = 1;
	return 0;
}

/* ---- a block of hosts, read at once ---- */

/*
 * The state of every host of a block of 4096 addresses (by addr_key), read
 * in one query under the write lock: history_load answers from it without a
 * round trip per host, and answers "never seen" for the addresses that are
 * not in it (a first import of a network is all new hosts).  A host's
 * scripts come with it (k = 2: the latest output of each script, in the
 * order their first outputs were stored, as sql_hist_load's rows leave
 * them) when they are at most BLOCK_HOST_SCRIPTS bytes and the block's
 * scripts so far at most BLOCK_SCRIPTS; a host over either bound is read
 * alone (c8 'true'), so what a block holds stays bounded.  A host last
 * seen at or after $3 (the time of the scan of the host that asked for the
 * block) comes without its scripts (c8 'late'): this job's scan of it is
 * most likely late, and a late scan needs none (store.h); if it is not,
 * the host is read alone.  Each host's rows serve once; hosts created
 * later in the transaction are added as known, without rows.
 */
#define BLOCK_MAX_ROWS     200000
#define BLOCK_HOST_SCRIPTS "65536"    /* bytes of one host's latest script outputs */
#define BLOCK_SCRIPTS      "16777216" /* bytes of a block's script outputs */

/* clang-format off */
static const char sql_hist_block[] =
    "WITH h AS (SELECT h.id, h.status, h.last_job_id, h.last_seen, h.addr_key, s.os, s.mac,"
    "  s.hostnames, s.ports, s.misses, s.miss_job_id, s.miss_at FROM hosts h"
    "  LEFT JOIN host_state s ON s.host_id = h.id"
    "  WHERE h.addr_key BETWEEN $1::bytea AND $2::bytea),"
    " he AS MATERIALIZED (SELECT h.id FROM h WHERE h.last_seen < to_timestamp($3::bigint)),"
    " sr AS MATERIALIZED (SELECT s.host_id, s.protocol, s.port, s.script_id, s.output,"
    "  s.job_id, row_number() OVER (PARTITION BY s.host_id, s.protocol, s.port, s.script_id"
    "  ORDER BY hs.scanned_at DESC, s.job_id DESC, s.id DESC) AS rn,"
    "  first_value(hs.scanned_at) OVER a AS f_at, first_value(s.job_id) OVER a AS f_job,"
    "  first_value(s.id) OVER a AS f_id"
    "  FROM he h JOIN scripts s ON s.host_id = h.id"
    "  JOIN host_scans hs ON hs.job_id = s.job_id AND hs.host_id = s.host_id"
    "  WINDOW a AS (PARTITION BY s.host_id, s.protocol, s.port, s.script_id"
    "  ORDER BY hs.scanned_at, s.job_id, s.id)),"
    " sb AS MATERIALIZED (SELECT host_id, bytes <= " BLOCK_HOST_SCRIPTS " AND sum(CASE WHEN"
    "  bytes <= " BLOCK_HOST_SCRIPTS " THEN bytes ELSE 0 END) OVER (ORDER BY host_id)"
    "  <= " BLOCK_SCRIPTS " AS ok FROM (SELECT host_id, sum(octet_length(output)) AS bytes"
    "  FROM sr WHERE rn = 1 GROUP BY host_id) x)"
    " SELECT encode(h.addr_key, 'hex') COLLATE \"C\" AS key, 0 AS k, h.id::text AS c1,"
    " h.status AS c2, h.last_job_id::text AS c3, " EPT("h.last_seen") " AS c4,"
    " h.os AS c5, h.mac AS c6, h.hostnames AS c7,"
    " CASE WHEN sb.host_id IS NOT NULL THEN (NOT sb.ok)::text"
    "  WHEN h.id NOT IN (SELECT id FROM he)"
    "  AND EXISTS (SELECT 1 FROM scripts s WHERE s.host_id = h.id) THEN 'late'"
    "  ELSE 'false' END AS c8,"
    " h.ports::text AS c9, h.misses::text AS c10, h.miss_job_id::text AS c11,"
    " " EPT("h.miss_at") " AS c12, NULL::text AS c13, NULL::text AS c14, NULL::text AS c15,"
    " 0::bigint AS o1, 0::bigint AS o2, 0::bigint AS o3"
    " FROM h LEFT JOIN sb ON sb.host_id = h.id"
    " UNION ALL"
    " SELECT encode(h.addr_key, 'hex') COLLATE \"C\", 2, sr.protocol, sr.port::text,"
    " sr.script_id, sr.output, sr.job_id::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL,"
    " NULL, NULL, NULL, " EP("sr.f_at") ", sr.f_job, sr.f_id"
    " FROM h JOIN sb ON sb.host_id = h.id AND sb.ok JOIN sr ON sr.host_id = h.id AND sr.rn = 1"
    " UNION ALL"
    " SELECT encode(h.addr_key, 'hex') COLLATE \"C\", 3, f.id::text, f.fingerprint, f.type,"
    " f.source, f.key, f.protocol, f.port::text, f.status, " EPT("f.state_at") ","
    " NULL, NULL, NULL, NULL, NULL, NULL, f.id, 0, 0"
    " FROM h JOIN findings f ON f.host_id = h.id"
    " ORDER BY key, k, o1, o2, o3 LIMIT 200001";
/* clang-format on */

static void block_clear(struct store_pg *s)
{
	PQclear(s->block.res);
	s->block.res = NULL;
	s->block.valid = 0;
	s->block.n = 0;
}

static int cmp_ent(const void *a, const void *b)
{
	return memcmp(((const struct pg_block_ent *)a)->key, ((const struct pg_block_ent *)b)->key,
	              16);
}

static int block_find(const struct store_pg *s, const unsigned char key[16], size_t *at)
{
	size_t lo = 0, hi = s->block.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(s->block.v[mid].key, key, 16);
		if (c == 0) {
			*at = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*at = lo;
	return 0;
}

static int block_reserve(struct store_pg *s, size_t n)
{
	return VEC_RESERVE(s->block.v, s->block.cap, n, 64);
}

int store__pg_block_add(struct store_pg *s, const unsigned char key[16])
{
	size_t at;

	if (!s->block.valid || memcmp(key, s->block.lo, 16) < 0 ||
	    memcmp(key, s->block.hi, 16) > 0 || block_find(s, key, &at))
		return 0;
	if (block_reserve(s, s->block.n + 1) != 0) {
		block_clear(s); /* the cache is only an optimisation */
		return 0;
	}
	memmove(s->block.v + at + 1, s->block.v + at, (s->block.n - at) * sizeof(*s->block.v));
	memcpy(s->block.v[at].key, key, 16);
	/* created by this transaction: its rows may still be buffered */
	s->block.v[at].start = s->block.v[at].end = -2;
	s->block.n++;
	return 0;
}

int store__pg_key_from_hex(const char *hex, unsigned char key[16])
{
	static const char digits[] = "0123456789abcdef";

	if (!hex || strlen(hex) != 32)
		return -1;
	for (int b = 0; b < 16; b++) {
		const char *h = strchr(digits, hex[2 * b]), *l = strchr(digits, hex[2 * b + 1]);
		if (!h || !l || !*h || !*l)
			return -1;
		key[b] = (unsigned char)((h - digits) << 4 | (l - digits));
	}
	return 0;
}

/* Read the block of `key` (flushing first, so what this transaction staged
 * is in it). */
static int block_load(struct store_pg *s, const unsigned char key[16], int64_t at)
{
	struct pg_params p = {0};
	char lohex[35], hihex[35];
	PGresult *q = NULL;
	int n, r, keys_only = 0;

	block_clear(s);
	memcpy(s->block.lo, key, 16);
	memcpy(s->block.hi, key, 16);
	s->block.lo[14] &= 0xf0;
	s->block.lo[15] = 0x00;
	s->block.hi[14] |= 0x0f;
	s->block.hi[15] = 0xff;
	store__pg_key_hex(s->block.lo, lohex);
	store__pg_key_hex(s->block.hi, hihex);
	store__pg_p_text(&p, lohex);
	store__pg_p_text(&p, hihex);
	store__pg_p_int(&p, at);
	if ((r = store__pg_exec(s, PG_HIST_BLOCK, sql_hist_block, &p, PGX_ONESHOT, &q,
	                        "loading known hosts")) != 0)
		return r;
	if (PQntuples(q) > BLOCK_MAX_ROWS) {
		/* too much to hold: only which hosts exist */
		PQclear(q);
		keys_only = 1;
		if ((r = store__pg_exec(s, PG_HIST_BLOCK_KEYS,
		                        "SELECT encode(addr_key, 'hex'), 0 FROM hosts"
		                        " WHERE addr_key BETWEEN $1::bytea AND $2::bytea"
		                        " ORDER BY addr_key",
		                        &p, 0, &q, "loading known hosts")) != 0)
			return r;
	}
	n = PQntuples(q);
	for (int i = 0; i < n; i++) {
		struct pg_block_ent *e;
		const char *has_scripts = keys_only ? "t" : store__pg_col(q, i, 9);

		if (store__pg_i64(q, i, 1) != 0)
			continue; /* rows of the host before */
		if (block_reserve(s, s->block.n + 1) != 0) {
			PQclear(q);
			block_clear(s);
			return 0;
		}
		e = &s->block.v[s->block.n];
		if (store__pg_key_from_hex(PQgetvalue(q, i, 0), e->key) != 0)
			continue;
		e->start = i;
		e->end = i + 1;
		while (e->end < n && strcmp(PQgetvalue(q, e->end, 0), PQgetvalue(q, i, 0)) == 0)
			e->end++;
		e->no_scripts = has_scripts && strcmp(has_scripts, "late") == 0;
		if (!has_scripts || (has_scripts[0] != 'f' && !e->no_scripts)) /* "false" */
			e->start = e->end = -1; /* read this one alone */
		s->block.n++;
	}
	if (s->block.n > 1)
		qsort(s->block.v, s->block.n, sizeof(*s->block.v), cmp_ent);
	s->block.res = q;
	s->block.valid = 1;
	return 0;
}

/* What the block knows of `addr`: BLK_ABSENT (never seen), BLK_ROWS (its
 * rows, *ent), or BLK_ASK (query it).  Only inside a write transaction:
 * the write lock keeps other scandb writers out. */
enum { BLK_ASK = 0, BLK_ABSENT, BLK_ROWS, BLK_ASK_FLUSHED };

static int block_lookup(struct store_pg *s, const char *addr, int64_t scan_at, int *what,
                        struct pg_block_ent **ent)
{
	unsigned char key[16];
	size_t at;
	int r;

	*what = BLK_ASK;
	if (!s->in_tx || addr_parse(addr, NULL, NULL, key) != 0)
		return 0;
	if (!s->block.valid || memcmp(key, s->block.lo, 16) < 0 ||
	    memcmp(key, s->block.hi, 16) > 0) {
		if ((r = block_load(s, key, scan_at)) != 0)
			return r;
		if (!s->block.valid)
			return 0;
	}
	if (!block_find(s, key, &at)) {
		*what = BLK_ABSENT;
	} else if (s->block.v[at].start >= 0) {
		*what = BLK_ROWS;
		*ent = &s->block.v[at];
	} else if (s->block.v[at].start == -2) {
		*what = BLK_ASK_FLUSHED;
	}
	return 0;
}

void store__pg_block_free(struct store_pg *s)
{
	block_clear(s);
	free(s->block.v);
	s->block.v = NULL;
	s->block.cap = 0;
}

void store__pg_block_reset(struct store_pg *s)
{
	block_clear(s);
}

int store__pg_history_load(struct store *st, const char *addr, int64_t at, int64_t job_id,
                           int64_t *host_id, struct ev_host *out)
{
	struct store_pg *s = store__pg(st);
	struct pg_block_ent *ent = NULL;
	struct pg_params p = {0};
	PGresult *q = NULL;
	int what, r;

	s->hint.valid = 0;
	store__pg_fcache_clear(s);
	if ((r = block_lookup(s, addr, at, &what, &ent)) != 0)
		return r;
	if (what == BLK_ROWS && ent->no_scripts) {
		/* its rows lack its scripts: they serve a late scan only */
		struct ev_host stored = {.known = 1};
		stored.job_id = store__pg_i64(s->block.res, ent->start, 4);
		stored.at = store__pg_i64(s->block.res, ent->start, 5);
		if (store_history_in_order(&stored, at, job_id)) {
			ent->start = ent->end = -1;
			what = BLK_ASK;
		}
	}
	if (sdb_strlcpy(s->hint.addr, addr, sizeof(s->hint.addr)) < sizeof(s->hint.addr))
		s->hint.valid = 1;
	s->hint.found = 0;
	s->hint.id = 0;
	if (what == BLK_ABSENT)
		return SDB_ENOTFOUND;
	if (what == BLK_ROWS) {
		int first = ent->start, last = ent->end;

		ent->start = ent->end = -1; /* its rows serve once */
		if ((r = parse_host(s, s->block.res, first, last, 1, addr, at, job_id, host_id,
		                    out)) != 0)
			return r;
		s->hint.found = 1;
		s->hint.id = *host_id;
		return 0;
	}
	store__pg_p_text(&p, addr);
	/* Only this host's rows are read, and the job writer sends each
	 * address once per job: nothing buffered can be among them. */
	if ((r = store__pg_exec(s, PG_HIST_LOAD, sql_hist_load, &p,
	                        what == BLK_ASK_FLUSHED ? 0 : PGX_NOFLUSH, &q, "loading host %s",
	                        addr)) != 0)
		return r;
	if (PQntuples(q) == 0 || strcmp(PQgetvalue(q, 0, 0), "0") != 0) {
		PQclear(q);
		return SDB_ENOTFOUND;
	}
	r = parse_host(s, q, 0, PQntuples(q), 0, addr, at, job_id, host_id, out);
	PQclear(q);
	if (r != 0)
		return r;
	s->hint.found = 1;
	s->hint.id = *host_id;
	return 0;
}

/* The host's state -- latest OS, MAC, names and the port state document
 * (store__port_state_doc) -- written whole through the COPY buffers: a host
 * that had a host_state row is staged and upserted, a new one goes straight
 * in. */
int store__pg_port_state_save(struct store *st, int64_t host_id, const struct ev_host *h,
                              const char *doc, size_t len)
{
	struct store_pg *s = store__pg(st);
	enum pg_copy c = h->stored ? PC_PS_STAGE : PC_PS_NEW;
	size_t start;
	int e = 0;

	(void)len; /* NUL-terminated too */
	start = store__pg_row_start(s, c);
	e |= store__pg_f_int(&s->copy[c], 1, host_id);
	e |= store__pg_f_text(&s->copy[c], 0, h->os);
	e |= store__pg_f_text(&s->copy[c], 0, h->mac);
	e |= store__pg_f_text(&s->copy[c], 0, h->hostnames);
	e |= store__pg_f_text(&s->copy[c], 0, doc);
	return store__pg_row_end(s, c, start, e, "saving a port state");
}

int store__pg_event_insert(struct store *st, int64_t host_id, const struct ev_event *e)
{
	struct store_pg *s = store__pg(st);
	struct buf *b = &s->copy[PC_EVENTS];
	int has_port = e->proto >= 0;
	size_t start;
	int64_t id;
	int x = 0, r;

	if (has_port && ((unsigned)e->proto >= REC_PROTO__COUNT || e->port < 0 || e->port > 65535))
		return store__set_err(st, SDB_ERANGE, "a %s event of host %lld: bad port",
		                      ev_kind_name(e->kind), (long long)host_id);
	/* max(id) + 1 as SQLite's rowids (pg_writebehind.c rule 3) */
	if ((r = store__pg_next_id(s, PG_ID_EVENT, &id)) != 0)
		return r;
	start = store__pg_row_start(s, PC_EVENTS);
	x |= store__pg_f_int(b, 1, id);
	x |= store__pg_f_int(b, 0, host_id);
	x |= store__pg_f_int(b, 0, e->job_id);
	x |= store__pg_f_nz(b, 0, e->prev_job_id);
	x |= store__pg_f_text(b, 0, ev_kind_name(e->kind));
	x |= store__pg_f_text(b, 0, has_port ? rec_proto_name((enum rec_proto)e->proto) : NULL);
	x |= has_port ? store__pg_f_int(b, 0, e->port) : store__pg_f_text(b, 0, NULL);
	x |= store__pg_f_text(b, 0, e->old_value);
	x |= store__pg_f_text(b, 0, e->new_value);
	x |= store__pg_f_ts(b, 0, e->at);
	x |= store__pg_f_text(b, 0, e->detail);
	if (x == 0)
		s->next_event_id++;
	return store__pg_row_end(s, PC_EVENTS, start, x, "storing an event");
}

/* ---- late scans: the stored scans of a block of hosts ---------------------- */

/* Keys travel as bigint[] array parameters, so a block of hosts costs one
 * round trip, not one per host or per scan. */
#define HIST_CHUNK 4096

/* "{...}": field 0 (host_id), 1 (job_id) or 2 (at) of keys k[0..n) */
static int pg_array(struct buf *b, size_t n, const struct store_scan_key *k, int field)
{
	int r = buf_append_char(b, '{');

	for (size_t i = 0; i < n && r == 0; i++) {
		int64_t v = field == 0 ? k[i].host_id : field == 1 ? k[i].job_id : k[i].at;
		r = buf_printf(b, "%s%lld", i ? "," : "", (long long)v);
	}
	return r ? r : buf_append_char(b, '}');
}

/* The key fields' arrays of a chunk: a[i] holds field i (pg_array). */
#define KEY_FIELDS 3
static void key_bufs_init(struct buf *a)
{
	for (int i = 0; i < KEY_FIELDS; i++)
		buf_init(&a[i], (size_t)64 << 20);
}

static void key_bufs_free(struct buf *a)
{
	for (int i = 0; i < KEY_FIELDS; i++)
		buf_free(&a[i]);
}

/* Fields 0..nf-1 of keys k[0..n) as arrays in a[0..nf), bound to p in that
 * order ($1 host ids, $2 job ids, $3 times).  0 or SDB_ENOMEM. */
static int key_params(struct buf *a, int nf, const struct store_scan_key *k, size_t n,
                      struct pg_params *p)
{
	for (int i = 0; i < nf; i++) {
		buf_reset(&a[i]);
		if (pg_array(&a[i], n, k, i) != 0)
			return SDB_ENOMEM;
		store__pg_p_text(p, buf_str(&a[i]));
	}
	return 0;
}

/* k = 0: the scans (host_scans, this transaction's too), k = 1: the hosts
 * with findings. */
/* clang-format off */
static const char sql_hist_scan_list[] =
    "WITH k AS (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[])"
    "  AS k(host_id, job, at)),"
    " c AS MATERIALIZED (SELECT k.host_id, k.job, k.at, ck.scanned_at AS lo_at,"
    "  ck.job_id AS c_job FROM k LEFT JOIN LATERAL (SELECT x.scanned_at, x.job_id"
    "  FROM host_scans x WHERE NOT $4::boolean AND x.host_id = k.host_id"
    "  AND x.state IS NOT NULL AND (x.scanned_at, x.job_id) < (to_timestamp(k.at), k.job)"
    "  ORDER BY x.scanned_at DESC, x.job_id DESC LIMIT 1) ck ON true),"
    " b AS MATERIALIZED (SELECT c.host_id, c.c_job,"
    "  coalesce(c.lo_at, '-infinity') AS lo,"
    "  CASE WHEN $5::integer > 0 THEN (SELECT x.scanned_at FROM host_scans x"
    "  WHERE x.host_id = c.host_id AND (x.scanned_at, x.job_id) > (to_timestamp(c.at), c.job)"
    "  ORDER BY x.scanned_at, x.job_id LIMIT 1 OFFSET $5::integer - 1) END AS hi FROM c)"
    " SELECT 0 AS k, hs.host_id, hs.job_id, " EP("hs.scanned_at") " AS at,"
    " hs.job_id IS NOT DISTINCT FROM b.c_job AS s"
    " FROM b JOIN host_scans hs ON hs.host_id = b.host_id"
    " AND hs.scanned_at >= b.lo WHERE b.hi IS NULL OR hs.scanned_at <= b.hi"
    " UNION ALL SELECT DISTINCT 1, f.host_id, 0, 0, false FROM k JOIN findings f"
    " ON f.host_id = k.host_id"
    " ORDER BY k, host_id, at, job_id";
/* clang-format on */

int store__pg_history_scan_list(struct store *st, const struct store_scan_key *lates, size_t n,
                                int from_start, int max_later, unsigned char *has_findings,
                                int (*cb)(void *ctx, const struct store_scan_key *k), void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *q = NULL;
	struct buf a[KEY_FIELDS];
	int rows, r = 0;

	memset(has_findings, 0, n);
	key_bufs_init(a);
	if (key_params(a, 3, lates, n, &p) != 0)
		r = store__set_err(st, SDB_ENOMEM, "listing scans of hosts: out of memory");
	store__pg_p_text(&p, from_start ? "true" : "false");
	store__pg_p_int(&p, max_later);
	if (r == 0)
		r = store__pg_exec(s, PG_HIST_SCAN_LIST, sql_hist_scan_list, &p,
		                   PGX_FLUSH_HOST_SCANS, &q, "listing scans of hosts");
	key_bufs_free(a);
	if (r != 0)
		return r;
	rows = PQntuples(q);
	for (int i = 0; i < rows && r == 0; i++) {
		const char *hs = store__pg_col(q, i, 4);
		struct store_scan_key k = {store__pg_i64(q, i, 1), store__pg_i64(q, i, 2),
		                           store__pg_i64(q, i, 3), hs && hs[0] == 't', 0};
		if (store__pg_i64(q, i, 0) == 1) {
			int at = store__scan_key_find(lates, n, k.host_id);
			if (at >= 0)
				has_findings[at] = 1;
		} else {
			r = cb(ctx, &k);
		}
	}
	PQclear(q);
	return r;
}

/* A chunk's scans, all tables in one result: each row names its key by its
 * place in the arrays (slot, from 1) and its kind (t: store__row_kind);
 * columns c1-c10 as store__scan_rows_add wants them. */
/* clang-format off */
static const char sql_hist_scans[] =
    "WITH k AS (SELECT * FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY"
    "  AS k(host_id, job_id, slot))"
    " SELECT k.slot, 0 AS t, x.host_id, x.job_id, " EP("x.scanned_at") " AS at,"
    " x.status AS c1, x.reason AS c2, x.mac AS c3, x.hostnames::text AS c4, x.os_name AS c5,"
    " j.probed_scope AS c6, NULL::text AS c7, NULL::text AS c8, NULL::text AS c9,"
    " NULL::text AS c10"
    " FROM k JOIN host_scans x ON x.job_id = k.job_id AND x.host_id = k.host_id"
    " JOIN jobs j ON j.id = x.job_id"
    " UNION ALL SELECT k.slot, 1, x.host_id, x.job_id, 0, x.protocol, x.port::text, x.state,"
    " x.reason, x.service, x.product, x.version, x.extrainfo, x.tunnel, x.method"
    " FROM k JOIN ports x ON x.job_id = k.job_id AND x.host_id = k.host_id"
    " UNION ALL SELECT k.slot, 2, x.host_id, x.job_id, 0, x.state, x.count::text, NULL, NULL,"
    " NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM k JOIN extraports x ON x.job_id = k.job_id AND x.host_id = k.host_id"
    " UNION ALL SELECT k.slot, 3, x.host_id, x.job_id, 0, x.protocol, x.port::text,"
    " x.script_id, x.output, x.id::text, NULL, NULL, NULL, NULL, NULL"
    " FROM k JOIN scripts x ON x.job_id = k.job_id AND x.host_id = k.host_id";
/* clang-format on */

int store__pg_history_scans(struct store *st, const struct store_scan_key *keys, size_t n,
                            int (*cb)(void *ctx, struct store_host *h, const char *probed_scope),
                            void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct store__scan_rows b = {.st = st, .cb = cb, .ctx = ctx};
	struct buf a[KEY_FIELDS];
	int r = 0;

	key_bufs_init(a);
	for (size_t at = 0; at < n && r == 0; at += HIST_CHUNK) {
		size_t cnt = n - at < HIST_CHUNK ? n - at : HIST_CHUNK;
		struct pg_params p = {0};
		PGresult *q = NULL;
		int rows;

		if (key_params(a, 2, keys + at, cnt, &p) != 0) {
			r = store__set_err(st, SDB_ENOMEM, "reading scans: out of memory");
			break;
		}
		if ((r = store__scan_rows_begin(&b, cnt)) != 0)
			break;
		if ((r = store__pg_exec(s, PG_HIST_SCANS, sql_hist_scans, &p, PGX_FLUSH_SCANS, &q,
		                        "reading scans of hosts")) != 0)
			break;
		rows = PQntuples(q);
		for (int i = 0; i < rows && r == 0; i++) {
			const char *c[10];

			for (int k = 0; k < 10; k++)
				c[k] = store__pg_col(q, i, 5 + k);
			r = store__scan_rows_add(&b, (size_t)(store__pg_i64(q, i, 0) - 1),
			                         store__pg_i64(q, i, 2), store__pg_i64(q, i, 3),
			                         store__pg_i64(q, i, 4),
			                         (enum store__row_kind)store__pg_i64(q, i, 1), c);
		}
		PQclear(q);
		if (r == 0)
			r = store__scan_rows_end(&b);
	}
	store__scan_rows_free(&b);
	key_bufs_free(a);
	return r;
}

static const char sql_hist_forget[] =
    "DELETE FROM host_events e"
    " USING unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS k(host_id, job_id, at)"
    " WHERE e.host_id = k.host_id AND e.at = to_timestamp(k.at) AND e.job_id = k.job_id";

int store__pg_history_forget(struct store *st, const struct store_scan_key *keys, size_t n)
{
	struct store_pg *s = store__pg(st);
	struct buf a[KEY_FIELDS];
	int r = 0;

	key_bufs_init(a);
	for (size_t at = 0; at < n && r == 0; at += HIST_CHUNK) {
		size_t cnt = n - at < HIST_CHUNK ? n - at : HIST_CHUNK;
		struct pg_params p = {0};

		if (key_params(a, 3, keys + at, cnt, &p) != 0)
			r = store__set_err(st, SDB_ENOMEM, "forgetting events: out of memory");
		else
			r = store__pg_exec(s, PG_HIST_FORGET, sql_hist_forget, &p, 0, NULL,
			                   "forgetting events of hosts");
	}
	key_bufs_free(a);
	return r;
}

static const char sql_hist_states[] =
    "SELECT k.i, x.state FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY"
    " AS k(host_id, job_id, i) JOIN host_scans x ON x.job_id = k.job_id AND x.host_id = k.host_id"
    " WHERE x.state IS NOT NULL";

int store__pg_history_states(struct store *st, const struct store_scan_key *keys, size_t n,
                             int (*cb)(void *ctx, size_t i, const char *doc), void *ctx)
{
	struct store_pg *s = store__pg(st);
	struct buf a[KEY_FIELDS];
	int r = 0;

	key_bufs_init(a);
	for (size_t at = 0; at < n && r == 0; at += HIST_CHUNK) {
		size_t cnt = n - at < HIST_CHUNK ? n - at : HIST_CHUNK;
		struct pg_params p = {0};
		PGresult *q = NULL;

		if (key_params(a, 2, keys + at, cnt, &p) != 0) {
			r = store__set_err(st, SDB_ENOMEM, "reading host states: out of memory");
			break;
		}
		if ((r = store__pg_exec(s, PG_HIST_STATES, sql_hist_states, &p,
		                        PGX_FLUSH_HOST_SCANS, &q, "reading host states")) != 0)
			break;
		for (int i = 0; i < PQntuples(q) && r == 0; i++)
			r = cb(ctx, at + (size_t)(store__pg_i64(q, i, 0) - 1),
			       store__pg_col(q, i, 1));
		PQclear(q);
	}
	key_bufs_free(a);
	return r;
}

/* The documents travel as one JSON array of strings, matched to the keys by
 * their place. */
static const char sql_hist_states_put[] =
    "UPDATE host_scans x SET state = d.doc"
    " FROM unnest($1::bigint[], $2::bigint[]) WITH ORDINALITY AS k(host_id, job_id, i)"
    " JOIN json_array_elements_text($3::json) WITH ORDINALITY AS d(doc, i) ON d.i = k.i"
    " WHERE x.job_id = k.job_id AND x.host_id = k.host_id";

int store__pg_history_states_put(struct store *st, const struct store_scan_key *keys,
                                 const char *const *docs, size_t n)
{
	struct store_pg *s = store__pg(st);
	struct buf a[KEY_FIELDS];
	int r = 0;

	key_bufs_init(a);
	for (size_t at = 0; at < n && r == 0; at += HIST_CHUNK) {
		size_t cnt = n - at < HIST_CHUNK ? n - at : HIST_CHUNK;
		struct pg_params p = {0};
		json_t *d = json_array();
		char *text = NULL;

		for (size_t i = 0; d && i < cnt; i++) {
			if (json_array_append_new(d, docs[at + i] ? json_string(docs[at + i])
			                                          : json_null()) != 0) {
				json_decref(d);
				d = NULL;
			}
		}
		if (!d || !(text = json_dumps(d, JSON_COMPACT)) ||
		    key_params(a, 2, keys + at, cnt, &p) != 0) {
			json_decref(d);
			free(text);
			r = store__set_err(st, SDB_ENOMEM, "saving host states: out of memory");
			break;
		}
		json_decref(d);
		store__pg_p_text(&p, text);
		r = store__pg_exec(s, PG_HIST_STATES_PUT, sql_hist_states_put, &p, 0, NULL,
		                   "saving host states");
		free(text);
	}
	key_bufs_free(a);
	return r;
}

#define EVENTS_PAGE 2000

/* Events in (at, id) order, one page at a time after (?5, ?6). */
static const char sql_events[] =
    "SELECT e.id, e.host_id, encode(h.addr_key, 'hex'), family(h.addr), e.job_id,"
    " e.prev_job_id, e.kind, e.protocol, e.port, e.detail, e.old_value, e.new_value,"
    " " EP("e.at") " FROM host_events e JOIN hosts h ON h.id = e.host_id"
                   " WHERE e.at >= to_timestamp($1::bigint) AND h.addr_key BETWEEN $2::bytea AND "
                   "$3::bytea"
                   " AND ($4::inet IS NULL OR h.addr = $4::inet)"
                   " AND e.at >= to_timestamp($5::bigint)" /* lets host_events_at start there */
                   " AND (e.at, e.id) > (to_timestamp($5::bigint), $6::bigint)"
                   " ORDER BY e.at, e.id LIMIT 2000";

static int load_event(const PGresult *q, int i, struct store_event **out)
{
	struct store_event *e = calloc(1, sizeof(*e));
	char addr[64];

	*out = NULL;
	if (!e)
		return SDB_ENOMEM;
	e->id = store__pg_i64(q, i, 0);
	e->host_id = store__pg_i64(q, i, 1);
	e->job_id = store__pg_i64(q, i, 4);
	e->prev_job_id = store__pg_i64(q, i, 5);
	e->port = (int)store__pg_opt(q, i, 8);
	e->at = store__pg_i64(q, i, 12);
	if (store__pg_addr_text(store__pg_col(q, i, 2), (int)store__pg_i64(q, i, 3), addr) != 0 ||
	    !(e->addr = strdup(addr)) || dupcol(q, i, 6, &e->kind) ||
	    dupcol(q, i, 7, &e->protocol) || dupcol(q, i, 9, &e->detail) ||
	    dupcol(q, i, 10, &e->old_value) || dupcol(q, i, 11, &e->new_value)) {
		store_event_free(e);
		return SDB_ENOMEM;
	}
	*out = e;
	return 0;
}

/* f as store.c's store_events_each hands it over: has_net set, no kinds. */
int store__pg_events_each(struct store *st, const struct store_event_filter *f,
                          int (*cb)(void *ctx, struct store_event *e), void *ctx)
{
	struct store_pg *s = store__pg(st);
	char lohex[35], hihex[35];
	int64_t last_at = -1, last_id = 0; /* before any event (at >= 1970) */
	int opened = 0, r;

	store__pg_key_hex(f->net_lo, lohex);
	store__pg_key_hex(f->net_hi, hihex);
	if ((r = store__pg_read_begin(s, &opened)) != 0)
		return r;
	for (;;) {
		struct pg_params p = {0};
		PGresult *q = NULL;
		int n;

		store__pg_p_int(&p, f->since);
		store__pg_p_text(&p, lohex);
		store__pg_p_text(&p, hihex);
		store__pg_p_text(&p, f->addr);
		store__pg_p_int(&p, last_at);
		store__pg_p_int(&p, last_id);
		if ((r = store__pg_exec(s, PG_EVENTS_SINCE, sql_events, &p, PGX_ONESHOT, &q,
		                        "reading events")) != 0)
			break;
		n = PQntuples(q);
		for (int i = 0; i < n && r == 0; i++) {
			struct store_event *e;

			last_at = store__pg_i64(q, i, 12);
			last_id = store__pg_i64(q, i, 0);
			if ((r = load_event(q, i, &e)) != 0) {
				r = store__set_err(st, r, "reading events: out of memory");
				break;
			}
			r = cb(ctx, e);
		}
		PQclear(q);
		if (r != 0 || n < EVENTS_PAGE)
			break;
	}
	store__pg_read_end(s, opened);
	return r;
}
