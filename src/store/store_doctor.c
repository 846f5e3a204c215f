/*
 * store_doctor.c - `scandb doctor`, the part written once for every backend
 * (store.h store_doctor, docs/OPERATIONS.md): the report and its checks
 * (store__doctor_check / _problem), the migrations check, the audit of the
 * port state documents (store__doctor_docs, also run by PostgreSQL's
 * backup), orphans generated from store__relations, stuck jobs (and
 * --fix, through the reaper), and the order the checks run in.  The
 * engine's own checks (integrity, foreign keys, CHECK constraints,
 * privileges) are the backends' doctor slots.
 *
 * SQL written here is constant text in SQL both backends accept; the
 * identifiers come from the constant store__relations, never from input.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/store.h"
#include "store/store_int.h"

static char *dup_str(const char *s)
{
	char *d;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	if ((d = malloc(n)))
		memcpy(d, s, n);
	return d;
}

int store__doctor_check(struct store_doctor_report *rep, const char *name, const char *status,
                        const char *detail)
{
	struct store_doctor_check *c = NULL;
	char *d = NULL;

	if (detail && !(d = dup_str(detail)))
		return SDB_ENOMEM;
	for (size_t i = 0; i < rep->nchecks; i++)
		if (strcmp(rep->checks[i].name, name) == 0)
			c = &rep->checks[i];
	if (!c) {
		void *p = sdb_reallocarray(rep->checks, rep->nchecks + 1, sizeof(*rep->checks));
		if (!p) {
			free(d);
			return SDB_ENOMEM;
		}
		rep->checks = p;
		c = &rep->checks[rep->nchecks++];
		memset(c, 0, sizeof(*c));
		snprintf(c->name, sizeof(c->name), "%s", name);
	}
	snprintf(c->status, sizeof(c->status), "%s", status);
	if (d || strcmp(status, "problems") != 0) {
		free(c->detail);
		c->detail = d;
	}
	return 0;
}

int store__doctor_problem(struct store_doctor_report *rep, const char *check, int64_t count,
                          const char *what, const char *fix)
{
	struct store_problem *p;
	void *np;
	int r;

	if ((r = store__doctor_check(rep, check, "problems", NULL)) != 0)
		return r;
	np = sdb_reallocarray(rep->problems, rep->nproblems + 1, sizeof(*rep->problems));
	if (!np)
		return SDB_ENOMEM;
	rep->problems = np;
	p = &rep->problems[rep->nproblems];
	memset(p, 0, sizeof(*p));
	snprintf(p->check, sizeof(p->check), "%s", check);
	p->count = count;
	p->what = dup_str(what);
	p->fix = dup_str(fix);
	if (!p->what || (fix && !p->fix)) {
		free(p->what);
		free(p->fix);
		return SDB_ENOMEM;
	}
	rep->nproblems++;
	return 0;
}

void store_doctor_report_free(struct store_doctor_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nchecks; i++)
		free(r->checks[i].detail);
	for (size_t i = 0; i < r->nproblems; i++) {
		free(r->problems[i].what);
		free(r->problems[i].fix);
	}
	free(r->checks);
	free(r->problems);
	memset(r, 0, sizeof(*r));
}

static int doctor_migrations(struct store *st, struct store_doctor_report *rep)
{
	struct store_migration *ms = NULL;
	size_t n = 0;
	char what[512];
	int r;

	if ((r = store_migrate_status(st, &ms, &n)) != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		const struct store_migration *m = &ms[i];
		if (m->applied && !m->known) {
			snprintf(what, sizeof(what),
			         "migration %04d_%s is applied but unknown to this scandb: the "
			         "database is newer",
			         m->version, m->name);
			r = store__doctor_problem(
			    rep, "migrations", 1, what,
			    "use the scandb version that wrote this database");
		} else if (m->applied && !m->checksum_ok) {
			snprintf(what, sizeof(what),
			         "migration %04d_%s was changed after it was applied (checksum "
			         "differs from this scandb's)",
			         m->version, m->name);
			r = store__doctor_problem(rep, "migrations", 1, what,
			                          "restore a backup made by this scandb version "
			                          "('scandb restore --force FILE'), or use the "
			                          "scandb that applied it");
		} else if (!m->applied && m->known) {
			snprintf(what, sizeof(what), "migration %04d_%s is not applied", m->version,
			         m->name);
			r = store__doctor_problem(rep, "migrations", 1, what,
			                          "scandb backup FILE && scandb migrate up");
		}
	}
	free(ms);
	if (r == 0)
		r = store__doctor_check(rep, "migrations", rep->nproblems ? "problems" : "ok",
		                        NULL);
	return r;
}

/* ---- the port state documents ---- */

