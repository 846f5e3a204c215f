/*
 * events.c - derivation of change events from one host's successive scans
 * (the rules are in events.h; the state they step, core/hoststate.c).
 * Pure: state in, events out.
 */
#include "history/events.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

/* "name product version extrainfo (tunnel)" as a person reads it. */
static char *service_text(const char *tunnel, const char *name, const char *product,
                          const char *version, const char *extrainfo)
{
	struct buf b;
	const char *parts[] = {name, product, version};

	buf_init(&b, (size_t)1 << 16);
	if (tunnel && *tunnel)
		buf_printf(&b, "%s/", tunnel);
	for (size_t i = 0; i < 3; i++)
		if (parts[i] && *parts[i])
			buf_printf(&b, "%s%s", b.len && b.data[b.len - 1] != '/' ? " " : "",
			           parts[i]);
	if (extrainfo && *extrainfo)
		buf_printf(&b, "%s(%s)", b.len ? " " : "", extrainfo);
	return buf_steal(&b);
}

struct step {
	struct ev_host *h;
	int64_t job_id, at;
	int64_t prev_job; /* the host's previous scan */
	ev_emit_fn emit;
	void *ctx;
};

static int emit(struct step *s, enum ev_kind kind, int proto, int port, const char *detail,
                const char *old_value, const char *new_value, int64_t prev_job)
{
	struct ev_event e = {
	    .kind = kind,
	    .proto = proto,
	    .port = port,
	    .detail = detail,
	    .old_value = old_value,
	    .new_value = new_value,
	    .job_id = s->job_id,
	    .prev_job_id = prev_job,
	    .at = s->at,
	};

	return s->emit ? s->emit(s->ctx, &e) : 0;
}

/* States that do not say whether the port is open. */
static int ambiguous(enum rec_port_state st)
{
	return st == REC_PORT_UNFILTERED || st == REC_PORT_OPEN_FILTERED;
}

static int is_probed(const char *method)
{
	return method && strcmp(method, "probed") == 0;
}

/* A service change, compared at the same level of detail only. */
static int service_differs(const struct ev_port *cur, const struct rec_port *p)
{
	const char *method = p->has_service ? p->service.method : NULL;

	if (!p->has_service || !cur->service)
		return 0;
	if (is_probed(cur->method) != is_probed(method))
		return 0;
	if (!ev_str_eq(cur->service, p->service.name))
		return 1;
	if (!is_probed(method))
		return 0;
	return !ev_str_eq(cur->product, p->service.product) ||
	       !ev_str_eq(cur->version, p->service.version) ||
	       !ev_str_eq(cur->extrainfo, p->service.extrainfo) ||
	       !ev_str_eq(cur->tunnel, p->service.tunnel);
}

/* Replace *dst with src if they differ. */
static int set_if(char **dst, const char *src)
{
	if (ev_str_eq(*dst, src))
		return 0;
	return ev_str_set(dst, src);
}

static int take_service(struct ev_port *cur, const struct rec_port *p)
{
	int r;

	if (!p->has_service) {
		/* an open port keeps what we knew of it; a port that is not
		 * open does not claim a service the scan did not see */
		if (p->state == REC_PORT_OPEN)
			return 0;
		if ((r = set_if(&cur->service, NULL)) || (r = set_if(&cur->product, NULL)) ||
		    (r = set_if(&cur->version, NULL)) || (r = set_if(&cur->extrainfo, NULL)) ||
		    (r = set_if(&cur->tunnel, NULL)) || (r = set_if(&cur->method, NULL)))
			return r;
		return 0;
	}
	/* keep version detection results when a later scan only had the
	 * port table's guess */
	if (is_probed(cur->method) && !is_probed(p->service.method) &&
	    ev_str_eq(cur->service, p->service.name))
		return 0;
	if ((r = set_if(&cur->service, p->service.name)) ||
	    (r = set_if(&cur->product, p->service.product)) ||
	    (r = set_if(&cur->version, p->service.version)) ||
	    (r = set_if(&cur->extrainfo, p->service.extrainfo)) ||
	    (r = set_if(&cur->tunnel, p->service.tunnel)) ||
	    (r = set_if(&cur->method, p->service.method)))
		return r;
	return 0;
}

