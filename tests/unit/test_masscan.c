/*
 * test_masscan.c - the masscan and zmap parsers (ingest/masscan.h) and
 * format detection (ingest/ingest_detect.h): the real fixtures of
 * tests/data/masscan and tests/data/zmap (made by masscan 1.3.2 and zmap
 * 2.1.1 in a test network namespace) read into the records expected, the
 * same whatever the chunking; entries regrouped per host; the probed scope
 * (reported ports, --ports); hostile input refused with FILE:LINE[:COL].
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "ingest/ingest_detect.h"
#include "ingest/masscan.h"
#include "testutil.h"

/* ---- a sink that writes what it gets as text ---------------------------- */

struct log {
	struct buf b;
	int warnings;
	int accept_truncated;
};

static int on_run(void *ctx, const struct rec_run *r)
{
	struct log *lg = ctx;

	buf_printf(&lg->b, "run %s start=%lld\n", r->scanner, (long long)r->start);
	return 0;
}

static int on_si(void *ctx, const struct rec_scaninfo *si)
{
	struct log *lg = ctx;

	buf_printf(&lg->b, "scope %s %s\n", rec_proto_name(si->proto), si->services);
	return 0;
}

static int on_host(void *ctx, const struct rec_host *h)
{
	struct log *lg = ctx;

	buf_printf(&lg->b, "host %s v%d %s\n", h->addr, h->family, rec_host_status_name(h->status));
	for (size_t i = 0; i < h->nports; i++) {
		const struct rec_port *p = &h->ports[i];
		buf_printf(&lg->b, " %d/%s %s %s %d%s%s\n", p->port, rec_proto_name(p->proto),
		           rec_port_state_name(p->state), p->reason ? p->reason : "-",
		           p->reason_ttl, p->has_service ? " svc=" : "",
		           p->has_service ? p->service.name : "");
		for (size_t k = 0; k < p->nscripts; k++)
			buf_printf(&lg->b, "  %s=%s\n", p->scripts[k].id, p->scripts[k].output);
	}
	return 0;
}

static int on_end(void *ctx, const struct rec_runstats *rs)
{
	struct log *lg = ctx;

	buf_printf(&lg->b, "end up=%ld truncated=%d\n", rs->hosts_up, rs->truncated);
	return 0;
}

static int on_warn(void *ctx, const char *msg)
{
	struct log *lg = ctx;

	(void)msg;
	lg->warnings++;
	return 0;
}

static char errbuf[1024];

/* Parse text (detected from its content) fed `chunk` bytes at a time (0:
 * all at once) into lg; 0 or the error (message in errbuf). */
static int parse(const char *name, const char *text, size_t len, size_t chunk, const char *ports,
                 struct log *lg)
{
	struct ingest_sink sink = {.ctx = lg,
	                           .run_begin = on_run,
	                           .scaninfo = on_si,
	                           .host = on_host,
	                           .run_end = on_end,
	                           .warning = on_warn,
	                           .accept_truncated = lg->accept_truncated};
	enum ingest_format f =
	    ingest_detect(text, len < INGEST_DETECT_HEAD ? len : INGEST_DETECT_HEAD);
	struct ms_parser *p;
	size_t off = 0;
	int r = 0;

	errbuf[0] = '\0';
	if (ms_parser_new(f, &sink, name, ports, &p) != 0)
		return -100 - (int)f;
	if (!chunk)
		chunk = len ? len : 1;
	while (r == 0 && off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		r = ms_parser_feed(p, text + off, n, 0);
		off += n;
	}
	if (r == 0)
		r = ms_parser_feed(p, NULL, 0, 1);
	snprintf(errbuf, sizeof(errbuf), "%s", ms_parser_errmsg(p));
	ms_parser_free(p);
	return r;
}

static void log_init(struct log *lg)
{
	memset(lg, 0, sizeof(*lg));
	buf_init(&lg->b, (size_t)64 << 20);
}

/* tests/data/<dir>/<file>, read whole. */
static char *fixture(const char *dir, const char *file, size_t *len)
{
	char sub[4096], *path, *data;

	snprintf(sub, sizeof(sub), "%s/../%s", tu_nmap_data_dir(), dir);
	path = tu_path(sub, file);
	if (tu_read_file(path, &data, len) != 0)
		TU_SKIP("cannot read %s", path);
	free(path);
	return data;
}

