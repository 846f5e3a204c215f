/*
 * masscan_emit.c - the end of a masscan or zmap input (masscan.h): the
 * collected entries (masscan_hosts.c) become the run, its probed scope (one
 * scaninfo per protocol: the user's --ports joined with the ports the file
 * reports) and one host record per address, pushed to the sink; and the
 * --ports syntax (ingest_ports_check).
 *
 * A port's state is the last one the file gave for it (a banner alone
 * means open); its banners become scripts "banner-TYPE" (masscan's banner
 * type: banner-http, banner-ssh, banner-title, ...), two of one type on one
 * port joined by a newline; a type that names a service (ssh, http, ...)
 * also gives the port that service name.
 */
#include "ingest/masscan_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/addr.h"
#include "core/error.h"
#include "core/vec.h"

/* ---- --ports -------------------------------------------------------------- */

/* Add "lo-hi" to bits (65536 per protocol). */
static void bits_set(uint8_t *bits, long lo, long hi)
{
	for (long v = lo; v <= hi; v++)
		bits[v >> 3] |= (uint8_t)(1u << (v & 7));
}

/* Parse one number of a port list at *s; -1 when there is none. */
static long port_num(const char **s)
{
	long v = 0;
	int n = 0;

	while (**s >= '0' && **s <= '9' && n < 6) {
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	return n == 0 || n == 6 || v > 65535 ? -1 : v;
}

/* Parse spec into bits[proto] (each 8192 bytes, or NULL to check only). */
static int ports_parse(const char *spec, uint8_t *bits[REC_PROTO__COUNT], char *err, size_t errlen)
{
	enum rec_proto proto = REC_PROTO_TCP;
	const char *s = spec;

	if (!*s)
		goto bad;
	for (;;) {
		long lo, hi;
		const char *item = s;

		if (s[0] && s[1] == ':') {
			char c = s[0] | 0x20;
			proto = c == 't'   ? REC_PROTO_TCP
			        : c == 'u' ? REC_PROTO_UDP
			                   : REC_PROTO_SCTP;
			if (c != 't' && c != 'u' && c != 's')
				goto bad_item;
			s += 2;
		}
		if ((lo = port_num(&s)) < 0)
			goto bad_item;
		hi = lo;
		if (*s == '-') {
			s++;
			if ((hi = port_num(&s)) < 0 || hi < lo)
				goto bad_item;
		}
		if (*s != ',' && *s != '\0')
			goto bad_item;
		if (bits && bits[proto])
			bits_set(bits[proto], lo, hi);
		if (*s == '\0')
			return 0;
		s++;
		continue;
	bad_item:
		if (err && errlen)
			snprintf(
			    err, errlen,
			    "--ports: '%.40s' is not a port or range 0-65535 (e.g. 22,80-90,U:53)",
			    item);
		return SDB_EPARSE;
	}
bad:
	if (err && errlen)
		snprintf(err, errlen, "--ports: empty port list");
	return SDB_EPARSE;
}

int ingest_ports_check(const char *spec, char *err, size_t errlen)
{
	return ports_parse(spec, NULL, err, errlen);
}

/* bits as nmap's services text "1-3,80" (malloc'ed), NULL when empty or
 * out of memory (*oom set). */
static char *bits_format(const uint8_t *bits, int *oom)
{
	char *s = NULL;
	size_t len = 0, cap = 0;

	for (long v = 0; v <= 65535; v++) {
		long hi = v;
		char item[16];
		int n;

		if (!(bits[v >> 3] & (1u << (v & 7))))
			continue;
		while (hi < 65535 && (bits[(hi + 1) >> 3] & (1u << ((hi + 1) & 7))))
			hi++;
		n = hi > v ? snprintf(item, sizeof(item), "%s%ld-%ld", len ? "," : "", v, hi)
		           : snprintf(item, sizeof(item), "%s%ld", len ? "," : "", v);
		if (VEC_RESERVE(s, cap, len + (size_t)n + 1, 256)) {
			free(s);
			*oom = 1;
			return NULL;
		}
		memcpy(s + len, item, (size_t)n + 1);
		len += (size_t)n;
		v = hi;
	}
	return s;
}

/* One scaninfo per protocol with a port in the scope. */
static int emit_scope(struct ms_parser *p)
{
	static const char *const type[REC_PROTO__COUNT] = {"syn", "udp", "sctpinit", "ipproto"};
	uint8_t *bits[REC_PROTO__COUNT] = {0};
	int r = 0, oom = 0;

	for (int i = 0; i < REC_PROTO__COUNT; i++)
		if (!(bits[i] = calloc(8192, 1)))
			oom = 1;
	if (!oom && p->ports)
		ports_parse(p->ports, bits, NULL, 0); /* checked by ms_parser_new */
	for (size_t i = 0; !oom && i < p->hs.nents; i++)
		bits_set(bits[p->hs.ents[i].proto], p->hs.ents[i].port, p->hs.ents[i].port);
	for (int i = 0; !oom && r == 0 && i < REC_PROTO__COUNT; i++) {
		char *services = bits_format(bits[i], &oom);
		struct rec_scaninfo si = {.type = type[i], .proto = (enum rec_proto)i};

		if (services && p->sink.scaninfo) {
			si.services = services;
			si.numservices = 0;
			for (int b = 0; b < 8192; b++)
				si.numservices += __builtin_popcount(bits[i][b]);
			r = p->sink.scaninfo(p->sink.ctx, &si);
		}
		free(services);
	}
	for (int i = 0; i < REC_PROTO__COUNT; i++)
		free(bits[i]);
	return oom ? ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory") : r;
}

/* ---- hosts -------------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
	const struct ms_entry *x = a, *y = b;

	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The service a banner type names, or NULL. */
static const char *type_service(const char *type)
{
	static const char *const map[][2] = {
	    {"ftp", "ftp"},
	    {"http", "http"},
	    {"pop3", "pop3"},
	    {"imap4", "imap"},
	    {"smtp", "smtp"},
	    {"ssh", "ssh"},
	    {"telnet", "telnet"},
	    {"rdp", "ms-wbt-server"},
	    {"vnc", "vnc"},
	    {"smbv1", "microsoft-ds"},
	    {"smbv2", "microsoft-ds"},
	    {"dns", "domain"},
	    {"snmp", "snmp"},
	    {"ntp", "ntp"},
	    {"sip", "sip"},
	    {"rtsp", "rtsp"},
	    {"memcached", "memcache"},
	    {"redis", "redis"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcasecmp(type, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* What one host's record is built in; reused from host to host. */
struct host_build {
	struct rec_port *ports;
	size_t nports, ports_cap;
	struct rec_script *scripts;
	size_t nscripts, scripts_cap;
	size_t *first_script; /* per port: its first script's index */
	size_t first_cap;
	struct arena tmp;
};

/* Add banner e to the port being built (its scripts start at `from`). */
static int add_banner(struct host_build *b, size_t from, const struct ms_entry *e)
{
	char id[80];

	snprintf(id, sizeof(id), "banner-%s", e->type);
	for (size_t k = from; k < b->nscripts; k++) {
		if (strcmp(b->scripts[k].id, id) == 0) { /* the same type again: join */
			size_t n = strlen(b->scripts[k].output);
			char *o = arena_alloc(&b->tmp, n + 1 + e->text_len + 1, 1);
			if (!o)
				return SDB_ENOMEM;
			memcpy(o, b->scripts[k].output, n);
			o[n] = '\n';
			memcpy(o + n + 1, e->text, e->text_len + 1);
			b->scripts[k].output = o;
			return 0;
		}
	}
	if (VEC_RESERVE(b->scripts, b->scripts_cap, b->nscripts + 1, 16))
		return SDB_ENOMEM;
	b->scripts[b->nscripts].id = arena_strdup(&b->tmp, id);
	b->scripts[b->nscripts].output = e->text;
	if (!b->scripts[b->nscripts].id)
		return SDB_ENOMEM;
	b->nscripts++;
	return 0;
}

/* The port of entries e[0..n) (one proto/port, file order). */
static int build_port(struct host_build *b, const struct ms_entry *e, size_t n)
{
	struct rec_port *pt;
	const struct ms_entry *st = NULL;
	int r;

	if (VEC_RESERVE(b->ports, b->ports_cap, b->nports + 1, 16) ||
	    VEC_RESERVE(b->first_script, b->first_cap, b->nports + 1, 16))
		return SDB_ENOMEM;
	pt = &b->ports[b->nports];
	memset(pt, 0, sizeof(*pt));
	b->first_script[b->nports] = b->nscripts;
	pt->proto = (enum rec_proto)e[0].proto;
	pt->port = e[0].port;
	pt->state = REC_PORT_OPEN;
	pt->reason_ttl = -1;
	pt->service.conf = -1;
	for (size_t i = 0; i < n; i++) {
		if (!e[i].is_banner) {
			st = &e[i];
			continue;
		}
		if ((r = add_banner(b, b->first_script[b->nports], &e[i])) != 0)
			return r;
		if (!pt->has_service && type_service(e[i].type)) {
			pt->has_service = 1;
			pt->service.name = type_service(e[i].type);
			pt->service.method = "probed";
		}
	}
	if (st) {
		pt->state = (enum rec_port_state)st->state;
		pt->reason = st->reason;
		pt->reason_ttl = st->ttl;
	}
	b->nports++;
	return 0;
}

/* Push the host whose entries are e[0..n). */
static int emit_host(struct ms_parser *p, struct host_build *b, const struct ms_entry *e, size_t n)
{
	const struct ms_host *mh = &p->hs.hosts[e[0].host];
	struct rec_host h;
	int r;

	b->nports = b->nscripts = 0;
	arena_reset(&b->tmp);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && e[j].proto == e[i].proto && e[j].port == e[i].port; j++)
			;
		if ((r = build_port(b, e + i, j - i)) != 0)
			return ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory");
	}
	for (size_t k = 0; k < b->nports; k++) {
		size_t end = k + 1 < b->nports ? b->first_script[k + 1] : b->nscripts;
		b->ports[k].scripts =
		    end > b->first_script[k] ? b->scripts + b->first_script[k] : NULL;
		b->ports[k].nscripts = end - b->first_script[k];
	}
	memset(&h, 0, sizeof(h));
	h.status = REC_HOST_UP;
	h.reason = p->format >= INGEST_ZMAP_CSV ? "zmap" : "masscan";
	h.reason_ttl = -1;
	h.starttime = mh->first;
	h.endtime = mh->last;
	h.addr = mh->addr;
	h.family = mh->family;
	h.uptime_seconds = -1;
	h.distance = -1;
	h.ports = b->ports;
	h.nports = b->nports;
	return p->sink.host ? p->sink.host(p->sink.ctx, &h) : 0;
}

static int emit_hosts(struct ms_parser *p)
{
	struct ms_entry *e = p->hs.ents;
	size_t n = p->hs.nents;
	struct host_build b;
	int r = 0;

	memset(&b, 0, sizeof(b));
	arena_init(&b.tmp, 64 * 1024, 1);
	qsort(e, n, sizeof(*e), cmp_entry);
	for (size_t i = 0, j; r == 0 && i < n; i = j) {
		for (j = i + 1; j < n && e[j].host == e[i].host; j++)
			;
		r = emit_host(p, &b, e + i, j - i);
	}
	free(b.ports);
	free(b.scripts);
	free(b.first_script);
	arena_free(&b.tmp);
	return r;
}

int ms__emit(struct ms_parser *p, int truncated)
{
	struct rec_run run = {.scanner = p->scanner};
	struct rec_runstats rs;
	int r;

	p->done = 1;
	run.version = p->version[0] ? p->version : NULL;
	run.start = p->start ? p->start : p->hs.first;
	if (p->sink.run_begin && (r = p->sink.run_begin(p->sink.ctx, &run)) != 0)
		return r;
	if ((r = emit_scope(p)) != 0 || (r = emit_hosts(p)) != 0)
		return r;
	memset(&rs, 0, sizeof(rs));
	rs.finished = !truncated;
	rs.end = p->end ? p->end : p->hs.last;
	rs.elapsed = run.start && rs.end >= run.start ? (double)(rs.end - run.start) : -1;
	rs.exit = truncated ? NULL : "success";
	rs.hosts_up = rs.hosts_total = (long)p->hs.nhosts;
	rs.hosts_down = 0;
	rs.truncated = truncated;
	return p->sink.run_end ? p->sink.run_end(p->sink.ctx, &rs) : 0;
}
