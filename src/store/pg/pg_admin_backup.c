/*
 * pg_admin_backup.c - the PostgreSQL backend's backup and restore slots
 * (store_int.h; the policy -- what is checked, in which order -- is
 * store_ops.c's): pg_dump -Fc of a snapshot the doctor's data checks ran
 * in, and a restore that reads the archive's list and migrations before it
 * touches the target, then pg_restore --single-transaction --clean under
 * the writers' lock (pg_lock.c).  The tools run as pg_admin_tools.c runs
 * them.
 */
#include "store/pg/pg_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"

/* ---- backup ---------------------------------------------------------------------- */

/* The doctor's data checks (constraints, foreign keys and orphans, the
 * port state documents) in the open read snapshot, which pg_dump then dumps
 * (--snapshot): an archive is written only of data restore will take.  The
 * snapshot's id goes to *snap. */
static int backup_checked_snapshot(struct store_pg *s, char *snap, size_t snaplen)
{
	struct store_doctor_report rep = {0};
	PGresult *res;
	int r;

	if ((r = store__pg_adm_exec(s, "SELECT pg_export_snapshot()", 0, NULL, NULL, &res,
	                            "backup: exporting the snapshot")) != 0)
		return r;
	snprintf(snap, snaplen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((r = store__pg_doctor_data(s, &rep)) == 0)
		r = store__doctor_docs(&s->base, &rep);
	if (r == 0 && rep.nproblems > 0)
		r = store__set_err(&s->base, SDB_EPARSE,
		                   "the database is damaged, no backup was written (%s: %s%s): run "
		                   "'scandb doctor' to see what is wrong",
		                   rep.problems[0].check, rep.problems[0].what,
		                   rep.nproblems > 1 ? ", and more" : "");
	store_doctor_report_free(&rep);
	return r;
}

int store__pg_backup(struct store *st, const char *path, struct store_backup_info *info)
{
	struct store_pg *s = store__pg(st);
	char tool[4096], schema[256], schema_arg[600], snap[128], snap_arg[160];
	struct store__tmp tmp = {.fd = -1};
	struct buf conn;
	char **env = NULL;
	double t0 = time_mono();
	struct stat sb;
	int pfd = -1, opened = 0, r;

	buf_init(&conn, 1 << 16);
	if ((r = store__pg_tool_path(s, "pg_dump", tool, sizeof(tool))) != 0 ||
	    (r = store__pg_current_schema(s, schema, sizeof(schema))) != 0 ||
	    (r = store__pg_tool_conninfo(s, &conn)) != 0 || (r = store__pg_pass_fd(s, &pfd)) != 0)
		goto out;
	if (!(env = store__pg_tool_env(pfd >= 0 ? "/dev/fd/3" : ""))) {
		r = store__set_err(st, SDB_ENOMEM, "backup: out of memory");
		goto out;
	}
	/* -n: scandb's schema only, exactly (pg_dump quotes nothing: a
	 * pattern "\"name\"" matches the name as it is). */
	{
		/* a '"' in the name is written twice inside the quotes */
		size_t k = (size_t)snprintf(schema_arg, sizeof(schema_arg), "--schema=\"");
		for (const char *p = schema; *p && k + 3 < sizeof(schema_arg); p++) {
			if (*p == '"')
				schema_arg[k++] = '"';
			schema_arg[k++] = *p;
		}
		schema_arg[k++] = '"';
		schema_arg[k] = '\0';
	}
	/* one snapshot, checked first: ours, held open while pg_dump dumps it */
	if ((r = store__pg_read_begin(s, &opened)) != 0 ||
	    (r = backup_checked_snapshot(s, snap, sizeof(snap))) != 0)
		goto out;
	snprintf(snap_arg, sizeof(snap_arg), "--snapshot=%s", snap);
	if ((r = store__tmp_create(st, path, &tmp)) != 0)
		goto out;
	{
		char *argv[] = {tool,       "--format=custom", "--no-password",
		                schema_arg, snap_arg,          "--file",
		                tmp.path,   "--dbname",        (char *)buf_str(&conn),
		                NULL};
		/* one snapshot (the one checked above, which pg_dump imports):
		 * the dump is the database as it was then, writers go on */
		if ((r = store__pg_run_tool(s, argv, env, NULL, store__pg_tool_timeout(), "backup",
		                            &pfd, pfd >= 0, &tmp)) != 0) {
			/* pg_dump on a full disk: say so, and where */
			if (strstr(st->errmsg, strerror(ENOSPC)) ||
			    strstr(st->errmsg, strerror(EDQUOT))) {
				char dir[4096], full[4400], said[sizeof(st->errmsg)];
				snprintf(said, sizeof(said), "%s", st->errmsg);
				store__dir_of(path, dir, sizeof(dir));
				store__disk_full(dir, path, full, sizeof(full));
				r = store__set_err(st, SDB_EIO, "%s (%s)", full, said);
			}
			goto out;
		}
	}
	store__pg_read_end(s, opened);
	opened = 0;
	if ((r = store__backup_publish(st, tmp.path, path)) != 0)
		goto out;
	store__tmp_release(&tmp);
	snprintf(info->method, sizeof(info->method), "pg_dump -Fc (one snapshot)");
	info->bytes = stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
	info->seconds = time_mono() - t0;
	r = 0;
out:
	store__pg_read_end(s, opened);
	store__tmp_remove(&tmp);
	if (pfd >= 0)
		close(pfd);
	free(env);
	buf_free(&conn);
	return r;
}

/* ---- restore --------------------------------------------------------------------- */

/* A TOC line of `pg_restore -l`: "ID; OID OID DESC NAMESPACE NAME OWNER".
 * Returns the text after the two OIDs (DESC ...), or NULL for a comment. */
static const char *toc_desc(const char *line)
{
	const char *p = strchr(line, ';');

	if (line[0] == ';' || !p)
		return NULL;
	p++;
	for (int k = 0; k < 2; k++) {
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
	}
	while (*p == ' ')
		p++;
	return p;
}

/* The archive's list without the schema itself (it exists in the target,
 * and --clean must not drop it), for pg_restore -L.  *has_mig: the list
 * has schema_migrations's data in `schema`; other_schema: the schema of a
 * schema_migrations found elsewhere. */
static int filter_toc(const char *toc, const char *schema, struct buf *out, int *has_mig,
                      char *other_schema, size_t olen)
{
	char want[600];
	const char *p = toc;
	int r = 0;

	*has_mig = 0;
	other_schema[0] = '\0';
	snprintf(want, sizeof(want), "TABLE DATA %s schema_migrations ", schema);
	while (*p && r == 0) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[2048];
		const char *d;

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1),
		         p);
		p += n + (nl ? 1 : 0);
		d = toc_desc(line);
		if (d &&
		    (strncmp(d, "SCHEMA ", 7) == 0 || strncmp(d, "COMMENT - SCHEMA ", 17) == 0 ||
		     strncmp(d, "ACL - SCHEMA ", 13) == 0))
			continue;
		if (d && strncmp(d, want, strlen(want)) == 0)
			*has_mig = 1;
		else if (d && strncmp(d, "TABLE DATA ", 11) == 0) {
			const char *ns = d + 11, *sp = strchr(ns, ' ');
			if (sp && strncmp(sp, " schema_migrations ", 19) == 0)
				snprintf(other_schema, olen, "%.*s", (int)(sp - ns), ns);
		}
		r = buf_append(out, line, strlen(line));
		if (r == 0)
			r = buf_append_char(out, '\n');
	}
	return r;
}