/* ---- the real fixtures ---------------------------------------------------- */

static void expect_file(const char *dir, const char *file, enum ingest_format fmt, const char *want)
{
	size_t len;
	char *text = fixture(dir, file, &len);
	struct log lg;
	char *first;

	assert_int_equal(ingest_detect(text, len), fmt);
	log_init(&lg);
	if (parse(file, text, len, 0, NULL, &lg) != 0)
		print_error("%s: %s\n", file, errbuf);
	if (!strstr(buf_str(&lg.b), want))
		print_error("%s: got\n%s\nwant\n%s\n", file, buf_str(&lg.b), want);
	assert_non_null(strstr(buf_str(&lg.b), want));
	/* the same records fed one byte at a time */
	first = buf_steal(&lg.b);
	log_init(&lg);
	assert_int_equal(parse(file, text, len, 1, NULL, &lg), 0);
	assert_string_equal(buf_str(&lg.b), first);
	free(first);
	buf_free(&lg.b);
	free(text);
}

static void test_masscan_fixtures(void **state)
{
	static const char *const files[][2] = {{"scan1.xml", "1796689103"},
	                                       {"scan1.json", "1796689109"},
	                                       {"scan1.list", "1796689112"},
	                                       {"scan1.ndjson", "1796689130"}};
	const enum ingest_format fmts[] = {INGEST_MASSCAN_XML, INGEST_MASSCAN_JSON,
	                                   INGEST_MASSCAN_LIST, INGEST_MASSCAN_NDJSON};
	char want[512];

	(void)state;
	for (int i = 0; i < 4; i++) {
		/* (-oL says no reason nor TTL) */
		const char *why = fmts[i] == INGEST_MASSCAN_LIST ? "- -1" : "syn-ack 64";
		snprintf(want, sizeof(want),
		         "run masscan start=%s\nscope tcp 22,80\nhost 10.77.0.2 v4 up\n"
		         " 22/tcp open %s\n 80/tcp open %s\nend up=1 truncated=0\n",
		         files[i][1], why, why);
		expect_file("masscan", files[i][0], fmts[i], want);
	}
}

/* masscan writes "ipv4" for an IPv6 address: the address says its family. */
static void test_masscan_ipv6(void **state)
{
	const char *want = "scope tcp 22,80,8080\nhost 10.77.0.2 v4 up\n 22/tcp open syn-ack 64\n"
	                   " 80/tcp open syn-ack 64\n 8080/tcp open syn-ack 64\n"
	                   "host fd77::2 v6 up\n 8080/tcp open syn-ack 64\nend up=2";

	(void)state;
	expect_file("masscan", "mixed-v6.xml", INGEST_MASSCAN_XML, want);
	expect_file("masscan", "mixed-v6.json", INGEST_MASSCAN_JSON, want);
	expect_file("masscan", "mixed-v6.ndjson", INGEST_MASSCAN_NDJSON, want);
}

static void test_masscan_banners(void **state)
{
	(void)state;
	expect_file("masscan", "banners.xml", INGEST_MASSCAN_XML,
	            " 22/tcp open syn-ack 64 svc=ssh\n  banner-ssh=SSH-2.0-OpenSSH_7.4 "
	            "scandb-fixture\n 80/tcp open syn-ack 64 svc=http\n  banner-http=HTTP/1.0 200 "
	            "OK\r\nServer: scandb-test/1.0\r\nContent-Type: text/html\r\n\r\n\n"
	            "  banner-title=scandb fixture\n");
	expect_file("masscan", "banners.list", INGEST_MASSCAN_LIST,
	            "  banner-http=HTTP/1.0 200 OK\\x0d\\x0aServer: scandb-test/1.0\\x0d\\x0a\\x0d"
	            "\\x0a\n  banner-title=scandb fixture\n");
	/* trailing comma, no closing ']' */
	expect_file("masscan", "banners.json", INGEST_MASSCAN_JSON,
	            " 80/tcp open syn-ack 64\n  banner-title=scandb fixture\nend up=1");
	expect_file("masscan", "banners.ndjson", INGEST_MASSCAN_NDJSON,
	            " 22/tcp open syn-ack 64 svc=ssh\n  banner-ssh=SSH-2.0-OpenSSH_7.4");
}

