/*
 * proc.c - the one subprocess runner (see proc.h): posix_spawn with an
 * argument vector, pipes made close-on-exec and moved above the fds the
 * child is given, poll() with a deadline on every wait, waitpid(WNOHANG)
 * on a fixed tick where a wait must end in time, SIGPIPE held back while
 * writing to a child.  Needs glibc 2.34 (posix_spawn_file_actions_
 * addclosefrom_np: the child gets no fd of ours but the ones it is given).
 */
#define _GNU_SOURCE
#include "core/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timeutil.h"

extern char **environ;

/* How often a child that must end in time is asked whether it has. */
#define REAP_TICK_MS 10
/* proc_wait: this long without a byte on stderr ends the wait for its end. */
#define ERR_IDLE_MS 10000

void proc_init(struct proc *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->in_fd = p->out_fd = p->err_fd = -1;
	buf_init(&p->err, 0);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* ---- start ------------------------------------------------------------- */

/* fd moved to `min` or above (close-on-exec), the old one closed; -1 with
 * errno on failure.  The fds the child is given are all moved above its
 * 0 .. 3 + npass - 1, so no dup2 of the spawn overwrites another's source. */
static int move_up(int fd, int min)
{
	int n, e;

	if (fd < 0 || fd >= min)
		return fd;
	n = fcntl(fd, F_DUPFD_CLOEXEC, min);
	e = errno;
	close(fd);
	errno = e;
	return n;
}

/* A close-on-exec pipe whose child end (child_end: 0 read, 1 write) is at
 * `min` or above.  0, or -1 with errno (nothing left open). */
static int child_pipe(int fds[2], int child_end, int min)
{
	if (pipe2(fds, O_CLOEXEC) != 0) {
		fds[0] = fds[1] = -1;
		return -1;
	}
	if ((fds[child_end] = move_up(fds[child_end], min)) < 0) {
		int e = errno;
		close_fd(&fds[!child_end]);
		errno = e;
		return -1;
	}
	return 0;
}

/* Its fd `target` is our `src` (a pipe end), or /dev/null opened with
 * `flags`.  0 or an errno value. */
static int give(posix_spawn_file_actions_t *fa, int target, int src, int flags)
{
	if (src >= 0)
		return posix_spawn_file_actions_adddup2(fa, src, target);
	return posix_spawn_file_actions_addopen(fa, target, "/dev/null", flags, 0);
}

static int spawn_err(struct proc *p, int e, const char *what, const char *path)
{
	if (path)
		snprintf(p->errmsg, sizeof(p->errmsg), "cannot run %s: %s", path, strerror(e));
	else
		snprintf(p->errmsg, sizeof(p->errmsg), "%s: %s", what, strerror(e));
	errno = e;
	if (e == ENOMEM)
		return SDB_ENOMEM;
	return path && e == ENOENT ? SDB_ENOTFOUND : SDB_EIO;
}

/* The fds the child is given, ours: its pipes (child ends at `min` or
 * above), our end of its stdin non-blocking (proc_write waits in poll()),
 * and copies of the fds to pass, also at `min` or above.  0, or an
 * SDB_E* with p->errmsg (the caller closes what was made). */
static int make_fds(struct proc *p, const struct proc_spec *s, int in[2], int out[2], int err[2],
                    int high[], int min)
{
	if ((s->in == PROC_PIPE && child_pipe(in, 0, min) != 0) ||
	    (s->out == PROC_PIPE && child_pipe(out, 1, min) != 0) ||
	    (s->err == PROC_PIPE && child_pipe(err, 1, min) != 0) ||
	    (in[1] >= 0 && fcntl(in[1], F_SETFL, O_NONBLOCK) != 0))
		return spawn_err(p, errno, "pipe", NULL);
	for (int i = 0; i < s->npass; i++)
		if ((high[i] = fcntl(s->pass[i], F_DUPFD_CLOEXEC, min)) < 0)
			return spawn_err(p, errno, "passing a file descriptor", NULL);
	return 0;
}

/* What the spawn does in the child before exec: 0, 1, 2 from the pipes or
 * /dev/null, high[i] as 3 + i, every other fd closed.  0 or an errno. */
static int file_actions(posix_spawn_file_actions_t *fa, const int in[2], const int out[2],
                        const int err[2], const int high[], int npass)
{
	int e;

	if ((e = give(fa, 0, in[0], O_RDONLY)) != 0 || (e = give(fa, 1, out[1], O_WRONLY)) != 0 ||
	    (e = give(fa, 2, err[1], O_WRONLY)) != 0)
		return e;
	for (int i = 0; i < npass; i++)
		if ((e = posix_spawn_file_actions_adddup2(fa, high[i], 3 + i)) != 0)
			return e;
	return posix_spawn_file_actions_addclosefrom_np(fa, 3 + npass);
}

/* posix_spawn with s->hold blocked until on_pid has the pid; the child
 * starts with our mask as it was.  0 or an errno. */
static int spawn(struct proc *p, const struct proc_spec *s, posix_spawn_file_actions_t *fa,
                 posix_spawnattr_t *at)
{
	sigset_t old;
	pid_t pid;
	int e;

	if (s->hold) {
		pthread_sigmask(SIG_BLOCK, s->hold, &old);
		if ((e = posix_spawnattr_setsigmask(at, &old)) != 0 ||
		    (e = posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK)) != 0) {
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return e;
		}
	}
	e = posix_spawn(&pid, s->argv[0], fa, at, s->argv, s->envp ? s->envp : environ);
	if (e == 0) {
		p->pid = pid;
		if (p->on_pid)
			p->on_pid(p->ctx, pid);
	}
	if (s->hold)
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	return e;
}

