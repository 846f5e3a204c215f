/*
 * ingest_detect.c - which format a file is in, told from its first bytes
 * (ingest_detect.h), and the one reader of a descriptor in any format:
 * nmap XML goes to ingest_pipe.c (the parser thread), masscan's and zmap's
 * formats to masscan.h's parsers, fed here chunk by chunk.  The bytes read
 * to tell the format are read once: a regular file is peeked with pread(),
 * a pipe's first bytes are handed on to the parser.
 */
#include "ingest/ingest_detect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/addr.h"
#include "core/error.h"
#include "ingest/ingest_pipe.h"
#include "ingest/masscan.h"

#define READ_CHUNK (64 * 1024)
/* A pipe is read for detection until this much came (or it ended). */
#define PIPE_HEAD 1024

const char *ingest_format_name(enum ingest_format f)
{
	switch (f) {
	case INGEST_NMAP_XML:
		return "nmap XML";
	case INGEST_MASSCAN_XML:
		return "masscan -oX";
	case INGEST_MASSCAN_JSON:
		return "masscan -oJ";
	case INGEST_MASSCAN_LIST:
		return "masscan -oL";
	case INGEST_MASSCAN_NDJSON:
		return "masscan -oD";
	case INGEST_ZMAP_CSV:
		return "zmap CSV";
	case INGEST_ZMAP_JSON:
		return "zmap JSON";
	case INGEST_ZMAP_ADDRS:
		return "zmap address list";
	default:
		return "unknown";
	}
}

static int has(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(s + i, needle, k) == 0)
			return 1;
	return 0;
}

/* XML: masscan's when its <nmaprun> says scanner="masscan". */
static enum ingest_format detect_xml(const char *s, size_t n)
{
	for (size_t i = 0; i + 8 <= n; i++) {
		if (memcmp(s + i, "<nmaprun", 8) == 0) {
			size_t m = n - i < 512 ? n - i : 512;
			return has(s + i, m, "scanner=\"masscan\"") ||
			               has(s + i, m, "scanner='masscan'")
			           ? INGEST_MASSCAN_XML
			           : INGEST_NMAP_XML;
		}
	}
	return INGEST_NMAP_XML; /* whatever XML it is, nmap's parser says what is wrong */
}

/* A first line that is neither XML nor JSON nor masscan's list. */
static enum ingest_format detect_text(const char *s, size_t n)
{
	char line[128];
	size_t k = 0;

	while (k < n && k < sizeof(line) - 1 && s[k] != '\n' && s[k] != '\r')
		k++;
	if (k == n && n >= sizeof(line) - 1)
		k = 0;
	memcpy(line, s, k);
	line[k] = '\0';
	if (strncmp(line, "open ", 5) == 0 || strncmp(line, "closed ", 7) == 0 ||
	    strncmp(line, "banner ", 7) == 0)
		return INGEST_MASSCAN_LIST;
	if (addr_parse(line, NULL, NULL, NULL) == 0)
		return INGEST_ZMAP_ADDRS;
	for (char *f = line, *e; f; f = e ? e + 1 : NULL) {
		if ((e = strchr(f, ',')) != NULL)
			*e = '\0';
		if (strcmp(f, "saddr") == 0)
			return INGEST_ZMAP_CSV;
	}
	/* a zmap CSV header longer than the line kept above */
	if (has(s, n, "saddr,") || has(s, n, ",saddr"))
		return INGEST_ZMAP_CSV;
	return INGEST_UNKNOWN;
}

enum ingest_format ingest_detect(const char *head, size_t len)
{
	const char *s = head;
	size_t n = len, eol;

	if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3, n -= 3;
	while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
		s++, n--;
	if (!n)
		return INGEST_UNKNOWN;
	for (eol = 0; eol < n && s[eol] != '\n'; eol++)
		;
	switch (*s) {
	case '<':
		return detect_xml(s, n);
	case '[':
		return INGEST_MASSCAN_JSON;
	case '#':
		return INGEST_MASSCAN_LIST;
	case '{':
		if (has(s, eol, "\"rec_type\""))
			return INGEST_MASSCAN_NDJSON;
		if (has(s, eol, "\"saddr\""))
			return INGEST_ZMAP_JSON;
		if (has(s, eol, "\"ports\"") || has(s, eol, "\"ip\""))
			return INGEST_MASSCAN_JSON;
		return INGEST_UNKNOWN;
	default:
		return detect_text(s, n);
	}
}

