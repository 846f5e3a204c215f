/*
 * store_filter.c - a search expression (core/filter.h) compiled to a SQL
 * WHERE fragment for the host listings, written once for both dialects
 * (SQLite and PostgreSQL differ in placeholders, case folding, JSON arrays,
 * regex and version order; each piece is picked from `dia` below).
 *
 * Invariant 5: no text of the expression ever enters the SQL.  Every value
 * is a bound parameter; the fragment's text depends only on the tree's
 * shape (which terms, how combined, how many ports in a port: list).
 *
 * The fragment reads the aliases of the host queries: h (hosts), hs (the
 * host_scans row shown).  Port terms joined by AND (or OR) at one level
 * test one open port together: `product:openssh version:<8.0` is a host
 * with an open port whose product holds openssh and whose version is
 * below 8.0; `not` of a port term is a host with no such open port.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"
#include "store/store_int.h"

/* The dialect's pieces: templates where @1, @2, @3 stand for a column
 * expression, a placeholder or an operator (tpl()). */
struct dialect {
	const char *fold;    /* ASCII lower case */
	const char *elems;   /* a JSON array's text elements as j(value) */
	const char *fence;   /* ends a per-row subquery */
	const char *ver_cmp; /* SQLite's version order: column, placeholder, op */
	const char *re, *re_i;
	const char *escape; /* LIKE's escape clause: one backslash */
};

static const struct dialect dialects[2] = {
    [STORE_DIALECT_SQLITE] = {"lower(@1)", "json_each(@1) j", "", "scandb_vercmp(@1, @2) @3 0",
                              "scandb_regexp(@1, @2, 0)", "scandb_regexp(@1, @2, 1)",
                              " ESCAPE '\\'"},
    /* translate(): ASCII only, as SQLite's lower() */
    [STORE_DIALECT_PG] = {"translate(@1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
                          "'abcdefghijklmnopqrstuvwxyz')",
                          "jsonb_array_elements_text(@1) AS j(value)", " OFFSET 0",
                          NULL /* PG_VERSION_ARRAY */, "@1 ~ @2", "@1 ~* @2",
                          /* E'': whatever standard_conforming_strings says */
                          " ESCAPE E'\\\\'"},
};

/* PostgreSQL's version order: the leading dotted numeric part, trailing
 * .0 components cut, as numeric[] (compared element by element, then by
 * length: the same order as filter_version_cmp). */
#define PG_VERSION_ARRAY                                                                           \
	"string_to_array(regexp_replace(substring(@1 from E'^[0-9]+(?:\\\\.[0-9]+)*'),"            \
	" E'(\\\\.0+)+$', ''), '.')::numeric[]"

struct compiler {
	const struct filter *f;
	const struct dialect *d;
	enum store_dialect dialect;
	int current, base;
	struct buf *sql;
	struct store_fsql *out;
	int r;
};

/* Template t with @1..@3 replaced by a[0..2], into out (size n). */
static void subst(char *out, size_t n, const char *t, const char *const a[3])
{
	size_t o = 0;

	for (; *t && o + 1 < n; t++) {
		if (t[0] == '@' && t[1] >= '1' && t[1] <= '3') {
			const char *v = a[t[1] - '1'] ? a[t[1] - '1'] : "";
			size_t l = strlen(v);
			if (o + l >= n)
				break;
			memcpy(out + o, v, l);
			o += l;
			t++;
		} else {
			out[o++] = *t;
		}
	}
	out[o] = '\0';
}

static void emit(struct compiler *c, const char *s)
{
	if (c->r == 0 && buf_append_str(c->sql, s) != 0)
		c->r = SDB_ETOOBIG;
}

