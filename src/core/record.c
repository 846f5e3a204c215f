/* record.c - names of the record enumerations (the strings the schema's
 * CHECK constraints accept) and their parsers. */
#include "core/record.h"

#include <string.h>

#include "core/error.h"

static const char *const host_status_names[] = {"unknown", "up", "down", "skipped"};
static const char *const proto_names[] = {"tcp", "udp", "sctp", "ip"};
static const char *const port_state_names[] = {
    "open", "closed", "filtered", "unfiltered", "open|filtered", "closed|filtered"};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *rec_host_status_name(enum rec_host_status s)
{
	return (unsigned)s < NELEM(host_status_names) ? host_status_names[s] : "?";
}

const char *rec_proto_name(enum rec_proto p)
{
	return (unsigned)p < NELEM(proto_names) ? proto_names[p] : "?";
}

const char *rec_port_state_name(enum rec_port_state s)
{
	return (unsigned)s < NELEM(port_state_names) ? port_state_names[s] : "?";
}

static int lookup(const char *s, const char *const *names, size_t n, int *out)
{
	if (!s)
		return SDB_EPARSE;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return SDB_EPARSE;
}

int rec_host_status_parse(const char *s, enum rec_host_status *out)
{
	int v, r = lookup(s, host_status_names, NELEM(host_status_names), &v);
	if (r == 0)
		*out = (enum rec_host_status)v;
	return r;
}

int rec_proto_parse(const char *s, enum rec_proto *out)
{
	int v, r = lookup(s, proto_names, NELEM(proto_names), &v);
	if (r == 0)
		*out = (enum rec_proto)v;
	return r;
}

int rec_port_state_parse(const char *s, enum rec_port_state *out)
{
	int v, r = lookup(s, port_state_names, NELEM(port_state_names), &v);
	if (r == 0)
		*out = (enum rec_port_state)v;
	return r;
}
