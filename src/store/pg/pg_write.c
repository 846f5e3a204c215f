/*
 * pg_write.c - the job writer's slots on PostgreSQL: jobs (created,
 * progress, finished, found by content hash), reaping stale jobs, and what
 * a job saw (host upserts, host_scans, ports, extraports, scripts, run
 * scripts).  Their rows go through the write-behind layer
 * (pg_writebehind.c): read its header before changing any of them.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/error.h"

/* ---- jobs ------------------------------------------------------------------------ */

int store__pg_job_insert(struct store *st, const struct store_job_new *j, int64_t *id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_text(&p, store_job_kind_name(j->kind));
	store__pg_p_text(&p, j->source);
	store__pg_p_text(&p, store_job_status_name(j->status));
	store__pg_p_text(&p, j->args);
	store__pg_p_text(&p, j->worker_id);
	store__pg_p_int(&p, j->created_at);
	store__pg_p_time(&p, j->timeout_at);
	store__pg_p_text(&p, j->forced ? "true" : "false");
	if ((r = store__pg_exec(s, PG_JOB_INSERT,
	                        "INSERT INTO jobs (id, kind, source, status, args, worker_id,"
	                        " created_at, timeout_at, forced) VALUES ((SELECT"
	                        " greatest(last_id, coalesce((SELECT max(id) FROM jobs), 0))"
	                        " + 1 FROM job_id_high_water), $1::text, $2::text,"
	                        " $3::text, $4::text, $5::text, to_timestamp($6::bigint),"
	                        " to_timestamp($7::bigint), $8::boolean) RETURNING id",
	                        &p, 0, &res, "creating the job")) != 0)
		return r;
	*id = store__pg_i64(res, 0, 0);
	PQclear(res);
	s->ids_taken = 1;
	if (!s->in_tx && (r = store__pg_sync_ids(s)) != 0)
		return r;
	if (s->in_tx) {
		s->tx_job_id = *id;
		snprintf(s->tx_job_status, sizeof(s->tx_job_status), "%s",
		         store_job_status_name(j->status));
	}
	return 0;
}

int store__pg_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r, none;

	store__pg_p_int(&p, id);
	store__pg_p_int(&p, progress);
	store__pg_p_time(&p, timeout_at);
	if ((r = store__pg_exec(s, PG_JOB_PROGRESS,
	                        "UPDATE jobs SET progress = $2::integer,"
	                        " timeout_at = to_timestamp($3::bigint) WHERE id = $1::bigint",
	                        &p, 0, &res, "updating the progress of job %lld", (long long)id)) !=
	    0)
		return r;
	none = strcmp(PQcmdTuples(res), "0") == 0;
	PQclear(res);
	if (none)
		return store__set_err(st, SDB_ENOTFOUND, "no job with id %lld", (long long)id);
	return 0;
}

/* The final state, unless the same content is already held by another
 * unforced completed job (then nothing changes and that job is named).
 * Writers are serialised by the write lock, so the check and the update
 * cannot race between scandb processes; the partial unique index
 * jobs_content_hash refuses a duplicate from anyone else. */
static const char sql_job_finish[] =
    "WITH other AS (SELECT o.id FROM jobs o, jobs me"
    "  WHERE me.id = $1::bigint AND NOT me.forced AND $2::text = 'completed'"
    "  AND $7::text IS NOT NULL AND o.content_hash = $7::text AND NOT o.forced"
    "  AND o.status = 'completed' AND o.id <> $1::bigint ORDER BY o.id LIMIT 1),"
    " upd AS (UPDATE jobs SET status = $2::text, error = $3::text, scanner = $4::text,"
    "  scanner_version = $5::text, args = coalesce($6::text, args), content_hash = $7::text,"
    "  probed_scope = $8::text, started_at = to_timestamp($9::bigint),"
    "  completed_at = to_timestamp($10::bigint), elapsed = $11::double precision,"
    "  hosts_up = $12::integer, hosts_down = $13::integer, hosts_total = $14::integer,"
    "  ports_open = $15::integer, partial = $16::boolean,"
    "  progress = CASE WHEN $2::text = 'completed' THEN 100 ELSE progress END"
    "  WHERE id = $1::bigint AND NOT EXISTS (SELECT 1 FROM other) RETURNING id)"
    " SELECT (SELECT id FROM upd), (SELECT id FROM other)";

