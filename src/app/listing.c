/*
 * listing.c - --sort and --limit of every listing (see listing.h): a
 * stream cut at the limit, or a heap of held items (bounded by the limit
 * if there is one) sorted with heapsort at the end.  Knows nothing of what
 * the items are; listing_fields.c compares them.
 */
#include "app/listing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/vec.h"

int listing_order_parse(const struct listing_field *fields, const char *spec,
                        struct listing_order *o)
{
	int desc = spec[0] == '-';
	const char *name = spec + desc;

	for (const struct listing_field *f = fields; f->name; f++) {
		if (strcmp(f->name, name) == 0) {
			o->field = f;
			o->desc = desc;
			return 0;
		}
	}
	return SDB_EUSAGE;
}

void listing_field_names(const struct listing_field *fields, char *out, size_t outlen)
{
	size_t len = 0;

	if (outlen)
		out[0] = '\0';
	for (const struct listing_field *f = fields; f->name && len < outlen; f++) {
		int w = snprintf(out + len, outlen - len, "%s%s", f == fields ? "" : ", ", f->name);

		if (w < 0)
			break;
		len += (size_t)w;
	}
}

void listing_init(struct listing *l, const struct listing_order *o,
                  int (*emit)(void *ctx, void *item), void (*drop)(void *item), void *ctx)
{
	memset(l, 0, sizeof(*l));
	l->o = *o;
	l->emit = emit;
	l->drop = drop;
	l->ctx = ctx;
	/* The natural order streams; a field in the store's direction too. */
	l->holding = o->field && o->field->natural != (o->desc ? -1 : 1);
}

/* <0 if a is listed before b: the field in the asked direction, then the
 * arrival order (never 0 for two held items). */
static int before(const struct listing *l, const struct listing_held *a,
                  const struct listing_held *b)
{
	int c = l->o.field->cmp(a->item, b->item);

	if (l->o.desc)
		c = -c;
	if (c == 0)
		c = a->seq < b->seq ? -1 : 1;
	return c;
}

/* Move held[i] down a max-heap of n items (root: listed last). */
static void sift_down(struct listing *l, size_t i, size_t n)
{
	struct listing_held *h = l->held;

	for (;;) {
		size_t big = i, kid = 2 * i + 1;

		if (kid < n && before(l, &h[big], &h[kid]) < 0)
			big = kid;
		if (kid + 1 < n && before(l, &h[big], &h[kid + 1]) < 0)
			big = kid + 1;
		if (big == i)
			return;
		struct listing_held t = h[i];
		h[i] = h[big];
		h[big] = t;
		i = big;
	}
}

static void sift_up(struct listing *l, size_t i)
{
	struct listing_held *h = l->held;

	while (i > 0 && before(l, &h[(i - 1) / 2], &h[i]) < 0) {
		struct listing_held t = h[i];
		h[i] = h[(i - 1) / 2];
		h[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* Hold one item: into a heap of at most o.limit items (the last listed
 * one dropped) or, without a limit, appended (heapified at the end). */
static int hold(struct listing *l, void *item)
{
	struct listing_held it = {item, l->seq++};

	if (l->o.limit && l->n == l->o.limit) {
		if (before(l, &it, &l->held[0]) < 0) {
			l->drop(l->held[0].item);
			l->held[0] = it;
			sift_down(l, 0, l->n);
		} else {
			l->drop(item);
		}
		return 0;
	}
	if (VEC_RESERVE(l->held, l->cap, l->n + 1, 64)) {
		l->drop(item);
		return SDB_ENOMEM;
	}
	l->held[l->n++] = it;
	if (l->o.limit)
		sift_up(l, l->n - 1);
	return 0;
}

int listing_add(struct listing *l, void *item)
{
	int r;

	if (l->holding)
		return hold(l, item);
	if (l->o.limit && l->emitted >= l->o.limit) {
		l->drop(item);
		return LISTING_STOP;
	}
	l->emitted++;
	if ((r = l->emit(l->ctx, item)) != 0)
		return r;
	return l->o.limit && l->emitted >= l->o.limit ? LISTING_STOP : 0;
}

/* Heapsort the held items into listing order, then emit them. */
static int emit_held(struct listing *l)
{
	size_t i = 0;
	int r = 0;

	if (!l->o.limit)
		for (size_t k = l->n / 2; k-- > 0;)
			sift_down(l, k, l->n);
	for (size_t n = l->n; n > 1; n--) {
		struct listing_held t = l->held[0];
		l->held[0] = l->held[n - 1];
		l->held[n - 1] = t;
		sift_down(l, 0, n - 1);
	}
	for (; i < l->n && r == 0; i++)
		r = l->emit(l->ctx, l->held[i].item);
	for (; i < l->n; i++)
		l->drop(l->held[i].item);
	l->n = 0;
	return r;
}

int listing_end(struct listing *l, int r)
{
	if (r == LISTING_STOP)
		r = 0;
	if (r == 0 && l->holding)
		r = emit_held(l);
	for (size_t i = 0; i < l->n; i++)
		l->drop(l->held[i].item);
	free(l->held);
	l->held = NULL;
	l->n = l->cap = 0;
	return r;
}
