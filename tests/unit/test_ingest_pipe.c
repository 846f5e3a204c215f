/*
 * test_ingest_pipe.c - unit tests of the threaded import pipe
 * (src/ingest/ingest_pipe.c) and the record deep copies it relies on
 * (rec_*_copy in src/core/record.c).
 *
 * The yardstick is nmap_xml_parse_fd(): through the pipe, every sample file
 * and a generated multi-megabyte file must give the very same callbacks
 * (records compared field by field, on_chunk bytes and totals, and their
 * interleaving), the same codes and messages - on the calling thread, with
 * the parser thread joined on every path (sink failure, on_chunk failure,
 * parse error mid-file, truncation, read error, a pipe whose writer stalls).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/record.h"
#include "ingest/ingest_pipe.h"
#include "ingest/nmap_xml.h"
#include "ingest/sink.h"
#include "testutil.h"

static pthread_t main_thread;
static int base_threads; /* threads before any test (TSan has one of its own) */

/* ---- a recording sink: one canonical line per callback ------------------ */

struct log {
	struct buf dump;   /* every callback, in order, every field */
	struct buf chunks; /* the on_chunk bytes, concatenated */
	size_t nhosts, nchunks, nend, nprogress;
	uint64_t last_total;
	int wrong_thread; /* a callback ran off the calling thread */
	/* make a callback fail: host number stop_at_host (1-based), chunk
	 * number stop_at_chunk, or run_begin/run_end */
	size_t stop_at_host, stop_at_chunk;
	int stop_code, begin_code, end_code;
	const char *hint; /* the sink's truncated_hint */
};

static void log_init(struct log *lg)
{
	memset(lg, 0, sizeof(*lg));
	buf_init(&lg->dump, (size_t)1 << 30);
	buf_init(&lg->chunks, (size_t)1 << 30);
}

static void log_free(struct log *lg)
{
	buf_free(&lg->dump);
	buf_free(&lg->chunks);
}

static void check_thread(struct log *lg)
{
	if (!pthread_equal(pthread_self(), main_thread))
		lg->wrong_thread = 1;
}

static int on_begin(void *ctx, const struct rec_run *run)
{
	struct log *lg = ctx;

	check_thread(lg);
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

	check_thread(lg);
	buf_printf(&lg->dump, "scaninfo proto=%d n=%ld", (int)si->proto, si->numservices);
	tu_dump_str(&lg->dump, "type", si->type);
	tu_dump_str(&lg->dump, "services", si->services);
	buf_append_char(&lg->dump, '\n');
	return 0;
}

static int on_progress(void *ctx, const char *task, double pct)
{
	struct log *lg = ctx;

	check_thread(lg);
	lg->nprogress++;
	buf_append_str(&lg->dump, "progress");
	tu_dump_str(&lg->dump, "task", task);
	buf_printf(&lg->dump, " %.17g\n", pct);
	return 0;
}

static int on_host(void *ctx, const struct rec_host *h)
{
	struct log *lg = ctx;

	check_thread(lg);
	tu_dump_host(&lg->dump, h);
	lg->nhosts++;
	if (lg->stop_at_host && lg->nhosts == lg->stop_at_host)
		return lg->stop_code;
	return 0;
}

static int on_end(void *ctx, const struct rec_runstats *rs)
{
	struct log *lg = ctx;

	check_thread(lg);
	lg->nend++;
	buf_printf(&lg->dump, "end finished=%d end=%lld elapsed=%.17g up=%ld down=%ld total=%ld",
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
	return lg->end_code;
}

static int on_chunk(void *ctx, const void *data, size_t len, uint64_t total)
{
	struct log *lg = ctx;

	check_thread(lg);
	lg->nchunks++;
	assert_int_equal(total, lg->last_total + len);
	lg->last_total = total;
	assert_int_equal(buf_append(&lg->chunks, data, len), 0);
	buf_printf(&lg->dump, "chunk len=%zu total=%llu\n", len, (unsigned long long)total);
	if (lg->stop_at_chunk && lg->nchunks == lg->stop_at_chunk)
		return lg->stop_code;
	return 0;
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
	    .truncated_hint = lg->hint,
	};
	return s;
}

/* ---- helpers ------------------------------------------------------------ */

/* Threads in this process (/proc/self/task). */
static int nthreads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Threads in this process once a thread just joined is gone: pthread_join()
 * returns when the kernel clears the thread's id, a moment before its entry
 * leaves /proc/self/task (CI saw 2 for 1 on a loaded machine).  Waits up to
 * 2 s for `want`; a thread left running stays and fails the test. */
static int nthreads_settled(int want)
{
	int n = nthreads();

	for (int i = 0; i < 200 && n != want; i++) {
		nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
		n = nthreads();
	}
	return n;
}

struct result {
	int r;
	char err[1024];
	struct ingest_pipe_stats st;
};

