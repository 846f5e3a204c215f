/*
 * test_filter.c - the search language (core/filter.c) and its SQL
 * (store/store_filter.c): every term's value, the tree of and/or/not and
 * parentheses, errors that name the term and its argument, the limits, the
 * version order, port terms on one port, and hostile input (deep nesting,
 * huge input, unbalanced parentheses and quotes, random junk, injection
 * text), whose SQL text never holds a value (invariant 5).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/filter.h"
#include "store/store_int.h"

#define NOW INT64_C(1800000000)

static int parse(const char *s, struct filter *f, char *err)
{
	return filter_parse_string(s, NOW, f, err);
}

/* The tree as text: (and a b), (or a b), (not a), field=value. */
static void show(const struct filter *f, int i, struct buf *b)
{
	const struct filter_node *nd = &f->nodes[i];
	static const char *const kinds[] = {"and", "or", "not"};

	if (nd->kind == FILTER_TERM) {
		buf_printf(b, "%d", (int)nd->field);
		if (nd->text)
			buf_printf(b, "=%s", nd->text);
		return;
	}
	buf_printf(b, "(%s", kinds[nd->kind]);
	for (int k = nd->first; k >= 0; k = f->nodes[k].next) {
		buf_append_char(b, ' ');
		show(f, k, b);
	}
	buf_append_char(b, ')');
}

static void assert_tree(const char *s, const char *want)
{
	struct filter f;
	char err[FILTER_ERR_MAX];
	struct buf b;

	buf_init(&b, 1 << 16);
	if (parse(s, &f, err) != 0)
		fail_msg("%s: %s", s, err);
	show(&f, f.root, &b);
	if (strcmp(buf_str(&b), want) != 0)
		fail_msg("%s: got %s, want %s", s, buf_str(&b), want);
	buf_free(&b);
	filter_free(&f);
}

static void assert_err(const char *s, const char *want)
{
	struct filter f;
	char err[FILTER_ERR_MAX];

	if (parse(s, &f, err) == 0)
		fail_msg("%s: parsed, expected an error with '%s'", s, want);
	if (!strstr(err, want))
		fail_msg("%s: error '%s' lacks '%s'", s, err, want);
	assert_null(f.nodes);
	assert_int_equal(f.root, -1);
}

static void test_terms(void **state)
{
	struct filter f;
	char err[FILTER_ERR_MAX];

	(void)state;
	assert_int_equal(parse("port:22,80/tcp,53/udp", &f, err), 0);
	assert_int_equal(f.nodes[f.root].nports, 3);
	assert_int_equal(f.nodes[f.root].ports[0].port, 22);
	assert_int_equal(f.nodes[f.root].ports[0].proto, -1);
	assert_int_equal(f.nodes[f.root].ports[2].proto, 1);
	filter_free(&f);
	assert_tree("service:SSH", "1=ssh");
	assert_tree("product:OpenSSH", "2=openssh");
	assert_tree("version:<8.0", "3=8");
	assert_tree("version:>=2.04.10", "3=2.4.10");
	assert_tree("cpe:cpe:/a:OpenBSD", "4=cpe:/a:openbsd");
	assert_tree("script:ssl-cert", "5=ssl-cert");
	assert_tree("hostname:*.Corp.example", "6=*.corp.example");
	assert_tree("os:Linux", "7=linux");
	assert_tree("mac-vendor:Cisco", "8=cisco");
	assert_tree("tag:Lab", "10=Lab");
	assert_tree("status:GONE", "11=gone");
	assert_tree("PORT:22", "0");
	assert_int_equal(parse("script:http-title~/admin (x|y)/i", &f, err), 0);
	assert_string_equal(f.nodes[f.root].regex, "admin (x|y)");
	assert_int_equal(f.nodes[f.root].icase, 1);
	filter_free(&f);
	assert_int_equal(parse("net:10.0.0.0/8", &f, err), 0);
	assert_int_equal(f.nodes[f.root].lo[12], 10);
	assert_int_equal(f.nodes[f.root].hi[15], 0xff);
	filter_free(&f);
	assert_int_equal(parse("first-seen:<7d", &f, err), 0);
	assert_int_equal(f.nodes[f.root].t, NOW - 7 * 86400);
	assert_int_equal(f.nodes[f.root].after, 1);
	filter_free(&f);
	assert_int_equal(parse("changed:<2026-01-01", &f, err), 0);
	assert_int_equal(f.nodes[f.root].after, 0); /* before the date */
	filter_free(&f);
	assert_int_equal(parse("finding:high+", &f, err), 0);
	assert_int_equal(f.nodes[f.root].severity, 3);
	assert_int_equal(f.nodes[f.root].cmp, FILTER_GE);
	filter_free(&f);
	/* a quoted value keeps its spaces; injection text is just a value */
	assert_tree("product:\"Apache \\\"httpd\\\"\"", "2=apache \"httpd\"");
	{
		const char *w[] = {"service:x' OR 1=1 --"};
		assert_int_equal(filter_parse_words(w, 1, NOW, &f, err), 0);
		assert_string_equal(f.nodes[f.root].text, "x' or 1=1 --");
		filter_free(&f);
	}
}

