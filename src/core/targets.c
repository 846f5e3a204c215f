/*
 * targets.c - the address ranges of an nmap command line (targets.h says
 * what is read and what is not): the options that take a value, the
 * octet-range grammar, the --exclude subtraction, sorting and merging.
 */
#include "core/targets.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/error.h"
#include "core/vec.h"

#define TARGETS_MAX_PIECES 65536 /* ranges of one octet-range spec */

/* nmap's options that take their value as the next argument (nmap(1)). */
static const char *const with_value[] = {
    "-iL",
    "-iR",
    "--exclude",
    "--excludefile",
    "-p",
    "--exclude-ports",
    "--top-ports",
    "--port-ratio",
    "-sI",
    "-b",
    "--scanflags",
    "-e",
    "-S",
    "-g",
    "--source-port",
    "-D",
    "--data",
    "--data-string",
    "--data-length",
    "--ip-options",
    "--ttl",
    "--spoof-mac",
    "--proxies",
    "--mtu",
    "--script",
    "--script-args",
    "--script-args-file",
    "--script-help",
    "--script-timeout",
    "--version-intensity",
    "--max-os-tries",
    "--min-hostgroup",
    "--max-hostgroup",
    "--min-parallelism",
    "--max-parallelism",
    "--min-rtt-timeout",
    "--max-rtt-timeout",
    "--initial-rtt-timeout",
    "--max-retries",
    "--host-timeout",
    "--scan-delay",
    "--max-scan-delay",
    "--min-rate",
    "--max-rate",
    "-oN",
    "-oX",
    "-oS",
    "-oG",
    "-oA",
    "-oM",
    "-oH",
    "--stylesheet",
    "--datadir",
    "--servicedb",
    "--versiondb",
    "--dns-servers",
    "--resume",
    "--stats-every",
    "--nsock-engine",
    "--route-dst",
};

