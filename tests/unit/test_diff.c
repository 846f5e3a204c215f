/*
 * test_diff.c - unit tests of src/diff/ (diff.h): snapshots built by hand
 * (from records and from stored-host structs), every kind of change the
 * walk reports (host added/removed, status, MAC, host names, ports: state,
 * each service field, scripts; OS, extraports, host scripts), ndiff's
 * extraports rule, -v, address order with IPv6, repeated hosts and ports,
 * and the three writers on small cases (text exactly; XML and JSON parsed).
 * No database, no files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <expat.h>
#include <jansson.h>

#include "core/error.h"
#include "core/record.h"
#include "diff/diff.h"
#include "store/store.h"

/* ---- building hosts ---------------------------------------------------------- */

#define MAXP 8
#define MAXS 4

/* A host record with room for its arrays; fields are set by the tests. */
struct hb {
	struct rec_host h;
	struct rec_port ports[MAXP];
	struct rec_script pscripts[MAXP][MAXS];
	struct rec_script scripts[MAXS];
	struct rec_hostname names[MAXS];
	struct rec_extraports extra[MAXS];
};

static void hb_init(struct hb *b, const char *addr)
{
	memset(b, 0, sizeof(*b));
	b->h.addr = addr;
	b->h.family = strchr(addr, ':') ? 6 : 4;
	b->h.status = REC_HOST_UP;
	b->h.reason_ttl = -1;
	b->h.uptime_seconds = -1;
	b->h.distance = -1;
	b->h.ports = b->ports;
	b->h.scripts = b->scripts;
	b->h.hostnames = b->names;
	b->h.extraports = b->extra;
}

static struct rec_port *hb_port(struct hb *b, enum rec_proto proto, int port,
                                enum rec_port_state state, const char *service)
{
	struct rec_port *p = &b->ports[b->h.nports];

	assert_true(b->h.nports < MAXP);
	memset(p, 0, sizeof(*p));
	p->proto = proto;
	p->port = port;
	p->state = state;
	p->reason_ttl = -1;
	p->service.conf = -1;
	if (service) {
		p->has_service = 1;
		p->service.name = service;
	}
	p->scripts = b->pscripts[b->h.nports];
	b->h.nports++;
	return p;
}

static void port_script(struct rec_port *p, const char *id, const char *out)
{
	struct rec_script *s = (struct rec_script *)&p->scripts[p->nscripts++];

	s->id = id;
	s->output = out;
}

static void hb_script(struct hb *b, const char *id, const char *out)
{
	b->scripts[b->h.nscripts].id = id;
	b->scripts[b->h.nscripts++].output = out;
}

static void hb_name(struct hb *b, const char *name)
{
	b->names[b->h.nhostnames].name = name;
	b->names[b->h.nhostnames++].type = "PTR";
}

static void hb_extra(struct hb *b, enum rec_port_state st, long count)
{
	b->extra[b->h.nextraports].state = st;
	b->extra[b->h.nextraports++].count = count;
}

static void hb_os(struct hb *b, const char *name, int acc)
{
	b->h.has_os = 1;
	b->h.os.name = name;
	b->h.os.accuracy = acc;
}

static struct diff_snapshot *snap(struct hb *const *hosts, size_t n)
{
	struct diff_snapshot *s;
	struct diff_meta m = {.file = "test.xml",
	                      .scanner = "nmap",
	                      .version = "7.93",
	                      .args = "nmap -p 1-100 192.0.2.0/24",
	                      .start = 1700000000,
	                      .end = 1700000100};

	assert_int_equal(diff_snapshot_new(&s), 0);
	assert_int_equal(diff_snapshot_set_meta(s, &m), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(diff_snapshot_add_rec(s, &hosts[i]->h), 0);
	assert_int_equal(diff_snapshot_finish(s), 0);
	return s;
}

/* ---- collecting what the walk reports ----------------------------------------- */

struct seen_port {
	int port;
	int proto;
	int has_a, has_b;
	unsigned changes;
	size_t nscripts;
	char script_ids[64];
};

struct seen_host {
	char addr[64];
	enum diff_kind kind;
	unsigned changes;
	size_t nports;
	struct seen_port ports[MAXP * 2];
	size_t nscripts;
	char script_ids[64];
};

struct seen {
	size_t n;
	struct seen_host h[16];
	struct diff_summary sum;
};

static void ids(char *out, size_t len, const struct diff_script_pair *sp, size_t n)
{
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		const struct diff_script *s = sp[i].a ? sp[i].a : sp[i].b;
		size_t l = strlen(out);

		snprintf(out + l, len - l, "%s%s%s%s", l ? "," : "", sp[i].a ? "" : "+",
		         sp[i].b ? "" : "-", s->id);
	}
}

