/* Row means of contiguous float32 rows with AVX-512's own instructions (nn_kernels.h), for
 * GlobalAveragePool and SqueezeExcite's pool: 64 floats a step in four vectors (the last step
 * masked, so 7x7 and 14x14 planes have no scalar tail), added pairwise in float and carried in
 * double (8 + 8 lanes). Each float partial rounds at most twice, so a 112x112 plane's mean keeps
 * float precision as the double kernel (k_sum_rows) does, without its per-row reduction through
 * the stack (half of that kernel's time on EfficientNet-B0's planes). Compiled with
 * -mavx512f -mfma (CMakeLists.txt); called only when onnx_gemm_act_avx512_ok(). */
#include "nn_kernels.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

/* lanes of a 16-float vector starting `left` floats before the row's end (0 when left <= 0) */
static inline __mmask16 sr_tail(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

/* adds the 16 floats of v into the double sums d0 (lanes 0-7) and d1 (8-15) */
static inline void sr_carry(__m512d *d0, __m512d *d1, __m512 v)
{
    *d0 = _mm512_add_pd(*d0, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    *d1 = _mm512_add_pd(
        *d1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

void nn_k_sum_rows_avx512(float *restrict y, const float *restrict x, int64_t rows, int64_t n,
                          double scale)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        __m512d d0 = _mm512_setzero_pd(), d1 = _mm512_setzero_pd();
        int64_t i = 0;
        for (; i + 64 <= n; i += 64) {
            const __m512 a = _mm512_add_ps(_mm512_loadu_ps(xr + i), _mm512_loadu_ps(xr + i + 16));
            const __m512 b =
                _mm512_add_ps(_mm512_loadu_ps(xr + i + 32), _mm512_loadu_ps(xr + i + 48));
            sr_carry(&d0, &d1, _mm512_add_ps(a, b));
        }
        if (i < n) {
            const int64_t left = n - i;
            const __m512 a = _mm512_add_ps(_mm512_maskz_loadu_ps(sr_tail(left), xr + i),
                                           _mm512_maskz_loadu_ps(sr_tail(left - 16), xr + i + 16));
            const __m512 b = _mm512_add_ps(_mm512_maskz_loadu_ps(sr_tail(left - 32), xr + i + 32),
                                           _mm512_maskz_loadu_ps(sr_tail(left - 48), xr + i + 48));
            sr_carry(&d0, &d1, _mm512_add_ps(a, b));
        }
        y[r] = (float)(_mm512_reduce_add_pd(_mm512_add_pd(d0, d1)) * scale);
    }
}
#else
void nn_k_sum_rows_avx512(float *restrict y, const float *restrict x, int64_t rows, int64_t n,
                          double scale)
{
    nn_k_sum_rows(y, x, rows, n, scale); /* no AVX-512 here: the portable kernel */
}
#endif
