/*
 * nmap_xml_elem.c - the nmap XML parser's elements (see nmap_xml_int.h):
 * which element is which (its name, where nmap writes it), the readers of
 * attribute values (lengths, strict integers and decimals, enumerations in
 * any case), the dispatch of each element to its handler, and what the
 * elements outside <host> become: <nmaprun> (run_begin), <scaninfo>,
 * <taskprogress>, <runstats> (kept for run_end).  A <host> and <script>:
 * nmap_xml_host.c.
 */
#include "ingest/nmap_xml_int.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timeutil.h"

/* scaninfo services: nmap's compressed port list, up to ~190 KB for "every
 * other port", so neither MAX_FIELD nor MAX_ARGS fits. */
#define MAX_SERVICES NMAP_XML_MAX_SERVICES

/* ---- which element is which ------------------------------------------------ */

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

enum elem nmap_xml__elem(const char *name, enum elem parent)
{
	enum elem e = parent == E_OTHER ? E_OTHER : elem_lookup(name);

	return elem_parents[e] & IN(parent) ? e : E_OTHER;
}

int nmap_xml__missing(struct nmap_parser *p, enum elem e, const char *attr)
{
	return nmap_xml__fail(p, SDB_EPARSE, "<%s> has no %s attribute", elem_names[e], attr);
}

/* ---- attribute values ------------------------------------------------ */

/* Length check only (for values used during the callback). */
int nmap_xml__a_len(struct nmap_parser *p, enum elem e, const char *k, const char *v, size_t max)
{
	size_t n = strnlen(v, max + 1);

	if (n > max)
		return nmap_xml__fail(p, SDB_ETOOBIG,
		                      "attribute %s of <%s> is %zu bytes, limit %zu", k,
		                      elem_names[e], strlen(v), max);
	return 0;
}

/* Strict decimal integer in [lo, hi]: optional '-', digits, nothing else. */
int nmap_xml__a_int(struct nmap_parser *p, enum elem e, const char *k, const char *v, long long lo,
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
		return nmap_xml__fail(p, SDB_ERANGE, "%s %s of <%s> out of range %lld-%lld", k,
		                      nmap_xml__show(sb, v), elem_names[e], lo, hi);
	*out = x;
	return 0;
nan:
	return nmap_xml__fail(p, SDB_EPARSE, "attribute %s of <%s> is not a number: \"%s\"", k,
	                      elem_names[e], nmap_xml__show(sb, v));
}

/* An optional integer: as a_int, but an empty value (Zenmap saves
 * seconds="" and the like) is absent: *out = `absent`. */
int nmap_xml__a_oint(struct nmap_parser *p, enum elem e, const char *k, const char *v, long long lo,
                     long long hi, long long absent, long long *out)
{
	if (*v == '\0') {
		*out = absent;
		return 0;
	}
	return nmap_xml__a_int(p, e, k, v, lo, hi, out);
}

/*
 * Strict decimal "123", "123.45" in [lo, hi].  Parsed by hand, not strtod():
 * strtod follows LC_NUMERIC and would read "122.97" as 122 under a locale
 * with a decimal comma.  One correctly rounded division keeps the result
 * equal to strtod's for the short values nmap writes.
 */
int nmap_xml__a_dbl(struct nmap_parser *p, enum elem e, const char *k, const char *v, double lo,
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
		return nmap_xml__fail(p, SDB_EPARSE, "attribute %s of <%s> is not a number: \"%s\"",
		                      k, elem_names[e], nmap_xml__show(sb, v));
	mant /= scale;
	if (neg)
		mant = -mant;
	if (mant < lo || mant > hi)
		return nmap_xml__fail(p, SDB_ERANGE, "%s %s of <%s> out of range %g-%g", k,
		                      nmap_xml__show(sb, v), elem_names[e], lo, hi);
	*out = mant;
	return 0;
}

/* v in lower case into out (at most n - 1 bytes; longer values are cut,
 * which no enumeration value matches).  nmap 3.x wrote "UNfiltered". */
const char *nmap_xml__lower(char *out, size_t n, const char *v)
{
	size_t i = 0;

	for (; v[i] && i + 1 < n; i++)
		out[i] = v[i] >= 'A' && v[i] <= 'Z' ? (char)(v[i] - 'A' + 'a') : v[i];
	out[i] = '\0';
	return v[i] ? "" : out;
}

/* ---- the elements outside <host> -------------------------------------------- */

