/* Depthwise 3x3 and 5x5 stride-1 convolution straight from the input plane (AVX-512; see
 * conv_phase.h, nn_dw_direct): no phase-plane gather and no row compaction, each output
 * vector sums its taps from masked loads of the unpadded input rows, so the padding is the
 * masked-off lanes and the rows outside the input are skipped; 4 output rows at a time. */
#include "conv_phase.h"

#include "nn_kernels.h"

#if defined(__x86_64__) && !defined(NN_NO_CLONES) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define NN_HAVE_DW_DIRECT 1
#endif

/* Every output width: with DW_ROWS rows at a time (below) even 7- and 14-wide planes (one
 * masked vector per row) measured faster than the phase path's gather, taps and compaction
 * (MobileNetV2's 14x14 blocks 5-10 % less CPU, 7x7 even; one row at a time they were slower,
 * hence a 48-column limit until 2026-12-07). */
int nn_dw_direct_fits(const nn_geom *g, nn_dw_direct *d)
{
#ifdef NN_HAVE_DW_DIRECT
    if (!__builtin_cpu_supports("avx512f")) return 0;
    if (g->nsp != 2 || g->k[0] != 1 || g->k[1] != g->k[2] || (g->k[1] != 3 && g->k[1] != 5))
        return 0;
    if (g->s[1] != 1 || g->s[2] != 1 || g->d[1] != 1 || g->d[2] != 1) return 0;
    if (g->pb[1] < 0 || g->pb[2] < 0 || g->pb[1] >= g->k[1] || g->pb[2] >= g->k[2]) return 0;
    if (g->in[1] < 1 || g->in[2] < 1) return 0;
    d->k = (int)g->k[1];
    d->in_h = g->in[1];
    d->in_w = g->in[2];
    d->pt = g->pb[1];
    d->pl = g->pb[2];
    return 1;
#else
    (void)g;
    (void)d;
    return 0;
#endif
}

#ifdef NN_HAVE_DW_DIRECT
/* Lanes l of a 16-float load at input column base + l that fall inside [0, in_w). */
__attribute__((target("avx512f"))) static inline __mmask16 dw_col_mask(int64_t base, int64_t in_w)
{
    const int64_t l0 = base < 0 ? -base : 0;
    int64_t l1 = in_w - base;
    if (l1 > 16) l1 = 16;
    if (l1 <= l0) return 0;
    const uint32_t hi = (uint32_t)((1u << l1) - 1u), lo = (uint32_t)((1u << l0) - 1u);
    return (__mmask16)(hi & ~lo);
}

/* mode as nn_k_gather_block_act: 0 none, 1 Relu (a NaN gives 0), 2 Clip to [lo, hi] */
__attribute__((target("avx512f"))) static inline __m512 dw_act(__m512 v, int mode, __m512 lo,
                                                               __m512 hi)
{
    if (mode == 1) return _mm512_max_ps(v, _mm512_setzero_ps());
    if (mode == 2) return _mm512_min_ps(hi, _mm512_max_ps(lo, v));
    return v;
}

/* Input value for tap column j: a full load, or masked (lanes outside the row are never read
 * and are zero, also after the input activation). */
__attribute__((target("avx512f"), always_inline)) static inline __m512
dw_load(const float *p, __mmask16 m, const int masked, const int in_mode, __m512 ilo, __m512 ihi)
{
    __m512 v = masked ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
    if (in_mode) {
        v = dw_act(v, in_mode, ilo, ihi);
        if (masked) v = _mm512_maskz_mov_ps(m, v);
    }
    return v;
}

/* DW_ROWS output rows at a time: each input row's K loads serve every output row whose
 * window covers it (up to K of them), the K x K weights stay in registers for the plane, and
 * an edge vector's masks are made once per block of rows. One output row at a time took K x K
 * loads and K x K weight broadcasts per 16 outputs (MobileNetV2's 112-wide 3x3 planes: about 24
 * cycles per vector). */
#define DW_ROWS 4

/* Rows r .. r + R - 1 (all inside the output), 16 outputs at columns c0.. each, into acc[]:
 * bias + the taps of input rows r - pt + i (0 <= i < K, those inside the input), in tap order,
 * rows alternating between two sums (two dependency chains) added at the end: per output the
 * arithmetic of one row at a time, so R does not change a bit. K, R, masked and in_mode are
 * constants at each call. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw_rows(const int K, const int R, const float *x, int64_t in_h, int64_t in_w, int64_t r0,
        int64_t col, const __m512 *wv, __m512 b, const int masked, const __mmask16 *m,
        const int in_mode, __m512 ilo, __m512 ihi, __m512 *acc)
{
    __m512 a0[DW_ROWS], a1[DW_ROWS];
#pragma GCC unroll 4
    for (int rr = 0; rr < R; rr++) {
        a0[rr] = b;
        a1[rr] = _mm512_setzero_ps();
    }
    /* input row r0 + ii feeds output row rr with tap row i = ii - rr */
#pragma GCC unroll 8
    for (int ii = 0; ii < R + K - 1; ii++) {
        const int64_t ir = r0 + ii;
        if (ir < 0 || ir >= in_h) continue;
        const float *p = x + ir * in_w + col;
        __m512 v[5];
#pragma GCC unroll 5
        for (int j = 0; j < K; j++) v[j] = dw_load(p + j, m[j], masked, in_mode, ilo, ihi);
#pragma GCC unroll 4
        for (int rr = 0; rr < R; rr++) {
            const int i = ii - rr;
            if (i < 0 || i >= K) continue;
            __m512 t = (i & 1) ? a1[rr] : a0[rr];
#pragma GCC unroll 5
            for (int j = 0; j < K; j++) t = _mm512_fmadd_ps(wv[i * K + j], v[j], t);
            if (i & 1) a1[rr] = t;
            else a0[rr] = t;
        }
    }