/* One listed port of the scan. */
static int step_port(struct step *s, const struct rec_port *p, int host_is_new)
{
	struct ev_host *h = s->h;
	struct ev_port *cur;
	int found, r, was_open, now_open = p->state == REC_PORT_OPEN;
	size_t i = ev_host_port_find(h, (int)p->proto, p->port, &found);
	int64_t prev_job;

	if (!found) {
		if (!(cur = ev_host_port_insert_at(h, i)))
			return SDB_ENOMEM;
		cur->proto = p->proto;
		cur->port = p->port;
		cur->state = p->state;
		if (now_open && !host_is_new &&
		    (r = emit(s, EV_PORT_OPENED, (int)p->proto, p->port, NULL, NULL, "open",
		              s->prev_job)) != 0)
			return r;
	} else {
		cur = &h->ports[i];
		was_open = cur->state == REC_PORT_OPEN;
		prev_job = cur->job_id;
		/* an ACK scan's "unfiltered", a FIN/NULL/Xmas or UDP scan's
		 * "open|filtered" cannot tell an open port from another: no
		 * news about a port known open */
		if (was_open && ambiguous(p->state))
			return 0;
		if (now_open && !was_open) {
			r = emit(s, EV_PORT_OPENED, (int)p->proto, p->port, NULL,
			         rec_port_state_name(cur->state), "open", prev_job);
			if (r)
				return r;
		} else if (!now_open && was_open) {
			r = emit(s, EV_PORT_CLOSED, (int)p->proto, p->port, NULL, "open",
			         rec_port_state_name(p->state), prev_job);
			if (r)
				return r;
		} else if (now_open && service_differs(cur, p)) {
			char *o = service_text(cur->tunnel, cur->service, cur->product,
			                       cur->version, cur->extrainfo);
			char *n =
			    service_text(p->service.tunnel, p->service.name, p->service.product,
			                 p->service.version, p->service.extrainfo);
			r = o && n ? emit(s, EV_SERVICE_CHANGED, (int)p->proto, p->port, NULL, o, n,
			                  prev_job)
			           : SDB_ENOMEM;
			free(o);
			free(n);
			if (r)
				return r;
		}
	}
	if (now_open) {
		if (!cur->first_seen)
			cur->first_seen = s->at;
		cur->last_seen = s->at;
		cur->closed_at = 0;
	} else if (cur->state == REC_PORT_OPEN && found) {
		cur->closed_at = s->at;
	}
	cur->state = p->state;
	cur->job_id = s->job_id;
	cur->seen_at = s->at;
	if ((r = set_if(&cur->reason, p->reason)) != 0 || (r = take_service(cur, p)) != 0)
		return r;
	cur->dirty = 1;
	return 0;
}

/* The state nmap gave the ports it did not list: its extraports. */
static enum rec_port_state unlisted_state(const struct rec_host *scan, enum rec_proto proto)
{
	const struct rec_extraports *best = NULL;

	for (size_t i = 0; i < scan->nextraports; i++) {
		const struct rec_extraports *e = &scan->extraports[i];
		/* open|filtered is what UDP scans fold; prefer it for UDP */
		if (proto == REC_PROTO_UDP && e->state == REC_PORT_OPEN_FILTERED)
			return e->state;
		if (!best || e->count > best->count)
			best = e;
	}
	if (best && best->state != REC_PORT_OPEN)
		return best->state;
	return REC_PORT_CLOSED;
}

