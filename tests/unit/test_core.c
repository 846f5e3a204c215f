/*
 * test_core.c - unit tests of src/core: address/CIDR/MAC/port-list parsing,
 * bounded buffers, time parsing and formatting, SHA-256, record enum names,
 * the XML/HTML escaper.
 * Pure functions only: no database, no files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/addr.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"
#include "core/record.h"
#include "core/timeutil.h"
#include "core/utf8.h"

/* ---- helpers ------------------------------------------------------------ */

/* Key of IPv4 a.b.c.d: ::ffff:a.b.c.d */
static void v4key(unsigned char k[16], int a, int b, int c, int d)
{
	memset(k, 0, 16);
	k[10] = k[11] = 0xff;
	k[12] = (unsigned char)a;
	k[13] = (unsigned char)b;
	k[14] = (unsigned char)c;
	k[15] = (unsigned char)d;
}

static void hexkey(char out[33], const unsigned char k[16])
{
	for (int i = 0; i < 16; i++)
		snprintf(out + i * 2, 3, "%02x", k[i]);
}

/* Compare two keys printing both in hex on mismatch. */
#define assert_key_equal(a, b)                                                                     \
	do {                                                                                       \
		char ha_[33], hb_[33];                                                             \
		hexkey(ha_, (a));                                                                  \
		hexkey(hb_, (b));                                                                  \
		assert_string_equal(ha_, hb_);                                                     \
	} while (0)

/* Parse a port list, format it and compare with `want` ("" for empty). */
static void check_portlist(const char *in, const char *want)
{
	struct portlist pl = {NULL, 0};
	char *s;

	assert_int_equal(portlist_parse(in, &pl), 0);
	s = portlist_format(&pl);
	assert_non_null(s);
	if (strcmp(s, want) != 0)
		print_error("portlist_parse(\"%s\") formats as \"%s\", want \"%s\"\n", in, s, want);
	assert_string_equal(s, want);
	free(s);
	portlist_free(&pl);
}

static void check_portlist_bad(const char *in)
{
	struct portlist pl = {NULL, 0};
	int r = portlist_parse(in, &pl);

	if (r != SDB_EPARSE)
		print_error("portlist_parse(\"%s\") returned %d, want SDB_EPARSE\n", in, r);
	assert_int_equal(r, SDB_EPARSE);
}

/* ---- addr_parse ---------------------------------------------------------- */

static void test_addr_parse_v4(void **state)
{
	char txt[ADDR_TEXT_MAX];
	unsigned char key[16], want[16];
	int fam = 0;

	(void)state;
	assert_int_equal(addr_parse("192.168.1.10", txt, &fam, key), 0);
	assert_string_equal(txt, "192.168.1.10");
	assert_int_equal(fam, 4);
	v4key(want, 192, 168, 1, 10);
	assert_key_equal(key, want);

	assert_int_equal(addr_parse("0.0.0.0", txt, &fam, key), 0);
	assert_string_equal(txt, "0.0.0.0");
	assert_int_equal(addr_parse("255.255.255.255", txt, &fam, key), 0);
	assert_string_equal(txt, "255.255.255.255");

	/* every out pointer is optional */
	assert_int_equal(addr_parse("10.1.2.3", NULL, NULL, NULL), 0);
}

static void test_addr_parse_v6(void **state)
{
	char txt[ADDR_TEXT_MAX];
	unsigned char key[16];
	int fam = 0;

	(void)state;
	assert_int_equal(addr_parse("2001:DB8::0:1", txt, &fam, key), 0);
	assert_string_equal(txt, "2001:db8::1");
	assert_int_equal(fam, 6);
	assert_int_equal(key[0], 0x20);
	assert_int_equal(key[1], 0x01);
	assert_int_equal(key[2], 0x0d);
	assert_int_equal(key[3], 0xb8);
	assert_int_equal(key[15], 0x01);

	assert_int_equal(addr_parse("2001:0db8:0000:0000:0000:0000:0000:0001", txt, &fam, key), 0);
	assert_string_equal(txt, "2001:db8::1");
	assert_int_equal(addr_parse("::1", txt, &fam, key), 0);
	assert_string_equal(txt, "::1");
	assert_int_equal(addr_parse("::", txt, &fam, key), 0);
	assert_string_equal(txt, "::");
	assert_int_equal(addr_parse("FE80:0:0:0:0:0:0:ABCD", txt, &fam, key), 0);
	assert_string_equal(txt, "fe80::abcd");
	/* exactly ADDR_TEXT_MAX - 1 characters: the longest accepted text */
	assert_int_equal(
	    addr_parse("0000:0000:0000:0000:0000:ffff:255.255.255.255", txt, &fam, key), 0);
	assert_string_equal(txt, "::ffff:255.255.255.255");
	assert_int_equal(fam, 6);
}

