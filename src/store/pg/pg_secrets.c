/*
 * pg_secrets.c - keeping passwords out of messages: every form of a
 * password the target holds (as written, percent-decoded, unescaped, and
 * as libpq reads it: store_target.c), the password and secret options the
 * connection used, and the masking of all of them in any message
 * (store__pg_redact).
 */
#include "store/pg/pg_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Replace every occurrence of secret in msg (len bytes) by "***",
 * searching on after each replacement (the secret may be "***" itself). */
static void mask(char *msg, size_t len, const char *secret)
{
	size_t plen;
	char *p = msg;

	if (!secret || !(plen = strlen(secret)))
		return;
	while ((p = strstr(p, secret)) != NULL) {
		size_t tail = strlen(p + plen);
		if (plen >= 3) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + plen, tail + 1);
		} else {
			size_t used = (size_t)(p - msg) + 3 + tail + 1;
			if (used > len) {
				/* no room to widen: blank it instead */
				memset(p, '*', plen);
				p += plen;
				continue;
			}
			memmove(p + 3, p + plen, tail + 1);
			memcpy(p, "***", 3);
		}
		p += 3;
	}
}

void store__pg_redact(const struct store_pg *s, char *msg, size_t len)
{
	/* the longest first: a shorter form may be part of a longer one */
	const char *v[sizeof(s->secrets) / sizeof(s->secrets[0]) + 1];
	int n = 0;

	if (s->password && *s->password)
		v[n++] = s->password;
	for (int i = 0; i < s->nsecrets; i++)
		v[n++] = s->secrets[i];
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strlen(v[j]) > strlen(v[j - 1]); j--) {
			const char *x = v[j];
			v[j] = v[j - 1];
			v[j - 1] = x;
		}
	for (int i = 0; i < n; i++)
		mask(msg, len, v[i]);
}

/* Remember a password form [p, p + n) from the target; 0 or SDB_ENOMEM. */
static int add_secret(struct store_pg *s, const char *p, size_t n)
{
	char *v;

	if (!n)
		return 0;
	for (int i = 0; i < s->nsecrets; i++)
		if (strlen(s->secrets[i]) == n && memcmp(s->secrets[i], p, n) == 0)
			return 0;
	if (s->nsecrets >= (int)(sizeof(s->secrets) / sizeof(s->secrets[0])))
		return SDB_ETOOBIG; /* one we could not keep could show: refuse */
	if (!(v = strndup(p, n)))
		return SDB_ENOMEM;
	s->secrets[s->nsecrets++] = v;
	return 0;
}

/* [p, p + n) and its percent-decoded form (invalid escapes kept). */
static int add_uri_secret(struct store_pg *s, const char *p, size_t n)
{
	char *d;
	size_t k = 0;
	int r;

	if ((r = add_secret(s, p, n)) != 0 || !n)
		return r;
	if (!(d = malloc(n + 1)))
		return SDB_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (p[i] == '%' && i + 2 < n && (hi = store__hexval(p[i + 1])) >= 0 &&
		    (lo = store__hexval(p[i + 2])) >= 0) {
			d[k++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			d[k++] = p[i];
		}
	}
	r = add_secret(s, d, k);
	explicit_bzero(d, n + 1);
	free(d);
	return r;
}

/* What libpq itself reads as secret in the target (store_target.c): each
 * value as written and as libpq decodes it.  *opaque: libpq cannot parse
 * the target, so its messages about it may quote anything. */
static int collect_libpq_secrets(struct store_pg *s, const char *target, int *opaque)
{
	struct store__target_secrets ts;
	int r = store__target_secrets(target, &ts);

	*opaque = ts.opaque;
	for (size_t i = 0; r == 0 && i < ts.nspans; i++)
		r = add_secret(s, target + ts.spans[i].off, ts.spans[i].len);
	for (size_t i = 0; r == 0 && i < ts.nvalues; i++)
		r = add_secret(s, ts.values[i], strlen(ts.values[i]));
	store__target_secrets_free(&ts);
	return r;
}

/* A URI's passwords: its userinfo, up to the '@' libpq takes (the first,
 * before any '/') and up to the last '@' of the target (a password with a
 * raw '/' or '@' in it), and its ?password= / &password= values. */
