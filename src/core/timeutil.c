/* timeutil.c - clocks, ISO 8601 in UTC, duration parsing (see timeutil.h). */
#define _GNU_SOURCE
#include "core/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"

int64_t time_now(void)
{
	return (int64_t)time(NULL);
}

double time_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void time_format_iso(int64_t t, char out[TIME_ISO_LEN])
{
	struct tm tm;
	time_t tt = (time_t)t;

	/* strftime returns 0 (and leaves out unterminated) when the text does
	 * not fit: years past 9999 */
	if (t == 0 || !gmtime_r(&tt, &tm) ||
	    strftime(out, TIME_ISO_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

int time_parse_duration(const char *s, int64_t *secs)
{
	char *end;
	long long v;
	int64_t mul;

	if (!s || !isdigit((unsigned char)*s))
		return SDB_EPARSE;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0 || v > 100LL * 365 * 86400)
		return SDB_EPARSE;
	if (strcmp(end, "s") == 0 || *end == '\0')
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60;
	else if (strcmp(end, "h") == 0)
		mul = 3600;
	else if (strcmp(end, "d") == 0)
		mul = 86400;
	else if (strcmp(end, "w") == 0)
		mul = 7 * 86400;
	else
		return SDB_EPARSE;
	*secs = (int64_t)v * mul;
	return 0;
}

int time_parse_since(const char *s, int64_t now, int64_t *out)
{
	struct tm tm;
	int64_t d;
	const char *end;

	if (time_parse_duration(s, &d) == 0) {
		*out = now - d;
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end && (*end == '\0' || strcmp(end, "Z") == 0)) {
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && *end == '\0') {
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	return SDB_EPARSE;
}
