/*
 * fuzz_nmap_xml.c - libFuzzer target for the streaming nmap XML parser
 * (src/ingest/nmap_xml.c).  Feeds the input in two or three chunks (split
 * points taken from its first bytes, so chunk boundaries are fuzzed too) to
 * a sink that reads every field of every record, and checks the parser's
 * own promises: an error always has a message, errors are sticky.
 * See fuzz/README.md for how to build and run it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ingest/nmap_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink_sum; /* keeps the reads from being optimised away */

static size_t s(const char *p)
{
	return p ? strlen(p) : 0;
}

static size_t scripts(const struct rec_script *sc, size_t n)
{
	size_t t = 0;

	for (size_t i = 0; i < n; i++)
		t += s(sc[i].id) + s(sc[i].output);
	return t;
}

static int on_run(void *ctx, const struct rec_run *r)
{
	(void)ctx;
	sink_sum +=
	    s(r->scanner) + s(r->args) + s(r->version) + s(r->xmloutputversion) + (size_t)r->start;
	return 0;
}

static int on_scaninfo(void *ctx, const struct rec_scaninfo *si)
{
	(void)ctx;
	if ((unsigned)si->proto >= REC_PROTO__COUNT || si->numservices < -1)
		abort();
	sink_sum += s(si->type) + s(si->services) + (size_t)si->numservices;
	return 0;
}

static int on_progress(void *ctx, const char *task, double pct)
{
	(void)ctx;
	if (!(pct >= 0 && pct <= 100))
		abort();
	sink_sum += s(task) + (size_t)pct;
	return 0;
}

static int on_host(void *ctx, const struct rec_host *h)
{
	size_t t = 0;

	(void)ctx;
	if (!h->addr || (h->family != 4 && h->family != 6))
		abort();
	t += s(h->reason) + s(h->addr) + s(h->mac) + s(h->mac_vendor) + s(h->lastboot);
	t += (size_t)h->status + (size_t)h->reason_ttl + (size_t)h->starttime + (size_t)h->endtime;
	t += (size_t)h->uptime_seconds + (size_t)h->distance;
	for (size_t i = 0; i < h->nhostnames; i++)
		t += s(h->hostnames[i].name) + s(h->hostnames[i].type);
	if (h->has_os)
		t += s(h->os.name) + s(h->os.vendor) + s(h->os.family) + s(h->os.gen) +
		     s(h->os.type) + s(h->os.cpe) + (size_t)h->os.accuracy;
	for (size_t i = 0; i < h->nosmatches; i++) {
		if (!h->osmatches[i])
			abort();
		t += s(h->osmatches[i]);
	}
	for (size_t i = 0; i < h->nextraports; i++)
		t += s(h->extraports[i].reasons) + (size_t)h->extraports[i].count +
		     (size_t)h->extraports[i].state;
	for (size_t i = 0; i < h->nports; i++) {
		const struct rec_port *p = &h->ports[i];
		const struct rec_service *sv = &p->service;

		if (p->port < 0 || p->port > 65535 || (unsigned)p->state >= REC_PORT__COUNT ||
		    (unsigned)p->proto >= REC_PROTO__COUNT || p->reason_ttl < -1 ||
		    p->reason_ttl > 255 || sv->conf < -1 || sv->conf > 10)
			abort();
		t += s(p->reason) + s(sv->name) + s(sv->product) + s(sv->version) +
		     s(sv->extrainfo) + s(sv->ostype) + s(sv->method) + s(sv->tunnel);
		for (size_t k = 0; k < sv->ncpes; k++)
			t += s(sv->cpes[k]);
		t += scripts(p->scripts, p->nscripts);
	}
	t += scripts(h->scripts, h->nscripts);
	sink_sum += t;
	return 0;
}

static int on_end(void *ctx, const struct rec_runstats *rs)
{
	(void)ctx;
	sink_sum += s(rs->summary) + s(rs->exit) + s(rs->errormsg) + (size_t)rs->end +
	            (size_t)rs->hosts_up + (size_t)rs->hosts_down + (size_t)rs->hosts_total +
	            (size_t)rs->elapsed;
	sink_sum +=
	    scripts(rs->prescripts, rs->nprescripts) + scripts(rs->postscripts, rs->npostscripts);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct ingest_sink sink = {
	    .run_begin = on_run,
	    .scaninfo = on_scaninfo,
	    .host = on_host,
	    .progress = on_progress,
	    .run_end = on_end,
	};
	struct nmap_parser *p;
	size_t cut[3], off = 0;
	int r = 0;

	if (nmap_parser_new(&sink, "fuzz.xml", &p) != 0)
		return 0;
	/* Split points from the first two bytes (which stay part of the input). */
	cut[0] = size ? (size * data[0]) / 256 : 0;
	cut[1] = size > 1 ? cut[0] + ((size - cut[0]) * data[1]) / 256 : cut[0];
	cut[2] = size;
	for (int i = 0; i < 3 && r == 0; i++) {
		r = nmap_parser_feed(p, data + off, cut[i] - off, i == 2);
		off = cut[i];
	}
	if (r != 0) {
		const char *msg = nmap_parser_errmsg(p);

		/* every failure says where and what; errors stick */
		if (r < 0 && (!msg[0] || strncmp(msg, "fuzz.xml:", 9) != 0))
			abort();
		if (nmap_parser_feed(p, "", 0, 1) != r)
			abort();
	}
	nmap_parser_free(p);
	return 0;
}
