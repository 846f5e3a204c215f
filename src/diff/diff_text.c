/*
 * diff_text.c - `scandb diff`'s text writer (docs/DIFF.md): reads like
 * ndiff's text output - the banner lines, each host pair as its names, state,
 * extraports, a PORT STATE SERVICE VERSION table with the line diff of each
 * changed script's output under its port, OS matches and host scripts, and
 * the run's pre-/post-scan scripts.  Text from the scans is made safe for a
 * terminal.  A script pair's line diff is written as it is made, never
 * buffered with the port table.
 */
#include "diff/diff_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* nmap's and ndiff's banner: "Nmap 7.93 scan initiated DATE as: ARGS". */
static int banner(struct buf *b, const struct diff_meta *m)
{
	int r;

	buf_reset(b);
	r = buf_append_str(b, m->scanner && strcmp(m->scanner, "nmap") != 0 ? m->scanner : "Nmap");
	if (r == 0 && m->version)
		r = buf_printf(b, " %s", m->version);
	if (r == 0)
		r = buf_append_str(b, " scan");
	if (r == 0 && m->start) {
		char d[64];
		struct tm tm;
		time_t t = (time_t)m->start;

		if (localtime_r(&t, &tm) && strftime(d, sizeof(d), "%a %b %d %H:%M:%S %Y", &tm))
			r = buf_printf(b, " initiated %s", d);
	}
	if (r == 0 && m->args)
		r = buf_printf(b, " as: %s", m->args);
	return r;
}

/* Append s made safe for a terminal: control characters (C0, DEL, and the
 * UTF-8 encoded C1 controls) become '?'. */
static int put_safe(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int r = 0;

	while (i < n && r == 0) {
		int bad = 0;
		size_t skip = 1;

		if (u[i] < 0x20 || u[i] == 0x7f)
			bad = 1;
		else if (u[i] == 0xc2 && i + 1 < n && u[i + 1] >= 0x80 && u[i + 1] <= 0x9f)
			bad = 1, skip = 2;
		if (!bad) {
			i++;
			continue;
		}
		r = buf_append(b, s + run, i - run);
		if (r == 0)
			r = buf_append_char(b, '?');
		i += skip;
		run = i;
	}
	if (r == 0)
		r = buf_append(b, s + run, n - run);
	return r;
}

static int put_safe_str(struct buf *b, const char *s)
{
	return put_safe(b, s, strlen(s));
}

/* Columns a string takes: its UTF-8 code points. */
static size_t text_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* "web.example.com, www (192.0.2.1, 00:11:22:33:44:55)" */
static int host_name(struct buf *b, const struct diff_host *h)
{
	int r = 0;

	for (size_t i = 0; i < h->nhostnames && r == 0; i++) {
		if (i)
			r = buf_append_str(b, ", ");
		if (r == 0)
			r = put_safe_str(b, h->hostnames[i]);
	}
	if (r == 0 && h->nhostnames)
		r = buf_append_str(b, " (");
	if (r == 0)
		r = buf_append_str(b, h->addr);
	if (r == 0 && h->mac)
		r = buf_printf(b, ", %s", h->mac);
	if (r == 0 && h->nhostnames)
		r = buf_append_char(b, ')');
	return r;
}

static int host_line(struct diff_wr *w, char mark, const struct diff_host *h)
{
	int r;

	buf_reset(&w->tmp);
	if ((r = host_name(&w->tmp, h)) != 0)
		return r;
	fprintf(w->f, "%c%s:\n", mark, buf_str(&w->tmp));
	return 0;
}

static void extra_line(struct diff_wr *w, char mark, const struct diff_host *h)
{
	fprintf(w->f, "%cNot shown: ", mark);
	for (size_t i = 0; i < h->nextraports; i++)
		fprintf(w->f, "%s%ld %s ports", i ? ", " : "", h->extraports[i].count,
		        rec_port_state_name((enum rec_port_state)h->extraports[i].state));
	fputc('\n', w->f);
}

static void tab_reset(struct diff_wr *w)
{
	buf_reset(&w->cells);
	w->nrows = 0;
	memset(w->width, 0, sizeof(w->width));
}

static int tab_push(struct diff_wr *w, unsigned ncells)
{
	int r;

	if ((r = vec_reserve(&w->rows, &w->rows_cap, w->nrows + 1, sizeof(*w->rows), 16)) != 0)
		return r;
	w->rows[w->nrows].off = w->cells.len;
	w->rows[w->nrows].ncells = ncells;
	w->rows[w->nrows].sp = NULL;
	w->nrows++;
	return 0;
}

/* A row of up to 5 cells (NULL cells at the end are dropped, as ndiff's
 * Table does; a NULL in the middle is empty). */
