/* The AVX-512 kernels of the depthwise convolution straight from the input plane (see
 * conv_dw_direct.c, which decides when they run): 3x3 and 5x5, stride 1 or 2, blocks of output
 * rows at a time. Compiled with -mavx512f -mfma (CMakeLists.txt), called only after
 * nn_dw_direct_fits checked the CPU. */
#include "conv_phase.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include "conv_avx512.h"

/* Input value for tap column j: a full load, or masked (lanes outside the row are never read
 * and are zero, also after the input activation). */
__attribute__((always_inline)) static inline __m512
dw_load(const float *p, __mmask16 m, const int masked, const int in_mode, __m512 ilo, __m512 ihi)
{
    __m512 v = masked ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
    if (in_mode) {
        v = dw_act(v, in_mode, ilo, ihi);
        if (masked) v = _mm512_maskz_mov_ps(m, v);
    }
    return v;
}

/* Blocks of output rows: each input row's K loads serve every output row whose window covers
 * it (up to K of them), the K x K weights stay in registers for the plane, and an edge vector's
 * masks are made once per block of rows. One output row at a time took K x K loads and K x K
 * weight broadcasts per 16 outputs (MobileNetV2's 112-wide 3x3 planes: about 24 cycles per
 * vector). 3x3 stride 1 on planes up to DW_ROWS_3S1_MAX_W wide (two vectors a row):
 * DW_ROWS_3S1 rows (16 sums and 9 weights in zmm registers), else DW_ROWS (5x5: 25 weights;
 * with 8 rows, 3x3 stride 2 on 112x112 planes was 10 % slower, stride 1 on 56x56 and 112x112
 * with the input's Clip in the loads 5-14 %: wide rows keep the load ports busy, not the
 * sums' chains); a plane's last rows are one shorter block, not row by row (a lone row's two
 * sums are two dependency chains of K * K / 2 multiply-adds: 3 of a 7x7 plane's 7 rows waited
 * on them). Against 4 rows and single last rows (the planes of one node, best of 400 calls,
 * 2026-12-07, loaded): 3x3 stride 1 7x7 x 960 channels 44 -> 21 us, 14x14 x 576 39 -> 28,
 * 28x28 x 192 -11 to -15 %; stride 2 (4 rows, last rows one block) 14x14 x 576 -20 %; wider
 * planes even. */
#define DW_ROWS           4
#define DW_ROWS_3S1       8
#define DW_ROWS_3S1_MAX_W 32
#define DW_ROWS_MAX       8

/* Stride 2: the K taps' 16-lane vectors of input row p (tap j: columns p[j], p[j + 2], ...,
 * p[j + 30]) from three loads: the even and odd columns of p[0 .. 31] (two permutes), the
 * further taps shifted in from the next columns' even / odd lanes (p[32 .. 32 + K - 3]: one
 * permute each and an align per tap). Lanes outside the row are zero (masks m: p[0..15],
 * p[16..31], p[32..]). */
__attribute__((always_inline)) static inline void dw_taps_s2(const int K, const float *p,
                                                             const __mmask16 *m, const int masked,
                                                             const int in_mode, __m512 ilo,
                                                             __m512 ihi, __m512 *v)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const __m512 lo = dw_load(p, m[0], masked, in_mode, ilo, ihi);
    const __m512 hi = dw_load(p + 16, m[1], masked, in_mode, ilo, ihi);
    /* only the first K - 2 lanes are read: always a masked load (the row may end there) */
    const __m512 nx = dw_load(p + 32, m[2], 1, in_mode, ilo, ihi);
    const __m512 e = _mm512_permutex2var_ps(lo, ev, hi), o = _mm512_permutex2var_ps(lo, od, hi);
    const __m512i ne = _mm512_castps_si512(_mm512_permutexvar_ps(ev, nx));
    v[0] = e;
    v[1] = o;
    v[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(ne, _mm512_castps_si512(e), 1));
    if (K == 5) {
        const __m512i no = _mm512_castps_si512(_mm512_permutexvar_ps(od, nx));
        v[3] = _mm512_castsi512_ps(_mm512_alignr_epi32(no, _mm512_castps_si512(o), 1));
        v[4] = _mm512_castsi512_ps(_mm512_alignr_epi32(ne, _mm512_castps_si512(e), 2));
    }
}

/* Rows r .. r + R - 1 (all inside the output), 16 outputs at columns c0.. each, into acc[]:
 * bias + the taps of input rows S * r - pt + i (0 <= i < K, those inside the input), in tap
 * order, rows alternating between two sums (two dependency chains) added at the end: per
 * output the arithmetic of one row at a time, so R does not change a bit. col: the input
 * column of tap 0 of the first output. K, S, R, masked and in_mode are constants at each call. */