static int uri_secrets(struct store_pg *s, const char *conninfo)
{
	const char *a = strstr(conninfo, "://") + 3, *q;
	size_t alen = strcspn(a, "/");
	const char *first_at = memchr(a, '@', alen);
	const char *last_at = strrchr(a, '@');
	int r = 0;

	for (int k = 0; k < 2 && r == 0; k++) {
		const char *at = k == 0 ? first_at : last_at;
		const char *c1, *c2;
		if (!at)
			continue;
		c1 = memchr(a, ':', (size_t)(at - a));
		if (!c1)
			continue;
		r = add_uri_secret(s, c1 + 1, (size_t)(at - c1 - 1));
		for (c2 = at - 1; r == 0 && c2 > c1 && *c2 != ':'; c2--)
			;
		if (r == 0 && c2 != c1)
			r = add_uri_secret(s, c2 + 1, (size_t)(at - c2 - 1));
		/* a raw '/' makes libpq read the pieces as port, dbname...
		 * and quote them: each piece is a secret too */
		for (const char *pc = c1 + 1; r == 0 && k == 1 && pc < at;) {
			const char *sl = memchr(pc, '/', (size_t)(at - pc));
			const char *end = sl ? sl : at;
			if (end > pc && (sl || pc != c1 + 1))
				r = add_uri_secret(s, pc, (size_t)(end - pc));
			pc = end + 1;
		}
	}
	for (q = a; r == 0 && (q = strstr(q, "password=")) != NULL; q += 9) {
		if (q > a && (q[-1] == '?' || q[-1] == '&'))
			r = add_uri_secret(s, q + 9, strcspn(q + 9, "&"));
	}
	return r;
}

/* A quoted key=value value v (after its opening quote): as written and
 * with its \ escapes undone. */
static int quoted_secret(struct store_pg *s, const char *v)
{
	const char *e;
	char *d;
	size_t k = 0;
	int r;

	for (e = v; *e && *e != '\''; e++)
		if (*e == '\\' && e[1])
			e++;
	if ((r = add_secret(s, v, (size_t)(e - v))) != 0)
		return r;
	if (!(d = malloc((size_t)(e - v) + 1)))
		return SDB_ENOMEM;
	for (const char *x = v; x < e; x++) {
		if (*x == '\\' && x + 1 < e)
			x++;
		d[k++] = *x;
	}
	r = add_secret(s, d, k);
	explicit_bzero(d, (size_t)(e - v) + 1);
	free(d);
	return r;
}

/* A key=value string's passwords: password = value, or 'quoted value'
 * with \ escapes. */
static int kv_secrets(struct store_pg *s, const char *conninfo)
{
	const char *q;
	int r = 0;

	for (q = conninfo; r == 0 && (q = strstr(q, "password")) != NULL; q += 8) {
		const char *v = q + 8, *e;
		if (q > conninfo && !isspace((unsigned char)q[-1]))
			continue;
		while (isspace((unsigned char)*v))
			v++;
		if (*v != '=')
			continue;
		v++;
		while (isspace((unsigned char)*v))
			v++;
		if (*v == '\'') {
			if ((r = quoted_secret(s, v + 1)) != 0)
				break;
		} else {
			for (e = v; *e && !isspace((unsigned char)*e); e++)
				;
			r = add_secret(s, v, (size_t)(e - v));
		}
	}
	return r;
}

/* The passwords written in the target itself, found without libpq (whose
 * parse errors may quote them back before it knows the password), then
 * what libpq reads as secret in it. */
int store__pg_collect_secrets(struct store_pg *s, const char *target, const char *conninfo,
                              int *opaque)
{
	int r;

	*opaque = 0;
	if (strncmp(conninfo, "postgresql://", 13) == 0 ||
	    strncmp(conninfo, "postgres://", 11) == 0)
		r = uri_secrets(s, conninfo);
	else
		r = kv_secrets(s, conninfo);
	return r ? r : collect_libpq_secrets(s, target, opaque);
}

/* The password of the connection (from the target, the environment or a
 * service file) and its other secrets (libpq's dispchar "*": sslpassword),
 * so messages never show them. */
int store__pg_remember_password(struct store_pg *s)
{
	PQconninfoOption *opts = PQconninfo(s->conn), *o;
	int r = 0;

	for (o = opts; o && o->keyword && r == 0; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "password") == 0) {
			if (!(s->password = strdup(o->val)))
				r = SDB_ENOMEM;
		} else if (o->dispchar && strchr(o->dispchar, '*')) {
			/* sslpassword, from the target or a service file */
			r = add_secret(s, o->val, strlen(o->val));
		}
	}
	store__conninfo_free_wiped(opts);
	if (r == 0 && (s->password || s->nsecrets))
		store__no_core_dumps(); /* (a password from ~/.pgpass or a service file) */
	return r;
}

/* Wipe and free the password and the secrets (pg_close). */
void store__pg_secrets_free(struct store_pg *s)
{
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
		s->password = NULL;
	}
	for (int i = 0; i < s->nsecrets; i++) {
		explicit_bzero(s->secrets[i], strlen(s->secrets[i]));
		free(s->secrets[i]);
	}
	s->nsecrets = 0;
}
