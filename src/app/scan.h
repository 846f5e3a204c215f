/*
 * scan.h - the use case "run one scan" for every front door (the CLI
 * today; a scan worker tomorrow).  Holds: app_scan_run() (the job row,
 * nmap run and watched, its results stored as one job), the check of
 * nmap's arguments and finding nmap.  Prints nothing and installs no
 * signal handler: what happens is told to an observer and in a result.
 *
 * Job state machine (app/scan.c):
 *   (none) --job row committed-->  running   (visible at once, with progress
 *                                             and a timeout_at heartbeat)
 *   running --results + status in ONE transaction--> completed
 *   running --nmap failed / bad output / stopped--> failed (error kept)
 *   running --process killed--> reaped as failed by the next `jobs`
 *                               (worker gone or timeout_at passed)
 */
#ifndef SDB_APP_SCAN_H
#define SDB_APP_SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "app/job_writer.h"
#include "store/store.h"

enum app_scan_outcome {
	APP_SCAN_COMPLETED = 0, /* the results are stored: stats */
	/* no job row was made (error: why) */
	APP_SCAN_NO_MEMORY, /* out of memory (a job may be left running: job_id) */
	APP_SCAN_NO_SPOOL,  /* the temporary file could not be made */
	APP_SCAN_NO_KEEP,   /* keep_xml's file could not be made (before nmap) */
	APP_SCAN_NO_JOB,    /* the job row could not be stored (the store's message) */
	/* the job is marked failed with `error` (unless mark_error says why not) */
	APP_SCAN_NOT_STARTED, /* nmap could not be started */
	APP_SCAN_STOPPED,     /* the observer's stop() said so; nmap was stopped */
	APP_SCAN_FAILED,      /* nmap failed, its output was bad, or storing failed */
	APP_SCAN_NO_HOST,     /* nmap's warnings left nothing scanned */
};

/* How far a running scan is (app_scan_observer.progress). */
struct app_scan_progress {
	int64_t job_id;
	const char *task; /* nmap's current task; "" before nmap names one */
	double percent;   /* of that task */
	long hosts;       /* host records nmap has written so far */
};

/* What a scan tells its caller while it runs; ctx is passed back, and any
 * callback may be NULL.  Called on the scanning thread. */
struct app_scan_observer {
	void *ctx;
	/* The job row is committed as running; nmap starts next. */
	void (*started)(void *ctx, int64_t job_id, const char *cmdline);
	/* Asked after each read of nmap's output (at least every 500 ms):
	 * non-zero (a signal number) stops nmap and fails the job with
	 * "interrupted by signal N; nmap was stopped". */
	int (*stop)(void *ctx);
	/* nmap runs: watching starts, progress after each read, watching ends. */
	void (*begin)(void *ctx);
	void (*progress)(void *ctx, const struct app_scan_progress *p);
	void (*end)(void *ctx);
	/* One line of nmap's warnings (no newline), before the outcome. */
	void (*nmap_warning)(void *ctx, int64_t job_id, const char *line, size_t len);
	/* Storing the results lost its transaction (error); tried again as
	 * attempt `attempt` of `attempts`. */
	void (*retrying)(void *ctx, int64_t job_id, const char *error, int attempt, int attempts);
};

struct app_scan_opts {
	const char *nmap;                    /* the nmap binary (app_scan_find_nmap) */
	char *const *args;                   /* nmap's options and targets (app_scan_refused_arg) */
	size_t nargs;                        /* scandb adds "-oX -" and "--stats-every 2s" */
	const struct app_scan_observer *obs; /* NULL: nobody is told */
	/* Also keep nmap's own XML as this file (NULL: not kept), written as
	 * it streams under a temporary name beside it and renamed when nmap's
	 * output has ended (core/outfile.h); a stopped scan keeps none. */
	const char *keep_xml;
};

struct app_scan_result {
	enum app_scan_outcome outcome;
	int64_t job_id;                /* the job's id; 0 when no row was made */
	struct job_writer_stats stats; /* COMPLETED: what was stored */
	char error[2048];              /* not COMPLETED: why (the failed job's error) */
	int unmarked;                  /* the job could not be marked failed ... */
	char mark_error[1024];         /* ... and the store's message why */
	char keep_error[1024];         /* keep_xml could not be written: why ("" if it was) */
};

/* The first of args that scandb does not allow (-oX..., -oA...,
 * --stats-every: scandb reads nmap's XML itself), or NULL. */
const char *app_scan_refused_arg(char *const *args, size_t nargs);
/* The nmap binary into path[len] ($SCANDB_NMAP, else PATH): 0, or an
 * error when nmap is not installed. */
int app_scan_find_nmap(char *path, size_t len);
/*
 * Run nmap with o->args and store its results in `st` as one job: the job
 * row is committed first as running (visible at once, with a heartbeat
 * every 2 s), nmap's XML is checked as it streams and spooled to a
 * temporary file, and when nmap has ended well the spool goes through the
 * job writer in one transaction with the final status (tried again, up to
 * 5 times in all, when that transaction is lost to a transient failure).
 * nmap's warnings are kept on the job; a scan they left with no host is
 * failed.  Fills *res and returns res->outcome.
 */
enum app_scan_outcome app_scan_run(struct store *st, const struct app_scan_opts *o,
                                   struct app_scan_result *res);

#endif