__attribute__((always_inline)) static inline void
dw_rows(const int K, const int S, const int R, const float *x, int64_t in_h, int64_t in_w,
        int64_t r0, int64_t col, const __m512 *wv, __m512 b, const int masked, const __mmask16 *m,
        const int in_mode, __m512 ilo, __m512 ihi, __m512 *acc)
{
    __m512 a0[DW_ROWS_MAX], a1[DW_ROWS_MAX];
#pragma GCC unroll 8
    for (int rr = 0; rr < R; rr++) {
        a0[rr] = b;
        a1[rr] = _mm512_setzero_ps();
    }
    /* input row r0 + ii feeds output row rr with tap row i = ii - S * rr */
#pragma GCC unroll 20
    for (int ii = 0; ii < S * (R - 1) + K; ii++) {
        const int64_t ir = r0 + ii;
        if (ir < 0 || ir >= in_h) continue;
        const float *p = x + ir * in_w + col;
        __m512 v[5];
        if (S == 2) {
            dw_taps_s2(K, p, m, masked, in_mode, ilo, ihi, v);
        } else {
#pragma GCC unroll 5
            for (int j = 0; j < K; j++) v[j] = dw_load(p + j, m[j], masked, in_mode, ilo, ihi);
        }
#pragma GCC unroll 8
        for (int rr = 0; rr < R; rr++) {
            const int i = ii - S * rr;
            if (i < 0 || i >= K) continue;
            __m512 t = (i & 1) ? a1[rr] : a0[rr];
#pragma GCC unroll 5
            for (int j = 0; j < K; j++) t = _mm512_fmadd_ps(wv[i * K + j], v[j], t);
            if (i & 1) a1[rr] = t;
            else a0[rr] = t;
        }
    }
#pragma GCC unroll 8
    for (int rr = 0; rr < R; rr++) acc[rr] = _mm512_add_ps(a0[rr], a1[rr]);
}

/* Output rows r .. r + R - 1 of the plane, every 16-column vector: columns whose loads lie
 * inside the row load in full, the rest (the edges) masked. */
__attribute__((always_inline)) static inline void
dw_row_block(const nn_dw_direct *d, const int K, const int S, const int R, const int in_mode,
             const float *x, float *y, int64_t r, int64_t ow, const __m512 *wv, __m512 b,
             __m512 ilo, __m512 ihi, int out_mode, __m512 lo, __m512 hi)
{
    const int64_t in_w = d->in_w, pl = d->pl;
    /* masks of the row's loads: stride 1, tap j at col + j; stride 2, col, col + 16 (full)
     * and the K - 2 lanes from col + 32 */
    const __mmask16 tail = (__mmask16)((1u << (K - 2)) - 1u);
    const __mmask16 full[5] = {0xffff, 0xffff, tail, 0xffff, 0xffff};
    /* widest load: stride 1, col + K - 1 + 16 <= in_w; stride 2, col + 32 <= in_w */
    const int64_t span = S == 1 ? K - 1 + 16 : 32;
    __m512 acc[DW_ROWS_MAX];
    for (int64_t c0 = 0; c0 < ow; c0 += 16) {
        const int64_t left = ow - c0, col = S * c0 - pl;
        __mmask16 om = (__mmask16)0xffff;
        if (col >= 0 && col + span <= in_w && left >= 16) {
            if (S == 2) {
                __mmask16 m[5] = {0xffff, 0xffff, (__mmask16)(dw_col_mask(col + 32, in_w) & tail)};
                dw_rows(K, S, R, x, d->in_h, in_w, S * r - d->pt, col, wv, b, 0, m, in_mode, ilo,
                        ihi, acc);
            } else {
                dw_rows(K, S, R, x, d->in_h, in_w, S * r - d->pt, col, wv, b, 0, full, in_mode, ilo,
                        ihi, acc);
            }
        } else {
            __mmask16 m[5];
            if (S == 2) {
                m[0] = dw_col_mask(col, in_w);
                m[1] = dw_col_mask(col + 16, in_w);
                m[2] = (__mmask16)(dw_col_mask(col + 32, in_w) & tail);
            } else {
#pragma GCC unroll 5
                for (int j = 0; j < K; j++) m[j] = dw_col_mask(col + j, in_w);
            }
            dw_rows(K, S, R, x, d->in_h, in_w, S * r - d->pt, col, wv, b, 1, m, in_mode, ilo, ihi,
                    acc);
            if (left < 16) om = (__mmask16)((1u << left) - 1u);
        }
#pragma GCC unroll 8
        for (int rr = 0; rr < R; rr++)
            _mm512_mask_storeu_ps(y + (r + rr) * ow + c0, om, dw_act(acc[rr], out_mode, lo, hi));
    }
}

