/*
 * utf8.h - UTF-8 validation for output: JSON must be UTF-8 and XML must be
 * well-formed, while stored names and script output may hold any bytes.
 */
#ifndef SDB_CORE_UTF8_H
#define SDB_CORE_UTF8_H

#include <stddef.h>

/* Length (1-4) of the valid UTF-8 sequence starting at s, or 0 if it is not
 * one (overlong forms, surrogates and code points past U+10FFFF are not).
 * Reads no further than the first byte that is not a continuation byte, so
 * it never passes a terminating NUL. */
size_t utf8_seq_len(const unsigned char *s);

#endif
