/* ConvTranspose (1-D/2-D/3-D, groups, dilations, pads, output_padding, output_shape,
 * auto_pad) in float32: per group one sgemm W^T * X into columns, then col2im scatters them
 * into the output (positions cut off by pads are dropped). */
#include <cblas.h>
#include <limits.h>
#include <string.h>

#include "nn_common.h"
#include "nn_ops.h"

static int64_t floor_half(int64_t t)
{
    return t >= 0 ? t / 2 : -((-t + 1) / 2);
}

/* Output geometry per the ONNX ConvTranspose spec; g->in/out/k/s/d/pb in canonical 3-D. */
static int convt_geom(onnx_ctx *ctx, const onnx_node *node, const onnx_tensor *x,
                      const onnx_tensor *w, nn_geom *g)
{
    const int nsp = x->ndim - 2, off = NN_MAX_SPATIAL - nsp;
    nn_spatial_attrs a;
    if (nn_spatial_attrs_read(ctx, node, nsp, &a) != 0) return -1;
    int64_t opad[NN_MAX_SPATIAL] = {0, 0, 0}, oshape[NN_MAX_SPATIAL + 2];
    const int64_t *v;
    int cnt = onnx_attr_ints(node, "output_padding", &v);
    if (cnt >= 0) {
        if (cnt != nsp) return onnx_ctx_fail(ctx, "output_padding has %d values", cnt);
        for (int i = 0; i < nsp; i++) {
            if (v[i] < 0 || v[i] > NN_ATTR_MAX)
                return onnx_ctx_fail(ctx, "output_padding[%d] out of range", i);
            opad[i] = v[i];
        }
    }
    int has_shape = onnx_attr_ints(node, "output_shape", &v);
    if (has_shape >= 0) {
        if (has_shape != nsp && has_shape != nsp + 2)
            return onnx_ctx_fail(ctx, "output_shape has %d values", has_shape);
        for (int i = 0; i < nsp; i++) {
            oshape[i] = v[has_shape - nsp + i];
            if (oshape[i] < 0 || oshape[i] > INT32_MAX)
                return onnx_ctx_fail(ctx, "output_shape[%d] out of range", i);
        }
    }
    g->nsp = nsp;
    for (int i = 0; i < NN_MAX_SPATIAL; i++) {
        g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
        g->pb[i] = g->pe[i] = 0;
    }
    for (int i = 0; i < nsp; i++) {
        int64_t in = x->dims[2 + i], k = w->dims[2 + i], s = a.s[i], d = a.d[i];
        if (k < 1) return onnx_ctx_fail(ctx, "weight has an empty spatial dim");
        if (a.has_kernel && a.k[i] != k)
            return onnx_ctx_fail(ctx, "kernel_shape[%d] does not match the weight", i);
        if (in < 1) return onnx_ctx_fail(ctx, "empty input spatial dim %d", i);
        if (in > (INT64_MAX / 4) / s) return onnx_ctx_fail(ctx, "spatial dim %d too large", i);
        int64_t full = s * (in - 1) + opad[i] + (k - 1) * d + 1, out, pb;
        if (has_shape >= 0 || a.auto_pad == NN_PAD_SAME_UPPER || a.auto_pad == NN_PAD_SAME_LOWER) {
            out = has_shape >= 0 ? oshape[i] : in * s;
            int64_t total = full - out;
            pb = a.auto_pad == NN_PAD_SAME_UPPER ? floor_half(total) : total - floor_half(total);
        } else if (a.auto_pad == NN_PAD_VALID) {
            out = full;
            pb = 0;
        } else {
            out = full - a.pb[i] - a.pe[i];
            pb = a.pb[i];
        }
        if (out < 0) return onnx_ctx_fail(ctx, "negative output size on spatial dim %d", i);
        int j = off + i;
        g->in[j] = in;
        g->out[j] = out;
        g->k[j] = k;
        g->s[j] = s;
        g->d[j] = d;
        g->pb[j] = pb;
    }
    return 0;
}

