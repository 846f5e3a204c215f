/*
 * proc.h - the one subprocess runner: a program started from an argument
 * vector (posix_spawn, never a shell), its stdin, stdout and stderr each
 * /dev/null or a pipe to us, chosen fds of ours passed as its 3, 4, ... and
 * no other fd; every wait bounded by poll() timeouts; stopping it is SIGTERM,
 * then SIGKILL after a grace; its exit status or the signal that ended it
 * reported.  Runs nmap (scan/nmap_run.c) and pg_dump / pg_restore
 * (store/pg/pg_admin_tools.c).  It does not build argv, choose timeouts or word
 * error messages: the callers do.
 *
 *   proc_init ──► proc_start ──► proc_read / proc_write (streamed, each call
 *                     │          bounded) ──► proc_wait ──┐
 *                     │                                   ├──► reaped ──► proc_free
 *                     ├──► proc_collect (whole output) ───┤
 *                     └──► proc_kill (TERM, grace, KILL) ─┘
 *
 * Writing to a child that closed its stdin fails with EPIPE and never raises
 * SIGPIPE in us.  A child gets the signal dispositions exec leaves (handlers
 * back to the default, ignored signals still ignored) and our signal mask.
 */
#ifndef SDB_CORE_PROC_H
#define SDB_CORE_PROC_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"

/* At most this many fds passed (the child's 3 .. 3 + PROC_PASS_MAX - 1). */
#define PROC_PASS_MAX 8

/* What one of the child's stdin, stdout, stderr is. */
enum proc_io {
	PROC_NULL = 0, /* /dev/null */
	PROC_PIPE = 1, /* a pipe to us (stderr: kept in proc.err, bounded) */
};

struct proc_spec {
	char *const *argv; /* argv[0] is the program's path (no PATH search) */
	char *const *envp; /* its environment; NULL: ours */
	enum proc_io in, out, err;
	size_t err_max;       /* err == PROC_PIPE: the first err_max bytes are kept */
	const int *pass;      /* our fds that become its 3, 4, ... (npass of them) */
	int npass;            /* 0 .. PROC_PASS_MAX */
	const sigset_t *hold; /* blocked in this thread from before the spawn until
	                         on_pid returned (NULL: none), so that a handler of
	                         these signals always knows the child */
	void (*on_pid)(void *ctx, pid_t pid); /* its pid once started; 0 once reaped */
	void *ctx;
};

/* A child.  Caller-owned (usually on the stack); proc_free releases it. */
struct proc {
	pid_t pid; /* -1: none, or reaped */
	int in_fd; /* our ends of its pipes; -1: none or closed */
	int out_fd;
	int err_fd;
	struct buf err; /* its stderr, the first err_max bytes */
	int status;     /* once reaped: the waitpid() status */
	int reaped;
	void (*on_pid)(void *ctx, pid_t pid);
	void *ctx;
	char errmsg[512]; /* why proc_start or proc_collect failed */
};

/* An empty proc (nothing to free, nothing running): proc_free is safe on
 * it, and proc_start begins with it. */
void proc_init(struct proc *p);

/*
 * Start spec->argv[0] with spec->argv.  0: running (p->pid), our pipe ends
 * in p->in_fd / out_fd / err_fd.  Else nothing is running, p->errmsg says
 * why ("cannot run PATH: reason", "pipe: reason") and errno is kept:
 * SDB_ENOTFOUND (no such program), SDB_EIO (it cannot be run, no pipe),
 * SDB_ENOMEM, SDB_EUSAGE (no argv, too many fds to pass).
 */
int proc_start(struct proc *p, const struct proc_spec *spec);

/*
 * Wait up to timeout_ms in all for its stdout (stderr is kept meanwhile).
 * Returns the bytes read into buf (> 0), 0 at the end of its stdout (or
 * none was asked for), SDB_EINTR if the time passed with nothing read or a
 * signal came (call again), SDB_EIO (errno kept).
 */
long proc_read(struct proc *p, void *buf, size_t len, int timeout_ms);

/*
 * Wait up to timeout_ms in all for room in its stdin, then write what fits.
 * Returns the bytes written (> 0), SDB_EINTR if the time passed with none
 * written or a signal came (call again), SDB_EIO (errno kept: EPIPE, it
 * closed its stdin; EBADF, no stdin pipe).  A child that writes to stdout
 * while it reads must be read meanwhile (proc_read), or both wait.
 */
long proc_write(struct proc *p, const void *buf, size_t len, int timeout_ms);

/* Close its stdin (it reads an end of file).  Idempotent. */
void proc_close_in(struct proc *p);

/*
 * Its whole output, bounded by timeout_s in all: stdin (if a pipe) closed,
 * stdout appended to out (a NULL out: read and dropped), stderr kept in
 * p->err, until both end; then it is reaped.  Returns
 *   0            reaped (proc_exit_code says how it ended)
 *   SDB_ETOOBIG  out is full: the rest was read and dropped, it was reaped
 *   SDB_EINTR    timeout_s passed: killed at once (SIGKILL) and reaped
 *   SDB_EIO      it could not be watched any more (p->errmsg): killed, reaped
 */
int proc_collect(struct proc *p, struct buf *out, double timeout_s);

/*
 * Reap it: stderr is kept until it ends (or 10 s pass without a byte: a
 * child of the child may hold it), then the child is waited for.  All of it
 * bounded by timeout_ms (-1: as long as the child runs).  0 reaped (or
 * nothing to reap), SDB_EINTR still running after timeout_ms (left
 * running), SDB_ECHILD waitpid failed.  Idempotent.
 */
int proc_wait(struct proc *p, int timeout_ms);

/* Stop it: SIGTERM, then SIGKILL if it is still there after grace_ms (0:
 * SIGKILL at once); reaped.  Idempotent. */
void proc_kill(struct proc *p, int grace_ms);

/* Close our pipe ends and free p->err; a child still running is killed at
 * once (SIGKILL) and reaped.  Idempotent. */
void proc_free(struct proc *p);

/* Once reaped: its exit code, or 128 + the signal that ended it; -1 before. */
int proc_exit_code(const struct proc *p);
/* Once reaped: the signal that ended it; 0 if it exited (or not reaped). */
int proc_term_signal(const struct proc *p);

#endif
