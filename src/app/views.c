/*
 * views.c - the JSON objects of what the read side shows (views.h): a
 * host with its ports, extraports and scripts, a job, a change event, a
 * finding, an API token (never its secret or hash), the database's
 * statistics; and a job shown as the reaper would record it.
 * Both front doors print these (cli/output.c and the cmd_*.c; http/ answers them): one shape of
 * each.  The field names are a public contract documented in docs/OUTPUT.md and docs/API.md; change
 * both together or not at all.
 */
#include "app/views.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "app/process.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/timeutil.h"
#include "core/utf8.h"

/* Cap on one JSON string built byte by byte (jstr's repair). */
#define VIEW_TEXT_MAX (64u << 20)

/* ---- hosts and jobs ------------------------------------------------------------- */

/*
 * A JSON string for s, or null for NULL.  JSON text must be UTF-8, and a
 * database may hold anything, so bytes that are not valid UTF-8 become
 * U+FFFD instead of failing the whole output.  NULL on ENOMEM.
 */
static json_t *jstr(const char *s)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *p;
	struct buf b;
	json_t *v;
	size_t n;

	if (!s)
		return json_null();
	if ((v = json_string(s)) != NULL)
		return v;
	buf_init(&b, VIEW_TEXT_MAX);
	for (p = (const unsigned char *)s; *p; p += n ? n : 1) {
		n = utf8_seq_len(p);
		if (buf_append(&b, n ? (const char *)p : repl, n ? n : 3) != 0) {
			buf_free(&b);
			return NULL;
		}
	}
	v = json_string(buf_str(&b));
	buf_free(&b);
	return v;
}

/* An optional integer (< 0 = absent) or null. */
static json_t *jint(long long v)
{
	return v < 0 ? json_null() : json_integer(v);
}

/* A Unix time as "YYYY-MM-DDTHH:MM:SSZ", or null for 0 (absent). */
static json_t *jtime(int64_t t)
{
	char iso[TIME_ISO_LEN];

	time_format_iso(t, iso);
	return iso[0] ? json_string(iso) : json_null();
}

/* Builds one object; the first failed step marks it bad (ENOMEM). */
struct jobj {
	json_t *o;
	int bad;
};

static void jset(struct jobj *b, const char *key, json_t *v)
{
	/* json_object_set_new() takes v even when it fails, and refuses NULL. */
	if (!b->o || !v || json_object_set_new(b->o, key, v) != 0)
		b->bad = 1;
}

/* Returns the object, or NULL (everything released) if a step failed. */
static json_t *jobj_done(struct jobj *b)
{
	if (b->bad) {
		json_decref(b->o);
		return NULL;
	}
	return b->o;
}

