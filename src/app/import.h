/*
 * import.h - the use case "import one file" for every front door (the CLI
 * today; an HTTP server or a worker tomorrow).  Holds: app_import_file()
 * (one file, one job, one transaction: the content-hash dedup decision, the
 * --partial second reading, the retries of a lost transaction) and
 * app_import_order() (many files: oldest scan first, each one's scan time
 * kept for its import: struct app_import_time).  Prints nothing: what
 * happens is told to an observer and in a result.
 *
 * Progress is an observer, not a link in the write chain: the records go
 * from the parser to the job writer (app/job_writer.h), and the observer is
 * told how far the reading is.
 */
#ifndef SDB_APP_IMPORT_H
#define SDB_APP_IMPORT_H

#include <stdint.h>

#include "app/job_writer.h"
#include "store/store.h"

enum app_import_status {
	APP_IMPORT_IMPORTED = 0, /* stored as job_id (stats says how) */
	APP_IMPORT_DUPLICATE,    /* the same content is job_id already (not forced) */
	APP_IMPORT_FAILED,       /* nothing of it stored: error says why */
};

/* How far the reading of one file is (app_import_observer.progress). */
struct app_import_progress {
	const char *name; /* the file's name, "<stdin>" for standard input */
	uint64_t bytes;   /* read so far */
	uint64_t size;    /* the file's size; 0: unknown (a pipe, standard input) */
	long hosts;       /* host records read so far */
	int committing;   /* all read: the transaction is being committed */
};

/* What an import tells its caller while it runs; ctx is passed back, and
 * any callback may be NULL.  Called on the importing thread. */
struct app_import_observer {
	void *ctx;
	/* One reading of the file starts (after its job was begun) ... */
	void (*begin)(void *ctx);
	/* ... a chunk was read, or the commit starts ... */
	void (*progress)(void *ctx, const struct app_import_progress *p);
	/* ... and it ended (also when it failed). */
	void (*end)(void *ctx);
	/* A value the parser read as a documented one: "FILE:LINE:COL: what
	 * was done".  Told once, even when the file is read twice. */
	void (*warning)(void *ctx, const char *msg);
	/* The transaction was lost to a transient failure (error); the whole
	 * file is read again, as attempt `attempt` of `attempts`. */
	void (*retrying)(void *ctx, const char *error, int attempt, int attempts);
};

/* A file's scan time as app_import_order() read it, for its import
 * (app_import_opts.time): the file is not read for it a second time. */
struct app_import_time {
	int read;      /* app_import_order() looked (0: the import reads it) */
	int64_t start; /* then: nmap's start time; 0 when the file has none or
	                  none could be read there (not nmap XML, unreadable) */
};

struct app_import_opts {
	int force;   /* import even if the same content was imported before */
	int partial; /* keep the complete hosts of a file cut off (a partial job:
	                it closes no port and downs no host it does not list);
	                standard input is then read as partial at once */
	/* What the user can do about a file cut off after complete hosts,
	 * appended to the error of a file refused so ("NAME:L:C: unexpected
	 * end of file (truncated?) after 6 complete hosts; HINT"); NULL:
	 * nothing.  Borrowed for the call. */
	const char *truncated_hint;
	/* The ports a masscan or zmap file's scan probed ("22,80,U:53", see
	 * ingest_opts.ports; checked by ingest_ports_check()): its probed
	 * scope.  NULL: the ports the file reports (a port it does not list is
	 * then taken as not probed).  An nmap XML file with it fails. */
	const char *ports;
	const struct app_import_observer *obs; /* NULL: nobody is told */
	int gone_after; /* --gone-after (job_writer_opts.gone_after; 0: the default) */
	/* The file's scan time, taken as the order of the write lock (see
	 * job_writer_opts.scan_time).  NULL or not read: the import reads it
	 * from the file's first 64 KB (a regular file only).  Borrowed. */
	const struct app_import_time *time;
	/* The file's name in messages ("NAME:LINE:COL: ...") and the job's
	 * source, instead of its path: an upload spooled to a temporary file
	 * (`scandb serve`).  NULL: the path.  Borrowed. */
	const char *name;
};

struct app_import_result {
	enum app_import_status status;
	int code;       /* the error code of a failure (SDB_ETRANSIENT: lost tx) */
	int64_t job_id; /* IMPORTED: the new job; DUPLICATE: the stored one */
	struct job_writer_stats stats;
	char error[1200];      /* FAILED: "FILE: what failed" */
	char nmap_error[1200]; /* stats.nmap_failed: "nmap ended in error: ..." */
};

/*
 * Import `path` ("-": standard input) into `st` as one job, in one
 * transaction: a file that fails leaves nothing behind.  A file whose
 * content is already stored is a duplicate unless o->force.  With
 * o->partial a file cut off after complete hosts is read again into a
 * partial job.  A transaction lost to a transient failure (SDB_ETRANSIENT)
 * is tried again from the start of the file, up to 5 times in all (never
 * for standard input, which cannot be read again).  Fills *res and returns
 * res->status.
 */
enum app_import_status app_import_file(struct store *st, const char *path,
                                       const struct app_import_opts *o,
                                       struct app_import_result *res);

/*
 * Put files[0..n) in the order to import them: by scan time (nmap's start
 * time, oldest first; undated files first), equal times in the order
 * given, so that an archive imported at once never stores a scan older
 * than one it already stored.  A file whose time cannot be read keeps its
 * place (and fails as it would have); "-" (standard input) goes last.
 * Reads the first 64 KB of each file (none when n < 2, never standard
 * input) and, if `times` (n entries) is not NULL, leaves there what it read
 * of files[i] in times[i], to pass to its import (app_import_opts.time).
 * 0, or SDB_ENOMEM (files and times unchanged).
 */
int app_import_order(const char **files, struct app_import_time *times, int n);

#endif