#pragma GCC unroll 4
    for (int rr = 0; rr < R; rr++) acc[rr] = _mm512_add_ps(a0[rr], a1[rr]);
}

/* Output rows r .. r + R - 1 of the plane, every 16-column vector: columns whose 16-wide
 * window lies inside the row load in full, the rest (the edges) masked. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw_row_block(const nn_dw_direct *d, const int K, const int R, const int in_mode, const float *x,
             float *y, int64_t r, int64_t ow, const __m512 *wv, __m512 b, __m512 ilo, __m512 ihi,
             int out_mode, __m512 lo, __m512 hi)
{
    const int64_t in_w = d->in_w, pl = d->pl;
    const __mmask16 full[5] = {0xffff, 0xffff, 0xffff, 0xffff, 0xffff};
    /* full loads for c0 in [pl, c_end): c0 - pl + K - 1 + 16 <= in_w */
    const int64_t c_end = in_w - K - 15 + pl;
    __m512 acc[DW_ROWS];
    for (int64_t c0 = 0; c0 < ow; c0 += 16) {
        const int64_t left = ow - c0;
        __mmask16 om = (__mmask16)0xffff;
        if (c0 >= pl && c0 < c_end && left >= 16) {
            dw_rows(K, R, x, d->in_h, in_w, r - d->pt, c0 - pl, wv, b, 0, full, in_mode, ilo, ihi,
                    acc);
        } else {
            __mmask16 m[5];
#pragma GCC unroll 5
            for (int j = 0; j < K; j++) m[j] = dw_col_mask(c0 - pl + j, in_w);
            dw_rows(K, R, x, d->in_h, in_w, r - d->pt, c0 - pl, wv, b, 1, m, in_mode, ilo, ihi,
                    acc);
            if (left < 16) om = (__mmask16)((1u << left) - 1u);
        }
#pragma GCC unroll 4
        for (int rr = 0; rr < R; rr++)
            _mm512_mask_storeu_ps(y + (r + rr) * ow + c0, om, dw_act(acc[rr], out_mode, lo, hi));
    }
}

/* One output plane (oh x ow) of a K x K kernel: output (r, c) from input
 * (r - pt + i, c - pl + j), DW_ROWS rows at a time, the last few one by one. */
__attribute__((target("avx512f"), always_inline)) static inline void
dw_plane(const nn_dw_direct *d, const int K, const int in_mode, const float *x, float *y,
         int64_t oh, int64_t ow, const float *w, float bias, float ilo_, float ihi_, int out_mode,
         float lo_, float hi_)
{
    const __m512 ilo = _mm512_set1_ps(ilo_), ihi = _mm512_set1_ps(ihi_);
    const __m512 lo = _mm512_set1_ps(lo_), hi = _mm512_set1_ps(hi_), b = _mm512_set1_ps(bias);
    __m512 wv[25];
#pragma GCC unroll 25
    for (int t = 0; t < K * K; t++) wv[t] = _mm512_set1_ps(w[t]);
    int64_t r = 0;
    for (; r + DW_ROWS <= oh; r += DW_ROWS)
        dw_row_block(d, K, DW_ROWS, in_mode, x, y, r, ow, wv, b, ilo, ihi, out_mode, lo, hi);
    for (; r < oh; r++)
        dw_row_block(d, K, 1, in_mode, x, y, r, ow, wv, b, ilo, ihi, out_mode, lo, hi);
}

/* The instantiations: K 3 or 5, input activation none / Relu / Clip. */
#define DW_PLANE_FN(name, K, in_mode)                                                            \
    __attribute__((target("avx512f"))) static void name(                                         \
        const nn_dw_direct *d, const float *x, float *y, int64_t oh, int64_t ow, const float *w, \
        float bias, float ilo, float ihi, int out_mode, float lo, float hi)                      \
    {                                                                                            \
        dw_plane(d, K, in_mode, x, y, oh, ow, w, bias, ilo, ihi, out_mode, lo, hi);              \
    }
DW_PLANE_FN(dw_plane3_0, 3, 0)
DW_PLANE_FN(dw_plane3_1, 3, 1)
DW_PLANE_FN(dw_plane3_2, 3, 2)
DW_PLANE_FN(dw_plane5_0, 5, 0)
DW_PLANE_FN(dw_plane5_1, 5, 1)
DW_PLANE_FN(dw_plane5_2, 5, 2)

typedef void (*dw_plane_fn)(const nn_dw_direct *, const float *, float *, int64_t, int64_t,
                            const float *, float, float, float, int, float, float);
#endif

void nn_dw_direct_plane(const nn_dw_direct *d, const float *x, float *y, int64_t oh, int64_t ow,
                        const float *w, float bias, int in_mode, float ilo, float ihi, int out_mode,
                        float lo, float hi)
{
#ifdef NN_HAVE_DW_DIRECT
    static const dw_plane_fn fns[2][3] = {{dw_plane3_0, dw_plane3_1, dw_plane3_2},
                                          {dw_plane5_0, dw_plane5_1, dw_plane5_2}};
    const int mode = in_mode == 1 || in_mode == 2 ? in_mode : 0;
    fns[d->k == 5][mode](d, x, y, oh, ow, w, bias, ilo, ihi, out_mode, lo, hi);
#else
    (void)d, (void)x, (void)y, (void)oh, (void)ow, (void)w, (void)bias, (void)in_mode;
    (void)ilo, (void)ihi, (void)out_mode, (void)lo, (void)hi;
#endif
}
