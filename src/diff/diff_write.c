/*
 * diff_write.c - diff_write() (see diff.h): the writers' state, the dispatch
 * to one format (diff_text.c, diff_xml.c, diff_json.c: begin, each host
 * pair of diff_walk(), end), and what more than one format uses: the run's
 * pre-/post-scan script pairs and the line diff (script output in text, OS
 * matches in text and XML).
 */
#include "diff/diff_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Line diff of script output: above this many cells (lines a x lines b)
 * the changed middle is shown as all removed + all added. */
#define LINE_DIFF_MAX_CELLS ((size_t)1 << 22)

int diff__run_script_pairs(struct diff_wr *w, int post, size_t *na, size_t *nb)
{
	struct diff_walker wk;
	size_t changed;
	int r;

	memset(&wk, 0, sizeof(wk));
	wk.verbose = w->verbose;
	*na = w->a->nrscripts[post];
	*nb = w->b->nrscripts[post];
	r = diff__merge_scripts(&wk, w->a->rscripts[post], *na, w->b->rscripts[post], *nb,
	                        &changed);
	free(w->run_sp);
	w->run_sp = wk.sp;
	w->nrun_sp = wk.ns;
	return r;
}

/* ---- the line diff ------------------------------------------------------------ */

/* w->lcs[x * (mb + 1) + y] = the length of the longest common subsequence
 * of A[x..ma) and B[y..mb).  0 or SDB_ENOMEM. */
static int lcs_table(struct diff_wr *w, const char *const *A, size_t ma, const char *const *B,
                     size_t mb)
{
	size_t cols = mb + 1;
	int r;

	if ((r = vec_reserve(&w->lcs, &w->lcs_cap, (ma + 1) * cols, sizeof(*w->lcs), 16)) != 0)
		return r;
	for (size_t x = ma + 1; x-- > 0;)
		for (size_t y = mb + 1; y-- > 0;) {
			uint32_t v;

			if (x == ma || y == mb)
				v = 0;
			else if (strcmp(A[x], B[y]) == 0)
				v = w->lcs[(x + 1) * cols + y + 1] + 1;
			else
				v = w->lcs[(x + 1) * cols + y] > w->lcs[x * cols + y + 1]
				        ? w->lcs[(x + 1) * cols + y]
				        : w->lcs[x * cols + y + 1];
			w->lcs[x * cols + y] = v;
		}
	return 0;
}

/* A[0..ma) against B[0..mb) along lcs_table()'s table: common lines with
 * ' ', each stretch of changes as its '-' lines, then its '+' lines. */
static int lcs_emit(struct diff_wr *w, const char *const *A, size_t ma, const char *const *B,
                    size_t mb, diff_line_emit emit)
{
	size_t cols = mb + 1, i = 0, j = 0, dels = 0, dstart = 0, ins = 0, istart = 0;
	int r = 0;

	while (r == 0 && (i < ma || j < mb)) {
		int eq = i < ma && j < mb && strcmp(A[i], B[j]) == 0;

		if (!eq) {
			if (j >= mb ||
			    (i < ma && w->lcs[(i + 1) * cols + j] >= w->lcs[i * cols + j + 1])) {
				if (!dels++)
					dstart = i;
				i++;
			} else {
				if (!ins++)
					istart = j;
				j++;
			}
			if (i < ma || j < mb)
				continue;
		}
		for (size_t k = 0; k < dels && r == 0; k++)
			r = emit(w, '-', A[dstart + k]);
		for (size_t k = 0; k < ins && r == 0; k++)
			r = emit(w, '+', B[istart + k]);
		dels = ins = 0;
		if (eq && r == 0) {
			r = emit(w, ' ', A[i]);
			i++;
			j++;
		}
	}
	return r;
}

/* Longest common subsequence of the middle once the common head and tail
 * are cut off; a middle too big for that is shown as replaced. */
int diff__line_diff(struct diff_wr *w, const char *const *A, size_t na, const char *const *B,
                    size_t nb, diff_line_emit emit)
{
	size_t pre = 0, suf = 0, ma, mb;
	int r = 0;

	while (pre < na && pre < nb && strcmp(A[pre], B[pre]) == 0)
		pre++;
	while (suf < na - pre && suf < nb - pre && strcmp(A[na - 1 - suf], B[nb - 1 - suf]) == 0)
		suf++;
	if (pre == na && pre == nb && !w->verbose)
		return 0;
	for (size_t i = 0; i < pre && r == 0; i++)
		r = emit(w, ' ', A[i]);
	ma = na - pre - suf;
	mb = nb - pre - suf;
	if (r == 0 && ma && mb && (ma + 1) <= LINE_DIFF_MAX_CELLS / (mb + 1)) {
		if ((r = lcs_table(w, A + pre, ma, B + pre, mb)) == 0)
			r = lcs_emit(w, A + pre, ma, B + pre, mb, emit);
	} else {
		for (size_t i = 0; i < ma && r == 0; i++)
			r = emit(w, '-', A[pre + i]);
		for (size_t j = 0; j < mb && r == 0; j++)
			r = emit(w, '+', B[pre + j]);
	}
	for (size_t i = na - suf; i < na && r == 0; i++)
		r = emit(w, ' ', A[i]);
	return r;
}

/* ---- the entry point ------------------------------------------------------------ */

static void wr_init(struct diff_wr *w, FILE *f, const struct diff_snapshot *a,
                    const struct diff_snapshot *b, int verbose)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->a = a;
	w->b = b;
	w->verbose = verbose;
	buf_init(&w->tmp, DIFF_TEXT_MAX);
	buf_init(&w->cells, DIFF_TEXT_MAX);
	buf_init(&w->svc, DIFF_TEXT_MAX);
	buf_init(&w->ver, DIFF_TEXT_MAX);
	buf_init(&w->la, DIFF_TEXT_MAX);
	buf_init(&w->lb, DIFF_TEXT_MAX);
	buf_init(&w->line, DIFF_TEXT_MAX);
}

static void wr_free(struct diff_wr *w)
{
	buf_free(&w->tmp);
	buf_free(&w->cells);
	buf_free(&w->svc);
	buf_free(&w->ver);
	buf_free(&w->la);
	buf_free(&w->lb);
	buf_free(&w->line);
	free(w->rows);
	free(w->oa);
	free(w->ob);
	free(w->lcs);
	free(w->pa);
	free(w->pb);
	free(w->run_sp);
}

int diff_write(FILE *f, enum diff_format fmt, const struct diff_snapshot *a,
               const struct diff_snapshot *b, int verbose, int *different)
{
	const struct diff_format_ops *ops = fmt == DIFF_FMT_XML    ? &diff__xml_ops
	                                    : fmt == DIFF_FMT_JSON ? &diff__json_ops
	                                                           : &diff__text_ops;
	struct diff_summary sum;
	struct diff_wr w;
	int r;

	wr_init(&w, f, a, b, verbose);
	if ((r = ops->begin(&w)) != 0 || (r = diff_walk(a, b, verbose, ops->host, &w, &sum)) != 0 ||
	    (r = ops->end(&w, &sum)) != 0)
		goto out;
	if (different)
		*different = sum.added + sum.removed + sum.changed > 0;
	r = wr_err(&w);
out:
	wr_free(&w);
	return r;
}
