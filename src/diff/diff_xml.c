/*
 * diff_xml.c - `scandb diff --format xml`: ndiff's nmapdiff document
 * (docs/DIFF.md): <scandiff> with the two runs' <nmaprun> lines when they
 * differ, a <hostdiff> per host pair (a whole host in <a> or <b>, or the
 * host with its changes in <a>/<b> pairs, ports as <portdiff>), the run's
 * <prescript>/<postscript>.  Attribute values escaped so that a parser
 * gives back the same text.
 */
#include "diff/diff_int.h"

#include <string.h>
#include <time.h>

#include "core/utf8.h"

static void xml_nmaprun(struct diff_wr *w, const struct diff_meta *m)
{
	fputs("<nmaprun", w->f);
	utf8_xml_attr(w->f, "scanner", m->scanner);
	utf8_xml_attr(w->f, "args", m->args);
	if (m->start) {
		char d[64];
		struct tm tm;
		time_t t = (time_t)m->start;

		fprintf(w->f, " start=\"%lld\"", (long long)m->start);
		if (localtime_r(&t, &tm) && strftime(d, sizeof(d), "%a %b %d %H:%M:%S %Y", &tm))
			utf8_xml_attr(w->f, "startstr", d);
	}
	utf8_xml_attr(w->f, "version", m->version);
	fputs("/>\n", w->f);
}

static void xml_status(struct diff_wr *w, const struct diff_host *h)
{
	fprintf(w->f, "<status state=\"%s\"/>\n", status_name(h));
}

static void xml_addr(struct diff_wr *w, const char *addr, const char *type)
{
	fputs("<address", w->f);
	utf8_xml_attr(w->f, "addr", addr);
	fprintf(w->f, " addrtype=\"%s\"/>\n", type);
}

static void xml_hostname(struct diff_wr *w, const char *name)
{
	fputs("<hostname", w->f);
	utf8_xml_attr(w->f, "name", name);
	fputs("/>\n", w->f);
}

static void xml_extra(struct diff_wr *w, const struct diff_host *h)
{
	for (size_t i = 0; h && i < h->nextraports; i++)
		fprintf(w->f, "<extraports state=\"%s\" count=\"%ld\"/>\n",
		        rec_port_state_name((enum rec_port_state)h->extraports[i].state),
		        h->extraports[i].count);
}

static void xml_service(struct diff_wr *w, const struct diff_port *p)
{
	const struct diff_port_info *in = port_info(p);

	if (!in->name && !in->product && !in->version && !in->extrainfo && !in->tunnel)
		return;
	fputs("<service", w->f);
	utf8_xml_attr(w->f, "name", in->name);
	utf8_xml_attr(w->f, "product", in->product);
	utf8_xml_attr(w->f, "version", in->version);
	utf8_xml_attr(w->f, "extrainfo", in->extrainfo);
	utf8_xml_attr(w->f, "tunnel", in->tunnel);
	fputs("/>\n", w->f);
}

static void xml_script(struct diff_wr *w, const struct diff_script *s)
{
	fputs("<script", w->f);
	utf8_xml_attr(w->f, "id", s->id);
	utf8_xml_attr(w->f, "output", s->output);
	fputs("/>\n", w->f);
}

static void xml_script_pair(struct diff_wr *w, const struct diff_script_pair *sp)
{
	if (sp->a && sp->b && strcmp(sp->a->output, sp->b->output) == 0) {
		xml_script(w, sp->a);
		return;
	}
	if (sp->a) {
		fputs("<a>\n", w->f);
		xml_script(w, sp->a);
		fputs("</a>\n", w->f);
	}
	if (sp->b) {
		fputs("<b>\n", w->f);
		xml_script(w, sp->b);
		fputs("</b>\n", w->f);
	}
}

/* ndiff's script_result_diffs_to_dom_fragment(): <TAG> (hostscript,
 * prescript, postscript) with the pairs (changed ones; all with verbose),
 * or, when one side has no scripts, the other's whole list as <TAG> in its
 * <a>/<b>.  Nothing when neither has any, or nothing changed (no -v). */