int proc_start(struct proc *p, const struct proc_spec *s)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, high[PROC_PASS_MAX];
	int fa_ok = 0, at_ok = 0, e, r;

	proc_init(p);
	p->on_pid = s->on_pid;
	p->ctx = s->ctx;
	if (!s->argv || !s->argv[0] || s->npass < 0 || s->npass > PROC_PASS_MAX) {
		snprintf(p->errmsg, sizeof(p->errmsg), "no program, or more than %d fds to pass",
		         PROC_PASS_MAX);
		errno = EINVAL;
		return SDB_EUSAGE;
	}
	buf_init(&p->err, s->err_max);
	for (int i = 0; i < PROC_PASS_MAX; i++)
		high[i] = -1;
	if ((r = make_fds(p, s, in, out, err, high, 3 + s->npass)) != 0)
		goto out;
	if ((e = posix_spawn_file_actions_init(&fa)) == 0) {
		fa_ok = 1;
		if ((e = file_actions(&fa, in, out, err, high, s->npass)) == 0 &&
		    (e = posix_spawnattr_init(&at)) == 0) {
			at_ok = 1;
			e = spawn(p, s, &fa, &at);
		}
	}
	if (e != 0) {
		r = spawn_err(p, e, NULL, s->argv[0]);
		goto out;
	}
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = err[0];
	in[1] = out[0] = err[0] = -1;
	r = 0;
out:
	e = errno;
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	for (int i = 0; i < 2; i++) {
		close_fd(&in[i]);
		close_fd(&out[i]);
		close_fd(&err[i]);
	}
	for (int i = 0; i < PROC_PASS_MAX; i++)
		close_fd(&high[i]);
	errno = e;
	return r;
}

/* ---- pipes ------------------------------------------------------------- */

/* Milliseconds to a deadline (time_mono() seconds; < 0: none, -1), for
 * poll(): 0 once it has passed. */
static int left_ms(double deadline)
{
	double l;

	if (deadline < 0)
		return -1;
	l = (deadline - time_mono()) * 1000.0;
	if (l <= 0)
		return 0;
	return l >= INT_MAX - 1 ? INT_MAX : (int)l + 1;
}

static double deadline_in(int ms)
{
	return ms < 0 ? -1 : time_mono() + ms / 1000.0;
}