static int collect(void *ctx, const struct diff_host_pair *hp)
{
	struct seen *s = ctx;
	struct seen_host *h = &s->h[s->n++];
	const struct diff_host *x = hp->a ? hp->a : hp->b;

	assert_true(s->n <= 16);
	snprintf(h->addr, sizeof(h->addr), "%s", x->addr);
	h->kind = hp->kind;
	h->changes = hp->changes;
	h->nports = hp->nports;
	assert_true(hp->nports <= MAXP * 2);
	for (size_t i = 0; i < hp->nports; i++) {
		const struct diff_port_pair *pp = &hp->ports[i];
		const struct diff_port *p = pp->a ? pp->a : pp->b;

		h->ports[i].port = p->port;
		h->ports[i].proto = p->proto;
		h->ports[i].has_a = pp->a != NULL;
		h->ports[i].has_b = pp->b != NULL;
		h->ports[i].changes = pp->changes;
		h->ports[i].nscripts = pp->nscripts;
		ids(h->ports[i].script_ids, sizeof(h->ports[i].script_ids), pp->scripts,
		    pp->nscripts);
	}
	h->nscripts = hp->nscripts;
	ids(h->script_ids, sizeof(h->script_ids), hp->scripts, hp->nscripts);
	return 0;
}

/* Walk a x b into *out; returns out. */
static struct seen *walk(struct seen *out, struct hb *const *a, size_t na, struct hb *const *b,
                         size_t nb, int verbose)
{
	struct diff_snapshot *sa = snap(a, na), *sb = snap(b, nb);

	memset(out, 0, sizeof(*out));
	assert_int_equal(diff_walk(sa, sb, verbose, collect, out, &out->sum), 0);
	diff_snapshot_free(sa);
	diff_snapshot_free(sb);
	return out;
}

/* One host in each scan, same address: what changed. */
static struct seen_host *one(struct seen *out, struct hb *a, struct hb *b, int verbose)
{
	walk(out, &a, 1, &b, 1, verbose);
	if (out->n == 0)
		return NULL;
	assert_int_equal(out->n, 1);
	return &out->h[0];
}

