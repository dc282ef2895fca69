/* SqueezeExcite, the runtime's internal operator for the squeeze-and-excitation block (made by
 * fuse_se.c): per image n and channel c of X (N x C x spatial),
 *   Y[n, c] = X[n, c] * gate(W2 act(W1 mean(X[n]) + B1) + B2)[c]
 * with W1 R x C x 1 x 1, W2 C x R x 1 x 1, biases optional, act and gate per ops/activation.h
 * (attributes inferd_activation..., inferd_gate...). One pass over X to pool, one sgemm per
 * product over the whole batch, one pass to scale. */
#include <cblas.h>
#include <limits.h>

#include "activation.h"
#include "nn_common.h"
#include "nn_kernels.h"
#include "nn_ops.h"

/* Weight w is rows x cols x 1 x 1 float32 and bias b (if any) has rows values. */
static int se_weight_ok(const onnx_tensor *w, const onnx_tensor *b, int64_t rows, int64_t cols)
{
    if (!w || w->dtype != INFERD_DTYPE_FP32 || w->ndim != 4 || w->dims[0] != rows ||
        w->dims[1] != cols || w->dims[2] != 1 || w->dims[3] != 1)
        return 0;
    return !b || (b->dtype == INFERD_DTYPE_FP32 && b->ndim == 1 && b->dims[0] == rows);
}

/* out (rows x m) = in (rows x k) W^T + b, then act; W is m x k. One row (batch 1) by sgemv:
 * sgemm packed both operands first, which was most of its time on these small products
 * (EfficientNet-B0's 16 blocks: 2.5% of the model in OpenBLAS's copy routines). */
static void se_dense(float *out, const float *in, const float *w, const float *b, int64_t rows,
                     int64_t m, int64_t k, const onnx_activation *act)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < m; j++) out[r * m + j] = b ? b[j] : 0.0f;
    if (rows == 1)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)m, (int)k, 1.0f, w, (int)k, in, 1, 1.0f, out,
                    1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)m, (int)k, 1.0f, in,
                    (int)k, w, (int)k, 1.0f, out, (int)m);
    onnx_activation_apply(act, out, (size_t)(rows * m));
}

/* The gate: plane p of Y = s[p] * plane p of X, for planes [p0, p1). */
typedef struct se_scale_job {
    float *y;
    const float *x, *s; /* y may equal x (in place) */
    int64_t hw;
} se_scale_job;

static void se_scale_range(void *arg, int64_t p0, int64_t p1)
{
    const se_scale_job *j = arg; /* y may be x */
    for (int64_t p = p0; p < p1; p++)
        nn_k_scale(j->y + p * j->hw, j->x + p * j->hw, j->s[p], j->hw);
}

int nn_squeeze_excite_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *w1 = onnx_ctx_input(ctx, 1),
                      *b1 = onnx_ctx_input(ctx, 2), *w2 = onnx_ctx_input(ctx, 3),
                      *b2 = onnx_ctx_input(ctx, 4);
    if (!x || x->dtype != INFERD_DTYPE_FP32 || x->ndim < 3)
        return onnx_ctx_fail(ctx, "X must be float32 N x C x spatial");
    const int64_t n = x->dims[0], c = x->dims[1], r = w1 ? w1->dims[0] : 0;
    if (!se_weight_ok(w1, b1, r, c) || !se_weight_ok(w2, b2, c, r))
        return onnx_ctx_fail(ctx, "weights must be R x C x 1 x 1 and C x R x 1 x 1 (C = %lld)",
                             (long long)c);
    if (n > INT_MAX || c > INT_MAX || r > INT_MAX)
        return onnx_ctx_unsupported(ctx, "dims beyond the GEMM's int range");
    onnx_activation act, gate;
    if (onnx_activation_from_attrs(node, "inferd_activation", "inferd_alpha", "inferd_beta",
                                   &act) != 0 ||
        onnx_activation_from_attrs(node, "inferd_gate", "inferd_gate_alpha", "inferd_gate_beta",
                                   &gate) != 0)
        return onnx_ctx_fail(ctx, "unknown fused activation");
    /* over X when nothing else reads it (every plane is scaled in place) */
    onnx_tensor *yt = onnx_ctx_output_over_input(ctx, 0, 0);
    if (!yt) yt = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, x->ndim, x->dims);
    if (!yt) return -1;
    const int64_t planes = n * c, numel = onnx_tensor_numel(x);
    if (numel == 0) return 0;
    const int64_t hw = numel / planes;
    size_t floats; /* pooled X, the R activations and the C gates per image */
    if (nn_mul_size((size_t)n, (size_t)(2 * c + r), &floats) != 0)
        return onnx_ctx_fail(ctx, "scratch size overflows");
    float *g = nn_scratch_floats(ctx, floats);
    if (!g) return -1;
    float *a = g + planes, *s = a + n * r;
    nn_mean_rows(ctx, g, x->data, planes, hw);
    se_dense(a, g, w1->data, b1 ? b1->data : NULL, n, r, c, &act);
    se_dense(s, a, w2->data, b2 ? b2->data : NULL, n, c, r, &gate);
    se_scale_job j = {.y = yt->data, .x = x->data, .s = s, .hw = hw};
    nn_parallel_rows(ctx, planes, numel, se_scale_range, &j);
    return 0;
}
