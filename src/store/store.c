/*
 * store.c - the wrappers every caller goes through (store.h), backend
 * selection by URL, and the backend-independent migration algorithm
 * (ARCHITECTURE invariant 6).  Backends live in store_<name>.c and only
 * implement struct store_ops (store_int.h).
 *
 * The wrappers are where arguments are checked, where an empty optional slot
 * becomes SDB_EUNSUPPORTED, and where store_inject_fault() makes a named
 * operation fail for tests.
 */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/timeutil.h"
#include "history/events.h"
#include "store/store_int.h"

static const char *const job_kind_names[] = {"import", "scan"};
static const char *const job_status_names[] = {"queued", "running", "completed", "failed",
                                               "cancelled"};

const char *store_job_kind_name(enum store_job_kind k)
{
	return (unsigned)k < 2 ? job_kind_names[k] : "?";
}

const char *store_job_status_name(enum store_job_status s)
{
	return (unsigned)s < 5 ? job_status_names[s] : "?";
}

int store_job_status_parse(const char *s, enum store_job_status *out)
{
	for (int i = 0; i < 5; i++) {
		if (s && strcmp(s, job_status_names[i]) == 0) {
			*out = (enum store_job_status)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

int store__set_err(struct store *st, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->errmsg, sizeof(st->errmsg), fmt, ap);
	va_end(ap);
	return err;
}

void store__backoff(int attempt)
{
	/* 2 ms doubling to ~1 s, plus up to 100% jitter so that competing
	 * writers do not retry in lock-step. */
	long base_us = 2000L << (attempt < 9 ? attempt : 9);
	long us = base_us + (long)(rand() % (int)base_us);
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

	nanosleep(&ts, NULL);
}

/* ---- fault injection --------------------------------------------------- */

void store_inject_fault(struct store *st, const char *op, int count, int err)
{
	snprintf(st->fault_op, sizeof(st->fault_op), "%s", op);
	st->fault_count = count;
	st->fault_err = err;
}

static int fault(struct store *st, const char *op)
{
	if (st->fault_count <= 0)
		return 0;
	if (strcmp(st->fault_op, "*") != 0 && strcmp(st->fault_op, op) != 0)
		return 0;
	st->fault_count--;
	return store__set_err(st, st->fault_err, "%s: injected fault (%s)", op,
	                      sdb_strerror(st->fault_err));
}

/* Common prologue of every wrapper: check the handle and slot, inject. */
#define CALL(st, slot, ...)                                                                        \
	do {                                                                                       \
		int r_;                                                                            \
		if (!(st))                                                                         \
			return SDB_EUSAGE;                                                         \
		if (!(st)->ops->slot)                                                              \
			return store__set_err((st), SDB_EUNSUPPORTED,                              \
			                      "%s: not supported by the %s backend", #slot,        \
			                      (st)->ops->name);                                    \
		if ((r_ = fault((st), #slot)) != 0)                                                \
			return r_;                                                                 \
		return (st)->ops->slot((st), __VA_ARGS__);                                         \
	} while (0)

/* ---- open / close ------------------------------------------------------ */

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

int store__is_pg_target(const char *target)
{
	return has_prefix(target, "postgresql://") || has_prefix(target, "postgres://") ||
	       has_prefix(target, "postgresql:") || has_prefix(target, "pg:");
}

int store_target_is_pg(const char *target)
{
	return target && store__is_pg_target(target);
}

/* store_target_display: store_target.c */

int store_open_mode(const char *target, int flags, struct store **out, char *errmsg, size_t errlen)
{
	const struct store_ops *ops;
	char dummy[8];
	int r;

	*out = NULL;
	if (!errmsg) {
		errmsg = dummy;
		errlen = sizeof(dummy);
	}
	errmsg[0] = '\0';
	if (!target || !*target) {
		snprintf(errmsg, errlen, "no database given");
		return SDB_EUSAGE;
	}
	ops = store__is_pg_target(target) ? &store_pg_ops : &store_sqlite_ops;
	if (ops->open_mode)
		r = ops->open_mode(target, flags, out, errmsg, errlen);
	else
		r = ops->open(target, out, errmsg, errlen);
	if (r == 0)
		(*out)->ops = ops;
	return r;
}

int store_open(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	return store_open_mode(target, STORE_OPEN_CREATE, out, errmsg, errlen);
}

int store_is_readonly(const struct store *st)
{
	return st && st->ops->is_readonly ? st->ops->is_readonly(st) : 0;
}

int store_schema_kind(struct store *st, enum store_schema_kind *kind)
{
	int empty = 0, exists = 0, r;

	*kind = STORE_SCHEMA_NEW;
	if (!st)
		return SDB_EUSAGE;
	if ((r = st->ops->is_empty(st, &empty)) != 0)
		return r;
	if (empty)
		return 0;
	if (st->ops->table_exists) {
		if ((r = st->ops->table_exists(st, "schema_migrations", &exists)) != 0)
			return r;
	} else {
		struct store_applied *ap = NULL;
		size_t nap = 0;
		if ((r = st->ops->migrations_applied(st, &ap, &nap)) != 0)
			return r;
		free(ap);
		exists = nap > 0;
	}
	*kind = exists ? STORE_SCHEMA_SCANDB : STORE_SCHEMA_FOREIGN;
	return 0;
}

/* SDB_ESCHEMA unless the database is new or scandb's: nothing is ever
 * migrated into, or reverted out of, another application's database. */
static int refuse_foreign(struct store *st)
{
	enum store_schema_kind kind;
	int r;

	if ((r = store_schema_kind(st, &kind)) != 0)
		return r;
	if (kind == STORE_SCHEMA_FOREIGN)
		return store__set_err(st, SDB_ESCHEMA,
		                      "not a scandb database (it has tables but no "
		                      "schema_migrations table)");
	return 0;
}

void store_close(struct store *st)
{
	if (st)
		st->ops->close(st);
}

const char *store_errmsg(const struct store *st)
{
	return st ? st->errmsg : "no database handle";
}

const char *store_backend_name(const struct store *st)
{
	return st->ops->name;
}

/* ---- migrations --------------------------------------------------------- */

static const struct store_migration_src *migrations(const struct store *st, size_t *n)
{
	*n = *st->ops->nmigrations;
	return st->ops->migrations;
}

static int checksum_of(const struct store_migration_src *m, char out[65])
{
	return hash_string(m->up, out);
}

int store_migrate_status(struct store *st, struct store_migration **out, size_t *n)
{
	const struct store_migration_src *src;
	struct store_applied *ap = NULL;
	struct store_migration *res = NULL;
	size_t nsrc, nap = 0, cap, cnt = 0;
	int r;

	*out = NULL;
	*n = 0;
	src = migrations(st, &nsrc);
	if ((r = st->ops->migrations_applied(st, &ap, &nap)) != 0)
		return r;
	cap = nsrc + nap;
	res = calloc(cap ? cap : 1, sizeof(*res));
	if (!res) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nsrc; i++) {
		struct store_migration *m = &res[cnt++];
		m->version = src[i].version;
		snprintf(m->name, sizeof(m->name), "%s", src[i].name);
		if ((r = checksum_of(&src[i], m->checksum)) != 0)
			goto out;
		m->known = 1;
		for (size_t j = 0; j < nap; j++) {
			if (ap[j].version == m->version) {
				m->applied = 1;
				m->applied_at = ap[j].applied_at;
				m->checksum_ok = strcmp(ap[j].checksum, m->checksum) == 0;
			}
		}
	}
	for (size_t j = 0; j < nap; j++) {
		int found = 0;
		for (size_t i = 0; i < nsrc; i++)
			found |= src[i].version == ap[j].version;
		if (!found) {
			struct store_migration *m = &res[cnt++];
			m->version = ap[j].version;
			snprintf(m->name, sizeof(m->name), "%s", ap[j].name);
			snprintf(m->checksum, sizeof(m->checksum), "%s", ap[j].checksum);
			m->applied = 1;
			m->applied_at = ap[j].applied_at;
		}
	}
	*out = res;
	*n = cnt;
	res = NULL;
	r = 0;
out:
	free(res);
	free(ap);
	return r;
}

/* Inside an open transaction: is `version` applied, and with what checksum? */
static int applied_row(struct store *st, int version, struct store_applied *row, int *found)
{
	struct store_applied *ap = NULL;
	size_t nap = 0;
	int r;

	*found = 0;
	if ((r = st->ops->migrations_applied(st, &ap, &nap)) != 0)
		return r;
	for (size_t i = 0; i < nap; i++) {
		if (ap[i].version == version) {
			*row = ap[i];
			*found = 1;
		}
	}
	free(ap);
	return 0;
}

static int lock_tx(struct store *st)
{
	int r;

	if ((r = store_tx_begin(st)) != 0)
		return r;
	if (st->ops->migrate_lock && (r = st->ops->migrate_lock(st)) != 0)
		goto fail;
	if ((r = st->ops->migrations_table(st)) != 0)
		goto fail;
	return 0;
fail:
	store_tx_rollback(st);
	return r;
}

/* Apply one migration inside the caller's locked transaction. */
static int apply_one(struct store *st, const struct store_migration_src *m, int *applied)
{
	struct store_applied row;
	char sum[65];
	int found, r;

	if ((r = checksum_of(m, sum)) != 0)
		return r;
	if ((r = applied_row(st, m->version, &row, &found)) != 0)
		return r;
	if (found) {
		if (strcmp(row.checksum, sum) != 0)
			return store__set_err(st, SDB_ESCHEMA,
			                      "migration %04d_%s was changed after it was applied "
			                      "(checksum %.12s… in the database, %.12s… in this "
			                      "scandb); refusing to continue",
			                      m->version, m->name, row.checksum, sum);
		return 0; /* someone else applied it: exactly once */
	}
	if ((r = st->ops->exec_script(st, m->up)) != 0)
		return r;
	memset(&row, 0, sizeof(row));
	row.version = m->version;
	snprintf(row.name, sizeof(row.name), "%s", m->name);
	memcpy(row.checksum, sum, sizeof(row.checksum));
	row.applied_at = time_now();
	if ((r = st->ops->migration_record(st, &row)) != 0)
		return r;
	(*applied)++;
	return 0;
}

static int check_no_unknown(struct store *st)
{
	struct store_applied *ap = NULL;
	size_t nap = 0, nsrc;
	const struct store_migration_src *src = migrations(st, &nsrc);
	int r;

	if ((r = st->ops->migrations_applied(st, &ap, &nap)) != 0)
		return r;
	for (size_t j = 0; j < nap && r == 0; j++) {
		int found = 0;
		for (size_t i = 0; i < nsrc; i++)
			found |= src[i].version == ap[j].version;
		if (!found)
			r = store__set_err(st, SDB_ESCHEMA,
			                   "the database has migration %04d_%s, which this scandb "
			                   "does not know: the database is newer than this scandb; "
			                   "use a newer scandb",
			                   ap[j].version, ap[j].name);
	}
	free(ap);
	return r;
}

/* A brand-new database: every migration in one transaction, so a process
 * racing with us sees either nothing or the whole schema, never a partly
 * migrated database it would refuse as "behind". */
static int bootstrap(struct store *st, int *cnt)
{
	const struct store_migration_src *src;
	size_t nsrc;
	int r;

	src = migrations(st, &nsrc);
	if ((r = lock_tx(st)) != 0)
		return r;
	for (size_t i = 0; i < nsrc; i++)
		if ((r = apply_one(st, &src[i], cnt)) != 0)
			goto fail;
	return store_tx_commit(st);
fail:
	store_tx_rollback(st);
	return r;
}

int store_migrate_up(struct store *st, int target, int *applied)
{
	const struct store_migration_src *src;
	size_t nsrc;
	int cnt = 0, r = 0;

	if (!st)
		return SDB_EUSAGE;
	src = migrations(st, &nsrc);
	if ((r = refuse_foreign(st)) != 0 || (r = check_no_unknown(st)) != 0)
		goto out;
	if (target <= 0 || (nsrc > 0 && target >= src[nsrc - 1].version)) {
		/* A brand-new database is migrated in one transaction, as
		 * store_ensure_ready does: a command racing this one sees no
		 * schema or all of it, never a database "behind". */
		int empty = 0;
		if ((r = st->ops->is_empty(st, &empty)) != 0)
			goto out;
		if (empty) {
			r = bootstrap(st, &cnt);
			goto out;
		}
	}
	for (size_t i = 0; i < nsrc; i++) {
		if (target > 0 && src[i].version > target)
			break;
		/* Each migration: its own transaction, with its bookkeeping row,
		 * under the lock; re-checked inside so concurrent runners apply
		 * it exactly once. */
		if ((r = lock_tx(st)) != 0)
			goto out;
		if ((r = apply_one(st, &src[i], &cnt)) != 0) {
			store_tx_rollback(st);
			goto out;
		}
		if ((r = store_tx_commit(st)) != 0)
			goto out;
	}
out:
	if (applied)
		*applied = cnt;
	return r;
}

int store_migrate_down(struct store *st, int target, int *reverted)
{
	const struct store_migration_src *src;
	struct store_applied *ap = NULL;
	size_t nsrc, nap = 0;
	int cnt = 0, r;

	if (!st)
		return SDB_EUSAGE;
	src = migrations(st, &nsrc);
	if ((r = refuse_foreign(st)) != 0)
		goto out;
	if ((r = st->ops->migrations_applied(st, &ap, &nap)) != 0)
		goto out;
	if (target < 0)
		target = nap >= 2 ? ap[nap - 2].version : 0;
	free(ap);
	ap = NULL;
	for (;;) {
		const struct store_migration_src *m = NULL;
		struct store_applied row;
		int found, top = 0;

		if ((r = lock_tx(st)) != 0)
			goto out;
		if ((r = st->ops->migrations_applied(st, &ap, &nap)) != 0)
			goto rollback;
		if (nap > 0)
			top = ap[nap - 1].version;
		free(ap);
		ap = NULL;
		if (top <= target) {
			r = store_tx_rollback(st);
			goto out;
		}
		for (size_t i = 0; i < nsrc; i++)
			if (src[i].version == top)
				m = &src[i];
		if (!m) {
			r = store__set_err(
			    st, SDB_ESCHEMA,
			    "cannot revert migration %d: this scandb does not know it "
			    "(the database is newer than this scandb)",
			    top);
			goto rollback;
		}
		if ((r = applied_row(st, top, &row, &found)) != 0)
			goto rollback;
		if ((r = st->ops->exec_script(st, m->down)) != 0)
			goto rollback;
		if ((r = st->ops->migration_unrecord(st, top)) != 0)
			goto rollback;
		if ((r = store_tx_commit(st)) != 0)
			goto out;
		cnt++;
	}
rollback:
	store_tx_rollback(st);
out:
	free(ap);
	if (reverted)
		*reverted = cnt;
	return r;
}

int store_migration_down_drops(const struct store *st, int version)
{
	static const char *const lossy[] = {"drop table", "drop column", "delete from"};
	const struct store_migration_src *src;
	size_t nsrc;

	if (!st)
		return 0;
	src = migrations(st, &nsrc);
	for (size_t i = 0; i < nsrc; i++) {
		const char *p;
		if (src[i].version != version)
			continue;
		/* case-insensitive search, whitespace runs as one space */
		for (p = src[i].down; *p; p++) {
			for (size_t k = 0; k < sizeof(lossy) / sizeof(lossy[0]); k++) {
				const char *a = p, *b = lossy[k];
				while (*b && *a) {
					if (*b == ' ' &&
					    (*a == ' ' || *a == '\t' || *a == '\n' || *a == '\r')) {
						while (*a == ' ' || *a == '\t' || *a == '\n' ||
						       *a == '\r')
							a++;
						b++;
					} else if ((*a | 0x20) == *b) {
						a++;
						b++;
					} else {
						break;
					}
				}
				if (!*b)
					return 1;
			}
		}
		return 0;
	}
	return 1; /* a migration this scandb does not know: assume the worst */
}

int store_migrate_verify(struct store *st)
{
	struct store_migration *ms = NULL;
	size_t n = 0;
	int r;

	if ((r = store_migrate_status(st, &ms, &n)) != 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++) {
		if (ms[i].applied && !ms[i].known)
			r = store__set_err(
			    st, SDB_ESCHEMA,
			    "migration %04d_%s is applied in the database but unknown "
			    "to this scandb (the database is newer)",
			    ms[i].version, ms[i].name);
		else if (ms[i].applied && !ms[i].checksum_ok)
			r = store__set_err(st, SDB_ESCHEMA,
			                   "migration %04d_%s was changed after it was applied "
			                   "(checksum mismatch)",
			                   ms[i].version, ms[i].name);
	}
	free(ms);
	return r;
}

int store_ensure_ready(struct store *st)
{
	struct store_migration *ms = NULL;
	size_t n = 0;
	int empty = 0, pending = 0, applied = 0, r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = refuse_foreign(st)) != 0)
		return r;
	if ((r = st->ops->is_empty(st, &empty)) != 0)
		return r;
	if (empty && store_is_readonly(st))
		return store__set_err(st, SDB_ESCHEMA,
		                      "the database is empty (no scandb schema yet: 'scandb "
		                      "import', 'scandb scan' or 'scandb migrate up' creates it)");
	if (empty && (r = bootstrap(st, &applied)) != 0)
		return r;
	if ((r = store_migrate_verify(st)) != 0)
		return r;
	if ((r = store_migrate_status(st, &ms, &n)) != 0)
		return r;
	for (size_t i = 0; i < n; i++)
		pending += ms[i].known && !ms[i].applied;
	free(ms);
	if (pending)
		return store__set_err(st, SDB_ESCHEMA,
		                      "the database schema is behind this scandb (%d migration%s "
		                      "pending); run 'scandb migrate up' (back up the database "
		                      "first)",
		                      pending, pending == 1 ? "" : "s");
	return 0;
}

/* ---- transactions and the job write path ------------------------------ */

int store_tx_begin_ordered(struct store *st, int64_t scan_time)
{
	int r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = fault(st, "tx_begin")) != 0)
		return r;
	if ((r = st->ops->tx_begin(st, scan_time > 0 ? scan_time : 0)) == 0)
		st->in_tx = 1;
	return r;
}