static void test_addr_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "",         "1.2.3",    "1.2.3.4.5",    "256.1.1.1",  "1.2.3.4 ",       " 1.2.3.4",
	    "abc",      "1.2.3.-4", "01.2.3.4",     "1.2.3.4/24", "2001:db8::1::2", "2001:db8:::1",
	    "12345::1", "g::1",     "1.2.3.4%eth0", "localhost",  "::ffff:1.2.3",   "1..2.3",
	};
	char txt[ADDR_TEXT_MAX];
	char longs[200];
	int fam;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = addr_parse(bad[i], txt, &fam, NULL);
		if (r != SDB_EPARSE)
			print_error("addr_parse(\"%s\") returned %d, want SDB_EPARSE\n", bad[i], r);
		assert_int_equal(r, SDB_EPARSE);
	}
	assert_int_equal(addr_parse(NULL, txt, &fam, NULL), SDB_EPARSE);
	/* too long: 46+ characters, and a very long string */
	assert_int_equal(
	    addr_parse("0000:0000:0000:0000:0000:ffff:255.255.255.2550", txt, &fam, NULL),
	    SDB_EPARSE);
	memset(longs, '1', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';
	assert_int_equal(addr_parse(longs, txt, &fam, NULL), SDB_EPARSE);
	memcpy(longs, "0000:", 5);
	for (size_t i = 0; i + 5 < sizeof(longs) - 1; i += 5)
		memcpy(longs + i, "0000:", 5);
	assert_int_equal(addr_parse(longs, txt, &fam, NULL), SDB_EPARSE);
}

/* ---- addr_cidr_parse ---------------------------------------------------- */

static void test_cidr_v4(void **state)
{
	unsigned char lo[16], hi[16], wlo[16], whi[16];

	(void)state;
	assert_int_equal(addr_cidr_parse("10.0.0.0/8", lo, hi), 0);
	v4key(wlo, 10, 0, 0, 0);
	v4key(whi, 10, 255, 255, 255);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, whi);

	/* host bits set: the block is still 10.0.0.0/8 */
	assert_int_equal(addr_cidr_parse("10.9.8.7/8", lo, hi), 0);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, whi);

	assert_int_equal(addr_cidr_parse("192.168.1.77/26", lo, hi), 0);
	v4key(wlo, 192, 168, 1, 64);
	v4key(whi, 192, 168, 1, 127);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, whi);

	/* /0 of IPv4 covers all of IPv4 and nothing of IPv6 */
	assert_int_equal(addr_cidr_parse("0.0.0.0/0", lo, hi), 0);
	v4key(wlo, 0, 0, 0, 0);
	v4key(whi, 255, 255, 255, 255);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, whi);

	assert_int_equal(addr_cidr_parse("1.2.3.4/32", lo, hi), 0);
	v4key(wlo, 1, 2, 3, 4);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, wlo);

	/* a bare address is a /32 */
	assert_int_equal(addr_cidr_parse("1.2.3.4", lo, hi), 0);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, wlo);

	/* lo <= hi in memcmp order, and keys inside compare inside */
	{
		unsigned char k[16];
		assert_int_equal(addr_cidr_parse("10.0.0.0/8", lo, hi), 0);
		assert_int_equal(addr_parse("10.200.3.4", NULL, NULL, k), 0);
		assert_true(memcmp(lo, k, 16) <= 0 && memcmp(k, hi, 16) <= 0);
		assert_int_equal(addr_parse("11.0.0.0", NULL, NULL, k), 0);
		assert_true(memcmp(k, hi, 16) > 0);
		assert_int_equal(addr_parse("9.255.255.255", NULL, NULL, k), 0);
		assert_true(memcmp(k, lo, 16) < 0);
	}
}

