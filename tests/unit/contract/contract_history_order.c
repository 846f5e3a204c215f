/*
 * contract_history_order.c - storage contract: scans imported out of order
 * give the same events and port state as in order (five scans of one host,
 * each exercising a rule), attributes and names of a host seen down.
 */
#include "contract.h"

#include <string.h>

static int64_t job_time(const struct job_times *jt, int64_t id)
{
	if (id == 0)
		return 0;
	for (size_t i = 0; i < jt->n; i++)
		if (jt->id[i] == id)
			return jt->at[i];
	print_error("job %lld was not written by this test\n", (long long)id);
	fail();
	return -1;
}

/*
 * The five scans of one host used by the out-of-order tests; each scan
 * exercises a different rule.  Expected, in time order:
 *  S1 up: host_up
 *  S2 tcp 1-100: service_changed 22, script_changed 80 http-title (443 unprobed)
 *  S3 down: host_down
 *  S4 tcp 1-1000 + udp: host_up, port_closed 80, port_opened 8080,
 *     port_opened 53/udp, port_closed 443 (filtered), os/mac/hostname_changed
 *  S5 tcp 1-10000: port_opened 80, port_closed 8080
 */
#define OOO_N 5
static const struct rec_script ooo_title1[] = {{"http-title", "Welcome"}};
static const struct rec_script ooo_title2[] = {{"http-title", "Login"}};
static const struct rec_hostname ooo_name_a[] = {{"a.example.test", "PTR"}};
static const struct rec_hostname ooo_name_b[] = {{"b.example.test", "PTR"}};
static const struct rec_extraports ooo_filt996[] = {{REC_PORT_FILTERED, 996, NULL}};
static const struct rec_extraports ooo_closed98[] = {{REC_PORT_CLOSED, 98, NULL}};
static const struct rec_extraports ooo_filt997[] = {{REC_PORT_FILTERED, 997, NULL}};
static const struct rec_extraports ooo_closed997[] = {{REC_PORT_CLOSED, 997, NULL}};

struct ooo_store {
	struct rec_port p[OOO_N][6];
};

static struct hscan ooo_scan(int i, const char *addr, struct ooo_store *m, struct rec_host *h)
{
	struct rec_port *p = m->p[i];
	struct hscan s = {HT(10 + i), "1-1000", NULL, h, 1};
	size_t n = 0;

	*h = host_rec(addr, REC_HOST_UP, HT(10 + i));
	switch (i) {
	case 0:
		p[n++] = hsvc(22, "ssh", "OpenSSH", "8.9p1");
		p[n] = hsvc(80, "http", "nginx", "1.22.1");
		p[n].scripts = ooo_title1;
		p[n++].nscripts = 1;
		p[n++] = hport(REC_PROTO_TCP, 113, REC_PORT_CLOSED);
		p[n++] = hport(REC_PROTO_TCP, 443, REC_PORT_OPEN);
		h->extraports = ooo_filt996;
		h->has_os = 1;
		h->os.name = "Linux 5.X";
		h->mac = "00:11:22:33:44:55";
		h->hostnames = ooo_name_a;
		h->nhostnames = 1;
		break;
	case 1:
		s.tcp = "1-100";
		p[n++] = hsvc(22, "ssh", "OpenSSH", "9.2p1");
		p[n] = hsvc(80, "http", "nginx", "1.22.1");
		p[n].scripts = ooo_title2;
		p[n++].nscripts = 1;
		h->extraports = ooo_closed98;
		h->has_os = 1;
		h->os.name = "Linux 5.X";
		h->mac = "00:11:22:33:44:55";
		h->hostnames = ooo_name_a;
		h->nhostnames = 1;
		break;
	case 2:
		*h = host_rec(addr, REC_HOST_DOWN, HT(10 + i));
		break;
	case 3:
		s.udp = "53,161";
		p[n++] = hsvc(22, "ssh", "OpenSSH", "9.2p1");
		p[n++] = hport(REC_PROTO_TCP, 80, REC_PORT_CLOSED);
		p[n++] = hport(REC_PROTO_TCP, 8080, REC_PORT_OPEN);
		p[n++] = hport(REC_PROTO_UDP, 53, REC_PORT_OPEN);
		p[n++] = hport(REC_PROTO_UDP, 161, REC_PORT_OPEN_FILTERED);
		h->extraports = ooo_filt997;
		h->has_os = 1;
		h->os.name = "Linux 6.X";
		h->mac = "66:77:88:99:AA:BB";
		h->hostnames = ooo_name_b;
		h->nhostnames = 1;
		break;
	default:
		s.tcp = "1-10000";
		p[n++] = hsvc(22, "ssh", "OpenSSH", "9.2p1");
		p[n] = hsvc(80, "http", "nginx", "1.22.1");
		p[n].scripts = ooo_title2;
		p[n++].nscripts = 1;
		h->extraports = ooo_closed997;
		h->has_os = 1;
		h->os.name = "Linux 6.X";
		h->mac = "66:77:88:99:AA:BB";
		h->hostnames = ooo_name_b;
		h->nhostnames = 1;
		break;
	}
	h->nextraports = h->extraports ? 1 : 0;
	h->ports = p;
	h->nports = n;
	return s;
}