static int takes_value(const char *opt)
{
	for (size_t i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
		if (strcmp(opt, with_value[i]) == 0)
			return 1;
	return 0;
}

static int push(struct targets *t, const unsigned char lo[16], const unsigned char hi[16])
{
	if (VEC_RESERVE(t->v, t->cap, t->n + 1, 8))
		return SDB_ENOMEM;
	memcpy(t->v[t->n].lo, lo, 16);
	memcpy(t->v[t->n].hi, hi, 16);
	t->n++;
	return 0;
}

/* ---- IPv4 octet ranges: each octet a list of items (N, N-M, -M, N-, *) -- */

struct octet {
	struct {
		int lo, hi;
	} r[64];
	int n;
};

static int num(const char **p, int *v)
{
	int x = 0, d = 0;

	while (**p >= '0' && **p <= '9' && d < 4) {
		x = x * 10 + (**p - '0');
		(*p)++;
		d++;
	}
	*v = x;
	return d > 0 && d < 4 && x <= 255 ? 0 : -1;
}

/* One octet of s (up to '.' or the end): 0, or -1 when it is not one. */
static int octet_parse(const char **p, struct octet *o)
{
	o->n = 0;
	for (;;) {
		int lo = 0, hi = 255;

		if (o->n == (int)(sizeof(o->r) / sizeof(o->r[0])))
			return -1;
		if (**p == '*') {
			(*p)++;
		} else {
			if (**p != '-' && num(p, &lo) != 0)
				return -1;
			hi = lo;
			if (**p == '-') {
				(*p)++;
				hi = 255;
				if (**p >= '0' && **p <= '9' && num(p, &hi) != 0)
					return -1;
			}
		}
		if (lo > hi)
			return -1;
		o->r[o->n].lo = lo;
		o->r[o->n].hi = hi;
		o->n++;
		if (**p != ',')
			return 0;
		(*p)++;
	}
}

static int octet_full(const struct octet *o)
{
	for (int i = 0; i < o->n; i++)
		if (o->r[i].lo == 0 && o->r[i].hi == 255)
			return 1;
	return 0;
}

static void key4(unsigned char k[16], const int b[4])
{
	memset(k, 0, 10);
	k[10] = k[11] = 0xff;
	for (int i = 0; i < 4; i++)
		k[12 + i] = (unsigned char)b[i];
}

/* The ranges of octets o[i..3] under prefix b[0..i): one range when the
 * rest are full, else one per value of octet i. */
static int octets_emit(struct targets *t, const struct octet o[4], int i, int b[4], size_t *pieces)
{
	int full = 1, r;

	for (int k = i; k < 4 && full; k++)
		full = octet_full(&o[k]);
	if (full || i == 3) {
		for (int x = 0; x < (full ? 1 : o[3].n); x++) {
			int lo[4], hi[4];
			unsigned char kl[16], kh[16];

			for (int k = 0; k < 4; k++) {
				lo[k] = k < i ? b[k] : 0;
				hi[k] = k < i ? b[k] : 255;
			}
			if (!full) {
				lo[3] = o[3].r[x].lo;
				hi[3] = o[3].r[x].hi;
			}
			if (++*pieces > TARGETS_MAX_PIECES)
				return SDB_ERANGE;
			key4(kl, lo);
			key4(kh, hi);
			if ((r = push(t, kl, kh)) != 0)
				return r;
		}
		return 0;
	}
	for (int x = 0; x < o[i].n; x++) {
		for (int v = o[i].r[x].lo; v <= o[i].r[x].hi; v++) {
			b[i] = v;
			if ((r = octets_emit(t, o, i + 1, b, pieces)) != 0)
				return r;
		}
	}
	return 0;
}

/* "10.0.0.1-20", "10.0.1-3.*": 0 (added), 1 (not such a spec), or an
 * error (SDB_ENOMEM; SDB_ERANGE: too many pieces, nothing added). */
static int octet_spec(struct targets *t, const char *s)
{
	struct octet o[4];
	int b[4] = {0, 0, 0, 0}, r;
	size_t pieces = 0, n0 = t->n;

	for (int i = 0; i < 4; i++) {
		if (octet_parse(&s, &o[i]) != 0 || *s != (i < 3 ? '.' : '\0'))
			return 1;
		if (i < 3)
			s++;
	}
	if ((r = octets_emit(t, o, 0, b, &pieces)) != 0)
		t->n = n0;
	return r == SDB_ERANGE ? 1 : r;
}

/* One target: an address, a CIDR block or an octet-range spec; anything
 * else (a host name) covers nothing. */
static int spec_add(struct targets *t, const char *s)
{
	unsigned char lo[16], hi[16];

	if (addr_cidr_parse(s, lo, hi) == 0)
		return push(t, lo, hi);
	if (strchr(s, ':') || strchr(s, '/'))
		return 0;
	{
		int r = octet_spec(t, s);
		return r == 1 ? 0 : r;
	}
}

static int range_cmp(const void *a, const void *b)
{
	const struct addr_range *x = a, *y = b;
	int c = memcmp(x->lo, y->lo, 16);

	return c ? c : memcmp(x->hi, y->hi, 16);
}

/* key + 1 (carry); 0 if it wrapped past the last key. */
static int key_next(unsigned char k[16])
{
	for (int i = 15; i >= 0; i--)
		if (++k[i] != 0)
			return 1;
	return 0;
}

static int key_prev(unsigned char k[16])
{
	for (int i = 15; i >= 0; i--)
		if (k[i]-- != 0)
			return 1;
	return 0;
}

static void normalise(struct targets *t)
{
	size_t w = 0;

	if (t->n > 1)
		qsort(t->v, t->n, sizeof(*t->v), range_cmp);
	for (size_t i = 0; i < t->n; i++) {
		unsigned char next[16];
		int more;

		if (w > 0) {
			memcpy(next, t->v[w - 1].hi, 16);
			more = key_next(next);
			if (!more || memcmp(t->v[i].lo, next, 16) <= 0) {
				if (memcmp(t->v[i].hi, t->v[w - 1].hi, 16) > 0)
					memcpy(t->v[w - 1].hi, t->v[i].hi, 16);
				continue;
			}
		}
		t->v[w++] = t->v[i];
	}
	t->n = w;
}

/* t minus the ranges of x (both normalised). */
static int subtract(struct targets *t, const struct targets *x)
{
	struct targets out = {0};
	int r = 0;

	for (size_t i = 0; i < t->n && r == 0; i++) {
		unsigned char lo[16];
		int open = 1;

		memcpy(lo, t->v[i].lo, 16);
		for (size_t k = 0; k < x->n && open && r == 0; k++) {
			unsigned char end[16];

			if (memcmp(x->v[k].hi, lo, 16) < 0 ||
			    memcmp(x->v[k].lo, t->v[i].hi, 16) > 0)
				continue;
			memcpy(end, x->v[k].lo, 16);
			if (memcmp(end, lo, 16) > 0 && key_prev(end))
				r = push(&out, lo, end);
			memcpy(lo, x->v[k].hi, 16);
			open = memcmp(lo, t->v[i].hi, 16) < 0 && key_next(lo);
		}
		if (open && r == 0)
			r = push(&out, lo, t->v[i].hi);
	}
	targets_free(t);
	*t = out;
	return r;
}

/* Every comma-separated item of --exclude's value. */
static int exclude_add(struct targets *x, const char *list)
{
	const char *p = list;
	int r = 0;

	while (*p && r == 0) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		char item[128];

		/* a comma also separates octet items ("10.0.0.1,2"): an item
		 * that is not a whole spec is skipped (it excludes less) */
		if (len > 0 && len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			r = spec_add(x, item);
		}
		p += len + (e ? 1 : 0);
	}
	return r;
}

