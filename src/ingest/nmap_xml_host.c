/*
 * nmap_xml_host.c - what a <host> of nmap XML becomes (see nmap_xml_int.h):
 * its status, addresses, host names, extraports, ports with their state,
 * service and cpes, OS matches and classes, uptime, distance and host
 * scripts, buffered while the host is read (strings in the host's arena,
 * arrays whose allocation is reused, all charged to NMAP_XML_MAX_HOST) and
 * handed to the sink at </host> as one struct rec_host.  Also <script>
 * wherever it is: a port's, a host's, or the run's pre-/post-scan scripts
 * (kept in the run's arena until run_end).  The dispatch of each element
 * to its handler.
 */
#include "ingest/nmap_xml_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timeutil.h"
#include "core/vec.h"

#define ARRAY_KEEP 4096 /* array slots kept between hosts */
/* The ids of the run's pre-/post-scan scripts in all (a few KiB in nmap's
 * files; NMAP_XML_MAX_RUN_SCRIPTS of them). */
#define RUN_IDS_MAX (1 << 20)

/* ---- the host's memory ------------------------------------------------------- */

/* Drop an array's allocation if one unusual host made it big. */
static void trim(void *arr, size_t *cap)
{
	void **pa = arr;

	if (*cap > ARRAY_KEEP) {
		free(*pa);
		*pa = NULL;
		*cap = 0;
	}
}

/* n more bytes held for the current host (a string, an array entry):
 * refused past NMAP_XML_MAX_HOST, so no host - a crafted one with a
 * quarter of a million ports of 4 KiB fields - can hold more. */
static int host_charge(struct nmap_parser *p, size_t n)
{
	if (n > NMAP_XML_MAX_HOST - p->host_bytes)
		return nmap_xml__fail(
		    p, SDB_ETOOBIG,
		    "the <host> at line %llu holds more than %u MiB (ports, names, fields; "
		    "script output aside)",
		    p->host_line, NMAP_XML_MAX_HOST >> 20);
	p->host_bytes += n;
	return 0;
}

/* A copy of s[0..n) in the current host's arena, charged to it. */
static int host_strndup(struct nmap_parser *p, const char *s, size_t n, const char **out)
{
	char *d;
	int r;

	if ((r = host_charge(p, n + 1)) != 0)
		return r;
	if (!(d = arena_strndup(&p->arena, s, n)))
		return nmap_xml__nomem(p);
	*out = d;
	return 0;
}

/* Copy attribute k's value v (at most max bytes) into arena a (the
 * host's: charged to it). */
static int a_dup_in(struct nmap_parser *p, struct arena *a, enum elem e, const char *k,
                    const char *v, size_t max, const char **out)
{
	size_t n = strnlen(v, max + 1);
	char *d;

	if (n > max) /* too long: a_len says so */
		return nmap_xml__a_len(p, e, k, v, max);
	if (a == &p->arena)
		return host_strndup(p, v, n, out);
	if (!(d = arena_strndup(a, v, n)))
		return nmap_xml__nomem(p);
	*out = d;
	return 0;
}

/* ... into the current host's arena. */
static int a_dup(struct nmap_parser *p, enum elem e, const char *k, const char *v, size_t max,
                 const char **out)
{
	return a_dup_in(p, &p->arena, e, k, v, max, out);
}

/* v in lower case into out (at most n - 1 bytes; longer values are cut,
 * which no enumeration value matches).  nmap 3.x wrote "UNfiltered". */
static const char *lower(char *out, size_t n, const char *v)
{
	size_t i = 0;

	for (; v[i] && i + 1 < n; i++)
		out[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] - 'A' + 'a') : v[i];
	out[i] = '\0';
	return v[i] ? "" : out;
}

/* ---- the elements of a <host> --------------------------------------------------- */

