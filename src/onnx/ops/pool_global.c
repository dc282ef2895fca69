/* GlobalAveragePool, GlobalMaxPool and GlobalLpPool: one value per (n, c) plane over all
 * spatial dims; output N x C x 1 x .. x 1. */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_kernels.h"
#include "nn_ops.h"

typedef enum global_mode { GLOBAL_AVG, GLOBAL_MAX, GLOBAL_LP } global_mode;

static int global_pool_run(onnx_ctx *ctx, global_mode mode)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "needs input X");
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim < 3)
        return onnx_ctx_fail(ctx, "input rank %d, expected N x C x spatial (>= 3)", x->ndim);
    float p = 2.0f;
    if (mode == GLOBAL_LP) {
        const onnx_attr *pa = onnx_node_attr(node, "p");
        if (pa) p = pa->type == ONNX_ATTR_FLOAT ? pa->f : (float)pa->i;
        if (!(p >= 1.0f && p <= 1e6f)) return onnx_ctx_fail(ctx, "p must be >= 1");
    }
    int64_t dims[ONNX_MAX_DIMS];
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (int i = 2; i < x->ndim; i++) dims[i] = 1;
    onnx_tensor *yt = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, x->ndim, dims);
    if (!yt) return -1;
    const int64_t planes = dims[0] * dims[1];
    if (planes == 0) return 0;
    const int64_t size = onnx_tensor_numel(x) / planes;
    float *y = yt->data;
    if (size == 0) {
        if (mode == GLOBAL_MAX) return onnx_ctx_fail(ctx, "empty spatial dims");
        memset(y, 0, onnx_tensor_nbytes(yt));
        return 0;
    }
    const float *xd = x->data;
    if (mode == GLOBAL_AVG) {
        nn_mean_rows(ctx, y, xd, planes, size);
        return 0;
    }
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = xd + pl * size;
        if (mode == GLOBAL_MAX) {
            float m = xp[0];
            for (int64_t i = 1; i < size; i++)
                if (xp[i] > m) m = xp[i];
            y[pl] = m;
        } else {
            float acc = 0.0f;
            for (int64_t i = 0; i < size; i++) acc += powf(fabsf(xp[i]), p);
            y[pl] = powf(acc, 1.0f / p);
        }
    }
    return 0;
}

int nn_global_avgpool_run(onnx_ctx *ctx)
{
    return global_pool_run(ctx, GLOBAL_AVG);
}
int nn_global_maxpool_run(onnx_ctx *ctx)
{
    return global_pool_run(ctx, GLOBAL_MAX);
}
int nn_global_lppool_run(onnx_ctx *ctx)
{
    return global_pool_run(ctx, GLOBAL_LP);
}