static json_t *jstrings(char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		if (json_array_append_new(a, jstr(v[i])) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static json_t *jscripts(const struct store_script *s, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++) {
		struct jobj b = {json_object(), 0};

		jset(&b, "id", jstr(s[i].id));
		jset(&b, "output", jstr(s[i].output));
		if (json_array_append_new(a, jobj_done(&b)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static json_t *view_port_json(const struct store_port *p)
{
	struct jobj b = {json_object(), 0};

	jset(&b, "protocol", jstr(p->protocol));
	jset(&b, "port", json_integer(p->port));
	jset(&b, "state", jstr(p->state));
	jset(&b, "reason", jstr(p->reason));
	jset(&b, "reason_ttl", jint(p->reason_ttl));
	jset(&b, "service", jstr(p->service));
	jset(&b, "product", jstr(p->product));
	jset(&b, "version", jstr(p->version));
	jset(&b, "extrainfo", jstr(p->extrainfo));
	jset(&b, "ostype", jstr(p->ostype));
	jset(&b, "method", jstr(p->method));
	jset(&b, "conf", jint(p->conf));
	jset(&b, "tunnel", jstr(p->tunnel));
	jset(&b, "cpe", jstrings(p->cpes, p->ncpes));
	jset(&b, "scripts", jscripts(p->scripts, p->nscripts));
	/* history of the port: the current state only (null in a job's view) */
	jset(&b, "first_seen", jtime(p->first_seen));
	jset(&b, "last_seen", jtime(p->last_seen));
	jset(&b, "closed_at", jtime(p->closed_at));
	jset(&b, "state_job_id", p->state_job_id ? json_integer(p->state_job_id) : json_null());
	return jobj_done(&b);
}

/* A host's keys before "ports" (head) and after it (tail), in the order of
 * docs/OUTPUT.md; view_host_json() puts the three together,
 * output_host_json_write() (cli/output.c) streams the ports between the two. */
static json_t *view_host_head(const struct store_host *h)
{
	struct jobj b = {json_object(), 0};

	jset(&b, "addr", jstr(h->addr));
	jset(&b, "family", json_integer(h->family));
	jset(&b, "status", jstr(h->status));
	jset(&b, "reason", jstr(h->reason));
	jset(&b, "hostnames", jstrings(h->hostnames, h->nhostnames));
	jset(&b, "mac", jstr(h->mac));
	jset(&b, "mac_vendor", jstr(h->mac_vendor));
	jset(&b, "os", jstr(h->os));
	jset(&b, "os_accuracy", jint(h->os_accuracy));
	jset(&b, "os_family", jstr(h->os_family));
	jset(&b, "os_vendor", jstr(h->os_vendor));
	jset(&b, "os_gen", jstr(h->os_gen));
	jset(&b, "os_type", jstr(h->os_type));
	jset(&b, "os_cpe", jstr(h->os_cpe));
	jset(&b, "uptime", jint(h->uptime));
	jset(&b, "lastboot", jstr(h->lastboot));
	jset(&b, "distance", jint(h->distance));
	jset(&b, "first_seen", jtime(h->first_seen));
	jset(&b, "last_seen", jtime(h->last_seen));
	jset(&b, "job_id", json_integer(h->job_id));
	jset(&b, "scanned_at", jtime(h->scanned_at));
	return jobj_done(&b);
}

static json_t *host_extraports(const struct store_host *h)
{
	json_t *extra = json_array();

	for (size_t i = 0; extra && i < h->nextraports; i++) {
		struct jobj e = {json_object(), 0};

		jset(&e, "state", jstr(h->extraports[i].state));
		jset(&e, "count", json_integer(h->extraports[i].count));
		jset(&e, "reasons", jstr(h->extraports[i].reasons));
		if (json_array_append_new(extra, jobj_done(&e)) != 0) {
			json_decref(extra);
			extra = NULL;
		}
	}
	return extra;
}

static json_t *view_host_tail(const struct store_host *h)
{
	struct jobj b = {json_object(), 0};

	jset(&b, "extraports", host_extraports(h));
	jset(&b, "scripts", jscripts(h->scripts, h->nscripts));
	return jobj_done(&b);
}

json_t *view_host_json(const struct store_host *h)
{
	json_t *o = view_host_head(h), *tail = view_host_tail(h), *ports = json_array();

	for (size_t i = 0; ports && i < h->nports; i++) {
		if (json_array_append_new(ports, view_port_json(&h->ports[i])) != 0) {
			json_decref(ports);
			ports = NULL;
		}
	}
	if (!o || !tail || !ports || json_object_set_new(o, "ports", ports) != 0 ||
	    json_object_update(o, tail) != 0) {
		if (!o || !ports)
			json_decref(ports);
		json_decref(o);
		o = NULL;
	}
	json_decref(tail);
	return o;
}

json_t *view_job_json(const struct store_job *j)
{
	struct jobj b = {json_object(), 0};

	jset(&b, "id", json_integer(j->id));
	jset(&b, "kind", jstr(j->kind));
	jset(&b, "source", jstr(j->source));
	jset(&b, "status", jstr(j->status));
	jset(&b, "args", jstr(j->args));
	jset(&b, "scanner", jstr(j->scanner));
	jset(&b, "scanner_version", jstr(j->scanner_version));
	jset(&b, "progress", json_integer(j->progress));
	jset(&b, "worker_id", jstr(j->worker_id));
	jset(&b, "created_at", jtime(j->created_at));
	jset(&b, "started_at", jtime(j->started_at));
	jset(&b, "completed_at", jtime(j->completed_at));
	jset(&b, "timeout_at", jtime(j->timeout_at));
	jset(&b, "error", jstr(j->error));
	jset(&b, "content_hash", jstr(j->content_hash));
	jset(&b, "forced", json_boolean(j->forced));
	jset(&b, "probed_scope", jstr(j->probed_scope));
	jset(&b, "hosts_up", jint(j->hosts_up));
	jset(&b, "hosts_down", jint(j->hosts_down));
	jset(&b, "hosts_total", jint(j->hosts_total));
	jset(&b, "ports_open", jint(j->ports_open));
	jset(&b, "elapsed",
	     j->elapsed >= 0 && isfinite(j->elapsed) ? json_real(j->elapsed) : json_null());
	jset(&b, "partial", json_boolean(j->partial));
	return jobj_done(&b);
}

/* ---- change events and findings ------------------------------------------ */

json_t *view_event_json(const struct store_event *e)
{
	char at[TIME_ISO_LEN];
	json_t *o;

	time_format_iso(e->at, at);
	o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_integer(e->id));
	json_object_set_new(o, "at", json_string(at));
	json_object_set_new(o, "addr", jstr(e->addr));
	json_object_set_new(o, "kind", jstr(e->kind));
	json_object_set_new(o, "protocol", jstr(e->protocol));
	json_object_set_new(o, "port", e->port >= 0 ? json_integer(e->port) : json_null());
	json_object_set_new(o, "script", jstr(e->detail));
	json_object_set_new(o, "old", jstr(e->old_value));
	json_object_set_new(o, "new", jstr(e->new_value));
	json_object_set_new(o, "job_id", json_integer(e->job_id));
	json_object_set_new(o, "prev_job_id",
	                    e->prev_job_id ? json_integer(e->prev_job_id) : json_null());
	return o;
}

json_t *view_finding_json(const struct store_finding *f)
{
	json_t *o = json_object(), *jobs = json_array(), *hist = json_array(), *det = NULL;
	int bad = !o || !jobs || !hist;

	for (size_t i = 0; !bad && i < f->njobs; i++)
		bad |= json_array_append_new(jobs, json_integer(f->jobs[i]));
	for (size_t i = 0; !bad && i < f->nhistory; i++) {
		const struct store_finding_change *c = &f->history[i];
		json_t *h =
		    json_pack("{s:o, s:o, s:s?, s:s, s:s?}", "at", jtime(c->at), "job",
		              c->job_id ? json_integer(c->job_id) : json_null(), "old_status",
		              c->old_status, "new_status", c->new_status, "note", c->note);
		bad |= !h || json_array_append_new(hist, h);
	}
	if (f->details)
		det = json_loads(f->details, 0, NULL);
	if (!det)
		det = f->details ? json_string(f->details) : json_null();
	bad |= json_object_set_new(o, "id", json_integer(f->id));
	bad |= json_object_set_new(o, "addr", json_string(f->addr));
	bad |= json_object_set_new(o, "protocol",
	                           f->protocol ? json_string(f->protocol) : json_null());
	bad |= json_object_set_new(o, "port", f->port >= 0 ? json_integer(f->port) : json_null());
	bad |= json_object_set_new(o, "type", json_string(f->type));
	bad |= json_object_set_new(o, "source", json_string(f->source));
	bad |= json_object_set_new(o, "title", json_string(f->title));
	bad |= json_object_set_new(o, "severity", json_string(f->severity));
	bad |= json_object_set_new(o, "status", json_string(f->status));
	bad |= json_object_set_new(o, "fingerprint", json_string(f->fingerprint));
	bad |= json_object_set_new(o, "first_seen", jtime(f->first_seen));
	bad |= json_object_set_new(o, "last_seen", jtime(f->last_seen));
	bad |= json_object_set_new(o, "jobs", jobs);
	jobs = NULL;
	bad |= json_object_set_new(o, "details", det);
	bad |= json_object_set_new(o, "history", hist);
	hist = NULL;
	json_decref(jobs);
	json_decref(hist);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- what people say about a host: tags and notes ------------------------- */

json_t *view_host_tag_json(const char *tag, int64_t at, const char *author)
{
	return json_pack("{s:s, s:o, s:s?}", "tag", tag, "added", jtime(at), "author", author);
}

json_t *view_host_note_json(const struct store_note *n)
{
	return json_pack("{s:I, s:o, s:s?, s:s}", "id", (json_int_t)n->id, "at", jtime(n->at),
	                 "author", n->author, "text", n->text);
}

static int add_tag_json(void *ctx, const char *tag, int64_t at, const char *author)
{
	json_t *o = view_host_tag_json(tag, at, author);

	return o && json_array_append_new(ctx, o) == 0 ? 0 : SDB_ENOMEM;
}

static int add_note_json(void *ctx, const struct store_note *n)
{
	json_t *o = view_host_note_json(n);

	return o && json_array_append_new(ctx, o) == 0 ? 0 : SDB_ENOMEM;
}

int view_host_says_add(struct store *st, int64_t host_id, json_t *obj)
{
	json_t *tags = json_array(), *notes = json_array();
	int r = SDB_ENOMEM;

	if (tags && notes && (r = store_host_tags(st, host_id, add_tag_json, tags)) == 0 &&
	    (r = store_host_notes(st, host_id, add_note_json, notes)) == 0) {
		json_object_set(obj, "tags", tags);
		json_object_set(obj, "notes", notes);
	}
	json_decref(tags);
	json_decref(notes);
	return r;
}

/* ---- database statistics (`stats`, GET /api/v1/database/stats) ------------- */

static int64_t stats_job_time(const struct store_job *j)
{
	return j->started_at ? j->started_at : j->created_at;
}

static json_t *stats_job_json(const struct store_job *j)
{
	if (!j)
		return json_null();
	return json_pack("{s:I, s:o, s:o, s:o}", "id", (json_int_t)j->id, "at",
	                 jtime(stats_job_time(j)), "source", jstr(j->source), "status",
	                 jstr(j->status));
}

json_t *view_stats_json(const struct store_stats *s)
{
	json_t *o = json_object(), *tables = json_array(), *indexes = json_array();
	json_t *by = json_object(), *jobs, *hby;
	int estimated = 0;

	if (!o || !tables || !indexes || !by) {
		json_decref(o);
		json_decref(tables);
		json_decref(indexes);
		json_decref(by);
		return NULL;
	}
	for (size_t i = 0; i < s->nobjs; i++) {
		const struct store_stat_obj *x = &s->objs[i];
		if (x->is_index)
			json_array_append_new(
			    indexes, json_pack("{s:s, s:s, s:o, s:o, s:b}", "name", x->name,
			                       "table", x->table, "entries", jint(x->rows), "bytes",
			                       jint(x->bytes), "estimated", x->estimated));
		else
			json_array_append_new(tables,
			                      json_pack("{s:s, s:o, s:o, s:b}", "name", x->name,
			                                "rows", jint(x->rows), "bytes",
			                                jint(x->bytes), "estimated", x->estimated));
		estimated |= x->estimated;
	}
	for (int i = 0; i < 5; i++)
		json_object_set_new(by, store_job_status_name((enum store_job_status)i),
		                    json_integer(s->jobs_by_status[i]));
	jobs = json_pack("{s:I, s:o, s:o, s:o}", "total", (json_int_t)s->jobs_total, "by_status",
	                 by, "oldest", stats_job_json(s->oldest_job), "newest",
	                 stats_job_json(s->newest_job));
	hby = json_object();
	for (int i = 0; i <= REC_HOST_GONE; i++)
		json_object_set_new(hby, rec_host_status_name((enum rec_host_status)i),
		                    json_integer(s->hosts_by_status[i]));
	json_object_set_new(
	    o, "hosts",
	    json_pack("{s:I, s:o}", "total", (json_int_t)s->hosts_total, "by_status", hby));
	json_object_set_new(o, "backend", json_string(s->backend));
	json_object_set_new(o, "size_method", json_string(s->size_method));
	json_object_set_new(o, "estimated", json_boolean(estimated));
	json_object_set_new(o, "database_bytes", json_integer(s->db_bytes));
	json_object_set_new(o, "free_bytes", jint(s->free_bytes));
	json_object_set_new(o, "tables", tables);
	json_object_set_new(o, "indexes", indexes);
	json_object_set_new(o, "jobs", jobs);
	return o;
}

/* ---- API tokens ----------------------------------------------------------- */

json_t *view_token_json(const struct store_token *t)
{
	struct jobj b = {json_object(), 0};

	jset(&b, "id", json_integer(t->id));
	jset(&b, "name", jstr(t->name));
	jset(&b, "scope", jstr(t->scope));
	jset(&b, "created_at", jtime(t->created_at));
	jset(&b, "expires_at", jtime(t->expires_at));
	jset(&b, "last_used_at", jtime(t->last_used_at));
	jset(&b, "revoked_at", jtime(t->revoked_at));
	return jobj_done(&b);
}

/* ---- a job as it will be recorded ----------------------------------------- */

int view_job_as_reaped(struct store_job *j, int64_t now)
{
	char why[512];
	char *status, *error;

	if (!store_job_is_stale(j, now, app_process_hostname(), why, sizeof(why)))
		return 0;
	if (!(status = strdup("failed")) || !(error = strdup(why))) {
		free(status);
		return SDB_ENOMEM;
	}
	free(j->status);
	free(j->error);
	j->status = status;
	j->error = error;
	return 0;
}
