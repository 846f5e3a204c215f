/*
 * services.c - the `services` use case: the open (host, port) rows of the
 * current state, walked host by host with store_hosts_each(), in the order
 * and length app/listing.c sets, and their top values (`--top`: counted by
 * the store, store_top_values(), or with SCANDB_TOP_WALK=1 by the walk, which
 * the tests compare); see services.h.
 */
#include "app/services.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/record.h"
#include "core/strset.h"
#include "core/vec.h"

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

/* ---- services_list: sorted and cut ---------------------------------------- */

/* A held host, shared by its held rows; freed with the last of them. */
struct services_shared {
	struct store_host *h;
	size_t refs;
};
/* A held row (a struct services_row first, for listing_fields.c). */
struct services_held {
	struct services_row row;
	struct services_shared *sh;
};

struct services_sort {
	struct listing l;
	services_row_fn cb;
	void *ctx;
};

static void held_drop(void *item)
{
	struct services_held *x = item;

	if (--x->sh->refs == 0) {
		store_host_free(x->sh->h);
		free(x->sh);
	}
	free(x);
}

static int held_emit(void *ctx, void *item)
{
	struct services_sort *s = ctx;
	struct services_held *x = item;
	int r = s->cb(s->ctx, x->row.h, x->row.p);

	held_drop(x);
	return r;
}

/* store_hosts_each() callback: hand each row of h to the listing. */
static int sort_host(void *ctx, struct store_host *h)
{
	struct services_walk *w = ctx;
	struct services_sort *s = w->ctx;
	struct services_shared *sh = calloc(1, sizeof(*sh));
	int r = 0;

	if (!sh) {
		store_host_free(h);
		return SDB_ENOMEM;
	}
	sh->h = h;
	sh->refs = 1; /* this walk's, dropped below */
	for (size_t i = 0; i < h->nports && r == 0; i++) {
		struct services_held *x;

		if (!row_matches(w->f, &h->ports[i]))
			continue;
		if (!(x = malloc(sizeof(*x)))) {
			r = SDB_ENOMEM;
			break;
		}
		*x = (struct services_held){{h, &h->ports[i]}, sh};
		sh->refs++;
		r = listing_add(&s->l, x);
	}
	if (--sh->refs == 0) {
		store_host_free(h);
		free(sh);
	}
	return r;
}

int services_list(struct store *st, const struct store_host_filter *f,
                  const struct listing_order *o, services_row_fn cb, void *ctx)
{
	struct store_host_filter cur = *f;
	struct services_sort s = {.cb = cb, .ctx = ctx};
	struct services_walk w = {f, 0, 0, NULL, &s};
	int r;

	listing_init(&s.l, o, held_emit, held_drop, &s);
	if (!s.l.holding)
		return services_each(st, f, o->limit, cb, ctx);
	cur.job_id = 0;
	r = store_hosts_each(st, &cur, sort_host, &w);
	return listing_end(&s.l, r);
}

/* ---- services_top ------------------------------------------------------------ */

static const char *const top_names[] = {"service", "product", "port", "os", "cpe"};

int services_top_field_parse(const char *s, enum services_top_field *out)
{
	for (size_t i = 0; i < sizeof(top_names) / sizeof(top_names[0]); i++) {
		if (strcmp(s, top_names[i]) == 0) {
			*out = (enum services_top_field)i;
			return 0;
		}
	}
	return SDB_EUSAGE;
}

/* The store's order of the fields is ours. */
_Static_assert((int)SERVICES_TOP_SERVICE == (int)STORE_TOP_SERVICE &&
                   (int)SERVICES_TOP_PRODUCT == (int)STORE_TOP_PRODUCT &&
                   (int)SERVICES_TOP_PORT == (int)STORE_TOP_PORT &&
                   (int)SERVICES_TOP_OS == (int)STORE_TOP_OS &&
                   (int)SERVICES_TOP_CPE == (int)STORE_TOP_CPE,
               "services_top_field follows store_top_field");

struct services_tally {
	enum services_top_field field;
	struct strset set;
	int counted;       /* os: a host was counted, */
	int64_t last_host; /* this one (rows come host by host) */
};

