/*
 * diff_int.h - what the pieces of `scandb diff` share, not for callers
 * (they use diff.h):
 *   diff_snapshot.c  a scan's hosts in one arena (from records, stored jobs
 *                    or a file), sorted by address
 *   diff_compare.c   the pairing of two snapshots' hosts and their comparison
 *   diff_write.c     diff_write(): the writers' state, the run's script pairs,
 *                    the line diff (text and XML), and the dispatch to
 *   diff_text.c, diff_xml.c, diff_json.c   the three formats
 * Here: the snapshot's layout, the ordering and equality rules the
 * comparison and the writers both apply (inline), the comparison's scratch
 * space, and the writers' state and entry points.
 */
#ifndef SDB_DIFF_DIFF_INT_H
#define SDB_DIFF_DIFF_INT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/vec.h"
#include "core/record.h"
#include "diff/diff.h"

/* Cap of one buffered text block (a host's port table, a line). */
#define DIFF_TEXT_MAX ((size_t)1 << 30)

/* ---- the snapshot (diff_snapshot.c) ---------------------------------------- */

struct diff_port_tmp;

struct diff_snapshot {
	struct arena ar;
	struct diff_host *hosts;
	size_t n, cap;
	struct diff_meta meta;
	size_t dups;
	/* the run's pre-scan ([0]) and post-scan ([1]) scripts, sorted */
	const struct diff_script *rscripts[2];
	uint32_t nrscripts[2];
	/* scratch, reused from host to host */
	struct diff_port_tmp *ptmp;
	size_t ptmp_cap;
	struct store_host_rec rec; /* a stored host as a record */
	/* script outputs taken from stored hosts (diff_snapshot_take_store),
	 * not copied into the arena; `take`: copy_scripts() keeps them */
	char **taken;
	size_t ntaken, ctaken;
	int take;
};

/* ---- rules the comparison and the writers share ---------------------------- */

/* ndiff orders ports by (number, protocol name): ip < sctp < tcp < udp. */
static const uint8_t proto_rank[REC_PROTO__COUNT] = {
    [REC_PROTO_TCP] = 2, [REC_PROTO_UDP] = 3, [REC_PROTO_SCTP] = 1, [REC_PROTO_IP] = 0};

static inline int port_cmp(const struct diff_port *a, const struct diff_port *b)
{
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->proto != b->proto)
		return proto_rank[a->proto] < proto_rank[b->proto] ? -1 : 1;
	return 0;
}

static inline int str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static const struct diff_port_info no_info;

/* A port's service and scripts; none (all NULL) for a port without, or no
 * port. */
static inline const struct diff_port_info *port_info(const struct diff_port *p)
{
	return p && p->info ? p->info : &no_info;
}

/* ndiff's Host.is_extraports(): an unlisted port, or a state the host
 * summarised in <extraports>.  Such ports are left out when both sides
 * are. */
static inline int is_extraports(const struct diff_host *h, const struct diff_port *p)
{
	if (!p)
		return 1;
	if (!h)
		return 0;
	for (size_t i = 0; i < h->nextraports; i++)
		if (h->extraports[i].state == p->state)
			return 1;
	return 0;
}

/* ---- the comparison (diff_compare.c) ---------------------------------------- */

/* Scratch space of a comparison: the pairs of one host, reused. */
struct diff_walker {
	int verbose;
	struct diff_port_pair *pp;
	size_t *pp_off; /* where each port's script pairs start in sp */
	size_t np, pp_cap, off_cap;
	struct diff_script_pair *sp;
	size_t ns, sp_cap;
};

/* ndiff's ScriptResultDiff.diff_lists(): a merge of two lists sorted by
 * (id, output), pairing equal ids.  Appends pairs to w->sp (equal ones
 * only with w->verbose); *changed = how many differ.  0 or SDB_ENOMEM. */
int diff__merge_scripts(struct diff_walker *w, const struct diff_script *a, size_t na,
                        const struct diff_script *b, size_t nb, size_t *changed);

/* ---- the writers (diff_write.c and one file per format) --------------------- */

