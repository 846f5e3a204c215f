/*
 * job_rm.h - the `job rm` use case: remove one mistaken import or scan and
 * derive the history of the hosts it touched again (events, port state,
 * host fields, findings), in one transaction, as if the job had never been
 * stored.  Hosts only that job saw go with it.
 */
#ifndef SDB_APP_JOB_RM_H
#define SDB_APP_JOB_RM_H

#include <stdint.h>

#include "store/store.h"

/*
 * Remove job `job_id` (dry_run: count, change nothing).  *out: what goes
 * and what is derived again (counted before the removal).  SDB_ENOTFOUND
 * for no such job, SDB_EBUSY for a queued or running one (store_errmsg
 * says why), else the store's error; nothing changed on any error.  A
 * transaction lost to a transient failure (PostgreSQL) is tried again
 * whole, up to 5 times in all.
 */
int app_job_rm(struct store *st, int64_t job_id, int dry_run, struct store_job_rm_count *out);

#endif
