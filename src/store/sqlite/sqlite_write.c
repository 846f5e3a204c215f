/*
 * sqlite_write.c - what a job saw, written (store_int.h host_upsert,
 * host_scan_insert, port_insert, extraports_insert, script_insert,
 * run_script_insert): the host upsert with its merge rule (the newest
 * observation by scan time wins) and the update by id that history_load's
 * hint allows, and one insert per host_scans, ports, extraports, scripts
 * and run_scripts row.  Every statement is cached: the import hot path is
 * one bind/step/reset per row.
 */
#include "store/sqlite/sqlite_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/error.h"
#include "store/store_sql.h"

/* Shorter local names. */
#define bind_text store__sqlite_bind_text
#define bind_opt  store__sqlite_bind_opt_int
#define bind_time store__sqlite_bind_time

/* The host merge rule (store/store_sql.h), V(col) naming the new value:
 * excluded.col in the upsert, the bound parameter in the update by id (a
 * host the history just loaded). */
/* clang-format off */
#define NEW_EXCLUDED(col) "excluded." #col
#define NEW_PARAM(col) NEW_PARAM_##col
#define NEW_PARAM_status "?4"
#define NEW_PARAM_mac "?5"
#define NEW_PARAM_mac_vendor "?6"
#define NEW_PARAM_hostnames "coalesce(?7, '[]')"
#define NEW_PARAM_os_name "?8"
#define NEW_PARAM_os_accuracy "?9"
#define NEW_PARAM_first_seen "?10"
#define NEW_PARAM_last_seen "?10"
#define NEW_PARAM_last_job_id "?11"
#define STORED(col) "hosts." #col
#define HOST_MERGE_SET(V) STORE_SQL_HOST_MERGE_SET(V, STORED, "'[]'", "0", "min", "max")
/* clang-format on */

static const char sql_host_upsert[] =
    "INSERT INTO hosts (addr, addr_key, family, status, mac, mac_vendor, hostnames,"
    " os_name, os_accuracy, first_seen, last_seen, last_job_id)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, coalesce(?7, '[]'), ?8, ?9, ?10, ?10, ?11)"
    " ON CONFLICT (addr) DO UPDATE SET" HOST_MERGE_SET(NEW_EXCLUDED) " RETURNING id";

/* (?1-?3 are the upsert's, unused here.) */
static const char sql_host_update[] =
    "UPDATE hosts SET" HOST_MERGE_SET(NEW_PARAM) " WHERE id = ?12 AND ?1 IS NOT NULL"
                                                 " AND ?2 IS NOT NULL AND ?3 IS NOT NULL";

int store__sqlite_host_upsert(struct store *st, int64_t job_id, int64_t seen_at,
                              const struct rec_host *h, int64_t *host_id)
{
	struct store_sqlite *s = store__sqlite(st);
	unsigned char key[16];
	sqlite3_stmt *stmt;
	char *names = NULL;
	int64_t hinted;
	int family, b = 0, rc = SQLITE_OK, r;

	if (addr_parse(h->addr, NULL, &family, key) != 0)
		return store__set_err(st, SDB_EPARSE, "host address '%s' is not an IP address",
		                      h->addr);
	if ((r = store__hostnames_json(&s->base, h, &names)) != 0)
		return r;
	/* the host the history just loaded: updated by id, no search by address */
	hinted = s->hint_id > 0 && strcmp(s->hint_addr, h->addr) == 0 ? s->hint_id : 0;
	s->hint_id = 0;
	r = hinted ? store__sqlite_stmt(s, SQ_HOST_UPDATE, sql_host_update, &stmt)
	           : store__sqlite_stmt(s, SQ_HOST_UPSERT, sql_host_upsert, &stmt);
	if (r != 0)
		goto out;
	b |= bind_text(stmt, 1, h->addr);
	b |= sqlite3_bind_blob(stmt, 2, key, sizeof(key), SQLITE_STATIC);
	b |= sqlite3_bind_int(stmt, 3, family);
	b |= bind_text(stmt, 4, rec_host_status_name(h->status));
	b |= bind_text(stmt, 5, h->mac);
	b |= bind_text(stmt, 6, h->mac ? h->mac_vendor : NULL);
	b |= bind_text(stmt, 7, names);
	b |= bind_text(stmt, 8, h->has_os ? h->os.name : NULL);
	b |= bind_opt(stmt, 9, h->has_os && h->os.name ? h->os.accuracy : -1);
	b |= sqlite3_bind_int64(stmt, 10, seen_at);
	b |= sqlite3_bind_int64(stmt, 11, job_id);
	if (hinted) {
		b |= sqlite3_bind_int64(stmt, 12, hinted);
		if (!b && (rc = sqlite3_step(stmt)) == SQLITE_DONE) {
			if (sqlite3_changes(s->db) != 1)
				rc = SQLITE_NOTFOUND; /* under the write lock: cannot be */
			*host_id = hinted;
		}
	} else if (!b && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*host_id = sqlite3_column_int64(stmt, 0);
		rc = sqlite3_step(stmt);
	}
	if (b || rc != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc, "storing host %s",
		                      h->addr);
	store__sqlite_done(stmt);
out:
	free(names);
	return r;
}

