/*
 * ingest_pipe.c - nmap XML parsed on a second thread, its records stored on
 * the calling thread (see ingest_pipe.h).
 *
 * Owns: the parser thread, the bounded queue between the threads, and the
 * stop/join protocol.  Does not own: parsing (nmap_xml.c), storing (the
 * caller's sink), or what on_chunk does.  The parser thread never calls the
 * caller's sink or on_chunk: it deep-copies each record into one malloc'ed
 * message and queues it; the calling thread makes the real calls.
 *
 *   parser thread: parser_main()            calling thread: ingest_pipe_parse_fd_ex()
 *
 *   read(fd) --> push(CHUNK: the bytes) ---+
 *   nmap_parser_feed() --> copy_* sink:    |    +-----------------+
 *     record --> deep copy --> push(RUN,   +--> | FIFO queue      | --> pop() --> on_chunk() or
 *     SCANINFO, HOST, PROGRESS, END) ------+    | <= max_bytes    |     sink->X(ctx, copy),
 *   end of each chunk: flush() wakes caller     | <= max_count    |     free(copy)
 *   EOF or error: result, errmsg, done = 1 ---> +-----------------+ --> empty and done: join,
 *                                                                       return the parser's result
 *   push(), flush(), poll() see stop:      <--- stop = 1, a byte on the wake pipe <-- a callback
 *     return SDB_EINTR, done = 1                failed: join, return its code (rest freed)
 *
 * A record of INGEST_PIPE_REF_MIN bytes or more (a host with long script
 * outputs, the run's scripts) is lent, not copied: lend() queues M_REF (a
 * pointer to the parser's own record) and the parser thread waits on "room"
 * until the caller has delivered it (ref_returned: ref_done = 1) or stops,
 * so such a record is in memory once, not twice.
 *
 * on_chunk runs on the calling thread as well: cmd_import's on_chunk reads
 * the host count that its sink increments, which would be a data race from
 * the parser thread; there its progress line also shows what is stored
 * rather than what is parsed.  The chunk's bytes are queued ahead of the
 * records parsed from them, the order in which nmap_xml_parse_fd() calls.
 *
 * Waking: the parser sleeps on "room" only while the queue is non-empty and
 * full; the caller sleeps on "ready" only while it is empty; either wakes
 * the other before sleeping.  Wake-ups are batched (the caller is woken after
 * WAKE_BATCH messages or at the end of each chunk, the parser once the
 * queue has drained to half) so a full queue does not cost a context switch
 * per host.
 */
#include "ingest/ingest_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "ingest/nmap_xml.h"

#define READ_CHUNK (64 * 1024) /* as nmap_xml_parse_fd() reads */
#define WAKE_BATCH 64          /* messages queued before a sleeping caller is woken */

enum msg_kind { M_CHUNK, M_RUN, M_SCANINFO, M_HOST, M_PROGRESS, M_END, M_WARNING, M_REF };

/* One queued callback: the record (its strings and arrays in data[]), or a
 * raw chunk (its bytes in data[]).  One malloc'ed block; `size` is what it
 * counts against the queue's byte bound. */
struct msg {
	struct msg *next;
	size_t size;
	enum msg_kind kind;
	union {
		struct rec_run run;
		struct rec_scaninfo si;
		struct rec_host host;
		struct {
			enum msg_kind kind; /* M_HOST or M_END */
			const void *rec;    /* the parser's own record, not a copy */
		} ref;
		struct {
			const char *task;
			double percent;
		} progress;
		struct rec_runstats rs;
		struct {
			size_t len;
			uint64_t total;
		} chunk;
	} u;
	max_align_t data[];
};

struct ingest_pipe {
	/* Set before the thread starts, read-only afterwards. */
	int fd;
	int fd_is_reg;
	int wake[2]; /* non-regular fds: the caller writes a byte to stop a poll */
	const char *name;
	int want_chunks;
	size_t max_bytes, max_count, ref_min;
	const char *prefix; /* opts.prefix: parsed before fd's bytes */
	size_t prefix_len;
	/* Parser thread only, once started. */
	struct nmap_parser *parser;
	char *buf;
	char errmsg[1024]; /* the caller reads it only after the join */
	int result;        /* idem */