/* The digits after the first `key` in s[0..n) (skipping quotes, colons
 * and blanks); 0 if none. */
static int64_t number_after(const char *s, size_t n, const char *key)
{
	size_t k = strlen(key);
	int64_t v = 0;

	for (size_t i = 0; i + k <= n; i++) {
		if (memcmp(s + i, key, k) != 0)
			continue;
		for (i += k; i < n && (s[i] == '"' || s[i] == ':' || s[i] == '=' || s[i] == ' ');)
			i++;
		for (; i < n && s[i] >= '0' && s[i] <= '9' && v < INT64_MAX / 10; i++)
			v = v * 10 + (s[i] - '0');
		return v;
	}
	return 0;
}

/* -oL: the fifth field of the first open/closed/banner line. */
static int64_t list_time(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		const char *eol = memchr(s + i, '\n', n - i);
		size_t len = eol ? (size_t)(eol - (s + i)) : n - i;
		char line[256], f[5][64];

		if (!eol)
			return 0; /* a line cut by the head's end */
		snprintf(line, sizeof(line), "%.*s", (int)(len < 255 ? len : 255), s + i);
		if (line[0] != '#' &&
		    sscanf(line, "%63s %63s %63s %63s %63s", f[0], f[1], f[2], f[3], f[4]) == 5)
			return number_after(f[4], strlen(f[4]), "");
		i += len + 1;
	}
	return 0;
}

/* zmap CSV: the timestamp-ts field of the first row after the header. */
static int64_t csv_time(const char *s, size_t n)
{
	const char *eol = memchr(s, '\n', n), *row, *end;
	int col = 0, want = -1;

	if (!eol)
		return 0;
	for (const char *f = s; f < eol; col++) {
		const char *c = memchr(f, ',', (size_t)(eol - f));
		size_t len = (size_t)((c ? c : eol) - f);
		if ((len == 12 &&
		     (memcmp(f, "timestamp-ts", 12) == 0 || memcmp(f, "timestamp_ts", 12) == 0)))
			want = col;
		f = c ? c + 1 : eol;
	}
	row = eol + 1;
	if (want < 0 || !(end = memchr(row, '\n', n - (size_t)(row - s))))
		return 0;
	for (col = 0; col < want && row < end; col++) {
		const char *c = memchr(row, ',', (size_t)(end - row));
		row = c ? c + 1 : end;
	}
	return row < end ? number_after(row, (size_t)(end - row), "") : 0;
}

int ingest_peek_time(enum ingest_format f, const char *head, size_t len, int64_t *t)
{
	switch (f) {
	case INGEST_MASSCAN_XML:
		*t = number_after(head, len, " start=");
		break;
	case INGEST_MASSCAN_JSON:
	case INGEST_MASSCAN_NDJSON:
		*t = number_after(head, len, "\"timestamp\"");
		break;
	case INGEST_MASSCAN_LIST:
		*t = list_time(head, len);
		break;
	case INGEST_ZMAP_CSV:
		*t = csv_time(head, len);
		break;
	case INGEST_ZMAP_JSON:
		*t = number_after(head, len, "\"timestamp-ts\"");
		if (!*t)
			*t = number_after(head, len, "\"timestamp_ts\"");
		break;
	default:
		*t = 0;
		break;
	}
	if (*t <= 0 || *t > 253402300799LL)
		*t = 0;
	return *t != 0;
}

/* Read up to `want` bytes of the head: pread() on a regular file (the
 * offset does not move), read() on anything else.  The count, or -1. */
