/* The AVX-512 microkernel: 8 x 32, 16 zmm accumulators, two B loads and eight broadcasts per
 * k (8 rows: CNN channel counts are multiples of 8; 12 rows measured no faster and wasted up
 * to a third of a tile on 16- or 64-channel layers). Compiled with
 * -mavx512f -mfma (CMakeLists.txt); called only when the CPU has it. */
#include "kernels.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#define ROW_FMA(I)                                                                  \
    do {                                                                            \
        const __m512 av = _mm512_set1_ps(a[I]);                                     \
        acc##I##0 = _mm512_fmadd_ps(av, b0, acc##I##0);                             \
        acc##I##1 = _mm512_fmadd_ps(av, b1, acc##I##1);                             \
    } while (0)

#define ROW_STORE(I)                                                                \
    do {                                                                            \
        float *cr = c + (I) * ldc;                                                  \
        __m512 r0 = _mm512_mul_ps(acc##I##0, al), r1 = _mm512_mul_ps(acc##I##1, al); \
        if (accumulate) {                                                           \
            r0 = _mm512_add_ps(r0, _mm512_loadu_ps(cr));                            \
            r1 = _mm512_add_ps(r1, _mm512_loadu_ps(cr + 16));                       \
        }                                                                           \
        _mm512_storeu_ps(cr, r0), _mm512_storeu_ps(cr + 16, r1);                    \
    } while (0)

void onnx_gemm_kernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                             float alpha, int accumulate)
{
    __m512 acc00 = _mm512_setzero_ps(), acc01 = acc00, acc10 = acc00, acc11 = acc00;
    __m512 acc20 = acc00, acc21 = acc00, acc30 = acc00, acc31 = acc00, acc40 = acc00;
    __m512 acc41 = acc00, acc50 = acc00, acc51 = acc00, acc60 = acc00, acc61 = acc00;
    __m512 acc70 = acc00, acc71 = acc00;
    for (int64_t p = 0; p < kc; p++, a += 8, b += 32) {
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        ROW_FMA(0);
        ROW_FMA(1);
        ROW_FMA(2);
        ROW_FMA(3);
        ROW_FMA(4);
        ROW_FMA(5);
        ROW_FMA(6);
        ROW_FMA(7);
    }
    const __m512 al = _mm512_set1_ps(alpha);
    ROW_STORE(0);
    ROW_STORE(1);
    ROW_STORE(2);
    ROW_STORE(3);
    ROW_STORE(4);
    ROW_STORE(5);
    ROW_STORE(6);
    ROW_STORE(7);
}
#else
/* not an x86-64 build: dispatch.c never picks this kernel */
void onnx_gemm_kernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           float alpha, int accumulate)
{
    (void)kc, (void)a, (void)b, (void)c, (void)ldc, (void)alpha, (void)accumulate;
}
#endif
