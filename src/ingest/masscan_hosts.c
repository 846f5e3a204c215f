/*
 * masscan_hosts.c - the part of the masscan and zmap parsers (masscan.h)
 * every format shares: the parser object (new, feed, free, its error),
 * the line splitter of the line-based formats, and the per-host collector
 * that turns entries seen in any order into one host record per address
 * at the end, with the probed scope (the user's --ports and the ports the
 * file reports).  Holds no format's syntax.
 *
 * Memory: the collector keeps one struct ms_host per distinct address, one
 * struct ms_entry per (host, port) state or banner read, and the banners'
 * text (each cut at MS_MAX_BANNER, all of them capped at MS_MAX_BANNERS);
 * the input itself is never held beyond the current line (MS_MAX_LINE).
 */
#include "ingest/masscan_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/error.h"
#include "core/utf8.h"
#include "core/vec.h"

#define ARENA_BLOCK (64 * 1024)

/* ---- the parser object ----------------------------------------------- */

int ms__fail(struct ms_parser *p, int code, long line, long col, const char *fmt, ...)
{
	char what[768];
	va_list ap;

	if (p->err)
		return p->err;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (line > 0 && col > 0)
		snprintf(p->errmsg, sizeof(p->errmsg), "%s:%ld:%ld: %s", p->name, line, col, what);
	else if (line > 0)
		snprintf(p->errmsg, sizeof(p->errmsg), "%s:%ld: %s", p->name, line, what);
	else
		snprintf(p->errmsg, sizeof(p->errmsg), "%s: %s", p->name, what);
	p->err = code;
	return code;
}

int ms__warn(struct ms_parser *p, long line, const char *fmt, ...)
{
	char what[768], msg[1024];
	va_list ap;

	if (!p->sink.warning)
		return 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%s:%ld: %s", p->name, line, what);
	return p->sink.warning(p->sink.ctx, msg);
}

int ms_parser_new(enum ingest_format f, const struct ingest_sink *sink, const char *name,
                  const char *ports, struct ms_parser **out)
{
	struct ms_parser *p;

	*out = NULL;
	if (f < INGEST_MASSCAN_XML || f > INGEST_ZMAP_ADDRS)
		return SDB_EUSAGE;
	if (ports && ingest_ports_check(ports, NULL, 0) != 0)
		return SDB_EPARSE;
	if (!(p = calloc(1, sizeof(*p))))
		return SDB_ENOMEM;
	p->format = f;
	p->sink = *sink;
	p->scanner = f >= INGEST_ZMAP_CSV ? "zmap" : "masscan";
	for (int i = 0; i < 7; i++)
		p->zcol[i] = -1;
	arena_init(&p->hs.strs, ARENA_BLOCK, 0);
	if (!(p->name = strdup(name ? name : "<input>")) ||
	    (ports && !(p->ports = strdup(ports))) ||
	    (f == INGEST_MASSCAN_XML && ms__xml_new(p) != 0)) {
		ms_parser_free(p);
		return SDB_ENOMEM;
	}
	*out = p;
	return 0;
}

int ms_parser_feed(struct ms_parser *p, const void *data, size_t len, int final)
{
	int r;

	if (p->err)
		return p->err;
	if (p->done)
		return 0;
	if (p->format == INGEST_MASSCAN_XML)
		return ms__xml_feed(p, data, len, final);
	/* (-oJ without its closing ']' is taken: masscan often leaves it out) */
	if ((r = ms__lines_feed(p, data, len, final)) != 0 || !final)
		return r;
	return ms__emit(p, 0);
}

const char *ms_parser_errmsg(const struct ms_parser *p)
{
	return p->errmsg;
}

void ms_parser_free(struct ms_parser *p)
{
	if (!p)
		return;
	ms__xml_free(p);
	ms__hosts_free(&p->hs);
	free(p->line);
	free(p->name);
	free(p->ports);
	free(p);
}

/* ---- lines -------------------------------------------------------------- */