/* Parse `path` with nmap_xml_parse_fd() (through == 0) or the pipe into lg. */
static void run_path(const char *path, const char *name, int through,
                     const struct ingest_pipe_opts *o, struct log *lg, struct result *res)
{
	struct ingest_sink sink = log_sink(lg);
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	memset(res, 0, sizeof(*res));
	if (through)
		res->r = ingest_pipe_parse_fd_ex(fd, name, &sink, on_chunk, lg, o, &res->st,
		                                 res->err, sizeof(res->err));
	else
		res->r =
		    nmap_xml_parse_fd(fd, name, &sink, on_chunk, lg, res->err, sizeof(res->err));
	close(fd);
	assert_int_equal(nthreads_settled(base_threads), base_threads);
	assert_false(lg->wrong_thread);
}

/* The pipe must do exactly what nmap_xml_parse_fd() does. */
static void expect_same(const struct log *a, const struct result *ra, const struct log *b,
                        const struct result *rb)
{
	assert_int_equal(ra->r, rb->r);
	assert_string_equal(ra->err, rb->err);
	assert_int_equal(a->nhosts, b->nhosts);
	assert_int_equal(a->dump.len, b->dump.len);
	assert_true(memcmp(buf_str(&a->dump), buf_str(&b->dump), a->dump.len) == 0);
	assert_int_equal(a->chunks.len, b->chunks.len);
	assert_true(memcmp(buf_str(&a->chunks), buf_str(&b->chunks), a->chunks.len) == 0);
}

/* Parse `path` both ways (the pipe with opts o) and compare; returns the
 * pipe's statistics in *st. */
static void compare_path(const char *path, const char *name, const struct ingest_pipe_opts *o,
                         struct ingest_pipe_stats *st)
{
	struct log a, b;
	struct result ra, rb;

	log_init(&a);
	log_init(&b);
	run_path(path, name, 0, NULL, &a, &ra);
	run_path(path, name, 1, o, &b, &rb);
	expect_same(&a, &ra, &b, &rb);
	if (st)
		*st = rb.st;
	log_free(&a);
	log_free(&b);
}

/* ---- a generated large nmap file ---------------------------------------- */

struct gen {
	int hosts;
	int bad_at;       /* host index given a port out of range (0: none) */
	int progress_per; /* a <taskprogress> every this many hosts */
};

static void gen_host(FILE *f, int i, const struct gen *g)
{
	int a = (i >> 8) & 255, c = i & 255;

	fprintf(f,
	        "<host starttime=\"%d\" endtime=\"%d\"><status state=\"%s\" reason=\"%s\" "
	        "reason_ttl=\"%d\"/>\n",
	        1700000000 + i, 1700000001 + i, i % 17 == 5 ? "down" : "up",
	        i % 3 ? "syn-ack" : "arp-response", i % 64);
	if (i % 11 == 3)
		fprintf(f, "<address addr=\"fd00::%x\" addrtype=\"ipv6\"/>\n", i);
	else
		fprintf(f, "<address addr=\"10.%d.%d.%d\" addrtype=\"ipv4\"/>\n", i >> 16, a, c);
	if (i % 4 == 0)
		fprintf(f, "<address addr=\"aa:bb:cc:%02x:%02x:%02x\" addrtype=\"mac\"%s/>\n",
		        i >> 16, a, c, i % 8 ? " vendor=\"Acme &amp; Sons\"" : "");
	if (i % 5 != 1) {
		fprintf(f, "<hostnames>\n<hostname name=\"h%d.example.org\" type=\"PTR\"/>\n", i);
		if (i % 2)
			fprintf(f, "<hostname name=\"alias-%d.lan\" type=\"user\"/>\n", i);
		fprintf(f, "</hostnames>\n");
	}
	fprintf(f, "<ports>");
	if (i % 3 != 2)
		fprintf(
		    f,
		    "<extraports state=\"closed\" count=\"%d\">\n<extrareasons reason=\"reset\" "
		    "count=\"%d\"/>\n<extrareasons reason=\"no-response\" count=\"3\"/>"
		    "\n</extraports>\n",
		    980 + i % 7, 977 + i % 7);
	for (int k = 0; k < 1 + i % 13; k++) {
		int port = 20 + k * 7 + (i % 5);

		fprintf(f,
		        "<port protocol=\"%s\" portid=\"%d\"><state state=\"%s\" reason=\"%s\" "
		        "reason_ttl=\"64\"/>",
		        k % 4 == 3 ? "udp" : "tcp",
		        g->bad_at && i == g->bad_at && k == 0 ? 70000 : port,
		        k % 5 == 4 ? "closed" : "open", k % 5 == 4 ? "reset" : "syn-ack");
		if (k % 3 == 0)
			fprintf(
			    f,
			    "<service name=\"svc%d\" product=\"Prod &lt;%d&gt;\" "
			    "version=\"%d.%d\" extrainfo=\"protocol 2.0\" ostype=\"Linux\" "
			    "tunnel=\"ssl\" method=\"probed\" conf=\"10\"><cpe>cpe:/a:v:p:%d</cpe>"
			    "<cpe>cpe:/o:linux:linux_kernel</cpe></service>",
			    k, i, k, i % 10, k);
		else if (k % 3 == 1)
			fprintf(f, "<service name=\"http\" method=\"table\" conf=\"3\"/>");
		if (k % 4 == 1)
			fprintf(f,
			        "<script id=\"http-title\" output=\"Site &quot;%d&quot;&#xa;line "
			        "&amp; more\"><elem key=\"title\">x</elem></script>"
			        "<script id=\"empty\" output=\"\"/>",
			        i);
		fprintf(f, "</port>\n");
	}
	fprintf(f, "</ports>\n");
	if (i % 6 == 0)
		fprintf(f,
		        "<os><portused state=\"open\" proto=\"tcp\" portid=\"22\"/>\n"
		        "<osmatch name=\"Linux 5.%d\" accuracy=\"%d\" line=\"67000\">\n"
		        "<osclass type=\"general purpose\" vendor=\"Linux\" osfamily=\"Linux\" "
		        "osgen=\"5.X\" accuracy=\"%d\"><cpe>cpe:/o:linux:linux_kernel:5</cpe>"
		        "</osclass>\n</osmatch>\n</os>\n",
		        i % 20, 80 + i % 21, 80 + i % 21);
	if (i % 7 == 0)
		fprintf(f,
		        "<uptime seconds=\"%d\" lastboot=\"Tue Nov 14 21:13:20 2023\"/>\n"
		        "<distance value=\"%d\"/>\n",
		        3600 + i, 1 + i % 5);
	if (i % 9 == 0)
		fprintf(f,
		        "<hostscript><script id=\"smb-os\" output=\"Windows &apos;%d&apos;\"/>"
		        "<script id=\"nbstat\" output=\"NetBIOS %s\"/></hostscript>\n",
		        i, i % 2 ? "x" : "yy");
	fprintf(f, "</host>\n");
}

