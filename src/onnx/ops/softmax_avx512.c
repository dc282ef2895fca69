/* Softmax of contiguous float32 rows with AVX-512's own instructions (nn_kernels.h): 16 lanes
 * with a masked last vector, so short rows (Swin's 49, ViT's 50) have no scalar tail; e^x by
 * act512_exp_neg (gemm/act_avx512.h). Compiled with -mavx512f -mfma (CMakeLists.txt); called
 * only when the CPU has AVX-512F (onnx_gemm_act_avx512_ok). */
#include "nn_kernels.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>
#include <math.h>

#include "../gemm/act_avx512.h"

static inline __mmask16 sm_tail(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

/* e^v for v <= 0 (v = x - max); below -87.3 exactly 0 (a masked position); NaN stays NaN */
static inline __m512 sm_exp(__m512 v)
{
    const __m512 e = act512_exp_neg(_mm512_max_ps(v, _mm512_set1_ps(-87.3f)));
    const __mmask16 under = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    return _mm512_mask_mov_ps(_mm512_mask_mov_ps(e, under, _mm512_setzero_ps()), nan, v);
}

void nn_k_softmax_rows_avx512(float *restrict y, const float *restrict x, int64_t rows, int64_t n)
{
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        /* max: a NaN is dropped here (max returns its second operand) but comes back through
         * x - max, and the sum then makes the whole row NaN, as the scalar kernel */
        __m512 mv = ninf;
        for (int64_t i = 0; i < n; i += 16)
            mv = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, sm_tail(n - i), xr + i), mv);
        const __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
        __m512 sv = _mm512_setzero_ps();
        for (int64_t i = 0; i < n; i += 16) {
            const __mmask16 k = sm_tail(n - i);
            const __m512 e = sm_exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, xr + i), m));
            sv = _mm512_add_ps(sv, _mm512_maskz_mov_ps(k, e));
            _mm512_mask_storeu_ps(yr + i, k, e);
        }
        const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sv));
        for (int64_t i = 0; i < n; i += 16) {
            const __mmask16 k = sm_tail(n - i);
            _mm512_mask_storeu_ps(yr + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, yr + i), inv));
        }
    }
}
#else
void nn_k_softmax_rows_avx512(float *restrict y, const float *restrict x, int64_t rows, int64_t n)
{
    (void)y, (void)x, (void)rows, (void)n;
}
#endif