int store__pg_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                         int64_t *existing_id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	const char *status = store_job_status_name(f->status);
	int64_t done, other;
	int r;

	store__pg_p_int(&p, id);
	store__pg_p_text(&p, status);
	store__pg_p_text(&p, f->error);
	store__pg_p_text(&p, f->scanner);
	store__pg_p_text(&p, f->scanner_version);
	store__pg_p_text(&p, f->args);
	store__pg_p_text(&p, f->content_hash);
	store__pg_p_text(&p, f->probed_scope);
	store__pg_p_time(&p, f->started_at);
	store__pg_p_time(&p, f->completed_at);
	store__pg_p_double(&p, f->elapsed);
	store__pg_p_opt(&p, f->hosts_up);
	store__pg_p_opt(&p, f->hosts_down);
	store__pg_p_opt(&p, f->hosts_total);
	store__pg_p_opt(&p, f->ports_open);
	store__pg_p_text(&p, f->partial ? "true" : "false");
	if ((r = store__pg_exec(s, PG_JOB_FINISH, sql_job_finish, &p, 0, &res, "finishing job %lld",
	                        (long long)id)) != 0)
		return r;
	done = store__pg_i64(res, 0, 0);
	other = store__pg_i64(res, 0, 1);
	PQclear(res);
	if (other) {
		if (existing_id)
			*existing_id = other;
		return store__set_err(st, SDB_EEXISTS,
		                      "the same content was already stored as job %lld",
		                      (long long)other);
	}
	if (!done)
		return store__set_err(st, SDB_ENOTFOUND, "no job with id %lld", (long long)id);
	if (s->in_tx) {
		s->tx_job_id = id;
		snprintf(s->tx_job_status, sizeof(s->tx_job_status), "%s", status);
	}
	return 0;
}

int store__pg_job_find_by_hash(struct store *st, const char *hash, int64_t *id)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	*id = 0;
	store__pg_p_text(&p, hash);
	if ((r = store__pg_exec(s, PG_JOB_BY_HASH,
	                        "SELECT id FROM jobs WHERE content_hash = $1::text AND NOT forced"
	                        " AND status = 'completed' ORDER BY id LIMIT 1",
	                        &p, 0, &res, "looking up content hash %.12s", hash)) != 0)
		return r;
	if (PQntuples(res) == 1)
		*id = store__pg_i64(res, 0, 0);
	PQclear(res);
	if (!*id)
		return store__set_err(st, SDB_ENOTFOUND, "no completed job with content hash %.12s",
		                      hash);
	return 0;
}

/* ---- reaping stale jobs ---------------------------------------------------------- */

static int fail_in_tx(struct store_pg *s, const struct store__stale_job *v, size_t n, int64_t now,
                      int *count)
{
	for (size_t i = 0; i < n; i++) {
		struct pg_params p = {0};
		PGresult *up = NULL;
		int r;

		store__pg_p_int(&p, v[i].id);
		store__pg_p_text(&p, v[i].why);
		store__pg_p_int(&p, v[i].timed_out);
		store__pg_p_int(&p, now);
		if ((r = store__pg_exec(s, PG_JOB_FAIL,
		                        "UPDATE jobs SET status = 'failed', error = $2::text"
		                        " WHERE id = $1::bigint AND status = 'running'"
		                        " AND ($3::integer = 0"
		                        " OR timeout_at < to_timestamp($4::bigint))",
		                        &p, 0, &up, "reaping stale jobs: marking a job failed")) !=
		    0)
			return r;
		*count += atoi(PQcmdTuples(up));
		PQclear(up);
	}
	return 0;
}

