/*
 * nmap_xml_run.c - what the elements of nmap XML outside <host> become
 * (see nmap_xml_int.h): <nmaprun> (the sink's run_begin; masscan refused),
 * <scaninfo> (its services must be a port list), <taskprogress>, and
 * <runstats> (kept for run_end, which hands them over with the run's
 * pre-/post-scan scripts).  Also the readers of attribute values every
 * handler uses: lengths, strict integers and decimals, with their
 * NAME:LINE:COL messages.  A <host> and <script>: nmap_xml_host.c.
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

int nmap_xml__missing(struct nmap_parser *p, enum elem e, const char *attr)
{
	return nmap_xml__fail(p, SDB_EPARSE, "<%s> has no %s attribute", nmap_xml__elem_names[e],
	                      attr);
}

/* ---- attribute values ------------------------------------------------ */

/* Length check only (for values used during the callback). */
int nmap_xml__a_len(struct nmap_parser *p, enum elem e, const char *k, const char *v, size_t max)
{
	size_t n = strnlen(v, max + 1);

	if (n > max)
		return nmap_xml__fail(p, SDB_ETOOBIG,
		                      "attribute %s of <%s> is %zu bytes, limit %zu", k,
		                      nmap_xml__elem_names[e], strlen(v), max);
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
		                      nmap_xml__show(sb, v), nmap_xml__elem_names[e], lo, hi);
	*out = x;
	return 0;
nan:
	return nmap_xml__fail(p, SDB_EPARSE, "attribute %s of <%s> is not a number: \"%s\"", k,
	                      nmap_xml__elem_names[e], nmap_xml__show(sb, v));
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
		                      k, nmap_xml__elem_names[e], nmap_xml__show(sb, v));
	mant /= scale;
	if (neg)
		mant = -mant;
	if (mant < lo || mant > hi)
		return nmap_xml__fail(p, SDB_ERANGE, "%s %s of <%s> out of range %g-%g", k,
		                      nmap_xml__show(sb, v), nmap_xml__elem_names[e], lo, hi);
	*out = mant;
	return 0;
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

int nmap_xml__run_start(struct nmap_parser *p, enum elem e, const char **atts)
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
		return 0;
	}
}
