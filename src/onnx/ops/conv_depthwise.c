/* Depthwise Conv (group == C, M = C * multiplier) over 1 or 2 spatial dims, by phase planes:
 * output (r, c) reads padded input (r*sh + i*dh, c*sw + j*dw), which is element
 * (r + (i*dh)/sh, c + (j*dw)/sw) of the phase plane holding the padded input's rows
 * = (i*dh) mod sh and columns = (j*dw) mod sw (mod the strides). Each input plane is gathered
 * once into those planes (zero where the window hangs over the edge; the zeros are written
 * once per run, since every plane has the same geometry), after which every tap is a
 * contiguous, unit-stride vector at a fixed offset: no bounds checks, no strided loads.
 * Small outputs are computed over the phase planes' whole rows, including the few columns
 * past the output's width, so that the loop is long enough to vectorize; those rows are then
 * compacted. */
#include <string.h>

#include "nn_common.h"
#include "nn_kernels.h"

/* Taps per spatial dim handled here (the taps' pointers live on the stack); larger kernels
 * take the im2col path. */
#define DW_MAX_K 16
/* Outputs narrower than this are computed over whole phase-plane rows, then compacted. */
#define DW_FLAT_BELOW 32

/* Distinct values of (i * d) mod s for i < k into ph[], and each i's index into ph. */
static int dw_phases(int64_t k, int64_t d, int64_t s, int64_t *ph, int *idx)
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

int nn_conv_depthwise(onnx_ctx *ctx, const float *x, const float *w, const float *bias,
                      const float *res, float *y, int64_t n, int64_t c, int64_t m, const nn_geom *g,
                      const onnx_activation *act)
{
    const int64_t kh = g->k[1], kw = g->k[2], sh = g->s[1], sw = g->s[2];
    const int64_t dh = g->d[1], dw = g->d[2], ih_n = g->in[1], iw_n = g->in[2];
    const int64_t oh = g->out[1], ow = g->out[2];
    if (g->nsp > 2 || kh > DW_MAX_K || kw > DW_MAX_K) return 0;
    int64_t rph[DW_MAX_K], cph[DW_MAX_K];
    int ri[DW_MAX_K], cj[DW_MAX_K];
    const int nr = dw_phases(kh, dh, sh, rph, ri), nc = dw_phases(kw, dw, sw, cph, cj);
    /* phase plane: rows 0..ph_rows, row length ld */
    const int64_t ph_rows = oh + ((kh - 1) * dh) / sh, ld = ow + ((kw - 1) * dw) / sw;
    const int flat = ld != ow && ow < DW_FLAT_BELOW;
    size_t plane, total;
    if (nn_mul_size((size_t)ph_rows, (size_t)ld, &plane) != 0 ||
        nn_mul3_size((size_t)nr * (size_t)nc + (flat ? 1 : 0), plane, 1, &total) != 0)
        return onnx_ctx_fail(ctx, "depthwise phase planes overflow");
    float *ph = nn_scratch_floats(ctx, total);
    if (!ph) return -1;
    memset(ph, 0, total * sizeof(float));
    float *tmp = flat ? ph + (size_t)nr * (size_t)nc * plane : NULL;

    /* per phase: the block of it that holds input, and where that block starts in a plane */
    struct { int64_t a0, rows, b0, cols, src; } blk[DW_MAX_K * DW_MAX_K];
    for (int r = 0; r < nr; r++) {
        for (int q = 0; q < nc; q++) {
            int64_t alo, ahi, blo, bhi;
            nn_valid_range(rph[r] - g->pb[1], sh, ih_n, ph_rows, &alo, &ahi);
            nn_valid_range(cph[q] - g->pb[2], sw, iw_n, ld, &blo, &bhi);
            int k = r * nc + q;
            blk[k].a0 = alo;
            blk[k].rows = ahi - alo;
            blk[k].b0 = blo;
            blk[k].cols = bhi - blo;
            blk[k].src = (alo * sh + rph[r] - g->pb[1]) * iw_n + blo * sw + cph[q] - g->pb[2];
        }
    }
    const int64_t ntaps = kh * kw;
    int64_t tap_off[DW_MAX_K * DW_MAX_K];
    for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++)
            tap_off[i * kw + j] = (int64_t)(ri[i] * nc + cj[j]) * (int64_t)plane +
                                  ((i * dh) / sh) * ld + (j * dw) / sw;

    const int64_t mult = m / c, in_size = ih_n * iw_n, out_size = oh * ow;
    const float *src[DW_MAX_K * DW_MAX_K];
    for (int64_t b = 0; b < n; b++) {
        for (int64_t ci = 0; ci < c; ci++) {
            const float *xp = x + (b * c + ci) * in_size;
            for (int k = 0; k < nr * nc; k++) {
                if (blk[k].rows <= 0 || blk[k].cols <= 0) continue;
                nn_k_gather_block(ph + (size_t)k * plane + blk[k].a0 * ld + blk[k].b0, ld,
                                  xp + blk[k].src, sh * iw_n, blk[k].rows, blk[k].cols, sw);
            }
            for (int64_t mk = 0; mk < mult; mk++) {
                const int64_t mo = ci * mult + mk;
                const float *wk = w + mo * ntaps;
                const float bv = bias ? bias[mo] : 0.0f;
                float *yp = y + (b * m + mo) * out_size;
                for (int64_t k = 0; k < ntaps; k++) src[k] = ph + tap_off[k];
                if (flat) { /* whole rows into tmp, then the first ow of each */
                    nn_k_dw_taps(tmp, src, wk, ntaps, bv, (oh - 1) * ld + ow);
                    for (int64_t r = 0; r < oh; r++)
                        memcpy(yp + r * ow, tmp + r * ld, (size_t)ow * sizeof(float));
                } else if (ld == ow) {
                    nn_k_dw_taps(yp, src, wk, ntaps, bv, out_size);
                } else {
                    for (int64_t r = 0; r < oh; r++) {
                        nn_k_dw_taps(yp + r * ow, src, wk, ntaps, bv, ow);
                        for (int64_t k = 0; k < ntaps; k++) src[k] += ld;
                    }
                }
                if (res) nn_k_add_vec(yp, res + (b * m + mo) * out_size, out_size);
                nn_activation_run(act, yp, out_size);
            }
        }
    }
    return 1;
}