int store_tx_begin(struct store *st)
{
	return store_tx_begin_ordered(st, 0);
}

int store_tx_commit(struct store *st)
{
	int r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = fault(st, "tx_commit")) != 0)
		return r;
	if ((r = st->ops->tx_commit(st)) == 0)
		st->in_tx = 0;
	return r;
}

int store_tx_rollback(struct store *st)
{
	if (!st)
		return SDB_EUSAGE;
	st->in_tx = 0;
	return st->ops->tx_rollback(st);
}

int store_job_insert(struct store *st, const struct store_job_new *j, int64_t *id)
{
	if (!j || !id || !j->source)
		return SDB_EUSAGE;
	CALL(st, job_insert, j, id);
}

int store_job_progress(struct store *st, int64_t id, int progress, int64_t timeout_at)
{
	if (progress < 0 || progress > 100)
		return SDB_ERANGE;
	CALL(st, job_progress, id, progress, timeout_at);
}

int store_job_finish(struct store *st, int64_t id, const struct store_job_final *f,
                     int64_t *existing_id)
{
	if (!f)
		return SDB_EUSAGE;
	CALL(st, job_finish, id, f, existing_id);
}

int store_host_upsert(struct store *st, int64_t job_id, int64_t seen_at, const struct rec_host *h,
                      int64_t *host_id)
{
	if (!h || !h->addr || !host_id)
		return SDB_EUSAGE;
	CALL(st, host_upsert, job_id, seen_at, h, host_id);
}

