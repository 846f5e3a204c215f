/*
 * findings.h - things to act on, derived from scans and their change
 * events (the lifecycle a vulnerability tracker keeps).  Pure: no
 * database, no I/O.  app/findings.h loads a host's known findings, calls
 * findings_detect() and findings_decide() for each scan and writes the
 * decisions; reading the rules file is also app/'s.
 *
 *   findings.c        names, detection, the decision rule
 *   findings_rules.c  the rules text parser
 *   nse_vuln.c        NSE output parsers ("VULNERABLE" reports, vulners)
 */
#ifndef SDB_HISTORY_FINDINGS_H
#define SDB_HISTORY_FINDINGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/record.h"
#include "core/scope.h"
#include "history/events.h"

struct findings_rules;
struct findings_rule;

/* ---- severity and status, findings.c (mirrored by the CHECKs of migration 0003) */

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
 *   (new) --a scan detects it--> open --scan that probed it, cause gone--> resolved
 *   resolved --a newer scan detects it again--> open
 * (findings_decide() decides the scans' moves; app/findings.c writes them)
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

/* ---- NSE output (nse_vuln.c) ----------------------------------------------- */

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

/* ---- the rules text (findings_rules.c) -------------------------------------- */

/*
 * Parse rules text (`name` is used in errors: "NAME:LINE:COL: problem",
 * COL counting bytes from 1).
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
void findings_rules_free(struct findings_rules *r);

/* ---- detection and the decision rule (findings.c) ------------------------ */

/*
 * Something a scan detected: one finding, identified by its fingerprint
 * (type|source|key|addr|port/proto).  fingerprint, title and key are owned
 * by the plan; type and source are static text or the scan's script id.
 * details: the JSON evidence, made at detection (a vulners CVE) or NULL
 * until findings_detection_details() makes it from what the detection
 * points at (a script's output of up to 1 MiB, or a rule and its event):
 * so that one detection's details at a time are in memory, not those of
 * every detection of a host.  The pointers are valid while the scan, the
 * rules and the events the plan was made of are.
 */
struct findings_detection {
	const char *type;   /* "nse_vuln" or "rule" */
	const char *source; /* script id or event kind */
	char *key;          /* e.g. a CVE id, or NULL */
	int proto;          /* enum rec_proto, or -1 for host-level */
	int port;           /* -1 for host-level */
	char *title;
	enum findings_severity severity;
	char *fingerprint;
	char *details;                      /* malloc'ed JSON text, or NULL */
	const struct rec_script *script;    /* details from a script ... */
	const struct findings_rules *rules; /* ... or from a rule and its event */
	const struct findings_rule *rule;
	const struct ev_event *ev;
};

/* The details of x as JSON text (malloc'ed, free()), made from what x
 * points at; NULL when they cannot be made (not UTF-8, no memory). */
char *findings_detection_details(const struct findings_detection *x);

/* A finding the host already has, as the decision rule sees it (plain
 * data: the caller's, borrowed for the call).  In a replay (app/), status
 * and state_at are the replay's so far, and a finding no replayed scan has
 * detected yet is `unborn`: a detection creates it, nothing resolves it. */
struct findings_known {
	const char *fingerprint;
	const char *type, *source; /* as in findings_detection */
	int proto, port;           /* -1, -1: host-level */
	const char *status;        /* findings_status_name() */
	int64_t state_at;          /* time of the newest scan that decided its status */
	int unborn;
};

/*
 * What one scan decides (docs/FINDINGS.md):
 *   NEW      a detection the host does not have (or an unborn one): open,
 *            created by this scan
 *   SEEN     a known finding detected again: no status change
 *   REOPEN   a resolved finding detected again by a scan newer than the
 *            one that decided its status: open
 *   RESOLVE  a known finding the scan did not detect though it looked for
 *            its cause (the port probed, the script run), when the scan is
 *            newer than state_at and the status is open, pending_validation,
 *            confirmed, manual_review or error (false_positive and skipped
 *            are the user's and stay; resolved stays resolved)
 * Every detection gets one of NEW, SEEN, REOPEN (in detection order: each
 * is stored, found-or-created by fingerprint); RESOLVE follow, in the order
 * of the known findings.
 */
enum findings_action {
	FINDINGS_ACT_NEW = 0,
	FINDINGS_ACT_SEEN,
	FINDINGS_ACT_REOPEN,
	FINDINGS_ACT_RESOLVE
};
struct findings_decision {
	enum findings_action action;
	long det;           /* index in plan->dets; -1 for RESOLVE */
	long known;         /* index in the known findings; -1 for NEW of an unknown finding */
	int64_t at, job_id; /* the scan's time and job */
};

/* Positions of strings by content (fingerprints), the rule's own index. */
struct findings_fp_index {
	uint32_t *slot;
	size_t cap;
};

/* One scan's detections and decisions; zero it before use, then
 * findings_plan_free(). */
struct findings_plan {
	struct findings_detection *dets;
	size_t ndets, cdets;
	struct findings_fp_index ix; /* dets by fingerprint */
	struct findings_decision *v;
	size_t n, cap;
};
void findings_plan_free(struct findings_plan *p);

/* The scan's detections into p->dets: vulnerable NSE output when the host
 * is up, and each rule matching one of `events` (the change events this
 * scan produced).  The same fingerprint twice in one scan is one
 * detection.  0, SDB_EUSAGE, SDB_ENOMEM. */
int findings_detect(const struct findings_rules *rules, const struct rec_host *scan,
                    const struct ev_event *events, size_t nevents, struct findings_plan *p);

/* The decisions of a scan at `at` by job `job_id` (whose detections
 * findings_detect() put in p) on the host's known findings, into p->v.
 * scope: what the scan probed (a port it covers and did not report is
 * probed and not open), or NULL.  0, SDB_EUSAGE, SDB_ENOMEM. */
int findings_decide(struct findings_plan *p, const struct rec_host *scan,
                    const struct scan_scope *scope, const struct findings_known *known,
                    size_t nknown, int64_t at, int64_t job_id);

/* Would findings_detect() detect anything in this scan (a vulnerable NSE
 * output, a rule matching one of its events)?  *detects = 1 or 0.
 * 0, SDB_ENOMEM.  (A late scan's re-derivation runs findings only for the
 * hosts where there is something to derive.) */
int findings_scan_detects(const struct findings_rules *rules, const struct rec_host *scan,
                          const struct ev_event *events, size_t nevents, int *detects);

#endif
