/* Private to src/onnx/gemm: SiLU, Sigmoid, GELU (and HardSwish, HardSigmoid: selects, at the end)
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

/* 1 + erf(x) as nn_vmath.h's nn_erf1pf (the same two pieces and coefficients, both computed for
 * every lane, erfc's exponential by act512_exp_neg): finite for NaN (GELU multiplies it by x) */
ACT512 __m512 act512_erf1p(__m512 x)
{
    const __m512 a = _mm512_castsi512_ps(
        _mm512_and_epi32(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
    const __m512 t = _mm512_mul_ps(x, x);
    __m512 p = _mm512_set1_ps(-5.990852611e-04f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(4.993180056e-03f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-2.676661613e-02f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.128181617e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-3.761249369e-01f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.283791496e-01f));
    const __m512 small = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(x, p, x));
    /* max/min return their second operand when unordered: a NaN a becomes 0.921875 */
    const __m512 ac =
        _mm512_min_ps(_mm512_max_ps(a, _mm512_set1_ps(0.921875f)), _mm512_set1_ps(5.0f));
    const __m512 u = _mm512_mul_ps(_mm512_sub_ps(ac, _mm512_set1_ps(2.9609375f)),
                                   _mm512_set1_ps(1.0f / 2.0390625f));
    const __m512 u2 = _mm512_mul_ps(u, u), u4 = _mm512_mul_ps(u2, u2);
    const __m512 c01 =
        _mm512_fmadd_ps(_mm512_set1_ps(-6.262295783e-01f), u, _mm512_set1_ps(-1.708432207e+00f));
    const __m512 c23 =
        _mm512_fmadd_ps(_mm512_set1_ps(-6.466617362e-02f), u, _mm512_set1_ps(1.808087806e-01f));
    const __m512 c45 =
        _mm512_fmadd_ps(_mm512_set1_ps(-9.007856785e-03f), u, _mm512_set1_ps(2.424220861e-02f));
    const __m512 c67 =
        _mm512_fmadd_ps(_mm512_set1_ps(-1.124663986e-03f), u, _mm512_set1_ps(3.235033294e-03f));
    const __m512 c89 =
        _mm512_fmadd_ps(_mm512_set1_ps(-6.231099032e-05f), u, _mm512_set1_ps(3.472427166e-04f));
    const __m512 l =
        _mm512_add_ps(_mm512_fmadd_ps(c23, u2, c01),
                      _mm512_mul_ps(u4, _mm512_fmadd_ps(u4, c89, _mm512_fmadd_ps(c67, u2, c45))));
    /* l - t <= -0.85; below -87.3 (|x| > 9.3, or t = inf) erfc is 0 by the a < 5 select */
    __m512 e = act512_exp_neg(_mm512_max_ps(_mm512_sub_ps(l, t), _mm512_set1_ps(-87.3f)));
    e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(5.0f), _CMP_LT_OQ), e);
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 big = _mm512_mask_mov_ps(_mm512_sub_ps(_mm512_set1_ps(2.0f), e), neg, e);
    return _mm512_mask_mov_ps(big, _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.921875f), _CMP_LT_OQ),
                              small);
}

/* the exact GELU, v / 2 * (1 + erf(v / sqrt 2)), rounded as nn_k_gelu; NaN stays NaN, -inf
 * gives NaN (-inf * 0, as the unfused graph) */
ACT512 __m512 act512_gelu(__m512 v)
{
    return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v),
                         act512_erf1p(_mm512_mul_ps(v, _mm512_set1_ps(0.707106781186547524f))));
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