/* A typical host: 22/tcp ssh open with a script, 80/tcp http, 990 closed. */
static void base(struct hb *b)
{
	struct rec_port *p;

	hb_init(b, "192.0.2.10");
	hb_name(b, "web.example.com");
	hb_extra(b, REC_PORT_CLOSED, 990);
	p = hb_port(b, REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");
	p->service.product = "OpenSSH";
	p->service.version = "9.2p1";
	p->service.extrainfo = "protocol 2.0";
	port_script(p, "ssh-hostkey", "256 aa:bb (ECDSA)\n256 cc:dd (ED25519)");
	hb_port(b, REC_PROTO_TCP, 80, REC_PORT_OPEN, "http");
	hb_os(b, "Linux 5.0 - 5.14", 98);
	hb_script(b, "smb-os-discovery", "OS: none");
}

/* ---- tests: what the walk reports ------------------------------------------------- */

static void test_unchanged(void **state)
{
	struct hb a, b;
	struct seen s;
	struct seen_host *h;

	(void)state;
	base(&a);
	base(&b);
	assert_null(one(&s, &a, &b, 0));
	assert_int_equal(s.sum.unchanged, 1);
	assert_int_equal(s.sum.changed + s.sum.added + s.sum.removed, 0);
	/* -v: the host and every port, with its scripts, no changes */
	h = one(&s, &a, &b, 1);
	assert_non_null(h);
	assert_int_equal(h->kind, DIFF_UNCHANGED);
	assert_int_equal(h->changes, 0);
	assert_int_equal(h->nports, 2);
	assert_int_equal(h->ports[0].port, 22);
	assert_int_equal(h->ports[0].changes, 0);
	assert_string_equal(h->ports[0].script_ids, "ssh-hostkey");
	assert_string_equal(h->script_ids, "smb-os-discovery");
}

static void test_added_removed(void **state)
{
	struct hb a, b;
	struct hb *pa = &a, *pb = &b;
	struct seen s;

	(void)state;
	base(&a);
	base(&b);
	b.h.addr = "192.0.2.9";
	hb_port(&a, REC_PROTO_TCP, 25, REC_PORT_CLOSED, "smtp"); /* in a's extraports state */
	walk(&s, &pa, 1, &pb, 1, 0);
	assert_int_equal(s.n, 2);
	/* address order: .9 (added) before .10 (removed) */
	assert_string_equal(s.h[0].addr, "192.0.2.9");
	assert_int_equal(s.h[0].kind, DIFF_ADDED);
	assert_string_equal(s.h[1].addr, "192.0.2.10");
	assert_int_equal(s.h[1].kind, DIFF_REMOVED);
	assert_true(s.h[1].changes & DIFF_CH_STATUS);
	assert_true(s.h[1].changes & DIFF_CH_PORTS);
	assert_true(s.h[1].changes & DIFF_CH_HOSTNAMES);
	assert_true(s.h[1].changes & DIFF_CH_OS);
	assert_true(s.h[1].changes & DIFF_CH_SCRIPTS);
	/* 25/tcp closed is an extraports state of the removed host: left out */
	assert_int_equal(s.h[1].nports, 2);
	assert_int_equal(s.h[1].ports[0].port, 22);
	assert_true(s.h[1].ports[0].has_a && !s.h[1].ports[0].has_b);
	assert_int_equal(s.h[1].ports[0].changes,
	                 DIFF_PCH_STATE | DIFF_PCH_SERVICE | DIFF_PCH_SCRIPTS);
	assert_string_equal(s.h[1].ports[0].script_ids, "-ssh-hostkey");
	assert_int_equal(s.sum.added, 1);
	assert_int_equal(s.sum.removed, 1);
	/* against an empty scan */
	walk(&s, &pa, 1, NULL, 0, 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.h[0].kind, DIFF_REMOVED);
}

static void test_status(void **state)
{
	struct hb a, b;
	struct seen s;
	struct seen_host *h;

	(void)state;
	base(&a);
	base(&b);
	b.h.status = REC_HOST_DOWN;
	h = one(&s, &a, &b, 0);
	assert_non_null(h);
	assert_int_equal(h->kind, DIFF_CHANGED);
	assert_int_equal(h->changes, DIFF_CH_STATUS);
	assert_int_equal(h->nports, 0);
}

static void test_mac_and_names(void **state)
{
	struct hb a, b;
	struct seen s;
	struct seen_host *h;

	(void)state;
	base(&a);
	base(&b);
	b.h.mac = "00:11:22:AA:BB:CC";
	h = one(&s, &a, &b, 0);
	assert_non_null(h);
	assert_int_equal(h->changes, DIFF_CH_MAC);
	/* names: a set (order and repeats do not count) */
	base(&a);
	base(&b);
	hb_name(&a, "a.example.com");
	hb_name(&b, "a.example.com");
	hb_name(&b, "web.example.com");
	b.names[0].name = "a.example.com";
	b.names[1].name = "web.example.com";
	b.names[2].name = "a.example.com";
	assert_null(one(&s, &a, &b, 0));
	hb_name(&b, "new.example.com");
	h = one(&s, &a, &b, 0);
	assert_non_null(h);
	assert_int_equal(h->changes, DIFF_CH_HOSTNAMES);
}

static void test_port_state(void **state)
{
	struct hb a, b;
	struct seen s;
	struct seen_host *h;

	(void)state;
	base(&a);
	base(&b);
	b.ports[1].state = REC_PORT_FILTERED;
	h = one(&s, &a, &b, 0);
	assert_non_null(h);
	assert_int_equal(h->changes, DIFF_CH_PORTS);
	assert_int_equal(h->nports, 1);
	assert_int_equal(h->ports[0].port, 80);
	assert_int_equal(h->ports[0].changes, DIFF_PCH_STATE);
	/* a new port */
	base(&b);
	hb_port(&b, REC_PROTO_UDP, 53, REC_PORT_OPEN, "domain");
	h = one(&s, &a, &b, 0);
	assert_non_null(h);
	assert_int_equal(h->nports, 1);
	assert_int_equal(h->ports[0].port, 53);
	assert_int_equal(h->ports[0].proto, REC_PROTO_UDP);
	assert_true(!h->ports[0].has_a && h->ports[0].has_b);
	assert_int_equal(h->ports[0].changes, DIFF_PCH_STATE | DIFF_PCH_SERVICE);
}

/* Each service field on its own is a service change; NULL and "" differ. */
static void test_service_fields(void **state)
{
	const char *vals[][2] = {{"ssh", "sshd"},    {"OpenSSH", "Dropbear"},
	                         {"9.2p1", "9.3p1"}, {"protocol 2.0", "protocol 1.99"},
	                         {NULL, "ssl"},      {NULL, ""}};
	struct hb a, b;
	struct seen s;

	(void)state;
	for (int f = 0; f < 6; f++) {
		struct seen_host *h;
		const char **field;

		base(&a);
		base(&b);
		switch (f) {
		case 0:
			field = &b.ports[0].service.name;
			break;
		case 1:
			field = &b.ports[0].service.product;
			break;
		case 2:
			field = &b.ports[0].service.version;
			break;
		case 3:
			field = &b.ports[0].service.extrainfo;
			break;
		default:
			field = &b.ports[0].service.tunnel;
			break;
		}
		*field = vals[f][1];
		h = one(&s, &a, &b, 0);
		assert_non_null(h);
		assert_int_equal(h->nports, 1);
		assert_int_equal(h->ports[0].port, 22);
		assert_int_equal(h->ports[0].changes, DIFF_PCH_SERVICE);
	}
	/* what ndiff does not compare does not count: method, conf, ostype, cpe */
	base(&a);
	base(&b);
	b.ports[0].service.method = "probed";
	b.ports[0].service.conf = 10;
	b.ports[0].service.ostype = "Linux";
	assert_null(one(&s, &a, &b, 0));
}

static void test_port_scripts(void **state)
{
	struct hb a, b;
	struct seen s;
	struct seen_host *h;

	(void)state;
	base(&a);
	base(&b);
	b.pscripts[0][0].output = "256 aa:bb (ECDSA)";               /* changed */
	port_script(&b.ports[0], "banner", "SSH-2.0-OpenSSH_9.2p1"); /* added */
	port_script(&a.ports[1], "http-title", "Welcome");           /* removed */
	h = one(&s, &a, &b, 0);
	assert_non_null(h);
	assert_int_equal(h->changes, DIFF_CH_PORTS);
	assert_int_equal(h->nports, 2);
	assert_int_equal(h->ports[0].changes, DIFF_PCH_SCRIPTS);
	assert_string_equal(h->ports[0].script_ids, "+banner,ssh-hostkey");
	assert_int_equal(h->ports[1].changes, DIFF_PCH_SCRIPTS);
	assert_string_equal(h->ports[1].script_ids, "-http-title");
	/* script order in the file does not matter */
	base(&a);
	base(&b);
	port_script(&a.ports[1], "b", "2");
	port_script(&a.ports[1], "a", "1");
	port_script(&b.ports[1], "a", "1");
	port_script(&b.ports[1], "b", "2");
	assert_null(one(&s, &a, &b, 0));
	h = one(&s, &a, &b, 1);
	assert_string_equal(h->ports[1].script_ids, "a,b");
}

static void test_host_scripts_os_extraports(void **state)
{
	struct hb a, b;
	struct seen s;
	struct seen_host *h;

	(void)state;
	base(&a);
	base(&b);
	b.scripts[0].output = "OS: Windows";
	hb_script(&b, "whois", "netrange: 192.0.2.0/24");
	h = one(&s, &a, &b, 0);
	assert_non_null(h);
	assert_int_equal(h->changes, DIFF_CH_SCRIPTS);
	assert_string_equal(h->script_ids, "smb-os-discovery,+whois");
	/* OS: the best match's name, not its accuracy */
	base(&b);
	b.h.os.accuracy = 90;
	assert_null(one(&s, &a, &b, 0));
	b.h.os.name = "Linux 6.0";
	h = one(&s, &a, &b, 0);
	assert_int_equal(h->changes, DIFF_CH_OS);
	b.h.has_os = 0;
	h = one(&s, &a, &b, 0);
	assert_int_equal(h->changes, DIFF_CH_OS);
	/* extraports: the (state, count) pairs, in any order */
	base(&a);
	base(&b);
	hb_extra(&a, REC_PORT_FILTERED, 5);
	b.extra[0].state = REC_PORT_FILTERED;
	b.extra[0].count = 5;
	hb_extra(&b, REC_PORT_CLOSED, 990);
	assert_null(one(&s, &a, &b, 0));
	b.extra[1].count = 989;
	h = one(&s, &a, &b, 0);
	assert_int_equal(h->changes, DIFF_CH_EXTRAPORTS);
}

/* ndiff's rule: a port is left out when on both sides it is either not
 * listed or in a state that side summarised in <extraports>. */
static void test_extraports_rule(void **state)
{
	struct hb a, b;
	struct seen s;
	struct seen_host *h;

	(void)state;
	base(&a);
	base(&b);
	hb_port(&a, REC_PROTO_TCP, 113, REC_PORT_CLOSED, "ident");
	assert_null(one(&s, &a, &b, 0)); /* closed in a (summarised), unlisted in b */
	b.extra[0].state = REC_PORT_FILTERED;
	h = one(&s, &a, &b, 0); /* closed is no longer summarised in a... */
	assert_non_null(h);
	assert_int_equal(h->changes, DIFF_CH_EXTRAPORTS);
	a.extra[0].state = REC_PORT_FILTERED; /* ...and now listed as a change */
	h = one(&s, &a, &b, 0);
	assert_non_null(h);
	assert_int_equal(h->changes, DIFF_CH_PORTS);
	assert_int_equal(h->ports[0].port, 113);
	assert_true(h->ports[0].has_a && !h->ports[0].has_b);
}

static void test_address_order_ipv6(void **state)
{
	static const char *const addrs[] = {"2001:db8::1", "10.0.0.2",     "::1",
	                                    "9.0.0.1",     "2001:db8::10", "fe80::1"};
	static const char *const want[] = {"::1",         "9.0.0.1",      "10.0.0.2",
	                                   "2001:db8::1", "2001:db8::10", "fe80::1"};
	struct hb h[6], v6;
	struct hb *pa[6], *pb[1];
	struct seen s;

	(void)state;
	for (int i = 0; i < 6; i++) {
		hb_init(&h[i], addrs[i]);
		hb_port(&h[i], REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh");
		pa[i] = &h[i];
	}
	walk(&s, pa, 6, NULL, 0, 0);
	assert_int_equal(s.n, 6);
	for (int i = 0; i < 6; i++) {
		assert_string_equal(s.h[i].addr, want[i]);
		assert_int_equal(s.h[i].kind, DIFF_REMOVED);
	}
	/* an IPv6 host matched with itself, its port changed */
	hb_init(&v6, "2001:db8::1");
	hb_port(&v6, REC_PROTO_TCP, 22, REC_PORT_CLOSED, "ssh");
	pb[0] = &v6;
	walk(&s, pa, 1, pb, 1, 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.h[0].addr, "2001:db8::1");
	assert_int_equal(s.h[0].kind, DIFF_CHANGED);
	assert_int_equal(s.h[0].ports[0].changes, DIFF_PCH_STATE);
}

static void test_repeats(void **state)
{
	struct hb a1, a2, b;
	struct hb *pa[2] = {&a1, &a2}, *pb = &b;
	struct diff_snapshot *sa;
	struct seen s;

	(void)state;
	/* the same address twice: the first counts */
	base(&a1);
	base(&a2);
	a2.h.status = REC_HOST_DOWN;
	base(&b);
	sa = snap(pa, 2);
	assert_int_equal(diff_snapshot_nhosts(sa), 1);
	assert_int_equal(diff_snapshot_duplicates(sa), 1);
	assert_int_equal(diff_snapshot_host(sa, 0)->status, REC_HOST_UP);
	diff_snapshot_free(sa);
	walk(&s, pa, 2, &pb, 1, 0);
	assert_int_equal(s.n, 0);
	/* the same port twice: the last counts (as in ndiff), and ports are
	 * ordered by (number, protocol name) */
	base(&b);
	hb_port(&b, REC_PROTO_UDP, 22, REC_PORT_OPEN, NULL);
	hb_port(&b, REC_PROTO_TCP, 80, REC_PORT_CLOSED, "http");
	sa = snap(&pb, 1);
	assert_int_equal(diff_snapshot_host(sa, 0)->nports, 3);
	assert_int_equal(diff_snapshot_host(sa, 0)->ports[0].proto, REC_PROTO_TCP);
	assert_int_equal(diff_snapshot_host(sa, 0)->ports[1].proto, REC_PROTO_UDP);
	assert_int_equal(diff_snapshot_host(sa, 0)->ports[2].port, 80);
	assert_int_equal(diff_snapshot_host(sa, 0)->ports[2].state, REC_PORT_CLOSED);
	diff_snapshot_free(sa);
}

/* A stored host gives the same snapshot as the record it came from. */
static void test_store_host(void **state)
{
	struct store_script hs = {"smb-os-discovery", "OS: none"};
	struct store_script ps = {"ssh-hostkey", "256 aa:bb (ECDSA)\n256 cc:dd (ED25519)"};
	struct store_port p[2];
	struct store_extraports e = {"closed", 990, NULL};
	char *names[] = {"web.example.com"};
	struct store_host sh;
	struct diff_snapshot *sa, *sb;
	struct hb a;
	struct hb *pa = &a;
	struct seen s;

	(void)state;
	memset(p, 0, sizeof(p));
	p[0].protocol = "tcp";
	p[0].port = 22;
	p[0].state = "open";
	p[0].service = "ssh";
	p[0].product = "OpenSSH";
	p[0].version = "9.2p1";
	p[0].extrainfo = "protocol 2.0";
	p[0].scripts = &ps;
	p[0].nscripts = 1;
	p[1].protocol = "tcp";
	p[1].port = 80;
	p[1].state = "open";
	p[1].service = "http";
	memset(&sh, 0, sizeof(sh));
	sh.addr = "192.0.2.10";
	sh.family = 4;
	sh.status = "up";
	sh.hostnames = names;
	sh.nhostnames = 1;
	sh.os = "Linux 5.0 - 5.14";
	sh.os_accuracy = 98;
	sh.ports = p;
	sh.nports = 2;
	sh.extraports = &e;
	sh.nextraports = 1;
	sh.scripts = &hs;
	sh.nscripts = 1;
	base(&a);
	sa = snap(&pa, 1);
	assert_int_equal(diff_snapshot_new(&sb), 0);
	assert_int_equal(diff_snapshot_add_store(sb, &sh), 0);
	assert_int_equal(diff_snapshot_finish(sb), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(diff_walk(sa, sb, 0, collect, &s, &s.sum), 0);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.sum.unchanged, 1);
	diff_snapshot_free(sb);
	/* taken, not copied: the same snapshot, holding the very outputs (the
	 * snapshot frees them; the host no longer has them) */
	{
		char *hout = strdup(hs.output), *pout = strdup(ps.output);
		const struct diff_host *dh;

		assert_non_null(hout);
		assert_non_null(pout);
		hs.output = hout;
		ps.output = pout;
		assert_int_equal(diff_snapshot_new(&sb), 0);
		assert_int_equal(diff_snapshot_take_store(sb, &sh), 0);
		assert_null(hs.output);
		assert_null(ps.output);
		assert_int_equal(diff_snapshot_finish(sb), 0);
		dh = diff_snapshot_host(sb, 0);
		assert_ptr_equal(dh->scripts[0].output, hout);
		assert_ptr_equal(dh->ports[0].info->scripts[0].output, pout);
		memset(&s, 0, sizeof(s));
		assert_int_equal(diff_walk(sa, sb, 0, collect, &s, &s.sum), 0);
		assert_int_equal(s.sum.unchanged, 1);
		diff_snapshot_free(sb);
		hs.output = "OS: none";
		ps.output = "256 aa:bb (ECDSA)\n256 cc:dd (ED25519)";
	}
	/* an unknown state in the store is refused */
	p[1].state = "half-open";
	assert_int_equal(diff_snapshot_new(&sb), 0);
	assert_int_equal(diff_snapshot_add_store(sb, &sh), SDB_EPARSE);
	diff_snapshot_free(sb);
	diff_snapshot_free(sa);
}

/* ---- tests: writers ------------------------------------------------------------------- */

static char *render(struct hb *const *a, size_t na, struct hb *const *b, size_t nb,
                    enum diff_format fmt, int verbose, int *different)
{
	struct diff_snapshot *sa = snap(a, na), *sb = snap(b, nb);
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(diff_write(f, fmt, sa, sb, verbose, different), 0);
	fclose(f);
	diff_snapshot_free(sa);
	diff_snapshot_free(sb);
	return out;
}

static void test_text(void **state)
{
	struct hb a, b, c;
	struct hb *pa = &a, *pb[2] = {&b, &c};
	struct rec_port *p;
	int different = -1;
	char *out;
	const char *want = "\n"
	                   " web.example.com (192.0.2.10):\n"
	                   "-Host is up.\n"
	                   "+Host is down.\n"
	                   "-Not shown: 990 closed ports\n"
	                   "+Not shown: 990 closed ports, 7 filtered ports\n"
	                   " PORT   STATE SERVICE  VERSION\n"
	                   "-22/tcp open  ssh      OpenSSH 9.2p1 (protocol 2.0)\n"
	                   "+22/tcp open  ssh      OpenSSH 9.3p1 (protocol 2.0)\n"
	                   " |  ssh-hostkey: 256 aa:bb (ECDSA)\n"
	                   "-|_ 256 cc:dd (ED25519)\n"
	                   "+|  256 ee:ff (ED25519)\n"
	                   "+|_ 3072 gg:hh (RSA)\n"
	                   "-80/tcp open  http\n"
	                   "+80/tcp open  ssl/http\n"
	                   " OS details:\n"
	                   "-  Linux 5.0 - 5.14\n"
	                   "+  Linux 6.1\n"
	                   "\n"
	                   " Host script results:\n"
	                   "-|_ smb-os-discovery: OS: none\n"
	                   "+|_ smb-os-discovery: OS: ?[31m\n"
	                   "\n"
	                   "+192.0.2.20, 00:11:22:AA:BB:CC:\n"
	                   "+Host is up.\n"
	                   "+PORT    STATE SERVICE VERSION\n"
	                   "+443/tcp open\n";

	(void)state;
	base(&a);
	base(&b);
	b.h.status = REC_HOST_DOWN;
	hb_extra(&b, REC_PORT_FILTERED, 7);
	b.ports[0].service.version = "9.3p1";
	b.pscripts[0][0].output = "256 aa:bb (ECDSA)\n256 ee:ff (ED25519)\n3072 gg:hh (RSA)";
	b.ports[1].service.tunnel = "ssl";
	b.h.os.name = "Linux 6.1";
	b.scripts[0].output = "OS: \x1b[31m";
	hb_init(&c, "192.0.2.20");
	c.h.mac = "00:11:22:AA:BB:CC";
	p = hb_port(&c, REC_PROTO_TCP, 443, REC_PORT_OPEN, NULL);
	(void)p;
	out = render(&pa, 1, pb, 2, DIFF_FMT_TEXT, 0, &different);
	assert_string_equal(out, want);
	assert_int_equal(different, 1);
	free(out);
	/* the same scan: nothing at all; -v: the banner and the whole host */
	out = render(&pa, 1, &pa, 1, DIFF_FMT_TEXT, 0, &different);
	assert_string_equal(out, "");
	assert_int_equal(different, 0);
	free(out);
	out = render(&pa, 1, &pa, 1, DIFF_FMT_TEXT, 1, &different);
	assert_int_equal(different, 0);
	assert_non_null(strstr(out, " Nmap 7.93 scan initiated "));
	assert_non_null(strstr(out,
	                       " as: nmap -p 1-100 192.0.2.0/24\n\n web.example.com (192.0.2.10):\n"
	                       " Host is up.\n Not shown: 990 closed ports\n"));
	assert_non_null(strstr(out, " 22/tcp open  ssh     OpenSSH 9.2p1 (protocol 2.0)\n"
	                            " |  ssh-hostkey: 256 aa:bb (ECDSA)\n |_ 256 cc:dd (ED25519)\n"
	                            " 80/tcp open  http\n OS details:\n   Linux 5.0 - 5.14\n\n"
	                            " Host script results:\n |_ smb-os-discovery: OS: none\n"));
	free(out);
}

/* Well-formed?  Counts elements by name into *count (for `name`). */
struct xml_count {
	const char *name;
	int count;
};

static void XMLCALL xml_start(void *ud, const XML_Char *el, const XML_Char **atts)
{
	struct xml_count *c = ud;

	(void)atts;
	c->count += strcmp(el, c->name) == 0;
}

static int xml_elements(const char *doc, const char *name)
{
	struct xml_count c = {name, 0};
	XML_Parser p = XML_ParserCreate("UTF-8");
	int ok;

	XML_SetUserData(p, &c);
	XML_SetStartElementHandler(p, xml_start);
	ok = XML_Parse(p, doc, (int)strlen(doc), 1) == XML_STATUS_OK;
	if (!ok)
		print_error("XML error %s at line %lu in:\n%s\n",
		            XML_ErrorString(XML_GetErrorCode(p)),
		            (unsigned long)XML_GetCurrentLineNumber(p), doc);
	XML_ParserFree(p);
	assert_true(ok);
	return c.count;
}

static void test_xml(void **state)
{
	struct hb a, b, c;
	struct hb *pa = &a, *pb[2] = {&b, &c};
	int different = -1;
	char *out;

	(void)state;
	base(&a);
	base(&b);
	b.ports[1].state = REC_PORT_CLOSED;
	b.pscripts[0][0].output = "new & <odd> \"key\"\nline 2";
	hb_init(&c, "2001:db8::5");
	hb_port(&c, REC_PROTO_TCP, 443, REC_PORT_OPEN, "https");
	out = render(&pa, 1, pb, 2, DIFF_FMT_XML, 0, &different);
	assert_int_equal(different, 1);
	{
		static const char head[] = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		                           "<nmapdiff version=\"1\"><scandiff><hostdiff>\n";

		assert_true(strncmp(out, head, sizeof(head) - 1) == 0);
	}
	assert_int_equal(xml_elements(out, "hostdiff"), 2);
	assert_int_equal(xml_elements(out, "portdiff"), 2);
	/* 80/tcp open -> closed: <a> and <b> whole ports */
	assert_non_null(strstr(out, "<portdiff>\n<a>\n<port portid=\"80\" protocol=\"tcp\">\n"
	                            "<state state=\"open\"/>\n<service name=\"http\"/>\n</port>\n"
	                            "</a>\n<b>\n<port portid=\"80\" protocol=\"tcp\">\n"
	                            "<state state=\"closed\"/>\n"));
	/* 22/tcp: same state, the script as <a>/<b>, escaped */
	assert_non_null(strstr(out,
	                       "<b>\n<script id=\"ssh-hostkey\" output=\"new &amp; &lt;odd&gt; "
	                       "&quot;key&quot;&#xa;line 2\"/>\n</b>\n"));
	/* the new IPv6 host, whole, in <b> */
	assert_non_null(strstr(out, "<hostdiff>\n<b>\n<host>\n<status state=\"up\"/>\n"
	                            "<address addr=\"2001:db8::5\" addrtype=\"ipv6\"/>\n"));
	free(out);
	out = render(&pa, 1, &pa, 1, DIFF_FMT_XML, 1, &different);
	assert_int_equal(different, 0);
	assert_int_equal(xml_elements(out, "hostdiff"), 1);
	assert_int_equal(xml_elements(out, "portdiff"), 0);
	assert_int_equal(xml_elements(out, "port"), 2);
	assert_int_equal(xml_elements(out, "nmaprun"), 1);
	free(out);
}

static void test_json(void **state)
{
	struct hb a, b;
	struct hb *pa = &a, *pb = &b;
	json_error_t jerr;
	json_t *doc, *h, *p;
	int different = -1;
	char *out;

	(void)state;
	base(&a);
	base(&b);
	b.h.mac = "00:11:22:AA:BB:CC";
	b.ports[0].service.version = "9.3p1";
	b.scripts[0].output = "bad \xff byte, tab\t, esc\x1b[0m \"q\" \\";
	out = render(&pa, 1, &pb, 1, DIFF_FMT_JSON, 0, &different);
	assert_int_equal(different, 1);
	doc = json_loads(out, 0, &jerr);
	if (!doc)
		print_error("JSON error %s at %d in:\n%s\n", jerr.text, jerr.line, out);
	assert_non_null(doc);
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "a"), "file")),
	                    "test.xml");
	assert_true(json_is_null(json_object_get(json_object_get(doc, "a"), "job_id")));
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "a"), "start")),
	                    "2023-11-14T22:13:20Z");
	assert_true(json_is_true(json_object_get(doc, "different")));
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(doc, "summary"), "changed")), 1);
	h = json_array_get(json_object_get(doc, "hosts"), 0);
	assert_string_equal(json_string_value(json_object_get(h, "change")), "changed");
	assert_int_equal(json_array_size(json_object_get(h, "changes")), 3); /* mac ports scripts */
	assert_string_equal(json_string_value(json_array_get(json_object_get(h, "changes"), 0)),
	                    "mac");
	assert_true(json_is_null(json_object_get(json_object_get(h, "mac"), "a")));
	p = json_array_get(json_object_get(h, "ports"), 0);
	assert_int_equal(json_integer_value(json_object_get(p, "port")), 22);
	assert_string_equal(json_string_value(json_object_get(json_object_get(p, "b"), "version")),
	                    "9.3p1");
	/* invalid UTF-8 becomes U+FFFD; control characters are escaped */
	assert_string_equal(json_string_value(json_object_get(
	                        json_array_get(json_object_get(h, "scripts"), 0), "b")),
	                    "bad \xef\xbf\xbd byte, tab\t, esc\x1b[0m \"q\" \\");
	json_decref(doc);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unchanged),
	    cmocka_unit_test(test_added_removed),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_mac_and_names),
	    cmocka_unit_test(test_port_state),
	    cmocka_unit_test(test_service_fields),
	    cmocka_unit_test(test_port_scripts),
	    cmocka_unit_test(test_host_scripts_os_extraports),
	    cmocka_unit_test(test_extraports_rule),
	    cmocka_unit_test(test_address_order_ipv6),
	    cmocka_unit_test(test_repeats),
	    cmocka_unit_test(test_store_host),
	    cmocka_unit_test(test_text),
	    cmocka_unit_test(test_xml),
	    cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
