/*
 * nmap_xml.c - streaming parser for nmap's XML output on expat (see nmap_xml.h).
 *
 * Owns: element dispatch, buffering of the one <host> being read (strings in
 * a block arena reset at every <host>, arrays whose allocation is reused),
 * validation of every value we keep, refusal of hostile XML, and the
 * "NAME:LINE:COL: what" error messages.  Does not own: storage (the sink),
 * address syntax (core/addr.c), the record model (core/record.h).
 *
 * Hostile input: every <!ENTITY> is refused (billion laughs, XXE), nothing
 * is ever fetched, bytes fed without any expat event are capped
 * (NMAP_XML_MAX_TOKEN), and expat's own memory is capped (EXPAT_MEM_MAX,
 * through a counting memory suite).
 *
 * Elements are recognised only where nmap writes them (a table of allowed
 * parents); anything else - <hosthint>, <trace>, <elem>, ... -
 * is skipped with its whole subtree, so e.g. a hosthint's <address> is never
 * mistaken for a host's.
 *
 * Sink calls: run_begin at <nmaprun>, scaninfo at each <scaninfo>, progress
 * at each <taskprogress>, host at each </host>, and run_end exactly once, in
 * the final feed, after expat has accepted the whole document (so junk after
 * </nmaprun> or a truncated file never reaches run_end), with the last
 * <runstats> seen (or finished=0 and -1 counts without one) and the
 * <prescript>/<postscript> results.  A document cut off after <nmaprun>
 * is refused, unless the sink accepts it (accept_truncated): then run_end
 * comes with truncated = 1 after the complete hosts.
 *
 * Liberal where nmap and Zenmap were (every value the schema CHECKs is
 * decided here, so storing never fails on one): enumerations are read in
 * any case ("UNfiltered"); an unknown host state reads "unknown", an
 * unknown service method is left out, <extraports> and <port> in state
 * "unknown" are left out, two <extraports> of one state are added up, a
 * host endtime before its starttime is left out, empty numeric attributes
 * (seconds="") are absent, ::ffff:a.b.c.d is the IPv4 host a.b.c.d - each
 * change but the silent ones (case, empty values, a count-0 "unknown",
 * the mapped address) through the sink's warning callback with its
 * NAME:LINE:COL.  Refused with NAME:LINE:COL: what would store wrong data
 * (a scaninfo services list that is no port list, a port out of 0-65535,
 * an unknown port state or protocol) and masscan's XML.
 */
#include "ingest/nmap_xml.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* expat.h declares the billion-laughs API only when the includer defines
 * XML_DTD, which mirrors expat's own build option (Debian builds libexpat
 * with it; the symbols are there since 2.4.0). */
#ifndef XML_DTD
#define XML_DTD 1
#endif
#include <expat.h>

#include "core/addr.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"

#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4)
#define HAVE_BILLION_LAUGHS_PROTECTION 1
#endif

#define FEED_SLICE  (64 * 1024) /* bytes handed to expat per XML_Parse call */
#define READ_CHUNK  (64 * 1024) /* nmap_xml_parse_fd read size */
#define ARENA_BLOCK (64 * 1024) /* arena block size; strings over a quarter get their own */
#define ARENA_KEEP  16          /* standard blocks kept between hosts */
#define ARRAY_KEEP  4096        /* array slots kept between hosts */
#define SHOW_MAX    64          /* bytes of an offending value quoted in messages */
#define WARN_MAX    20          /* warnings passed on one by one; then a count */
/* scaninfo services: nmap's compressed port list, up to ~190 KB for "every
 * other port", so neither MAX_FIELD nor MAX_ARGS fits. */
#define MAX_SERVICES NMAP_XML_MAX_SERVICES
/* All memory expat itself may hold (buffers, name tables).  Legit files
 * need a few MiB plus twice the largest token; this refuses documents that
 * grow expat's tables with millions of distinct element/attribute names. */
#define EXPAT_MEM_MAX ((size_t)32 << 20)
/* The ids of the run's pre-/post-scan scripts in all (a few KiB in nmap's
 * files; NMAP_XML_MAX_RUN_SCRIPTS of them). */
#define RUN_IDS_MAX (1 << 20)

enum elem {
	E_OTHER = 0, /* not ours (or not where nmap writes it): skipped */
	E_NMAPRUN,
	E_SCANINFO,
	E_TASKPROGRESS,
	E_HOST,
	E_STATUS,
	E_ADDRESS,
	E_HOSTNAMES,
	E_HOSTNAME,
	E_PORTS,
	E_EXTRAPORTS,
	E_EXTRAREASONS,
	E_PORT,
	E_STATE,
	E_SERVICE,
	E_CPE,
	E_SCRIPT,
	E_OS,
	E_OSMATCH,
	E_OSCLASS,
	E_UPTIME,
	E_DISTANCE,
	E_HOSTSCRIPT,
	E_RUNSTATS,
	E_FINISHED,
	E_HOSTS,
	E_PRESCRIPT,
	E_POSTSCRIPT,
	E__COUNT
};

static const char *const elem_names[E__COUNT] = {
    [E_OTHER] = "?",
    [E_NMAPRUN] = "nmaprun",
    [E_SCANINFO] = "scaninfo",
    [E_TASKPROGRESS] = "taskprogress",
    [E_HOST] = "host",
    [E_STATUS] = "status",
    [E_ADDRESS] = "address",
    [E_HOSTNAMES] = "hostnames",
    [E_HOSTNAME] = "hostname",
    [E_PORTS] = "ports",
    [E_EXTRAPORTS] = "extraports",
    [E_EXTRAREASONS] = "extrareasons",
    [E_PORT] = "port",
    [E_STATE] = "state",
    [E_SERVICE] = "service",
    [E_CPE] = "cpe",
    [E_SCRIPT] = "script",
    [E_OS] = "os",
    [E_OSMATCH] = "osmatch",
    [E_OSCLASS] = "osclass",
    [E_UPTIME] = "uptime",
    [E_DISTANCE] = "distance",
    [E_HOSTSCRIPT] = "hostscript",
    [E_RUNSTATS] = "runstats",
    [E_FINISHED] = "finished",
    [E_HOSTS] = "hosts",
    [E_PRESCRIPT] = "prescript",
    [E_POSTSCRIPT] = "postscript",
};

/* Where each element is recognised: a bit mask of allowed parents. */
#define IN(e) (1u << (e))
static const unsigned elem_parents[E__COUNT] = {
    [E_SCANINFO] = IN(E_NMAPRUN),
    [E_TASKPROGRESS] = IN(E_NMAPRUN),
    [E_HOST] = IN(E_NMAPRUN),
    [E_RUNSTATS] = IN(E_NMAPRUN),
    [E_PRESCRIPT] = IN(E_NMAPRUN),
    [E_POSTSCRIPT] = IN(E_NMAPRUN),
    [E_STATUS] = IN(E_HOST),
    [E_ADDRESS] = IN(E_HOST),
    [E_HOSTNAMES] = IN(E_HOST),
    [E_PORTS] = IN(E_HOST),
    [E_OS] = IN(E_HOST),
    [E_UPTIME] = IN(E_HOST),
    [E_DISTANCE] = IN(E_HOST),
    [E_HOSTSCRIPT] = IN(E_HOST),
    [E_HOSTNAME] = IN(E_HOSTNAMES),
    [E_EXTRAPORTS] = IN(E_PORTS),
    [E_PORT] = IN(E_PORTS),
    [E_EXTRAREASONS] = IN(E_EXTRAPORTS),
    [E_STATE] = IN(E_PORT),
    [E_SERVICE] = IN(E_PORT),
    [E_SCRIPT] = IN(E_PORT) | IN(E_HOSTSCRIPT) | IN(E_PRESCRIPT) | IN(E_POSTSCRIPT),
    [E_CPE] = IN(E_SERVICE) | IN(E_OSCLASS),
    [E_OSMATCH] = IN(E_OS),
    [E_OSCLASS] = IN(E_OS) | IN(E_OSMATCH),
    [E_FINISHED] = IN(E_RUNSTATS),
    [E_HOSTS] = IN(E_RUNSTATS),
};