static int tab_row(struct diff_wr *w, const char *const c[5])
{
	unsigned n = 5;
	int r;

	while (n > 0 && !c[n - 1])
		n--;
	if ((r = tab_push(w, n)) != 0)
		return r;
	for (unsigned i = 0; i < n && r == 0; i++) {
		size_t start = w->cells.len, wd;

		if (c[i])
			r = put_safe_str(&w->cells, c[i]);
		if (r == 0)
			r = buf_append_char(&w->cells, '\0');
		if (r == 0 && (wd = text_width(w->cells.data + start)) > w->width[i])
			w->width[i] = wd;
	}
	return r;
}

/* A raw line of a script's line diff: mark + text (made safe), counted
 * (RAW_COUNT) or written at once (RAW_WRITE, from tab_print()). */
static int tab_raw(struct diff_wr *w, char mark, const char *s, size_t n)
{
	int r;

	if (w->raw_mode == RAW_COUNT) {
		w->raw_lines++;
		return 0;
	}
	buf_reset(&w->line);
	if ((r = buf_append_char(&w->line, mark)) == 0 && (r = put_safe(&w->line, s, n)) == 0 &&
	    (r = buf_append_char(&w->line, '\n')) == 0)
		fwrite(w->line.data, 1, w->line.len, w->f);
	return r;
}

static int script_diff_rows(struct diff_wr *w, const struct diff_script_pair *sp);

/* A row standing for the line diff of sp, if it shows any line. */
static int tab_scripts(struct diff_wr *w, const struct diff_script_pair *sp)
{
	int r;

	w->raw_mode = RAW_COUNT;
	w->raw_lines = 0;
	if ((r = script_diff_rows(w, sp)) != 0 || w->raw_lines == 0)
		return r;
	if ((r = tab_push(w, 0)) != 0)
		return r;
	w->rows[w->nrows - 1].sp = sp;
	return 0;
}

static int tab_print(struct diff_wr *w)
{
	static const char *const pad[5] = {"", " ", " ", " ", ""};
	int r = 0;

	for (size_t i = 0; i < w->nrows && r == 0; i++) {
		const char *c;
		size_t len = 0;

		if (w->rows[i].sp) {
			w->raw_mode = RAW_WRITE;
			r = script_diff_rows(w, w->rows[i].sp);
			w->raw_mode = RAW_COUNT;
			continue;
		}
		c = w->cells.data + w->rows[i].off; /* cells exist: none when only scripts */
		buf_reset(&w->tmp);
		for (unsigned k = 0; k < w->rows[i].ncells; k++) {
			size_t wd = text_width(c);

			buf_append_str(&w->tmp, c);
			for (; wd < w->width[k]; wd++)
				buf_append_char(&w->tmp, ' ');
			buf_append_str(&w->tmp, pad[k]);
			c += strlen(c) + 1;
		}
		len = w->tmp.len;
		while (len > 0 && w->tmp.data[len - 1] == ' ')
			len--;
		fwrite(w->tmp.data, 1, len, w->f);
		fputc('\n', w->f);
	}
	return r;
}

/*
 * A script's lines as ndiff shows them (ScriptResult.get_lines): the output
 * split into lines, "ID: " before the first, "|  " before each but the
 * last, "|_ " before the last.  No output, no lines.  Lines go into `b`
 * (NUL-terminated each), their offsets into *off (count *n).
 */
static int script_lines(const struct diff_script *s, struct buf *b, size_t **off, size_t *cap,
                        size_t *n)
{
	const char *p = s ? s->output : NULL;
	size_t nl = 0;
	int r = 0;

	buf_reset(b);
	*n = 0;
	if (!p || !*p)
		return 0;
	while (*p && r == 0) {
		size_t len = strcspn(p, "\r\n");
		const char *next = p + len;
		int last;

		if (*next == '\r' && next[1] == '\n')
			next += 2;
		else if (*next)
			next++;
		last = *next == '\0';
		if ((r = vec_reserve(off, cap, nl + 1, sizeof(**off), 16)) != 0)
			return r;
		(*off)[nl++] = b->len;
		r = buf_append_str(b, last ? "|_ " : "|  ");
		if (r == 0 && nl == 1)
			r = buf_printf(b, "%s: ", s->id);
		if (r == 0)
			r = buf_append(b, p, len);
		if (r == 0)
			r = buf_append_char(b, '\0');
		p = next;
	}
	*n = nl;
	return r;
}

static int emit_tab(struct diff_wr *w, char mark, const char *line)
{
	return tab_raw(w, mark, line, strlen(line));
}

/* The lines script_lines() put in `b` at offsets off[0..n), as pointers. */
static int line_ptrs(const struct buf *b, const size_t *off, size_t n, const char ***v, size_t *cap)
{
	int r = vec_reserve(v, cap, n ? n : 1, sizeof(**v), 16);

	for (size_t i = 0; i < n && r == 0; i++)
		(*v)[i] = b->data + off[i];
	return r;
}