/* The rows of COPY ... schema_migrations FROM stdin in pg_restore's script
 * output: "version\tname\tchecksum\tapplied_at" lines up to "\.". */
static int parse_migrations(struct store_pg *s, const char *script, const char *path,
                            struct store_applied **out, size_t *n)
{
	const char *p = strstr(script, "schema_migrations (");
	struct store_applied *rows = NULL;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (!p || !(p = strstr(p, "FROM stdin;\n")))
		return store__set_err(&s->base, SDB_EPARSE,
		                      "%s is not a scandb backup (no schema_migrations rows)",
		                      path);
	p += strlen("FROM stdin;\n");
	while (*p && strncmp(p, "\\.", 2) != 0) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char line[512], *f[4], *save = NULL;
		int k = 0;
		void *np;

		snprintf(line, sizeof(line), "%.*s", (int)(len < sizeof(line) ? len : 511), p);
		p += len + (nl ? 1 : 0);
		for (char *t = strtok_r(line, "\t", &save); t && k < 4;
		     t = strtok_r(NULL, "\t", &save))
			f[k++] = t;
		if (k < 3) {
			free(rows);
			return store__set_err(&s->base, SDB_EPARSE,
			                      "%s: cannot read its schema_migrations rows", path);
		}
		if (!(np = sdb_reallocarray(rows, cnt + 1, sizeof(*rows)))) {
			free(rows);
			return store__set_err(&s->base, SDB_ENOMEM, "restore: out of memory");
		}
		rows = np;
		memset(&rows[cnt], 0, sizeof(rows[cnt]));
		rows[cnt].version = (int)strtol(f[0], NULL, 10);
		sdb_strlcpy(rows[cnt].name, f[1], sizeof(rows[cnt].name));
		sdb_strlcpy(rows[cnt].checksum, f[2], sizeof(rows[cnt].checksum));
		cnt++;
	}
	*out = rows;
	*n = cnt;
	return 0;
}

