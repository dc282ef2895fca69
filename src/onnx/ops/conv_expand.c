/* A 1x1 convolution fused into the depthwise Conv that reads it (fuse_conv_dw.c; MobileNet's
 * expansion): per image, bands of the depthwise output's rows are made from the expansion of
 * just the input rows they read (one GEMM per band, B being those rows of X in place, the 1x1 weights packed at load), so
 * the expanded tensor, the widest of the block, stays in L2 between the two instead of being
 * written to and read back from memory. Rows shared by neighbouring bands (the window's
 * overlap) are expanded twice. Small expansions are made whole, then convolved as usual. */
#include <limits.h>
#include <string.h>

#include "conv_phase.h"
#include "nn_common.h"
#include "nn_gemm.h"
#include "nn_kernels.h"

/* Floats of a band of the expanded tensor (512 KiB, half of L2). */
#define EXPAND_BAND_FLOATS (128 * 1024)
/* Bands only when one image's expansion is larger than L2 (1 MiB; MobileNetV2's 112x112 and
 * 56x56 blocks, +2-4% overall at batch 1): a smaller one stays in L2 between the two
 * convolutions anyway, and there bands measured no faster, since the rows their windows
 * share are expanded twice. The caller then expands whole (nn_conv_expand_whole). */
#define EXPAND_MIN_FLOATS (256 * 1024)

/* buf (e_ch x (r1 - r0) * in_w) = act(we (e_ch x c; or wep, packed) * rows r0 .. r1 of xb (c
 * planes of in_size floats) + be (if not NULL)). Returns 0 or -1 (error set). */
static int expand_rows(onnx_ctx *ctx, const float *xb, int64_t c, int64_t in_size, int64_t in_w,
                       int64_t r0, int64_t r1, const float *we, const onnx_gemm_packed *wep,
                       const float *be, int64_t e_ch, const onnx_activation *act, float *buf)
{
    const int64_t cols = (r1 - r0) * in_w;
    if (cols <= 0) return 0;
    onnx_gemm_args g = {.m = e_ch,
                        .n = cols,
                        .k = c,
                        .a = we,
                        .lda = c,
                        .b = xb + r0 * in_w,
                        .ldb = in_size,
                        .alpha = 1.0f,
                        .c = buf,
                        .ldc = cols,
                        .row_bias = be,
                        .act = *act};
    if (onnx_gemm_packed_fits(wep, 1, c, e_ch)) g.pa = wep;
    return nn_gemm_f32(ctx, &g);
}

static int dims_fit_blas(onnx_ctx *ctx, int64_t c, int64_t e_ch, int64_t in_size)
{
    if (c > INT_MAX || e_ch > INT_MAX || in_size > INT_MAX)
        return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    return 0;
}

int nn_expand_takes_act(const onnx_activation *act_in)
{
    return act_in->kind != ONNX_ACT_NONE && act_in->kind != ONNX_ACT_RELU;
}

float *nn_conv_expand_whole(onnx_ctx *ctx, const float *x, int64_t n, int64_t c, int64_t in_h,
                            int64_t in_w, const float *we, const onnx_gemm_packed *wep,
                            const float *be, int64_t e_ch, const onnx_activation *act)
{
    const int64_t in_size = in_h * in_w;
    size_t total;
    if (dims_fit_blas(ctx, c, e_ch, in_size) != 0) return NULL;
    if (nn_mul3_size((size_t)n, (size_t)e_ch, (size_t)in_size, &total) != 0) {
        onnx_ctx_fail(ctx, "expanded input size overflows");
        return NULL;
    }
    float *out = nn_scratch_floats(ctx, total);
    if (!out) return NULL;
    for (int64_t b = 0; b < n; b++)
        if (expand_rows(ctx, x + b * c * in_size, c, in_size, in_w, 0, in_h, we, wep, be, e_ch, act,
                        out + b * e_ch * in_size) != 0)
            return NULL;
    return out;
}

