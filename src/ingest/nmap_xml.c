/*
 * nmap_xml.c - streaming parser for nmap's XML output on expat (see
 * nmap_xml.h); this file is its expat wiring: the parser's setup, expat's
 * memory cap, the "NAME:LINE:COL: what" errors and warnings, the expat
 * callbacks (element nesting, which element is which, <cpe> text, entities
 * refused) and the streaming loop.  What each element becomes:
 * nmap_xml_host.c (a <host>, buffered in an arena reset at every <host>,
 * and <script>) and nmap_xml_run.c (the elements outside <host>, attribute
 * values); what they share: nmap_xml_int.h.  Does not own: storage (the
 * sink), address syntax (core/addr.c), the record model (core/record.h).
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
#include "ingest/nmap_xml_int.h"

#include <errno.h>
#include <stdarg.h>
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

#include "core/error.h"

#if XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 4)
#define HAVE_BILLION_LAUGHS_PROTECTION 1
#endif

#define FEED_SLICE  (64 * 1024) /* bytes handed to expat per XML_Parse call */
#define READ_CHUNK  (64 * 1024) /* nmap_xml_parse_fd read size */
#define ARENA_BLOCK (64 * 1024) /* arena block size; strings over a quarter get their own */
#define ARENA_KEEP  16          /* standard blocks kept between hosts */
#define WARN_MAX    20          /* warnings passed on one by one; then a count */
/* All memory expat itself may hold (buffers, name tables).  Legit files
 * need a few MiB plus twice the largest token; this refuses documents that
 * grow expat's tables with millions of distinct element/attribute names. */
#define EXPAT_MEM_MAX ((size_t)32 << 20)

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

/* ---- errors ---------------------------------------------------------- */

/* Quote at most SHOW_MAX bytes of untrusted text, control bytes as '?'. */
const char *nmap_xml__show(char out[SHOW_MAX + 4], const char *v)
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

unsigned long long nmap_xml__line(const struct nmap_parser *p)
{
	return (unsigned long long)XML_GetCurrentLineNumber(p->xp);
}

unsigned long long nmap_xml__col(const struct nmap_parser *p)
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

int nmap_xml__fail_at(struct nmap_parser *p, int code, unsigned long long line,
                      unsigned long long col, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail_at(p, code, line, col, fmt, ap);
	va_end(ap);
	return r;
}

/* Fail at the current expat position. */
int nmap_xml__fail(struct nmap_parser *p, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail_at(p, code, nmap_xml__line(p), nmap_xml__col(p), fmt, ap);
	va_end(ap);
	return r;
}

int nmap_xml__nomem(struct nmap_parser *p)
{
	return nmap_xml__fail(p, SDB_ENOMEM, "out of memory");
}

/*
 * A value was accepted after a change (normalised, or left out): tell the
 * sink's warning callback "NAME:LINE:COL: what", at the current position.
 * The first WARN_MAX are passed on; the rest are counted (warn_summary).
 * Returns 0, or the sink's non-zero code (which stops the parser).
 */
int nmap_xml__warn(struct nmap_parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int n, r;

	if (p->warnings++ >= WARN_MAX || !p->sink.warning)
		return 0;
	n = snprintf(msg, sizeof(msg), "%s:%llu:%llu: ", p->name, nmap_xml__line(p),
	             nmap_xml__col(p));
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	if ((r = p->sink.warning(p->sink.ctx, msg)) != 0)
		return nmap_xml__sink_stop(p, r);
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
		return nmap_xml__sink_stop(p, r);
	return 0;
}

/* A sink callback returned r (non-zero): stop with that very code. */
int nmap_xml__sink_stop(struct nmap_parser *p, int r)
{
	nmap_xml__fail(p, r, "import stopped: %s", sdb_strerror(r));
	p->err = r; /* even if nmap_xml__fail() kept an earlier error, r is what we return */
	return r;
}

/* The document is complete (or cut off, and the sink takes that): the
 * count of warnings not passed on, then the sink's run_end. */
static int finish_run(struct nmap_parser *p)
{
	int r;

	if ((r = warn_summary(p)) != 0)
		return r;
	return nmap_xml__run_end(p);
}

/* ---- which element is which ------------------------------------------------ */