/* The rows of a plane, `rows` (a constant) at a time, the rest as one block. */
__attribute__((always_inline)) static inline void
dw_plane_rows(const nn_dw_direct *d, const int K, const int S, const int rows, const int in_mode,
              const float *x, float *y, int64_t oh, int64_t ow, const __m512 *wv, __m512 b,
              __m512 ilo, __m512 ihi, int out_mode, __m512 lo, __m512 hi)
{
    int64_t r = 0;
    for (; r + rows <= oh; r += rows)
        dw_row_block(d, K, S, rows, in_mode, x, y, r, ow, wv, b, ilo, ihi, out_mode, lo, hi);
/* the last oh - r < rows rows (blocks of `rows` or more rows are never made) */
#define DW_LAST_ROWS(R)                                                                        \
    case R:                                                                                    \
        if (R < rows)                                                                          \
            dw_row_block(d, K, S, R, in_mode, x, y, r, ow, wv, b, ilo, ihi, out_mode, lo, hi); \
        break;
    switch (oh - r) {
        DW_LAST_ROWS(7)
        DW_LAST_ROWS(6)
        DW_LAST_ROWS(5)
        DW_LAST_ROWS(4)
        DW_LAST_ROWS(3)
        DW_LAST_ROWS(2)
        DW_LAST_ROWS(1)
    default: break;
    }
#undef DW_LAST_ROWS
}

/* One output plane (oh x ow) of a K x K kernel: output (r, c) from input
 * (S * r - pt + i, S * c - pl + j). */
__attribute__((always_inline)) static inline void
dw_plane(const nn_dw_direct *d, const int K, const int S, const int in_mode, const float *x,
         float *y, int64_t oh, int64_t ow, const float *w, float bias, float ilo_, float ihi_,
         int out_mode, float lo_, float hi_)
{
    const __m512 ilo = _mm512_set1_ps(ilo_), ihi = _mm512_set1_ps(ihi_);
    const __m512 lo = _mm512_set1_ps(lo_), hi = _mm512_set1_ps(hi_), b = _mm512_set1_ps(bias);
    __m512 wv[25];
#pragma GCC unroll 25
    for (int t = 0; t < K * K; t++) wv[t] = _mm512_set1_ps(w[t]);
    if (K == 3 && S == 1 && ow <= DW_ROWS_3S1_MAX_W)
        dw_plane_rows(d, K, S, DW_ROWS_3S1, in_mode, x, y, oh, ow, wv, b, ilo, ihi, out_mode, lo,
                      hi);
    else dw_plane_rows(d, K, S, DW_ROWS, in_mode, x, y, oh, ow, wv, b, ilo, ihi, out_mode, lo, hi);
}

/* The instantiations: K 3 or 5, stride 1 or 2, input activation none / Relu / Clip. */
#define DW_PLANE_FN(K, S, in_mode)                                                               \
    static void dw_plane##K##s##S##_##in_mode(                                                   \
        const nn_dw_direct *d, const float *x, float *y, int64_t oh, int64_t ow, const float *w, \
        float bias, float ilo, float ihi, int out_mode, float lo, float hi)                      \
    {                                                                                            \
        dw_plane(d, K, S, in_mode, x, y, oh, ow, w, bias, ilo, ihi, out_mode, lo, hi);           \
    }
#define DW_PLANE_FNS(K, S) DW_PLANE_FN(K, S, 0) DW_PLANE_FN(K, S, 1) DW_PLANE_FN(K, S, 2)
DW_PLANE_FNS(3, 1)
DW_PLANE_FNS(5, 1)
DW_PLANE_FNS(3, 2)
DW_PLANE_FNS(5, 2)
#define DW_PLANE_MODES(K, S)                                                \
    {                                                                       \
        dw_plane##K##s##S##_0, dw_plane##K##s##S##_1, dw_plane##K##s##S##_2 \
    }

typedef void (*dw_plane_fn)(const nn_dw_direct *, const float *, float *, int64_t, int64_t,
                            const float *, float, float, float, int, float, float);

void nn_dw_direct_plane(const nn_dw_direct *d, const float *x, float *y, int64_t oh, int64_t ow,
                        const float *w, float bias, int in_mode, float ilo, float ihi, int out_mode,
                        float lo, float hi)
{
    static const dw_plane_fn fns[2][2][3] = {{DW_PLANE_MODES(3, 1), DW_PLANE_MODES(5, 1)},
                                             {DW_PLANE_MODES(3, 2), DW_PLANE_MODES(5, 2)}};
    const int mode = in_mode == 1 || in_mode == 2 ? in_mode : 0;
    fns[d->s == 2][d->k == 5][mode](d, x, y, oh, ow, w, bias, ilo, ihi, out_mode, lo, hi);
}
#else
void nn_dw_direct_plane(const nn_dw_direct *d, const float *x, float *y, int64_t oh, int64_t ow,
                        const float *w, float bias, int in_mode, float ilo, float ihi, int out_mode,
                        float lo, float hi)
{
    (void)d, (void)x, (void)y, (void)oh, (void)ow, (void)w, (void)bias, (void)in_mode;
    (void)ilo, (void)ihi, (void)out_mode, (void)lo, (void)hi;
}
#endif
