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

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/timeutil.h"
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

/* Append src[0..n) to out (bounded); *pos counts what would be written. */
static void put(char *out, size_t outlen, size_t *pos, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++, (*pos)++)
		if (*pos + 1 < outlen)
			out[*pos] = src[i];
}

/* A URI: the password of the user info and of a ?password= parameter. */
static void display_uri(const char *t, char *out, size_t outlen, size_t *pos)
{
	const char *auth = strstr(t, "://") + 3;
	size_t alen = strcspn(auth, "/?");
	const char *at = NULL, *p, *q;

	for (p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	put(out, outlen, pos, t, (size_t)(auth - t));
	p = auth;
	if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		if (colon) {
			put(out, outlen, pos, auth, (size_t)(colon + 1 - auth));
			put(out, outlen, pos, "***", 3);
			p = at;
		}
	}
	/* the rest: copy, masking password=... in the query string */
	q = strchr(p, '?');
	if (!q) {
		put(out, outlen, pos, p, strlen(p));
		return;
	}
	put(out, outlen, pos, p, (size_t)(q - p));
	for (p = q; *p;) {
		size_t n = strcspn(p + 1, "&") + 1; /* "?k=v" or "&k=v" */
		if (strncmp(p + 1, "password=", 9) == 0) {
			put(out, outlen, pos, p, 10);
			put(out, outlen, pos, "***", 3);
		} else {
			put(out, outlen, pos, p, n);
		}
		p += n;
	}
}

/* A key=value string: the value of every password keyword. */
static void display_conninfo(const char *t, char *out, size_t outlen, size_t *pos)
{
	const char *p = t;

	while (*p) {
		const char *k = p, *v;
		int at_word = k == t || k[-1] == ' ' || k[-1] == '\t' || k[-1] == '\n';

		if (!at_word || strncmp(k, "password", 8) != 0) {
			put(out, outlen, pos, p, 1);
			p++;
			continue;
		}
		v = k + 8;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v != '=') {
			put(out, outlen, pos, p, 1);
			p++;
			continue;
		}
		v++;
		while (*v == ' ' || *v == '\t')
			v++;
		put(out, outlen, pos, k, (size_t)(v - k));
		if (*v == '\'') {
			for (v++; *v && *v != '\''; v++)
				if (*v == '\\' && v[1])
					v++;
			if (*v)
				v++;
			put(out, outlen, pos, "'***'", 5);
		} else {
			while (*v && *v != ' ' && *v != '\t' && *v != '\n')
				v++;
			put(out, outlen, pos, "***", 3);
		}
		p = v;
	}
}

int store_target_is_pg(const char *target)
{
	return target && store__is_pg_target(target);
}

char *store_target_display(const char *target, char *out, size_t outlen)
{
	size_t pos = 0;

	if (!out || outlen == 0)
		return out;
	if (!target)
		target = "";
	if (has_prefix(target, "postgresql://") || has_prefix(target, "postgres://"))
		display_uri(target, out, outlen, &pos);
	else if (store__is_pg_target(target)) {
		size_t pre = has_prefix(target, "pg:") ? 3 : strlen("postgresql:");
		put(out, outlen, &pos, target, pre);
		display_conninfo(target + pre, out, outlen, &pos);
	} else
		put(out, outlen, &pos, target, strlen(target));
	out[pos < outlen ? pos : outlen - 1] = '\0';
	return out;
}

int store_open(const char *target, struct store **out, char *errmsg, size_t errlen)
{
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
	if (store__is_pg_target(target)) {
		r = store_pg_ops.open(target, out, errmsg, errlen);
		if (r == 0)
			(*out)->ops = &store_pg_ops;
		return r;
	}
	r = store_sqlite_ops.open(target, out, errmsg, errlen);
	if (r == 0)
		(*out)->ops = &store_sqlite_ops;
	return r;
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
	if ((r = check_no_unknown(st)) != 0)
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
	if ((r = st->ops->is_empty(st, &empty)) != 0)
		return r;
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

int store_tx_begin(struct store *st)
{
	int r;

	if (!st)
		return SDB_EUSAGE;
	if ((r = fault(st, "tx_begin")) != 0)
		return r;
	if ((r = st->ops->tx_begin(st)) == 0)
		st->in_tx = 1;
	return r;
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
                           const struct rec_host *h)
{
	if (!h)
		return SDB_EUSAGE;
	CALL(st, host_scan_insert, job_id, host_id, seen_at, h);
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

int store_jobs_reap_stale(struct store *st, int64_t now, const char *hostname, int *reaped)
{
	CALL(st, jobs_reap_stale, now, hostname, reaped);
}

int store_job_find_by_hash(struct store *st, const char *hash, int64_t *id)
{
	if (!hash || !id)
		return SDB_EUSAGE;
	CALL(st, job_find_by_hash, hash, id);
}

/* ---- history --------------------------------------------------------- */

int store_history_load(struct store *st, const char *addr, int64_t *host_id, struct ev_host *out)
{
	if (!addr || !host_id || !out)
		return SDB_EUSAGE;
	*host_id = 0;
	CALL(st, history_load, addr, host_id, out);
}

int store_port_state_save(struct store *st, int64_t host_id, const struct ev_host *h)
{
	if (!h)
		return SDB_EUSAGE;
	CALL(st, port_state_save, host_id, h);
}

int store_event_insert(struct store *st, int64_t host_id, const struct ev_event *e)
{
	if (!e || (unsigned)e->kind >= EV__COUNT)
		return SDB_EUSAGE;
	CALL(st, event_insert, host_id, e);
}

int store_history_reset(struct store *st, int64_t host_id)
{
	CALL(st, history_reset, host_id);
}

int store_host_jobs(struct store *st, int64_t host_id, int64_t **jobs, int64_t **times, size_t *n)
{
	if (!jobs || !times || !n)
		return SDB_EUSAGE;
	*jobs = *times = NULL;
	*n = 0;
	CALL(st, host_jobs, host_id, jobs, times, n);
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
