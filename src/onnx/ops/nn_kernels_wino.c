/* Vectorized tile transforms of the Winograd F(2x2, 3x3) convolution (conv_winograd.c; O3 and
 * target clones as nn_kernels.h describes). Each call handles one row of tiles, vectorized
 * across the tiles: with tiles side by side, frequency f of tile j is element j of a
 * contiguous row, so the loops below store unit-stride runs. */
#include "nn_kernels.h"

#include <stddef.h>

/* The 16 frequency rows a call writes never overlap (they are fs >= tw floats apart), which
 * GCC cannot see: it would need more run-time alias checks than it is willing to emit, and
 * leave the loops scalar. NN_IVDEP says so. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_IVDEP _Pragma("GCC ivdep")
#else
#define NN_IVDEP
#endif

/* V = B^T d B, B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], for tile j reading columns
 * 2j .. 2j+3 of the four padded input rows r[0..3]; frequency 4a + b goes to v[(4a + b) * fs + j].
 * Columns 2j, 2j+1 are read through r[i] and 2j+2, 2j+3 through r[i] + 2: GCC vectorizes two
 * interleaved pairs per row, not one group of four overlapping its neighbour's. */
static NN_HOT NN_CLONES void k_wino2_in_row(float *v, int64_t fs, const float *restrict a0,
                                            const float *restrict a1, const float *restrict a2,
                                            const float *restrict a3, const float *restrict b0,
                                            const float *restrict b1, const float *restrict b2,
                                            const float *restrict b3, int64_t tw)
{
    float *const v0 = v, *const v1 = v + fs, *const v2 = v + 2 * fs, *const v3 = v + 3 * fs;
    float *const v4 = v + 4 * fs, *const v5 = v + 5 * fs, *const v6 = v + 6 * fs;
    float *const v7 = v + 7 * fs, *const v8 = v + 8 * fs, *const v9 = v + 9 * fs;
    float *const v10 = v + 10 * fs, *const v11 = v + 11 * fs, *const v12 = v + 12 * fs;
    float *const v13 = v + 13 * fs, *const v14 = v + 14 * fs, *const v15 = v + 15 * fs;
    NN_IVDEP
    for (int64_t j = 0; j < tw; j++) {
        const float d00 = a0[2 * j], d01 = a0[2 * j + 1], d02 = b0[2 * j], d03 = b0[2 * j + 1];
        const float d10 = a1[2 * j], d11 = a1[2 * j + 1], d12 = b1[2 * j], d13 = b1[2 * j + 1];
        const float d20 = a2[2 * j], d21 = a2[2 * j + 1], d22 = b2[2 * j], d23 = b2[2 * j + 1];
        const float d30 = a3[2 * j], d31 = a3[2 * j + 1], d32 = b3[2 * j], d33 = b3[2 * j + 1];
        /* rows first: t_a = (B^T d)_a at columns 2j .. 2j+3 */
        const float t00 = d00 - d20, t01 = d01 - d21, t02 = d02 - d22, t03 = d03 - d23;
        const float t10 = d10 + d20, t11 = d11 + d21, t12 = d12 + d22, t13 = d13 + d23;
        const float t20 = d20 - d10, t21 = d21 - d11, t22 = d22 - d12, t23 = d23 - d13;
        const float t30 = d10 - d30, t31 = d11 - d31, t32 = d12 - d32, t33 = d13 - d33;
        /* then columns: (t B)_a */
        v0[j] = t00 - t02, v1[j] = t01 + t02, v2[j] = t02 - t01, v3[j] = t01 - t03;
        v4[j] = t10 - t12, v5[j] = t11 + t12, v6[j] = t12 - t11, v7[j] = t11 - t13;
        v8[j] = t20 - t22, v9[j] = t21 + t22, v10[j] = t22 - t21, v11[j] = t21 - t23;
        v12[j] = t30 - t32, v13[j] = t31 + t32, v14[j] = t32 - t31, v15[j] = t31 - t33;
    }
}

/* Y = A^T m A + bias, A^T = [1 1 1 0; 0 1 -1 -1], for tiles j < n whose frequency f is
 * m[f * fs + j]: the tile's outputs (0,0), (0,1), (1,0), (1,1) go to y00[j], y01[j], y10[j],
 * y11[j]. Vectorized over all the tiles of a block (rows of tiles back to back), not one row of
 * 7-28 tiles, which left AVX-512 mostly scalar. */
