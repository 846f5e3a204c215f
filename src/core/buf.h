/*
 * buf.h - a growable byte buffer with a hard maximum size (curl's dynbuf,
 * OpenSSH's sshbuf).  Every buffer that holds untrusted bytes is one of
 * these: appending past `max` fails with SDB_ETOOBIG and leaves the buffer
 * as it was.  The contents are always NUL-terminated (the NUL is not
 * counted in len and not in max).
 *
 * Ownership: the struct is caller-owned (usually on the stack or embedded);
 * buf_free() releases the heap memory it points at.
 */
#ifndef SDB_CORE_BUF_H
#define SDB_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data; /* NUL-terminated, or NULL while empty and unallocated */
	size_t len;
	size_t cap;
	size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);
/* Forget the contents, keep the allocation. */
void buf_reset(struct buf *b);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Contents as a C string; "" when empty.  Valid until the next change. */
const char *buf_str(const struct buf *b);
/* Hand the contents to the caller (free() it); the buffer becomes empty. */
char *buf_steal(struct buf *b);

/* Overflow-checked allocation helpers (reallocarray-style). */
void *sdb_reallocarray(void *p, size_t n, size_t size);
/* strdup/strndup that return NULL on NULL input. Caller frees. */
char *sdb_strdup(const char *s);
char *sdb_strndup(const char *s, size_t n);
/* Bounded copy: always NUL-terminates dst (size > 0); returns strlen(src). */
size_t sdb_strlcpy(char *dst, const char *src, size_t size);

#endif