static void test_zmap_fixtures(void **state)
{
	(void)state;
	expect_file("zmap", "zmap80.csv", INGEST_ZMAP_CSV,
	            "run zmap start=1796689441\nscope tcp 80\nhost 10.77.0.2 v4 up\n"
	            " 80/tcp open syn-ack 64\nend up=1");
	expect_file("zmap", "zmap443.csv", INGEST_ZMAP_CSV, " 443/tcp closed reset 64\n");
	expect_file("zmap", "zmap443.json", INGEST_ZMAP_JSON,
	            "run zmap start=1796689450\nscope tcp 443\nhost 10.77.0.2 v4 up\n"
	            " 443/tcp closed reset -1\n");
}

/* ---- regrouping and scope -------------------------------------------------- */

static void test_regroup_any_order(void **state)
{
	const char *text = "#masscan\n"
	                   "open tcp 443 10.0.0.2 1700000003\n"
	                   "open tcp 22 10.0.0.1 1700000001\n"
	                   "open udp 53 10.0.0.2 1700000002\n"
	                   "open tcp 80 10.0.0.1 1700000004\n"
	                   "banner tcp 8080 10.0.0.1 1700000005 http HTTP/1.1 200\n"
	                   "closed tcp 22 10.0.0.1 1700000006\n"
	                   "open tcp 22 10.0.0.2 1700000000\n";
	struct log lg;

	(void)state;
	log_init(&lg);
	assert_int_equal(parse("t", text, strlen(text), 3, NULL, &lg), 0);
	assert_string_equal(buf_str(&lg.b),
	                    "run masscan start=1700000000\n"
	                    "scope tcp 22,80,443,8080\nscope udp 53\n"
	                    "host 10.0.0.2 v4 up\n 22/tcp open - -1\n 443/tcp open - -1\n"
	                    " 53/udp open - -1\n"
	                    "host 10.0.0.1 v4 up\n 22/tcp closed - -1\n 80/tcp open - -1\n"
	                    " 8080/tcp open - -1 svc=http\n  banner-http=HTTP/1.1 200\n"
	                    "end up=2 truncated=0\n");
	buf_free(&lg.b);
}

/* A port listed again and again is one port, its state the last one. */
static void test_repeated_lines(void **state)
{
	struct buf in;
	struct log lg;

	(void)state;
	buf_init(&in, (size_t)64 << 20);
	for (int i = 0; i < 100000; i++)
		buf_printf(&in, "%s tcp %d 10.0.0.%d 1700000000\n", i == 99998 ? "closed" : "open",
		           80 + i % 2, i % 3);
	log_init(&lg);
	assert_int_equal(parse("t", buf_str(&in), in.len, 65536, NULL, &lg), 0);
	assert_string_equal(buf_str(&lg.b), "run masscan start=1700000000\nscope tcp 80-81\n"
	                                    "host 10.0.0.0 v4 up\n 80/tcp open - -1\n"
	                                    " 81/tcp open - -1\nhost 10.0.0.1 v4 up\n"
	                                    " 80/tcp open - -1\n 81/tcp open - -1\n"
	                                    "host 10.0.0.2 v4 up\n 80/tcp closed - -1\n"
	                                    " 81/tcp open - -1\nend up=3 truncated=0\n");
	buf_free(&lg.b);
	buf_free(&in);
}