static void test_cidr_v6(void **state)
{
	unsigned char lo[16], hi[16], wlo[16], whi[16];

	(void)state;
	assert_int_equal(addr_cidr_parse("2001:db8::/64", lo, hi), 0);
	memset(wlo, 0, 16);
	wlo[0] = 0x20;
	wlo[1] = 0x01;
	wlo[2] = 0x0d;
	wlo[3] = 0xb8;
	memcpy(whi, wlo, 16);
	memset(whi + 8, 0xff, 8);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, whi);

	assert_int_equal(addr_cidr_parse("::/0", lo, hi), 0);
	memset(wlo, 0, 16);
	memset(whi, 0xff, 16);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, whi);

	assert_int_equal(addr_cidr_parse("2001:db8::1/128", lo, hi), 0);
	assert_int_equal(addr_parse("2001:db8::1", NULL, NULL, wlo), 0);
	assert_key_equal(lo, wlo);
	assert_key_equal(hi, wlo);

	/* a prefix that is not a multiple of 8 */
	assert_int_equal(addr_cidr_parse("2001:db8::/33", lo, hi), 0);
	assert_int_equal(lo[4], 0x00);
	assert_int_equal(hi[4], 0x7f);
	assert_int_equal(hi[5], 0xff);
	assert_int_equal(hi[3], 0xb8);
}

static void test_cidr_bad(void **state)
{
	static const char *const bad[] = {
	    "1.2.3.4/33",
	    "1.2.3.4/",
	    "/8",
	    "1.2.3.4/-1",
	    "1.2.3.4/8x",
	    "1.2.3.4/ 8",
	    "2001:db8::/129",
	    "10.0.0.0/8/8",
	    "10.0.0/8",
	    "garbage/8",
	    "",
	    "/",
	    "1.2.3.4/99999999999999999999",
	};
	unsigned char lo[16], hi[16];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = addr_cidr_parse(bad[i], lo, hi);
		if (r != SDB_EPARSE)
			print_error("addr_cidr_parse(\"%s\") returned %d, want SDB_EPARSE\n",
			            bad[i], r);
		assert_int_equal(r, SDB_EPARSE);
	}
	assert_int_equal(addr_cidr_parse(NULL, lo, hi), SDB_EPARSE);
}

/* ---- addr_mac_parse ------------------------------------------------------- */

static void test_mac(void **state)
{
	static const char *const bad[] = {
	    "",
	    "aa:bb:cc:dd:ee",
	    "aa:bb:cc:dd:ee:ff:00",
	    "gg:bb:cc:dd:ee:ff",
	    "aabb.ccdd.eeff",
	    "aa:bb:cc:dd:ee:f",
	    "aa bb cc dd ee ff",
	    "aa:bb:cc:dd:ee:fff",
	    "aa:bb:cc:dd:eeff ",
	};
	char out[18];

	(void)state;
	assert_int_equal(addr_mac_parse("aa:bb:cc:dd:ee:ff", out), 0);
	assert_string_equal(out, "AA:BB:CC:DD:EE:FF");
	assert_int_equal(addr_mac_parse("00:1A:2b:3C:4d:5E", out), 0);
	assert_string_equal(out, "00:1A:2B:3C:4D:5E");
	assert_int_equal(addr_mac_parse("00-1a-2b-3c-4d-5e", out), 0);
	assert_string_equal(out, "00:1A:2B:3C:4D:5E");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = addr_mac_parse(bad[i], out);
		if (r != SDB_EPARSE)
			print_error("addr_mac_parse(\"%s\") returned %d, want SDB_EPARSE\n", bad[i],
			            r);
		assert_int_equal(r, SDB_EPARSE);
	}
	assert_int_equal(addr_mac_parse(NULL, out), SDB_EPARSE);
}

/* ---- port lists ------------------------------------------------------------ */

