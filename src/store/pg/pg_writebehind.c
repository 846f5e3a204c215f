/*
 * pg_writebehind.c - PostgreSQL's write-behind layer: the rows a write
 * transaction stores wait in memory and go to the server in bulk, and the
 * state that makes this safe lives here.  Every writer slot (pg_write.c,
 * pg_history.c, pg_findings.c) follows the rules below; so must a new one.
 *
 *  writer slot            COPY buffer (enum pg_copy: flushed in this order,
 *                         parents first)         then, at the flush
 *  ---------------------  ---------------------  -------------------------------
 *  host_upsert, hinted -> [0 PC_HOSTS     ] ---> pg_temp.scandb_stage_hosts,
 *                                                 INSERT .. HOST_MERGE into hosts
 *                                                 (each id as staged, or ETRANSIENT)
 *  host_scan_insert    -> [1 PC_HOST_SCANS] ---> COPY host_scans
 *  port_insert         -> [2 PC_PORTS     ] ---> COPY ports
 *  extraports_insert   -> [3 PC_EXTRAPORTS] ---> COPY extraports
 *  script_insert       -> [4 PC_SCRIPTS   ] ---> COPY scripts
 *  event_insert        -> [5 PC_EVENTS    ] ---> COPY host_events (ids given here)
 *  port_state_save new -> [6 PC_PS_NEW    ] ---> COPY host_state
 *  port_state_save old -> [7 PC_PS_STAGE  ] ---> pg_temp.scandb_stage_port_state,
 *                                                 upsert into host_state
 *
 *  host_upsert, not hinted, run_script_insert, findings, jobs: statements,
 *  sent at once (after the flush their flags ask for).
 *
 * When the buffers are sent (flush_upto(last): buffers 0..last, a prefix,
 * so nothing left behind references a row not yet sent):
 *
 *   store__pg_exec(flags)  before every statement, by its flags:
 *       0                     all buffers    (the default: it may read any)
 *       PGX_FLUSH_SCANS       0..PC_SCRIPTS  (reads hosts, scans and children)
 *       PGX_FLUSH_HOST_SCANS  0..PC_HOST_SCANS
 *       PGX_FLUSH_HOSTS       PC_HOSTS       (needs only the hosts rows)
 *       PGX_NOFLUSH           none           (reads nothing buffered)
 *   store__pg_row_end         all, once the buffers hold COPY_FLUSH_AT bytes
 *   store__pg_adm_exec        all (operations' SQL may read anything)
 *   tx_commit                 all, then store__pg_sync_ids, then COMMIT
 *   a failed flush            none: every buffer is dropped (the
 *                             transaction failed; commit refuses)
 *   tx_begin / commit / rollback  store__pg_wb_reset: all dropped, every
 *                             cache below forgotten
 *
 * What each writer must do:
 *
 *  1. Check its own values: a buffered row meets the table's CHECKs only
 *     at the flush, far from its cause.  A row is refused whole
 *     (store__pg_row_start / _end roll the buffer back).
 *  2. Give each statement the narrowest flag that covers every table it
 *     reads; PGX_NOFLUSH only when it can read no buffered row.  A
 *     statement that needs only its host's row to exist (findings) uses
 *     store__pg_host_flags(host_id): PGX_FLUSH_HOSTS while that host is a
 *     new one whose row still waits in PC_HOSTS (id >= staged_new_lo),
 *     else PGX_NOFLUSH.
 *  3. Ids are max(id) + 1 under the writers' lock, as SQLite's rowids:
 *       hosts, host_events  store__pg_next_id: read once per transaction,
 *                           then counted here (the caller advances the
 *                           count for each id it uses);
 *       findings            in its INSERT (pg_findings.c): a finding may be
 *                           stored outside a write transaction -- no
 *                           writers' lock, no transaction to count in --
 *                           and only the statement knows whether its
 *                           ON CONFLICT (fingerprint) took an id at all;
 *       jobs                greatest(job_id_high_water, max(id)) + 1
 *                           (pg_write.c): a job id is never used twice,
 *                           even after prune removed the job.
 *     A slot that took ids sets ids_taken; tx_commit then runs
 *     store__pg_sync_ids (each identity sequence set to its table's
 *     max(id), so a row inserted with the column default does not
 *     collide) before COMMIT; job_insert outside a transaction runs it
 *     at once.
 *  4. The findings cache (fcache: one host's findings, read by
 *     history_load with the host, answered by findings_of_host): a slot
 *     that writes findings (finding_upsert, finding_set_status) clears it
 *     first (store__pg_fcache_clear); host_upsert of a new host sets it
 *     valid and empty (a new host has no findings).
 *  5. The hint (store_int.h "protocols"): history_load(addr) leaves
 *     {addr, found, id}; the next host_upsert consumes it whatever the
 *     address.  Same address: the host's id is known (found: its id; not
 *     found: store__pg_next_id) and its upsert waits in PC_HOSTS; any
 *     other: the upsert is a statement, sent at once.
 *  6. The block cache (pg_history.c: the hosts of 4096 addresses, read at
 *     once under the lock): host_upsert adds each host it writes
 *     (store__pg_block_add), so that history_load never answers "never
 *     seen" for a host this transaction created, and reads such a host
 *     after a flush.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"

#define COPY_BUF_MAX  ((size_t)64 << 20) /* one table's buffered rows */
#define COPY_FLUSH_AT ((size_t)4 << 20)  /* all tables: send them */
#define COPY_CHUNK    ((size_t)1 << 20)