/* Forget the previous host; keep (bounded) allocations for the next. */
static void host_reset(struct nmap_parser *p)
{
	for (size_t i = 0; i < p->nports; i++) {
		unsigned idx = (unsigned)p->ports[i].proto * 65536u + (unsigned)p->ports[i].port;
		p->seen[idx / 64] = 0;
	}
	p->nports = p->npscripts = p->nhscripts = p->ncpes = 0;
	p->nhostnames = p->nextraports = 0;
	trim(&p->ports, &p->cports);
	trim(&p->pscripts, &p->cpscripts);
	trim(&p->hscripts, &p->chscripts);
	trim(&p->cpes, &p->ccpes);
	trim(&p->hostnames, &p->chostnames);
	trim(&p->extraports, &p->cextraports);
	trim(&p->osm, &p->cosm);
	p->nosm = 0;
	arena_reset(&p->arena);
	p->host_bytes = p->host_output = 0;
	memset(&p->host, 0, sizeof(p->host));
	p->host.status = REC_HOST_UNKNOWN;
	p->host.reason_ttl = -1;
	p->host.uptime_seconds = -1;
	p->host.distance = -1;
	p->host.os.accuracy = -1;
	p->have_addr = p->have_mac = 0;
	p->nosmatch = p->in_first_match = p->os_class_src = p->os_class_open = 0;
}

static int start_host(struct nmap_parser *p, const char **atts)
{
	long long x;
	int r = 0;

	host_reset(p);
	p->host_line = nmap_xml__line(p);
	p->host_col = nmap_xml__col(p);
	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "starttime") == 0) {
			if ((r = nmap_xml__a_oint(p, E_HOST, k, v, 0, TIME_MAX, 0, &x)) == 0)
				p->host.starttime = x;
		} else if (strcmp(k, "endtime") == 0) {
			if ((r = nmap_xml__a_oint(p, E_HOST, k, v, 0, TIME_MAX, 0, &x)) == 0)
				p->host.endtime = x;
		}
	}
	if (r == 0 && p->host.endtime && p->host.starttime > p->host.endtime) {
		p->host.endtime = 0;
		r = nmap_xml__warn(p, "<host> endtime is before its starttime: endtime left out");
	}
	return r;
}

static int start_status(struct nmap_parser *p, const char **atts)
{
	char sb[SHOW_MAX + 4], lc[16];
	const char *state = NULL;
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "state") == 0) {
			state = v;
		} else if (strcmp(k, "reason") == 0) {
			r = a_dup(p, E_STATUS, k, v, NMAP_XML_MAX_FIELD, &p->host.reason);
		} else if (strcmp(k, "reason_ttl") == 0) {
			if ((r = nmap_xml__a_oint(p, E_STATUS, k, v, 0, 255, -1, &x)) == 0)
				p->host.reason_ttl = (int)x;
		}
	}
	if (r)
		return r;
	if (!state)
		return nmap_xml__missing(p, E_STATUS, "state");
	/* "gone" is the history's word, never nmap's: an unknown state too */
	if (rec_host_status_parse(lower(lc, sizeof(lc), state), &p->host.status) != 0 ||
	    p->host.status == REC_HOST_GONE) {
		p->host.status = REC_HOST_UNKNOWN;
		return nmap_xml__warn(p, "unknown host state \"%s\" read as \"unknown\"",
		                      nmap_xml__show(sb, state));
	}
	return 0;
}

static int start_address(struct nmap_parser *p, const char **atts)
{
	char sb[SHOW_MAX + 4];
	const char *addr = NULL, *type = "ipv4", *vendor = NULL; /* DTD default: ipv4 */
	int r = 0, fam;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "addr") == 0) {
			r = nmap_xml__a_len(p, E_ADDRESS, k, v, NMAP_XML_MAX_FIELD);
			addr = v;
		} else if (strcmp(k, "addrtype") == 0) {
			type = v;
		} else if (strcmp(k, "vendor") == 0) {
			r = nmap_xml__a_len(p, E_ADDRESS, k, v, NMAP_XML_MAX_FIELD);
			vendor = v;
		}
	}
	if (r)
		return r;
	if (!addr)
		return nmap_xml__missing(p, E_ADDRESS, "addr");
	if (strcmp(type, "ipv4") == 0 || strcmp(type, "ipv6") == 0) {
		static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0,    0,
		                                            0, 0, 0, 0, 0xff, 0xff};
		char canon[ADDR_TEXT_MAX];
		unsigned char key[16];

		if (addr_parse(addr, canon, &fam, key) != 0 || fam != (type[3] == '4' ? 4 : 6))
			return nmap_xml__fail(p, SDB_EPARSE, "invalid %s address \"%s\"", type,
			                      nmap_xml__show(sb, addr));
		if (p->have_addr) /* nmap writes one; keep the first */
			return 0;
		if (fam == 6 && memcmp(key, v4_mapped, sizeof(v4_mapped)) == 0) {
			/* ::ffff:1.2.3.4 is the IPv4 host 1.2.3.4 (one host, one
			 * sort key) */
			snprintf(canon, sizeof(canon), "%u.%u.%u.%u", key[12], key[13], key[14],
			         key[15]);
			fam = 4;
		}
		memcpy(p->addr, canon, sizeof(canon));
		p->host.family = fam;
		p->have_addr = 1;
	} else if (strcmp(type, "mac") == 0) {
		char mac[18];

		if (addr_mac_parse(addr, mac) != 0)
			return nmap_xml__fail(p, SDB_EPARSE, "invalid MAC address \"%s\"",
			                      nmap_xml__show(sb, addr));
		if (p->have_mac)
			return 0;
		memcpy(p->mac, mac, sizeof(mac));
		p->have_mac = 1;
		if (vendor)
			return host_strndup(p, vendor, strlen(vendor), &p->host.mac_vendor);
	} else {
		return nmap_xml__fail(p, SDB_EPARSE,
		                      "unknown addrtype \"%s\" (want ipv4, ipv6, mac)",
		                      nmap_xml__show(sb, type));
	}
	return 0;
}

