/*
 * job_writer_int.h - what the pieces of the job writer share: job_writer.c
 * (the writer and its sink), job_late.c (late scans) and job_rm.c (the
 * history of a removed job's hosts, derived by job_late.c); no other file
 * includes it.  Holds: the event collector (struct emit_ctx, in
 * job_writer.c) and the queue of late hosts the writer fills and
 * job_late.c derives again (late_add, late_run, in job_late.c).
 */
#ifndef SDB_APP_JOB_WRITER_INT_H
#define SDB_APP_JOB_WRITER_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/hoststate.h"
#include "core/scope.h"
#include "store/store.h"

struct findings_rules;

/* The events of one scan of one host, kept for the findings that follow
 * them; stored at once when `store` is set.  A script_changed event's
 * strings (the outputs, up to megabytes each) are borrowed - valid until
 * the next ev_step (events.h) - unless `own` is set: a context that keeps
 * events across scans (a late scan's, stored at the end) copies them too. */
struct emit_ctx {
	struct store *st;
	int64_t host_id;
	int store;
	int own; /* script_changed strings copied too */
	struct ev_event *ev;
	size_t n, cap;
};

/* ev_step's emit callback (ctx: a struct emit_ctx): stores the event when
 * ec->store, and keeps it.  0, SDB_ENOMEM or the store's error. */
int emit_event(void *ctx, const struct ev_event *e);
/* Forget the kept events (the array stays for the next scan's). */
void emit_ctx_clear(struct emit_ctx *ec);
void emit_ctx_free(struct emit_ctx *ec);

/* The job whose scans came late, as job_late.c reads it. */
struct late_job {
	struct store *st; /* inside the job's transaction */
	int64_t job_id;
	const struct scan_scope *scope; /* the job's probed scope (not stored yet) */
	const struct findings_rules *rules;
	/* job rm (app/job_rm.c): the job is being removed.  Its scans are
	 * skipped: each host's history is derived again from its first scan
	 * without them (findings included), as if it had never been stored. */
	int remove;
};

/* The hosts a job's scan came late for, waiting to be derived again. */
struct late;
struct late_queue {
	struct late **v;
	size_t n, cap;
};

/* Host host_id (addr; its stored state *state, which is taken and left
 * empty) waits for its history to be derived again; a full block
 * (LATE_BLOCK hosts) is derived at once. */
int late_add(struct late_queue *q, const struct late_job *j, int64_t host_id, const char *addr,
             int64_t at, struct ev_host *state);
/* Derive the history of the waiting hosts again and write it, inside the
 * job's transaction; the queue is empty afterwards, whatever the outcome
 * (an error is told in store_errmsg()). */
int late_run(struct late_queue *q, const struct late_job *j);
/* Drop the waiting hosts (the job is rolled back). */
void late_discard(struct late_queue *q);
void late_queue_free(struct late_queue *q);

#endif
