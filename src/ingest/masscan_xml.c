/*
 * masscan_xml.c - masscan's -oX (masscan.h), on expat: nmap's element
 * names in masscan's dialect - <nmaprun scanner="masscan">, one <host> per
 * open port (or banner) in any order, no <status>, addrtype "ipv4" even for
 * an IPv6 address (the address itself says its family), a banner as
 * <service name="TYPE" banner="TEXT">.  Each </port> becomes one entry for
 * the collector (masscan_hosts.c); nothing is held past it but the host's
 * address.  Refused: a DOCTYPE or entity (no expansion attacks), nesting
 * past MS_XML_MAX_DEPTH, a token past MS_XML_MAX_TOKEN bytes; a file cut
 * before </nmaprun> is an error unless the sink takes it (--partial).
 */
#include "ingest/masscan_int.h"

#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/strset.h"

#define MS_XML_MAX_DEPTH 32
#define MS_XML_MAX_TOKEN (4u << 20) /* bytes fed with no element event */
#define XML_CHUNK        (64 * 1024)
/* expat keeps every distinct element and attribute name it meets: the
 * names are capped so that its tables stay small (masscan uses about 30). */
#define MS_XML_MAX_NAMES    256
#define MS_XML_MAX_NAME_LEN 64

/* What the current <host> and <port> hold. */
struct xml_state {
	int depth;
	int root_seen, root_closed;
	char addr[64];
	int have_addr;
	int64_t endtime;
	int in_port;
	struct ms_item it;
	char proto[16], reason[64], type[64];
	char *banner; /* the <service banner>, malloc'ed */
	size_t since_event;
	long entries;
	struct strset names; /* "element" and "element attribute" seen */
};

static const char *attr(const XML_Char **a, const char *name)
{
	for (; a && a[0]; a += 2)
		if (strcmp(a[0], name) == 0)
			return a[1];
	return NULL;
}

