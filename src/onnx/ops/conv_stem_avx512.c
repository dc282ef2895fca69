/* The AVX-512 kernel of the direct stem convolution (see conv_stem.h; conv_stem.c decides when
 * it runs). Compiled with -mavx512f -mfma (CMakeLists.txt), called only after
 * nn_conv_stem_fits checked the CPU. */
#include "conv_stem.h"

#include <string.h>

#if defined(__AVX512F__) && defined(__FMA__)
#include "conv_avx512.h"

/* Output channels and 16-column vectors per block of sums: 16 sums in zmm registers, per tap
 * 4 loads of the im2col row and 4 weight broadcasts for 16 multiply-adds. */
#define STEM_MB 4
#define STEM_NV 4

/* Output row oy's im2col: row (ci * 3 + ky) * 3 + kx, owp columns, holds input
 * (ci, 2 oy - pt + ky, 2 ox - pl + kx) for ox < owp, zero outside the input. Per input row and
 * 16 outputs: the even and odd columns of 32 floats by two permutes (taps 0 and 1), tap 2
 * the even ones shifted by one with the next column shifted in. */
static void stem_col_row(const nn_stem_args *a, const float *x, int64_t oy, int64_t owp, float *col)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const int64_t in_w = a->in_w;
    for (int64_t ci = 0; ci < a->c; ci++)
        for (int64_t ky = 0; ky < 3; ky++) {
            float *d = col + (ci * 3 + ky) * 3 * owp;
            const int64_t iy = 2 * oy - a->pt + ky;
            if (iy < 0 || iy >= a->in_h) {
                memset(d, 0, (size_t)(3 * owp) * sizeof(float));
                continue;
            }
            const float *row = x + (ci * a->in_h + iy) * in_w;
            for (int64_t ox0 = 0; ox0 < owp; ox0 += 16) {
                const int64_t base = 2 * ox0 - a->pl;
                const float *p = row + base;
                __m512 lo, hi;
                if (base >= 0 && base + 32 <= in_w) {
                    lo = _mm512_loadu_ps(p);
                    hi = _mm512_loadu_ps(p + 16);
                } else {
                    lo = _mm512_maskz_loadu_ps(dw_col_mask(base, in_w), p);
                    hi = _mm512_maskz_loadu_ps(dw_col_mask(base + 16, in_w), p + 16);
                }
                const __m512 nx = _mm512_maskz_loadu_ps(dw_col_mask(base + 32, in_w) & 1u, p + 32);
                const __m512 e = _mm512_permutex2var_ps(lo, ev, hi);
                const __m512 o = _mm512_permutex2var_ps(lo, od, hi);
                const __m512 e2 = _mm512_castsi512_ps(
                    _mm512_alignr_epi32(_mm512_castps_si512(nx), _mm512_castps_si512(e), 1));
                _mm512_storeu_ps(d + ox0, e);
                _mm512_storeu_ps(d + owp + ox0, o);
                _mm512_storeu_ps(d + 2 * owp + ox0, e2);
            }
        }
}

/* Output channels m0 .. m0 + MB - 1, columns ox0 .. ox0 + 16 NV - 1 (the last vector masked to
 * the row's end) of output row yrow (ldy between channels): bias + the K taps in order, then
 * the residual and the activation. MB and NV are constants at each call. */
__attribute__((always_inline)) static inline void
stem_block(const int MB, const int NV, const nn_stem_args *a, const float *col, int64_t owp,
           int64_t K, int64_t m0, int64_t ox0, float *yrow, const float *rrow, int64_t ldy)
{
    __m512 acc[STEM_MB][STEM_NV];
#pragma GCC unroll 4
    for (int mm = 0; mm < MB; mm++) {
        const __m512 b = a->bias ? _mm512_set1_ps(a->bias[m0 + mm]) : _mm512_setzero_ps();
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[mm][v] = b;
    }
    const float *w = a->w + m0 * K;
    for (int64_t t = 0; t < K; t++) {
        const float *cr = col + t * owp + ox0;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            const __m512 cv = _mm512_loadu_ps(cr + 16 * v);
#pragma GCC unroll 4
            for (int mm = 0; mm < MB; mm++)
                acc[mm][v] = _mm512_fmadd_ps(_mm512_set1_ps(w[mm * K + t]), cv, acc[mm][v]);
        }
    }
    const __m512 lo = _mm512_set1_ps(a->lo), hi = _mm512_set1_ps(a->hi);
    const int64_t left = a->ow - ox0 - 16 * (NV - 1); /* columns of the last vector */
    const __mmask16 tail = left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1u);
#pragma GCC unroll 4
    for (int mm = 0; mm < MB; mm++) {
        float *yp = yrow + (m0 + mm) * ldy + ox0;
        const float *rp = rrow ? rrow + (m0 + mm) * ldy + ox0 : NULL;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            const __mmask16 k = v == NV - 1 ? tail : (__mmask16)0xffff;
            __m512 s = acc[mm][v];
            if (rp) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(k, rp + 16 * v));
            _mm512_mask_storeu_ps(yp + 16 * v, k, dw_act(s, a->mode, lo, hi));
        }
    }
}

/* Every channel block and column block of one output row. */
#define STEM_NV_CASES(MB)                                                        \
    switch (nv) {                                                                \
    case 1: stem_block(MB, 1, a, col, owp, K, m0, ox0, yrow, rrow, ldy); break;  \
    case 2: stem_block(MB, 2, a, col, owp, K, m0, ox0, yrow, rrow, ldy); break;  \
    case 3: stem_block(MB, 3, a, col, owp, K, m0, ox0, yrow, rrow, ldy); break;  \
    default: stem_block(MB, 4, a, col, owp, K, m0, ox0, yrow, rrow, ldy); break; \
    }

static void stem_row(const nn_stem_args *a, const float *col, int64_t owp, float *yrow,
                     const float *rrow)
{
    const int64_t K = a->c * 9, ldy = a->oh * a->ow;
    for (int64_t ox0 = 0; ox0 < a->ow; ox0 += 16 * STEM_NV) {
        const int64_t nv0 = (a->ow - ox0 + 15) / 16;
        const int nv = nv0 > STEM_NV ? STEM_NV : (int)nv0;
        int64_t m0 = 0;
        for (; m0 + STEM_MB <= a->m; m0 += STEM_MB) STEM_NV_CASES(STEM_MB)
        for (; m0 < a->m; m0++) STEM_NV_CASES(1)
    }
}

void nn_stem_rows(const nn_stem_args *a, const float *x, float *y, const float *res, int64_t r0,
                  int64_t r1, float *col)
{
    const int64_t owp = (a->ow + 15) / 16 * 16;
    for (int64_t oy = r0; oy < r1; oy++) {
        stem_col_row(a, x, oy, owp, col);
        stem_row(a, col, owp, y + oy * a->ow, res ? res + oy * a->ow : NULL);
    }
}

#else
void nn_stem_rows(const nn_stem_args *a, const float *x, float *y, const float *res, int64_t r0,
                  int64_t r1, float *col)
{
    (void)a;
    (void)x;
    (void)y;
    (void)res;
    (void)r0;
    (void)r1;
    (void)col;
}
#endif
