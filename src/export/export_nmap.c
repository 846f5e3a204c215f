/*
 * export_nmap.c - a stored job, or the current state, as nmap's XML output
 * (nmap.dtd, xmloutputversion 1.05): what ndiff, xsltproc with nmap.xsl
 * and scandb's own importer read back.  Each stored field is written where
 * nmap writes it (docs/EXPORT.md has the list); what scandb does not keep
 * (hostname types, a host's endtime, the accuracy of OS matches but the
 * best: 0, the scan type) is left out, or written as docs/EXPORT.md says.
 * Every text and attribute value goes through the one escaper
 * (core/utf8.h): hostile bytes in a banner still give a well-formed file.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/utf8.h"
#include "export/export.h"

#define A utf8_xml_attr

static int done(FILE *f)
{
	return ferror(f) ? SDB_EIO : 0;
}

/* ' NAME="N"' for a value that is present (>= 0). */
static void attr_int(FILE *f, const char *name, int64_t v)
{
	if (v >= 0)
		fprintf(f, " %s=\"%" PRId64 "\"", name, v);
}

/* ' NAME="T" NAMEstr="Wed Jul 10 23:47:13 2009"' (nmap's pair of a time). */
static void attr_time(FILE *f, const char *name, const char *strname, int64_t t)
{
	char d[64];
	struct tm tm;
	time_t tt = (time_t)t;

	if (t <= 0)
		return;
	fprintf(f, " %s=\"%" PRId64 "\"", name, t);
	if (localtime_r(&tt, &tm) && strftime(d, sizeof(d), "%a %b %d %H:%M:%S %Y", &tm))
		A(f, strname, d);
}

static void scripts(FILE *f, const struct store_script *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputs("<script", f);
		A(f, "id", s[i].id ? s[i].id : "");
		A(f, "output", s[i].output ? s[i].output : "");
		fputs("/>\n", f);
	}
}

/* The number of ports in nmap's list "1-100,443" (0 if it is not one). */
static long count_ports(const char *list)
{
	long n = 0;

	for (const char *p = list; *p;) {
		char *e;
		long lo = strtol(p, &e, 10), hi = lo;

		if (e == p)
			return 0;
		if (*e == '-')
			hi = strtol(e + 1, &e, 10);
		n += hi >= lo ? hi - lo + 1 : 0;
		p = *e == ',' ? e + 1 : e;
		if (*e && *e != ',')
			return 0;
	}
	return n;
}

/* One <scaninfo> per protocol of the job's probed scope
 * ("tcp:1-100;udp:53"); the scan type is not stored: -sT in the args
 * says connect, else TCP is "syn". */
static void scaninfo(FILE *f, const struct store_job *j)
{
	const char *s = j->probed_scope;
	int connect = j->args && strstr(j->args, " -sT") != NULL;

	while (s && *s) {
		size_t len = strcspn(s, ";");
		const char *colon = memchr(s, ':', len);
		char *item = colon ? strndup(s, len) : NULL;

		if (item) {
			const char *proto = item, *list = item + (colon - s) + 1;
			const char *type = strcmp(proto, "udp") == 0    ? "udp"
			                   : strcmp(proto, "sctp") == 0 ? "sctpinit"
			                   : strcmp(proto, "ip") == 0   ? "ipproto"
			                   : connect                    ? "connect"
			                                                : "syn";

			item[colon - s] = '\0';
			fprintf(f, "<scaninfo type=\"%s\"", type);
			A(f, "protocol", proto);
			fprintf(f, " numservices=\"%ld\"", count_ports(list));
			A(f, "services", list);
			fputs("/>\n", f);
		}
		free(item);
		s += len + (s[len] == ';');
	}
}

static int nmap_begin(void *ctx, const struct export_run *run)
{
	FILE *f = ((struct export_file *)ctx)->f;
	const struct store_job *j = run->job;

	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE nmaprun>\n", f);
	fputs("<?xml-stylesheet href=\"file:///usr/share/nmap/nmap.xsl\" type=\"text/xsl\"?>\n", f);
	fprintf(f, "<!-- scandb %s export of %s%s -->\n", SCANDB_VERSION, run->what,
	        run->filtered ? " (filtered: only some hosts)" : "");
	fputs("<nmaprun scanner=\"nmap\"", f);
	if (j) {
		A(f, "args", j->args ? j->args : "");
		attr_time(f, "start", "startstr", j->started_at);
		A(f, "version", j->scanner_version ? j->scanner_version : "");
	} else {
		/* not one scan: said in the comment above and in profile_name */
		A(f, "args", "scandb export --current");
		attr_time(f, "start", "startstr", run->now);
		A(f, "version", "scandb " SCANDB_VERSION);
		A(f, "profile_name", "scandb current state: each host as its latest scan saw it");
	}
	fputs(" xmloutputversion=\"1.05\">\n", f);
	if (j)
		scaninfo(f, j);
	fputs("<verbose level=\"0\"/>\n<debugging level=\"0\"/>\n", f);
	if (run->nprescripts) {
		fputs("<prescript>\n", f);
		scripts(f, run->prescripts, run->nprescripts);
		fputs("</prescript>\n", f);
	}
	return done(f);
}