static void test_portlist_nmap_style(void **state)
{
	struct portlist pl = {NULL, 0};

	(void)state;
	assert_int_equal(portlist_parse("1-1000,1025,2000-", &pl), 0);
	assert_int_equal(pl.n, 3);
	assert_int_equal(pl.r[0].lo, 1);
	assert_int_equal(pl.r[0].hi, 1000);
	assert_int_equal(pl.r[1].lo, 1025);
	assert_int_equal(pl.r[1].hi, 1025);
	assert_int_equal(pl.r[2].lo, 2000);
	assert_int_equal(pl.r[2].hi, 65535);
	assert_false(portlist_contains(&pl, 0));
	assert_true(portlist_contains(&pl, 1));
	assert_true(portlist_contains(&pl, 500));
	assert_true(portlist_contains(&pl, 1000));
	assert_false(portlist_contains(&pl, 1001));
	assert_false(portlist_contains(&pl, 1024));
	assert_true(portlist_contains(&pl, 1025));
	assert_false(portlist_contains(&pl, 1026));
	assert_false(portlist_contains(&pl, 1999));
	assert_true(portlist_contains(&pl, 2000));
	assert_true(portlist_contains(&pl, 65535));
	assert_int_equal(portlist_count(&pl), 1000 + 1 + (65535 - 2000 + 1));
	portlist_free(&pl);
	assert_null(pl.r);
	assert_int_equal(pl.n, 0);

	check_portlist("1-1000,1025,2000-", "1-1000,1025,2000-65535");
	check_portlist("-100", "1-100");
	check_portlist("1-", "1-65535");
	check_portlist("-", "1-65535");
	check_portlist("0", "0");
	check_portlist("65535", "65535");
	check_portlist("0-65535", "0-65535");
	check_portlist("22", "22");
	check_portlist("80,22,443", "22,80,443");
	/* sorted and merged: overlapping, adjacent, duplicate */
	check_portlist("5-10,1-6,11,20,20", "1-11,20");
	check_portlist("100-200,50-150", "50-200");
	check_portlist("3,1,2", "1-3");
	check_portlist("", "");
}

static void test_portlist_bad(void **state)
{
	(void)state;
	check_portlist_bad("70000");
	check_portlist_bad("65536");
	check_portlist_bad("1-70000");
	check_portlist_bad("10-5");
	check_portlist_bad("abc");
	check_portlist_bad("1,,2");
	check_portlist_bad("1-2-3");
	check_portlist_bad("22 ");
	check_portlist_bad(" 22");
	check_portlist_bad("T:22");
	check_portlist_bad("22;80");
	check_portlist_bad("99999999999999999999999");
	check_portlist_bad(",");
	assert_int_equal(portlist_parse(NULL, &(struct portlist){NULL, 0}), SDB_EPARSE);
}

static void test_portlist_merge(void **state)
{
	struct portlist a = {NULL, 0}, b = {NULL, 0}, empty = {NULL, 0};
	char *s;

	(void)state;
	assert_int_equal(portlist_parse("1-10", &a), 0);
	assert_int_equal(portlist_parse("5-20,30,11", &b), 0);
	assert_int_equal(portlist_merge(&a, &b), 0);
	s = portlist_format(&a);
	assert_non_null(s);
	assert_string_equal(s, "1-20,30");
	free(s);
	assert_int_equal(portlist_count(&a), 21);
	/* the merged-in list is unchanged */
	s = portlist_format(&b);
	assert_string_equal(s, "5-20,30");
	free(s);

	/* merging into an empty list, and merging an empty list */
	assert_int_equal(portlist_merge(&empty, &b), 0);
	s = portlist_format(&empty);
	assert_string_equal(s, "5-20,30");
	free(s);
	portlist_free(&b);
	assert_int_equal(portlist_merge(&a, &b), 0);
	s = portlist_format(&a);
	assert_string_equal(s, "1-20,30");
	free(s);

	/* many merges: growth path */
	for (int p = 100; p < 400; p += 2) {
		struct portlist one = {NULL, 0};
		char txt[16];
		snprintf(txt, sizeof(txt), "%d", p);
		assert_int_equal(portlist_parse(txt, &one), 0);
		assert_int_equal(portlist_merge(&a, &one), 0);
		portlist_free(&one);
	}
	assert_int_equal(portlist_count(&a), 21 + 150);
	assert_true(portlist_contains(&a, 398));
	assert_false(portlist_contains(&a, 399));
	portlist_free(&a);
	portlist_free(&empty);
}

