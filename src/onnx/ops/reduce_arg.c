/* ArgMax and ArgMin: int64 index of the extreme value along one axis (first occurrence, or
 * last with select_last_index), keepdims. */
#include "reduce_ops.h"
#include "tensor_util.h"

#include <math.h>
#include <string.h>

static int arg_run(onnx_ctx *ctx, int want_max)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (!onnx_tu_esize(ctx, x)) return -1;
    if (x->ndim == 0) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    int axis;
    if (onnx_tu_axis(ctx, onnx_attr_int(node, "axis", 0), x->ndim, &axis) < 0) return -1;
    int keep = onnx_attr_int(node, "keepdims", 1) != 0;
    int last = onnx_attr_int(node, "select_last_index", 0) != 0;
    int64_t dims[ONNX_MAX_DIMS];
    int r = 0;
    for (int k = 0; k < x->ndim; k++) {
        if (k != axis) dims[r++] = x->dims[k];
        else if (keep) dims[r++] = 1;
    }
    int64_t d = x->dims[axis];
    if (d == 0)
        return onnx_ctx_fail(ctx, "cannot take %s over an empty axis",
                             want_max ? "ArgMax" : "ArgMin");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT64, r, dims);
    if (!y) return -1;
    int64_t outer = onnx_tu_prod(x->dims, 0, axis),
            inner = onnx_tu_prod(x->dims, axis + 1, x->ndim);
    int is64 = x->dtype == INFERD_DTYPE_INT64;
    int64_t *out = y->data;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t best = 0;
            double bv = 0;
            int64_t bi = 0;
            for (int64_t j = 0; j < d; j++) {
                int64_t at = (a * d + j) * inner + i;
                int better;
                if (is64) {
                    int64_t v;
                    memcpy(&v, (const int64_t *)x->data + at, 8);
                    better = j == 0 ||
                             (want_max ? (last ? v >= bi : v > bi) : (last ? v <= bi : v < bi));
                    if (better) bi = v;
                } else {
                    double v = onnx_tu_load(x->data, x->dtype, at);
                    if (isnan(v)) v = want_max ? INFINITY : -INFINITY;
                    better = j == 0 ||
                             (want_max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv));
                    if (better) bv = v;
                }
                if (better) best = j;
            }
            out[a * inner + i] = best;
        }
    return 0;
}

int onnx_run_argmax(onnx_ctx *ctx)
{
    return arg_run(ctx, 1);
}
int onnx_run_argmin(onnx_ctx *ctx)
{
    return arg_run(ctx, 0);
}
