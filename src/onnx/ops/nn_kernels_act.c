/* Vectorized float32 activations applied in place (onnx_activation_apply's kernels, so also the
 * epilogues fused into Conv/Gemm/MatMul): Sigmoid and SiLU on the branch-free nn_expf,
 * HardSigmoid and HardSwish as selects. Compiled like nn_kernels.c (O3, target clones). */
#include "nn_kernels.h"
#include "nn_vmath.h"

/* 1 / (1 + e^-x): nn_expf clamps its argument, so e^-x stays finite and the result is within
 * ~1e-7 relative of the exact one down to x = -87.3; below, where the exact value is under
 * float's normal range, 0 (SiLU: -0). NaN propagates. */
static NN_HOT_FMA NN_CLONES void k_sigmoid(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = y[i], s = 1.0f / (1.0f + nn_expf(-v));
        y[i] = v < -87.3f ? 0.0f
               : v == v   ? s
                          : v; /* nn_expf's clamp would turn NaN into a number */
    }
}

static NN_HOT_FMA NN_CLONES void k_silu(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = y[i], s = v / (1.0f + nn_expf(-v));
        y[i] = v < -87.3f ? -0.0f : s;
    }
}

/* clamp(alpha x + beta, 0, 1); written as in activation.c so that NaN gives the same result */
static NN_HOT NN_CLONES void k_hard_sigmoid(float *y, float alpha, float beta, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = alpha * y[i] + beta;
        v = v < 0 ? 0.0f : v;
        y[i] = v > 1 ? 1.0f : v;
    }
}

static NN_HOT NN_CLONES void k_hard_swish(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float x = y[i], v = x * (1.0f / 6.0f) + 0.5f;
        v = v < 0 ? 0.0f : v;
        v = v > 1 ? 1.0f : v;
        y[i] = x * v;
    }
}

void nn_k_sigmoid(float *y, int64_t n)
{
    k_sigmoid(y, n);
}
void nn_k_silu(float *y, int64_t n)
{
    k_silu(y, n);
}
void nn_k_hard_sigmoid(float *y, float alpha, float beta, int64_t n)
{
    k_hard_sigmoid(y, alpha, beta, n);
}
void nn_k_hard_swish(float *y, int64_t n)
{
    k_hard_swish(y, n);
}
