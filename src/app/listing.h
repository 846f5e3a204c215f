/*
 * listing.h - the order and length of every listing (hosts, services,
 * changes, findings, jobs): --sort FIELD (-FIELD descending) and --limit N,
 * applied once here to the items a store walk yields, whatever front door
 * asks.  The fields each listing sorts on are tables in listing_fields.c.
 *
 * Items come in the store's natural order.  Sorting by the natural key
 * (in the store's direction) streams them: nothing is held, the walk stops
 * at the limit.  Another order holds a bounded heap of N items when a
 * limit is given, else every item, sorted at the end.  Ties keep the
 * natural order.
 */
#ifndef SDB_APP_LISTING_H
#define SDB_APP_LISTING_H

#include <stddef.h>

/* A field a listing can be sorted on.  cmp compares two items (a qsort
 * comparator on the items themselves, not on pointers to them).  natural:
 * 1 if the store yields items in ascending order of this field, -1 if in
 * descending order, 0 otherwise. */
struct listing_field {
	const char *name;
	int (*cmp)(const void *a, const void *b);
	int natural;
};

/* What was asked: field NULL for the natural order. */
struct listing_order {
	const struct listing_field *field;
	int desc;
	size_t limit; /* 0: all */
};

/* The fields of each listing, ending with a { NULL } entry.  Items:
 * struct store_host, struct services_row (app/services.h), struct
 * store_event, struct store_finding, struct store_job. */
extern const struct listing_field listing_host_fields[];
extern const struct listing_field listing_service_fields[];
extern const struct listing_field listing_event_fields[];
extern const struct listing_field listing_finding_fields[];
extern const struct listing_field listing_job_fields[];

/* Set o->field and o->desc from "FIELD" or "-FIELD" among `fields`.
 * SDB_EUSAGE if FIELD is not one of them. */
int listing_order_parse(const struct listing_field *fields, const char *spec,
                        struct listing_order *o);

/* Write the names of `fields` into out (", " between them), cut to fit. */
void listing_field_names(const struct listing_field *fields, char *out, size_t outlen);

/* A listing under way.  emit takes the item (it frees it, also on error);
 * a non-zero return stops the listing and is returned.  drop frees an
 * item that is not emitted. */
struct listing_held {
	void *item;
	size_t seq; /* arrival number: ties keep the natural order */
};
struct listing {
	struct listing_order o;
	int (*emit)(void *ctx, void *item);
	void (*drop)(void *item);
	void *ctx;
	int holding;
	struct listing_held *held;
	size_t n, cap, seq, emitted;
};

/* The code listing_add returns once a streamed listing has its limit: the
 * walk's callback returns it to stop the store walk (never an SDB_* code,
 * which are negative); listing_end turns it into 0. */
#define LISTING_STOP 1

void listing_init(struct listing *l, const struct listing_order *o,
                  int (*emit)(void *ctx, void *item), void (*drop)(void *item), void *ctx);
/* Take one item of the walk: emit it now (streaming) or hold it.  0,
 * LISTING_STOP, emit's non-zero return or SDB_ENOMEM; the item is taken
 * in every case. */
int listing_add(struct listing *l, void *item);
/* After the walk returned r: if r is 0 or LISTING_STOP, emit the held
 * items in order.  Frees what is left.  Returns r (0 for LISTING_STOP) or
 * emit's error. */
int listing_end(struct listing *l, int r);

#endif