/* Write the document to dir/name; returns the malloc'ed path. */
static char *gen_file(const char *dir, const char *name, const struct gen *g)
{
	char *path = tu_path(dir, name);
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n"
	           "<nmaprun scanner=\"nmap\" args=\"nmap -sV -O -oX - 10.0.0.0/16\" "
	           "start=\"1700000000\" version=\"7.94\" xmloutputversion=\"1.05\">\n"
	           "<scaninfo type=\"syn\" protocol=\"tcp\" numservices=\"1000\" "
	           "services=\"1-1000\"/>\n<scaninfo type=\"udp\" protocol=\"udp\" "
	           "numservices=\"3\" services=\"53,161-162\"/>\n"
	           "<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n");
	for (int i = 0; i < g->hosts; i++) {
		if (g->progress_per && i % g->progress_per == 0)
			fprintf(f,
			        "<taskprogress task=\"SYN Stealth Scan\" time=\"1700000005\" "
			        "percent=\"%.2f\" remaining=\"7\" etc=\"1700000012\"/>\n",
			        100.0 * i / g->hosts);
		gen_host(f, i, g);
	}
	fprintf(f,
	        "<runstats><finished time=\"1700009999\" timestr=\"x\" elapsed=\"9999.25\" "
	        "summary=\"Nmap done; %d IP addresses\" exit=\"success\"/>"
	        "<hosts up=\"%d\" down=\"0\" total=\"%d\"/></runstats>\n</nmaprun>\n",
	        g->hosts, g->hosts, g->hosts);
	assert_int_equal(fclose(f), 0);
	return path;
}

static uint64_t file_size(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return (uint64_t)sb.st_size;
}

/* The big file, generated once per program. */
static char *tmpdir, *big_path;
#define BIG_HOSTS 4000

static void *idle(void *arg)
{
	return arg;
}

static int setup(void **state)
{
	struct gen g = {.hosts = BIG_HOSTS, .progress_per = 500};
	pthread_t warm;

	(void)state;
	main_thread = pthread_self();
	/* TSan starts a thread of its own at the first pthread_create(): let
	 * it happen now, so that base_threads counts it */
	assert_int_equal(pthread_create(&warm, NULL, idle, NULL), 0);
	pthread_join(warm, NULL);
	base_threads = nthreads();
	signal(SIGPIPE, SIG_IGN); /* a failed test_stdin_pipe: EPIPE, not death */
	tmpdir = tu_mkdtemp("ingest_pipe");
	assert_non_null(tmpdir);
	big_path = gen_file(tmpdir, "big.xml", &g);
	assert_true(file_size(big_path) > 2 * INGEST_PIPE_MIN_SIZE);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(tmpdir);
	free(big_path);
	free(tmpdir);
	return 0;
}

/* ---- deep copies -------------------------------------------------------- */

struct dup_check {
	struct buf a, b;
	size_t hosts;
};

static int in_block(const void *p, const void *base, size_t size)
{
	return !p || ((const char *)p >= (const char *)base &&
	              (const char *)p < (const char *)base + size);
}

