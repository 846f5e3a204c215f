/*
 * services.h - the `services` use case (Metasploit's `services`): every
 * open (host, port) of the current state, with the port's service and its
 * first and last sighting, filtered like `hosts` and read through the
 * store's read API.  The CLI prints these rows; the HTTP API will too.
 */
#ifndef SDB_APP_SERVICES_H
#define SDB_APP_SERVICES_H

#include <stddef.h>

#include "app/listing.h"
#include "store/store.h"

/* One row: port p (state open) of host h. */
struct services_row {
	const struct store_host *h;
	const struct store_port *p;
};

/* Called once per row: port p (state open) of host h, both borrowed for
 * the call only.  A non-zero return stops the walk and is returned. */
typedef int (*services_row_fn)(void *ctx, const struct store_host *h, const struct store_port *p);

/*
 * Call cb for each open port of the current state (f->job_id is ignored)
 * of the hosts that match f, in address order then in the store's port
 * order (protocol, port).  The port filters of f (port, protocol,
 * service) select the rows themselves, not only the hosts.  At most
 * `limit` rows (0: all).  Returns 0, cb's non-zero return, or the
 * store's SDB_* error.
 */
int services_each(struct store *st, const struct store_host_filter *f, size_t limit,
                  services_row_fn cb, void *ctx);

/*
 * services_each() in the order o asks (listing.h; o->field from
 * listing_service_fields) and cut at o->limit.  The address order streams;
 * another order holds the hosts of the rows it keeps (at most o->limit
 * rows, else every row) until the walk ends.
 */
int services_list(struct store *st, const struct store_host_filter *f,
                  const struct listing_order *o, services_row_fn cb, void *ctx);

/* What `services --top` counts. */
enum services_top_field {
	SERVICES_TOP_SERVICE, /* the service name ("ssh") */
	SERVICES_TOP_PRODUCT, /* the product ("OpenSSH") */
	SERVICES_TOP_PORT,    /* "22/tcp" */
	SERVICES_TOP_OS,      /* the host's best OS match, once per host */
	SERVICES_TOP_CPE,     /* each CPE of the port's service */
};
/* "service", "product", ...: 0, or SDB_EUSAGE if `s` is none of them. */
int services_top_field_parse(const char *s, enum services_top_field *out);

/* A value and how many rows have it (hosts, for SERVICES_TOP_OS). */
struct services_count {
	char *value;
	size_t count;
};

/*
 * Count the distinct values of `field` over the rows of services_each(st,
 * f): rows without a value are not counted.  The n most frequent (all if
 * n is 0), most frequent first, ties in value order, in *out (*nout of
 * them; free with services_counts_free).  0 or an SDB_* code (*out NULL).
 */
int services_top(struct store *st, const struct store_host_filter *f, enum services_top_field field,
                 size_t n, struct services_count **out, size_t *nout);
void services_counts_free(struct services_count *v, size_t n);

#endif