int targets_from_argv(char *const *argv, size_t argc, struct targets *t)
{
	struct targets x = {0};
	int r = 0, unknown_exclusions = 0;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < argc && r == 0; i++) {
		const char *a = argv[i];

		if (!a || !*a)
			continue;
		if (a[0] == '-') {
			if (strcmp(a, "--excludefile") == 0 ||
			    strncmp(a, "--excludefile=", 14) == 0)
				unknown_exclusions = 1;
			if (strcmp(a, "--exclude") == 0 && i + 1 < argc)
				r = exclude_add(&x, argv[i + 1]);
			else if (strncmp(a, "--exclude=", 10) == 0)
				r = exclude_add(&x, a + 10);
			if (takes_value(a))
				i++;
			continue;
		}
		r = spec_add(t, a);
	}
	if (r == 0 && unknown_exclusions)
		t->n = 0;
	normalise(t);
	normalise(&x);
	if (r == 0 && x.n && t->n)
		r = subtract(t, &x);
	targets_free(&x);
	if (r != 0)
		targets_free(t);
	return r;
}

int targets_from_cmdline(const char *cmdline, struct targets *t)
{
	char *copy, **argv;
	size_t argc = 0, len;
	int r;

	memset(t, 0, sizeof(*t));
	if (!cmdline)
		return 0;
	len = strlen(cmdline);
	copy = strdup(cmdline);
	argv = calloc(len / 2 + 2, sizeof(*argv));
	if (!copy || !argv) {
		free(copy);
		free(argv);
		return SDB_ENOMEM;
	}
	/* split at blanks, in place */
	for (char *p = copy; *p;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			*p++ = '\0';
		if (!*p)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
	}
	/* argv[0] is the program */
	r = argc > 1 ? targets_from_argv(argv + 1, argc - 1, t) : 0;
	free(copy);
	free(argv);
	return r;
}

int targets_cover(const struct targets *t, const unsigned char key[16])
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) { /* the first range whose hi >= key */
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(t->v[mid].hi, key, 16) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < t->n && memcmp(t->v[lo].lo, key, 16) <= 0;
}

void targets_free(struct targets *t)
{
	free(t->v);
	t->v = NULL;
	t->n = t->cap = 0;
}

int addr_range_after(struct addr_range *rg, const char *last)
{
	unsigned char k[16];

	if (addr_parse(last, NULL, NULL, k) != 0 || memcmp(k, rg->hi, 16) >= 0)
		return 0;
	for (int i = 15; i >= 0; i--) /* k + 1 */
		if (++k[i] != 0)
			break;
	memcpy(rg->lo, k, 16);
	return 1;
}