enum capture { CAP_NONE = 0, CAP_SVC_CPE, CAP_OS_CPE };

struct nmap_parser {
	XML_Parser xp;
	struct ingest_sink sink;
	char *name;
	int err;            /* sticky: first error (or sink code) */
	int parsing;        /* inside XML_Parse: errors must stop expat */
	int finished;       /* the final feed was done */
	int event;          /* an expat callback ran during the current slice */
	size_t no_event;    /* bytes fed since the last slice with a callback */
	int run_end_done;   /* run_end called */
	size_t expat_mem;   /* bytes expat holds (see mm_malloc) */
	int expat_mem_full; /* an expat allocation was refused */
	struct nmap_parser_stats stats;
	char errmsg[1024];
	unsigned long long warnings; /* warnings raised (WARN_MAX passed on) */

	unsigned depth;
	unsigned char stack[NMAP_XML_MAX_DEPTH];

	enum capture capture; /* collecting <cpe> text into `text` */
	struct buf text;

	/* <runstats>, kept until </nmaprun> */
	struct rec_runstats rs;
	struct buf rs_summary, rs_exit, rs_errormsg;
	int rs_have_summary, rs_have_exit, rs_have_errormsg;
	/* <prescript>/<postscript> results, kept until </nmaprun> (strings in
	 * run_arena; at most NMAP_XML_MAX_RUN_SCRIPTS, NMAP_XML_MAX_RUN_BYTES) */
	struct arena run_arena;
	struct rec_script *rscripts[2]; /* [0] pre, [1] post */
	size_t nrscripts[2], crscripts[2];
	size_t rscript_bytes, rscript_ids; /* their outputs kept; their ids */

	/* The current <host>. */
	struct rec_host host;
	struct arena arena;
	size_t host_bytes;  /* it holds: strings, array entries (NMAP_XML_MAX_HOST) */
	size_t host_output; /* its script output kept (NMAP_XML_MAX_HOST_OUTPUT) */
	char addr[ADDR_TEXT_MAX];
	char mac[18];
	int have_addr, have_mac;
	unsigned long long host_line, host_col;
	unsigned long long port_line, port_col;
	int port_has_state;
	int port_drop;      /* the open <port> is left out (state "unknown") */
	int nosmatch;       /* <osmatch> elements seen */
	int in_first_match; /* inside the first <osmatch> */
	int os_class_src;   /* 0 none, 1 legacy <os><osclass>, 2 first osmatch's */
	int os_class_open;  /* the open <osclass> is the one we keep */
	const char **osm;   /* every <osmatch> name, file order */
	size_t nosm, cosm;
	struct buf reasons; /* extrareasons of the open <extraports> */
	long ep_cur;        /* its entry in extraports, -1: not kept */

	struct rec_port *ports;
	size_t nports, cports;
	struct rec_script *pscripts; /* port scripts, in port order */
	size_t npscripts, cpscripts;
	struct rec_script *hscripts; /* hostscript scripts */
	size_t nhscripts, chscripts;
	const char **cpes; /* service cpes, in port order */
	size_t ncpes, ccpes;
	struct rec_hostname *hostnames;
	size_t nhostnames, chostnames;
	struct rec_extraports *extraports;
	size_t nextraports, cextraports;
	uint64_t seen[REC_PROTO__COUNT * 65536 / 64]; /* (proto, port) in this host */
};

/* ---- expat's memory ------------------------------------------------ */

/*
 * expat's allocations go through these so that each parser's share is
 * counted and capped at EXPAT_MEM_MAX.  The memory suite has no context
 * argument: mm_owner names the parser on whose behalf expat is running (set
 * around every expat call that may allocate); each block records its owner.
 */
static _Thread_local struct nmap_parser *mm_owner;

union mm_hdr {
	max_align_t align;
	struct {
		struct nmap_parser *owner;
		size_t size;
	} h;
};

/* May p's expat grow a block from `old` to `n` bytes (headers counted)? */
static int mm_charge(struct nmap_parser *p, size_t old, size_t n)
{
	if (!p || n <= old)
		return 0;
	if (n - old > EXPAT_MEM_MAX - p->expat_mem) {
		p->expat_mem_full = 1;
		return -1;
	}
	return 0;
}

static void *mm_malloc(size_t n)
{
	struct nmap_parser *p = mm_owner;
	union mm_hdr *m;

	if (n > SIZE_MAX - sizeof(*m) || mm_charge(p, 0, sizeof(*m) + n) != 0 ||
	    !(m = malloc(sizeof(*m) + n)))
		return NULL;
	m->h.owner = p;
	m->h.size = n;
	if (p)
		p->expat_mem += sizeof(*m) + n;
	return m + 1;
}

static void mm_free(void *ptr)
{
	union mm_hdr *m;

	if (!ptr)
		return;
	m = (union mm_hdr *)ptr - 1;
	if (m->h.owner)
		m->h.owner->expat_mem -= sizeof(*m) + m->h.size;
	free(m);
}

static void *mm_realloc(void *ptr, size_t n)
{
	union mm_hdr *m, *nm;
	struct nmap_parser *p;

	if (!ptr)
		return mm_malloc(n);
	m = (union mm_hdr *)ptr - 1;
	p = m->h.owner;
	if (n > SIZE_MAX - sizeof(*m) || mm_charge(p, m->h.size, n) != 0 ||
	    !(nm = realloc(m, sizeof(*m) + n)))
		return NULL;
	if (p)
		p->expat_mem = p->expat_mem - nm->h.size + n;
	nm->h.size = n;
	return nm + 1;
}

static const XML_Memory_Handling_Suite mm_suite = {mm_malloc, mm_realloc, mm_free};

/* Make room for one more element in *arr (cap *cap, n used). */
static int grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void **pa = arr;
	size_t ncap;
	void *np;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	if (!(np = sdb_reallocarray(*pa, ncap, size)))
		return SDB_ENOMEM;
	*pa = np;
	*cap = ncap;
	return 0;
}

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

/* ---- errors ---------------------------------------------------------- */

