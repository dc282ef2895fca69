/* Shape-only operators: the output is the input's bytes under a new shape (Reshape, Flatten,
 * Squeeze, Unsqueeze, Identity: views, no copy) or describes the shape itself (Shape, Size). */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

/* Output 0 becomes a view of input 0 with another shape (the executor keeps the input's buffer
 * alive while the view is, and copies a view of a caller input or constant where needed). */
static int shape_view(onnx_ctx *ctx, const onnx_tensor *x, int ndim, const int64_t *dims)
{
    /* strings keep their packed bytes too: the element count is what must agree */
    if (x->dtype != INFERD_DTYPE_BYTES && !onnx_tu_esize(ctx, x)) return -1;
    if (!onnx_ctx_output_wanted(ctx, 0)) return 0;
    return onnx_ctx_alias_output(ctx, 0, 0, ndim, dims) ? 0 : -1;
}

int onnx_run_reshape(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *shape = onnx_ctx_input(ctx, 1);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    int64_t dims[ONNX_MAX_DIMS];
    int n;
    if (shape) {
        if (onnx_tu_read_ints(ctx, shape, "shape", dims, ONNX_MAX_DIMS, &n) < 0) return -1;
    } else {
        const int64_t *a;
        n = onnx_attr_ints(onnx_ctx_node(ctx), "shape", &a); /* opset < 5 */
        if (n < 0) return onnx_ctx_fail(ctx, "missing shape");
        if (n > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "rank %d too large", n);
        memcpy(dims, a, (size_t)n * sizeof *dims);
    }
    int allowzero = (int)onnx_attr_int(onnx_ctx_node(ctx), "allowzero", 0);
    if (onnx_tu_reshape_dims(ctx, x->dims, x->ndim, onnx_tensor_numel(x), allowzero, dims, n) < 0)
        return -1;
    return shape_view(ctx, x, n, dims);
}

int onnx_run_flatten(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    int64_t axis = onnx_attr_int(onnx_ctx_node(ctx), "axis", 1);
    if (axis < -(int64_t)x->ndim || axis > x->ndim)
        return onnx_ctx_fail(ctx, "axis %lld out of range for rank %d", (long long)axis, x->ndim);
    if (axis < 0) axis += x->ndim;
    int64_t dims[2] = {onnx_tu_prod(x->dims, 0, (int)axis),
                       onnx_tu_prod(x->dims, (int)axis, x->ndim)};
    return shape_view(ctx, x, 2, dims);
}

int onnx_run_squeeze(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    int64_t axes[ONNX_MAX_DIMS];
    int n;
    if (onnx_tu_axes_input_or_attr(ctx, 1, axes, ONNX_MAX_DIMS, &n) < 0) return -1;
    if (n > 0 && onnx_tu_axes(ctx, axes, n, x->ndim) < 0) return -1;
    int drop[ONNX_MAX_DIMS] = {0};
    if (n <= 0) {
        for (int i = 0; i < x->ndim; i++) drop[i] = x->dims[i] == 1;
    } else {
        for (int i = 0; i < n; i++) {
            if (x->dims[axes[i]] != 1)
                return onnx_ctx_fail(ctx, "cannot squeeze axis %d of size %lld", (int)axes[i],
                                     (long long)x->dims[axes[i]]);
            drop[axes[i]] = 1;
        }
    }
    int64_t dims[ONNX_MAX_DIMS];
    int r = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i]) dims[r++] = x->dims[i];
    return shape_view(ctx, x, r, dims);
}

int onnx_run_unsqueeze(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    int64_t axes[ONNX_MAX_DIMS];
    int n;
    if (onnx_tu_axes_input_or_attr(ctx, 1, axes, ONNX_MAX_DIMS, &n) < 0) return -1;
    if (n < 0) return onnx_ctx_fail(ctx, "missing axes");
    int r = x->ndim + n;
    if (r > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "output rank %d too large", r);
    if (onnx_tu_axes(ctx, axes, n, r) < 0) return -1;
    int ins[ONNX_MAX_DIMS] = {0};
    for (int i = 0; i < n; i++) ins[axes[i]] = 1;
    int64_t dims[ONNX_MAX_DIMS];
    for (int i = 0, j = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
    return shape_view(ctx, x, r, dims);
}

int onnx_run_identity(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    return shape_view(ctx, x, x->ndim, x->dims);
}

int onnx_run_shape(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    int64_t r = x->ndim;
    int64_t start = onnx_attr_int(onnx_ctx_node(ctx), "start", 0);
    int64_t end = onnx_attr_int(onnx_ctx_node(ctx), "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = start < 0 ? 0 : start > r ? r : start;
    end = end < 0 ? 0 : end > r ? r : end;
    int64_t n = end > start ? end - start : 0;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT64, 1, &n);
    if (!y) return -1;
    for (int64_t i = 0; i < n; i++) ((int64_t *)y->data)[i] = x->dims[start + i];
    return 0;
}

int onnx_run_size(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT64, 0, NULL);
    if (!y) return -1;
    *(int64_t *)y->data = onnx_tensor_numel(x);
    return 0;
}
