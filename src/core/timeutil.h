/*
 * timeutil.h - wall-clock time, ISO 8601 formatting and parsing of the time
 * expressions users type ("7d", "90d", "2026-11-01", "2026-11-01T10:00:00Z").
 */
#ifndef SDB_CORE_TIMEUTIL_H
#define SDB_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define TIME_ISO_LEN 21 /* "2026-11-22T21:54:03Z" + NUL */
/* The latest time scandb accepts: 9999-12-31T23:59:59Z. */
#define TIME_MAX INT64_C(253402300799)

int64_t time_now(void);
/* Monotonic seconds, for measuring durations. */
double time_mono(void);
/* "YYYY-MM-DDTHH:MM:SSZ" (UTC) into out[TIME_ISO_LEN]; "" for t == 0. */
void time_format_iso(int64_t t, char out[TIME_ISO_LEN]);
/* The longest duration accepted: 100 years of 365 days. */
#define TIME_DURATION_MAX (INT64_C(100) * 365 * 86400)
/*
 * A duration into seconds; 0 or SDB_EPARSE.  A whole number and one unit:
 * none or "s" seconds, "m" minutes (6m = 360 s), "h" hours, "d" days,
 * "w" weeks, "mo" months of 30 days, "y" years of 365 days.
 */
int time_parse_duration(const char *s, int64_t *secs);
/* "7d" (= now - 7 days) or an ISO date/time (UTC) into Unix seconds.  An
 * impossible date or time ("2026-02-31", "T25:00:00") is SDB_EPARSE. */
int time_parse_since(const char *s, int64_t now, int64_t *out);

#endif