/* The documents read, those that are not what scandb writes, and the first
 * of those hosts (named in the fix).  `after`: the last host read, where
 * the next page starts. */
struct doc_audit {
	int64_t read, bad, after;
	int64_t first[16];
	int page;
};

static int audit_doc(void *ctx, const char *const *col, const size_t *len)
{
	struct doc_audit *t = ctx;
	int64_t host_id = col[0] ? strtoll(col[0], NULL, 10) : 0;
	int r = store__port_state_check(col[1] ? col[1] : "", col[1] ? len[1] : 0);

	t->after = host_id;
	t->page++;
	t->read++;
	if (r == SDB_ENOMEM)
		return r;
	if (r != 0) {
		if (t->bad < (int64_t)(sizeof(t->first) / sizeof(t->first[0])))
			t->first[t->bad] = host_id;
		t->bad++;
	}
	return 0;
}

static int audit_report(struct store_doctor_report *rep, const struct doc_audit *t)
{
	char what[512], fix[768];
	size_t off, shown = 0;

	if (t->bad == 0)
		return store__doctor_check(rep, "port_state", "ok", NULL);
	snprintf(what, sizeof(what),
	         "%lld of %lld port state documents (host_state.ports) are not what "
	         "scandb writes (edited by hand?): imports of scans of those hosts fail",
	         (long long)t->bad, (long long)t->read);
	off = (size_t)snprintf(fix, sizeof(fix), "DELETE FROM host_state WHERE host_id IN (");
	for (; shown < (size_t)t->bad && shown < sizeof(t->first) / sizeof(t->first[0]) &&
	       off < sizeof(fix);
	     shown++)
		off += (size_t)snprintf(fix + off, sizeof(fix) - off, "%s%lld", shown ? ", " : "",
		                        (long long)t->first[shown]);
	if (off < sizeof(fix))
		snprintf(fix + off, sizeof(fix) - off,
		         ");%s  (those hosts' port state then starts again from their next scan)",
		         (int64_t)shown < t->bad ? "  (the first of them; run doctor again)" : "");
	return store__doctor_problem(rep, "port_state", t->bad, what, fix);
}

/* A page of documents at a time: a PostgreSQL result holds no more. */
#define DOC_PAGE 2000
#define STR_(x)  #x
#define STR(x)   STR_(x)

/* store_int.h */
int store__doctor_docs(struct store *st, struct store_doctor_report *rep)
{
	static const char sql[] = "SELECT host_id, CAST(ports AS TEXT) FROM host_state"
	                          " WHERE host_id > $1 ORDER BY host_id LIMIT " STR(DOC_PAGE);
	struct doc_audit t;
	int exists = 0, r;

	memset(&t, 0, sizeof(t));
	if ((r = st->ops->table_exists(st, "host_state", &exists)) != 0)
		return r;
	if (!exists)
		return store__doctor_check(rep, "port_state", "skipped",
		                           "no host_state table (schema before 0005)");
	do {
		t.page = 0;
		r = store__q_text(st, sql, &t.after, 1, audit_doc, &t);
	} while (r == 0 && t.page == DOC_PAGE);
	if (r == SDB_ENOMEM)
		r = store__set_err(st, r,
		                   "doctor: reading the port state documents: out of memory");
	return r != 0 ? r : audit_report(rep, &t);
}

/* Relations whose tables exist at this schema version. */
static int relation_present(const struct store__relation *rel, int version)
{
	return rel->since <= version && (rel->until == 0 || version < rel->until);
}

/* The relations with a declared foreign key are not looked at again when
 * the backend verified every row's keys, nor with quick (the engine
 * enforces them) -- unless the foreign_keys check found something: then
 * the orphans are counted, with the SQL that removes them. */
/* n rows of rel->child whose rel->column names a missing row: the problem
 * and the SQL that removes them (or, for a SET NULL key, clears it). */
