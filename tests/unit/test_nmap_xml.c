/*
 * test_nmap_xml.c - unit tests of the streaming nmap XML parser
 * (src/ingest/nmap_xml*.c): every field of the shared sample files and of a
 * modern nmap 7.9x document, chunking independence, validation errors with
 * their file:line:col messages, and hostile input (entities, truncation,
 * giant tokens, deep nesting, garbage).  No database: a recording sink
 * copies what the parser hands it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/record.h"
#include "ingest/nmap_xml.h"
#include "ingest/sink.h"
#include "testutil.h"

/* ---- a recording sink ------------------------------------------------- */

#define MAX_SI   8
#define MAX_PROG 16

struct scaninfo_copy {
	char *type;
	enum rec_proto proto;
	long numservices;
	char *services;
};

struct log {
	int nbegin, nscaninfo, nprogress, nend;
	size_t nhosts;
	char order[256]; /* one letter per callback: B S P H E */
	size_t norder;
	char *scanner, *args, *version, *xmlver;
	int64_t start;
	struct scaninfo_copy si[MAX_SI];
	char *task[MAX_PROG];
	double pct[MAX_PROG];
	struct rec_host *hosts; /* deep copies: the structs of hmem[i] */
	struct rec_host **hmem; /* rec_host_dup() blocks */
	size_t chosts;
	struct rec_runstats rs; /* deep copy (rec_runstats_copy into rs_mem) */
	void *rs_mem;
	struct buf dump; /* canonical text of every callback */
	/* to make the sink stop: return stop_code from the n-th host call */
	size_t stop_at_host;
	int stop_code;
	int begin_code;
	struct buf warnings; /* every warning, one a line */
	int nwarnings;
	int accept_truncated; /* the sink's accept_truncated */
	const char *hint;     /* the sink's truncated_hint */
};

static char *xs(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	assert_non_null(d);
	return d;
}

static void note(struct log *lg, char c)
{
	if (lg->norder < sizeof(lg->order) - 1)
		lg->order[lg->norder++] = c;
}

static int on_begin(void *ctx, const struct rec_run *run)
{
	struct log *lg = ctx;

	note(lg, 'B');
	lg->nbegin++;
	free(lg->scanner);
	free(lg->args);
	free(lg->version);
	free(lg->xmlver);
	lg->scanner = xs(run->scanner);
	lg->args = xs(run->args);
	lg->version = xs(run->version);
	lg->xmlver = xs(run->xmloutputversion);
	lg->start = run->start;
	buf_append_str(&lg->dump, "run");
	tu_dump_str(&lg->dump, "scanner", run->scanner);
	tu_dump_str(&lg->dump, "args", run->args);
	tu_dump_str(&lg->dump, "version", run->version);
	tu_dump_str(&lg->dump, "xmlver", run->xmloutputversion);
	buf_printf(&lg->dump, " start=%lld\n", (long long)run->start);
	return lg->begin_code;
}

static int on_scaninfo(void *ctx, const struct rec_scaninfo *si)
{
	struct log *lg = ctx;

	note(lg, 'S');
	if (lg->nscaninfo < MAX_SI) {
		struct scaninfo_copy *c = &lg->si[lg->nscaninfo];
		c->type = xs(si->type);
		c->proto = si->proto;
		c->numservices = si->numservices;
		c->services = xs(si->services);
	}
	lg->nscaninfo++;
	buf_printf(&lg->dump, "scaninfo proto=%d n=%ld", (int)si->proto, si->numservices);
	tu_dump_str(&lg->dump, "type", si->type);
	tu_dump_str(&lg->dump, "services", si->services);
	buf_append_char(&lg->dump, '\n');
	return 0;
}

static int on_progress(void *ctx, const char *task, double pct)
{
	struct log *lg = ctx;

	note(lg, 'P');
	if (lg->nprogress < MAX_PROG) {
		lg->task[lg->nprogress] = xs(task);
		lg->pct[lg->nprogress] = pct;
	}
	lg->nprogress++;
	buf_printf(&lg->dump, "progress [%s] %.2f\n", task, pct);
	return 0;
}

static int on_host(void *ctx, const struct rec_host *h)
{
	struct log *lg = ctx;

	note(lg, 'H');
	if (lg->nhosts == lg->chosts) {
		lg->chosts = lg->chosts ? lg->chosts * 2 : 8;
		lg->hosts = realloc(lg->hosts, lg->chosts * sizeof(*lg->hosts));
		lg->hmem = realloc(lg->hmem, lg->chosts * sizeof(*lg->hmem));
		assert_non_null(lg->hosts);
		assert_non_null(lg->hmem);
	}
	lg->hmem[lg->nhosts] = rec_host_dup(h);
	assert_non_null(lg->hmem[lg->nhosts]);
	lg->hosts[lg->nhosts] = *lg->hmem[lg->nhosts];
	lg->nhosts++;
	tu_dump_host(&lg->dump, h);
	if (lg->stop_at_host && lg->nhosts == lg->stop_at_host)
		return lg->stop_code;
	return 0;
}

static int on_end(void *ctx, const struct rec_runstats *rs)
{
	struct log *lg = ctx;

	note(lg, 'E');
	lg->nend++;
	free(lg->rs_mem);
	lg->rs_mem = malloc(rec_runstats_copy_size(rs) + 1);
	assert_non_null(lg->rs_mem);
	rec_runstats_copy(&lg->rs, rs, lg->rs_mem);
	buf_printf(&lg->dump, "end finished=%d end=%lld elapsed=%.3f up=%ld down=%ld total=%ld",
	           rs->finished, (long long)rs->end, rs->elapsed, rs->hosts_up, rs->hosts_down,
	           rs->hosts_total);
	tu_dump_str(&lg->dump, "summary", rs->summary);
	tu_dump_str(&lg->dump, "exit", rs->exit);
	tu_dump_str(&lg->dump, "errormsg", rs->errormsg);
	buf_append_str(&lg->dump, "\n  prescripts");
	tu_dump_scripts(&lg->dump, rs->prescripts, rs->nprescripts);
	buf_append_str(&lg->dump, "\n  postscripts");
	tu_dump_scripts(&lg->dump, rs->postscripts, rs->npostscripts);
	buf_append_char(&lg->dump, '\n');
	return 0;
}

static int on_warning(void *ctx, const char *msg)
{
	struct log *lg = ctx;

	note(lg, 'W');
	lg->nwarnings++;
	buf_printf(&lg->warnings, "%s\n", msg);
	return 0;
}

static void log_init(struct log *lg)
{
	memset(lg, 0, sizeof(*lg));
	buf_init(&lg->dump, (size_t)1 << 30);
	buf_init(&lg->warnings, (size_t)1 << 20);
}

static void log_free(struct log *lg)
{
	free(lg->scanner);
	free(lg->args);
	free(lg->version);
	free(lg->xmlver);
	for (int i = 0; i < lg->nscaninfo && i < MAX_SI; i++) {
		free(lg->si[i].type);
		free(lg->si[i].services);
	}
	for (int i = 0; i < lg->nprogress && i < MAX_PROG; i++)
		free(lg->task[i]);
	for (size_t i = 0; i < lg->nhosts; i++)
		free(lg->hmem[i]);
	free(lg->hosts);
	free(lg->hmem);
	free(lg->rs_mem);
	buf_free(&lg->dump);
	buf_free(&lg->warnings);
	memset(lg, 0, sizeof(*lg));
}

static struct ingest_sink log_sink(struct log *lg)
{
	struct ingest_sink s = {
	    .ctx = lg,
	    .run_begin = on_begin,
	    .scaninfo = on_scaninfo,
	    .host = on_host,
	    .progress = on_progress,
	    .run_end = on_end,
	    .warning = on_warning,
	    .accept_truncated = lg->accept_truncated,
	    .truncated_hint = lg->hint,
	};
	return s;
}

/* ---- parse helpers ---------------------------------------------------- */

static char errbuf[2048];

/* Parse `len` bytes in pieces of `chunk` (0 = one piece) with the final
 * flag on a separate empty feed when `split_final`.  The error message (or
 * "") is left in errbuf. */
static int parse_chunked(const char *name, const char *xml, size_t len, size_t chunk,
                         int split_final, struct log *lg)
{
	struct ingest_sink sink = log_sink(lg);
	struct nmap_parser *p = NULL;
	size_t off = 0;
	int r;

	assert_int_equal(nmap_parser_new(&sink, name, &p), 0);
	if (chunk == 0)
		chunk = len ? len : 1;
	do {
		size_t n = len - off < chunk ? len - off : chunk;
		int last = !split_final && off + n == len;

		r = nmap_parser_feed(p, xml + off, n, last);
		off += n;
		if (r)
			break;
	} while (off < len);
	if (r == 0 && split_final)
		r = nmap_parser_feed(p, NULL, 0, 1);
	snprintf(errbuf, sizeof(errbuf), "%s", nmap_parser_errmsg(p));
	if (r == 0)
		assert_string_equal(errbuf, "");
	else
		assert_true(errbuf[0] != '\0');
	nmap_parser_free(p);
	return r;
}

static int parse_mem(const char *xml, size_t len, struct log *lg)
{
	return parse_chunked("test.xml", xml, len, 0, 0, lg);
}

static int parse_str(const char *xml, struct log *lg)
{
	return parse_mem(xml, strlen(xml), lg);
}

/* Parse; expect error `code` whose message contains `what`. */
static void expect_fail_mem(const char *xml, size_t len, int code, const char *what)
{
	struct log lg;
	int r;

	log_init(&lg);
	r = parse_mem(xml, len, &lg);
	if (r != code || !strstr(errbuf, what))
		print_error("want %d containing \"%s\", got %d \"%s\"\n", code, what, r, errbuf);
	assert_int_equal(r, code);
	assert_non_null(strstr(errbuf, what));
	assert_int_equal(strncmp(errbuf, "test.xml:", 9), 0);
	assert_int_equal(lg.nend, 0);
	log_free(&lg);
}

static void expect_fail(const char *xml, int code, const char *what)
{
	expect_fail_mem(xml, strlen(xml), code, what);
}

static char *sample(const char *name, size_t *len)
{
	return tu_read_nmap_sample(name, len);
}

static void parse_sample(const char *name, struct log *lg)
{
	size_t len;
	char *xml = sample(name, &len);
	int r;

	log_init(lg);
	r = parse_chunked(name, xml, len, 0, 0, lg);
	if (r)
		print_error("%s: %s\n", name, errbuf);
	assert_int_equal(r, 0);
	free(xml);
}

/* Build a document around some host XML (printf-style). */
#define HEAD                                                                                       \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                             \
	"<nmaprun scanner=\"nmap\" args=\"nmap x\" start=\"100\" version=\"7.94\" "                \
	"xmloutputversion=\"1.05\">\n"                                                             \
	"<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1\" services=\"80\"/>\n"
#define TAIL                                                                                       \
	"<runstats><finished time=\"200\" elapsed=\"1.50\"/>"                                      \
	"<hosts up=\"1\" down=\"0\" total=\"1\"/></runstats>\n</nmaprun>\n"
#define HOST_OPEN                                                                                  \
	"<host starttime=\"100\" endtime=\"101\"><status state=\"up\" reason=\"echo-reply\" "      \
	"reason_ttl=\"64\"/>\n<address addr=\"10.0.0.1\" addrtype=\"ipv4\"/>\n"
#define DOC_HOST(body)     HEAD HOST_OPEN body "</host>\n" TAIL
#define PORT(attrs, inner) "<ports><port " attrs ">" inner "</port></ports>\n"
#define OPEN_STATE         "<state state=\"open\" reason=\"syn-ack\" reason_ttl=\"64\"/>"

/* Host with one tcp/80 port whose <service> has the given attributes. */
#define DOC_SERVICE(attrs)                                                                         \
	DOC_HOST(PORT("protocol=\"tcp\" portid=\"80\"", OPEN_STATE "<service " attrs "/>"))

/* ---- the shared samples ----------------------------------------------- */

