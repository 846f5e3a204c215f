/*
 * masscan_json.c - the JSON formats of the masscan family (masscan.h), one
 * object a line, read with jansson: masscan -oJ (a list: "[", objects
 * with a "ports" array, separated by commas, "]"; the trailing comma and
 * the missing "]" masscan is known for are taken), masscan -oD (NDJSON,
 * "rec_type" status or banner) and zmap -O json (fields as in its CSV,
 * handed to zmap.c).  Each object becomes entries for the collector
 * (masscan_hosts.c).  A line is held, never the file.
 */
#include "ingest/masscan_int.h"

#include <jansson.h>
#include <string.h>

#include "core/error.h"

/* A string member of o, or NULL. */
static const char *str_of(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A whole-number member of o (a number or a numeric string), or def. */
static long long num_of(json_t *o, const char *key, long long def)
{
	json_t *v = json_object_get(o, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_string(v) && ms__ts(json_string_value(v)) > 0)
		return ms__ts(json_string_value(v));
	return def;
}

/* "open"/"closed" (masscan's only states) into *state. */
static int state_of(struct ms_parser *p, const char *s, long col, enum rec_port_state *state)
{
	if (s && rec_port_state_parse(s, state) == 0)
		return 0;
	return ms__fail(p, SDB_EPARSE, p->lineno, col, "port status '%.32s' is not a port state",
	                s ? s : "(none)");
}

/* The protocol of a port object ("tcp" when absent, as masscan means). */
static int proto_of(struct ms_parser *p, json_t *o, long col, enum rec_proto *proto)
{
	const char *s = str_of(o, "proto");

	*proto = REC_PROTO_TCP;
	if (!s || rec_proto_parse(s, proto) == 0)
		return 0;
	return ms__fail(p, SDB_EPARSE, p->lineno, col, "protocol '%.32s' is not tcp, udp or sctp",
	                s);
}

/* One element of -oJ's "ports" array. */
static int oj_port(struct ms_parser *p, struct ms_item *it, json_t *pt, long col)
{
	json_t *svc = json_object_get(pt, "service");
	int r;

	if (!json_is_object(pt))
		return ms__fail(p, SDB_EPARSE, p->lineno, col,
		                "a \"ports\" element is not an object");
	if ((r = proto_of(p, pt, col, &it->proto)) != 0)
		return r;
	it->port = (long)num_of(pt, "port", -1);
	if (json_is_object(svc)) {
		const char *b = str_of(svc, "banner");
		it->is_banner = 1;
		it->type = str_of(svc, "name");
		it->text = b ? b : "";
		it->text_len = b ? json_string_length(json_object_get(svc, "banner")) : 0;
	} else {
		it->is_banner = 0;
		if ((r = state_of(p, str_of(pt, "status"), col, &it->state)) != 0)
			return r;
		it->reason = str_of(pt, "reason");
		it->ttl = (long)num_of(pt, "ttl", -1);
	}
	return ms__add(p, it, p->lineno, col);
}

/* A masscan -oJ object: {"ip", "timestamp", "ports": [...]}. */
static int oj_object(struct ms_parser *p, json_t *o, long col)
{
	json_t *ports = json_object_get(o, "ports");
	struct ms_item it = {.addr = str_of(o, "ip"), .ttl = -1};
	size_t i;
	json_t *pt;
	int r;

	it.ts = ms__ts(str_of(o, "timestamp"));
	if (!it.ts)
		it.ts = num_of(o, "timestamp", 0);
	if (!json_is_array(ports))
		return ms__fail(p, SDB_EPARSE, p->lineno, col, "object without a \"ports\" list");
	json_array_foreach(ports, i, pt)
	{
		it.reason = it.type = it.text = NULL;
		it.ttl = -1;
		if ((r = oj_port(p, &it, pt, col)) != 0)
			return r;
	}
	return 0;
}

/* A masscan -oD object: {"ip", "timestamp", "port", "proto", "rec_type",
 * "data": {...}}. */
static int od_object(struct ms_parser *p, json_t *o, long col)
{
	const char *type = str_of(o, "rec_type");
	json_t *data = json_object_get(o, "data");
	struct ms_item it = {.addr = str_of(o, "ip"), .ttl = -1};
	int r;

	it.ts = num_of(o, "timestamp", 0);
	it.port = (long)num_of(o, "port", -1);
	if ((r = proto_of(p, o, col, &it.proto)) != 0)
		return r;
	if (!json_is_object(data))
		return ms__fail(p, SDB_EPARSE, p->lineno, col, "record without a \"data\" object");
	if (type && strcmp(type, "banner") == 0) {
		const char *b = str_of(data, "banner");
		it.is_banner = 1;
		it.type = str_of(data, "service_name");
		it.text = b ? b : "";
		it.text_len = b ? json_string_length(json_object_get(data, "banner")) : 0;
	} else if (type && strcmp(type, "status") == 0) {
		if ((r = state_of(p, str_of(data, "status"), col, &it.state)) != 0)
			return r;
		it.reason = str_of(data, "reason");
		it.ttl = (long)num_of(data, "ttl", -1);
	} else {
		return ms__fail(p, SDB_EPARSE, p->lineno, col,
		                "rec_type '%.32s' is not \"status\" or \"banner\"",
		                type ? type : "(none)");
	}
	return ms__add(p, &it, p->lineno, col);
}

/* A zmap JSON object: its fields as zmap.c reads them. */
static int zmap_object(struct ms_parser *p, json_t *o, long col)
{
	const char *fields[] = {
	    "saddr", "sport", "classification", "success", "timestamp-ts", "timestamp-str", "ttl"};
	char num[7][32];
	const char *vals[7];

	for (int i = 0; i < 7; i++) {
		json_t *v = json_object_get(o, fields[i]);
		if (!v && i == 4)
			v = json_object_get(o, "timestamp_ts");
		if (!v && i == 5)
			v = json_object_get(o, "timestamp_str");
		vals[i] = NULL;
		if (json_is_string(v)) {
			vals[i] = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(num[i], sizeof(num[i]), "%lld", (long long)json_integer_value(v));
			vals[i] = num[i];
		} else if (json_is_boolean(v)) {
			vals[i] = json_is_true(v) ? "1" : "0";
		}
	}
	return ms__zmap_fields(p, vals, col);
}

/* Read the object that starts at s (column col): 0, or the error. */
static int one_object(struct ms_parser *p, const char *s, size_t len, long col, size_t *used)
{
	json_error_t je;
	json_t *o;
	int r;

	o = json_loadb(s, len, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &je);
	if (!o)
		return ms__fail(p, SDB_EPARSE, p->lineno, col + (je.column > 0 ? je.column - 1 : 0),
		                "%s (one JSON object a line expected)", je.text);
	*used = (size_t)je.position;
	if (!json_is_object(o)) {
		json_decref(o);
		return ms__fail(p, SDB_EPARSE, p->lineno, col, "not a JSON object");
	}
	if (p->format == INGEST_MASSCAN_JSON)
		r = oj_object(p, o, col);
	else if (p->format == INGEST_MASSCAN_NDJSON)
		r = od_object(p, o, col);
	else
		r = zmap_object(p, o, col);
	json_decref(o);
	return r;
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/*
 * One line: objects, with -oJ's "[", "," and "]" around them where masscan
 * puts them (",\n" between objects, or a trailing "," before "]").  Any
 * other text is an error at its column.
 */
int ms__json_line(struct ms_parser *p, char *line, size_t len)
{
	size_t i = 0;
	int r;

	while (i < len) {
		char c = line[i];
		size_t used = 0;

		if (is_ws(c) || (c == ',' && p->format == INGEST_MASSCAN_JSON)) {
			i++;
			continue;
		}
		if (p->json_closed)
			return ms__fail(p, SDB_EPARSE, p->lineno, (long)i + 1,
			                "text after the list's closing ']'");
		if (p->format == INGEST_MASSCAN_JSON && (c == '[' || c == ']')) {
			p->json_closed = c == ']';
			i++;
			continue;
		}
		if (c != '{')
			return ms__fail(p, SDB_EPARSE, p->lineno, (long)i + 1,
			                "'%c' where a JSON object was expected", c);
		if ((r = one_object(p, line + i, len - i, (long)i + 1, &used)) != 0)
			return r;
		i += used ? used : 1;
	}
	return 0;
}