/* Quote at most SHOW_MAX bytes of untrusted text, control bytes as '?'. */
static const char *show(char out[SHOW_MAX + 4], const char *v)
{
	size_t n = 0;

	while (v[n] && n < SHOW_MAX)
		n++;
	if (v[n]) /* truncated: do not cut a UTF-8 sequence */
		while (n > 0 && ((unsigned char)v[n] & 0xC0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];
		out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (v[n]) {
		memcpy(out + n, "...", 4);
	} else {
		out[n] = '\0';
	}
	return out;
}

static unsigned long long cur_line(const struct nmap_parser *p)
{
	return (unsigned long long)XML_GetCurrentLineNumber(p->xp);
}

static unsigned long long cur_col(const struct nmap_parser *p)
{
	return (unsigned long long)XML_GetCurrentColumnNumber(p->xp) + 1;
}

static int vfail_at(struct nmap_parser *p, int code, unsigned long long line,
                    unsigned long long col, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static int vfail_at(struct nmap_parser *p, int code, unsigned long long line,
                    unsigned long long col, const char *fmt, va_list ap)
{
	int n;

	if (p->err) /* the first error wins */
		return p->err;
	p->err = code;
	n = snprintf(p->errmsg, sizeof(p->errmsg), "%s:%llu:%llu: ", p->name, line, col);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(p->errmsg))
		vsnprintf(p->errmsg + n, sizeof(p->errmsg) - (size_t)n, fmt, ap);
	if (p->parsing)
		XML_StopParser(p->xp, XML_FALSE);
	return code;
}

static int fail_at(struct nmap_parser *p, int code, unsigned long long line, unsigned long long col,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail_at(struct nmap_parser *p, int code, unsigned long long line, unsigned long long col,
                   const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail_at(p, code, line, col, fmt, ap);
	va_end(ap);
	return r;
}

/* Fail at the current expat position. */
static int fail(struct nmap_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct nmap_parser *p, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail_at(p, code, cur_line(p), cur_col(p), fmt, ap);
	va_end(ap);
	return r;
}

static int nomem(struct nmap_parser *p)
{
	return fail(p, SDB_ENOMEM, "out of memory");
}

/* n more bytes held for the current host (a string, an array entry):
 * refused past NMAP_XML_MAX_HOST, so no host - a crafted one with a
 * quarter of a million ports of 4 KiB fields - can hold more. */
static int host_charge(struct nmap_parser *p, size_t n)
{
	if (n > NMAP_XML_MAX_HOST - p->host_bytes)
		return fail(p, SDB_ETOOBIG,
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
		return nomem(p);
	*out = d;
	return 0;
}

static int sink_stop(struct nmap_parser *p, int r);

/*
 * A value was accepted after a change (normalised, or left out): tell the
 * sink's warning callback "NAME:LINE:COL: what", at the current position.
 * The first WARN_MAX are passed on; the rest are counted (warn_summary).
 * Returns 0, or the sink's non-zero code (which stops the parser).
 */
static int warn(struct nmap_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int warn(struct nmap_parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n, r;

	if (p->warnings++ >= WARN_MAX || !p->sink.warning)
		return 0;
	n = snprintf(msg, sizeof(msg), "%s:%llu:%llu: ", p->name, cur_line(p), cur_col(p));
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	if ((r = p->sink.warning(p->sink.ctx, msg)) != 0)
		return sink_stop(p, r);
	return 0;
}

/* At the end of the document: how many warnings were not passed on. */
static int warn_summary(struct nmap_parser *p)
{
	char msg[512];
	int r;

	if (p->warnings <= WARN_MAX || !p->sink.warning)
		return 0;
	snprintf(msg, sizeof(msg), "%s: %llu more warnings like these", p->name,
	         p->warnings - WARN_MAX);
	if ((r = p->sink.warning(p->sink.ctx, msg)) != 0)
		return sink_stop(p, r);
	return 0;
}

/* A sink callback returned r (non-zero): stop with that very code. */
static int sink_stop(struct nmap_parser *p, int r)
{
	fail(p, r, "import stopped: %s", sdb_strerror(r));
	p->err = r; /* even if fail() kept an earlier error, r is what we return */
	return r;
}

static int missing(struct nmap_parser *p, enum elem e, const char *attr)
{
	return fail(p, SDB_EPARSE, "<%s> has no %s attribute", elem_names[e], attr);
}

/* ---- attribute values ------------------------------------------------ */

/* Length check only (for values used during the callback). */
static int a_len(struct nmap_parser *p, enum elem e, const char *k, const char *v, size_t max)
{
	size_t n = strnlen(v, max + 1);

	if (n > max)
		return fail(p, SDB_ETOOBIG, "attribute %s of <%s> is %zu bytes, limit %zu", k,
		            elem_names[e], strlen(v), max);
	return 0;
}

/* Length check and copy into the host arena. */
/* Copy attribute k's value v (at most max bytes) into arena a. */
static int a_dup_in(struct nmap_parser *p, struct arena *a, enum elem e, const char *k,
                    const char *v, size_t max, const char **out)
{
	size_t n = strnlen(v, max + 1);
	char *d;

	if (n > max)
		return fail(p, SDB_ETOOBIG, "attribute %s of <%s> is %zu bytes, limit %zu", k,
		            elem_names[e], strlen(v), max);
	if (a == &p->arena)
		return host_strndup(p, v, n, out);
	if (!(d = arena_strndup(a, v, n)))
		return nomem(p);
	*out = d;
	return 0;
}

/* ... into the current host's arena. */
static int a_dup(struct nmap_parser *p, enum elem e, const char *k, const char *v, size_t max,
                 const char **out)
{
	return a_dup_in(p, &p->arena, e, k, v, max, out);
}

/* Strict decimal integer in [lo, hi]: optional '-', digits, nothing else. */
static int a_int(struct nmap_parser *p, enum elem e, const char *k, const char *v, long long lo,
                 long long hi, long long *out)
{
	char sb[SHOW_MAX + 4];
	const char *d = v[0] == '-' ? v + 1 : v;
	char *end;
	long long x;

	if (*d < '0' || *d > '9')
		goto nan;
	errno = 0;
	x = strtoll(v, &end, 10);
	if (*end != '\0')
		goto nan;
	if (errno == ERANGE || x < lo || x > hi)
		return fail(p, SDB_ERANGE, "%s %s of <%s> out of range %lld-%lld", k, show(sb, v),
		            elem_names[e], lo, hi);
	*out = x;
	return 0;
nan:
	return fail(p, SDB_EPARSE, "attribute %s of <%s> is not a number: \"%s\"", k, elem_names[e],
	            show(sb, v));
}

/* An optional integer: as a_int, but an empty value (Zenmap saves
 * seconds="" and the like) is absent: *out = `absent`. */
static int a_oint(struct nmap_parser *p, enum elem e, const char *k, const char *v, long long lo,
                  long long hi, long long absent, long long *out)
{
	if (*v == '\0') {
		*out = absent;
		return 0;
	}
	return a_int(p, e, k, v, lo, hi, out);
}

/*
 * Strict decimal "123", "123.45" in [lo, hi].  Parsed by hand, not strtod():
 * strtod follows LC_NUMERIC and would read "122.97" as 122 under a locale
 * with a decimal comma.  One correctly rounded division keeps the result
 * equal to strtod's for the short values nmap writes.
 */
static int a_dbl(struct nmap_parser *p, enum elem e, const char *k, const char *v, double lo,
                 double hi, double *out)
{
	char sb[SHOW_MAX + 4];
	const char *s = v;
	double mant = 0, scale = 1;
	int neg = 0, digits = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s >= '0' && *s <= '9'; s++, digits++)
		mant = mant * 10 + (*s - '0');
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, digits++) {
			mant = mant * 10 + (*s - '0');
			scale *= 10;
		}
	}
	if (digits == 0 || digits > 30 || *s != '\0')
		return fail(p, SDB_EPARSE, "attribute %s of <%s> is not a number: \"%s\"", k,
		            elem_names[e], show(sb, v));
	mant /= scale;
	if (neg)
		mant = -mant;
	if (mant < lo || mant > hi)
		return fail(p, SDB_ERANGE, "%s %s of <%s> out of range %g-%g", k, show(sb, v),
		            elem_names[e], lo, hi);
	*out = mant;
	return 0;
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

/* ---- element handlers ----------------------------------------------- */

static enum elem elem_lookup(const char *n)
{
	switch (n[0]) {
	case 'a':
		return strcmp(n, "address") == 0 ? E_ADDRESS : E_OTHER;
	case 'c':
		return strcmp(n, "cpe") == 0 ? E_CPE : E_OTHER;
	case 'd':
		return strcmp(n, "distance") == 0 ? E_DISTANCE : E_OTHER;
	case 'e':
		if (strcmp(n, "extraports") == 0)
			return E_EXTRAPORTS;
		return strcmp(n, "extrareasons") == 0 ? E_EXTRAREASONS : E_OTHER;
	case 'f':
		return strcmp(n, "finished") == 0 ? E_FINISHED : E_OTHER;
	case 'h':
		if (strncmp(n, "host", 4) != 0)
			return E_OTHER;
		switch (n[4]) {
		case '\0':
			return E_HOST;
		case 'n':
			if (strcmp(n + 4, "name") == 0)
				return E_HOSTNAME;
			return strcmp(n + 4, "names") == 0 ? E_HOSTNAMES : E_OTHER;
		case 's':
			if (n[5] == '\0')
				return E_HOSTS;
			return strcmp(n + 4, "script") == 0 ? E_HOSTSCRIPT : E_OTHER;
		}
		return E_OTHER;
	case 'n':
		return strcmp(n, "nmaprun") == 0 ? E_NMAPRUN : E_OTHER;
	case 'o':
		if (n[1] != 's')
			return E_OTHER;
		if (n[2] == '\0')
			return E_OS;
		if (strcmp(n, "osmatch") == 0)
			return E_OSMATCH;
		return strcmp(n, "osclass") == 0 ? E_OSCLASS : E_OTHER;
	case 'p':
		if (strcmp(n, "port") == 0)
			return E_PORT;
		if (strcmp(n, "ports") == 0)
			return E_PORTS;
		if (strcmp(n, "prescript") == 0)
			return E_PRESCRIPT;
		return strcmp(n, "postscript") == 0 ? E_POSTSCRIPT : E_OTHER;
	case 'r':
		return strcmp(n, "runstats") == 0 ? E_RUNSTATS : E_OTHER;
	case 's':
		switch (n[1]) {
		case 'c':
			if (strcmp(n, "script") == 0)
				return E_SCRIPT;
			return strcmp(n, "scaninfo") == 0 ? E_SCANINFO : E_OTHER;
		case 't':
			if (strcmp(n, "state") == 0)
				return E_STATE;
			return strcmp(n, "status") == 0 ? E_STATUS : E_OTHER;
		case 'e':
			return strcmp(n, "service") == 0 ? E_SERVICE : E_OTHER;
		}
		return E_OTHER;
	case 't':
		return strcmp(n, "taskprogress") == 0 ? E_TASKPROGRESS : E_OTHER;
	case 'u':
		return strcmp(n, "uptime") == 0 ? E_UPTIME : E_OTHER;
	}
	return E_OTHER;
}

static int start_nmaprun(struct nmap_parser *p, const char **atts)
{
	struct rec_run run = {0};
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "scanner") == 0) {
			r = a_len(p, E_NMAPRUN, k, v, NMAP_XML_MAX_FIELD);
			run.scanner = v;
		} else if (strcmp(k, "args") == 0) {
			r = a_len(p, E_NMAPRUN, k, v, NMAP_XML_MAX_ARGS);
			run.args = v;
		} else if (strcmp(k, "version") == 0) {
			r = a_len(p, E_NMAPRUN, k, v, NMAP_XML_MAX_FIELD);
			run.version = v;
		} else if (strcmp(k, "xmloutputversion") == 0) {
			r = a_len(p, E_NMAPRUN, k, v, NMAP_XML_MAX_FIELD);
			run.xmloutputversion = v;
		} else if (strcmp(k, "start") == 0) {
			/* absent, "" or "0": no start time (0), never "now" */
			if ((r = a_oint(p, E_NMAPRUN, k, v, 0, TIME_MAX, 0, &x)) == 0)
				run.start = x;
		}
	}
	/* masscan writes <nmaprun scanner="masscan"> with one <host> per open
	 * port: read as nmap's, every port after a host's first would be lost. */
	if (r == 0 && run.scanner && strcmp(run.scanner, "masscan") == 0)
		return fail(p, SDB_EPARSE, "masscan XML is not supported yet");
	if (r == 0 && p->sink.run_begin && (r = p->sink.run_begin(p->sink.ctx, &run)) != 0)
		return sink_stop(p, r);
	return r;
}

