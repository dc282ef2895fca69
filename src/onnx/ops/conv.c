/* Conv (1-D/2-D/3-D, groups, dilations, pads, auto_pad) in float32: im2col + sgemm in general,
 * a plain GEMM for 1x1 stride-1 kernels, phase planes for depthwise (conv_depthwise.c).
 * The GEMM's output is first filled with the bias (and the fused residual, see fuse.c) and the
 * product accumulated onto it (beta 1), which replaces both OpenBLAS's zeroing of C and a
 * separate bias pass; the fused activation then runs per image while it is in cache.
 * The ONNX weight layout M x (C/group * kernel) is already the GEMM's A matrix per group, so
 * constant weights need no packing at load. */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "ew_engine.h"
#include "nn_common.h"
#include "nn_kernels.h"
#include "nn_ops.h"

/* GEMMs narrower than this many columns batch several images (see nn_conv_run). */
#define CONV_MIN_GEMM_COLS 512

/* Unfolds one group's input (c_n channels of g->in) into col: rows (c, kd, kh, kw) ld floats
 * apart, columns the output positions; padding reads as zero. */
static void conv_im2col(const float *x, int64_t c_n, const nn_geom *g, float *col, int64_t ld)
{
    const int64_t o0 = g->out[0], o1 = g->out[1], o2 = g->out[2];
    const int64_t plane = o1 * o2, in_size = nn_geom_in_size(g);
    for (int64_t c = 0; c < c_n; c++) {
        const float *xc = x + c * in_size;
        for (int64_t kd = 0; kd < g->k[0]; kd++)
        for (int64_t kh = 0; kh < g->k[1]; kh++)
        for (int64_t kw = 0; kw < g->k[2]; kw++) {
            int64_t off_w = kw * g->d[2] - g->pb[2], lo, hi;
            nn_valid_range(off_w, g->s[2], g->in[2], o2, &lo, &hi);
            for (int64_t od = 0; od < o0; od++) {
                int64_t id = od * g->s[0] - g->pb[0] + kd * g->d[0];
                float *crow = col + od * plane;
                if (id < 0 || id >= g->in[0]) {
                    memset(crow, 0, (size_t)plane * sizeof(float));
                    continue;
                }
                for (int64_t oh = 0; oh < o1; oh++, crow += o2) {
                    int64_t ih = oh * g->s[1] - g->pb[1] + kh * g->d[1];
                    if (ih < 0 || ih >= g->in[1]) {
                        memset(crow, 0, (size_t)o2 * sizeof(float));
                        continue;
                    }
                    const float *xr = xc + (id * g->in[1] + ih) * g->in[2];
                    if (lo > 0) memset(crow, 0, (size_t)lo * sizeof(float));
                    if (g->s[2] == 1) {
                        if (hi > lo)
                            memcpy(crow + lo, xr + lo + off_w, (size_t)(hi - lo) * sizeof(float));
                    } else if (hi > lo) {
                        nn_k_copy_strided(crow + lo, xr + lo * g->s[2] + off_w, hi - lo, g->s[2]);
                    }
                    if (hi < o2) memset(crow + hi, 0, (size_t)(o2 - hi) * sizeof(float));
                }
            }
            col += ld;
        }
    }
}

/* Row kernel for a residual that broadcasts to a larger shape than the Conv's (rare: the fused
 * Add then runs here as a broadcast Add would). */
static void conv_add_row(void *out, const void *const *in, const int64_t *step, int64_t n,
                         const void *param)
{
    (void)param;
    float *o = out;
    const float *a = in[0], *b = in[1];
    for (int64_t i = 0; i < n; i++) o[i] = a[i * step[0]] + b[i * step[1]];
}

