/*
 * diff_json.c - `scandb diff --format json` (docs/DIFF.md): one object with
 * both scans' metadata, the run's pre-/post-scan script pairs, every host
 * pair that differs (all with -v) with what changed and both sides of each
 * field, and the summary.  Strings escaped, bytes that are not UTF-8 as
 * U+FFFD.
 */
#include "diff/diff_int.h"

#include <stdio.h>

#include "core/timeutil.h"
#include "core/utf8.h"

/* utf8_rep_fn of a JSON string: control characters, quote and backslash escaped,
 * bytes that are not UTF-8 as U+FFFD. */
static const char *json_rep(const unsigned char *u, size_t *n, char tmp[8])
{
	if (*n == 0) {
		*n = 1;
		return "\\ufffd";
	}
	if (*n > 1 || (u[0] >= 0x20 && u[0] != '"' && u[0] != '\\'))
		return NULL;
	switch (u[0]) {
	case '"':
		return "\\\"";
	case '\\':
		return "\\\\";
	case '\n':
		return "\\n";
	case '\r':
		return "\\r";
	case '\t':
		return "\\t";
	default:
		snprintf(tmp, 8, "\\u%04x", u[0]);
		return tmp;
	}
}

/* A JSON string (or null). */
static void json_str(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	utf8_write_escaped(f, s, json_rep);
	fputc('"', f);
}

static void json_meta(struct diff_wr *w, const struct diff_meta *m)
{
	char t[TIME_ISO_LEN];

	fputs("{\"job_id\":", w->f);
	if (m->job_id)
		fprintf(w->f, "%lld", (long long)m->job_id);
	else
		fputs("null", w->f);
	fputs(",\"file\":", w->f);
	json_str(w->f, m->file);
	fputs(",\"scanner\":", w->f);
	json_str(w->f, m->scanner);
	fputs(",\"version\":", w->f);
	json_str(w->f, m->version);
	fputs(",\"args\":", w->f);
	json_str(w->f, m->args);
	time_format_iso(m->start, t);
	fputs(",\"start\":", w->f);
	json_str(w->f, m->start ? t : NULL);
	time_format_iso(m->end, t);
	fputs(",\"end\":", w->f);
	json_str(w->f, m->end ? t : NULL);
	fputc('}', w->f);
}

static void json_names(struct diff_wr *w, const struct diff_host *h)
{
	if (!h) {
		fputs("null", w->f);
		return;
	}
	fputc('[', w->f);
	for (size_t i = 0; i < h->nhostnames; i++) {
		if (i)
			fputc(',', w->f);
		json_str(w->f, h->hostnames[i]);
	}
	fputc(']', w->f);
}

static void json_os(struct diff_wr *w, const struct diff_host *h)
{
	if (!h || !h->os) {
		fputs("null", w->f);
		return;
	}
	fputs("{\"name\":", w->f);
	json_str(w->f, h->os);
	if (h->os_accuracy >= 0)
		fprintf(w->f, ",\"accuracy\":%d", h->os_accuracy);
	else
		fputs(",\"accuracy\":null", w->f);
	fputs(",\"matches\":[", w->f);
	for (size_t i = 0; i < h->nosmatches; i++) {
		if (i)
			fputc(',', w->f);
		json_str(w->f, h->osmatches[i]);
	}
	fputs("]}", w->f);
}

static void json_extra(struct diff_wr *w, const struct diff_host *h)
{
	if (!h) {
		fputs("null", w->f);
		return;
	}
	fputc('[', w->f);
	for (size_t i = 0; i < h->nextraports; i++)
		fprintf(w->f, "%s{\"state\":\"%s\",\"count\":%ld}", i ? "," : "",
		        rec_port_state_name((enum rec_port_state)h->extraports[i].state),
		        h->extraports[i].count);
	fputc(']', w->f);
}

static void json_port_side(struct diff_wr *w, const struct diff_port *p)
{
	const struct diff_port_info *in = port_info(p);

	if (!p) {
		fputs("null", w->f);
		return;
	}
	fprintf(w->f, "{\"state\":\"%s\",\"service\":", state_name(p));
	json_str(w->f, in->name);
	fputs(",\"product\":", w->f);
	json_str(w->f, in->product);
	fputs(",\"version\":", w->f);
	json_str(w->f, in->version);
	fputs(",\"extrainfo\":", w->f);
	json_str(w->f, in->extrainfo);
	fputs(",\"tunnel\":", w->f);
	json_str(w->f, in->tunnel);
	fputc('}', w->f);
}

static void json_scripts(struct diff_wr *w, const struct diff_script_pair *sp, size_t n)
{
	fputc('[', w->f);
	for (size_t i = 0; i < n; i++) {
		fputs(i ? ",{\"id\":" : "{\"id\":", w->f);
		json_str(w->f, sp[i].a ? sp[i].a->id : sp[i].b->id);
		fputs(",\"a\":", w->f);
		json_str(w->f, sp[i].a ? sp[i].a->output : NULL);
		fputs(",\"b\":", w->f);
		json_str(w->f, sp[i].b ? sp[i].b->output : NULL);
		fputc('}', w->f);
	}
	fputc(']', w->f);
}