/* Adds col (rows (m, kd, kh, kw) x input positions) into y (m_n output channels). */
static void convt_col2im(const float *col, int64_t m_n, const nn_geom *g, float *y)
{
    const int64_t in_size = nn_geom_in_size(g), out_size = nn_geom_out_size(g);
    for (int64_t m = 0; m < m_n; m++) {
        float *ym = y + m * out_size;
        for (int64_t kd = 0; kd < g->k[0]; kd++)
            for (int64_t kh = 0; kh < g->k[1]; kh++)
                for (int64_t kw = 0; kw < g->k[2]; kw++, col += in_size) {
                    int64_t off_w = kw * g->d[2] - g->pb[2], lo, hi;
                    nn_valid_range(off_w, g->s[2], g->out[2], g->in[2], &lo, &hi);
                    for (int64_t id = 0; id < g->in[0]; id++) {
                        int64_t od = id * g->s[0] - g->pb[0] + kd * g->d[0];
                        if (od < 0 || od >= g->out[0]) continue;
                        for (int64_t ih = 0; ih < g->in[1]; ih++) {
                            int64_t oh = ih * g->s[1] - g->pb[1] + kh * g->d[1];
                            if (oh < 0 || oh >= g->out[1]) continue;
                            const float *cr = col + (id * g->in[1] + ih) * g->in[2];
                            float *yr = ym + (od * g->out[1] + oh) * g->out[2];
                            const int64_t s = g->s[2];
                            for (int64_t iw = lo; iw < hi; iw++) yr[iw * s + off_w] += cr[iw];
                        }
                    }
                }
    }
}

int nn_conv_transpose_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *w = onnx_ctx_input(ctx, 1);
    const onnx_tensor *b = onnx_ctx_input(ctx, 2);
    if (!x || !w) return onnx_ctx_fail(ctx, "needs inputs X and W");
    if (x->dtype != INFERD_DTYPE_FP32 || w->dtype != INFERD_DTYPE_FP32 ||
        (b && b->dtype != INFERD_DTYPE_FP32))
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim < 3 || x->ndim > NN_MAX_SPATIAL + 2 || w->ndim != x->ndim)
        return onnx_ctx_fail(ctx, "X rank %d and W rank %d; expected equal ranks 3..5", x->ndim,
                             w->ndim);
    const int64_t group = onnx_attr_int(node, "group", 1);
    const int64_t n = x->dims[0], c = x->dims[1];
    if (group < 1 || c % group != 0 || w->dims[0] != c || w->dims[1] > INT64_MAX / group)
        return onnx_ctx_fail(ctx, "group %lld does not fit X channels %lld and W %lld",
                             (long long)group, (long long)c, (long long)w->dims[0]);
    const int64_t mg = w->dims[1], m = mg * group, cg = c / group;
    if (b && (b->ndim != 1 || b->dims[0] != m))
        return onnx_ctx_fail(ctx, "bias must be 1-D with %lld values", (long long)m);
    nn_geom g;
    if (convt_geom(ctx, node, x, w, &g) != 0) return -1;
    onnx_activation act;
    if (nn_activation_read(ctx, node, &act) != 0) return -1;

    int64_t dims[ONNX_MAX_DIMS];
    int rank = nn_geom_out_dims(&g, n, m, dims);
    onnx_tensor *yt = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, rank, dims);
    if (!yt) return -1;
    if (onnx_tensor_numel(yt) == 0) return 0;
    float *y = yt->data;
    const float *bias = b ? b->data : NULL;
    const int64_t in_size = nn_geom_in_size(&g), out_size = nn_geom_out_size(&g);
    const int64_t kc = mg * nn_geom_k_size(&g);

    for (int64_t i = 0; i < n * m; i++) {
        float v = bias ? bias[i % m] : 0.0f;
        for (int64_t j = 0; j < out_size; j++) y[i * out_size + j] = v;
    }
    if (cg > 0 && kc > 0) {
        if (kc > INT_MAX || in_size > INT_MAX || cg > INT_MAX)
            return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
        size_t col_n;
        if (nn_mul_size((size_t)kc, (size_t)in_size, &col_n) != 0)
            return onnx_ctx_fail(ctx, "column buffer size overflows");
        float *col = nn_scratch_floats(ctx, col_n);
        if (!col) return -1;
        const float *xd = x->data, *wd = w->data;
        for (int64_t i = 0; i < n; i++) {
            for (int64_t gi = 0; gi < group; gi++) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kc, (int)in_size, (int)cg,
                            1.0f, wd + gi * cg * kc, (int)kc, xd + (i * c + gi * cg) * in_size,
                            (int)in_size, 0.0f, col, (int)in_size);
                convt_col2im(col, mg, &g, y + (i * m + gi * mg) * out_size);
            }
        }
    }
    nn_activation_run(&act, y, onnx_tensor_numel(yt));
    return 0;
}