static int dup_host(void *ctx, const struct rec_host *h)
{
	struct dup_check *dc = ctx;
	size_t size = rec_host_copy_size(h);
	struct rec_host *d = rec_host_dup(h);
	struct rec_host c;
	char *mem;

	assert_non_null(d);
	tu_dump_host(&dc->a, h);
	tu_dump_host(&dc->b, d);
	/* empty arrays are NULL; everything else lies in the one block */
	assert_true(h->nports || !d->ports);
	assert_true(h->nhostnames || !d->hostnames);
	assert_true(h->nextraports || !d->extraports);
	assert_true(h->nscripts || !d->scripts);
	assert_true(in_block(d->addr, d, sizeof(*d) + size + 64));
	for (size_t i = 0; i < d->nports; i++) {
		assert_true(in_block(&d->ports[i], d, sizeof(*d) + size + 64));
		assert_true(in_block(d->ports[i].reason, d, sizeof(*d) + size + 64));
		assert_true(in_block(d->ports[i].scripts, d, sizeof(*d) + size + 64));
		assert_true(in_block(d->ports[i].service.cpes, d, sizeof(*d) + size + 64));
	}
	free(d);

	/* rec_host_copy into exactly copy_size bytes (ASan checks the bound) */
	mem = size ? malloc(size) : NULL;
	assert_true(!size || mem);
	rec_host_copy(&c, h, mem);
	tu_dump_host(&dc->b, &c);
	tu_dump_host(&dc->a, h);
	free(mem);
	dc->hosts++;
	return 0;
}

static void test_host_copy(void **state)
{
	static const char *const samples[] = {"simple.xml", "complex.xml", "os.xml", "single.xml"};
	struct dup_check dc;
	struct ingest_sink sink = {.ctx = &dc, .host = dup_host};
	char err[512];
	int fd;

	(void)state;
	memset(&dc, 0, sizeof(dc));
	buf_init(&dc.a, (size_t)1 << 30);
	buf_init(&dc.b, (size_t)1 << 30);
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char *path = tu_path(tu_nmap_data_dir(), samples[i]);

		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(
		    nmap_xml_parse_fd(fd, samples[i], &sink, NULL, NULL, err, sizeof(err)), 0);
		close(fd);
		free(path);
	}
	fd = open(big_path, O_RDONLY);
	assert_int_equal(nmap_xml_parse_fd(fd, "big.xml", &sink, NULL, NULL, err, sizeof(err)), 0);
	close(fd);
	assert_true(dc.hosts > BIG_HOSTS);
	assert_int_equal(dc.a.len, dc.b.len);
	assert_string_equal(buf_str(&dc.a), buf_str(&dc.b));
	buf_free(&dc.a);
	buf_free(&dc.b);
}

static void test_small_copies(void **state)
{
	struct rec_run run = {"nmap", "nmap -sV x", NULL, "1.05", 1700000000};
	struct rec_scaninfo si = {"syn", REC_PROTO_UDP, 3, "53,161-162"};
	static const struct rec_script pre[] = {{"broadcast-ping", "IP: 10.0.0.1"}, {"x", NULL}};
	static const struct rec_script post[] = {{"reverse-index", ""}};
	struct rec_runstats rs = {1, 5, 1.5, NULL, "success", "", 1, 2, 3, pre, 2, post, 1, 0};
	struct rec_run run2;
	struct rec_scaninfo si2;
	struct rec_runstats rs2;
	char *mem;

	(void)state;
	assert_int_equal(rec_run_copy_size(&run), 5 + 11 + 5);
	mem = malloc(rec_run_copy_size(&run));
	rec_run_copy(&run2, &run, mem);
	assert_string_equal(run2.scanner, "nmap");
	assert_string_equal(run2.args, "nmap -sV x");
	assert_null(run2.version);
	assert_string_equal(run2.xmloutputversion, "1.05");
	assert_int_equal(run2.start, 1700000000);
	assert_ptr_equal(run2.scanner, mem);
	free(mem);

	mem = malloc(rec_scaninfo_copy_size(&si));
	rec_scaninfo_copy(&si2, &si, mem);
	assert_string_equal(si2.type, "syn");
	assert_string_equal(si2.services, "53,161-162");
	assert_int_equal(si2.proto, REC_PROTO_UDP);
	assert_int_equal(si2.numservices, 3);
	free(mem);

	/* 3 scripts, then "success" "" and the ids and outputs */
	assert_int_equal(rec_runstats_copy_size(&rs),
	                 3 * sizeof(struct rec_script) + 8 + 1 + 15 + 13 + 2 + 14 + 1);
	mem = malloc(rec_runstats_copy_size(&rs));
	rec_runstats_copy(&rs2, &rs, mem);
	assert_null(rs2.summary);
	assert_string_equal(rs2.exit, "success");
	assert_string_equal(rs2.errormsg, "");
	assert_int_equal(rs2.hosts_total, 3);
	assert_true(rs2.elapsed == 1.5);
	assert_int_equal(rs2.nprescripts, 2);
	assert_ptr_equal(rs2.prescripts, mem);
	assert_string_equal(rs2.prescripts[0].id, "broadcast-ping");
	assert_string_equal(rs2.prescripts[0].output, "IP: 10.0.0.1");
	assert_string_equal(rs2.prescripts[1].id, "x");
	assert_null(rs2.prescripts[1].output);
	assert_int_equal(rs2.npostscripts, 1);
	assert_string_equal(rs2.postscripts[0].id, "reverse-index");
	assert_string_equal(rs2.postscripts[0].output, "");
	assert_true((char *)rs2.postscripts[0].output < (char *)mem + rec_runstats_copy_size(&rs));
	free(mem);
}

