/*
 * nmap_xml.h - streaming parser for nmap's XML output (-oX), built on expat.
 *
 * Owns: turning bytes into records pushed to a sink, validation of every
 * value (ranges, enumerations, address syntax), and refusing hostile XML
 * (entity declarations, external entities, oversized tokens).  Does not own:
 * storage, file handling beyond the convenience reader below.
 *
 * Memory stays flat: only the current <host> is held, every string is
 * length-capped, and so is all a host holds (NMAP_XML_MAX_HOST,
 * NMAP_XML_MAX_HOST_OUTPUT) and all the run's scripts hold
 * (NMAP_XML_MAX_RUN_BYTES); expat's own memory is capped too.  Memory does
 * not grow with the file's size or its number of hosts.
 */
#ifndef SDB_INGEST_NMAP_XML_H
#define SDB_INGEST_NMAP_XML_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/sink.h"

/* Limits on untrusted input; exceeding one is a parse error naming it
 * (NAME:LINE:COL) - but for script output, which is cut (below). */
#define NMAP_XML_MAX_FIELD       4096       /* names, products, reasons, ... */
#define NMAP_XML_MAX_ARGS        65536      /* nmaprun args (command line) */
#define NMAP_XML_MAX_SERVICES    (1u << 20) /* scaninfo services (a port list) */
#define NMAP_XML_MAX_TOKEN       (4u << 20) /* bytes fed with no event at all */
#define NMAP_XML_MAX_DEPTH       64
#define NMAP_XML_MAX_PORTS       (4 * 65536) /* ports in one host */
#define NMAP_XML_MAX_SCRIPTS     65536       /* scripts in one host */
#define NMAP_XML_MAX_NAMES       1024        /* names, extraports, osmatches; cpes */
#define NMAP_XML_MAX_HOST        (16u << 20) /* what one host holds, script output aside */
#define NMAP_XML_MAX_RUN_SCRIPTS 4096        /* <prescript> + <postscript> scripts */
/*
 * Script output is kept, not refused, past these: what fits is kept, cut on
 * a UTF-8 boundary and followed by "\n[scandb: output cut to N of its M
 * bytes]", and the sink's warning callback says which script, where and
 * why.  nmap's own outputs are rarely over 1 MiB; a longer one is more
 * likely a spider's crawl or a crafted file than something to read whole.
 * (An output longer than NMAP_XML_MAX_TOKEN cannot be read at all: expat
 * holds a whole attribute in memory first.)
 */
#define NMAP_XML_MAX_OUTPUT      (1u << 20) /* one script's output */
#define NMAP_XML_MAX_HOST_OUTPUT (8u << 20) /* all script output of one host */
#define NMAP_XML_MAX_RUN_BYTES   (8u << 20) /* <prescript> + <postscript> output */

struct nmap_parser;

/* Counters, read with nmap_parser_stats(). */
struct nmap_parser_stats {
	uint64_t bytes;
	uint64_t hosts;
	uint64_t ports;
};

/*
 * Create a parser that pushes to *sink (copied; sink->ctx is borrowed).
 * `name` (a file name or "<stdin>") is used in error messages and copied.
 * On success *out is set; free with nmap_parser_free().
 */
int nmap_parser_new(const struct ingest_sink *sink, const char *name, struct nmap_parser **out);

/*
 * Feed the next `len` bytes; `final` = 1 on the last call (len may be 0).
 * Returns 0, SDB_EPARSE/SDB_ETOOBIG/SDB_ENOMEM/SDB_ERANGE (message from
 * nmap_parser_errmsg), or the non-zero code a sink callback returned.
 * After an error, further feeds return the same error.  A document that ends
 * before </nmaprun> is an error ("truncated").
 */
int nmap_parser_feed(struct nmap_parser *p, const void *data, size_t len, int final);

/* "NAME:LINE:COL: what is wrong"; "" if no error.  Owned by the parser. */
const char *nmap_parser_errmsg(const struct nmap_parser *p);
void nmap_parser_stats(const struct nmap_parser *p, struct nmap_parser_stats *out);
void nmap_parser_free(struct nmap_parser *p);

/*
 * Convenience: read `fd` to EOF in chunks and parse it.  `on_chunk`
 * (optional) is called after every chunk with the bytes so far and the raw
 * chunk (used for hashing and progress); a non-zero return stops parsing.
 * `err`/`errlen` receive the message on failure.
 */
int nmap_xml_parse_fd(int fd, const char *name, const struct ingest_sink *sink,
                      int (*on_chunk)(void *ctx, const void *data, size_t len, uint64_t total),
                      void *chunk_ctx, char *err, size_t errlen);

#endif
