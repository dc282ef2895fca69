/* LRN (local response normalization across channels), float32:
 * y = x / (bias + alpha / size * sum of squares over the channel window) ^ beta. */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_ops.h"

int nn_lrn_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "needs input X");
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim < 2) return onnx_ctx_fail(ctx, "input rank %d, expected >= 2", x->ndim);
    const int64_t size = onnx_attr_int(node, "size", 0);
    if (size < 1 || size > NN_ATTR_MAX) return onnx_ctx_fail(ctx, "size must be >= 1");
    const float alpha = onnx_attr_float(node, "alpha", 1e-4f);
    const float beta = onnx_attr_float(node, "beta", 0.75f);
    const float bias = onnx_attr_float(node, "bias", 1.0f);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, x->ndim, x->dims);
    if (!y) return -1;
    const int64_t total = onnx_tensor_numel(x);
    if (total == 0) return 0;
    const int64_t n = x->dims[0], c = x->dims[1], s = total / (n * c);
    const int64_t before = (size - 1) / 2, after = size - 1 - before;
    float *acc = nn_scratch_floats(ctx, (size_t)s);
    if (!acc) return -1;
    const float *xd = x->data;
    float *yd = y->data;
    const float k = alpha / (float)size;
    for (int64_t i = 0; i < n; i++) {
        for (int64_t ci = 0; ci < c; ci++) {
            int64_t lo = ci - before < 0 ? 0 : ci - before;
            int64_t hi = ci + after >= c ? c - 1 : ci + after;
            memset(acc, 0, (size_t)s * sizeof(float));
            for (int64_t cj = lo; cj <= hi; cj++) {
                const float *xp = xd + (i * c + cj) * s;
                for (int64_t j = 0; j < s; j++) acc[j] += xp[j] * xp[j];
            }
            const float *xp = xd + (i * c + ci) * s;
            float *yp = yd + (i * c + ci) * s;
            for (int64_t j = 0; j < s; j++) yp[j] = xp[j] / powf(bias + k * acc[j], beta);
        }
    }
    return 0;
}