int store_host_scan_insert(struct store *st, int64_t job_id, int64_t host_id, int64_t seen_at,
                           const struct rec_host *h, const char *state)
{
	if (!h)
		return SDB_EUSAGE;
	CALL(st, host_scan_insert, job_id, host_id, seen_at, h, state);
}

int store_port_insert(struct store *st, int64_t job_id, int64_t host_id, const struct rec_port *p)
{
	if (!p || p->port < 0 || p->port > 65535)
		return SDB_EUSAGE;
	CALL(st, port_insert, job_id, host_id, p);
}

int store_extraports_insert(struct store *st, int64_t job_id, int64_t host_id,
                            const struct rec_extraports *e)
{
	if (!e)
		return SDB_EUSAGE;
	CALL(st, extraports_insert, job_id, host_id, e);
}

int store_script_insert(struct store *st, int64_t job_id, int64_t host_id,
                        const struct rec_port *port, const struct rec_script *s)
{
	if (!s || !s->id)
		return SDB_EUSAGE;
	CALL(st, script_insert, job_id, host_id, port, s);
}

static int run_script_insert(struct store *st, int64_t job_id, int post, int seq,
                             const struct rec_script *s)
{
	if (!s->id)
		return SDB_EUSAGE;
	CALL(st, run_script_insert, job_id, post, seq, s);
}

