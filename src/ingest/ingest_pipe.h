/*
 * ingest_pipe.h - parse an nmap XML file on a second thread while the
 * calling thread stores the records, so an import takes about
 * max(parse, store) instead of parse + store.
 *
 * Owns: the parser thread, the bounded queue of record copies between the
 * two threads, and stopping/joining that thread on every path.  Does not
 * own: parsing (nmap_xml.c) or storing (the sink): every sink callback and
 * every on_chunk call still happens on the calling thread, in the same order
 * as with nmap_xml_parse_fd(), so a sink that is not thread-safe (the job
 * writer and its SQLite connection) needs no change.
 */
#ifndef SDB_INGEST_INGEST_PIPE_H
#define SDB_INGEST_INGEST_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "ingest/sink.h"

/* Regular files smaller than this are parsed on the calling thread. */
#define INGEST_PIPE_MIN_SIZE ((uint64_t)1 << 20)
/* Queue bounds: bytes of record copies and raw chunks, and messages.  So
 * the pipe adds at most MAX_BYTES (plus a parser thread) to an import's
 * memory. */
#define INGEST_PIPE_MAX_BYTES ((size_t)4 << 20)
#define INGEST_PIPE_MAX_COUNT 8192
/* A host record this big or bigger (many ports, long script outputs) is
 * not copied: the parser thread lends its own record and waits until the
 * calling thread has stored it, so a large host is held once, not twice. */
#define INGEST_PIPE_REF_MIN ((size_t)256 << 10)

/*
 * Same contract as nmap_xml_parse_fd() (ingest/nmap_xml.h): read `fd` to EOF,
 * parse it, and call sink's callbacks and on_chunk (optional) - all on the
 * calling thread, in the same order as nmap_xml_parse_fd() would.  Returns
 * the same codes: 0, the parser's SDB_E* error with its "NAME:LINE:COL:
 * what" message in err, SDB_EIO on a read error, or the non-zero code a sink
 * callback or on_chunk returned (parsing stops at once; the message then
 * has no line:col, since the parser has read ahead of the record that
 * failed).  err/errlen (optional) receive the message on failure, "" on
 * success.  Records are valid only during each callback, as always.
 *
 * A regular file under INGEST_PIPE_MIN_SIZE, or a failure to start the
 * thread, falls back to nmap_xml_parse_fd() on the calling thread.  Stdin,
 * pipes and sockets always use the thread; stopping early never waits for
 * their writer.
 */
int ingest_pipe_parse_fd(int fd, const char *name, const struct ingest_sink *sink,
                         int (*on_chunk)(void *ctx, const void *data, size_t len, uint64_t total),
                         void *chunk_ctx, char *err, size_t errlen);

/* Knobs for tests and benchmarks; zero fields take the defaults above
 * (min_size: set force_thread to use the thread for any size). */
struct ingest_pipe_opts {
	uint64_t min_size;
	int force_thread;
	size_t max_bytes;
	size_t max_count;
	size_t ref_min;
	/* Bytes already read from fd (by format detection, ingest_detect.c),
	 * parsed and handed to on_chunk first; borrowed for the call.  With a
	 * prefix the thread is always used. */
	const void *prefix;
	size_t prefix_len;
};

/* What happened, for tests and benchmarks. */
struct ingest_pipe_stats {
	int threaded;          /* 1 if the parser thread ran */
	uint64_t messages;     /* messages passed through the queue */
	size_t peak_bytes;     /* most bytes queued at once */
	size_t peak_count;     /* most messages queued at once */
	uint64_t parser_waits; /* times the parser thread waited for room */
	uint64_t sink_waits;   /* times the calling thread waited for records */
	uint64_t refs;         /* host records lent, not copied (INGEST_PIPE_REF_MIN) */
};

/* ingest_pipe_parse_fd() with knobs (opts may be NULL) and statistics
 * (stats may be NULL; it is filled on every return). */
int ingest_pipe_parse_fd_ex(int fd, const char *name, const struct ingest_sink *sink,
                            int (*on_chunk)(void *ctx, const void *data, size_t len,
                                            uint64_t total),
                            void *chunk_ctx, const struct ingest_pipe_opts *opts,
                            struct ingest_pipe_stats *stats, char *err, size_t errlen);

#endif