static int orphan_problem(struct store_doctor_report *rep, const struct store__relation *rel,
                          int64_t n)
{
	char fix[768], what[1024];

	snprintf(what, sizeof(what),
	         "%lld row%s of %s reference%s a missing %s row (%s.%s -> %s.%s)", (long long)n,
	         n == 1 ? "" : "s", rel->child, n == 1 ? "s" : "", rel->parent, rel->child,
	         rel->column, rel->parent, rel->parent_column);
	if (!rel->fk) {
		/* references inside the port state documents: the engine cannot
		 * clear them, and an event naming such a job as the previous scan
		 * would break its foreign key; the hosts' state starts again from
		 * their next scan */
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
		         "; these are references inside the port state documents"
		         " (host_state.ports), which scandb never leaves behind"
		         " (prune keeps every job they name): a job was deleted by"
		         " hand, and imports that change those ports fail");
		snprintf(fix, sizeof(fix),
		         "DELETE FROM host_state WHERE host_id IN (SELECT c.host_id FROM %s c"
		         " WHERE c.%s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s p WHERE"
		         " p.%s = c.%s));  (those hosts' port state then starts again from"
		         " their next scan)",
		         rel->child, rel->column, rel->parent, rel->parent_column, rel->column);
	} else if (rel->on_delete == STORE__CASCADE) {
		snprintf(fix, sizeof(fix),
		         "DELETE FROM %s WHERE %s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
		         "%s p WHERE p.%s = %s.%s);",
		         rel->child, rel->column, rel->parent, rel->parent_column, rel->child,
		         rel->column);
	} else {
		snprintf(fix, sizeof(fix),
		         "UPDATE %s SET %s = NULL WHERE %s IS NOT NULL AND NOT EXISTS "
		         "(SELECT 1 FROM %s p WHERE p.%s = %s.%s);",
		         rel->child, rel->column, rel->column, rel->parent, rel->parent_column,
		         rel->child, rel->column);
	}
	return store__doctor_problem(rep, "orphans", n, what, fix);
}

static int doctor_orphans(struct store *st, int version, int quick, struct store_doctor_report *rep)
{
	char sql[512];
	int found = 0, skipped = 0, r;

	for (size_t i = 0; i < rep->nproblems; i++)
		if (strcmp(rep->problems[i].check, "foreign_keys") == 0)
			quick = 0;

	for (size_t i = 0; i < store__nrelations; i++) {
		const struct store__relation *rel = &store__relations[i];
		int64_t n = 0;

		if (!relation_present(rel, version))
			continue;
		if (rel->fk && (quick || rep->fk_rows_checked)) {
			skipped++;
			continue;
		}
		/* Identifiers come from the constant table above, never from input. */
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM %s c WHERE c.%s IS NOT NULL AND NOT EXISTS "
		         "(SELECT 1 FROM %s p WHERE p.%s = c.%s)",
		         rel->child, rel->column, rel->parent, rel->parent_column, rel->column);
		if ((r = store__q_one(st, sql, NULL, 0, &n)) != 0)
			return r;
		if (n == 0)
			continue;
		found = 1;
		if ((r = orphan_problem(rep, rel, n)) != 0)
			return r;
	}
	if (found)
		return 0;
	return store__doctor_check(rep, "orphans", "ok",
	                           !skipped ? NULL
	                           : rep->fk_rows_checked
	                               ? "the relations with a foreign key: proven by the "
	                                 "foreign_keys check"
	                               : "the relations with a foreign key: enforced by the "
	                                 "database (--quick; the full check verifies every row)");
}

struct stuck_ctx {
	int64_t now;
	int64_t n;
	char ids[256];
	size_t off;
};

static int on_running(void *ctx, struct store_job *j)
{
	struct stuck_ctx *s = ctx;

	if (j->timeout_at != 0 && j->timeout_at < s->now) {
		if (s->off < sizeof(s->ids) - 24)
			s->off += (size_t)snprintf(s->ids + s->off, sizeof(s->ids) - s->off,
			                           "%s%lld", s->n ? ", " : "", (long long)j->id);
		s->n++;
	}
	store_job_free(j);
	return 0;
}