const char *const nmap_xml__elem_names[E__COUNT] = {
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

/* Element `name` inside `parent`: E_OTHER (skipped with its subtree) when it
 * is not one of ours or not where nmap writes it. */
static enum elem elem_at(const char *name, enum elem parent)
{
	enum elem e = parent == E_OTHER ? E_OTHER : elem_lookup(name);

	return elem_parents[e] & IN(parent) ? e : E_OTHER;
}

/* ---- expat callbacks ------------------------------------------------ */

/* An element begins: check the nesting, recognise the element where it is
 * (anything else is skipped with its subtree), hand it to its handler. */
static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct nmap_parser *p = ud;
	char sb[SHOW_MAX + 4];
	enum elem e, parent;

	p->event = 1;
	if (p->err)
		return;
	if (p->depth >= NMAP_XML_MAX_DEPTH) {
		nmap_xml__fail(p, SDB_ETOOBIG, "elements nested deeper than %d",
		               NMAP_XML_MAX_DEPTH);
		return;
	}
	if (p->depth == 0) {
		if (strcmp(name, "nmaprun") != 0) {
			nmap_xml__fail(p, SDB_EPARSE, "not an nmap XML file: root element is <%s>",
			               nmap_xml__show(sb, name));
			return;
		}
		p->stack[p->depth++] = E_NMAPRUN;
		nmap_xml__start(p, E_NMAPRUN, E_OTHER, atts);
		return;
	}
	parent = (enum elem)p->stack[p->depth - 1];
	e = elem_at(name, parent);
	p->stack[p->depth++] = (unsigned char)e;
	if (e != E_OTHER)
		nmap_xml__start(p, e, parent, atts);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct nmap_parser *p = ud;
	enum elem e;

	(void)name;
	p->event = 1;
	if (p->err || p->depth == 0)
		return;
	e = (enum elem)p->stack[--p->depth];
	if (e != E_OTHER)
		nmap_xml__end(p, e);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct nmap_parser *p = ud;

	p->event = 1;
	if (p->capture == CAP_NONE || p->err)
		return;
	if (buf_append(&p->text, s, (size_t)len) != 0)
		nmap_xml__fail(p, SDB_ETOOBIG, "text of <cpe> is longer than %d bytes",
		               NMAP_XML_MAX_FIELD);
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
	nmap_xml__fail(p, SDB_EPARSE, "entity declarations are not allowed (<!ENTITY %s%s>)",
	               is_param ? "% " : "", nmap_xml__show(sb, name));
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
	nmap_xml__fail(p, SDB_EPARSE, "external entities are not allowed (\"%s\")",
	               nmap_xml__show(sb, system_id ? system_id : ""));
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
	         p->name, nmap_xml__line(p), nmap_xml__col(p), (unsigned long long)p->stats.hosts);
	if (p->sink.warning && (r = p->sink.warning(p->sink.ctx, msg)) != 0)
		return nmap_xml__sink_stop(p, r);
	p->finished = 1;
	p->rs.truncated = 1;
	return finish_run(p);
}

/* expat refused the input: say what, and where. */
static int expat_failed(struct nmap_parser *p, int final)
{
	enum XML_Error code = XML_GetErrorCode(p->xp);
	unsigned long long line = nmap_xml__line(p), col = nmap_xml__col(p);

	if (final && p->stats.bytes == 0)
		return nmap_xml__fail_at(p, SDB_EPARSE, line, col, "empty input (no XML at all)");
	if (code == XML_ERROR_NO_MEMORY && p->expat_mem_full)
		return nmap_xml__fail_at(
		    p, SDB_ETOOBIG, line, col,
		    "XML parser needs more than %zu MiB (too many distinct element or "
		    "attribute names?)",
		    EXPAT_MEM_MAX >> 20);
	if (code == XML_ERROR_NO_MEMORY)
		return nmap_xml__fail_at(p, SDB_ENOMEM, line, col, "out of memory");
	switch (code) {
	case XML_ERROR_NO_ELEMENTS:
	case XML_ERROR_UNCLOSED_TOKEN:
	case XML_ERROR_PARTIAL_CHAR:
	case XML_ERROR_UNCLOSED_CDATA_SECTION:
		if (!final)
			break;
		if (p->sink.truncated_hint && p->depth > 0 && p->stats.hosts > 0)
			/* cut off after complete hosts: say what keeps them */
			return nmap_xml__fail_at(
			    p, SDB_EPARSE, line, col,
			    "unexpected end of file (truncated?) after %llu complete "
			    "host%s; %s",
			    (unsigned long long)p->stats.hosts, p->stats.hosts == 1 ? "" : "s",
			    p->sink.truncated_hint);
		return nmap_xml__fail_at(p, SDB_EPARSE, line, col,
		                         "unexpected end of file (truncated?)");
	default:
		break;
	}
	return nmap_xml__fail_at(p, SDB_EPARSE, line, col, "malformed XML: %s",
	                         XML_ErrorString(code));
}

int nmap_parser_feed(struct nmap_parser *p, const void *data, size_t len, int final)
{
	const char *d = data ? data : "";

	if (!p)
		return SDB_EUSAGE;
	if (p->err)
		return p->err;
	if (p->finished)
		return nmap_xml__fail_at(p, SDB_EUSAGE, nmap_xml__line(p), nmap_xml__col(p),
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
			return nmap_xml__fail(p, SDB_ETOOBIG, "token longer than %u bytes",
			                      NMAP_XML_MAX_TOKEN);
		d += n;
		len -= n;
	} while (len > 0);
	if (!final)
		return 0;
	p->finished = 1;
	return p->run_end_done ? 0 : finish_run(p);
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