static void test_simple(void **state)
{
	struct log lg;
	const struct rec_host *h;

	(void)state;
	parse_sample("simple.xml", &lg);
	assert_string_equal(lg.order, "BSHE");
	assert_string_equal(lg.scanner, "nmap");
	assert_string_equal(lg.args, "nmap -oX simple.xml -p 22,113 scanme.nmap.org");
	assert_string_equal(lg.version, "4.90RC2");
	assert_string_equal(lg.xmlver, "1.03");
	assert_int_equal(lg.start, 1247268210);
	assert_int_equal(lg.nscaninfo, 1);
	assert_string_equal(lg.si[0].type, "syn");
	assert_int_equal(lg.si[0].proto, REC_PROTO_TCP);
	assert_int_equal(lg.si[0].numservices, 2);
	assert_string_equal(lg.si[0].services, "22,113");

	assert_int_equal(lg.nhosts, 1);
	h = &lg.hosts[0];
	assert_int_equal(h->status, REC_HOST_UP);
	assert_string_equal(h->reason, "echo-reply");
	assert_int_equal(h->reason_ttl, -1); /* nmap 4.90 wrote no reason_ttl here */
	assert_int_equal(h->starttime, 1247268210);
	assert_int_equal(h->endtime, 1247268210);
	assert_string_equal(h->addr, "64.13.134.52");
	assert_int_equal(h->family, 4);
	assert_null(h->mac);
	assert_null(h->mac_vendor);
	assert_int_equal(h->nhostnames, 1);
	assert_string_equal(h->hostnames[0].name, "scanme.nmap.org");
	assert_string_equal(h->hostnames[0].type, "PTR");
	assert_int_equal(h->has_os, 0);
	assert_int_equal(h->uptime_seconds, -1);
	assert_null(h->lastboot);
	assert_int_equal(h->distance, -1);
	assert_int_equal(h->nextraports, 0);
	assert_int_equal(h->nscripts, 0);
	assert_int_equal(h->nports, 2);
	assert_int_equal(h->ports[0].proto, REC_PROTO_TCP);
	assert_int_equal(h->ports[0].port, 22);
	assert_int_equal(h->ports[0].state, REC_PORT_OPEN);
	assert_string_equal(h->ports[0].reason, "syn-ack");
	assert_int_equal(h->ports[0].reason_ttl, 52);
	assert_int_equal(h->ports[0].has_service, 1);
	assert_string_equal(h->ports[0].service.name, "ssh");
	assert_string_equal(h->ports[0].service.method, "table");
	assert_int_equal(h->ports[0].service.conf, 3);
	assert_null(h->ports[0].service.product);
	assert_null(h->ports[0].service.version);
	assert_int_equal(h->ports[0].service.ncpes, 0);
	assert_int_equal(h->ports[0].nscripts, 0);
	assert_int_equal(h->ports[1].port, 113);
	assert_int_equal(h->ports[1].state, REC_PORT_CLOSED);
	assert_string_equal(h->ports[1].reason, "reset");
	assert_string_equal(h->ports[1].service.name, "auth");

	assert_int_equal(lg.nend, 1);
	assert_int_equal(lg.rs.finished, 1);
	assert_int_equal(lg.rs.end, 1247268210);
	assert_true(lg.rs.elapsed == 0.56);
	assert_null(lg.rs.summary);
	assert_null(lg.rs.exit);
	assert_null(lg.rs.errormsg);
	assert_int_equal(lg.rs.hosts_up, 1);
	assert_int_equal(lg.rs.hosts_down, 0);
	assert_int_equal(lg.rs.hosts_total, 1);
	log_free(&lg);
}

static void test_complex(void **state)
{
	struct log lg;
	const struct rec_host *h;
	const struct rec_port *p;

	(void)state;
	parse_sample("complex.xml", &lg);
	assert_string_equal(lg.order, "BSSHE");
	/* "-&#45;script" in the file is "--script" */
	assert_string_equal(lg.args, "nmap -oX complex.xml -sV -sC -O --script=default,whois "
	                             "--version-light -sS -sU -p T:1-100,U:1-100 scanme.nmap.org");
	assert_int_equal(lg.nscaninfo, 2);
	assert_string_equal(lg.si[0].type, "syn");
	assert_int_equal(lg.si[0].proto, REC_PROTO_TCP);
	assert_int_equal(lg.si[0].numservices, 100);
	assert_string_equal(lg.si[0].services, "1-100");
	assert_string_equal(lg.si[1].type, "udp");
	assert_int_equal(lg.si[1].proto, REC_PROTO_UDP);
	assert_int_equal(lg.si[1].numservices, 100);
	assert_string_equal(lg.si[1].services, "1-100");

	assert_int_equal(lg.nhosts, 1);
	h = &lg.hosts[0];
	assert_int_equal(h->starttime, 1247269633);
	assert_int_equal(h->endtime, 1247269755);
	assert_string_equal(h->addr, "64.13.134.52");

	assert_int_equal(h->nextraports, 2);
	assert_int_equal(h->extraports[0].state, REC_PORT_OPEN_FILTERED);
	assert_int_equal(h->extraports[0].count, 99);
	assert_string_equal(h->extraports[0].reasons, "no-responses:99");
	assert_int_equal(h->extraports[1].state, REC_PORT_FILTERED);
	assert_int_equal(h->extraports[1].count, 95);
	assert_string_equal(h->extraports[1].reasons, "no-responses:95");

	assert_int_equal(h->nports, 6);
	p = &h->ports[0];
	assert_int_equal(p->port, 22);
	assert_int_equal(p->proto, REC_PROTO_TCP);
	assert_int_equal(p->state, REC_PORT_OPEN);
	assert_string_equal(p->service.name, "ssh");
	assert_string_equal(p->service.product, "OpenSSH");
	assert_string_equal(p->service.version, "4.3");
	assert_string_equal(p->service.extrainfo, "protocol 2.0");
	assert_string_equal(p->service.method, "probed");
	assert_int_equal(p->service.conf, 10);
	assert_null(p->service.tunnel);
	assert_null(p->service.ostype);
	assert_int_equal(p->nscripts, 1);
	assert_string_equal(p->scripts[0].id, "ssh-hostkey");
	assert_string_equal(p->scripts[0].output,
	                    "1024 03:5f:d3:9d:95:74:8a:d0:8d:70:17:9a:bf:93:84:13 (DSA)\n"
	                    "2048 fa:af:76:4c:b0:f4:4b:83:a4:6e:70:9f:a1:ec:51:0c (RSA)");
	p = &h->ports[1];
	assert_int_equal(p->port, 25);
	assert_int_equal(p->state, REC_PORT_CLOSED);
	assert_string_equal(p->service.name, "smtp");
	assert_int_equal(p->service.conf, 3);
	assert_int_equal(p->nscripts, 0);
	p = &h->ports[2];
	assert_int_equal(p->port, 53);
	assert_string_equal(p->service.product, "ISC BIND");
	assert_string_equal(p->service.version, "9.3.4");
	p = &h->ports[4];
	assert_int_equal(p->port, 80);
	assert_string_equal(p->service.product, "Apache httpd");
	assert_string_equal(p->service.version, "2.2.2");
	assert_string_equal(p->service.extrainfo, "(Fedora)");
	assert_int_equal(p->nscripts, 1);
	assert_string_equal(p->scripts[0].id, "html-title");
	assert_string_equal(p->scripts[0].output, "Go ahead and ScanMe!");
	p = &h->ports[5];
	assert_int_equal(p->port, 53);
	assert_int_equal(p->proto, REC_PROTO_UDP);
	assert_int_equal(p->state, REC_PORT_OPEN);
	assert_string_equal(p->reason, "udp-response");
	assert_int_equal(p->reason_ttl, 52);
	assert_int_equal(p->nscripts, 1);
	assert_string_equal(p->scripts[0].id, "dns-recursion");
	assert_string_equal(p->scripts[0].output, "Recursion appears to be enabled");

	/* nmap 4.90: <osclass> directly in <os>, before <osmatch> */
	assert_int_equal(h->has_os, 1);
	assert_string_equal(h->os.name, "Linux 2.6.9 - 2.6.24");
	assert_int_equal(h->os.accuracy, 100);
	assert_string_equal(h->os.vendor, "Linux");
	assert_string_equal(h->os.family, "Linux");
	assert_string_equal(h->os.gen, "2.6.X");
	assert_string_equal(h->os.type, "general purpose");
	assert_null(h->os.cpe);
	assert_int_equal(h->uptime_seconds, 687785);
	assert_string_equal(h->lastboot, "Thu Jul  2 18:46:10 2009");
	assert_int_equal(h->distance, -1);

	assert_int_equal(h->nscripts, 1);
	assert_string_equal(h->scripts[0].id, "whois");
	assert_string_equal(h->scripts[0].output,
	                    "Record found at whois.arin.net\nnetrange: 64.13.134.0 - 64.13.134.63\n"
	                    "netname: NET-64-13-143-0-26\norgname: Titan Networks\norgid: INSEC\n"
	                    "country: US stateprov: CA ");

	assert_int_equal(lg.rs.end, 1247269755);
	assert_true(lg.rs.elapsed == 122.97);
	assert_int_equal(lg.rs.hosts_up, 1);
	assert_int_equal(lg.rs.hosts_total, 1);
	log_free(&lg);
}

static void test_os_and_single(void **state)
{
	struct log lg;
	const struct rec_host *h;

	(void)state;
	parse_sample("os.xml", &lg);
	assert_int_equal(lg.nhosts, 1);
	h = &lg.hosts[0];
	assert_int_equal(h->has_os, 1);
	assert_string_equal(h->os.name, "Linux 2.6.9 - 2.6.24");
	assert_int_equal(h->os.accuracy, 100);
	assert_string_equal(h->os.vendor, "Linux");
	assert_string_equal(h->os.family, "Linux");
	assert_string_equal(h->os.gen, "2.6.X");
	assert_string_equal(h->os.type, "general purpose");
	assert_int_equal(h->uptime_seconds, 686216);
	assert_string_equal(h->lastboot, "Thu Jul  2 18:46:10 2009");
	assert_int_equal(h->nports, 2);
	assert_true(lg.rs.elapsed == 3.56);
	assert_int_equal(lg.rs.end, 1247268186);
	log_free(&lg);

	parse_sample("single.xml", &lg);
	assert_int_equal(lg.nhosts, 1);
	h = &lg.hosts[0];
	assert_int_equal(h->nextraports, 1);
	assert_int_equal(h->extraports[0].state, REC_PORT_FILTERED);
	assert_int_equal(h->extraports[0].count, 95);
	assert_string_equal(h->extraports[0].reasons, "no-responses:95");
	assert_int_equal(h->nports, 5);
	assert_int_equal(h->ports[0].port, 22);
	assert_int_equal(h->ports[1].port, 25);
	assert_int_equal(h->ports[2].port, 53);
	assert_int_equal(h->ports[3].port, 70);
	assert_int_equal(h->ports[4].port, 80);
	assert_string_equal(h->ports[3].service.name, "gopher");
	assert_int_equal(h->ports[3].state, REC_PORT_CLOSED);
	assert_int_equal(h->has_os, 0);
	log_free(&lg);
}

static void test_down_and_empty(void **state)
{
	struct log lg;

	(void)state;
	parse_sample("down.xml", &lg);
	assert_string_equal(lg.order, "BSE");
	assert_int_equal(lg.nhosts, 0);
	assert_int_equal(lg.rs.finished, 1);
	assert_int_equal(lg.rs.end, 1247268099);
	assert_true(lg.rs.elapsed == 2.33);
	assert_int_equal(lg.rs.hosts_up, 0);
	assert_int_equal(lg.rs.hosts_down, 1);
	assert_int_equal(lg.rs.hosts_total, 1);
	log_free(&lg);

	parse_sample("empty.xml", &lg);
	assert_string_equal(lg.order, "BSE");
	assert_int_equal(lg.nhosts, 0);
	assert_string_equal(lg.args, "nmap -oX empty.xml -p 1-100");
	assert_int_equal(lg.rs.end, 1247268128);
	assert_true(lg.rs.elapsed == 0.28);
	assert_int_equal(lg.rs.hosts_up, 0);
	assert_int_equal(lg.rs.hosts_down, 0);
	assert_int_equal(lg.rs.hosts_total, 0);
	log_free(&lg);
}

/* ---- a modern (nmap 7.9x) document ------------------------------------ */

