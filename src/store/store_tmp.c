/*
 * store_tmp.c - the temporary file a backup is written to before it is
 * published under its name (store__backup_publish), and what must happen
 * to it whatever ends the backup:
 *
 *   store__tmp_create    "<FILE>.tmp-XXXXXX" exists (0600), flock'ed by us;
 *                        SIGINT/SIGTERM/SIGHUP now remove it (and its
 *                        -journal, -wal, -shm) and kill the tool writing it
 *                        (store__tmp_child) before the signal's default action
 *   store__tmp_remove    an error: the same removal, then the handlers go
 *   store__tmp_release   published (the name is the backup now): handlers go
 *   store__tmp_watch     no file, only a child to kill (a restore's pg_restore)
 *   store__tmp_sigs      the signals a spawn holds (core/proc.h) until the
 *                        child is named: none of them finds it unknown
 *
 * A SIGKILL cannot be caught: what it leaves is unlocked (the kernel drops
 * a dead process's flock), which is how `backup --keep` tells a leftover
 * from a backup still being written by another scandb
 * (store_backup_leftover).  Only async-signal-safe calls in the handler: the
 * names are built beforehand in static buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "store/store_int.h"

static const char *const tmp_suffix[] = {"-journal", "-wal", "-shm", ""};
#define NSUFFIX (sizeof(tmp_suffix) / sizeof(tmp_suffix[0]))

static const int guard_sigs[] = {SIGINT, SIGTERM, SIGHUP};
#define NSIGS (sizeof(guard_sigs) / sizeof(guard_sigs[0]))

static char guard_names[NSUFFIX][4096 + 16];
static volatile sig_atomic_t guard_armed;
static volatile pid_t guard_pid;
static struct sigaction guard_old[NSIGS];
static int guard_installed[NSIGS];

static void on_signal(int sig)
{
	int saved = errno;

	if (guard_pid > 0) {
		/* dead before its file goes: it cannot create it again */
		kill(guard_pid, SIGKILL);
		while (waitpid(guard_pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (guard_armed)
		for (size_t i = 0; i < NSUFFIX; i++)
			if (guard_names[i][0])
				unlink(guard_names[i]);
	signal(sig, SIG_DFL);
	raise(sig); /* delivered when the handler returns: the default action */
	errno = saved;
}

static void block_sigs(sigset_t *old)
{
	sigset_t set;

	store__tmp_sigs(&set);
	sigprocmask(SIG_BLOCK, &set, old);
}

/* Install the handlers (signals blocked by the caller); path "": no file. */
static void arm(const char *path)
{
	for (size_t i = 0; i < NSUFFIX; i++)
		if (*path)
			snprintf(guard_names[i], sizeof(guard_names[i]), "%s%s", path,
			         tmp_suffix[i]);
		else
			guard_names[i][0] = '\0';
	guard_pid = 0;
	guard_armed = 1;
	for (size_t i = 0; i < NSIGS; i++) {
		struct sigaction sa, cur;

		guard_installed[i] = 0;
		if (sigaction(guard_sigs[i], NULL, &cur) != 0 || cur.sa_handler == SIG_IGN)
			continue; /* ignored (nohup): it ends nothing */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		for (size_t j = 0; j < NSIGS; j++)
			sigaddset(&sa.sa_mask, guard_sigs[j]);
		if (sigaction(guard_sigs[i], &sa, &guard_old[i]) == 0)
			guard_installed[i] = 1;
	}
}

static void disarm(void)
{
	sigset_t old;

	block_sigs(&old);
	guard_armed = 0;
	guard_pid = 0;
	for (size_t i = 0; i < NSIGS; i++)
		if (guard_installed[i]) {
			sigaction(guard_sigs[i], &guard_old[i], NULL);
			guard_installed[i] = 0;
		}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

int store__tmp_create(struct store *st, const char *path, struct store__tmp *t)
{
	sigset_t old;
	int e;

	t->fd = -1;
	t->path[0] = '\0';
	t->armed = 0;
	if (snprintf(t->path, sizeof(t->path), "%s.tmp-XXXXXX", path) >= (int)sizeof(t->path)) {
		t->path[0] = '\0';
		return store__set_err(st, SDB_EUSAGE, "backup file name is too long");
	}
	if (guard_armed) {
		t->path[0] = '\0';
		return store__set_err(st, SDB_EUSAGE, "a backup is being written already");
	}
	/* the file, its lock and its handlers at once: no signal in between */
	block_sigs(&old);
	if ((t->fd = mkstemp(t->path)) < 0) {
		char dir[4096], full[4400];
		e = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		t->path[0] = '\0';
		store__dir_of(path, dir, sizeof(dir));
		if (e == ENOSPC || e == EDQUOT) {
			store__disk_full(dir, NULL, full, sizeof(full));
			return store__set_err(st, SDB_EIO, "cannot create a file next to %s: %s",
			                      path, full);
		}
		return store__set_err(st, SDB_EIO, "cannot create a file next to %s: %s", path,
		                      strerror(e));
	}
	(void)fcntl(t->fd, F_SETFD, FD_CLOEXEC);
	/* a fresh file: nobody else holds its lock */
	(void)flock(t->fd, LOCK_EX | LOCK_NB);
	arm(t->path);
	t->armed = 1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

int store__tmp_watch(struct store *st, struct store__tmp *t)
{
	sigset_t old;

	t->fd = -1;
	t->path[0] = '\0';
	t->armed = 0;
	if (guard_armed)
		return store__set_err(st, SDB_EUSAGE, "a backup is being written already");
	block_sigs(&old);
	arm("");
	t->armed = 1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return 0;
}

void store__tmp_sigs(sigset_t *set)
{
	sigemptyset(set);
	for (size_t i = 0; i < NSIGS; i++)
		sigaddset(set, guard_sigs[i]);
}

void store__tmp_child(struct store__tmp *t, pid_t pid)
{
	if (t && t->armed)
		guard_pid = pid;
}

void store__tmp_remove(struct store__tmp *t)
{
	/* the journal first: a -journal never outlives its database */
	for (size_t i = 0; t->path[0] && i < NSUFFIX; i++) {
		char p[sizeof(t->path) + 16];
		snprintf(p, sizeof(p), "%s%s", t->path, tmp_suffix[i]);
		unlink(p);
	}
	store__tmp_release(t);
}

void store__tmp_release(struct store__tmp *t)
{
	if (t->armed)
		disarm();
	t->armed = 0;
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->path[0] = '\0';
}

int store_backup_leftover(const char *path, int64_t min_age)
{
	static const char tag[] = ".tmp-";
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	const char *t = strstr(base, tag);
	char owner[4096 + 16];
	struct stat sb;
	size_t n;
	int fd, stale;

	/* "<name>.tmp-XXXXXX" with an optional -journal/-wal/-shm */
	while (t && strstr(t + 1, tag))
		t = strstr(t + 1, tag);
	if (!t || strlen(t) < sizeof(tag) - 1 + 6)
		return 0;
	n = (size_t)(t - path) + sizeof(tag) - 1 + 6;
	if (strcmp(path + n, "") != 0) {
		int known = 0;
		for (size_t i = 0; i < NSUFFIX - 1; i++)
			known |= strcmp(path + n, tmp_suffix[i]) == 0;
		if (!known)
			return 0;
	}
	if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    (int64_t)time(NULL) - (int64_t)sb.st_mtime < min_age)
		return 0;
	/* its owner: the file without the suffix */
	if (n >= sizeof(owner))
		return 0;
	memcpy(owner, path, n);
	owner[n] = '\0';
	if ((fd = open(owner, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		return errno == ENOENT; /* a -journal of a file already gone */
	/* held by a live backup: not ours to remove */
	stale = flock(fd, LOCK_EX | LOCK_NB) == 0;
	close(fd);
	return stale;
}

/* ---- a full disk --------------------------------------------------------------- */

/* Free bytes for an unprivileged writer in dir, or -1. */
static int64_t free_bytes(const char *dir)
{
	struct statvfs v;

	if (statvfs(dir, &v) != 0)
		return -1;
	return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

int64_t store__dir_free(const char *dir)
{
	return free_bytes(dir);
}

void store__dir_of(const char *file, char *dir, size_t len)
{
	const char *slash = strrchr(file, '/');

	if (!slash)
		snprintf(dir, len, ".");
	else if (slash == file)
		snprintf(dir, len, "/");
	else
		snprintf(dir, len, "%.*s", (int)(slash - file), file);
}

void store__disk_full(const char *dir, const char *file, char *out, size_t len)
{
	int64_t n = free_bytes(dir);
	char left[48] = "";

	if (n >= 0 && n < 10240)
		snprintf(left, sizeof(left), "; %lld bytes free", (long long)n);
	else if (n >= 0)
		snprintf(left, sizeof(left), "; %.1f MiB free", (double)n / (1024.0 * 1024.0));
	snprintf(out, len, "the disk is full: no space left in %s%s%s%s%s", dir,
	         file ? " (for " : "", file ? file : "", file ? ")" : "", left);
}
