/* Phase planes of a sliding window (see conv_phase.h): the plan (which phases the taps read,
 * where each tap starts), the gather of one input plane into them, and the im2col from them
 * (split over channels on the session's pool). */
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

typedef struct phase_unfold_job {
    const nn_phase_plan *p;
    const nn_phase_unfold_args *a;
} phase_unfold_job;

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
    phase_unfold_job j = {.p = p, .a = a};
    nn_parallel_rows(ctx, a->c_n, work > 1e15 ? INT64_MAX : (int64_t)work, phase_unfold_range, &j);
}