int store_run_scripts_insert(struct store *st, int64_t job_id, int post, const struct rec_script *s,
                             size_t n)
{
	int r = 0;

	if (n > INT_MAX)
		return SDB_ETOOBIG;
	for (size_t i = 0; i < n && r == 0; i++)
		r = run_script_insert(st, job_id, post != 0, (int)i, &s[i]);
	return r;
}

int store_run_scripts(struct store *st, int64_t job_id, int post, struct store_script **out,
                      size_t *n)
{
	if (!out || !n)
		return SDB_EUSAGE;
	*out = NULL;
	*n = 0;
	CALL(st, run_scripts, job_id, post != 0, out, n);
}

int store_jobs_reap_stale(struct store *st, int64_t now, const char *hostname, int *reaped)
{
	CALL(st, jobs_reap_stale, now, hostname, reaped);
}

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

int store_job_is_stale(const struct store_job *j, int64_t now, const char *hostname, char *why,
                       size_t whylen)
{
	char at[TIME_ISO_LEN];

	if (!j->status || strcmp(j->status, "running") != 0)
		return 0;
	/* the same words the backends' reapers record (reap_in_tx) */
	if (hostname && *hostname && j->worker_id && store_worker_is_dead(j->worker_id, hostname)) {
		if (why)
			snprintf(why, whylen,
			         "worker %s is gone (process died before the job finished)",
			         j->worker_id);
		return 1;
	}
	if (j->timeout_at != 0 && j->timeout_at < now) {
		if (why) {
			time_format_iso(j->timeout_at, at);
			snprintf(why, whylen, "timed out at %s without a heartbeat", at);
		}
		return 1;
	}
	return 0;
}

