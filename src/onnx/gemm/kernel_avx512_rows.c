/* The AVX-512 edge kernel for the last rows of A (fewer than 8) against a full 32-wide B panel
 * (kernels.h, onnx_gemm_kernel_rows_fn): R rows cost R / 8 of a full tile instead of a whole
 * one (ViT's 50 rows: 48 + 2). Compiled with -mavx512f -mfma (CMakeLists.txt); called only
 * when the CPU has it. */
#include "kernels.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

/* named accumulators (an array of them stayed in memory at -O2, see kernel_avx512.c); R is a
 * constant after inlining, so the unused rows' code folds away */
#define RW_FMA(I)                                           \
    do {                                                    \
        if (R > (I)) {                                      \
            const __m512 av = _mm512_set1_ps(a[(I)*ars]);   \
            acc##I##0 = _mm512_fmadd_ps(av, b0, acc##I##0); \
            acc##I##1 = _mm512_fmadd_ps(av, b1, acc##I##1); \
        }                                                   \
    } while (0)
#define RW_STORE(I)                                                           \
    do {                                                                      \
        if (R > (I)) {                                                        \
            _mm512_storeu_ps(c + (I)*ldc, _mm512_mul_ps(acc##I##0, al));      \
            _mm512_storeu_ps(c + (I)*ldc + 16, _mm512_mul_ps(acc##I##1, al)); \
        }                                                                     \
    } while (0)

static inline __attribute__((always_inline)) void rows_tile(int64_t kc, const float *a, int64_t ars,
                                                            int64_t aps, const float *b,
                                                            int64_t ldb, float *c, int64_t ldc,
                                                            float alpha, const int R)
{
    __m512 acc00 = _mm512_setzero_ps(), acc01 = acc00, acc10 = acc00, acc11 = acc00;
    __m512 acc20 = acc00, acc21 = acc00, acc30 = acc00, acc31 = acc00, acc40 = acc00;
    __m512 acc41 = acc00, acc50 = acc00, acc51 = acc00, acc60 = acc00, acc61 = acc00;
    for (int64_t p = 0; p < kc; p++, a += aps, b += ldb) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        RW_FMA(0);
        RW_FMA(1);
        RW_FMA(2);
        RW_FMA(3);
        RW_FMA(4);
        RW_FMA(5);
        RW_FMA(6);
    }
    const __m512 al = _mm512_set1_ps(alpha);
    RW_STORE(0);
    RW_STORE(1);
    RW_STORE(2);
    RW_STORE(3);
    RW_STORE(4);
    RW_STORE(5);
    RW_STORE(6);
}

void onnx_gemm_kernel_avx512_rows(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                  const float *b, int64_t ldb, float *c, int64_t ldc, float alpha,
                                  int rows)
{
    switch (rows) {
    case 1: rows_tile(kc, a, ars, aps, b, ldb, c, ldc, alpha, 1); break;
    case 2: rows_tile(kc, a, ars, aps, b, ldb, c, ldc, alpha, 2); break;
    case 3: rows_tile(kc, a, ars, aps, b, ldb, c, ldc, alpha, 3); break;
    case 4: rows_tile(kc, a, ars, aps, b, ldb, c, ldc, alpha, 4); break;
    case 5: rows_tile(kc, a, ars, aps, b, ldb, c, ldc, alpha, 5); break;
    case 6: rows_tile(kc, a, ars, aps, b, ldb, c, ldc, alpha, 6); break;
    default: rows_tile(kc, a, ars, aps, b, ldb, c, ldc, alpha, 7); break;
    }
}
#else
/* not an x86-64 build: dispatch.c never picks this kernel */
void onnx_gemm_kernel_avx512_rows(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                  const float *b, int64_t ldb, float *c, int64_t ldc, float alpha,
                                  int rows)
{
    (void)kc, (void)a, (void)ars, (void)aps, (void)b, (void)ldb, (void)c, (void)ldc, (void)alpha;
    (void)rows;
}
#endif
