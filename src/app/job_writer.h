/*
 * job_writer.h - the one write path (ARCHITECTURE "One write path"), a use
 * case of src/app/: it combines a source's records, the history rules
 * (events, findings) and the store.  Holds: the job writer (begin, sink,
 * commit, abort, stats), built in job_writer.c (the writer and its sink),
 * job_late.c (late scans) and checkpoint.c (the per-host checkpoint).
 *
 * A job writer is a sink: a source (nmap XML parser, nmap runner) pushes a
 * job's records into it and it stores them inside ONE transaction, opened at
 * job_writer_begin() and committed once at job_writer_commit(), together
 * with the job's final status.  Readers never see a half-written job; a
 * process killed in between leaves no row of it (invariant 1).
 *
 *   import:  begin (tx + job row 'running') → records → commit ('completed')
 *   scan:    job row committed earlier as 'running' (app_scan_run), then
 *            begin (tx) → records → commit ('completed')
 *   failure: job_writer_abort() rolls everything of this tx back.
 *   nmap's own failure (<finished exit="error">): commit rolls the records
 *            back and stores the job alone as 'failed' with nmap's message.
 *
 * Times are nmap's: a scan without a start time has started_at NULL (never
 * the import time) and its hosts are seen at time 0 ("undated"), which
 * ranks below every dated scan in the history and the current state.
 */
#ifndef SDB_APP_JOB_WRITER_H
#define SDB_APP_JOB_WRITER_H

#include <stdint.h>

#include "ingest/sink.h"
#include "store/store.h"

struct job_writer;

#define JOB_WRITER_GONE_NEVER (-1)

struct job_writer_opts {
	enum store_job_kind kind;
	const char *source;      /* file name, "<stdin>", "nmap" */
	const char *args;        /* for scans: the command line we ran */
	int forced;              /* --force: store even if content seen */
	int64_t existing_job_id; /* scan: its row is already committed */
	/* The scan's time when it is known before the document is read (an
	 * imported file's <nmaprun start>): the write lock is then taken in
	 * scan-time order (store_tx_begin_ordered).  0: unknown. */
	int64_t scan_time;
	/* Part of a scan (import --partial): a cut-off document is taken
	 * (sink accept_truncated), the job is marked partial, and its probed
	 * scope is empty - it closes no port and downs no host it does not
	 * list, whether or not the document turns out complete. */
	int partial;
	/* --gone-after: a host is gone when this many covering scans in a row
	 * saw it down or did not list it (history/events.h); 0: the default
	 * (EV_GONE_AFTER_DEFAULT, 3); JOB_WRITER_GONE_NEVER: never. */
	int gone_after;
	/* The targets the job was given (nmap's arguments, as `scandb scan`
	 * passes them): its target ranges are read from them; NULL: from
	 * nmap's command line in the document (<nmaprun args>). */
	char *const *target_args;
	size_t ntarget_args;
	const char *warning; /* kept as the completed job's error text (nmap's
	                        warnings); NULL: none.  Caller-owned, valid
	                        until commit */
};

struct job_writer_stats {
	long hosts;
	long hosts_up;
	long ports;
	long ports_open;
	long duplicates; /* hosts listed again in the same scan, skipped */
	int partial;     /* stored as part of a scan (opts.partial) */
	int truncated;   /* the document was cut off */
	int nmap_failed; /* nmap ended in error: stored as a failed job */
};

/* Open the transaction (and insert the job row for an import).  On
 * success *out must be finished with commit or abort, then freed. */
int job_writer_begin(struct store *st, const struct job_writer_opts *o, struct job_writer **out);
/* The sink to hand to a source; valid until job_writer_free(). */
const struct ingest_sink *job_writer_sink(struct job_writer *w);
int64_t job_writer_job_id(const struct job_writer *w);
void job_writer_stats(const struct job_writer *w, struct job_writer_stats *out);
/* nmap's error message when stats.nmap_failed ("" if it gave none); owned
 * by the writer. */
const char *job_writer_nmap_error(const struct job_writer *w);
/*
 * Finish the job as completed and commit.  `content_hash` may be NULL.  If
 * the same content is already stored (unforced), rolls back, returns
 * SDB_EEXISTS and sets *existing_id.  On any error the transaction is rolled
 * back.
 */
int job_writer_commit(struct job_writer *w, const char *content_hash, int64_t *existing_id);
/* Roll back everything this writer did (safe after a failed commit). */
void job_writer_abort(struct job_writer *w);
void job_writer_free(struct job_writer *w);

#endif
