/* Vectorized float32 loops of the convolution and pooling paths (see nn_kernels.h for the O3
 * and target-clone conventions): depthwise taps over phase planes, block gathers, row maxima. */
#include "nn_kernels.h"

/* Nine taps (3x3 kernels, the common depthwise case) in one pass: 9 loads and 9 FMAs per
 * output vector, one store. */
static NN_HOT NN_CLONES void k_dw_taps9(float *restrict y, const float *const *src,
                                        const float *restrict w, float bias, int64_t n)
{
    const float *restrict s0 = src[0], *restrict s1 = src[1], *restrict s2 = src[2];
    const float *restrict s3 = src[3], *restrict s4 = src[4], *restrict s5 = src[5];
    const float *restrict s6 = src[6], *restrict s7 = src[7], *restrict s8 = src[8];
    const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5];
    const float w6 = w[6], w7 = w[7], w8 = w[8];
    for (int64_t t = 0; t < n; t++)
        y[t] = bias + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t] + w4 * s4[t] + w5 * s5[t] +
               w6 * s6[t] + w7 * s7[t] + w8 * s8[t];
}

/* Five taps in one pass: y = bias + taps (first) or y += taps, so a 5x5 kernel (EfficientNet,
 * MobileNetV3, MNASNet) makes 5 passes over y instead of 26, and a 7x7 one (ConvNeXt) 10 + 4. */
static NN_HOT NN_CLONES void k_dw_taps5(float *restrict y, const float *const *src,
                                        const float *restrict w, float bias, int64_t n, int first)
{
    const float *restrict s0 = src[0], *restrict s1 = src[1], *restrict s2 = src[2];
    const float *restrict s3 = src[3], *restrict s4 = src[4];
    const float w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
    if (first) {
        for (int64_t t = 0; t < n; t++)
            y[t] = bias + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t] + w4 * s4[t];
    } else {
        for (int64_t t = 0; t < n; t++)
            y[t] = y[t] + w0 * s0[t] + w1 * s1[t] + w2 * s2[t] + w3 * s3[t] + w4 * s4[t];
    }
}

static NN_HOT_LOOPS NN_CLONES void k_fill(float *y, float v, int64_t n)
{
    for (int64_t t = 0; t < n; t++) y[t] = v;
}

static NN_HOT NN_CLONES void k_axpy(float *restrict y, float a, const float *restrict x, int64_t n)
{
    for (int64_t t = 0; t < n; t++) y[t] += a * x[t];
}

static NN_HOT_LOOPS NN_CLONES void k_gather_block(float *restrict dst, int64_t ld_dst,
                                                  const float *restrict src, int64_t ld_src,
                                                  int64_t rows, int64_t cols, int64_t col_stride)
{
    for (int64_t a = 0; a < rows; a++) {
        float *d = dst + a * ld_dst;
        const float *s = src + a * ld_src;
        if (col_stride == 1) {
            for (int64_t b = 0; b < cols; b++) d[b] = s[b];
        } else if (col_stride == 2) {
            for (int64_t b = 0; b < cols; b++) d[b] = s[2 * b];
        } else {
            for (int64_t b = 0; b < cols; b++) d[b] = s[b * col_stride];
        }
    }
}

/* The gather with Relu (mode 1: NaN -> 0) or Clip (mode 2: [lo, hi], NaN passes) applied, as
 * activation.c does. */
static NN_HOT_LOOPS NN_CLONES void
k_gather_block_act(float *restrict dst, int64_t ld_dst, const float *restrict src, int64_t ld_src,
                   int64_t rows, int64_t cols, int64_t col_stride, int mode, float lo, float hi)
{
    for (int64_t a = 0; a < rows; a++) {
        float *d = dst + a * ld_dst;
        const float *s = src + a * ld_src;
        if (mode == 1) {
            for (int64_t b = 0; b < cols; b++) {
                float v = s[b * col_stride];
                d[b] = v > 0 ? v : 0.0f;
            }
        } else {
            for (int64_t b = 0; b < cols; b++) {
                float v = s[b * col_stride];
                v = v < lo ? lo : v;
                d[b] = v > hi ? hi : v;
            }
        }
    }
}

/* Block copies (unit stride and stride 2) with AVX-512 masked stores: the rows here are often 7 or 14 floats
 * (MobileNet's small planes), too short for a vectorized loop, whose scalar remainder then
 * costs more than the copy. Picked at run time, like the clones. */