/* Write the five scans of `addr` in the order given (indexes 0-4). */
static void ooo_write(struct store *st, const char *addr, const int *order, struct job_times *jt)
{
	for (int k = 0; k < OOO_N; k++) {
		struct ooo_store m;
		struct rec_host h;
		struct hscan s = ooo_scan(order[k], addr, &m, &h);
		assert_ok(st, write_hscan(st, &s, NULL, jt));
	}
}

/* One event as text, jobs named by their scan times (ids differ). */
static void event_text(const struct store_event *e, const struct job_times *jt, char *out,
                       size_t len)
{
	snprintf(out, len, "%s %s/%d detail=%s old=%s new=%s at=%lld job@%lld prev@%lld", e->kind,
	         e->protocol ? e->protocol : "-", e->port, e->detail ? e->detail : "NULL",
	         e->old_value ? e->old_value : "NULL", e->new_value ? e->new_value : "NULL",
	         (long long)e->at, (long long)job_time(jt, e->job_id),
	         (long long)job_time(jt, e->prev_job_id));
}

/* One host's whole history and current port state, as text. */
static char *history_text(struct store *st, const char *addr, const struct job_times *jt)
{
	struct ev_list l = host_events(st, addr);
	struct store_host *h = get_host(st, addr, 0);
	size_t cap = 16384, off = 0;
	char *out = malloc(cap), line[1024];

	assert_non_null(out);
	assert_non_null(h);
	out[0] = '\0';
	for (size_t i = 0; i < l.n; i++) {
		if (i > 0)
			assert_true(l.v[i]->at >= l.v[i - 1]->at); /* scan-time order */
		event_text(l.v[i], jt, line, sizeof(line));
		off += (size_t)snprintf(out + off, cap - off, "%s\n", line);
		assert_true(off < cap);
	}
	off += (size_t)snprintf(out + off, cap - off, "status=%s scanned_at=%lld os=%s mac=%s\n",
	                        h->status, (long long)h->scanned_at, h->os ? h->os : "NULL",
	                        h->mac ? h->mac : "NULL");
	for (size_t i = 0; i < h->nports; i++) {
		const struct store_port *p = &h->ports[i];
		off += (size_t)snprintf(
		    out + off, cap - off,
		    "%d/%s %s svc=%s %s %s job@%lld seen=%lld first=%lld last=%lld closed=%lld\n",
		    p->port, p->protocol, p->state, p->service ? p->service : "-",
		    p->product ? p->product : "-", p->version ? p->version : "-",
		    (long long)job_time(jt, p->state_job_id), (long long)p->state_seen_at,
		    (long long)p->first_seen, (long long)p->last_seen, (long long)p->closed_at);
		assert_true(off < cap);
	}
	store_host_free(h);
	ev_list_free(&l);
	return out;
}

static void assert_same_history(const char *what_a, const char *a, const char *what_b,
                                const char *b)
{
	if (strcmp(a, b) != 0)
		print_error("history differs:\n--- %s\n%s--- %s\n%s", what_a, a, what_b, b);
	assert_string_equal(a, b);
}

