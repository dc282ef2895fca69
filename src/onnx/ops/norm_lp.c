/* LpNormalization (1): x / ||x||_p along `axis` (default -1) with p 1 or 2 (default 2), in
 * float32 or float64 with a double accumulator. A zero vector stays zero (its norm is 0). */
#include <math.h>

#include "nn_ops.h"
#include "tensor_util.h"

int nn_lp_norm_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (x->dtype != INFERD_DTYPE_FP32 && x->dtype != INFERD_DTYPE_FP64 &&
        x->dtype != INFERD_DTYPE_FP16)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    if (x->ndim == 0) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    const int64_t p = onnx_attr_int(node, "p", 2);
    if (p != 1 && p != 2) return onnx_ctx_fail(ctx, "p must be 1 or 2, got %lld", (long long)p);
    int axis;
    if (onnx_tu_axis(ctx, onnx_attr_int(node, "axis", -1), x->ndim, &axis) < 0) return -1;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims);
    if (!y) return -1;
    const int64_t outer = onnx_tu_prod(x->dims, 0, axis), len = x->dims[axis];
    const int64_t inner = onnx_tu_prod(x->dims, axis + 1, x->ndim);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const int64_t base = o * len * inner + i;
            double norm = 0;
            for (int64_t k = 0; k < len; k++) {
                double v = onnx_tu_load(x->data, x->dtype, base + k * inner);
                norm += p == 1 ? fabs(v) : v * v;
            }
            if (p == 2) norm = sqrt(norm);
            for (int64_t k = 0; k < len; k++) {
                double v = onnx_tu_load(x->data, x->dtype, base + k * inner);
                onnx_tu_store(y->data, y->dtype, base + k * inner, norm > 0 ? v / norm : v);
            }
        }
    return 0;
}
