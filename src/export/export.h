/*
 * export.h - the export writers (`scandb export`): a stored job, or the
 * current state, written as a document other tools read.  Each writer is a
 * table of three calls, made by app/export.c as the store walks the hosts
 * (store_hosts_each), so a writer holds one host at a time and its memory
 * does not grow with the number of hosts:
 *
 *   begin(run)   once, before any host: what the document says of the run
 *   host(h)      once per host, in address order
 *   end(run, t)  once, after the last host: the totals counted on the way
 *
 * This layer reads stored hosts and includes only core and store; it
 * writes to the FILE it is given and never opens, names or renames files.
 * The writers here: nmap XML (export_nmap.c) and a single-file HTML
 * report (export_html.c); JSON and CSV are the CLI's own formats
 * (cli/output.c), written through the same table by cli/cmd_export.c.
 */
#ifndef SDB_EXPORT_EXPORT_H
#define SDB_EXPORT_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

/* What is exported, as the writers see it (all borrowed for the export). */
struct export_run {
	const struct store_job *job;                         /* the job; NULL: the current state */
	const struct store_script *prescripts, *postscripts; /* the job's run scripts */
	size_t nprescripts, npostscripts;
	int64_t now;      /* when the export was made */
	int filtered;     /* a host filter was given: not every host is in */
	const char *what; /* "job 12" or "current state", for titles */
};

/* Counted by app/export.c over the hosts written. */
struct export_totals {
	long hosts, up, down;
	long ports_open; /* open ports of the hosts written */
};

struct export_writer {
	int (*begin)(void *ctx, const struct export_run *run);
	int (*host)(void *ctx, const struct store_host *h);
	int (*end)(void *ctx, const struct export_run *run, const struct export_totals *t);
};

/* The ctx of the writers below: where to write.  Their calls return 0 or
 * SDB_EIO (f's error indicator set). */
struct export_file {
	FILE *f;
	size_t nhosts; /* hosts written so far */
};

/* nmap's XML output (nmap.dtd): what ndiff, nmap.xsl and scandb's own
 * importer read back.  docs/EXPORT.md says what each field becomes. */
extern const struct export_writer export_nmap_xml;
/* One self-contained HTML file: inline CSS, no script, nothing fetched. */
extern const struct export_writer export_html;

#endif
