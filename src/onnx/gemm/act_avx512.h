/* Private to src/onnx/gemm: SiLU, Sigmoid (and HardSwish, HardSigmoid: selects, at the end)
 * on 16 floats in AVX-512 registers, for the
 * microkernel's store (kernel_avx512.c) and the in-place loops (act_avx512.c); included only by
 * files compiled with -mavx512f -mfma. Same method and accuracy as nn_vmath.h's nn_sigmoidf
 * (t = e^-|x|, then 1 / (1 + t)), with AVX-512's own instructions: the exponent by vscalefps, the
 * reciprocal by vrcp14ps (2^-14) and one Newton step (~4e-9), no division: about 20 vector
 * operations per 16 floats instead of 30. */
#ifndef ONNX_GEMM_ACT_AVX512_H
#define ONNX_GEMM_ACT_AVX512_H

#include <immintrin.h>

#define ACT512 static inline __attribute__((always_inline))

/* e^x for x in [-87.3, 0] (the caller clamps): Cephes' expf as nn_expf, 2^k by vscalefps */
ACT512 __m512 act512_exp_neg(__m512 x)
{
    const __m512 kf = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fmadd_ps(kf, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, kf);
}

/* sigmoid(v) for finite v >= -87.3 (callers select the rest): t / (1 + t) below 0, 1 / (1 + t)
 * above, t = e^-|v| */
ACT512 __m512 act512_sigmoid_core(__m512 v)
{
    const __m512 na = _mm512_castsi512_ps(/* -|v| (AVX-512F has no float or) */
                                          _mm512_or_epi32(_mm512_castps_si512(v),
                                                          _mm512_set1_epi32((int)0x80000000u)));
    const __m512 t = act512_exp_neg(_mm512_max_ps(na, _mm512_set1_ps(-87.3f)));
    const __m512 d = _mm512_add_ps(t, _mm512_set1_ps(1.0f));
    __m512 r = _mm512_rcp14_ps(d);
    r = _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
    const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_mul_ps(r, neg, r, t);
}

/* v * sigmoid(v); below -87.3 -0 (as nn_k_silu); NaN stays NaN */
ACT512 __m512 act512_silu(__m512 v)
{
    const __m512 y = _mm512_mul_ps(v, act512_sigmoid_core(v));
    const __mmask16 tiny = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
    return _mm512_mask_mov_ps(y, tiny, _mm512_set1_ps(-0.0f));
}

/* sigmoid(v); below -87.3 0 (as nn_k_sigmoid); NaN stays NaN */
ACT512 __m512 act512_sigmoid(__m512 v)
{
    __m512 y = act512_sigmoid_core(v);
    const __mmask16 tiny = _mm512_cmp_ps_mask(v, _mm512_set1_ps(-87.3f), _CMP_LT_OQ);
    const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    y = _mm512_mask_mov_ps(y, tiny, _mm512_setzero_ps());
    return _mm512_mask_mov_ps(y, nan, v);
}

/* x * clamp(x / 6 + 1/2, 0, 1), rounded as nn_k_hard_swish (a multiply, then an add) */
ACT512 __m512 act512_hard_swish(__m512 x)
{
    __m512 v = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.0f / 6.0f)), _mm512_set1_ps(0.5f));
    /* max/min return their second operand when unordered: NaN stays, as the scalar selects */
    v = _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), v));
    return _mm512_mul_ps(x, v);
}

/* clamp(alpha x + beta, 0, 1), rounded as nn_k_hard_sigmoid; NaN stays */
ACT512 __m512 act512_hard_sigmoid(__m512 x, __m512 alpha, __m512 beta)
{
    __m512 v = _mm512_add_ps(_mm512_mul_ps(alpha, x), beta);
    return _mm512_min_ps(_mm512_set1_ps(1.0f), _mm512_max_ps(_mm512_setzero_ps(), v));
}

#endif
