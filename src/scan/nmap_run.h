/*
 * nmap_run.h - runs nmap as a subprocess on core's runner (core/proc.h):
 * nmap's argument vector (the user's plus "-oX -"), its stdout (the XML)
 * delivered to the caller as it arrives, stderr kept (bounded) for the
 * error message and turned into warnings, the command line for display.
 * Does not parse or store: app_scan_run (app/scan.c) wires stdout to the
 * parser and the job writer.
 */
#ifndef SDB_SCAN_NMAP_RUN_H
#define SDB_SCAN_NMAP_RUN_H

#include <stddef.h>

#include "core/proc.h"

#define NMAP_RUN_STDERR_MAX (64u << 10)
/* nmap_run_kill: how long nmap has after SIGTERM before SIGKILL. */
#define NMAP_RUN_KILL_GRACE_MS 5000

struct nmap_run {
	struct proc proc; /* nmap (core/proc.h); its stderr in proc.err, the first
	                     NMAP_RUN_STDERR_MAX bytes */
	int exit_status;  /* after nmap_run_wait: exit code, or 128+signal */
};

/* Find `nmap` in $PATH ($SCANDB_NMAP overrides) into out[len].
 * SDB_ENOTFOUND if absent. */
int nmap_run_find(char *out, size_t len);

/* Nothing running yet: nmap_run_free is safe from here on. */
void nmap_run_init(struct nmap_run *nr);

/*
 * Start `nmap ARGS... -oX - --stats-every 2s` with stdin from /dev/null.
 * `nmap_path` from nmap_run_find.  On success the caller reads with
 * nmap_run_read() until it returns 0 (EOF), then calls nmap_run_wait().
 * On failure nothing runs and errno says why.
 */
int nmap_run_start(struct nmap_run *nr, const char *nmap_path, char *const *args, size_t nargs);

/*
 * Wait up to timeout_ms for stdout data (stderr is drained meanwhile).
 * Returns bytes read into buf (> 0), 0 at EOF, SDB_EINTR on timeout with
 * nothing read (call again), or a negative error.
 */
long nmap_run_read(struct nmap_run *nr, void *buf, size_t len, int timeout_ms);
/* Reap the child (drains stderr); sets exit_status.  Idempotent. */
int nmap_run_wait(struct nmap_run *nr);
/* Kill the child (SIGTERM, then SIGKILL after NMAP_RUN_KILL_GRACE_MS) and
 * reap. */
void nmap_run_kill(struct nmap_run *nr);
void nmap_run_free(struct nmap_run *nr);
/* What nmap wrote to stderr (its first NMAP_RUN_STDERR_MAX bytes); "" if
 * nothing. */
const char *nmap_run_stderr(const struct nmap_run *nr);

/*
 * nmap's warnings: its stderr ("Failed to resolve \"x\".", "Illegal
 * netmask ...", "WARNING: No targets were specified ..."), each distinct
 * line once, in order, joined with "\n", into out[outlen] (cut if
 * longer).  Returns the number of lines (0: out is "").
 */
int nmap_run_warnings(const struct nmap_run *nr, char *out, size_t outlen);

/* The argv we run, as one display string (malloc'ed; free()). */
char *nmap_run_cmdline(const char *nmap_path, char *const *args, size_t nargs);

#endif
