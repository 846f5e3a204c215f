/*
 * store_migrate.c - the migration algorithm, the same for every backend
 * (ARCHITECTURE invariant 6): which embedded migrations are applied and
 * whether they were changed (store_migrate_status, _verify), applying and
 * reverting them under the write lock exactly once (store_migrate_up,
 * _down, store_ensure_ready), telling scandb's databases from other
 * applications' (store_schema_kind), and checking a backup's
 * schema_migrations rows before a restore (store__check_backup_migrations).
 *
 * The backends only keep the bookkeeping (store_int.h "Migrations
 * bookkeeping" slots) and run the scripts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"
#include "core/timeutil.h"
#include "store/store.h"
#include "store/store_int.h"

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

/* ---- a backup's migrations (restore) ----------------------------------- */

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
