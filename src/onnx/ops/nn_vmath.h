/* Private: float32 exp and erf as branch-free scalar code (selects, no libm calls, no tables),
 * so that a loop calling them vectorizes. Always inlined: they take the optimisation options
 * and target of the kernel (nn_kernels*.c, with its clones) they are inlined into. */
#ifndef ONNX_OPS_NN_VMATH_H
#define ONNX_OPS_NN_VMATH_H

#include <stdint.h>
#include <string.h>

#define NN_VMATH static inline __attribute__((always_inline))

/* exp(v) by Cephes' expf: v = k ln2 + r, |r| <= ln2 / 2, degree-6 polynomial, times 2^k built
 * in the exponent bits. Relative error ~1e-7; k is rounded with the 1.5 * 2^23 trick so that
 * the loop vectorizes. v is clamped to [-87.3, 88.3]: below gives ~1e-38 instead of denormals,
 * above gives 2.2e38 instead of inf (softmax only passes v <= 0). */
NN_VMATH float nn_expf(float v)
{
    float x = v > -87.3f ? v : -87.3f;
    x = x < 88.3f ? x : 88.3f;
    float kf = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    int32_t k = (int32_t)kf;
    float r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (k + 127) << 23; /* k + 127 in [1, 254] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* 1 / d for d in [1, 2] without a division (vdivps is the slowest vector instruction: it was
 * most of SiLU's time): the minimax line 24/17 - 8/17 d (relative error <= 1/17), then three
 * Newton steps r += r (1 - d r), each squaring the error: (1/17)^8 = 1.4e-10, so the result is
 * within rounding of the exact one. */
NN_VMATH float nn_recip12f(float d)
{
    float r = 24.0f / 17.0f - (8.0f / 17.0f) * d;
    r = r + r * (1.0f - d * r);
    r = r + r * (1.0f - d * r);
    return r + r * (1.0f - d * r);
}

/* 1 / (1 + e^-v) from t = e^-|v| in (0, 1] and 1 / (1 + t) (nn_recip12f: no division): t/(1+t)
 * for v < 0, 1/(1+t) otherwise; within ~1.5e-7 relative down to v = -87.3 (nn_expf's clamp),
 * finite for NaN (callers select NaN back) */
NN_VMATH float nn_sigmoidf(float v)
{
    const float a = v < 0 ? -v : v, t = nn_expf(-a), r = nn_recip12f(1.0f + t);
    return v < 0 ? t * r : r;
}

/* erf in two pieces, both computed for every element (a vector holds both kinds):
 *   |x| < 0.921875:      erf(x) = x + x * P(x^2), P of degree 5;
 *   0.921875 <= |x| < 5: erfc(|x|) = exp(L(u) - x^2), u = (|x| - 2.9609375) / 2.0390625 in
 *                        [-1, 1], L of degree 9 (evaluated by Estrin's scheme: shorter chains);
 *   |x| >= 5:            erfc(|x|) = 0 (erfc(5) = 1.5e-12, far below float's step next to 1).
 * The coefficients are near-minimax fits (least squares reweighted by Lawson's method, against
 * mpmath at 40 digits) of erf(x)/x - 1 in x^2 (relative error 1.6e-8) and of
 * log(erfc(x)) + x^2 (absolute error 2e-8, i.e. relative in erfc). Measured over every normal
 * float with |x| < 6, with and without FMA: erf within 1.2e-7 relative (libm's erff: 1 ulp);
 * GELU built on 1 + erf(x), taken as erfc(-x) for x <= -0.921875 so that it does not cancel,
 * within 0.6 * (1e-7 |x| + 1.2e-7 |gelu(x)|). tests/unit/onnx_nn checks a sample of them. */
#define NN_ERF_SPLIT 0.921875f
#define NN_ERF_ONE   5.0f

/* x + x * P(x^2) with t = x^2: erf(x) for |x| < NN_ERF_SPLIT */
NN_VMATH float nn_erf_small(float x, float t)
{
    float p = -5.990852611e-04f;
    p = p * t + 4.993180056e-03f;
    p = p * t + -2.676661613e-02f;
    p = p * t + 1.128181617e-01f;
    p = p * t + -3.761249369e-01f;
    p = p * t + 1.283791496e-01f; /* 2 / sqrt(pi) - 1 */
    return x + x * p;
}

/* erfc(a) for a = |x| >= NN_ERF_SPLIT, t = x^2 (any a: clamped into the fitted range) */
NN_VMATH float nn_erfc_large(float a, float t)
{
    float ac = a > NN_ERF_SPLIT ? a : NN_ERF_SPLIT;
    ac = ac < NN_ERF_ONE ? ac : NN_ERF_ONE;
    float u = (ac - 2.9609375f) * (1.0f / 2.0390625f);
    float u2 = u * u, u4 = u2 * u2;
    float c01 = -1.708432207e+00f + -6.262295783e-01f * u;
    float c23 = 1.808087806e-01f + -6.466617362e-02f * u;
    float c45 = 2.424220861e-02f + -9.007856785e-03f * u;
    float c67 = 3.235033294e-03f + -1.124663986e-03f * u;
    float c89 = 3.472427166e-04f + -6.231099032e-05f * u;
    float l = (c01 + c23 * u2) + u4 * ((c45 + c67 * u2) + u4 * c89);
    float e = nn_expf(l - t);
    return a < NN_ERF_ONE ? e : 0.0f;
}

/* erf(x); NaN gives NaN, +-inf gives +-1 */
NN_VMATH float nn_erff(float x)
{
    float a = x < 0 ? -x : x, t = x * x;
    float s = nn_erf_small(x, t);
    float c = 1.0f - nn_erfc_large(a, t);
    float r = a < NN_ERF_SPLIT ? s : (x < 0 ? -c : c);
    return x != x ? x : r;
}

/* 1 + erf(x), accurate also where erf(x) is close to -1; finite for NaN (GELU multiplies it by
 * x, which gives the NaN back) */
NN_VMATH float nn_erf1pf(float x)
{
    float a = x < 0 ? -x : x, t = x * x;
    float s = nn_erf_small(x, t);
    float e = nn_erfc_large(a, t);
    return a < NN_ERF_SPLIT ? 1.0f + s : (x < 0 ? e : 2.0f - e);
}

#endif
