/* The plain C microkernel (4 x 8) and epilogue: for CPUs without AVX2 (and for the AVX2
 * kernel's epilogue). */
#include "kernels.h"

#define GEN_MR 4
#define GEN_NR 8

void onnx_gemm_kernel_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                              float alpha, int accumulate, const onnx_gemm_epi *epi)
{
    float acc[GEN_MR][GEN_NR] = {{0}};
    for (int64_t p = 0; p < kc; p++, a += GEN_MR, b += GEN_NR)
        for (int i = 0; i < GEN_MR; i++)
            for (int j = 0; j < GEN_NR; j++) acc[i][j] += a[i] * b[j];
    for (int i = 0; i < GEN_MR; i++)
        for (int j = 0; j < GEN_NR; j++)
            c[i * ldc + j] = alpha * acc[i][j] + (accumulate ? c[i * ldc + j] : 0.0f);
    if (epi)
        onnx_gemm_epilogue_generic(c, ldc, GEN_MR, GEN_NR, epi->row_bias, epi->col_bias, epi->lo,
                                   epi->hi);
}

void onnx_gemm_epilogue_generic(float *c, int64_t ldc, int64_t rows, int64_t cols,
                                const float *row_bias, const float *col_bias, float lo, float hi)
{
    for (int64_t r = 0; r < rows; r++) {
        float *row = c + r * ldc;
        const float rb = row_bias ? row_bias[r] : 0.0f;
        for (int64_t j = 0; j < cols; j++) {
            float v = row[j] + rb + (col_bias ? col_bias[j] : 0.0f);
            row[j] = v < lo ? lo : (v > hi ? hi : v);
        }
    }
}
