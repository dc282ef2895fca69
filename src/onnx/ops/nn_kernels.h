/* Private: small float32 loops of the nn family that must vectorize. The build targets
 * baseline x86-64 and GCC vectorizes only at -O3, so these are compiled with O3 and cloned
 * for AVX2 / AVX-512 (picked at load time by the dynamic loader). */
#ifndef ONNX_OPS_NN_KERNELS_H
#define ONNX_OPS_NN_KERNELS_H

#include <stdint.h>

/* NN_HOT: O3 without FP-trap semantics under GCC (lets comparisons become blends / max);
 * NN_CLONES: AVX-512 / AVX2 / baseline clones of a static function called from its own file. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_HOT __attribute__((optimize("O3", "no-trapping-math")))
#else
#define NN_HOT
#endif
/* NN_HOT_FMA: NN_HOT with a * b + c contracted to FMA where the target has it (the AVX-512
 * clone), for polynomial kernels (exp, erf): chains of multiply-adds, more accurate fused.
 * Results then differ in the last bits between clones. (ISO C mode contracts nothing; clang
 * contracts within an expression by default.) */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_HOT_FMA __attribute__((optimize("O3", "no-trapping-math", "fp-contract=fast")))
#else
#define NN_HOT_FMA
#endif
/* NN_HOT_LOOPS: NN_HOT, and copy/zero loops stay loops: GCC otherwise turns them into
 * memcpy/memset calls, which cost more than the copy itself for the few floats of a row.
 * (clang's no_builtin cannot be combined with target_clones.) */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_HOT_LOOPS \
    __attribute__((optimize("O3", "no-trapping-math", "no-tree-loop-distribute-patterns")))
#else
#define NN_HOT_LOOPS
#endif
/* Clones must be static and called from their own file (nn_kernels.c exports plain wrappers):
 * clang 14 cannot call a target_clones function from another file. ThreadSanitizer crashes in
 * ifunc resolvers, so TSan builds get the baseline code only. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NN_NO_CLONES 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define NN_NO_CLONES 1
#endif
#if defined(__x86_64__) && !defined(NN_NO_CLONES)
#define NN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define NN_CLONES
#endif

/* y[i] = x[i * stride] (im2col rows of strided convolutions) */
void nn_k_copy_strided(float *restrict y, const float *restrict x, int64_t n, int64_t stride);
/* y[i] += b */
void nn_k_add_scalar(float *y, float b, int64_t n);
/* y[i] += b[i] */
void nn_k_add_vec(float *restrict y, const float *restrict b, int64_t n);
/* y[i] = x[i] + c */
void nn_k_shift(float *restrict y, const float *restrict x, float c, int64_t n);
/* y[i] = a[i] + b[i] */
void nn_k_add2(float *restrict y, const float *restrict a, const float *restrict b, int64_t n);
/* y[i] = x[i] * c; y may equal x (in place) but must not overlap it otherwise */
void nn_k_scale(float *y, const float *x, float c, int64_t n);
/* y[r] = scale * sum of x[r * n .. r * n + n) for r < rows, summed in double and rounded once
 * (GlobalAveragePool: scale 1 / n) */
void nn_k_sum_rows(float *restrict y, const float *restrict x, int64_t rows, int64_t n,
                   double scale);
/* The same with AVX-512 (sum_rows_avx512.c; nn_mean_rows calls it when the CPU has AVX-512F):
 * floats added in pairs of pairs, then carried in double, so within ~1e-7 of the double sum. */
void nn_k_sum_rows_avx512(float *restrict y, const float *restrict x, int64_t rows, int64_t n,
                          double scale);
/* y[i] = relu(y[i] + b); y[i] = clip(y[i] + b, lo, hi) (NaN as in activation.c) */
void nn_k_bias_relu(float *y, float b, int64_t n);
/* y = x * a + b (no FMA), then max(y, 0) when relu (BatchNormalization per channel plane); x
 * and y distinct */
void nn_k_affine(float *restrict y, const float *restrict x, float a, float b, int relu, int64_t n);
void nn_k_bias_clip(float *y, float b, float lo, float hi, int64_t n);
/* Softmax (log_out 0) or LogSoftmax (1) of each of rows contiguous rows of n >= 1 values
 * (x and y distinct): exp through nn_expf (relative error ~1e-7). */