static void test_tree(void **state)
{
	(void)state;
	assert_tree("port:22 tag:a", "(and 0 10=a)");
	assert_tree("port:22 and tag:a or tag:b", "(or (and 0 10=a) 10=b)");
	assert_tree("tag:a or tag:b tag:c", "(or 10=a (and 10=b 10=c))");
	assert_tree("(tag:a or tag:b) tag:c", "(and (or 10=a 10=b) 10=c)");
	assert_tree("!tag:a not tag:b", "(and (not 10=a) (not 10=b))");
	assert_tree("!(tag:a or !tag:b)", "(not (or 10=a (not 10=b)))");
	assert_tree("((((tag:a))))", "10=a");
	assert_tree("tag:a OR tag:b AND tag:c", "(or 10=a (and 10=b 10=c))");
	/* port subtrees */
	{
		struct filter f;
		char err[FILTER_ERR_MAX];

		assert_int_equal(parse("port:22 (product:a or version:<8) tag:x", &f, err), 0);
		assert_false(filter_is_port_tree(&f, f.root));
		assert_true(filter_is_port_tree(&f, f.nodes[f.root].first));
		filter_free(&f);
		assert_int_equal(parse("!port:22", &f, err), 0);
		assert_false(filter_is_port_tree(&f, f.root));
		filter_free(&f);
	}
}

static void test_errors(void **state)
{
	struct filter f;
	char err[FILTER_ERR_MAX];
	const char *w[] = {"port:22", "version:<x"};

	(void)state;
	assert_int_not_equal(filter_parse_words(w, 2, NOW, &f, err), 0);
	assert_string_equal(err, "'version:<x' at argument 2: version must start with a digit");
	assert_err("bogus:1", "'bogus:1' at word 1: unknown term");
	assert_err("port22", "not a term");
	assert_err(":22", "not a term");
	assert_err("(port:22", "'(port:22' at word 1: '(' is never closed");
	assert_err("port:22)", "')' without its '('");
	assert_err("port:22 )", "')' without its '('");
	assert_err("( )", "')' where a term is expected");
	assert_err("port:22 or", "ends where a term is expected");
	assert_err("or port:22", "'or' where a term is expected");
	assert_err("port:22 and and port:80", "'and' where a term");
	assert_err("!", "ends where a term");
	assert_err("port:99999", "not a port");
	assert_err("port:22,,80", "a port is N");
	assert_err("port:", "a port is N");
	assert_err("service:", "service needs a value");
	assert_err("version:8.x", "dotted numbers");
	assert_err("version:<", "start with a digit");
	assert_err("net:1.2.3.4/33", "CIDR");
	assert_err("status:sideways", "status is up");
	assert_err("finding:severe", "severity");
	assert_err("first-seen:7d", "< or >");
	assert_err("changed:<", "not a duration");
	assert_err("changed:<soon", "not a duration");
	assert_err("script:~/a/", "script id");
	assert_err("script:x~a", "ID~/REGEX/");
	assert_err("script:x~/a/x", "unknown regex flag");
	assert_err("script:x~/(/", "bad regex");
	assert_err("script:x~/)/", "unbalanced");
	assert_err("script:x~/[a/", "bad regex");
	/* what would cost glibc's compiler exponential memory (found by
	 * fuzz_filter: "d++++...") or that PostgreSQL reads otherwise */
	assert_err("script:x~/d++++++++++++++++++++/", "quantifier right after another");
	assert_err("script:x~/a*?/", "quantifier right after another");
	assert_err("script:x~/a{2}+/", "quantifier right after another");
	assert_err("script:x~/a{1000}/", "over 100");
	assert_err("script:x~/a{1,}/", "over 100");
	assert_err("script:x~/(a{2}){3}b{4}/", "more than two");
	assert_err("script:x~/(a*)*\\1/", "back-references");
	assert_tree("script:x~/(ab){2,100}[)(]\\)+/", "5=x");
	assert_err("product:\"abc", "unterminated quote");
	assert_err("product:\"abc\"x", "after the closing quote");
}

