/*
 * services.c - the `services` use case: the open (host, port) rows of the
 * current state, walked host by host with store_hosts_each(); see
 * services.h.
 */
#include "app/services.h"

#include <string.h>

#include "core/record.h"

/* A callback's return that stops the walk at the limit (SDB_* codes are
 * negative, so it is never one of them). */
#define SERVICES_STOP 1

struct services_walk {
	const struct store_host_filter *f;
	size_t limit, n;
	services_row_fn cb;
	void *ctx;
};

/* Does port p make a row under filter f: open, and the port, protocol and
 * service asked for (the store matches the service exactly too), and the
 * port terms of its search expression (filter_port_required)? */
static int row_matches(const struct store_host_filter *f, const struct store_port *p)
{
	if (!p->state || strcmp(p->state, "open") != 0)
		return 0;
	if (f->port >= 0 && p->port != f->port)
		return 0;
	if (f->protocol != REC_PROTO_ANY &&
	    (!p->protocol || strcmp(p->protocol, rec_proto_name(f->protocol)) != 0))
		return 0;
	if (f->service && (!p->service || strcmp(p->service, f->service) != 0))
		return 0;
	if (f->expr) {
		/* the port terms of a search: the port itself passes them */
		struct filter_port_view v = {p->port,    p->protocol, p->service, p->product,
		                             p->version, p->cpes,     p->ncpes};
		return filter_port_required(f->expr, &v);
	}
	return 1;
}

/* store_hosts_each() callback: the host's matching rows, then free it. */
static int on_host(void *ctx, struct store_host *h)
{
	struct services_walk *w = ctx;
	int r = 0;

	for (size_t i = 0; i < h->nports && r == 0; i++) {
		if (!row_matches(w->f, &h->ports[i]))
			continue;
		r = w->cb(w->ctx, h, &h->ports[i]);
		if (r == 0 && w->limit && ++w->n >= w->limit)
			r = SERVICES_STOP;
	}
	store_host_free(h);
	return r;
}

int services_each(struct store *st, const struct store_host_filter *f, size_t limit,
                  services_row_fn cb, void *ctx)
{
	struct store_host_filter cur = *f;
	struct services_walk w = {f, limit, 0, cb, ctx};
	int r;

	cur.job_id = 0;
	r = store_hosts_each(st, &cur, on_host, &w);
	return r == SERVICES_STOP ? 0 : r;
}
