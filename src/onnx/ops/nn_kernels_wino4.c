/* Vectorized tile transforms of the Winograd F(4x4, 3x3) convolution (conv_winograd.c; O3 and
 * target clones as nn_kernels.h describes). Both 2-D transforms run as two 1-D passes of six
 * streams in, six (or four) out, vectorized across the tiles of a row (or of a block). */
#include "nn_kernels.h"

#include <stddef.h>

/* The streams never overlap (see nn_kernels.h), which GCC cannot prove from the pointers. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_IVDEP4 _Pragma("GCC ivdep")
#else
#define NN_IVDEP4
#endif

/* o_a = (B^T d)_a over six streams, B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
 * 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]: input stream k at i + k * is, output a at
 * o + a * os, n elements each. */
static NN_HOT NN_CLONES void k_wino4_bt(float *o, int64_t os, const float *i, int64_t is, int64_t n)
{
    const float *const i0 = i, *const i1 = i + is, *const i2 = i + 2 * is, *const i3 = i + 3 * is;
    const float *const i4 = i + 4 * is, *const i5 = i + 5 * is;
    float *const o0 = o, *const o1 = o + os, *const o2 = o + 2 * os, *const o3 = o + 3 * os;
    float *const o4 = o + 4 * os, *const o5 = o + 5 * os;
    NN_IVDEP4
    for (int64_t j = 0; j < n; j++) {
        const float d0 = i0[j], d1 = i1[j], d2 = i2[j], d3 = i3[j], d4 = i4[j], d5 = i5[j];
        const float p = d4 - 4.0f * d2, q = d3 - 4.0f * d1; /* rows 1, 2 */
        const float r = d4 - d2, s = 2.0f * (d3 - d1);      /* rows 3, 4 */
        o0[j] = 4.0f * d0 - 5.0f * d2 + d4;
        o1[j] = p + q;
        o2[j] = p - q;
        o3[j] = r + s;
        o4[j] = r - s;
        o5[j] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

/* o_a = (A^T m)_a + bias over six streams, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0;
 * 0 1 -1 8 -8 1]: stream k at i + k * is, output a at o + a * os, n elements each. */
static NN_HOT NN_CLONES void k_wino4_at(float *o, int64_t os, const float *i, int64_t is,
                                        float bias, int64_t n)
{
    const float *const i0 = i, *const i1 = i + is, *const i2 = i + 2 * is, *const i3 = i + 3 * is;
    const float *const i4 = i + 4 * is, *const i5 = i + 5 * is;
    float *const o0 = o, *const o1 = o + os, *const o2 = o + 2 * os, *const o3 = o + 3 * os;
    NN_IVDEP4
    for (int64_t j = 0; j < n; j++) {
        const float a = i1[j] + i2[j], b = i1[j] - i2[j], c = i3[j] + i4[j], d = i3[j] - i4[j];
        o0[j] = bias + (i0[j] + a + c);
        o1[j] = bias + (b + 2.0f * d);
        o2[j] = bias + (a + 4.0f * c);
        o3[j] = bias + (b + 8.0f * d + i5[j]);
    }
}

/* Row src (n4 = 4 * ps floats) into its four phases: dst[q * ps + i] = src[4i + q]. */
static NN_HOT NN_CLONES void k_wino4_phases(float *restrict dst, const float *restrict src,
                                            int64_t ps)
{
    float *const p0 = dst, *const p1 = dst + ps, *const p2 = dst + 2 * ps, *const p3 = dst + 3 * ps;
    for (int64_t i = 0; i < ps; i++) {
        p0[i] = src[4 * i], p1[i] = src[4 * i + 1];
        p2[i] = src[4 * i + 2], p3[i] = src[4 * i + 3];
    }
}

void nn_k_wino4_phases(float *restrict dst, const float *restrict src, int64_t ps)
{
    k_wino4_phases(dst, src, ps);
}

void nn_k_wino4_in_row(float *v, int64_t fs, const float *ph, int64_t ps, int64_t tw, float *tmp)
{
    /* rows: tmp[a * 6 + s] = (B^T d)_a of column stream s (columns 4j + s of the six rows; the
     * row r's phase q is at ph + (4r + q) * ps, columns 4j + 4 and 4j + 5 are phases 0 and 1
     * one further) */
    for (int s = 0; s < 6; s++)
        k_wino4_bt(tmp + s * tw, 6 * tw, ph + (s < 4 ? s * ps : (s - 4) * ps + 1), 4 * ps, tw);
    /* then columns: frequency 6a + b = (tmp_a B)_b */
    for (int a = 0; a < 6; a++) k_wino4_bt(v + 6 * a * fs, fs, tmp + 6 * a * tw, tw, tw);
}

void nn_k_wino4_out_tiles(float *y, int64_t ys, const float *m, int64_t fs, float bias, int64_t n,
                          float *tmp)
{
    /* columns first: tmp[a * 6 + b] = (A^T M)_a of column b (frequencies b, 6 + b, ...) */
    for (int b = 0; b < 6; b++) k_wino4_at(tmp + b * ys, 6 * ys, m + b * fs, 6 * fs, 0.0f, n);
    /* then rows: output (a, b) = (tmp_a A)_b + bias */
    for (int a = 0; a < 4; a++) k_wino4_at(y + 4 * a * ys, ys, tmp + 6 * a * ys, ys, bias, n);
}

/* One output row from four arrays of a row of tiles: column 4j + b (< ow) is t_b[j], plus the
 * residual row r when res, then act (as nn_kernels_wino.c's F(2x2) store). */
static inline __attribute__((always_inline)) void
wino4_out_row(float *restrict y, const float *restrict r, const float *restrict t0,
              const float *restrict t1, const float *restrict t2, const float *restrict t3, int act,
              float lo, float hi, int res, int64_t tw, int64_t ow)
{
    const int64_t full = ow / 4 < tw ? ow / 4 : tw;
    for (int64_t j = 0; j < full; j++) {
        float a = t0[j], b = t1[j], c = t2[j], d = t3[j];
        if (res) a = a + r[4 * j], b = b + r[4 * j + 1], c = c + r[4 * j + 2], d = d + r[4 * j + 3];
        y[4 * j] = nn_wino_act(a, act, lo, hi), y[4 * j + 1] = nn_wino_act(b, act, lo, hi);
        y[4 * j + 2] = nn_wino_act(c, act, lo, hi), y[4 * j + 3] = nn_wino_act(d, act, lo, hi);
    }
    const float *const t[4] = {t0, t1, t2, t3};
    for (int64_t col = 4 * full; col < ow; col++) { /* the last tile's columns of a ragged row */
        float a = t[col % 4][full];
        if (res) a = a + r[col];
        y[col] = nn_wino_act(a, act, lo, hi);
    }
}

static NN_HOT NN_CLONES void k_wino4_out_row(float *restrict y, const float *restrict r,
                                             const float *restrict t0, const float *restrict t1,
                                             const float *restrict t2, const float *restrict t3,
                                             int act, float lo, float hi, int64_t tw, int64_t ow)
{
#define WINO4_ROW(A, R) wino4_out_row(y, r, t0, t1, t2, t3, A, lo, hi, R, tw, ow)
    const int res = r != NULL;
    if (act == NN_WINO_RELU && res) WINO4_ROW(NN_WINO_RELU, 1);
    else if (act == NN_WINO_RELU) WINO4_ROW(NN_WINO_RELU, 0);
    else if (act == NN_WINO_CLIP && res) WINO4_ROW(NN_WINO_CLIP, 1);
    else if (act == NN_WINO_CLIP) WINO4_ROW(NN_WINO_CLIP, 0);
    else if (res) WINO4_ROW(NN_WINO_NONE, 1);
    else WINO4_ROW(NN_WINO_NONE, 0);
#undef WINO4_ROW
}

void nn_k_wino4_out_row(float *y, const float *r, const float *t, int64_t ts, int act, float lo,
                        float hi, int64_t tw, int64_t ow)
{
    k_wino4_out_row(y, r, t, t + ts, t + 2 * ts, t + 3 * ts, act, lo, hi, tw, ow);
}