static const char modern_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!DOCTYPE nmaprun>\n"
    "<?xml-stylesheet href=\"file:///usr/bin/../share/nmap/nmap.xsl\" type=\"text/xsl\"?>\n"
    "<!-- Nmap 7.94 scan initiated Tue Nov 14 22:13:20 2023 as: nmap -sV -O -oX - "
    "192.168.1.0/24 -->\n"
    "<nmaprun scanner=\"nmap\" args=\"nmap -sV -O -oX - 192.168.1.0/24\" start=\"1700000000\" "
    "startstr=\"Tue Nov 14 22:13:20 2023\" version=\"7.94\" xmloutputversion=\"1.05\">\n"
    "<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1000\" services=\"1,3-4,6-7,9\"/>\n"
    "<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n"
    "<taskprogress task=\"SYN Stealth Scan\" time=\"1700000005\" percent=\"42.50\" "
    "remaining=\"7\" etc=\"1700000012\"/>\n"
    "<hosthint><status state=\"up\" reason=\"arp-response\" reason_ttl=\"0\"/>\n"
    "<address addr=\"192.168.1.99\" addrtype=\"ipv4\"/>\n"
    "<address addr=\"00:11:22:33:44:55\" addrtype=\"mac\" vendor=\"Hint\"/>\n"
    "<hostnames>\n</hostnames>\n</hosthint>\n"
    "<prescript><script id=\"broadcast-x\" output=\"pre\"/></prescript>\n"
    "<host starttime=\"1700000001\" endtime=\"1700000020\"><status state=\"up\" "
    "reason=\"arp-response\" reason_ttl=\"0\"/>\n"
    "<address addr=\"192.168.1.10\" addrtype=\"ipv4\"/>\n"
    "<address addr=\"aa:bb:cc:dd:ee:0f\" addrtype=\"mac\" vendor=\"Acme &amp; Sons\"/>\n"
    "<hostnames>\n<hostname name=\"files.example.org\" type=\"user\"/>\n"
    "<hostname name=\"files.lan\" type=\"PTR\"/>\n</hostnames>\n"
    "<ports><extraports state=\"closed\" count=\"993\">\n"
    "<extrareasons reason=\"reset\" count=\"990\" proto=\"tcp\" ports=\"1-21,23-442\"/>\n"
    "<extrareasons reason=\"no-response\" count=\"3\" proto=\"tcp\" ports=\"444-446\"/>\n"
    "</extraports>\n"
    "<port protocol=\"tcp\" portid=\"443\"><state state=\"open\" reason=\"syn-ack\" "
    "reason_ttl=\"64\"/><service name=\"http\" product=\"nginx\" version=\"1.24.0\" "
    "tunnel=\"ssl\" method=\"probed\" conf=\"10\"><cpe>cpe:/a:igor_sysoev:nginx:1.24.0</cpe>"
    "<cpe>cpe:/o:linux:linux_kernel</cpe></service>"
    "<script id=\"http-title\" output=\"Site &lt;b&gt;title&#xa;line2\"><elem "
    "key=\"title\">Site</elem></script>"
    "<script id=\"ssl-cert\" output=\"Subject: commonName=files\"><table key=\"subject\">"
    "<elem key=\"commonName\">files</elem></table></script></port>\n"
    "<port protocol=\"udp\" portid=\"53\"><state state=\"open|filtered\" "
    "reason=\"no-response\" reason_ttl=\"0\"/><service name=\"domain\" method=\"table\" "
    "conf=\"3\"/></port>\n"
    "<port protocol=\"tcp\" portid=\"22\"><state state=\"open\" reason=\"syn-ack\" "
    "reason_ttl=\"64\"/><service name=\"ssh\" product=\"OpenSSH\" version=\"9.2p1 Debian "
    "2\" extrainfo=\"protocol 2.0\" ostype=\"Linux\" method=\"probed\" conf=\"10\">"
    "<cpe>cpe:/a:openbsd:openssh:9.2p1</cpe></service></port>\n"
    "</ports>\n"
    "<os><portused state=\"open\" proto=\"tcp\" portid=\"22\"/>\n"
    "<osmatch name=\"Linux 5.0 - 5.14\" accuracy=\"98\" line=\"67000\">\n"
    "<osclass type=\"general purpose\" vendor=\"Linux\" osfamily=\"Linux\" osgen=\"5.X\" "
    "accuracy=\"98\"><cpe>cpe:/o:linux:linux_kernel:5</cpe>"
    "<cpe>cpe:/o:linux:linux_kernel:5.14</cpe></osclass>\n"
    "<osclass type=\"router\" vendor=\"Other\" osfamily=\"Other\" osgen=\"1.X\" "
    "accuracy=\"90\"><cpe>cpe:/o:other</cpe></osclass>\n"
    "</osmatch>\n"
    "<osmatch name=\"Linux 4.15\" accuracy=\"95\" line=\"66000\">\n"
    "<osclass type=\"router\" vendor=\"MikroTik\" osfamily=\"RouterOS\" osgen=\"6.X\" "
    "accuracy=\"95\"/>\n</osmatch>\n"
    "<osfingerprint fingerprint=\"OS:SCAN(V=7.94)\"/>\n"
    "</os>\n"
    "<uptime seconds=\"3600\" lastboot=\"Tue Nov 14 21:13:20 2023\"/>\n"
    "<distance value=\"1\"/>\n"
    "<tcpsequence index=\"260\" difficulty=\"Good luck!\" values=\"A,B\"/>\n"
    "<hostscript><script id=\"smb-os\" output=\"Windows &apos;x&apos;\"/>"
    "<script id=\"nbstat\" output=\"NetBIOS\"/></hostscript>\n"
    "<trace><hop ttl=\"1\" ipaddr=\"192.168.1.10\" rtt=\"0.50\" host=\"files.lan\"/></trace>\n"
    "<times srtt=\"100\" rttvar=\"50\" to=\"100000\"/>\n"
    "</host>\n"
    "<host starttime=\"1700000001\" endtime=\"1700000002\"><status state=\"down\" "
    "reason=\"no-response\" reason_ttl=\"0\"/>\n"
    "<address addr=\"2001:DB8:0:0::0001\" addrtype=\"ipv6\"/>\n"
    "<hostnames/>\n</host>\n"
    "<postscript><script id=\"post\" output=\"post\"/></postscript>\n"
    "<runstats><finished time=\"1700000030\" timestr=\"Tue Nov 14 22:13:50 2023\" "
    "summary=\"Nmap done at Tue Nov 14 22:13:50 2023; 256 IP addresses (1 host up) scanned "
    "in 30.25 seconds\" elapsed=\"30.25\" exit=\"success\"/><hosts up=\"1\" down=\"255\" "
    "total=\"256\"/>\n</runstats>\n"
    "</nmaprun>\n";

static void test_modern(void **state)
{
	struct log lg;
	const struct rec_host *h;
	const struct rec_port *p;
	int r;

	(void)state;
	log_init(&lg);
	r = parse_str(modern_xml, &lg);
	if (r)
		print_error("%s\n", errbuf);
	assert_int_equal(r, 0);
	/* hosthint is not a host; run_end comes last, once */
	assert_string_equal(lg.order, "BSPHHE");
	assert_string_equal(lg.version, "7.94");
	assert_string_equal(lg.xmlver, "1.05");
	assert_int_equal(lg.start, 1700000000);
	assert_string_equal(lg.si[0].services, "1,3-4,6-7,9");
	assert_int_equal(lg.nprogress, 1);
	assert_string_equal(lg.task[0], "SYN Stealth Scan");
	assert_true(lg.pct[0] == 42.5);

	assert_int_equal(lg.nhosts, 2);
	h = &lg.hosts[0];
	assert_int_equal(h->status, REC_HOST_UP);
	assert_string_equal(h->reason, "arp-response");
	assert_int_equal(h->reason_ttl, 0);
	assert_string_equal(h->addr, "192.168.1.10");
	assert_int_equal(h->family, 4);
	assert_string_equal(h->mac, "AA:BB:CC:DD:EE:0F");
	assert_string_equal(h->mac_vendor, "Acme & Sons");
	assert_int_equal(h->nhostnames, 2);
	assert_string_equal(h->hostnames[0].name, "files.example.org");
	assert_string_equal(h->hostnames[0].type, "user");
	assert_string_equal(h->hostnames[1].name, "files.lan");
	assert_string_equal(h->hostnames[1].type, "PTR");
	assert_int_equal(h->nextraports, 1);
	assert_int_equal(h->extraports[0].state, REC_PORT_CLOSED);
	assert_int_equal(h->extraports[0].count, 993);
	assert_string_equal(h->extraports[0].reasons, "reset:990,no-response:3");

	assert_int_equal(h->nports, 3);
	p = &h->ports[0];
	assert_int_equal(p->port, 443);
	assert_string_equal(p->service.name, "http");
	assert_string_equal(p->service.product, "nginx");
	assert_string_equal(p->service.version, "1.24.0");
	assert_string_equal(p->service.tunnel, "ssl");
	assert_int_equal(p->service.ncpes, 2);
	assert_string_equal(p->service.cpes[0], "cpe:/a:igor_sysoev:nginx:1.24.0");
	assert_string_equal(p->service.cpes[1], "cpe:/o:linux:linux_kernel");
	assert_int_equal(p->nscripts, 2);
	assert_string_equal(p->scripts[0].id, "http-title");
	assert_string_equal(p->scripts[0].output, "Site <b>title\nline2");
	assert_string_equal(p->scripts[1].id, "ssl-cert");
	assert_string_equal(p->scripts[1].output, "Subject: commonName=files");
	p = &h->ports[1];
	assert_int_equal(p->port, 53);
	assert_int_equal(p->proto, REC_PROTO_UDP);
	assert_int_equal(p->state, REC_PORT_OPEN_FILTERED);
	assert_int_equal(p->reason_ttl, 0);
	assert_int_equal(p->service.ncpes, 0);
	assert_null(p->service.cpes);
	assert_int_equal(p->nscripts, 0);
	assert_null(p->scripts);
	p = &h->ports[2];
	assert_int_equal(p->port, 22);
	assert_string_equal(p->service.version, "9.2p1 Debian 2");
	assert_string_equal(p->service.ostype, "Linux");
	assert_int_equal(p->service.ncpes, 1);
	assert_string_equal(p->service.cpes[0], "cpe:/a:openbsd:openssh:9.2p1");

	assert_int_equal(h->has_os, 1);
	assert_string_equal(h->os.name, "Linux 5.0 - 5.14");
	assert_int_equal(h->os.accuracy, 98);
	assert_string_equal(h->os.vendor, "Linux");
	assert_string_equal(h->os.family, "Linux");
	assert_string_equal(h->os.gen, "5.X");
	assert_string_equal(h->os.type, "general purpose");
	assert_string_equal(h->os.cpe, "cpe:/o:linux:linux_kernel:5");
	assert_int_equal(h->uptime_seconds, 3600);
	assert_string_equal(h->lastboot, "Tue Nov 14 21:13:20 2023");
	assert_int_equal(h->distance, 1);
	assert_int_equal(h->nscripts, 2);
	assert_string_equal(h->scripts[0].id, "smb-os");
	assert_string_equal(h->scripts[0].output, "Windows 'x'");
	assert_string_equal(h->scripts[1].id, "nbstat");

	h = &lg.hosts[1];
	assert_int_equal(h->status, REC_HOST_DOWN);
	assert_string_equal(h->addr, "2001:db8::1");
	assert_int_equal(h->family, 6);
	assert_null(h->mac);
	assert_int_equal(h->nhostnames, 0);
	assert_null(h->hostnames);
	assert_int_equal(h->nports, 0);
	assert_null(h->ports);
	assert_int_equal(h->has_os, 0);
	assert_int_equal(h->uptime_seconds, -1);
	assert_int_equal(h->distance, -1);
	assert_int_equal(h->nscripts, 0);

	assert_int_equal(lg.rs.finished, 1);
	assert_int_equal(lg.rs.end, 1700000030);
	assert_true(lg.rs.elapsed == 30.25);
	assert_string_equal(lg.rs.exit, "success");
	assert_string_equal(lg.rs.summary,
	                    "Nmap done at Tue Nov 14 22:13:50 2023; 256 IP addresses "
	                    "(1 host up) scanned in 30.25 seconds");
	assert_null(lg.rs.errormsg);
	assert_int_equal(lg.rs.hosts_up, 1);
	assert_int_equal(lg.rs.hosts_down, 255);
	assert_int_equal(lg.rs.hosts_total, 256);
	log_free(&lg);
}

static void test_no_runstats(void **state)
{
	struct log lg;

	(void)state;
	log_init(&lg);
	assert_int_equal(parse_str(HEAD HOST_OPEN "</host>\n</nmaprun>\n", &lg), 0);
	assert_string_equal(lg.order, "BSHE");
	assert_int_equal(lg.rs.finished, 0);
	assert_int_equal(lg.rs.end, 0);
	assert_int_equal(lg.rs.hosts_up, -1);
	assert_int_equal(lg.rs.hosts_down, -1);
	assert_int_equal(lg.rs.hosts_total, -1);
	assert_int_equal(lg.hosts[0].nports, 0);
	assert_int_equal(lg.hosts[0].starttime, 100);
	log_free(&lg);
}

/* ---- chunking ----------------------------------------------------------- */

static void same_records(const char *name, const char *xml, size_t len)
{
	static const size_t chunks[] = {1, 2, 3, 7, 64, 1000, 4096};
	struct log whole, part;

	log_init(&whole);
	assert_int_equal(parse_chunked(name, xml, len, 0, 0, &whole), 0);
	assert_true(whole.dump.len > 0);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		for (int split = 0; split < 2; split++) {
			log_init(&part);
			assert_int_equal(parse_chunked(name, xml, len, chunks[i], split, &part), 0);
			assert_string_equal(buf_str(&part.dump), buf_str(&whole.dump));
			assert_string_equal(part.order, whole.order);
			log_free(&part);
		}
	}
	log_free(&whole);
}

