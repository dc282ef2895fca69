/* CumSum along one axis, with the exclusive and reverse variants. */
#include "tensor_ops.h"
#include "tensor_util.h"

#define CUMSUM_LOOP(T, ACC)                               \
    {                                                     \
        const T *src = x->data;                           \
        T *dst = y->data;                                 \
        for (int64_t a = 0; a < outer; a++)               \
            for (int64_t i = 0; i < inner; i++) {         \
                ACC acc = 0;                              \
                for (int64_t t = 0; t < d; t++) {         \
                    int64_t j = reverse ? d - 1 - t : t;  \
                    int64_t at = (a * d + j) * inner + i; \
                    if (exclusive) {                      \
                        dst[at] = (T)acc;                 \
                        acc = (ACC)(acc + (ACC)src[at]);  \
                    } else {                              \
                        acc = (ACC)(acc + (ACC)src[at]);  \
                        dst[at] = (T)acc;                 \
                    }                                     \
                }                                         \
            }                                             \
        break;                                            \
    }

int onnx_run_cumsum(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *ta = onnx_ctx_input(ctx, 1);
    if (!x || !ta) return onnx_ctx_fail(ctx, "missing input");
    if (onnx_tensor_numel(ta) != 1) return onnx_ctx_fail(ctx, "axis must be a scalar");
    int axis;
    if (x->ndim == 0) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    if (onnx_tu_axis(ctx, onnx_tensor_get_int(ta, 0), x->ndim, &axis) < 0) return -1;
    const onnx_node *node = onnx_ctx_node(ctx);
    int exclusive = onnx_attr_int(node, "exclusive", 0) != 0;
    int reverse = onnx_attr_int(node, "reverse", 0) != 0;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims);
    if (!y) return -1;
    if (onnx_tensor_numel(x) == 0) return 0;
    int64_t outer = onnx_tu_prod(x->dims, 0, axis), d = x->dims[axis];
    int64_t inner = onnx_tu_prod(x->dims, axis + 1, x->ndim);
    switch (x->dtype) {
    case INFERD_DTYPE_FP32: CUMSUM_LOOP(float, double)
    case INFERD_DTYPE_FP64: CUMSUM_LOOP(double, double)
    case INFERD_DTYPE_INT32: CUMSUM_LOOP(int32_t, int64_t)
    case INFERD_DTYPE_UINT32: CUMSUM_LOOP(uint32_t, uint64_t)
    case INFERD_DTYPE_INT64: CUMSUM_LOOP(uint64_t, uint64_t) /* two's complement wrap */
    case INFERD_DTYPE_UINT64: CUMSUM_LOOP(uint64_t, uint64_t)
    default: return onnx_ctx_fail(ctx, "type %s not supported", inferd_dtype_name(x->dtype));
    }
    return 0;
}