/* services_each() callback: count the row's value(s). */
static int tally_row(void *ctx, const struct store_host *h, const struct store_port *p)
{
	struct services_tally *t = ctx;
	char port[32];
	int r = 0;

	switch (t->field) {
	case SERVICES_TOP_SERVICE:
		if (p->service && *p->service)
			r = strset_count(&t->set, p->service);
		break;
	case SERVICES_TOP_PRODUCT:
		if (p->product && *p->product)
			r = strset_count(&t->set, p->product);
		break;
	case SERVICES_TOP_PORT:
		snprintf(port, sizeof(port), "%d/%s", p->port, p->protocol ? p->protocol : "?");
		r = strset_count(&t->set, port);
		break;
	case SERVICES_TOP_OS:
		if (t->counted && h->id == t->last_host)
			break;
		t->counted = 1;
		t->last_host = h->id;
		if (h->os && *h->os)
			r = strset_count(&t->set, h->os);
		break;
	case SERVICES_TOP_CPE:
		for (size_t i = 0; i < p->ncpes && r >= 0; i++)
			r = strset_count(&t->set, p->cpes[i]);
		break;
	}
	return r < 0 ? r : 0; /* (1: a new value, not a stop) */
}

/* Most frequent first, then by value. */
static int by_count(const void *a, const void *b)
{
	const struct services_count *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return strcmp(x->value, y->value);
}

void services_counts_free(struct services_count *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].value);
	free(v);
}

/* The counts gathered, then sorted and cut as the walk's. */
struct services_counts {
	struct services_count *v;
	size_t n, cap;
};

/* store_top_values() callback: keep one value and its count. */
static int take_count(void *ctx, const char *value, int64_t count)
{
	struct services_counts *c = ctx;

	if (VEC_RESERVE(c->v, c->cap, c->n + 1, 64))
		return SDB_ENOMEM;
	if (!(c->v[c->n].value = strdup(value)))
		return SDB_ENOMEM;
	c->v[c->n++].count = (size_t)count;
	return 0;
}

/* The walk: every matching row of every host, counted here. */
static int top_walk(struct store *st, const struct store_host_filter *f,
                    enum services_top_field field, struct services_counts *c)
{
	struct services_tally t = {.field = field};
	int r;

	strset_init(&t.set);
	r = services_each(st, f, 0, tally_row, &t);
	for (size_t i = 0; r >= 0 && i < t.set.cap; i++) {
		if (!t.set.slot[i])
			continue;
		if (VEC_RESERVE(c->v, c->cap, c->n + 1, 64)) {
			r = SDB_ENOMEM;
			break;
		}
		c->v[c->n].value = t.set.slot[i];
		c->v[c->n++].count = t.set.hits[i];
		t.set.slot[i] = NULL; /* now c's */
	}
	strset_free(&t.set);
	return r;
}

/* Counted by the store (GROUP BY: the same rows as the walk, see
 * store_top_values), unless SCANDB_TOP_WALK=1 asks for the walk (the tests
 * compare the two) or the backend cannot count. */
static int top_counted(struct store *st, const struct store_host_filter *f,
                       enum services_top_field field, struct services_counts *c)
{
	const char *walk = getenv("SCANDB_TOP_WALK");
	struct store_host_filter cur = *f;
	int r;

	if (walk && strcmp(walk, "1") == 0)
		return top_walk(st, f, field, c);
	cur.job_id = 0;
	r = store_top_values(st, &cur, (enum store_top_field)field, take_count, c);
	if (r != SDB_EUNSUPPORTED)
		return r;
	services_counts_free(c->v, c->n);
	*c = (struct services_counts){0};
	return top_walk(st, f, field, c);
}

int services_top(struct store *st, const struct store_host_filter *f, enum services_top_field field,
                 size_t n, struct services_count **out, size_t *nout)
{
	struct services_counts c = {0};
	size_t keep;
	int r;

	*out = NULL;
	*nout = 0;
	if ((r = top_counted(st, f, field, &c)) < 0) {
		services_counts_free(c.v, c.n);
		return r;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), by_count);
	keep = n && n < c.n ? n : c.n;
	for (size_t i = keep; i < c.n; i++)
		free(c.v[i].value);
	*out = c.v;
	*nout = keep;
	return 0;
}
