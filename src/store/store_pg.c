/*
 * store_pg.c - the PostgreSQL backend (libpq).  Placeholder while the
 * backend is built: opening a PostgreSQL database says so.
 */
#include <stdio.h>

#include "core/error.h"
#include "store/store_int.h"

static int pg_open(const char *target, struct store **out, char *errmsg, size_t errlen)
{
	(void)target;
	*out = NULL;
	snprintf(errmsg, errlen, "the PostgreSQL backend is not built yet");
	return SDB_EUNSUPPORTED;
}

static void pg_close(struct store *st)
{
	(void)st;
}

const struct store_ops store_pg_ops = {
    .name = "postgresql",
    .migrations = store_pg_migrations,
    .nmigrations = &store_pg_nmigrations,
    .open = pg_open,
    .close = pg_close,
};