/* ---- same results as nmap_xml_parse_fd ---------------------------------- */

static void test_samples(void **state)
{
	static const char *const samples[] = {
	    "simple.xml", "complex.xml", "os.xml",  "single.xml",
	    "down.xml",   "empty.xml",   "nmap.dtd" /* not nmap XML: an error */};
	struct ingest_pipe_opts thread = {.force_thread = 1};
	struct ingest_pipe_opts tiny = {.force_thread = 1, .max_bytes = 1, .max_count = 1};
	struct ingest_pipe_stats st;

	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		char *path = tu_path(tu_nmap_data_dir(), samples[i]);

		/* small file: the fallback, on the calling thread */
		compare_path(path, samples[i], NULL, &st);
		assert_int_equal(st.threaded, 0);
		/* forced onto the thread, with the default and a one-message queue */
		compare_path(path, samples[i], &thread, &st);
		assert_int_equal(st.threaded, 1);
		compare_path(path, samples[i], &tiny, &st);
		assert_int_equal(st.threaded, 1);
		assert_true(st.peak_count <= 1);
		free(path);
	}
}

static void test_large_file(void **state)
{
	struct ingest_pipe_opts small = {.max_bytes = 64 * 1024, .max_count = 16};
	struct ingest_pipe_opts min = {.min_size = (uint64_t)1 << 40};
	struct ingest_pipe_opts lend_all = {.ref_min = 1};
	struct ingest_pipe_stats st;
	struct log lg;
	struct result res;

	(void)state;
	/* the default: over INGEST_PIPE_MIN_SIZE, so threaded */
	compare_path(big_path, "big.xml", NULL, &st);
	assert_int_equal(st.threaded, 1);
	assert_true(st.messages > BIG_HOSTS);
	assert_true(st.peak_bytes <= INGEST_PIPE_MAX_BYTES);
	assert_true(st.peak_count <= INGEST_PIPE_MAX_COUNT);
	assert_int_equal(st.refs, 0); /* small hosts are copied */

	/* every record lent, not copied (INGEST_PIPE_REF_MIN): the same
	 * callbacks, and nothing but the chunks and small records queued */
	compare_path(big_path, "big.xml", &lend_all, &st);
	assert_int_equal(st.threaded, 1);
	assert_int_equal(st.refs, BIG_HOSTS + 1); /* every host, and run_end */
	lend_all.max_bytes = 1;
	lend_all.max_count = 1;
	compare_path(big_path, "big.xml", &lend_all, &st);
	assert_int_equal(st.refs, BIG_HOSTS + 1);

	/* a small queue: the parser keeps waiting for room, nothing changes */
	compare_path(big_path, "big.xml", &small, &st);
	assert_int_equal(st.threaded, 1);
	assert_true(st.peak_count <= 16);
	assert_true(st.peak_bytes <= 64 * 1024 + 1024); /* a chunk (64 KiB + header) goes alone */

	/* a one-message queue */
	small.max_bytes = 1;
	small.max_count = 1;
	compare_path(big_path, "big.xml", &small, &st);
	assert_int_equal(st.peak_count, 1);

	/* the size threshold decides */
	compare_path(big_path, "big.xml", &min, &st);
	assert_int_equal(st.threaded, 0);

	/* everything arrived: every byte to on_chunk, every host, run_end */
	log_init(&lg);
	run_path(big_path, "big.xml", 1, NULL, &lg, &res);
	assert_int_equal(res.r, 0);
	assert_string_equal(res.err, "");
	assert_int_equal(lg.nhosts, BIG_HOSTS);
	assert_int_equal(lg.nend, 1);
	assert_int_equal(lg.nprogress, BIG_HOSTS / 500);
	assert_int_equal(lg.chunks.len, file_size(big_path));
	log_free(&lg);
}

/* A host with long script outputs among small ones: with the default
 * options it alone is lent (held once, by the parser), the rest copied. */
