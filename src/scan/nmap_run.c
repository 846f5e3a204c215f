/*
 * nmap_run.c - nmap as a subprocess (see nmap_run.h).  posix_spawn with an
 * argument vector (never a shell), two pipes, poll() with timeouts on both so
 * neither can fill up and block nmap.
 */
#define _GNU_SOURCE
#include "scan/nmap_run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

extern char **environ;

static int is_exec(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && S_ISREG(sb.st_mode) && access(p, X_OK) == 0;
}

int nmap_run_find(char *out, size_t len)
{
	const char *over = getenv("SCANDB_NMAP"), *path = getenv("PATH");
	char cand[4096];

	if (over && *over) {
		if (!is_exec(over))
			return SDB_ENOTFOUND;
		snprintf(out, len, "%s", over);
		return 0;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t n = colon ? (size_t)(colon - path) : strlen(path);
		if (n > 0 && n < sizeof(cand) - 6) {
			memcpy(cand, path, n);
			snprintf(cand + n, sizeof(cand) - n, "/nmap");
			if (is_exec(cand)) {
				snprintf(out, len, "%s", cand);
				return 0;
			}
		}
		path += n + (colon ? 1 : 0);
	}
	return SDB_ENOTFOUND;
}

int nmap_run_start(struct nmap_run *nr, const char *nmap_path, char *const *args, size_t nargs)
{
	posix_spawn_file_actions_t fa;
	int out[2] = {-1, -1}, errp[2] = {-1, -1}, r = SDB_EIO;
	char **argv = NULL;
	size_t k = 0;

	memset(nr, 0, sizeof(*nr));
	nr->pid = -1;
	nr->out_fd = nr->err_fd = -1;
	buf_init(&nr->err, NMAP_RUN_STDERR_MAX);
	if (!(argv = calloc(nargs + 6, sizeof(*argv))))
		return SDB_ENOMEM;
	argv[k++] = (char *)nmap_path;
	for (size_t i = 0; i < nargs; i++)
		argv[k++] = args[i];
	argv[k++] = "-oX";
	argv[k++] = "-";
	argv[k++] = "--stats-every";
	argv[k++] = "2s";
	argv[k] = NULL;
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0)
		goto out;
	if (posix_spawn_file_actions_init(&fa) != 0)
		goto out;
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
	errno = posix_spawn(&nr->pid, nmap_path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (errno != 0) {
		nr->pid = -1;
		goto out;
	}
	close(out[1]);
	close(errp[1]);
	out[1] = errp[1] = -1;
	nr->out_fd = out[0];
	nr->err_fd = errp[0];
	out[0] = errp[0] = -1;
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(argv);
	return r;
}

static void drain_err(struct nmap_run *nr)
{
	char tmp[4096];
	ssize_t n = read(nr->err_fd, tmp, sizeof(tmp));

	if (n > 0) {
		size_t room = nr->err.max - nr->err.len;
		buf_append(&nr->err, tmp, (size_t)n < room ? (size_t)n : room);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		close(nr->err_fd);
		nr->err_fd = -1;
	}
}

long nmap_run_read(struct nmap_run *nr, void *buf, size_t len, int timeout_ms)
{
	struct pollfd p[2];

	if (nr->out_fd < 0)
		return 0;
	for (;;) {
		int np = 0, n;
		p[np++] = (struct pollfd){.fd = nr->out_fd, .events = POLLIN};
		if (nr->err_fd >= 0)
			p[np++] = (struct pollfd){.fd = nr->err_fd, .events = POLLIN};
		n = poll(p, (nfds_t)np, timeout_ms);
		if (n < 0) {
			if (errno == EINTR)
				return SDB_EINTR;
			return SDB_EIO;
		}
		if (n == 0)
			return SDB_EINTR;
		if (np > 1 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)))
			drain_err(nr);
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t got = read(nr->out_fd, buf, len);
			if (got < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				return SDB_EIO;
			}
			if (got == 0) {
				close(nr->out_fd);
				nr->out_fd = -1;
			}
			return (long)got;
		}
	}
}

int nmap_run_wait(struct nmap_run *nr)
{
	int status;

	if (nr->pid < 0)
		return 0;
	/* stderr may still hold the reason nmap failed. */
	while (nr->err_fd >= 0) {
		struct pollfd p = {.fd = nr->err_fd, .events = POLLIN};
		if (poll(&p, 1, 10000) <= 0)
			break;
		drain_err(nr);
	}
	while (waitpid(nr->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return SDB_ECHILD;
	}
	nr->pid = -1;
	nr->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

void nmap_run_kill(struct nmap_run *nr)
{
	if (nr->pid < 0)
		return;
	kill(nr->pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		int status;
		struct timespec ts = {0, 100 * 1000 * 1000};
		if (waitpid(nr->pid, &status, WNOHANG) == nr->pid) {
			nr->pid = -1;
			nr->exit_status = 128 + SIGTERM;
			return;
		}
		nanosleep(&ts, NULL);
	}
	kill(nr->pid, SIGKILL);
	waitpid(nr->pid, NULL, 0);
	nr->pid = -1;
	nr->exit_status = 128 + SIGKILL;
}

void nmap_run_free(struct nmap_run *nr)
{
	if (nr->pid >= 0)
		nmap_run_kill(nr);
	if (nr->out_fd >= 0)
		close(nr->out_fd);
	if (nr->err_fd >= 0)
		close(nr->err_fd);
	nr->out_fd = nr->err_fd = -1;
	buf_free(&nr->err);
}

int nmap_run_warnings(const struct nmap_run *nr, char *out, size_t outlen)
{
	const char *p = nr->err.data, *end = p ? p + nr->err.len : NULL;
	size_t used = 0;
	int n = 0;

	if (outlen == 0)
		return 0;
	out[0] = '\0';
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		int dup = 0;

		while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' '))
			len--;
		/* nmap says "Failed to resolve" once per resolution attempt */
		for (const char *q = out; len > 0 && *q && !dup;) {
			const char *qe = strchr(q, '\n');
			size_t ql = qe ? (size_t)(qe - q) : strlen(q);
			dup = ql == len && memcmp(q, p, len) == 0;
			q += ql + (qe != NULL);
		}
		if (len > 0 && !dup && used + len + 2 < outlen) {
			if (used)
				out[used++] = '\n';
			memcpy(out + used, p, len);
			used += len;
			out[used] = '\0';
			n++;
		}
		p = nl ? nl + 1 : end;
	}
	return n;
}

char *nmap_run_cmdline(const char *nmap_path, char *const *args, size_t nargs)
{
	struct buf b;
	const char *base = strrchr(nmap_path, '/');

	buf_init(&b, NMAP_RUN_STDERR_MAX);
	buf_append_str(&b, base ? base + 1 : nmap_path);
	for (size_t i = 0; i < nargs; i++) {
		buf_append_char(&b, ' ');
		if (strpbrk(args[i], " \t'\"\\") || !args[i][0]) {
			buf_append_char(&b, '\'');
			for (const char *p = args[i]; *p; p++) {
				if (*p == '\'')
					buf_append_str(&b, "'\\''");
				else
					buf_append_char(&b, *p);
			}
			buf_append_char(&b, '\'');
		} else {
			buf_append_str(&b, args[i]);
		}
	}
	buf_append_str(&b, " -oX -");
	return buf_steal(&b);
}
