/*
 * fuzz_masscan.c - libFuzzer target for the masscan and zmap parsers
 * (src/ingest/masscan*.c, zmap.c) and format detection (ingest_detect.c).
 * The format is the one detected from the input; an input no masscan or
 * zmap format claims goes to the parser the first byte picks, so every
 * parser sees every input.  It is fed in three chunks (split points from
 * the first two bytes) to a sink that checks every record's ranges; an
 * error must say "fuzz:..." and stick.  Then the same input is stored
 * through the job writer into an in-memory SQLite database: what the
 * parser accepts, the store must take (ARCHITECTURE invariant 4).
 * See fuzz/README.md.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/job_writer.h"
#include "core/error.h"
#include "ingest/ingest_detect.h"
#include "ingest/masscan.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink_sum;

static int on_host(void *ctx, const struct rec_host *h)
{
	(void)ctx;
	if (!h->addr || (h->family != 4 && h->family != 6) || h->status != REC_HOST_UP)
		abort();
	for (size_t i = 0; i < h->nports; i++) {
		const struct rec_port *p = &h->ports[i];
		if (p->port < 0 || p->port > 65535 || (unsigned)p->state >= REC_PORT__COUNT ||
		    (unsigned)p->proto >= REC_PROTO__COUNT || p->reason_ttl < -1 ||
		    p->reason_ttl > 255 ||
		    (i > 0 && p->proto == p[-1].proto && p->port == p[-1].port))
			abort(); /* one port once */
		for (size_t k = 0; k < p->nscripts; k++)
			sink_sum += strlen(p->scripts[k].id) + strlen(p->scripts[k].output);
	}
	return 0;
}

static int on_scaninfo(void *ctx, const struct rec_scaninfo *si)
{
	(void)ctx;
	if ((unsigned)si->proto >= REC_PROTO__COUNT || !si->services || !si->services[0])
		abort();
	sink_sum += strlen(si->services);
	return 0;
}

/* The format to read data as. */
static enum ingest_format pick(const uint8_t *data, size_t size)
{
	enum ingest_format f = ingest_detect((const char *)data,
	                                     size < INGEST_DETECT_HEAD ? size : INGEST_DETECT_HEAD);

	if (f >= INGEST_MASSCAN_XML)
		return f;
	return (enum ingest_format)(INGEST_MASSCAN_XML +
	                            (size ? data[0] : 0) %
	                                (INGEST_ZMAP_ADDRS - INGEST_MASSCAN_XML + 1));
}

/* What the parser accepted, the store must take. */
static void store_it(const uint8_t *data, size_t size, enum ingest_format f, const char *ports)
{
	static struct store *st;
	static unsigned long n;
	struct job_writer_opts o = {.kind = STORE_JOB_IMPORT, .source = "fuzz", .forced = 1};
	struct job_writer *w = NULL;
	struct ms_parser *p = NULL;
	char err[512];
	int r;

	if (st && ++n % 2000 == 0) {
		store_close(st);
		st = NULL;
	}
	if (!st && (store_open(":memory:", &st, err, sizeof(err)) != 0 ||
	            store_migrate_up(st, 0, NULL) != 0))
		abort();
	if (job_writer_begin(st, &o, &w) != 0)
		abort();
	if (ms_parser_new(f, job_writer_sink(w), "fuzz", ports, &p) != 0)
		abort();
	r = ms_parser_feed(p, data, size, 1);
	if (r == 0 && (r = job_writer_commit(w, NULL, NULL)) != 0 && r != SDB_ENOMEM) {
		fprintf(stderr, "fuzz: the store refused what the parser accepted: %s\n",
		        store_errmsg(st));
		abort();
	}
	if (r != 0 && !ms_parser_errmsg(p)[0] && r != SDB_ENOMEM) {
		fprintf(stderr, "fuzz: the store refused a record: %s\n", store_errmsg(st));
		abort();
	}
	ms_parser_free(p);
	job_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ingest_sink sink = {.host = on_host,
	                                 .scaninfo = on_scaninfo,
	                                 .accept_truncated = size > 1 && (data[1] & 1)};
	enum ingest_format f = pick(data, size);
	const char *ports = size > 2 && (data[2] & 1) ? "80" : NULL;
	struct ms_parser *p;
	size_t cut[3], off = 0;
	int r = 0;

	if (ms_parser_new(f, &sink, "fuzz", ports, &p) != 0)
		return 0;
	cut[0] = size ? (size * data[0]) / 256 : 0;
	cut[1] = size > 1 ? cut[0] + ((size - cut[0]) * data[1]) / 256 : cut[0];
	cut[2] = size;
	for (int i = 0; i < 3 && r == 0; i++) {
		r = ms_parser_feed(p, data + off, cut[i] - off, i == 2);
		off = cut[i];
	}
	if (r != 0) {
		const char *msg = ms_parser_errmsg(p);
		if (!msg[0] || strncmp(msg, "fuzz:", 5) != 0)
			abort(); /* every failure says where and what */
		if (ms_parser_feed(p, "", 0, 1) != r)
			abort(); /* and sticks */
	}
	ms_parser_free(p);
	store_it(data, size, f, ports);
	return 0;
}