static void test_large_host_lent(void **state)
{
	char *path = tu_path(tmpdir, "large-host.xml");
	struct ingest_pipe_opts thread = {.force_thread = 1}; /* the rest: defaults */
	struct ingest_pipe_stats st;
	struct log lg;
	struct result res;
	FILE *f = fopen(path, "w");
	struct gen g = {.hosts = 50};

	(void)state;
	assert_non_null(f);
	fprintf(f, "<?xml version=\"1.0\"?>\n<nmaprun scanner=\"nmap\" start=\"1700000000\">\n");
	for (int i = 0; i < g.hosts; i++) {
		if (i != 20) {
			gen_host(f, i, &g);
			continue;
		}
		fprintf(f, "<host><status state=\"up\"/><address addr=\"192.0.2.20\"/><ports>");
		for (int k = 0; k < 3; k++) {
			fprintf(f,
			        "<port protocol=\"tcp\" portid=\"%d\"><state state=\"open\"/>"
			        "<script id=\"s%d\" output=\"",
			        80 + k, k);
			for (size_t n = 0; n < INGEST_PIPE_REF_MIN / 2; n += 8)
				fputs("abcdefg ", f);
			fprintf(f, "\"/></port>");
		}
		fprintf(f, "</ports></host>\n");
	}
	fprintf(f, "</nmaprun>\n");
	assert_int_equal(fclose(f), 0);
	compare_path(path, "large-host.xml", &thread, &st);
	assert_int_equal(st.threaded, 1);
	assert_int_equal(st.refs, 1);
	assert_true(st.peak_bytes <= INGEST_PIPE_MAX_BYTES);
	/* the sink failing on the lent host stops the parser waiting for it */
	log_init(&lg);
	lg.stop_at_host = 21;
	lg.stop_code = SDB_EDB;
	run_path(path, "large-host.xml", 1, &thread, &lg, &res);
	assert_int_equal(res.r, SDB_EDB);
	assert_int_equal(res.st.refs, 1);
	assert_int_equal(lg.nhosts, 21);
	log_free(&lg);
	unlink(path);
	free(path);
}

/* A sink without some callbacks, and no sink at all. */
static void test_partial_sinks(void **state)
{
	struct ingest_pipe_opts thread = {.force_thread = 1, .max_count = 4};
	struct ingest_pipe_stats st;
	struct log lg;
	struct ingest_sink hosts_only;
	char err[256];
	int fd;

	(void)state;
	log_init(&lg);
	hosts_only = (struct ingest_sink){.ctx = &lg, .host = on_host};
	fd = open(big_path, O_RDONLY);
	assert_int_equal(ingest_pipe_parse_fd_ex(fd, "big.xml", &hosts_only, NULL, NULL, &thread,
	                                         &st, err, sizeof(err)),
	                 0);
	close(fd);
	assert_int_equal(lg.nhosts, BIG_HOSTS);
	assert_int_equal(st.messages, BIG_HOSTS); /* nothing queued for absent callbacks */
	log_free(&lg);

	fd = open(big_path, O_RDONLY);
	assert_int_equal(ingest_pipe_parse_fd_ex(fd, "big.xml", NULL, NULL, NULL, &thread, &st, err,
	                                         sizeof(err)),
	                 0);
	close(fd);
	assert_int_equal(st.messages, 0);
	assert_int_equal(st.threaded, 1);

	/* the plain entry point, NULL err */
	fd = open(big_path, O_RDONLY);
	assert_int_equal(ingest_pipe_parse_fd(fd, NULL, NULL, NULL, NULL, NULL, 0), 0);
	close(fd);
	assert_int_equal(nthreads_settled(base_threads), base_threads);
}

/* ---- stopping early ----------------------------------------------------- */

static void test_sink_fails(void **state)
{
	static const struct ingest_pipe_opts qs[] = {
	    {0},
	    {.max_bytes = 1, .max_count = 1},
	    {.max_bytes = 32 * 1024, .max_count = 8},
	    {.ref_min = 1},
	    {.max_bytes = 1, .max_count = 1, .ref_min = 1}};
	static const size_t at[] = {1, 7, 1000, BIG_HOSTS};

	(void)state;
	for (size_t q = 0; q < sizeof(qs) / sizeof(qs[0]); q++) {
		for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
			struct log a, b;
			struct result ra, rb;

			log_init(&a);
			log_init(&b);
			a.stop_at_host = b.stop_at_host = at[k];
			a.stop_code = b.stop_code = k % 2 ? SDB_EDB : 42;
			run_path(big_path, "big.xml", 0, NULL, &a, &ra);
			run_path(big_path, "big.xml", 1, &qs[q], &b, &rb);
			assert_int_equal(rb.st.threaded, 1);
			assert_int_equal(rb.r, a.stop_code);
			assert_int_equal(ra.r, rb.r);
			/* same callbacks up to and including the failing one */
			assert_int_equal(b.nhosts, at[k]);
			assert_int_equal(b.nend, 0);
			assert_string_equal(buf_str(&a.dump), buf_str(&b.dump));
			assert_string_equal(buf_str(&a.chunks), buf_str(&b.chunks));
			assert_int_equal(strncmp(rb.err, "big.xml: import stopped: ", 25), 0);
			log_free(&a);
			log_free(&b);
		}
	}
}

