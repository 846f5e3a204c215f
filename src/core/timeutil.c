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

/* The units of a duration, longest suffix first ("mo" before "m"). */
static const struct {
	const char *suffix;
	int64_t secs;
} units[] = {
    {"mo", 30 * 86400}, /* a month: 30 days, always (not the calendar's) */
    {"s", 1},           {"m", 60},        {"h", 3600},
    {"d", 86400},       {"w", 7 * 86400}, {"y", 365 * 86400}, /* a year: 365 days */
};

int time_parse_duration(const char *s, int64_t *secs)
{
	char *end;
	long long v;

	if (!s || !isdigit((unsigned char)*s))
		return SDB_EPARSE;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0 || v > TIME_DURATION_MAX)
		return SDB_EPARSE;
	if (*end == '\0') {
		*secs = (int64_t)v;
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if ((int64_t)v > TIME_DURATION_MAX / units[i].secs)
				return SDB_EPARSE;
			*secs = (int64_t)v * units[i].secs;
			return 0;
		}
	}
	return SDB_EPARSE;
}

/* strptime() takes "2026-02-31" (and 24:00:00 is not checked either):
 * a date is real if it survives the round trip through timegm(). */
static int real_time(const struct tm *want, int64_t *out)
{
	struct tm tm = *want, back;
	time_t t = timegm(&tm);

	if (!gmtime_r(&t, &back) || back.tm_year != want->tm_year || back.tm_mon != want->tm_mon ||
	    back.tm_mday != want->tm_mday || back.tm_hour != want->tm_hour ||
	    back.tm_min != want->tm_min || back.tm_sec != want->tm_sec)
		return SDB_EPARSE;
	*out = (int64_t)t;
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
	if (end && (*end == '\0' || strcmp(end, "Z") == 0))
		return real_time(&tm, out);
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && *end == '\0')
		return real_time(&tm, out);
	return SDB_EPARSE;
}