int store_job_find_by_hash(struct store *st, const char *hash, int64_t *id)
{
	if (!hash || !id)
		return SDB_EUSAGE;
	CALL(st, job_find_by_hash, hash, id);
}

/* ---- history --------------------------------------------------------- */

int store_history_load(struct store *st, const char *addr, int64_t at, int64_t job_id,
                       int64_t *host_id, struct ev_host *out)
{
	if (!addr || !host_id || !out)
		return SDB_EUSAGE;
	*host_id = 0;
	CALL(st, history_load, addr, at, job_id, host_id, out);
}

int store_history_in_order(const struct ev_host *h, int64_t at, int64_t job_id)
{
	return !h->known || at > h->at || (at == h->at && job_id > h->job_id);
}

static int port_state_slot(struct store *st, int64_t host_id, const struct ev_host *h,
                           const char *doc, size_t len)
{
	CALL(st, port_state_save, host_id, h, doc, len);
}

/* Both backends' policy: nothing is written when the scan changed none of
 * the host's state; else the slot writes the row with this document. */
int store_port_state_save(struct store *st, int64_t host_id, const struct ev_host *h)
{
	struct buf doc;
	int dirty, r;

	if (!st || !h)
		return SDB_EUSAGE;
	dirty = h->attrs_dirty;
	for (size_t i = 0; i < h->nports && !dirty; i++)
		dirty = h->ports[i].dirty;
	if (!dirty)
		return 0;
	buf_init(&doc, (size_t)1 << 30);
	if ((r = store__port_state_doc(h, &doc)) != 0)
		r = store__set_err(st, r, "saving the port state of host %lld: out of memory",
		                   (long long)host_id);
	else
		r = port_state_slot(st, host_id, h, buf_str(&doc), doc.len);
	buf_free(&doc);
	return r;
}

int store_event_insert(struct store *st, int64_t host_id, const struct ev_event *e)
{
	if (!e || (unsigned)e->kind >= EV__COUNT)
		return SDB_EUSAGE;
	CALL(st, event_insert, host_id, e);
}

int store_history_scan_list(struct store *st, const struct store_scan_key *lates, size_t n,
                            int from_start, int max_later, unsigned char *has_findings,
                            int (*cb)(void *ctx, const struct store_scan_key *k), void *ctx)
{
	if ((n && (!lates || !has_findings)) || !cb || max_later < 0)
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	CALL(st, history_scan_list, lates, n, from_start, max_later, has_findings, cb, ctx);
}

int store_history_scans(struct store *st, const struct store_scan_key *keys, size_t n,
                        int (*cb)(void *ctx, struct store_host *h, const char *probed_scope),
                        void *ctx)
{
	if ((n && !keys) || !cb)
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	CALL(st, history_scans, keys, n, cb, ctx);
}

int store_history_forget(struct store *st, const struct store_scan_key *keys, size_t n)
{
	if (n && !keys)
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	CALL(st, history_forget, keys, n);
}

int store_history_states(struct store *st, const struct store_scan_key *keys, size_t n,
                         int (*cb)(void *ctx, size_t i, const char *doc), void *ctx)
{
	if ((n && !keys) || !cb)
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	CALL(st, history_states, keys, n, cb, ctx);
}

int store_history_states_put(struct store *st, const struct store_scan_key *keys,
                             const char *const *docs, size_t n)
{
	if (n && (!keys || !docs))
		return SDB_EUSAGE;
	if (n == 0)
		return 0;
	CALL(st, history_states_put, keys, docs, n);
}

int store_events_each(struct store *st, const struct store_event_filter *f,
                      int (*cb)(void *ctx, struct store_event *e), void *ctx)
{
	if (!f || !cb)
		return SDB_EUSAGE;
	CALL(st, events_each, f, cb, ctx);
}

/* ---- queries ------------------------------------------------------------ */

int store_hosts_each(struct store *st, const struct store_host_filter *f,
                     int (*cb)(void *ctx, struct store_host *h), void *ctx)
{
	if (!f || !cb)
		return SDB_EUSAGE;
	CALL(st, hosts_each, f, cb, ctx);
}