/* Files imported out of order give the same events and state as in order. */
static void test_history_out_of_order(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	static const int in_order[OOO_N] = {0, 1, 2, 3, 4};
	static const int shuffled[OOO_N] = {2, 0, 4, 1, 3};
	static const int reversed[OOO_N] = {4, 3, 2, 1, 0};
	const char *x = "198.51.100.1", *y = "198.51.100.2", *z = "198.51.100.3";
	struct job_times jt = {.n = 0};
	struct ev_list l;
	char *hx, *hy, *hz;
	int64_t j[OOO_N];

	ooo_write(st, x, in_order, &jt);
	ooo_write(st, y, shuffled, &jt);
	ooo_write(st, z, reversed, &jt);
	for (int i = 0; i < OOO_N; i++)
		j[i] = jt.id[i]; /* x's jobs, in time order */

	/* the in-order history, event by event */
	l = host_events(st, x);
	assert_nev(&l, 14);
	CHECK_SEV(&l, 0, x, "host_up", NULL, -1, NULL, NULL, "up", j[0], 0, HT(10));
	CHECK_SEV(&l, 1, x, "service_changed", "tcp", 22, NULL, "ssh OpenSSH 8.9p1",
	          "ssh OpenSSH 9.2p1", j[1], j[0], HT(11));
	CHECK_SEV(&l, 2, x, "script_changed", "tcp", 80, "http-title", "Welcome", "Login", j[1],
	          j[0], HT(11));
	CHECK_SEV(&l, 3, x, "host_down", NULL, -1, NULL, "up", "down", j[2], j[1], HT(12));
	CHECK_SEV(&l, 4, x, "host_up", NULL, -1, NULL, "down", "up", j[3], j[2], HT(13));
	CHECK_SEV(&l, 5, x, "port_closed", "tcp", 80, NULL, "open", "closed", j[3], j[1], HT(13));
	CHECK_SEV(&l, 6, x, "port_opened", "tcp", 8080, NULL, NULL, "open", j[3], NOCHECK, HT(13));
	CHECK_SEV(&l, 7, x, "port_opened", "udp", 53, NULL, NULL, "open", j[3], NOCHECK, HT(13));
	CHECK_SEV(&l, 8, x, "port_closed", "tcp", 443, NULL, "open", "filtered", j[3], j[0],
	          HT(13));
	CHECK_SEV(&l, 9, x, "os_changed", NULL, -1, NULL, "Linux 5.X", "Linux 6.X", j[3], j[2],
	          HT(13));
	CHECK_SEV(&l, 10, x, "mac_changed", NULL, -1, NULL, "00:11:22:33:44:55",
	          "66:77:88:99:AA:BB", j[3], j[2], HT(13));
	CHECK_SEV(&l, 11, x, "hostname_changed", NULL, -1, NULL, "a.example.test", "b.example.test",
	          j[3], j[2], HT(13));
	CHECK_SEV(&l, 12, x, "port_opened", "tcp", 80, NULL, "closed", "open", j[4], j[3], HT(14));
	CHECK_SEV(&l, 13, x, "port_closed", "tcp", 8080, NULL, "open", "closed", j[4], j[3],
	          HT(14));
	ev_list_free(&l);
	CHECK_STATE(st, x, "tcp", 22, "open", j[4], HT(10), HT(14), 0);
	CHECK_STATE(st, x, "tcp", 80, "open", j[4], HT(10), HT(14), 0);
	CHECK_STATE(st, x, "tcp", 113, "closed", j[4], 0, 0, 0);
	CHECK_STATE(st, x, "tcp", 443, "closed", j[4], HT(10), HT(10), HT(13));
	CHECK_STATE(st, x, "tcp", 8080, "closed", j[4], HT(13), HT(13), HT(14));
	CHECK_STATE(st, x, "udp", 53, "open", j[3], HT(13), HT(13), 0);
	CHECK_STATE(st, x, "udp", 161, "open|filtered", j[3], 0, 0, 0);

	hx = history_text(st, x, &jt);
	hy = history_text(st, y, &jt);
	hz = history_text(st, z, &jt);
	assert_same_history("in order", hx, "shuffled 3,1,5,2,4", hy);
	assert_same_history("in order", hx, "reversed", hz);
	free(hx);
	free(hy);
	free(hz);

	/* across hosts, events come in scan-time order, not import order */
	{
		struct store_event_filter f = ev_filter();
		l = get_events(st, &f);
		assert_nev(&l, 42);
		for (size_t i = 1; i < l.n; i++)
			assert_true(l.v[i]->at >= l.v[i - 1]->at);
		ev_list_free(&l);
	}
}

/*
 * OS, MAC and hostnames are compared with the latest scan that REPORTED
 * them (events.h).  Scan B (no OS/MAC/names) arriving before the older
 * scan A must not lose A's values: a later scan C is compared with A.
 */