/* The restore slots (store_int.h; store_ops.c's store_restore holds the
 * policy).  A backup file being restored: */
struct pg_restore_file {
	char tool[4096];  /* pg_restore */
	char schema[256]; /* the target's schema */
	struct buf list;  /* the archive's list without the schema itself */
};

/* 1-3: the file read, never the target: what the archive holds, that it is
 * a scandb database in this schema, and its migrations. */
static int restore_read(struct store_pg *s, const char *path, struct pg_restore_file *f,
                        struct store_applied **rows, size_t *n)
{
	struct store *st = &s->base;
	char other[256], schema_arg[300];
	struct buf toc, script;
	char **env = NULL;
	int has_mig = 0, r;

	buf_init(&toc, 64 << 20);
	buf_init(&script, 64 << 20);
	if ((r = store__pg_tool_path(s, "pg_restore", f->tool, sizeof(f->tool))) != 0 ||
	    (r = store__pg_current_schema(s, f->schema, sizeof(f->schema))) != 0)
		goto out;
	if (!(env = store__pg_tool_env(""))) {
		r = store__set_err(st, SDB_ENOMEM, "restore: out of memory");
		goto out;
	}
	/* 1. a pg_dump custom-format archive: pg_restore lists it (reads the
	 * file only, no connection) */
	{
		char *argv[] = {f->tool, "--list", (char *)path, NULL};
		if ((r = store__pg_run_tool(s, argv, env, &toc, 600, "reading the backup", NULL, 0,
		                            NULL)) != 0) {
			char why[sizeof(st->errmsg)];
			snprintf(why, sizeof(why), "%s", st->errmsg);
			r = store__set_err(st, SDB_EPARSE,
			                   "%s is not a pg_dump custom-format archive (%s)", path,
			                   why);
			goto out;
		}
	}
	/* 2. a scandb database in this schema */
	if ((r = filter_toc(buf_str(&toc), f->schema, &f->list, &has_mig, other, sizeof(other))) !=
	    0) {
		r = store__set_err(st, SDB_ENOMEM, "restore: out of memory");
		goto out;
	}
	if (!has_mig) {
		if (other[0])
			r = store__set_err(
			    st, SDB_ESCHEMA,
			    "%s holds scandb's tables in schema %s, but this database "
			    "uses schema %s (set search_path, e.g. "
			    "options=-csearch_path=%s in the target)",
			    path, other, f->schema, other);
		else
			r = store__set_err(
			    st, SDB_EPARSE,
			    "%s is not a scandb database (no schema_migrations table)", path);
		goto out;
	}
	/* 3. its migrations (store_restore checks them against ours) */
	snprintf(schema_arg, sizeof(schema_arg), "--schema=%s", f->schema);
	{
		char *argv[] = {f->tool,    "--data-only", schema_arg, "--table=schema_migrations",
		                "--file=-", (char *)path,  NULL};
		if ((r = store__pg_run_tool(s, argv, env, &script, 600,
		                            "reading the backup's migrations", NULL, 0, NULL)) != 0)
			goto out;
	}
	r = parse_migrations(s, buf_str(&script), path, rows, n);
out:
	free(env);
	buf_free(&toc);
	buf_free(&script);
	return r;
}

