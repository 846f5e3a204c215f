/*
 * store_json.c - the JSON text scandb stores, for every backend: the
 * string arrays (hosts.hostnames, ports.cpe), both ways, and the document
 * of a host's port state (host_state.ports).  The same document goes
 * into SQLite's TEXT and PostgreSQL's jsonb, and comes back the same.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/hoststate.h"
#include "store/store_int.h"

/* Duplicates are looked for among this many leading entries only, so a
 * hostile file with huge lists costs linear, not quadratic, time. */
#define JSON_DEDUP_MAX 64

/* Append v to the JSON array a unless it is NULL or already there. */
static int json_add_unique(json_t *a, const char *v, int *bad_utf8)
{
	size_t n = json_array_size(a);
	json_t *j;

	if (!v)
		return 0;
	for (size_t i = 0; i < n && i < JSON_DEDUP_MAX; i++)
		if (strcmp(json_string_value(json_array_get(a, i)), v) == 0)
			return 0;
	if (!(j = json_string(v))) {
		/* json_string refuses invalid UTF-8 (it also fails on ENOMEM,
		 * which we cannot tell apart; UTF-8 is the likely cause). */
		*bad_utf8 = 1;
		return SDB_EPARSE;
	}
	return json_array_append_new(a, j) == 0 ? 0 : SDB_ENOMEM;
}

/* Dump a (then release it) into *out (free()). */
static int json_finish(json_t *a, char **out)
{
	*out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return *out ? 0 : SDB_ENOMEM;
}

/* Names of a host as a JSON array, duplicates dropped (nmap reports the
 * same name as "user" and "PTR").  *out = NULL means "[]". */
int store__hostnames_json(struct store *st, const struct rec_host *h, char **out)
{
	json_t *a;
	int bad = 0, r = 0;

	*out = NULL;
	if (h->nhostnames == 0)
		return 0;
	if (!(a = json_array()))
		return store__set_err(st, SDB_ENOMEM, "host %s: out of memory", h->addr);
	for (size_t i = 0; i < h->nhostnames && r == 0; i++)
		r = json_add_unique(a, h->hostnames[i].name, &bad);
	if (r != 0) {
		json_decref(a);
		return bad ? store__set_err(st, SDB_EPARSE,
		                            "host %s: a hostname is not valid UTF-8", h->addr)
		           : store__set_err(st, SDB_ENOMEM, "host %s: out of memory", h->addr);
	}
	if ((r = json_finish(a, out)) != 0)
		return store__set_err(st, r, "host %s: out of memory", h->addr);
	return 0;
}

/* Every OS match name of a host, in the scan's order (repeats kept), as a
 * JSON array; *out = NULL (SQL NULL) when there is none or the only one is
 * the best match (host_scans.os_name holds it). */
int store__osmatches_json(struct store *st, const struct rec_host *h, char **out)
{
	json_t *a, *j;
	int r = 0;

	*out = NULL;
	if (h->nosmatches == 0 || (h->nosmatches == 1 && h->has_os && h->os.name &&
	                           strcmp(h->osmatches[0], h->os.name) == 0))
		return 0;
	if (!(a = json_array()))
		return store__set_err(st, SDB_ENOMEM, "host %s: out of memory", h->addr);
	for (size_t i = 0; i < h->nosmatches && r == 0; i++) {
		if (!(j = json_string(h->osmatches[i])))
			r = SDB_EPARSE;
		else if (json_array_append_new(a, j) != 0)
			r = SDB_ENOMEM;
	}
	if (r == 0)
		r = json_finish(a, out);
	else
		json_decref(a);
	if (r != 0)
		return store__set_err(st, r, "host %s: %s", h->addr,
		                      r == SDB_EPARSE ? "an OS match name is not valid UTF-8"
		                                      : "out of memory");
	return 0;
}

/* CPEs of a service as a JSON array, or *out = NULL (SQL NULL) if none. */
int store__cpes_json(struct store *st, const struct rec_port *p, char **out)
{
	json_t *a;
	int bad = 0, r = 0;

	*out = NULL;
	if (!p->has_service || p->service.ncpes == 0)
		return 0;
	if (!(a = json_array()))
		return store__set_err(st, SDB_ENOMEM, "port %d: out of memory", p->port);
	for (size_t i = 0; i < p->service.ncpes && r == 0; i++)
		r = json_add_unique(a, p->service.cpes[i], &bad);
	if (r == 0)
		r = json_finish(a, out);
	else
		json_decref(a);
	if (r != 0)
		return store__set_err(st, r, "port %d/%s: %s", p->port, rec_proto_name(p->proto),
		                      bad ? "a CPE is not valid UTF-8" : "out of memory");
	return 0;
}

