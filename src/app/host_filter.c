/*
 * host_filter.c - the host listing filters parsed from text (host_filter.h),
 * on core's parsers: ports (addr_port_spec_parse), CIDR blocks
 * (addr_cidr_parse), host statuses, times (time_parse_since), job ids.
 */
#include "app/host_filter.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/addr.h"
#include "core/error.h"
#include "core/timeutil.h"

static int bad(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return SDB_EUSAGE;
}

static int set_since(struct store_host_filter *f, enum host_filter_key key, const char *v,
                     int64_t now, char *msg, size_t len)
{
	int64_t t;

	if (time_parse_since(v, now, &t) != 0)
		return bad(msg, len,
		           "'%s' is not a duration (7d, 12h, 90m, 2w) or a date (2026-11-01)", v);
	if (t < 1)
		t = 1;
	if (key == HOST_FILTER_NEW_SINCE)
		f->new_since = t;
	else
		f->changed_since = t;
	return 0;
}

static int set_job(struct store_host_filter *f, const char *v, char *msg, size_t len)
{
	char *end;
	long long id;

	errno = 0;
	id = strtoll(v, &end, 10);
	if (errno || end == v || *end || id < 1) {
		snprintf(msg, len, "'%s' is not a number in 1..%lld", v, (long long)INT64_MAX);
		return SDB_EUSAGE;
	}
	f->job_id = id;
	return 0;
}

int host_filter_set(struct store_host_filter *f, enum host_filter_key key, const char *v,
                    int64_t now, char *msg, size_t len)
{
	int proto;

	switch (key) {
	case HOST_FILTER_PORT:
		if (addr_port_spec_parse(v, &f->port, &proto) != 0)
			return bad(
			    msg, len,
			    "'%s' is not a port (use N or N/tcp, N/udp, N/sctp with N 0-65535)", v);
		f->protocol = proto >= 0 ? (enum rec_proto)proto : REC_PROTO_ANY;
		return 0;
	case HOST_FILTER_SERVICE:
		if (!*v)
			return bad(msg, len, "a service name is needed");
		f->service = v;
		return 0;
	case HOST_FILTER_STATUS:
		if (rec_host_status_parse(v, &f->status) != 0)
			return bad(
			    msg, len,
			    "unknown host status '%s' (use up, down, gone, unknown or skipped)", v);
		return 0;
	case HOST_FILTER_NET:
		if (addr_cidr_parse(v, f->net_lo, f->net_hi) != 0)
			return bad(msg, len,
			           "'%s' is not an address or CIDR block (e.g. 10.0.0.0/8, "
			           "2001:db8::/32)",
			           v);
		f->has_net = 1;
		return 0;
	case HOST_FILTER_JOB:
		return set_job(f, v, msg, len);
	case HOST_FILTER_CHANGED_SINCE:
	case HOST_FILTER_NEW_SINCE:
		return set_since(f, key, v, now, msg, len);
	}
	return bad(msg, len, "unknown filter");
}