static int start_hostname(struct nmap_parser *p, const char **atts)
{
	struct rec_hostname hn = {0};
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "name") == 0)
			r = a_dup(p, E_HOSTNAME, k, v, NMAP_XML_MAX_FIELD, &hn.name);
		else if (strcmp(k, "type") == 0)
			r = a_dup(p, E_HOSTNAME, k, v, NMAP_XML_MAX_FIELD, &hn.type);
	}
	if (r || !hn.name) /* name is optional in the DTD: nothing to keep */
		return r;
	if (p->nhostnames >= NMAP_XML_MAX_NAMES)
		return nmap_xml__fail(p, SDB_ETOOBIG, "more than %d hostnames in one host",
		                      NMAP_XML_MAX_NAMES);
	if ((r = host_charge(p, sizeof(*p->hostnames))) != 0)
		return r;
	if (VEC_RESERVE(p->hostnames, p->chostnames, p->nhostnames + 1, 16))
		return nmap_xml__nomem(p);
	p->hostnames[p->nhostnames++] = hn;
	return 0;
}

static int start_extraports(struct nmap_parser *p, const char **atts)
{
	struct rec_extraports ep = {.count = -1};
	char sb[SHOW_MAX + 4], lc[24];
	const char *state = NULL;
	long long x;
	int r = 0;

	p->ep_cur = -1;
	buf_reset(&p->reasons);

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "state") == 0) {
			state = v;
		} else if (strcmp(k, "count") == 0) {
			if ((r = nmap_xml__a_int(p, E_EXTRAPORTS, k, v, 0, LONG_MAX, &x)) == 0)
				ep.count = (long)x;
		}
	}
	if (r)
		return r;
	if (!state)
		return nmap_xml__missing(p, E_EXTRAPORTS, "state");
	if (ep.count < 0)
		return nmap_xml__missing(p, E_EXTRAPORTS, "count");
	if (strcmp(lower(lc, sizeof(lc), state), "unknown") == 0) {
		/* nmap 3.x writes state="unknown" count="0"; ndiff and libnmap
		 * read it.  No port is in it, or none we could store. */
		if (ep.count == 0)
			return 0;
		return nmap_xml__warn(p, "<extraports> of %ld ports in state \"unknown\" left out",
		                      ep.count);
	}
	if (rec_port_state_parse(lc, &ep.state) != 0)
		return nmap_xml__fail(p, SDB_EPARSE, "unknown port state \"%s\" in <extraports>",
		                      nmap_xml__show(sb, state));
	for (size_t i = 0; i < p->nextraports; i++) {
		if (p->extraports[i].state != ep.state)
			continue;
		/* one entry per state (the schema's key): add them up */
		if (p->extraports[i].count > LONG_MAX - ep.count)
			return nmap_xml__fail(p, SDB_ERANGE,
			                      "<extraports> counts of one state add up past %ld",
			                      LONG_MAX);
		p->extraports[i].count += ep.count;
		p->ep_cur = (long)i;
		return nmap_xml__warn(p, "a second <extraports> in state \"%s\": counts added up",
		                      rec_port_state_name(ep.state));
	}
	if (p->nextraports >= NMAP_XML_MAX_NAMES)
		return nmap_xml__fail(p, SDB_ETOOBIG, "more than %d <extraports> in one host",
		                      NMAP_XML_MAX_NAMES);
	if ((r = host_charge(p, sizeof(*p->extraports))) != 0)
		return r;
	if (VEC_RESERVE(p->extraports, p->cextraports, p->nextraports + 1, 16))
		return nmap_xml__nomem(p);
	p->ep_cur = (long)p->nextraports;
	p->extraports[p->nextraports++] = ep;
	return 0;
}