/* Line diff of the two scripts' lines into raw table rows. */
static int script_diff_rows(struct diff_wr *w, const struct diff_script_pair *sp)
{
	size_t na, nb;
	int r;

	if ((r = script_lines(sp->a, &w->la, &w->oa, &w->oa_cap, &na)) != 0 ||
	    (r = script_lines(sp->b, &w->lb, &w->ob, &w->ob_cap, &nb)) != 0 ||
	    (r = line_ptrs(&w->la, w->oa, na, &w->pa, &w->pa_cap)) != 0 ||
	    (r = line_ptrs(&w->lb, w->ob, nb, &w->pb, &w->pb_cap)) != 0)
		return r;
	return diff__line_diff(w, w->pa, na, w->pb, nb, emit_tab);
}

/* ndiff's PORT STATE SERVICE VERSION row of one side of a port. */
static int port_row(struct diff_wr *w, char mark, const struct diff_port *p)
{
	const struct diff_port_info *in = port_info(p);
	char m[2] = {mark, '\0'}, spec[32];
	const char *c[5];
	int r = 0;

	buf_reset(&w->svc);
	buf_reset(&w->ver);
	snprintf(spec, sizeof(spec), "%u/%s", (unsigned)p->port, proto_name(p));
	if (in->tunnel)
		r = buf_append_str(&w->svc, in->tunnel);
	if (r == 0 && in->name)
		r = buf_printf(&w->svc, "%s%s", in->tunnel ? "/" : "", in->name);
	if (r == 0 && in->product)
		r = buf_append_str(&w->ver, in->product);
	if (r == 0 && in->version)
		r = buf_printf(&w->ver, "%s%s", w->ver.len ? " " : "", in->version);
	if (r == 0 && in->extrainfo)
		r = buf_printf(&w->ver, "%s(%s)", w->ver.len ? " " : "", in->extrainfo);
	if (r != 0)
		return r;
	c[0] = m;
	c[1] = spec;
	c[2] = state_name(p);
	c[3] = in->tunnel || in->name ? buf_str(&w->svc) : NULL;
	c[4] = in->product || in->version || in->extrainfo ? buf_str(&w->ver) : NULL;
	return tab_row(w, c);
}

/* ndiff's print_script_result_diffs_text(): "\n Host script results:" (or
 * Pre-scan/Post-scan; '-'/'+' when only A/B has scripts) and the line diff
 * of each pair, when any line is shown.  na/nb: the scripts each side has. */
static int text_scripts(struct diff_wr *w, const char *title, const struct diff_script_pair *sp,
                        size_t n, size_t na, size_t nb)
{
	int r = 0;

	tab_reset(w);
	for (size_t k = 0; k < n && r == 0; k++)
		r = tab_scripts(w, &sp[k]);
	if (r == 0 && w->nrows > 0) {
		fprintf(w->f, "\n%c%s script results:\n",
		        nb == 0   ? '-'
		        : na == 0 ? '+'
		                  : ' ',
		        title);
		r = tab_print(w);
	}
	return r;
}

/* "-  Linux 5.0 - 5.4": one OS match line of ndiff's "OS details". */
static int emit_os_text(struct diff_wr *w, char mark, const char *name)
{
	int r;

	buf_reset(&w->tmp);
	if ((r = put_safe_str(&w->tmp, name)) == 0)
		fprintf(w->f, "%c  %s\n", mark, buf_str(&w->tmp));
	return r;
}

/* A host pair's first lines: its names and addresses, its state and its
 * extraports ('-' A's, '+' B's, ' ' both). */
static int text_host_head(struct diff_wr *w, const struct diff_host_pair *hp)
{
	const struct diff_host *a = hp->a, *b = hp->b;
	int r = 0;

	if (!a || !b || (hp->changes & (DIFF_CH_MAC | DIFF_CH_HOSTNAMES))) {
		if (a)
			r = host_line(w, '-', a);
		if (r == 0 && b)
			r = host_line(w, '+', b);
	} else {
		r = host_line(w, ' ', a);
	}
	if (r != 0)
		return r;
	if (hp->changes & DIFF_CH_STATUS) {
		if (a)
			fprintf(w->f, "-Host is %s.\n", status_name(a));
		if (b)
			fprintf(w->f, "+Host is %s.\n", status_name(b));
	} else if (w->verbose) {
		fprintf(w->f, " Host is %s.\n", status_name(b));
	}
	if (hp->changes & DIFF_CH_EXTRAPORTS) {
		if (a && a->nextraports)
			extra_line(w, '-', a);
		if (b && b->nextraports)
			extra_line(w, '+', b);
	} else if (w->verbose && a && a->nextraports) {
		extra_line(w, ' ', a);
	}
	return 0;
}

/* The PORT STATE SERVICE VERSION table of a host pair, each port's
 * script line diffs under it; nothing when no port is listed. */
