/* Phase planes of a sliding window (see conv_phase.h): the plan (which phases the taps read,
 * where each tap starts), the gather of one input plane into them, and the im2col from them
 * (split over rows or channels on the session's pool). */
#include "conv_phase.h"

#include <string.h>

#include "nn_kernels.h"

/* Distinct values of (i * d) mod s for i < k into ph[], and each i's index into ph. */
static int phase_values(int64_t k, int64_t d, int64_t s, int64_t *ph, int *idx)
{
    int n = 0;
    for (int64_t i = 0; i < k; i++) {
        int64_t p = (i * d) % s;
        int j = 0;
        while (j < n && ph[j] != p) j++;
        if (j == n) ph[n++] = p;
        idx[i] = j;
    }
    return n;
}

int nn_phase_plan_make(const nn_geom *g, nn_phase_plan *p)
{
    const int64_t kh = g->k[1], kw = g->k[2], sh = g->s[1], sw = g->s[2];
    const int64_t dh = g->d[1], dw = g->d[2];
    if (g->nsp > 2 || kh > NN_PHASE_MAX_K || kw > NN_PHASE_MAX_K) return 1;
    int64_t rph[NN_PHASE_MAX_K], cph[NN_PHASE_MAX_K];
    int ri[NN_PHASE_MAX_K], cj[NN_PHASE_MAX_K];
    const int nr = phase_values(kh, dh, sh, rph, ri), nc = phase_values(kw, dw, sw, cph, cj);
    p->oh = g->out[1];
    p->ow = g->out[2];
    p->rows = p->oh + ((kh - 1) * dh) / sh;
    p->ld = p->ow + ((kw - 1) * dw) / sw;
    p->n_phases = nr * nc;
    p->src_row = sh * g->in[2];
    p->src_col = sw;
    if (nn_mul_size((size_t)p->rows, (size_t)p->ld, &p->plane) != 0 ||
        nn_mul_size((size_t)p->n_phases, p->plane, &p->total) != 0)
        return -1;
    for (int r = 0; r < nr; r++) {
        for (int q = 0; q < nc; q++) {
            int64_t alo, ahi, blo, bhi;
            nn_valid_range(rph[r] - g->pb[1], sh, g->in[1], p->rows, &alo, &ahi);
            nn_valid_range(cph[q] - g->pb[2], sw, g->in[2], p->ld, &blo, &bhi);
            nn_phase_blk *b = &p->blk[r * nc + q];
            b->a0 = alo;
            b->rows = ahi - alo;
            b->b0 = blo;
            b->cols = bhi - blo;
            b->src = (alo * sh + rph[r] - g->pb[1]) * g->in[2] + blo * sw + cph[q] - g->pb[2];
            if (b->rows <= 0 || b->cols <= 0) b->rows = b->cols = 0;
        }
    }
    p->ntaps = kh * kw;
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++)
            p->tap_off[i * kw + j] = (int64_t)(ri[i] * nc + cj[j]) * (int64_t)p->plane +
                                     ((i * dh) / sh) * p->ld + (j * dw) / sw;
    return 0;
}

void nn_phase_gather(const nn_phase_plan *p, const float *x, float *ph, int mode, float lo,
                     float hi)
{
    for (int k = 0; k < p->n_phases; k++, ph += p->plane) {
        const nn_phase_blk *b = &p->blk[k];
        if (b->rows > 0)
            nn_k_gather_block_act(ph + b->a0 * p->ld + b->b0, p->ld, x + b->src, p->src_row,
                                  b->rows, b->cols, p->src_col, mode, lo, hi);
    }
}

void nn_phase_im2col(const float *ph, const nn_phase_plan *p, int64_t c_n, int64_t r0, int64_t nr,
                     float *col, int64_t ld)
{
    for (int64_t ci = 0; ci < c_n; ci++, ph += p->total) {
        for (int64_t k = 0; k < p->ntaps; k++, col += ld) {
            const float *src = ph + p->tap_off[k] + r0 * p->ld;
            if (p->ld == p->ow) memcpy(col, src, (size_t)(nr * p->ow) * sizeof(float));
            else nn_k_gather_block(col, p->ow, src, p->ld, nr, p->ow, 1);
        }
    }
}