/* Tracked ports this scan probed without listing them. */
static int step_unlisted(struct step *s, const struct scan_scope *scope,
                         const struct rec_host *scan, const unsigned char *listed)
{
	struct ev_host *h = s->h;
	int r;

	for (size_t i = 0; i < h->nports; i++) {
		struct ev_port *cur = &h->ports[i];
		enum rec_port_state st;

		if (listed[i] || !scope_covers(scope, cur->proto, cur->port))
			continue;
		st = unlisted_state(scan, cur->proto);
		if (cur->state == REC_PORT_OPEN && ambiguous(st)) {
			/* no news: it stays open, untouched */
			continue;
		}
		if (cur->state == REC_PORT_OPEN) {
			r = emit(s, EV_PORT_CLOSED, (int)cur->proto, cur->port, NULL, "open",
			         rec_port_state_name(st), cur->job_id);
			if (r)
				return r;
			cur->closed_at = s->at;
		}
		cur->dirty = 1;
		cur->state = st;
		cur->job_id = s->job_id;
		cur->seen_at = s->at;
		free(cur->reason);
		cur->reason = NULL;
	}
	return 0;
}

/* An attribute compared with the latest scan that reported it. */
static int step_attr(struct step *s, enum ev_kind kind, char **cur, const char *now)
{
	int r;

	if (!now || (*cur && strcmp(*cur, now) == 0))
		return 0;
	if (*cur && (r = emit(s, kind, -1, -1, NULL, *cur, now, s->prev_job)) != 0)
		return r;
	s->h->attrs_dirty = 1;
	return ev_str_set(cur, now);
}

static int step_script(struct step *s, int proto, int port, const struct rec_script *sc)
{
	struct ev_script *cur = ev_host_script_find(s->h, proto, port, sc->id);
	const char *out = sc->output ? sc->output : "";
	int r;

	if (cur && cur->output && strcmp(cur->output, out) == 0) {
		cur->job_id = s->job_id; /* the same output: nothing to copy */
		return 0;
	}
	if (cur && cur->output &&
	    (r = emit(s, EV_SCRIPT_CHANGED, proto, port, sc->id, cur->output, out, cur->job_id)) !=
	        0)
		return r;
	if (!cur && !(cur = ev_host_script_entry(s->h, proto, port, sc->id)))
		return SDB_ENOMEM;
	/* the old output stays (h->dropped) while the event points at it */
	if ((r = ev_host_script_set(s->h, cur, out)) != 0)
		return r;
	cur->job_id = s->job_id;
	return 0;
}

/* The host's status after a scan that listed it (rules in events.h): its
 * change event, and its misses in a row. */
static int step_status(struct step *s, const struct rec_host *scan, int gone_after)
{
	struct ev_host *h = s->h;
	enum rec_host_status old = h->status, now = old;
	int misses = h->misses, r = 0;

	if (scan->status == REC_HOST_UP) {
		now = REC_HOST_UP;
		misses = 0;
	} else if (scan->status == REC_HOST_DOWN) {
		misses = misses < INT32_MAX ? misses + 1 : misses;
		now = old == REC_HOST_GONE || (gone_after > 0 && misses >= gone_after)
		          ? REC_HOST_GONE
		          : REC_HOST_DOWN;
	} else if (!h->known ||
	           (old != REC_HOST_UP && old != REC_HOST_DOWN && old != REC_HOST_GONE)) {
		/* a list scan's "unknown" says nothing about up or down */
		now = scan->status;
	}
	if (!h->known) {
		if (now == REC_HOST_UP || now == REC_HOST_GONE)
			r = emit(s, now == REC_HOST_UP ? EV_HOST_UP : EV_HOST_GONE, -1, -1, NULL,
			         NULL, rec_host_status_name(now), 0);
	} else if (now != old &&
	           (now == REC_HOST_GONE ||
	            ((now == REC_HOST_UP || now == REC_HOST_DOWN) &&
	             (old == REC_HOST_UP || old == REC_HOST_DOWN || old == REC_HOST_GONE)))) {
		enum ev_kind k = now == REC_HOST_UP     ? EV_HOST_UP
		                 : now == REC_HOST_DOWN ? EV_HOST_DOWN
		                                        : EV_HOST_GONE;
		r = emit(s, k, -1, -1, NULL, rec_host_status_name(old), rec_host_status_name(now),
		         s->prev_job);
	}
	/* a gone host's status is saved whatever the scan (the hosts row's
	 * merge rule takes a list scan's "unknown" over it) */
	h->gone_dirty = misses != h->misses || now == REC_HOST_GONE || old == REC_HOST_GONE;
	h->misses = misses;
	h->status = now;
	return r;
}