static void addresses(FILE *f, const struct store_host *h)
{
	fputs("<status", f);
	A(f, "state", h->status ? h->status : "unknown");
	A(f, "reason", h->reason);
	fputs("/>\n<address", f);
	A(f, "addr", h->addr);
	fprintf(f, " addrtype=\"%s\"/>\n", h->family == 6 ? "ipv6" : "ipv4");
	if (h->mac) {
		fputs("<address", f);
		A(f, "addr", h->mac);
		fputs(" addrtype=\"mac\"", f);
		A(f, "vendor", h->mac_vendor);
		fputs("/>\n", f);
	}
	fputs("<hostnames>\n", f);
	for (size_t i = 0; i < h->nhostnames; i++) {
		fputs("<hostname", f);
		A(f, "name", h->hostnames[i]);
		fputs(" type=\"user\"/>\n", f);
	}
	fputs("</hostnames>\n", f);
}

/* <extraports> with its <extrareasons> from "reset:990,no-response:3". */
static void extraports(FILE *f, const struct store_extraports *e)
{
	const char *s = e->reasons;

	fputs("<extraports", f);
	A(f, "state", e->state);
	fprintf(f, " count=\"%ld\">\n", e->count);
	while (s && *s) {
		size_t len = strcspn(s, ",");
		char *item = strndup(s, len), *colon = item ? strrchr(item, ':') : NULL;

		if (colon) {
			*colon = '\0';
			fputs("<extrareasons", f);
			A(f, "reason", item);
			A(f, "count", colon + 1);
			fputs("/>\n", f);
		}
		free(item);
		s += len + (s[len] == ',');
	}
	fputs("</extraports>\n", f);
}

static void service(FILE *f, const struct store_port *p)
{
	if (!p->service && !p->product && !p->method)
		return;
	fputs("<service", f);
	A(f, "name", p->service);
	A(f, "product", p->product);
	A(f, "version", p->version);
	A(f, "extrainfo", p->extrainfo);
	A(f, "ostype", p->ostype);
	A(f, "tunnel", p->tunnel);
	A(f, "method", p->method);
	attr_int(f, "conf", p->conf);
	if (p->ncpes == 0) {
		fputs("/>\n", f);
		return;
	}
	fputs(">", f);
	for (size_t i = 0; i < p->ncpes; i++) {
		fputs("<cpe>", f);
		utf8_xml_text(f, p->cpes[i]);
		fputs("</cpe>", f);
	}
	fputs("</service>\n", f);
}

/* The <extraports> in nmap's order, the largest count first (the store
 * keeps them by state; ndiff compares them in file order).  A host has one
 * per port state, so at most REC_PORT__COUNT. */
static void extraports_all(FILE *f, const struct store_host *h)
{
	unsigned char done_[REC_PORT__COUNT] = {0};
	size_t n = h->nextraports;

	if (n > REC_PORT__COUNT) {
		for (size_t i = 0; i < n; i++)
			extraports(f, &h->extraports[i]);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		size_t best = n;

		for (size_t i = 0; i < n; i++)
			if (!done_[i] &&
			    (best == n || h->extraports[i].count > h->extraports[best].count))
				best = i;
		done_[best] = 1;
		extraports(f, &h->extraports[best]);
	}
}

static void ports(FILE *f, const struct store_host *h)
{
	fputs("<ports>", f);
	extraports_all(f, h);
	for (size_t i = 0; i < h->nports; i++) {
		const struct store_port *p = &h->ports[i];

		fputs("<port", f);
		A(f, "protocol", p->protocol);
		fprintf(f, " portid=\"%d\"><state", p->port);
		A(f, "state", p->state);
		A(f, "reason", p->reason);
		attr_int(f, "reason_ttl", p->reason_ttl);
		fputs("/>", f);
		service(f, p);
		scripts(f, p->scripts, p->nscripts);
		fputs("</port>\n", f);
	}
	fputs("</ports>\n", f);
}

/* The best match (the first, with its accuracy and class), then the other
 * names; a class without a match name (old files) directly in <os>. */