static void test_byte_at_a_time(void **state)
{
	size_t len;
	char *xml = sample("complex.xml", &len);

	(void)state;
	same_records("complex.xml", xml, len);
	free(xml);
	same_records("modern.xml", modern_xml, strlen(modern_xml));
}

static int count_chunk(void *ctx, const void *data, size_t len, uint64_t total)
{
	uint64_t *seen = ctx;

	assert_non_null(data);
	*seen += len;
	assert_int_equal(*seen, total);
	return 0;
}

static int stop_chunk(void *ctx, const void *data, size_t len, uint64_t total)
{
	(void)ctx;
	(void)data;
	(void)len;
	(void)total;
	return SDB_EINTR;
}

static void test_parse_fd(void **state)
{
	char *path = tu_path(tu_nmap_data_dir(), "complex.xml");
	char err[512], *dir, *tpath;
	struct log lg;
	struct ingest_sink sink;
	uint64_t seen = 0;
	size_t len;
	char *xml = sample("complex.xml", &len);
	int fd;

	(void)state;
	log_init(&lg);
	sink = log_sink(&lg);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(
	    nmap_xml_parse_fd(fd, "complex.xml", &sink, count_chunk, &seen, err, sizeof(err)), 0);
	close(fd);
	assert_string_equal(err, "");
	assert_int_equal(seen, len);
	assert_string_equal(lg.order, "BSSHE");
	assert_int_equal(lg.hosts[0].nports, 6);
	log_free(&lg);

	/* on_chunk can stop the parse */
	log_init(&lg);
	sink = log_sink(&lg);
	fd = open(path, O_RDONLY);
	assert_int_equal(
	    nmap_xml_parse_fd(fd, "complex.xml", &sink, stop_chunk, NULL, err, sizeof(err)),
	    SDB_EINTR);
	close(fd);
	assert_true(err[0] != '\0');
	assert_int_equal(lg.nend, 0);
	log_free(&lg);

	/* a truncated file names itself, the line and the problem */
	dir = tu_mkdtemp("nmap_xml");
	assert_non_null(dir);
	tpath = tu_path(dir, "cut.xml");
	fd = open(tpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, xml, len / 2), (ssize_t)(len / 2));
	close(fd);
	log_init(&lg);
	sink = log_sink(&lg);
	fd = open(tpath, O_RDONLY);
	assert_int_equal(nmap_xml_parse_fd(fd, "cut.xml", &sink, NULL, NULL, err, sizeof(err)),
	                 SDB_EPARSE);
	close(fd);
	assert_int_equal(strncmp(err, "cut.xml:", 8), 0);
	assert_non_null(strstr(err, "unexpected end of file (truncated?)"));
	assert_int_equal(lg.nend, 0);
	log_free(&lg);

	/* a read error */
	fd = open(dir, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(nmap_xml_parse_fd(fd, "dir", NULL, NULL, NULL, err, sizeof(err)), SDB_EIO);
	close(fd);
	assert_non_null(strstr(err, "dir: read failed"));

	tu_rmtree(dir);
	free(tpath);
	free(dir);
	free(xml);
	free(path);
}

static void test_stats_and_null_sink(void **state)
{
	struct nmap_parser *p;
	struct nmap_parser_stats st;
	size_t len;
	char *xml = sample("complex.xml", &len);

	(void)state;
	/* a NULL sink and NULL callbacks are fine */
	assert_int_equal(nmap_parser_new(NULL, NULL, &p), 0);
	assert_int_equal(nmap_parser_feed(p, xml, len, 1), 0);
	nmap_parser_stats(p, &st);
	assert_int_equal(st.bytes, len);
	assert_int_equal(st.hosts, 1);
	assert_int_equal(st.ports, 6);
	assert_string_equal(nmap_parser_errmsg(p), "");
	/* feeding after the final chunk is a usage error, and sticks */
	assert_int_equal(nmap_parser_feed(p, "x", 1, 0), SDB_EUSAGE);
	assert_int_equal(nmap_parser_feed(p, NULL, 0, 1), SDB_EUSAGE);
	nmap_parser_free(p);
	nmap_parser_free(NULL);
	free(xml);
}

/* ---- sink control ------------------------------------------------------- */

static void test_sink_stops(void **state)
{
	struct log lg;
	struct ingest_sink sink;
	struct nmap_parser *p;
	int r;

	(void)state;
	log_init(&lg);
	lg.stop_at_host = 1;
	lg.stop_code = 42;
	sink = log_sink(&lg);
	assert_int_equal(nmap_parser_new(&sink, "m.xml", &p), 0);
	r = nmap_parser_feed(p, modern_xml, strlen(modern_xml), 0);
	assert_int_equal(r, 42);
	assert_int_equal(lg.nhosts, 1); /* the second host was never delivered */
	assert_int_equal(lg.nend, 0);
	assert_true(nmap_parser_errmsg(p)[0] != '\0');
	/* sticky */
	assert_int_equal(nmap_parser_feed(p, "<x/>", 4, 0), 42);
	assert_int_equal(nmap_parser_feed(p, NULL, 0, 1), 42);
	nmap_parser_free(p);
	log_free(&lg);

	/* a negative SDB code from run_begin comes back unchanged too */
	log_init(&lg);
	lg.begin_code = SDB_EDB;
	assert_int_equal(parse_str(modern_xml, &lg), SDB_EDB);
	assert_string_equal(lg.order, "B");
	log_free(&lg);
}

/* ---- validation --------------------------------------------------------- */

static void test_bad_numbers(void **state)
{
	(void)state;
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"abc\"", OPEN_STATE)), SDB_EPARSE,
	            "attribute portid of <port> is not a number: \"abc\"");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"70000\"", OPEN_STATE)), SDB_ERANGE,
	            "portid 70000 of <port> out of range 0-65535");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"-1\"", OPEN_STATE)), SDB_ERANGE,
	            "out of range 0-65535");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\" 80\"", OPEN_STATE)), SDB_EPARSE,
	            "not a number");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"80 \"", OPEN_STATE)), SDB_EPARSE,
	            "not a number");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"+80\"", OPEN_STATE)), SDB_EPARSE,
	            "not a number");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"0x50\"", OPEN_STATE)), SDB_EPARSE,
	            "not a number");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"\"", OPEN_STATE)), SDB_EPARSE,
	            "not a number");
	expect_fail(
	    DOC_HOST(PORT("protocol=\"tcp\" portid=\"99999999999999999999999\"", OPEN_STATE)),
	    SDB_ERANGE, "out of range");
	expect_fail(DOC_HOST("<os><osmatch name=\"x\" accuracy=\"x\" line=\"1\"/></os>"),
	            SDB_EPARSE, "attribute accuracy of <osmatch> is not a number: \"x\"");
	expect_fail(DOC_HOST("<os><osmatch name=\"x\" accuracy=\"101\" line=\"1\"/></os>"),
	            SDB_ERANGE, "accuracy 101 of <osmatch> out of range 0-100");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"80\"",
	                          "<state state=\"open\" reason=\"x\" reason_ttl=\"256\"/>")),
	            SDB_ERANGE, "reason_ttl 256 of <state> out of range 0-255");
	expect_fail(DOC_SERVICE("name=\"http\" conf=\"11\""), SDB_ERANGE,
	            "conf 11 of <service> out of range 0-10");
	expect_fail(DOC_SERVICE("name=\"http\" conf=\"high\""), SDB_EPARSE,
	            "attribute conf of <service> is not a number");
	expect_fail(DOC_HOST("<ports><extraports state=\"closed\" count=\"-5\"/></ports>"),
	            SDB_ERANGE, "count -5 of <extraports> out of range");
	expect_fail(DOC_HOST("<ports><extraports state=\"closed\" count=\"9\"><extrareasons "
	                     "reason=\"reset\" count=\"lots\"/></extraports></ports>"),
	            SDB_EPARSE, "attribute count of <extrareasons> is not a number");
	expect_fail(DOC_HOST("<distance value=\"256\"/>"), SDB_ERANGE,
	            "value 256 of <distance> out of range 0-255");
	expect_fail(DOC_HOST("<uptime seconds=\"-3\"/>"), SDB_ERANGE, "seconds -3 of <uptime>");
	expect_fail(HEAD "<host starttime=\"yesterday\"/></nmaprun>", SDB_EPARSE,
	            "attribute starttime of <host> is not a number");
	expect_fail(HEAD "<taskprogress task=\"x\" time=\"1\" percent=\"120\"/></nmaprun>",
	            SDB_ERANGE, "percent 120 of <taskprogress> out of range 0-100");
	expect_fail(HEAD "<taskprogress task=\"x\" time=\"1\" percent=\"1,5\"/></nmaprun>",
	            SDB_EPARSE, "percent of <taskprogress> is not a number");
	expect_fail(HEAD "<runstats><finished time=\"1\" elapsed=\"nan\"/></runstats></nmaprun>",
	            SDB_EPARSE, "attribute elapsed of <finished> is not a number");
	expect_fail(HEAD "<runstats><finished time=\"1\" elapsed=\"1e3\"/></runstats></nmaprun>",
	            SDB_EPARSE, "attribute elapsed of <finished> is not a number");
	expect_fail(HEAD "<runstats><hosts up=\"x\" total=\"1\"/></runstats></nmaprun>", SDB_EPARSE,
	            "attribute up of <hosts>");
	expect_fail("<nmaprun scanner=\"nmap\" start=\"-1\"></nmaprun>", SDB_ERANGE,
	            "start -1 of <nmaprun> out of range");
	expect_fail(HEAD "<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"many\" "
	                 "services=\"1\"/></nmaprun>",
	            SDB_EPARSE, "numservices");
	/* messages quote at most ~64 bytes of the offending value */
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"12345678901234567890123456789012345"
	                          "678901234567890123456789012345678901234567890x\"",
	                          OPEN_STATE)),
	            SDB_EPARSE,
	            "\"1234567890123456789012345678901234567890123456789012345678901234...\"");
}

static void test_bad_enums_and_structure(void **state)
{
	(void)state;
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"80\"",
	                          "<state state=\"ajar\" reason=\"x\" reason_ttl=\"1\"/>")),
	            SDB_EPARSE, "unknown port state \"ajar\"");
	expect_fail(DOC_HOST(PORT("protocol=\"icmp\" portid=\"80\"", OPEN_STATE)), SDB_EPARSE,
	            "unknown protocol \"icmp\" in <port>");
	expect_fail(HEAD "<scaninfo type=\"syn\" protocol=\"tcpx\" numservices=\"1\" "
	                 "services=\"1\"/></nmaprun>",
	            SDB_EPARSE, "unknown protocol \"tcpx\" in <scaninfo>");
	expect_fail(DOC_HOST("<ports><extraports state=\"shut\" count=\"1\"/></ports>"), SDB_EPARSE,
	            "unknown port state \"shut\" in <extraports>");
	/* no IP address: the error points at the <host> line */
	expect_fail(HEAD "<host><status state=\"up\" reason=\"x\" reason_ttl=\"0\"/>\n"
	                 "<address addr=\"00:11:22:33:44:55\" addrtype=\"mac\"/>\n</host>" TAIL,
	            SDB_EPARSE, "test.xml:4:1: <host> has no IPv4 or IPv6 address");
	expect_fail(DOC_HOST(PORT("portid=\"80\"", OPEN_STATE)), SDB_EPARSE,
	            "<port> has no protocol attribute");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\"", OPEN_STATE)), SDB_EPARSE,
	            "<port> has no portid attribute");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"80\"", "<service name=\"x\"/>")),
	            SDB_EPARSE, "<port> 80/tcp has no <state>");
	expect_fail(DOC_HOST(PORT("protocol=\"tcp\" portid=\"80\"",
	                          "<state reason=\"x\" reason_ttl=\"1\"/>")),
	            SDB_EPARSE, "<state> has no state attribute");
	expect_fail(DOC_HOST("<ports><port protocol=\"tcp\" portid=\"80\">" OPEN_STATE "</port>"
	                     "<port protocol=\"tcp\" portid=\"80\">" OPEN_STATE "</port></ports>"),
	            SDB_EPARSE, "port 80/tcp listed twice");
	expect_fail(HEAD "<host><address addr=\"999.1.1.1\" addrtype=\"ipv4\"/></host>" TAIL,
	            SDB_EPARSE, "invalid ipv4 address \"999.1.1.1\"");
	expect_fail(HEAD "<host><address addr=\"::1\" addrtype=\"ipv4\"/></host>" TAIL, SDB_EPARSE,
	            "invalid ipv4 address \"::1\"");
	expect_fail(HEAD "<host><address addr=\"10.0.0.1\" addrtype=\"ipv5\"/></host>" TAIL,
	            SDB_EPARSE, "unknown addrtype \"ipv5\"");
	expect_fail(DOC_HOST("<address addr=\"zz:11:22:33:44:55\" addrtype=\"mac\"/>"), SDB_EPARSE,
	            "invalid MAC address");
	expect_fail(DOC_HOST("<hostscript><script output=\"x\"/></hostscript>"), SDB_EPARSE,
	            "<script> has no id attribute");
	expect_fail("<?xml version=\"1.0\"?>\n<foo><host/></foo>\n", SDB_EPARSE,
	            "test.xml:2:1: not an nmap XML file: root element is <foo>");
	expect_fail("<html><body>hello</body></html>", SDB_EPARSE,
	            "not an nmap XML file: root element is <html>");
	expect_fail("this is not XML at all\n", SDB_EPARSE, "malformed XML: syntax error");
	expect_fail("", SDB_EPARSE, "empty input");
	expect_fail(HEAD "</nmaprun><nmaprun/>", SDB_EPARSE, "junk after document element");
}

