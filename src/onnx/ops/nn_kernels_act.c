/* Vectorized float32 activations applied in place (onnx_activation_apply's kernels, so also the
 * epilogues fused into Conv/Gemm/MatMul, and the LSTM cell): Sigmoid, Tanh and SiLU on the
 * branch-free nn_expf,
 * HardSigmoid and HardSwish as selects. Compiled like nn_kernels.c (O3, target clones). */
#include "../gemm/gemm.h"
#include "nn_kernels.h"
#include "nn_vmath.h"

/* 1 / (1 + e^-x) by nn_sigmoidf (no division): within ~1.5e-7 relative of the exact value
 * down to x = -87.3; below, where the exact value is under float's normal range, 0 (SiLU: -0).
 * NaN propagates. */
static NN_HOT_FMA NN_CLONES void k_sigmoid(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = y[i], s = nn_sigmoidf(v);
        y[i] = v < -87.3f ? 0.0f
               : v == v   ? s
                          : v; /* nn_expf's clamp would turn NaN into a number */
    }
}

static NN_HOT_FMA NN_CLONES void k_silu(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = y[i], s = v * nn_sigmoidf(v);
        y[i] = v < -87.3f ? -0.0f : s;
    }
}

/* tanh: |x| < 0.625 by Lambert's continued fraction x / (1 + x^2 / (3 + x^2 / (5 + ...))) cut
 * at 13 (truncation far below float's step there), above by (1 - t) / (1 + t) with t = e^-2|x|,
 * which no longer cancels (t <= 0.29); both are computed and one selected, so the loop
 * vectorizes. Within 3e-7 relative; NaN propagates. */
static NN_HOT_FMA NN_CLONES void k_tanh(float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const float v = y[i], a = v < 0 ? -v : v, x2 = v * v;
        float r = 13.0f;
        r = 11.0f + x2 / r;
        r = 9.0f + x2 / r;
        r = 7.0f + x2 / r;
        r = 5.0f + x2 / r;
        r = 3.0f + x2 / r;
        r = 1.0f + x2 / r;
        const float t = nn_expf(-2.0f * a), big = (1.0f - t) / (1.0f + t);
        const float s = a < 0.625f ? v / r : v < 0 ? -big : big;
        y[i] = v == v ? s : v;
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

/* Sigmoid and SiLU: AVX-512's own instructions when the CPU has them (gemm/act_avx512.c, the
 * arithmetic of the GEMM's fused store, so a tile and a whole plane round alike) */
void nn_k_sigmoid(float *y, int64_t n)
{
    if (onnx_gemm_act_avx512_ok()) onnx_gemm_sigmoid_avx512(y, n);
    else k_sigmoid(y, n);
}
void nn_k_tanh(float *y, int64_t n)
{
    k_tanh(y, n);
}
void nn_k_silu(float *y, int64_t n)
{
    if (onnx_gemm_act_avx512_ok()) onnx_gemm_silu_avx512(y, n);
    else k_silu(y, n);
}
void nn_k_hard_sigmoid(float *y, float alpha, float beta, int64_t n)
{
    k_hard_sigmoid(y, alpha, beta, n);
}
void nn_k_hard_swish(float *y, int64_t n)
{
    k_hard_swish(y, n);
}
