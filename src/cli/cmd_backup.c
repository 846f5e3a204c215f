/*
 * cmd_backup.c - `scandb backup [--keep N] FILE` and `scandb restore
 * [--force] FILE` (store_backup / store_restore), and the backup name
 * pattern behind --keep:
 *
 *   FILE may contain the time fields %Y %m %d %H %M %S (and %% for a '%')
 *   in its last path component; they are filled in with the current UTC
 *   time.  With --keep N, after a successful backup every regular file in
 *   the same directory whose name matches the same pattern (each field
 *   standing for its digits) is ordered by the time its name encodes, and
 *   all but the N newest are removed; the backup just written always
 *   counts as one of the N.  What a killed backup of the pattern left
 *   (NAME.tmp-XXXXXX and its -journal, held by no live backup, a minute
 *   old) goes too.  Nothing else in the directory is touched.
 *
 * docs/OPERATIONS.md.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/ops_util.h"
#include "cli/output.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "core/vec.h"

static const char backup_usage[] =
    "usage: scandb backup [--keep N] [--format table|json] FILE\n"
    "\n"
    "Write a consistent copy of the database to FILE while importers and\n"
    "scans keep running (SQLite: the online backup API; FILE is a standalone\n"
    "SQLite file).  FILE must not exist.  It may contain %Y %m %d %H %M %S\n"
    "(UTC time of the backup), e.g. backups/scandb-%Y%m%d-%H%M%S.db.\n"
    "\n"
    "  --keep N          after the backup, remove older files in FILE's\n"
    "                    directory whose names match FILE's pattern, keeping\n"
    "                    the N newest (by the time in their names; N >= 1),\n"
    "                    and what killed backups of the pattern left behind\n"
    "  --format FORMAT   table (default) or json\n";

static const char restore_usage[] =
    "usage: scandb restore [--force] [--format table|json] FILE\n"
    "\n"
    "Replace the database with the backup FILE.  FILE is checked first: it\n"
    "must be a scandb database whose migrations this scandb knows (same\n"
    "checksums) and that passes the integrity check; otherwise nothing is\n"
    "changed.  The replacement is atomic.  A database that holds any job or\n"
    "host is refused unless --force.  Stop scans and imports while restoring.\n"
    "A SQLite database too damaged to open is replaced with --force; the\n"
    "damaged file is kept aside as FILE.damaged-TIME for salvage.\n"
    "\n"
    "  --force           replace a non-empty database\n"
    "  --format FORMAT   table (default) or json\n";

/* ---- the name pattern ---------------------------------------------------- */

/* Which time field a conversion is, in the order backups are sorted by. */
static int field_of(char c)
{
	switch (c) {
	case 'Y':
		return 0;
	case 'm':
		return 1;
	case 'd':
		return 2;
	case 'H':
		return 3;
	case 'M':
		return 4;
	case 'S':
		return 5;
	default:
		return -1;
	}
}

/* Check `pat` (a last path component); *fields = how many time fields. */
static int pattern_check(const char *pat, int *fields)
{
	*fields = 0;
	for (const char *p = pat; *p; p++) {
		if (*p != '%')
			continue;
		if (p[1] == '%') {
			p++;
			continue;
		}
		if (field_of(p[1]) < 0)
			return -1;
		(*fields)++;
		p++;
	}
	return 0;
}

/* Expand the pattern with UTC time `t` into out[len]. */
static int pattern_expand(const char *pat, int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	size_t off = 0;

	if (!gmtime_r(&tt, &tm))
		return -1;
	for (const char *p = pat; *p; p++) {
		int v = -1, w = 2;
		char c = *p;

		if (c == '%') {
			c = *++p;
			switch (c) {
			case 'Y':
				v = tm.tm_year + 1900;
				w = 4;
				break;
			case 'm':
				v = tm.tm_mon + 1;
				break;
			case 'd':
				v = tm.tm_mday;
				break;
			case 'H':
				v = tm.tm_hour;
				break;
			case 'M':
				v = tm.tm_min;
				break;
			case 'S':
				v = tm.tm_sec;
				break;
			default: /* '%' */
				break;
			}
		}
		if (off + 5 >= len)
			return -1;
		if (v >= 0)
			off += (size_t)snprintf(out + off, len - off, "%0*d", w, v);
		else
			out[off++] = c;
	}
	out[off] = '\0';
	return 0;
}

/* Does `name` match the pattern?  key (15 chars) = YYYYmmddHHMMSS of its
 * fields, absent fields "00". */