int store_jobs_each(struct store *st, const char *status, int (*cb)(void *ctx, struct store_job *j),
                    void *ctx)
{
	enum store_job_status s;

	if (!cb)
		return SDB_EUSAGE;
	if (status && store_job_status_parse(status, &s) != 0)
		return store__set_err(st, SDB_EUSAGE, "unknown job status '%s'", status);
	CALL(st, jobs_each, status, cb, ctx);
}

int store_job_get(struct store *st, int64_t id, struct store_job **out)
{
	if (!out)
		return SDB_EUSAGE;
	*out = NULL;
	CALL(st, job_get, id, out);
}

/* ---- findings (history/findings.c, store_<backend>_findings.c) -------- */

void store_finding_refs_free(struct store_finding_ref *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].fingerprint);
		free(v[i].type);
		free(v[i].source);
		free(v[i].key);
		free(v[i].status);
	}
	free(v);
}

void store_finding_free(struct store_finding *f)
{
	if (!f)
		return;
	free(f->addr);
	free(f->protocol);
	free(f->type);
	free(f->source);
	free(f->key);
	free(f->title);
	free(f->severity);
	free(f->status);
	free(f->fingerprint);
	free(f->details);
	free(f->jobs);
	for (size_t i = 0; i < f->nhistory; i++) {
		free(f->history[i].old_status);
		free(f->history[i].new_status);
		free(f->history[i].note);
	}
	free(f->history);
	free(f);
}

int store_findings_of_host(struct store *st, int64_t host_id, struct store_finding_ref **out,
                           size_t *n)
{
	if (!out || !n)
		return SDB_EUSAGE;
	*out = NULL;
	*n = 0;
	CALL(st, findings_of_host, host_id, out, n);
}

int store_finding_upsert(struct store *st, int64_t host_id, int64_t job_id, int64_t at,
                         const struct store_finding_new *f, int64_t *id, int *created)
{
	if (!f || !id || !created || !f->type || !f->source || !f->title || !f->severity ||
	    !f->fingerprint || (f->proto < 0) != (f->port < 0))
		return SDB_EUSAGE;
	*id = 0;
	*created = 0;
	CALL(st, finding_upsert, host_id, job_id, at, f, id, created);
}

int store_finding_set_status(struct store *st, int64_t id, const char *new_status, int64_t at,
                             int64_t job_id, const char *note, int64_t scan_at, int record_creation,
                             char **old)
{
	if (!new_status)
		return SDB_EUSAGE;
	if (old)
		*old = NULL;
	CALL(st, finding_set_status, id, new_status, at, job_id, note, scan_at, record_creation,
	     old);
}

int store_findings_each(struct store *st, const struct store_finding_filter *f,
                        int (*cb)(void *ctx, struct store_finding *x), void *ctx)
{
	if (!f || !cb)
		return SDB_EUSAGE;
	CALL(st, findings_each, f, cb, ctx);
}

/* ---- operations: health, stats, doctor, backup, restore, prune --------- */
/* (store.h "operations"; docs/OPERATIONS.md.)  The policy and every check
 * that can be written once live here; engine specifics are the backends'
 * slots.  SQL written here is constant text in SQL both backends accept,
 * with $N parameters: no input ever becomes SQL text (invariant 5). */

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
};
const size_t store__nrelations = sizeof(store__relations) / sizeof(store__relations[0]);

int store_open_existing(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	return store_open_mode(target, 0, out, errmsg, errlen);
}

/* query_int / exec_params through one place (fault injection, NULL slot). */
static int q_int(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                 int (*cb)(void *ctx, int64_t v), void *ctx)
{
	CALL(st, query_int, sql, params, nparams, cb, ctx);
}

static int q_exec(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                  int64_t *changes)
{
	CALL(st, exec_params, sql, params, nparams, changes);
}

int store_findings_scan_decided(struct store *st, int64_t host_id, int (*cb)(void *ctx, int64_t id),
                                void *ctx)
{
	static const char sql[] = "SELECT f.id FROM findings f WHERE f.host_id = $1"
	                          " AND NOT EXISTS (SELECT 1 FROM finding_status_changes c"
	                          " WHERE c.finding_id = f.id AND c.job_id IS NULL)"
	                          " ORDER BY f.id";

	return q_int(st, sql, &host_id, 1, cb, ctx);
}

int store_findings_forget_rules(struct store *st, int64_t host_id)
{
	static const char sql[] = "DELETE FROM findings WHERE host_id = $1 AND type = 'rule'"
	                          " AND NOT EXISTS (SELECT 1 FROM finding_status_changes c"
	                          " WHERE c.finding_id = findings.id AND c.job_id IS NULL)";

	return q_exec(st, sql, &host_id, 1, NULL);
}

int store_finding_rewind(struct store *st, int64_t id, int64_t state_at)
{
	char sql[160];
	int64_t p[2] = {id, state_at};
	int r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = q_exec(st, "DELETE FROM finding_status_changes WHERE finding_id = $1", p, 1,
	                NULL)) != 0)
		return r;
	snprintf(sql, sizeof(sql), "UPDATE findings SET state_at = %s($2) WHERE id = $1",
	         st->ops->sql_time ? st->ops->sql_time : "");
	return q_exec(st, sql, p, 2, NULL);
}

static int take_first(void *ctx, int64_t v)
{
	*(int64_t *)ctx = v;
	return 1; /* one row is enough */
}

/* The first column of the first row (0 if no row). */
static int q_one(struct store *st, const char *sql, const int64_t *params, size_t nparams,
                 int64_t *out)
{
	int r;

	*out = 0;
	r = q_int(st, sql, params, nparams, take_first, out);
	return r == 1 ? 0 : r;
}