static int one_line(struct ms_parser *p)
{
	size_t n = p->line_len;

	p->lineno++;
	if (n && p->line[n - 1] == '\r')
		n--;
	p->line[n] = '\0';
	if (memchr(p->line, '\0', n))
		return ms__fail(p, SDB_EPARSE, p->lineno, (long)strlen(p->line) + 1,
		                "NUL byte in a text line");
	switch (p->format) {
	case INGEST_MASSCAN_JSON:
	case INGEST_MASSCAN_NDJSON:
	case INGEST_ZMAP_JSON:
		return ms__json_line(p, p->line, n);
	case INGEST_MASSCAN_LIST:
		return ms__list_line(p, p->line, n);
	default:
		return ms__zmap_line(p, p->line, n);
	}
}

int ms__lines_feed(struct ms_parser *p, const char *data, size_t len, int final)
{
	int r;

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;

		if (p->line_len + take > MS_MAX_LINE)
			return ms__fail(p, SDB_ETOOBIG, p->lineno + 1, 0,
			                "line longer than %u bytes", MS_MAX_LINE);
		if (VEC_RESERVE(p->line, p->line_cap, p->line_len + take + 1, 256))
			return ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory");
		memcpy(p->line + p->line_len, data, take);
		p->line_len += take;
		data += take;
		len -= take;
		if (nl) {
			data++;
			len--;
			if ((r = one_line(p)) != 0)
				return r;
			p->line_len = 0;
		}
	}
	if (final && p->line_len > 0) { /* a last line without its newline */
		if (VEC_RESERVE(p->line, p->line_cap, p->line_len + 1, 256))
			return ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory");
		r = one_line(p);
		p->line_len = 0;
		return r;
	}
	return 0;
}

/* ---- the collector -------------------------------------------------------- */

int64_t ms__ts(const char *s)
{
	char *end;
	long long v;

	if (!s || !*s)
		return 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0' && *end != '.')
		return 0;
	return v > 0 && v < 253402300800LL ? (int64_t)v : 0; /* before year 10000 */
}

static uint32_t addr_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static uint32_t port_hash(const struct ms_entry *e)
{
	return (e->host * 2654435761u) ^ ((uint32_t)e->proto << 16 | e->port) * 40503u;
}

/* The hash of host i (MS_IX_HOSTS) or of state entry i's (host, proto,
 * port) (MS_IX_PORTS). */
static uint32_t ix_hash(const struct ms_hosts *hs, int which, uint32_t i)
{
	return which == MS_IX_HOSTS ? addr_hash(hs->hosts[i].addr) : port_hash(&hs->ents[i]);
}

/* Make room in index `which` for one more element, rehashing when it
 * would pass half full.  0 or SDB_ENOMEM. */
static int ix_reserve(struct ms_hosts *hs, int which)
{
	struct ms_index *ix = &hs->ix[which];
	size_t n = ix->cap ? ix->cap * 2 : 1024;
	uint32_t *s;

	if ((ix->count + 1) * 2 <= ix->cap)
		return 0;
	if (!(s = calloc(n, sizeof(*s))))
		return SDB_ENOMEM;
	for (size_t k = 0; k < ix->cap; k++) {
		if (ix->slot[k]) {
			size_t j = ix_hash(hs, which, ix->slot[k] - 1) & (n - 1);
			while (s[j])
				j = (j + 1) & (n - 1);
			s[j] = ix->slot[k];
		}
	}
	free(ix->slot);
	ix->slot = s;
	ix->cap = n;
	return 0;
}

