/*
 * test_port_state_doc.c - the host_state.ports document
 * (store_json.c): what store__port_state_doc writes, store__port_state_read
 * reads back the same -- strings with quotes, backslashes, control bytes and
 * non-ASCII, nulls, 0 times, trailing nulls left out -- also as PostgreSQL's
 * jsonb prints it (spaces, other escapes); and hostile documents are refused
 * whole, never half read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "history/events.h"
#include "store/store_int.h"

static void port(struct ev_host *h, enum rec_proto proto, int num, enum rec_port_state st,
                 const char *service, const char *product, int64_t job, int64_t at, int64_t first,
                 int64_t last, int64_t closed)
{
	struct ev_port p;

	memset(&p, 0, sizeof(p));
	p.proto = proto;
	p.port = num;
	p.state = st;
	p.reason = "syn-ack";
	p.service = (char *)service;
	p.product = (char *)product;
	p.method = "probed";
	p.job_id = job;
	p.seen_at = at;
	p.first_seen = first;
	p.last_seen = last;
	p.closed_at = closed;
	assert_int_equal(ev_host_put_port(h, &p), 0);
}

static void same_str(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void same_host(const struct ev_host *a, const struct ev_host *b)
{
	assert_int_equal(a->nports, b->nports);
	for (size_t i = 0; i < a->nports; i++) {
		const struct ev_port *x = &a->ports[i], *y = &b->ports[i];
		assert_int_equal(x->proto, y->proto);
		assert_int_equal(x->port, y->port);
		assert_int_equal(x->state, y->state);
		same_str(x->reason, y->reason);
		same_str(x->service, y->service);
		same_str(x->product, y->product);
		same_str(x->version, y->version);
		same_str(x->extrainfo, y->extrainfo);
		same_str(x->tunnel, y->tunnel);
		same_str(x->method, y->method);
		assert_int_equal(x->job_id, y->job_id);
		assert_int_equal(x->seen_at, y->seen_at);
		assert_int_equal(x->first_seen, y->first_seen);
		assert_int_equal(x->last_seen, y->last_seen);
		assert_int_equal(x->closed_at, y->closed_at);
	}
}

static int read_doc(const char *doc, struct ev_host *out)
{
	ev_host_init(out);
	return store__port_state_read(doc, strlen(doc), out);
}

static void test_round_trip(void **state)
{
	struct ev_host h, back;
	struct buf b;

	(void)state;
	ev_host_init(&h);
	port(&h, REC_PROTO_TCP, 22, REC_PORT_OPEN, "ssh", "Open\"SSH\\ \x01\x1f tab\t", 7,
	     1700000000, 1690000000, 1700000000, 0);
	port(&h, REC_PROTO_UDP, 53, REC_PORT_OPEN_FILTERED, NULL, NULL, 0, 5, 0, 0, 0);
	port(&h, REC_PROTO_SCTP, 65535, REC_PORT_CLOSED, "caf\xc3\xa9 \xf0\x9f\x94\x92", "", 9,
	     1700000100, 1690000000, 1700000000, 1700000100);
	port(&h, REC_PROTO_IP, 0, REC_PORT_FILTERED, NULL, NULL, 1, 0, 0, 0, 0);
	buf_init(&b, 1 << 20);
	assert_int_equal(store__port_state_doc(&h, &b), 0);
	/* control bytes are escaped: JSON has none raw */
	for (size_t i = 0; i < b.len; i++)
		assert_true((unsigned char)b.data[i] >= 0x20);
	/* the nulls that end a port's array are left out */
	assert_non_null(strstr(buf_str(&b), "[\"udp\",53,\"open|filtered\",null,5,null,null,"
	                                    "null,\"syn-ack\",\"probed\"]"));
	assert_non_null(strstr(buf_str(&b), "[\"ip\",0,\"filtered\",1,0,null,null,null,"
	                                    "\"syn-ack\",\"probed\"]"));
	assert_int_equal(read_doc(buf_str(&b), &back), 0);
	same_host(&h, &back);
	ev_host_free(&back);

	/* no ports */
	ev_host_free(&h);
	ev_host_init(&h);
	buf_reset(&b);
	assert_int_equal(store__port_state_doc(&h, &b), 0);
	assert_string_equal(buf_str(&b), "[]");
	assert_int_equal(read_doc(" [ ] ", &back), 0);
	assert_int_equal(back.nports, 0);
	ev_host_free(&back);
	buf_free(&b);
	ev_host_free(&h);
}

