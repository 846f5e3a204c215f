/*
 * ingest_detect.h - which scanner wrote a file, told from its content (its
 * first bytes and lines, never its name), and the one reader that parses a
 * descriptor in whatever format it holds: nmap XML (ingest_pipe.c), masscan
 * -oX, -oJ, -oL and -oD, zmap CSV and JSON (masscan.h).  Every format ends
 * in the same records pushed to the same sink (ingest/sink.h).
 */
#ifndef SDB_INGEST_INGEST_DETECT_H
#define SDB_INGEST_INGEST_DETECT_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/sink.h"

enum ingest_format {
	INGEST_UNKNOWN = 0,
	INGEST_NMAP_XML,       /* nmap -oX (also any XML that is not masscan's) */
	INGEST_MASSCAN_XML,    /* masscan -oX: <nmaprun scanner="masscan"> */
	INGEST_MASSCAN_JSON,   /* masscan -oJ: a list of objects, one a line */
	INGEST_MASSCAN_LIST,   /* masscan -oL: "open tcp 80 10.0.0.1 1700000000" */
	INGEST_MASSCAN_NDJSON, /* masscan -oD: one object a line, "rec_type" */
	INGEST_ZMAP_CSV,       /* zmap -O csv: a header line naming the fields */
	INGEST_ZMAP_JSON,      /* zmap -O json: one object a line, "saddr" */
	INGEST_ZMAP_ADDRS,     /* zmap's default output: one address a line */
};

/* How many bytes detection looks at (at most). */
#define INGEST_DETECT_HEAD 8192

/* The format of a file that starts with head[0..len) (len: what could be
 * read, up to INGEST_DETECT_HEAD); INGEST_UNKNOWN when it is none. */
enum ingest_format ingest_detect(const char *head, size_t len);

/* "nmap XML", "masscan -oX", ...: for messages.  Never NULL. */
const char *ingest_format_name(enum ingest_format f);

/* The scan time that the first bytes of a masscan or zmap file show
 * (head[0..len), format f): -oX's start attribute, else the first
 * entry's timestamp (zmap: timestamp-ts).  1 and *t, or 0 (none there,
 * another format). */
int ingest_peek_time(enum ingest_format f, const char *head, size_t len, int64_t *t);

/* What the user says about a file that its content does not. */
struct ingest_opts {
	/* The ports the scan probed ("22,80,U:53": nmap's and masscan's -p
	 * syntax; T:, U:, S: switch protocol, TCP first), for masscan and
	 * zmap files, which do not say it; NULL: the ports they report.  Must
	 * have passed ingest_ports_check(). */
	const char *ports;
};

/* Is `spec` a --ports value?  0, or SDB_EPARSE with what is wrong in
 * err[0..errlen). */
int ingest_ports_check(const char *spec, char *err, size_t errlen);

/*
 * Read `fd` to EOF and parse it in the format its content shows, pushing
 * records to `sink`; the contract of ingest_pipe_parse_fd() (on_chunk sees
 * every byte once, in order; err gets "NAME:LINE:COL: what" or
 * "NAME:LINE: what").  A format nobody reads is SDB_EPARSE ("not a scan
 * output ..."), and o->ports on an nmap file is SDB_EUSAGE (nmap states
 * its scope).  *format (may be NULL) receives what was detected.
 */
int ingest_parse_fd(int fd, const char *name, const struct ingest_sink *sink,
                    int (*on_chunk)(void *ctx, const void *data, size_t len, uint64_t total),
                    void *chunk_ctx, const struct ingest_opts *o, enum ingest_format *format,
                    char *err, size_t errlen);

#endif
