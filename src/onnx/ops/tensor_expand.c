/* Expand (numpy broadcast to a shape) and Tile (repeat along each axis). */
#include "tensor_ops.h"
#include "tensor_util.h"
#include "../broadcast.h"

#include <string.h>

int onnx_run_expand(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *shape = onnx_ctx_input(ctx, 1);
    if (!x || !shape) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    int64_t want[ONNX_MAX_DIMS], dims[ONNX_MAX_DIMS], strides[ONNX_MAX_DIMS];
    int n, r;
    if (onnx_tu_read_ints(ctx, shape, "shape", want, ONNX_MAX_DIMS, &n) < 0) return -1;
    for (int i = 0; i < n; i++)
        if (want[i] < 0) return onnx_ctx_fail(ctx, "negative dim %lld", (long long)want[i]);
    int ndims[2] = {x->ndim, n};
    const int64_t *dimp[2] = {x->dims, want};
    if (onnx_broadcast_shape(2, ndims, dimp, &r, dims) < 0)
        return onnx_ctx_fail(ctx, "input shape cannot broadcast to the requested shape");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    onnx_broadcast_strides(x, r, dims, strides);
    onnx_tu_copy_strided(y->data, x->data, r, dims, strides, 0, es);
    return 0;
}

int onnx_run_tile(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *rep = onnx_ctx_input(ctx, 1);
    if (!x || !rep) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    int r = x->ndim, n;
    int64_t reps[ONNX_MAX_DIMS], dims[ONNX_MAX_DIMS];
    if (onnx_tu_read_ints(ctx, rep, "repeats", reps, ONNX_MAX_DIMS, &n) < 0) return -1;
    if (n != r) return onnx_ctx_fail(ctx, "%d repeats for rank %d", n, r);
    for (int k = 0; k < r; k++)
        if (onnx_tu_mul(x->dims[k], reps[k], &dims[k]) < 0)
            return onnx_ctx_fail(ctx, "bad repeat %lld on axis %d", (long long)reps[k], k);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    int64_t total = onnx_tensor_numel(y);
    if (total == 0) return 0;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return 0;
    }
    /* Each output row (last axis) is the source row repeated; rows come from c % dims. */
    int64_t xs[ONNX_MAX_DIMS], c[ONNX_MAX_DIMS] = {0};
    onnx_tensor_strides(x, xs);
    int64_t d = x->dims[r - 1];
    size_t row = (size_t)d * es;
    char *o = y->data;
    for (int64_t done = 0; done < total; done += dims[r - 1]) {
        int64_t src = 0;
        for (int k = 0; k < r - 1; k++) src += (c[k] % x->dims[k]) * xs[k];
        for (int64_t t = 0; t < reps[r - 1]; t++, o += row)
            memcpy(o, (const char *)x->data + src * (int64_t)es, row);
        for (int k = r - 2; k >= 0; k--) {
            if (++c[k] < dims[k]) break;
            c[k] = 0;
        }
    }
    return 0;
}
