/*
 * sqlite_ops.c - the SQLite backend's slot table (store_int.h struct
 * store_ops): which function answers each slot.  sqlite_int.h says which
 * file holds each.
 */
#include "store/sqlite/sqlite_int.h"

const struct store_ops store_sqlite_ops = {
    .name = "sqlite",
    .migrations = store_sqlite_migrations,
    .nmigrations = &store_sqlite_nmigrations,
    .open = store__sqlite_open,
    .close = store__sqlite_close,
    .tx_begin = store__sqlite_tx_begin,
    .tx_commit = store__sqlite_tx_commit,
    .tx_rollback = store__sqlite_tx_rollback,
    .migrate_lock = NULL, /* the IMMEDIATE transaction is the lock */
    .exec_script = store__sqlite_exec_script,
    .migrations_table = store__sqlite_migrations_table,
    .migrations_applied = store__sqlite_migrations_applied,
    .migration_record = store__sqlite_migration_record,
    .migration_unrecord = store__sqlite_migration_unrecord,
    .is_empty = store__sqlite_is_empty,
    .table_exists = store__sqlite_table_exists,
    .open_mode = store__sqlite_open_mode,
    .is_readonly = store__sqlite_is_readonly,
    .job_insert = store__sqlite_job_insert,
    .job_progress = store__sqlite_job_progress,
    .job_finish = store__sqlite_job_finish,
    .host_upsert = store__sqlite_host_upsert,
    .host_scan_insert = store__sqlite_host_scan_insert,
    .port_insert = store__sqlite_port_insert,
    .extraports_insert = store__sqlite_extraports_insert,
    .script_insert = store__sqlite_script_insert,
    .run_script_insert = store__sqlite_run_script_insert,
    .run_scripts = store__sqlite_run_scripts,
    .jobs_fail = store__sqlite_jobs_fail,
    .job_find_by_hash = store__sqlite_job_find_by_hash,
    .history_load = store__sqlite_history_load,
    .port_state_save = store__sqlite_port_state_save,
    .event_insert = store__sqlite_event_insert,
    .history_scan_list = store__sqlite_history_scan_list,
    .history_scans = store__sqlite_history_scans,
    .history_forget = store__sqlite_history_forget,
    .history_states = store__sqlite_history_states,
    .history_states_put = store__sqlite_history_states_put,
    .events_each = store__sqlite_events_each,
    .hosts_each = store__sqlite_hosts_each,
    .jobs_each = store__sqlite_jobs_each,
    .job_get = store__sqlite_job_get,
    /* findings (sqlite_findings.c) */
    .findings_of_host = store__sqlite_findings_of_host,
    .finding_upsert = store__sqlite_finding_upsert,
    .finding_set_status = store__sqlite_finding_set_status,
    .findings_each = store__sqlite_findings_each,
    /* operations (sqlite_admin_*.c) */
    .query_int = store__sqlite_query_int,
    .query_text = store__sqlite_query_text,
    .exec_params = store__sqlite_exec_params,
    .ping = store__sqlite_ping,
    .stats = store__sqlite_stats,
    .doctor = store__sqlite_doctor,
    .doctor_privileges = NULL, /* no roles or grants in a file */
    .backup = store__sqlite_backup,
    .restore_open = store__sqlite_restore_open,
    .restore_verify = store__sqlite_restore_verify,
    .restore_apply = store__sqlite_restore_apply,
    .restore_close = store__sqlite_restore_close,
};