static int pattern_match(const char *pat, const char *name, char key[16])
{
	static const int width[6] = {4, 2, 2, 2, 2, 2};
	static const int pos[6] = {0, 4, 6, 8, 10, 12};
	const char *n = name;

	memcpy(key, "00000000000000", 15);
	key[14] = '\0';
	for (const char *p = pat; *p; p++) {
		int f;

		if (*p != '%' || p[1] == '%') {
			if (*p == '%')
				p++;
			if (*n++ != *p)
				return 0;
			continue;
		}
		f = field_of(*++p);
		for (int i = 0; i < width[f]; i++, n++) {
			if (*n < '0' || *n > '9')
				return 0;
			key[pos[f] + i] = *n;
		}
	}
	return *n == '\0';
}

struct match {
	char key[16];
	char *name;
};

static int match_newer_first(const void *a, const void *b)
{
	const struct match *x = a, *y = b;
	int c = strcmp(y->key, x->key);

	return c ? c : strcmp(y->name, x->name);
}

/* Is `name` in dir a leftover of a backup of this pattern that was killed
 * (SIGKILL, a crash): "<a name of the pattern>.tmp-XXXXXX" or its
 * -journal / -wal / -shm, held by no live backup, untouched for a minute?
 * Its path into path[len]. */
static int is_leftover(const char *dir, const char *pat, const char *name, char *path, size_t len)
{
	const char *t = strstr(name, ".tmp-");
	char base[4096], key[16];

	while (t && strstr(t + 1, ".tmp-"))
		t = strstr(t + 1, ".tmp-");
	if (!t || (size_t)(t - name) >= sizeof(base))
		return 0;
	snprintf(base, sizeof(base), "%.*s", (int)(t - name), name);
	if (!pattern_match(pat, base, key))
		return 0;
	if (snprintf(path, len, "%s/%s", dir, name) >= (int)len)
		return 0;
	return store_backup_leftover(path, 60);
}

/*
 * Remove all but the `keep` newest files of `dir` matching `pat`; `self`
 * (the backup just written, a name in dir) is always kept and counted.
 * Removed names are appended to `removed` (a JSON array).
 */