/* Parse a document that must be accepted; its warnings are in lg. */
static void expect_ok(const char *xml, struct log *lg)
{
	int r;

	log_init(lg);
	r = parse_str(xml, lg);
	if (r)
		print_error("%s\n", errbuf);
	assert_int_equal(r, 0);
	assert_int_equal(lg->nend, 1);
}

static const char *warnings(struct log *lg)
{
	return lg->warnings.len ? buf_str(&lg->warnings) : "";
}

/* What nmap and Zenmap wrote over the years is read; a value the schema
 * could not store becomes a documented one, with a warning naming where. */
static void test_liberal_values(void **state)
{
	struct log lg;
	const struct rec_host *h;

	(void)state;
	/* nmap 3.x: <extraports state="unknown" count="0">, "UNfiltered" */
	expect_ok(DOC_HOST("<ports><extraports state=\"unknown\" count=\"0\"/>"
	                   "<extraports state=\"UNfiltered\" count=\"12\"/>"
	                   "<port protocol=\"tcp\" portid=\"22\"><state state=\"UNfiltered\"/>"
	                   "</port><port protocol=\"tcp\" portid=\"23\"><state state=\"Open\"/>"
	                   "</port></ports>"),
	          &lg);
	h = &lg.hosts[0];
	assert_int_equal(h->nextraports, 1);
	assert_int_equal(h->extraports[0].state, REC_PORT_UNFILTERED);
	assert_int_equal(h->extraports[0].count, 12);
	assert_int_equal(h->nports, 2);
	assert_int_equal(h->ports[0].state, REC_PORT_UNFILTERED);
	assert_int_equal(h->ports[1].state, REC_PORT_OPEN);
	assert_string_equal(warnings(&lg), ""); /* nothing was lost */
	log_free(&lg);

	/* an "unknown" that held ports: left out, said so */
	expect_ok(DOC_HOST("<ports><extraports state=\"unknown\" count=\"7\"/></ports>"), &lg);
	assert_int_equal(lg.hosts[0].nextraports, 0);
	assert_non_null(strstr(warnings(&lg), "test.xml:6:8: <extraports> of 7 ports in state "
	                                      "\"unknown\" left out"));
	log_free(&lg);

	/* two <extraports> of one state: one entry, counts and reasons added */
	expect_ok(
	    DOC_HOST("<ports><extraports state=\"closed\" count=\"3\"><extrareasons "
	             "reason=\"reset\" count=\"3\"/></extraports><extraports state=\"Closed\" "
	             "count=\"4\"><extrareasons reason=\"x\" count=\"4\"/></extraports></ports>"),
	    &lg);
	h = &lg.hosts[0];
	assert_int_equal(h->nextraports, 1);
	assert_int_equal(h->extraports[0].count, 7);
	assert_string_equal(h->extraports[0].reasons, "x:4,reset:3");
	assert_non_null(strstr(warnings(&lg), "a second <extraports> in state \"closed\""));
	log_free(&lg);

	/* Zenmap: <uptime seconds="" lastboot="">, empty numbers are absent */
	expect_ok(DOC_HOST("<uptime seconds=\"\" lastboot=\"\"/><distance value=\"\"/>"), &lg);
	h = &lg.hosts[0];
	assert_int_equal(h->uptime_seconds, -1);
	assert_null(h->lastboot);
	assert_int_equal(h->distance, -1);
	assert_string_equal(warnings(&lg), "");
	log_free(&lg);

	/* method="detection": not a value the schema holds: NULL, warned */
	expect_ok(DOC_SERVICE("name=\"http\" method=\"detection\" conf=\"3\""), &lg);
	assert_null(lg.hosts[0].ports[0].service.method);
	assert_string_equal(lg.hosts[0].ports[0].service.name, "http");
	assert_string_equal(warnings(&lg),
	                    "test.xml:6:95: unknown service method \"detection\" left out (want "
	                    "table, probed)\n");
	log_free(&lg);
	expect_ok(DOC_SERVICE("name=\"http\" method=\"Probed\""), &lg);
	assert_string_equal(lg.hosts[0].ports[0].service.method, "probed");
	log_free(&lg);

	/* an unknown host state reads "unknown" */
	expect_ok(HEAD "<host><status state=\"sideways\" reason=\"x\" reason_ttl=\"0\"/>"
	               "<address addr=\"10.0.0.1\" addrtype=\"ipv4\"/></host>" TAIL,
	          &lg);
	assert_int_equal(lg.hosts[0].status, REC_HOST_UNKNOWN);
	assert_non_null(strstr(warnings(&lg), "test.xml:4:7: unknown host state \"sideways\""));
	log_free(&lg);
	/* "gone" is the history's word, not nmap's (no scan may store it) */
	expect_ok(HEAD "<host><status state=\"gone\" reason=\"x\" reason_ttl=\"0\"/>"
	               "<address addr=\"10.0.0.1\" addrtype=\"ipv4\"/></host>" TAIL,
	          &lg);
	assert_int_equal(lg.hosts[0].status, REC_HOST_UNKNOWN);
	assert_non_null(strstr(warnings(&lg), "test.xml:4:7: unknown host state \"gone\""));
	log_free(&lg);

	/* endtime before starttime (the schema's CHECK): endtime left out */
	expect_ok(HEAD "<host starttime=\"500\" endtime=\"400\"><status state=\"up\"/>"
	               "<address addr=\"10.0.0.1\" addrtype=\"ipv4\"/></host>" TAIL,
	          &lg);
	assert_int_equal(lg.hosts[0].starttime, 500);
	assert_int_equal(lg.hosts[0].endtime, 0);
	assert_non_null(strstr(warnings(&lg), "test.xml:4:1: <host> endtime is before its "
	                                      "starttime: endtime left out"));
	log_free(&lg);

	/* a port in nmap's state "unknown": left out with its scripts */
	expect_ok(DOC_HOST("<ports><port protocol=\"tcp\" portid=\"1\"><state state=\"unknown\"/>"
	                   "<script id=\"a\" output=\"b\"/></port><port protocol=\"tcp\" "
	                   "portid=\"2\">" OPEN_STATE "<script id=\"c\" output=\"d\"/></port>"
	                   "</ports>"),
	          &lg);
	h = &lg.hosts[0];
	assert_int_equal(h->nports, 1);
	assert_int_equal(h->ports[0].port, 2);
	assert_int_equal(h->ports[0].nscripts, 1);
	assert_string_equal(h->ports[0].scripts[0].id, "c");
	assert_non_null(strstr(warnings(&lg), "port 1/tcp in state \"unknown\" left out"));
	log_free(&lg);

	/* ::ffff:1.2.3.4 is the IPv4 host 1.2.3.4 */
	expect_ok(HEAD "<host><status state=\"up\"/><address addr=\"::ffff:1.2.3.4\" "
	               "addrtype=\"ipv6\"/></host><host><status state=\"up\"/><address "
	               "addr=\"::FFFF:0102:0305\" addrtype=\"ipv6\"/></host>" TAIL,
	          &lg);
	assert_int_equal(lg.nhosts, 2);
	assert_string_equal(lg.hosts[0].addr, "1.2.3.4");
	assert_int_equal(lg.hosts[0].family, 4);
	assert_string_equal(lg.hosts[1].addr, "1.2.3.5");
	log_free(&lg);
	expect_ok(HEAD "<host><status state=\"up\"/><address addr=\"::1.2.3.4\" "
	               "addrtype=\"ipv6\"/></host>" TAIL,
	          &lg);
	assert_int_equal(lg.hosts[0].family, 6); /* v4-compatible is not v4-mapped */
	log_free(&lg);

	/* a run without times or counts: absent, not 0 and not "now" */
	expect_ok("<nmaprun scanner=\"nmap\" start=\"0\"><runstats><finished time=\"\"/>"
	          "</runstats></nmaprun>",
	          &lg);
	assert_int_equal(lg.start, 0);
	assert_int_equal(lg.rs.end, 0);
	assert_true(lg.rs.elapsed == -1);
	assert_int_equal(lg.rs.hosts_up, -1);
	assert_int_equal(lg.rs.hosts_total, -1);
	assert_int_equal(lg.rs.truncated, 0);
	log_free(&lg);
	expect_ok("<nmaprun scanner=\"nmap\" start=\"\"></nmaprun>", &lg);
	assert_int_equal(lg.start, 0);
	log_free(&lg);
}

/* Refused with where: what would be stored wrong. */
static void test_refused_values(void **state)
{
	(void)state;
	expect_fail("<?xml version=\"1.0\"?>\n<nmaprun scanner=\"masscan\" start=\"1\" "
	            "version=\"1.0-BETA\" xmloutputversion=\"1.03\">\n<host endtime=\"1\">"
	            "<address addr=\"10.0.0.1\" addrtype=\"ipv4\"/></host></nmaprun>\n",
	            SDB_EPARSE, "test.xml:2:1: masscan XML is not supported yet");
	expect_fail(HEAD "<scaninfo type=\"syn\" protocol=\"udp\" services=\"1-70000\"/></nmaprun>",
	            SDB_EPARSE,
	            "test.xml:4:1: services \"1-70000\" of <scaninfo> is not a port list");
	expect_fail(HEAD "<scaninfo type=\"syn\" protocol=\"udp\" services=\"1000-1\"/></nmaprun>",
	            SDB_EPARSE,
	            "test.xml:4:1: services \"1000-1\" of <scaninfo> is not a port list");
	expect_fail(DOC_HOST("<ports><extraports state=\"shut\" count=\"0\"/></ports>"), SDB_EPARSE,
	            "unknown port state \"shut\" in <extraports>");
}

/* The first WARN_MAX warnings are passed on, then one count. */
static void test_warning_cap(void **state)
{
	struct buf b;
	struct log lg;

	(void)state;
	buf_init(&b, (size_t)1 << 20);
	buf_append_str(&b, HEAD);
	for (int i = 0; i < 30; i++)
		buf_printf(&b,
		           "<host><status state=\"odd\"/><address addr=\"10.0.0.%d\" "
		           "addrtype=\"ipv4\"/></host>\n",
		           i + 1);
	buf_append_str(&b, TAIL);
	expect_ok(buf_str(&b), &lg);
	assert_int_equal(lg.nhosts, 30);
	assert_int_equal(lg.nwarnings, 21);
	assert_non_null(strstr(warnings(&lg), "test.xml: 10 more warnings like these\n"));
	log_free(&lg);
	buf_free(&b);
}

/* accept_truncated: a file cut off after complete hosts ends with run_end
 * (truncated = 1) and those hosts; the one being read is dropped. */
static void test_cut_off_accepted(void **state)
{
	size_t len, end;
	char *xml = sample("complex.xml", &len);
	const char *close;

	(void)state;
	close = strstr(xml, "</nmaprun>");
	assert_non_null(close);
	end = (size_t)(close - xml);
	for (size_t off = 1; off < end; off += 7) {
		struct log lg;
		size_t complete = 0;
		const char *q = xml;
		int r;

		/* hosts whose </host> lies wholly within the first off bytes */
		while ((q = strstr(q, "</host>")) && (size_t)(q - xml) + 7 <= off) {
			complete++;
			q += 7;
		}
		log_init(&lg);
		lg.accept_truncated = 1;
		r = parse_chunked("cut.xml", xml, off, 0, off % 3 == 0, &lg);
		if (strchr(strstr(xml, "<nmaprun"), '>') - xml >= (ptrdiff_t)off) {
			/* cut before <nmaprun> opened: still refused */
			assert_int_equal(r, SDB_EPARSE);
			log_free(&lg);
			continue;
		}
		if (r != 0)
			print_error("offset %zu: %s\n", off, errbuf);
		assert_int_equal(r, 0);
		assert_int_equal(lg.nend, 1);
		assert_int_equal(lg.rs.truncated, 1);
		assert_int_equal(lg.nhosts, complete);
		assert_non_null(strstr(warnings(&lg), "the file ends before </nmaprun> (cut off)"));
		log_free(&lg);
	}
	free(xml);
}

