/*
 * store_target.c - which parts of a database target are secret, and the
 * target as it may be shown (messages, `ps`, logs).  ARCHITECTURE
 * invariant 12.
 *
 * Secret is what libpq will read as a secret, not what looks like one: the
 * target is read by the grammar of libpq's own parsers (conninfo_parse for
 * key=value strings, conninfo_uri_parse_options for URIs, fe-connect.c),
 * every keyword decoded as libpq decodes it (percent-encoding in URIs,
 * backslash escapes and quotes in key=value strings, any isspace() byte as
 * a separator), and a value is secret when libpq's own table marks its
 * keyword with dispchar "*" (password, sslpassword, and any such keyword a
 * newer libpq adds).  PQconninfoParse then checks the reading: the target
 * as shown must parse to no secret at all.  A target libpq cannot parse is
 * shown as its scheme and "***" (libpq's messages about it may quote any
 * part of it).
 *
 * On top of libpq's reading, a URI's user info is hidden up to the LAST '@'
 * of the target (libpq stops at the first '@' or '/'): a password holding
 * a raw '/' or '@' is the user's password even where libpq reads it as a
 * port or a database name.  Hiding too much costs a less helpful message;
 * hiding too little is the leak.
 *
 * Built without PostgreSQL (-DSCANDB_WITH_PG=OFF: no libpq), a PostgreSQL
 * target that is a URI or holds a '=' is shown as its scheme and "***":
 * without libpq's table and its check of the reading, hiding it all is
 * the safe side (such a target cannot be opened anyway).
 *
 * Not here: the redaction of secrets in driver messages (pg/pg_secrets.c, which
 * uses store__target_secrets), and what a backend does with them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "core/error.h"
#ifdef SCANDB_WITH_PG
#include "store/pg/pg_int.h"
#else
#include "store/store_int.h"
#endif

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* Length of libpq's URI designator at s ("postgresql://", "postgres://"), or 0. */
static size_t uri_prefix(const char *s)
{
	if (has_prefix(s, "postgresql://"))
		return 13;
	if (has_prefix(s, "postgres://"))
		return 11;
	return 0;
}

/* Where libpq starts reading the target: after "pg:" or "postgresql:"
 * unless the target is a URI itself; (size_t)-1 for a SQLite target. */
static size_t conninfo_offset(const char *target)
{
	if (uri_prefix(target))
		return 0;
	if (has_prefix(target, "pg:"))
		return 3;
	if (has_prefix(target, "postgresql:"))
		return 11;
	return (size_t)-1;
}

#ifdef SCANDB_WITH_PG
/* Is `keyword` secret by libpq's table (dispchar "*")?  password and
 * sslpassword are secret whatever the table says. */
static int keyword_secret(const PQconninfoOption *table, const char *keyword)
{
	if (strcmp(keyword, "password") == 0 || strcmp(keyword, "sslpassword") == 0)
		return 1;
	for (const PQconninfoOption *o = table; o && o->keyword; o++)
		if (strcmp(o->keyword, keyword) == 0)
			return o->dispchar && strchr(o->dispchar, '*') != NULL;
	return 0;
}

static int add_span(struct store__target_secrets *ts, size_t off, size_t len)
{
	if (len == 0)
		return 0;
	if (ts->nspans >= STORE__SECRET_SPANS)
		return -1;
	ts->spans[ts->nspans].off = off;
	ts->spans[ts->nspans].len = len;
	ts->nspans++;
	return 0;
}
#endif

int store__hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#ifdef SCANDB_WITH_PG
/* libpq's conninfo_uri_decode of [p, p + n) into out (n + 1 bytes): 0, or
 * -1 for an escape libpq refuses (then it would not parse). */
static int uri_decode(const char *p, size_t n, char *out)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (p[i] != '%') {
			out[k++] = p[i];
			continue;
		}
		if (i + 2 >= n || (hi = store__hexval(p[i + 1])) < 0 ||
		    (lo = store__hexval(p[i + 2])) < 0 || (hi | lo) == 0)
			return -1;
		out[k++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[k] = '\0';
	return 0;
}

/*
 * A URI's query parameters from q (after the '?'), as
 * conninfo_uri_parse_params reads them: "k=v" separated by '&', keyword
 * and value percent-decoded.  base: offset of q in the target.  0, or -1
 * when libpq would refuse them (or on allocation failure).
 */
static int uri_params(const char *q, size_t base, const PQconninfoOption *table,
                      struct store__target_secrets *ts)
{
	const char *p = q;