static NN_HOT NN_CLONES void k_wino2_out_tiles(float *restrict y00, float *restrict y01,
                                               float *restrict y10, float *restrict y11,
                                               const float *restrict m, int64_t fs, float bias,
                                               int64_t n)
{
    const float *const m0 = m, *const m1 = m + fs, *const m2 = m + 2 * fs, *const m3 = m + 3 * fs;
    const float *const m4 = m + 4 * fs, *const m5 = m + 5 * fs, *const m6 = m + 6 * fs;
    const float *const m7 = m + 7 * fs, *const m8 = m + 8 * fs, *const m9 = m + 9 * fs;
    const float *const m10 = m + 10 * fs, *const m11 = m + 11 * fs, *const m12 = m + 12 * fs;
    const float *const m13 = m + 13 * fs, *const m14 = m + 14 * fs, *const m15 = m + 15 * fs;
    NN_IVDEP
    for (int64_t j = 0; j < n; j++) {
        /* s0[b] = m[b] + m[4 + b] + m[8 + b], s1[b] = m[4 + b] - m[8 + b] - m[12 + b] */
        const float s00 = m0[j] + m4[j] + m8[j], s01 = m1[j] + m5[j] + m9[j];
        const float s02 = m2[j] + m6[j] + m10[j], s03 = m3[j] + m7[j] + m11[j];
        const float s10 = m4[j] - m8[j] - m12[j], s11 = m5[j] - m9[j] - m13[j];
        const float s12 = m6[j] - m10[j] - m14[j], s13 = m7[j] - m11[j] - m15[j];
        y00[j] = bias + s00 + s01 + s02;
        y01[j] = bias + s01 - s02 - s03;
        y10[j] = bias + s10 + s11 + s12;
        y11[j] = bias + s11 - s12 - s13;
    }
}

/* The tiles' outputs into two output rows (columns 2j, 2j+1 below ow), plus the residual rows
 * r0/r1 when r0 is not NULL, then `act` (NN_WINO_RELU as nn_k_bias_relu, NN_WINO_CLIP to
 * [lo, hi] as nn_k_bias_clip): the order the unfused passes used, so the same bits. `act` and
 * `res` are constants where the clone below inlines this, one loop per combination. */
static inline __attribute__((always_inline)) void
wino_out_store(float *restrict y0, float *restrict y1, const float *restrict r0,
               const float *restrict r1, const float *restrict t00, const float *restrict t01,
               const float *restrict t10, const float *restrict t11, int act, float lo, float hi,
               int res, int64_t tw, int64_t ow)
{
    const int64_t full = ow / 2 < tw ? ow / 2 : tw;
    for (int64_t j = 0; j < full; j++) {
        float a = t00[j], b = t01[j], c = t10[j], d = t11[j];
        if (res) {
            a = a + r0[2 * j], b = b + r0[2 * j + 1];
            c = c + r1[2 * j], d = d + r1[2 * j + 1];
        }
        y0[2 * j] = nn_wino_act(a, act, lo, hi), y0[2 * j + 1] = nn_wino_act(b, act, lo, hi);
        y1[2 * j] = nn_wino_act(c, act, lo, hi), y1[2 * j + 1] = nn_wino_act(d, act, lo, hi);
    }
    if (full < tw && 2 * full < ow) { /* odd width: the last tile's first column */
        float a = t00[full], c = t10[full];
        if (res) a = a + r0[2 * full], c = c + r1[2 * full];
        y0[2 * full] = nn_wino_act(a, act, lo, hi), y1[2 * full] = nn_wino_act(c, act, lo, hi);
    }
}

static NN_HOT NN_CLONES void k_wino2_out_store(float *restrict y0, float *restrict y1,
                                               const float *restrict r0, const float *restrict r1,
                                               const float *restrict t00, const float *restrict t01,
                                               const float *restrict t10, const float *restrict t11,
                                               int act, float lo, float hi, int64_t tw, int64_t ow)
{
#define WINO_STORE(A, R) wino_out_store(y0, y1, r0, r1, t00, t01, t10, t11, A, lo, hi, R, tw, ow)
    const int res = r0 != NULL;
    if (act == NN_WINO_RELU && res) WINO_STORE(NN_WINO_RELU, 1);
    else if (act == NN_WINO_RELU) WINO_STORE(NN_WINO_RELU, 0);
    else if (act == NN_WINO_CLIP && res) WINO_STORE(NN_WINO_CLIP, 1);
    else if (act == NN_WINO_CLIP) WINO_STORE(NN_WINO_CLIP, 0);
    else if (res) WINO_STORE(NN_WINO_NONE, 1);
    else WINO_STORE(NN_WINO_NONE, 0);
#undef WINO_STORE
}

void nn_k_wino2_in_row(float *restrict v, int64_t fs, const float *const *rows, int64_t tw)
{
    k_wino2_in_row(v, fs, rows[0], rows[1], rows[2], rows[3], rows[0] + 2, rows[1] + 2, rows[2] + 2,
                   rows[3] + 2, tw);
}

void nn_k_wino2_out_tiles(float *restrict y00, float *restrict y01, float *restrict y10,
                          float *restrict y11, const float *restrict m, int64_t fs, float bias,
                          int64_t n)
{
    k_wino2_out_tiles(y00, y01, y10, y11, m, fs, bias, n);
}

void nn_k_wino2_out_store(float *restrict y0, float *restrict y1, const float *r0, const float *r1,
                          const float *const t[4], int act, float lo, float hi, int64_t tw,
                          int64_t ow)
{
    k_wino2_out_store(y0, y1, r0, r1, t[0], t[1], t[2], t[3], act, lo, hi, tw, ow);
}