static int start_nmaprun(struct nmap_parser *p, const char **atts)
{
	struct rec_run run = {0};
	long long x;
	int r = 0;

	for (size_t i = 0; atts[i] && r == 0; i += 2) {
		const char *k = atts[i], *v = atts[i + 1];

		if (strcmp(k, "scanner") == 0) {
			r = nmap_xml__a_len(p, E_NMAPRUN, k, v, NMAP_XML_MAX_FIELD);
			run.scanner = v;
		} else if (strcmp(k, "args") == 0) {
			r = nmap_xml__a_len(p, E_NMAPRUN, k, v, NMAP_XML_MAX_ARGS);
			run.args = v;
		} else if (strcmp(k, "version") == 0) {
			r = nmap_xml__a_len(p, E_NMAPRUN, k, v, NMAP_XML_MAX_FIELD);
			run.version = v;
		} else if (strcmp(k, "xmloutputversion") == 0) {
			r = nmap_xml__a_len(p, E_NMAPRUN, k, v, NMAP_XML_MAX_FIELD);
			run.xmloutputversion = v;
		} else if (strcmp(k, "start") == 0) {
			/* absent, "" or "0": no start time (0), never "now" */
			if ((r = nmap_xml__a_oint(p, E_NMAPRUN, k, v, 0, TIME_MAX, 0, &x)) == 0)
				run.start = x;
		}
	}
	/* masscan writes <nmaprun scanner="masscan"> with one <host> per open
	 * port: read as nmap's, every port after a host's first would be lost. */
	if (r == 0 && run.scanner && strcmp(run.scanner, "masscan") == 0)
		return nmap_xml__fail(p, SDB_EPARSE, "masscan XML is not supported yet");
	if (r == 0 && p->sink.run_begin && (r = p->sink.run_begin(p->sink.ctx, &run)) != 0)
		return nmap_xml__sink_stop(p, r);
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
			r = nmap_xml__a_len(p, E_SCANINFO, k, v, NMAP_XML_MAX_FIELD);
			si.type = v;
		} else if (strcmp(k, "protocol") == 0) {
			proto = v;
		} else if (strcmp(k, "numservices") == 0) {
			if ((r = nmap_xml__a_int(p, E_SCANINFO, k, v, 0, LONG_MAX, &x)) == 0)
				si.numservices = (long)x;
		} else if (strcmp(k, "services") == 0) {
			r = nmap_xml__a_len(p, E_SCANINFO, k, v, MAX_SERVICES);
			si.services = v;
		}
	}
	if (r)
		return r;
	if (!proto)
		return nmap_xml__missing(p, E_SCANINFO, "protocol");
	if (rec_proto_parse(proto, &si.proto) != 0)
		return nmap_xml__fail(p, SDB_EPARSE, "unknown protocol \"%s\" in <scaninfo>",
		                      nmap_xml__show(sb, proto));
	if (si.services) {
		/* the job's probed scope: a wrong one would close ports that
		 * were never probed, so it must be a port list */
		struct portlist pl;

		if ((r = portlist_parse(si.services, &pl)) == SDB_ENOMEM)
			return nmap_xml__nomem(p);
		if (r != 0)
			return nmap_xml__fail(
			    p, SDB_EPARSE,
			    "services \"%s\" of <scaninfo> is not a port list (ports "
			    "0-65535, ranges low-high)",
			    nmap_xml__show(sb, si.services));
		portlist_free(&pl);
	}
	if (p->sink.scaninfo && (r = p->sink.scaninfo(p->sink.ctx, &si)) != 0)
		return nmap_xml__sink_stop(p, r);
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
			r = nmap_xml__a_len(p, E_TASKPROGRESS, k, v, NMAP_XML_MAX_FIELD);
			task = v;
		} else if (strcmp(k, "percent") == 0) {
			r = nmap_xml__a_dbl(p, E_TASKPROGRESS, k, v, 0, 100, &pct);
		}
	}
	if (r)
		return r;
	if (!task)
		return nmap_xml__missing(p, E_TASKPROGRESS, "task");
	if (pct < 0)
		return nmap_xml__missing(p, E_TASKPROGRESS, "percent");
	if (p->sink.progress && (r = p->sink.progress(p->sink.ctx, task, pct)) != 0)
		return nmap_xml__sink_stop(p, r);
	return 0;
}

static int keep_str(struct nmap_parser *p, struct buf *b, int *have, const char *k, const char *v)
{
	size_t n = strnlen(v, NMAP_XML_MAX_FIELD + 1);

	if (n > NMAP_XML_MAX_FIELD)
		return nmap_xml__a_len(p, E_FINISHED, k, v, NMAP_XML_MAX_FIELD);
	buf_reset(b);
	if (buf_append(b, v, n) != 0)
		return nmap_xml__nomem(p);
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
			if ((r = nmap_xml__a_oint(p, E_FINISHED, k, v, 0, TIME_MAX, 0, &x)) == 0)
				p->rs.end = x;
		} else if (strcmp(k, "elapsed") == 0) {
			if (*v)
				r = nmap_xml__a_dbl(p, E_FINISHED, k, v, 0, 1e15, &p->rs.elapsed);
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
		if (dst && (r = nmap_xml__a_oint(p, E_HOSTS, k, v, 0, LONG_MAX, -1, &x)) == 0)
			*dst = (long)x;
	}
	return r;
}

int nmap_xml__run_end(struct nmap_parser *p)
{
	struct rec_runstats rs = p->rs;
	int r;

	rs.summary = p->rs_have_summary ? buf_str(&p->rs_summary) : NULL;
	rs.exit = p->rs_have_exit ? buf_str(&p->rs_exit) : NULL;
	rs.errormsg = p->rs_have_errormsg ? buf_str(&p->rs_errormsg) : NULL;
	rs.prescripts = p->rscripts[0];
	rs.nprescripts = p->nrscripts[0];
	rs.postscripts = p->rscripts[1];
	rs.npostscripts = p->nrscripts[1];
	p->run_end_done = 1;
	if (p->sink.run_end && (r = p->sink.run_end(p->sink.ctx, &rs)) != 0)
		return nmap_xml__sink_stop(p, r);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------------- */

int nmap_xml__start(struct nmap_parser *p, enum elem e, enum elem parent, const char **atts)
{
	switch (e) {
	case E_NMAPRUN:
		return start_nmaprun(p, atts);
	case E_SCANINFO:
		return start_scaninfo(p, atts);
	case E_TASKPROGRESS:
		return start_taskprogress(p, atts);
	case E_FINISHED:
		return start_finished(p, atts);
	case E_HOSTS:
		return start_hosts(p, atts);
	default:
		return nmap_xml__host_start(p, e, parent, atts);
	}
}

int nmap_xml__end(struct nmap_parser *p, enum elem e)
{
	/* the elements outside <host> have nothing to do at their end */
	return nmap_xml__host_end(p, e);
}
