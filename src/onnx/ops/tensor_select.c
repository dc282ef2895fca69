/* Selection operators: NonZero (coordinates of non-zero elements), Compress (keep slices
 * where a condition holds) and Trilu (keep the upper or lower triangle). */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

/* 1 if element i is non-zero; floats compare by value so -0.0 counts as zero. */
static int is_nonzero(const onnx_tensor *t, size_t es, int64_t i)
{
    if (onnx_tu_is_float(t->dtype)) return onnx_tu_load(t->data, t->dtype, i) != 0;
    const unsigned char *p = (const unsigned char *)t->data + (size_t)i * es;
    for (size_t k = 0; k < es; k++)
        if (p[k]) return 1;
    return 0;
}

int onnx_run_non_zero(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    int64_t n = onnx_tensor_numel(x), nz = 0;
    for (int64_t i = 0; i < n; i++) nz += is_nonzero(x, es, i);
    int r = x->ndim ? x->ndim : 1; /* a scalar is treated as shape [1] */
    int64_t dims[2] = {r, nz};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT64, 2, dims);
    if (!y) return -1;
    if (nz == 0) return 0;
    int64_t *out = y->data, c[ONNX_MAX_DIMS] = {0}, j = 0;
    for (int64_t i = 0; i < n; i++) {
        if (is_nonzero(x, es, i)) {
            for (int k = 0; k < x->ndim; k++) out[k * nz + j] = c[k];
            if (x->ndim == 0) out[j] = 0;
            j++;
        }
        for (int k = x->ndim - 1; k >= 0; k--) {
            if (++c[k] < x->dims[k]) break;
            c[k] = 0;
        }
    }
    return 0;
}

int onnx_run_compress(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *cond = onnx_ctx_input(ctx, 1);
    if (!x || !cond) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    if (cond->ndim != 1) return onnx_ctx_fail(ctx, "condition must be 1-D");
    const onnx_attr *aa = onnx_node_attr(onnx_ctx_node(ctx), "axis");
    int64_t outer, d, inner, dims[ONNX_MAX_DIMS];
    int r, axis = 0;
    if (aa) {
        if (x->ndim == 0) return onnx_ctx_fail(ctx, "axis given for a scalar");
        if (onnx_tu_axis(ctx, aa->i, x->ndim, &axis) < 0) return -1;
        outer = onnx_tu_prod(x->dims, 0, axis);
        d = x->dims[axis];
        inner = onnx_tu_prod(x->dims, axis + 1, x->ndim);
        r = x->ndim;
        memcpy(dims, x->dims, sizeof dims);
    } else {
        outer = inner = 1;
        d = onnx_tensor_numel(x);
        r = 1;
    }
    int64_t nc = onnx_tensor_numel(cond), keep = 0;
    if (nc > d)
        return onnx_ctx_fail(ctx, "condition longer (%lld) than the axis (%lld)", (long long)nc,
                             (long long)d);
    for (int64_t i = 0; i < nc; i++) keep += onnx_tensor_get_int(cond, i) != 0;
    dims[aa ? axis : 0] = keep;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    size_t blk = (size_t)inner * es;
    char *o = y->data;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t i = 0; i < nc; i++)
            if (onnx_tensor_get_int(cond, i)) {
                memcpy(o, (const char *)x->data + ((size_t)a * (size_t)d + (size_t)i) * blk, blk);
                o += blk;
            }
    return 0;
}

int onnx_run_trilu(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *tk = onnx_ctx_input(ctx, 1);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    if (x->ndim < 2) return onnx_ctx_fail(ctx, "input must have rank >= 2");
    int64_t k = 0;
    if (tk) {
        if (onnx_tensor_numel(tk) != 1) return onnx_ctx_fail(ctx, "k must be a scalar");
        k = onnx_tensor_get_int(tk, 0);
    }
    int upper = (int)onnx_attr_int(onnx_ctx_node(ctx), "upper", 1);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims);
    if (!y) return -1;
    int64_t n = onnx_tensor_numel(x);
    if (n == 0) return 0;
    memcpy(y->data, x->data, (size_t)n * es);
    int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1];
    int64_t mats = n / (rows * cols);
    /* clamp k so i + k cannot overflow; beyond the matrix it changes nothing */
    k = k < -rows - 1 ? -rows - 1 : k > cols + 1 ? cols + 1 : k;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++) {
            char *row = (char *)y->data + (size_t)((m * rows + i) * cols) * es;
            /* upper keeps j >= i + k; lower keeps j <= i + k */
            int64_t lim = i + k;
            if (upper) {
                int64_t z = lim < 0 ? 0 : lim > cols ? cols : lim; /* zero [0, z) */
                memset(row, 0, (size_t)z * es);
            } else {
                int64_t z = lim + 1 < 0 ? 0 : lim + 1 > cols ? cols : lim + 1; /* zero [z, cols) */
                memset(row + (size_t)z * es, 0, (size_t)(cols - z) * es);
            }
        }
    return 0;
}
