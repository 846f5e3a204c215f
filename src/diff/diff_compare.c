/*
 * diff_compare.c - the comparison of two snapshots for `scandb diff` (see
 * diff.h, diff_walk()): hosts paired by address, then status, MAC, host
 * names, OS matches, extraports, host scripts and every port (state,
 * service, scripts) compared the way ndiff does (docs/DIFF.md says where on
 * purpose not).  Writes nothing: the writers get each pair through a
 * callback.
 */
#include "diff/diff_int.h"

#include <stdlib.h>
#include <string.h>

static int cmp_extra(const void *x, const void *y)
{
	const struct diff_extraports *a = x, *b = y;

	if (a->state != b->state)
		return a->state < b->state ? -1 : 1;
	return a->count < b->count ? -1 : a->count > b->count;
}

/* ndiff compares name, product, version and extrainfo; we also compare the
 * tunnel (http vs ssl/http is a change: docs/DIFF.md). */
static int service_eq(const struct diff_port *a, const struct diff_port *b)
{
	const struct diff_port_info *x = port_info(a), *y = port_info(b);

	return str_eq(x->name, y->name) && str_eq(x->product, y->product) &&
	       str_eq(x->version, y->version) && str_eq(x->extrainfo, y->extrainfo) &&
	       str_eq(x->tunnel, y->tunnel);
}

static int push_script(struct diff_walker *w, const struct diff_script *a,
                       const struct diff_script *b)
{
	int r;

	if ((r = vec_reserve(&w->sp, &w->sp_cap, w->ns + 1, sizeof(*w->sp), 16)) != 0)
		return r;
	w->sp[w->ns].a = a;
	w->sp[w->ns].b = b;
	w->ns++;
	return 0;
}

/* ndiff's ScriptResultDiff.diff_lists() (diff_int.h). */
int diff__merge_scripts(struct diff_walker *w, const struct diff_script *a, size_t na,
                        const struct diff_script *b, size_t nb, size_t *changed)
{
	size_t i = 0, j = 0;
	int r = 0;

	*changed = 0;
	while (r == 0 && (i < na || j < nb)) {
		int c = i >= na ? 1 : j >= nb ? -1 : strcmp(a[i].id, b[j].id);

		if (c < 0) {
			r = push_script(w, &a[i++], NULL);
			++*changed;
		} else if (c > 0) {
			r = push_script(w, NULL, &b[j++]);
			++*changed;
		} else {
			int same = strcmp(a[i].output, b[j].output) == 0;

			if (!same || w->verbose)
				r = push_script(w, &a[i], &b[j]);
			*changed += !same;
			i++;
			j++;
		}
	}
	return r;
}

static int compare_port(struct diff_walker *w, const struct diff_host *ha,
                        const struct diff_host *hb, const struct diff_port *pa,
                        const struct diff_port *pb, int *any)
{
	const struct diff_port_info *ia = port_info(pa), *ib = port_info(pb);
	size_t mark = w->ns, changed = 0;
	unsigned ch = 0;
	int r;

	if (is_extraports(ha, pa) && is_extraports(hb, pb))
		return 0;
	if (!pa || !pb || pa->state != pb->state)
		ch |= DIFF_PCH_STATE;
	if (!service_eq(pa, pb))
		ch |= DIFF_PCH_SERVICE;
	if ((r = diff__merge_scripts(w, ia->scripts, pa ? pa->nscripts : 0, ib->scripts,
	                             pb ? pb->nscripts : 0, &changed)) != 0)
		return r;
	if (changed)
		ch |= DIFF_PCH_SCRIPTS;
	if (!ch && !w->verbose) {
		w->ns = mark;
		return 0;
	}
	if ((r = vec_reserve(&w->pp, &w->pp_cap, w->np + 1, sizeof(*w->pp), 16)) != 0 ||
	    (r = vec_reserve(&w->pp_off, &w->off_cap, w->np + 1, sizeof(*w->pp_off), 16)) != 0)
		return r;
	w->pp[w->np].a = pa;
	w->pp[w->np].b = pb;
	w->pp[w->np].changes = ch;
	w->pp[w->np].nscripts = w->ns - mark;
	w->pp_off[w->np] = mark;
	w->np++;
	*any |= ch != 0;
	return 0;
}

static int names_eq(const struct diff_host *a, const struct diff_host *b)
{
	size_t na = a ? a->nhostnames : 0, nb = b ? b->nhostnames : 0;

	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a->hostnames[i], b->hostnames[i]) != 0)
			return 0;
	return 1;
}

static size_t extra_count(const struct diff_host *h, const struct diff_extraports *e)
{
	size_t n = 0;

	for (size_t i = 0; h && i < h->nextraports; i++)
		n += cmp_extra(&h->extraports[i], e) == 0;
	return n;
}