void nn_k_softmax_rows(float *restrict y, const float *restrict x, int64_t rows, int64_t n,
                       int log_out);
/* Softmax as nn_k_softmax_rows, with AVX-512 (softmax_avx512.c; nn_k_softmax_rows calls it
 * when the CPU has AVX-512F); below -87.3 from the row's maximum the result is exactly 0. */
void nn_k_softmax_rows_avx512(float *restrict y, const float *restrict x, int64_t rows, int64_t n);
/* y[i] = erf(x[i]); y[i] = x[i] / 2 * (1 + erf(x[i] / sqrt 2)) (GELU). y may equal x (in place)
 * but must not overlap it otherwise. nn_kernels_erf.c; accuracy in nn_vmath.h. */
void nn_k_erf(float *y, const float *x, int64_t n);
void nn_k_gelu(float *y, const float *x, int64_t n);
/* LayerNorm of rows x cols (rows contiguous, x and y distinct): per row mu = mean, inv =
 * 1 / sqrt(variance + eps) (two passes, 32 partial sums each), then
 * y = (x - mu) * inv * scale (+ bias if not NULL); mean / inv_std (if not NULL) get mu, inv. */
void nn_k_layer_norm(float *restrict y, const float *restrict x, int64_t rows, int64_t cols,
                     const float *restrict scale, const float *restrict bias, float eps,
                     float *restrict mean, float *restrict inv_std);

/* ---- nn_kernels_act.c: activations in place (accuracy there) ---- */

/* y = sigmoid(y); y = y * sigmoid(y) (SiLU / Swish); y = clamp(alpha y + beta, 0, 1);
 * y = y * clamp(y / 6 + 1/2, 0, 1) */
void nn_k_sigmoid(float *y, int64_t n);
void nn_k_silu(float *y, int64_t n);
/* y = tanh(y), within 3e-7 relative (nn_kernels_act.c) */
void nn_k_tanh(float *y, int64_t n);
void nn_k_hard_sigmoid(float *y, float alpha, float beta, int64_t n);
void nn_k_hard_swish(float *y, int64_t n);

/* ---- nn_kernels_conv.c ---- */

/* y[i] = v */
void nn_k_fill(float *y, float v, int64_t n);
/* y[t] = bias + sum over k < ntaps of w[k] * src[k][t], t < n (depthwise convolution over
 * phase planes, see conv_phase.h). The src[k] may overlap each other but not y. */
void nn_k_dw_taps(float *restrict y, const float *const *src, const float *w, int64_t ntaps,
                  float bias, int64_t n);
/* dst[a * ld_dst + b] = src[a * ld_src + b * col_stride] for a < rows, b < cols */
void nn_k_gather_block(float *restrict dst, int64_t ld_dst, const float *restrict src,
                       int64_t ld_src, int64_t rows, int64_t cols, int64_t col_stride);
/* The same with an activation applied to each value: mode 1 Relu, 2 Clip to [lo, hi] (NaN as
 * in activation.c), 0 none. */
void nn_k_gather_block_act(float *restrict dst, int64_t ld_dst, const float *restrict src,
                           int64_t ld_src, int64_t rows, int64_t cols, int64_t col_stride, int mode,
                           float lo, float hi);
/* m[i] = max(m[i], x[i]); y[o] = max of t[o*s .. o*s + k) for o < n, k >= 1. A NaN is never
 * the greater value, so NaNs are skipped (MaxPool's rule in pool.c). */
void nn_k_max_into(float *restrict m, const float *restrict x, int64_t n);
void nn_k_max_window(float *restrict y, const float *restrict t, int64_t n, int64_t k, int64_t s);
/* y[o] = the mean of a[2o], a[2o+1], b[2o], b[2o+1] for o < n (AveragePool 2x2 stride 2). */
void nn_k_avg_2x2(float *restrict y, const float *restrict a, const float *restrict b, int64_t n);
/* m[i] = the maximum of a[i], b[i] and, unless c is NULL, c[i] (NaN as nn_k_max_into). */
void nn_k_max_rows(float *restrict m, const float *restrict a, const float *restrict b,
                   const float *restrict c, int64_t n);

