/* utf8.c - UTF-8 sequence validation and the XML/HTML escaper (see utf8.h). */
#include "core/utf8.h"

size_t utf8_seq_len(const unsigned char *s)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0; /* overlong, past U+10FFFF */
		return 4;
	}
	return 0;
}

void utf8_write_escaped(FILE *f, const char *s, utf8_rep_fn rep)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0, i = 0;

	while (u[i]) {
		char tmp[8];
		size_t n = utf8_seq_len(u + i);
		const char *r = rep(u + i, &n, tmp);

		if (!r) {
			i += n;
			continue;
		}
		fwrite(s + run, 1, i - run, f);
		fputs(r, f);
		i += n;
		run = i;
	}
	fwrite(s + run, 1, i - run, f);
}

/* utf8_rep_fn of XML and HTML text. */
static const char *xml_rep(const unsigned char *u, size_t *n, char tmp[8])
{
	(void)tmp;
	if (*n == 0) {
		*n = 1;
		return "\xef\xbf\xbd";
	}
	if (*n == 3 && u[0] == 0xef && u[1] == 0xbf && u[2] >= 0xbe)
		return "?"; /* U+FFFE, U+FFFF are not XML characters */
	if (*n > 1)
		return NULL;
	switch (u[0]) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\t':
		return "&#x9;";
	case '\n':
		return "&#xa;";
	case '\r':
		return "&#xd;";
	default:
		return u[0] < 0x20 ? "?" : NULL;
	}
}

void utf8_xml_text(FILE *f, const char *s)
{
	utf8_write_escaped(f, s, xml_rep);
}

void utf8_xml_attr(FILE *f, const char *name, const char *v)
{
	if (!v)
		return;
	fprintf(f, " %s=\"", name);
	utf8_xml_text(f, v);
	fputc('"', f);
}
