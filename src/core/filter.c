/*
 * filter.c - the search filter language (see filter.h, docs/SEARCH.md):
 * words into tokens, tokens into a tree of typed terms (recursive descent,
 * bounded depth and size), each term's value checked and normalised; the
 * version order; port terms evaluated on one port.  Pure: no I/O.
 */
#include "core/filter.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/addr.h"
#include "core/error.h"
#include "core/record.h"
#include "core/timeutil.h"
#include "core/vec.h"

enum tok_kind { TOK_LPAREN, TOK_RPAREN, TOK_NOT, TOK_AND, TOK_OR, TOK_TERM };

struct tok {
	enum tok_kind kind;
	int word;    /* 1-based */
	char *key;   /* TOK_TERM: owned */
	char *value; /* TOK_TERM: owned, unquoted */
};

struct parser {
	const char *const *words;
	const char *where; /* "argument" or "word" */
	int64_t now;
	struct tok *toks;
	size_t ntoks, cap, pos;
	struct filter *f;
	size_t fcap;
	int terms, depth;
	char *err;
};

static const char *const field_names[FILTER_FIELD__COUNT] = {
    [FILTER_PORT] = "port",
    [FILTER_SERVICE] = "service",
    [FILTER_PRODUCT] = "product",
    [FILTER_VERSION] = "version",
    [FILTER_CPE] = "cpe",
    [FILTER_SCRIPT] = "script",
    [FILTER_HOSTNAME] = "hostname",
    [FILTER_OS] = "os",
    [FILTER_MAC_VENDOR] = "mac-vendor",
    [FILTER_NET] = "net",
    [FILTER_TAG] = "tag",
    [FILTER_STATUS] = "status",
    [FILTER_FIRST_SEEN] = "first-seen",
    [FILTER_CHANGED] = "changed",
    [FILTER_FINDING] = "finding",
};

static const char *const severities[] = {"info", "low", "medium", "high", "critical"};

/* ---- errors ----------------------------------------------------------------- */