static void test_ports_scope(void **state)
{
	const char *text = "open tcp 22 10.0.0.1 1700000000\n";
	char err[160];
	struct log lg;

	(void)state;
	log_init(&lg);
	assert_int_equal(parse("t", text, strlen(text), 0, "80-90,U:53,T:22,7", &lg), 0);
	assert_non_null(strstr(buf_str(&lg.b), "scope tcp 7,22,80-90\nscope udp 53\n"));
	buf_free(&lg.b);
	assert_int_equal(ingest_ports_check("1-65535", err, sizeof(err)), 0);
	assert_int_equal(ingest_ports_check("", err, sizeof(err)), SDB_EPARSE);
	assert_int_equal(ingest_ports_check("80,", err, sizeof(err)), SDB_EPARSE);
	assert_int_equal(ingest_ports_check("90-80", err, sizeof(err)), SDB_EPARSE);
	assert_int_equal(ingest_ports_check("65536", err, sizeof(err)), SDB_EPARSE);
	assert_int_equal(ingest_ports_check("X:80", err, sizeof(err)), SDB_EPARSE);
	assert_non_null(strstr(err, "--ports: 'X:80'"));
}

static void test_zmap_port_from_ports(void **state)
{
	const char *text = "10.0.0.1\n10.0.0.2\n10.0.0.1\n";
	struct log lg;

	(void)state;
	log_init(&lg);
	assert_int_equal(parse("z", text, strlen(text), 0, NULL, &lg), SDB_EPARSE);
	assert_non_null(strstr(errbuf, "z:1:1: the response does not name its port"));
	buf_free(&lg.b);
	log_init(&lg);
	assert_int_equal(parse("z", text, strlen(text), 0, "8443", &lg), 0);
	assert_string_equal(buf_str(&lg.b), "run zmap start=0\nscope tcp 8443\n"
	                                    "host 10.0.0.1 v4 up\n 8443/tcp open syn-ack -1\n"
	                                    "host 10.0.0.2 v4 up\n 8443/tcp open syn-ack -1\n"
	                                    "end up=2 truncated=0\n");
	buf_free(&lg.b);
}

/* ---- detection ------------------------------------------------------------ */

static void test_detect(void **state)
{
	static const struct {
		const char *head;
		enum ingest_format f;
	} cases[] = {
	    {"<?xml version=\"1.0\"?>\n<nmaprun scanner=\"nmap\" args=\"nmap\">", INGEST_NMAP_XML},
	    {"<?xml version=\"1.0\"?>\n<!-- masscan -->\n<nmaprun scanner=\"masscan\" start=\"1\">",
	     INGEST_MASSCAN_XML},
	    {"<html></html>", INGEST_NMAP_XML},
	    {"\xEF\xBB\xBF[\n{   \"ip\": \"10.0.0.1\",", INGEST_MASSCAN_JSON},
	    {"{   \"ip\": \"10.0.0.1\", \"ports\": []}", INGEST_MASSCAN_JSON},
	    {"{\"ip\":\"1.2.3.4\",\"port\":80,\"rec_type\":\"status\"}", INGEST_MASSCAN_NDJSON},
	    {"{ \"saddr\": \"10.0.0.1\", \"sport\": 80 }", INGEST_ZMAP_JSON},
	    {"#masscan\nopen tcp 80 10.0.0.1 1\n", INGEST_MASSCAN_LIST},
	    {"open tcp 80 10.0.0.1 1\n", INGEST_MASSCAN_LIST},
	    {"saddr,sport,classification\n", INGEST_ZMAP_CSV},
	    {"timestamp-ts,saddr\n", INGEST_ZMAP_CSV},
	    {"10.0.0.1\n10.0.0.2\n", INGEST_ZMAP_ADDRS},
	    {"2001:db8::1\r\n", INGEST_ZMAP_ADDRS},
	    {"", INGEST_UNKNOWN},
	    {"   \n\n", INGEST_UNKNOWN},
	    {"hello world\n", INGEST_UNKNOWN},
	    {"sport,success\n80,1\n", INGEST_UNKNOWN}, /* zmap CSV without saddr */
	    {"saddr_raw,sport\n", INGEST_UNKNOWN},
	    {"{\"a\": 1}\n", INGEST_UNKNOWN},
	    {"\x00\x01 binary", INGEST_UNKNOWN},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].head);
		if (ingest_detect(cases[i].head, n) != cases[i].f)
			print_error("case %zu: %s\n", i, cases[i].head);
		assert_int_equal(ingest_detect(cases[i].head, n), cases[i].f);
	}
}