static int start_scaninfo(struct nmap_parser *p, const char **atts)
{
	struct rec_scaninfo si = {.numservices = -1};
	char sb[SHOW_MAX + 4];
	const char *proto = NULL;
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "type") == 0) {
			r = a_len(p, E_SCANINFO, k, v, NMAP_XML_MAX_FIELD);
			si.type = v;
		} else if (strcmp(k, "protocol") == 0) {
			proto = v;
		} else if (strcmp(k, "numservices") == 0) {
			if ((r = a_int(p, E_SCANINFO, k, v, 0, LONG_MAX, &x)) == 0)
				si.numservices = (long)x;
		} else if (strcmp(k, "services") == 0) {
			r = a_len(p, E_SCANINFO, k, v, MAX_SERVICES);
			si.services = v;
		}
	}
	if (r)
		return r;
	if (!proto)
		return missing(p, E_SCANINFO, "protocol");
	if (rec_proto_parse(proto, &si.proto) != 0)
		return fail(p, SDB_EPARSE, "unknown protocol \"%s\" in <scaninfo>",
		            show(sb, proto));
	if (si.services) {
		/* the job's probed scope: a wrong one would close ports that
		 * were never probed, so it must be a port list */
		struct portlist pl;

		if ((r = portlist_parse(si.services, &pl)) == SDB_ENOMEM)
			return nomem(p);
		if (r != 0)
			return fail(p, SDB_EPARSE,
			            "services \"%s\" of <scaninfo> is not a port list (ports "
			            "0-65535, ranges low-high)",
			            show(sb, si.services));
		portlist_free(&pl);
	}
	if (p->sink.scaninfo && (r = p->sink.scaninfo(p->sink.ctx, &si)) != 0)
		return sink_stop(p, r);
	return 0;
}

