/*
 * nmap_xml_int.h - what the pieces of the nmap XML parser share, not for
 * callers (they use nmap_xml.h):
 *   nmap_xml.c       the expat wiring: the parser's setup and memory cap,
 *                    error and warning messages with their positions, the
 *                    expat callbacks (nesting, which element is which,
 *                    <cpe> text, entities refused) and the streaming loop
 *   nmap_xml_host.c  what a <host> and everything in it become in the
 *                    records, and <script> wherever it is; the dispatch of
 *                    each element to its handler
 *   nmap_xml_run.c   what the elements outside <host> become (<nmaprun>,
 *                    <scaninfo>, <taskprogress>, <runstats>), and the
 *                    attribute value readers
 * Here: the parser's state, the element enumeration, and the functions one
 * piece calls in another.  Every function that takes a parser and returns
 * an int returns 0 or the error it recorded (the first error wins and stops
 * expat; see nmap_xml__fail).
 */
#ifndef SDB_INGEST_NMAP_XML_INT_H
#define SDB_INGEST_NMAP_XML_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/addr.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/record.h"
#include "ingest/nmap_xml.h"

#define SHOW_MAX 64 /* bytes of an offending value quoted in messages */

/* The elements we read (where each is recognised: nmap_xml.c, elem_at()). */
enum elem {
	E_OTHER = 0, /* not ours (or not where nmap writes it): skipped */
	E_NMAPRUN,
	E_SCANINFO,
	E_TASKPROGRESS,
	E_HOST,
	E_STATUS,
	E_ADDRESS,
	E_HOSTNAMES,
	E_HOSTNAME,
	E_PORTS,
	E_EXTRAPORTS,
	E_EXTRAREASONS,
	E_PORT,
	E_STATE,
	E_SERVICE,
	E_CPE,
	E_SCRIPT,
	E_OS,
	E_OSMATCH,
	E_OSCLASS,
	E_UPTIME,
	E_DISTANCE,
	E_HOSTSCRIPT,
	E_RUNSTATS,
	E_FINISHED,
	E_HOSTS,
	E_PRESCRIPT,
	E_POSTSCRIPT,
	E__COUNT
};

/* ---- the parser's state ------------------------------------------------------ */

enum capture { CAP_NONE = 0, CAP_SVC_CPE, CAP_OS_CPE };

struct nmap_parser {
	struct XML_ParserStruct *xp; /* expat's XML_Parser (the wiring alone calls expat) */
	struct ingest_sink sink;
	char *name;
	int err;            /* sticky: first error (or sink code) */
	int parsing;        /* inside XML_Parse: errors must stop expat */
	int finished;       /* the final feed was done */
	int event;          /* an expat callback ran during the current slice */
	size_t no_event;    /* bytes fed since the last slice with a callback */
	int run_end_done;   /* nmap_xml__run_end called */
	size_t expat_mem;   /* bytes expat holds (see mm_malloc) */
	int expat_mem_full; /* an expat allocation was refused */
	struct nmap_parser_stats stats;
	char errmsg[1024];
	unsigned long long warnings; /* warnings raised (WARN_MAX passed on) */

	unsigned depth;
	unsigned char stack[NMAP_XML_MAX_DEPTH];

	enum capture capture; /* collecting <cpe> text into `text` */
	struct buf text;

	/* <runstats>, kept until </nmaprun> */
	struct rec_runstats rs;
	struct buf rs_summary, rs_exit, rs_errormsg;
	int rs_have_summary, rs_have_exit, rs_have_errormsg;
	/* <prescript>/<postscript> results, kept until </nmaprun> (strings in
	 * run_arena; at most NMAP_XML_MAX_RUN_SCRIPTS, NMAP_XML_MAX_RUN_BYTES) */
	struct arena run_arena;
	struct rec_script *rscripts[2]; /* [0] pre, [1] post */
	size_t nrscripts[2], crscripts[2];
	size_t rscript_bytes, rscript_ids; /* their outputs kept; their ids */

	/* The current <host>. */
	struct rec_host host;
	struct arena arena;
	size_t host_bytes;  /* it holds: strings, array entries (NMAP_XML_MAX_HOST) */
	size_t host_output; /* its script output kept (NMAP_XML_MAX_HOST_OUTPUT) */
	char addr[ADDR_TEXT_MAX];
	char mac[18];
	int have_addr, have_mac;
	unsigned long long host_line, host_col;
	unsigned long long port_line, port_col;
	int port_has_state;
	int port_drop;      /* the open <port> is left out (state "unknown") */
	int nosmatch;       /* <osmatch> elements seen */
	int in_first_match; /* inside the first <osmatch> */
	int os_class_src;   /* 0 none, 1 legacy <os><osclass>, 2 first osmatch's */
	int os_class_open;  /* the open <osclass> is the one we keep */
	const char **osm;   /* every <osmatch> name, file order */
	size_t nosm, cosm;
	struct buf reasons; /* extrareasons of the open <extraports> */
	long ep_cur;        /* its entry in extraports, -1: not kept */