static void xml_scripts(struct diff_wr *w, const char *tag, const struct diff_script *sa, size_t na,
                        const struct diff_script *sb, size_t nb, const struct diff_script_pair *sp,
                        size_t n)
{
	if ((n == 0 && !w->verbose) || (na == 0 && nb == 0))
		return;
	if (na == 0 || nb == 0) {
		const struct diff_script *v = na ? sa : sb;
		const char *side = na ? "a" : "b";

		fprintf(w->f, "<%s>\n<%s>\n", side, tag);
		for (size_t i = 0; i < na + nb; i++)
			xml_script(w, &v[i]);
		fprintf(w->f, "</%s>\n</%s>\n", tag, side);
	} else {
		fprintf(w->f, "<%s>\n", tag);
		for (size_t i = 0; i < n; i++)
			xml_script_pair(w, &sp[i]);
		fprintf(w->f, "</%s>\n", tag);
	}
}

/* A whole port, or a bare <port/> for a side that did not list it. */
static void xml_port(struct diff_wr *w, const struct diff_port *p, const struct diff_port *spec)
{
	const struct diff_port_info *in = port_info(p);

	fprintf(w->f, "<port portid=\"%u\" protocol=\"%s\"", (unsigned)spec->port,
	        proto_name(spec));
	if (!p) {
		fputs("/>\n", w->f);
		return;
	}
	fprintf(w->f, ">\n<state state=\"%s\"/>\n", state_name(p));
	xml_service(w, p);
	for (size_t i = 0; i < p->nscripts; i++)
		xml_script(w, &in->scripts[i]);
	fputs("</port>\n", w->f);
}

/* A whole host (added or removed), as ndiff's Host.to_dom_fragment(). */
static void xml_whole_host(struct diff_wr *w, const struct diff_host *h)
{
	int ports = 0;

	fputs("<host>\n", w->f);
	xml_status(w, h);
	xml_addr(w, h->addr, h->family == 6 ? "ipv6" : "ipv4");
	if (h->mac)
		xml_addr(w, h->mac, "mac");
	if (h->nhostnames) {
		fputs("<hostnames>\n", w->f);
		for (size_t i = 0; i < h->nhostnames; i++)
			xml_hostname(w, h->hostnames[i]);
		fputs("</hostnames>\n", w->f);
	}
	ports = h->nextraports > 0;
	for (size_t i = 0; i < h->nports && !ports; i++)
		ports = !is_extraports(h, &h->ports[i]);
	if (ports) {
		fputs("<ports>\n", w->f);
		xml_extra(w, h);
		for (size_t i = 0; i < h->nports; i++)
			if (!is_extraports(h, &h->ports[i]))
				xml_port(w, &h->ports[i], &h->ports[i]);
		fputs("</ports>\n", w->f);
	}
	if (h->nosmatches) {
		fputs("<os>\n", w->f);
		for (size_t i = 0; i < h->nosmatches; i++) {
			fputs("<osmatch", w->f);
			utf8_xml_attr(w->f, "name", h->osmatches[i]);
			fputs("/>\n", w->f);
		}
		fputs("</os>\n", w->f);
	}
	if (h->nscripts) {
		fputs("<hostscript>\n", w->f);
		for (size_t i = 0; i < h->nscripts; i++)
			xml_script(w, &h->scripts[i]);
		fputs("</hostscript>\n", w->f);
	}
	fputs("</host>\n", w->f);
}

static void xml_portdiff(struct diff_wr *w, const struct diff_port_pair *pp)
{
	const struct diff_port *spec = pp->a ? pp->a : pp->b;

	if (pp->changes == 0) { /* verbose: an unchanged port */
		xml_port(w, spec, spec);
		return;
	}
	fputs("<portdiff>\n", w->f);
	if (!(pp->changes & DIFF_PCH_STATE)) {
		fprintf(w->f, "<port portid=\"%u\" protocol=\"%s\">\n<state state=\"%s\"/>\n",
		        (unsigned)spec->port, proto_name(spec), state_name(spec));
		if (!(pp->changes & DIFF_PCH_SERVICE)) {
			xml_service(w, pp->a);
		} else {
			fputs("<a>\n", w->f);
			xml_service(w, pp->a);
			fputs("</a>\n<b>\n", w->f);
			xml_service(w, pp->b);
			fputs("</b>\n", w->f);
		}
		for (size_t i = 0; i < pp->nscripts; i++)
			xml_script_pair(w, &pp->scripts[i]);
		fputs("</port>\n", w->f);
	} else {
		fputs("<a>\n", w->f);
		xml_port(w, pp->a, spec);
		fputs("</a>\n<b>\n", w->f);
		xml_port(w, pp->b, spec);
		fputs("</b>\n", w->f);
	}
	fputs("</portdiff>\n", w->f);
}