	pthread_mutex_t mu;
	pthread_cond_t room;  /* parser waits: room in the queue, or stop */
	pthread_cond_t ready; /* caller waits: a message, or done */
	/* Guarded by mu. */
	struct msg *head, *tail;
	size_t bytes, count;
	int parser_waiting, caller_waiting;
	int stop;     /* the caller wants no more */
	int done;     /* the parser thread has finished */
	int ref_done; /* the caller is done with the M_REF record */
	struct ingest_pipe_stats st;
};

/* ---- parser thread ------------------------------------------------------ */

static struct msg *msg_new(enum msg_kind kind, size_t extra)
{
	size_t head = offsetof(struct msg, data);
	struct msg *m;

	if (extra > SIZE_MAX - head || !(m = malloc(head + extra)))
		return NULL;
	m->next = NULL;
	m->size = head + extra;
	m->kind = kind;
	return m;
}

/* Is the queue too full to take m?  (A lone message always fits.) */
static int queue_full(const struct ingest_pipe *pp, const struct msg *m)
{
	if (pp->count == 0)
		return 0;
	return pp->count >= pp->max_count || pp->bytes >= pp->max_bytes ||
	       m->size > pp->max_bytes - pp->bytes;
}

/* Queue m, waiting for room.  Takes m in every case.  Returns 0, or
 * SDB_EINTR once the caller asked to stop (m is then freed). */
static int push(struct ingest_pipe *pp, struct msg *m)
{
	int r = 0;

	pthread_mutex_lock(&pp->mu);
	while (!pp->stop && queue_full(pp, m)) {
		if (pp->caller_waiting) /* cannot be (it is not empty), but never both sleep */
			pthread_cond_signal(&pp->ready);
		pp->parser_waiting = 1;
		pp->st.parser_waits++;
		pthread_cond_wait(&pp->room, &pp->mu);
		pp->parser_waiting = 0;
	}
	if (pp->stop) {
		free(m);
		r = SDB_EINTR;
		goto out;
	}
	if (pp->tail)
		pp->tail->next = m;
	else
		pp->head = m;
	pp->tail = m;
	pp->bytes += m->size;
	pp->count++;
	pp->st.messages++;
	if (pp->bytes > pp->st.peak_bytes)
		pp->st.peak_bytes = pp->bytes;
	if (pp->count > pp->st.peak_count)
		pp->st.peak_count = pp->count;
	if (pp->caller_waiting && pp->count >= WAKE_BATCH)
		pthread_cond_signal(&pp->ready);
out:
	pthread_mutex_unlock(&pp->mu);
	return r;
}

/* End of a chunk: wake the caller for whatever is queued (the next read may
 * block, e.g. on a pipe from a running nmap).  Returns 1 if asked to stop. */
static int flush(struct ingest_pipe *pp)
{
	int stop;

	pthread_mutex_lock(&pp->mu);
	if (pp->caller_waiting && pp->count > 0)
		pthread_cond_signal(&pp->ready);
	stop = pp->stop;
	pthread_mutex_unlock(&pp->mu);
	return stop;
}

/* The sink the parser pushes to: copy, queue.  SDB_ENOMEM if the copy
 * cannot be made; SDB_EINTR when stopping. */
static int copy_run(void *ctx, const struct rec_run *run)
{
	size_t n = rec_run_copy_size(run);
	struct msg *m = n == SIZE_MAX ? NULL : msg_new(M_RUN, n);

	if (!m)
		return SDB_ENOMEM;
	rec_run_copy(&m->u.run, run, m->data);
	return push(ctx, m);
}

static int copy_scaninfo(void *ctx, const struct rec_scaninfo *si)
{
	size_t n = rec_scaninfo_copy_size(si);
	struct msg *m = n == SIZE_MAX ? NULL : msg_new(M_SCANINFO, n);

	if (!m)
		return SDB_ENOMEM;
	rec_scaninfo_copy(&m->u.si, si, m->data);
	return push(ctx, m);
}