int store__pg_jobs_fail(struct store *st, const struct store__stale_job *v, size_t n, int64_t now,
                        int *count)
{
	struct store_pg *s = store__pg(st);
	int r = 0;

	/* (store_jobs_reap_stale refuses to run inside a transaction.)  A
	 * transaction of its own, retried whole when it is lost.  It does
	 * not queue for the write lock (`scandb jobs` is a reader and must not
	 * wait for an import): its UPDATEs re-check status and timeout_at
	 * under their row locks, so concurrent reapers and heartbeats agree. */
	for (int attempt = 0; attempt <= STORE_RETRY_MAX; attempt++) {
		*count = 0;
		if (PQstatus(s->conn) != CONNECTION_OK)
			store__pg_reconnect(s);
		store__pg_clear_tx_state(s);
		if ((r = store__pg_exec_simple(s, "BEGIN", "reaping stale jobs")) != 0) {
			if (r != SDB_ETRANSIENT)
				return r;
			store__backoff(attempt);
			continue;
		}
		s->in_tx = 1;
		if ((r = fail_in_tx(s, v, n, now, count)) == 0 &&
		    (r = store__pg_tx_commit(st)) == 0)
			return 0;
		store__pg_tx_rollback(st);
		if (r != SDB_ETRANSIENT)
			break;
		store__backoff(attempt);
	}
	*count = 0;
	return r;
}

/* The host got id `id`: if it is the next free one, it is taken. */
static void took_host_id(struct store_pg *s, int64_t id)
{
	if (id == s->next_host_id)
		s->next_host_id++;
}

static const char sql_host_upsert[] =
    "INSERT INTO hosts AS h (" HOST_COLS_INS ") VALUES ($1::bigint, $2::inet, $3::bytea,"
    " $4::text, $5::text, $6::text, coalesce($7::jsonb, '[]'::jsonb), $8::text, $9::integer,"
    " to_timestamp($10::bigint), to_timestamp($10::bigint), $11::bigint)" HOST_MERGE
    " RETURNING id";

/* The upsert of a host history_load just read (or found absent) under
 * the write lock: its id is known, so the row can wait in the PC_HOSTS
 * buffer (flushed before anything that could read it; pg_writebehind.c). */
static int host_stage(struct store_pg *s, int64_t job_id, int64_t seen_at, const struct rec_host *h,
                      const char *keyhex, const char *names, int64_t id)
{
	const char *os = h->has_os ? h->os.name : NULL;
	struct buf *b = &s->copy[PC_HOSTS];
	size_t start = store__pg_row_start(s, PC_HOSTS);
	int e = 0;

	e |= store__pg_f_int(b, 1, id);
	e |= store__pg_f_text(b, 0, h->addr);
	e |= store__pg_f_text(b, 0, keyhex);
	e |= store__pg_f_text(b, 0, rec_host_status_name(h->status));
	e |= store__pg_f_text(b, 0, h->mac);
	e |= store__pg_f_text(b, 0, h->mac ? h->mac_vendor : NULL);
	e |= store__pg_f_text(b, 0, names ? names : "[]");
	e |= store__pg_f_text(b, 0, os);
	e |= store__pg_f_opt(b, 0, os ? h->os.accuracy : -1);
	e |= store__pg_f_ts(b, 0, seen_at);
	e |= store__pg_f_int(b, 0, job_id);
	if (!s->hint.found) {
		took_host_id(s, id);
		if (!s->staged_new_lo)
			s->staged_new_lo = id;
		/* a new host has no findings yet */
		store__pg_fcache_clear(s);
		s->fcache.host_id = id;
		s->fcache.valid = 1;
	}
	return store__pg_row_end(s, PC_HOSTS, start, e, "storing a host");
}

/* The upsert of a host without a hint, as one statement now: `id` is
 * the next free id, used if the host is new. */
static int host_upsert_now(struct store_pg *s, int64_t job_id, int64_t seen_at,
                           const struct rec_host *h, const char *keyhex, const char *names,
                           int64_t id, int64_t *host_id)
{
	const char *os = h->has_os ? h->os.name : NULL;
	struct pg_params p = {0};
	PGresult *res = NULL;
	int r;

	store__pg_p_int(&p, id);
	store__pg_p_text(&p, h->addr);
	store__pg_p_text(&p, keyhex);
	store__pg_p_text(&p, rec_host_status_name(h->status));
	store__pg_p_text(&p, h->mac);
	store__pg_p_text(&p, h->mac ? h->mac_vendor : NULL);
	store__pg_p_text(&p, names);
	store__pg_p_text(&p, os);
	store__pg_p_opt(&p, os ? h->os.accuracy : -1);
	store__pg_p_int(&p, seen_at);
	store__pg_p_int(&p, job_id);
	/* only staged host rows could matter to it (buffered children of
	 * other hosts cannot) */
	if ((r = store__pg_exec(s, PG_HOST_UPSERT, sql_host_upsert, &p,
	                        s->copy[PC_HOSTS].len ? 0 : PGX_NOFLUSH, &res, "storing host %s",
	                        h->addr)) != 0)
		return r;
	*host_id = store__pg_i64(res, 0, 0);
	PQclear(res);
	took_host_id(s, *host_id);
	return 0;
}