static int start_taskprogress(struct nmap_parser *p, const char **atts)
{
	const char *task = NULL;
	double pct = -1;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "task") == 0) {
			r = a_len(p, E_TASKPROGRESS, k, v, NMAP_XML_MAX_FIELD);
			task = v;
		} else if (strcmp(k, "percent") == 0) {
			r = a_dbl(p, E_TASKPROGRESS, k, v, 0, 100, &pct);
		}
	}
	if (r)
		return r;
	if (!task)
		return missing(p, E_TASKPROGRESS, "task");
	if (pct < 0)
		return missing(p, E_TASKPROGRESS, "percent");
	if (p->sink.progress && (r = p->sink.progress(p->sink.ctx, task, pct)) != 0)
		return sink_stop(p, r);
	return 0;
}

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
	p->host_line = cur_line(p);
	p->host_col = cur_col(p);
	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "starttime") == 0) {
			if ((r = a_oint(p, E_HOST, k, v, 0, TIME_MAX, 0, &x)) == 0)
				p->host.starttime = x;
		} else if (strcmp(k, "endtime") == 0) {
			if ((r = a_oint(p, E_HOST, k, v, 0, TIME_MAX, 0, &x)) == 0)
				p->host.endtime = x;
		}
	}
	if (r == 0 && p->host.endtime && p->host.starttime > p->host.endtime) {
		p->host.endtime = 0;
		r = warn(p, "<host> endtime is before its starttime: endtime left out");
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
			if ((r = a_oint(p, E_STATUS, k, v, 0, 255, -1, &x)) == 0)
				p->host.reason_ttl = (int)x;
		}
	}
	if (r)
		return r;
	if (!state)
		return missing(p, E_STATUS, "state");
	if (rec_host_status_parse(lower(lc, sizeof(lc), state), &p->host.status) != 0) {
		p->host.status = REC_HOST_UNKNOWN;
		return warn(p, "unknown host state \"%s\" read as \"unknown\"", show(sb, state));
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
			r = a_len(p, E_ADDRESS, k, v, NMAP_XML_MAX_FIELD);
			addr = v;
		} else if (strcmp(k, "addrtype") == 0) {
			type = v;
		} else if (strcmp(k, "vendor") == 0) {
			r = a_len(p, E_ADDRESS, k, v, NMAP_XML_MAX_FIELD);
			vendor = v;
		}
	}
	if (r)
		return r;
	if (!addr)
		return missing(p, E_ADDRESS, "addr");
	if (strcmp(type, "ipv4") == 0 || strcmp(type, "ipv6") == 0) {
		static const unsigned char v4_mapped[12] = {0, 0, 0, 0, 0,    0,
		                                            0, 0, 0, 0, 0xff, 0xff};
		char canon[ADDR_TEXT_MAX];
		unsigned char key[16];

		if (addr_parse(addr, canon, &fam, key) != 0 || fam != (type[3] == '4' ? 4 : 6))
			return fail(p, SDB_EPARSE, "invalid %s address \"%s\"", type,
			            show(sb, addr));
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
			return fail(p, SDB_EPARSE, "invalid MAC address \"%s\"", show(sb, addr));
		if (p->have_mac)
			return 0;
		memcpy(p->mac, mac, sizeof(mac));
		p->have_mac = 1;
		if (vendor)
			return host_strndup(p, vendor, strlen(vendor), &p->host.mac_vendor);
	} else {
		return fail(p, SDB_EPARSE, "unknown addrtype \"%s\" (want ipv4, ipv6, mac)",
		            show(sb, type));
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
		return fail(p, SDB_ETOOBIG, "more than %d hostnames in one host",
		            NMAP_XML_MAX_NAMES);
	if ((r = host_charge(p, sizeof(*p->hostnames))) != 0)
		return r;
	if (grow(&p->hostnames, &p->chostnames, p->nhostnames, sizeof(*p->hostnames)))
		return nomem(p);
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
			if ((r = a_int(p, E_EXTRAPORTS, k, v, 0, LONG_MAX, &x)) == 0)
				ep.count = (long)x;
		}
	}
	if (r)
		return r;
	if (!state)
		return missing(p, E_EXTRAPORTS, "state");
	if (ep.count < 0)
		return missing(p, E_EXTRAPORTS, "count");
	if (strcmp(lower(lc, sizeof(lc), state), "unknown") == 0) {
		/* nmap 3.x writes state="unknown" count="0"; ndiff and libnmap
		 * read it.  No port is in it, or none we could store. */
		if (ep.count == 0)
			return 0;
		return warn(p, "<extraports> of %ld ports in state \"unknown\" left out", ep.count);
	}
	if (rec_port_state_parse(lc, &ep.state) != 0)
		return fail(p, SDB_EPARSE, "unknown port state \"%s\" in <extraports>",
		            show(sb, state));
	for (size_t i = 0; i < p->nextraports; i++) {
		if (p->extraports[i].state != ep.state)
			continue;
		/* one entry per state (the schema's key): add them up */
		if (p->extraports[i].count > LONG_MAX - ep.count)
			return fail(p, SDB_ERANGE,
			            "<extraports> counts of one state add up past %ld", LONG_MAX);
		p->extraports[i].count += ep.count;
		p->ep_cur = (long)i;
		return warn(p, "a second <extraports> in state \"%s\": counts added up",
		            rec_port_state_name(ep.state));
	}
	if (p->nextraports >= NMAP_XML_MAX_NAMES)
		return fail(p, SDB_ETOOBIG, "more than %d <extraports> in one host",
		            NMAP_XML_MAX_NAMES);
	if ((r = host_charge(p, sizeof(*p->extraports))) != 0)
		return r;
	if (grow(&p->extraports, &p->cextraports, p->nextraports, sizeof(*p->extraports)))
		return nomem(p);
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
			r = a_int(p, E_EXTRAREASONS, k, v, 0, LONG_MAX, &count);
	}
	if (r)
		return r;
	if (!reason)
		return missing(p, E_EXTRAREASONS, "reason");
	if (count < 0)
		return missing(p, E_EXTRAREASONS, "count");
	/* "reset:990,no-response:3" */
	if (buf_printf(&p->reasons, "%s%s:%lld", p->reasons.len ? "," : "", reason, count) != 0)
		return fail(p, SDB_ETOOBIG, "extrareasons of <extraports> exceed %d bytes",
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
			return fail(p, SDB_ETOOBIG, "extrareasons of <extraports> exceed %d bytes",
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
			r = a_int(p, E_PORT, k, v, 0, 65535, &port);
		}
	}
	if (r)
		return r;
	if (!proto)
		return missing(p, E_PORT, "protocol");
	if (!portid)
		return missing(p, E_PORT, "portid");
	if (rec_proto_parse(proto, &pr) != 0)
		return fail(p, SDB_EPARSE,
		            "unknown protocol \"%s\" in <port> (want tcp, udp, sctp, ip)",
		            show(sb, proto));
	idx = (unsigned)pr * 65536u + (unsigned)port;
	if (p->seen[idx / 64] & (1ull << (idx % 64)))
		return fail(p, SDB_EPARSE, "port %lld/%s listed twice in one host", port,
		            rec_proto_name(pr));
	if (p->nports >= NMAP_XML_MAX_PORTS) /* unreachable with the check above; kept */
		return fail(p, SDB_ETOOBIG, "more than %d ports in one host", NMAP_XML_MAX_PORTS);
	if ((r = host_charge(p, sizeof(*p->ports))) != 0)
		return r;
	if (grow(&p->ports, &p->cports, p->nports, sizeof(*p->ports)))
		return nomem(p);
	p->seen[idx / 64] |= 1ull << (idx % 64);
	pt = &p->ports[p->nports++];
	memset(pt, 0, sizeof(*pt));
	pt->proto = pr;
	pt->port = (int)port;
	pt->reason_ttl = -1;
	pt->service.conf = -1;
	p->port_has_state = 0;
	p->port_drop = 0;
	p->port_line = cur_line(p);
	p->port_col = cur_col(p);
	return 0;
}