int store__pg_restore_open(struct store *st, const char *path, void **file,
                           struct store_applied **rows, size_t *n)
{
	struct pg_restore_file *f = calloc(1, sizeof(*f));
	int r;

	*file = NULL;
	if (!f)
		return store__set_err(st, SDB_ENOMEM, "restore: out of memory");
	buf_init(&f->list, 64 << 20);
	if ((r = restore_read(store__pg(st), path, f, rows, n)) != 0) {
		store__pg_restore_close(st, f);
		return r;
	}
	*file = f;
	return 0;
}

/* 5. one transaction: pg_restore --single-transaction drops each of the
 * archive's objects that exists (--clean --if-exists), creates them,
 * loads the rows, builds indexes and constraints (every row checked),
 * and commits; any error rolls all of it back. */
int store__pg_restore_apply(struct store *st, void *file, const char *path)
{
	struct store_pg *s = store__pg(st);
	struct pg_restore_file *f = file;
	struct store__tmp watch = {.fd = -1};
	struct buf conn;
	char **env = NULL;
	int fds[2] = {-1, -1}, r;

	buf_init(&conn, 1 << 16);
	/* the list (fd 3) and the password (fd 4, if any) in anonymous files:
	 * nothing of the restore is left in TMPDIR, whatever ends it */
	if ((fds[0] = store__pg_anon_file("scandb-restore-list", f->list.data, f->list.len)) < 0) {
		r = store__set_err(
		    st, SDB_EIO, "restore: cannot make an anonymous file for pg_restore's list: %s",
		    strerror(errno));
		goto out;
	}
	if ((r = store__pg_pass_fd(s, &fds[1])) != 0 ||
	    (r = store__pg_tool_conninfo(s, &conn)) != 0)
		goto out;
	if (!(env = store__pg_tool_env(fds[1] >= 0 ? "/dev/fd/4" : ""))) {
		r = store__set_err(st, SDB_ENOMEM, "restore: out of memory");
		goto out;
	}
	/* a signal that ends scandb ends pg_restore too (its transaction is
	 * then rolled back): nothing restored behind the user's back */
	if ((r = store__tmp_watch(st, &watch)) != 0)
		goto out;
	{
		char *argv[] = {f->tool,
		                "--single-transaction",
		                "--exit-on-error",
		                "--clean",
		                "--if-exists",
		                "--no-owner",
		                "--no-privileges",
		                "--no-password",
		                "--use-list=/dev/fd/3",
		                "--dbname",
		                (char *)buf_str(&conn),
		                (char *)path,
		                NULL};
		r = store__pg_run_tool(s, argv, env, NULL, store__pg_tool_timeout(), "restoring",
		                       fds, fds[1] >= 0 ? 2 : 1, &watch);
	}
out:
	store__tmp_release(&watch);
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(env);
	buf_free(&conn);
	return r;
}

void store__pg_restore_close(struct store *st, void *file)
{
	struct pg_restore_file *f = file;

	(void)st;
	if (!f)
		return;
	buf_free(&f->list);
	free(f);
}
