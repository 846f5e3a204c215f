/* addr.c - address, CIDR, MAC and port-list parsing (see addr.h).  Pure
 * functions; the only state is what the caller passes in. */
#include "core/addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"

int addr_parse(const char *s, char *out, int *family, unsigned char key[16])
{
	unsigned char b[16];
	int fam;

	if (!s || !*s || strlen(s) >= ADDR_TEXT_MAX)
		return SDB_EPARSE;
	if (inet_pton(AF_INET, s, b) == 1) {
		fam = 4;
		if (key) {
			memset(key, 0, 10);
			key[10] = key[11] = 0xff;
			memcpy(key + 12, b, 4);
		}
		if (out && !inet_ntop(AF_INET, b, out, ADDR_TEXT_MAX))
			return SDB_EPARSE;
	} else if (inet_pton(AF_INET6, s, b) == 1) {
		fam = 6;
		if (key)
			memcpy(key, b, 16);
		if (out && !inet_ntop(AF_INET6, b, out, ADDR_TEXT_MAX))
			return SDB_EPARSE;
	} else {
		return SDB_EPARSE;
	}
	if (family)
		*family = fam;
	return 0;
}

int addr_cidr_parse(const char *s, unsigned char lo[16], unsigned char hi[16])
{
	char a[ADDR_TEXT_MAX];
	const char *slash;
	unsigned char key[16];
	int fam, r;
	long bits, maxbits, hostbits;
	size_t alen;

	if (!s)
		return SDB_EPARSE;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(a))
		return SDB_EPARSE;
	memcpy(a, s, alen);
	a[alen] = '\0';
	if ((r = addr_parse(a, NULL, &fam, key)) != 0)
		return r;
	maxbits = fam == 4 ? 32 : 128;
	if (slash) {
		char *end;
		if (!isdigit((unsigned char)slash[1]))
			return SDB_EPARSE;
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (errno || *end || bits < 0 || bits > maxbits)
			return SDB_EPARSE;
	} else {
		bits = maxbits;
	}
	hostbits = maxbits - bits;
	memcpy(lo, key, 16);
	memcpy(hi, key, 16);
	for (long i = 0; i < hostbits; i++) {
		int byte = 15 - (int)(i / 8);
		unsigned char mask = (unsigned char)(1u << (i % 8));
		lo[byte] &= (unsigned char)~mask;
		hi[byte] |= mask;
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int addr_mac_parse(const char *s, char out[18])
{
	static const char hex[] = "0123456789ABCDEF";
	int i;

	if (!s || strlen(s) != 17)
		return SDB_EPARSE;
	for (i = 0; i < 6; i++) {
		int h = hexval((unsigned char)s[i * 3]), l = hexval((unsigned char)s[i * 3 + 1]);
		if (h < 0 || l < 0)
			return SDB_EPARSE;
		if (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-')
			return SDB_EPARSE;
		out[i * 3] = hex[h];
		out[i * 3 + 1] = hex[l];
		out[i * 3 + 2] = i < 5 ? ':' : '\0';
	}
	return 0;
}

static int parse_port(const char **pp, int *out)
{
	const char *p = *pp;
	long v = 0;

	if (!isdigit((unsigned char)*p))
		return SDB_EPARSE;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p - '0');
		if (v > 65535)
			return SDB_EPARSE;
		p++;
	}
	*out = (int)v;
	*pp = p;
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct portrange *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static void portlist_normalise(struct portlist *pl)
{
	size_t w = 0;

	if (pl->n == 0)
		return;
	qsort(pl->r, pl->n, sizeof(pl->r[0]), range_cmp);
	for (size_t i = 1; i < pl->n; i++) {
		if (pl->r[i].lo <= pl->r[w].hi + 1) {
			if (pl->r[i].hi > pl->r[w].hi)
				pl->r[w].hi = pl->r[i].hi;
		} else {
			pl->r[++w] = pl->r[i];
		}
	}
	pl->n = w + 1;
}

static int portlist_push(struct portlist *pl, size_t *cap, int lo, int hi)
{
	if (VEC_RESERVE(pl->r, *cap, pl->n + 1, 16))
		return SDB_ENOMEM;
	pl->r[pl->n].lo = lo;
	pl->r[pl->n].hi = hi;
	pl->n++;
	return 0;
}

int portlist_parse(const char *s, struct portlist *out)
{
	struct portlist pl = {NULL, 0};
	size_t cap = 0;
	const char *p = s;
	int r = 0;

	if (!s)
		return SDB_EPARSE;
	while (*p) {
		int lo, hi;
		if (*p == '-') {
			lo = 1; /* nmap: "-100" means 1-100 */
		} else if ((r = parse_port(&p, &lo)) != 0) {
			goto out;
		}
		hi = lo;
		if (*p == '-') {
			p++;
			if (*p == ',' || *p == '\0')
				hi = 65535;
			else if ((r = parse_port(&p, &hi)) != 0)
				goto out;
		}
		if (hi < lo) {
			r = SDB_EPARSE;
			goto out;
		}
		if ((r = portlist_push(&pl, &cap, lo, hi)) != 0)
			goto out;
		if (*p == ',')
			p++;
		else if (*p != '\0') {
			r = SDB_EPARSE;
			goto out;
		}
	}
	portlist_normalise(&pl);
	*out = pl;
	return 0;
out:
	free(pl.r);
	return r;
}

int portlist_contains(const struct portlist *pl, int port)
{
	size_t lo = 0, hi = pl->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (port < pl->r[mid].lo)
			hi = mid;
		else if (port > pl->r[mid].hi)
			lo = mid + 1;
		else
			return 1;
	}
	return 0;
}

int portlist_merge(struct portlist *pl, const struct portlist *add)
{
	size_t cap = pl->n;
	int r;

	for (size_t i = 0; i < add->n; i++)
		if ((r = portlist_push(pl, &cap, add->r[i].lo, add->r[i].hi)) != 0)
			return r;
	portlist_normalise(pl);
	return 0;
}

char *portlist_format(const struct portlist *pl)
{
	struct buf b;

	buf_init(&b, (size_t)1 << 24);
	for (size_t i = 0; i < pl->n; i++) {
		int r = pl->r[i].lo == pl->r[i].hi
		            ? buf_printf(&b, "%s%d", i ? "," : "", pl->r[i].lo)
		            : buf_printf(&b, "%s%d-%d", i ? "," : "", pl->r[i].lo, pl->r[i].hi);
		if (r != 0) {
			buf_free(&b);
			return NULL;
		}
	}
	return buf_steal(&b);
}

size_t portlist_count(const struct portlist *pl)
{
	size_t n = 0;

	for (size_t i = 0; i < pl->n; i++)
		n += (size_t)(pl->r[i].hi - pl->r[i].lo + 1);
	return n;
}

void portlist_free(struct portlist *pl)
{
	free(pl->r);
	pl->r = NULL;
	pl->n = 0;
}

int addr_port_spec_parse(const char *s, int *port, int *proto)
{
	const char *p = s;
	int v;
	enum rec_proto pr;

	if (!s || parse_port(&p, &v) != 0)
		return SDB_EPARSE;
	*proto = -1;
	if (*p == '/') {
		if (rec_proto_parse(p + 1, &pr) != 0)
			return SDB_EPARSE;
		*proto = (int)pr;
	} else if (*p != '\0') {
		return SDB_EPARSE;
	}
	*port = v;
	return 0;
}