static int end_port(struct nmap_parser *p)
{
	const struct rec_port *pt = &p->ports[p->nports - 1];

	if (!p->port_has_state)
		return fail_at(p, SDB_EPARSE, p->port_line, p->port_col,
		               "<port> %d/%s has no <state>", pt->port, rec_proto_name(pt->proto));
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
			if ((r = a_oint(p, E_STATE, k, v, 0, 255, -1, &x)) == 0)
				pt->reason_ttl = (int)x;
		}
	}
	if (r)
		return r;
	if (!state)
		return missing(p, E_STATE, "state");
	if (strcmp(lower(lc, sizeof(lc), state), "unknown") == 0) {
		/* nmap's PORT_UNKNOWN: nothing we can store about the port */
		p->port_has_state = p->port_drop = 1;
		return warn(p, "port %d/%s in state \"unknown\" left out", pt->port,
		            rec_proto_name(pt->proto));
	}
	if (rec_port_state_parse(lc, &pt->state) != 0)
		return fail(p, SDB_EPARSE,
		            "unknown port state \"%s\" (want open, closed, filtered, unfiltered, "
		            "open|filtered, closed|filtered)",
		            show(sb, state));
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
		return warn(p, "unknown service method \"%s\" left out (want table, probed)",
		            show(sb, v));
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
			    (r = a_oint(p, E_SERVICE, k, v, 0, 10, -1, &x)) == 0)
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
			return fail(p, SDB_ETOOBIG, "more than %d <cpe> in one <service>",
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
	if (grow(&p->cpes, &p->ccpes, p->ncpes, sizeof(*p->cpes)))
		return nomem(p);
	p->cpes[p->ncpes++] = s;
	p->ports[p->nports - 1].service.ncpes++;
	return 0;
}

/* A pre-scan (post = 0) or post-scan (post = 1) script result, its strings
 * already in the run's arena (kept until run_end; the host arena is reset
 * at every <host>). */
static int add_run_script(struct nmap_parser *p, const struct rec_script *sc, int post)
{
	if (grow(&p->rscripts[post], &p->crscripts[post], p->nrscripts[post],
	         sizeof(*p->rscripts[post])))
		return nomem(p);
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
		return nomem(p);
	memcpy(d, v, keep);
	memcpy(d + keep, note, nlen);
	d[keep + nlen] = '\0';
	*used += keep;
	*out = d;
	if (keep < n)
		return warn(p, "output of script \"%s\" (%zu bytes) cut to %zu bytes: %s",
		            show(sb, id), n, keep, why);
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
		return missing(p, E_SCRIPT, "id");
	if (run && p->nrscripts[0] + p->nrscripts[1] >= NMAP_XML_MAX_RUN_SCRIPTS)
		return fail(p, SDB_ETOOBIG, "more than %d pre-/post-scan scripts",
		            NMAP_XML_MAX_RUN_SCRIPTS);
	if (run && strlen(sc.id) + 1 > RUN_IDS_MAX - p->rscript_ids)
		return fail(p, SDB_ETOOBIG, "pre-/post-scan script ids over %d KiB in all",
		            RUN_IDS_MAX >> 10);
	if (run)
		p->rscript_ids += strlen(sc.id) + 1;
	if (!run && p->npscripts + p->nhscripts >= NMAP_XML_MAX_SCRIPTS)
		return fail(p, SDB_ETOOBIG, "more than %d scripts in one host",
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
		if (grow(&p->pscripts, &p->cpscripts, p->npscripts, sizeof(*p->pscripts)))
			return nomem(p);
		p->pscripts[p->npscripts++] = sc;
		p->ports[p->nports - 1].nscripts++;
	} else {
		if (grow(&p->hscripts, &p->chscripts, p->nhscripts, sizeof(*p->hscripts)))
			return nomem(p);
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
			if ((r = a_oint(p, E_OSMATCH, k, v, 0, 100, -1, &x)) == 0)
				p->host.os.accuracy = (int)x;
		}
	}
	if (r || !name)
		return r;
	if (first)
		p->host.os.name = name;
	if (p->nosm >= NMAP_XML_MAX_NAMES)
		return fail(p, SDB_ETOOBIG, "more than %d <osmatch> in one host",
		            NMAP_XML_MAX_NAMES);
	if ((r = host_charge(p, sizeof(*p->osm))) != 0)
		return r;
	if (grow(&p->osm, &p->cosm, p->nosm, sizeof(*p->osm)))
		return nomem(p);
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
			if ((r = a_oint(p, E_UPTIME, k, v, 0, INT64_MAX, -1, &x)) == 0)
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
		    (r = a_oint(p, E_DISTANCE, atts[i], atts[i + 1], 0, 255, -1, &x)) == 0)
			p->host.distance = (int)x;
	}
	return r;
}

static int keep_str(struct nmap_parser *p, struct buf *b, int *have, const char *k, const char *v)
{
	size_t n = strnlen(v, NMAP_XML_MAX_FIELD + 1);

	if (n > NMAP_XML_MAX_FIELD)
		return a_len(p, E_FINISHED, k, v, NMAP_XML_MAX_FIELD);
	buf_reset(b);
	if (buf_append(b, v, n) != 0)
		return nomem(p);
	*have = 1;
	return 0;
}

static int start_finished(struct nmap_parser *p, const char **atts)
{
	long long x;
	int r = 0;

	p->rs.finished = 1;
	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "time") == 0) {
			if ((r = a_oint(p, E_FINISHED, k, v, 0, TIME_MAX, 0, &x)) == 0)
				p->rs.end = x;
		} else if (strcmp(k, "elapsed") == 0) {
			if (*v)
				r = a_dbl(p, E_FINISHED, k, v, 0, 1e15, &p->rs.elapsed);
		} else if (strcmp(k, "summary") == 0) {
			r = keep_str(p, &p->rs_summary, &p->rs_have_summary, k, v);
		} else if (strcmp(k, "exit") == 0) {
			r = keep_str(p, &p->rs_exit, &p->rs_have_exit, k, v);
		} else if (strcmp(k, "errormsg") == 0) {
			r = keep_str(p, &p->rs_errormsg, &p->rs_have_errormsg, k, v);
		}
	}
	return r;
}

static int start_hosts(struct nmap_parser *p, const char **atts)
{
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];
		long *dst = NULL;

		if (strcmp(k, "up") == 0)
			dst = &p->rs.hosts_up;
		else if (strcmp(k, "down") == 0)
			dst = &p->rs.hosts_down;
		else if (strcmp(k, "total") == 0)
			dst = &p->rs.hosts_total;
		if (dst && (r = a_oint(p, E_HOSTS, k, v, 0, LONG_MAX, -1, &x)) == 0)
			*dst = (long)x;
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
		return fail_at(p, SDB_EPARSE, p->host_line, p->host_col,
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
		return sink_stop(p, r);
	host_reset(p); /* a large host's memory goes now, not at the next <host> */
	return 0;
}

/* The document is complete and well-formed: hand over <runstats>. */
static int run_end(struct nmap_parser *p)
{
	struct rec_runstats rs = p->rs;
	int r;

	if ((r = warn_summary(p)) != 0)
		return r;
	rs.summary = p->rs_have_summary ? buf_str(&p->rs_summary) : NULL;
	rs.exit = p->rs_have_exit ? buf_str(&p->rs_exit) : NULL;
	rs.errormsg = p->rs_have_errormsg ? buf_str(&p->rs_errormsg) : NULL;
	rs.prescripts = p->rscripts[0];
	rs.nprescripts = p->nrscripts[0];
	rs.postscripts = p->rscripts[1];
	rs.npostscripts = p->nrscripts[1];
	p->run_end_done = 1;
	if (p->sink.run_end && (r = p->sink.run_end(p->sink.ctx, &rs)) != 0)
		return sink_stop(p, r);
	return 0;
}