/* The same (state, count) pairs, in any order (ndiff compares them in file
 * order: docs/DIFF.md).  A host has a handful at most. */
static int extra_eq(const struct diff_host *a, const struct diff_host *b)
{
	size_t na = a ? a->nextraports : 0, nb = b ? b->nextraports : 0;

	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (extra_count(a, &a->extraports[i]) != extra_count(b, &a->extraports[i]))
			return 0;
	return 1;
}

/* ndiff compares the whole list of OS match names, in order. */
static int osmatches_eq(const struct diff_host *a, const struct diff_host *b)
{
	size_t n = a ? a->nosmatches : 0;

	if (n != (b ? b->nosmatches : 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->osmatches[i], b->osmatches[i]) != 0)
			return 0;
	return 1;
}

static int compare_host(struct diff_walker *w, const struct diff_host *a, const struct diff_host *b,
                        struct diff_host_pair *hp)
{
	size_t i = 0, j = 0, na = a ? a->nports : 0, nb = b ? b->nports : 0, hs_changed = 0;
	int any_port = 0, r;

	memset(hp, 0, sizeof(*hp));
	hp->a = a;
	hp->b = b;
	w->np = w->ns = 0;
	if (!a || !b || a->status != b->status)
		hp->changes |= DIFF_CH_STATUS;
	if (!str_eq(a ? a->mac : NULL, b ? b->mac : NULL))
		hp->changes |= DIFF_CH_MAC;
	if (!names_eq(a, b))
		hp->changes |= DIFF_CH_HOSTNAMES;
	if (!osmatches_eq(a, b))
		hp->changes |= DIFF_CH_OS;
	if (!extra_eq(a, b))
		hp->changes |= DIFF_CH_EXTRAPORTS;
	if ((r = diff__merge_scripts(w, a ? a->scripts : NULL, a ? a->nscripts : 0,
	                             b ? b->scripts : NULL, b ? b->nscripts : 0, &hs_changed)) != 0)
		return r;
	hp->nscripts = w->ns;
	if (hs_changed)
		hp->changes |= DIFF_CH_SCRIPTS;
	while (i < na || j < nb) {
		int c = i >= na ? 1 : j >= nb ? -1 : port_cmp(&a->ports[i], &b->ports[j]);

		if (c < 0)
			r = compare_port(w, a, b, &a->ports[i++], NULL, &any_port);
		else if (c > 0)
			r = compare_port(w, a, b, NULL, &b->ports[j++], &any_port);
		else
			r = compare_port(w, a, b, &a->ports[i++], &b->ports[j++], &any_port);
		if (r != 0)
			return r;
	}
	if (any_port)
		hp->changes |= DIFF_CH_PORTS;
	/* the arrays are final: point into them */
	for (size_t k = 0; k < w->np; k++)
		w->pp[k].scripts = w->pp[k].nscripts ? w->sp + w->pp_off[k] : NULL;
	hp->scripts = hp->nscripts ? w->sp : NULL;
	hp->ports = w->np ? w->pp : NULL;
	hp->nports = w->np;
	hp->kind = !a            ? DIFF_ADDED
	           : !b          ? DIFF_REMOVED
	           : hp->changes ? DIFF_CHANGED
	                         : DIFF_UNCHANGED;
	return 0;
}

int diff_walk(const struct diff_snapshot *a, const struct diff_snapshot *b, int verbose,
              int (*cb)(void *ctx, const struct diff_host_pair *hp), void *ctx,
              struct diff_summary *sum)
{
	struct diff_walker w;
	struct diff_summary tally;
	size_t i = 0, j = 0;
	int r = 0;

	memset(&w, 0, sizeof(w));
	memset(&tally, 0, sizeof(tally));
	w.verbose = verbose;
	while (i < a->n || j < b->n) {
		const struct diff_host *ha = NULL, *hb = NULL;
		struct diff_host_pair hp;
		int c = i >= a->n   ? 1
		        : j >= b->n ? -1
		                    : memcmp(a->hosts[i].key, b->hosts[j].key, 16);

		if (c <= 0)
			ha = &a->hosts[i++];
		if (c >= 0)
			hb = &b->hosts[j++];
		if ((r = compare_host(&w, ha, hb, &hp)) != 0)
			goto out;
		switch (hp.kind) {
		case DIFF_ADDED:
			tally.added++;
			break;
		case DIFF_REMOVED:
			tally.removed++;
			break;
		case DIFF_CHANGED:
			tally.changed++;
			break;
		default:
			tally.unchanged++;
			break;
		}
		if ((hp.kind != DIFF_UNCHANGED || verbose) && (r = cb(ctx, &hp)) != 0)
			goto out;
	}
	r = 0;
out:
	free(w.pp);
	free(w.pp_off);
	free(w.sp);
	if (sum)
		*sum = tally;
	return r;
}
