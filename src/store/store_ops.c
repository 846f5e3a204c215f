/*
 * store_ops.c - the database operations written once for every backend
 * (store.h "operations", docs/OPERATIONS.md): health, stats, prune, the
 * rule that says a running job is stale and the reaper that records it,
 * publishing a backup file, and the restore policy.  The doctor is
 * store_doctor.c's.  Engine specifics are the backends' slots
 * (store_int.h); what is policy -- what prune keeps, when a job is stale,
 * what a restore refuses -- is here, once.
 *
 * SQL written here is constant text in SQL both backends accept, with $N
 * parameters: no input ever becomes SQL text (invariant 5).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "core/vec.h"
#include "store/store.h"
#include "store/store_int.h"

/* The foreign keys of the schema (store_int.h "struct store__relation"). */
const struct store__relation store__relations[] = {
    {"jobs", "target_id", "targets", "id", STORE__SET_NULL, 1, 0, 1},
    {"hosts", "last_job_id", "jobs", "id", STORE__SET_NULL, 1, 0, 1},
    {"host_scans", "job_id", "jobs", "id", STORE__CASCADE, 1, 0, 1},
    {"host_scans", "host_id", "hosts", "id", STORE__CASCADE, 1, 0, 1},
    {"ports", "job_id", "jobs", "id", STORE__CASCADE, 1, 0, 1},
    {"ports", "host_id", "hosts", "id", STORE__CASCADE, 1, 0, 1},
    {"extraports", "job_id", "jobs", "id", STORE__CASCADE, 1, 0, 1},
    {"extraports", "host_id", "hosts", "id", STORE__CASCADE, 1, 0, 1},
    {"scripts", "job_id", "jobs", "id", STORE__CASCADE, 1, 0, 1},
    {"scripts", "host_id", "hosts", "id", STORE__CASCADE, 1, 0, 1},
    {"host_events", "host_id", "hosts", "id", STORE__CASCADE, 1, 0, 1},
    {"host_events", "job_id", "jobs", "id", STORE__CASCADE, 1, 0, 1},
    {"host_events", "prev_job_id", "jobs", "id", STORE__SET_NULL, 1, 0, 1},
    {"run_scripts", "job_id", "jobs", "id", STORE__CASCADE, 6, 0, 1},
    {"port_state", "host_id", "hosts", "id", STORE__CASCADE, 2, 5, 1},
    {"port_state", "job_id", "jobs", "id", STORE__SET_NULL, 2, 5, 1},
    {"host_state", "host_id", "hosts", "id", STORE__CASCADE, 5, 0, 1},
    {"port_state", "job_id", "jobs", "id", STORE__SET_NULL, 5, 0, 0}, /* the view */
    {"findings", "host_id", "hosts", "id", STORE__CASCADE, 3, 0, 1},
    {"finding_jobs", "finding_id", "findings", "id", STORE__CASCADE, 3, 0, 1},
    {"finding_jobs", "job_id", "jobs", "id", STORE__CASCADE, 3, 0, 1},
    {"finding_status_changes", "finding_id", "findings", "id", STORE__CASCADE, 3, 0, 1},
    {"finding_status_changes", "job_id", "jobs", "id", STORE__SET_NULL, 3, 0, 1},
    {"host_tags", "host_id", "hosts", "id", STORE__CASCADE, 11, 0, 1},
    {"host_notes", "host_id", "hosts", "id", STORE__CASCADE, 11, 0, 1},
};
const size_t store__nrelations = sizeof(store__relations) / sizeof(store__relations[0]);

/* ---- query helpers ---- */

static int take_first(void *ctx, int64_t v)
{
	*(int64_t *)ctx = v;
	return 1; /* one row is enough */
}

/* store_int.h */
int store__q_one(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                 int64_t *out)
{
	int r;

	*out = 0;
	r = store__q_int(st, sql, params, nparams, take_first, out);
	return r == 1 ? 0 : r;
}