/* ---- expat callbacks ------------------------------------------------ */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct nmap_parser *p = ud;
	char sb[SHOW_MAX + 4];
	enum elem e, parent;

	p->event = 1;
	if (p->err)
		return;
	if (p->depth >= NMAP_XML_MAX_DEPTH) {
		fail(p, SDB_ETOOBIG, "elements nested deeper than %d", NMAP_XML_MAX_DEPTH);
		return;
	}
	if (p->depth == 0) {
		if (strcmp(name, "nmaprun") != 0) {
			fail(p, SDB_EPARSE, "not an nmap XML file: root element is <%s>",
			     show(sb, name));
			return;
		}
		p->stack[p->depth++] = E_NMAPRUN;
		start_nmaprun(p, atts);
		return;
	}
	parent = (enum elem)p->stack[p->depth - 1];
	e = parent == E_OTHER ? E_OTHER : elem_lookup(name);
	if (!(elem_parents[e] & IN(parent)))
		e = E_OTHER;
	p->stack[p->depth++] = (unsigned char)e;
	switch (e) {
	case E_PORT:
		start_port(p, atts);
		break;
	case E_STATE:
		start_state(p, atts);
		break;
	case E_SERVICE:
		start_service(p, atts);
		break;
	case E_SCRIPT:
		start_script(p, atts, parent);
		break;
	case E_CPE:
		start_cpe(p, parent);
		break;
	case E_HOST:
		start_host(p, atts);
		break;
	case E_STATUS:
		start_status(p, atts);
		break;
	case E_ADDRESS:
		start_address(p, atts);
		break;
	case E_HOSTNAME:
		start_hostname(p, atts);
		break;
	case E_EXTRAPORTS:
		start_extraports(p, atts);
		break;
	case E_EXTRAREASONS:
		start_extrareasons(p, atts);
		break;
	case E_OSMATCH:
		start_osmatch(p, atts);
		break;
	case E_OSCLASS:
		start_osclass(p, atts, parent);
		break;
	case E_UPTIME:
		start_uptime(p, atts);
		break;
	case E_DISTANCE:
		start_distance(p, atts);
		break;
	case E_SCANINFO:
		start_scaninfo(p, atts);
		break;
	case E_TASKPROGRESS:
		start_taskprogress(p, atts);
		break;
	case E_FINISHED:
		start_finished(p, atts);
		break;
	case E_HOSTS:
		start_hosts(p, atts);
		break;
	default:
		break;
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct nmap_parser *p = ud;

	(void)name;
	p->event = 1;
	if (p->err || p->depth == 0)
		return;
	switch ((enum elem)p->stack[--p->depth]) {
	case E_PORT:
		end_port(p);
		break;
	case E_CPE:
		end_cpe(p);
		break;
	case E_OSCLASS:
		p->os_class_open = 0;
		break;
	case E_OSMATCH:
		p->in_first_match = 0;
		break;
	case E_EXTRAPORTS:
		end_extraports(p);
		break;
	case E_HOST:
		end_host(p);
		break;
	default:
		break;
	}
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct nmap_parser *p = ud;

	p->event = 1;
	if (p->capture == CAP_NONE || p->err)
		return;
	if (buf_append(&p->text, s, (size_t)len) != 0)
		fail(p, SDB_ETOOBIG, "text of <cpe> is longer than %d bytes", NMAP_XML_MAX_FIELD);
}

/* Any <!ENTITY> (general, parameter, internal, external, unparsed): refuse.
 * This is what stops "billion laughs" before a single expansion. */
static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len, const XML_Char *base,
                                   const XML_Char *system_id, const XML_Char *public_id,
                                   const XML_Char *notation)
{
	struct nmap_parser *p = ud;
	char sb[SHOW_MAX + 4];

	(void)value;
	(void)value_len;
	(void)base;
	(void)system_id;
	(void)public_id;
	(void)notation;
	p->event = 1;
	fail(p, SDB_EPARSE, "entity declarations are not allowed (<!ENTITY %s%s>)",
	     is_param ? "% " : "", show(sb, name));
}

/* Never fetch anything (expat passes our parser struct as `xp`). */
static int XMLCALL on_external_entity(XML_Parser xp, const XML_Char *context, const XML_Char *base,
                                      const XML_Char *system_id, const XML_Char *public_id)
{
	struct nmap_parser *p = (struct nmap_parser *)(void *)xp;
	char sb[SHOW_MAX + 4];

	(void)context;
	(void)base;
	(void)public_id;
	fail(p, SDB_EPARSE, "external entities are not allowed (\"%s\")",
	     show(sb, system_id ? system_id : ""));
	return XML_STATUS_ERROR;
}

/* ---- public API ------------------------------------------------------ */

int nmap_parser_new(const struct ingest_sink *sink, const char *name, struct nmap_parser **out)
{
	struct nmap_parser *p = NULL, *prev_owner;
	int r = SDB_ENOMEM;

	if (!out)
		return SDB_EUSAGE;
	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		goto out;
	arena_init(&p->arena, ARENA_BLOCK, ARENA_KEEP);
	arena_init(&p->run_arena, ARENA_BLOCK, 0);
	if (sink)
		p->sink = *sink;
	if (!(p->name = sdb_strdup(name ? name : "<input>")))
		goto out;
	prev_owner = mm_owner;
	mm_owner = p;
	p->xp = XML_ParserCreate_MM(NULL, &mm_suite, NULL);
	mm_owner = prev_owner;
	if (!p->xp)
		goto out;
	XML_SetUserData(p->xp, p);
	XML_SetElementHandler(p->xp, on_start, on_end);
	XML_SetCharacterDataHandler(p->xp, on_text);
	XML_SetEntityDeclHandler(p->xp, on_entity_decl);
	XML_SetExternalEntityRefHandler(p->xp, on_external_entity);
	XML_SetExternalEntityRefHandlerArg(p->xp, p);
	XML_SetParamEntityParsing(p->xp, XML_PARAM_ENTITY_PARSING_NEVER);
#ifdef HAVE_BILLION_LAUGHS_PROTECTION
	/* Defence in depth: we refuse every entity declaration anyway. */
	XML_SetBillionLaughsAttackProtectionMaximumAmplification(p->xp, 10.0f);
	XML_SetBillionLaughsAttackProtectionActivationThreshold(p->xp, 1u << 20);
#endif
	buf_init(&p->text, NMAP_XML_MAX_FIELD);
	buf_init(&p->reasons, NMAP_XML_MAX_FIELD);
	buf_init(&p->rs_summary, NMAP_XML_MAX_FIELD);
	buf_init(&p->rs_exit, NMAP_XML_MAX_FIELD);
	buf_init(&p->rs_errormsg, NMAP_XML_MAX_FIELD);
	p->rs.hosts_up = p->rs.hosts_down = p->rs.hosts_total = -1;
	p->rs.elapsed = -1;
	*out = p;
	p = NULL;
	r = 0;
out:
	nmap_parser_free(p);
	return r;
}