/* The scan time from a file's first bytes, for the import order. */
static void test_peek_time(void **state)
{
	static const struct {
		const char *dir, *file;
		int64_t t;
	} cases[] = {
	    {"masscan", "scan1.xml", 1796689103},       {"masscan", "scan1.json", 1796689109},
	    {"masscan", "scan1.list", 1796689112},      {"masscan", "scan1.ndjson", 1796689130},
	    {"zmap", "zmap80.csv", 1796689441},         {"zmap", "zmap443.json", 1796689450},
	    {"masscan", "mixed-v6.ndjson", 1796689418},
	};
	int64_t t;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *text = fixture(cases[i].dir, cases[i].file, &len);
		assert_int_equal(ingest_peek_time(ingest_detect(text, len), text, len, &t), 1);
		assert_int_equal(t, cases[i].t);
		free(text);
	}
	assert_int_equal(ingest_peek_time(INGEST_ZMAP_ADDRS, "10.0.0.1\n", 9, &t), 0);
	assert_int_equal(
	    ingest_peek_time(INGEST_MASSCAN_LIST, "#masscan\nopen tcp 1 1.2.3.4", 27, &t),
	    0); /* a line cut by the head's end */
	assert_int_equal(ingest_peek_time(INGEST_NMAP_XML, "<nmaprun start=\"5\">", 19, &t), 0);
}

/* ingest_parse_fd on a pipe (what detection read first is parsed, and
 * hashed, once) and on a regular file: the same records and bytes. */
static int count_chunk(void *ctx, const void *data, size_t len, uint64_t total)
{
	(void)data;
	*(uint64_t *)ctx += len;
	return total == *(uint64_t *)ctx ? 0 : SDB_EIO;
}

static void parse_pipe(const char *text, size_t len, const char *ports, enum ingest_format want,
                       struct log *lg, int expect)
{
	struct ingest_sink sink = {
	    .ctx = lg, .run_begin = on_run, .scaninfo = on_si, .host = on_host, .run_end = on_end};
	struct ingest_opts o = {.ports = ports};
	enum ingest_format f;
	uint64_t seen = 0;
	int fds[2];

	assert_true(len < 60000); /* fits a pipe's buffer: no writer thread needed */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], text, len), (ssize_t)len);
	close(fds[1]);
	assert_int_equal(
	    ingest_parse_fd(fds[0], "p", &sink, count_chunk, &seen, &o, &f, errbuf, sizeof(errbuf)),
	    expect);
	close(fds[0]);
	assert_int_equal(f, want);
	if (expect == 0)
		assert_int_equal(seen, len);
}

static void test_parse_fd_pipe(void **state)
{
	size_t len;
	char *text = fixture("masscan", "scan1.list", &len), *nmap;
	struct log lg;

	(void)state;
	log_init(&lg);
	parse_pipe(text, len, NULL, INGEST_MASSCAN_LIST, &lg, 0);
	assert_non_null(strstr(buf_str(&lg.b), "host 10.77.0.2 v4 up\n 22/tcp open"));
	buf_free(&lg.b);
	free(text);
	/* nmap XML through a pipe: the prefix detection read goes first */
	nmap = tu_read_nmap_sample("simple.xml", &len);
	log_init(&lg);
	parse_pipe(nmap, len, NULL, INGEST_NMAP_XML, &lg, 0);
	assert_non_null(strstr(buf_str(&lg.b), "run nmap"));
	assert_non_null(strstr(buf_str(&lg.b), "end up="));
	buf_free(&lg.b);
	/* --ports with nmap XML is refused */
	log_init(&lg);
	parse_pipe(nmap, len, "80", INGEST_NMAP_XML, &lg, SDB_EUSAGE);
	assert_non_null(strstr(errbuf, "--ports is for masscan and zmap files"));
	buf_free(&lg.b);
	free(nmap);
	log_init(&lg);
	parse_pipe("", 0, NULL, INGEST_UNKNOWN, &lg, SDB_EPARSE);
	assert_non_null(strstr(errbuf, "p:1:1: empty input"));
	buf_free(&lg.b);
}

/* ---- hostile input ------------------------------------------------------- */

