/* scope.c - probed scope of a scan (see scope.h). */
#include "core/scope.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

void scope_init(struct scan_scope *s)
{
	memset(s, 0, sizeof(*s));
}

void scope_free(struct scan_scope *s)
{
	for (int p = 0; p < REC_PROTO__COUNT; p++)
		portlist_free(&s->ports[p]);
	memset(s, 0, sizeof(*s));
}

int scope_add(struct scan_scope *s, enum rec_proto proto, const char *services)
{
	struct portlist pl;
	int r;

	if ((unsigned)proto >= REC_PROTO__COUNT || !services)
		return SDB_EPARSE;
	if ((r = portlist_parse(services, &pl)) != 0)
		return r;
	r = portlist_merge(&s->ports[proto], &pl);
	portlist_free(&pl);
	if (r == 0)
		s->has[proto] = 1;
	return r;
}

int scope_parse(const char *text, struct scan_scope *out)
{
	char *copy, *part, *next;
	int r = 0;

	scope_init(out);
	if (!text || !*text)
		return 0;
	if (!(copy = strdup(text)))
		return SDB_ENOMEM;
	for (part = copy; part && r == 0; part = next) {
		char *colon;
		enum rec_proto proto;

		if ((next = strchr(part, ';')))
			*next++ = '\0';
		if (!(colon = strchr(part, ':'))) {
			r = SDB_EPARSE;
			break;
		}
		*colon = '\0';
		if ((r = rec_proto_parse(part, &proto)) == 0)
			r = scope_add(out, proto, colon + 1);
	}
	free(copy);
	if (r != 0)
		scope_free(out);
	return r;
}

int scope_format(const struct scan_scope *s, char **out)
{
	struct buf b;
	int r = 0;

	*out = NULL;
	buf_init(&b, (size_t)1 << 24);
	for (int p = 0; p < REC_PROTO__COUNT && r == 0; p++) {
		char *ports;
		if (!s->has[p])
			continue;
		if (!(ports = portlist_format(&s->ports[p]))) {
			r = SDB_ENOMEM;
			break;
		}
		r = buf_printf(&b, "%s%s:%s", b.len ? ";" : "", rec_proto_name((enum rec_proto)p),
		               ports);
		free(ports);
	}
	if (r == 0 && b.len)
		*out = buf_steal(&b);
	buf_free(&b);
	return r;
}

int scope_empty(const struct scan_scope *s)
{
	for (int p = 0; p < REC_PROTO__COUNT; p++)
		if (s->has[p])
			return 0;
	return 1;
}

int scope_covers(const struct scan_scope *s, enum rec_proto proto, int port)
{
	return (unsigned)proto < REC_PROTO__COUNT && s->has[proto] &&
	       portlist_contains(&s->ports[proto], port);
}