static void test_limits(void **state)
{
	struct buf b;
	int i;

	(void)state;
	buf_init(&b, 1 << 20);
	for (i = 0; i < FILTER_DEPTH_MAX; i++)
		buf_append_char(&b, '(');
	buf_append_str(&b, "tag:a");
	for (i = 0; i < FILTER_DEPTH_MAX; i++)
		buf_append_char(&b, ')');
	assert_tree(buf_str(&b), "10=a"); /* at the limit: fine */
	buf_reset(&b);
	for (i = 0; i < 1000; i++)
		buf_append_char(&b, '(');
	buf_append_str(&b, "tag:a");
	assert_err(buf_str(&b), "nested deeper than 32");
	buf_reset(&b);
	for (i = 0; i < 1000; i++)
		buf_append_str(&b, "not ");
	buf_append_str(&b, "tag:a");
	assert_err(buf_str(&b), "nested deeper than 32");
	buf_reset(&b);
	for (i = 0; i <= FILTER_TERMS_MAX; i++)
		buf_append_str(&b, "tag:a ");
	assert_err(buf_str(&b), "more than 64 terms");
	buf_reset(&b);
	for (i = 0; i < 200; i++)
		buf_append_str(&b, "tag:a or ");
	buf_append_str(&b, "tag:a");
	assert_err(buf_str(&b), "more than 64 terms");
	buf_reset(&b);
	buf_append_str(&b, "port:1");
	for (i = 2; i <= FILTER_PORTS_MAX + 1; i++)
		buf_printf(&b, ",%d", i);
	assert_err(buf_str(&b), "more than 64 ports");
	buf_reset(&b);
	buf_append_str(&b, "product:");
	for (i = 0; i < 100000; i++)
		buf_append_char(&b, 'x');
	assert_err(buf_str(&b), "longer than 4096 bytes");
	buf_free(&b);
}

/* Random junk (no NUL) never crashes the parser: it parses or says why. */
static void test_junk(void **state)
{
	static const char alphabet[] = "()!\"\\~/:,<>=+*? \t\nportagsvicen0123456789.-'%_;$@";
	unsigned seed = 12345;
	char s[200], err[FILTER_ERR_MAX];

	(void)state;
	for (int n = 0; n < 20000; n++) {
		size_t len = (size_t)(n % 60) + 1;
		struct filter f;

		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			s[i] = (seed >> 16) % 4 == 0
			           ? (char)(1 + (seed >> 8) % 255)
			           : alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
		}
		s[len] = '\0';
		if (parse(s, &f, err) == 0) {
			assert_true(f.root >= -1 && (size_t)(f.root + 1) <= f.n + 1);
			filter_free(&f);
		} else {
			assert_true(err[0] != '\0');
		}
	}
}

static void test_versions(void **state)
{
	static const struct {
		const char *stored, *query;
		int want;
	} cases[] = {
	    {"7.4", "8", -1},       {"8.0", "8", 0},          {"8", "8", 0},
	    {"8.0p1", "8", 0},      {"8.9p1", "8.9", 0},      {"8.10", "8.9", 1},
	    {"08.00", "8", 0},      {"8.0.1", "8", 1},        {"10", "9.99", 1},
	    {"2.4.57", "2.4.6", 1}, {"2020.81", "1000.5", 1}, {"0", "0", 0},
	    {"0.0.0", "0", 0},      {"beta", "1", 2},         {"", "1", 2},
	    {"1.", "1", 0},         {"1..2", "1", 0},         {"99999999999999999999", "1", 1},
	    {"4.10", "4.9", 1},     {"5.7.1", "5.7.01", 0},
	};
	char norm[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got;

		assert_int_equal(filter_version_norm(cases[i].query, norm, sizeof(norm)), 0);
		got = filter_version_cmp(cases[i].stored, norm);
		if (got != cases[i].want)
			fail_msg("%s vs %s: %d, want %d", cases[i].stored, cases[i].query, got,
			         cases[i].want);
	}
	assert_int_equal(filter_version_norm("8.0.0", norm, sizeof(norm)), 0);
	assert_string_equal(norm, "8");
	assert_int_equal(filter_version_norm("0.5.0", norm, sizeof(norm)), 0);
	assert_string_equal(norm, "0.5");
	assert_int_equal(filter_version_norm("x1", norm, sizeof(norm)), -1);
	assert_int_equal(filter_version_norm("123456", norm, 4), -1);
}

