/*
 * services.h - the `services` use case (Metasploit's `services`): every
 * open (host, port) of the current state, with the port's service and its
 * first and last sighting, filtered like `hosts` and read through the
 * store's read API.  The CLI prints these rows; the HTTP API will too.
 */
#ifndef SDB_APP_SERVICES_H
#define SDB_APP_SERVICES_H

#include <stddef.h>

#include "store/store.h"

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

#endif
