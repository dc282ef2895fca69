/* A network's stem convolution computed directly (conv_stem.c decides, conv_stem_avx512.c
 * computes): 3x3 stride 2, dilation 1, group 1, 1-4 input channels (RGB images), on a CPU with
 * AVX-512. Per output row the rows of its im2col (channels x 9 taps, the output row's width
 * rounded up to 16) are made in L1 from the input rows by even / odd permutes, then every
 * output channel's row is bias + its taps from that small im2col (4 channels x 64 columns in
 * registers), with the residual and the activation in the store. No phase planes and no
 * whole-image im2col in L2 (MobileNetV2's 224x224 stem spent ~120 of ~350 us on them). */
#ifndef INFERD_ONNX_CONV_STEM_H
#define INFERD_ONNX_CONV_STEM_H

#include <stdint.h>

#include "activation.h"
#include "nn_common.h"

/* At most this many input channels (the im2col has 9 per channel). */
#define NN_STEM_MAX_C 4

/* One image's stem: c planes in_h x in_w in, m planes oh x ow out; pads pt / pl (0-2) on top
 * and on the left; w m x c x 3 x 3 (ONNX's layout), bias m values or NULL, res like y or NULL;
 * mode: 0 none, 1 Relu, 2 Clip [lo, hi], NN_DW_STORE_SILU, NN_DW_STORE_HARD_SWISH. */
typedef struct nn_stem_args {
    int64_t c, m, in_h, in_w, oh, ow, pt, pl;
    const float *w, *bias;
    int mode;
    float lo, hi;
} nn_stem_args;

/* Whether the stem kernel computes geometry g with group, c input channels and activation act
 * (on this CPU). */
int nn_conv_stem_fits(const nn_geom *g, int64_t group, int64_t c, const onnx_activation *act);

/* y = act(conv(x) + bias [+ res]) for n images (nn_conv_stem_fits said yes), the output rows
 * split over the session's threads. w: the plain weights. 0, or -1 with the error set. */
int nn_conv_stem(onnx_ctx *ctx, const float *x, const float *w, const float *bias, const float *res,
                 float *y, int64_t n, int64_t c, int64_t m, const nn_geom *g,
                 const onnx_activation *act);

/* Output rows r0 .. r1 - 1 of one image (x, y, res: that image's; res may be NULL); col:
 * scratch of c * 9 * (ow rounded up to 16) floats. (conv_stem_avx512.c) */
void nn_stem_rows(const nn_stem_args *a, const float *x, float *y, const float *res, int64_t r0,
                  int64_t r1, float *col);

#endif