int ev_miss(struct ev_host *h, int64_t job_id, int64_t at, int gone_after, ev_emit_fn emit_fn,
            void *ctx)
{
	struct step s = {
	    .h = h, .job_id = job_id, .at = at, .prev_job = h->job_id, .emit = emit_fn, .ctx = ctx};
	int r = 0;

	ev_host_drop_dropped(h);
	for (size_t i = 0; i < h->nports; i++)
		h->ports[i].dirty = 0;
	h->attrs_dirty = 0;
	h->gone_dirty = 0;
	if (!h->known)
		return 0; /* a host no scan listed yet: nothing to miss */
	if (h->misses < INT32_MAX)
		h->misses++;
	h->miss_job = job_id;
	h->miss_at = at;
	h->gone_dirty = 1;
	if (gone_after > 0 && h->misses >= gone_after && h->status != REC_HOST_GONE) {
		r = emit(&s, EV_HOST_GONE, -1, -1, NULL, rec_host_status_name(h->status),
		         rec_host_status_name(REC_HOST_GONE), s.prev_job);
		h->status = REC_HOST_GONE;
	}
	return r;
}

int ev_step(struct ev_host *h, int64_t job_id, int64_t at, const struct scan_scope *scope,
            const struct rec_host *scan, int gone_after, ev_emit_fn emit_fn, void *ctx)
{
	struct step s = {
	    .h = h, .job_id = job_id, .at = at, .prev_job = h->job_id, .emit = emit_fn, .ctx = ctx};
	unsigned char *listed = NULL;
	char *names = NULL;
	int host_is_new = !h->known, r = 0;

	ev_host_drop_dropped(h); /* the previous step's events are gone */
	for (size_t i = 0; i < h->nports; i++)
		h->ports[i].dirty = 0;
	h->attrs_dirty = 0;
	if ((r = step_status(&s, scan, gone_after)) != 0)
		goto out;
	h->known = 1;
	h->job_id = job_id;
	h->at = at;
	if (scan->status != REC_HOST_UP)
		goto out; /* a host that was down says nothing about the rest */

	for (size_t i = 0; i < scan->nports; i++)
		if ((r = step_port(&s, &scan->ports[i], host_is_new)) != 0)
			goto out;
	if (!(listed = calloc(h->nports ? h->nports : 1, 1))) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < scan->nports; i++) {
		int found;
		size_t k =
		    ev_host_port_find(h, (int)scan->ports[i].proto, scan->ports[i].port, &found);
		if (found)
			listed[k] = 1;
	}
	if ((r = step_unlisted(&s, scope, scan, listed)) != 0)
		goto out;

	if ((r = step_attr(&s, EV_OS_CHANGED, &h->os, scan->has_os ? scan->os.name : NULL)) != 0 ||
	    (r = step_attr(&s, EV_MAC_CHANGED, &h->mac, scan->mac)) != 0)
		goto out;
	names = ev_hostnames(scan);
	if ((r = step_attr(&s, EV_HOSTNAME_CHANGED, &h->hostnames, names)) != 0)
		goto out;
	for (size_t i = 0; i < scan->nscripts; i++)
		if ((r = step_script(&s, -1, -1, &scan->scripts[i])) != 0)
			goto out;
	for (size_t i = 0; i < scan->nports; i++)
		for (size_t k = 0; k < scan->ports[i].nscripts; k++)
			if ((r = step_script(&s, (int)scan->ports[i].proto, scan->ports[i].port,
			                     &scan->ports[i].scripts[k])) != 0)
				goto out;
out:
	free(listed);
	free(names);
	return r;
}