static ssize_t read_head(int fd, int is_reg, char *buf, size_t want)
{
	off_t at = is_reg ? lseek(fd, 0, SEEK_CUR) : 0;
	size_t got = 0;

	if (at < 0)
		at = 0;
	while (got < want) {
		ssize_t n = is_reg ? pread(fd, buf + got, want - got, at + (off_t)got)
		                   : read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

struct feed_ctx {
	int (*on_chunk)(void *ctx, const void *data, size_t len, uint64_t total);
	void *chunk_ctx;
	uint64_t total;
};

/* Hand bytes to on_chunk and the parser. */
static int feed(struct ms_parser *p, struct feed_ctx *fc, const char *data, size_t len, int final)
{
	int r;

	fc->total += len;
	if (len && fc->on_chunk && (r = fc->on_chunk(fc->chunk_ctx, data, len, fc->total)) != 0)
		return r;
	return ms_parser_feed(p, data, len, final);
}

/* A masscan or zmap input: the head (when not re-readable) then the rest. */
static int parse_ms(int fd, const char *name, enum ingest_format f, const struct ingest_sink *sink,
                    struct feed_ctx *fc, const char *ports, const char *head, size_t hlen,
                    char *err, size_t errlen)
{
	struct ms_parser *p = NULL;
	char *buf = malloc(READ_CHUNK);
	int r;

	if (!buf || (r = ms_parser_new(f, sink, name, ports, &p)) != 0) {
		free(buf);
		snprintf(err, errlen, "%s: out of memory", name);
		return SDB_ENOMEM;
	}
	r = hlen ? feed(p, fc, head, hlen, 0) : 0;
	while (r == 0) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "%s: read failed: %s", name, strerror(errno));
			r = SDB_EIO;
			break;
		}
		r = feed(p, fc, buf, (size_t)n, n == 0);
		if (n == 0)
			break;
	}
	if (r != 0 && !err[0])
		snprintf(err, errlen, "%s",
		         ms_parser_errmsg(p)[0] ? ms_parser_errmsg(p) : sdb_strerror(r));
	ms_parser_free(p);
	free(buf);
	return r;
}

int ingest_parse_fd(int fd, const char *name, const struct ingest_sink *sink,
                    int (*on_chunk)(void *ctx, const void *data, size_t len, uint64_t total),
                    void *chunk_ctx, const struct ingest_opts *o, enum ingest_format *format,
                    char *err, size_t errlen)
{
	char head[INGEST_DETECT_HEAD], tmp[16];
	struct feed_ctx fc = {on_chunk, chunk_ctx, 0};
	struct stat sb;
	int is_reg = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
	enum ingest_format f;
	ssize_t hlen;

	if (!err || !errlen)
		err = tmp, errlen = sizeof(tmp);
	err[0] = '\0';
	if (!name)
		name = "<input>";
	if ((hlen = read_head(fd, is_reg, head, is_reg ? sizeof(head) : PIPE_HEAD)) < 0) {
		snprintf(err, errlen, "%s: read failed: %s", name, strerror(errno));
		return SDB_EIO;
	}
	f = ingest_detect(head, (size_t)hlen);
	if (format)
		*format = f;
	if (f == INGEST_UNKNOWN) {
		snprintf(
		    err, errlen,
		    "%s:1:1: %s: not nmap XML, masscan -oX/-oJ/-oL/-oD or zmap CSV/JSON output "
		    "(the format is told from the content, not the file name)",
		    name, hlen ? "unknown format" : "empty input");
		return SDB_EPARSE;
	}
	if (f == INGEST_NMAP_XML) {
		struct ingest_pipe_opts po = {.prefix = head, .prefix_len = (size_t)hlen};
		if (o && o->ports) {
			snprintf(
			    err, errlen,
			    "%s: --ports is for masscan and zmap files: nmap XML states the ports "
			    "it scanned",
			    name);
			return SDB_EUSAGE;
		}
		return ingest_pipe_parse_fd_ex(fd, name, sink, on_chunk, chunk_ctx,
		                               is_reg ? NULL : &po, NULL, err, errlen);
	}
	return parse_ms(fd, name, f, sink, &fc, o ? o->ports : NULL, head,
	                is_reg ? 0 : (size_t)hlen, err, errlen);
}
