/* Vectorized erf and GELU (the exact, erf-based one) over float32 arrays: the Erf operator,
 * the Gelu operator and the GELU fused into MatMul/Gemm/Conv (see nn_vmath.h for the
 * approximation and its accuracy). Compiled like nn_kernels.c (O3, target clones), and with
 * multiply-adds contracted to FMA where the target has it: the polynomials are chains of them,
 * and the results stay within the bounds measured (the test runs whichever clone the machine
 * picks). */
#include "nn_kernels.h"
#include "nn_vmath.h"

#if defined(__GNUC__) && !defined(__clang__)
#define NN_HOT_FMA __attribute__((optimize("O3", "no-trapping-math", "fp-contract=fast")))
#else
#define NN_HOT_FMA
#endif

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

void nn_k_erf(float *y, const float *x, int64_t n) { k_erf(y, x, n); }
void nn_k_gelu(float *y, const float *x, int64_t n) { k_gelu(y, x, n); }
