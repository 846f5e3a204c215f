/*
 * fuzz_nmap_xml.c - libFuzzer target for the streaming nmap XML parser
 * (src/ingest/nmap_xml.c).  Feeds the input in two or three chunks (split
 * points taken from its first bytes, so chunk boundaries are fuzzed too) to
 * a sink that reads every field of every record, and checks the parser's
 * own promises: an error always has a message, errors are sticky.
 *
 * Then the same input is imported into an in-memory SQLite database
 * through the job writer (the one write path): whatever the parser
 * accepts must be stored - no CHECK, key or other constraint may refuse
 * it (ARCHITECTURE invariant 4: the parser decides).  A store failure
 * after the parser accepted the input aborts.
 * See fuzz/README.md for how to build and run it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "ingest/nmap_xml.h"
#include "app/job_writer.h"
#include "store/store.h"

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

/* ---- the store must take what the parser accepted ------------------ */

/* Inputs stored in one database before it is opened afresh (memory). */
#define STORE_REOPEN 2000

/* Forwards to the job writer; remembers that a failure was the store's. */
struct store_fwd {
	const struct ingest_sink *w;
	int failed;
	char what[64];
};

#define FWD(name, type)                                                                            \
	static int fwd_##name(void *ctx, type rec)                                                 \
	{                                                                                          \
		struct store_fwd *f = ctx;                                                         \
		int r = f->w->name(f->w->ctx, rec);                                                \
		if (r != 0 && !f->failed) {                                                        \
			f->failed = r;                                                             \
			snprintf(f->what, sizeof(f->what), "%s", #name);                           \
		}                                                                                  \
		return r;                                                                          \
	}
FWD(run_begin, const struct rec_run *)
FWD(scaninfo, const struct rec_scaninfo *)
FWD(host, const struct rec_host *)
FWD(run_end, const struct rec_runstats *)

static void store_it(const uint8_t *data, size_t size)
{
	static struct store *st;
	static unsigned long n;
	struct job_writer_opts o = {.kind = STORE_JOB_IMPORT, .source = "fuzz.xml", .forced = 1};
	struct job_writer *w = NULL;
	struct store_fwd f = {0};
	struct ingest_sink sink;
	struct nmap_parser *p = NULL;
	char err[512];
	int r;

	if (st && ++n % STORE_REOPEN == 0) {
		store_close(st);
		st = NULL;
	}
	if (!st && (store_open(":memory:", &st, err, sizeof(err)) != 0 ||
	            store_migrate_up(st, 0, NULL) != 0)) {
		fprintf(stderr, "fuzz: cannot open the in-memory store: %s\n", err);
		abort();
	}
	if (job_writer_begin(st, &o, &w) != 0)
		abort();
	f.w = job_writer_sink(w);
	sink = (struct ingest_sink){.ctx = &f,
	                            .run_begin = fwd_run_begin,
	                            .scaninfo = fwd_scaninfo,
	                            .host = fwd_host,
	                            .run_end = fwd_run_end,
	                            .accept_truncated = size > 0 && (data[0] & 1)};
	if (nmap_parser_new(&sink, "fuzz.xml", &p) != 0)
		abort();
	r = nmap_parser_feed(p, data, size, 1);
	if (r == 0 && !f.failed && (r = job_writer_commit(w, NULL, NULL)) != 0)
		snprintf(f.what, sizeof(f.what), "commit");
	else if (r == 0 && f.failed)
		r = f.failed;
	if ((f.failed || (r != 0 && strcmp(f.what, "commit") == 0)) && r != SDB_ENOMEM) {
		/* the parser accepted what the store refused */
		fprintf(stderr, "fuzz: the store refused what the parser accepted (%s): %s\n",
		        f.what, store_errmsg(st));
		abort();
	}
	nmap_parser_free(p);
	job_writer_free(w);
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
	store_it(data, size);
	return 0;
}
