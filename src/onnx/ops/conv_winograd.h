/* Private: Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution (conv_winograd.c) for 3x3,
 * stride-1, dilation-1, group-1 float32 Conv. Each 2x2 block of outputs (a tile) comes from a
 * 4x4 block of the padded input d as Y = A^T [(G g G^T) . (B^T d B)] A: 16 products per channel
 * pair instead of 36, i.e. 2.25x fewer multiply-adds. Over all channels, frequency f's products
 * are one GEMM U_f (M x C) * V_f (C x tiles), so the work is 16 sgemm calls, plus the
 * transforms. The transformed weights U are 16/9 the size of the weights: computed once at load
 * (conv.c's prepare) up to 256 x 256 channels, else per run when the batch is large enough to
 * pay for it. F(4x4) likewise takes 4x4 tiles from 6x6 input tiles: 36 frequencies (GEMMs), 4x
 * fewer multiply-adds than direct, weights 4x their size, kept from load up to 128 x 256
 * channels and only then used. Used by shape (conv_winograd.c has the rule and the
 * measurements behind it). */
#ifndef ONNX_OPS_CONV_WINOGRAD_H
#define ONNX_OPS_CONV_WINOGRAD_H

#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "../gemm/gemm.h"
#include "nn_common.h"

/* Floats of the transformed weights of an m x c x 3 x 3 kernel: 16 * m * c (F(2x2)), 36 * m * c
 * (F(4x4)). */
#define NN_WINO_FREQS  16
#define NN_WINO4_FREQS 36

/* Whether geometry g with `group` groups is a convolution this path computes: 2-D, kernel
 * 3x3, strides and dilations 1, group 1. (The pads may be anything.) */
int nn_wino_geometry_fits(const nn_geom *g, int64_t group);

/* Whether it pays, for a geometry that fits: n images, c input and m output channels;
 * `precomputed` says whether the transformed weights exist already (see the size rule in
 * conv_winograd.c). */
int nn_wino_pays(const nn_geom *g, int64_t n, int64_t c, int64_t m, int precomputed);

/* Whether the transformed weights of an m x c kernel are computed at load: they are when
 * they are small enough to keep (see conv_winograd.c). */
int nn_wino_precompute(int64_t m, int64_t c);

/* F(4x4, 3x3): whether its weights are computed at load (only then is it used), and whether it
 * pays for a geometry that fits, over F(2x2) (see conv_winograd.c). */
int nn_wino4_precompute(int64_t m, int64_t c);
int nn_wino4_pays(const nn_geom *g, int64_t n, int64_t c, int64_t m);

/* u (36 x m x c, frequency-major) = G w G^T of each 3x3 kernel, the F(4x4) transform. */
void nn_wino4_weights(const float *w, int64_t m, int64_t c, float *u);

/* u (16 x m x c, frequency-major: U_f is m x c row-major) = G w G^T of each 3x3 kernel of
 * w (m x c x 3 x 3, ONNX layout). */
void nn_wino_weights(const float *w, int64_t m, int64_t c, float *u);

/* up[f] = U_f packed as a GEMM's A (gemm.h), for the `freqs` frequencies of u (16 or 36).
 * Returns 0, or -1 on ENOMEM (then up holds NULLs). */
int nn_wino_pack(const float *u, int64_t m, int64_t c, int freqs, onnx_gemm_packed **up);

/* y (n x m x oh x ow) = act(conv(x) + bias + res) by F(tile x tile, 3x3), tile 2 or 4, with u
 * from nn_wino_weights / nn_wino4_weights, or its packed form up from nn_wino_pack (then u may
 * be NULL); bias and res may be NULL, res has y's shape. The 16 or 36 GEMMs of a block run on
 * the session's threads. Returns 0 or onnx_ctx_fail(...). */
int nn_conv_winograd(onnx_ctx *ctx, const float *x, const float *u, onnx_gemm_packed *const *up,
                     const float *bias, const float *res, float *y, int64_t n, int64_t c, int64_t m,
                     const nn_geom *g, const onnx_activation *act, int tile);

#endif