static void test_hostile_samples(void **state)
{
	static const struct {
		const char *file;
		int code;
		const char *what;
	} cases[] = {
	    {"masscan_truncated.xml", SDB_EPARSE, ":7:28: unexpected end of file (truncated?)"},
	    {"masscan_truncated.json", SDB_EPARSE, ":4:67: '}' expected near end of file"},
	    {"masscan_trailing_comma.json", 0, ""},
	    {"masscan_missing_bracket.json", 0, ""},
	    {"masscan_after_end.json", SDB_EPARSE, ":4:1: text after the list's closing ']'"},
	    {"masscan_bad_line.list", SDB_EPARSE, ":3:10: 'eighty' is not a port"},
	    {"masscan_bad_addr.ndjson", SDB_EPARSE, ":2:1: '10.0.0.300' is not an IP address"},
	    {"masscan_ipv6.xml", 0, ""},
	    {"masscan_huge_banner.list", 0, ""},
	    {"masscan_bad_utf8.list", 0, ""},
	    {"masscan_bad_utf8.json", SDB_EPARSE, ":2:"},
	    {"masscan_doctype.xml", SDB_EPARSE, ":2:19: DOCTYPE not accepted"},
	    {"zmap_short_row.csv", SDB_EPARSE, ":3:10: 2 fields where the header names 4"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *text = fixture("hostile", cases[i].file, &len);
		struct log lg;
		int r;

		log_init(&lg);
		r = parse(cases[i].file, text, len, 4096, NULL, &lg);
		if (r != cases[i].code || !strstr(errbuf, cases[i].what))
			print_error("%s: got %d \"%s\"\n", cases[i].file, r, errbuf);
		assert_int_equal(r, cases[i].code);
		assert_non_null(strstr(errbuf, cases[i].what));
		if (strcmp(cases[i].file, "masscan_huge_banner.list") == 0) {
			assert_int_equal(lg.warnings, 1);
			assert_non_null(strstr(buf_str(&lg.b), "banner-ssh=SSH-2.0-AAAA"));
		}
		if (strcmp(cases[i].file, "masscan_bad_utf8.list") == 0)
			assert_non_null(strstr(buf_str(&lg.b),
			                       "banner-ftp=220 caf\\xe9 \\xff\\xfe ready\\x01\n"));
		if (strcmp(cases[i].file, "masscan_ipv6.xml") == 0)
			assert_non_null(strstr(buf_str(&lg.b), "host 2001:db8::2 v6 up\n"));
		buf_free(&lg.b);
		free(text);
	}
}

/* A cut-off -oX is taken when the sink accepts it (--partial). */
static void test_truncated_accepted(void **state)
{
	size_t len;
	char *text = fixture("hostile", "masscan_truncated.xml", &len);
	struct log lg;

	(void)state;
	log_init(&lg);
	lg.accept_truncated = 1;
	assert_int_equal(parse("t.xml", text, len, 0, NULL, &lg), 0);
	assert_non_null(strstr(buf_str(&lg.b), " 80/tcp open syn-ack 64\nend up=1 truncated=1\n"));
	buf_free(&lg.b);
	free(text);
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *text;
		const char *what;
	} cases[] = {
	    {"open tcp 80 10.0.0.1\n", "t:1:13: expected 'open|closed"},
	    {"open icmp 80 10.0.0.1 1\n", "t:1:6: 'icmp' is not tcp"},
	    {"open tcp 70000 10.0.0.1 1\n", "t:1:10: port 70000 out of range"},
	    {"open tcp 80 10.0.0.1 soon\n", "t:1:22: 'soon' is not a Unix time"},
	    {"open tcp 1 10.0.0.1 1\najar tcp 80 10.0.0.1 1\n", "t:2:1: expected"},
	    {"banner tcp 80 10.0.0.1 1\n", "t:1:24: a banner line is"},
	    {"open tcp 80 10.0.0.1 1\nopen tcp 80 10.0.0.1 1 x\n", "t:2:"},
	    {"[\n{\"ip\":\"10.0.0.1\",\"ports\":[{\"port\":1,\"status\":\"ajar\"}]}\n",
	     "t:2:1: port status 'ajar'"},
	    {"[\n{\"ip\":\"10.0.0.1\"}\n", "t:2:1: object without a \"ports\" list"},
	    {"[\n{\"ip\":\"10.0.0.1\",\n\"ports\":[]}\n", "t:2:"},
	    {"[\n x\n", "t:2:2: 'x' where a JSON object was expected"},
	    {"{\"ip\":\"1.2.3.4\",\"rec_type\":\"x\",\"data\":{}}\n", "rec_type 'x'"},
	    {"saddr,sport\n10.0.0.1,http\n", "t:2:1: sport 'http' is not a port"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct log lg;
		int r;

		log_init(&lg);
		r = parse("t", cases[i].text, strlen(cases[i].text), 0, NULL, &lg);
		if (r == 0 || !strstr(errbuf, cases[i].what))
			print_error("case %zu: got %d \"%s\"\n", i, r, errbuf);
		assert_int_not_equal(r, 0);
		assert_non_null(strstr(errbuf, cases[i].what));
		assert_int_equal(strstr(buf_str(&lg.b), "run ") == NULL, 1); /* nothing pushed */
		buf_free(&lg.b);
	}
}

/* Two <service> in one <port> (found by fuzz_masscan: the first one
 * leaked): the last one is the banner. */
static void test_xml_two_services(void **state)
{
	const char *text = "<nmaprun scanner=\"masscan\"><host endtime=\"1700000000\">"
	                   "<address addr=\"10.0.0.1\" addrtype=\"ipv4\"/><ports>"
	                   "<port protocol=\"tcp\" portid=\"21\"><service name=\"ftp\" "
	                   "banner=\"one\"/><service name=\"ftp\" banner=\"two\"/></port>"
	                   "</ports></host></nmaprun>";
	struct log lg;

	(void)state;
	log_init(&lg);
	assert_int_equal(parse("t", text, strlen(text), 7, NULL, &lg), 0);
	assert_non_null(strstr(buf_str(&lg.b), " 21/tcp open - -1 svc=ftp\n  banner-ftp=two\n"));
	buf_free(&lg.b);
}

/* expat keeps every distinct name: they are capped (memory stays flat). */
static void test_xml_names_capped(void **state)
{
	struct buf in;
	struct log lg;

	(void)state;
	buf_init(&in, (size_t)1 << 20);
	buf_append_str(&in, "<nmaprun scanner=\"masscan\">\n");
	for (int i = 0; i < 300; i++)
		buf_printf(&in, "<host a%d=\"1\"/>", i);
	buf_append_str(&in, "</nmaprun>\n");
	log_init(&lg);
	assert_int_equal(parse("n", buf_str(&in), in.len, 0, NULL, &lg), SDB_ETOOBIG);
	assert_non_null(strstr(errbuf, "n:2:"));
	assert_non_null(strstr(errbuf, "more than 256 distinct element and attribute names"));
	buf_free(&lg.b);
	buf_free(&in);
}

/* A line past MS_MAX_LINE is refused, not held. */
static void test_line_cap(void **state)
{
	size_t n = MS_MAX_LINE + 10;
	char *text = malloc(n);
	struct log lg;

	(void)state;
	assert_non_null(text);
	memcpy(text, "open tcp 80 10.0.0.1 1 ", 23);
	memset(text + 23, 'x', n - 23);
	log_init(&lg);
	assert_int_equal(parse("t", text, n, 65536, NULL, &lg), SDB_ETOOBIG);
	assert_non_null(strstr(errbuf, "t:1: line longer than"));
	buf_free(&lg.b);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_masscan_fixtures),
	    cmocka_unit_test(test_masscan_ipv6),
	    cmocka_unit_test(test_masscan_banners),
	    cmocka_unit_test(test_zmap_fixtures),
	    cmocka_unit_test(test_regroup_any_order),
	    cmocka_unit_test(test_ports_scope),
	    cmocka_unit_test(test_zmap_port_from_ports),
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test(test_hostile_samples),
	    cmocka_unit_test(test_truncated_accepted),
	    cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_line_cap),
	    cmocka_unit_test(test_xml_two_services),
	    cmocka_unit_test(test_repeated_lines),
	    cmocka_unit_test(test_peek_time),
	    cmocka_unit_test(test_parse_fd_pipe),
	    cmocka_unit_test(test_xml_names_capped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