static void test_port_spec(void **state)
{
	static const char *const bad[] = {"443/xyz", "70000",    "/tcp", "",       "443/",
	                                  "tcp",     "443/TCP ", "-1",   "443tcp", "443/tcp/udp"};
	int port = 0, proto = 0;

	(void)state;
	assert_int_equal(addr_port_spec_parse("443", &port, &proto), 0);
	assert_int_equal(port, 443);
	assert_int_equal(proto, -1);
	assert_int_equal(addr_port_spec_parse("443/tcp", &port, &proto), 0);
	assert_int_equal(port, 443);
	assert_int_equal(proto, REC_PROTO_TCP);
	assert_int_equal(addr_port_spec_parse("53/udp", &port, &proto), 0);
	assert_int_equal(port, 53);
	assert_int_equal(proto, REC_PROTO_UDP);
	assert_int_equal(addr_port_spec_parse("0", &port, &proto), 0);
	assert_int_equal(port, 0);
	assert_int_equal(addr_port_spec_parse("65535/sctp", &port, &proto), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(proto, REC_PROTO_SCTP);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = addr_port_spec_parse(bad[i], &port, &proto);
		if (r != SDB_EPARSE)
			print_error("addr_port_spec_parse(\"%s\") returned %d, want SDB_EPARSE\n",
			            bad[i], r);
		assert_int_equal(r, SDB_EPARSE);
	}
	assert_int_equal(addr_port_spec_parse(NULL, &port, &proto), SDB_EPARSE);
}

/* ---- bounded buffers ------------------------------------------------------- */

static void test_buf_max(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_append_str(&b, "12345"), 0);
	assert_int_equal(buf_append(&b, "678", 3), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_str(&b), "12345678");
	/* one past max fails and leaves the buffer as it was */
	assert_int_equal(buf_append_char(&b, '9'), SDB_ETOOBIG);
	assert_int_equal(buf_append_str(&b, "9"), SDB_ETOOBIG);
	assert_int_equal(buf_printf(&b, "%d", 9), SDB_ETOOBIG);
	assert_int_equal(b.len, 8);
	assert_string_equal(buf_str(&b), "12345678");
	/* appending nothing is fine at max */
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_int_equal(b.len, 8);

	buf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_printf(&b, "%s-%d", "ab", 42), 0);
	assert_string_equal(buf_str(&b), "ab-42");
	/* a printf that would cross max fails and changes nothing */
	assert_int_equal(buf_printf(&b, "%s", "xyzw"), SDB_ETOOBIG);
	assert_string_equal(buf_str(&b), "ab-42");
	assert_int_equal(b.len, 5);
	/* a huge append (size_t overflow bait) fails cleanly */
	assert_int_equal(buf_append(&b, "x", SIZE_MAX), SDB_ETOOBIG);
	assert_int_equal(buf_append(&b, "x", SIZE_MAX - 2), SDB_ETOOBIG);
	assert_string_equal(buf_str(&b), "ab-42");
	buf_free(&b);
	assert_null(b.data);

	/* max 0: nothing fits but "" */
	buf_init(&b, 0);
	assert_int_equal(buf_append_char(&b, 'x'), SDB_ETOOBIG);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	buf_free(&b);
}

static void test_buf_grow_and_steal(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 100000);
	for (int i = 0; i < 10000; i++)
		assert_int_equal(buf_append_char(&b, (char)('a' + i % 26)), 0);
	assert_int_equal(b.len, 10000);
	assert_int_equal(strlen(buf_str(&b)), 10000);
	assert_int_equal(buf_str(&b)[9999], 'a' + 9999 % 26);
	assert_true(b.cap <= b.max + 1);
	s = buf_steal(&b);
	assert_non_null(s);
	assert_int_equal(strlen(s), 10000);
	free(s);
	assert_int_equal(b.len, 0);
	assert_string_equal(buf_str(&b), "");
	/* stealing an empty buffer gives "" */
	s = buf_steal(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	/* binary bytes including NUL are kept */
	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	assert_int_equal(b.len, 3);
	assert_int_equal(memcmp(b.data, "a\0b", 4), 0);
	buf_free(&b);
}

