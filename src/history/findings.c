/*
 * findings.c - what is a finding and when its lifecycle moves: vulnerable
 * NSE output (`vulners` CVE lines, "VULNERABLE" reports), the user's rules
 * on change events (parsed strictly from rules.conf), and, per scan of a
 * host, creating / seeing again / resolving / reopening its findings.
 * Storage is behind store.h (store_finding_*); printing is cmd_findings.c.
 *
 * Replays are idempotent: findings are upserted by fingerprint, jobs are a
 * set, and a scan changes a status only when it is newer than the last scan
 * that decided it (findings.state_at), so an older scan replayed or imported
 * late widens first_seen / last_seen but never flips the status back.
 */
#include "history/findings.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/store.h"

#define RULES_MAX_BYTES ((size_t)1 << 20)
#define TITLE_MAX       200

static const char *const sev_names[] = {"info", "low", "medium", "high", "critical"};
static const char *const status_names[] = {"open",          "pending_validation",
                                           "confirmed",     "false_positive",
                                           "manual_review", "skipped",
                                           "error",         "resolved"};

const char *findings_severity_name(enum findings_severity s)
{
	return (unsigned)s < FINDINGS_SEV__COUNT ? sev_names[s] : "?";
}

const char *findings_status_name(enum findings_status s)
{
	return (unsigned)s < FINDINGS_STATUS__COUNT ? status_names[s] : "?";
}