static int start_extrareasons(struct nmap_parser *p, const char **atts)
{
	const char *reason = NULL;
	long long count = -1;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "reason") == 0)
			reason = v;
		else if (strcmp(k, "count") == 0)
			r = nmap_xml__a_int(p, E_EXTRAREASONS, k, v, 0, LONG_MAX, &count);
	}
	if (r)
		return r;
	if (!reason)
		return nmap_xml__missing(p, E_EXTRAREASONS, "reason");
	if (count < 0)
		return nmap_xml__missing(p, E_EXTRAREASONS, "count");
	/* "reset:990,no-response:3" */
	if (buf_printf(&p->reasons, "%s%s:%lld", p->reasons.len ? "," : "", reason, count) != 0)
		return nmap_xml__fail(p, SDB_ETOOBIG,
		                      "extrareasons of <extraports> exceed %d bytes",
		                      NMAP_XML_MAX_FIELD);
	return 0;
}

static int end_extraports(struct nmap_parser *p)
{
	struct rec_extraports *ep;

	if (p->ep_cur < 0 || p->reasons.len == 0)
		return 0;
	ep = &p->extraports[p->ep_cur];
	if (ep->reasons) { /* a merged entry: "theirs,ours" */
		if (buf_printf(&p->reasons, ",%s", ep->reasons) != 0)
			return nmap_xml__fail(p, SDB_ETOOBIG,
			                      "extrareasons of <extraports> exceed %d bytes",
			                      NMAP_XML_MAX_FIELD);
	}
	return host_strndup(p, p->reasons.data, p->reasons.len, &ep->reasons);
}

static int start_port(struct nmap_parser *p, const char **atts)
{
	char sb[SHOW_MAX + 4];
	const char *proto = NULL, *portid = NULL;
	struct rec_port *pt;
	enum rec_proto pr;
	long long port = 0;
	unsigned idx;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "protocol") == 0) {
			proto = v;
		} else if (strcmp(k, "portid") == 0) {
			portid = v;
			r = nmap_xml__a_int(p, E_PORT, k, v, 0, 65535, &port);
		}
	}
	if (r)
		return r;
	if (!proto)
		return nmap_xml__missing(p, E_PORT, "protocol");
	if (!portid)
		return nmap_xml__missing(p, E_PORT, "portid");
	if (rec_proto_parse(proto, &pr) != 0)
		return nmap_xml__fail(p, SDB_EPARSE,
		                      "unknown protocol \"%s\" in <port> (want tcp, udp, sctp, ip)",
		                      nmap_xml__show(sb, proto));
	idx = (unsigned)pr * 65536u + (unsigned)port;
	if (p->seen[idx / 64] & (1ull << (idx % 64)))
		return nmap_xml__fail(p, SDB_EPARSE, "port %lld/%s listed twice in one host", port,
		                      rec_proto_name(pr));
	if (p->nports >= NMAP_XML_MAX_PORTS) /* unreachable with the check above; kept */
		return nmap_xml__fail(p, SDB_ETOOBIG, "more than %d ports in one host",
		                      NMAP_XML_MAX_PORTS);
	if ((r = host_charge(p, sizeof(*p->ports))) != 0)
		return r;
	if (VEC_RESERVE(p->ports, p->cports, p->nports + 1, 16))
		return nmap_xml__nomem(p);
	p->seen[idx / 64] |= 1ull << (idx % 64);
	pt = &p->ports[p->nports++];
	memset(pt, 0, sizeof(*pt));
	pt->proto = pr;
	pt->port = (int)port;
	pt->reason_ttl = -1;
	pt->service.conf = -1;
	p->port_has_state = 0;
	p->port_drop = 0;
	p->port_line = nmap_xml__line(p);
	p->port_col = nmap_xml__col(p);
	return 0;
}

static int end_port(struct nmap_parser *p)
{
	const struct rec_port *pt = &p->ports[p->nports - 1];

	if (!p->port_has_state)
		return nmap_xml__fail_at(p, SDB_EPARSE, p->port_line, p->port_col,
		                         "<port> %d/%s has no <state>", pt->port,
		                         rec_proto_name(pt->proto));
	if (p->port_drop) { /* forget it with its scripts and cpes */
		unsigned idx = (unsigned)pt->proto * 65536u + (unsigned)pt->port;

		p->seen[idx / 64] &= ~(1ull << (idx % 64));
		p->npscripts -= pt->nscripts;
		p->ncpes -= pt->service.ncpes;
		p->nports--;
	}
	return 0;
}