/* The same document as PostgreSQL's jsonb prints it: spaces after commas,
 * escapes it chooses (\n, \u00e9, a surrogate pair, \/). */
static void test_jsonb_text(void **state)
{
	struct ev_host h;
	const char *doc =
	    "[[\"tcp\", 80, \"open\", 3, 1700000000, 1690000000, 1700000000, null, \"syn-ack\","
	    " \"table\", \"http\", \"a\\nb\\/c \\u00e9 \\ud83d\\udd12\"],\n"
	    "\t[\"tcp\", 443, \"closed\", null, 17]]";

	(void)state;
	assert_int_equal(read_doc(doc, &h), 0);
	assert_int_equal(h.nports, 2);
	assert_int_equal(h.ports[0].port, 80);
	assert_string_equal(h.ports[0].product, "a\nb/c \xc3\xa9 \xf0\x9f\x94\x92");
	assert_int_equal(h.ports[0].job_id, 3);
	assert_int_equal(h.ports[0].first_seen, 1690000000);
	assert_int_equal(h.ports[1].state, REC_PORT_CLOSED);
	assert_null(h.ports[1].reason);
	assert_int_equal(h.ports[1].job_id, 0);
	assert_int_equal(h.ports[1].seen_at, 17);
	ev_host_free(&h);
}

static void test_hostile(void **state)
{
	static const char *const bad[] = {
	    "",
	    "null",
	    "{}",
	    "[",
	    "[[]]",
	    /* fewer than the five required elements, more than fifteen */
	    "[[\"tcp\",22,\"open\",1]]",
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,null,null,null,null,null,null,null,null]]",
	    /* unknown protocol / state, port out of range, fraction, exponent */
	    "[[\"icmp\",22,\"open\",1,2]]",
	    "[[\"tcp\",22,\"ajar\",1,2]]",
	    "[[\"tcp\",65536,\"open\",1,2]]",
	    "[[\"tcp\",-1,\"open\",1,2]]",
	    "[[\"tcp\",22.5,\"open\",1,2]]",
	    "[[\"tcp\",22,\"open\",1,2e3]]",
	    /* null where a value is required; a 0 where null stands for none */
	    "[[null,22,\"open\",1,2]]",
	    "[[\"tcp\",22,\"open\",1,null]]",
	    "[[\"tcp\",22,\"open\",0,2]]",
	    "[[\"tcp\",22,\"open\",1,2,0]]",
	    /* a number where a string goes, a string where a number goes */
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,5]]",
	    "[[\"tcp\",\"22\",\"open\",1,2]]",
	    "[[\"tcp\",22,\"open\",1,2,\"3\"]]",
	    /* broken strings: raw control byte, bad escape, lone surrogates, NUL */
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,\"a\nb\"]]",
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,\"a\\qb\"]]",
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,\"\\ud800\"]]",
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,\"\\udc00\"]]",
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,\"\\u0000\"]]",
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,\"\\u12\"]]",
	    "[[\"tcp\",22,\"open\",1,2,null,null,null,\"abc",
	    /* overflow, trailing garbage, a second document, trailing commas */
	    "[[\"tcp\",22,\"open\",99999999999999999999,2]]",
	    "[[\"tcp\",22,\"open\",1,2]] x",
	    "[][]",
	    "[[\"tcp\",22,\"open\",1,2],]",
	    "[[\"tcp\",22,\"open\",1,2,]]",
	};
	struct ev_host h;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = read_doc(bad[i], &h);
		if (r != SDB_EDB)
			print_error("document %zu was not refused: %s\n", i, bad[i]);
		assert_int_equal(r, SDB_EDB);
		ev_host_free(&h);
	}
	/* a document whose length excludes its end is cut, not read on */
	{
		const char *doc = "[[\"tcp\",22,\"open\",1,2,null,null,null,\"syn-ack\"]]";
		ev_host_init(&h);
		assert_int_equal(store__port_state_read(doc, strlen(doc) - 1, &h), SDB_EDB);
		ev_host_free(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_jsonb_text),
	    cmocka_unit_test(test_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
