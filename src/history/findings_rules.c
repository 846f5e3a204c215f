/*
 * findings_rules.c - the user's rules on change events (rules.conf, see
 * docs/FINDINGS.md), parsed strictly: text in, rules out, errors as
 * "NAME:LINE: problem".  Pure: reading the file is app/findings.c's,
 * matching events against the rules is findings.c's.
 *
 * A line:  EVENT PORTS SEVERITY "TITLE"  [# comment]
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"
#include "history/findings.h"
#include "history/findings_int.h"

void findings_rules_free(struct findings_rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].ports);
		free(r->v[i].title);
	}
	free(r->v);
	free(r->name);
	free(r);
}

size_t findings_rules_count(const struct findings_rules *r)
{
	return r ? r->n : 0;
}

size_t findings_rules_ranges(const struct findings_rules *r, size_t i)
{
	return r && i < r->n ? r->v[i].nports : 0;
}

static int host_level_kind(enum ev_kind k)
{
	return k == EV_HOST_UP || k == EV_HOST_DOWN || k == EV_OS_CHANGED || k == EV_MAC_CHANGED ||
	       k == EV_HOSTNAME_CHANGED;
}

/* Decimal 0-65535 from [*p, e); advances *p. */
static int parse_port(const char **p, const char *e, int *out)
{
	long v = 0;
	const char *s = *p;

	if (s >= e || !isdigit((unsigned char)*s))
		return SDB_EPARSE;
	for (; s < e && isdigit((unsigned char)*s); s++) {
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return SDB_EPARSE;
	}
	*p = s;
	*out = (int)v;
	return 0;
}

static int cmp_ports(const void *a, const void *b)
{
	const struct rule_ports *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort the rule's ranges and merge those of one protocol that overlap or
 * touch ("1,2,3,...,65535/tcp" is one range), so matching an event costs
 * the number of distinct ranges, not the length of the list. */
static void merge_ports(struct findings_rule *rule)
{
	size_t out = 0;

	if (rule->nports < 2)
		return;
	qsort(rule->ports, rule->nports, sizeof(*rule->ports), cmp_ports);
	for (size_t i = 1; i < rule->nports; i++) {
		struct rule_ports *last = &rule->ports[out];
		const struct rule_ports *p = &rule->ports[i];

		if (p->proto == last->proto && p->lo <= last->hi + 1) {
			if (p->hi > last->hi)
				last->hi = p->hi;
		} else {
			rule->ports[++out] = *p;
		}
	}
	rule->nports = out + 1;
}

/* Why a line is refused, and where on it (the column reported). */
struct rule_err {
	char why[300];
	const char *at;
};

/* "3389/tcp,23/tcp,1000-2000,53/udp" into rule->ports. */
static int parse_ports(const char *b, const char *e, struct findings_rule *rule,
                       struct rule_err *er)
{
	const char *p = b;

	while (p < e) {
		const char *ie = memchr(p, ',', (size_t)(e - p));
		struct rule_ports rp = {-1, 0, 0};

		er->at = p;

		if (!ie)
			ie = e;
		if (parse_port(&p, ie, &rp.lo) != 0)
			goto bad;
		rp.hi = rp.lo;
		if (p < ie && *p == '-') {
			p++;
			if (parse_port(&p, ie, &rp.hi) != 0 || rp.hi < rp.lo)
				goto bad;
		}
		if (p < ie && *p == '/') {
			char proto[8];
			enum rec_proto pr;
			size_t n = (size_t)(ie - p - 1);
			if (n == 0 || n >= sizeof(proto))
				goto bad;
			memcpy(proto, p + 1, n);
			proto[n] = '\0';
			if (rec_proto_parse(proto, &pr) != 0)
				goto bad;
			rp.proto = (int)pr;
			p = ie;
		}
		if (p != ie)
			goto bad;
		if (VEC_RESERVE(rule->ports, rule->cports, rule->nports + 1, 8) != 0)
			return SDB_ENOMEM;
		rule->ports[rule->nports++] = rp;
		p = ie < e ? ie + 1 : ie;
		if (ie < e && p == e)
			goto bad; /* trailing comma */
		continue;
	bad:
		snprintf(er->why, sizeof(er->why),
		         "bad port list '%.*s' (use e.g. 3389/tcp,23/tcp, 1-1024/tcp, 53 or *)",
		         (int)(e - b), b);
		return SDB_EPARSE;
	}
	merge_ports(rule);
	return 0;
}

static void blanks(const char **p, const char *e)
{
	while (*p < e && (**p == ' ' || **p == '\t'))
		(*p)++;
}

/* The three words before the TITLE into tok (begin, end each); *rest is
 * what follows them. */
static int rule_words(const char *l, const char *e, const char *tok[3][2], const char **rest,
                      struct rule_err *er)
{
	const char *p = l;

	for (int i = 0; i < 3; i++) {
		blanks(&p, e);
		tok[i][0] = p;
		while (p < e && *p != ' ' && *p != '\t')
			p++;
		tok[i][1] = p;
		if (tok[i][0] == p) {
			er->at = p;
			snprintf(er->why, sizeof(er->why),
			         "expected EVENT PORTS SEVERITY \"TITLE\" (e.g. port_opened "
			         "3389/tcp high \"RDP exposed\")");
			return SDB_EPARSE;
		}
	}
	*rest = p;
	return 0;
}

/* EVENT, PORTS and SEVERITY (the words of rule_words) into *rule. */
static int rule_head(const char *tok[3][2], struct findings_rule *rule, struct rule_err *er)
{
	char word[32];
	int r;

	findings__copy_trimmed(tok[0][0], tok[0][1], word, sizeof(word));
	if ((size_t)(tok[0][1] - tok[0][0]) >= sizeof(word) ||
	    ev_kind_parse(word, &rule->kind) != 0) {
		er->at = tok[0][0];
		snprintf(er->why, sizeof(er->why),
		         "unknown event '%.*s' (use host_up, host_down, port_opened, port_closed, "
		         "service_changed, os_changed, mac_changed, hostname_changed or "
		         "script_changed)",
		         (int)(tok[0][1] - tok[0][0]), tok[0][0]);
		return SDB_EPARSE;
	}
	if (tok[1][1] - tok[1][0] == 1 && *tok[1][0] == '*') {
		rule->any = 1;
	} else if (host_level_kind(rule->kind)) {
		er->at = tok[1][0];
		snprintf(er->why, sizeof(er->why), "%s is a host event: its PORTS must be '*'",
		         word);
		return SDB_EPARSE;
	} else if ((r = parse_ports(tok[1][0], tok[1][1], rule, er)) != 0) {
		return r;
	}
	findings__copy_trimmed(tok[2][0], tok[2][1], word, sizeof(word));
	if ((size_t)(tok[2][1] - tok[2][0]) >= sizeof(word) ||
	    findings_severity_parse(word, &rule->sev) != 0) {
		er->at = tok[2][0];
		snprintf(er->why, sizeof(er->why),
		         "unknown severity '%.*s' (use info, low, medium, high or critical)",
		         (int)(tok[2][1] - tok[2][0]), tok[2][0]);
		return SDB_EPARSE;
	}
	return 0;
}

/* The double-quoted TITLE at [p, e) (\" and \\ escaped), then nothing but
 * a comment, into rule->title (malloc'ed). */
static int rule_title(const char *p, const char *e, struct findings_rule *rule, struct rule_err *er)
{
	const char *quote;
	struct buf title;
	int r;

	blanks(&p, e);
	er->at = quote = p;
	if (p >= e || *p != '"') {
		snprintf(er->why, sizeof(er->why),
		         "expected a double-quoted TITLE after the severity");
		return SDB_EPARSE;
	}
	buf_init(&title, FINDINGS_TITLE_MAX + 1);
	for (p++; p < e && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < e && (p[1] == '"' || p[1] == '\\'))
			p++;
		if ((r = buf_append_char(&title, *p)) != 0) {
			er->at = p;
			snprintf(er->why, sizeof(er->why), "TITLE is longer than %d bytes",
			         FINDINGS_TITLE_MAX);
			r = r == SDB_ENOMEM ? r : SDB_EPARSE;
			goto out;
		}
	}
	r = SDB_EPARSE;
	if (p >= e) {
		snprintf(er->why, sizeof(er->why), "unterminated TITLE (missing closing '\"')");
		goto out;
	}
	p++;
	blanks(&p, e);
	if (p < e && *p != '#') {
		er->at = p;
		snprintf(er->why, sizeof(er->why), "unexpected text after the TITLE: '%.*s'",
		         (int)(e - p), p);
		goto out;
	}
	if (title.len == 0) {
		er->at = quote;
		snprintf(er->why, sizeof(er->why), "empty TITLE");
		goto out;
	}
	r = (rule->title = buf_steal(&title)) ? 0 : SDB_ENOMEM;
out:
	buf_free(&title);
	return r;
}