static int start_state(struct nmap_parser *p, const char **atts)
{
	struct rec_port *pt = &p->ports[p->nports - 1];
	char sb[SHOW_MAX + 4], lc[24];
	const char *state = NULL;
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "state") == 0) {
			state = v;
		} else if (strcmp(k, "reason") == 0) {
			r = a_dup(p, E_STATE, k, v, NMAP_XML_MAX_FIELD, &pt->reason);
		} else if (strcmp(k, "reason_ttl") == 0) {
			if ((r = nmap_xml__a_oint(p, E_STATE, k, v, 0, 255, -1, &x)) == 0)
				pt->reason_ttl = (int)x;
		}
	}
	if (r)
		return r;
	if (!state)
		return nmap_xml__missing(p, E_STATE, "state");
	if (strcmp(lower(lc, sizeof(lc), state), "unknown") == 0) {
		/* nmap's PORT_UNKNOWN: nothing we can store about the port */
		p->port_has_state = p->port_drop = 1;
		return nmap_xml__warn(p, "port %d/%s in state \"unknown\" left out", pt->port,
		                      rec_proto_name(pt->proto));
	}
	if (rec_port_state_parse(lc, &pt->state) != 0)
		return nmap_xml__fail(
		    p, SDB_EPARSE,
		    "unknown port state \"%s\" (want open, closed, filtered, unfiltered, "
		    "open|filtered, closed|filtered)",
		    nmap_xml__show(sb, state));
	p->port_has_state = 1;
	return 0;
}

/* <service method>: "table" or "probed" (the schema's CHECK); anything
 * else is left out (NULL) with a warning. */
static int service_method(struct nmap_parser *p, const char *v, const char **out)
{
	char sb[SHOW_MAX + 4], lc[8];

	lower(lc, sizeof(lc), v);
	if (strcmp(lc, "table") == 0) {
		*out = "table";
	} else if (strcmp(lc, "probed") == 0) {
		*out = "probed";
	} else {
		*out = NULL;
		return nmap_xml__warn(p,
		                      "unknown service method \"%s\" left out (want table, probed)",
		                      nmap_xml__show(sb, v));
	}
	return 0;
}

static int start_service(struct nmap_parser *p, const char **atts)
{
	struct rec_service *s = &p->ports[p->nports - 1].service;
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];
		const char **dst = NULL;

		switch (k[0]) {
		case 'c':
			if (strcmp(k, "conf") == 0 &&
			    (r = nmap_xml__a_oint(p, E_SERVICE, k, v, 0, 10, -1, &x)) == 0)
				s->conf = (int)x;
			break;
		case 'e':
			if (strcmp(k, "extrainfo") == 0)
				dst = &s->extrainfo;
			break;
		case 'm':
			if (strcmp(k, "method") == 0)
				r = service_method(p, v, &s->method);
			break;
		case 'n':
			if (strcmp(k, "name") == 0)
				dst = &s->name;
			break;
		case 'o':
			if (strcmp(k, "ostype") == 0)
				dst = &s->ostype;
			break;
		case 'p':
			if (strcmp(k, "product") == 0)
				dst = &s->product;
			break;
		case 't':
			if (strcmp(k, "tunnel") == 0)
				dst = &s->tunnel;
			break;
		case 'v':
			if (strcmp(k, "version") == 0)
				dst = &s->version;
			break;
		}
		if (dst)
			r = a_dup(p, E_SERVICE, k, v, NMAP_XML_MAX_FIELD, dst);
	}
	p->ports[p->nports - 1].has_service = 1;
	return r;
}

static int start_cpe(struct nmap_parser *p, enum elem parent)
{
	if (parent == E_SERVICE) {
		if (p->ports[p->nports - 1].service.ncpes >= NMAP_XML_MAX_NAMES)
			return nmap_xml__fail(p, SDB_ETOOBIG, "more than %d <cpe> in one <service>",
			                      NMAP_XML_MAX_NAMES);
		p->capture = CAP_SVC_CPE;
	} else if (p->os_class_open && !p->host.os.cpe) {
		p->capture = CAP_OS_CPE;
	} else {
		return 0;
	}
	buf_reset(&p->text);
	return 0;
}