/* The state of one diff_write(): shared, and each format's own. */
struct diff_wr {
	FILE *f;
	const struct diff_snapshot *a, *b;
	int verbose;
	struct buf tmp;      /* a line or a cell being built */
	struct buf svc, ver; /* a port row's SERVICE and VERSION */
	/* text: the port table / script lines of one host.  A script pair's
	 * line diff is not buffered with the table (a host may hold megabytes
	 * of script output): its row stands for it, and tab_print() runs the
	 * line diff again, writing each line as it comes (raw_mode). */
	struct buf cells;
	struct trow {
		size_t off;
		unsigned ncells;                   /* 0: sp's lines */
		const struct diff_script_pair *sp; /* non-NULL: the line diff of sp */
	} * rows;
	size_t nrows, rows_cap;
	size_t width[5];
	enum { RAW_COUNT, RAW_WRITE } raw_mode; /* what tab_raw() does */
	size_t raw_lines;                       /* RAW_COUNT: lines seen */
	struct buf line;                        /* RAW_WRITE: the line being written */
	/* script lines of the two sides (text) */
	struct buf la, lb;
	size_t *oa, *ob;
	size_t oa_cap, ob_cap;
	const char **pa, **pb; /* the lines as pointers */
	size_t pa_cap, pb_cap;
	uint32_t *lcs; /* the line diff's table */
	size_t lcs_cap;
	char xml_group;                  /* XML OS list: '-' inside <a>, '+' inside <b>, else 0 */
	struct diff_script_pair *run_sp; /* the run's pre- or post-scan script pairs */
	size_t nrun_sp;
	size_t nhosts; /* JSON: hosts written so far */
};

static inline const char *status_name(const struct diff_host *h)
{
	return rec_host_status_name((enum rec_host_status)h->status);
}

static inline const char *state_name(const struct diff_port *p)
{
	return rec_port_state_name((enum rec_port_state)p->state);
}

static inline const char *proto_name(const struct diff_port *p)
{
	return rec_proto_name((enum rec_proto)p->proto);
}

/* SDB_EIO once writing to w->f failed, else 0. */
static inline int wr_err(const struct diff_wr *w)
{
	return ferror(w->f) ? SDB_EIO : 0;
}

/* The run's pre-scan (post == 0) or post-scan (post == 1) script pairs,
 * paired as ndiff's diff_lists() does, into w->run_sp/nrun_sp; *na and *nb
 * say how many scripts each side has.  0 or SDB_ENOMEM. */
int diff__run_script_pairs(struct diff_wr *w, int post, size_t *na, size_t *nb);

/* What diff__line_diff() calls for each line: mark ' ', '-' or '+'. */
typedef int (*diff_line_emit)(struct diff_wr *w, char mark, const char *line);

/*
 * Line diff of A[0..na) and B[0..nb): emit(w, mark, line) for each line in
 * order, mark ' ' common, '-' only in A, '+' only in B; within a changed
 * stretch the '-' lines come first (ndiff's difflib opcodes, in substance).
 * Equal lists emit nothing unless w->verbose.  Returns 0, SDB_ENOMEM or
 * emit's code.
 */
int diff__line_diff(struct diff_wr *w, const char *const *A, size_t na, const char *const *B,
                    size_t nb, diff_line_emit emit);

/* One format: begin (the banner and the pre-scan scripts), one host pair
 * (diff_walk()'s callback; ctx is the struct diff_wr), end (the post-scan
 * scripts, the summary).  Each returns 0, SDB_ENOMEM or SDB_EIO. */
struct diff_format_ops {
	int (*begin)(struct diff_wr *w);
	int (*host)(void *ctx, const struct diff_host_pair *hp);
	int (*end)(struct diff_wr *w, const struct diff_summary *sum);
};

extern const struct diff_format_ops diff__text_ops; /* diff_text.c */
extern const struct diff_format_ops diff__xml_ops;  /* diff_xml.c */
extern const struct diff_format_ops diff__json_ops; /* diff_json.c */

#endif