/* The index of the host at canonical address `addr` (added if new). */
static int host_index(struct ms_hosts *hs, const char *addr, int family, uint32_t *out)
{
	struct ms_index *ix = &hs->ix[MS_IX_HOSTS];
	size_t j;

	if (ix_reserve(hs, MS_IX_HOSTS) != 0)
		return SDB_ENOMEM;
	for (j = addr_hash(addr) & (ix->cap - 1); ix->slot[j]; j = (j + 1) & (ix->cap - 1)) {
		if (strcmp(hs->hosts[ix->slot[j] - 1].addr, addr) == 0) {
			*out = ix->slot[j] - 1;
			return 0;
		}
	}
	if (hs->nhosts >= UINT32_MAX - 1 ||
	    VEC_RESERVE(hs->hosts, hs->hosts_cap, hs->nhosts + 1, 64))
		return SDB_ENOMEM;
	memset(&hs->hosts[hs->nhosts], 0, sizeof(hs->hosts[0]));
	memcpy(hs->hosts[hs->nhosts].addr, addr, strlen(addr) + 1);
	hs->hosts[hs->nhosts].family = family;
	ix->slot[j] = (uint32_t)hs->nhosts + 1;
	ix->count++;
	*out = (uint32_t)hs->nhosts++;
	return 0;
}

/* The state entry already kept for e's (host, proto, port), or NULL; else
 * *slot is where e's index goes once it is added. */
static struct ms_entry *state_of(struct ms_hosts *hs, const struct ms_entry *e, uint32_t **slot)
{
	struct ms_index *ix = &hs->ix[MS_IX_PORTS];

	for (size_t j = port_hash(e) & (ix->cap - 1);; j = (j + 1) & (ix->cap - 1)) {
		struct ms_entry *o;
		if (!ix->slot[j]) {
			*slot = &ix->slot[j];
			return NULL;
		}
		o = &hs->ents[ix->slot[j] - 1];
		if (o->host == e->host && o->proto == e->proto && o->port == e->port)
			return o;
	}
}

/* The length of the character at s[i] (of n) to keep as it is, or 0 for
 * a byte to escape: not UTF-8, or a control character but tab, CR, LF. */
static size_t char_len(const char *s, size_t i, size_t n)
{
	unsigned char c = (unsigned char)s[i];
	size_t k = c < 0x80 ? 1 : utf8_seq_len((const unsigned char *)s + i);

	if (k == 0 || i + k > n || c == 0x7f || (c < 0x20 && c != '\t' && c != '\r' && c != '\n'))
		return 0;
	return k;
}

/* s[0..n) into the arena with each byte char_len() refuses written as
 * masscan writes them, "\\xNN": a banner is text in every backend.  NULL
 * if out of memory. */
static char *keep_text(struct arena *a, const char *s, size_t n)
{
	size_t out = 0, k;
	char *d, *w;

	for (size_t i = 0; i < n; i += k ? k : 1)
		out += (k = char_len(s, i, n)) ? k : 4;
	if (!(d = arena_alloc(a, out + 1, 1)))
		return NULL;
	w = d;
	for (size_t i = 0; i < n; i += k ? k : 1) {
		if ((k = char_len(s, i, n)) != 0) {
			memcpy(w, s + i, k);
			w += k;
		} else {
			snprintf(w, 5, "\\x%02x", (unsigned char)s[i]);
			w += 4;
		}
	}
	*w = '\0';
	return d;
}

