/*
 * nse_vuln.c - what nmap's NSE scripts say about vulnerabilities, read
 * from their text output: the "VULNERABLE" reports of the vuln scripts
 * (title, risk factor) and the CVE lines of `vulners`.  Pure: text in,
 * plain data out.  What becomes a finding of them is findings.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/vec.h"
#include "history/findings.h"
#include "history/findings_int.h"

static int ci_prefix(const char *s, const char *p)
{
	for (; *p; s++, p++)
		if (tolower((unsigned char)*s) != tolower((unsigned char)*p))
			return 0;
	return 1;
}

void findings__copy_trimmed(const char *b, const char *e, char *out, size_t len)
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
				findings__copy_trimmed(l + 1, e, title, titlelen);
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
				const char *name =
				    findings_severity_name((enum findings_severity)i);
				size_t n = strlen(name);
				if (ci_prefix(v, name) && !isalpha((unsigned char)v[n])) {
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
			findings__copy_trimmed(t, te - 1, cpe, sizeof(cpe));
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
			if (VEC_RESERVE(v, cap, cnt + 1, 8) != 0) {
				free(v);
				return SDB_ENOMEM;
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