/* Consumes the hint history_load left (pg_writebehind.c rule 5). */
int store__pg_host_upsert(struct store *st, int64_t job_id, int64_t seen_at,
                          const struct rec_host *h, int64_t *host_id)
{
	struct store_pg *s = store__pg(st);
	unsigned char key[16];
	char keyhex[35], *names = NULL;
	int family, r, hinted;
	int64_t id = 0;

	hinted = s->hint.valid && strcmp(s->hint.addr, h->addr) == 0;
	s->hint.valid = 0;
	if (addr_parse(h->addr, NULL, &family, key) != 0)
		return store__set_err(st, SDB_EPARSE, "host address '%s' is not an IP address",
		                      h->addr);
	if ((r = store__hostnames_json(&s->base, h, &names)) != 0)
		return r;
	store__pg_key_hex(key, keyhex);
	if ((r = store__pg_block_add(s, key)) != 0)
		goto out;
	if (hinted && s->hint.found)
		id = s->hint.id;
	else if ((r = store__pg_next_id(s, PG_ID_HOST, &id)) != 0)
		goto out;
	if (hinted) {
		*host_id = id;
		r = host_stage(s, job_id, seen_at, h, keyhex, names, id);
	} else {
		r = host_upsert_now(s, job_id, seen_at, h, keyhex, names, id, host_id);
	}
out:
	free(names);
	return r;
}

int store__pg_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
                               const struct rec_host *h, const char *state)
{
	struct store_pg *s = store__pg(st);
	const struct rec_os *os = h->has_os ? &h->os : NULL;
	struct buf *b = &s->copy[PC_HOST_SCANS];
	char *names = NULL, *osm = NULL, what[128];
	size_t start;
	int e = 0, r;

	if ((r = store__hostnames_json(&s->base, h, &names)) != 0)
		return r;
	if ((r = store__osmatches_json(&s->base, h, &osm)) != 0) {
		free(names);
		return r;
	}
	start = store__pg_row_start(s, PC_HOST_SCANS);
	e |= store__pg_f_int(b, 1, job_id);
	e |= store__pg_f_int(b, 0, host_id);
	e |= store__pg_f_text(b, 0, rec_host_status_name(h->status));
	e |= store__pg_f_text(b, 0, h->reason);
	e |= store__pg_f_opt(b, 0, h->reason_ttl);
	e |= store__pg_f_time(b, 0, h->starttime);
	e |= store__pg_f_time(b, 0, h->endtime);
	e |= store__pg_f_ts(b, 0, seen_at);
	e |= store__pg_f_text(b, 0, h->mac);
	e |= store__pg_f_text(b, 0, h->mac_vendor);
	e |= store__pg_f_text(b, 0, names ? names : "[]");
	e |= store__pg_f_text(b, 0, os ? os->name : NULL);
	e |= store__pg_f_opt(b, 0, os ? os->accuracy : -1);
	e |= store__pg_f_text(b, 0, os ? os->vendor : NULL);
	e |= store__pg_f_text(b, 0, os ? os->family : NULL);
	e |= store__pg_f_text(b, 0, os ? os->gen : NULL);
	e |= store__pg_f_text(b, 0, os ? os->type : NULL);
	e |= store__pg_f_text(b, 0, os ? os->cpe : NULL);
	e |= store__pg_f_opt(b, 0, (long)h->uptime_seconds);
	e |= store__pg_f_text(b, 0, h->lastboot);
	e |= store__pg_f_opt(b, 0, h->distance);
	e |= store__pg_f_text(b, 0, osm);
	e |= store__pg_f_text(b, 0, state);
	free(names);
	free(osm);
	snprintf(what, sizeof(what), "storing what job %lld saw of host %s", (long long)job_id,
	         h->addr);
	return store__pg_row_end(s, PC_HOST_SCANS, start, e, what);
}