/* Read what its stderr has: kept up to p->err.max, the rest dropped. */
static void drain_err(struct proc *p)
{
	char tmp[4096];
	ssize_t n = read(p->err_fd, tmp, sizeof(tmp));

	if (n > 0) {
		size_t room = p->err.max - p->err.len;
		buf_append(&p->err, tmp, (size_t)n < room ? (size_t)n : room);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close_fd(&p->err_fd);
	}
}

/* Wait until `fd` is ready for `events` (or hung up), keeping the child's
 * stderr meanwhile: 1 ready, 0 not yet (stderr had something: wait
 * again), SDB_EINTR at the deadline or on a signal, SDB_EIO. */
static int wait_io(struct proc *p, int fd, short events, double deadline)
{
	struct pollfd f[2];
	int nf = 0, n;

	f[nf++] = (struct pollfd){.fd = fd, .events = events};
	if (p->err_fd >= 0)
		f[nf++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
	if ((n = poll(f, (nfds_t)nf, left_ms(deadline))) < 0)
		return errno == EINTR ? SDB_EINTR : SDB_EIO;
	if (n == 0)
		return SDB_EINTR;
	if (nf > 1 && (f[1].revents & (POLLIN | POLLHUP | POLLERR)))
		drain_err(p);
	return (f[0].revents & (events | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

long proc_read(struct proc *p, void *buf, size_t len, int timeout_ms)
{
	double deadline = deadline_in(timeout_ms);

	if (p->out_fd < 0)
		return 0;
	for (;;) {
		int r = wait_io(p, p->out_fd, POLLIN, deadline);
		ssize_t got;

		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		if ((got = read(p->out_fd, buf, len)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return SDB_EIO;
		}
		if (got == 0)
			close_fd(&p->out_fd);
		return (long)got;
	}
}

/* write() with SIGPIPE held back: a child that closed its stdin is EPIPE,
 * not the end of scandb (libpq does the same around send()).  A SIGPIPE
 * that was pending before stays pending. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t len)
{
	sigset_t pipe_set, old, pending;
	ssize_t n;
	int was_pending, e;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, buf, len);
	e = errno;
	if (n < 0 && e == EPIPE && !was_pending) {
		static const struct timespec zero = {0, 0};
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return n;
}

long proc_write(struct proc *p, const void *buf, size_t len, int timeout_ms)
{
	double deadline = deadline_in(timeout_ms);

	if (p->in_fd < 0) {
		errno = EBADF;
		return SDB_EIO;
	}
	if (len == 0)
		return 0;
	for (;;) {
		int r = wait_io(p, p->in_fd, POLLOUT, deadline);
		ssize_t put;

		if (r <= 0) {
			if (r < 0)
				return r;
			continue;
		}
		if ((put = write_nosigpipe(p->in_fd, buf, len)) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return SDB_EIO;
		}
		return (long)put;
	}
}

void proc_close_in(struct proc *p)
{
	close_fd(&p->in_fd);
}

/* ---- ends -------------------------------------------------------------- */

static void reaped(struct proc *p, int status)
{
	p->status = status;
	p->reaped = 1;
	p->pid = -1;
	if (p->on_pid)
		p->on_pid(p->ctx, 0);
}

/* Reap it within ms (-1: waitpid waits as long as it runs), asking every
 * REAP_TICK_MS.  1 reaped (or nothing to reap), 0 still running,
 * SDB_ECHILD waitpid failed (then it is forgotten: nothing left to reap). */
static int reap_within(struct proc *p, int ms)
{
	double until = time_mono() + (ms < 0 ? 0 : ms / 1000.0);
	int status;

	if (p->pid < 0)
		return 1;
	for (;;) {
		pid_t w = waitpid(p->pid, &status, ms < 0 ? 0 : WNOHANG);
		double left;

		if (w == p->pid) {
			reaped(p, status);
			return 1;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int e = errno;
			p->pid = -1;
			if (p->on_pid)
				p->on_pid(p->ctx, 0);
			errno = e;
			return SDB_ECHILD;
		}
		if ((left = until - time_mono()) <= 0)
			return 0;
		{
			long ns = left * 1e9 < REAP_TICK_MS * 1e6 ? (long)(left * 1e9)
			                                          : REAP_TICK_MS * 1000000L;
			struct timespec ts = {0, ns};
			nanosleep(&ts, NULL);
		}
	}
}

int proc_collect(struct proc *p, struct buf *out, double timeout_s)
{
	double deadline = time_mono() + timeout_s;
	int r = 0, k;

	proc_close_in(p);
	while (p->out_fd >= 0 || p->err_fd >= 0) {
		struct pollfd f[2];
		int nf = 0, ms = left_ms(deadline);

		if (ms == 0)
			goto too_late;
		if (p->out_fd >= 0)
			f[nf++] = (struct pollfd){.fd = p->out_fd, .events = POLLIN};
		if (p->err_fd >= 0)
			f[nf++] = (struct pollfd){.fd = p->err_fd, .events = POLLIN};
		if (poll(f, (nfds_t)nf, ms) < 0) {
			if (errno == EINTR)
				continue;
			/* cannot watch it any more: end it, or the wait for it
			 * would outlast the deadline */
			snprintf(p->errmsg, sizeof(p->errmsg), "poll: %s", strerror(errno));
			proc_kill(p, 0);
			return SDB_EIO;
		}
		for (int i = 0; i < nf; i++) {
			char chunk[65536];
			ssize_t n;

			if (!(f[i].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
				continue;
			if (f[i].fd == p->err_fd) {
				drain_err(p);
				continue;
			}
			if ((n = read(p->out_fd, chunk, sizeof(chunk))) < 0 &&
			    (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				close_fd(&p->out_fd);
			else if (r == 0 && out && buf_append(out, chunk, (size_t)n) != 0)
				r = SDB_ETOOBIG; /* the rest is read and dropped */
		}
	}
	if ((k = reap_within(p, left_ms(deadline))) == 1)
		return r;
	if (k < 0) {
		snprintf(p->errmsg, sizeof(p->errmsg), "waitpid: %s", strerror(errno));
		return SDB_ECHILD;
	}
too_late:
	proc_kill(p, 0);
	return SDB_EINTR;
}

int proc_wait(struct proc *p, int timeout_ms)
{
	double deadline = deadline_in(timeout_ms);
	int k;

	if (p->pid < 0)
		return 0;
	/* stderr may still hold the reason it failed */
	while (p->err_fd >= 0) {
		struct pollfd f = {.fd = p->err_fd, .events = POLLIN};
		int ms = left_ms(deadline);

		if (ms < 0 || ms > ERR_IDLE_MS)
			ms = ERR_IDLE_MS;
		if (poll(&f, 1, ms) <= 0)
			break;
		drain_err(p);
	}
	k = reap_within(p, left_ms(deadline));
	return k == 1 ? 0 : k == 0 ? SDB_EINTR : SDB_ECHILD;
}

void proc_kill(struct proc *p, int grace_ms)
{
	if (p->pid < 0)
		return;
	if (grace_ms > 0) {
		kill(p->pid, SIGTERM);
		if (reap_within(p, grace_ms) != 0)
			return;
	}
	kill(p->pid, SIGKILL);
	reap_within(p, -1);
}

void proc_free(struct proc *p)
{
	if (p->pid >= 0)
		proc_kill(p, 0);
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	buf_free(&p->err);
}

int proc_exit_code(const struct proc *p)
{
	if (!p->reaped)
		return -1;
	if (WIFEXITED(p->status))
		return WEXITSTATUS(p->status);
	return WIFSIGNALED(p->status) ? 128 + WTERMSIG(p->status) : -1;
}

int proc_term_signal(const struct proc *p)
{
	return p->reaped && WIFSIGNALED(p->status) ? WTERMSIG(p->status) : 0;
}