/* Refused, a document cut off after complete hosts says how many, and
 * the sink's hint (what keeps them); with no complete host, or no hint, or
 * cut before <nmaprun>, the message is the plain one. */
static void test_cut_off_hint(void **state)
{
	static const char hint[] = "`scandb import --partial` keeps what is complete";
	static const char *const docs[] = {
	    HEAD HOST_OPEN "</host>\n<host><status state=\"up\"/><address addr=\"192.0.2.9\"",
	    "<?xml version=\"1.0\"?><nmaprun scanner=\"nmap\"><host><status state=\"up\"/>",
	    "<?xml version=\"1.0\"?><nmapr",
	};
	struct log lg;

	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		for (int with_hint = 0; with_hint < 2; with_hint++) {
			log_init(&lg);
			lg.hint = with_hint ? hint : NULL;
			assert_int_equal(parse_str(docs[i], &lg), SDB_EPARSE);
			assert_non_null(strstr(errbuf, "unexpected end of file (truncated?)"));
			if (i == 0 && with_hint)
				assert_non_null(strstr(errbuf,
				                       "(truncated?) after 1 complete host; "
				                       "`scandb import --partial` keeps what "
				                       "is complete"));
			else
				assert_null(strstr(errbuf, "complete"));
			log_free(&lg);
		}
	}
}

/* The error position is where the offending element starts (1-based). */
static void test_error_position(void **state)
{
	struct log lg;

	(void)state;
	log_init(&lg);
	assert_int_equal(parse_str("<nmaprun>\n<host>\n  <ports>  <port protocol=\"tcp\" "
	                           "portid=\"70000\"/></ports></host></nmaprun>",
	                           &lg),
	                 SDB_ERANGE);
	assert_string_equal(errbuf, "test.xml:3:12: portid 70000 of <port> out of range 0-65535");
	log_free(&lg);
}

/* Unknown elements and elements out of place are skipped, with subtrees. */
static void test_skips_foreign(void **state)
{
	struct log lg;

	(void)state;
	log_init(&lg);
	assert_int_equal(
	    parse_str(DOC_HOST("<extension><port protocol=\"bogus\" portid=\"x\"/><address "
	                       "addr=\"junk\"/></extension>"
	                       "<ports><port protocol=\"tcp\" portid=\"80\">" OPEN_STATE
	                       "<owner name=\"root\"/><script id=\"s\" output=\"o\"><elem>x</elem>"
	                       "<table><script id=\"inner\"/></table></script></port></ports>"),
	              &lg),
	    0);
	assert_int_equal(lg.nhosts, 1);
	assert_int_equal(lg.hosts[0].nports, 1);
	assert_int_equal(lg.hosts[0].ports[0].nscripts, 1);
	assert_string_equal(lg.hosts[0].ports[0].scripts[0].output, "o");
	assert_int_equal(lg.hosts[0].ports[0].has_service, 0);
	assert_string_equal(lg.hosts[0].addr, "10.0.0.1");
	log_free(&lg);
}

/* Every <osmatch> name in order (a nameless one left out, as ndiff does);
 * the first is the best match.  <prescript>/<postscript> results come with
 * run_end, even with hosts (whose arena is reset) in between. */
static void test_osmatches_and_run_scripts(void **state)
{
	static const char xml[] = HEAD
	    "<prescript><script id=\"broadcast-ping\" output=\"IP: 10.0.0.9\"/>"
	    "<script id=\"targets-sniffer\" "
	    "output=\"\"><elem>x</elem></script></prescript>\n" HOST_OPEN
	    "<os><osmatch name=\"Linux 5.0 - 5.4\" accuracy=\"98\">"
	    "<osclass vendor=\"Linux\" osfamily=\"Linux\"/></osmatch>"
	    "<osmatch accuracy=\"96\"/><osmatch name=\"Linux 4.15\" accuracy=\"95\"/>"
	    "<osmatch name=\"Linux 5.0 - 5.4\" accuracy=\"90\"/></os></host>\n"
	    "<host><status state=\"up\"/><address addr=\"10.0.0.2\" addrtype=\"ipv4\"/></host>\n"
	    "<postscript><script id=\"reverse-index\" output=\"&#10;  22/tcp: 10.0.0.1\"/>"
	    "</postscript>\n" TAIL;
	struct log lg;
	struct buf b;
	char *big;

	(void)state;
	log_init(&lg);
	assert_int_equal(parse_str(xml, &lg), 0);
	assert_string_equal(lg.order, "BSHHE");
	assert_int_equal(lg.nhosts, 2);
	assert_string_equal(lg.hosts[0].os.name, "Linux 5.0 - 5.4");
	assert_int_equal(lg.hosts[0].os.accuracy, 98);
	assert_string_equal(lg.hosts[0].os.vendor, "Linux");
	assert_int_equal(lg.hosts[0].nosmatches, 3);
	assert_string_equal(lg.hosts[0].osmatches[0], "Linux 5.0 - 5.4");
	assert_string_equal(lg.hosts[0].osmatches[1], "Linux 4.15");
	assert_string_equal(lg.hosts[0].osmatches[2], "Linux 5.0 - 5.4");
	assert_int_equal(lg.hosts[1].nosmatches, 0);
	assert_null(lg.hosts[1].osmatches);
	assert_int_equal(lg.rs.nprescripts, 2);
	assert_string_equal(lg.rs.prescripts[0].id, "broadcast-ping");
	assert_string_equal(lg.rs.prescripts[0].output, "IP: 10.0.0.9");
	assert_string_equal(lg.rs.prescripts[1].id, "targets-sniffer");
	assert_string_equal(lg.rs.prescripts[1].output, "");
	assert_int_equal(lg.rs.npostscripts, 1);
	assert_string_equal(lg.rs.postscripts[0].id, "reverse-index");
	assert_string_equal(lg.rs.postscripts[0].output, "\n  22/tcp: 10.0.0.1");
	log_free(&lg);

	/* a script outside the run's phases (in <prescript>'s child) is not one */
	log_init(&lg);
	assert_int_equal(parse_str(HEAD "<prescript><table><script id=\"in\"/></table></prescript>"
	                                "<hosthint><script id=\"h\"/></hosthint>" TAIL,
	                           &lg),
	                 0);
	assert_int_equal(lg.rs.nprescripts, 0);
	assert_int_equal(lg.rs.npostscripts, 0);
	log_free(&lg);

	/* limits */
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD HOST_OPEN "<os>");
	for (int i = 0; i <= NMAP_XML_MAX_NAMES; i++)
		buf_printf(&b, "<osmatch name=\"os%d\" accuracy=\"90\"/>", i);
	buf_append_str(&b, "</os></host>" TAIL);
	expect_fail_mem(b.data, b.len, SDB_ETOOBIG, "more than 1024 <osmatch> in one host");
	buf_free(&b);

	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD "<prescript>");
	for (int i = 0; i < NMAP_XML_MAX_RUN_SCRIPTS; i++)
		buf_printf(&b, "<script id=\"s%d\" output=\"o\"/>", i);
	buf_append_str(&b,
	               "</prescript><postscript><script id=\"one-too-many\"/></postscript>" TAIL);
	expect_fail_mem(b.data, b.len, SDB_ETOOBIG, "more than 4096 pre-/post-scan scripts");
	buf_free(&b);

	/* the run's script output: 8 MiB in all are kept, the rest cut */
	big = malloc((4 << 20) - 64);
	assert_non_null(big);
	memset(big, 'x', (4 << 20) - 64);
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD "<postscript>");
	for (int i = 0; i < 17; i++) {
		buf_printf(&b, "<script id=\"s%d\" output=\"", i);
		buf_append(&b, big, (4 << 20) - 64);
		buf_append_str(&b, "\"/>");
	}
	free(big);
	buf_append_str(&b, "</postscript>" TAIL);
	log_init(&lg);
	assert_int_equal(parse_mem(b.data, b.len, &lg), 0);
	assert_int_equal(lg.rs.npostscripts, 17);
	{
		size_t kept = 0;

		for (size_t i = 0; i < lg.rs.npostscripts; i++) {
			const char *o = lg.rs.postscripts[i].output;
			const char *note = strstr(o, "[scandb: output cut to ");

			assert_non_null(note);
			kept += (size_t)(note - o) - (note > o); /* the note's newline */
		}
		assert_int_equal(kept, NMAP_XML_MAX_RUN_BYTES);
	}
	assert_non_null(strstr(warnings(&lg), "test.xml:4:"));
	assert_non_null(strstr(warnings(&lg), "output of script \"s0\" (4194240 bytes) cut to "
	                                      "1048576 bytes: over 1 MiB"));
	assert_non_null(strstr(warnings(&lg), "output of script \"s8\" (4194240 bytes) cut to 0 "
	                                      "bytes: the run's pre-/post-scan script output is "
	                                      "over 8 MiB in all"));
	log_free(&lg);
	buf_free(&b);
}

static void test_sql_and_unicode_verbatim(void **state)
{
	static const char sql[] = "'); DROP TABLE hosts;--";
	struct log lg;
	const struct rec_host *h;

	(void)state;
	log_init(&lg);
	assert_int_equal(
	    parse_str(DOC_HOST("<hostnames><hostname name=\"&apos;); DROP TABLE hosts;--\" "
	                       "type=\"user\"/><hostname name=\"caf\xc3\xa9.example\" "
	                       "type=\"PTR\"/><hostname type=\"PTR\"/></hostnames>"
	                       "<ports><port protocol=\"tcp\" portid=\"80\">" OPEN_STATE
	                       "<service name=\"x&quot; OR 1=1 --\" product=\"&lt;script&gt;\"/>"
	                       "<script id=\"sql\" output=\"'); DROP TABLE hosts;--\"/>"
	                       "</port></ports>"),
	              &lg),
	    0);
	h = &lg.hosts[0];
	assert_int_equal(h->nhostnames, 2); /* a hostname without name is skipped */
	assert_string_equal(h->hostnames[0].name, sql);
	assert_string_equal(h->hostnames[1].name, "caf\xc3\xa9.example");
	assert_string_equal(h->ports[0].service.name, "x\" OR 1=1 --");
	assert_string_equal(h->ports[0].service.product, "<script>");
	assert_string_equal(h->ports[0].scripts[0].output, sql);
	log_free(&lg);
}

/* ---- hostile XML -------------------------------------------------------- */

static void test_billion_laughs(void **state)
{
	(void)state;
	expect_fail("<?xml version=\"1.0\"?>\n"
	            "<!DOCTYPE nmaprun [\n"
	            " <!ENTITY lol \"lol\">\n"
	            " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	            " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	            " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	            " <!ENTITY lol9 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	            "]>\n"
	            "<nmaprun scanner=\"nmap\" args=\"&lol9;\"></nmaprun>\n",
	            SDB_EPARSE, "test.xml:3:");
	expect_fail("<!DOCTYPE nmaprun [<!ENTITY a \"b\">]><nmaprun/>", SDB_EPARSE,
	            "entity declarations are not allowed (<!ENTITY a>)");
	/* quadratic blowup: one big entity referenced many times */
	expect_fail("<!DOCTYPE nmaprun [<!ENTITY big \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\">]>"
	            "<nmaprun args=\"&big;&big;&big;&big;&big;&big;&big;\"/>",
	            SDB_EPARSE, "entity declarations are not allowed");
}

