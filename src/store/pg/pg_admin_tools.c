/*
 * pg_admin_tools.c - pg_dump and pg_restore as child processes, for
 * backup and restore (pg_admin_backup.c): which binary (SCANDB_PG_BINDIR,
 * the newest /usr/lib/postgresql/N/bin, PATH), how long it may run, where
 * it connects, and running it on core's subprocess runner (core/proc.h).
 *
 * A tool gets the live connection's host, port, user and database on its
 * command line and the password, if the connection used one, in an
 * anonymous 0600 passfile (a memfd read as PGPASSFILE=/dev/fd/N): never in
 * argv, never in the environment, never in a file with a name (so nothing
 * is left to clean, even after SIGKILL).
 */
#define _GNU_SOURCE /* memfd_create, O_TMPFILE */
#include "store/pg/pg_int.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/proc.h"

extern char **environ;

/* SCANDB_PG_BINDIR/name if that is set; else the newest `name` of
 * /usr/lib/postgresql/N/bin, else the one on PATH.
 * (A pg_dump older than the server refuses to dump it, and Debian's
 * /usr/bin/pg_dump is a wrapper that picks a version by its own rules.) */
static int find_tool(const char *name, char *out, size_t len)
{
	char pat[128];
	const char *path = getenv("PATH"), *dir = getenv("SCANDB_PG_BINDIR");
	glob_t g;
	long best = -1;

	out[0] = '\0';
	/* SCANDB_PG_BINDIR: that directory and nowhere else */
	if (dir && *dir) {
		snprintf(out, len, "%s/%s", dir, name);
		if (access(out, X_OK) == 0)
			return 0;
		out[0] = '\0';
		return -1;
	}
	snprintf(pat, sizeof(pat), "/usr/lib/postgresql/*/bin/%s", name);
	if (glob(pat, 0, NULL, &g) == 0) {
		for (size_t i = 0; i < g.gl_pathc; i++) {
			long v = strtol(g.gl_pathv[i] + strlen("/usr/lib/postgresql/"), NULL, 10);
			if (v > best && access(g.gl_pathv[i], X_OK) == 0) {
				best = v;
				snprintf(out, len, "%s", g.gl_pathv[i]);
			}
		}
		globfree(&g);
	}
	if (out[0])
		return 0;
	while (path && *path) {
		const char *end = strchr(path, ':');
		size_t n = end ? (size_t)(end - path) : strlen(path);
		char cand[4096];

		if (n > 0 && n < sizeof(cand) - strlen(name) - 2) {
			snprintf(cand, sizeof(cand), "%.*s/%s", (int)n, path, name);
			if (access(cand, X_OK) == 0) {
				snprintf(out, len, "%s", cand);
				return 0;
			}
		}
		path = end ? end + 1 : NULL;
	}
	return -1;
}

int store__pg_tool_path(struct store_pg *s, const char *name, char *out, size_t len)
{
	if (find_tool(name, out, len) == 0)
		return 0;
	return store__set_err(&s->base, SDB_EUNSUPPORTED,
	                      "%s not found (%s): install postgresql-client (its major version at "
	                      "least the server's)",
	                      name,
	                      getenv("SCANDB_PG_BINDIR") && *getenv("SCANDB_PG_BINDIR")
	                          ? "in SCANDB_PG_BINDIR"
	                          : "in /usr/lib/postgresql/*/bin or on PATH");
}

/* How long a pg_dump / pg_restore may run (SCANDB_PG_TOOL_TIMEOUT seconds,
 * default one hour). */
double store__pg_tool_timeout(void)
{
	const char *v = getenv("SCANDB_PG_TOOL_TIMEOUT");
	char *end;
	double t;

	if (v && *v) {
		t = strtod(v, &end);
		if (*end == '\0' && t > 0)
			return t;
	}
	return 3600;
}

static int conn_append(struct buf *b, const char *key, const char *val)
{
	int r = 0;

	if (!val || !*val)
		return 0;
	r |= buf_printf(b, "%s%s='", b->len ? " " : "", key);
	for (const char *p = val; *p && r == 0; p++) {
		if (*p == '\'' || *p == '\\')
			r |= buf_append_char(b, '\\');
		r |= buf_append_char(b, *p);
	}
	r |= buf_append_char(b, '\'');
	return r;
}

