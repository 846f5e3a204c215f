/*
 * nmap_run.c - nmap as a subprocess (see nmap_run.h): where nmap is, its
 * argument vector, its warnings and its command line for display; the
 * process itself (spawn, pipes, poll with timeouts, kill, wait) is core's
 * runner (core/proc.c).
 */
#define _GNU_SOURCE
#include "scan/nmap_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/proc.h"

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

void nmap_run_init(struct nmap_run *nr)
{
	proc_init(&nr->proc);
	nr->exit_status = 0;
}

int nmap_run_start(struct nmap_run *nr, const char *nmap_path, char *const *args, size_t nargs)
{
	char **argv = NULL;
	size_t k = 0;
	int r, e;

	nmap_run_init(nr);
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
	r = proc_start(&nr->proc, &(struct proc_spec){.argv = argv,
	                                              .in = PROC_NULL,
	                                              .out = PROC_PIPE,
	                                              .err = PROC_PIPE,
	                                              .err_max = NMAP_RUN_STDERR_MAX});
	e = errno;
	free(argv);
	errno = e; /* app_scan_run says why nmap could not be started */
	return r;
}

long nmap_run_read(struct nmap_run *nr, void *buf, size_t len, int timeout_ms)
{
	return proc_read(&nr->proc, buf, len, timeout_ms);
}

int nmap_run_wait(struct nmap_run *nr)
{
	int r = proc_wait(&nr->proc, -1);

	if (nr->proc.reaped)
		nr->exit_status = proc_exit_code(&nr->proc);
	return r;
}

void nmap_run_kill(struct nmap_run *nr)
{
	proc_kill(&nr->proc, NMAP_RUN_KILL_GRACE_MS);
	if (nr->proc.reaped)
		nr->exit_status = proc_exit_code(&nr->proc);
}

void nmap_run_free(struct nmap_run *nr)
{
	if (nr->proc.pid >= 0)
		nmap_run_kill(nr);
	proc_free(&nr->proc);
}

const char *nmap_run_stderr(const struct nmap_run *nr)
{
	return buf_str(&nr->proc.err);
}

int nmap_run_warnings(const struct nmap_run *nr, char *out, size_t outlen)
{
	const char *p = nr->proc.err.data, *end = p ? p + nr->proc.err.len : NULL;
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
