/*
 * findings.h - things to act on, derived from scans and their change
 * events (the lifecycle a vulnerability tracker keeps).
 *
 * The job writer calls findings_on_scan() for every scan of a host it
 * applies, in scan-time order, inside the job's transaction, after that
 * scan's change events were derived.  Rules are loaded once per job.
 */
#ifndef SDB_HISTORY_FINDINGS_H
#define SDB_HISTORY_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "core/scope.h"
#include "history/events.h"

struct store;
struct findings_rules;

/* Load the user's rules (see README); *out may be NULL when there are none.
 * On error, err[errlen] says which file/line is wrong. */
int findings_rules_load(struct findings_rules **out, char *err, size_t errlen);
void findings_rules_free(struct findings_rules *r);

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
struct findings_decision {
	const char *status; /* static text */
	int64_t at, job_id;
	int creation;
};
struct findings_replay_item {
	int64_t id;
	int detected;       /* seen by a replayed scan */
	const char *status; /* as the replay has it so far (static text) */
	int64_t state_at;
	struct findings_decision *steps; /* in scan order */
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

/* Would findings_on_scan() detect anything in this scan (a vulnerable NSE
 * output, a rule matching one of its events)?  Pure: *detects = 1 or 0.
 * 0, SDB_ENOMEM.  (A late scan's re-derivation runs findings only for the
 * hosts where there is something to derive.) */
int findings_scan_detects(const struct findings_rules *rules, const struct rec_host *scan,
                          const struct ev_event *events, size_t nevents, int *detects);

/* One scan of one host: `scan` as the source saw it, `events` the change
 * events this scan produced (valid during the call); rp: NULL, or the
 * replay the scan is part of. */
int findings_on_scan(struct store *st, const struct findings_rules *rules, int64_t host_id,
                     int64_t job_id, int64_t at, const struct scan_scope *scope,
                     const struct rec_host *scan, const struct ev_event *events, size_t nevents,
                     struct findings_replay *rp);

/* ---- severity and status (mirrored by the CHECKs of migration 0003) ---- */

enum findings_severity {
	FINDINGS_SEV_INFO = 0,
	FINDINGS_SEV_LOW,
	FINDINGS_SEV_MEDIUM,
	FINDINGS_SEV_HIGH,
	FINDINGS_SEV_CRITICAL,
	FINDINGS_SEV__COUNT
};

/*
 * The lifecycle (docs/FINDINGS.md):
 *   (new) --findings_on_scan--> open --scan that probed it, cause gone--> resolved
 *   resolved --findings_on_scan sees it again--> open
 *   any --user (`scandb finding ID set-status`)--> any
 * Scans resolve open, pending_validation, confirmed, manual_review and error
 * findings; false_positive and skipped are the user's and stay.
 */
enum findings_status {
	FINDINGS_OPEN = 0,
	FINDINGS_PENDING_VALIDATION,
	FINDINGS_CONFIRMED,
	FINDINGS_FALSE_POSITIVE,
	FINDINGS_MANUAL_REVIEW,
	FINDINGS_SKIPPED,
	FINDINGS_ERROR,
	FINDINGS_RESOLVED,
	FINDINGS_STATUS__COUNT
};

const char *findings_severity_name(enum findings_severity s);
const char *findings_status_name(enum findings_status s);
/* Exact stored spelling; 0 or SDB_EPARSE. */
int findings_severity_parse(const char *s, enum findings_severity *out);
int findings_status_parse(const char *s, enum findings_status *out);

/* CVSS base score (0-10) to the qualitative scale: 0 info, <4 low, <7
 * medium, <9 high, else critical. */
enum findings_severity findings_severity_from_cvss(double score);

/*
 * Does this NSE output report a vulnerability ("VULNERABLE", not "NOT
 * VULNERABLE")?  Returns 1 or 0.  When 1: title[titlelen] gets the line
 * after "VULNERABLE:" (or "" if none), *sev the highest "Risk factor:" found
 * (high when none is stated).
 */
int findings_nse_vulnerable(const char *output, char *title, size_t titlelen,
                            enum findings_severity *sev);

/* The CVE lines of a `vulners` script output, each CVE once (highest
 * score).  *out malloc'ed (free()); n may be 0. */
struct findings_cve {
	char id[32];
	double cvss;
	char cpe[160]; /* the cpe line it was listed under, or "" */
};
int findings_vulners_parse(const char *output, struct findings_cve **out, size_t *n);

/*
 * Parse rules text (`name` is used in errors: "NAME:LINE: problem").
 * Line format, see docs/FINDINGS.md:
 *   EVENT PORTS SEVERITY "TITLE"     e.g.  port_opened 3389/tcp,23/tcp high "RDP/telnet"
 * *out is NULL when the text holds no rules.  0, SDB_EPARSE or SDB_ENOMEM.
 */
int findings_rules_parse(const char *name, const char *text, struct findings_rules **out, char *err,
                         size_t errlen);
size_t findings_rules_count(const struct findings_rules *r);
/* Port ranges rule i (file order) holds after merging: ranges of one
 * protocol that overlap or touch are one ("1,2,3-9/tcp" is 1-9/tcp), so a
 * rule listing every port costs one range.  0 for '*' or no such rule. */
size_t findings_rules_ranges(const struct findings_rules *r, size_t i);
/* The rules file findings_rules_load() reads into path[len]: $SCANDB_RULES,
 * else $XDG_CONFIG_HOME/scandb/rules.conf, else ~/.config/scandb/rules.conf.
 * "" when none can be named. */
void findings_rules_path(char *path, size_t len);

#endif
