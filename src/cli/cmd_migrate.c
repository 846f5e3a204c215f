/*
 * cmd_migrate.c - `scandb migrate up|status|verify|down [VERSION]`: the only
 * command that may change the schema of an existing database.  Opens the
 * store without the schema check (that is what it is here to fix).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "core/error.h"
#include "core/timeutil.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: scandb migrate status [--format table|json]\n"
	        "       scandb migrate up [VERSION]     apply pending migrations (to VERSION)\n"
	        "       scandb migrate down [--force] [VERSION]\n"
	        "                                       revert to VERSION (default: one step;\n"
	        "                                       0 reverts everything, dropping all data)\n"
	        "       scandb migrate verify           check applied migrations' checksums\n\n"
	        "  --format FORMAT  status: table (default) or json\n"
	        "  --force          down: needed when a reverted migration drops tables,\n"
	        "                   columns or rows (the data in them is lost)\n\n"
	        "Migrations are embedded in scandb, applied exactly once each (safe to run\n"
	        "concurrently), and checksummed: a database whose applied migrations differ\n"
	        "from this binary's is refused.\n");
}

static int print_status(struct cli *c, enum cli_format fmt)
{
	struct store_migration *ms = NULL;
	size_t n = 0;
	int r;

	if ((r = store_migrate_status(c->st, &ms, &n)) != 0) {
		cli_err("migrate status: %s", store_errmsg(c->st));
		return CLI_FAIL;
	}
	if (fmt == CLI_FMT_JSON) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			char at[TIME_ISO_LEN];
			time_format_iso(ms[i].applied_at, at);
			json_array_append_new(
			    arr,
			    json_pack("{s:i, s:s, s:s, s:b, s:o, s:b, s:b}", "version",
			              ms[i].version, "name", ms[i].name, "checksum", ms[i].checksum,
			              "applied", ms[i].applied, "applied_at",
			              ms[i].applied ? json_string(at) : json_null(), "checksum_ok",
			              ms[i].applied ? ms[i].checksum_ok : 1, "known", ms[i].known));
		}
		json_dumpf(arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(arr);
	} else {
		printf("%-8s %-24s %-9s %-21s %s\n", "VERSION", "NAME", "STATUS", "APPLIED AT",
		       "CHECKSUM");
		for (size_t i = 0; i < n; i++) {
			char at[TIME_ISO_LEN];
			const char *s = !ms[i].applied       ? "pending"
			                : !ms[i].known       ? "UNKNOWN"
			                : !ms[i].checksum_ok ? "CHANGED"
			                                     : "applied";
			time_format_iso(ms[i].applied_at, at);
			printf("%04d     %-24s %-9s %-21s %.12s\n", ms[i].version, ms[i].name, s,
			       ms[i].applied ? at : "-", ms[i].checksum);
		}
	}
	free(ms);
	return CLI_OK;
}

/*
 * migrate down without --force: refused (CLI_USAGE, nothing changed) when a
 * migration it would revert drops tables, columns or rows, naming them.
 * target < 0: one step.
 */
static int check_down(struct cli *c, int target)
{
	struct store_migration *ms = NULL;
	char names[1024] = "";
	size_t n = 0, off = 0;
	int r, top = 0, lossy = 0;

	if ((r = store_migrate_status(c->st, &ms, &n)) != 0) {
		cli_err("migrate down: %s", store_errmsg(c->st));
		return CLI_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		if (ms[i].applied && !ms[i].known) {
			free(ms); /* store_migrate_down refuses it: "newer" */
			return CLI_OK;
		}
		if (ms[i].applied && ms[i].version > top)
			top = ms[i].version;
	}
	if (target < 0) {
		/* one step: down to the applied migration below the top */
		target = 0;
		for (size_t i = 0; i < n; i++)
			if (ms[i].applied && ms[i].version < top && ms[i].version > target)
				target = ms[i].version;
	}
	for (size_t i = n; i-- > 0;) {
		if (!ms[i].applied || ms[i].version <= target ||
		    !store_migration_down_drops(c->st, ms[i].version))
			continue;
		lossy++;
		if (off < sizeof(names))
			off += (size_t)snprintf(names + off, sizeof(names) - off, "%s%04d_%s",
			                        off ? ", " : "", ms[i].version, ms[i].name);
	}
	free(ms);
	if (!lossy)
		return CLI_OK;
	return cli_usage_err("migrate",
	                     "down to %d would revert %s, which drop%s tables or columns and "
	                     "the data in them; nothing was changed.  Back up first (scandb "
	                     "backup FILE), then add --force",
	                     target, names, lossy == 1 ? "s" : "");
}