/* y (n x m x out_size) = conv(x) + bias + res (each optional), then act. */
static int conv_compute(onnx_ctx *ctx, const float *xd, const float *wd, const float *bias,
                        const float *res, float *y, int64_t n, int64_t c, int64_t m,
                        int64_t group, const nn_geom *g, const onnx_activation *act)
{
    const int64_t cg = c / group, mg = m / group, ks = nn_geom_k_size(g);
    const int64_t in_size = nn_geom_in_size(g), out_size = nn_geom_out_size(g);
    const int64_t kdim = cg * ks;

    if (kdim == 0 || in_size == 0) { /* no input contributes: bias (+ residual) only */
        for (int64_t i = 0; i < n * m; i++) {
            const float bv = bias ? bias[i % m] : 0.0f;
            if (res) nn_k_shift(y + i * out_size, res + i * out_size, bv, out_size);
            else nn_k_fill(y + i * out_size, bv, out_size);
        }
        nn_activation_run(act, y, n * m * out_size);
        return 0;
    }
    if (group > 1 && group == c) {
        int rc = nn_conv_depthwise(ctx, xd, wd, bias, res, y, n, c, m, g, act);
        if (rc != 0) return rc < 0 ? -1 : 0;
    }
    if (mg > INT_MAX || out_size > INT_MAX || kdim > INT_MAX)
        return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");

    int pointwise = 1;
    for (int i = 0; i < NN_MAX_SPATIAL; i++)
        if (g->k[i] != 1 || g->s[i] != 1 || g->pb[i] != 0 || g->pe[i] != 0) pointwise = 0;
    /* Small output planes make thin GEMMs: then `chunk` images share one GEMM, their columns
     * side by side (ld apart), and the product is copied out per image. */
    int64_t chunk = 1;
    if (n > 1 && out_size < CONV_MIN_GEMM_COLS) {
        chunk = (CONV_MIN_GEMM_COLS + out_size - 1) / out_size;
        if (chunk > n) chunk = n;
    }
    const int64_t ld = chunk * out_size;
    if (ld > INT_MAX) return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    float *col = NULL, *ytmp = NULL;
    if (!pointwise || chunk > 1) {
        size_t col_n;
        if (nn_mul_size((size_t)kdim, (size_t)ld, &col_n) != 0)
            return onnx_ctx_fail(ctx, "im2col buffer size overflows");
        if (!(col = nn_scratch_floats(ctx, col_n))) return -1;
    }
    if (chunk > 1 && !(ytmp = nn_scratch_floats(ctx, (size_t)(mg * ld)))) return -1;
    const int prefill = bias || res;
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
        const int64_t nb = n - i0 < chunk ? n - i0 : chunk;
        for (int64_t gi = 0; gi < group; gi++) {
            const float *bmat = xd + (i0 * c + gi * cg) * in_size;
            for (int64_t b = 0; b < nb && col; b++) {
                const float *xg = xd + ((i0 + b) * c + gi * cg) * in_size;
                if (!pointwise) {
                    conv_im2col(xg, cg, g, col + b * out_size, ld);
                } else {
                    for (int64_t ci = 0; ci < cg; ci++)
                        memcpy(col + ci * ld + b * out_size, xg + ci * in_size,
                               (size_t)out_size * sizeof(float));
                }
            }
            if (col) bmat = col;
            float *dst = chunk > 1 ? ytmp : y + (i0 * m + gi * mg) * out_size;
            for (int64_t b = 0; b < nb && prefill; b++) {
                for (int64_t mo = 0; mo < mg; mo++) {
                    const int64_t ch = gi * mg + mo, at = ((i0 + b) * m + ch) * out_size;
                    const float bv = bias ? bias[ch] : 0.0f;
                    if (res) nn_k_shift(dst + mo * ld + b * out_size, res + at, bv, out_size);
                    else nn_k_fill(dst + mo * ld + b * out_size, bv, out_size);
                }
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)(nb * out_size),
                        (int)kdim, 1.0f, wd + gi * mg * kdim, (int)kdim, bmat, (int)ld,
                        prefill ? 1.0f : 0.0f, dst, (int)ld);
            for (int64_t b = 0; b < nb && chunk > 1; b++)
                for (int64_t mo = 0; mo < mg; mo++)
                    memcpy(y + ((i0 + b) * m + gi * mg + mo) * out_size,
                           ytmp + mo * ld + b * out_size, (size_t)out_size * sizeof(float));
        }
        nn_activation_run(act, y + i0 * m * out_size, nb * m * out_size);
    }
    return 0;
}