/* ---- the buffers and the caches of a handle ------------------------------------- */

void store__pg_wb_init(struct store_pg *s)
{
	for (int i = 0; i < PC__COUNT; i++)
		buf_init(&s->copy[i], COPY_BUF_MAX);
}

void store__pg_wb_free(struct store_pg *s)
{
	for (int i = 0; i < PC__COUNT; i++)
		buf_free(&s->copy[i]);
	store__pg_fcache_clear(s);
	store__pg_block_free(s);
}

void store__pg_wb_reset(struct store_pg *s)
{
	for (int i = 0; i < PC__COUNT; i++)
		buf_reset(&s->copy[i]);
	s->buffered = 0;
	s->hint.valid = 0;
	store__pg_fcache_clear(s);
	s->next_host_id = 0;
	s->ids_taken = 0;
	s->staged_new_lo = 0;
	store__pg_block_reset(s);
	s->next_event_id = 0;
}

void store__pg_fcache_clear(struct store_pg *s)
{
	store_finding_refs_free(s->fcache.v, s->fcache.n);
	s->fcache.v = NULL;
	s->fcache.n = 0;
	s->fcache.valid = 0;
	s->fcache.host_id = 0;
}

/* ---- sending the buffers ---------------------------------------------------------- */

static const char *const copy_sql[PC__COUNT] = {
    [PC_HOSTS] = "COPY pg_temp.scandb_stage_hosts (id, addr, addr_key, status, mac, mac_vendor,"
                 " hostnames, os_name, os_accuracy, seen, job_id) FROM STDIN",
    [PC_HOST_SCANS] = "COPY host_scans (job_id, host_id, status, reason, reason_ttl, starttime,"
                      " endtime, scanned_at, mac, mac_vendor, hostnames, os_name, os_accuracy,"
                      " os_vendor, os_family, os_gen, os_type, os_cpe, uptime, lastboot,"
                      " distance, os_matches, state) FROM STDIN",
    [PC_PORTS] = "COPY ports (job_id, host_id, protocol, port, state, reason, reason_ttl,"
                 " service, product, version, extrainfo, ostype, method, conf, tunnel, cpe)"
                 " FROM STDIN",
    [PC_EXTRAPORTS] = "COPY extraports (job_id, host_id, state, count, reasons) FROM STDIN",
    [PC_SCRIPTS] = "COPY scripts (job_id, host_id, protocol, port, script_id, output) FROM STDIN",
    [PC_EVENTS] = "COPY host_events (id, host_id, job_id, prev_job_id, kind, protocol, port,"
                  " old_value, new_value, at, detail) FROM STDIN",
    [PC_PS_NEW] = "COPY host_state (host_id, os, mac, hostnames, ports) FROM STDIN",
    [PC_PS_STAGE] = "COPY pg_temp.scandb_stage_port_state (host_id, os, mac, hostnames, ports)"
                    " FROM STDIN",
};