/* ---- nn_kernels_wino.c: Winograd F(2x2, 3x3) tile transforms (conv_winograd.c) ---- */

/* Input transform of one row of tw tiles: tile j reads columns 2j .. 2j+3 of the four padded
 * input rows rows[0..3] (2 * tw + 2 floats each); its frequency f (0..15) goes to
 * v[f * fs + j]. v must not overlap the rows. */
void nn_k_wino2_in_row(float *restrict v, int64_t fs, const float *const *rows, int64_t tw);
/* Output transform of n tiles, frequency f of tile j at m[f * fs + j]: the tile's outputs
 * (0,0), (0,1), (1,0), (1,1) plus bias go to y00[j], y01[j], y10[j], y11[j]. Then, for one row
 * of tw tiles (t[0..3] those four arrays at the row's first tile), columns 2j and 2j + 1 below
 * ow (ow >= 2 tw - 1) of the output rows y0 and y1, plus the residual rows r0 and r1 when r0 is
 * not NULL, then `act`: NN_WINO_RELU as nn_k_bias_relu, NN_WINO_CLIP to [lo, hi] as
 * nn_k_bias_clip, NN_WINO_NONE. Outputs must not overlap each other or the inputs. */
enum { NN_WINO_NONE = 0, NN_WINO_RELU, NN_WINO_CLIP };

/* One Winograd output value's activation, as the unfused passes did it (so the same bits):
 * NN_WINO_RELU as nn_k_bias_relu, NN_WINO_CLIP to [lo, hi] as nn_k_bias_clip (whose zero bias
 * makes -0 +0). Inlined where act is a constant (F(2x2) and F(4x4) stores). */
static inline __attribute__((always_inline)) float nn_wino_act(float v, int act, float lo, float hi)
{
    if (act == NN_WINO_RELU) return v > 0 ? v : 0.0f;
    if (act == NN_WINO_CLIP) {
        v = v + 0.0f;
        v = v < lo ? lo : v;
        return v > hi ? hi : v;
    }
    return v;
}
void nn_k_wino2_out_tiles(float *restrict y00, float *restrict y01, float *restrict y10,
                          float *restrict y11, const float *restrict m, int64_t fs, float bias,
                          int64_t n);
void nn_k_wino2_out_store(float *restrict y0, float *restrict y1, const float *r0, const float *r1,
                          const float *const t[4], int act, float lo, float hi, int64_t tw,
                          int64_t ow);

/* ---- nn_kernels_wino4.c: Winograd F(4x4, 3x3) tile transforms (conv_winograd.c) ---- */

/* Input transform of one row of tw tiles: tile j reads columns 4j .. 4j+5 of six padded input
 * rows stored by phase (row r's columns 4i + q, i <= tw, at ph[(4r + q) * ps + i]; ps > tw);
 * its frequency f (0..35) goes to v[f * fs + j]. tmp: 36 * tw floats of scratch. */
/* A padded row src of 4 ps floats into its four phases: dst[q * ps + i] = src[4i + q]. */
void nn_k_wino4_phases(float *restrict dst, const float *restrict src, int64_t ps);
void nn_k_wino4_in_row(float *v, int64_t fs, const float *ph, int64_t ps, int64_t tw, float *tmp);
/* Output transform of n tiles, frequency f of tile j at m[f * fs + j]: the tile's output
 * (a, b) plus bias goes to y[(4a + b) * ys + j] (ys >= n). tmp: 24 * ys floats of scratch. */
void nn_k_wino4_out_tiles(float *y, int64_t ys, const float *m, int64_t fs, float bias, int64_t n,
                          float *tmp);
/* One output row y (ow <= 4 tw columns) from the four arrays t + b * ts of a row of tw tiles
 * (column 4j + b is element j of array b), plus the residual row r when not NULL, then act as
 * nn_k_wino2_out_store. y must not overlap the inputs. */
void nn_k_wino4_out_row(float *y, const float *r, const float *t, int64_t ts, int act, float lo,
                        float hi, int64_t tw, int64_t ow);

#endif
