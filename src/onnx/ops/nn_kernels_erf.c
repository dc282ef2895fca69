/* Vectorized erf and GELU (the exact, erf-based one) over float32 arrays: the Erf operator,
 * the Gelu operator and the GELU fused into MatMul/Gemm/Conv (see nn_vmath.h for the
 * approximation and its accuracy). Compiled like nn_kernels.c (O3, target clones), with FMA
 * (NN_HOT_FMA); the accuracy bounds hold with and without it (the test runs the clone the machine
 * picks). */
#include "../gemm/gemm.h"
#include "nn_kernels.h"
#include "nn_vmath.h"

/* y may be x: each element is read before it is written, and GCC's overlap check for the
 * vector loop accepts y == x */
static NN_HOT_FMA NN_CLONES void k_erf(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = nn_erff(x[i]);
}

static NN_HOT_FMA NN_CLONES void k_gelu(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = 0.5f * v * nn_erf1pf(v * 0.707106781186547524f);
    }
}

void nn_k_erf(float *y, const float *x, int64_t n)
{
    k_erf(y, x, n);
}
/* GELU: AVX-512's own instructions when the CPU has them (gemm/act_avx512.c, the arithmetic of
 * the GEMM's fused store, so a tile and a whole plane round alike) */
void nn_k_gelu(float *y, const float *x, int64_t n)
{
    if (onnx_gemm_act_avx512_ok()) onnx_gemm_gelu_avx512(y, x, n);
    else k_gelu(y, x, n);
}
