/*
 * findings.c - what is a finding and when its lifecycle moves, as pure
 * rules: severity and status names, detection (vulnerable NSE output, the
 * user's rules on change events) and the decision rule (a scan, its
 * detections and the host's known findings in; open new / seen / reopen /
 * resolve out).  Parsing is findings_rules.c's and nse_vuln.c's; loading
 * the known findings and writing the decisions is app/findings.c's.
 *
 * Replays are idempotent: a scan changes a status only when it is newer
 * than the last scan that decided it (the known finding's state_at), so an
 * older scan replayed or imported late widens first_seen / last_seen (the
 * store's upsert) but never flips the status back.
 */
#include "history/findings.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"
#include "history/findings_int.h"

static const char *const sev_names[] = {"info", "low", "medium", "high", "critical"};
static const char *const status_names[] = {"open",          "pending_validation",
                                           "confirmed",     "false_positive",
                                           "manual_review", "skipped",
                                           "error",         "resolved"};

const char *findings_severity_name(enum findings_severity s)
{
	return (unsigned)s < FINDINGS_SEV__COUNT ? sev_names[s] : "?";
}

const char *findings_status_name(enum findings_status s)
{
	return (unsigned)s < FINDINGS_STATUS__COUNT ? status_names[s] : "?";
}

int findings_severity_parse(const char *s, enum findings_severity *out)
{
	for (int i = 0; s && i < FINDINGS_SEV__COUNT; i++) {
		if (strcmp(s, sev_names[i]) == 0) {
			*out = (enum findings_severity)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

int findings_status_parse(const char *s, enum findings_status *out)
{
	for (int i = 0; s && i < FINDINGS_STATUS__COUNT; i++) {
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum findings_status)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

enum findings_severity findings_severity_from_cvss(double score)
{
	if (!(score > 0.0))
		return FINDINGS_SEV_INFO;
	if (score < 4.0)
		return FINDINGS_SEV_LOW;
	if (score < 7.0)
		return FINDINGS_SEV_MEDIUM;
	if (score < 9.0)
		return FINDINGS_SEV_HIGH;
	return FINDINGS_SEV_CRITICAL;
}

/* ---- detection ------------------------------------------------------------- */

/* The index: open addressing over a power-of-two table of 1 + position
 * (0: empty), for the detections and known findings of a host (65,536 of
 * them from a crafted host: a linear search each was quadratic). */
static size_t fp_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The string of position i: a char * member at `off` in elements of
 * `size` bytes from `base`. */
static const char *fp_key(const void *base, size_t off, size_t size, size_t i)
{
	return *(char *const *)((const char *)base + i * size + off);
}

/* The position of fp, or -1. */
static long fp_find(const struct findings_fp_index *ix, const void *base, size_t off, size_t size,
                    const char *fp)
{
	size_t mask = ix->cap - 1;

	if (!ix->cap)
		return -1;
	for (size_t k = fp_hash(fp) & mask; ix->slot[k]; k = (k + 1) & mask) {
		size_t i = ix->slot[k] - 1;
		if (strcmp(fp_key(base, off, size, i), fp) == 0)
			return (long)i;
	}
	return -1;
}

/* Index position n (of n + 1 elements), growing the table; 0 or ENOMEM. */
static int fp_add(struct findings_fp_index *ix, const void *base, size_t off, size_t size, size_t n)
{
	size_t cap = ix->cap ? ix->cap : 16, mask, k;

	while ((n + 1) * 2 > cap)
		cap *= 2;
	if (cap != ix->cap) {
		uint32_t *v;

		if (n + 1 > UINT32_MAX || !(v = calloc(cap, sizeof(*v))))
			return SDB_ENOMEM;
		free(ix->slot);
		ix->slot = v;
		ix->cap = cap;
		for (size_t i = 0; i < n; i++)
			fp_add(ix, base, off, size, i); /* cannot grow: room for n + 1 */
	}
	mask = ix->cap - 1;
	for (k = fp_hash(fp_key(base, off, size, n)) & mask; ix->slot[k]; k = (k + 1) & mask)
		;
	ix->slot[k] = (uint32_t)(n + 1);
	return 0;
}

void findings_plan_free(struct findings_plan *p)
{
	for (size_t i = 0; i < p->ndets; i++) {
		free(p->dets[i].fingerprint);
		free(p->dets[i].title);
		free(p->dets[i].details);
		free(p->dets[i].key);
	}
	free(p->dets);
	free(p->ix.slot);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static long dets_find(const struct findings_plan *p, const char *fp)
{
	return fp_find(&p->ix, p->dets, offsetof(struct findings_detection, fingerprint),
	               sizeof(*p->dets), fp);
}

/* type|source|key|addr|port/proto (or "-" host-level); malloc'ed, NULL
 * when out of memory. */
static char *fingerprint_of(const char *type, const char *source, const char *key, const char *addr,
                            int proto, int port)
{
	struct buf b;
	int r;

	buf_init(&b, 4096);
	r = buf_printf(&b, "%s|%s|%s|%s|", type, source, key ? key : "", addr);
	if (r == 0 && proto >= 0)
		r = buf_printf(&b, "%d/%s", port, rec_proto_name((enum rec_proto)proto));
	if (r == 0 && proto < 0)
		r = buf_append_char(&b, '-');
	if (r != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

#define DETAILS_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6))

char *findings_detection_details(const struct findings_detection *x)
{
	json_t *j = NULL;
	char line[32], *text;

	if (x->script) {
		j = json_pack("{s:s, s:s}", "script", x->script->id, "output", x->script->output);
	} else if (x->rule) {
		snprintf(line, sizeof(line), "%d", x->rule->line);
		j = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:I}", "rule_file", x->rules->name,
		              "rule_line", line, "detail", x->ev->detail, "old", x->ev->old_value,
		              "new", x->ev->new_value, "job", (json_int_t)x->ev->job_id);
	}
	if (!j)
		return NULL;
	text = json_dumps(j, DETAILS_FLAGS);
	json_decref(j);
	return text;
}

/* What a detection is, before dets_add() makes its fingerprint. */
struct det_what {
	const char *addr, *type, *source, *key;
	int proto, port;
	const char *title;
	enum findings_severity sev;
};

/* Takes `details` (decref'ed here); or, with details NULL, x->script or
 * x->rule (set by the caller in `from`) say what to make them from. */
static int dets_add(struct findings_plan *p, const struct det_what *w, json_t *details,
                    const struct findings_detection *from)
{
	struct findings_detection x;
	int r = SDB_ENOMEM;

	memset(&x, 0, sizeof(x));
	if (from)
		x = *from;
	x.type = w->type;
	x.source = w->source;
	x.proto = w->proto;
	x.port = w->port;
	x.severity = w->sev;
	x.fingerprint = fingerprint_of(w->type, w->source, w->key, w->addr, w->proto, w->port);
	x.title = strdup(w->title);
	x.key = w->key ? strdup(w->key) : NULL;
	x.details = details ? json_dumps(details, DETAILS_FLAGS) : NULL;
	json_decref(details);
	if (!x.fingerprint || !x.title || (w->key && !x.key) || (details && !x.details))
		goto fail;
	if (dets_find(p, x.fingerprint) >= 0) {
		r = 0; /* the same thing twice in one scan */
		goto fail;
	}
	if (VEC_RESERVE(p->dets, p->cdets, p->ndets + 1, 8) != 0)
		goto fail;
	p->dets[p->ndets] = x;
	if (fp_add(&p->ix, p->dets, offsetof(struct findings_detection, fingerprint),
	           sizeof(*p->dets), p->ndets) != 0)
		goto fail;
	p->ndets++;
	return 0;
fail:
	free(x.fingerprint);
	free(x.title);
	free(x.key);
	free(x.details);
	return r;
}

/* A script's finding(s): a vulners CVE each, or one "VULNERABLE" report.
 * Note: `source` of a detection must outlive the plan (script ids of the
 * scan, or constant event-kind names). */
static int detect_script(struct findings_plan *pl, const char *addr, int proto, int port,
                         const struct rec_script *s)
{
	char title[FINDINGS_TITLE_MAX + 1], full[FINDINGS_TITLE_MAX + 64];
	struct det_what w = {.addr = addr,
	                     .type = "nse_vuln",
	                     .source = s->id,
	                     .proto = proto,
	                     .port = port,
	                     .title = full};
	int r = 0;

	if (!s->id || !s->output)
		return 0;
	if (strcmp(s->id, "vulners") == 0) {
		struct findings_cve *cv;
		size_t n;

		if ((r = findings_vulners_parse(s->output, &cv, &n)) != 0)
			return r;
		for (size_t i = 0; i < n && r == 0; i++) {
			snprintf(full, sizeof(full), "%s (CVSS %.1f)", cv[i].id, cv[i].cvss);
			w.key = cv[i].id;
			w.sev = findings_severity_from_cvss(cv[i].cvss);
			r = dets_add(pl, &w,
			             json_pack("{s:s, s:s, s:f, s:s?}", "script", s->id, "cve",
			                       cv[i].id, "cvss", cv[i].cvss, "cpe",
			                       cv[i].cpe[0] ? cv[i].cpe : NULL),
			             NULL);
		}
		free(cv);
		return r;
	}
	if (!findings_nse_vulnerable(s->output, title, sizeof(title), &w.sev))
		return 0;
	if (title[0])
		snprintf(full, sizeof(full), "%s: %s", s->id, title);
	else
		snprintf(full, sizeof(full), "%s: VULNERABLE", s->id);
	return dets_add(pl, &w, NULL, &(struct findings_detection){.script = s});
}

static int rule_matches(const struct findings_rule *ru, const struct ev_event *e)
{
	if (ru->kind != e->kind)
		return 0;
	if (ru->any)
		return 1;
	if (e->proto < 0)
		return 0;
	for (size_t i = 0; i < ru->nports; i++) {
		const struct rule_ports *p = &ru->ports[i];
		if ((p->proto < 0 || p->proto == e->proto) && e->port >= p->lo && e->port <= p->hi)
			return 1;
	}
	return 0;
}

int findings_detect(const struct findings_rules *rules, const struct rec_host *scan,
                    const struct ev_event *events, size_t nevents, struct findings_plan *pl)
{
	int r = 0;

	if (!scan || !pl)
		return SDB_EUSAGE;
	if (scan->status == REC_HOST_UP) {
		for (size_t i = 0; i < scan->nports && r == 0; i++) {
			const struct rec_port *p = &scan->ports[i];
			for (size_t k = 0; k < p->nscripts && r == 0; k++)
				r = detect_script(pl, scan->addr, (int)p->proto, p->port,
				                  &p->scripts[k]);
		}
		for (size_t k = 0; k < scan->nscripts && r == 0; k++)
			r = detect_script(pl, scan->addr, -1, -1, &scan->scripts[k]);
	}
	for (size_t i = 0; rules && i < nevents && r == 0; i++) {
		const struct ev_event *e = &events[i];
		for (size_t k = 0; k < rules->n && r == 0; k++) {
			const struct findings_rule *ru = &rules->v[k];
			struct det_what w = {.addr = scan->addr,
			                     .type = "rule",
			                     .source = ev_kind_name(e->kind),
			                     .key = ru->title,
			                     .proto = e->proto,
			                     .port = e->proto >= 0 ? e->port : -1,
			                     .title = ru->title,
			                     .sev = ru->sev};

			if (!rule_matches(ru, e))
				continue;
			r = dets_add(
			    pl, &w, NULL,
			    &(struct findings_detection){.rules = rules, .rule = ru, .ev = e});
		}
	}
	return r;
}

int findings_scan_detects(const struct findings_rules *rules, const struct rec_host *scan,
                          const struct ev_event *events, size_t nevents, int *detects)
{
	struct findings_plan p = {0};
	int r;

	*detects = 0;
	if (!scan)
		return SDB_EUSAGE;
	if ((r = findings_detect(rules, scan, events, nevents, &p)) == 0)
		*detects = p.ndets > 0;
	findings_plan_free(&p);
	return r;
}

/* ---- the decision rule ----------------------------------------------------- */

/* What this scan says about a port: -1 nothing (host not up, not probed),
 * 0 probed and not open, 1 open (*out = its record). */
static int port_view(const struct rec_host *scan, const struct scan_scope *scope, int proto,
                     int port, const struct rec_port **out)
{
	*out = NULL;
	if (scan->status != REC_HOST_UP || proto < 0)
		return -1;
	for (size_t i = 0; i < scan->nports; i++) {
		const struct rec_port *p = &scan->ports[i];
		if ((int)p->proto == proto && p->port == port) {
			*out = p;
			return p->state == REC_PORT_OPEN ? 1 : 0;
		}
	}
	return scope && scope_covers(scope, (enum rec_proto)proto, port) ? 0 : -1;
}

static const struct rec_script *find_script(const struct rec_script *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id && strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

/* Did this scan look for the cause of `f` and not find it?  (It is not
 * among the scan's detections: the caller checked.) */
static int cause_gone(const struct findings_known *f, const struct rec_host *scan,
                      const struct scan_scope *scope)
{
	const struct rec_port *p;
	int v;

	if (strcmp(f->type, "nse_vuln") == 0) {
		if (scan->status != REC_HOST_UP)
			return 0;
		if (f->proto < 0)
			return find_script(scan->scripts, scan->nscripts, f->source) != NULL;
		v = port_view(scan, scope, f->proto, f->port, &p);
		if (v == 0)
			return 1;
		return v == 1 && find_script(p->scripts, p->nscripts, f->source) != NULL;
	}
	if (strcmp(f->type, "rule") != 0)
		return 0;
	if (strcmp(f->source, "port_opened") == 0)
		return port_view(scan, scope, f->proto, f->port, &p) == 0;
	if (strcmp(f->source, "port_closed") == 0)
		return port_view(scan, scope, f->proto, f->port, &p) == 1;
	if (strcmp(f->source, "host_down") == 0)
		return scan->status == REC_HOST_UP;
	if (strcmp(f->source, "host_up") == 0)
		return scan->status == REC_HOST_DOWN;
	return 0; /* other changes have no state that could go away */
}

static int resolvable(const char *status)
{
	enum findings_status s;

	if (findings_status_parse(status, &s) != 0)
		return 0;
	return s == FINDINGS_OPEN || s == FINDINGS_PENDING_VALIDATION || s == FINDINGS_CONFIRMED ||
	       s == FINDINGS_MANUAL_REVIEW || s == FINDINGS_ERROR;
}

static int decision_add(struct findings_plan *p, enum findings_action a, long det, long known,
                        int64_t at, int64_t job_id)
{
	if (VEC_RESERVE(p->v, p->cap, p->n + 1, 8) != 0)
		return SDB_ENOMEM;
	p->v[p->n++] = (struct findings_decision){a, det, known, at, job_id};
	return 0;
}

/* NEW, SEEN or REOPEN for each detection, in detection order. */
static int decide_detected(struct findings_plan *p, const struct findings_known *known,
                           size_t nknown, int64_t at, int64_t job_id)
{
	struct findings_fp_index ix = {0};
	const size_t off = offsetof(struct findings_known, fingerprint);
	int r = 0;

	for (size_t k = 0; k < nknown && p->ndets && r == 0; k++)
		r = fp_add(&ix, known, off, sizeof(*known), k);
	for (size_t i = 0; i < p->ndets && r == 0; i++) {
		long k = fp_find(&ix, known, off, sizeof(*known), p->dets[i].fingerprint);
		enum findings_action a = FINDINGS_ACT_SEEN;

		if (k < 0 || known[k].unborn)
			a = FINDINGS_ACT_NEW;
		else if (at > known[k].state_at && strcmp(known[k].status, "resolved") == 0)
			a = FINDINGS_ACT_REOPEN;
		r = decision_add(p, a, (long)i, k, at, job_id);
	}
	free(ix.slot);
	return r;
}

int findings_decide(struct findings_plan *p, const struct rec_host *scan,
                    const struct scan_scope *scope, const struct findings_known *known,
                    size_t nknown, int64_t at, int64_t job_id)
{
	int r;

	if (!p || !scan || (nknown && !known))
		return SDB_EUSAGE;
	if ((r = decide_detected(p, known, nknown, at, job_id)) != 0)
		return r;
	for (size_t k = 0; k < nknown; k++) {
		const struct findings_known *f = &known[k];

		if (f->unborn || at <= f->state_at || !resolvable(f->status) ||
		    dets_find(p, f->fingerprint) >= 0 || !cause_gone(f, scan, scope))
			continue;
		if ((r = decision_add(p, FINDINGS_ACT_RESOLVE, -1, (long)k, at, job_id)) != 0)
			return r;
	}
	return 0;
}