/* A banner type as kept: letters, digits, '.', '-' and '_' (others '_'). */
static const char *keep_type(struct arena *a, const char *t)
{
	size_t n = t && *t ? strlen(t) : 0;
	char *d;

	if (!n)
		return "banner";
	if (!(d = arena_strndup(a, t, n > 32 ? 32 : n)))
		return NULL;
	for (char *c = d; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_'))
			*c = '_';
	return d;
}

/* The banner's text as kept: cut at MS_MAX_BANNER on a character. */
static int keep_banner(struct ms_parser *p, const struct ms_item *it, struct ms_entry *e, long line)
{
	size_t n = it->text_len;
	int r;

	if (n > MS_MAX_BANNER) {
		n = MS_MAX_BANNER;
		while (n > 0 && ((unsigned char)it->text[n] & 0xC0) == 0x80)
			n--; /* do not cut a UTF-8 sequence */
		if ((r = ms__warn(p, line, "banner of %s port %ld cut to %zu of its %zu bytes",
		                  it->addr, it->port, n, it->text_len)) != 0)
			return r;
	}
	if (n > MS_MAX_BANNERS - p->hs.banner_bytes)
		return ms__fail(p, SDB_ETOOBIG, line, 0, "banners over %u bytes in all",
		                MS_MAX_BANNERS);
	p->hs.banner_bytes += n;
	if (!(e->text = keep_text(&p->hs.strs, it->text, n)) ||
	    !(e->type = keep_type(&p->hs.strs, it->type)))
		return ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory");
	e->text_len = strlen(e->text);
	return 0;
}

/* Keep e: a state of a (host, port) the file gave before replaces that
 * one (the last state counts; one entry per port however often a file
 * repeats it), a banner is added. */
static int keep_entry(struct ms_parser *p, const struct ms_entry *e)
{
	struct ms_hosts *hs = &p->hs;
	uint32_t *slot = NULL;
	struct ms_entry *old;

	if (!e->is_banner) {
		if (ix_reserve(hs, MS_IX_PORTS) != 0)
			return ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory");
		if ((old = state_of(hs, e, &slot)) != NULL) {
			old->state = e->state;
			old->ttl = e->ttl;
			old->reason = e->reason;
			return 0;
		}
	}
	if (hs->nents >= MS_MAX_ENTRIES)
		return ms__fail(p, SDB_ETOOBIG, p->lineno, 0, "more than %u (host, port) entries",
		                MS_MAX_ENTRIES);
	if (VEC_RESERVE(hs->ents, hs->ents_cap, hs->nents + 1, 256))
		return ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory");
	hs->ents[hs->nents] = *e;
	hs->ents[hs->nents].seq = (uint32_t)hs->nents;
	if (slot) {
		*slot = (uint32_t)hs->nents + 1;
		hs->ix[MS_IX_PORTS].count++;
	}
	hs->nents++;
	return 0;
}

int ms__add(struct ms_parser *p, const struct ms_item *it, long line, long col)
{
	struct ms_hosts *hs = &p->hs;
	char canon[ADDR_TEXT_MAX];
	struct ms_entry e;
	int family, r;

	if (!it->addr || addr_parse(it->addr, canon, &family, NULL) != 0)
		return ms__fail(p, SDB_EPARSE, line, col, "'%.64s' is not an IP address",
		                it->addr ? it->addr : "");
	if (it->port < 0 || it->port > 65535)
		return ms__fail(p, SDB_EPARSE, line, col, "port %ld out of range 0-65535",
		                it->port);
	memset(&e, 0, sizeof(e));
	if (host_index(hs, canon, family, &e.host) != 0)
		return ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory");
	e.port = (uint16_t)it->port;
	e.proto = (uint8_t)it->proto;
	e.is_banner = it->is_banner != 0;
	e.state = (uint8_t)it->state;
	e.ttl = it->ttl >= 0 && it->ttl <= 255 ? (int16_t)it->ttl : -1;
	if (it->reason && *it->reason) { /* nearly always the one before */
		if (hs->last_reason && strncmp(hs->last_reason, it->reason, 64) == 0)
			e.reason = hs->last_reason;
		else if (!(e.reason = hs->last_reason =
		               keep_text(&hs->strs, it->reason, strnlen(it->reason, 64))))
			return ms__fail(p, SDB_ENOMEM, 0, 0, "out of memory");
	}
	if (e.is_banner && (r = keep_banner(p, it, &e, line)) != 0)
		return r;
	if (it->ts > 0) {
		struct ms_host *h = &hs->hosts[e.host];
		if (!h->first || it->ts < h->first)
			h->first = it->ts;
		if (it->ts > h->last)
			h->last = it->ts;
		if (!hs->first || it->ts < hs->first)
			hs->first = it->ts;
		if (it->ts > hs->last)
			hs->last = it->ts;
	}
	return keep_entry(p, &e);
}

void ms__hosts_free(struct ms_hosts *hs)
{
	free(hs->hosts);
	free(hs->ix[MS_IX_HOSTS].slot);
	free(hs->ix[MS_IX_PORTS].slot);
	free(hs->ents);
	arena_free(&hs->strs);
	memset(hs, 0, sizeof(*hs));
}
