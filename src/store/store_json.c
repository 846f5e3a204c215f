/*
 * store_json.c - the JSON text of the string arrays scandb stores
 * (hosts.hostnames, ports.cpe), both ways, for every backend: the same
 * document goes into SQLite's TEXT and PostgreSQL's jsonb, and comes back
 * the same.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "store/store_int.h"

/* Duplicates are looked for among this many leading entries only, so a
 * hostile file with huge lists costs linear, not quadratic, time. */
#define JSON_DEDUP_MAX 64

/* Append v to the JSON array a unless it is NULL or already there. */
static int json_add_unique(json_t *a, const char *v, int *bad_utf8)
{
	size_t n = json_array_size(a);
	json_t *j;

	if (!v)
		return 0;
	for (size_t i = 0; i < n && i < JSON_DEDUP_MAX; i++)
		if (strcmp(json_string_value(json_array_get(a, i)), v) == 0)
			return 0;
	if (!(j = json_string(v))) {
		/* json_string refuses invalid UTF-8 (it also fails on ENOMEM,
		 * which we cannot tell apart; UTF-8 is the likely cause). */
		*bad_utf8 = 1;
		return SDB_EPARSE;
	}
	return json_array_append_new(a, j) == 0 ? 0 : SDB_ENOMEM;
}

/* Dump a (then release it) into *out (free()). */
static int json_finish(json_t *a, char **out)
{
	*out = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return *out ? 0 : SDB_ENOMEM;
}

/* Names of a host as a JSON array, duplicates dropped (nmap reports the
 * same name as "user" and "PTR").  *out = NULL means "[]". */
int store__hostnames_json(struct store *st, const struct rec_host *h, char **out)
{
	json_t *a;
	int bad = 0, r = 0;

	*out = NULL;
	if (h->nhostnames == 0)
		return 0;
	if (!(a = json_array()))
		return store__set_err(st, SDB_ENOMEM, "host %s: out of memory", h->addr);
	for (size_t i = 0; i < h->nhostnames && r == 0; i++)
		r = json_add_unique(a, h->hostnames[i].name, &bad);
	if (r != 0) {
		json_decref(a);
		return bad ? store__set_err(st, SDB_EPARSE,
		                            "host %s: a hostname is not valid UTF-8", h->addr)
		           : store__set_err(st, SDB_ENOMEM, "host %s: out of memory", h->addr);
	}
	if ((r = json_finish(a, out)) != 0)
		return store__set_err(st, r, "host %s: out of memory", h->addr);
	return 0;
}

/* CPEs of a service as a JSON array, or *out = NULL (SQL NULL) if none. */
int store__cpes_json(struct store *st, const struct rec_port *p, char **out)
{
	json_t *a;
	int bad = 0, r = 0;

	*out = NULL;
	if (!p->has_service || p->service.ncpes == 0)
		return 0;
	if (!(a = json_array()))
		return store__set_err(st, SDB_ENOMEM, "port %d: out of memory", p->port);
	for (size_t i = 0; i < p->service.ncpes && r == 0; i++)
		r = json_add_unique(a, p->service.cpes[i], &bad);
	if (r == 0)
		r = json_finish(a, out);
	else
		json_decref(a);
	if (r != 0)
		return store__set_err(st, r, "port %d/%s: %s", p->port, rec_proto_name(p->proto),
		                      bad ? "a CPE is not valid UTF-8" : "out of memory");
	return 0;
}

/* A JSON array of strings (hostnames, cpes) into an owned char *[]. */
int store__json_strings(const char *text, char ***out, size_t *n)
{
	json_t *a = NULL;
	char **v = NULL;
	size_t cnt = 0, len;
	int r;

	*out = NULL;
	*n = 0;
	if (!text || strcmp(text, "[]") == 0)
		return 0;
	if (!(a = json_loads(text, JSON_DECODE_ANY, NULL)) || !json_is_array(a)) {
		r = SDB_EDB;
		goto out;
	}
	len = json_array_size(a);
	if (len == 0) {
		r = 0;
		goto out;
	}
	if (!(v = calloc(len, sizeof(*v)))) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		const char *sv = json_string_value(json_array_get(a, i));
		if (!sv)
			continue; /* not a string: not ours, skip it */
		if (!(v[cnt] = strdup(sv))) {
			r = SDB_ENOMEM;
			goto out;
		}
		cnt++;
	}
	*out = v;
	*n = cnt;
	v = NULL;
	r = 0;
out:
	if (v) {
		for (size_t i = 0; i < cnt; i++)
			free(v[i]);
		free(v);
	}
	json_decref(a);
	return r;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* hosts.hostnames (a JSON array) as events.h's canonical "a,b" text. */
int store__names_text(const char *json, char **out)
{
	json_t *arr;
	const char **v = NULL;
	struct buf b;
	size_t n, k = 0;
	int r = 0;

	*out = NULL;
	if (!json || strcmp(json, "[]") == 0)
		return 0; /* most hosts: no names, nothing to parse */
	arr = json_loads(json, 0, NULL);
	n = arr && json_is_array(arr) ? json_array_size(arr) : 0;
	buf_init(&b, (size_t)1 << 20);
	if (n && !(v = calloc(n, sizeof(*v)))) {
		r = SDB_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = json_string_value(json_array_get(arr, i));
		if (name && *name)
			v[k++] = name;
	}
	qsort(v, k, sizeof(*v), cmp_cstr);
	for (size_t i = 0; i < k && r == 0; i++) {
		if (i > 0 && strcmp(v[i], v[i - 1]) == 0)
			continue;
		if (b.len)
			r = buf_append_char(&b, ',');
		if (r == 0)
			r = buf_append_str(&b, v[i]);
	}
	if (r == 0 && b.len)
		*out = buf_steal(&b);
out:
	buf_free(&b);
	free(v);
	json_decref(arr);
	return r;
}
