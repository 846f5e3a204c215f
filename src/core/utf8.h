/*
 * utf8.h - UTF-8 validation for output: JSON must be UTF-8 and XML must be
 * well-formed, while stored names and script output may hold any bytes;
 * the one XML/HTML escaper (diff's XML, export's nmap XML and HTML).
 */
#ifndef SDB_CORE_UTF8_H
#define SDB_CORE_UTF8_H

#include <stddef.h>
#include <stdio.h>

/* Length (1-4) of the valid UTF-8 sequence starting at s, or 0 if it is not
 * one (overlong forms, surrogates and code points past U+10FFFF are not).
 * Reads no further than the first byte that is not a continuation byte, so
 * it never passes a terminating NUL. */
size_t utf8_seq_len(const unsigned char *s);

/*
 * Write s to f escaped for XML (and HTML) text or an attribute value:
 * & < > " and TAB/LF/CR as character references (so that a parser gives
 * back the same text), other characters XML 1.0 cannot hold (control
 * characters, U+FFFE, U+FFFF) as '?', bytes that are not UTF-8 as U+FFFD.
 * The result is always well-formed.  Errors show in ferror(f).
 */
void utf8_xml_text(FILE *f, const char *s);
/* ' NAME="escaped v"' (nothing when v is NULL). */
void utf8_xml_attr(FILE *f, const char *name, const char *v);

#endif