/* "'WORD' at argument N: msg" (the word made printable and cut short). */
static int perr(struct parser *ps, int word, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(struct parser *ps, int word, int code, const char *fmt, ...)
{
	char shown[96], msg[FILTER_ERR_MAX - 160];
	const char *w = word > 0 ? ps->words[word - 1] : "";
	size_t i;
	va_list ap;

	for (i = 0; w[i] && i < sizeof(shown) - 4; i++)
		shown[i] = isprint((unsigned char)w[i]) ? w[i] : '?';
	shown[i] = '\0';
	if (w[i])
		memcpy(shown + i, "...", 4);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (word > 0)
		snprintf(ps->err, FILTER_ERR_MAX, "'%s' at %s %d: %s", shown, ps->where, word, msg);
	else
		snprintf(ps->err, FILTER_ERR_MAX, "%s", msg);
	return code;
}

/* ---- words into tokens ------------------------------------------------------ */

static int tok_add(struct parser *ps, enum tok_kind k, int word, char *key, char *value)
{
	if (VEC_RESERVE(ps->toks, ps->cap, ps->ntoks + 1, 16) != 0) {
		free(key);
		free(value);
		return perr(ps, 0, SDB_ENOMEM, "out of memory");
	}
	ps->toks[ps->ntoks++] = (struct tok){k, word, key, value};
	return 0;
}

/* A double-quoted value at q (q[0] == '"'): the unquoted copy in *out,
 * *end just past the closing quote. */
static int unquote(struct parser *ps, int word, const char *q, char **out, const char **end)
{
	size_t n = 0;
	char *v;

	if (!(v = malloc(strlen(q) + 1)))
		return perr(ps, 0, SDB_ENOMEM, "out of memory");
	for (q++; *q && *q != '"'; q++) {
		if (*q == '\\' && (q[1] == '"' || q[1] == '\\'))
			q++;
		v[n++] = *q;
	}
	if (*q != '"') {
		free(v);
		return perr(ps, word, SDB_EPARSE, "unterminated quote");
	}
	v[n] = '\0';
	*out = v;
	*end = q + 1;
	return 0;
}

static int is_keyword(const char *s, size_t n, const char *kw)
{
	return n == strlen(kw) && strncasecmp(s, kw, n) == 0;
}

/* The term in s[0..n) of word `word` (closing parentheses already cut,
 * unless the value is quoted: then *rest is what follows the quote). */
static int term_tok(struct parser *ps, int word, const char *s, size_t n, const char **rest)
{
	const char *colon = memchr(s, ':', n), *end = s + n;
	char *key, *value = NULL;
	int r;

	*rest = end;
	if (!colon || colon == s)
		return perr(ps, word, SDB_EPARSE, "not a term (KEY:VALUE, e.g. port:22)");
	if (!(key = strndup(s, (size_t)(colon - s))))
		return perr(ps, 0, SDB_ENOMEM, "out of memory");
	if (colon[1] == '"') {
		r = unquote(ps, word, colon + 1, &value, rest);
	} else {
		r = (value = strndup(colon + 1, (size_t)(end - colon - 1))) ? 0 : SDB_ENOMEM;
		if (r)
			perr(ps, 0, r, "out of memory");
	}
	if (r != 0) {
		free(key);
		return r;
	}
	return tok_add(ps, TOK_TERM, word, key, value);
}

/* One word: leading "(" and "!", a keyword or a term, trailing ")". */
static int word_toks(struct parser *ps, int word, const char *w)
{
	const char *p = w, *end, *rest;
	size_t close = 0;
	int r;

	for (; *p == '(' || *p == '!'; p++)
		if ((r = tok_add(ps, *p == '(' ? TOK_LPAREN : TOK_NOT, word, NULL, NULL)) != 0)
			return r;
	end = p + strlen(p);
	if (!strchr(p, '"'))
		while (end > p && end[-1] == ')') {
			end--;
			close++;
		}
	if (end == p) {
		r = 0;
	} else if (is_keyword(p, (size_t)(end - p), "or")) {
		r = tok_add(ps, TOK_OR, word, NULL, NULL);
	} else if (is_keyword(p, (size_t)(end - p), "and")) {
		r = tok_add(ps, TOK_AND, word, NULL, NULL);
	} else if (is_keyword(p, (size_t)(end - p), "not")) {
		r = tok_add(ps, TOK_NOT, word, NULL, NULL);
	} else if ((r = term_tok(ps, word, p, (size_t)(end - p), &rest)) == 0) {
		/* after a quoted value: only closing parentheses */
		for (; r == 0 && rest < end; rest++)
			r = *rest == ')' ? tok_add(ps, TOK_RPAREN, word, NULL, NULL)
			                 : perr(ps, word, SDB_EPARSE,
			                        "unexpected text after the closing quote");
	}
	while (r == 0 && close-- > 0)
		r = tok_add(ps, TOK_RPAREN, word, NULL, NULL);
	return r;
}

/* ---- term values ------------------------------------------------------------ */

/* An owned lower-case (ASCII) copy. */
static char *lower_dup(const char *s)
{
	char *d = strdup(s);

	for (char *p = d; p && *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

static int set_text(struct parser *ps, struct filter_node *nd, const char *v, int lower)
{
	if (!*v)
		return perr(ps, nd->word, SDB_EPARSE, "%s needs a value", field_names[nd->field]);
	if (!(nd->text = lower ? lower_dup(v) : strdup(v)))
		return perr(ps, 0, SDB_ENOMEM, "out of memory");
	return 0;
}

static int set_ports(struct parser *ps, struct filter_node *nd, const char *v)
{
	const char *p = v;

	if (!(nd->ports = calloc(FILTER_PORTS_MAX, sizeof(*nd->ports))))
		return perr(ps, 0, SDB_ENOMEM, "out of memory");
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		char one[32];
		struct filter_port *fp = &nd->ports[nd->nports];

		if (nd->nports >= FILTER_PORTS_MAX)
			return perr(ps, nd->word, SDB_ETOOBIG, "more than %d ports",
			            FILTER_PORTS_MAX);
		if (n == 0 || n >= sizeof(one))
			return perr(
			    ps, nd->word, SDB_EPARSE,
			    "a port is N or N/tcp, N/udp, N/sctp (0-65535), comma-separated");
		memcpy(one, p, n);
		one[n] = '\0';
		if (addr_port_spec_parse(one, &fp->port, &fp->proto) != 0)
			return perr(ps, nd->word, SDB_EPARSE,
			            "'%s' is not a port (N or N/tcp, N/udp, N/sctp; 0-65535)", one);
		nd->nports++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

/* "<", "<=", ">", ">=", "=" or nothing (=) at *v; *v moves past it. */
static enum filter_cmp cmp_op(const char **v)
{
	const char *p = *v;
	enum filter_cmp c = FILTER_EQ;

	if (p[0] == '<' || p[0] == '>') {
		int eq = p[1] == '=';
		c = p[0] == '<' ? (eq ? FILTER_LE : FILTER_LT) : (eq ? FILTER_GE : FILTER_GT);
		p += 1 + eq;
	} else if (p[0] == '=') {
		p++;
	}
	*v = p;
	return c;
}

static int set_version(struct parser *ps, struct filter_node *nd, const char *v)
{
	char norm[256];
	const char *p;

	nd->cmp = cmp_op(&v);
	if (!isdigit((unsigned char)*v))
		return perr(ps, nd->word, SDB_EPARSE, "version must start with a digit");
	for (p = v; *p; p++)
		if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
			return perr(ps, nd->word, SDB_EPARSE,
			            "version must be dotted numbers (8.0, 2.4.41)");
	if (filter_version_norm(v, norm, sizeof(norm)) != 0)
		return perr(ps, nd->word, SDB_ETOOBIG, "version is too long");
	return set_text(ps, nd, norm, 0);
}

/* Is a quantifier (* + ? {) at p? */
static int is_quant(const char *p)
{
	return *p == '*' || *p == '+' || *p == '?' || *p == '{';
}

/*
 * What both backends' regex engines take the same way and at a bounded
 * cost, or the reason it is refused: balanced parentheses and brackets
 * (glibc takes a lone ")" as a literal, PostgreSQL refuses it), no
 * quantifier right after another ("a++", "a*?": glibc's compiler grows
 * exponentially on a run of them), at most two {m,n} repetitions and none
 * over 100 (a repetition copies what it repeats), no back-reference (their
 * matching is exponential).  NULL when fine.
 */
static const char *regex_problem(const char *re)
{
	int depth = 0, braces = 0;

	for (const char *p = re; *p; p++) {
		if (*p == '\\' && p[1] >= '1' && p[1] <= '9') {
			return "back-references (\\1) are not supported";
		} else if (*p == '\\' && p[1]) {
			p++;
		} else if (*p == '[') {
			p += p[1] == '^' ? 2 : 1;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p++;
			if (!*p)
				return "unbalanced brackets";
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && --depth < 0) {
			return "unbalanced parentheses";
		} else if (*p == '{') {
			char *end;
			long n = strtol(p + 1, &end, 10);
			if (++braces > 2)
				return "more than two {m,n} repetitions";
			if (*end == ',')
				n = end[1] == '}' ? 101 : strtol(end + 1, &end, 10);
			if (n > 100 || (*end != '}' && *end != ','))
				return "a {m,n} repetition over 100 (or unclosed)";
		}
		if (is_quant(p) && p[0] != '{' && is_quant(p + 1))
			return "a quantifier right after another";
		if (*p == '}' && is_quant(p + 1))
			return "a quantifier right after another";
	}
	return depth == 0 ? NULL : "unbalanced parentheses";
}

/* script:ID or script:ID~/REGEX/ or script:ID~/REGEX/i */
static int set_script(struct parser *ps, struct filter_node *nd, const char *v)
{
	const char *tilde = strchr(v, '~'), *open, *close, *why;
	regex_t re;
	int rc;

	if (!tilde)
		return set_text(ps, nd, v, 0);
	if (tilde == v || !(nd->text = strndup(v, (size_t)(tilde - v))))
		return tilde == v ? perr(ps, nd->word, SDB_EPARSE, "script needs a script id")
		                  : perr(ps, 0, SDB_ENOMEM, "out of memory");
	open = tilde + 1;
	close = strrchr(open, '/');
	if (*open != '/' || close == open)
		return perr(ps, nd->word, SDB_EPARSE,
		            "a script output regex is written ID~/REGEX/ or ID~/REGEX/i");
	if (strcmp(close + 1, "i") != 0 && close[1])
		return perr(ps, nd->word, SDB_EPARSE, "unknown regex flag '%s' (only i)",
		            close + 1);
	nd->icase = close[1] == 'i';
	if ((size_t)(close - open - 1) > FILTER_REGEX_MAX)
		return perr(ps, nd->word, SDB_ETOOBIG, "regex longer than %d bytes",
		            FILTER_REGEX_MAX);
	if (!(nd->regex = strndup(open + 1, (size_t)(close - open - 1))))
		return perr(ps, 0, SDB_ENOMEM, "out of memory");
	if ((why = regex_problem(nd->regex)) != NULL)
		return perr(ps, nd->word, SDB_EPARSE, "bad regex: %s", why);
	rc = regcomp(&re, nd->regex, REG_EXTENDED | REG_NOSUB | (nd->icase ? REG_ICASE : 0));
	if (rc != 0) {
		char msg[128];
		regerror(rc, &re, msg, sizeof(msg));
		return perr(ps, nd->word, SDB_EPARSE, "bad regex: %s", msg);
	}
	regfree(&re);
	return 0;
}

/* first-seen: and changed: "<D" within D (or after a date), ">D" before. */
static int set_when(struct parser *ps, struct filter_node *nd, const char *v)
{
	int64_t secs;
	int lt = v[0] == '<';

	if (v[0] != '<' && v[0] != '>')
		return perr(ps, nd->word, SDB_EPARSE,
		            "%s needs < or > then a duration (7d, 12h) or a date (2026-11-01)",
		            field_names[nd->field]);
	v++;
	if (time_parse_duration(v, &secs) == 0) {
		/* an age: <7d is younger (after now - 7d), >7d older */
		nd->t = ps->now - secs;
		nd->after = lt;
	} else if (time_parse_since(v, ps->now, &nd->t) == 0) {
		/* a date: <DATE before it, >DATE at or after it */
		nd->after = !lt;
	} else {
		return perr(ps, nd->word, SDB_EPARSE,
		            "'%s' is not a duration (7d, 12h, 90m, 2w) or a date (2026-11-01)", v);
	}
	return 0;
}

static int set_finding(struct parser *ps, struct filter_node *nd, const char *v)
{
	size_t n = strlen(v);

	nd->cmp = FILTER_EQ;
	if (n > 0 && v[n - 1] == '+') {
		nd->cmp = FILTER_GE;
		n--;
	}
	for (int i = 0; i < 5; i++)
		if (is_keyword(v, n, severities[i])) {
			nd->severity = i;
			return 0;
		}
	return perr(ps, nd->word, SDB_EPARSE,
	            "finding needs a severity (info, low, medium, high, critical), "
	            "+ for that or higher");
}

static int set_status(struct parser *ps, struct filter_node *nd, const char *v)
{
	static const char *const st[] = {"up", "down", "unknown", "skipped", "gone"};

	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (strcasecmp(v, st[i]) == 0)
			return set_text(ps, nd, st[i], 0);
	return perr(ps, nd->word, SDB_EPARSE, "status is up, down, unknown, skipped or gone");
}

static int set_value(struct parser *ps, struct filter_node *nd, const char *v)
{
	if (strlen(v) > FILTER_VALUE_MAX)
		return perr(ps, nd->word, SDB_ETOOBIG, "value longer than %d bytes",
		            FILTER_VALUE_MAX);
	switch (nd->field) {
	case FILTER_PORT:
		return set_ports(ps, nd, v);
	case FILTER_VERSION:
		return set_version(ps, nd, v);
	case FILTER_SCRIPT:
		return set_script(ps, nd, v);
	case FILTER_NET:
		if (addr_cidr_parse(v, nd->lo, nd->hi) != 0)
			return perr(
			    ps, nd->word, SDB_EPARSE,
			    "net needs an address or CIDR block (10.0.0.0/8, 2001:db8::/32)");
		return 0;
	case FILTER_TAG:
		if (strlen(v) > 64)
			return perr(ps, nd->word, SDB_EPARSE, "a tag is 1 to 64 bytes");
		return set_text(ps, nd, v, 0);
	case FILTER_STATUS:
		return set_status(ps, nd, v);
	case FILTER_FIRST_SEEN:
	case FILTER_CHANGED:
		return set_when(ps, nd, v);
	case FILTER_FINDING:
		return set_finding(ps, nd, v);
	default: /* service, product, cpe, hostname, os, mac-vendor */
		return set_text(ps, nd, v, 1);
	}
}

/* ---- tokens into the tree --------------------------------------------------- */

static int node_new(struct parser *ps, enum filter_kind k, int word, int *out)
{
	struct filter *f = ps->f;

	if (VEC_RESERVE(f->nodes, ps->fcap, f->n + 1, 16) != 0)
		return perr(ps, 0, SDB_ENOMEM, "out of memory");
	memset(&f->nodes[f->n], 0, sizeof(f->nodes[0]));
	f->nodes[f->n].kind = k;
	f->nodes[f->n].first = f->nodes[f->n].next = -1;
	f->nodes[f->n].word = word;
	*out = (int)f->n++;
	return 0;
}

static int parse_term(struct parser *ps, const struct tok *t, int *out)
{
	struct filter_node *nd;
	int i, r;

	if (++ps->terms > FILTER_TERMS_MAX)
		return perr(ps, t->word, SDB_ETOOBIG, "more than %d terms", FILTER_TERMS_MAX);
	if ((r = node_new(ps, FILTER_TERM, t->word, out)) != 0)
		return r;
	nd = &ps->f->nodes[*out];
	for (i = 0; i < FILTER_FIELD__COUNT; i++)
		if (strcasecmp(t->key, field_names[i]) == 0)
			break;
	if (i == FILTER_FIELD__COUNT)
		return perr(ps, t->word, SDB_EPARSE,
		            "unknown term '%.40s' (port, service, product, version, cpe, script, "
		            "hostname, os, mac-vendor, net, tag, status, first-seen, changed, "
		            "finding)",
		            t->key);
	nd->field = (enum filter_field)i;
	return set_value(ps, nd, t->value);
}

static int parse_or(struct parser *ps, int *out);

static int parse_unary(struct parser *ps, int *out)
{
	const struct tok *t;
	int r, child;

	if (ps->pos >= ps->ntoks)
		return perr(ps, (int)ps->toks[ps->ntoks - 1].word, SDB_EPARSE,
		            "the expression ends where a term is expected");
	t = &ps->toks[ps->pos++];
	if (t->kind == TOK_TERM)
		return parse_term(ps, t, out);
	if (t->kind != TOK_NOT && t->kind != TOK_LPAREN)
		return perr(ps, t->word, SDB_EPARSE, "'%s' where a term is expected",
		            t->kind == TOK_RPAREN ? ")"
		            : t->kind == TOK_OR   ? "or"
		                                  : "and");
	if (++ps->depth > FILTER_DEPTH_MAX)
		return perr(ps, t->word, SDB_ETOOBIG, "nested deeper than %d", FILTER_DEPTH_MAX);
	if (t->kind == TOK_LPAREN) {
		if ((r = parse_or(ps, out)) != 0)
			return r;
		if (ps->pos >= ps->ntoks || ps->toks[ps->pos].kind != TOK_RPAREN)
			return perr(ps, t->word, SDB_EPARSE, "'(' is never closed");
		ps->pos++;
	} else {
		if ((r = parse_unary(ps, &child)) != 0 ||
		    (r = node_new(ps, FILTER_NOT, t->word, out)) != 0)
			return r;
		ps->f->nodes[*out].first = child;
	}
	ps->depth--;
	return 0;
}

/* kids[0..n) under a new node of kind k (or kids[0] itself when n == 1). */
static int join(struct parser *ps, enum filter_kind k, const int *kids, size_t n, int *out)
{
	int r;

	if (n == 1) {
		*out = kids[0];
		return 0;
	}
	if ((r = node_new(ps, k, ps->f->nodes[kids[0]].word, out)) != 0)
		return r;
	ps->f->nodes[*out].first = kids[0];
	for (size_t i = 0; i + 1 < n; i++)
		ps->f->nodes[kids[i]].next = kids[i + 1];
	return 0;
}

static int parse_list(struct parser *ps, int is_or, int *out)
{
	int kids[FILTER_TERMS_MAX + 1];
	size_t n = 0;
	int r;

	for (;;) {
		const struct tok *t;

		if ((r = is_or ? parse_list(ps, 0, &kids[n]) : parse_unary(ps, &kids[n])) != 0)
			return r;
		n++;
		if (ps->pos >= ps->ntoks)
			break;
		t = &ps->toks[ps->pos];
		if (t->kind == TOK_RPAREN || (!is_or && t->kind == TOK_OR))
			break;
		if (is_or && t->kind != TOK_OR)
			return perr(ps, t->word, SDB_EPARSE, "unexpected here");
		if (t->kind == TOK_OR || t->kind == TOK_AND)
			ps->pos++;
		if (n > FILTER_TERMS_MAX)
			return perr(ps, t->word, SDB_ETOOBIG, "more than %d terms",
			            FILTER_TERMS_MAX);
	}
	return join(ps, is_or ? FILTER_OR : FILTER_AND, kids, n, out);
}

static int parse_or(struct parser *ps, int *out)
{
	return parse_list(ps, 1, out);
}

/* ---- entry points ----------------------------------------------------------- */

void filter_free(struct filter *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		free(f->nodes[i].text);
		free(f->nodes[i].regex);
		free(f->nodes[i].ports);
	}
	free(f->nodes);
	f->nodes = NULL;
	f->n = 0;
	f->root = -1;
}

static void toks_free(struct parser *ps)
{
	for (size_t i = 0; i < ps->ntoks; i++) {
		free(ps->toks[i].key);
		free(ps->toks[i].value);
	}
	free(ps->toks);
}

static int parse_words(const char *const *words, size_t nwords, const char *where, int64_t now,
                       struct filter *out, char err[FILTER_ERR_MAX])
{
	struct parser ps = {words, where, now, NULL, 0, 0, 0, out, 0, 0, 0, err};
	size_t total = 0;
	int r = 0;

	*out = (struct filter){NULL, 0, -1};
	err[0] = '\0';
	for (size_t i = 0; i < nwords; i++)
		total += strlen(words[i]) + 1;
	if (total > FILTER_TEXT_MAX)
		return perr(&ps, 0, SDB_ETOOBIG, "the expression is longer than %d bytes",
		            FILTER_TEXT_MAX);
	for (size_t i = 0; i < nwords && r == 0; i++)
		r = word_toks(&ps, (int)i + 1, words[i]);
	if (r == 0 && ps.ntoks > 0) {
		r = parse_or(&ps, &out->root);
		if (r == 0 && ps.pos < ps.ntoks)
			r = perr(&ps, ps.toks[ps.pos].word, SDB_EPARSE,
			         ps.toks[ps.pos].kind == TOK_RPAREN ? "')' without its '('"
			                                            : "unexpected here");
	}
	toks_free(&ps);
	if (r != 0)
		filter_free(out);
	return r;
}

int filter_parse_words(const char *const *words, size_t nwords, int64_t now, struct filter *out,
                       char err[FILTER_ERR_MAX])
{
	return parse_words(words, nwords, "argument", now, out, err);
}

/* Split s into words at spaces outside a value's double quotes (KEY:"...")
 * and a script regex (~/.../); a backslash in them escapes the next
 * character. */
static int split_words(const char *s, char *buf, char **words, size_t *nwords, size_t max)
{
	size_t n = 0, o = 0;
	int quote = 0, regex = 0;

	for (const char *p = s; *p; p++) {
		if (!quote && !regex && isspace((unsigned char)*p)) {
			if (o > 0 && buf[o - 1] != '\0')
				buf[o++] = '\0';
			continue;
		}
		if (o == 0 || buf[o - 1] == '\0') {
			if (n >= max)
				return SDB_ETOOBIG;
			words[n++] = buf + o;
		}
		if ((quote || regex) && *p == '\\' && p[1]) {
			buf[o++] = *p++; /* an escaped character: kept, ends nothing */
		} else if (*p == '"' && !regex && (quote || (p > s && p[-1] == ':'))) {
			quote = !quote; /* a value's quotes */
		} else if (!quote && *p == '/' && (regex || (p > s && p[-1] == '~'))) {
			regex = !regex; /* a script regex's slashes */
		}
		buf[o++] = *p;
	}
	buf[o] = '\0';
	*nwords = n;
	return 0;
}

int filter_parse_string(const char *s, int64_t now, struct filter *out, char err[FILTER_ERR_MAX])
{
	char **words = NULL, *buf = NULL;
	size_t n = 0, len = strlen(s);
	int r;

	*out = (struct filter){NULL, 0, -1};
	if (len > FILTER_TEXT_MAX) {
		snprintf(err, FILTER_ERR_MAX, "the expression is longer than %d bytes",
		         FILTER_TEXT_MAX);
		return SDB_ETOOBIG;
	}
	if (!(buf = malloc(2 * len + 2)) || !(words = calloc(len + 1, sizeof(*words)))) {
		free(buf);
		snprintf(err, FILTER_ERR_MAX, "out of memory");
		return SDB_ENOMEM;
	}
	if ((r = split_words(s, buf, words, &n, len + 1)) == 0)
		r = parse_words((const char *const *)words, n, "word", now, out, err);
	free(words);
	free(buf);
	return r;
}

/* ---- what the store and app/ ask of a tree ----------------------------------- */

int filter_field_is_port(enum filter_field f)
{
	return f <= FILTER_CPE;
}

int filter_is_port_tree(const struct filter *f, int i)
{
	const struct filter_node *nd = &f->nodes[i];

	if (nd->kind == FILTER_TERM)
		return filter_field_is_port(nd->field);
	if (nd->kind == FILTER_NOT)
		return 0;
	for (int k = nd->first; k >= 0; k = f->nodes[k].next)
		if (!filter_is_port_tree(f, k))
			return 0;
	return 1;
}

/* ---- versions ---------------------------------------------------------------- */

/* The next component of a dotted version at *p (leading zeros skipped):
 * its digits in [*d, *d + *n); *p moves past it and its dot.  0 at the end
 * of the numeric part (then *n is 0, a missing component, read as 0). */
static int ver_next(const char **p, const char **d, size_t *n)
{
	const char *s = *p;

	*n = 0;
	if (!s || !isdigit((unsigned char)*s))
		return 0;
	while (*s == '0' && isdigit((unsigned char)s[1]))
		s++;
	*d = s;
	while (isdigit((unsigned char)*s))
		s++;
	*n = (size_t)(s - *d);
	if (*d[0] == '0')
		*n = 0; /* a zero counts as a missing component */
	*p = (*s == '.' && isdigit((unsigned char)s[1])) ? s + 1 : NULL;
	return 1;
}

int filter_version_norm(const char *s, char *out, size_t outlen)
{
	size_t o = 0, keep = 1;
	const char *p = s, *d;
	size_t n;

	if (!isdigit((unsigned char)*s) || outlen < 2)
		return -1;
	while (ver_next(&p, &d, &n)) {
		size_t need = (o ? 1 : 0) + (n ? n : 1);
		if (o + need + 1 > outlen)
			return -1;
		if (o)
			out[o++] = '.';
		if (n) {
			memcpy(out + o, d, n);
			o += n;
			keep = o;
		} else {
			out[o++] = '0';
		}
	}
	out[keep] = '\0'; /* trailing zero components do not count */
	return 0;
}

int filter_version_cmp(const char *stored, const char *norm)
{
	const char *a = stored, *b = norm, *da = NULL, *db = NULL;
	size_t na, nb;

	if (!stored || !isdigit((unsigned char)*stored))
		return 2;
	for (;;) {
		int ma = ver_next(&a, &da, &na), mb = ver_next(&b, &db, &nb), c;

		if (!ma && !mb)
			return 0;
		if (na != nb)
			return na < nb ? -1 : 1;
		c = na ? memcmp(da, db, na) : 0;
		if (c)
			return c < 0 ? -1 : 1;
	}
}

/* ---- port terms on one port --------------------------------------------------- */

/* ASCII case-insensitive: does s hold sub (lower case) at its start, or
 * anywhere? */
static int has_sub(const char *s, const char *sub, int prefix)
{
	size_t n = strlen(sub);

	if (!s)
		return 0;
	for (const char *p = s; *p || !*sub; p++) {
		if (strncasecmp(p, sub, n) == 0)
			return 1;
		if (prefix || !*p)
			return 0;
	}
	return 0;
}

static int port_term(const struct filter_node *nd, const struct filter_port_view *p)
{
	int c;

	switch (nd->field) {
	case FILTER_PORT:
		for (size_t i = 0; i < nd->nports; i++)
			if (nd->ports[i].port == p->port &&
			    (nd->ports[i].proto < 0 ||
			     (p->protocol &&
			      strcmp(p->protocol,
			             rec_proto_name((enum rec_proto)nd->ports[i].proto)) == 0)))
				return 1;
		return 0;
	case FILTER_SERVICE:
		return p->service && strcasecmp(p->service, nd->text) == 0;
	case FILTER_PRODUCT:
		return has_sub(p->product, nd->text, 0);
	case FILTER_CPE:
		for (size_t i = 0; i < p->ncpes; i++)
			if (has_sub(p->cpes[i], nd->text, 1))
				return 1;
		return 0;
	case FILTER_VERSION:
		if ((c = filter_version_cmp(p->version, nd->text)) == 2)
			return 0;
		switch (nd->cmp) {
		case FILTER_LT:
			return c < 0;
		case FILTER_LE:
			return c <= 0;
		case FILTER_GT:
			return c > 0;
		case FILTER_GE:
			return c >= 0;
		default:
			return c == 0;
		}
	default:
		return 0;
	}
}

int filter_port_match(const struct filter *f, int i, const struct filter_port_view *p)
{
	const struct filter_node *nd = &f->nodes[i];

	if (nd->kind == FILTER_TERM)
		return port_term(nd, p);
	for (int k = nd->first; k >= 0; k = f->nodes[k].next) {
		int m = filter_port_match(f, k, p);
		if (nd->kind == FILTER_OR && m)
			return 1;
		if (nd->kind == FILTER_AND && !m)
			return 0;
	}
	return nd->kind == FILTER_AND;
}

int filter_port_required(const struct filter *f, const struct filter_port_view *p)
{
	const struct filter_node *root;

	if (!f || f->root < 0)
		return 1;
	if (filter_is_port_tree(f, f->root))
		return filter_port_match(f, f->root, p);
	root = &f->nodes[f->root];
	if (root->kind != FILTER_AND)
		return 1;
	for (int k = root->first; k >= 0; k = f->nodes[k].next)
		if (filter_is_port_tree(f, k) && !filter_port_match(f, k, p))
			return 0;
	return 1;
}
