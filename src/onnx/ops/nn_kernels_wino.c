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

/* Y = A^T m A + bias (+ residual r, then Relu or Clip), A^T = [1 1 1 0; 0 1 -1 -1], for tiles
 * j < tw whose frequency f is m[f * fs + j]: output rows y0, y1 get columns 2j, 2j+1 below ow.
 * Sums in the order the unfused passes used (transform + bias, + residual, activation as
 * nn_k_bias_relu / nn_k_bias_clip), so the results are the same bit for bit. `act` and `res`
 * are constants where the clone below inlines this, one loop per combination. */
static inline __attribute__((always_inline)) float wino_out_act(float v, int act, float lo,
                                                                float hi)
{
    if (act == NN_WINO_RELU) return v > 0 ? v : 0.0f;
    if (act == NN_WINO_CLIP) {
        v = v + 0.0f; /* as nn_k_bias_clip's zero bias: -0 becomes +0 */
        v = v < lo ? lo : v;
        return v > hi ? hi : v;
    }
    return v;
}

static inline __attribute__((always_inline)) void
wino_out_row(float *restrict y0, float *restrict y1, const float *restrict r0,
             const float *restrict r1, const float *restrict m, int64_t fs, float bias, int act,
             float lo, float hi, int res, int64_t tw, int64_t ow)
{
    const int64_t full = ow / 2 < tw ? ow / 2 : tw;
    NN_IVDEP
    for (int64_t j = 0; j < full; j++) {
        float s0[4], s1[4];
        for (int b = 0; b < 4; b++) {
            const float m0 = m[b * fs + j], m1 = m[(4 + b) * fs + j];
            const float m2 = m[(8 + b) * fs + j], m3 = m[(12 + b) * fs + j];
            s0[b] = m0 + m1 + m2;
            s1[b] = m1 - m2 - m3;
        }
        float a = bias + s0[0] + s0[1] + s0[2], b = bias + s0[1] - s0[2] - s0[3];
        float c = bias + s1[0] + s1[1] + s1[2], d = bias + s1[1] - s1[2] - s1[3];
        if (res) {
            a = a + r0[2 * j], b = b + r0[2 * j + 1];
            c = c + r1[2 * j], d = d + r1[2 * j + 1];
        }
        y0[2 * j] = wino_out_act(a, act, lo, hi), y0[2 * j + 1] = wino_out_act(b, act, lo, hi);
        y1[2 * j] = wino_out_act(c, act, lo, hi), y1[2 * j + 1] = wino_out_act(d, act, lo, hi);
    }
    if (full < tw && 2 * full < ow) { /* odd width: the last tile's first column */
        const int64_t j = full;
        float s0[3], s1[3];
        for (int b = 0; b < 3; b++) {
            const float m0 = m[b * fs + j], m1 = m[(4 + b) * fs + j];
            const float m2 = m[(8 + b) * fs + j], m3 = m[(12 + b) * fs + j];
            s0[b] = m0 + m1 + m2;
            s1[b] = m1 - m2 - m3;
        }
        float a = bias + s0[0] + s0[1] + s0[2], c = bias + s1[0] + s1[1] + s1[2];
        if (res) a = a + r0[2 * j], c = c + r1[2 * j];
        y0[2 * j] = wino_out_act(a, act, lo, hi), y1[2 * j] = wino_out_act(c, act, lo, hi);
    }
}

static NN_HOT NN_CLONES void k_wino2_out_row(float *restrict y0, float *restrict y1,
                                             const float *restrict r0, const float *restrict r1,
                                             const float *restrict m, int64_t fs, float bias,
                                             int act, float lo, float hi, int64_t tw, int64_t ow)
{
    const int res = r0 != NULL;
    if (act == NN_WINO_RELU && res)
        wino_out_row(y0, y1, r0, r1, m, fs, bias, NN_WINO_RELU, lo, hi, 1, tw, ow);
    else if (act == NN_WINO_RELU)
        wino_out_row(y0, y1, r0, r1, m, fs, bias, NN_WINO_RELU, lo, hi, 0, tw, ow);
    else if (act == NN_WINO_CLIP && res)
        wino_out_row(y0, y1, r0, r1, m, fs, bias, NN_WINO_CLIP, lo, hi, 1, tw, ow);
    else if (act == NN_WINO_CLIP)
        wino_out_row(y0, y1, r0, r1, m, fs, bias, NN_WINO_CLIP, lo, hi, 0, tw, ow);
    else if (res) wino_out_row(y0, y1, r0, r1, m, fs, bias, NN_WINO_NONE, lo, hi, 1, tw, ow);
    else wino_out_row(y0, y1, r0, r1, m, fs, bias, NN_WINO_NONE, lo, hi, 0, tw, ow);
}

void nn_k_wino2_in_row(float *restrict v, int64_t fs, const float *const *rows, int64_t tw)
{
    k_wino2_in_row(v, fs, rows[0], rows[1], rows[2], rows[3], rows[0] + 2, rows[1] + 2, rows[2] + 2,
                   rows[3] + 2, tw);
}

void nn_k_wino2_out_row(float *restrict y0, float *restrict y1, const float *r0, const float *r1,
                        const float *restrict m, int64_t fs, float bias, int act, float lo,
                        float hi, int64_t tw, int64_t ow)
{
    k_wino2_out_row(y0, y1, r0, r1, m, fs, bias, act, lo, hi, tw, ow);
}
