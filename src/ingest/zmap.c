/*
 * zmap.c - zmap's outputs (masscan.h): CSV with a header line naming the
 * fields the user chose (-O csv -f "saddr,sport,classification,..."), the
 * same fields as JSON objects (read by masscan_json.c, handed here), and
 * zmap's default output, one address a line.  Read: saddr, sport,
 * classification, success, timestamp-ts / timestamp-str, ttl; any other
 * field is ignored.  zmap probes one port per scan: a response without
 * sport (or an address list) takes the single port of --ports.  A
 * success (synack) is an open port, a rst a closed one; other responses
 * (ICMP unreachable, ...) say nothing about the port and are skipped.
 */
#include "ingest/masscan_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/timeutil.h"

enum { Z_SADDR, Z_SPORT, Z_CLASS, Z_SUCCESS, Z_TS, Z_TSSTR, Z_TTL, Z_NFIELDS };

/* zmap's "2026-12-08T00:24:01.481+0000" into Unix seconds; 0 if not one. */
static int64_t iso_ts(const char *s)
{
	char buf[24];
	const char *z;
	int64_t t;

	if (!s || strlen(s) < 19)
		return 0;
	memcpy(buf, s, 19);
	memcpy(buf + 19, "Z", 2);
	if (time_parse_since(buf, 0, &t) != 0)
		return 0;
	for (z = s + 19; *z && *z != '+' && *z != '-' && *z != 'Z'; z++)
		;
	if ((*z == '+' || *z == '-') && strlen(z) >= 5) {
		int hh = (z[1] - '0') * 10 + (z[2] - '0'), mm = (z[3] - '0') * 10 + (z[4] - '0');
		int64_t off = (int64_t)(hh * 3600 + mm * 60);
		t += *z == '+' ? -off : off;
	}
	return t > 0 ? t : 0;
}

/* The single port of --ports, for responses that do not name theirs. */
static int default_port(struct ms_parser *p, long col, struct ms_item *it)
{
	const char *s = p->ports;
	char *end;
	long v;

	if (s && (s[0] == 'T' || s[0] == 't' || s[0] == 'U' || s[0] == 'u') && s[1] == ':') {
		it->proto = s[0] == 'U' || s[0] == 'u' ? REC_PROTO_UDP : REC_PROTO_TCP;
		s += 2;
	}
	v = s ? strtol(s, &end, 10) : -1;
	if (!s || *end != '\0' || v < 0 || v > 65535)
		return ms__fail(p, SDB_EPARSE, p->lineno, col,
		                "the response does not name its port (no sport field): give the "
		                "one port zmap probed with --ports");
	it->port = v;
	return 0;
}

int ms__zmap_fields(struct ms_parser *p, const char *const v[7], long col)
{
	struct ms_item it = {.addr = v[Z_SADDR], .ttl = -1, .proto = REC_PROTO_TCP};
	const char *cls = v[Z_CLASS];
	char *end;
	int r;

	if (!it.addr)
		return ms__fail(p, SDB_EPARSE, p->lineno, col, "response without saddr");
	if (cls && strncmp(cls, "udp", 3) == 0)
		it.proto = REC_PROTO_UDP;
	if (v[Z_SPORT]) {
		it.port = strtol(v[Z_SPORT], &end, 10);
		if (!*v[Z_SPORT] || *end)
			return ms__fail(p, SDB_EPARSE, p->lineno, col,
			                "sport '%.32s' is not a port", v[Z_SPORT]);
	} else if ((r = default_port(p, col, &it)) != 0) {
		return r;
	}
	if ((v[Z_SUCCESS] && strcmp(v[Z_SUCCESS], "1") == 0) ||
	    (cls && strncmp(cls, "synack", 6) == 0) || (!v[Z_SUCCESS] && !cls)) {
		it.state = REC_PORT_OPEN;
		it.reason = it.proto == REC_PROTO_TCP ? "syn-ack" : "udp-response";
	} else if (cls && strcmp(cls, "rst") == 0) {
		it.state = REC_PORT_CLOSED;
		it.reason = "reset";
	} else {
		return 0; /* says nothing about the port */
	}
	it.ts = ms__ts(v[Z_TS]);
	if (!it.ts)
		it.ts = iso_ts(v[Z_TSSTR]);
	if (v[Z_TTL])
		it.ttl = strtol(v[Z_TTL], &end, 10);
	return ms__add(p, &it, p->lineno, col);
}

/* Split a CSV line in place (zmap quotes a field with "..." when needed). */
static int csv_split(char *line, char **f, long *col, int max)
{
	int n = 0;
	char *s = line;

	for (;;) {
		char *w;
		if (n == max)
			return -1;
		col[n] = (long)(s - line) + 1;
		if (*s == '"') {
			for (w = f[n] = ++s; *s && !(*s == '"' && s[1] != '"'); s++)
				*w++ = *s == '"' ? *++s : *s;
			if (*s == '"')
				s++;
			*w = '\0';
		} else {
			for (f[n] = s; *s && *s != ','; s++)
				;
		}
		n++;
		if (*s != ',') {
			*s = '\0';
			return n;
		}
		*s++ = '\0';
	}
}

/* The header line: which column holds each field read. */
static int csv_header(struct ms_parser *p, char **f, int n)
{
	static const char *const names[][2] = {{"saddr", NULL},
	                                       {"sport", NULL},
	                                       {"classification", NULL},
	                                       {"success", NULL},
	                                       {"timestamp-ts", "timestamp_ts"},
	                                       {"timestamp-str", "timestamp_str"},
	                                       {"ttl", NULL}};
	for (int i = 0; i < n; i++)
		for (int k = 0; k < Z_NFIELDS; k++)
			if (strcmp(f[i], names[k][0]) == 0 ||
			    (names[k][1] && strcmp(f[i], names[k][1]) == 0))
				p->zcol[k] = i;
	if (p->zcol[Z_SADDR] < 0)
		return ms__fail(p, SDB_EPARSE, p->lineno, 1,
		                "zmap CSV header without a saddr field");
	p->ncols = n;
	return 0;
}

int ms__zmap_line(struct ms_parser *p, char *line, size_t len)
{
	char *f[MS_MAX_ZMAP_COLS];
	long col[MS_MAX_ZMAP_COLS];
	const char *v[Z_NFIELDS];
	int n;

	(void)len;
	if (!*line || *line == '#')
		return 0;
	if (p->format == INGEST_ZMAP_ADDRS) {
		for (int k = 0; k < Z_NFIELDS; k++)
			v[k] = NULL;
		v[Z_SADDR] = line;
		return ms__zmap_fields(p, v, 1);
	}
	if ((n = csv_split(line, f, col, MS_MAX_ZMAP_COLS)) < 0)
		return ms__fail(p, SDB_EPARSE, p->lineno, 1, "more than %d fields",
		                MS_MAX_ZMAP_COLS);
	if (!p->ncols)
		return csv_header(p, f, n);
	if (n != p->ncols)
		return ms__fail(p, SDB_EPARSE, p->lineno, col[n - 1],
		                "%d fields where the header names %d", n, p->ncols);
	for (int k = 0; k < Z_NFIELDS; k++) {
		int i = p->zcol[k];
		v[k] = i >= 0 && *f[i] ? f[i] : NULL;
	}
	return ms__zmap_fields(p, v, col[p->zcol[Z_SADDR]]);
}