/* A connection string for the tools: where the live connection is (host,
 * port, user, database) and how it connects (options, TLS settings);
 * never the password. */
int store__pg_tool_conninfo(struct store_pg *s, struct buf *out)
{
	static const char *const keep[] = {"options", "sslmode", "sslrootcert", "sslcert",
	                                   "sslkey",  "sslcrl",  "gssencmode",  "krbsrvname"};
	PQconninfoOption *opts = PQconninfo(s->conn);
	int r = 0;

	r |= conn_append(out, "host", PQhost(s->conn));
	r |= conn_append(out, "port", PQport(s->conn));
	r |= conn_append(out, "user", PQuser(s->conn));
	r |= conn_append(out, "dbname", PQdb(s->conn));
	r |= conn_append(out, "application_name", "scandb");
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
			if (strcmp(o->keyword, keep[i]) == 0)
				r |= conn_append(out, o->keyword, o->val);
	store__conninfo_free_wiped(opts);
	return r ? store__set_err(&s->base, SDB_ENOMEM, "out of memory") : 0;
}

/* An anonymous file holding `len` bytes of data, 0600, sealed against
 * changes: a memfd (memory), else an unnamed O_TMPFILE file in TMPDIR.
 * Nothing of it has a name, so nothing is left behind when scandb ends,
 * SIGKILL included; a child reads it as /dev/fd/N.  The fd, or -1 with
 * errno set. */
int store__pg_anon_file(const char *name, const void *data, size_t len)
{
	const char *dir = getenv("TMPDIR");
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	/* libpq reads a passfile only if it is a plain file that group and
	 * others cannot read */
	if (fchmod(fd, 0600) != 0)
		goto fail;
	while (off < len) {
		ssize_t n = write(fd, (const char *)data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	/* (a memfd only: the reader gets exactly what was written) */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
fail : {
	int e = errno;
	close(fd);
	errno = e ? e : EIO;
	return -1;
}
}

/* The connection's password as a passfile ("*:*:*:*:password") in an
 * anonymous file (anon_file), or -1 in *fd when the connection used none
 * (then the user's own PGPASSFILE or ~/.pgpass, if libpq read one, stays
 * the tool's).  The password is never in a named file, argv or the
 * environment. */
int store__pg_pass_fd(struct store_pg *s, int *fd)
{
	struct buf line;
	int r;

	*fd = -1;
	if (!s->password || !*s->password)
		return 0;
	buf_init(&line, 1 << 16);
	r = buf_append_str(&line, "*:*:*:*:");
	for (const char *p = s->password; *p && r == 0; p++) {
		if (*p == ':' || *p == '\\')
			r |= buf_append_char(&line, '\\');
		r |= buf_append_char(&line, *p);
	}
	r |= buf_append_char(&line, '\n');
	if (r != 0)
		r = store__set_err(&s->base, SDB_ENOMEM, "out of memory");
	else if ((*fd = store__pg_anon_file("scandb-pgpass", line.data, line.len)) < 0)
		r = store__set_err(&s->base, SDB_EIO,
		                   "cannot make an anonymous file for the password "
		                   "(memfd_create, O_TMPFILE in TMPDIR): %s",
		                   strerror(errno));
	if (line.data)
		explicit_bzero(line.data, line.len);
	buf_free(&line);
	return r;
}

/* The environment for a tool: ours without PGPASSWORD (a password from it
 * is the connection's, handed over as a passfile); with `passfile` (a
 * /dev/fd/N of ours), PGPASSFILE=passfile instead of the user's.  Without
 * one (no password, or one libpq read from the user's own PGPASSFILE or
 * ~/.pgpass) the user's PGPASSFILE stays.  Freed with free() (one block). */
char **store__pg_tool_env(const char *passfile)
{
	size_t n = 0, sz, off;
	char **env, *p;

	for (char **e = environ; *e; e++)
		n++;
	sz = (n + 2) * sizeof(char *) + strlen(passfile) + 16;
	if (!(env = malloc(sz)))
		return NULL;
	off = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "PGPASSWORD=", 11) != 0 &&
		    (!*passfile || strncmp(*e, "PGPASSFILE=", 11) != 0))
			env[off++] = *e;
	if (*passfile) {
		p = (char *)(env + n + 2);
		snprintf(p, strlen(passfile) + 16, "PGPASSFILE=%s", passfile);
		env[off++] = p;
	}
	env[off] = NULL;
	return env;
}

