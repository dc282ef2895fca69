/* Private: 3-D convolution as 2-D slices (conv_depth.c), without the full im2col: each input
 * depth slice's 2-D im2col is built once and multiplied by the weights of each depth tap that
 * reads it, accumulating onto the output depth slice that tap feeds. */
#ifndef ONNX_OPS_CONV_DEPTH_H
#define ONNX_OPS_CONV_DEPTH_H

#include <stdint.h>

#include "../gemm/gemm.h"
#include "../op.h"
#include "activation.h"
#include "nn_common.h"

/* One 3-D Conv: x (n x c x in), w (m x c/group x k, as ONNX), y (n x m x out); bias (m) and
 * res (y's shape) may be NULL. wp: the weights of depth tap kd of group gi packed as the GEMM's
 * A at wp[gi * k[0] + kd] (nn_conv_depth_weights' layout, made at load), or NULL. All
 * pointers are borrowed. */
typedef struct nn_conv_depth_args {
    const float *x, *w, *bias, *res;
    float *y;
    int64_t n, c, m, group;
    const nn_geom *g;
    const onnx_activation *act;
    onnx_gemm_packed *const *wp;
} nn_conv_depth_args;

/* y = act(conv(x) + bias + res). Returns 0, 1 when it declines (not 3-D, or a 2-D window phase
 * planes do not take: y untouched), or -1 with the error set. */
int nn_conv_depth(onnx_ctx *ctx, const nn_conv_depth_args *a);

/* Writes depth tap kd of one group's weights w (mg x cg x kd_n x khw floats, as ONNX) as an
 * mg x (cg * khw) matrix into dst: the A of that tap's GEMM. */
void nn_conv_depth_weights(const float *w, int64_t mg, int64_t cg, int64_t kd_n, int64_t khw,
                           int64_t kd, float *dst);

#endif
