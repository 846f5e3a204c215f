/*
 * nmap_run.h - runs nmap as a subprocess: no shell, arguments as a vector,
 * stdout (the XML, from "-oX -") delivered to the caller as it arrives,
 * stderr kept (bounded) for the error message.  Does not parse or store:
 * app_scan_run (app/scan.c) wires stdout to the parser and the job writer.
 */
#ifndef SDB_SCAN_NMAP_RUN_H
#define SDB_SCAN_NMAP_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"

#define NMAP_RUN_STDERR_MAX (64u << 10)

struct nmap_run {
	pid_t pid;
	int out_fd;
	int err_fd;
	struct buf err;  /* nmap's stderr, first NMAP_RUN_STDERR_MAX bytes */
	int exit_status; /* after nmap_run_wait: exit code, or 128+signal */
};

/* Find `nmap` in $PATH ($SCANDB_NMAP overrides) into out[len].
 * SDB_ENOTFOUND if absent. */
int nmap_run_find(char *out, size_t len);

/*
 * Start `nmap ARGS... -oX - --stats-every 2s` with stdin from /dev/null.
 * `nmap_path` from nmap_run_find.  On success the caller reads with
 * nmap_run_read() until it returns 0 (EOF), then calls nmap_run_wait().
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
/* Kill the child (SIGTERM, then SIGKILL after a grace period) and reap. */
void nmap_run_kill(struct nmap_run *nr);
void nmap_run_free(struct nmap_run *nr);

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