/* A large record is not copied: it is queued by reference and this thread
 * waits, holding the record still, until the caller has stored it (or
 * stops).  0, or SDB_EINTR when stopping. */
static int lend(struct ingest_pipe *pp, enum msg_kind kind, const void *rec)
{
	struct msg *m = msg_new(M_REF, 0);
	int r;

	if (!m)
		return SDB_ENOMEM;
	m->u.ref.kind = kind;
	m->u.ref.rec = rec;
	pthread_mutex_lock(&pp->mu);
	pp->ref_done = 0;
	pp->st.refs++;
	pthread_mutex_unlock(&pp->mu);
	if ((r = push(pp, m)) != 0)
		return r;
	pthread_mutex_lock(&pp->mu);
	if (pp->caller_waiting) /* it is the caller's turn now, not in WAKE_BATCH messages */
		pthread_cond_signal(&pp->ready);
	while (!pp->ref_done && !pp->stop) {
		pp->parser_waiting = 1;
		pp->st.parser_waits++;
		pthread_cond_wait(&pp->room, &pp->mu);
		pp->parser_waiting = 0;
	}
	r = pp->ref_done ? 0 : SDB_EINTR;
	pthread_mutex_unlock(&pp->mu);
	return r;
}

static int copy_host(void *ctx, const struct rec_host *h)
{
	struct ingest_pipe *pp = ctx;
	size_t n = rec_host_copy_size(h);
	struct msg *m;

	if (n != SIZE_MAX && n >= pp->ref_min)
		return lend(pp, M_HOST, h);
	if (!(m = n == SIZE_MAX ? NULL : msg_new(M_HOST, n)))
		return SDB_ENOMEM;
	rec_host_copy(&m->u.host, h, m->data);
	return push(ctx, m);
}

static int copy_progress(void *ctx, const char *task, double percent)
{
	size_t n = task ? strlen(task) + 1 : 0;
	struct msg *m = msg_new(M_PROGRESS, n);

	if (!m)
		return SDB_ENOMEM;
	m->u.progress.task = task ? memcpy(m->data, task, n) : NULL;
	m->u.progress.percent = percent;
	return push(ctx, m);
}

static int copy_warning(void *ctx, const char *msg)
{
	size_t n = strlen(msg) + 1;
	struct msg *m = msg_new(M_WARNING, n);

	if (!m)
		return SDB_ENOMEM;
	m->u.progress.task = memcpy(m->data, msg, n);
	return push(ctx, m);
}

static int copy_run_end(void *ctx, const struct rec_runstats *rs)
{
	struct ingest_pipe *pp = ctx;
	size_t n = rec_runstats_copy_size(rs);
	struct msg *m;

	if (n != SIZE_MAX && n >= pp->ref_min) /* the run's scripts */
		return lend(pp, M_END, rs);
	if (!(m = n == SIZE_MAX ? NULL : msg_new(M_END, n)))
		return SDB_ENOMEM;
	rec_runstats_copy(&m->u.rs, rs, m->data);
	return push(ctx, m);
}

static int push_chunk(struct ingest_pipe *pp, const void *data, size_t len, uint64_t total)
{
	struct msg *m = msg_new(M_CHUNK, len);

	if (!m) {
		snprintf(pp->errmsg, sizeof(pp->errmsg), "%s: out of memory", pp->name);
		return SDB_ENOMEM;
	}
	memcpy(m->data, data, len);
	m->u.chunk.len = len;
	m->u.chunk.total = total;
	return push(pp, m);
}

/* Pipes, sockets, ttys: wait until fd is readable or the caller stops us
 * (a regular file never blocks, so it is not polled).  0 or SDB_EINTR. */
static int wait_readable(struct ingest_pipe *pp)
{
	struct pollfd pf[2] = {{.fd = pp->fd, .events = POLLIN},
	                       {.fd = pp->wake[0], .events = POLLIN}};

	while (poll(pf, 2, -1) < 0) {
		if (errno != EINTR)
			return 0; /* let read() say what is wrong */
	}
	return pf[1].revents ? SDB_EINTR : 0;
}