static void copy(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

/* Stop expat with the parser's error set at the current position. */
static void stop(struct ms_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void stop(struct ms_parser *p, int code, const char *fmt, ...)
{
	XML_Parser x = p->xml;
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ms__fail(p, code, (long)XML_GetCurrentLineNumber(x),
	         (long)XML_GetCurrentColumnNumber(x) + 1, "%s", what);
	XML_StopParser(x, XML_FALSE);
}

static void on_port_start(struct xml_state *xs, const XML_Char **a)
{
	const char *pid = attr(a, "portid");
	char *end;

	memset(&xs->it, 0, sizeof(xs->it));
	xs->in_port = 1;
	xs->it.ttl = -1;
	xs->it.port = pid ? strtol(pid, &end, 10) : -1;
	if (!pid || !*pid || *end)
		xs->it.port = -1;
	copy(xs->proto, sizeof(xs->proto), attr(a, "protocol"));
	xs->reason[0] = xs->type[0] = '\0';
	free(xs->banner);
	xs->banner = NULL;
}

static void on_state(struct ms_parser *p, struct xml_state *xs, const XML_Char **a)
{
	const char *st = attr(a, "state"), *ttl = attr(a, "reason_ttl");

	if (!st || rec_port_state_parse(st, &xs->it.state) != 0) {
		stop(p, SDB_EPARSE, "port state '%.32s' is not a port state", st ? st : "(none)");
		return;
	}
	copy(xs->reason, sizeof(xs->reason), attr(a, "reason"));
	xs->it.ttl = ttl ? strtol(ttl, NULL, 10) : -1;
	xs->it.is_banner = 0;
}

static void on_service(struct ms_parser *p, struct xml_state *xs, const XML_Char **a)
{
	const char *b = attr(a, "banner");

	copy(xs->type, sizeof(xs->type), attr(a, "name"));
	free(xs->banner); /* a second <service> in one <port>: the last one */
	if (!(xs->banner = strdup(b ? b : "")))
		stop(p, SDB_ENOMEM, "out of memory");
	xs->it.is_banner = 1;
}

/* Count element el's name (attr NULL) or its attribute attr's among the
 * distinct names; 0, or the parser stopped. */
static int note_name(struct ms_parser *p, struct xml_state *xs, const char *el, const char *attr)
{
	char key[2 * MS_XML_MAX_NAME_LEN + 2];
	int r;

	if (strlen(el) > MS_XML_MAX_NAME_LEN || (attr && strlen(attr) > MS_XML_MAX_NAME_LEN)) {
		stop(p, SDB_EPARSE, "a name longer than %d bytes", MS_XML_MAX_NAME_LEN);
		return -1;
	}
	snprintf(key, sizeof(key), "%s%s%s", el, attr ? " " : "", attr ? attr : "");
	if ((r = strset_add(&xs->names, key)) < 0) {
		stop(p, SDB_ENOMEM, "out of memory");
		return -1;
	}
	if (xs->names.n > MS_XML_MAX_NAMES) {
		stop(p, SDB_ETOOBIG, "more than %d distinct element and attribute names",
		     MS_XML_MAX_NAMES);
		return -1;
	}
	return 0;
}

static int count_names(struct ms_parser *p, struct xml_state *xs, const XML_Char *el,
                       const XML_Char **a)
{
	if (note_name(p, xs, el, NULL) != 0)
		return -1;
	for (; a && a[0]; a += 2)
		if (note_name(p, xs, el, a[0]) != 0)
			return -1;
	return 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **a)
{
	struct ms_parser *p = ud;
	struct xml_state *xs = p->xml_host;

	xs->since_event = 0;
	if (count_names(p, xs, el, a) != 0)
		return;
	if (++xs->depth > MS_XML_MAX_DEPTH) {
		stop(p, SDB_EPARSE, "elements nested deeper than %d", MS_XML_MAX_DEPTH);
		return;
	}
	if (xs->depth == 1) {
		const char *sc = attr(a, "scanner");
		if (strcmp(el, "nmaprun") != 0 || !sc || strcmp(sc, "masscan") != 0) {
			stop(p, SDB_EPARSE, "not masscan XML (<nmaprun scanner=\"masscan\">)");
			return;
		}
		xs->root_seen = 1;
		p->start = ms__ts(attr(a, "start"));
		copy(p->version, sizeof(p->version), attr(a, "version"));
	} else if (strcmp(el, "host") == 0) {
		xs->have_addr = 0;
		xs->endtime = ms__ts(attr(a, "endtime"));
	} else if (strcmp(el, "address") == 0) {
		copy(xs->addr, sizeof(xs->addr), attr(a, "addr"));
		xs->have_addr = 1;
	} else if (strcmp(el, "port") == 0) {
		on_port_start(xs, a);
	} else if (strcmp(el, "state") == 0 && xs->in_port) {
		on_state(p, xs, a);
	} else if (strcmp(el, "service") == 0 && xs->in_port) {
		on_service(p, xs, a);
	} else if (strcmp(el, "finished") == 0) {
		p->end = ms__ts(attr(a, "time"));
	}
}

/* </port>: its entry. */
static void port_end(struct ms_parser *p, struct xml_state *xs)
{
	xs->in_port = 0;
	if (!xs->have_addr) {
		stop(p, SDB_EPARSE, "<port> of a <host> without <address>");
		return;
	}
	if (rec_proto_parse(xs->proto, &xs->it.proto) != 0) {
		stop(p, SDB_EPARSE, "protocol '%.32s' is not tcp, udp or sctp", xs->proto);
		return;
	}
	if (xs->it.port < 0) {
		stop(p, SDB_EPARSE, "portid is not a port number");
		return;
	}
	xs->it.addr = xs->addr;
	xs->it.ts = xs->endtime;
	xs->it.reason = xs->reason[0] ? xs->reason : NULL;
	if (xs->it.is_banner) {
		xs->it.type = xs->type;
		xs->it.text = xs->banner ? xs->banner : "";
		xs->it.text_len = strlen(xs->it.text);
	}
	if (ms__add(p, &xs->it, (long)XML_GetCurrentLineNumber(p->xml),
	            (long)XML_GetCurrentColumnNumber(p->xml) + 1) != 0)
		XML_StopParser(p->xml, XML_FALSE);
	xs->entries++;
	free(xs->banner);
	xs->banner = NULL;
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
	struct ms_parser *p = ud;
	struct xml_state *xs = p->xml_host;

	xs->since_event = 0;
	if (xs->depth-- == 1)
		xs->root_closed = 1;
	else if (strcmp(el, "port") == 0 && xs->in_port)
		port_end(p, xs);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal;
	stop(ud, SDB_EPARSE, "DOCTYPE not accepted in masscan XML");
}

static void XMLCALL on_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *v,
                              int vlen, const XML_Char *base, const XML_Char *sysid,
                              const XML_Char *pubid, const XML_Char *notation)
{
	(void)name, (void)is_param, (void)v, (void)vlen, (void)base, (void)sysid, (void)pubid;
	(void)notation;
	stop(ud, SDB_EPARSE, "entity declarations not accepted");
}

int ms__xml_new(struct ms_parser *p)
{
	struct xml_state *xs = calloc(1, sizeof(*xs));
	XML_Parser x;

	if (!xs || !(x = XML_ParserCreate("UTF-8"))) {
		free(xs);
		return SDB_ENOMEM;
	}
	strset_init(&xs->names);
	XML_SetUserData(x, p);
	XML_SetElementHandler(x, on_start, on_end);
	XML_SetStartDoctypeDeclHandler(x, on_doctype);
	XML_SetEntityDeclHandler(x, on_entity);
	XML_SetParamEntityParsing(x, XML_PARAM_ENTITY_PARSING_NEVER);
	p->xml = x;
	p->xml_host = xs;
	return 0;
}

void ms__xml_free(struct ms_parser *p)
{
	struct xml_state *xs = p->xml_host;

	if (p->xml)
		XML_ParserFree(p->xml);
	if (xs) {
		free(xs->banner);
		strset_free(&xs->names);
	}
	free(xs);
	p->xml = p->xml_host = NULL;
}

/* The end of the input: the run, or why it cannot be one. */
static int xml_end(struct ms_parser *p, struct xml_state *xs)
{
	if (xs->root_closed)
		return ms__emit(p, 0);
	if (xs->root_seen && p->sink.accept_truncated)
		return ms__emit(p, 1);
	return ms__fail(p, SDB_EPARSE, (long)XML_GetCurrentLineNumber(p->xml),
	                (long)XML_GetCurrentColumnNumber(p->xml) + 1,
	                "unexpected end of file (truncated?) after %ld entries%s%s", xs->entries,
	                p->sink.truncated_hint && xs->root_seen ? "; " : "",
	                p->sink.truncated_hint && xs->root_seen ? p->sink.truncated_hint : "");
}

int ms__xml_feed(struct ms_parser *p, const char *data, size_t len, int final)
{
	struct xml_state *xs = p->xml_host;

	do {
		size_t n = len > XML_CHUNK ? XML_CHUNK : len;
		int last = final && n == len;

		if (XML_Parse(p->xml, data, (int)n, last) == XML_STATUS_ERROR) {
			if (!p->err) {
				enum XML_Error e = XML_GetErrorCode(p->xml);
				if (last && xs->root_seen &&
				    (e == XML_ERROR_NO_ELEMENTS || e == XML_ERROR_UNCLOSED_TOKEN ||
				     e == XML_ERROR_PARTIAL_CHAR))
					return xml_end(p, xs); /* cut off */
				ms__fail(p, SDB_EPARSE, (long)XML_GetCurrentLineNumber(p->xml),
				         (long)XML_GetCurrentColumnNumber(p->xml) + 1, "%s",
				         XML_ErrorString(e));
			}
			return p->err;
		}
		if (p->err)
			return p->err;
		if ((xs->since_event += n) > MS_XML_MAX_TOKEN)
			return ms__fail(p, SDB_ETOOBIG, (long)XML_GetCurrentLineNumber(p->xml), 0,
			                "a token longer than %u bytes", MS_XML_MAX_TOKEN);
		if (n) { /* (data may be NULL with len 0) */
			data += n;
			len -= n;
		}
	} while (len > 0);
	return final ? xml_end(p, xs) : 0;
}