static void os(FILE *f, const struct store_host *h)
{
	int has_class = h->os_vendor || h->os_family || h->os_gen || h->os_type || h->os_cpe;
	size_t n = h->nosmatches ? h->nosmatches : h->os ? 1 : 0;

	if (n == 0 && !has_class)
		return;
	fputs("<os>\n", f);
	for (size_t i = 0; i < n; i++) {
		fputs("<osmatch", f);
		A(f, "name", h->nosmatches ? h->osmatches[i] : h->os);
		/* the accuracy of the other matches is not stored: 0 (nmap.dtd
		 * requires one; readers such as python-libnmap refuse a match
		 * without it), never more than it could have been */
		attr_int(f, "accuracy", i == 0 ? h->os_accuracy : 0);
		fputs(" line=\"0\">", f);
		if (i == 0 && has_class) {
			fputs("<osclass", f);
			A(f, "type", h->os_type);
			A(f, "vendor", h->os_vendor);
			A(f, "osfamily", h->os_family);
			A(f, "osgen", h->os_gen);
			attr_int(f, "accuracy", h->os_accuracy);
			fputs(">", f);
			if (h->os_cpe) {
				fputs("<cpe>", f);
				utf8_xml_text(f, h->os_cpe);
				fputs("</cpe>", f);
			}
			fputs("</osclass>", f);
		}
		fputs("</osmatch>\n", f);
	}
	fputs("</os>\n", f);
}

static int nmap_host(void *ctx, const struct store_host *h)
{
	struct export_file *x = ctx;
	FILE *f = x->f;

	fputs("<host", f);
	if (h->scanned_at > 0)
		fprintf(f, " starttime=\"%" PRId64 "\"", h->scanned_at);
	fputs(">", f);
	addresses(f, h);
	ports(f, h);
	os(f, h);
	if (h->uptime >= 0) {
		fprintf(f, "<uptime seconds=\"%" PRId64 "\"", h->uptime);
		A(f, "lastboot", h->lastboot ? h->lastboot : "");
		fputs("/>\n", f);
	}
	if (h->distance >= 0)
		fprintf(f, "<distance value=\"%d\"/>\n", h->distance);
	if (h->nscripts) {
		fputs("<hostscript>", f);
		scripts(f, h->scripts, h->nscripts);
		fputs("</hostscript>", f);
	}
	fputs("</host>\n", f);
	x->nhosts++;
	return done(f);
}

/* The counts: the job's own when every host of it is written, else those
 * of the hosts written. */
static void runstats(FILE *f, const struct export_run *run, const struct export_totals *t)
{
	const struct store_job *j = run->job;
	int own = j && !run->filtered && j->hosts_total >= 0;
	int64_t end = j ? j->completed_at : run->now;
	int ok = !j || strcmp(j->status, "completed") == 0;
	long up = own ? j->hosts_up : t->up, total = own ? j->hosts_total : t->hosts;
	long down = own ? j->hosts_down : t->down;
	char summary[256];
	char d[64];
	struct tm tm;
	time_t tt = (time_t)end;

	if (end <= 0 || !localtime_r(&tt, &tm) ||
	    !strftime(d, sizeof(d), "%a %b %d %H:%M:%S %Y", &tm))
		snprintf(d, sizeof(d), "an unknown time");
	snprintf(summary, sizeof(summary),
	         "Nmap done at %s; %ld IP address%s (%ld host%s up) scanned", d, total,
	         total == 1 ? "" : "es", up, up == 1 ? "" : "s");
	if (j && j->elapsed >= 0)
		snprintf(summary + strlen(summary), sizeof(summary) - strlen(summary),
		         " in %.2f seconds", j->elapsed);
	fputs("<runstats><finished", f);
	attr_time(f, "time", "timestr", end);
	if (j && j->elapsed >= 0)
		fprintf(f, " elapsed=\"%.15g\"", j->elapsed);
	else if (!j)
		fputs(" elapsed=\"0\"", f); /* no scan ran (nmap.dtd requires one) */
	A(f, "summary", summary);
	fprintf(f, " exit=\"%s\"", ok ? "success" : "error");
	if (!ok)
		A(f, "errormsg", j->error ? j->error : j->status);
	fprintf(f, "/><hosts up=\"%ld\" down=\"%ld\" total=\"%ld\"/>\n</runstats>\n", up, down,
	        total);
}

static int nmap_end(void *ctx, const struct export_run *run, const struct export_totals *t)
{
	FILE *f = ((struct export_file *)ctx)->f;

	if (run->npostscripts) {
		fputs("<postscript>\n", f);
		scripts(f, run->postscripts, run->npostscripts);
		fputs("</postscript>\n", f);
	}
	runstats(f, run, t);
	fputs("</nmaprun>\n", f);
	return done(f);
}

const struct export_writer export_nmap_xml = {
    .begin = nmap_begin,
    .host = nmap_host,
    .end = nmap_end,
};
