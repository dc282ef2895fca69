/* Softmax, LogSoftmax and Hardmax in float32. Before opset 13 the input is flattened to 2-D
 * at `axis` (default 1) and the op runs over the whole second dim; from opset 13 it runs over
 * the single dim `axis` (default -1). Both reduce to (outer, n, inner) blocks. */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_kernels.h"
#include "nn_ops.h"

typedef enum softmax_kind { SOFTMAX, LOG_SOFTMAX, HARDMAX } softmax_kind;

/* One (n x inner) block: x[i * inner + j] for i < n; mx, sum are scratch of inner floats. */
static void softmax_block(softmax_kind kind, const float *x, float *y, int64_t n, int64_t inner,
                          float *mx, float *sum)
{
    for (int64_t j = 0; j < inner; j++) mx[j] = x[j];
    for (int64_t i = 1; i < n; i++) {
        const float *xr = x + i * inner;
        for (int64_t j = 0; j < inner; j++)
            if (xr[j] > mx[j]) mx[j] = xr[j];
    }
    if (kind == HARDMAX) {
        /* first occurrence of the maximum gets 1; sum[j] marks "already set" */
        for (int64_t j = 0; j < inner; j++) sum[j] = 0.0f;
        for (int64_t i = 0; i < n; i++) {
            const float *xr = x + i * inner;
            float *yr = y + i * inner;
            for (int64_t j = 0; j < inner; j++) {
                int hit = sum[j] == 0.0f && xr[j] == mx[j];
                yr[j] = hit ? 1.0f : 0.0f;
                if (hit) sum[j] = 1.0f;
            }
        }
        return;
    }
    for (int64_t j = 0; j < inner; j++) sum[j] = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        const float *xr = x + i * inner;
        float *yr = y + i * inner;
        for (int64_t j = 0; j < inner; j++) {
            float e = expf(xr[j] - mx[j]);
            sum[j] += e;
            if (kind == SOFTMAX) yr[j] = e;
        }
    }
    if (kind == SOFTMAX) {
        for (int64_t j = 0; j < inner; j++) sum[j] = 1.0f / sum[j];
        for (int64_t i = 0; i < n; i++) {
            float *yr = y + i * inner;
            for (int64_t j = 0; j < inner; j++) yr[j] *= sum[j];
        }
    } else {
        for (int64_t j = 0; j < inner; j++) mx[j] += logf(sum[j]);
        for (int64_t i = 0; i < n; i++) {
            const float *xr = x + i * inner;
            float *yr = y + i * inner;
            for (int64_t j = 0; j < inner; j++) yr[j] = xr[j] - mx[j];
        }
    }
}

typedef struct softmax_rows_job {
    float *y;
    const float *x;
    int64_t n;
    int log;
} softmax_rows_job;

static void softmax_rows_range(void *arg, int64_t r0, int64_t r1)
{
    const softmax_rows_job *j = arg;
    nn_k_softmax_rows(j->y + r0 * j->n, j->x + r0 * j->n, r1 - r0, j->n, j->log);
}

static int softmax_run(onnx_ctx *ctx, softmax_kind kind)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "needs input X");
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim < 1) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    const int flatten = node->opset < 13;
    int64_t axis_attr = onnx_attr_int(node, "axis", flatten ? 1 : -1);
    int axis = nn_axis(axis_attr, x->ndim);
    if (flatten && axis_attr == x->ndim) axis = x->ndim; /* flatten allows axis == rank */
    if (axis < 0)
        return onnx_ctx_fail(ctx, "axis %lld out of range for rank %d", (long long)axis_attr,
                             x->ndim);
    int64_t outer = 1, n = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    if (flatten) {
        for (int i = axis; i < x->ndim; i++) n *= x->dims[i];
    } else {
        n = x->dims[axis];
        for (int i = axis + 1; i < x->ndim; i++) inner *= x->dims[i];
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, x->ndim, x->dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    size_t mx_n;
    if (nn_mul_size((size_t)inner, 2, &mx_n) != 0) return onnx_ctx_fail(ctx, "size overflows");
    float *mx = nn_scratch_floats(ctx, mx_n);
    if (!mx) return -1;
    const float *xd = x->data;
    float *yd = y->data;
    if (inner == 1 && kind != HARDMAX) { /* contiguous rows: vectorized, split over threads */
        softmax_rows_job j = {.y = yd, .x = xd, .n = n, .log = kind == LOG_SOFTMAX};
        nn_parallel_rows(ctx, outer, outer * n, softmax_rows_range, &j);
        return 0;
    }
    for (int64_t o = 0; o < outer; o++)
        softmax_block(kind, xd + o * n * inner, yd + o * n * inner, n, inner, mx, mx + inner);
    return 0;
}

int nn_softmax_run(onnx_ctx *ctx)
{
    return softmax_run(ctx, SOFTMAX);
}
int nn_logsoftmax_run(onnx_ctx *ctx)
{
    return softmax_run(ctx, LOG_SOFTMAX);
}
int nn_hardmax_run(onnx_ctx *ctx)
{
    return softmax_run(ctx, HARDMAX);
}
