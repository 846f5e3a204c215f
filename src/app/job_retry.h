/*
 * job_retry.h - the wait before a whole job lost to SDB_ETRANSIENT (a lost
 * connection, a serialization failure or deadlock) is tried again: import
 * re-reads its file (app/import.c), scan its spool (app/scan.c).  The
 * numbers only; the backoff itself is core/retry.h.
 */
#ifndef SDB_APP_JOB_RETRY_H
#define SDB_APP_JOB_RETRY_H

#include "core/retry.h"

/* 0.5, 1, 2, 4 s, plus up to 50%: retry_sleep(&app_job_retry, n) before
 * retry n (0 for the first). */
extern const struct retry_backoff app_job_retry;

#endif
