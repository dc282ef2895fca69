/* LayerNormalization (opset 17: axis, epsilon, Scale/B broadcast over the normalized dims,
 * optional Mean and InvStdDev outputs; inferd_perm_x: a fused channels-last Transpose of X,
 * inferd_perm_y: with it, the Transpose back, norm_layer_cl.c) and MeanVarianceNormalization (axes), float32. */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_kernels.h"
#include "matmul_cfirst.h"
#include "nn_ops.h"
#include "norm_layer_cl.h"

/* Scale/B of LayerNormalization must broadcast to dims[axis..rank). Returns 0 and sets *map
 * to NULL when p is laid out exactly like one normalized row, else fills a per-column offset
 * map (scratch); -1 (error set) when p does not broadcast. */
static int ln_param_map(onnx_ctx *ctx, const onnx_tensor *p, const onnx_tensor *x, int axis,
                        int64_t cols, int64_t **map)
{
    const int nn = x->ndim - axis;
    *map = NULL;
    if (p->dtype != INFERD_DTYPE_FP32 || p->ndim > nn)
        return onnx_ctx_fail(ctx, "Scale/B must be float32 of rank <= %d", nn);
    int exact = onnx_tensor_numel(p) == cols;
    int64_t strides[ONNX_MAX_DIMS], st = 1;
    for (int i = nn - 1; i >= 0; i--) {
        int pi = i - (nn - p->ndim);
        int64_t xd = x->dims[axis + i], pd = pi >= 0 ? p->dims[pi] : 1;
        if (pd != xd && pd != 1)
            return onnx_ctx_fail(ctx, "Scale/B do not broadcast to the normalized shape");
        strides[i] = pd == 1 ? 0 : st;
        st *= pd;
    }
    if (exact) return 0;
    size_t bytes;
    if (nn_mul_size((size_t)cols, sizeof(int64_t), &bytes) != 0)
        return onnx_ctx_fail(ctx, "scratch size overflows");
    int64_t *m = onnx_ctx_scratch(ctx, bytes ? bytes : sizeof(int64_t));
    if (!m) return -1;
    for (int64_t j = 0; j < cols; j++) {
        int64_t r = j, off = 0;
        for (int i = nn - 1; i >= 0; i--) {
            off += (r % x->dims[axis + i]) * strides[i];
            r /= x->dims[axis + i];
        }
        m[j] = off;
    }
    *map = m;
    return 0;
}

typedef struct ln_rows_job {
    float *y, *mean, *inv_std;
    const float *x, *sc, *bv;
    int64_t cols;
    float eps;
} ln_rows_job;

static void ln_rows_range(void *arg, int64_t r0, int64_t r1)
{
    const ln_rows_job *j = arg;
    nn_k_layer_norm(j->y + r0 * j->cols, j->x + r0 * j->cols, r1 - r0, j->cols, j->sc, j->bv,
                    j->eps, j->mean ? j->mean + r0 : NULL, j->inv_std ? j->inv_std + r0 : NULL);
}