/* One non-comment line into *rule; *er on SDB_EPARSE. */
static int parse_rule(const char *l, const char *e, struct findings_rule *rule, struct rule_err *er)
{
	const char *tok[3][2], *rest;
	int r;

	if ((r = rule_words(l, e, tok, &rest, er)) != 0 || (r = rule_head(tok, rule, er)) != 0)
		return r;
	return rule_title(rest, e, rule, er);
}

int findings_rules_parse(const char *name, const char *text, struct findings_rules **out, char *err,
                         size_t errlen)
{
	struct findings_rules *rs = NULL;
	const char *l = text;
	int line = 0, r;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!(rs = calloc(1, sizeof(*rs))) || !(rs->name = strdup(name ? name : "rules"))) {
		r = SDB_ENOMEM;
		goto out;
	}
	while (l && *l) {
		const char *e = strchr(l, '\n'), *t;
		struct findings_rule rule;
		struct rule_err er;

		if (!e)
			e = l + strlen(l);
		line++;
		for (t = l; t < e && isspace((unsigned char)*t); t++)
			;
		if (t == e || *t == '#')
			goto next;
		memset(&rule, 0, sizeof(rule));
		rule.line = line;
		er.why[0] = '\0';
		er.at = t;
		if ((r = parse_rule(t, e > t && e[-1] == '\r' ? e - 1 : e, &rule, &er)) != 0) {
			free(rule.ports);
			free(rule.title);
			/* the column counts bytes from 1, as the XML parser's do */
			if (err && errlen)
				snprintf(err, errlen, "%s:%d:%d: %s", rs->name, line,
				         (int)(er.at - l) + 1,
				         r == SDB_ENOMEM ? "out of memory" : er.why);
			goto out;
		}
		if (VEC_RESERVE(rs->v, rs->cap, rs->n + 1, 8) != 0) {
			free(rule.ports);
			free(rule.title);
			r = SDB_ENOMEM;
			goto out;
		}
		rs->v[rs->n++] = rule;
	next:
		l = *e ? e + 1 : e;
	}
	if (rs->n) {
		*out = rs;
		rs = NULL;
	}
	r = 0;
out:
	findings_rules_free(rs);
	return r;
}
