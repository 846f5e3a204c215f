/*
 * masscan_list.c - masscan's -oL text format (masscan.h), one line each:
 *   #masscan                                  (comments: '#' lines)
 *   open tcp 80 10.0.0.1 1700000000           (STATE PROTO PORT ADDR TIME)
 *   banner tcp 22 10.0.0.1 1700000000 ssh SSH-2.0-OpenSSH_8.9
 *                                              (... TYPE TEXT: the rest)
 *   # end
 * Blank lines are skipped; anything else is an error at its column.  The
 * banner text is kept as masscan wrote it (it escapes bytes as \xNN).
 */
#include "ingest/masscan_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#define LIST_FIELDS 6

/* Cut the next space-separated field from *s (NUL-terminated in place);
 * its 1-based column in *col.  NULL when the line has no more. */
static char *next_field(char **s, const char *line, long *col)
{
	char *f = *s, *e;

	while (*f == ' ' || *f == '\t')
		f++;
	if (!*f)
		return NULL;
	*col = (long)(f - line) + 1;
	for (e = f; *e && *e != ' ' && *e != '\t'; e++)
		;
	*s = *e ? e + 1 : e;
	*e = '\0';
	return f;
}

static long whole(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return *s && *end == '\0' && v >= 0 ? v : -1;
}

int ms__list_line(struct ms_parser *p, char *line, size_t len)
{
	struct ms_item it = {.ttl = -1};
	char *s = line, *f[LIST_FIELDS];
	long col[LIST_FIELDS] = {0};
	int n = 0;

	(void)len;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == '#')
		return 0;
	while (n < LIST_FIELDS && (f[n] = next_field(&s, line, &col[n])) != NULL)
		n++;
	if (strcmp(f[0], "banner") == 0) {
		if (n < LIST_FIELDS)
			return ms__fail(p, SDB_EPARSE, p->lineno, col[n - 1],
			                "a banner line is: banner PROTO PORT ADDR TIME TYPE TEXT");
		while (*s == ' ')
			s++;
		it.is_banner = 1;
		it.type = f[5];
		it.text = s;
		it.text_len = strlen(s);
	} else if (rec_port_state_parse(f[0], &it.state) != 0 || n != 5) {
		return ms__fail(p, SDB_EPARSE, p->lineno, n == 5 || n == 1 ? col[0] : col[n - 1],
		                "expected 'open|closed PROTO PORT ADDR TIME' or 'banner ...'");
	}
	if (rec_proto_parse(f[1], &it.proto) != 0 || it.proto == REC_PROTO_IP)
		return ms__fail(p, SDB_EPARSE, p->lineno, col[1], "'%.32s' is not tcp, udp or sctp",
		                f[1]);
	if ((it.port = whole(f[2])) < 0)
		return ms__fail(p, SDB_EPARSE, p->lineno, col[2], "'%.32s' is not a port", f[2]);
	if (it.port > 65535)
		return ms__fail(p, SDB_EPARSE, p->lineno, col[2], "port %ld out of range 0-65535",
		                it.port);
	if ((it.ts = ms__ts(f[4])) == 0 && strcmp(f[4], "0") != 0)
		return ms__fail(p, SDB_EPARSE, p->lineno, col[4], "'%.32s' is not a Unix time",
		                f[4]);
	it.addr = f[3];
	return ms__add(p, &it, p->lineno, col[3]);
}
