/*
 * utf8.h - UTF-8 validation for output: JSON must be UTF-8 and XML must be
 * well-formed, while stored names and script output may hold any bytes;
 * the one XML/HTML escaper (diff's XML, export's nmap XML and HTML) and the
 * one loop under every text escaper (diff's JSON strings too).
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
 * Write s to f with some characters replaced: for each character (n bytes
 * of valid UTF-8 at c, or n == 0 for a byte that is not UTF-8), rep
 * returns its replacement (it may write one into tmp[8]) or NULL to keep
 * it, and sets *n to the bytes it takes (1 for a byte that is not UTF-8).
 * The one loop under every escaper of text for a format (XML and HTML
 * below, diff's JSON strings).  Errors show in ferror(f).
 */
typedef const char *(*utf8_rep_fn)(const unsigned char *c, size_t *n, char tmp[8]);
void utf8_write_escaped(FILE *f, const char *s, utf8_rep_fn rep);

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