static void test_port_match(void **state)
{
	char *cpes[] = {"cpe:/a:openbsd:openssh:7.4"};
	struct filter_port_view p = {22, "tcp", "ssh", "OpenSSH", "7.4p1", cpes, 1};
	struct filter f;
	char err[FILTER_ERR_MAX];
	static const struct {
		const char *expr;
		int want;
	} cases[] = {
	    {"port:22", 1},
	    {"port:22/udp", 0},
	    {"port:80,22/tcp", 1},
	    {"service:SSH", 1},
	    {"service:ss", 0},
	    {"product:openssh version:<8.0", 1},
	    {"product:openssh version:>=8.0", 0},
	    {"product:dropbear or version:=7.4", 1},
	    {"cpe:cpe:/a:OpenBSD", 1},
	    {"cpe:openssh", 0},
	    {"tag:x port:22", 1}, /* a host term is not the port's business */
	    {"tag:x port:23", 0},
	    {"tag:x or port:23", 1}, /* under or: the host decides */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].expr, &f, err), 0);
		if (filter_port_required(&f, &p) != cases[i].want)
			fail_msg("%s: want %d", cases[i].expr, cases[i].want);
		filter_free(&f);
	}
}

/* The SQL of an expression: its text depends on the shape only, never on
 * a value, in both dialects. */
static void sql_of(const char *expr, int current, enum store_dialect d, struct buf *sql,
                   struct store_fsql *q)
{
	struct filter f;
	char err[FILTER_ERR_MAX];

	if (parse(expr, &f, err) != 0)
		fail_msg("%s: %s", expr, err);
	memset(q, 0, sizeof(*q));
	assert_int_equal(store__filter_sql(&f, current, d, 11, sql, q), 0);
	filter_free(&f);
}

static void test_sql_holds_no_value(void **state)
{
	static const char *const pairs[][2] = {
	    {"service:ssh", "service:\"x' OR 1=1 --\""},
	    {"product:a tag:b", "product:%_\\ tag:\"'); DROP TABLE hosts; --\""},
	    {"hostname:*.a os:b mac-vendor:c", "hostname:?'\" os:$1 mac-vendor:?11"},
	    {"script:a~/b/i cpe:c", "script:'--~/' OR (1=1)/i cpe:\"; --\""},
	    {"port:22,80 version:<8.0", "port:1,2 version:<99.99.99"},
	    {"net:10.0.0.0/8 first-seen:<7d changed:>1d finding:high+",
	     "net:::1 first-seen:<1d changed:>2d finding:low+"},
	};

	(void)state;
	for (int d = 0; d < 2; d++)
		for (int cur = 0; cur < 2; cur++)
			for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
				struct buf a, b;
				struct store_fsql qa, qb;

				buf_init(&a, 1 << 20);
				buf_init(&b, 1 << 20);
				sql_of(pairs[i][0], cur, (enum store_dialect)d, &a, &qa);
				sql_of(pairs[i][1], cur, (enum store_dialect)d, &b, &qb);
				if (strcmp(buf_str(&a), buf_str(&b)) != 0)
					fail_msg("%s / %s: the SQL differs:\n%s\n%s", pairs[i][0],
					         pairs[i][1], buf_str(&a), buf_str(&b));
				assert_int_equal(qa.n, qb.n);
				assert_null(strstr(buf_str(&b), "DROP"));
				assert_null(strstr(buf_str(&b), "1=1"));
				store__fsql_free(&qa);
				store__fsql_free(&qb);
				buf_free(&a);
				buf_free(&b);
			}
}

static void test_pg_array(void **state)
{
	struct buf sql, vals;
	struct store_fsql q;

	(void)state;
	buf_init(&sql, 1 << 20);
	buf_init(&vals, 1 << 20);
	sql_of("tag:a\"b\\c version:<8.0.1 net:10.0.0.1 first-seen:>2026-01-01", 1,
	       STORE_DIALECT_PG, &sql, &q);
	assert_int_equal(store__fsql_pg_array(&q, &vals), 0);
	assert_string_equal(
	    buf_str(&vals),
	    "{\"a\\\"b\\\\c\",\"\\\\x00000000000000000000ffff0a000001\","
	    "\"\\\\x00000000000000000000ffff0a000001\",\"1767225600\",\"{8,0,1}\"}");
	assert_non_null(strstr(buf_str(&sql), "($11::text[])[1]"));
	/* the port term last: an AND's port terms test one port together */
	assert_non_null(strstr(buf_str(&sql), "(($11::text[])[5])::numeric[]"));
	store__fsql_free(&q);
	buf_free(&sql);
	buf_free(&vals);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_terms),      cmocka_unit_test(test_tree),
	    cmocka_unit_test(test_errors),     cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_junk),       cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_port_match), cmocka_unit_test(test_sql_holds_no_value),
	    cmocka_unit_test(test_pg_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