static void emitf(struct compiler *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void emitf(struct compiler *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (c->r == 0 && buf_vprintf(c->sql, fmt, ap) != 0)
		c->r = SDB_ETOOBIG;
	va_end(ap);
}

/* A new parameter; its placeholder text in ph (the PostgreSQL one casts
 * the element of the one text[] parameter to the type). */
/* Emit template t with its @1..@3. */
static void tpl(struct compiler *c, const char *t, const char *a1, const char *a2, const char *a3)
{
	const char *const a[3] = {a1, a2, a3};
	char out[512];

	subst(out, sizeof(out), t, a);
	emit(c, out);
}

static struct store_fparam *param(struct compiler *c, enum store_fparam_type t, char ph[64])
{
	static const char *const pg_cast[] = {[STORE_FP_TEXT] = "@1",
	                                      [STORE_FP_INT] = "(@1)::bigint",
	                                      [STORE_FP_TIME] = "to_timestamp((@1)::bigint)",
	                                      [STORE_FP_KEY] = "(@1)::bytea",
	                                      [STORE_FP_VER] = "(@1)::numeric[]"};
	struct store_fsql *o = c->out;
	char elem[48];

	ph[0] = '\0';
	if (c->r != 0)
		return NULL;
	if (VEC_RESERVE(o->params, o->cap, o->n + 1, 8) != 0) {
		c->r = SDB_ENOMEM;
		return NULL;
	}
	memset(&o->params[o->n], 0, sizeof(o->params[0]));
	o->params[o->n].type = t;
	if (c->dialect == STORE_DIALECT_SQLITE) {
		snprintf(ph, 64, "?%d", c->base + (int)o->n);
	} else {
		snprintf(elem, sizeof(elem), "($%d::text[])[%d]", c->base, (int)o->n + 1);
		const char *const a[3] = {elem, NULL, NULL};
		subst(ph, 64, pg_cast[t], a);
	}
	return &o->params[o->n++];
}

/* A text parameter holding `text` (copied); its placeholder in ph. */
static void text_param(struct compiler *c, const char *text, char ph[64])
{
	struct store_fparam *p = param(c, STORE_FP_TEXT, ph);

	if (p && !(p->text = strdup(text)))
		c->r = SDB_ENOMEM;
}

/* A LIKE pattern: pre + text with % _ \ escaped + post. */
static void like_param(struct compiler *c, const char *pre, const char *text, const char *post,
                       int glob, char ph[64])
{
	struct buf b;

	buf_init(&b, 4 * FILTER_VALUE_MAX + 8);
	int r = buf_append_str(&b, pre);
	for (const char *s = text; r == 0 && *s; s++) {
		if (glob && (*s == '*' || *s == '?'))
			r = buf_append_char(&b, *s == '*' ? '%' : '_');
		else if (*s == '%' || *s == '_' || *s == '\\')
			r = buf_printf(&b, "\\%c", *s);
		else
			r = buf_append_char(&b, *s);
	}
	if (r == 0)
		r = buf_append_str(&b, post);
	if (r != 0)
		c->r = SDB_ENOMEM;
	else
		text_param(c, buf_str(&b), ph);
	buf_free(&b);
}

/* fold(coalesce(col, '')) LIKE ph ESCAPE '\' */
static void like(struct compiler *c, const char *col, const char *ph)
{
	char e[160];

	snprintf(e, sizeof(e), "coalesce(%s, '')", col);
	tpl(c, c->d->fold, e, NULL, NULL);
	emitf(c, " LIKE %s%s", ph, c->d->escape);
}

/* ---- port terms (alias p: a port_state or ports row) --------------------------- */

static const char *const cmp_ops[] = {[FILTER_EQ] = "=",
                                      [FILTER_LT] = "<",
                                      [FILTER_LE] = "<=",
                                      [FILTER_GT] = ">",
                                      [FILTER_GE] = ">="};

static void port_list(struct compiler *c, const struct filter_node *nd)
{
	char ph[64];

	emit(c, "(");
	for (size_t i = 0; i < nd->nports; i++) {
		struct store_fparam *p = param(c, STORE_FP_INT, ph);
		if (p)
			p->i = nd->ports[i].port;
		emitf(c, "%s(p.port = %s", i ? " OR " : "", ph);
		if (nd->ports[i].proto >= 0) {
			text_param(c, rec_proto_name((enum rec_proto)nd->ports[i].proto), ph);
			emitf(c, " AND p.protocol = %s", ph);
		}
		emit(c, ")");
	}
	emit(c, ")");
}

static void version_cond(struct compiler *c, const struct filter_node *nd)
{
	char ph[64];
	struct store_fparam *p = param(c, STORE_FP_VER, ph);

	if (p && !(p->text = strdup(nd->text)))
		c->r = SDB_ENOMEM;
	if (c->dialect == STORE_DIALECT_PG) {
		/* NULL (no leading number) compares to nothing */
		tpl(c, PG_VERSION_ARRAY " @2 @3", "p.version", cmp_ops[nd->cmp], ph);
	} else {
		tpl(c, c->d->ver_cmp, "p.version", ph, cmp_ops[nd->cmp]);
	}
}

static void cpe_cond(struct compiler *c, const struct filter_node *nd)
{
	char ph[64];

	like_param(c, "", nd->text, "%", 0, ph);
	emit(c, "EXISTS (SELECT 1 FROM ");
	if (c->current) {
		/* the current state keeps no cpe: the probing scan's port row */
		emit(c, "ports c CROSS JOIN ");
		tpl(c, c->d->elems, "c.cpe", NULL, NULL);
		emit(c, " WHERE c.job_id = p.job_id AND c.host_id = p.host_id"
		        " AND c.protocol = p.protocol AND c.port = p.port AND ");
	} else {
		tpl(c, c->d->elems, "p.cpe", NULL, NULL);
		emit(c, " WHERE ");
	}
	like(c, "j.value", ph);
	emit(c, ")");
}

static void port_cond(struct compiler *c, int i)
{
	const struct filter_node *nd = &c->f->nodes[i];
	char ph[64];

	if (nd->kind != FILTER_TERM) {
		emit(c, "(");
		for (int k = nd->first; k >= 0; k = c->f->nodes[k].next) {
			if (k != nd->first)
				emit(c, nd->kind == FILTER_OR ? " OR " : " AND ");
			port_cond(c, k);
		}
		emit(c, ")");
		return;
	}
	switch (nd->field) {
	case FILTER_PORT:
		port_list(c, nd);
		break;
	case FILTER_SERVICE:
		text_param(c, nd->text, ph);
		tpl(c, c->d->fold, "coalesce(p.service, '')", NULL, NULL);
		emitf(c, " = %s", ph);
		break;
	case FILTER_PRODUCT:
		like_param(c, "%", nd->text, "%", 0, ph);
		like(c, "p.product", ph);
		break;
	case FILTER_VERSION:
		version_cond(c, nd);
		break;
	default: /* FILTER_CPE */
		cpe_cond(c, nd);
		break;
	}
}

/* EXISTS (an open port of the host shown passing kids[0..n) together). */
static void port_exists(struct compiler *c, const int *kids, size_t n)
{
	if (c->current)
		emit(c, "EXISTS (SELECT 1 FROM port_state p WHERE p.host_id = h.id");
	else
		emit(c, "EXISTS (SELECT 1 FROM ports p WHERE p.job_id = hs.job_id"
		        " AND p.host_id = hs.host_id");
	emit(c, " AND p.state = 'open'");
	for (size_t k = 0; k < n; k++) {
		emit(c, " AND ");
		port_cond(c, kids[k]);
	}
	emitf(c, "%s)", c->d->fence);
}

/* ---- host terms ------------------------------------------------------------- */

static void when_cond(struct compiler *c, const struct filter_node *nd)
{
	char ph[64];
	struct store_fparam *p = param(c, STORE_FP_TIME, ph);

	if (p)
		p->i = nd->t;
	if (nd->field == FILTER_FIRST_SEEN) {
		emitf(c, "h.first_seen %s %s", nd->after ? ">=" : "<", ph);
		return;
	}
	/* changed: the host's last change at or after t, or before it */
	if (!nd->after)
		emitf(c, "EXISTS (SELECT 1 FROM host_events e WHERE e.host_id = h.id%s) AND NOT ",
		      c->d->fence);
	emitf(c, "EXISTS (SELECT 1 FROM host_events e WHERE e.host_id = h.id AND e.at >= %s%s)", ph,
	      c->d->fence);
}

static void script_cond(struct compiler *c, const struct filter_node *nd)
{
	char ph[64];

	text_param(c, nd->text, ph);
	emitf(c,
	      "EXISTS (SELECT 1 FROM scripts s WHERE s.job_id = hs.job_id AND s.host_id = h.id"
	      " AND s.script_id = %s",
	      ph);
	if (nd->regex) {
		text_param(c, nd->regex, ph);
		emit(c, " AND ");
		if (c->dialect == STORE_DIALECT_SQLITE)
			tpl(c, nd->icase ? c->d->re_i : c->d->re, ph, "s.output", NULL);
		else
			tpl(c, nd->icase ? c->d->re_i : c->d->re, "s.output", ph, NULL);
	}
	emitf(c, "%s)", c->d->fence);
}

static void finding_cond(struct compiler *c, const struct filter_node *nd)
{
	char ph[64];
	struct store_fparam *p = param(c, STORE_FP_INT, ph);

	if (p)
		p->i = nd->severity;
	/* open: what a scan may still resolve (docs/FINDINGS.md) */
	emitf(c,
	      "EXISTS (SELECT 1 FROM findings f WHERE f.host_id = h.id"
	      " AND (f.status = 'open' OR f.status = 'pending_validation'"
	      " OR f.status = 'confirmed' OR f.status = 'manual_review')"
	      " AND (CASE f.severity WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2"
	      " WHEN 'high' THEN 3 WHEN 'critical' THEN 4 END) %s %s%s)",
	      nd->cmp == FILTER_GE ? ">=" : "=", ph, c->d->fence);
}

static void host_term(struct compiler *c, const struct filter_node *nd)
{
	char ph[64], ph2[64];
	struct store_fparam *p;

	switch (nd->field) {
	case FILTER_SCRIPT:
		script_cond(c, nd);
		break;
	case FILTER_HOSTNAME:
		like_param(c, "", nd->text, "", 1, ph);
		emit(c, "EXISTS (SELECT 1 FROM ");
		tpl(c, c->d->elems, "hs.hostnames", NULL, NULL);
		emit(c, " WHERE ");
		like(c, "j.value", ph);
		emit(c, ")");
		break;
	case FILTER_OS:
		like_param(c, "%", nd->text, "%", 0, ph);
		emit(c, "(");
		like(c, "hs.os_name", ph);
		emit(c, " OR ");
		like(c, "hs.os_family", ph);
		emit(c, ")");
		break;
	case FILTER_MAC_VENDOR:
		like_param(c, "%", nd->text, "%", 0, ph);
		like(c, "hs.mac_vendor", ph);
		break;
	case FILTER_NET:
		if ((p = param(c, STORE_FP_KEY, ph)))
			memcpy(p->key, nd->lo, 16);
		if ((p = param(c, STORE_FP_KEY, ph2)))
			memcpy(p->key, nd->hi, 16);
		emitf(c, "h.addr_key BETWEEN %s AND %s", ph, ph2);
		break;
	case FILTER_TAG:
		text_param(c, nd->text, ph);
		emitf(c, "h.id IN (SELECT t.host_id FROM host_tags t WHERE t.tag = %s)", ph);
		break;
	case FILTER_STATUS:
		text_param(c, nd->text, ph);
		emitf(c, "%s = %s", c->current ? "h.status" : "hs.status", ph);
		break;
	case FILTER_FIRST_SEEN:
	case FILTER_CHANGED:
		when_cond(c, nd);
		break;
	default: /* FILTER_FINDING */
		finding_cond(c, nd);
		break;
	}
}

static void node_sql(struct compiler *c, int i)
{
	const struct filter_node *nd = &c->f->nodes[i];
	int ports[FILTER_TERMS_MAX + 1];
	size_t np = 0;
	int first = 1;

	if (filter_is_port_tree(c->f, i)) {
		port_exists(c, &i, 1);
		return;
	}
	if (nd->kind == FILTER_TERM) {
		host_term(c, nd);
		return;
	}
	emit(c, nd->kind == FILTER_NOT ? "NOT (" : "(");
	for (int k = nd->first; k >= 0; k = c->f->nodes[k].next) {
		/* an AND's port children: one port passes them together */
		if (nd->kind == FILTER_AND && filter_is_port_tree(c->f, k) &&
		    np < FILTER_TERMS_MAX) {
			ports[np++] = k;
			continue;
		}
		if (!first)
			emit(c, nd->kind == FILTER_OR ? " OR " : " AND ");
		first = 0;
		node_sql(c, k);
	}
	if (np > 0) {
		if (!first)
			emit(c, " AND ");
		port_exists(c, ports, np);
	}
	emit(c, ")");
}

int store__filter_sql(const struct filter *f, int current, enum store_dialect d, int base,
                      struct buf *sql, struct store_fsql *out)
{
	struct compiler c = {f, &dialects[d], d, current, base, sql, out, 0};

	if (!f || f->root < 0) {
		emit(&c, "1 = 1");
		return c.r;
	}
	node_sql(&c, f->root);
	return c.r;
}

/* The port terms filter_port_required() applies to one row: the root when
 * it is a port tree, else the port trees among a top-level AND's children
 * (core/filter.c); on the current state's row p. */
int store__filter_port_sql(const struct filter *f, enum store_dialect d, int base, struct buf *sql,
                           struct store_fsql *out)
{
	struct compiler c = {f, &dialects[d], d, 1, base, sql, out, 0};
	const struct filter_node *root;

	emit(&c, "1 = 1");
	if (!f || f->root < 0)
		return c.r;
	if (filter_is_port_tree(f, f->root)) {
		emit(&c, " AND ");
		port_cond(&c, f->root);
		return c.r;
	}
	root = &f->nodes[f->root];
	for (int k = root->kind == FILTER_AND ? root->first : -1; k >= 0; k = f->nodes[k].next) {
		if (!filter_is_port_tree(f, k))
			continue;
		emit(&c, " AND ");
		port_cond(&c, k);
	}
	return c.r;
}

void store__fsql_free(struct store_fsql *q)
{
	for (size_t i = 0; q && i < q->n; i++)
		free(q->params[i].text);
	if (q) {
		free(q->params);
		memset(q, 0, sizeof(*q));
	}
}

/* One element of a PostgreSQL array literal, double-quoted. */
static int pg_elem(struct buf *b, const struct store_fparam *p)
{
	static const char hex[] = "0123456789abcdef";
	int r = buf_append_char(b, '"');

	switch (p->type) {
	case STORE_FP_INT:
	case STORE_FP_TIME:
		r |= buf_printf(b, "%lld", (long long)p->i);
		break;
	case STORE_FP_KEY:
		r |= buf_append_str(b, "\\\\x");
		for (int i = 0; i < 16; i++) {
			r |= buf_append_char(b, hex[p->key[i] >> 4]);
			r |= buf_append_char(b, hex[p->key[i] & 15]);
		}
		break;
	case STORE_FP_VER:
		r |= buf_append_char(b, '{');
		for (const char *s = p->text; *s; s++)
			r |= buf_append_char(b, *s == '.' ? ',' : *s);
		r |= buf_append_char(b, '}');
		break;
	default:
		for (const char *s = p->text; *s; s++) {
			if (*s == '"' || *s == '\\')
				r |= buf_append_char(b, '\\');
			r |= buf_append_char(b, *s);
		}
	}
	return r | buf_append_char(b, '"');
}

int store__fsql_pg_array(const struct store_fsql *q, struct buf *out)
{
	int r = buf_append_char(out, '{');

	for (size_t i = 0; r == 0 && i < q->n; i++) {
		if (i)
			r = buf_append_char(out, ',');
		r |= pg_elem(out, &q->params[i]);
	}
	r |= buf_append_char(out, '}');
	return r ? SDB_ETOOBIG : 0;
}

/* ---- the key range a listing walks -------------------------------------------- */

void store__filter_narrow(const struct filter *f, unsigned char lo[16], unsigned char hi[16])
{
	const struct filter_node *nd;
	int k;

	if (!f || f->root < 0)
		return;
	nd = &f->nodes[f->root];
	k = nd->kind == FILTER_AND ? nd->first : nd->kind == FILTER_TERM ? f->root : -1;
	/* each net: term the whole expression needs narrows the range (an
	 * empty range, lo > hi, finds no host) */
	for (; k >= 0; k = nd->kind == FILTER_AND ? f->nodes[k].next : -1) {
		const struct filter_node *t = &f->nodes[k];
		if (t->kind != FILTER_TERM || t->field != FILTER_NET)
			continue;
		if (memcmp(t->lo, lo, 16) > 0)
			memcpy(lo, t->lo, 16);
		if (memcmp(t->hi, hi, 16) < 0)
			memcpy(hi, t->hi, 16);
	}
}