/* core/proc.h's on_pid: the guard (store__tmp_child) kills this child if a
 * signal ends scandb. */
static void tool_pid(void *guard, pid_t pid)
{
	store__tmp_child(guard, pid);
}

/* Run argv (argv[0] a path) with env on core's runner; stdout into *out (if
 * out; else to /dev/null), stderr kept (the first 4 kB) for the message,
 * pass[i] as its fd 3 + i and no other fd of ours.  Killed (SIGKILL) after
 * timeout seconds, or by guard's signal handlers (store__tmp_child) if
 * scandb is ended.  0 when it exited 0; else the error, whose message names
 * the tool and has its stderr. */
int store__pg_run_tool(struct store_pg *s, char *const argv[], char *const env[], struct buf *out,
                       double timeout, const char *what, const int *pass, int npass,
                       struct store__tmp *guard)
{
	char errtext[4096] = "";
	sigset_t hold;
	struct proc p;
	int r, sig, code;

	/* the guard's signals wait until it knows the child */
	store__tmp_sigs(&hold);
	r = proc_start(&p, &(struct proc_spec){.argv = argv,
	                                       .envp = env,
	                                       .in = PROC_NULL,
	                                       .out = out ? PROC_PIPE : PROC_NULL,
	                                       .err = PROC_PIPE,
	                                       .err_max = sizeof(errtext) - 1,
	                                       .pass = pass,
	                                       .npass = npass,
	                                       .hold = &hold,
	                                       .on_pid = tool_pid,
	                                       .ctx = guard});
	if (r != 0) {
		r = store__set_err(&s->base, r == SDB_ENOMEM ? SDB_ENOMEM : SDB_EIO, "%s: %s", what,
		                   p.errmsg);
		proc_free(&p);
		return r;
	}
	r = proc_collect(&p, out, timeout);
	snprintf(errtext, sizeof(errtext), "%s", buf_str(&p.err));
	for (size_t k = strlen(errtext); k > 0 && (errtext[k - 1] == '\n' || errtext[k - 1] == ' ');
	     k--)
		errtext[k - 1] = '\0';
	for (char *q = errtext; *q; q++)
		if (*q == '\n')
			*q = ' ';
	store__pg_redact(s, errtext, sizeof(errtext));
	sig = proc_term_signal(&p);
	code = proc_exit_code(&p);
	if (r == SDB_EINTR)
		r = store__set_err(&s->base, SDB_ECHILD,
		                   "%s: %s did not finish within %.0f s (SCANDB_PG_TOOL_TIMEOUT): "
		                   "killed%s%s",
		                   what, argv[0], timeout, errtext[0] ? "; it said: " : "",
		                   errtext);
	else if (r == SDB_ETOOBIG)
		r = store__set_err(&s->base, SDB_ETOOBIG, "%s: its output is too large", what);
	else if (r != 0)
		r = store__set_err(&s->base, SDB_EIO, "%s: %s", what, p.errmsg);
	else if (code != 0)
		r = store__set_err(&s->base, SDB_ECHILD, "%s: %s failed (%s %d): %s", what, argv[0],
		                   sig ? "signal" : "exit status", sig ? sig : code,
		                   errtext[0] ? errtext : "no message");
	proc_free(&p);
	return r;
}

/* The schema scandb's tables are in (the connection's current_schema). */
int store__pg_current_schema(struct store_pg *s, char *out, size_t len)
{
	PGresult *res;
	int r;

	if ((r = store__pg_adm_exec(s, "SELECT current_schema()", 0, NULL, NULL, &res,
	                            "reading the current schema")) != 0)
		return r;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return store__set_err(
		    &s->base, SDB_ESCHEMA,
		    "no current schema (search_path names no schema that exists)");
	}
	snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}