static void xml_names(struct diff_wr *w, const struct diff_host *a, const struct diff_host *b)
{
	size_t i = 0, j = 0, na = a->nhostnames, nb = b->nhostnames;
	int open = 0;

	/* common names, then <a> only-a, then <b> only-b (ndiff's order) */
	for (int pass = 0; pass < 3; pass++) {
		int wrapped = 0;

		for (i = 0, j = 0; i < na || j < nb;) {
			int c = i >= na   ? 1
			        : j >= nb ? -1
			                  : strcmp(a->hostnames[i], b->hostnames[j]);
			const char *name = NULL;

			if (c == 0) {
				name = pass == 0 ? a->hostnames[i] : NULL;
				i++;
				j++;
			} else if (c < 0) {
				name = pass == 1 ? a->hostnames[i] : NULL;
				i++;
			} else {
				name = pass == 2 ? b->hostnames[j] : NULL;
				j++;
			}
			if (!name)
				continue;
			if (!open) {
				fputs("<hostnames>\n", w->f);
				open = 1;
			}
			if (pass > 0 && !wrapped) {
				fputs(pass == 1 ? "<a>\n" : "<b>\n", w->f);
				wrapped = 1;
			}
			xml_hostname(w, name);
		}
		if (wrapped)
			fputs(pass == 1 ? "</a>\n" : "</b>\n", w->f);
	}
	if (open)
		fputs("</hostnames>\n", w->f);
}

/* One OS match as ndiff writes it: a run of removed ones in one <a>, of
 * added ones in one <b>, common ones bare.  name == NULL closes the run. */
static int emit_os_xml(struct diff_wr *w, char mark, const char *name)
{
	if (w->xml_group && w->xml_group != mark) {
		fputs(w->xml_group == '-' ? "</a>\n" : "</b>\n", w->f);
		w->xml_group = 0;
	}
	if (!name)
		return 0;
	if (mark != ' ' && !w->xml_group) {
		fputs(mark == '-' ? "<a>\n" : "<b>\n", w->f);
		w->xml_group = mark;
	}
	fputs("<osmatch", w->f);
	utf8_xml_attr(w->f, "name", name);
	fputs("/>\n", w->f);
	return 0;
}

/* The MAC address, in <a>/<b> when it changed. */
static void xml_mac(struct diff_wr *w, const struct diff_host_pair *hp)
{
	const struct diff_host *a = hp->a, *b = hp->b;

	if (!(hp->changes & DIFF_CH_MAC)) {
		if (a->mac)
			xml_addr(w, a->mac, "mac");
		return;
	}
	if (a->mac) {
		fputs("<a>\n", w->f);
		xml_addr(w, a->mac, "mac");
		fputs("</a>\n", w->f);
	}
	if (b->mac) {
		fputs("<b>\n", w->f);
		xml_addr(w, b->mac, "mac");
		fputs("</b>\n", w->f);
	}
}

/* <ports>: the extraports (in <a>/<b> when they changed), a <portdiff> for
 * each port pair. */
static void xml_ports(struct diff_wr *w, const struct diff_host_pair *hp)
{
	const struct diff_host *a = hp->a, *b = hp->b;

	if (!a->nextraports && !b->nextraports && !hp->nports)
		return;
	fputs("<ports>\n", w->f);
	if (!(hp->changes & DIFF_CH_EXTRAPORTS)) {
		xml_extra(w, a);
	} else {
		fputs(a->nextraports ? "<a>\n" : "<a/>\n", w->f);
		xml_extra(w, a);
		fputs(a->nextraports ? "</a>\n" : "", w->f);
		fputs(b->nextraports ? "<b>\n" : "<b/>\n", w->f);
		xml_extra(w, b);
		fputs(b->nextraports ? "</b>\n" : "", w->f);
	}
	for (size_t i = 0; i < hp->nports; i++)
		xml_portdiff(w, &hp->ports[i]);
	fputs("</ports>\n", w->f);
}