static void test_history_out_of_order_attributes(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	static const struct rec_hostname na[] = {{"a.example.test", "PTR"}};
	static const struct rec_hostname nc[] = {{"c.example.test", "PTR"}};
	const char *addrs[2] = {"198.51.100.10", "198.51.100.11"};
	static const int orders[2][3] = {{0, 1, 2}, {1, 0, 2}}; /* A B C and B A C */
	struct job_times jt = {.n = 0};
	char *text[2];

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 3; i++) {
			int s = orders[k][i];
			struct rec_host h = host_rec(addrs[k], REC_HOST_UP, 0);
			if (s == 0) {
				h.has_os = 1;
				h.os.name = "Linux 5.X";
				h.mac = "00:11:22:33:44:55";
				h.hostnames = na;
				h.nhostnames = 1;
			} else if (s == 2) {
				h.has_os = 1;
				h.os.name = "Microsoft Windows 11";
				h.mac = "66:77:88:99:AA:BB";
				h.hostnames = nc;
				h.nhostnames = 1;
			}
			hscan1(st, HT(20 + s), "1-1000", NULL, h, &jt);
		}
		text[k] = history_text(st, addrs[k], &jt);
	}
	/* A B C: events at C compared with A's values, prev = B */
	{
		struct ev_list l = host_events(st, addrs[0]);
		int64_t jb = jt.id[1], jc = jt.id[2];
		assert_nev(&l, 4);
		CHECK_SEV(&l, 1, addrs[0], "os_changed", NULL, -1, NULL, "Linux 5.X",
		          "Microsoft Windows 11", jc, jb, HT(22));
		CHECK_SEV(&l, 2, addrs[0], "mac_changed", NULL, -1, NULL, "00:11:22:33:44:55",
		          "66:77:88:99:AA:BB", jc, jb, HT(22));
		CHECK_SEV(&l, 3, addrs[0], "hostname_changed", NULL, -1, NULL, "a.example.test",
		          "c.example.test", jc, jb, HT(22));
		ev_list_free(&l);
	}
	assert_same_history("A B C", text[0], "B A C", text[1]);
	free(text[0]);
	free(text[1]);
}

/*
 * A host that was down says nothing about its names (events.h), even when
 * nmap wrote the target's name into the down host's record: up(a), down(b),
 * up(b) is a hostname change a -> b at the third scan, in any import order.
 */
static void test_history_down_scan_names(void **state)
{
	struct fixture *fx = *state;
	struct store *st = fx->st;
	static const struct rec_hostname na[] = {{"a.example.test", "user"}};
	static const struct rec_hostname nb[] = {{"b.example.test", "user"}};
	const char *addrs[2] = {"198.51.100.20", "198.51.100.21"};
	static const int orders[2][3] = {{0, 1, 2}, {2, 0, 1}};
	struct job_times jt = {.n = 0};
	char *text[2];

	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 3; i++) {
			int s = orders[k][i];
			struct rec_host h =
			    host_rec(addrs[k], s == 1 ? REC_HOST_DOWN : REC_HOST_UP, 0);
			h.hostnames = s == 0 ? na : nb;
			h.nhostnames = 1;
			hscan1(st, HT(30 + s), "1-1000", NULL, h, &jt);
		}
		text[k] = history_text(st, addrs[k], &jt);
	}
	{
		struct ev_list l = host_events(st, addrs[0]);
		int64_t jb = jt.id[1], jc = jt.id[2];
		assert_nev(&l, 4);
		CHECK_SEV(&l, 1, addrs[0], "host_down", NULL, -1, NULL, "up", "down", jb, jt.id[0],
		          HT(31));
		CHECK_SEV(&l, 2, addrs[0], "host_up", NULL, -1, NULL, "down", "up", jc, jb, HT(32));
		CHECK_SEV(&l, 3, addrs[0], "hostname_changed", NULL, -1, NULL, "a.example.test",
		          "b.example.test", jc, jb, HT(32));
		ev_list_free(&l);
	}
	assert_same_history("in order", text[0], "3,1,2", text[1]);
	free(text[0]);
	free(text[1]);
}

/* ---- the group (test_store_contract.c runs it) ---------------------------- */

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_history_out_of_order, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_out_of_order_attributes, setup, teardown),
    cmocka_unit_test_setup_teardown(test_history_down_scan_names, setup, teardown),
};
const struct contract_group contract_history_order = {"history_order", tests,
                                                      sizeof(tests) / sizeof(tests[0])};