/* Highest applied, latest known, pending/unknown/changed counts. */
struct schema_state {
	int version, latest, pending, unknown, changed;
};

static int schema_state(struct store *st, struct schema_state *ss)
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

/* ---- health ---- */

int store_health(struct store *st, struct store_health *out)
{
	struct schema_state ss;
	double t0;
	int empty = 0, r;

	if (!st || !out)
		return SDB_EUSAGE;
	memset(out, 0, sizeof(*out));
	snprintf(out->backend, sizeof(out->backend), "%s", st->ops->name);
	if (!st->ops->ping)
		return store__set_err(st, SDB_EUNSUPPORTED,
		                      "health: not supported by the %s backend", st->ops->name);
	if ((r = fault(st, "ping")) != 0)
		return r;
	t0 = time_mono();
	if ((r = st->ops->ping(st, out->server_version, sizeof(out->server_version))) != 0)
		return r;
	out->latency_ms = (time_mono() - t0) * 1000.0;
	if ((r = st->ops->is_empty(st, &empty)) != 0 || (r = schema_state(st, &ss)) != 0)
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
	if ((r = q_one(st, sql, NULL, 0, &id)) != 0 || id == 0)
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
	if ((r = fault(st, "stats")) != 0 || (r = st->ops->stats(st, exact, out)) != 0)
		goto fail;
	for (int i = 0; i < 5; i++) {
		if ((r = q_one(st, by_status[i], NULL, 0, &out->jobs_by_status[i])) != 0)
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

/* ---- doctor ---- */

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

int store__doctor_doc(struct store__doc_tally *t, int64_t host_id, const char *doc, size_t len)
{
	struct ev_host h;
	int r;

	ev_host_init(&h);
	r = store__port_state_read(doc ? doc : "", doc ? len : 0, &h);
	ev_host_free(&h);
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

int store__doctor_docs_done(struct store_doctor_report *rep, const struct store__doc_tally *t)
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

/* Relations whose tables exist at this schema version. */
static int relation_present(const struct store__relation *rel, int version)
{
	return rel->since <= version && (rel->until == 0 || version < rel->until);
}

/* The relations with a declared foreign key are not looked at again when
 * the backend verified every row's keys, nor with quick (the engine
 * enforces them) -- unless the foreign_keys check found something: then
 * the orphans are counted, with the SQL that removes them. */
static int doctor_orphans(struct store *st, int version, int quick, struct store_doctor_report *rep)
{
	char sql[512], fix[768], what[1024];
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
		if ((r = q_one(st, sql, NULL, 0, &n)) != 0)
			return r;
		if (n == 0)
			continue;
		found = 1;
		snprintf(what, sizeof(what),
		         "%lld row%s of %s reference%s a missing %s row (%s.%s -> %s.%s)",
		         (long long)n, n == 1 ? "" : "s", rel->child, n == 1 ? "s" : "",
		         rel->parent, rel->child, rel->column, rel->parent, rel->parent_column);
		if (!rel->fk) {
			/* references inside the port state documents: the
			 * engine cannot clear them, and an event naming such
			 * a job as the previous scan would break its foreign
			 * key; the hosts' state starts again from their next
			 * scan */
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
			         "; these are references inside the port state documents"
			         " (host_state.ports), which scandb never leaves behind"
			         " (prune keeps every job they name): a job was deleted by"
			         " hand, and imports that change those ports fail");
			snprintf(
			    fix, sizeof(fix),
			    "DELETE FROM host_state WHERE host_id IN (SELECT c.host_id FROM %s c"
			    " WHERE c.%s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s p WHERE"
			    " p.%s = c.%s));  (those hosts' port state then starts again from"
			    " their next scan)",
			    rel->child, rel->column, rel->parent, rel->parent_column, rel->column);
		} else if (rel->on_delete == STORE__CASCADE)
			snprintf(
			    fix, sizeof(fix),
			    "DELETE FROM %s WHERE %s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
			    "%s p WHERE p.%s = %s.%s);",
			    rel->child, rel->column, rel->parent, rel->parent_column, rel->child,
			    rel->column);
		else
			snprintf(fix, sizeof(fix),
			         "UPDATE %s SET %s = NULL WHERE %s IS NOT NULL AND NOT EXISTS "
			         "(SELECT 1 FROM %s p WHERE p.%s = %s.%s);",
			         rel->child, rel->column, rel->column, rel->parent,
			         rel->parent_column, rel->child, rel->column);
		if ((r = store__doctor_problem(rep, "orphans", n, what, fix)) != 0)
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
	struct schema_state ss;
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
	if ((r = schema_state(st, &ss)) != 0) {
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
		if ((r = fault(st, "doctor")) == 0)
			r = st->ops->doctor(st, quick, out);
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

	if (!path || !*path || !info)
		return SDB_EUSAGE;
	memset(info, 0, sizeof(*info));
	if (stat(path, &sb) == 0)
		return store__set_err(
		    st, SDB_EEXISTS, "%s already exists; choose another name (or remove it)", path);
	CALL(st, backup, path, info);
}

int store_restore(struct store *st, const char *path, int force, struct store_restore_info *info)
{
	if (!path || !*path || !info)
		return SDB_EUSAGE;
	memset(info, 0, sizeof(*info));
	CALL(st, restore, path, force, info);
}

static int backup_migrations(struct store *st, const struct store_applied *rows, size_t n,
                             int *version, int *pending)
{
	const struct store_migration_src *src;
	size_t nsrc;
	int r;

	*version = 0;
	*pending = 0;
	src = migrations(st, &nsrc);
	if (n == 0)
		return store__set_err(
		    st, SDB_ESCHEMA, "it has no applied scandb migrations (not a scandb database)");
	for (size_t j = 0; j < n; j++) {
		const struct store_migration_src *m = NULL;
		char sum[65];

		for (size_t i = 0; i < nsrc; i++)
			if (src[i].version == rows[j].version)
				m = &src[i];
		if (!m)
			return store__set_err(
			    st, SDB_ESCHEMA,
			    "it has migration %04d_%s, which this scandb does not "
			    "know (it was made by a newer scandb)",
			    rows[j].version, rows[j].name);
		if ((r = checksum_of(m, sum)) != 0)
			return r;
		if (strcmp(sum, rows[j].checksum) != 0)
			return store__set_err(st, SDB_ESCHEMA,
			                      "its migration %04d_%s differs from this scandb's "
			                      "(checksum %.12s… instead of %.12s…)",
			                      rows[j].version, rows[j].name, rows[j].checksum, sum);
		if (rows[j].version > *version)
			*version = rows[j].version;
	}
	for (size_t i = 0; i < nsrc; i++) {
		int found = 0;
		for (size_t j = 0; j < n; j++)
			found |= rows[j].version == src[i].version;
		if (!found && src[i].version < *version)
			return store__set_err(
			    st, SDB_ESCHEMA,
			    "migration %04d_%s is missing although later ones are "
			    "applied",
			    src[i].version, src[i].name);
		*pending += !found;
	}
	return 0;
}

int store__check_backup_migrations(struct store *st, const char *path,
                                   const struct store_applied *rows, size_t n, int *version,
                                   int *pending)
{
	int r = backup_migrations(st, rows, n, version, pending);

	if (r != 0) {
		char why[sizeof(st->errmsg)];
		snprintf(why, sizeof(why), "%s", st->errmsg);
		r = store__set_err(st, r, "%s is not a backup this scandb can restore: %s", path,
		                   why);
	}
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

	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		void *p = sdb_reallocarray(l->v, ncap, sizeof(*l->v));
		if (!p)
			return SDB_ENOMEM;
		l->v = p;
		l->cap = ncap;
	}
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

static int prune_in_tx(struct store *st, const struct store_prune_opts *o,
                       struct store_prune_result *out)
{
	const int64_t p[2] = {o->older_than, o->keep_last};
	struct id_list ids = {NULL, 0, 0};
	int64_t old_finished = 0, old_finished_not_last = 0, old = 0;
	char sql[2048];
	int r;

	prune_sql(st, prune_select, sql, sizeof(sql));
	if ((r = q_exec(st, prune_temp_create, NULL, 0, NULL)) != 0 ||
	    (r = q_exec(st, prune_keep_create, NULL, 0, NULL)) != 0 ||
	    (r = q_exec(st, prune_keep_fill, NULL, 0, NULL)) != 0 ||
	    (r = q_exec(st, sql, p, 2, NULL)) != 0 ||
	    (r = q_int(st, "SELECT id FROM scandb_prune_jobs ORDER BY id", NULL, 0, collect_id,
	               &ids)) != 0)
		goto out;
	out->jobs = ids.v;
	out->njobs = ids.n;
	ids.v = NULL;
	/* Why old jobs stayed. */
	prune_sql(st, prune_old, sql, sizeof(sql));
	if ((r = q_one(st, sql, p, 1, &old)) != 0)
		goto out;
	prune_sql(st, prune_old_finished, sql, sizeof(sql));
	if ((r = q_one(st, sql, p, 1, &old_finished)) != 0)
		goto out;
	prune_sql(st, prune_old_finished_not_last, sql, sizeof(sql));
	if ((r = q_one(st, sql, p, 2, &old_finished_not_last)) != 0)
		goto out;
	out->kept_unfinished = old - old_finished;
	out->kept_last = old_finished - old_finished_not_last;
	out->kept_current = old_finished_not_last - (int64_t)out->njobs;
	/* Rows each relation to jobs loses (or has set to NULL). */
	out->counts = calloc(store__nrelations + 1, sizeof(*out->counts));
	if (!out->counts) {
		r = store__set_err(st, SDB_ENOMEM, "prune: out of memory");
		goto out;
	}
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
		if ((r = q_one(st, sql, NULL, 0, &c->rows)) != 0)
			goto out;
		snprintf(c->table, sizeof(c->table), "%s", rel->child);
		snprintf(c->column, sizeof(c->column), "%s", rel->column);
		c->set_null = rel->on_delete == STORE__SET_NULL;
		out->ncounts++;
	}
	if (!o->dry_run) {
		int64_t changes = 0;

		if ((r = q_exec(st,
		                "DELETE FROM jobs WHERE id IN (SELECT id FROM scandb_prune_jobs)",
		                NULL, 0, &changes)) != 0)
			goto out;
		if (changes != (int64_t)out->njobs) {
			r = store__set_err(st, SDB_EDB, "prune: deleted %lld jobs, expected %zu",
			                   (long long)changes, out->njobs);
			goto out;
		}
	}
	if ((r = q_exec(st, prune_temp_drop, NULL, 0, NULL)) == 0)
		r = q_exec(st, prune_keep_drop, NULL, 0, NULL);
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