static void test_external_entities(void **state)
{
	struct log lg;

	(void)state;
	expect_fail("<?xml version=\"1.0\"?>\n"
	            "<!DOCTYPE nmaprun [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
	            "<nmaprun scanner=\"nmap\"><host><status state=\"up\" reason=\"&xxe;\"/>"
	            "<address addr=\"10.0.0.1\"/></host></nmaprun>\n",
	            SDB_EPARSE, "entity declarations are not allowed (<!ENTITY xxe>)");
	expect_fail("<!DOCTYPE nmaprun [<!ENTITY % pe SYSTEM \"http://127.0.0.1:9/x.dtd\"> %pe;]>"
	            "<nmaprun/>",
	            SDB_EPARSE, "entity declarations are not allowed (<!ENTITY % pe>)");
	expect_fail("<!DOCTYPE nmaprun [<!ENTITY u SYSTEM \"x\" NDATA gif>]><nmaprun/>", SDB_EPARSE,
	            "entity declarations are not allowed");
	/* an entity nobody declared */
	expect_fail("<nmaprun args=\"&xxe;\"/>", SDB_EPARSE, "undefined entity");

	/* real nmap files carry <!DOCTYPE nmaprun>; a SYSTEM/PUBLIC DTD is
	 * never fetched (the port below is closed: a fetch would fail) */
	log_init(&lg);
	assert_int_equal(parse_str("<!DOCTYPE nmaprun>\n<nmaprun/>", &lg), 0);
	assert_string_equal(lg.order, "BE");
	log_free(&lg);
	log_init(&lg);
	assert_int_equal(parse_str("<!DOCTYPE nmaprun SYSTEM \"http://127.0.0.1:9/nmap.dtd\">\n"
	                           "<nmaprun/>",
	                           &lg),
	                 0);
	log_free(&lg);
	log_init(&lg);
	assert_int_equal(parse_str("<!DOCTYPE nmaprun PUBLIC \"-//IDN nmap.org//DTD Nmap XML "
	                           "1.04//EN\" \"https://svn.nmap.org/nmap/docs/nmap.dtd\">\n"
	                           "<nmaprun/>",
	                           &lg),
	                 0);
	log_free(&lg);
}

/* Every prefix of complex.xml that stops before the end of </nmaprun> is
 * refused as truncated - whether the final flag comes with the data or on
 * its own - and run_end is never called for it. */
static void test_truncation(void **state)
{
	size_t len, end;
	char *xml = sample("complex.xml", &len);
	const char *close;

	(void)state;
	close = strstr(xml, "</nmaprun>");
	assert_non_null(close);
	end = (size_t)(close - xml) + strlen("</nmaprun>");
	for (size_t off = 0; off < end; off++) {
		struct log lg;
		int r;

		log_init(&lg);
		r = parse_chunked("cut.xml", xml, off, 0, off % 97 == 0, &lg);
		if (r != SDB_EPARSE || lg.nend != 0 ||
		    !(strstr(errbuf, "unexpected end of file (truncated?)") ||
		      (off == 0 && strstr(errbuf, "empty input"))))
			print_error("offset %zu: r=%d nend=%d \"%s\"\n", off, r, lg.nend, errbuf);
		assert_int_equal(r, SDB_EPARSE);
		assert_int_equal(lg.nend, 0);
		assert_true(strstr(errbuf, "unexpected end of file (truncated?)") ||
		            (off == 0 && strstr(errbuf, "empty input")));
		assert_int_equal(strncmp(errbuf, "cut.xml:", 8), 0);
		log_free(&lg);
	}
	for (size_t off = end; off <= len; off++) { /* only trailing whitespace missing */
		struct log lg;

		log_init(&lg);
		assert_int_equal(parse_chunked("cut.xml", xml, off, 0, 0, &lg), 0);
		assert_int_equal(lg.nend, 1);
		log_free(&lg);
	}
	free(xml);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Build HEAD HOST_OPEN pre <filler> post "</host>" TAIL in one buffer. */
static char *doc_with(const char *pre, const char *filler, const char *post, size_t *len)
{
	struct buf b;

	buf_init(&b, (size_t)1 << 30);
	assert_int_equal(
	    buf_printf(&b, "%s%s%s%s%s</host>\n%s", HEAD, HOST_OPEN, pre, filler, post, TAIL), 0);
	*len = b.len;
	return buf_steal(&b);
}

static void test_long_values(void **state)
{
	char *big = repeat('a', 1u << 20), *doc;
	struct log lg;
	size_t len;

	(void)state;
	/* a 1 MB hostname */
	doc = doc_with("<hostnames><hostname name=\"", big, "\" type=\"PTR\"/></hostnames>", &len);
	expect_fail_mem(doc, len, SDB_ETOOBIG,
	                "attribute name of <hostname> is 1048576 bytes, limit 4096");
	free(doc);

	/* exactly at the limit is fine */
	big[NMAP_XML_MAX_FIELD] = '\0';
	doc = doc_with("<hostnames><hostname name=\"", big, "\"/></hostnames>", &len);
	log_init(&lg);
	assert_int_equal(parse_mem(doc, len, &lg), 0);
	assert_int_equal(strlen(lg.hosts[0].hostnames[0].name), NMAP_XML_MAX_FIELD);
	log_free(&lg);
	free(doc);
	big[NMAP_XML_MAX_FIELD] = 'a';

	/* a 1 MiB script output is kept whole; a longer one is cut (below) */
	doc = doc_with("<hostscript><script id=\"big\" output=\"", big, "\"/></hostscript>", &len);
	log_init(&lg);
	assert_int_equal(parse_mem(doc, len, &lg), 0);
	assert_int_equal(strlen(lg.hosts[0].scripts[0].output), NMAP_XML_MAX_OUTPUT);
	assert_int_equal(lg.nwarnings, 0);
	log_free(&lg);
	free(doc);
	free(big);

	/* cpe text and the joined extrareasons are capped too */
	big = repeat('c', NMAP_XML_MAX_FIELD + 1);
	doc = doc_with("<ports><port protocol=\"tcp\" portid=\"1\">" OPEN_STATE
	               "<service name=\"x\"><cpe>",
	               big, "</cpe></service></port></ports>", &len);
	expect_fail_mem(doc, len, SDB_ETOOBIG, "text of <cpe> is longer than 4096 bytes");
	free(doc);
	big[3000] = '\0';
	doc = doc_with("<ports><extraports state=\"closed\" count=\"1\"><extrareasons reason=\"a\" "
	               "count=\"1\"/><extrareasons count=\"1\" reason=\"",
	               big, "\"/><extrareasons reason=\"b\" count=\"1\"/></extraports></ports>",
	               &len);
	log_init(&lg);
	assert_int_equal(parse_mem(doc, len, &lg), 0);
	log_free(&lg);
	free(doc);
	{
		struct buf b;

		buf_init(&b, (size_t)1 << 30);
		buf_printf(&b, "%s%s<ports><extraports state=\"closed\" count=\"1\">", HEAD,
		           HOST_OPEN);
		for (int i = 0; i < 3; i++)
			buf_printf(&b, "<extrareasons reason=\"%s\" count=\"1\"/>", big);
		buf_printf(&b, "</extraports></ports></host>%s", TAIL);
		expect_fail_mem(b.data, b.len, SDB_ETOOBIG,
		                "extrareasons of <extraports> exceed 4096 bytes");
		buf_free(&b);
	}
	free(big);
}

/* Script output past NMAP_XML_MAX_OUTPUT (one script) or
 * NMAP_XML_MAX_HOST_OUTPUT (a host's in all) is cut, on a UTF-8 boundary,
 * with a note in the output and a warning saying where; the rest of the
 * file is read as usual, and the next host starts with a full budget. */
static void test_script_output_cut(void **state)
{
	struct buf b;
	struct log lg;
	char *big;
	size_t n = NMAP_XML_MAX_OUTPUT + 5000;

	(void)state;
	/* "é" (2 bytes) straddles the 1 MiB mark: cut before it */
	big = repeat('a', n);
	memcpy(big + NMAP_XML_MAX_OUTPUT - 1, "\xc3\xa9", 2);
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD HOST_OPEN "<ports>");
	buf_append_str(&b, "<port protocol=\"tcp\" portid=\"80\">" OPEN_STATE
	                   "<script id=\"http-spider\" output=\"");
	buf_append(&b, big, n);
	buf_append_str(&b, "\"/></port>\n");
	/* then 9 outputs of 1 MiB: 8 MiB in all for the host, the rest cut */
	big[NMAP_XML_MAX_OUTPUT - 1] = 'b';
	big[NMAP_XML_MAX_OUTPUT] = '\0';
	for (int i = 0; i < 9; i++) {
		buf_printf(&b, "<port protocol=\"tcp\" portid=\"%d\">" OPEN_STATE, 81 + i);
		buf_printf(&b, "<script id=\"s%d\" output=\"%s\"/></port>\n", i, big);
	}
	buf_append_str(&b,
	               "</ports></host>\n" HOST_OPEN "<hostscript><script id=\"next\" output=\"");
	buf_append_str(&b, big);
	buf_append_str(&b, "\"/></hostscript></host>" TAIL);
	log_init(&lg);
	assert_int_equal(parse_mem(b.data, b.len, &lg), 0);
	assert_int_equal(lg.nhosts, 2);
	assert_int_equal(lg.hosts[0].nports, 10);
	/* the first: 1 MiB minus the 'a' before the cut character, and the note */
	{
		const struct rec_script *sc = &lg.hosts[0].ports[0].scripts[0];
		char note[128];

		snprintf(note, sizeof(note), "\n[scandb: output cut to %u of its %zu bytes]",
		         NMAP_XML_MAX_OUTPUT - 1, n);
		assert_int_equal(strlen(sc->output), NMAP_XML_MAX_OUTPUT - 1 + strlen(note));
		assert_string_equal(sc->output + NMAP_XML_MAX_OUTPUT - 1, note);
	}
	/* s0..s6 whole: 8 MiB - 1 with the first; s7 takes the 1 byte left */
	for (int i = 0; i < 7; i++)
		assert_int_equal(strlen(lg.hosts[0].ports[1 + i].scripts[0].output),
		                 NMAP_XML_MAX_OUTPUT);
	assert_string_equal(lg.hosts[0].ports[8].scripts[0].output,
	                    "a\n[scandb: output cut to 1 of its 1048576 bytes]");
	assert_string_equal(lg.hosts[0].ports[9].scripts[0].output,
	                    "[scandb: output cut to 0 of its 1048576 bytes]");
	/* a new host, a new budget */
	assert_int_equal(strlen(lg.hosts[1].scripts[0].output), NMAP_XML_MAX_OUTPUT);
	assert_int_equal(lg.nwarnings, 3);
	/* where the <script> starts */
	assert_string_equal(warnings(&lg),
	                    "test.xml:6:95: output of script \"http-spider\" (1053576 bytes) cut "
	                    "to 1048575 bytes: over 1 MiB\n"
	                    "test.xml:14:88: output of script \"s7\" (1048576 bytes) cut to 1 "
	                    "bytes: the host's script output is over 8 MiB in all\n"
	                    "test.xml:15:88: output of script \"s8\" (1048576 bytes) cut to 0 "
	                    "bytes: the host's script output is over 8 MiB in all\n");
	log_free(&lg);
	buf_free(&b);
	free(big);

	/* over NMAP_XML_MAX_TOKEN it cannot be read at all: refused */
	n = NMAP_XML_MAX_TOKEN + (256u << 10);
	big = repeat('o', n);
	{
		size_t len;
		char *doc = doc_with("<hostscript><script id=\"big\" output=\"", big,
		                     "\"/></hostscript>", &len);
		char what[64];

		snprintf(what, sizeof(what), "token longer than %u bytes", NMAP_XML_MAX_TOKEN);
		expect_fail_mem(doc, len, SDB_ETOOBIG, what);
		free(doc);
	}
	free(big);
}

/* All a host holds but script output - ports, names, fields - is capped:
 * a crafted host of many ports with long fields is refused, naming where
 * the host starts; a host of all 65,535 ports as nmap writes it is not. */
static void test_host_cap(void **state)
{
	struct buf b;
	struct log lg;
	char *field = repeat('p', NMAP_XML_MAX_FIELD);

	(void)state;
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD HOST_OPEN "<ports>");
	for (int i = 1; i <= 65535; i++)
		buf_printf(&b,
		           "<port protocol=\"tcp\" portid=\"%d\"><state state=\"open\" "
		           "reason=\"syn-ack\" reason_ttl=\"64\"/><service name=\"tcpwrapped\" "
		           "product=\"Acme httpd\" version=\"1.2.3\" method=\"probed\" "
		           "conf=\"8\"><cpe>cpe:/a:acme:httpd:1.2.3</cpe></service></port>\n",
		           i);
	buf_append_str(&b, "</ports></host>" TAIL);
	log_init(&lg);
	assert_int_equal(parse_mem(b.data, b.len, &lg), 0);
	assert_int_equal(lg.hosts[0].nports, 65535);
	log_free(&lg);
	buf_free(&b);

	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD HOST_OPEN "<ports>");
	for (int i = 1; i <= 65535; i++)
		buf_printf(&b,
		           "<port protocol=\"tcp\" portid=\"%d\"><state state=\"open\" "
		           "reason=\"%s\"/></port>\n",
		           i, field);
	buf_append_str(&b, "</ports></host>" TAIL);
	expect_fail_mem(b.data, b.len, SDB_ETOOBIG,
	                "the <host> at line 4 holds more than 16 MiB (ports, names, fields; "
	                "script output aside)");
	buf_free(&b);
	free(field);
}

