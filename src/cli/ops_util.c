/*
 * ops_util.c - helpers shared by the database operations commands (see
 * ops_util.h).
 */
#include "cli/ops_util.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/timeutil.h"

int ops_open(struct cli *c, int existing, int ready, char *msg, size_t msglen)
{
	char buf[1024];
	int r;

	buf[0] = '\0';
	r = existing ? store_open_existing(c->db, &c->st, buf, sizeof(buf))
	             : store_open(c->db, &c->st, buf, sizeof(buf));
	if (r != 0) {
		if (msg)
			snprintf(msg, msglen, "cannot open database %s: %s", c->db,
			         buf[0] ? buf : sdb_strerror(r));
		else
			cli_err("cannot open database %s: %s", c->db,
			        buf[0] ? buf : sdb_strerror(r));
		return CLI_FAIL;
	}
	if (ready && (r = store_ensure_ready(c->st)) != 0) {
		if (msg)
			snprintf(msg, msglen, "database %s: %s", c->db, store_errmsg(c->st));
		else
			cli_err("database %s: %s", c->db, store_errmsg(c->st));
		cli_close(c);
		return CLI_FAIL;
	}
	return CLI_OK;
}

void ops_bytes(int64_t b, char *out, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = -1;

	if (b < 0) {
		snprintf(out, len, "-");
		return;
	}
	if (b < 1024) {
		snprintf(out, len, "%lld B", (long long)b);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", v, units[u]);
}

json_t *ops_json_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *ops_json_opt(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

json_t *ops_json_time(int64_t t)
{
	char iso[TIME_ISO_LEN];

	if (t == 0)
		return json_null();
	time_format_iso(t, iso);
	return json_string(iso);
}

int ops_parse_format(const char *cmd, const char *s, enum cli_format *out)
{
	if (strcmp(s, "table") == 0) {
		*out = CLI_FMT_TABLE;
		return 0;
	}
	if (strcmp(s, "json") == 0) {
		*out = CLI_FMT_JSON;
		return 0;
	}
	return cli_usage_err(cmd, "unknown format '%s' (use table or json)", s);
}
