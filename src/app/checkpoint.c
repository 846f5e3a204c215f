/*
 * checkpoint.c - the per-host checkpoint document (app/checkpoint.h says
 * what it holds and why): which scans keep one, writing it from a host
 * state, reading it back (each value checked: a document that is not a
 * checkpoint is SDB_EDB, never a half-read state).
 */
#include "app/checkpoint.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/error.h"
#include "core/record.h"

#define CHECKPOINT_SCRIPT_MAX (256 * 1024) /* bytes of script output */

int checkpoint_due(int64_t host_id, int64_t job_id)
{
	uint64_t x = (uint64_t)host_id * 0x9E3779B97F4A7C15ull ^ (uint64_t)job_id;

	x ^= x >> 30;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 27;
	x *= 0x94D049BB133111EBull;
	x ^= x >> 31;
	return x % CHECKPOINT_EVERY == 0;
}

int checkpoint_doc(const struct ev_host *h, char **out)
{
	json_t *ports = NULL, *scripts = NULL, *o = NULL;
	size_t script_bytes = 0;
	int r = SDB_ENOMEM;

	*out = NULL;
	/* A host whose script outputs are big (up to 8 MiB: nmap_xml.h) gets
	 * no checkpoint: it would copy them all again, into the JSON tree and
	 * its text, past the import's memory bound; its late scans start
	 * from an earlier checkpoint or its first scan. */
	for (size_t i = 0; i < h->nscripts; i++)
		if (h->scripts[i].output &&
		    (script_bytes += strlen(h->scripts[i].output)) > CHECKPOINT_SCRIPT_MAX)
			return 0;
	ports = json_array();
	scripts = json_array();
	if (!ports || !scripts)
		goto out;
	for (size_t i = 0; i < h->nports; i++) {
		const struct ev_port *p = &h->ports[i];
		json_t *e =
		    json_pack("[s, i, s, I, I, s?, s?, s?, s?, s?, s?, s?]",
		              rec_proto_name(p->proto), p->port, rec_port_state_name(p->state),
		              (json_int_t)p->job_id, (json_int_t)p->seen_at, p->reason, p->method,
		              p->service, p->product, p->version, p->extrainfo, p->tunnel);
		if (!e || json_array_append_new(ports, e) != 0) {
			r = 0; /* (not JSON: see above) */
			goto out;
		}
	}
	for (size_t i = 0; i < h->nscripts; i++) {
		const struct ev_script *sc = &h->scripts[i];
		json_t *e =
		    json_pack("[s?, i, s, s, I]",
		              sc->proto < 0 ? NULL : rec_proto_name((enum rec_proto)sc->proto),
		              sc->port, sc->id, sc->output, (json_int_t)sc->job_id);
		if (!e || json_array_append_new(scripts, e) != 0) {
			r = 0;
			goto out;
		}
	}
	o = json_pack("{s:s, s:I, s:I, s:s?, s:s?, s:s?, s:O, s:O}", "status",
	              rec_host_status_name(h->status), "job", (json_int_t)h->job_id, "at",
	              (json_int_t)h->at, "os", h->os, "mac", h->mac, "names", h->hostnames, "ports",
	              ports, "scripts", scripts);
	/* gone (0012): only when there is something to say, so that a
	 * checkpoint of a host that never missed reads as before */
	if (o && h->misses &&
	    json_object_set_new(o, "misses", json_integer((json_int_t)h->misses)) != 0)
		goto out;
	if (o && h->miss_job &&
	    (json_object_set_new(o, "miss_job", json_integer((json_int_t)h->miss_job)) != 0 ||
	     json_object_set_new(o, "miss_at", json_integer((json_int_t)h->miss_at)) != 0))
		goto out;
	r = 0;
	if (o && !(*out = json_dumps(o, JSON_COMPACT)))
		r = SDB_ENOMEM;
out:
	json_decref(ports);
	json_decref(scripts);
	json_decref(o);
	return r;
}

