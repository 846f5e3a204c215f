/*
 * process.h - this process's identity, for the jobs it writes and for
 * telling whether a running job's process is gone.  Holds: the worker id
 * ("HOSTNAME:PID", stored as jobs.worker_id) and the host name part (the
 * reaper, store_jobs_reap_stale / store_job_is_stale, only judges jobs of
 * this machine).  Both are computed once and kept in static storage.
 */
#ifndef SDB_APP_PROCESS_H
#define SDB_APP_PROCESS_H

/* "HOSTNAME:PID" of this process, for jobs.worker_id; static storage. */
const char *app_process_worker_id(void);
/* This machine's host name (the HOSTNAME part above; "localhost" when it
 * cannot be read); static storage. */
const char *app_process_hostname(void);

#endif