static void test_alloc_helpers(void **state)
{
	char dst[4];

	(void)state;
	assert_null(sdb_reallocarray(NULL, SIZE_MAX / 2, 4));
	assert_null(sdb_strdup(NULL));
	assert_null(sdb_strndup(NULL, 3));
	assert_int_equal(sdb_strlcpy(dst, "abcdef", sizeof(dst)), 6);
	assert_string_equal(dst, "abc");
	assert_int_equal(sdb_strlcpy(dst, "ab", sizeof(dst)), 2);
	assert_string_equal(dst, "ab");
	{
		char *d = sdb_strndup("abcdef", 2);
		assert_string_equal(d, "ab");
		free(d);
	}
}

/* ---- time ----------------------------------------------------------------- */

static void test_time_duration(void **state)
{
	static const struct {
		const char *s;
		int64_t want;
	} good[] = {
	    {"90s", 90},
	    {"15m", 900},
	    {"12h", 43200},
	    {"7d", 604800},
	    {"2w", 1209600},
	    {"10", 10},
	    {"0d", 0},
	    {"90d", 90 * 86400},
	    /* m is minutes; months are "mo" (30 days), years "y" (365 days) */
	    {"6m", 360},
	    {"1mo", 30 * 86400},
	    {"3mo", 90 * 86400},
	    {"1y", 365 * 86400},
	    {"100y", 100LL * 365 * 86400},
	};
	static const char *const bad[] = {"",    "d",   "-5d", "5x",   "5dd",
	                                  " 5d", "5 d", "5D",  "1.5h", "99999999999999999999d",
	                                  "5ms", "5M",  "1yr", "101y", "1300mo",
	                                  "mo",  "5mon"};
	int64_t v;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = -1;
		assert_int_equal(time_parse_duration(good[i].s, &v), 0);
		if (v != good[i].want)
			print_error("time_parse_duration(\"%s\") = %lld, want %lld\n", good[i].s,
			            (long long)v, (long long)good[i].want);
		assert_int_equal(v, good[i].want);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = time_parse_duration(bad[i], &v);
		if (r != SDB_EPARSE)
			print_error("time_parse_duration(\"%s\") returned %d, want SDB_EPARSE\n",
			            bad[i], r);
		assert_int_equal(r, SDB_EPARSE);
	}
	assert_int_equal(time_parse_duration(NULL, &v), SDB_EPARSE);
}

