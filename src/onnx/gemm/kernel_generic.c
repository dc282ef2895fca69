/* The plain C microkernel (4 x 8): for CPUs without AVX2, and the reference the SIMD kernels
 * are tested against. */
#include "kernels.h"

#define GEN_MR 4
#define GEN_NR 8

void onnx_gemm_kernel_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                              float alpha, int accumulate)
{
    float acc[GEN_MR][GEN_NR] = {{0}};
    for (int64_t p = 0; p < kc; p++, a += GEN_MR, b += GEN_NR)
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < GEN_MR; i++)
        for (int j = 0; j < GEN_NR; j++)
            c[i * ldc + j] = alpha * acc[i][j] + (accumulate ? c[i * ldc + j] : 0.0f);
}
