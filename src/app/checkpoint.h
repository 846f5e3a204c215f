/*
 * checkpoint.h - the per-host checkpoint document of the job writer
 * (app/job_writer.c writes them, app/job_late.c reads them).  Holds: which
 * scans keep one (checkpoint_due), the document written from a host state
 * (checkpoint_doc) and read back into one (checkpoint_read).
 *
 * A late scan starts from the host's state as of its place in the host's
 * history.  About one scan in CHECKPOINT_EVERY of each host keeps that
 * state (host_scans.state, migration 0009), so that the state is rebuilt
 * from the nearest such checkpoint before the place, applying at most a few
 * scans, not every earlier one.  Which scans: a hash of host and job, so
 * that no pattern of which jobs scan a host leaves it without.
 *
 * A checkpoint holds what ev_step reads and the port fields that stay as
 * the latest probing scan left them: a JSON object
 *   {"status": S, "job": J, "at": T, "os": O, "mac": M, "names": N,
 *    "ports": [[proto, port, state, job, seen_at, reason, method, service,
 *               product, version, extrainfo, tunnel], ...],
 *    "scripts": [[proto or null, port, id, output, job], ...],
 *    "misses": K, "miss_job": J, "miss_at": T}     (gone; absent when 0)
 * but not first_seen, last_seen, closed_at: a late scan may move those in
 * every later state; the current state keeps them (see late_final in
 * job_late.c).  So a checkpoint stays true when a late scan arrives before
 * it, as long as the two derivations met before it (ev_host_same); the
 * late scan writes those of the scans it derived again.
 */
#ifndef SDB_APP_CHECKPOINT_H
#define SDB_APP_CHECKPOINT_H

#include <stdint.h>

#include "core/hoststate.h"

#define CHECKPOINT_EVERY 8

/* Does the scan of host host_id by job job_id keep a checkpoint?  1 or 0. */
int checkpoint_due(int64_t host_id, int64_t job_id);

/* *out: the checkpoint of state h (malloc'ed), or NULL when a value cannot
 * be written as JSON or its script outputs are too big (then there is no
 * checkpoint: it only saves work).  0 or SDB_ENOMEM. */
int checkpoint_doc(const struct ev_host *h, char **out);

/* Read a checkpoint into out (empty): 0, SDB_EDB (not a checkpoint) or
 * SDB_ENOMEM (out is then empty again).  first_seen, last_seen and
 * closed_at are 0. */
int checkpoint_read(const char *doc, struct ev_host *out);

#endif