/* The parser thread: nmap_xml_parse_fd()'s loop, with the chunks queued for
 * on_chunk instead of handed to it.  Leaves result/errmsg, then done = 1. */
static void *parser_main(void *arg)
{
	struct ingest_pipe *pp = arg;
	uint64_t total = pp->prefix_len;
	ssize_t n;
	int r;

	if (pp->prefix_len) { /* bytes the caller read first (format detection) */
		if (pp->want_chunks && (r = push_chunk(pp, pp->prefix, pp->prefix_len, total)) != 0)
			goto out;
		if ((r = nmap_parser_feed(pp->parser, pp->prefix, pp->prefix_len, 0)) != 0)
			goto parse_err;
	}
	for (;;) {
		if (!pp->fd_is_reg && (r = wait_readable(pp)) != 0)
			goto out;
		n = read(pp->fd, pp->buf, READ_CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = SDB_EIO;
			snprintf(pp->errmsg, sizeof(pp->errmsg), "%s: read failed: %s", pp->name,
			         strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (pp->want_chunks && (r = push_chunk(pp, pp->buf, (size_t)n, total)) != 0)
			goto out;
		if ((r = nmap_parser_feed(pp->parser, pp->buf, (size_t)n, 0)) != 0)
			goto parse_err;
		if (flush(pp)) {
			r = SDB_EINTR;
			goto out;
		}
	}
	if ((r = nmap_parser_feed(pp->parser, NULL, 0, 1)) != 0)
		goto parse_err;
	r = 0;
	goto out;
parse_err:
	sdb_strlcpy(pp->errmsg, nmap_parser_errmsg(pp->parser), sizeof(pp->errmsg));
out:
	pp->result = r;
	pthread_mutex_lock(&pp->mu);
	pp->done = 1;
	pthread_cond_signal(&pp->ready);
	pthread_mutex_unlock(&pp->mu);
	return NULL;
}

/* ---- calling thread ----------------------------------------------------- */

/* The next message (the caller frees it), or NULL once the parser is done
 * and everything it queued has been taken. */
static struct msg *pop(struct ingest_pipe *pp)
{
	struct msg *m;

	pthread_mutex_lock(&pp->mu);
	while (!pp->head && !pp->done) {
		if (pp->parser_waiting) /* cannot be (it is empty), but never both sleep */
			pthread_cond_signal(&pp->room);
		pp->caller_waiting = 1;
		pp->st.sink_waits++;
		pthread_cond_wait(&pp->ready, &pp->mu);
		pp->caller_waiting = 0;
	}
	if ((m = pp->head) != NULL) {
		if (!(pp->head = m->next))
			pp->tail = NULL;
		pp->bytes -= m->size;
		pp->count--;
		if (pp->parser_waiting && (pp->count == 0 || (pp->bytes <= pp->max_bytes / 2 &&
		                                              pp->count <= pp->max_count / 2)))
			pthread_cond_signal(&pp->room);
	}
	pthread_mutex_unlock(&pp->mu);
	return m;
}

/* The record of an M_REF was stored (or refused): wake the parser. */
static void ref_returned(struct ingest_pipe *pp)
{
	pthread_mutex_lock(&pp->mu);
	pp->ref_done = 1;
	pthread_cond_signal(&pp->room);
	pthread_mutex_unlock(&pp->mu);
}

/* Tell the parser thread to stop, wherever it waits. */
static void stop_parser(struct ingest_pipe *pp)
{
	ssize_t n;

	pthread_mutex_lock(&pp->mu);
	pp->stop = 1;
	pthread_cond_signal(&pp->room);
	pthread_mutex_unlock(&pp->mu);
	if (pp->wake[1] >= 0) {
		do
			n = write(pp->wake[1], "", 1);
		while (n < 0 && errno == EINTR);
		/* anything else (EAGAIN: a byte is already there) is fine */
	}
}

static int deliver(const struct msg *m, const struct ingest_sink *sink,
                   int (*on_chunk)(void *, const void *, size_t, uint64_t), void *chunk_ctx)
{
	switch (m->kind) {
	case M_CHUNK:
		return on_chunk(chunk_ctx, m->data, m->u.chunk.len, m->u.chunk.total);
	case M_RUN:
		return sink->run_begin(sink->ctx, &m->u.run);
	case M_SCANINFO:
		return sink->scaninfo(sink->ctx, &m->u.si);
	case M_HOST:
		return sink->host(sink->ctx, &m->u.host);
	case M_REF:
		if (m->u.ref.kind == M_HOST)
			return sink->host(sink->ctx, m->u.ref.rec);
		return sink->run_end(sink->ctx, m->u.ref.rec);
	case M_PROGRESS:
		return sink->progress(sink->ctx, m->u.progress.task, m->u.progress.percent);
	case M_END:
		return sink->run_end(sink->ctx, &m->u.rs);
	case M_WARNING:
		return sink->warning(sink->ctx, m->u.progress.task);
	}
	return SDB_EUSAGE;
}

static void pipe_free(struct ingest_pipe *pp)
{
	struct msg *m, *next;

	for (m = pp->head; m; m = next) {
		next = m->next;
		free(m);
	}
	nmap_parser_free(pp->parser);
	free(pp->buf);
	if (pp->wake[0] >= 0)
		close(pp->wake[0]);
	if (pp->wake[1] >= 0)
		close(pp->wake[1]);
	pthread_cond_destroy(&pp->ready);
	pthread_cond_destroy(&pp->room);
	pthread_mutex_destroy(&pp->mu);
	free(pp);
}

/* A close-on-exec, non-blocking pipe; 0 or -1 with both ends -1. */
static int make_wake_pipe(int fds[2])
{
	if (pipe(fds) != 0)
		goto fail;
	for (int i = 0; i < 2; i++) {
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0 ||
		    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) != 0) {
			close(fds[0]);
			close(fds[1]);
			goto fail;
		}
	}
	return 0;
fail:
	fds[0] = fds[1] = -1;
	return -1;
}