static void test_token_cap(void **state)
{
	size_t n = (size_t)20 << 20, len;
	char *big = repeat('z', n), *doc;
	char what[64];

	(void)state;
	snprintf(what, sizeof(what), "token longer than %u bytes", NMAP_XML_MAX_TOKEN);
	/* a 20 MB attribute value of an element we ignore */
	doc = doc_with("<times srtt=\"", big, "\"/>", &len);
	expect_fail_mem(doc, len, SDB_ETOOBIG, what);
	free(doc);
	/* a 20 MB comment */
	doc = doc_with("<!--", big, "-->", &len);
	expect_fail_mem(doc, len, SDB_ETOOBIG, what);
	free(doc);
	/* 20 MB of text is not one token: expat hands it over in pieces */
	memset(big, ' ', n);
	doc = doc_with("<extension>", big, "</extension>", &len);
	{
		struct log lg;

		log_init(&lg);
		assert_int_equal(parse_chunked("text.xml", doc, len, 1u << 20, 0, &lg), 0);
		log_free(&lg);
	}
	free(doc);
	free(big);
}

/* expat keeps every distinct element and attribute name for the whole
 * document: millions of them must not make memory grow without bound. */
static void test_expat_memory_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD);
	for (int i = 0; i < 1000000; i++)
		buf_printf(&b, "<x%d/>", i);
	buf_append_str(&b, "</nmaprun>");
	expect_fail_mem(b.data, b.len, SDB_ETOOBIG, "too many distinct element or attribute names");
	buf_free(&b);

	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD);
	for (int i = 0; i < 200000; i++)
		buf_printf(&b, "<verbose a%d=\"\" b%d=\"\" c%d=\"\" d%d=\"\"/>", i, i, i, i);
	buf_append_str(&b, "</nmaprun>");
	expect_fail_mem(b.data, b.len, SDB_ETOOBIG, "too many distinct element or attribute names");
	buf_free(&b);
}

static void test_deep_nesting(void **state)
{
	struct buf b;
	struct log lg;

	(void)state;
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD HOST_OPEN);
	for (int i = 0; i < 100000; i++)
		buf_append_str(&b, "<a>");
	expect_fail_mem(b.data, b.len, SDB_ETOOBIG, "elements nested deeper than 64");
	buf_free(&b);

	/* 64 levels in all is fine */
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD HOST_OPEN);
	for (int i = 0; i < NMAP_XML_MAX_DEPTH - 2; i++)
		buf_append_str(&b, "<a>");
	for (int i = 0; i < NMAP_XML_MAX_DEPTH - 2; i++)
		buf_append_str(&b, "</a>");
	buf_append_str(&b, "</host>" TAIL);
	log_init(&lg);
	assert_int_equal(parse_mem(b.data, b.len, &lg), 0);
	log_free(&lg);
	buf_free(&b);
}

static void test_too_many(void **state)
{
	struct buf b;
	struct log lg;

	(void)state;
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD HOST_OPEN "<hostnames>");
	for (int i = 0; i <= NMAP_XML_MAX_NAMES; i++)
		buf_printf(&b, "<hostname name=\"h%d\"/>", i);
	buf_append_str(&b, "</hostnames></host>" TAIL);
	expect_fail_mem(b.data, b.len, SDB_ETOOBIG, "more than 1024 hostnames in one host");
	buf_free(&b);

	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD HOST_OPEN "<ports><port protocol=\"tcp\" portid=\"1\">" OPEN_STATE
	                                  "<service name=\"x\">");
	for (int i = 0; i <= NMAP_XML_MAX_NAMES; i++)
		buf_printf(&b, "<cpe>cpe:/a:%d</cpe>", i);
	buf_append_str(&b, "</service></port></ports></host>" TAIL);
	expect_fail_mem(b.data, b.len, SDB_ETOOBIG, "more than 1024 <cpe> in one <service>");
	buf_free(&b);

	/* every tcp and udp port of one host is fine, and memory is reused
	 * for the next host */
	buf_init(&b, (size_t)1 << 30);
	buf_append_str(&b, HEAD);
	for (int h = 0; h < 2; h++) {
		buf_printf(&b, "<host><status state=\"up\"/><address addr=\"10.0.0.%d\"/><ports>",
		           h + 1);
		for (int i = 0; i < 65536; i++)
			buf_printf(&b,
			           "<port protocol=\"%s\" portid=\"%d\"><state state=\"open\"/>"
			           "<service name=\"s%d\"/></port>",
			           i % 2 ? "udp" : "tcp", i, i);
		buf_append_str(&b, "</ports></host>\n");
	}
	buf_append_str(&b, TAIL);
	log_init(&lg);
	assert_int_equal(parse_mem(b.data, b.len, &lg), 0);
	assert_int_equal(lg.nhosts, 2);
	assert_int_equal(lg.hosts[1].nports, 65536);
	assert_int_equal(lg.hosts[1].ports[65535].port, 65535);
	assert_int_equal(lg.hosts[1].ports[65535].proto, REC_PROTO_UDP);
	assert_string_equal(lg.hosts[1].ports[65535].service.name, "s65535");
	assert_string_equal(lg.hosts[1].addr, "10.0.0.2");
	log_free(&lg);
	buf_free(&b);
}

static void test_garbage(void **state)
{
	static const char bad_utf8[] =
	    HEAD "<host><status state=\"up\"/><address addr=\"10.0.0.1\"/>"
	         "<hostnames><hostname name=\"\xff\xfe\xc3\"/>"
	         "</hostnames></host>" TAIL;
	char nul[] = HEAD "<host>\0</host>" TAIL;
	unsigned char rnd[4096];
	uint32_t x = 2463534242u;

	(void)state;
	expect_fail(bad_utf8, SDB_EPARSE, "malformed XML: not well-formed (invalid token)");
	expect_fail_mem(nul, sizeof(nul) - 1, SDB_EPARSE, "malformed XML");
	/* NUL-less binary garbage, with and without a plausible start */
	for (int round = 0; round < 50; round++) {
		struct log lg;
		size_t off = 0;

		if (round % 2) {
			memcpy(rnd, HEAD, strlen(HEAD));
			off = strlen(HEAD);
		}
		for (size_t i = off; i < sizeof(rnd); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			rnd[i] = (unsigned char)(x % 255 + 1);
		}
		log_init(&lg);
		assert_int_not_equal(parse_mem((const char *)rnd, sizeof(rnd), &lg), 0);
		assert_int_equal(lg.nend, 0);
		log_free(&lg);
	}
	/* a UTF-16 document is fine (expat converts) */
	{
		static const char u8[] = "<nmaprun scanner=\"nm\xc3\xa4p\"/>";
		char u16[2 * sizeof(u8) + 2];
		struct log lg;
		size_t n = 0;

		u16[n++] = (char)0xff; /* BOM, little-endian */
		u16[n++] = (char)0xfe;
		for (size_t i = 0; u8[i]; i++) {
			if ((unsigned char)u8[i] == 0xc3) { /* ä = U+00E4 */
				u16[n++] = (char)0xe4;
				u16[n++] = 0;
				i++;
				continue;
			}
			u16[n++] = u8[i];
			u16[n++] = 0;
		}
		log_init(&lg);
		assert_int_equal(parse_mem(u16, n, &lg), 0);
		assert_string_equal(lg.scanner, "nm\xc3\xa4p");
		log_free(&lg);
	}
}

/* The static samples in tests/data/hostile (also the fuzz seed corpus). */
static void test_hostile_samples(void **state)
{
	static const struct {
		const char *file;
		int code;
		const char *what;
	} cases[] = {
	    {"billion_laughs.xml", SDB_EPARSE, "entity declarations are not allowed"},
	    {"xxe_file.xml", SDB_EPARSE, "entity declarations are not allowed"},
	    {"xxe_param.xml", SDB_EPARSE, "entity declarations are not allowed"},
	    {"truncated.xml", SDB_EPARSE, "unexpected end of file (truncated?)"},
	    {"port_out_of_range.xml", SDB_ERANGE, "portid 70000 of <port> out of range 0-65535"},
	    {"port_not_a_number.xml", SDB_EPARSE, "portid of <port> is not a number: \"abc\""},
	    {"bad_port_state.xml", SDB_EPARSE, "unknown port state \"ajar\""},
	    {"host_without_address.xml", SDB_EPARSE, "<host> has no IPv4 or IPv6 address"},
	    {"not_nmap.xml", SDB_EPARSE, "root element is <html>"},
	    {"deep_nesting.xml", SDB_ETOOBIG, "elements nested deeper than 64"},
	    {"bad_utf8.xml", SDB_EPARSE, "malformed XML"},
	    {"nul_byte.xml", SDB_EPARSE, "malformed XML"},
	    {"sql_in_values.xml", 0, ""},
	};
	char dir[4096];
	const char *slash = strrchr(__FILE__, '/');

	(void)state;
	/* __FILE__ is absolute in CMake builds: tests/unit/ -> tests/data/hostile */
	if (!slash || __FILE__[0] != '/')
		skip();
	snprintf(dir, sizeof(dir), "%.*s/../data/hostile", (int)(slash - __FILE__), __FILE__);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *path = tu_path(dir, cases[i].file), *xml;
		struct log lg;
		size_t len;
		int r;

		if (tu_read_file(path, &xml, &len) != 0) {
			print_error("cannot read %s\n", path);
			fail();
		}
		log_init(&lg);
		r = parse_chunked(cases[i].file, xml, len, 0, 0, &lg);
		if (r != cases[i].code || !strstr(errbuf, cases[i].what))
			print_error("%s: got %d \"%s\"\n", cases[i].file, r, errbuf);
		assert_int_equal(r, cases[i].code);
		assert_non_null(strstr(errbuf, cases[i].what));
		if (r == 0) {
			assert_string_equal(lg.hosts[0].hostnames[0].name,
			                    "'); DROP TABLE hosts;--");
			assert_string_equal(lg.hosts[0].ports[0].service.name, "http\" OR 1=1 --");
			assert_string_equal(lg.hosts[0].ports[0].scripts[0].output,
			                    "'); DROP TABLE ports;--\nsecond line");
		} else {
			assert_int_equal(lg.nend, 0);
		}
		log_free(&lg);
		free(xml);
		free(path);
	}
}

static void test_sticky_error(void **state)
{
	struct nmap_parser *p;
	const char *bad = DOC_HOST(PORT("protocol=\"tcp\" portid=\"abc\"", OPEN_STATE));
	char first[1024];

	(void)state;
	assert_int_equal(nmap_parser_new(NULL, "s.xml", &p), 0);
	assert_int_equal(nmap_parser_feed(p, bad, strlen(bad), 0), SDB_EPARSE);
	snprintf(first, sizeof(first), "%s", nmap_parser_errmsg(p));
	assert_int_equal(nmap_parser_feed(p, "<more/>", 7, 0), SDB_EPARSE);
	assert_int_equal(nmap_parser_feed(p, NULL, 0, 1), SDB_EPARSE);
	assert_string_equal(nmap_parser_errmsg(p), first);
	nmap_parser_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),
	    cmocka_unit_test(test_complex),
	    cmocka_unit_test(test_os_and_single),
	    cmocka_unit_test(test_osmatches_and_run_scripts),
	    cmocka_unit_test(test_down_and_empty),
	    cmocka_unit_test(test_modern),
	    cmocka_unit_test(test_no_runstats),
	    cmocka_unit_test(test_byte_at_a_time),
	    cmocka_unit_test(test_parse_fd),
	    cmocka_unit_test(test_stats_and_null_sink),
	    cmocka_unit_test(test_sink_stops),
	    cmocka_unit_test(test_bad_numbers),
	    cmocka_unit_test(test_bad_enums_and_structure),
	    cmocka_unit_test(test_error_position),
	    cmocka_unit_test(test_liberal_values),
	    cmocka_unit_test(test_refused_values),
	    cmocka_unit_test(test_warning_cap),
	    cmocka_unit_test(test_cut_off_accepted),
	    cmocka_unit_test(test_cut_off_hint),
	    cmocka_unit_test(test_skips_foreign),
	    cmocka_unit_test(test_sql_and_unicode_verbatim),
	    cmocka_unit_test(test_billion_laughs),
	    cmocka_unit_test(test_external_entities),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_long_values),
	    cmocka_unit_test(test_token_cap),
	    cmocka_unit_test(test_script_output_cut),
	    cmocka_unit_test(test_host_cap),
	    cmocka_unit_test(test_expat_memory_cap),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_too_many),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_hostile_samples),
	    cmocka_unit_test(test_sticky_error),
	};

	tu_nmap_data_dir(); /* skip loudly when the samples are missing */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