static int same_shape(const onnx_tensor *t, int ndim, const int64_t *dims)
{
    if (t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i]) return 0;
    return 1;
}

int nn_conv_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *w = onnx_ctx_input(ctx, 1);
    const onnx_tensor *b = onnx_ctx_input(ctx, 2);
    /* input 3: the other operand of an Add fused into this Conv (fuse.c) */
    const onnx_tensor *r = onnx_attr_int(node, "inferd_residual", 0) ? onnx_ctx_input(ctx, 3) : NULL;
    if (!x || !w) return onnx_ctx_fail(ctx, "needs inputs X and W");
    if (x->dtype != INFERD_DTYPE_FP32 || w->dtype != INFERD_DTYPE_FP32 ||
        (b && b->dtype != INFERD_DTYPE_FP32) || (r && r->dtype != INFERD_DTYPE_FP32))
        return onnx_ctx_fail(ctx, "only float32 is supported");
    if (x->ndim < 3 || w->ndim != x->ndim)
        return onnx_ctx_fail(ctx, "X rank %d and W rank %d; expected equal ranks >= 3", x->ndim,
                             w->ndim);
    const int64_t group = onnx_attr_int(node, "group", 1);
    const int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0];
    if (group < 1 || c % group != 0 || m % group != 0 || w->dims[1] * group != c)
        return onnx_ctx_fail(ctx, "group %lld does not fit X channels %lld and W %lld x %lld",
                             (long long)group, (long long)c, (long long)m,
                             (long long)w->dims[1]);
    if (b && (b->ndim != 1 || b->dims[0] != m))
        return onnx_ctx_fail(ctx, "bias must be 1-D with %lld values", (long long)m);
    nn_geom g;
    if (nn_geom_window(ctx, node, x, w->dims + 2, 0, &g) != 0) return -1;
    onnx_activation act;
    if (nn_activation_read(ctx, node, &act) != 0) return -1;

    int64_t dims[ONNX_MAX_DIMS];
    int rank = nn_geom_out_dims(&g, n, m, dims);
    const float *bias = b ? b->data : NULL;
    if (!r || same_shape(r, rank, dims)) {
        onnx_tensor *yt = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, rank, dims);
        if (!yt) return -1;
        if (onnx_tensor_numel(yt) == 0) return 0;
        return conv_compute(ctx, x->data, w->data, bias, r ? r->data : NULL, yt->data, n, c, m,
                            group, &g, &act);
    }
    /* the residual broadcasts: the Conv into scratch, then the Add's broadcast, then act */
    onnx_tensor t = {.dtype = INFERD_DTYPE_FP32, .ndim = rank};
    memcpy(t.dims, dims, (size_t)rank * sizeof dims[0]);
    const onnx_activation none = {.kind = ONNX_ACT_NONE};
    const int64_t numel = onnx_tensor_numel(&t);
    if (numel > 0) {
        if (!(t.data = nn_scratch_floats(ctx, (size_t)numel))) return -1;
        if (conv_compute(ctx, x->data, w->data, bias, NULL, t.data, n, c, m, group, &g, &none))
            return -1;
    }
    const onnx_tensor *ins[2] = {&t, r};
    onnx_tensor *out;
    if (ew_broadcast_run(ctx, 2, ins, INFERD_DTYPE_FP32, conv_add_row, NULL, &out) != 0) return -1;
    nn_activation_run(&act, out->data, onnx_tensor_numel(out));
    return 0;
}