/* The mutex and both condition variables: all made, or none. */
static int sync_init(struct ingest_pipe *pp)
{
	if (pthread_mutex_init(&pp->mu, NULL) != 0)
		return -1;
	if (pthread_cond_init(&pp->room, NULL) != 0)
		goto undo_mu;
	if (pthread_cond_init(&pp->ready, NULL) == 0)
		return 0;
	pthread_cond_destroy(&pp->room);
undo_mu:
	pthread_mutex_destroy(&pp->mu);
	return -1;
}

/* Set up and start the parser thread.  0 and *out, or non-zero with
 * nothing read from fd and nothing left behind. */
static int pipe_start(int fd, int fd_is_reg, const char *name, const struct ingest_sink *sink,
                      int want_chunks, const struct ingest_pipe_opts *o, struct ingest_pipe **out,
                      pthread_t *tid)
{
	struct ingest_sink copy = {0};
	struct ingest_pipe *pp;
	sigset_t block, old;
	int r = SDB_ENOMEM;

	*out = NULL;
	if (!(pp = calloc(1, sizeof(*pp))))
		return SDB_ENOMEM;
	pp->fd = fd;
	pp->fd_is_reg = fd_is_reg;
	pp->wake[0] = pp->wake[1] = -1;
	pp->name = name;
	pp->want_chunks = want_chunks;
	pp->max_bytes = o && o->max_bytes ? o->max_bytes : INGEST_PIPE_MAX_BYTES;
	pp->max_count = o && o->max_count ? o->max_count : INGEST_PIPE_MAX_COUNT;
	pp->ref_min = o && o->ref_min ? o->ref_min : INGEST_PIPE_REF_MIN;
	pp->prefix = o ? o->prefix : NULL;
	pp->prefix_len = o && o->prefix ? o->prefix_len : 0;
	if (sync_init(pp) != 0) {
		free(pp);
		return SDB_ENOMEM;
	}
	if (!(pp->buf = malloc(READ_CHUNK)))
		goto fail;
	if (!fd_is_reg && make_wake_pipe(pp->wake) != 0)
		goto fail;
	if (sink) {
		copy.ctx = pp;
		copy.run_begin = sink->run_begin ? copy_run : NULL;
		copy.scaninfo = sink->scaninfo ? copy_scaninfo : NULL;
		copy.host = sink->host ? copy_host : NULL;
		copy.progress = sink->progress ? copy_progress : NULL;
		copy.run_end = sink->run_end ? copy_run_end : NULL;
		copy.warning = sink->warning ? copy_warning : NULL;
		copy.accept_truncated = sink->accept_truncated;
		copy.truncated_hint = sink->truncated_hint;
	}
	if (nmap_parser_new(&copy, name, &pp->parser) != 0)
		goto fail;
	/* Signals for the process go to the calling thread, as before; the
	 * ones a fault raises stay deliverable where the fault is. */
	sigfillset(&block);
	sigdelset(&block, SIGSEGV);
	sigdelset(&block, SIGBUS);
	sigdelset(&block, SIGFPE);
	sigdelset(&block, SIGILL);
	sigdelset(&block, SIGABRT);
	sigdelset(&block, SIGTRAP);
	sigdelset(&block, SIGSYS);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	r = pthread_create(tid, NULL, parser_main, pp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		r = SDB_ENOMEM;
		goto fail;
	}
	*out = pp;
	return 0;
fail:
	pipe_free(pp);
	return r;
}