static const char *json_str_or_null(const json_t *v, int *bad)
{
	if (json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		*bad = 1;
	return json_string_value(v);
}

/* Its misses and latest miss (absent: none), as history/events.h counts
 * them: 0 or SDB_EDB. */
static int read_misses(json_t *o, struct ev_host *out)
{
	json_t *m = json_object_get(o, "misses"), *j = json_object_get(o, "miss_job"),
	       *a = json_object_get(o, "miss_at");

	if ((m && (!json_is_integer(m) || json_integer_value(m) < 0 ||
	           json_integer_value(m) > INT32_MAX)) ||
	    (j && !json_is_integer(j)) || (a && !json_is_integer(a)) || (!j != !a))
		return SDB_EDB;
	out->misses = m ? (int)json_integer_value(m) : 0;
	out->miss_job = j ? json_integer_value(j) : 0;
	out->miss_at = a ? json_integer_value(a) : 0;
	return 0;
}

/* The host's own values (status, latest scan, os, mac, names) into out:
 * 0, SDB_EDB or SDB_ENOMEM. */
static int read_host(json_t *o, struct ev_host *out)
{
	enum rec_host_status status;
	const char *os, *mac, *names;
	int bad = 0, r;

	if (!json_is_string(json_object_get(o, "status")) ||
	    rec_host_status_parse(json_string_value(json_object_get(o, "status")), &status) != 0 ||
	    !json_is_integer(json_object_get(o, "job")) ||
	    !json_is_integer(json_object_get(o, "at")))
		return SDB_EDB;
	out->known = 1;
	out->status = status;
	out->job_id = json_integer_value(json_object_get(o, "job"));
	out->at = json_integer_value(json_object_get(o, "at"));
	if ((r = read_misses(o, out)) != 0)
		return r;
	os = json_str_or_null(json_object_get(o, "os"), &bad);
	mac = json_str_or_null(json_object_get(o, "mac"), &bad);
	names = json_str_or_null(json_object_get(o, "names"), &bad);
	if (bad)
		return SDB_EDB;
	if ((os && !(out->os = strdup(os))) || (mac && !(out->mac = strdup(mac))) ||
	    (names && !(out->hostnames = strdup(names))))
		return SDB_ENOMEM;
	return 0;
}

/* One element of "ports" into out: 0, SDB_EDB or SDB_ENOMEM. */
static int read_port(json_t *v, struct ev_host *out)
{
	struct ev_port p;
	enum rec_proto proto;
	enum rec_port_state state;
	int bad = 0;

	memset(&p, 0, sizeof(p));
	if (!json_is_array(v) || json_array_size(v) != 12 ||
	    rec_proto_parse(json_string_value(json_array_get(v, 0)), &proto) != 0 ||
	    !json_is_integer(json_array_get(v, 1)) ||
	    rec_port_state_parse(json_string_value(json_array_get(v, 2)), &state) != 0 ||
	    !json_is_integer(json_array_get(v, 3)) || !json_is_integer(json_array_get(v, 4)))
		return SDB_EDB;
	p.proto = proto;
	p.port = (int)json_integer_value(json_array_get(v, 1));
	p.state = state;
	p.job_id = json_integer_value(json_array_get(v, 3));
	p.seen_at = json_integer_value(json_array_get(v, 4));
	p.reason = (char *)json_str_or_null(json_array_get(v, 5), &bad);
	p.method = (char *)json_str_or_null(json_array_get(v, 6), &bad);
	p.service = (char *)json_str_or_null(json_array_get(v, 7), &bad);
	p.product = (char *)json_str_or_null(json_array_get(v, 8), &bad);
	p.version = (char *)json_str_or_null(json_array_get(v, 9), &bad);
	p.extrainfo = (char *)json_str_or_null(json_array_get(v, 10), &bad);
	p.tunnel = (char *)json_str_or_null(json_array_get(v, 11), &bad);
	if (bad || p.port < 0 || p.port > 65535)
		return SDB_EDB;
	return ev_host_put_port(out, &p); /* (copies the strings) */
}

/* One element of "scripts" into out: 0, SDB_EDB or SDB_ENOMEM. */
static int read_script(json_t *v, struct ev_host *out)
{
	enum rec_proto proto;
	const char *pr, *id, *output;
	int bad = 0;

	if (!json_is_array(v) || json_array_size(v) != 5 ||
	    !json_is_integer(json_array_get(v, 1)) || !json_is_integer(json_array_get(v, 4)))
		return SDB_EDB;
	pr = json_str_or_null(json_array_get(v, 0), &bad);
	id = json_string_value(json_array_get(v, 2));
	output = json_string_value(json_array_get(v, 3));
	if (bad || !id || !output || (pr && rec_proto_parse(pr, &proto) != 0))
		return SDB_EDB;
	return ev_host_put_script(out, pr ? (int)proto : -1,
	                          pr ? (int)json_integer_value(json_array_get(v, 1)) : -1, id,
	                          output, json_integer_value(json_array_get(v, 4)));
}

int checkpoint_read(const char *doc, struct ev_host *out)
{
	json_t *o = json_loads(doc, 0, NULL), *ports, *scripts, *v;
	size_t i;
	int r = SDB_EDB;

	if (!o || !json_is_object(o) || !json_is_array(ports = json_object_get(o, "ports")) ||
	    !json_is_array(scripts = json_object_get(o, "scripts")) || (r = read_host(o, out)) != 0)
		goto out;
	json_array_foreach(ports, i, v)
	{
		if ((r = read_port(v, out)) != 0)
			goto out;
	}
	json_array_foreach(scripts, i, v)
	{
		if ((r = read_script(v, out)) != 0)
			goto out;
	}
out:
	json_decref(o);
	if (r != 0)
		ev_host_free(out);
	return r;
}
