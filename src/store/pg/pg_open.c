/*
 * pg_open.c - the PostgreSQL backend's entry (store_int.h, libpq): its
 * ops table, and opening and closing a handle (the connection's defaults,
 * its secrets kept out of messages, a refusal that says why).  The rest of
 * the backend, one file per job:
 *
 *   pg_exec.c         running statements: errors, retries, reconnecting
 *   pg_values.c       parameters, result columns and COPY fields as text
 *   pg_secrets.c      passwords kept out of messages
 *   pg_lock.c         the advisory locks (writers' lock in scan-time order)
 *   pg_tx.c           transactions, and a COMMIT whose connection died
 *   pg_writebehind.c  the write-behind layer: COPY buffers, flush flags,
 *                     ids as max(id) + 1, the caches writers must keep true
 *   pg_write.c        the job writer's slots (jobs, hosts, scans, ports...)
 *   pg_migrate.c      the migrations bookkeeping slots
 *   pg_history.c      history: loading a host, events, late scans
 *   pg_gone.c         gone hosts: job target ranges, misses
 *   pg_query.c        hosts, jobs and run scripts read back
 *   pg_findings.c     the findings slots
 *   pg_tags.c         the tags and notes slots
 *   pg_tokens.c       the API token slots (`scandb token`, `serve`)
 *   pg_admin_*.c      operations: SQL slots and stats, doctor, pg_dump /
 *                     pg_restore as child processes, backup and restore
 *
 * pg_int.h declares what they share.  No SQL text is ever built from
 * input: data travels as parameters or COPY rows.
 */
#include "store/pg/pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void pg_close(struct store *st)
{
	struct store_pg *s = store__pg(st);

	if (!s)
		return;
	if (s->conn)
		PQfinish(s->conn);
	store__pg_wb_free(s);
	store__pg_secrets_free(s);
	free(s);
}

/* The connection's keywords: our defaults first -- whatever the target
 * (or PG* variables) says wins over them (libpq keeps the last value of a
 * keyword) -- then the target as dbname (kw and val: room for 12). */
static void conn_params(const char *conninfo, const char **kw, const char **val)
{
	int n = 0;

	if (!getenv("PGAPPNAME")) {
		kw[n] = "application_name";
		val[n++] = "scandb";
	}
	if (!getenv("PGCONNECT_TIMEOUT")) {
		kw[n] = "connect_timeout";
		val[n++] = "10";
	}
	if (!getenv("PGCLIENTENCODING")) {
		kw[n] = "client_encoding";
		val[n++] = "UTF8";
	}
	/* a server that stops answering is noticed within about a minute */
	kw[n] = "keepalives_idle";
	val[n++] = "30";
	kw[n] = "keepalives_interval";
	val[n++] = "10";
	kw[n] = "keepalives_count";
	val[n++] = "3";
	kw[n] = "tcp_user_timeout";
	val[n++] = "60000";
	kw[n] = "dbname";
	val[n++] = conninfo;
	kw[n] = NULL;
	val[n] = NULL;
}

/* Why the connection failed, into errmsg.  A target libpq cannot parse
 * (opaque): its message may quote any part of it, a password included,
 * in forms the masking cannot know (a fragment of a malformed URI); say
 * less then. */
static void connect_failed(const struct store_pg *s, int opaque, char *errmsg, size_t errlen)
{
	char msg[700];

	if (opaque)
		snprintf(msg, sizeof(msg),
		         "the target is not a valid connection string or URI (libpq's "
		         "message is not shown: it may quote the password)");
	else
		store__pg_message(s, NULL, msg, sizeof(msg));
	snprintf(errmsg, errlen, "could not connect to PostgreSQL: %s", msg);
}