int nn_layernorm_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *scale = onnx_ctx_input(ctx, 1);
    const onnx_tensor *bias = onnx_ctx_input(ctx, 2);
    if (!x || !scale) return onnx_ctx_fail(ctx, "needs inputs X and Scale");
    const onnx_attr *perm_y = onnx_node_attr(node, "inferd_perm_y"); /* the Transpose back */
    if (perm_y &&
        (!onnx_node_attr(node, "inferd_perm_x") || perm_y->type != ONNX_ATTR_INTS ||
         perm_y->n != (size_t)x->ndim || !nn_matmul_is_cfirst_perm(perm_y->ints, x->ndim)))
        return onnx_ctx_fail(ctx, "inferd_perm_y must undo inferd_perm_x");
    if (onnx_node_attr(node, "inferd_perm_x")) /* fused Transpose, axis -1 (fuse_cfirst.c) */
        return nn_layernorm_cfirst(ctx, x, scale, bias, onnx_attr_float(node, "epsilon", 1e-5f),
                                   perm_y != NULL);
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim < 1) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    int64_t axis_attr = onnx_attr_int(node, "axis", -1);
    int axis = nn_axis(axis_attr, x->ndim);
    if (axis < 0) return onnx_ctx_fail(ctx, "axis %lld out of range", (long long)axis_attr);
    const float eps = onnx_attr_float(node, "epsilon", 1e-5f);
    int64_t rows = 1, cols = 1;
    for (int i = 0; i < axis; i++) rows *= x->dims[i];
    for (int i = axis; i < x->ndim; i++) cols *= x->dims[i];
    int64_t *smap, *bmap = NULL;
    if (ln_param_map(ctx, scale, x, axis, cols, &smap) != 0) return -1;
    if (bias && ln_param_map(ctx, bias, x, axis, cols, &bmap) != 0) return -1;

    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, x->ndim, x->dims);
    if (!y) return -1;
    int64_t sdims[ONNX_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) sdims[i] = i < axis ? x->dims[i] : 1;
    onnx_tensor *mean_t = NULL, *inv_t = NULL;
    if (onnx_ctx_num_outputs(ctx) > 1 && onnx_ctx_output_wanted(ctx, 1) &&
        !(mean_t = onnx_ctx_output(ctx, 1, INFERD_DTYPE_FP32, x->ndim, sdims)))
        return -1;
    if (onnx_ctx_num_outputs(ctx) > 2 && onnx_ctx_output_wanted(ctx, 2) &&
        !(inv_t = onnx_ctx_output(ctx, 2, INFERD_DTYPE_FP32, x->ndim, sdims)))
        return -1;
    if (rows == 0) return 0;
    if (cols == 0) { /* empty rows: mean 0, variance 0 */
        for (int64_t r = 0; r < rows; r++) {
            if (mean_t) ((float *)mean_t->data)[r] = 0.0f;
            if (inv_t) ((float *)inv_t->data)[r] = 1.0f / sqrtf(eps);
        }
        return 0;
    }
    const float *xd = x->data, *sc = scale->data, *bv = bias ? bias->data : NULL;
    float *yd = y->data;
    float *mean = mean_t ? mean_t->data : NULL, *inv_std = inv_t ? inv_t->data : NULL;
    if (!smap && !bmap) { /* Scale and B laid out like a row: vectorized, split over threads */
        ln_rows_job j = {.y = yd,
                         .mean = mean,
                         .inv_std = inv_std,
                         .x = xd,
                         .sc = sc,
                         .bv = bv,
                         .cols = cols,
                         .eps = eps};
        nn_parallel_rows(ctx, rows, rows * cols, ln_rows_range, &j);
        return 0;
    }
    for (int64_t r = 0; r < rows; r++) { /* broadcast Scale or B: plain loops through the maps */
        const float *xr = xd + r * cols;
        float *yr = yd + r * cols;
        double sum = 0, sq = 0;
        for (int64_t j = 0; j < cols; j++) sum += xr[j];
        const float mu = (float)(sum / (double)cols);
        for (int64_t j = 0; j < cols; j++) sq += (double)(xr[j] - mu) * (xr[j] - mu);
        const float inv = 1.0f / sqrtf((float)(sq / (double)cols) + eps);
        if (mean) mean[r] = mu;
        if (inv_std) inv_std[r] = inv;
        for (int64_t j = 0; j < cols; j++) {
            float v = (xr[j] - mu) * inv * sc[smap ? smap[j] : j];
            yr[j] = bv ? v + bv[bmap ? bmap[j] : j] : v;
        }
    }
    return 0;
}

int nn_mvn_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "needs input X");
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    const int r = x->ndim;
    int reduce[ONNX_MAX_DIMS] = {0};
    const int64_t *axes;
    static const int64_t default_axes[3] = {0, 2, 3};
    int na = onnx_attr_ints(node, "axes", &axes);
    if (na < 0) {
        axes = default_axes;
        na = 3;
    }
    for (int i = 0; i < na; i++) {
        int a = nn_axis(axes[i], r);
        if (a < 0 || reduce[a])
            return onnx_ctx_fail(ctx, "axes[%d] = %lld invalid for rank %d", i, (long long)axes[i],
                                 r);
        reduce[a] = 1;
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, r, x->dims);
    if (!y) return -1;
    const int64_t total = onnx_tensor_numel(x);
    if (total == 0) return 0;
    /* kept (non-reduced) positions index the statistics; kstr = their strides */
    int64_t kstr[ONNX_MAX_DIMS], kept = 1;
    for (int i = r - 1; i >= 0; i--) {
        kstr[i] = reduce[i] ? 0 : kept;
        if (!reduce[i]) kept *= x->dims[i];
    }
    size_t bytes;
    if (nn_mul3_size((size_t)kept, 2, sizeof(double), &bytes) != 0)
        return onnx_ctx_fail(ctx, "scratch size overflows");
    double *st = onnx_ctx_scratch(ctx, bytes);
    if (!st) return -1;
    double *sum = st, *sq = st + kept;
    memset(st, 0, bytes);
    const float *xd = x->data;
    float *yd = y->data;
    for (int pass = 0; pass < 2; pass++) {
        int64_t idx[ONNX_MAX_DIMS] = {0}, k = 0;
        for (int64_t e = 0; e < total; e++) {
            if (pass == 0) {
                sum[k] += xd[e];
                sq[k] += (double)xd[e] * xd[e];
            } else {
                yd[e] = (float)((xd[e] - sum[k]) / (sq[k] + 1e-9));
            }
            for (int i = r - 1; i >= 0; i--) {
                k += kstr[i];
                if (++idx[i] < x->dims[i]) break;
                k -= kstr[i] * x->dims[i];
                idx[i] = 0;
            }
        }
        if (pass == 0) { /* sum -> mean, sq -> standard deviation */
            const double cnt = (double)(total / kept);
            for (int64_t i = 0; i < kept; i++) {
                double mu = sum[i] / cnt, v = sq[i] / cnt - mu * mu;
                sum[i] = mu;
                sq[i] = sqrt(v > 0.0 ? v : 0.0);
            }
        }
    }
    return 0;
}