static const char *const copy_what[PC__COUNT] = {
    [PC_HOSTS] = "staging host upserts", [PC_HOST_SCANS] = "storing host scans",
    [PC_PORTS] = "storing ports",        [PC_EXTRAPORTS] = "storing extraports",
    [PC_SCRIPTS] = "storing scripts",    [PC_EVENTS] = "storing events",
    [PC_PS_NEW] = "storing port states", [PC_PS_STAGE] = "staging port states",
};

/* Session-local staging tables for the rows that are upserts. */
static int make_temp_tables(struct store_pg *s)
{
	int r = store__pg_exec_simple(
	    s,
	    "CREATE TEMP TABLE IF NOT EXISTS scandb_stage_hosts (id bigint, addr inet,"
	    " addr_key bytea, status text, mac text, mac_vendor text, hostnames jsonb,"
	    " os_name text, os_accuracy integer, seen timestamptz, job_id bigint)"
	    " ON COMMIT DELETE ROWS;"
	    "CREATE TEMP TABLE IF NOT EXISTS scandb_stage_port_state (host_id bigint,"
	    " os text, mac text, hostnames text, ports jsonb) ON COMMIT DELETE ROWS",
	    "creating the staging tables");

	if (r == 0)
		s->temp_ready = 1;
	return r;
}