int store__pg_port_insert(struct store *st, int64_t job_id, int64_t host_id,
                          const struct rec_port *p)
{
	struct store_pg *s = store__pg(st);
	const struct rec_service *sv = p->has_service ? &p->service : NULL;
	struct buf *b = &s->copy[PC_PORTS];
	char *cpe = NULL;
	size_t start;
	int e = 0, r;

	if ((r = store__cpes_json(&s->base, p, &cpe)) != 0)
		return r;
	start = store__pg_row_start(s, PC_PORTS);
	e |= store__pg_f_int(b, 1, job_id);
	e |= store__pg_f_int(b, 0, host_id);
	e |= store__pg_f_text(b, 0, rec_proto_name(p->proto));
	e |= store__pg_f_int(b, 0, p->port);
	e |= store__pg_f_text(b, 0, rec_port_state_name(p->state));
	e |= store__pg_f_text(b, 0, p->reason);
	e |= store__pg_f_opt(b, 0, p->reason_ttl);
	e |= store__pg_f_text(b, 0, sv ? sv->name : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->product : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->version : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->extrainfo : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->ostype : NULL);
	e |= store__pg_f_text(b, 0, sv ? sv->method : NULL);
	e |= store__pg_f_opt(b, 0, sv ? sv->conf : -1);
	e |= store__pg_f_text(b, 0, sv ? sv->tunnel : NULL);
	e |= store__pg_f_text(b, 0, cpe);
	free(cpe);
	return store__pg_row_end(s, PC_PORTS, start, e, "storing a port");
}

int store__pg_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                                const struct rec_extraports *x)
{
	struct store_pg *s = store__pg(st);
	struct buf *b = &s->copy[PC_EXTRAPORTS];
	size_t start;
	int e = 0;

	start = store__pg_row_start(s, PC_EXTRAPORTS);
	e |= store__pg_f_int(b, 1, job_id);
	e |= store__pg_f_int(b, 0, host_id);
	e |= store__pg_f_text(b, 0, rec_port_state_name(x->state));
	e |= store__pg_f_int(b, 0, x->count);
	e |= store__pg_f_text(b, 0, x->reasons);
	return store__pg_row_end(s, PC_EXTRAPORTS, start, e, "storing extraports");
}

int store__pg_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                            const struct rec_port *port, const struct rec_script *sc)
{
	struct store_pg *s = store__pg(st);
	struct buf *b = &s->copy[PC_SCRIPTS];
	size_t start;
	int e = 0;

	start = store__pg_row_start(s, PC_SCRIPTS);
	e |= store__pg_f_int(b, 1, job_id);
	e |= store__pg_f_int(b, 0, host_id);
	e |= store__pg_f_text(b, 0, port ? rec_proto_name(port->proto) : NULL);
	e |= port ? store__pg_f_int(b, 0, port->port) : store__pg_f_text(b, 0, NULL);
	e |= store__pg_f_text(b, 0, sc->id);
	e |= store__pg_f_text(b, 0, sc->output ? sc->output : "");
	return store__pg_row_end(s, PC_SCRIPTS, start, e, "storing a script");
}

int store__pg_run_script_insert(struct store *st, int64_t job_id, int post, int seq,
                                const struct rec_script *sc)
{
	struct store_pg *s = store__pg(st);
	struct pg_params p = {0};

	store__pg_p_int(&p, job_id);
	store__pg_p_text(&p, post ? "post" : "pre");
	store__pg_p_int(&p, seq);
	store__pg_p_text(&p, sc->id);
	store__pg_p_text(&p, sc->output ? sc->output : "");
	return store__pg_exec(s, PG_RUN_SCRIPT_INSERT,
	                      "INSERT INTO run_scripts (job_id, phase, seq, script_id, output)"
	                      " VALUES ($1::bigint, $2::text, $3::integer, $4::text, $5::text)",
	                      &p, PGX_NOFLUSH /* nothing buffered refers to it */, NULL,
	                      "storing %s-scan script %.64s of job %lld", post ? "post" : "pre",
	                      sc->id, (long long)job_id);
}