static int doctor_stuck(struct store *st, int fix, int64_t now, struct store_doctor_report *rep)
{
	struct stuck_ctx sc = {.now = now};
	char what[512], detail[128];
	int reaped = 0, r;

	if ((r = store_jobs_each(st, "running", on_running, &sc)) != 0)
		return r;
	if (sc.n == 0)
		return store__doctor_check(rep, "stuck_jobs", "ok", NULL);
	if (fix) {
		/* The reaper's timeout rule is exactly this check's: running and
		 * past timeout_at.  No hostname: only timeouts, one transaction. */
		if ((r = store_jobs_reap_stale(st, now, NULL, &reaped)) != 0)
			return r;
		rep->fixed_stuck_jobs = reaped;
		snprintf(detail, sizeof(detail), "marked %d stuck job%s failed", reaped,
		         reaped == 1 ? "" : "s");
		return store__doctor_check(rep, "stuck_jobs", "fixed", detail);
	}
	snprintf(what, sizeof(what),
	         "%lld job%s still 'running' past %s timeout_at (the process that ran it is "
	         "gone): %s%s",
	         (long long)sc.n, sc.n == 1 ? " is" : "s are", sc.n == 1 ? "its" : "their", sc.ids,
	         sc.off >= sizeof(sc.ids) - 24 ? ", ..." : "");
	return store__doctor_problem(rep, "stuck_jobs", sc.n, what,
	                             "scandb doctor --fix (marks them failed)");
}

/* A check that could not run on this database (a damaged file, a missing
 * table) is itself a problem to report, not the end of the report. */
static int check_ran(struct store *st, struct store_doctor_report *rep, const char *name, int r)
{
	char what[1200];

	if (r == 0 || r == SDB_ENOMEM || r == SDB_EUSAGE)
		return r;
	snprintf(what, sizeof(what), "the %s check could not run: %s", name, st->errmsg);
	if (strstr(st->errmsg, "permission denied"))
		return store__doctor_problem(rep, name, -1, what,
		                             "grant the connecting role what the 'privileges' "
		                             "problems list, then run scandb doctor again");
	return store__doctor_problem(rep, name, -1, what,
	                             "repair the database first (see the other problems), or "
	                             "restore a backup: scandb restore --force FILE");
}

int store_doctor(struct store *st, int flags, int64_t now, struct store_doctor_report *out)
{
	struct store__schema_state ss;
	int fix = (flags & STORE_DOCTOR_FIX) != 0, quick = (flags & STORE_DOCTOR_QUICK) != 0;
	int empty = 0, r;

	if (!st || !out)
		return SDB_EUSAGE;
	memset(out, 0, sizeof(*out));
	if ((r = st->ops->is_empty(st, &empty)) != 0)
		goto fail;
	if (empty) {
		r = store__doctor_problem(out, "migrations", -1,
		                          "the database has no scandb schema (no tables)",
		                          "scandb migrate up");
		goto done;
	}
	if ((r = store__schema_state(st, &ss)) != 0) {
		/* schema_migrations unreadable (e.g. PostgreSQL: a role without
		 * SELECT on it): a problem of this check; the others still run,
		 * on every relation, and "privileges" says what to GRANT. */
		if ((r = check_ran(st, out, "migrations", r)) != 0)
			goto fail;
		memset(&ss, 0, sizeof(ss));
		ss.version = INT_MAX;
	} else if ((r = check_ran(st, out, "migrations", doctor_migrations(st, out))) != 0) {
		goto fail;
	}
	if (st->ops->doctor) {
		/* the engine's checks, then the documents the engine cannot check */
		if ((r = store__fault(st, "doctor")) == 0 &&
		    (r = st->ops->doctor(st, quick, out)) == 0)
			r = store__doctor_docs(st, out);
		if ((r = check_ran(st, out, "integrity", r)) != 0)
			goto fail;
	} else if ((r = store__doctor_check(out, "integrity", "skipped",
	                                    "not supported by this backend")) != 0) {
		goto fail;
	}
	if ((r = check_ran(st, out, "orphans", doctor_orphans(st, ss.version, quick, out))) != 0)
		goto fail;
	if (ss.version >= 1 &&
	    (r = check_ran(st, out, "stuck_jobs", doctor_stuck(st, fix, now, out))) != 0)
		goto fail;
	if (st->ops->doctor_privileges)
		r = check_ran(st, out, "privileges", st->ops->doctor_privileges(st, out));
	else
		r = store__doctor_check(out, "privileges", "skipped",
		                        "no roles or grants in this backend");
done:
	if (r == 0)
		return 0;
fail:
	store_doctor_report_free(out);
	return r;
}