	while (*p) {
		const char *k = p, *eq = NULL, *end;
		char *kw;
		int secret;

		for (end = p; *end && *end != '&'; end++)
			if (*end == '=') {
				if (eq)
					return -1; /* a second '=' */
				eq = end;
			}
		if (!eq)
			return -1;
		if (!(kw = malloc((size_t)(eq - k) + 1)))
			return -1;
		if (uri_decode(k, (size_t)(eq - k), kw) != 0) {
			free(kw);
			return -1;
		}
		secret = keyword_secret(table, kw);
		free(kw);
		if (secret &&
		    add_span(ts, base + (size_t)(eq + 1 - q), (size_t)(end - eq - 1)) != 0)
			return -1;
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* A URI (u starts with the designator, at offset base of the target):
 * the password of the user info as libpq reads it, the user info up to
 * the last '@' (the user's intent), and the query parameters. */
static int uri_spans(const char *u, size_t base, const PQconninfoOption *table,
                     struct store__target_secrets *ts)
{
	size_t pre = uri_prefix(u);
	const char *start = u + pre, *p, *last_at = strrchr(start, '@');

	/* libpq: user info ends at the first '@' before any '/' */
	for (p = start; *p && *p != '@' && *p != '/'; p++)
		;
	if (*p == '@') {
		const char *colon = memchr(start, ':', (size_t)(p - start));
		if (colon && add_span(ts, base + (size_t)(colon + 1 - u), (size_t)(p - colon - 1)))
			return -1;
		p++;
	} else {
		p = start;
	}
	/* the user's intent: everything after the first ':' up to the last '@' */
	if (last_at) {
		const char *colon = memchr(start, ':', (size_t)(last_at - start));
		if (colon &&
		    add_span(ts, base + (size_t)(colon + 1 - u), (size_t)(last_at - colon - 1)))
			return -1;
	}
	/* the host list: an IPv6 address in brackets may hold '/' or '?' */
	for (;;) {
		if (*p == '[') {
			while (*p && *p != ']')
				p++;
			if (!*p)
				return -1;
			p++;
		}
		while (*p && *p != '/' && *p != '?' && *p != ',')
			p++;
		if (*p != ',')
			break;
		p++;
	}
	if (*p == '/')
		while (*p && *p != '?')
			p++;
	if (*p == '?')
		return uri_params(p + 1, base + (size_t)(p + 1 - u), table, ts);
	return 0;
}

/* A key=value string (at offset base of the target), as conninfo_parse
 * reads it: isspace() separates, a value is 'quoted' or runs to the next
 * unescaped space, a backslash escapes the next byte in both. */
static int kv_spans(const char *c, size_t base, const PQconninfoOption *table,
                    struct store__target_secrets *ts)
{
	const char *p = c;

	while (*p) {
		const char *k, *kend, *v, *vend;
		char *kw;
		int secret;

		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		k = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		kend = p;
		while (*p && isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			return -1;
		p++;
		while (*p && isspace((unsigned char)*p))
			p++;
		if (*p == '\'') {
			v = ++p;
			for (;;) {
				if (!*p)
					return -1; /* unterminated */
				if (*p == '\\') {
					p++;
					if (*p)
						p++;
					continue;
				}
				if (*p == '\'')
					break;
				p++;
			}
			vend = p++;
		} else {
			v = p;
			while (*p && !isspace((unsigned char)*p)) {
				if (*p == '\\' && p[1])
					p++;
				p++;
			}
			vend = p;
		}
		if (!(kw = strndup(k, (size_t)(kend - k))))
			return -1;
		secret = keyword_secret(table, kw);
		free(kw);
		if (secret && add_span(ts, base + (size_t)(v - c), (size_t)(vend - v)) != 0)
			return -1;
	}
	return 0;
}

#endif

/* The target with every span replaced by "***" (overlapping spans merged):
 * malloc'ed, or NULL. */
static char *render(const char *target, const struct store__target_secrets *ts)
{
	size_t n = strlen(target), k = 0;
	char *out, *hide = calloc(n + 1, 1);

	if (!hide)
		return NULL;
	for (size_t i = 0; i < ts->nspans; i++)
		memset(hide + ts->spans[i].off, 1, ts->spans[i].len);
	if (!(out = malloc(n * 3 + 4))) {
		free(hide);
		return NULL;
	}
	for (size_t i = 0; i < n;) {
		if (!hide[i]) {
			out[k++] = target[i++];
			continue;
		}
		memcpy(out + k, "***", 3);
		k += 3;
		while (i < n && hide[i])
			i++;
	}
	out[k] = '\0';
	free(hide);
	return out;
}

#ifdef SCANDB_WITH_PG
void store__conninfo_free_wiped(PQconninfoOption *opts)
{
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (o->val && keyword_secret(opts, o->keyword))
			explicit_bzero(o->val, strlen(o->val));
	PQconninfoFree(opts);
}

#endif

void store__no_core_dumps(void)
{
	struct rlimit rl = {0, 0};

	/* not dumpable: no core (whatever core_pattern says, a pipe
	 * included), no ptrace by the same user, /proc/PID/mem and environ
	 * readable by root only */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/* and no core file from the tools we run either (they inherit it) */
	setrlimit(RLIMIT_CORE, &rl);
}

int store_protect_secrets(const char *target)
{
	struct store__target_secrets ts;
	const char *env = getenv("PGPASSWORD");
	int held;

	store__target_secrets(target ? target : "", &ts);
	held = ts.opaque || ts.nvalues > 0 || ts.nspans > 0 ||
	       (env && *env && store_target_is_pg(target ? target : ""));
	store__target_secrets_free(&ts);
	if (held)
		store__no_core_dumps();
	return held;
}

#ifdef SCANDB_WITH_PG
/* Does `shown` (a rendered target) still carry a secret by libpq's
 * reading?  1 if it does or cannot be read, 0 if it is clean. */
static int still_secret(const char *shown, size_t from)
{
	char *err = NULL;
	PQconninfoOption *o = PQconninfoParse(shown + from, &err);
	int dirty = 0;

	if (err)
		PQfreemem(err);
	if (!o)
		return 1;
	for (PQconninfoOption *x = o; x->keyword; x++) {
		if (!x->val || !*x->val || !keyword_secret(o, x->keyword))
			continue;
		if (strspn(x->val, "*") != strlen(x->val))
			dirty = 1;
	}
	PQconninfoFree(o);
	return dirty;
}

#endif

void store__target_secrets_free(struct store__target_secrets *ts)
{
	for (size_t i = 0; i < ts->nvalues; i++) {
		explicit_bzero(ts->values[i], strlen(ts->values[i]));
		free(ts->values[i]);
	}
	memset(ts, 0, sizeof(*ts));
}

#ifdef SCANDB_WITH_PG
int store__target_secrets(const char *target, struct store__target_secrets *ts)
{
	size_t from = conninfo_offset(target);
	const char *c;
	char *err = NULL;
	PQconninfoOption *opts;
	int r = 0;

	memset(ts, 0, sizeof(*ts));
	if (from == (size_t)-1)
		return 0; /* a SQLite file: nothing secret */
	c = target + from;
	ts->from = from + uri_prefix(c);
	/* libpq takes a string that is neither a URI nor key=value as a
	 * database name (expand_dbname): nothing to hide */
	if (!uri_prefix(c) && !strchr(c, '='))
		return 0;
	opts = PQconninfoParse(c, &err);
	if (err)
		PQfreemem(err); /* it may quote the password: never shown */
	if (!opts) {
		ts->opaque = 1;
		return 0;
	}
	if ((uri_prefix(c) ? uri_spans(c, from, opts, ts) : kv_spans(c, from, opts, ts)) != 0)
		ts->opaque = 1; /* libpq read it and we could not: hide it all */
	for (PQconninfoOption *o = opts; r == 0 && o->keyword; o++) {
		if (!o->val || !*o->val || !keyword_secret(opts, o->keyword))
			continue;
		if (ts->nvalues >= sizeof(ts->values) / sizeof(ts->values[0]))
			ts->opaque = 1;
		else if (!(ts->values[ts->nvalues++] = strdup(o->val)))
			r = SDB_ENOMEM;
	}
	store__conninfo_free_wiped(opts);
	if (r != 0) {
		store__target_secrets_free(ts);
		ts->opaque = 1;
		return r;
	}
	if (!ts->opaque) {
		char *shown = render(target, ts);
		if (!shown) {
			store__target_secrets_free(ts);
			ts->opaque = 1;
			return SDB_ENOMEM;
		}
		/* the check: what is shown, read by libpq, holds no secret */
		if (still_secret(shown, from))
			ts->opaque = 1;
		free(shown);
	}
	return 0;
}
#else
/* Without libpq: a PostgreSQL target that libpq would read for keywords
 * (a URI, or key=value) is all hidden after its scheme. */
int store__target_secrets(const char *target, struct store__target_secrets *ts)
{
	size_t from = conninfo_offset(target);
	const char *c;

	memset(ts, 0, sizeof(*ts));
	if (from == (size_t)-1)
		return 0; /* a SQLite file: nothing secret */
	c = target + from;
	ts->from = from + uri_prefix(c);
	if (uri_prefix(c) || strchr(c, '='))
		ts->opaque = 1;
	return 0;
}
#endif

char *store_target_display(const char *target, char *out, size_t outlen)
{
	struct store__target_secrets ts;
	char *shown = NULL;

	if (!out || outlen == 0)
		return out;
	if (!target)
		target = "";
	store__target_secrets(target, &ts);
	if (!ts.opaque)
		shown = render(target, &ts);
	if (shown)
		snprintf(out, outlen, "%s", shown);
	else /* (or out of memory: then say nothing of it) */
		snprintf(out, outlen, "%.*s***", (int)ts.from, target);
	free(shown);
	store__target_secrets_free(&ts);
	return out;
}