/* A JSON array of strings (hostnames, cpes) into an owned char *[]. */
int store__json_strings(const char *text, char ***out, size_t *n)
{
	json_t *a = NULL;
	char **v = NULL;
	size_t cnt = 0, len;
	int r;

	*out = NULL;
	*n = 0;
	if (!text || strcmp(text, "[]") == 0)
		return 0;
	if (!(a = json_loads(text, JSON_DECODE_ANY, NULL)) || !json_is_array(a)) {
		r = SDB_EDB;
		goto out;
	}
	len = json_array_size(a);
	if (len == 0) {
		r = 0;
		goto out;
	}
	if (!(v = calloc(len, sizeof(*v)))) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		const char *sv = json_string_value(json_array_get(a, i));
		if (!sv)
			continue; /* not a string: not ours, skip it */
		if (!(v[cnt] = strdup(sv))) {
			r = SDB_ENOMEM;
			goto out;
		}
		cnt++;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	r = 0;
out:
	if (v) {
		for (size_t i = 0; i < cnt; i++)
			free(v[i]);
		free(v);
	}
	json_decref(a);
	return r;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* hosts.hostnames (a JSON array) as events.h's canonical "a,b" text. */
int store__names_text(const char *json, char **out)
{
	json_t *arr;
	const char **v = NULL;
	struct buf b;
	size_t n, k = 0;
	int r = 0;

	*out = NULL;
	if (!json || strcmp(json, "[]") == 0)
		return 0; /* most hosts: no names, nothing to parse */
	arr = json_loads(json, 0, NULL);
	n = arr && json_is_array(arr) ? json_array_size(arr) : 0;
	buf_init(&b, (size_t)1 << 20);
	if (n && !(v = calloc(n, sizeof(*v)))) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = json_string_value(json_array_get(arr, i));
		if (name && *name)
			v[k++] = name;
	}
	qsort(v, k, sizeof(*v), cmp_cstr);
	for (size_t i = 0; i < k && r == 0; i++) {
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (b.len)
			r = buf_append_char(&b, ',');
		if (r == 0)
			r = buf_append_str(&b, v[i]);
	}
	if (r == 0 && b.len)
		*out = buf_steal(&b);
out:
	buf_free(&b);
	free(v);
	json_decref(arr);
	return r;
}

/* ---- host_state.ports ---------------------------------------------- */

/* A JSON string, or null.  Escapes what JSON requires (quote, backslash,
 * control characters); the text is UTF-8 already (expat's, or stored). */
static int doc_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run;
	int r = 0;

	if (!s)
		return buf_append(b, "null", 4);
	r |= buf_append_char(b, '"');
	for (run = s; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6];

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		r |= buf_append(b, run, (size_t)(s - run));
		esc[0] = '\\';
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			r |= buf_append(b, esc, 2);
		} else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			r |= buf_append(b, esc, 6);
		}
		run = s + 1;
	}
	r |= buf_append(b, run, (size_t)(s - run));
	r |= buf_append_char(b, '"');
	return r ? SDB_ENOMEM : 0;
}

/* A time or id at p, "null" when 0 and null_if_zero; returns the end.
 * (Not printf: the job writer writes five of these per port of every
 * scanned host.)  p has room for 21 bytes. */