int store__sqlite_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id,
                                   int64_t seen_at, const struct rec_host *h, const char *state)
{
	struct store_sqlite *s = store__sqlite(st);
	const struct rec_os *os = h->has_os ? &h->os : NULL;
	sqlite3_stmt *stmt;
	char *names = NULL, *osm = NULL;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__hostnames_json(&s->base, h, &names)) != 0 ||
	    (r = store__osmatches_json(&s->base, h, &osm)) != 0)
		goto out;
	if ((r = store__sqlite_stmt(
	         s, SQ_HOST_SCAN_INSERT,
	         "INSERT INTO host_scans (job_id, host_id, status, reason,"
	         " reason_ttl, starttime, endtime, scanned_at, mac, mac_vendor,"
	         " hostnames, os_name, os_accuracy, os_vendor, os_family, os_gen,"
	         " os_type, os_cpe, uptime, lastboot, distance, os_matches, state)"
	         " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
	         " coalesce(?11, '[]'), ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,"
	         " ?20, ?21, ?22, ?23)",
	         &stmt)) != 0)
		goto out;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= sqlite3_bind_int64(stmt, 2, host_id);
	b |= bind_text(stmt, 3, rec_host_status_name(h->status));
	b |= bind_text(stmt, 4, h->reason);
	b |= bind_opt(stmt, 5, h->reason_ttl);
	b |= bind_time(stmt, 6, h->starttime);
	b |= bind_time(stmt, 7, h->endtime);
	b |= sqlite3_bind_int64(stmt, 8, seen_at);
	b |= bind_text(stmt, 9, h->mac);
	b |= bind_text(stmt, 10, h->mac_vendor);
	b |= bind_text(stmt, 11, names);
	b |= bind_text(stmt, 12, os ? os->name : NULL);
	b |= bind_opt(stmt, 13, os ? os->accuracy : -1);
	b |= bind_text(stmt, 14, os ? os->vendor : NULL);
	b |= bind_text(stmt, 15, os ? os->family : NULL);
	b |= bind_text(stmt, 16, os ? os->gen : NULL);
	b |= bind_text(stmt, 17, os ? os->type : NULL);
	b |= bind_text(stmt, 18, os ? os->cpe : NULL);
	b |= bind_opt(stmt, 19, h->uptime_seconds);
	b |= bind_text(stmt, 20, h->lastboot);
	b |= bind_opt(stmt, 21, h->distance);
	b |= bind_text(stmt, 22, osm);
	b |= bind_text(stmt, 23, state);
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing what job %lld saw of host %s", (long long)job_id,
		                      h->addr);
	store__sqlite_done(stmt);
out:
	free(names);
	free(osm);
	return r;
}

