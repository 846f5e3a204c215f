/*
 * masscan_int.h - what the masscan and zmap parsers share (masscan.h):
 * the parser struct, the per-host collector (masscan_hosts.c: entries in,
 * host records out) and each format's entry points (masscan_xml.c,
 * masscan_json.c, masscan_list.c, zmap.c).
 */
#ifndef SDB_INGEST_MASSCAN_INT_H
#define SDB_INGEST_MASSCAN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/record.h"
#include "ingest/masscan.h"

/* One thing the file said about one (host, port): its state, or a banner. */
struct ms_entry {
	uint32_t host; /* index into ms_hosts.hosts */
	uint32_t seq;  /* file order */
	uint16_t port;
	uint8_t proto;      /* enum rec_proto */
	uint8_t is_banner;  /* 1: banner (type, text), 0: state */
	uint8_t state;      /* enum rec_port_state (a state entry) */
	int16_t ttl;        /* -1 absent */
	const char *reason; /* interned, NULL absent */
	const char *type;   /* banner: masscan's type ("http", "ssh", ...) */
	const char *text;   /* banner: its text (arena) */
	size_t text_len;
};

struct ms_host {
	char addr[46];
	int family;
	int64_t first, last; /* timestamps, 0 absent */
};

/* An open-addressing index: slot = element index + 1, 0 empty. */
struct ms_index {
	uint32_t *slot;
	size_t cap, count;
};
enum { MS_IX_HOSTS, MS_IX_PORTS };

/* The collector: hosts by address (ix[MS_IX_HOSTS]); entries in file
 * order, one state entry per (host, proto, port) (ix[MS_IX_PORTS]), and
 * the banners. */
struct ms_hosts {
	struct ms_host *hosts;
	size_t nhosts, hosts_cap;
	struct ms_index ix[2];
	struct ms_entry *ents;
	size_t nents, ents_cap;
	struct arena strs;       /* banners, reasons, types */
	const char *last_reason; /* the reason kept last (reused when equal) */
	size_t banner_bytes;
	int64_t first, last; /* over the file */
};

/* One entry as a format read it; the collector copies what it keeps. */
struct ms_item {
	const char *addr; /* as written; checked and made canonical here */
	enum rec_proto proto;
	long port;
	int64_t ts; /* 0 absent */
	int is_banner;
	enum rec_port_state state;
	const char *reason;
	long ttl; /* -1 absent */
	const char *type;
	const char *text;
	size_t text_len;
};

struct ms_parser {
	enum ingest_format format;
	struct ingest_sink sink;
	char *name;
	char *ports;         /* the user's --ports, or NULL */
	const char *scanner; /* "masscan" / "zmap" */
	char version[64];    /* masscan -oX's version attribute */
	int64_t start, end;  /* the file's own run times (-oX), 0 absent */
	struct ms_hosts hs;
	int err; /* the first error, sticky */
	char errmsg[1024];
	int done;
	/* line formats */
	char *line;
	size_t line_len, line_cap;
	long lineno;
	int json_closed; /* -oJ: the closing ']' was seen */
	/* zmap CSV: the column of each field read (zmap.c's Z_*), -1 absent */
	int zcol[7];
	int ncols;
	/* masscan -oX */
	void *xml;      /* the expat parser */
	void *xml_host; /* the <host> being read (masscan_xml.c) */
};

/* Set the parser's error (sticky; the first one wins): "NAME:LINE:COL:
 * what" (col 0: "NAME:LINE: what"; line 0: "NAME: what").  Returns code. */
int ms__fail(struct ms_parser *p, int code, long line, long col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Tell the sink's warning callback "NAME:LINE: what"; its return code. */
int ms__warn(struct ms_parser *p, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add one entry (line: for messages).  0 or an error (set on p). */
int ms__add(struct ms_parser *p, const struct ms_item *it, long line, long col);
/* Push everything collected to the sink (see masscan.h).  truncated: the
 * input was cut off (the sink accepted it). */
int ms__emit(struct ms_parser *p, int truncated);
void ms__hosts_free(struct ms_hosts *hs);
/* A timestamp written as text or a number: 0 when absent or not one. */
int64_t ms__ts(const char *s);

/* Split fed bytes into lines and hand each to the format's reader. */
int ms__lines_feed(struct ms_parser *p, const char *data, size_t len, int final);

/* Each format's reader of one line (NUL-terminated, no newline). */
int ms__json_line(struct ms_parser *p, char *line, size_t len);
int ms__list_line(struct ms_parser *p, char *line, size_t len);
int ms__zmap_line(struct ms_parser *p, char *line, size_t len);
/* A zmap response from its fields (NULL: absent): saddr, sport,
 * classification, success, timestamp-ts, timestamp-str, ttl. */
int ms__zmap_fields(struct ms_parser *p, const char *const vals[7], long col);

/* masscan -oX, on expat. */
int ms__xml_new(struct ms_parser *p);
int ms__xml_feed(struct ms_parser *p, const char *data, size_t len, int final);
void ms__xml_free(struct ms_parser *p);

#endif