#if defined(__x86_64__) && !defined(NN_NO_CLONES) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NN_HAVE_AVX512_COPY 1
/* mode 0: as is; 1: Relu (maxps returns its second operand for a NaN: 0); 2: Clip, NaN passes
 * (max(lo, v) and min(hi, .) return the NaN operand v) */
__attribute__((target("avx512f"))) static inline __m512 act_avx512(__m512 v, int mode, __m512 lo,
                                                                   __m512 hi)
{
    if (mode == 1) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (mode == 2) return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
    return v;
}
__attribute__((target("avx512f"))) static void
copy_block_avx512(float *restrict dst, int64_t ld_dst, const float *restrict src, int64_t ld_src,
                  int64_t rows, int64_t cols, int mode, float lo_, float hi_)
{
    const __m512 lo = _mm512_set1_ps(lo_), hi = _mm512_set1_ps(hi_);
    const __mmask16 tail = (__mmask16)((1u << (cols & 15)) - 1u);
    for (int64_t a = 0; a < rows; a++) {
        float *d = dst + a * ld_dst;
        const float *s = src + a * ld_src;
        int64_t b = 0;
        for (; b + 16 <= cols; b += 16)
            _mm512_storeu_ps(d + b, act_avx512(_mm512_loadu_ps(s + b), mode, lo, hi));
        if (tail)
            _mm512_mask_storeu_ps(d + b, tail,
                                  act_avx512(_mm512_maskz_loadu_ps(tail, s + b), mode, lo, hi));
    }
}

/* Stride 2: two loads per 16 outputs and one permute of their even elements. */
__attribute__((target("avx512f"))) static void
copy_block2_avx512(float *restrict dst, int64_t ld_dst, const float *restrict src, int64_t ld_src,
                   int64_t rows, int64_t cols, int mode, float lo_, float hi_)
{
    const __m512 lo = _mm512_set1_ps(lo_), hi = _mm512_set1_ps(hi_);
    const __m512i even =
        _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const int64_t r = cols & 15; /* outputs in the last, partial vector: inputs 0 .. 2r - 2 */
    const __mmask16 tail = (__mmask16)((1u << r) - 1u);
    const __mmask16 lo_m = (__mmask16)(r > 8 ? 0xffffu : r > 0 ? (1u << (2 * r - 1)) - 1u : 0u);
    const __mmask16 hi_m = (__mmask16)(r > 8 ? (1u << (2 * r - 17)) - 1u : 0u);
    for (int64_t a = 0; a < rows; a++) {
        float *d = dst + a * ld_dst;
        const float *s = src + a * ld_src;
        int64_t b = 0;
        for (; b + 16 <= cols; b += 16) {
            __m512 l = _mm512_loadu_ps(s + 2 * b), h;
            /* the last input of a full vector is 2b + 30: load 2b + 31 only if it exists */
            h = b + 16 < cols ? _mm512_loadu_ps(s + 2 * b + 16)
                              : _mm512_maskz_loadu_ps(0x7fff, s + 2 * b + 16);
            _mm512_storeu_ps(d + b, act_avx512(_mm512_permutex2var_ps(l, even, h), mode, lo, hi));
        }
        if (tail) {
            __m512 l = _mm512_maskz_loadu_ps(lo_m, s + 2 * b);
            __m512 h = _mm512_maskz_loadu_ps(hi_m, s + 2 * b + 16);
            _mm512_mask_storeu_ps(d + b, tail,
                                  act_avx512(_mm512_permutex2var_ps(l, even, h), mode, lo, hi));
        }
    }
}
#endif

/* Maxima with NaN ignored (a NaN never compares greater), as in pool.c. */
static NN_HOT NN_CLONES void k_max_into(float *restrict m, const float *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) m[i] = x[i] > m[i] ? x[i] : m[i];
}

/* m = the maximum of rows a, b and (if not NULL) c, in the order memcpy + k_max_into would
 * take them: one pass instead of three. */
static NN_HOT NN_CLONES void k_max_rows(float *restrict m, const float *restrict a,
                                        const float *restrict b, const float *restrict c, int64_t n)
{
    if (!c) {
        for (int64_t i = 0; i < n; i++) m[i] = b[i] > a[i] ? b[i] : a[i];
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const float v = b[i] > a[i] ? b[i] : a[i];
        m[i] = c[i] > v ? c[i] : v;
    }
}

/* y[o] = the mean of the 2x2 window at columns 2o, 2o+1 of rows a and b, summed in the order
 * of pool.c's generic loop (from 0, row by row) and divided by the count. */