/* Rows [q0, q1) of every phase plane of one input plane x (no activation): the part of
 * nn_phase_gather one row range holds. */
static void phase_gather_rows(const nn_phase_plan *p, const float *x, float *ph, int64_t q0,
                              int64_t q1)
{
    for (int k = 0; k < p->n_phases; k++, ph += p->plane) {
        const nn_phase_blk *b = &p->blk[k];
        const int64_t lo = b->a0 > q0 ? b->a0 : q0;
        const int64_t hi = b->a0 + b->rows < q1 ? b->a0 + b->rows : q1;
        if (b->rows > 0 && hi > lo)
            nn_k_gather_block_act(ph + lo * p->ld + b->b0, p->ld,
                                  x + b->src + (lo - b->a0) * p->src_row, p->src_row, hi - lo,
                                  b->cols, p->src_col, 0, 0, 0);
    }
}

typedef struct phase_unfold_job {
    const nn_phase_plan *p;
    const nn_phase_unfold_args *a;
} phase_unfold_job;

/* Gathers only: rows [q0, q1) of the phase planes of every channel. */
static void phase_gather_row_range(void *arg, int64_t q0, int64_t q1)
{
    const phase_unfold_job *j = arg;
    const nn_phase_unfold_args *a = j->a;
    for (int64_t ci = 0; ci < a->c_n; ci++)
        phase_gather_rows(j->p, a->x + ci * a->x_plane, a->ph + (size_t)ci * a->ph_stride, q0, q1);
}

/* im2col only: output rows [a->r0 + q0, a->r0 + q1) of every channel, i.e. columns
 * [q0 * ow, q1 * ow) of every row of col. */
static void phase_im2col_row_range(void *arg, int64_t q0, int64_t q1)
{
    const phase_unfold_job *j = arg;
    const nn_phase_unfold_args *a = j->a;
    nn_phase_im2col(a->ph, j->p, a->c_n, a->r0 + q0, q1 - q0, a->col + q0 * j->p->ow, a->ld);
}

static void phase_unfold_range(void *arg, int64_t c0, int64_t c1)
{
    const phase_unfold_job *j = arg;
    const nn_phase_unfold_args *a = j->a;
    if (a->x)
        for (int64_t ci = c0; ci < c1; ci++)
            nn_phase_gather(j->p, a->x + ci * a->x_plane, a->ph + (size_t)ci * a->ph_stride, 0, 0,
                            0);
    if (a->col)
        nn_phase_im2col(a->ph + (size_t)c0 * j->p->total, j->p, c1 - c0, a->r0, a->nr,
                        a->col + c0 * j->p->ntaps * a->ld, a->ld);
}

void nn_phase_unfold(onnx_ctx *ctx, const nn_phase_plan *p, const nn_phase_unfold_args *a)
{
    /* floats written per channel: its phase set and its im2col rows */
    int64_t per = 0;
    if (a->x) per += (int64_t)p->total;
    if (a->col) per += p->ntaps * a->nr * p->ow;
    const double work = (double)per * (double)a->c_n;
    const int64_t w = work > 1e15 ? INT64_MAX : (int64_t)work;
    phase_unfold_job j = {.p = p, .a = a};
    /* A gather alone, or an im2col alone (a Conv in blocks of output rows, one image): split
     * by rows, the positions the GEMMs before and after split by (their output columns), so
     * a thread reads the rows it wrote (and a halo of (k - 1) rows) and writes the columns
     * its GEMM share will read. Both at once: by channels (each gathers what it unfolds). */
    if (a->x && !a->col && a->ph_stride >= p->total)
        nn_parallel_rows(ctx, p->rows, w, phase_gather_row_range, &j);
    else if (!a->x && a->col) nn_parallel_rows(ctx, a->nr, w, phase_im2col_row_range, &j);
    else nn_parallel_rows(ctx, a->c_n, w, phase_unfold_range, &j);
}