static void json_changes(struct diff_wr *w, unsigned ch, const char *const *names, size_t n)
{
	int first = 1;

	fputc('[', w->f);
	for (size_t i = 0; i < n; i++) {
		if (!(ch & (1u << i)))
			continue;
		fprintf(w->f, "%s\"%s\"", first ? "" : ",", names[i]);
		first = 0;
	}
	fputc(']', w->f);
}

static const char *const host_change_names[] = {"status", "mac",        "hostnames", "ports",
                                                "os",     "extraports", "scripts"};
static const char *const port_change_names[] = {"state", "service", "scripts"};
static const char *const kind_names[] = {"unchanged", "added", "removed", "changed"};

static int json_host(void *ctx, const struct diff_host_pair *hp)
{
	struct diff_wr *w = ctx;
	const struct diff_host *a = hp->a, *b = hp->b, *h = a ? a : b;

	fputs(w->nhosts++ ? ",\n{\"addr\":" : "\n{\"addr\":", w->f);
	json_str(w->f, h->addr);
	fprintf(w->f, ",\"family\":%d,\"change\":\"%s\",\"changes\":", h->family,
	        kind_names[hp->kind]);
	json_changes(w, hp->changes, host_change_names,
	             sizeof(host_change_names) / sizeof(host_change_names[0]));
	fputs(",\"status\":{\"a\":", w->f);
	json_str(w->f, a ? status_name(a) : NULL);
	fputs(",\"b\":", w->f);
	json_str(w->f, b ? status_name(b) : NULL);
	fputs("},\"mac\":{\"a\":", w->f);
	json_str(w->f, a ? a->mac : NULL);
	fputs(",\"b\":", w->f);
	json_str(w->f, b ? b->mac : NULL);
	fputs("},\"hostnames\":{\"a\":", w->f);
	json_names(w, a);
	fputs(",\"b\":", w->f);
	json_names(w, b);
	fputs("},\"os\":{\"a\":", w->f);
	json_os(w, a);
	fputs(",\"b\":", w->f);
	json_os(w, b);
	fputs("},\"extraports\":{\"a\":", w->f);
	json_extra(w, a);
	fputs(",\"b\":", w->f);
	json_extra(w, b);
	fputs("},\"ports\":[", w->f);
	for (size_t i = 0; i < hp->nports; i++) {
		const struct diff_port_pair *pp = &hp->ports[i];
		const struct diff_port *spec = pp->a ? pp->a : pp->b;
		const char *kind = !pp->a        ? "added"
		                   : !pp->b      ? "removed"
		                   : pp->changes ? "changed"
		                                 : "unchanged";

		fprintf(w->f, "%s{\"protocol\":\"%s\",\"port\":%u,\"change\":\"%s\",\"changes\":",
		        i ? "," : "", proto_name(spec), (unsigned)spec->port, kind);
		json_changes(w, pp->changes, port_change_names,
		             sizeof(port_change_names) / sizeof(port_change_names[0]));
		fputs(",\"a\":", w->f);
		json_port_side(w, pp->a);
		fputs(",\"b\":", w->f);
		json_port_side(w, pp->b);
		fputs(",\"scripts\":", w->f);
		json_scripts(w, pp->scripts, pp->nscripts);
		fputc('}', w->f);
	}
	fputs("],\"scripts\":", w->f);
	json_scripts(w, hp->scripts, hp->nscripts);
	fputc('}', w->f);
	return wr_err(w);
}

/* {"a":META,"b":META,"prescript":[...],"hosts":[ */
static int json_begin(struct diff_wr *w)
{
	int r;

	fputs("{\"a\":", w->f);
	json_meta(w, diff_snapshot_meta(w->a));
	fputs(",\"b\":", w->f);
	json_meta(w, diff_snapshot_meta(w->b));
	if ((r = diff__run_script_pairs(w, 0, &(size_t){0}, &(size_t){0})) != 0)
		return r;
	fputs(",\"prescript\":", w->f);
	json_scripts(w, w->run_sp, w->nrun_sp);
	fputs(",\"hosts\":[", w->f);
	return 0;
}

/* ],"postscript":[...],"summary":{...},"different":BOOL} */
static int json_end(struct diff_wr *w, const struct diff_summary *sum)
{
	int r;

	if ((r = diff__run_script_pairs(w, 1, &(size_t){0}, &(size_t){0})) != 0)
		return r;
	fprintf(w->f, "%s],\"postscript\":", w->nhosts ? "\n" : "");
	json_scripts(w, w->run_sp, w->nrun_sp);
	fprintf(w->f,
	        ",\"summary\":{\"added\":%zu,\"removed\":%zu,\"changed\":%zu,"
	        "\"unchanged\":%zu},\"different\":%s}\n",
	        sum->added, sum->removed, sum->changed, sum->unchanged,
	        sum->added + sum->removed + sum->changed ? "true" : "false");
	return 0;
}

const struct diff_format_ops diff__json_ops = {
    .begin = json_begin,
    .host = json_host,
    .end = json_end,
};