static void test_time_since(void **state)
{
	const int64_t now = 1800000000;
	int64_t v;

	(void)state;
	assert_int_equal(time_parse_since("7d", now, &v), 0);
	assert_int_equal(v, now - 7 * 86400);
	assert_int_equal(time_parse_since("90d", now, &v), 0);
	assert_int_equal(v, now - 90 * 86400);
	assert_int_equal(time_parse_since("2026-11-01", now, &v), 0);
	assert_int_equal(v, 1793491200);
	assert_int_equal(time_parse_since("2026-11-01T10:00:00Z", now, &v), 0);
	assert_int_equal(v, 1793527200);
	assert_int_equal(time_parse_since("2026-11-01T10:00:00", now, &v), 0);
	assert_int_equal(v, 1793527200);
	assert_int_equal(time_parse_since("1970-01-01", now, &v), 0);
	assert_int_equal(v, 0);

	assert_int_equal(time_parse_since("2028-02-29", now, &v), 0); /* a leap day */
	assert_int_equal(v, 1835395200);
	assert_int_equal(time_parse_since("6m", now, &v), 0);
	assert_int_equal(v, now - 360);

	/* dates that do not exist, which strptime() alone lets through */
	assert_int_equal(time_parse_since("2026-02-31", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-02-29", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-04-31", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-02-30T10:00:00Z", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-11-01T23:60:00Z", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-11-01T24:00:00Z", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("yesterday", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-13-01", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-11-01T25:00:00Z", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-11-01 junk", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("2026-11-01T10:00:00Zjunk", now, &v), SDB_EPARSE);
	assert_int_equal(time_parse_since("", now, &v), SDB_EPARSE);
}

static void test_time_format(void **state)
{
	char out[TIME_ISO_LEN];
	int64_t back;

	(void)state;
	time_format_iso(1247268210, out);
	assert_string_equal(out, "2009-07-10T23:23:30Z");
	time_format_iso(1793527200, out);
	assert_string_equal(out, "2026-11-01T10:00:00Z");
	memset(out, 'x', sizeof(out));
	time_format_iso(0, out);
	assert_string_equal(out, "");
	/* round trip through the parser */
	time_format_iso(1700000123, out);
	assert_int_equal(time_parse_since(out, 0, &back), 0);
	assert_int_equal(back, 1700000123);
	/* the last second that fits "YYYY-..." */
	time_format_iso(253402300799LL, out);
	assert_string_equal(out, "9999-12-31T23:59:59Z");
	/*
	 * Years past 9999 do not fit out[TIME_ISO_LEN]: whatever is written
	 * must still be a NUL-terminated string inside the buffer ("" is
	 * fine).  nmap XML times are untrusted and may be this large.
	 */
	{
		static const int64_t big[] = {253402300800LL, 999999999990LL, 67767976233316800LL,
		                              INT64_MAX};
		for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
			memset(out, 'X', sizeof(out));
			time_format_iso(big[i], out);
			if (!memchr(out, '\0', sizeof(out)))
				print_error("time_format_iso(%lld) left out[%d] without a NUL: "
				            "%.*s\n",
				            (long long)big[i], TIME_ISO_LEN, TIME_ISO_LEN, out);
			assert_non_null(memchr(out, '\0', sizeof(out)));
			assert_true(strlen(out) == 0 || strlen(out) == TIME_ISO_LEN - 1);
		}
	}
	/* now and the monotonic clock are sane */
	assert_true(time_now() > 1600000000);
	{
		double a = time_mono(), b = time_mono();
		assert_true(b >= a);
	}
}

/* ---- hash ------------------------------------------------------------------ */