/* One host pair (diff_walk()'s callback). */
static int xml_host(void *ctx, const struct diff_host_pair *hp)
{
	struct diff_wr *w = ctx;
	const struct diff_host *a = hp->a, *b = hp->b;

	fputs("<hostdiff>\n", w->f);
	if (!a || !b) {
		fputs(a ? "<a>\n" : "<b>\n", w->f);
		xml_whole_host(w, a ? a : b);
		fputs(a ? "</a>\n" : "</b>\n", w->f);
		fputs("</hostdiff>\n", w->f);
		return wr_err(w);
	}
	fputs("<host>\n", w->f);
	if (hp->changes & DIFF_CH_STATUS) {
		fputs("<a>\n", w->f);
		xml_status(w, a);
		fputs("</a>\n<b>\n", w->f);
		xml_status(w, b);
		fputs("</b>\n", w->f);
	} else if (w->verbose) {
		xml_status(w, a);
	}
	xml_addr(w, a->addr, a->family == 6 ? "ipv6" : "ipv4");
	xml_mac(w, hp);
	xml_names(w, a, b);
	xml_ports(w, hp);
	if (((hp->changes & DIFF_CH_OS) || w->verbose) && (a->nosmatches || b->nosmatches)) {
		int r;

		fputs("<os>\n", w->f);
		w->xml_group = 0;
		if ((r = diff__line_diff(w, a->osmatches, a->nosmatches, b->osmatches,
		                         b->nosmatches, emit_os_xml)) != 0)
			return r;
		emit_os_xml(w, ' ', NULL);
		fputs("</os>\n", w->f);
	}
	xml_scripts(w, "hostscript", a->scripts, a->nscripts, b->scripts, b->nscripts, hp->scripts,
	            hp->nscripts);
	fputs("</host>\n</hostdiff>\n", w->f);
	return wr_err(w);
}

static int meta_differs(const struct diff_meta *a, const struct diff_meta *b)
{
	return !str_eq(a->scanner, b->scanner) || !str_eq(a->version, b->version) ||
	       !str_eq(a->args, b->args) || a->start != b->start || a->end != b->end;
}

/* <prescript>/<postscript> as ndiff means to write them (xml_scripts). */
static int xml_run_scripts(struct diff_wr *w, int post)
{
	const char *tag = post ? "postscript" : "prescript";
	size_t na, nb;
	int r;

	if ((r = diff__run_script_pairs(w, post, &na, &nb)) != 0)
		return r;
	xml_scripts(w, tag, w->a->rscripts[post], na, w->b->rscripts[post], nb, w->run_sp,
	            w->nrun_sp);
	return wr_err(w);
}

/* The XML declaration, <nmapdiff><scandiff>, the runs' <nmaprun> lines. */
static void xml_head(struct diff_wr *w)
{
	const struct diff_meta *ma = diff_snapshot_meta(w->a), *mb = diff_snapshot_meta(w->b);

	/* ndiff's layout: its XMLGenerator writes these tags with no line
	 * breaks, its DOM fragments one element a line */
	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<nmapdiff version=\"1\"><scandiff>",
	      w->f);
	if (meta_differs(ma, mb)) {
		fputs("<a>", w->f);
		xml_nmaprun(w, ma);
		fputs("</a><b>", w->f);
		xml_nmaprun(w, mb);
		fputs("</b>", w->f);
	} else if (w->verbose) {
		xml_nmaprun(w, ma);
	}
}

static int xml_begin(struct diff_wr *w)
{
	xml_head(w);
	return xml_run_scripts(w, 0);
}

static int xml_end(struct diff_wr *w, const struct diff_summary *sum)
{
	int r;

	(void)sum;
	if ((r = xml_run_scripts(w, 1)) != 0)
		return r;
	fputs("</scandiff></nmapdiff>\n", w->f);
	return 0;
}

const struct diff_format_ops diff__xml_ops = {
    .begin = xml_begin,
    .host = xml_host,
    .end = xml_end,
};