int ingest_pipe_parse_fd_ex(int fd, const char *name, const struct ingest_sink *sink,
                            int (*on_chunk)(void *ctx, const void *data, size_t len,
                                            uint64_t total),
                            void *chunk_ctx, const struct ingest_pipe_opts *opts,
                            struct ingest_pipe_stats *stats, char *err, size_t errlen)
{
	uint64_t min_size = opts && opts->min_size ? opts->min_size : INGEST_PIPE_MIN_SIZE;
	struct ingest_pipe *pp = NULL;
	struct msg *m;
	struct stat sb;
	pthread_t tid;
	int r, fd_is_reg;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (err && errlen)
		err[0] = '\0';
	if (!name)
		name = "<input>";
	fd_is_reg = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
	if (fd_is_reg && (uint64_t)sb.st_size < min_size && !(opts && opts->force_thread) &&
	    !(opts && opts->prefix_len))
		goto direct;
	if (pipe_start(fd, fd_is_reg, name, sink, on_chunk != NULL, opts, &pp, &tid) != 0) {
		if (!(opts && opts->prefix_len))
			goto direct;
		if (err && errlen) /* the prefix's bytes are read: no going back */
			snprintf(err, errlen, "%s: cannot start the parser thread", name);
		return SDB_ENOMEM;
	}

	r = 0;
	while (r == 0 && (m = pop(pp)) != NULL) {
		r = deliver(m, sink, on_chunk, chunk_ctx);
		if (m->kind == M_REF) /* the parser may go on with its record */
			ref_returned(pp);
		if (r != 0) {
			stop_parser(pp);
			if (err && errlen && m->kind == M_CHUNK)
				snprintf(err, errlen, "%s: stopped after %llu bytes: %s", name,
				         (unsigned long long)m->u.chunk.total, sdb_strerror(r));
			else if (err && errlen)
				snprintf(err, errlen, "%s: import stopped: %s", name,
				         sdb_strerror(r));
		}
		free(m);
	}
	pthread_join(tid, NULL);
	/* r == 0: everything queued was delivered, so the parser's outcome. */
	if (r == 0 && (r = pp->result) != 0 && err && errlen)
		sdb_strlcpy(err, pp->errmsg, errlen);
	if (stats) {
		*stats = pp->st;
		stats->threaded = 1;
	}
	pipe_free(pp);
	return r;
direct:
	return nmap_xml_parse_fd(fd, name, sink, on_chunk, chunk_ctx, err, errlen);
}

int ingest_pipe_parse_fd(int fd, const char *name, const struct ingest_sink *sink,
                         int (*on_chunk)(void *ctx, const void *data, size_t len, uint64_t total),
                         void *chunk_ctx, char *err, size_t errlen)
{
	return ingest_pipe_parse_fd_ex(fd, name, sink, on_chunk, chunk_ctx, NULL, NULL, err,
	                               errlen);
}