static void test_hash(void **state)
{
	char out[HASH_HEX_LEN + 1], out2[HASH_HEX_LEN + 1];
	struct hash_ctx *h;

	(void)state;
	assert_int_equal(hash_string("abc", out), 0);
	assert_string_equal(out,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(hash_string("", out), 0);
	assert_string_equal(out,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_int_equal(
	    hash_string("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", out), 0);
	assert_string_equal(out,
	                    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

	/* streaming in pieces equals one shot */
	h = hash_new();
	assert_non_null(h);
	assert_int_equal(hash_update(h, "a", 1), 0);
	assert_int_equal(hash_update(h, "", 0), 0);
	assert_int_equal(hash_update(h, "bc", 2), 0);
	assert_int_equal(hash_final(h, out2), 0);
	assert_string_equal(out2,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	/* abandoning a hash is fine */
	h = hash_new();
	assert_non_null(h);
	assert_int_equal(hash_update(h, "x", 1), 0);
	hash_free(h);
	hash_free(NULL);
}

/* ---- record enumeration names -------------------------------------------- */

static void test_record_names(void **state)
{
	enum rec_port_state ps;
	enum rec_proto pr;
	enum rec_host_status hs;

	(void)state;
	for (int i = 0; i < REC_PORT__COUNT; i++) {
		const char *n = rec_port_state_name((enum rec_port_state)i);
		assert_int_equal(rec_port_state_parse(n, &ps), 0);
		assert_int_equal(ps, i);
	}
	for (int i = 0; i < REC_PROTO__COUNT; i++) {
		const char *n = rec_proto_name((enum rec_proto)i);
		assert_int_equal(rec_proto_parse(n, &pr), 0);
		assert_int_equal(pr, i);
	}
	for (int i = REC_HOST_UNKNOWN; i <= REC_HOST_SKIPPED; i++) {
		const char *n = rec_host_status_name((enum rec_host_status)i);
		assert_int_equal(rec_host_status_parse(n, &hs), 0);
		assert_int_equal(hs, i);
	}
	assert_string_equal(rec_port_state_name(REC_PORT_OPEN_FILTERED), "open|filtered");
	assert_string_equal(rec_port_state_name(REC_PORT_CLOSED_FILTERED), "closed|filtered");
	assert_string_equal(rec_proto_name(REC_PROTO_SCTP), "sctp");
	assert_int_equal(rec_port_state_parse("OPEN", &ps), SDB_EPARSE);
	assert_int_equal(rec_port_state_parse("open ", &ps), SDB_EPARSE);
	assert_int_equal(rec_port_state_parse(NULL, &ps), SDB_EPARSE);
	assert_int_equal(rec_proto_parse("icmp", &pr), SDB_EPARSE);
	assert_int_equal(rec_host_status_parse("UP", &hs), SDB_EPARSE);
	/* out-of-range values have a harmless name */
	assert_non_null(rec_port_state_name((enum rec_port_state)99));
	assert_non_null(rec_proto_name((enum rec_proto)99));
	assert_non_null(sdb_strerror(SDB_EPARSE));
	assert_non_null(sdb_strerror(-9999));
}

/* utf8_xml_text(s) as a string (free()). */
static char *xml_escaped(const char *s)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);

	assert_non_null(f);
	utf8_xml_text(f, s);
	assert_int_equal(fclose(f), 0);
	return out;
}

static void test_utf8_xml_text(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"plain é ü 日本", "plain é ü 日本"},
	    {"<a href=\"x\">&amp;</a> ]]>",
	     "&lt;a href=&quot;x&quot;&gt;&amp;amp;&lt;/a&gt; ]]&gt;"},
	    {"tab\tlf\ncr\r", "tab&#x9;lf&#xa;cr&#xd;"},
	    {"bell\x07"
	     "esc\x1b[0m\x01\x7f",
	     "bell?esc?[0m?\x7f"},
	    {"bad \xff \xc3 \xed\xa0\x80 end", "bad \xef\xbf\xbd \xef\xbf\xbd "
	                                       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end"},
	    {"nonchar \xef\xbf\xbe \xef\xbf\xbf", "nonchar ? ?"},
	    {"", ""},
	};
	char *out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = xml_escaped(cases[i].in);
		assert_string_equal(out, cases[i].out);
		free(out);
	}
	{
		char *buf = NULL;
		size_t n = 0;
		FILE *f = open_memstream(&buf, &n);

		assert_non_null(f);
		utf8_xml_attr(f, "a", "x\"y");
		utf8_xml_attr(f, "b", NULL);
		assert_int_equal(fclose(f), 0);
		assert_string_equal(buf, " a=\"x&quot;y\"");
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_parse_v4),
	    cmocka_unit_test(test_addr_parse_v6),
	    cmocka_unit_test(test_addr_parse_bad),
	    cmocka_unit_test(test_cidr_v4),
	    cmocka_unit_test(test_cidr_v6),
	    cmocka_unit_test(test_cidr_bad),
	    cmocka_unit_test(test_mac),
	    cmocka_unit_test(test_portlist_nmap_style),
	    cmocka_unit_test(test_portlist_bad),
	    cmocka_unit_test(test_portlist_merge),
	    cmocka_unit_test(test_port_spec),
	    cmocka_unit_test(test_buf_max),
	    cmocka_unit_test(test_buf_grow_and_steal),
	    cmocka_unit_test(test_alloc_helpers),
	    cmocka_unit_test(test_time_duration),
	    cmocka_unit_test(test_time_since),
	    cmocka_unit_test(test_time_format),
	    cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_record_names),
	    cmocka_unit_test(test_utf8_xml_text),
	};
	size_t total = sizeof(tests) / sizeof(tests[0]);
	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	printf("%zu passed, %d failed\n", total - (size_t)(failed > 0 ? failed : 0), failed);
	return failed ? 1 : 0;
}