int nn_conv_expand_depthwise(onnx_ctx *ctx, const float *x, int64_t c, const float *we,
                             const onnx_gemm_packed *wep, const float *be, int64_t e_ch,
                             const float *w, const float *bias, const float *res, float *y,
                             int64_t n, int64_t m, const nn_geom *g, const onnx_activation *act_in,
                             const onnx_activation *act)
{
    /* a Clip of the expansion (or the 1x1's SiLU, HardSwish...) is applied in the GEMM's
     * store, once per value (a Clip: the same arithmetic as the gather's), instead of at every
     * tap that reads it */
    const onnx_activation none = {.kind = ONNX_ACT_NONE};
    const onnx_activation *act_e = &none;
    if (nn_expand_takes_act(act_in)) {
        act_e = act_in;
        act_in = &none;
    }
    int in_mode, out_mode;
    if (g->nsp != 2 || m % e_ch != 0 || nn_dw_modes(act_in, act, res != NULL, &in_mode, &out_mode))
        return 0;
    const int64_t in_h = g->in[1], in_w = g->in[2], oh = g->out[1], ow = g->out[2];
    const int64_t s = g->s[1], ext = (g->k[1] - 1) * g->d[1] + 1, pt = g->pb[1];
    const int64_t in_size = in_h * in_w, out_size = oh * ow;
    if (dims_fit_blas(ctx, c, e_ch, in_size) != 0) return -1;
    if (e_ch * in_size <= EXPAND_MIN_FLOATS) return 0;
    /* bo output rows per band: their input rows, (bo - 1) * s + ext, fill about a band */
    int64_t rows_in = EXPAND_BAND_FLOATS / (e_ch * in_w);
    if (rows_in < ext) rows_in = ext;
    int64_t bo = (rows_in - ext) / s + 1;
    if (bo > oh) bo = oh;
    const int64_t bands = (oh + bo - 1) / bo;
    int64_t max_in = (bo - 1) * s + ext;
    if (max_in > in_h) max_in = in_h;
    /* band b's geometry: input rows [lo, hi) of the unpadded input, those outside it padding */
    nn_geom gb = *g;
    nn_phase_plan p;
    gb.out[1] = bo;
    gb.in[1] = max_in;
    gb.pb[1] = gb.pe[1] = 0;
    int rc = nn_phase_plan_make(&gb, &p); /* the largest band's plan sizes the scratch */
    if (rc > 0) return 0;
    if (rc < 0) return onnx_ctx_fail(ctx, "depthwise phase planes overflow");
    size_t buf_n;
    if (nn_mul3_size((size_t)e_ch, (size_t)max_in, (size_t)in_w, &buf_n) != 0)
        return onnx_ctx_fail(ctx, "expansion band overflows");
    float *buf = nn_scratch_floats(ctx, buf_n);
    nn_dw_scratch sc;
    if (!buf || nn_dw_scratch_make(ctx, &p, e_ch, m / e_ch, 0, &sc) != 0) return -1;

    for (int64_t b = 0; b < n; b++) {
        for (int64_t k = 0; k < bands; k++) {
            const int64_t r0 = k * bo, r1 = r0 + bo < oh ? r0 + bo : oh;
            const int64_t lo = r0 * s - pt, hi = (r1 - 1) * s + ext - pt;
            const int64_t a = lo > 0 ? lo : 0, e = hi < in_h ? hi : in_h;
            gb.out[1] = r1 - r0;
            gb.in[1] = e > a ? e - a : 0;
            gb.pb[1] = a - lo;
            gb.pe[1] = hi - (e > a ? e : a);
            if (nn_phase_plan_make(&gb, &p) != 0) return onnx_ctx_fail(ctx, "band plan failed");
            if (e > a && expand_rows(ctx, x + b * c * in_size, c, in_size, in_w, a, e, we, wep, be,
                                     e_ch, act_e, buf) != 0)
                return -1;
            const int64_t at = b * m * out_size + r0 * ow;
            nn_dw_direct dd;
            const int direct = nn_dw_direct_fits(&gb, &dd);
            const nn_dw_io io = {.x = buf,
                                 .x_plane = (e > a ? e - a : 0) * in_w,
                                 .y = y + at,
                                 .y_plane = out_size,
                                 .res = res ? res + at : NULL,
                                 .part0 = (b * bands + k) * e_ch,
                                 .parts = n * bands * e_ch,
                                 .direct = direct ? &dd : NULL};
            /* (nn_dw_planes zeroes the phases: this band's padding, where others had input) */
            nn_dw_planes(ctx, &p, &sc, &io, e_ch, m / e_ch, w, bias, in_mode, out_mode, act_in,
                         act);
        }
    }
    return 1;
}