/* store_int.h */
int store__schema_state(struct store *st, struct store__schema_state *ss)
{
	struct store_migration *ms = NULL;
	size_t n = 0;
	int r;

	memset(ss, 0, sizeof(*ss));
	if ((r = store_migrate_status(st, &ms, &n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		if (ms[i].known && ms[i].version > ss->latest)
			ss->latest = ms[i].version;
		if (ms[i].applied && ms[i].version > ss->version)
			ss->version = ms[i].version;
		ss->pending += ms[i].known && !ms[i].applied;
		ss->unknown += ms[i].applied && !ms[i].known;
		ss->changed += ms[i].applied && ms[i].known && !ms[i].checksum_ok;
	}
	free(ms);
	return 0;
}

/* ---- stale jobs ---- */

int store_worker_is_dead(const char *worker_id, const char *hostname)
{
	const char *colon = strrchr(worker_id, ':');
	size_t hlen = strlen(hostname);
	char *end;
	long pid;

	if (!colon || (size_t)(colon - worker_id) != hlen ||
	    strncmp(worker_id, hostname, hlen) != 0)
		return 0;
	errno = 0;
	pid = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || pid <= 0 || pid > INT_MAX)
		return 0;
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Why a job is stale -- the one rule, for the reaper and for the readers
 * that show a job as the reaper will record it. */
enum stale { NOT_STALE = 0, STALE_WORKER_GONE, STALE_TIMED_OUT };

static enum stale job_stale(const struct store_job *j, int64_t now, const char *hostname, char *why,
                            size_t whylen)
{
	char at[TIME_ISO_LEN];

	if (!j->status || strcmp(j->status, "running") != 0)
		return NOT_STALE;
	if (hostname && *hostname && j->worker_id && store_worker_is_dead(j->worker_id, hostname)) {
		if (why)
			snprintf(why, whylen,
			         "worker %s is gone (process died before the job finished)",
			         j->worker_id);
		return STALE_WORKER_GONE;
	}
	if (j->timeout_at != 0 && j->timeout_at < now) {
		if (why) {
			time_format_iso(j->timeout_at, at);
			snprintf(why, whylen, "timed out at %s without a heartbeat", at);
		}
		return STALE_TIMED_OUT;
	}
	return NOT_STALE;
}

int store_job_is_stale(const struct store_job *j, int64_t now, const char *hostname, char *why,
                       size_t whylen)
{
	return job_stale(j, now, hostname, why, whylen) != NOT_STALE;
}

/* The running jobs that are stale, as the jobs_fail slot takes them. */
struct stale_jobs {
	int64_t now;
	const char *hostname;
	struct store__stale_job *v;
	size_t n;
};

static int collect_stale(void *ctx, struct store_job *j)
{
	struct stale_jobs *l = ctx;
	struct store__stale_job x;
	void *p;
	enum stale why = job_stale(j, l->now, l->hostname, x.why, sizeof(x.why));

	x.id = j->id;
	x.timed_out = why == STALE_TIMED_OUT;
	store_job_free(j);
	if (why == NOT_STALE)
		return 0;
	/* one at a time: stale jobs are few */
	if (!(p = sdb_reallocarray(l->v, l->n + 1, sizeof(*l->v))))
		return SDB_ENOMEM;
	l->v = p;
	l->v[l->n++] = x;
	return 0;
}

/* The running jobs are read, the rule (job_stale) picks the stale ones, and
 * the backend marks them failed in a transaction of its own, each only if
 * it is still running (and, for a timeout, still past it: a heartbeat in
 * between wins). */
int store_jobs_reap_stale(struct store *st, int64_t now, const char *hostname, int *reaped)
{
	struct stale_jobs l = {.now = now, .hostname = hostname};
	int count = 0, r;

	if (reaped)
		*reaped = 0;
	if (!st)
		return SDB_EUSAGE;
	if (!st->ops->jobs_fail)
		return store__set_err(st, SDB_EUNSUPPORTED,
		                      "jobs_reap_stale: not supported by the %s backend",
		                      st->ops->name);
	if ((r = store__fault(st, "jobs_reap_stale")) != 0)
		return r;
	if (st->in_tx)
		return store__set_err(st, SDB_EUSAGE,
		                      "reaping stale jobs needs its own transaction, but one is "
		                      "already open");
	if ((r = store_jobs_each(st, "running", collect_stale, &l)) != 0) {
		if (r == SDB_ENOMEM)
			r = store__set_err(st, r, "reaping stale jobs: out of memory");
		goto out;
	}
	if (l.n > 0 && (r = st->ops->jobs_fail(st, l.v, l.n, now, &count)) != 0)
		goto out;
	if (reaped)
		*reaped = count;
out:
	free(l.v);
	return r;
}

/* ---- health ---- */

int store_health(struct store *st, struct store_health *out)
{
	struct store__schema_state ss;
	double t0;
	int empty = 0, r;

	if (!st || !out)
		return SDB_EUSAGE;
	memset(out, 0, sizeof(*out));
	snprintf(out->backend, sizeof(out->backend), "%s", st->ops->name);
	if (!st->ops->ping)
		return store__set_err(st, SDB_EUNSUPPORTED,
		                      "health: not supported by the %s backend", st->ops->name);
	if ((r = store__fault(st, "ping")) != 0)
		return r;
	t0 = time_mono();
	if ((r = st->ops->ping(st, out->server_version, sizeof(out->server_version))) != 0)
		return r;
	out->latency_ms = (time_mono() - t0) * 1000.0;
	if ((r = st->ops->is_empty(st, &empty)) != 0 || (r = store__schema_state(st, &ss)) != 0)
		return r;
	out->schema_version = ss.version;
	out->latest_version = ss.latest;
	out->pending = ss.pending;
	out->unknown = ss.unknown;
	out->changed = ss.changed;
	if (empty)
		snprintf(out->problem, sizeof(out->problem),
		         "the database has no schema yet ('scandb import', 'scandb scan' or "
		         "'scandb migrate up' creates it)");
	else if (ss.unknown)
		snprintf(out->problem, sizeof(out->problem),
		         "the database is newer than this scandb (%d unknown migration%s): use a "
		         "newer scandb",
		         ss.unknown, ss.unknown == 1 ? "" : "s");
	else if (ss.changed)
		snprintf(out->problem, sizeof(out->problem),
		         "%d applied migration%s differ from this scandb's (run 'scandb migrate "
		         "status')",
		         ss.changed, ss.changed == 1 ? "" : "s");
	else if (ss.pending)
		snprintf(out->problem, sizeof(out->problem),
		         "%d migration%s pending: run 'scandb migrate up' (back up first: "
		         "'scandb backup FILE')",
		         ss.pending, ss.pending == 1 ? "" : "s");
	out->healthy = out->problem[0] == '\0';
	return 0;
}

/* ---- stats ---- */

static int stat_job(struct store *st, const char *sql, struct store_job **out)
{
	int64_t id = 0;
	int r;

	*out = NULL;
	if ((r = store__q_one(st, sql, NULL, 0, &id)) != 0 || id == 0)
		return r;
	return store_job_get(st, id, out);
}

int store_stats(struct store *st, int exact, struct store_stats *out)
{
	/* One constant query per status: the names are the CHECK's. */
	static const char *const by_status[5] = {
	    "SELECT count(*) FROM jobs WHERE status = 'queued'",
	    "SELECT count(*) FROM jobs WHERE status = 'running'",
	    "SELECT count(*) FROM jobs WHERE status = 'completed'",
	    "SELECT count(*) FROM jobs WHERE status = 'failed'",
	    "SELECT count(*) FROM jobs WHERE status = 'cancelled'",
	};
	int r;

	if (!st || !out)
		return SDB_EUSAGE;
	memset(out, 0, sizeof(*out));
	snprintf(out->backend, sizeof(out->backend), "%s", st->ops->name);
	if (!st->ops->stats)
		return store__set_err(st, SDB_EUNSUPPORTED,
		                      "stats: not supported by the %s backend", st->ops->name);
	if ((r = store__fault(st, "stats")) != 0 || (r = st->ops->stats(st, exact, out)) != 0)
		goto fail;
	for (int i = 0; i < 5; i++) {
		if ((r = store__q_one(st, by_status[i], NULL, 0, &out->jobs_by_status[i])) != 0)
			goto fail;
		out->jobs_total += out->jobs_by_status[i];
	}
	if ((r = stat_job(st,
	                  "SELECT id FROM jobs ORDER BY coalesce(started_at, created_at), id "
	                  "LIMIT 1",
	                  &out->oldest_job)) != 0 ||
	    (r = stat_job(st,
	                  "SELECT id FROM jobs ORDER BY coalesce(started_at, created_at) DESC, "
	                  "id DESC LIMIT 1",
	                  &out->newest_job)) != 0)
		goto fail;
	return 0;
fail:
	store_stats_free(out);
	return r;
}

void store_stats_free(struct store_stats *s)
{
	if (!s)
		return;
	free(s->objs);
	store_job_free(s->oldest_job);
	store_job_free(s->newest_job);
	s->objs = NULL;
	s->nobjs = 0;
	s->oldest_job = s->newest_job = NULL;
}

/* ---- backup / restore ---- */

/* fsync a file or directory by path (best effort for directories). */
static int fsync_path(const char *path, int is_dir)
{
	int fd = open(path, is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
	int r = 0;

	if (fd < 0)
		return is_dir ? 0 : -1;
	if (fsync(fd) != 0 && !is_dir)
		r = -1;
	close(fd);
	return r;
}

int store__backup_publish(struct store *st, const char *tmp, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	struct stat sb;

	if (fsync_path(tmp, 0) != 0)
		return store__set_err(st, SDB_EIO, "cannot sync %s: %s", tmp, strerror(errno));
	if (link(tmp, path) != 0) {
		int e = errno;
		if (!((e == EPERM || e == EOPNOTSUPP || e == EMLINK) && stat(path, &sb) != 0 &&
		      errno == ENOENT && rename(tmp, path) == 0))
			return store__set_err(st, e == EEXIST ? SDB_EEXISTS : SDB_EIO,
			                      "cannot create %s: %s", path, strerror(e));
	} else {
		unlink(tmp);
	}
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fsync_path(dir, 1);
	return 0;
}

int store_backup(struct store *st, const char *path, struct store_backup_info *info)
{
	struct stat sb;

	if (!st || !path || !*path || !info)
		return SDB_EUSAGE;
	memset(info, 0, sizeof(*info));
	if (st->in_tx)
		return store__set_err(st, SDB_EUSAGE, "backup: a transaction is open");
	if (stat(path, &sb) == 0)
		return store__set_err(
		    st, SDB_EEXISTS, "%s already exists; choose another name (or remove it)", path);
	STORE__CALL(st, backup, path, info);
}

/* Rows of a table of the target: 0 when the table does not exist, -1 when
 * they could not be counted (st's message says why). */
static int64_t target_rows(struct store *st, const char *table, const char *count_sql)
{
	int64_t n = 0;
	int exists = 0;

	if (st->ops->table_exists(st, table, &exists) != 0)
		return -1;
	if (!exists)
		return 0;
	return store__q_one(st, count_sql, NULL, 0, &n) == 0 ? n : -1;
}

/* Restoring replaces all of the target: refused, unless force, when it has
 * jobs or hosts, or when nobody can tell whether it has. */
static int restore_target_empty(struct store *st, int force)
{
	int64_t jobs, hosts;

	if (force)
		return 0;
	jobs = target_rows(st, "jobs", "SELECT count(*) FROM jobs");
	hosts = jobs < 0 ? -1 : target_rows(st, "hosts", "SELECT count(*) FROM hosts");
	if (jobs < 0 || hosts < 0) {
		char why[sizeof(st->errmsg)];
		snprintf(why, sizeof(why), "%s", st->errmsg);
		return store__set_err(st, SDB_EBUSY,
		                      "cannot tell whether the database is empty (%s); restoring "
		                      "replaces all of it: add --force to replace it anyway",
		                      why);
	}
	if (jobs || hosts)
		return store__set_err(
		    st, SDB_EEXISTS,
		    "the database is not empty (%lld jobs, %lld hosts); restoring "
		    "replaces all of it: add --force (and back it up first)",
		    (long long)jobs, (long long)hosts);
	return 0;
}

/* The restore policy, for every backend (store_int.h restore_*): the file is
 * validated before anything is touched -- a regular file, a backup of this
 * backend, migrations this scandb knows with the same checksums
 * (store__check_backup_migrations), the file's own integrity -- then, under
 * the writers' lock, a target with data is refused unless force, and the
 * backend replaces the whole database at once. */
int store_restore(struct store *st, const char *path, int force, struct store_restore_info *info)
{
	struct store_applied *rows = NULL;
	const struct store_ops *ops;
	void *file = NULL;
	struct stat sb;
	size_t n = 0;
	int locked = 0, r;

	if (!st || !path || !*path || !info)
		return SDB_EUSAGE;
	memset(info, 0, sizeof(*info));
	ops = st->ops;
	if (!ops->restore_open || !ops->restore_apply)
		return store__set_err(st, SDB_EUNSUPPORTED,
		                      "restore: not supported by the %s backend", ops->name);
	if ((r = store__fault(st, "restore")) != 0)
		return r;
	if (st->in_tx)
		return store__set_err(st, SDB_EUSAGE, "restore: a transaction is open");
	if (stat(path, &sb) != 0)
		return store__set_err(st, SDB_ENOTFOUND, "cannot read %s: %s", path,
		                      strerror(errno));
	if (!S_ISREG(sb.st_mode))
		return store__set_err(st, SDB_EPARSE, "%s is not a regular file", path);
	if ((r = ops->restore_open(st, path, &file, &rows, &n)) != 0 ||
	    (r = store__check_backup_migrations(st, path, rows, n, &info->schema_version,
	                                        &info->pending)) != 0 ||
	    (ops->restore_verify && (r = ops->restore_verify(st, file, path)) != 0))
		goto out;
	if (ops->restore_lock) {
		if ((r = ops->restore_lock(st, 1)) != 0)
			goto out;
		locked = 1;
	}
	if ((r = restore_target_empty(st, force)) != 0 ||
	    (r = ops->restore_apply(st, file, path)) != 0)
		goto out;
	info->jobs = target_rows(st, "jobs", "SELECT count(*) FROM jobs");
	info->hosts = target_rows(st, "hosts", "SELECT count(*) FROM hosts");
out:
	if (locked)
		ops->restore_lock(st, 0);
	if (file)
		ops->restore_close(st, file);
	free(rows);
	return r;
}

/* ---- prune ---- */

/* The jobs prune removes: old, finished, not among the keep_last newest,
 * and not needed by the current state ($1 cutoff, $2 keep_last). */
/* (%s: the backend's sql_time function, applied to the cutoff: SQLite
 * stores Unix seconds, PostgreSQL timestamptz.) */
#define PRUNE_OLD_FINISHED                                                                         \
	"coalesce(j.started_at, j.created_at) < %s($1)"                                            \
	" AND j.status <> 'running' AND j.status <> 'queued'"
#define PRUNE_NOT_LAST                                                                             \
	" j.id NOT IN (SELECT k.id FROM jobs k"                                                    \
	" ORDER BY coalesce(k.started_at, k.created_at) DESC, k.id DESC LIMIT $2)"
#define PRUNE_NOT_CURRENT                                                                          \
	" NOT EXISTS (SELECT 1 FROM hosts h WHERE h.last_job_id = j.id)"                           \
	" AND NOT EXISTS (SELECT 1 FROM scandb_prune_keep k WHERE k.id = j.id)"                    \
	" AND NOT EXISTS (SELECT 1 FROM host_scans hs WHERE hs.job_id = j.id"                      \
	" AND NOT EXISTS (SELECT 1 FROM host_scans n WHERE n.host_id = hs.host_id"                 \
	" AND (n.scanned_at > hs.scanned_at"                                                       \
	" OR (n.scanned_at = hs.scanned_at AND n.job_id > hs.job_id))))"

static const char prune_temp_create[] =
    "CREATE TEMP TABLE scandb_prune_jobs (id BIGINT PRIMARY KEY)";
static const char prune_temp_drop[] = "DROP TABLE scandb_prune_jobs";
/* Each port's latest probing scan, read from the port state documents once
 * (a correlated test against the port_state view would read them all again
 * for every candidate job). */
static const char prune_keep_create[] =
    "CREATE TEMP TABLE scandb_prune_keep (id BIGINT PRIMARY KEY)";
static const char prune_keep_fill[] = "INSERT INTO scandb_prune_keep (id) SELECT DISTINCT"
                                      " ps.job_id FROM port_state ps WHERE ps.job_id IS NOT NULL";
static const char prune_keep_drop[] = "DROP TABLE scandb_prune_keep";
static const char prune_select[] =
    "INSERT INTO scandb_prune_jobs (id) SELECT j.id FROM jobs j"
    " WHERE " PRUNE_OLD_FINISHED " AND" PRUNE_NOT_LAST " AND" PRUNE_NOT_CURRENT;
static const char prune_old[] =
    "SELECT count(*) FROM jobs j WHERE coalesce(j.started_at, j.created_at) < %s($1)";
static const char prune_old_finished[] = "SELECT count(*) FROM jobs j WHERE " PRUNE_OLD_FINISHED;
static const char prune_old_finished_not_last[] =
    "SELECT count(*) FROM jobs j WHERE " PRUNE_OLD_FINISHED " AND" PRUNE_NOT_LAST;

/* One of the constant statements above with the backend's time function
 * (a constant too: store_ops.sql_time) in place of its %s. */
static void prune_sql(const struct store *st, const char *fmt, char *out, size_t len)
{
	const char *f = st->ops->sql_time ? st->ops->sql_time : "";
	const char *at = strstr(fmt, "%s");

	snprintf(out, len, "%.*s%s%s", (int)(at - fmt), fmt, f, at + 2);
}

struct id_list {
	int64_t *v;
	size_t n, cap;
};

static int collect_id(void *ctx, int64_t v)
{
	struct id_list *l = ctx;

	if (VEC_RESERVE(l->v, l->cap, l->n + 1, 64) != 0)
		return SDB_ENOMEM;
	l->v[l->n++] = v;
	return 0;
}

void store_prune_result_free(struct store_prune_result *r)
{
	if (!r)
		return;
	free(r->jobs);
	free(r->counts);
	memset(r, 0, sizeof(*r));
}

/* Rows of rel->child whose rel->column is a pruned job; for a SET NULL
 * column, only rows that a CASCADE of the same table does not delete. */
static void prune_count_sql(const struct store__relation *rel, char *sql, size_t len)
{
	size_t off;

	off = (size_t)snprintf(sql, len,
	                       "SELECT count(*) FROM %s WHERE %s IN (SELECT id FROM "
	                       "scandb_prune_jobs)",
	                       rel->child, rel->column);
	if (rel->on_delete != STORE__SET_NULL)
		return;
	for (size_t i = 0; i < store__nrelations && off < len; i++) {
		const struct store__relation *o = &store__relations[i];
		if (o->until == 0 && o->on_delete == STORE__CASCADE &&
		    strcmp(o->parent, "jobs") == 0 && strcmp(o->child, rel->child) == 0)
			off += (size_t)snprintf(sql + off, len - off,
			                        " AND %s NOT IN (SELECT id FROM scandb_prune_jobs)",
			                        o->column);
	}
}

/* Rows each relation to jobs loses (or has set to NULL) with the jobs in
 * scandb_prune_jobs; counts[0] is the jobs themselves. */
static int prune_counts(struct store *st, struct store_prune_result *out)
{
	char sql[2048];
	int r;

	out->counts = calloc(store__nrelations + 1, sizeof(*out->counts));
	if (!out->counts)
		return store__set_err(st, SDB_ENOMEM, "prune: out of memory");
	snprintf(out->counts[0].table, sizeof(out->counts[0].table), "jobs");
	snprintf(out->counts[0].column, sizeof(out->counts[0].column), "id");
	out->counts[0].rows = (int64_t)out->njobs;
	out->ncounts = 1;
	for (size_t i = 0; i < store__nrelations; i++) {
		const struct store__relation *rel = &store__relations[i];
		struct store_prune_count *c = &out->counts[out->ncounts];

		if (rel->until != 0 || strcmp(rel->parent, "jobs") != 0)
			continue;
		prune_count_sql(rel, sql, sizeof(sql));
		if ((r = store__q_one(st, sql, NULL, 0, &c->rows)) != 0)
			return r;
		snprintf(c->table, sizeof(c->table), "%s", rel->child);
		snprintf(c->column, sizeof(c->column), "%s", rel->column);
		c->set_null = rel->on_delete == STORE__SET_NULL;
		out->ncounts++;
	}
	return 0;
}

static int prune_in_tx(struct store *st, const struct store_prune_opts *o,
                       struct store_prune_result *out)
{
	const int64_t p[2] = {o->older_than, o->keep_last};
	struct id_list ids = {NULL, 0, 0};
	int64_t old_finished = 0, old_finished_not_last = 0, old = 0;
	char sql[2048];
	int r;

	prune_sql(st, prune_select, sql, sizeof(sql));
	if ((r = store__q_exec(st, prune_temp_create, NULL, 0, NULL)) != 0 ||
	    (r = store__q_exec(st, prune_keep_create, NULL, 0, NULL)) != 0 ||
	    (r = store__q_exec(st, prune_keep_fill, NULL, 0, NULL)) != 0 ||
	    (r = store__q_exec(st, sql, p, 2, NULL)) != 0 ||
	    (r = store__q_int(st, "SELECT id FROM scandb_prune_jobs ORDER BY id", NULL, 0,
	                      collect_id, &ids)) != 0)
		goto out;
	out->jobs = ids.v;
	out->njobs = ids.n;
	ids.v = NULL;
	/* Why old jobs stayed. */
	prune_sql(st, prune_old, sql, sizeof(sql));
	if ((r = store__q_one(st, sql, p, 1, &old)) != 0)
		goto out;
	prune_sql(st, prune_old_finished, sql, sizeof(sql));
	if ((r = store__q_one(st, sql, p, 1, &old_finished)) != 0)
		goto out;
	prune_sql(st, prune_old_finished_not_last, sql, sizeof(sql));
	if ((r = store__q_one(st, sql, p, 2, &old_finished_not_last)) != 0)
		goto out;
	out->kept_unfinished = old - old_finished;
	out->kept_last = old_finished - old_finished_not_last;
	out->kept_current = old_finished_not_last - (int64_t)out->njobs;
	if ((r = prune_counts(st, out)) != 0)
		goto out;
	if (!o->dry_run) {
		int64_t changes = 0;

		if ((r = store__q_exec(
		         st, "DELETE FROM jobs WHERE id IN (SELECT id FROM scandb_prune_jobs)",
		         NULL, 0, &changes)) != 0)
			goto out;
		if (changes != (int64_t)out->njobs) {
			r = store__set_err(st, SDB_EDB, "prune: deleted %lld jobs, expected %zu",
			                   (long long)changes, out->njobs);
			goto out;
		}
	}
	if ((r = store__q_exec(st, prune_temp_drop, NULL, 0, NULL)) == 0)
		r = store__q_exec(st, prune_keep_drop, NULL, 0, NULL);
out:
	free(ids.v);
	return r;
}

int store_prune(struct store *st, const struct store_prune_opts *opts,
                struct store_prune_result *out)
{
	int r;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!st || !opts || !out)
		return SDB_EUSAGE;
	if (opts->keep_last < 0)
		return store__set_err(st, SDB_EUSAGE, "prune: keep_last must not be negative");
	if (!st->ops->query_int || !st->ops->exec_params)
		return store__set_err(st, SDB_EUNSUPPORTED,
		                      "prune: not supported by the %s backend", st->ops->name);
	/* One write transaction: the set of jobs cannot change between the
	 * selection, the counts and the delete.  A dry run rolls it back. */
	if ((r = store_tx_begin(st)) != 0)
		return r;
	if ((r = prune_in_tx(st, opts, out)) != 0)
		goto fail;
	if (opts->dry_run)
		r = store_tx_rollback(st);
	else
		r = store_tx_commit(st);
	if (r == 0)
		return 0;
fail:
	store_tx_rollback(st);
	store_prune_result_free(out);
	return r;
}