static int text_port_table(struct diff_wr *w, const struct diff_host_pair *hp)
{
	static const char *const head[5] = {NULL, "PORT", "STATE", "SERVICE", "VERSION"};
	const struct diff_host *a = hp->a, *b = hp->b;
	const char *c[5];
	char mark[2];
	int r;

	tab_reset(w);
	mark[0] = !a ? '+' : !b ? '-' : ' ';
	mark[1] = '\0';
	memcpy(c, head, sizeof(c));
	c[0] = mark;
	if ((r = tab_row(w, c)) != 0)
		return r;
	for (size_t i = 0; i < hp->nports && r == 0; i++) {
		const struct diff_port_pair *pp = &hp->ports[i];

		if (!(pp->changes & (DIFF_PCH_STATE | DIFF_PCH_SERVICE))) {
			r = port_row(w, ' ', pp->a ? pp->a : pp->b);
		} else {
			if (!is_extraports(a, pp->a))
				r = port_row(w, '-', pp->a);
			if (r == 0 && !is_extraports(b, pp->b))
				r = port_row(w, '+', pp->b);
		}
		for (size_t k = 0; k < pp->nscripts && r == 0; k++)
			r = tab_scripts(w, &pp->scripts[k]);
	}
	if (r == 0 && w->nrows > 1)
		r = tab_print(w);
	return r;
}

/* "OS details:" and the line diff of the two lists of OS matches. */
static int text_os(struct diff_wr *w, const struct diff_host *a, const struct diff_host *b)
{
	size_t na = a ? a->nosmatches : 0, nb = b ? b->nosmatches : 0;

	if (na)
		fputs(nb ? " OS details:\n" : "-OS details:\n", w->f);
	else if (nb)
		fputs("+OS details:\n", w->f);
	return diff__line_diff(w, na ? a->osmatches : NULL, na, nb ? b->osmatches : NULL, nb,
	                       emit_os_text);
}

/* One host pair (diff_walk()'s callback). */
static int text_host(void *ctx, const struct diff_host_pair *hp)
{
	struct diff_wr *w = ctx;
	const struct diff_host *a = hp->a, *b = hp->b;
	int r;

	fputc('\n', w->f);
	if ((r = text_host_head(w, hp)) != 0 || (r = text_port_table(w, hp)) != 0)
		return r;
	if (((hp->changes & DIFF_CH_OS) || w->verbose) && (r = text_os(w, a, b)) != 0)
		return r;
	if ((r = text_scripts(w, "Host", hp->scripts, hp->nscripts, a ? a->nscripts : 0,
	                      b ? b->nscripts : 0)) != 0)
		return r;
	return wr_err(w);
}

/* ndiff's " Pre-scan script results:" / " Post-scan script results:". */
static int text_run_scripts(struct diff_wr *w, int post)
{
	size_t na, nb;
	int r;

	if ((r = diff__run_script_pairs(w, post, &na, &nb)) != 0 ||
	    (r = text_scripts(w, post ? "Post-scan" : "Pre-scan", w->run_sp, w->nrun_sp, na, nb)) !=
	        0)
		return r;
	return wr_err(w);
}

/* The banner lines: "-"/"+" when the runs differ, " " with verbose. */
static int text_banners(struct diff_wr *w)
{
	struct buf ba;
	int r;

	buf_init(&ba, DIFF_TEXT_MAX);
	if ((r = banner(&ba, diff_snapshot_meta(w->a))) == 0 &&
	    (r = banner(&w->tmp, diff_snapshot_meta(w->b))) == 0) {
		struct buf sa;

		buf_init(&sa, DIFF_TEXT_MAX);
		if (strcmp(buf_str(&ba), buf_str(&w->tmp)) != 0) {
			if ((r = put_safe_str(&sa, buf_str(&ba))) == 0)
				fprintf(w->f, "-%s\n", buf_str(&sa));
			buf_reset(&sa);
			if (r == 0 && (r = put_safe_str(&sa, buf_str(&w->tmp))) == 0)
				fprintf(w->f, "+%s\n", buf_str(&sa));
		} else if (w->verbose) {
			if ((r = put_safe_str(&sa, buf_str(&ba))) == 0)
				fprintf(w->f, " %s\n", buf_str(&sa));
		}
		buf_free(&sa);
	}
	buf_free(&ba);
	return r;
}

static int text_begin(struct diff_wr *w)
{
	int r;

	if ((r = text_banners(w)) != 0)
		return r;
	return text_run_scripts(w, 0);
}

static int text_end(struct diff_wr *w, const struct diff_summary *sum)
{
	(void)sum;
	return text_run_scripts(w, 1);
}

const struct diff_format_ops diff__text_ops = {
    .begin = text_begin,
    .host = text_host,
    .end = text_end,
};
