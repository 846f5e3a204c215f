/*
 * findings.h - the findings use cases: apply the findings rules to one
 * scan of one host (load its known findings, decide with
 * history/findings.h's pure rule, write the decisions), replay a host's
 * scans, and read the user's rules file.
 *
 * The job writer calls findings_on_scan() for every scan of a host it
 * applies, in scan-time order, inside the job's transaction, after that
 * scan's change events were derived.  Rules are loaded once per job.
 */
#ifndef SDB_APP_FINDINGS_H
#define SDB_APP_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "core/scope.h"
#include "history/events.h"
#include "history/findings.h"

struct store;

/* Load the user's rules (see README); *out may be NULL when there are none.
 * On error, err[errlen] says which file/line is wrong. */
int findings_rules_load(struct findings_rules **out, char *err, size_t errlen);
/* The rules file findings_rules_load() reads into path[len]: $SCANDB_RULES,
 * else $XDG_CONFIG_HOME/scandb/rules.conf, else ~/.config/scandb/rules.conf.
 * "" when none can be named. */
void findings_rules_path(char *path, size_t len);

/*
 * A replay of one host's scans in scan-time order (the job writer, when a
 * scan older than the host's latest arrives).  The host's findings whose
 * every status change was made by a scan still stored (no user decision,
 * no pruned job) have their lifecycle derived again: findings_on_scan()
 * collects their transitions here instead of writing them, and
 * findings_replay_finish() replaces their recorded scan-made changes with
 * those, so the history and the status are what an import in scan order
 * would have written.  A finding the replay does not detect again keeps
 * what it had -- but for rule findings (from change events, which the
 * replay derives again): those only scans decided are deleted at
 * findings_replay_begin() and derived again from scratch, so one that the
 * events in scan order never raise is gone, and the jobs and times of the
 * others are those of the events in scan order.
 */
/* A status change a scan decides (static status text). */
struct findings_replay_step {
	const char *status; /* static text */
	int64_t at, job_id;
	int creation;
};
struct findings_replay_item {
	int64_t id;
	int detected;       /* seen by a replayed scan */
	const char *status; /* as the replay has it so far (static text) */
	int64_t state_at;
	struct findings_replay_step *steps; /* in scan order */
	size_t nsteps, csteps;
};
struct findings_replay {
	struct findings_replay_item *v;
	size_t n, cap;
};
/* Load the host's findings that can be derived again (SDB_* on error). */
int findings_replay_begin(struct store *st, int64_t host_id, struct findings_replay *rp);
/* Write what the replay derived; then findings_replay_free(). */
int findings_replay_finish(struct store *st, struct findings_replay *rp);
void findings_replay_free(struct findings_replay *rp);

/* One scan of one host: `scan` as the source saw it, `events` the change
 * events this scan produced (valid during the call); rp: NULL, or the
 * replay the scan is part of. */
int findings_on_scan(struct store *st, const struct findings_rules *rules, int64_t host_id,
                     int64_t job_id, int64_t at, const struct scan_scope *scope,
                     const struct rec_host *scan, const struct ev_event *events, size_t nevents,
                     struct findings_replay *rp);

/* A user's decision on finding `id`: its status becomes `status` (a
 * findings_status_name()) at `now`, with `note` (or NULL), recorded in its
 * history, in one transaction.  *old (optional, malloc'ed) receives the
 * status it had.  SDB_ENOTFOUND for an unknown id.  `scandb finding ID
 * set-status` and PATCH /api/v1/findings/{id} both call it. */
int findings_set_user_status(struct store *st, int64_t id, const char *status, const char *note,
                             int64_t now, char **old);

#endif