int store__sqlite_port_insert(struct store *st, int64_t job_id, int64_t host_id,
                              const struct rec_port *p)
{
	struct store_sqlite *s = store__sqlite(st);
	const struct rec_service *sv = p->has_service ? &p->service : NULL;
	sqlite3_stmt *stmt;
	char *cpe = NULL;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__cpes_json(&s->base, p, &cpe)) != 0)
		return r;
	if ((r = store__sqlite_stmt(s, SQ_PORT_INSERT,
	                            "INSERT INTO ports (job_id, host_id, protocol, port, state,"
	                            " reason, reason_ttl, service, product, version, extrainfo,"
	                            " ostype, method, conf, tunnel, cpe)"
	                            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	                            " ?13, ?14, ?15, ?16)",
	                            &stmt)) != 0)
		goto out;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= sqlite3_bind_int64(stmt, 2, host_id);
	b |= bind_text(stmt, 3, rec_proto_name(p->proto));
	b |= sqlite3_bind_int(stmt, 4, p->port);
	b |= bind_text(stmt, 5, rec_port_state_name(p->state));
	b |= bind_text(stmt, 6, p->reason);
	b |= bind_opt(stmt, 7, p->reason_ttl);
	b |= bind_text(stmt, 8, sv ? sv->name : NULL);
	b |= bind_text(stmt, 9, sv ? sv->product : NULL);
	b |= bind_text(stmt, 10, sv ? sv->version : NULL);
	b |= bind_text(stmt, 11, sv ? sv->extrainfo : NULL);
	b |= bind_text(stmt, 12, sv ? sv->ostype : NULL);
	b |= bind_text(stmt, 13, sv ? sv->method : NULL);
	b |= bind_opt(stmt, 14, sv ? sv->conf : -1);
	b |= bind_text(stmt, 15, sv ? sv->tunnel : NULL);
	b |= bind_text(stmt, 16, cpe);
	/* The message is built only on failure: this is the hot path. */
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing port %d/%s of host %lld in job %lld", p->port,
		                      rec_proto_name(p->proto), (long long)host_id,
		                      (long long)job_id);
	store__sqlite_done(stmt);
out:
	free(cpe);
	return r;
}

int store__sqlite_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                                    const struct rec_extraports *e)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__sqlite_stmt(
	         s, SQ_EXTRAPORTS_INSERT,
	         "INSERT INTO extraports (job_id, host_id, state, count, reasons)"
	         " VALUES (?1, ?2, ?3, ?4, ?5)",
	         &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= sqlite3_bind_int64(stmt, 2, host_id);
	b |= bind_text(stmt, 3, rec_port_state_name(e->state));
	b |= sqlite3_bind_int64(stmt, 4, e->count);
	b |= bind_text(stmt, 5, e->reasons);
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing extraports (%s) of host %lld in job %lld",
		                      rec_port_state_name(e->state), (long long)host_id,
		                      (long long)job_id);
	store__sqlite_done(stmt);
	return r;
}

int store__sqlite_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                                const struct rec_port *port, const struct rec_script *sc)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__sqlite_stmt(s, SQ_SCRIPT_INSERT,
	                            "INSERT INTO scripts (job_id, host_id, protocol, port,"
	                            " script_id, output) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	                            &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= sqlite3_bind_int64(stmt, 2, host_id);
	b |= bind_text(stmt, 3, port ? rec_proto_name(port->proto) : NULL);
	b |= port ? sqlite3_bind_int(stmt, 4, port->port) : sqlite3_bind_null(stmt, 4);
	b |= bind_text(stmt, 5, sc->id);
	b |= bind_text(stmt, 6, sc->output ? sc->output : "");
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing script %.64s of host %lld in job %lld", sc->id,
		                      (long long)host_id, (long long)job_id);
	store__sqlite_done(stmt);
	return r;
}

int store__sqlite_run_script_insert(struct store *st, int64_t job_id, int post, int seq,
                                    const struct rec_script *sc)
{
	struct store_sqlite *s = store__sqlite(st);
	sqlite3_stmt *stmt;
	int b = 0, rc = SQLITE_OK, r;

	if ((r = store__sqlite_stmt(
	         s, SQ_RUN_SCRIPT_INSERT,
	         "INSERT INTO run_scripts (job_id, phase, seq, script_id, output)"
	         " VALUES (?1, ?2, ?3, ?4, ?5)",
	         &stmt)) != 0)
		return r;
	b |= sqlite3_bind_int64(stmt, 1, job_id);
	b |= bind_text(stmt, 2, post ? "post" : "pre");
	b |= sqlite3_bind_int(stmt, 3, seq);
	b |= bind_text(stmt, 4, sc->id);
	b |= bind_text(stmt, 5, sc->output ? sc->output : "");
	if (b || (rc = sqlite3_step(stmt)) != SQLITE_DONE)
		r = store__sqlite_err(s, b ? sqlite3_errcode(s->db) : rc,
		                      "storing %s-scan script %.64s of job %lld",
		                      post ? "post" : "pre", sc->id, (long long)job_id);
	store__sqlite_done(stmt);
	return r;
}
