/*
 * filter.h - the search filter language (docs/SEARCH.md), pure: text in,
 * a small tree of typed terms out.  No database and no I/O; the store
 * compiles the tree to SQL with bound parameters (store/store_filter.c),
 * and filter_port_match() evaluates its port terms on one port.
 *
 *   expr   := or
 *   or     := and ( "or" and )*
 *   and    := unary ( ["and"] unary )*        juxtaposition is AND
 *   unary  := ("not" | "!") unary | "(" or ")" | TERM
 *   TERM   := key ":" value                   port:22/tcp, tag:lab, ...
 *
 * On the command line each argument is one word (a value may hold
 * spaces); "(" and "!" may lead a word and ")" end it.  A value may be
 * double-quoted ("...", with \" and \\).
 */
#ifndef SDB_CORE_FILTER_H
#define SDB_CORE_FILTER_H

#include <stddef.h>
#include <stdint.h>

/* Limits of one expression; beyond them the parse fails, saying which. */
#define FILTER_TEXT_MAX  4096 /* bytes of all its words together */
#define FILTER_TERMS_MAX 64   /* terms */
#define FILTER_DEPTH_MAX 32   /* nesting of parentheses and not */
#define FILTER_PORTS_MAX 64   /* ports of one port: term */
#define FILTER_VALUE_MAX 1024 /* bytes of one value */
#define FILTER_REGEX_MAX 512  /* bytes of one script output regex */
#define FILTER_ERR_MAX   1280 /* a message, with the term quoted */

enum filter_kind { FILTER_AND, FILTER_OR, FILTER_NOT, FILTER_TERM };

enum filter_field {
	/* port terms: they test one open port (filter_field_is_port) */
	FILTER_PORT,
	FILTER_SERVICE,
	FILTER_PRODUCT,
	FILTER_VERSION,
	FILTER_CPE,
	/* host terms */
	FILTER_SCRIPT,
	FILTER_HOSTNAME,
	FILTER_OS,
	FILTER_MAC_VENDOR,
	FILTER_NET,
	FILTER_TAG,
	FILTER_STATUS,
	FILTER_FIRST_SEEN,
	FILTER_CHANGED,
	FILTER_FINDING,
	FILTER_FIELD__COUNT
};

/* Comparisons of version: and finding: (FILTER_EQ for finding:high,
 * FILTER_GE for finding:high+). */
enum filter_cmp { FILTER_EQ, FILTER_LT, FILTER_LE, FILTER_GT, FILTER_GE };

struct filter_port {
	int port;  /* 0-65535 */
	int proto; /* enum rec_proto, or -1: any */
};

/*
 * One node.  Children of AND/OR (two or more) and NOT (one) are a list:
 * `first` then each child's `next` (node indexes, -1 ends).  A term's
 * value, by field:
 *   PORT          ports[0..nports)
 *   SERVICE       text: the name in lower case (matched whole, ASCII case
 *                 ignored)
 *   PRODUCT, OS, MAC_VENDOR  text: lower case, matched as a substring
 *   CPE           text: lower case, matched as a prefix
 *   HOSTNAME      text: lower case glob (* any run, ? one character)
 *   VERSION       cmp and text, the version normalised (filter_version_norm)
 *   SCRIPT        text: the script id; regex (or NULL) and icase
 *   NET           lo, hi: the inclusive addr_key range
 *   TAG           text, exact
 *   STATUS        text: up, down, unknown, skipped or gone
 *   FIRST_SEEN, CHANGED  t (Unix seconds) and after: 1 = at or after t, 0 =
 *                 before t (for CHANGED: the host's last change)
 *   FINDING       cmp (EQ or GE) and severity (0 info .. 4 critical)
 */
struct filter_node {
	enum filter_kind kind;
	int first, next;
	int word; /* the word (1-based) the node starts at */
	enum filter_field field;
	enum filter_cmp cmp;
	char *text;
	char *regex;
	int icase;
	struct filter_port *ports;
	size_t nports;
	unsigned char lo[16], hi[16];
	int64_t t;
	int after;
	int severity;
};

/* A parsed expression: nodes[root] is its top (root -1: no term at all). */
struct filter {
	struct filter_node *nodes;
	size_t n;
	int root;
};

/*
 * Parse words[0..nwords) (command-line arguments: each one word) into *out;
 * `now` is the time durations count back from (first-seen:<7d).  On error
 * returns SDB_EPARSE (or SDB_ENOMEM, SDB_ETOOBIG), *out is empty, and err
 * holds "'TERM' at argument N: what is wrong".  Free with filter_free().
 */
int filter_parse_words(const char *const *words, size_t nwords, int64_t now, struct filter *out,
                       char err[FILTER_ERR_MAX]);
/* Parse one string (the HTTP API's q=): words are split at spaces outside
 * double quotes and a script regex; errors say "at word N". */
int filter_parse_string(const char *s, int64_t now, struct filter *out, char err[FILTER_ERR_MAX]);
void filter_free(struct filter *f);

/* Is the field a port term (tested on one open port)? */
int filter_field_is_port(enum filter_field f);
/* Does subtree `i` hold only port terms under AND/OR (no NOT)?  Such a
 * subtree is tested on one port as a whole. */
int filter_is_port_tree(const struct filter *f, int i);

/*
 * Versions: the leading dotted numeric part ("8.0p1" -> 8.0), compared as
 * integer arrays (leading zeros and trailing .0 components do not count:
 * 8 = 8.0 = 08.00; 8 < 8.0.1 < 8.1 < 10).  filter_version_norm writes that
 * part normalised ("8.0p1" -> "8", "2.04.10" -> "2.4.10") to out (size
 * outlen); returns 0, or -1 if s does not start with a digit or the part
 * does not fit.  filter_version_cmp compares a stored version with a
 * normalised one: -1, 0, 1, or 2 if `stored` has no leading number.
 */
int filter_version_norm(const char *s, char *out, size_t outlen);
int filter_version_cmp(const char *stored, const char *norm);

/* The fields of one port that port terms read. */
struct filter_port_view {
	int port;
	const char *protocol, *service, *product, *version;
	char *const *cpes;
	size_t ncpes;
};
/* Does port p satisfy port subtree `i` (filter_is_port_tree)?  The same
 * rules as the store's SQL (ASCII case folding, version order, cpe
 * prefix); the caller checks that the port is open. */
int filter_port_match(const struct filter *f, int i, const struct filter_port_view *p);
/* Does port p pass the port terms the whole expression requires (the
 * root when it is a port subtree, or the port subtrees of a top-level
 * AND)?  1 for an expression without such terms.  A listing of ports
 * (`services`) shows the ports that do, of the hosts that match. */
int filter_port_required(const struct filter *f, const struct filter_port_view *p);

#endif
