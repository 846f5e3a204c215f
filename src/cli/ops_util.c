/*
 * ops_util.c - helpers shared by the database operations commands (see
 * ops_util.h).
 */
#include "cli/ops_util.h"

#include <stdio.h>
#include <string.h>

#include "cli/output.h"
#include "core/error.h"
#include "core/timeutil.h"

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

int ops_parse_format(const char *cmd, const char *s, int tabular, enum cli_format *out)
{
	enum cli_format f;

	if (strcmp(s, "table") == 0)
		f = CLI_FMT_TABLE;
	else if (strcmp(s, "json") == 0)
		f = CLI_FMT_JSON;
	else if (tabular && strcmp(s, "ndjson") == 0)
		f = CLI_FMT_NDJSON;
	else if (tabular && strcmp(s, "csv") == 0)
		f = CLI_FMT_CSV;
	else
		return cli_usage_err(cmd, "unknown format '%s' (use table%s)", s,
		                     tabular ? ", json, ndjson or csv" : " or json");
	*out = f;
	return 0;
}

/* One JSON value as CSV text (null -> NULL, printed empty). */
static const char *csv_value(const json_t *v, char *num, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return num;
	}
	if (json_is_real(v)) {
		snprintf(num, len, "%.17g", json_real_value(v));
		return num;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

int ops_print_rows(enum cli_format fmt, const char *const *keys, size_t nkeys, json_t *rows)
{
	struct output_stream js;
	size_t i;
	json_t *row;
	int r = 0;

	if (!rows)
		return SDB_ENOMEM;
	if (fmt == CLI_FMT_CSV) {
		r = output_csv_row(stdout, keys, nkeys);
		json_array_foreach(rows, i, row)
		{
			const char *vals[16];
			char nums[16][48];

			for (size_t k = 0; k < nkeys && k < 16; k++)
				vals[k] = csv_value(json_object_get(row, keys[k]), nums[k],
				                    sizeof(nums[k]));
			if (r == 0)
				r = output_csv_row(stdout, vals, nkeys < 16 ? nkeys : 16);
		}
	} else {
		r = output_stream_begin(&js, stdout, fmt);
		json_array_foreach(rows, i, row)
		{
			if (r == 0)
				r = output_stream_item(&js, json_incref(row));
		}
		if (r == 0)
			r = output_stream_end(&js);
	}
	json_decref(rows);
	return r;
}