static int rotate(const char *dir, const char *pat, const char *self, long keep, json_t *removed)
{
	struct match *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d = opendir(dir);
	long kept = 1; /* self */
	int r = 0;

	if (!d) {
		cli_err("backup --keep: cannot read directory %s: %s", dir, strerror(errno));
		return CLI_FAIL;
	}
	while ((de = readdir(d)) != NULL) {
		char key[16], path[4096];
		struct stat sb;

		if (strcmp(de->d_name, self) != 0 &&
		    is_leftover(dir, pat, de->d_name, path, sizeof(path))) {
			/* what a killed backup left: no live backup holds it */
			if (unlink(path) == 0)
				json_array_append_new(removed, json_string(path));
			continue;
		}
		if (strcmp(de->d_name, self) == 0 || !pattern_match(pat, de->d_name, key))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		if (VEC_RESERVE(v, cap, n + 1, 16) != 0) {
			r = SDB_ENOMEM;
			break;
		}
		memcpy(v[n].key, key, sizeof(key));
		if (!(v[n].name = strdup(de->d_name))) {
			r = SDB_ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (r == 0) {
		/* (none yet: v is NULL, and qsort's pointer must never be) */
		if (n > 1)
			qsort(v, n, sizeof(*v), match_newer_first);
		for (size_t i = 0; i < n; i++) {
			char path[4096];

			if (kept < keep) {
				kept++;
				continue;
			}
			snprintf(path, sizeof(path), "%s/%s", dir, v[i].name);
			if (unlink(path) != 0) {
				cli_err("backup --keep: cannot remove %s: %s", path,
				        strerror(errno));
				r = SDB_EIO;
				continue;
			}
			json_array_append_new(removed, json_string(path));
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	if (r == SDB_ENOMEM)
		return output_err("backup --keep", r);
	return r ? CLI_FAIL : CLI_OK;
}

/* ---- backup ------------------------------------------------------------------ */

/* What `backup` or `restore` was asked. */
struct backup_args {
	const char *cmd;
	enum cli_format fmt;
	int64_t keep; /* backup --keep N, 0 if not given */
	int force;    /* restore --force */
};

/* cli_args.on_opt of both commands (--keep is backup's, --force restore's). */
static int backup_opt(void *ctx, int ch, char *arg)
{
	struct backup_args *a = ctx;

	switch (ch) {
	case 'k':
		return cli_parse_i64(a->cmd, "--keep", arg, 1, 1000000, &a->keep);
	case 'F':
		a->force = 1;
		return 0;
	case 'f':
		return ops_parse_format(a->cmd, arg, 0, &a->fmt);
	default:
		return CLI_ARG_UNKNOWN;
	}
}

/* The longest backup name (and directory) taken. */
#define BACKUP_NAME_MAX 4096

/*
 * Check backup's FILE argument `arg` and fill in its time fields: file[BACKUP_NAME_MAX]
 * receives the name to write, dir[BACKUP_NAME_MAX] its directory, *base the pattern
 * (arg's last component).  0, or CLI_USAGE after printing.
 */
static int backup_target(const char *arg, int64_t keep, char *file, char *dir, const char **base)
{
	const char *b;
	char name[BACKUP_NAME_MAX];
	int fields;

	if (!*arg)
		return cli_usage_err("backup", "FILE is empty");
	*base = b = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
	if (!*b)
		return cli_usage_err("backup", "FILE '%s' names a directory", arg);
	if (strchr(arg, '%') && strchr(arg, '%') < b)
		return cli_usage_err("backup", "time fields (%%Y ...) are allowed only in the file "
		                               "name, not in its directory");
	if (pattern_check(b, &fields) != 0)
		return cli_usage_err("backup", "FILE may contain only the time fields %%Y %%m %%d "
		                               "%%H %%M %%S (and %%%% for '%%')");
	if (keep && fields == 0)
		return cli_usage_err("backup", "--keep needs a FILE with time fields, e.g. "
		                               "scandb-%%Y%%m%%d-%%H%%M%%S.db");
	snprintf(dir, BACKUP_NAME_MAX, "%.*s", b > arg ? (int)(b - arg - 1) : 1,
	         b > arg ? arg : ".");
	if (b - arg == 1)
		snprintf(dir, BACKUP_NAME_MAX, "/");
	if (pattern_expand(b, time_now(), name, sizeof(name)) != 0 ||
	    snprintf(file, BACKUP_NAME_MAX, "%.*s%s", (int)(b - arg), arg, name) >= BACKUP_NAME_MAX)
		return cli_usage_err("backup", "FILE is too long");
	return 0;
}

/* Say what backup wrote (and what --keep removed) in format fmt. */
static int backup_report(const struct cli *c, const char *file,
                         const struct store_backup_info *info, json_t *removed, enum cli_format fmt)
{
	char size[32];

	ops_bytes(info->bytes, size, sizeof(size));
	if (fmt == CLI_FMT_JSON) {
		json_t *o = json_object();

		json_object_set_new(o, "file", json_string(file));
		json_object_set_new(o, "bytes", json_integer(info->bytes));
		json_object_set_new(o, "seconds", json_real(info->seconds));
		json_object_set_new(o, "method", json_string(info->method));
		json_object_set(o, "removed", removed);
		if (output_json_print(stdout, o) != 0)
			return output_err("backup", SDB_EIO);
		return CLI_OK;
	}
	printf("%s\n", file);
	if (c->quiet)
		return CLI_OK;
	cli_err("backed up to %s (%s in %.2f s, %s)", file, size, info->seconds, info->method);
	for (size_t i = 0; i < json_array_size(removed); i++) {
		const char *x = json_string_value(json_array_get(removed, i));
		const char *b = strrchr(x, '/') ? strrchr(x, '/') + 1 : x;
		cli_err("removed %s %s",
		        strstr(b, ".tmp-") ? "what an interrupted backup left:" : "old backup", x);
	}
	return CLI_OK;
}

int cmd_backup(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"keep", required_argument, NULL, 'k'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct backup_args a = {"backup", CLI_FMT_TABLE, 0, 0};
	const struct cli_args spec = {.cmd = "backup",
	                              .usage = backup_usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = backup_opt,
	                              .ctx = &a,
	                              .min = 1,
	                              .max = 1,
	                              .missing = "FILE"};
	struct store_backup_info info;
	char file[BACKUP_NAME_MAX], dir[BACKUP_NAME_MAX];
	const char *base = NULL;
	int first, r, rc = CLI_OK;
	json_t *removed;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	if ((r = backup_target(argv[first], a.keep, file, dir, &base)) != 0)
		return r;
	if ((r = cli_open_db(c, 1, 0, NULL, 0)) != CLI_OK)
		return r;
	if ((r = store_backup(c->st, file, &info)) != 0)
		return output_store_err(c, "backup", r);
	if (!(removed = json_array()))
		return output_err("backup", SDB_ENOMEM);
	if (a.keep) {
		const char *self = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
		rc = rotate(dir, base, self, (long)a.keep, removed);
	}
	r = backup_report(c, file, &info, removed, a.fmt);
	json_decref(removed);
	return r != CLI_OK ? r : rc;
}

/* ---- restore ------------------------------------------------------------------ */

/* Remove the SQLite file (and its -wal/-shm) that opening a missing target
 * created.  A server database (PostgreSQL) is never created by opening. */
static void remove_new_db(struct cli *c)
{
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	const char *path = c->db;

	cli_close(c);
	if (strncmp(path, "sqlite:", 7) == 0)
		path += 7;
	for (size_t i = 0; i < 4; i++) {
		char p[4200];
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		unlink(p);
	}
}

/*
 * Restore into a database that cannot be opened (msg says why): only a
 * SQLite file too damaged to open, and only with --force; the damaged file
 * is kept aside, its name in kept[klen].  CLI_OK, or CLI_FAIL after printing.
 */
static int restore_damaged(struct cli *c, const char *file, int force, const char *msg,
                           struct store_restore_info *info, char *kept, size_t klen)
{
	char why[512], err[1024];

	cli_err("%s", msg);
	if (!store_file_damaged(c->db, why, sizeof(why)))
		return CLI_FAIL;
	if (!force) {
		cli_err("the database is damaged (%s): 'scandb restore --force FILE' "
		        "replaces it (the damaged file is kept aside)",
		        why);
		cli_err("nothing was changed");
		return CLI_FAIL;
	}
	if (store_restore_damaged(c->db, file, info, kept, klen, err, sizeof(err)) != 0) {
		cli_err("restore: %s", err);
		cli_err("nothing was changed");
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* Say what restore did (kept: where a damaged database went, or ""). */
static int restore_report(const struct cli *c, const char *file,
                          const struct store_restore_info *info, const char *kept,
                          enum cli_format fmt)
{
	if (kept[0])
		cli_err("the damaged database was kept as %s (salvage from it with: sqlite3 %s "
		        ".recover | sqlite3 NEW.db; remove it when done)",
		        kept, kept);
	if (fmt == CLI_FMT_JSON) {
		json_t *o = json_object();
		json_object_set_new(o, "file", json_string(file));
		if (kept[0])
			json_object_set_new(o, "damaged_kept_as", json_string(kept));
		json_object_set_new(o, "schema_version", json_integer(info->schema_version));
		json_object_set_new(o, "pending_migrations", json_integer(info->pending));
		json_object_set_new(o, "jobs", json_integer(info->jobs));
		json_object_set_new(o, "hosts", json_integer(info->hosts));
		if (output_json_print(stdout, o) != 0)
			return output_err("restore", SDB_EIO);
	} else {
		printf("restored %s: schema version %d, %lld jobs, %lld hosts\n", file,
		       info->schema_version, (long long)info->jobs, (long long)info->hosts);
	}
	if (info->pending && !c->quiet)
		cli_err("the backup is %d migration%s behind this scandb: run 'scandb migrate up'",
		        info->pending, info->pending == 1 ? "" : "s");
	return CLI_OK;
}

int cmd_restore(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'F'},
	    {"format", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct backup_args a = {"restore", CLI_FMT_TABLE, 0, 0};
	const struct cli_args spec = {.cmd = "restore",
	                              .usage = restore_usage,
	                              .shortopts = ":h",
	                              .opts = opts,
	                              .on_opt = backup_opt,
	                              .ctx = &a,
	                              .min = 1,
	                              .max = 1,
	                              .missing = "FILE"};
	struct store_restore_info info;
	char msg[1024], kept[4300] = "";
	const char *file;
	int first, created, r;

	if ((r = cli_parse_args(&spec, argc, argv, &first)) != CLI_GO_ON)
		return r;
	file = argv[first];
	if (!file[0])
		return cli_usage_err("restore", "FILE is empty");
	/* The target may be new: it is created, and the restore fills it; if
	 * the restore fails, the new (empty) file is removed again. */
	created = store_open_existing(c->db, &c->st, NULL, 0) == SDB_ENOTFOUND;
	cli_close(c);
	if (cli_open_db(c, 0, 0, msg, sizeof(msg)) != CLI_OK) {
		/* a SQLite file too damaged to open: replacing it is what restore
		 * is for (with --force, as for any database with data) */
		if ((r = restore_damaged(c, file, a.force, msg, &info, kept, sizeof(kept))) !=
		    CLI_OK)
			return r;
	} else if ((r = store_restore(c->st, file, a.force, &info)) != 0) {
		output_store_err(c, "restore", r);
		if (created)
			remove_new_db(c);
		cli_err("nothing was changed");
		return CLI_FAIL;
	}
	return restore_report(c, file, &info, kept, a.fmt);
}
