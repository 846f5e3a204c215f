/*
 * findings.c - the findings use cases: per scan of a host, load its known
 * findings from the store, run the pure rule (history/findings.h:
 * findings_detect, findings_decide) and write its decisions
 * (store_finding_*); a host's replay (begin: what can be derived again;
 * finish: write what was); and reading the rules file from disk.
 *
 * A decision is written as the store's status change, with a note saying
 * which scan made it; in a replay, the changes of the findings being
 * derived again are collected and written at findings_replay_finish().
 */
#include "app/findings.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"
#include "store/store.h"

#define RULES_MAX_BYTES ((size_t)1 << 20)

/* ---- the rules file ---------------------------------------------------------- */

void findings_rules_path(char *path, size_t len)
{
	const char *env = getenv("SCANDB_RULES"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	path[0] = '\0';
	if (env)
		snprintf(path, len, "%s", env);
	else if (xdg && *xdg)
		snprintf(path, len, "%s/scandb/rules.conf", xdg);
	else if (home && *home)
		snprintf(path, len, "%s/.config/scandb/rules.conf", home);
}

int findings_rules_load(struct findings_rules **out, char *err, size_t errlen)
{
	char path[4096], chunk[8192];
	struct buf text;
	FILE *f = NULL;
	size_t n;
	int r;

	*out = NULL;
	findings_rules_path(path, sizeof(path));
	if (!path[0])
		return 0;
	buf_init(&text, RULES_MAX_BYTES);
	if (!(f = fopen(path, "r"))) {
		/* the default file is optional; a named one is not */
		if (errno == ENOENT && !getenv("SCANDB_RULES")) {
			r = 0;
			goto out;
		}
		snprintf(err, errlen, "cannot read rules file %s: %s", path, strerror(errno));
		r = SDB_EIO;
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (memchr(chunk, '\0', n)) {
			snprintf(err, errlen, "%s: not a text file (NUL byte)", path);
			r = SDB_EPARSE;
			goto out;
		}
		if ((r = buf_append(&text, chunk, n)) != 0) {
			snprintf(err, errlen, "%s: larger than %zu bytes", path, RULES_MAX_BYTES);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read rules file %s: %s", path, strerror(errno));
		r = SDB_EIO;
		goto out;
	}
	r = findings_rules_parse(path, text.len ? buf_str(&text) : "", out, err, errlen);
out:
	if (f)
		fclose(f);
	buf_free(&text);
	return r;
}

/* ---- replays ------------------------------------------------------------- */

static int add_id(void *ctx, int64_t id)
{
	struct findings_replay *rp = ctx;

	if (VEC_RESERVE(rp->v, rp->cap, rp->n + 1, 8) != 0)
		return SDB_ENOMEM;
	memset(&rp->v[rp->n], 0, sizeof(rp->v[rp->n]));
	rp->v[rp->n].id = id;
	rp->v[rp->n].status = "open";
	rp->n++;
	return 0;
}

int findings_replay_begin(struct store *st, int64_t host_id, struct findings_replay *rp)
{
	int r;

	memset(rp, 0, sizeof(*rp));
	/* a rule finding comes from change events, which the replay derives
	 * again: it is derived again from scratch, as an import in scan order
	 * would have created it (the events that made it may be gone) */
	if ((r = store_findings_forget_rules(st, host_id)) != 0)
		return r;
	return store_findings_scan_decided(st, host_id, add_id, rp);
}

static struct findings_replay_item *replay_item(struct findings_replay *rp, int64_t id)
{
	for (size_t i = 0; rp && i < rp->n; i++)
		if (rp->v[i].id == id)
			return &rp->v[i];
	return NULL;
}

/* The replay's version of a status change of `it` (set_status's effect). */
static int replay_step(struct findings_replay_item *it, const char *status, int64_t at,
                       int64_t job_id, int creation)
{
	if (VEC_RESERVE(it->steps, it->csteps, it->nsteps + 1, 4) != 0)
		return SDB_ENOMEM;
	it->steps[it->nsteps++] = (struct findings_replay_step){status, at, job_id, creation};
	it->status = status;
	if (at > it->state_at)
		it->state_at = at;
	return 0;
}

/* Write a scan's decision on finding `id` (its note says which scan). */
static int scan_decision(struct store *st, int64_t id, const struct findings_replay_step *s)
{
	char note[96];

	snprintf(note, sizeof(note),
	         s->creation                          ? "found by job %lld"
	         : strcmp(s->status, "resolved") == 0 ? "not seen by job %lld, which probed it"
	                                              : "seen again by job %lld",
	         (long long)s->job_id);
	return store_finding_set_status(st, id, s->status, s->at, s->job_id, note, s->at,
	                                s->creation, NULL);
}

int findings_replay_finish(struct store *st, struct findings_replay *rp)
{
	int r = 0;

	for (size_t i = 0; i < rp->n && r == 0; i++) {
		const struct findings_replay_item *it = &rp->v[i];

		if (!it->detected)
			continue;
		if ((r = store_finding_rewind(st, it->id, it->state_at)) != 0)
			break;
		for (size_t k = 0; k < it->nsteps && r == 0; k++)
			r = scan_decision(st, it->id, &it->steps[k]);
	}
	return r;
}

void findings_replay_free(struct findings_replay *rp)
{
	for (size_t i = 0; rp && i < rp->n; i++)
		free(rp->v[i].steps);
	if (rp) {
		free(rp->v);
		memset(rp, 0, sizeof(*rp));
	}
}

/* ---- one scan of one host ------------------------------------------------ */

/* The host's stored findings as the rule sees them: in a replay, the
 * replay's status of those it derives again.  *out malloc'ed (free()),
 * borrowing the strings of `have`. */
static int known_of(const struct store_finding_ref *have, size_t nhave, struct findings_replay *rp,
                    struct findings_known **out)
{
	struct findings_known *k;

	*out = NULL;
	if (!nhave)
		return 0;
	if (!(k = calloc(nhave, sizeof(*k))))
		return SDB_ENOMEM;
	for (size_t i = 0; i < nhave; i++) {
		const struct findings_replay_item *it = replay_item(rp, have[i].id);

		k[i] = (struct findings_known){have[i].fingerprint,
		                               have[i].type,
		                               have[i].source,
		                               have[i].proto,
		                               have[i].port,
		                               it ? it->status : have[i].status,
		                               it ? it->state_at : have[i].state_at,
		                               it && !it->detected};
	}
	*out = k;
	return 0;
}

/* A decision on a finding the replay derives again: collected, not written. */
static int replay_apply(struct findings_replay_item *it, const struct findings_decision *d)
{
	switch (d->action) {
	case FINDINGS_ACT_NEW:
		it->detected = 1;
		return replay_step(it, "open", d->at, d->job_id, 1);
	case FINDINGS_ACT_REOPEN:
		return replay_step(it, "open", d->at, d->job_id, 0);
	case FINDINGS_ACT_RESOLVE:
		return replay_step(it, "resolved", d->at, d->job_id, 0);
	case FINDINGS_ACT_SEEN:
		if (d->at > it->state_at)
			it->state_at = d->at; /* the upsert's max(state_at, at) */
		return 0;
	}
	return SDB_EUSAGE;
}

/* A detection's decision: the finding stored (found or created by
 * fingerprint), then its status change written, or collected by the
 * replay.  Its details are made now and let go once stored: one
 * detection's at a time. */
static int apply_detection(struct store *st, int64_t host_id, struct findings_plan *p,
                           const struct findings_decision *d, const struct store_finding_ref *have,
                           struct findings_replay *rp)
{
	struct findings_detection *x = &p->dets[d->det];
	struct findings_replay_item *it;
	struct store_finding_new f;
	int64_t id;
	int created, r;

	if (!x->details)
		x->details = findings_detection_details(x);
	f = (struct store_finding_new){
	    .type = x->type,
	    .source = x->source,
	    .key = x->key,
	    .proto = x->proto,
	    .port = x->port,
	    .title = x->title,
	    .severity = findings_severity_name(x->severity),
	    .fingerprint = x->fingerprint,
	    .details = x->details,
	};
	r = store_finding_upsert(st, host_id, d->job_id, d->at, &f, &id, &created);
	free(x->details);
	x->details = NULL;
	if (r != 0)
		return r;
	if (d->known >= 0 && (it = replay_item(rp, have[d->known].id)) != NULL)
		return replay_apply(it, d);
	if (created)
		return scan_decision(st, id,
		                     &(struct findings_replay_step){"open", d->at, d->job_id, 1});
	if (d->action == FINDINGS_ACT_REOPEN)
		return scan_decision(st, id,
		                     &(struct findings_replay_step){"open", d->at, d->job_id, 0});
	return 0;
}

/* Write (or, in a replay, collect) the scan's decisions, in their order. */
static int apply_decisions(struct store *st, int64_t host_id, struct findings_plan *p,
                           const struct store_finding_ref *have, struct findings_replay *rp)
{
	int r = 0;

	for (size_t i = 0; i < p->n && r == 0; i++) {
		const struct findings_decision *d = &p->v[i];
		struct findings_replay_item *it;

		if (d->action != FINDINGS_ACT_RESOLVE)
			r = apply_detection(st, host_id, p, d, have, rp);
		else if ((it = replay_item(rp, have[d->known].id)) != NULL)
			r = replay_apply(it, d);
		else
			r = scan_decision(
			    st, have[d->known].id,
			    &(struct findings_replay_step){"resolved", d->at, d->job_id, 0});
	}
	return r;
}

int findings_on_scan(struct store *st, const struct findings_rules *rules, int64_t host_id,
                     int64_t job_id, int64_t at, const struct scan_scope *scope,
                     const struct rec_host *scan, const struct ev_event *events, size_t nevents,
                     struct findings_replay *rp)
{
	struct store_finding_ref *have = NULL;
	struct findings_known *known = NULL;
	struct findings_plan p = {0};
	size_t nhave = 0;
	int r;

	if (!st || !scan)
		return SDB_EUSAGE;
	if ((r = findings_detect(rules, scan, events, nevents, &p)) != 0)
		goto out;
	if ((r = store_findings_of_host(st, host_id, &have, &nhave)) != 0)
		goto out;
	if ((r = known_of(have, nhave, rp, &known)) != 0)
		goto out;
	if ((r = findings_decide(&p, scan, scope, known, nhave, at, job_id)) != 0)
		goto out;
	r = apply_decisions(st, host_id, &p, have, rp);
out:
	free(known);
	store_finding_refs_free(have, nhave);
	findings_plan_free(&p);
	return r;
}

/* ---- a user's decision ---------------------------------------------------- */

int findings_set_user_status(struct store *st, int64_t id, const char *status, const char *note,
                             int64_t now, char **old)
{
	char *was = NULL;
	int r;

	if ((r = store_tx_begin(st)) != 0)
		return r;
	r = store_finding_set_status(st, id, status, now, 0, note, 0, 0, &was);
	if (r == 0)
		r = store_tx_commit(st);
	if (r != 0) {
		store_tx_rollback(st);
		free(was);
		was = NULL;
	}
	if (old)
		*old = was;
	else
		free(was);
	return r;
}