static int copy_send(struct store_pg *s, enum pg_copy c)
{
	struct buf *b = &s->copy[c];
	PGresult *res = PQexec(s->conn, copy_sql[c]);
	int r = 0;

	if (PQresultStatus(res) != PGRES_COPY_IN) {
		r = store__pg_err(s, res, store__pg_result_code(s, res), copy_what[c]);
		PQclear(res);
		return r;
	}
	PQclear(res);
	for (size_t off = 0; off < b->len;) {
		size_t n = b->len - off < COPY_CHUNK ? b->len - off : COPY_CHUNK;
		if (PQputCopyData(s->conn, b->data + off, (int)n) != 1) {
			r = store__pg_err(s, NULL, SDB_ETRANSIENT, copy_what[c]);
			break;
		}
		off += n;
	}
	if (PQputCopyEnd(s->conn, r ? "client error" : NULL) != 1 && r == 0)
		r = store__pg_err(s, NULL, SDB_ETRANSIENT, copy_what[c]);
	while ((res = PQgetResult(s->conn)) != NULL) {
		if (r == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = store__pg_err(s, res, store__pg_result_code(s, res), copy_what[c]);
		PQclear(res);
	}
	return r;
}

/* The staged rows are read by a plain scan and then the staging table is
 * emptied with TRUNCATE, not taken with DELETE ... RETURNING: a deleted row
 * stays in the table until the transaction ends (no one may prune it before
 * then), so with DELETE every flush of a transaction scanned the dead rows
 * of all flushes before it, and a flush per findings statement made an
 * import quadratic (issue 18).  After the first TRUNCATE of a transaction
 * (which gives the table a new file) PostgreSQL empties the file in place:
 * each flush costs its own rows only. */
static const char sql_stage_hosts_apply[] =
    "WITH s AS (SELECT * FROM pg_temp.scandb_stage_hosts),"
    " u AS (INSERT INTO hosts AS h (" HOST_COLS_INS ")"
    "  SELECT id, addr, addr_key, status, mac, mac_vendor, hostnames, os_name, os_accuracy,"
    "  seen, seen, job_id FROM s ORDER BY id" HOST_MERGE " RETURNING h.id, h.addr)"
    /* each host must have the id it was staged with (a hashed subplan:
     * no join of the two lists) */
    " SELECT u.addr::text, u.id FROM u WHERE u.id NOT IN (SELECT id FROM s) LIMIT 1";

/* The host_state rows of hosts that had one: replaced. */
static const char sql_stage_ps_apply[] =
    "INSERT INTO host_state (host_id, os, mac, hostnames, ports)"
    " SELECT host_id, os, mac, hostnames, ports FROM pg_temp.scandb_stage_port_state"
    " ON CONFLICT (host_id) DO UPDATE SET os = excluded.os, mac = excluded.mac,"
    " hostnames = excluded.hostnames, ports = excluded.ports";

static int apply_stage(struct store_pg *s, enum pg_copy c)
{
	PGresult *res = NULL;
	int r;

	if (c == PC_PS_STAGE) {
		if ((r = store__pg_exec(s, PG_STAGE_PS_APPLY, sql_stage_ps_apply, NULL, PGX_NOFLUSH,
		                        NULL, "saving port states")) != 0)
			return r;
		return store__pg_exec(s, PG_STAGE_PS_CLEAR,
		                      "TRUNCATE pg_temp.scandb_stage_port_state", NULL, PGX_NOFLUSH,
		                      NULL, "saving port states");
	}
	if ((r = store__pg_exec(s, PG_STAGE_HOSTS_APPLY, sql_stage_hosts_apply, NULL, PGX_NOFLUSH,
	                        &res, "storing hosts")) != 0)
		return r;
	if (PQntuples(res) > 0) {
		/* Another writer (not scandb: scandb's writers are serialised by
		 * the write lock) created the host since we looked. */
		r = store__set_err(&s->base, SDB_ETRANSIENT,
		                   "storing host %s: it was created by another writer at the same "
		                   "time (as id %s)",
		                   PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		if (s->in_tx)
			s->tx_failed = 1;
	}
	PQclear(res);
	if (r == 0)
		r = store__pg_exec(s, PG_STAGE_HOSTS_CLEAR, "TRUNCATE pg_temp.scandb_stage_hosts",
		                   NULL, PGX_NOFLUSH, NULL, "storing hosts");
	if (r == 0)
		s->staged_new_lo = 0;
	return r;
}

/* Send the buffers 0..last (a prefix: what they reference is sent before
 * them, and what stays buffered references only what was sent). */
static int flush_upto(struct store_pg *s, enum pg_copy last)
{
	int r = 0;

	if (!s->buffered)
		return 0;
	if ((s->copy[PC_HOSTS].len || s->copy[PC_PS_STAGE].len) && !s->temp_ready &&
	    (r = make_temp_tables(s)) != 0)
		goto fail;
	for (int c = 0; c <= (int)last; c++) {
		if (!s->copy[c].len)
			continue;
		if ((r = copy_send(s, (enum pg_copy)c)) != 0)
			goto fail;
		s->buffered -= s->copy[c].len;
		buf_reset(&s->copy[c]);
		if ((c == PC_HOSTS || c == PC_PS_STAGE) &&
		    (r = apply_stage(s, (enum pg_copy)c)) != 0)
			goto fail;
	}
	if (last == PC__COUNT - 1)
		s->buffered = 0;
	return 0;
fail:
	/* the transaction failed: nothing buffered will be sent */
	for (int c = 0; c < PC__COUNT; c++)
		buf_reset(&s->copy[c]);
	s->buffered = 0;
	s->staged_new_lo = 0;
	return r;
}

int store__pg_flush(struct store_pg *s)
{
	return flush_upto(s, (enum pg_copy)(PC__COUNT - 1));
}

int store__pg_flush_for(struct store_pg *s, int flags)
{
	if ((flags & PGX_NOFLUSH) || !s->buffered)
		return 0;
	return flush_upto(s, (flags & PGX_FLUSH_SCANS)        ? PC_SCRIPTS
	                     : (flags & PGX_FLUSH_HOST_SCANS) ? PC_HOST_SCANS
	                     : (flags & PGX_FLUSH_HOSTS)      ? PC_HOSTS
	                                                      : (enum pg_copy)(PC__COUNT - 1));
}

int store__pg_host_flags(const struct store_pg *s, int64_t host_id)
{
	return s->staged_new_lo && host_id >= s->staged_new_lo ? PGX_FLUSH_HOSTS : PGX_NOFLUSH;
}

/* ---- rows into the buffers --------------------------------------------------------- */

size_t store__pg_row_start(struct store_pg *s, enum pg_copy c)
{
	return s->copy[c].len;
}

int store__pg_row_end(struct store_pg *s, enum pg_copy c, size_t start, int r, const char *what)
{
	struct buf *b = &s->copy[c];

	if (r == 0)
		r = buf_append_char(b, '\n');
	if (r != 0) {
		b->len = start;
		if (b->data)
			b->data[start] = '\0';
		return store__set_err(&s->base, r, "%s: %s", what,
		                      r == SDB_ETOOBIG ? "row too large to buffer"
		                                       : "out of memory");
	}
	s->buffered += b->len - start;
	if (s->buffered >= COPY_FLUSH_AT)
		return store__pg_flush(s);
	return 0;
}

/* ---- ids taken as max(id) + 1 ------------------------------------------------------ */

/* The tables whose ids store__pg_next_id gives, with the count of each. */
#define NEXT_ID_SQL(table) "SELECT coalesce(max(id), 0) + 1 FROM " table
static const struct {
	enum pg_stmt stmt;
	const char *sql;
	const char *what;
} next_ids[PG_ID__COUNT] = {
    [PG_ID_HOST] = {PG_HOST_NEXT_ID, NEXT_ID_SQL("hosts"), "allocating a host id"},
    [PG_ID_EVENT] = {PG_EVENT_NEXT_ID, NEXT_ID_SQL("host_events"), "allocating an event id"},
};

int store__pg_next_id(struct store_pg *s, enum pg_id_table t, int64_t *id)
{
	int64_t *next = t == PG_ID_HOST ? &s->next_host_id : &s->next_event_id;
	/* read after the buffered events are in (an event's id is given
	 * when it is buffered); staged host rows carry ids read before */
	int flags = t == PG_ID_EVENT && s->copy[PC_EVENTS].len ? 0 : PGX_NOFLUSH;
	PGresult *res = NULL;
	int r;

	if (!*next) {
		if ((r = store__pg_exec(s, next_ids[t].stmt, next_ids[t].sql, NULL, flags, &res,
		                        "%s", next_ids[t].what)) != 0)
			return r;
		*next = store__pg_i64(res, 0, 0);
		PQclear(res);
		s->ids_taken = 1;
	}
	*id = *next;
	return 0;
}

int store__pg_sync_ids(struct store_pg *s)
{
	PGresult *res = NULL;
	int r = store__pg_exec(
	    s, PG_SEQ_SYNC,
	    "SELECT setval(pg_get_serial_sequence('jobs', 'id'), (SELECT max(id) FROM jobs)),"
	    " setval(pg_get_serial_sequence('hosts', 'id'), (SELECT max(id) FROM hosts)),"
	    " setval(pg_get_serial_sequence('host_events', 'id'),"
	    " (SELECT max(id) FROM host_events)),"
	    " setval(pg_get_serial_sequence('findings', 'id'), (SELECT max(id) FROM findings))",
	    NULL, PGX_NOFLUSH, &res, "moving the id sequences past the ids taken");

	PQclear(res);
	if (r == 0)
		s->ids_taken = 0;
	return r;
}