static int end_cpe(struct nmap_parser *p)
{
	enum capture c = p->capture;
	const char *s;
	int r;

	p->capture = CAP_NONE;
	if (c == CAP_NONE || p->text.len == 0)
		return 0;
	if ((r = host_strndup(p, p->text.data, p->text.len, &s)) != 0 ||
	    (c == CAP_SVC_CPE && (r = host_charge(p, sizeof(*p->cpes))) != 0))
		return r;
	if (c == CAP_OS_CPE) {
		p->host.os.cpe = s;
		return 0;
	}
	if (VEC_RESERVE(p->cpes, p->ccpes, p->ncpes + 1, 16))
		return nmap_xml__nomem(p);
	p->cpes[p->ncpes++] = s;
	p->ports[p->nports - 1].service.ncpes++;
	return 0;
}

/* A pre-scan (post = 0) or post-scan (post = 1) script result, its strings
 * already in the run's arena (kept until run_end; the host arena is reset
 * at every <host>). */
static int add_run_script(struct nmap_parser *p, const struct rec_script *sc, int post)
{
	if (VEC_RESERVE(p->rscripts[post], p->crscripts[post], p->nrscripts[post] + 1, 16))
		return nmap_xml__nomem(p);
	p->rscripts[post][p->nrscripts[post]++] = *sc;
	return 0;
}

/*
 * A script's output v, copied into arena a: at most NMAP_XML_MAX_OUTPUT
 * bytes, and no more than what is left of `budget` (*used so far: the
 * host's or the run's script output).  What does not fit is cut - on a
 * UTF-8 boundary, a note saying so appended - and the sink is warned.
 */
static int dup_output(struct nmap_parser *p, struct arena *a, size_t *used, size_t budget,
                      const char *whose, const char *id, const char *v, const char **out)
{
	size_t n = strlen(v), keep = n, left = budget - *used, nlen = 0;
	char sb[SHOW_MAX + 4], note[96], why[96];
	char *d;
	int r;

	snprintf(why, sizeof(why), "over %u MiB", NMAP_XML_MAX_OUTPUT >> 20);
	if (keep > NMAP_XML_MAX_OUTPUT)
		keep = NMAP_XML_MAX_OUTPUT;
	if (keep > left) {
		keep = left;
		snprintf(why, sizeof(why), "%s over %zu MiB in all", whose, budget >> 20);
	}
	if (keep < n) {
		while (keep > 0 && ((unsigned char)v[keep] & 0xC0) == 0x80)
			keep--;
		snprintf(note, sizeof(note), "%s[scandb: output cut to %zu of its %zu bytes]",
		         keep ? "\n" : "", keep, n);
		nlen = strlen(note);
		/* the note is the host's to hold, like any field */
		if (a == &p->arena && (r = host_charge(p, nlen)) != 0)
			return r;
	}
	if (!(d = arena_alloc(a, keep + nlen + 1, 1)))
		return nmap_xml__nomem(p);
	memcpy(d, v, keep);
	memcpy(d + keep, note, nlen);
	d[keep + nlen] = '\0';
	*used += keep;
	*out = d;
	if (keep < n)
		return nmap_xml__warn(p, "output of script \"%s\" (%zu bytes) cut to %zu bytes: %s",
		                      nmap_xml__show(sb, id), n, keep, why);
	return 0;
}

