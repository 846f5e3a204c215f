/*
 * export.h - the `export` use case: one stored job, or the current state,
 * written by one of the export writers (export/export.h) as the store walks
 * its hosts (store_hosts_each: one host in memory at a time), for every
 * front door (the CLI today, the HTTP API tomorrow).  Prints nothing.
 */
#ifndef SDB_APP_EXPORT_H
#define SDB_APP_EXPORT_H

#include <stdint.h>

#include "export/export.h"
#include "store/store.h"

/*
 * Write job `job_id` (0: the current state) of the hosts that match f
 * (f->job_id is ignored) with writer w and its ctx: w->begin with the job
 * and its run scripts, w->host for each host in address order, w->end
 * with the totals.  `now` is the export's time (the current state's
 * start).  Returns 0, the writer's error, or the store's SDB_* error (a
 * job that does not exist: SDB_ENOTFOUND, "no job N in the database" in
 * store_errmsg).
 */
int app_export_run(struct store *st, int64_t job_id, const struct store_host_filter *f, int64_t now,
                   const struct export_writer *w, void *ctx);

#endif
