/*
 * fuzz_findings_rules.c - libFuzzer target for the findings rules parser
 * (findings_rules_parse, src/history/findings_rules.c), which reads the
 * user's rules file.  Checks its promises: any input is parsed or refused
 * with SDB_EPARSE (or SDB_ENOMEM); a refusal says "fuzz.rules:LINE:COL: "
 * with LINE an existing line and COL within it (or just past its end); a
 * parse yields rules, each with at least one port range or '*'.
 * See fuzz/README.md for how to build and run it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "history/findings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The length of line `line` (1-based) of text, or -1 if there is none. */
static long line_length(const char *text, long line)
{
	const char *l = text;

	for (long i = 1; i < line; i++) {
		if (!(l = strchr(l, '\n')))
			return -1;
		l++;
	}
	return (long)strcspn(l, "\n");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct findings_rules *rules = (struct findings_rules *)1;
	char *text = malloc(size + 1);
	char err[512];
	long line, col;
	int r, used;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* the parser reads text up to its first NUL */
	r = findings_rules_parse("fuzz.rules", text, &rules, err, sizeof(err));
	if (r == SDB_EPARSE) {
		if (rules || sscanf(err, "fuzz.rules:%ld:%ld: %n", &line, &col, &used) != 2 ||
		    line < 1 || col < 1 || col > line_length(text, line) + 1 || err[used] == '\0')
			abort();
	} else if (r == 0) {
		for (size_t i = 0; rules && i < findings_rules_count(rules); i++)
			(void)findings_rules_ranges(rules, i);
		if (rules && findings_rules_count(rules) == 0)
			abort(); /* no rules: *out is NULL */
		findings_rules_free(rules);
	} else if (r != SDB_ENOMEM) {
		abort();
	}
	free(text);
	return 0;
}