static void test_begin_end_chunk_fail(void **state)
{
	struct log a, b;
	struct result ra, rb;

	(void)state;
	/* run_begin */
	log_init(&a);
	log_init(&b);
	a.begin_code = b.begin_code = SDB_ECONSTRAINT;
	run_path(big_path, "big.xml", 0, NULL, &a, &ra);
	run_path(big_path, "big.xml", 1, NULL, &b, &rb);
	assert_int_equal(rb.r, SDB_ECONSTRAINT);
	assert_int_equal(ra.r, rb.r);
	assert_int_equal(b.nhosts, 0);
	assert_string_equal(buf_str(&a.dump), buf_str(&b.dump));
	log_free(&a);
	log_free(&b);

	/* run_end: every host was delivered first */
	log_init(&a);
	log_init(&b);
	a.end_code = b.end_code = SDB_EBUSY;
	run_path(big_path, "big.xml", 0, NULL, &a, &ra);
	run_path(big_path, "big.xml", 1, NULL, &b, &rb);
	assert_int_equal(rb.r, SDB_EBUSY);
	assert_int_equal(b.nhosts, BIG_HOSTS);
	assert_string_equal(buf_str(&a.dump), buf_str(&b.dump));
	log_free(&a);
	log_free(&b);

	/* on_chunk: the very same message as nmap_xml_parse_fd's */
	log_init(&a);
	log_init(&b);
	a.stop_at_chunk = b.stop_at_chunk = 3;
	a.stop_code = b.stop_code = SDB_EINTR;
	run_path(big_path, "big.xml", 0, NULL, &a, &ra);
	run_path(big_path, "big.xml", 1, NULL, &b, &rb);
	assert_int_equal(rb.st.threaded, 1);
	expect_same(&a, &ra, &b, &rb);
	assert_int_equal(rb.r, SDB_EINTR);
	assert_non_null(strstr(rb.err, "big.xml: stopped after 196608 bytes"));
	assert_int_equal(b.nchunks, 3);
	assert_true(b.nhosts > 0);
	log_free(&a);
	log_free(&b);
}

/* ---- bad input ------------------------------------------------------------ */

static void test_parse_error_mid_file(void **state)
{
	struct gen g = {.hosts = BIG_HOSTS, .bad_at = BIG_HOSTS / 2, .progress_per = 700};
	struct ingest_pipe_opts tiny = {.max_bytes = 1, .max_count = 1};
	struct ingest_pipe_stats st;
	char *path = gen_file(tmpdir, "bad.xml", &g);
	struct log lg;
	struct result res;

	(void)state;
	compare_path(path, "bad.xml", NULL, &st);
	assert_int_equal(st.threaded, 1);
	compare_path(path, "bad.xml", &tiny, &st);
	log_init(&lg);
	run_path(path, "bad.xml", 1, NULL, &lg, &res);
	assert_int_equal(res.r, SDB_ERANGE);
	assert_int_equal(strncmp(res.err, "bad.xml:", 8), 0);
	assert_non_null(strstr(res.err, "70000"));
	assert_int_equal(lg.nhosts, BIG_HOSTS / 2); /* those before it were delivered */
	assert_int_equal(lg.nend, 0);
	log_free(&lg);
	unlink(path);
	free(path);
}

static void test_truncated(void **state)
{
	char *path = tu_path(tmpdir, "cut.xml");
	char *data;
	size_t len;
	struct ingest_pipe_stats st;
	struct log lg;
	struct result res;
	int fd;

	(void)state;
	assert_int_equal(tu_read_file(big_path, &data, &len), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len * 3 / 5), (ssize_t)(len * 3 / 5));
	close(fd);
	compare_path(path, "cut.xml", NULL, &st);
	assert_int_equal(st.threaded, 1);
	log_init(&lg);
	run_path(path, "cut.xml", 1, NULL, &lg, &res);
	assert_int_equal(res.r, SDB_EPARSE);
	assert_int_equal(strncmp(res.err, "cut.xml:", 8), 0);
	assert_non_null(strstr(res.err, "unexpected end of file (truncated?)"));
	assert_true(lg.nhosts > BIG_HOSTS / 2);
	assert_int_equal(lg.nend, 0);
	log_free(&lg);

	/* the sink's hint reaches the message through the pipe, with the
	 * number of complete hosts */
	{
		char want[128];

		log_init(&lg);
		lg.hint = "`scandb import --partial` keeps what is complete";
		run_path(path, "cut.xml", 1, NULL, &lg, &res);
		assert_int_equal(res.r, SDB_EPARSE);
		snprintf(want, sizeof(want), "(truncated?) after %zu complete hosts; %s", lg.nhosts,
		         lg.hint);
		if (!strstr(res.err, want))
			fail_msg("'%s' does not say '%s'", res.err, want);
		log_free(&lg);
	}
	unlink(path);
	free(path);
	free(data);
}