static int pg_open(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	struct store_pg *s = NULL;
	const char *conninfo = target;
	const char *kw[12], *val[12];
	char shown[512];
	int opaque = 0, r;

	*out = NULL;
	store_target_display(target, shown, sizeof(shown));
	if (strncmp(target, "postgresql://", 13) != 0 && strncmp(target, "postgres://", 11) != 0) {
		if (strncmp(target, "postgresql:", 11) == 0)
			conninfo = target + 11;
		else if (strncmp(target, "pg:", 3) == 0)
			conninfo = target + 3;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		snprintf(errmsg, errlen, "out of memory opening %s", shown);
		return SDB_ENOMEM;
	}
	s->base.ops = &store_pg_ops;
	store__pg_wb_init(s);
	conn_params(conninfo, kw, val);
	if ((r = store__pg_collect_secrets(s, target, conninfo, &opaque)) != 0) {
		if (r == SDB_ETOOBIG)
			snprintf(errmsg, errlen,
			         "%s: the target holds too many passwords to keep them out of "
			         "messages",
			         shown);
		else
			snprintf(errmsg, errlen, "out of memory connecting to %s", shown);
		goto fail;
	}
	if (s->nsecrets || opaque)
		store__no_core_dumps();
	s->conn = PQconnectdbParams(kw, val, 1);
	if (!s->conn) {
		snprintf(errmsg, errlen, "out of memory connecting to %s", shown);
		r = SDB_ENOMEM;
		goto fail;
	}
	if ((r = store__pg_remember_password(s)) != 0) {
		snprintf(errmsg, errlen, "out of memory connecting to %s", shown);
		goto fail;
	}
	if (PQstatus(s->conn) != CONNECTION_OK) {
		connect_failed(s, opaque, errmsg, errlen);
		r = SDB_EDB;
		goto fail;
	}
	PQsetNoticeProcessor(s->conn, store__pg_quiet_notices, NULL);
	*out = &s->base;
	return 0;
fail:
	pg_close(&s->base);
	return r;
}

/* ---- the ops table ----------------------------------------------------------------- */

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .migrations = store_pg_migrations,
    .nmigrations = &store_pg_nmigrations,
    .open = pg_open,
    .close = pg_close,
    .tx_begin = store__pg_tx_begin,
    .tx_commit = store__pg_tx_commit,
    .tx_rollback = store__pg_tx_rollback,
    .migrate_lock = store__pg_migrate_lock,
    .exec_script = store__pg_exec_script,
    .migrations_table = store__pg_migrations_table,
    .migrations_applied = store__pg_migrations_applied,
    .migration_record = store__pg_migration_record,
    .migration_unrecord = store__pg_migration_unrecord,
    .is_empty = store__pg_is_empty,
    .table_exists = store__pg_table_exists,
    .job_insert = store__pg_job_insert,
    .job_progress = store__pg_job_progress,
    .job_finish = store__pg_job_finish,
    .host_upsert = store__pg_host_upsert,
    .host_scan_insert = store__pg_host_scan_insert,
    .port_insert = store__pg_port_insert,
    .extraports_insert = store__pg_extraports_insert,
    .script_insert = store__pg_script_insert,
    .run_script_insert = store__pg_run_script_insert,
    .run_scripts = store__pg_run_scripts,
    .jobs_fail = store__pg_jobs_fail,
    .job_find_by_hash = store__pg_job_find_by_hash,
    .host_id = store__pg_host_id,
    .tag_set = store__pg_tag_set,
    .tags_each = store__pg_tags_each,
    .host_tags = store__pg_host_tags,
    .note_add = store__pg_note_add,
    .host_notes = store__pg_host_notes,
    .note_rm = store__pg_note_rm,
    .history_load = store__pg_history_load,
    .port_state_save = store__pg_port_state_save,
    .event_insert = store__pg_event_insert,
    .history_scan_list = store__pg_history_scan_list,
    .history_scans = store__pg_history_scans,
    .history_forget = store__pg_history_forget,
    .history_states = store__pg_history_states,
    .history_states_put = store__pg_history_states_put,
    .job_targets_put = store__pg_job_targets_put,
    .job_targets_each = store__pg_job_targets_each,
    .hosts_missed = store__pg_hosts_missed,
    .hosts_gone_save = store__pg_hosts_gone_save,
    .events_each = store__pg_events_each,
    .hosts_each = store__pg_hosts_each,
    .top_values = store__pg_top_values,
    .jobs_each = store__pg_jobs_each,
    .job_get = store__pg_job_get,
    .findings_of_host = store__pg_findings_of_host,
    .finding_upsert = store__pg_finding_upsert,
    .finding_set_status = store__pg_finding_set_status,
    .findings_each = store__pg_findings_each,
    .token_insert = store__pg_token_insert,
    .tokens_each = store__pg_tokens_each,
    .token_revoke = store__pg_token_revoke,
    .token_touch = store__pg_token_touch,
    .sql_time = "to_timestamp",
    .query_int = store__pg_query_int,
    .query_text = store__pg_query_text,
    .exec_params = store__pg_exec_params,
    .ping = store__pg_ping,
    .stats = store__pg_stats,
    .doctor = store__pg_doctor,
    .doctor_privileges = store__pg_doctor_privileges,
    .backup = store__pg_backup,
    .restore_open = store__pg_restore_open,
    .restore_lock = store__pg_restore_lock,
    .restore_apply = store__pg_restore_apply,
    .restore_close = store__pg_restore_close,
};