int findings_severity_parse(const char *s, enum findings_severity *out)
{
	for (int i = 0; s && i < FINDINGS_SEV__COUNT; i++) {
		if (strcmp(s, sev_names[i]) == 0) {
			*out = (enum findings_severity)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

int findings_status_parse(const char *s, enum findings_status *out)
{
	for (int i = 0; s && i < FINDINGS_STATUS__COUNT; i++) {
		if (strcmp(s, status_names[i]) == 0) {
			*out = (enum findings_status)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

enum findings_severity findings_severity_from_cvss(double score)
{
	if (!(score > 0.0))
		return FINDINGS_SEV_INFO;
	if (score < 4.0)
		return FINDINGS_SEV_LOW;
	if (score < 7.0)
		return FINDINGS_SEV_MEDIUM;
	if (score < 9.0)
		return FINDINGS_SEV_HIGH;
	return FINDINGS_SEV_CRITICAL;
}

/* ---- NSE output ------------------------------------------------------------ */

static int ci_prefix(const char *s, const char *p)
{
	for (; *p; s++, p++)
		if (tolower((unsigned char)*s) != tolower((unsigned char)*p))
			return 0;
	return 1;
}

/* Copy [b, e) trimmed into out[len]. */
static void copy_trimmed(const char *b, const char *e, char *out, size_t len)
{
	size_t n;

	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	n = (size_t)(e - b);
	if (n >= len)
		n = len - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

int findings_nse_vulnerable(const char *output, char *title, size_t titlelen,
                            enum findings_severity *sev)
{
	static const char word[] = "VULNERABLE";
	const char *p;
	int found = 0, have_risk = 0;
	enum findings_severity best = FINDINGS_SEV_INFO;

	if (title && titlelen)
		title[0] = '\0';
	if (!output)
		return 0;
	for (p = strstr(output, word); p; p = strstr(p + 1, word)) {
		const char *after = p + sizeof(word) - 1;
		if (p > output && (isalpha((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		if (isalpha((unsigned char)*after))
			continue;
		if (p - output >= 4 && memcmp(p - 4, "NOT ", 4) == 0)
			continue;
		found = 1;
		/* "VULNERABLE:" heads a block whose next line is the title */
		if (*after == ':' && title && titlelen && !title[0]) {
			const char *l = strchr(after, '\n');
			while (l && *l) {
				const char *e = strchr(l + 1, '\n');
				if (!e)
					e = l + 1 + strlen(l + 1);
				copy_trimmed(l + 1, e, title, titlelen);
				if (title[0] || !*e)
					break;
				l = e;
			}
		}
	}
	if (!found)
		return 0;
	for (p = output; *p; p++) {
		if ((*p == 'R' || *p == 'r') && ci_prefix(p, "risk factor:")) {
			const char *v = p + 12;
			while (*v == ' ' || *v == '\t')
				v++;
			for (int i = FINDINGS_SEV_INFO; i < FINDINGS_SEV__COUNT; i++) {
				size_t n = strlen(sev_names[i]);
				if (ci_prefix(v, sev_names[i]) && !isalpha((unsigned char)v[n])) {
					if (!have_risk || (enum findings_severity)i > best)
						best = (enum findings_severity)i;
					have_risk = 1;
				}
			}
			if (ci_prefix(v, "none") && !have_risk) {
				best = FINDINGS_SEV_INFO;
				have_risk = 1;
			}
		}
	}
	if (sev)
		*sev = have_risk ? best : FINDINGS_SEV_HIGH;
	return 1;
}

/* "CVE-YYYY-N{4,}" exactly. */
static int is_cve(const char *s, size_t n)
{
	size_t i;

	if (n < 13 || n >= sizeof(((struct findings_cve *)0)->id) || memcmp(s, "CVE-", 4) != 0)
		return 0;
	for (i = 4; i < 8; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	if (s[8] != '-')
		return 0;
	for (i = 9; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int findings_vulners_parse(const char *output, struct findings_cve **out, size_t *n)
{
	struct findings_cve *v = NULL;
	size_t cnt = 0, cap = 0;
	char cpe[160] = "";
	const char *l = output;

	*out = NULL;
	*n = 0;
	while (l && *l) {
		const char *e = strchr(l, '\n'), *t, *te;
		char *end;
		double score;
		size_t i, tl;

		if (!e)
			e = l + strlen(l);
		for (t = l; t < e && isspace((unsigned char)*t); t++)
			;
		for (te = t; te < e && !isspace((unsigned char)*te); te++)
			;
		tl = (size_t)(te - t);
		if (tl > 4 && memcmp(t, "cpe:", 4) == 0 && t[tl - 1] == ':') {
			copy_trimmed(t, te - 1, cpe, sizeof(cpe));
		} else if (is_cve(t, tl)) {
			errno = 0;
			score = strtod(te, &end);
			if (end == te || errno != 0 || end > e || !(score >= 0.0 && score <= 10.0))
				goto next;
			for (i = 0; i < cnt; i++)
				if (strlen(v[i].id) == tl && memcmp(v[i].id, t, tl) == 0)
					break;
			if (i < cnt) {
				if (score > v[i].cvss)
					v[i].cvss = score;
				goto next;
			}
			if (cnt == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				struct findings_cve *nv = sdb_reallocarray(v, ncap, sizeof(*nv));
				if (!nv) {
					free(v);
					return SDB_ENOMEM;
				}
				v = nv;
				cap = ncap;
			}
			memcpy(v[cnt].id, t, tl);
			v[cnt].id[tl] = '\0';
			v[cnt].cvss = score;
			snprintf(v[cnt].cpe, sizeof(v[cnt].cpe), "%s", cpe);
			cnt++;
		}
	next:
		l = *e ? e + 1 : e;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* ---- rules ------------------------------------------------------------------- */

struct rule_ports {
	int proto; /* -1: any protocol */
	int lo, hi;
};

struct findings_rule {
	enum ev_kind kind;
	int any;                  /* '*': every port, and host-level events */
	struct rule_ports *ports; /* sorted by (proto, lo); merged: none overlap or touch */
	size_t nports, cports;
	enum findings_severity sev;
	char *title;
	int line;
};

struct findings_rules {
	char *name; /* file, for details */
	struct findings_rule *v;
	size_t n, cap;
};

/* Room for one more element in *arr (n used, *cap allocated): doubling, so
 * a list of n entries costs O(n) copying, not O(n^2) (a 65,535-port rule
 * took minutes under ASan growing one entry at a time). */
static int grow(void *arr, size_t *cap, size_t n, size_t size)
{
	void **pa = arr;
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	if (!(nv = sdb_reallocarray(*pa, ncap, size)))
		return SDB_ENOMEM;
	*pa = nv;
	*cap = ncap;
	return 0;
}

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

/* "3389/tcp,23/tcp,1000-2000,53/udp" into rule->ports. */
static int parse_ports(const char *b, const char *e, struct findings_rule *rule, char *why,
                       size_t whylen)
{
	const char *p = b;

	while (p < e) {
		const char *ie = memchr(p, ',', (size_t)(e - p));
		struct rule_ports rp = {-1, 0, 0};

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
		if (grow(&rule->ports, &rule->cports, rule->nports, sizeof(*rule->ports)) != 0)
			return SDB_ENOMEM;
		rule->ports[rule->nports++] = rp;
		p = ie < e ? ie + 1 : ie;
		if (ie < e && p == e)
			goto bad; /* trailing comma */
		continue;
	bad:
		snprintf(why, whylen,
		         "bad port list '%.*s' (use e.g. 3389/tcp,23/tcp, 1-1024/tcp, 53 or *)",
		         (int)(e - b), b);
		return SDB_EPARSE;
	}
	merge_ports(rule);
	return 0;
}

/* One non-comment line into *rule; why[whylen] on SDB_EPARSE. */
static int parse_rule(const char *l, const char *e, struct findings_rule *rule, char *why,
                      size_t whylen)
{
	const char *tok[3][2];
	const char *p = l;
	char word[32];
	struct buf title;
	int r;

	for (int i = 0; i < 3; i++) {
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		tok[i][0] = p;
		while (p < e && *p != ' ' && *p != '\t')
			p++;
		tok[i][1] = p;
		if (tok[i][0] == p) {
			snprintf(why, whylen,
			         "expected EVENT PORTS SEVERITY \"TITLE\" (e.g. port_opened "
			         "3389/tcp high \"RDP exposed\")");
			return SDB_EPARSE;
		}
	}
	copy_trimmed(tok[0][0], tok[0][1], word, sizeof(word));
	if ((size_t)(tok[0][1] - tok[0][0]) >= sizeof(word) ||
	    ev_kind_parse(word, &rule->kind) != 0) {
		snprintf(why, whylen,
		         "unknown event '%.*s' (use host_up, host_down, port_opened, port_closed, "
		         "service_changed, os_changed, mac_changed, hostname_changed or "
		         "script_changed)",
		         (int)(tok[0][1] - tok[0][0]), tok[0][0]);
		return SDB_EPARSE;
	}
	if (tok[1][1] - tok[1][0] == 1 && *tok[1][0] == '*') {
		rule->any = 1;
	} else if (host_level_kind(rule->kind)) {
		snprintf(why, whylen, "%s is a host event: its PORTS must be '*'", word);
		return SDB_EPARSE;
	} else if ((r = parse_ports(tok[1][0], tok[1][1], rule, why, whylen)) != 0) {
		return r;
	}
	copy_trimmed(tok[2][0], tok[2][1], word, sizeof(word));
	if ((size_t)(tok[2][1] - tok[2][0]) >= sizeof(word) ||
	    findings_severity_parse(word, &rule->sev) != 0) {
		snprintf(why, whylen,
		         "unknown severity '%.*s' (use info, low, medium, high or critical)",
		         (int)(tok[2][1] - tok[2][0]), tok[2][0]);
		return SDB_EPARSE;
	}
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= e || *p != '"') {
		snprintf(why, whylen, "expected a double-quoted TITLE after the severity");
		return SDB_EPARSE;
	}
	buf_init(&title, TITLE_MAX + 1);
	for (p++; p < e && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < e && (p[1] == '"' || p[1] == '\\'))
			p++;
		if ((r = buf_append_char(&title, *p)) != 0) {
			buf_free(&title);
			snprintf(why, whylen, "TITLE is longer than %d bytes", TITLE_MAX);
			return r == SDB_ENOMEM ? r : SDB_EPARSE;
		}
	}
	if (p >= e) {
		buf_free(&title);
		snprintf(why, whylen, "unterminated TITLE (missing closing '\"')");
		return SDB_EPARSE;
	}
	for (p++; p < e && (*p == ' ' || *p == '\t'); p++)
		;
	if (p < e && *p != '#') {
		buf_free(&title);
		snprintf(why, whylen, "unexpected text after the TITLE: '%.*s'", (int)(e - p), p);
		return SDB_EPARSE;
	}
	if (title.len == 0) {
		buf_free(&title);
		snprintf(why, whylen, "empty TITLE");
		return SDB_EPARSE;
	}
	if (!(rule->title = buf_steal(&title))) {
		buf_free(&title);
		return SDB_ENOMEM;
	}
	buf_free(&title);
	return 0;
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
		char why[300];

		if (!e)
			e = l + strlen(l);
		line++;
		for (t = l; t < e && isspace((unsigned char)*t); t++)
			;
		if (t == e || *t == '#')
			goto next;
		memset(&rule, 0, sizeof(rule));
		rule.line = line;
		why[0] = '\0';
		if ((r = parse_rule(t, e > t && e[-1] == '\r' ? e - 1 : e, &rule, why,
		                    sizeof(why))) != 0) {
			free(rule.ports);
			free(rule.title);
			if (err && errlen)
				snprintf(err, errlen, "%s:%d: %s", rs->name, line,
				         r == SDB_ENOMEM ? "out of memory" : why);
			goto out;
		}
		if (grow(&rs->v, &rs->cap, rs->n, sizeof(*rs->v)) != 0) {
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

void findings_rules_path(char *path, size_t len)
{
	const char *env = getenv("SCANDB_RULES"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	path[0] = '\0';
	if (env)
		snprintf(path, len, "%s", env);
	else if (xdg && *xdg)
		snprintf(path, len, "%s/scandb/rules.conf", xdg);
	else if (home && *home)
		snprintf(path, len, "%s/.config/scandb/rules.conf", home);
}

int findings_rules_load(struct findings_rules **out, char *err, size_t errlen)
{
	char path[4096], chunk[8192];
	struct buf text;
	FILE *f = NULL;
	size_t n;
	int r;

	*out = NULL;
	findings_rules_path(path, sizeof(path));
	if (!path[0])
		return 0;
	buf_init(&text, RULES_MAX_BYTES);
	if (!(f = fopen(path, "r"))) {
		/* the default file is optional; a named one is not */
		if (errno == ENOENT && !getenv("SCANDB_RULES")) {
			r = 0;
			goto out;
		}
		snprintf(err, errlen, "cannot read rules file %s: %s", path, strerror(errno));
		r = SDB_EIO;
		goto out;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (memchr(chunk, '\0', n)) {
			snprintf(err, errlen, "%s: not a text file (NUL byte)", path);
			r = SDB_EPARSE;
			goto out;
		}
		if ((r = buf_append(&text, chunk, n)) != 0) {
			snprintf(err, errlen, "%s: larger than %zu bytes", path, RULES_MAX_BYTES);
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read rules file %s: %s", path, strerror(errno));
		r = SDB_EIO;
		goto out;
	}
	r = findings_rules_parse(path, text.len ? buf_str(&text) : "", out, err, errlen);
out:
	if (f)
		fclose(f);
	buf_free(&text);
	return r;
}

/* ---- one scan of one host ------------------------------------------------ */

/* What a detection's details (JSON evidence) are made from when it is
 * stored - a script and its output (up to 1 MiB), or a rule and the event
 * it matched (a script_changed event's outputs) - so that the details of
 * one detection at a time are in memory, not every detection's of a host.
 * Valid during findings_on_scan(). */
struct det_from {
	const struct rec_script *script;
	const struct findings_rules *rules;
	const struct findings_rule *rule;
	const struct ev_event *ev;
};

/* Something this scan detected; strings owned. */
struct det {
	struct store_finding_new f;
	char *fingerprint, *title, *details, *key;
	struct det_from from; /* details made when stored, or details set now */
};

/* Positions of strings by content (fingerprints): open addressing over a
 * power-of-two table of 1 + position (0: empty), for the detections and
 * stored findings of a host (65,536 of them from a crafted host: a linear
 * search each was quadratic). */
struct fp_index {
	uint32_t *slot;
	size_t cap;
};

static size_t fp_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

/* The string of position i: a char * member at `off` in elements of
 * `size` bytes from `base`. */
static const char *fp_key(const void *base, size_t off, size_t size, size_t i)
{
	return *(char *const *)((const char *)base + i * size + off);
}

/* The position of fp, or -1. */
static long fp_find(const struct fp_index *ix, const void *base, size_t off, size_t size,
                    const char *fp)
{
	size_t mask = ix->cap - 1;

	if (!ix->cap)
		return -1;
	for (size_t k = fp_hash(fp) & mask; ix->slot[k]; k = (k + 1) & mask) {
		size_t i = ix->slot[k] - 1;
		if (strcmp(fp_key(base, off, size, i), fp) == 0)
			return (long)i;
	}
	return -1;
}

/* Index position n (of n + 1 elements), growing the table; 0 or ENOMEM. */
static int fp_add(struct fp_index *ix, const void *base, size_t off, size_t size, size_t n)
{
	size_t cap = ix->cap ? ix->cap : 16, mask, k;

	while ((n + 1) * 2 > cap)
		cap *= 2;
	if (cap != ix->cap) {
		uint32_t *v;

		if (n + 1 > UINT32_MAX || !(v = calloc(cap, sizeof(*v))))
			return SDB_ENOMEM;
		free(ix->slot);
		ix->slot = v;
		ix->cap = cap;
		for (size_t i = 0; i < n; i++)
			fp_add(ix, base, off, size, i); /* cannot grow: room for n + 1 */
	}
	mask = ix->cap - 1;
	for (k = fp_hash(fp_key(base, off, size, n)) & mask; ix->slot[k]; k = (k + 1) & mask)
		;
	ix->slot[k] = (uint32_t)(n + 1);
	return 0;
}

struct dets {
	struct det *v;
	size_t n, cap;
	struct fp_index ix; /* by fingerprint */
};

static void dets_free(struct dets *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].fingerprint);
		free(d->v[i].title);
		free(d->v[i].details);
		free(d->v[i].key);
	}
	free(d->v);
	free(d->ix.slot);
}

static int dets_find(const struct dets *d, const char *fp)
{
	return (int)fp_find(&d->ix, d->v, offsetof(struct det, fingerprint), sizeof(*d->v), fp);
}

static char *fingerprint_of(const char *type, const char *source, const char *key, const char *addr,
                            int proto, int port)
{
	struct buf b;
	int r;

	buf_init(&b, 4096);
	r = buf_printf(&b, "%s|%s|%s|%s|", type, source, key ? key : "", addr);
	if (r == 0 && proto >= 0)
		r = buf_printf(&b, "%d/%s", port, rec_proto_name((enum rec_proto)proto));
	if (r == 0 && proto < 0)
		r = buf_append_char(&b, '-');
	if (r != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

#define DETAILS_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(6))

/* The details of x as JSON text (malloc'ed), made from x->from; NULL when
 * they cannot be made (not UTF-8, no memory), as json_pack() says. */
static char *details_of(const struct det *x)
{
	const struct det_from *w = &x->from;
	json_t *j = NULL;
	char line[32], *text;

	if (w->script) {
		j = json_pack("{s:s, s:s}", "script", w->script->id, "output", w->script->output);
	} else if (w->rule) {
		snprintf(line, sizeof(line), "%d", w->rule->line);
		j = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:I}", "rule_file", w->rules->name,
		              "rule_line", line, "detail", w->ev->detail, "old", w->ev->old_value,
		              "new", w->ev->new_value, "job", (json_int_t)w->ev->job_id);
	}
	if (!j)
		return NULL;
	text = json_dumps(j, DETAILS_FLAGS);
	json_decref(j);
	return text;
}

/* Takes `details` (decref'ed here); or, with details NULL, `from` says what
 * to make them from when stored. */
static int dets_add(struct dets *d, const char *addr, const char *type, const char *source,
                    const char *key, int proto, int port, const char *title,
                    enum findings_severity sev, json_t *details, const struct det_from *from)
{
	struct det x;
	int r = SDB_ENOMEM;

	memset(&x, 0, sizeof(x));
	if (from)
		x.from = *from;
	x.fingerprint = fingerprint_of(type, source, key, addr, proto, port);
	x.title = strdup(title);
	x.key = key ? strdup(key) : NULL;
	x.details = details ? json_dumps(details, DETAILS_FLAGS) : NULL;
	json_decref(details);
	if (!x.fingerprint || !x.title || (key && !x.key) || (details && !x.details))
		goto fail;
	if (dets_find(d, x.fingerprint) >= 0) {
		r = 0; /* the same thing twice in one scan */
		goto fail;
	}
	if (grow(&d->v, &d->cap, d->n, sizeof(*d->v)) != 0)
		goto fail;
	x.f = (struct store_finding_new){
	    .type = type,
	    .source = source,
	    .key = x.key,
	    .proto = proto,
	    .port = port,
	    .title = x.title,
	    .severity = findings_severity_name(sev),
	    .fingerprint = x.fingerprint,
	    .details = x.details,
	};
	d->v[d->n] = x;
	if (fp_add(&d->ix, d->v, offsetof(struct det, fingerprint), sizeof(*d->v), d->n) != 0)
		goto fail;
	d->n++;
	return 0;
fail:
	free(x.fingerprint);
	free(x.title);
	free(x.key);
	free(x.details);
	return r;
}

/* Note: `source` of a detection must outlive the dets (script ids of the
 * scan, or constant event-kind names). */
static int detect_script(struct dets *d, const char *addr, int proto, int port,
                         const struct rec_script *s)
{
	char title[TITLE_MAX + 1], full[TITLE_MAX + 64];
	enum findings_severity sev;
	int r = 0;

	if (!s->id || !s->output)
		return 0;
	if (strcmp(s->id, "vulners") == 0) {
		struct findings_cve *cv;
		size_t n;

		if ((r = findings_vulners_parse(s->output, &cv, &n)) != 0)
			return r;
		for (size_t i = 0; i < n && r == 0; i++) {
			snprintf(full, sizeof(full), "%s (CVSS %.1f)", cv[i].id, cv[i].cvss);
			r = dets_add(d, addr, "nse_vuln", s->id, cv[i].id, proto, port, full,
			             findings_severity_from_cvss(cv[i].cvss),
			             json_pack("{s:s, s:s, s:f, s:s?}", "script", s->id, "cve",
			                       cv[i].id, "cvss", cv[i].cvss, "cpe",
			                       cv[i].cpe[0] ? cv[i].cpe : NULL),
			             NULL);
		}
		free(cv);
		return r;
	}
	if (!findings_nse_vulnerable(s->output, title, sizeof(title), &sev))
		return 0;
	if (title[0])
		snprintf(full, sizeof(full), "%s: %s", s->id, title);
	else
		snprintf(full, sizeof(full), "%s: VULNERABLE", s->id);
	return dets_add(d, addr, "nse_vuln", s->id, NULL, proto, port, full, sev, NULL,
	                &(struct det_from){.script = s});
}

static int rule_matches(const struct findings_rule *ru, const struct ev_event *e)
{
	if (ru->kind != e->kind)
		return 0;
	if (ru->any)
		return 1;
	if (e->proto < 0)
		return 0;
	for (size_t i = 0; i < ru->nports; i++) {
		const struct rule_ports *p = &ru->ports[i];
		if ((p->proto < 0 || p->proto == e->proto) && e->port >= p->lo && e->port <= p->hi)
			return 1;
	}
	return 0;
}

static int detect(struct dets *d, const struct findings_rules *rules, const struct rec_host *scan,
                  const struct ev_event *events, size_t nevents)
{
	int r = 0;

	if (scan->status == REC_HOST_UP) {
		for (size_t i = 0; i < scan->nports && r == 0; i++) {
			const struct rec_port *p = &scan->ports[i];
			for (size_t k = 0; k < p->nscripts && r == 0; k++)
				r = detect_script(d, scan->addr, (int)p->proto, p->port,
				                  &p->scripts[k]);
		}
		for (size_t k = 0; k < scan->nscripts && r == 0; k++)
			r = detect_script(d, scan->addr, -1, -1, &scan->scripts[k]);
	}
	for (size_t i = 0; rules && i < nevents && r == 0; i++) {
		const struct ev_event *e = &events[i];
		for (size_t k = 0; k < rules->n && r == 0; k++) {
			const struct findings_rule *ru = &rules->v[k];

			if (!rule_matches(ru, e))
				continue;
			r = dets_add(d, scan->addr, "rule", ev_kind_name(e->kind), ru->title,
			             e->proto, e->proto >= 0 ? e->port : -1, ru->title, ru->sev,
			             NULL, &(struct det_from){.rules = rules, .rule = ru, .ev = e});
		}
	}
	return r;
}

/* What this scan says about a port: -1 nothing (host not up, not probed),
 * 0 probed and not open, 1 open (*out = its record). */
static int port_view(const struct rec_host *scan, const struct scan_scope *scope, int proto,
                     int port, const struct rec_port **out)
{
	*out = NULL;
	if (scan->status != REC_HOST_UP || proto < 0)
		return -1;
	for (size_t i = 0; i < scan->nports; i++) {
		const struct rec_port *p = &scan->ports[i];
		if ((int)p->proto == proto && p->port == port) {
			*out = p;
			return p->state == REC_PORT_OPEN ? 1 : 0;
		}
	}
	return scope && scope_covers(scope, (enum rec_proto)proto, port) ? 0 : -1;
}

static const struct rec_script *find_script(const struct rec_script *v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].id && strcmp(v[i].id, id) == 0)
			return &v[i];
	return NULL;
}

/* Did this scan look for the cause of `f` and not find it?  (It is not
 * among the scan's detections: the caller checked.) */
static int cause_gone(const struct store_finding_ref *f, const struct rec_host *scan,
                      const struct scan_scope *scope)
{
	const struct rec_port *p;
	int v;

	if (strcmp(f->type, "nse_vuln") == 0) {
		if (scan->status != REC_HOST_UP)
			return 0;
		if (f->proto < 0)
			return find_script(scan->scripts, scan->nscripts, f->source) != NULL;
		v = port_view(scan, scope, f->proto, f->port, &p);
		if (v == 0)
			return 1;
		return v == 1 && find_script(p->scripts, p->nscripts, f->source) != NULL;
	}
	if (strcmp(f->type, "rule") != 0)
		return 0;
	if (strcmp(f->source, "port_opened") == 0)
		return port_view(scan, scope, f->proto, f->port, &p) == 0;
	if (strcmp(f->source, "port_closed") == 0)
		return port_view(scan, scope, f->proto, f->port, &p) == 1;
	if (strcmp(f->source, "host_down") == 0)
		return scan->status == REC_HOST_UP;
	if (strcmp(f->source, "host_up") == 0)
		return scan->status == REC_HOST_DOWN;
	return 0; /* other changes have no state that could go away */
}

static int resolvable(const char *status)
{
	enum findings_status s;

	if (findings_status_parse(status, &s) != 0)
		return 0;
	return s == FINDINGS_OPEN || s == FINDINGS_PENDING_VALIDATION || s == FINDINGS_CONFIRMED ||
	       s == FINDINGS_MANUAL_REVIEW || s == FINDINGS_ERROR;
}

/* ---- replays ------------------------------------------------------------- */

static int add_id(void *ctx, int64_t id)
{
	struct findings_replay *rp = ctx;

	if (grow(&rp->v, &rp->cap, rp->n, sizeof(*rp->v)) != 0)
		return SDB_ENOMEM;
	memset(&rp->v[rp->n], 0, sizeof(rp->v[rp->n]));
	rp->v[rp->n].id = id;
	rp->v[rp->n].status = "open";
	rp->n++;
	return 0;
}

int findings_replay_begin(struct store *st, int64_t host_id, struct findings_replay *rp)
{
	int r;

	memset(rp, 0, sizeof(*rp));
	/* a rule finding comes from change events, which the replay derives
	 * again: it is derived again from scratch, as an import in scan order
	 * would have created it (the events that made it may be gone) */
	if ((r = store_findings_forget_rules(st, host_id)) != 0)
		return r;
	return store_findings_scan_decided(st, host_id, add_id, rp);
}

static struct findings_replay_item *replay_item(struct findings_replay *rp, int64_t id)
{
	for (size_t i = 0; rp && i < rp->n; i++)
		if (rp->v[i].id == id)
			return &rp->v[i];
	return NULL;
}

/* The replay's version of a status change of `it` (set_status's effect). */
static int replay_step(struct findings_replay_item *it, const char *status, int64_t at,
                       int64_t job_id, int creation)
{
	if (it->nsteps == it->csteps) {
		size_t ncap = it->csteps ? it->csteps * 2 : 4;
		void *nv = sdb_reallocarray(it->steps, ncap, sizeof(*it->steps));

		if (!nv)
			return SDB_ENOMEM;
		it->steps = nv;
		it->csteps = ncap;
	}
	it->steps[it->nsteps++] = (struct findings_decision){status, at, job_id, creation};
	it->status = status;
	if (at > it->state_at)
		it->state_at = at;
	return 0;
}

/* Write a scan's decision on finding `id` (its note says which scan). */
static int scan_decision(struct store *st, int64_t id, const struct findings_decision *s)
{
	char note[96];

	snprintf(note, sizeof(note),
	         s->creation                          ? "found by job %lld"
	         : strcmp(s->status, "resolved") == 0 ? "not seen by job %lld, which probed it"
	                                              : "seen again by job %lld",
	         (long long)s->job_id);
	return store_finding_set_status(st, id, s->status, s->at, s->job_id, note, s->at,
	                                s->creation, NULL);
}

int findings_replay_finish(struct store *st, struct findings_replay *rp)
{
	int r = 0;

	for (size_t i = 0; i < rp->n && r == 0; i++) {
		const struct findings_replay_item *it = &rp->v[i];

		if (!it->detected)
			continue;
		if ((r = store_finding_rewind(st, it->id, it->state_at)) != 0)
			break;
		for (size_t k = 0; k < it->nsteps && r == 0; k++)
			r = scan_decision(st, it->id, &it->steps[k]);
	}
	return r;
}

void findings_replay_free(struct findings_replay *rp)
{
	for (size_t i = 0; rp && i < rp->n; i++)
		free(rp->v[i].steps);
	if (rp) {
		free(rp->v);
		memset(rp, 0, sizeof(*rp));
	}
}

int findings_scan_detects(const struct findings_rules *rules, const struct rec_host *scan,
                          const struct ev_event *events, size_t nevents, int *detects)
{
	struct dets d = {0};
	int r;

	*detects = 0;
	if (!scan)
		return SDB_EUSAGE;
	if ((r = detect(&d, rules, scan, events, nevents)) == 0)
		*detects = d.n > 0;
	dets_free(&d);
	return r;
}

int findings_on_scan(struct store *st, const struct findings_rules *rules, int64_t host_id,
                     int64_t job_id, int64_t at, const struct scan_scope *scope,
                     const struct rec_host *scan, const struct ev_event *events, size_t nevents,
                     struct findings_replay *rp)
{
	struct store_finding_ref *have = NULL;
	struct dets d = {0};
	struct fp_index have_ix = {0};
	size_t nhave = 0;
	int r;

	if (!st || !scan)
		return SDB_EUSAGE;
	if ((r = detect(&d, rules, scan, events, nevents)) != 0)
		goto out;
	if ((r = store_findings_of_host(st, host_id, &have, &nhave)) != 0)
		goto out;
	for (size_t k = 0; k < nhave && d.n; k++)
		if ((r = fp_add(&have_ix, have, offsetof(struct store_finding_ref, fingerprint),
		                sizeof(*have), k)) != 0)
			goto out;
	for (size_t i = 0; i < d.n; i++) {
		const struct store_finding_ref *old = NULL;
		struct findings_replay_item *it;
		int64_t id;
		long k;
		int created;

		if ((k = fp_find(&have_ix, have, offsetof(struct store_finding_ref, fingerprint),
		                 sizeof(*have), d.v[i].fingerprint)) >= 0)
			old = &have[k];
		/* made now, and let go once stored: one detection's at a time */
		if (!d.v[i].details)
			d.v[i].f.details = d.v[i].details = details_of(&d.v[i]);
		r = store_finding_upsert(st, host_id, job_id, at, &d.v[i].f, &id, &created);
		free(d.v[i].details);
		d.v[i].f.details = d.v[i].details = NULL;
		if (r != 0)
			goto out;
		if (old && (it = replay_item(rp, old->id)) != NULL) {
			/* derived again: the replay's status, not the stored one */
			if (!it->detected) {
				it->detected = 1;
				r = replay_step(it, "open", at, job_id, 1);
			} else if (at > it->state_at && strcmp(it->status, "resolved") == 0) {
				r = replay_step(it, "open", at, job_id, 0);
			} else if (at > it->state_at) {
				it->state_at = at; /* the upsert's max(state_at, at) */
			}
			if (r != 0)
				goto out;
			continue;
		}
		if (created)
			r = scan_decision(st, id,
			                  &(struct findings_decision){"open", at, job_id, 1});
		else if (old && at > old->state_at && strcmp(old->status, "resolved") == 0)
			r = scan_decision(st, id,
			                  &(struct findings_decision){"open", at, job_id, 0});
		if (r != 0)
			goto out;
	}
	for (size_t k = 0; k < nhave; k++) {
		const struct store_finding_ref *f = &have[k];
		struct findings_replay_item *it = replay_item(rp, f->id);

		if (it) {
			if (!it->detected || at <= it->state_at || !resolvable(it->status) ||
			    dets_find(&d, f->fingerprint) >= 0 || !cause_gone(f, scan, scope))
				continue;
			if ((r = replay_step(it, "resolved", at, job_id, 0)) != 0)
				goto out;
			continue;
		}
		if (at <= f->state_at || !resolvable(f->status) ||
		    dets_find(&d, f->fingerprint) >= 0)
			continue;
		if (!cause_gone(f, scan, scope))
			continue;
		if ((r = scan_decision(
		         st, f->id, &(struct findings_decision){"resolved", at, job_id, 0})) != 0)
			goto out;
	}
	r = 0;
out:
	store_finding_refs_free(have, nhave);
	free(have_ix.slot);
	dets_free(&d);
	return r;
}