int cmd_migrate(struct cli *c, int argc, char **argv)
{
	enum cli_format fmt = CLI_FMT_TABLE;
	const char *sub;
	int64_t version = -1;
	int rc, n = 0, r, force = 0;

	if (argc < 2 || cli_wants_help(argc, argv)) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	sub = argv[1];
	if (strcmp(sub, "status") == 0) {
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
				if ((rc = cli_parse_format("migrate", argv[++i], &fmt)) != 0)
					return rc;
			} else {
				return cli_usage_err("migrate", "unexpected argument '%s'",
				                     argv[i]);
			}
		}
	} else if (strcmp(sub, "up") == 0 || strcmp(sub, "down") == 0) {
		const char *v = NULL;
		for (int i = 2; i < argc; i++) {
			if (strcmp(sub, "down") == 0 && strcmp(argv[i], "--force") == 0)
				force = 1;
			else if (argv[i][0] == '-' && argv[i][1] != '\0')
				return cli_usage_err("migrate", "%s: unknown option '%s'", sub,
				                     argv[i]);
			else if (v)
				return cli_usage_err("migrate", "too many arguments");
			else
				v = argv[i];
		}
		if (v && (rc = cli_parse_i64("migrate", "VERSION", v, 0, 9999, &version)) != 0)
			return rc;
	} else if (strcmp(sub, "verify") == 0) {
		if (argc > 2)
			return cli_usage_err("migrate", "verify: unexpected argument '%s'",
			                     argv[2]);
	} else {
		return cli_usage_err("migrate", "unknown subcommand '%s'", sub);
	}
	/* looking (status, verify) never creates a database */
	if ((rc = cli_open_as(c,
	                      strcmp(sub, "up") == 0     ? CLI_OPEN_MIGRATE
	                      : strcmp(sub, "down") == 0 ? CLI_OPEN_ADMIN
	                                                 : CLI_OPEN_INSPECT,
	                      NULL, 0)) != CLI_OK)
		return rc;
	if (strcmp(sub, "status") == 0)
		return print_status(c, fmt);
	if (strcmp(sub, "verify") == 0) {
		if ((r = store_migrate_verify(c->st)) != 0) {
			cli_err("migrate verify: %s", store_errmsg(c->st));
			return CLI_FAIL;
		}
		if (!c->quiet)
			fprintf(stderr, "scandb: all applied migrations match this scandb\n");
		return CLI_OK;
	}
	if (strcmp(sub, "up") == 0) {
		if ((r = store_migrate_verify(c->st)) != 0 ||
		    (r = store_migrate_up(c->st, version < 0 ? 0 : (int)version, &n)) != 0) {
			cli_err("migrate up: %s", store_errmsg(c->st));
			return CLI_FAIL;
		}
		if (!c->quiet)
			fprintf(stderr, "scandb: %d migration%s applied\n", n, n == 1 ? "" : "s");
		return CLI_OK;
	}
	if (!force && (rc = check_down(c, (int)version)) != CLI_OK)
		return rc;
	if ((r = store_migrate_down(c->st, (int)version, &n)) != 0) {
		cli_err("migrate down: %s", store_errmsg(c->st));
		return CLI_FAIL;
	}
	if (!c->quiet)
		fprintf(stderr, "scandb: %d migration%s reverted\n", n, n == 1 ? "" : "s");
	return CLI_OK;
}