static NN_HOT NN_CLONES void k_avg_2x2(float *restrict y, const float *restrict a,
                                       const float *restrict b, int64_t n)
{
    for (int64_t o = 0; o < n; o++)
        y[o] = (0.0f + a[2 * o] + a[2 * o + 1] + b[2 * o] + b[2 * o + 1]) / 4.0f;
}

static NN_HOT NN_CLONES void k_max_window(float *restrict y, const float *restrict t, int64_t n,
                                          int64_t k, int64_t s)
{
    if (k == 3 && s == 2) {
        for (int64_t o = 0; o < n; o++) {
            float a = t[2 * o], b = t[2 * o + 1], c = t[2 * o + 2];
            float m = b > a ? b : a;
            y[o] = c > m ? c : m;
        }
        return;
    }
    /* the generic loop below, with k and s known: vectorized (GoogLeNet's 3x3 stride-1 pools
     * in every Inception module, its 2x2 stride-2 one) */
    if (k == 3 && s == 1) {
        for (int64_t o = 0; o < n; o++) {
            float m = t[o];
            m = t[o + 1] > m ? t[o + 1] : m;
            y[o] = t[o + 2] > m ? t[o + 2] : m;
        }
        return;
    }
    if (k == 2 && s == 2) {
        for (int64_t o = 0; o < n; o++) {
            const float m = t[2 * o];
            y[o] = t[2 * o + 1] > m ? t[2 * o + 1] : m;
        }
        return;
    }
    for (int64_t o = 0; o < n; o++) {
        float m = t[o * s];
        for (int64_t j = 1; j < k; j++) m = t[o * s + j] > m ? t[o * s + j] : m;
        y[o] = m;
    }
}

/* ---- exported entry points ---- */

void nn_k_dw_taps(float *restrict y, const float *const *src, const float *w, int64_t ntaps,
                  float bias, int64_t n)
{
    if (ntaps == 9) {
        k_dw_taps9(y, src, w, bias, n);
        return;
    }
    int64_t k = 0;
    if (ntaps >= 5) {
        for (; k + 5 <= ntaps; k += 5) k_dw_taps5(y, src + k, w + k, bias, n, k == 0);
    } else {
        k_fill(y, bias, n);
    }
    for (; k < ntaps; k++) k_axpy(y, w[k], src[k], n);
}

void nn_k_gather_block(float *restrict dst, int64_t ld_dst, const float *restrict src,
                       int64_t ld_src, int64_t rows, int64_t cols, int64_t col_stride)
{
    nn_k_gather_block_act(dst, ld_dst, src, ld_src, rows, cols, col_stride, 0, 0.0f, 0.0f);
}

void nn_k_gather_block_act(float *restrict dst, int64_t ld_dst, const float *restrict src,
                           int64_t ld_src, int64_t rows, int64_t cols, int64_t col_stride, int mode,
                           float lo, float hi)
{
#ifdef NN_HAVE_AVX512_COPY
    /* a read of what libgcc's constructor found: cheap, and no lazily set static to race on */
    const int avx512 = __builtin_cpu_supports("avx512f");
    if (col_stride == 1 && avx512) {
        copy_block_avx512(dst, ld_dst, src, ld_src, rows, cols, mode, lo, hi);
        return;
    }
    if (col_stride == 2 && avx512) {
        copy_block2_avx512(dst, ld_dst, src, ld_src, rows, cols, mode, lo, hi);
        return;
    }
#endif
    if (mode == 0) k_gather_block(dst, ld_dst, src, ld_src, rows, cols, col_stride);
    else k_gather_block_act(dst, ld_dst, src, ld_src, rows, cols, col_stride, mode, lo, hi);
}

void nn_k_max_into(float *restrict m, const float *restrict x, int64_t n)
{
    k_max_into(m, x, n);
}
void nn_k_max_rows(float *restrict m, const float *restrict a, const float *restrict b,
                   const float *restrict c, int64_t n)
{
    k_max_rows(m, a, b, c, n);
}
void nn_k_avg_2x2(float *restrict y, const float *restrict a, const float *restrict b, int64_t n)
{
    k_avg_2x2(y, a, b, n);
}
void nn_k_max_window(float *restrict y, const float *restrict t, int64_t n, int64_t k, int64_t s)
{
    k_max_window(y, t, n, k, s);
}
void nn_k_fill(float *y, float v, int64_t n)
{
    k_fill(y, v, n);
}