static void test_read_error(void **state)
{
	struct log a, b;
	struct result ra, rb;

	(void)state;
	log_init(&a);
	log_init(&b);
	run_path(tmpdir, "dir", 0, NULL, &a, &ra);
	run_path(tmpdir, "dir", 1, NULL, &b, &rb);
	assert_int_equal(rb.st.threaded, 1); /* not a regular file */
	expect_same(&a, &ra, &b, &rb);
	assert_int_equal(rb.r, SDB_EIO);
	assert_non_null(strstr(rb.err, "dir: read failed"));
	log_free(&a);
	log_free(&b);
}

/* ---- pipes (stdin) ------------------------------------------------------ */

/* Feeds a pipe from another thread, as a shell pipeline would. */
struct writer {
	int fd;
	const char *data;
	size_t len;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	size_t off = 0;

	while (off < w->len) {
		ssize_t n = write(w->fd, w->data + off, w->len - off);

		if (n <= 0)
			break; /* EPIPE: the reader is gone */
		off += (size_t)n;
	}
	close(w->fd);
	return NULL;
}

static void test_stdin_pipe(void **state)
{
	struct log lg;
	struct ingest_sink sink;
	struct ingest_pipe_stats st;
	struct writer w;
	pthread_t tid;
	char *data, err[512];
	size_t len;
	int p[2], r;

	(void)state;
	assert_int_equal(tu_read_file(big_path, &data, &len), 0);
	log_init(&lg);
	assert_int_equal(pipe(p), 0);
	w = (struct writer){.fd = p[1], .data = data, .len = len};
	assert_int_equal(pthread_create(&tid, NULL, writer_main, &w), 0);
	sink = log_sink(&lg);
	r = ingest_pipe_parse_fd_ex(p[0], "<stdin>", &sink, on_chunk, &lg, NULL, &st, err,
	                            sizeof(err));
	close(p[0]); /* first, or a writer stuck on a full pipe never ends */
	pthread_join(tid, NULL);
	assert_int_equal(st.threaded, 1);
	assert_int_equal(r, 0);
	assert_int_equal(lg.nhosts, BIG_HOSTS);
	assert_int_equal(lg.nend, 1);
	/* reads from a pipe are shorter, so compare bytes, not chunk lines */
	assert_int_equal(lg.chunks.len, len);
	assert_true(memcmp(buf_str(&lg.chunks), data, len) == 0);
	assert_false(lg.wrong_thread);
	assert_int_equal(nthreads_settled(base_threads), base_threads);
	log_free(&lg);
	free(data);
}

/* A callback fails while the writer keeps the pipe open and sends nothing
 * more (nmap still scanning): the parser thread waits in poll(), and the
 * pipe must stop it rather than wait for the writer. */
static void test_stalled_pipe(void **state)
{
	struct log lg;
	struct ingest_sink sink;
	struct ingest_pipe_stats st;
	char *data, err[512];
	size_t len;
	int p[2], r;

	(void)state;
	assert_int_equal(tu_read_file(big_path, &data, &len), 0);

	/* the sink fails at the last host it will ever get */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], data, 16 * 1024), 16 * 1024); /* fits the pipe */
	log_init(&lg);
	sink = log_sink(&lg);
	lg.stop_at_host = 3;
	lg.stop_code = SDB_EDB;
	r = ingest_pipe_parse_fd_ex(p[0], "<stdin>", &sink, on_chunk, &lg, NULL, &st, err,
	                            sizeof(err));
	assert_int_equal(r, SDB_EDB);
	assert_int_equal(st.threaded, 1);
	assert_int_equal(lg.nhosts, 3);
	assert_int_equal(nthreads_settled(base_threads), base_threads);
	log_free(&lg);
	close(p[0]);
	close(p[1]);

	/* on_chunk fails on the only chunk there is */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], data, 100), 100);
	log_init(&lg);
	sink = log_sink(&lg);
	lg.stop_at_chunk = 1;
	lg.stop_code = SDB_EINTR;
	r = ingest_pipe_parse_fd_ex(p[0], "<stdin>", &sink, on_chunk, &lg, NULL, &st, err,
	                            sizeof(err));
	assert_int_equal(r, SDB_EINTR);
	assert_string_equal(err, "<stdin>: stopped after 100 bytes: interrupted");
	assert_int_equal(nthreads_settled(base_threads), base_threads);
	log_free(&lg);
	close(p[0]);
	close(p[1]);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_host_copy),
	    cmocka_unit_test(test_small_copies),
	    cmocka_unit_test(test_samples),
	    cmocka_unit_test(test_large_file),
	    cmocka_unit_test(test_large_host_lent),
	    cmocka_unit_test(test_partial_sinks),
	    cmocka_unit_test(test_sink_fails),
	    cmocka_unit_test(test_begin_end_chunk_fail),
	    cmocka_unit_test(test_parse_error_mid_file),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_read_error),
	    cmocka_unit_test(test_stdin_pipe),
	    cmocka_unit_test(test_stalled_pipe),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