/* Did the document end early - cut off after <nmaprun> began, where a
 * killed nmap leaves it - and does the sink take that (accept_truncated)? */
static int cut_off(struct nmap_parser *p)
{
	if (!p->sink.accept_truncated || p->err || p->depth == 0)
		return 0;
	switch (XML_GetErrorCode(p->xp)) {
	case XML_ERROR_NO_ELEMENTS:
	case XML_ERROR_UNCLOSED_TOKEN:
	case XML_ERROR_PARTIAL_CHAR:
	case XML_ERROR_UNCLOSED_CDATA_SECTION:
		return 1;
	default:
		return 0;
	}
}

/* A cut-off document the sink takes: end the run with what was complete
 * (the hosts already handed over; the one being read is dropped). */
static int end_cut_off(struct nmap_parser *p)
{
	char msg[512];
	int r;

	/* always passed on, whatever WARN_MAX held back */
	snprintf(msg, sizeof(msg),
	         "%s:%llu:%llu: the file ends before </nmaprun> (cut off): its %llu complete "
	         "hosts kept, the rest lost",
	         p->name, cur_line(p), cur_col(p), (unsigned long long)p->stats.hosts);
	if (p->sink.warning && (r = p->sink.warning(p->sink.ctx, msg)) != 0)
		return sink_stop(p, r);
	p->finished = 1;
	p->rs.truncated = 1;
	return run_end(p);
}

/* expat refused the input: say what, and where. */
static int expat_failed(struct nmap_parser *p, int final)
{
	enum XML_Error code = XML_GetErrorCode(p->xp);
	unsigned long long line = cur_line(p), col = cur_col(p);

	if (final && p->stats.bytes == 0)
		return fail_at(p, SDB_EPARSE, line, col, "empty input (no XML at all)");
	if (code == XML_ERROR_NO_MEMORY && p->expat_mem_full)
		return fail_at(p, SDB_ETOOBIG, line, col,
		               "XML parser needs more than %zu MiB (too many distinct element or "
		               "attribute names?)",
		               EXPAT_MEM_MAX >> 20);
	if (code == XML_ERROR_NO_MEMORY)
		return fail_at(p, SDB_ENOMEM, line, col, "out of memory");
	switch (code) {
	case XML_ERROR_NO_ELEMENTS:
	case XML_ERROR_UNCLOSED_TOKEN:
	case XML_ERROR_PARTIAL_CHAR:
	case XML_ERROR_UNCLOSED_CDATA_SECTION:
		if (!final)
			break;
		if (p->sink.truncated_hint && p->depth > 0 && p->stats.hosts > 0)
			/* cut off after complete hosts: say what keeps them */
			return fail_at(p, SDB_EPARSE, line, col,
			               "unexpected end of file (truncated?) after %llu complete "
			               "host%s; %s",
			               (unsigned long long)p->stats.hosts,
			               p->stats.hosts == 1 ? "" : "s", p->sink.truncated_hint);
		return fail_at(p, SDB_EPARSE, line, col, "unexpected end of file (truncated?)");
	default:
		break;
	}
	return fail_at(p, SDB_EPARSE, line, col, "malformed XML: %s", XML_ErrorString(code));
}

int nmap_parser_feed(struct nmap_parser *p, const void *data, size_t len, int final)
{
	const char *d = data ? data : "";

	if (!p)
		return SDB_EUSAGE;
	if (p->err)
		return p->err;
	if (p->finished)
		return fail_at(p, SDB_EUSAGE, cur_line(p), cur_col(p),
		               "data fed after the end of the document");
	if (len == 0 && !final)
		return 0;
	do {
		size_t n = len > FEED_SLICE ? FEED_SLICE : len;
		int last = final && n == len;
		struct nmap_parser *prev_owner;
		enum XML_Status st;

		p->event = 0;
		p->parsing = 1;
		prev_owner = mm_owner;
		mm_owner = p;
		st = XML_Parse(p->xp, d, (int)n, last);
		mm_owner = prev_owner;
		p->parsing = 0;
		p->stats.bytes += n;
		if (p->err)
			return p->err;
		if (st != XML_STATUS_OK && last && cut_off(p))
			return end_cut_off(p);
		if (st != XML_STATUS_OK)
			return expat_failed(p, last);
		/* expat holds an unfinished token (attribute, comment, ...) in
		 * memory until it ends: cap how much it may buffer. */
		p->no_event = p->event ? 0 : p->no_event + n;
		if (p->no_event > NMAP_XML_MAX_TOKEN)
			return fail(p, SDB_ETOOBIG, "token longer than %u bytes",
			            NMAP_XML_MAX_TOKEN);
		d += n;
		len -= n;
	} while (len > 0);
	if (!final)
		return 0;
	p->finished = 1;
	return p->run_end_done ? 0 : run_end(p);
}

const char *nmap_parser_errmsg(const struct nmap_parser *p)
{
	return p && p->err ? p->errmsg : "";
}

void nmap_parser_stats(const struct nmap_parser *p, struct nmap_parser_stats *out)
{
	if (!out)
		return;
	if (!p) {
		memset(out, 0, sizeof(*out));
		return;
	}
	*out = p->stats;
}

void nmap_parser_free(struct nmap_parser *p)
{
	if (!p)
		return;
	if (p->xp)
		XML_ParserFree(p->xp); /* blocks know their owner: no mm_owner needed */
	free(p->name);
	buf_free(&p->text);
	buf_free(&p->reasons);
	buf_free(&p->rs_summary);
	buf_free(&p->rs_exit);
	buf_free(&p->rs_errormsg);
	arena_free(&p->arena);
	arena_free(&p->run_arena);
	free(p->rscripts[0]);
	free(p->rscripts[1]);
	free(p->osm);
	free(p->ports);
	free(p->pscripts);
	free(p->hscripts);
	free(p->cpes);
	free(p->hostnames);
	free(p->extraports);
	free(p);
}

int nmap_xml_parse_fd(int fd, const char *name, const struct ingest_sink *sink,
                      int (*on_chunk)(void *ctx, const void *data, size_t len, uint64_t total),
                      void *chunk_ctx, char *err, size_t errlen)
{
	struct nmap_parser *p = NULL;
	char *chunk = NULL;
	uint64_t total = 0;
	ssize_t n;
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!name)
		name = "<input>";
	if ((r = nmap_parser_new(sink, name, &p)) != 0 || !(chunk = malloc(READ_CHUNK))) {
		r = SDB_ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "%s: out of memory", name);
		goto out;
	}
	for (;;) {
		n = read(fd, chunk, READ_CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = SDB_EIO;
			if (err && errlen)
				snprintf(err, errlen, "%s: read failed: %s", name, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (on_chunk && (r = on_chunk(chunk_ctx, chunk, (size_t)n, total)) != 0) {
			if (err && errlen)
				snprintf(err, errlen, "%s: stopped after %llu bytes: %s", name,
				         (unsigned long long)total, sdb_strerror(r));
			goto out;
		}
		if ((r = nmap_parser_feed(p, chunk, (size_t)n, 0)) != 0)
			goto parse_err;
	}
	if ((r = nmap_parser_feed(p, NULL, 0, 1)) != 0)
		goto parse_err;
	r = 0;
	goto out;
parse_err:
	if (err && errlen)
		sdb_strlcpy(err, nmap_parser_errmsg(p), errlen);
out:
	free(chunk);
	nmap_parser_free(p);
	return r;
}
