/* The transposing B pack with vector moves: a full 32-column panel of a transposed B (column j
 * contiguous along K) moved 8 x 8 floats at a time through registers, instead of one float per
 * strided store. Compiled with -mavx512f -mfma (CMakeLists.txt); called only when the CPU has it
 * (pack.c). */
#include "pack.h"

#if defined(__AVX512F__)
#include <immintrin.h>

/* dst[p * 8 + t], t < 8, from rows r[t][p], p < 8; dst rows ds floats apart */
static inline void pack_t8x8(const float *const *r, int64_t p, float *dst, int64_t ds)
{
    const __m256 a0 = _mm256_loadu_ps(r[0] + p), a1 = _mm256_loadu_ps(r[1] + p);
    const __m256 a2 = _mm256_loadu_ps(r[2] + p), a3 = _mm256_loadu_ps(r[3] + p);
    const __m256 a4 = _mm256_loadu_ps(r[4] + p), a5 = _mm256_loadu_ps(r[5] + p);
    const __m256 a6 = _mm256_loadu_ps(r[6] + p), a7 = _mm256_loadu_ps(r[7] + p);
    const __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
    const __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
    const __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
    const __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
    const __m256 u7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
    _mm256_storeu_ps(dst + 0 * ds, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + 1 * ds, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ds, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ds, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ds, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ds, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ds, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ds, _mm256_permute2f128_ps(u3, u7, 0x31));
}

void onnx_gemm_pack_panel_bt32_avx512(const float *b, int64_t ldb, int64_t j0, int64_t p0,
                                      int64_t kc, float *dst)
{
    const int64_t k8 = kc / 8 * 8;
    for (int64_t jb = 0; jb < 32; jb += 8) {
        const float *r[8];
        for (int t = 0; t < 8; t++) r[t] = b + (j0 + jb + t) * ldb + p0;
        for (int64_t p = 0; p < k8; p += 8) pack_t8x8(r, p, dst + p * 32 + jb, 32);
        for (int64_t p = k8; p < kc; p++)
            for (int t = 0; t < 8; t++) dst[p * 32 + jb + t] = r[t][p];
    }
}
#endif