static int start_script(struct nmap_parser *p, const char **atts, enum elem parent)
{
	int run = parent == E_PRESCRIPT || parent == E_POSTSCRIPT;
	struct arena *a = run ? &p->run_arena : &p->arena;
	struct rec_script sc = {0};
	const char *output = NULL;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "id") == 0)
			r = a_dup_in(p, a, E_SCRIPT, k, v, NMAP_XML_MAX_FIELD, &sc.id);
		else if (strcmp(k, "output") == 0)
			output = v;
	}
	if (r)
		return r;
	if (!sc.id)
		return nmap_xml__missing(p, E_SCRIPT, "id");
	if (run && p->nrscripts[0] + p->nrscripts[1] >= NMAP_XML_MAX_RUN_SCRIPTS)
		return nmap_xml__fail(p, SDB_ETOOBIG, "more than %d pre-/post-scan scripts",
		                      NMAP_XML_MAX_RUN_SCRIPTS);
	if (run && strlen(sc.id) + 1 > RUN_IDS_MAX - p->rscript_ids)
		return nmap_xml__fail(p, SDB_ETOOBIG,
		                      "pre-/post-scan script ids over %d KiB in all",
		                      RUN_IDS_MAX >> 10);
	if (run)
		p->rscript_ids += strlen(sc.id) + 1;
	if (!run && p->npscripts + p->nhscripts >= NMAP_XML_MAX_SCRIPTS)
		return nmap_xml__fail(p, SDB_ETOOBIG, "more than %d scripts in one host",
		                      NMAP_XML_MAX_SCRIPTS);
	if (output && run)
		r = dup_output(p, a, &p->rscript_bytes, NMAP_XML_MAX_RUN_BYTES,
		               "the run's pre-/post-scan script output is", sc.id, output,
		               &sc.output);
	else if (output)
		r = dup_output(p, a, &p->host_output, NMAP_XML_MAX_HOST_OUTPUT,
		               "the host's script output is", sc.id, output, &sc.output);
	if (r)
		return r;
	if (run)
		return add_run_script(p, &sc, parent == E_POSTSCRIPT);
	if ((r = host_charge(p, sizeof(sc))) != 0)
		return r;
	if (parent == E_PORT) {
		if (VEC_RESERVE(p->pscripts, p->cpscripts, p->npscripts + 1, 16))
			return nmap_xml__nomem(p);
		p->pscripts[p->npscripts++] = sc;
		p->ports[p->nports - 1].nscripts++;
	} else {
		if (VEC_RESERVE(p->hscripts, p->chscripts, p->nhscripts + 1, 16))
			return nmap_xml__nomem(p);
		p->hscripts[p->nhscripts++] = sc;
	}
	return 0;
}

/* Every <osmatch>'s name goes to host.osmatches (a match without a name is
 * left out, as ndiff does); the first match is the best: host.os. */
static int start_osmatch(struct nmap_parser *p, const char **atts)
{
	const char *name = NULL;
	long long x;
	int first = p->nosmatch++ == 0, r = 0;

	if (first) {
		p->in_first_match = 1;
		p->host.has_os = 1;
	}
	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "name") == 0) {
			r = a_dup(p, E_OSMATCH, k, v, NMAP_XML_MAX_FIELD, &name);
		} else if (first && strcmp(k, "accuracy") == 0) {
			if ((r = nmap_xml__a_oint(p, E_OSMATCH, k, v, 0, 100, -1, &x)) == 0)
				p->host.os.accuracy = (int)x;
		}
	}
	if (r || !name)
		return r;
	if (first)
		p->host.os.name = name;
	if (p->nosm >= NMAP_XML_MAX_NAMES)
		return nmap_xml__fail(p, SDB_ETOOBIG, "more than %d <osmatch> in one host",
		                      NMAP_XML_MAX_NAMES);
	if ((r = host_charge(p, sizeof(*p->osm))) != 0)
		return r;
	if (VEC_RESERVE(p->osm, p->cosm, p->nosm + 1, 16))
		return nmap_xml__nomem(p);
	p->osm[p->nosm++] = name;
	return 0;
}

/*
 * nmap >= 4.9x nests <osclass> in <osmatch>: keep the first osclass of the
 * first osmatch.  Older files put <osclass> directly in <os>: keep the
 * first of those unless a nested one turns up.
 */
static int start_osclass(struct nmap_parser *p, const char **atts, enum elem parent)
{
	struct rec_os *os = &p->host.os;
	int r = 0;

	p->os_class_open = 0;
	if (parent == E_OSMATCH ? !p->in_first_match || p->os_class_src == 2 : p->os_class_src != 0)
		return 0;
	p->os_class_src = parent == E_OSMATCH ? 2 : 1;
	p->os_class_open = 1;
	p->host.has_os = 1;
	os->vendor = os->family = os->gen = os->type = os->cpe = NULL;
	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "vendor") == 0)
			r = a_dup(p, E_OSCLASS, k, v, NMAP_XML_MAX_FIELD, &os->vendor);
		else if (strcmp(k, "osfamily") == 0)
			r = a_dup(p, E_OSCLASS, k, v, NMAP_XML_MAX_FIELD, &os->family);
		else if (strcmp(k, "osgen") == 0)
			r = a_dup(p, E_OSCLASS, k, v, NMAP_XML_MAX_FIELD, &os->gen);
		else if (strcmp(k, "type") == 0)
			r = a_dup(p, E_OSCLASS, k, v, NMAP_XML_MAX_FIELD, &os->type);
	}
	return r;
}

