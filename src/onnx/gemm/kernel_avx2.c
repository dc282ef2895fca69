/* The AVX2 + FMA microkernel: 6 x 16, twelve ymm accumulators, two B loads and six broadcasts
 * per k. Compiled with -mavx2 -mfma (CMakeLists.txt); called only when the CPU has both. */
#include "kernels.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

void onnx_gemm_kernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           float alpha, int accumulate, const onnx_gemm_epi *epi)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; p++, a += 6, b += 16) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 av = _mm256_broadcast_ss(a + 0);
        c00 = _mm256_fmadd_ps(av, b0, c00), c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10), c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20), c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30), c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40), c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50), c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    const __m256 al = _mm256_set1_ps(alpha);
#define AVX2_STORE(ROW, V0, V1)                                        \
    do {                                                               \
        float *cr = c + (ROW)*ldc;                                     \
        __m256 r0 = _mm256_mul_ps(V0, al), r1 = _mm256_mul_ps(V1, al); \
        if (accumulate) {                                              \
            r0 = _mm256_add_ps(r0, _mm256_loadu_ps(cr));               \
            r1 = _mm256_add_ps(r1, _mm256_loadu_ps(cr + 8));           \
        }                                                              \
        _mm256_storeu_ps(cr, r0), _mm256_storeu_ps(cr + 8, r1);        \
    } while (0)
    AVX2_STORE(0, c00, c01);
    AVX2_STORE(1, c10, c11);
    AVX2_STORE(2, c20, c21);
    AVX2_STORE(3, c30, c31);
    AVX2_STORE(4, c40, c41);
    AVX2_STORE(5, c50, c51);
#undef AVX2_STORE
    if (epi) onnx_gemm_epilogue_avx2(c, ldc, 6, 16, epi->row_bias, epi->col_bias, epi->lo, epi->hi);
}

void onnx_gemm_epilogue_avx2(float *c, int64_t ldc, int64_t rows, int64_t cols,
                             const float *row_bias, const float *col_bias, float lo, float hi)
{
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (int64_t r = 0; r < rows; r++) {
        float *row = c + r * ldc;
        const float rbs = row_bias ? row_bias[r] : 0.0f;
        const __m256 rb = _mm256_set1_ps(rbs);
        int64_t j = 0;
        for (; j + 8 <= cols; j += 8) {
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(row + j), rb);
            if (col_bias) v = _mm256_add_ps(v, _mm256_loadu_ps(col_bias + j));
            _mm256_storeu_ps(row + j, _mm256_min_ps(vhi, _mm256_max_ps(vlo, v))); /* NaN stays */
        }
        if (j < cols)
            onnx_gemm_epilogue_generic(row + j, ldc, 1, cols - j, row_bias ? &rbs : NULL,
                                       col_bias ? col_bias + j : NULL, lo, hi);
    }
}
#else
/* not an x86-64 build: dispatch.c never picks this kernel */
void onnx_gemm_kernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           float alpha, int accumulate, const onnx_gemm_epi *epi)
{
    (void)kc, (void)a, (void)b, (void)c, (void)ldc, (void)alpha, (void)accumulate, (void)epi;
}

void onnx_gemm_epilogue_avx2(float *c, int64_t ldc, int64_t rows, int64_t cols,
                             const float *row_bias, const float *col_bias, float lo, float hi)
{
    onnx_gemm_epilogue_generic(c, ldc, rows, cols, row_bias, col_bias, lo, hi);
}
#endif
