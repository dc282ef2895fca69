/* Private: a Conv's GEMM the other way round (conv_tgemm.c), for layers with many output
 * channels, a long K and few output positions (ResNet's 7x7 stage: 512 x 49 x 4608). The usual
 * Y (M x positions) = W (M x K) * im2col (K x positions) pads the positions to the kernel's
 * 32-column panels (49 -> 64: a quarter of the work wasted); Y^T = im2col^T * W^T pads them to
 * 8-row panels instead (49 -> 56), with W^T packed at load as the GEMM's B. The product is
 * then transposed into Y with the residual and the activation. */
#ifndef ONNX_OPS_CONV_TGEMM_H
#define ONNX_OPS_CONV_TGEMM_H

#include <stdint.h>

#include "../gemm/gemm.h"
#include "../op.h"
#include "activation.h"

/* Whether an M x K (group 1, 2-D kernel) Conv keeps W^T packed as B instead of W as A: M and K
 * both large (late, narrow stages; see conv_tgemm.c). */
int nn_conv_tgemm_fits(int64_t m, int64_t kdim);

/* nb images' outputs from their im2col col (K rows ld floats apart; image b's out_size
 * positions at column b * out_size) and wt (W^T packed as B, K x m): image b's y (m planes of
 * out_size, images m * out_size apart) = act(W * col_b + bias + res_b), bias and res
 * optional (res laid out as y). ct: scratch of nb * out_size * m floats. Returns 0 or -1 with
 * the error set. */
int nn_conv_tgemm(onnx_ctx *ctx, const float *col, int64_t ld, int64_t nb, int64_t out_size,
                  const onnx_gemm_packed *wt, int64_t m, int64_t kdim, const float *bias,
                  const float *res, float *y, const onnx_activation *act, float *ct);

#endif