static int start_uptime(struct nmap_parser *p, const char **atts)
{
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "seconds") == 0) {
			/* Zenmap saves seconds="" lastboot="": absent */
			if ((r = nmap_xml__a_oint(p, E_UPTIME, k, v, 0, INT64_MAX, -1, &x)) == 0)
				p->host.uptime_seconds = x;
		} else if (strcmp(k, "lastboot") == 0 && *v) {
			r = a_dup(p, E_UPTIME, k, v, NMAP_XML_MAX_FIELD, &p->host.lastboot);
		}
	}
	return r;
}

static int start_distance(struct nmap_parser *p, const char **atts)
{
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		if (strcmp(atts[i], "value") == 0 &&
		    (r = nmap_xml__a_oint(p, E_DISTANCE, atts[i], atts[i + 1], 0, 255, -1, &x)) ==
		        0)
			p->host.distance = (int)x;
	}
	return r;
}

/* </host>: check, point the records at their arrays, hand to the sink. */
static int end_host(struct nmap_parser *p)
{
	struct rec_host *h = &p->host;
	size_t si = 0, ci = 0;
	int r;

	if (!p->have_addr)
		return nmap_xml__fail_at(p, SDB_EPARSE, p->host_line, p->host_col,
		                         "<host> has no IPv4 or IPv6 address");
	for (size_t i = 0; i < p->nports; i++) {
		struct rec_port *pt = &p->ports[i];

		pt->scripts = pt->nscripts ? p->pscripts + si : NULL;
		si += pt->nscripts;
		pt->service.cpes = pt->service.ncpes ? p->cpes + ci : NULL;
		ci += pt->service.ncpes;
	}
	h->addr = p->addr;
	h->mac = p->have_mac ? p->mac : NULL;
	h->hostnames = p->nhostnames ? p->hostnames : NULL;
	h->nhostnames = p->nhostnames;
	h->extraports = p->nextraports ? p->extraports : NULL;
	h->nextraports = p->nextraports;
	h->ports = p->nports ? p->ports : NULL;
	h->nports = p->nports;
	h->scripts = p->nhscripts ? p->hscripts : NULL;
	h->nscripts = p->nhscripts;
	h->osmatches = p->nosm ? p->osm : NULL;
	h->nosmatches = p->nosm;
	p->stats.hosts++;
	p->stats.ports += p->nports;
	if (p->sink.host && (r = p->sink.host(p->sink.ctx, h)) != 0)
		return nmap_xml__sink_stop(p, r);
	host_reset(p); /* a large host's memory goes now, not at the next <host> */
	return 0;
}

/* ---- dispatch ----------------------------------------------------------------- */

/* The elements of a <host> and <script> here; any other: nmap_xml__run_start(). */
int nmap_xml__start(struct nmap_parser *p, enum elem e, enum elem parent, const char **atts)
{
	switch (e) {
	case E_PORT:
		return start_port(p, atts);
	case E_STATE:
		return start_state(p, atts);
	case E_SERVICE:
		return start_service(p, atts);
	case E_SCRIPT:
		return start_script(p, atts, parent);
	case E_CPE:
		return start_cpe(p, parent);
	case E_HOST:
		return start_host(p, atts);
	case E_STATUS:
		return start_status(p, atts);
	case E_ADDRESS:
		return start_address(p, atts);
	case E_HOSTNAME:
		return start_hostname(p, atts);
	case E_EXTRAPORTS:
		return start_extraports(p, atts);
	case E_EXTRAREASONS:
		return start_extrareasons(p, atts);
	case E_OSMATCH:
		return start_osmatch(p, atts);
	case E_OSCLASS:
		return start_osclass(p, atts, parent);
	case E_UPTIME:
		return start_uptime(p, atts);
	case E_DISTANCE:
		return start_distance(p, atts);
	default:
		return nmap_xml__run_start(p, e, atts);
	}
}

/* Only the elements of a <host> have something to do at their end. */
int nmap_xml__end(struct nmap_parser *p, enum elem e)
{
	switch (e) {
	case E_PORT:
		return end_port(p);
	case E_CPE:
		return end_cpe(p);
	case E_OSCLASS:
		p->os_class_open = 0;
		return 0;
	case E_OSMATCH:
		p->in_first_match = 0;
		return 0;
	case E_EXTRAPORTS:
		return end_extraports(p);
	case E_HOST:
		return end_host(p);
	default:
		return 0;
	}
}