	struct rec_port *ports;
	size_t nports, cports;
	struct rec_script *pscripts; /* port scripts, in port order */
	size_t npscripts, cpscripts;
	struct rec_script *hscripts; /* hostscript scripts */
	size_t nhscripts, chscripts;
	const char **cpes; /* service cpes, in port order */
	size_t ncpes, ccpes;
	struct rec_hostname *hostnames;
	size_t nhostnames, chostnames;
	struct rec_extraports *extraports;
	size_t nextraports, cextraports;
	uint64_t seen[REC_PROTO__COUNT * 65536 / 64]; /* (proto, port) in this host */
};

/* ---- errors and warnings (nmap_xml.c) --------------------------------------------- */

/* Record error `code` with "NAME:LINE:COL: what" (at the current position,
 * or at line:col) and stop expat; the first error wins.  Returns the code
 * recorded. */
int nmap_xml__fail(struct nmap_parser *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int nmap_xml__fail_at(struct nmap_parser *p, int code, unsigned long long line,
                      unsigned long long col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* nmap_xml__fail(p, SDB_ENOMEM, "out of memory"). */
int nmap_xml__nomem(struct nmap_parser *p);
/* A value was accepted after a change (normalised, or left out): the
 * sink's warning callback hears "NAME:LINE:COL: what" (the first WARN_MAX
 * of them; the rest are counted).  0, or the sink's code (which stops). */
int nmap_xml__warn(struct nmap_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A sink callback returned r (non-zero): stop with that very code. */
int nmap_xml__sink_stop(struct nmap_parser *p, int r);
/* At most SHOW_MAX bytes of untrusted text v for a message, control bytes
 * as '?', "..." when cut; returns out. */
const char *nmap_xml__show(char out[SHOW_MAX + 4], const char *v);
/* expat's current position: line (from 1), column (from 1). */
unsigned long long nmap_xml__line(const struct nmap_parser *p);
unsigned long long nmap_xml__col(const struct nmap_parser *p);
/* Each element's name, for messages. */
extern const char *const nmap_xml__elem_names[E__COUNT];

/* ---- a <host>, and <script> (nmap_xml_host.c) ---------------------------------------- */

/* Element e (recognised inside `parent`) begins, with its attributes: what
 * it becomes.  The elements outside <host> go on to nmap_xml__run_start();
 * one without a handler is ignored. */
int nmap_xml__start(struct nmap_parser *p, enum elem e, enum elem parent, const char **atts);
/* Element e ends. */
int nmap_xml__end(struct nmap_parser *p, enum elem e);

/* ---- outside <host>; attribute values (nmap_xml_run.c) ------------------------------- */

/* An element outside <host> begins. */
int nmap_xml__run_start(struct nmap_parser *p, enum elem e, const char **atts);
/* The document is complete: hand <runstats> and the pre-/post-scan
 * scripts to the sink's run_end. */
int nmap_xml__run_end(struct nmap_parser *p);

/* "<E> has no ATTR attribute" (SDB_EPARSE). */
int nmap_xml__missing(struct nmap_parser *p, enum elem e, const char *attr);
/* Attribute k of <e> with value v, checked: at most max bytes (SDB_ETOOBIG). */
int nmap_xml__a_len(struct nmap_parser *p, enum elem e, const char *k, const char *v, size_t max);
/* Strict decimal integer in [lo, hi] (SDB_EPARSE, SDB_ERANGE). */
int nmap_xml__a_int(struct nmap_parser *p, enum elem e, const char *k, const char *v, long long lo,
                    long long hi, long long *out);
/* The same, but an empty value (Zenmap saves seconds="" and the like) is
 * absent: *out = absent.  Inline: most optional attributes are empty or
 * short. */
static inline int nmap_xml__a_oint(struct nmap_parser *p, enum elem e, const char *k, const char *v,
                                   long long lo, long long hi, long long absent, long long *out)
{
	if (*v == '\0') {
		*out = absent;
		return 0;
	}
	return nmap_xml__a_int(p, e, k, v, lo, hi, out);
}
/* Strict decimal "123" or "123.45" in [lo, hi], whatever the locale. */
int nmap_xml__a_dbl(struct nmap_parser *p, enum elem e, const char *k, const char *v, double lo,
                    double hi, double *out);

#endif