static char *doc_int(char *p, int64_t v, int null_if_zero)
{
	char tmp[24], *t = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	if (v == 0 && null_if_zero) {
		memcpy(p, "null", 4);
		return p + 4;
	}
	do {
		*--t = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--t = '-';
	memcpy(p, t, (size_t)(tmp + sizeof(tmp) - t));
	return p + (tmp + sizeof(tmp) - t);
}

/* One append per run of fixed text: the strings go through doc_str, the
 * numbers are formatted into a local buffer first.  Trailing nulls are left
 * out (most ports have no service details and are not closed). */
int store__port_state_doc(const struct ev_host *h, struct buf *out)
{
	int r = buf_append_char(out, '[');

	for (size_t i = 0; i < h->nports && r == 0; i++) {
		const struct ev_port *p = &h->ports[i];
		/* after closed_at, in document order */
		const char *strs[] = {p->reason,  p->method,    p->service, p->product,
		                      p->version, p->extrainfo, p->tunnel};
		size_t nstr = sizeof(strs) / sizeof(strs[0]);
		char num[6 * 22 + 8], *e = num;

		while (nstr > 0 && !strs[nstr - 1])
			nstr--;
		r |= buf_append_str(out, i ? ",[" : "[");
		r |= doc_str(out, rec_proto_name(p->proto));
		*e++ = ',';
		e = doc_int(e, p->port, 0);
		*e++ = ',';
		r |= buf_append(out, num, (size_t)(e - num));
		r |= doc_str(out, rec_port_state_name(p->state));
		e = num;
		*e++ = ',';
		e = doc_int(e, p->job_id, 1);
		*e++ = ',';
		e = doc_int(e, p->seen_at, 0);
		if (p->first_seen || p->last_seen || p->closed_at || nstr) {
			*e++ = ',';
			e = doc_int(e, p->first_seen, 1);
			*e++ = ',';
			e = doc_int(e, p->last_seen, 1);
		}
		if (p->closed_at || nstr) {
			*e++ = ',';
			e = doc_int(e, p->closed_at, 1);
		}
		r |= buf_append(out, num, (size_t)(e - num));
		for (size_t k = 0; k < nstr; k++) {
			r |= buf_append_char(out, ',');
			r |= doc_str(out, strs[k]);
		}
		r |= buf_append_char(out, ']');
	}
	if (r == 0)
		r = buf_append_char(out, ']');
	return r ? SDB_ENOMEM : 0;
}

/*
 * Reading the document back: a strict reader of exactly the shape above
 * (any JSON whitespace and string escapes, as PostgreSQL's jsonb prints
 * them), much faster than building a tree of it -- the job writer loads
 * every scanned host's document.  Anything else is SDB_EDB.
 */
struct doc_rd {
	const char *p, *end;
	char *out; /* decoded strings, NUL-terminated, one port at a time */
	size_t used;
};

static void doc_ws(struct doc_rd *d)
{
	while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
		d->p++;
}

/* Consume c (after whitespace); 0 if it is not there. */
static int doc_eat(struct doc_rd *d, char c)
{
	doc_ws(d);
	if (d->p < d->end && *d->p == c) {
		d->p++;
		return 1;
	}
	return 0;
}

static int doc_hex4(const char *p, unsigned *v)
{
	*v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			*v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	return 0;
}

/* \uXXXX (and a surrogate pair's second half) as UTF-8 into d->out. */
static int doc_unicode(struct doc_rd *d)
{
	unsigned cp, lo;
	char *o = d->out + d->used;

	if (d->end - d->p < 4 || doc_hex4(d->p, &cp) != 0)
		return -1;
	d->p += 4;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (d->end - d->p < 6 || d->p[0] != '\\' || d->p[1] != 'u' ||
		    doc_hex4(d->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
			return -1;
		d->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
		return -1; /* a lone low surrogate; NUL cannot be in a C string */
	}
	/* at most 4 bytes out for at least 6 read: d->out is large enough */
	if (cp < 0x80) {
		o[0] = (char)cp;
		d->used += 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		d->used += 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		d->used += 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		d->used += 4;
	}
	return 0;
}

/* A string (decoded into d->out, *s points at it) or null (*s = NULL). */
static int doc_rd_str(struct doc_rd *d, const char **s)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

	doc_ws(d);
	if (d->end - d->p >= 4 && memcmp(d->p, "null", 4) == 0) {
		d->p += 4;
		*s = NULL;
		return 0;
	}
	if (d->p >= d->end || *d->p++ != '"')
		return -1;
	*s = d->out + d->used;
	while (d->p < d->end) {
		unsigned char c = (unsigned char)*d->p++;
		const char *e;

		if (c == '"') {
			d->out[d->used++] = '\0';
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c != '\\') {
			d->out[d->used++] = (char)c;
			continue;
		}
		if (d->p >= d->end)
			return -1;
		c = (unsigned char)*d->p++;
		if (c == 'u') {
			if (doc_unicode(d) != 0)
				return -1;
		} else if (c && (e = strchr(from, c)) != NULL) {
			d->out[d->used++] = to[e - from];
		} else {
			return -1;
		}
	}
	return -1;
}

/* An integer in [lo, hi], or null (0) when null_ok. */
static int doc_rd_int(struct doc_rd *d, int64_t lo, int64_t hi, int null_ok, int64_t *v)
{
	int neg = 0, digits = 0;

	doc_ws(d);
	*v = 0;
	if (null_ok && d->end - d->p >= 4 && memcmp(d->p, "null", 4) == 0) {
		d->p += 4;
		return 0;
	}
	if (d->p < d->end && *d->p == '-') {
		neg = 1;
		d->p++;
	}
	while (d->p < d->end && *d->p >= '0' && *d->p <= '9') {
		if (*v > (INT64_MAX - 9) / 10)
			return -1;
		*v = *v * 10 + (*d->p++ - '0');
		digits++;
	}
	if (neg)
		*v = -*v;
	if (!digits || *v < lo || *v > hi || (*v == 0 && null_ok))
		return -1;
	return 0;
}

/* One port's array into p (its strings point into d->out): protocol,
 * port, state, job_id, seen_at required; the rest, in document order, may
 * be left out at the end (null). */
static int doc_rd_port(struct doc_rd *d, struct ev_port *p)
{
	const char *proto, *state;
	int64_t *times[] = {&p->first_seen, &p->last_seen, &p->closed_at};
	char **strs[] = {&p->reason,  &p->method,    &p->service, &p->product,
	                 &p->version, &p->extrainfo, &p->tunnel};
	size_t ntimes = sizeof(times) / sizeof(times[0]);
	int64_t port;
	enum rec_proto pr;
	enum rec_port_state st;

	memset(p, 0, sizeof(*p));
	d->used = 0;
	if (!doc_eat(d, '[') || doc_rd_str(d, &proto) != 0 || !proto ||
	    rec_proto_parse(proto, &pr) != 0 || !doc_eat(d, ',') ||
	    doc_rd_int(d, 0, 65535, 0, &port) != 0 || !doc_eat(d, ',') ||
	    doc_rd_str(d, &state) != 0 || !state || rec_port_state_parse(state, &st) != 0 ||
	    !doc_eat(d, ',') || doc_rd_int(d, 1, INT64_MAX, 1, &p->job_id) != 0 ||
	    !doc_eat(d, ',') || doc_rd_int(d, 0, INT64_MAX, 0, &p->seen_at) != 0)
		return -1;
	p->proto = pr;
	p->port = (int)port;
	p->state = st;
	for (size_t i = 0; i < ntimes + sizeof(strs) / sizeof(strs[0]); i++) {
		if (doc_eat(d, ']'))
			return 0;
		if (!doc_eat(d, ','))
			return -1;
		if (i < ntimes ? doc_rd_int(d, 1, INT64_MAX, 1, times[i]) != 0
		               : doc_rd_str(d, (const char **)strs[i - ntimes]) != 0)
			return -1;
	}
	return doc_eat(d, ']') ? 0 : -1;
}

int store__port_state_read(const char *doc, size_t len, struct ev_host *out)
{
	struct doc_rd d = {.p = doc, .end = doc + len};
	int r = 0;

	/* decoded strings never outgrow their JSON text */
	if (!(d.out = malloc(len + 1)))
		return SDB_ENOMEM;
	if (!doc_eat(&d, '[')) {
		r = SDB_EDB;
		goto out;
	}
	if (!doc_eat(&d, ']')) {
		do {
			struct ev_port p;

			if (doc_rd_port(&d, &p) != 0) {
				r = SDB_EDB;
				goto out;
			}
			if ((r = ev_host_put_port(out, &p)) != 0)
				goto out;
		} while (doc_eat(&d, ','));
		if (!doc_eat(&d, ']'))
			r = SDB_EDB;
	}
	doc_ws(&d);
	if (r == 0 && d.p != d.end)
		r = SDB_EDB;
out:
	free(d.out);
	return r;
}

int store__port_state_check(const char *doc, size_t len)
{
	struct ev_host h;
	int r;

	ev_host_init(&h);
	r = store__port_state_read(doc, len, &h);
	ev_host_free(&h);
	return r;
}
