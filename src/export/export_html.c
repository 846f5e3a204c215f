/*
 * export_html.c - a stored job, or the current state, as one self-contained
 * HTML file: inline CSS, no script, no font or image, nothing fetched (a
 * Content-Security-Policy of default-src 'none' says so to the browser).
 * The run's facts, then each host with its open ports (service, version,
 * script output), then the totals - written last, as they are counted on
 * the walk, and shown first by the style sheet (flex order).  Every text
 * goes through the one escaper (core/utf8.h).
 */
#include <inttypes.h>
#include <string.h>

#include "core/error.h"
#include "core/timeutil.h"
#include "core/utf8.h"
#include "export/export.h"

#define T utf8_xml_text

static const char html_style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222;background:#fafafa}"
    "main{display:flex;flex-direction:column;max-width:70em;margin:0 auto;padding:1em}"
    "#summary{order:-1}"
    "h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.5em}"
    "h3{font-size:1.05em;margin:0 0 .3em}"
    "table{border-collapse:collapse;margin:.3em 0}"
    "th,td{text-align:left;padding:.2em .6em;border-bottom:1px solid #ddd;vertical-align:top}"
    "th{background:#eee}"
    ".kv th{background:none;font-weight:600}"
    ".host{background:#fff;border:1px solid #ddd;border-radius:4px;padding:.6em 1em;"
    "margin:.5em 0}"
    ".up{color:#070}.down{color:#a00}.muted{color:#777}"
    "pre{margin:.2em 0;white-space:pre-wrap;word-break:break-all;font-size:12px;"
    "background:#f4f4f4;padding:.3em}"
    "footer{color:#777;font-size:12px;text-align:center;padding:1em}";

static int done(FILE *f)
{
	return ferror(f) ? SDB_EIO : 0;
}

/* A row of the facts table; nothing when v is NULL. */
static void kv(FILE *f, const char *k, const char *v)
{
	if (!v || !*v)
		return;
	fprintf(f, "<tr><th>%s</th><td>", k);
	T(f, v);
	fputs("</td></tr>\n", f);
}

static void kv_time(FILE *f, const char *k, int64_t t)
{
	char iso[TIME_ISO_LEN];

	time_format_iso(t, iso);
	kv(f, k, iso);
}

static void job_facts(FILE *f, const struct store_job *j)
{
	char id[24];

	snprintf(id, sizeof(id), "%" PRId64, j->id);
	kv(f, "Job", id);
	kv(f, "Kind", j->kind);
	kv(f, "Status", j->status);
	kv(f, "Source", j->source);
	kv(f, "Scanner", j->scanner);
	kv(f, "Version", j->scanner_version);
	kv(f, "Command", j->args);
	kv_time(f, "Started", j->started_at);
	kv_time(f, "Completed", j->completed_at);
	kv(f, "Probed", j->probed_scope);
	kv(f, "Error", j->error);
}

static int html_begin(void *ctx, const struct export_run *run)
{
	FILE *f = ((struct export_file *)ctx)->f;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	      "style-src 'unsafe-inline'\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	      "<title>scandb: ",
	      f);
	T(f, run->what);
	fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>scandb report: ",
	        html_style);
	T(f, run->what);
	fputs("</h1>\n<section id=\"run\">\n<table class=\"kv\">\n", f);
	if (run->job)
		job_facts(f, run->job);
	else
		kv(f, "What", "the current state: each host as its latest scan saw it");
	kv_time(f, "Exported", run->now);
	if (run->filtered)
		kv(f, "Filter", "only the hosts that match the filter given");
	fputs("</table>\n</section>\n<section id=\"hosts\">\n<h2>Hosts</h2>\n", f);
	return done(f);
}

static void scripts(FILE *f, const struct store_script *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		fputs("<pre>", f);
		T(f, s[i].id ? s[i].id : "");
		fputs(": ", f);
		T(f, s[i].output ? s[i].output : "");
		fputs("</pre>\n", f);
	}
}

static void port_row(FILE *f, const struct store_port *p)
{
	fprintf(f, "<tr><td>%d/", p->port);
	T(f, p->protocol ? p->protocol : "?");
	fputs("</td><td>", f);
	if (p->tunnel) {
		T(f, p->tunnel);
		fputs("/", f);
	}
	T(f, p->service ? p->service : "");
	fputs("</td><td>", f);
	T(f, p->product ? p->product : "");
	if (p->version) {
		fputs(" ", f);
		T(f, p->version);
	}
	if (p->extrainfo) {
		fputs(" (", f);
		T(f, p->extrainfo);
		fputs(")", f);
	}
	fputs("</td><td>", f);
	scripts(f, p->scripts, p->nscripts);
	fputs("</td></tr>\n", f);
}

static void host_head(FILE *f, const struct store_host *h)
{
	const char *st = h->status ? h->status : "unknown";

	fputs("<article class=\"host\">\n<h3>", f);
	T(f, h->addr);
	fputs(" <span class=\"", f);
	fputs(strcmp(st, "up") == 0 ? "up" : strcmp(st, "down") == 0 ? "down" : "muted", f);
	fputs("\">", f);
	T(f, st);
	fputs("</span></h3>\n<table class=\"kv\">\n", f);
	for (size_t i = 0; i < h->nhostnames; i++)
		kv(f, "Name", h->hostnames[i]);
	kv(f, "MAC", h->mac);
	kv(f, "Vendor", h->mac_vendor);
	kv(f, "OS", h->os);
	kv_time(f, "Scanned", h->scanned_at);
	kv_time(f, "First seen", h->first_seen);
	fputs("</table>\n", f);
}

static int html_host(void *ctx, const struct store_host *h)
{
	struct export_file *x = ctx;
	FILE *f = x->f;
	size_t open = 0;

	host_head(f, h);
	for (size_t i = 0; i < h->nports; i++) {
		const struct store_port *p = &h->ports[i];

		if (!p->state || strcmp(p->state, "open") != 0)
			continue;
		if (open++ == 0)
			fputs("<table class=\"ports\">\n<thead><tr><th>Port</th><th>Service</th>"
			      "<th>Version</th><th>Scripts</th></tr></thead>\n<tbody>\n",
			      f);
		port_row(f, p);
	}
	fputs(open ? "</tbody></table>\n" : "<p class=\"muted\">no open port</p>\n", f);
	scripts(f, h->scripts, h->nscripts);
	fputs("</article>\n", f);
	x->nhosts++;
	return done(f);
}

static void count_row(FILE *f, const char *k, long v)
{
	if (v >= 0)
		fprintf(f, "<tr><th>%s</th><td>%ld</td></tr>\n", k, v);
}

static int html_end(void *ctx, const struct export_run *run, const struct export_totals *t)
{
	FILE *f = ((struct export_file *)ctx)->f;

	if (t->hosts == 0)
		fputs("<p class=\"muted\">no host</p>\n", f);
	fputs("</section>\n<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"kv\">\n", f);
	count_row(f, "Hosts", t->hosts);
	count_row(f, "Up", t->up);
	count_row(f, "Down", t->down);
	count_row(f, "Open ports", t->ports_open);
	if (run->job && run->filtered)
		count_row(f, "Hosts in the job", run->job->hosts_total);
	fputs("</table>\n</section>\n</main>\n<footer>scandb " SCANDB_VERSION "</footer>\n"
	      "</body>\n</html>\n",
	      f);
	return done(f);
}

const struct export_writer export_html = {
    .begin = html_begin,
    .host = html_host,
    .end = html_end,
};
