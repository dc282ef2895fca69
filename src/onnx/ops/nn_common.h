/* Private helpers of the nn operator family (Conv, ConvTranspose, pooling, MatMul ...):
 * overflow-checked sizes, the fused activation, and the spatial geometry of sliding windows. */
#ifndef ONNX_OPS_NN_COMMON_H
#define ONNX_OPS_NN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "../op.h"
#include "activation.h"

struct onnx_gemm_packed; /* gemm/gemm.h */

/* Sliding-window operators handle 1, 2 or 3 spatial dims; geometry is kept in canonical 3-D
 * form with leading unit dims (kernel 1, stride 1, no pads), so kernels are plain triple loops. */
#define NN_MAX_SPATIAL 3

/* Largest value accepted for kernel, stride, dilation and pad attributes. */
#define NN_ATTR_MAX ((int64_t)1 << 30)

typedef enum nn_auto_pad {
    NN_PAD_NOTSET = 0,
    NN_PAD_SAME_UPPER,
    NN_PAD_SAME_LOWER,
    NN_PAD_VALID,
} nn_auto_pad;

/* Window geometry of one node for one input shape, in canonical 3-D form. */
typedef struct nn_geom {
    int nsp;                  /* spatial rank of the node: 1..3 */
    int64_t in[3], out[3];    /* spatial input / output sizes */
    int64_t k[3], s[3], d[3]; /* kernel, stride, dilation */
    int64_t pb[3], pe[3];     /* pads at the beginning / end (may be negative only for
                                    ConvTranspose with output_shape) */
} nn_geom;

/* Raw spatial attributes of a node (kernel_shape, strides, dilations, pads, auto_pad) for a
 * node with nsp spatial dims; absent attributes get their defaults (kernel 0 = "not given").
 * Returns 0, or onnx_ctx_fail(...) on a wrong count or an out-of-range value. */
typedef struct nn_spatial_attrs {
    int64_t k[NN_MAX_SPATIAL], s[NN_MAX_SPATIAL], d[NN_MAX_SPATIAL];
    int64_t pb[NN_MAX_SPATIAL], pe[NN_MAX_SPATIAL];
    nn_auto_pad auto_pad;
    int has_kernel;
} nn_spatial_attrs;
int nn_spatial_attrs_read(onnx_ctx *ctx, const onnx_node *node, int nsp, nn_spatial_attrs *a);
/* (ctx may be NULL: at load, -1 without a report.) */

/* Geometry of Conv (kernel from the weight's spatial dims w_sp, which must match kernel_shape
 * if given) or of a pooling node (kernel_shape required; ceil_mode honoured when pool != 0).
 * x is the N x C x D1.. input. Returns 0, or onnx_ctx_fail(...). */
int nn_geom_window(onnx_ctx *ctx, const onnx_node *node, const onnx_tensor *x, const int64_t *w_sp,
                   int pool, nn_geom *g);
/* As nn_geom_window with the node's spatial attributes a already read (nn_spatial_attrs_read
 * for x->ndim - 2 spatial dims, e.g. once at load). */
int nn_geom_window_attrs(onnx_ctx *ctx, const onnx_node *node, const onnx_tensor *x,
                         const int64_t *w_sp, int pool, const nn_spatial_attrs *a, nn_geom *g);

/* Output dims [N, channels, out spatial...] of geometry g into dims; returns the rank. */
int nn_geom_out_dims(const nn_geom *g, int64_t n, int64_t channels, int64_t *dims);

static inline int64_t nn_geom_in_size(const nn_geom *g)
{
    return g->in[0] * g->in[1] * g->in[2];
}
static inline int64_t nn_geom_out_size(const nn_geom *g)
{
    return g->out[0] * g->out[1] * g->out[2];
}
static inline int64_t nn_geom_k_size(const nn_geom *g)
{
    return g->k[0] * g->k[1] * g->k[2];
}

/* a * b (* c) into *out; returns 0, or -1 on overflow or a negative operand. */
int nn_mul_size(size_t a, size_t b, size_t *out);
int nn_mul3_size(size_t a, size_t b, size_t c, size_t *out);

/* Scratch for n floats (overflow-checked), owned by ctx and valid until run returns; NULL
 * with the error set on failure. */
float *nn_scratch_floats(onnx_ctx *ctx, size_t n);

/* Reads the node's fused activation; returns 0, or onnx_ctx_fail(...) if it is unknown. */
int nn_activation_read(onnx_ctx *ctx, const onnx_node *node, onnx_activation *act);

/* A range of rows [r0, r1) of an operator's work, for nn_parallel_rows. */
typedef void (*nn_rows_fn)(void *arg, int64_t r0, int64_t r1);
/* fn over rows [0, rows), cut into one contiguous range per thread of the session's pool
 * when `work` (elements or multiply-adds in all) is large enough (onnx_tpool_tasks), else in
 * one call on this thread. Rows must be independent: results do not depend on the split. */
void nn_parallel_rows(onnx_ctx *ctx, int64_t rows, int64_t work, nn_rows_fn fn, void *arg);

/* y[r] = the mean of row r of x (rows of `size` floats), r < rows: nn_k_sum_rows_avx512 on
 * AVX-512 CPUs, else nn_k_sum_rows (16 double partial sums per row), split over the session's
 * pool. GlobalAveragePool and SqueezeExcite. */
void nn_mean_rows(onnx_ctx *ctx, float *y, const float *x, int64_t rows, int64_t size);

/* onnx_activation_apply with an int64_t count (the nn operators' sizes). */
void nn_activation_run(const onnx_activation *act, float *y, int64_t n);

/* Whether group splits c input and m output channels, with wc (W's dims[1]) input channels
 * per group: group >= 1 divides both and wc * group == c, decided without overflow. */
int nn_conv_group_fits(int64_t group, int64_t c, int64_t m, int64_t wc);

/* Start of the valid range of output positions o (o*s + off >= 0) and its end
 * (o*s + off < in), clipped to [0, out). Used to hoist bounds checks out of inner loops. */
void nn_valid_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo, int64_t *hi);

/* Depthwise Conv (conv_depthwise.c): x is N x C x spatial, w M x 1 x kernel with M a
 * multiple of C, y N x M x out (all per g); y = act(conv(act_in(x)) + bias + res), bias and
 * res may be NULL, act_in only Relu, Clip or none. Returns 1 when done, 0 when this path does
 * not apply (see nn_phase_plan_make: use im2col), or onnx_ctx_fail(...). */
int nn_conv_depthwise(onnx_ctx *ctx, const float *x, const float *w, const float *bias,
                      const float *res, float *y, int64_t n, int64_t c, int64_t m, const nn_geom *g,
                      const onnx_activation *act_in, const onnx_activation *act);

/* A 1x1 Conv fused into a depthwise one (conv_expand.c, fuse_conv_dw.c): x is N x c x in
 * (2-D), we e_ch x c (wep: the same packed at load as a GEMM's A, or NULL), be e_ch values
 * or NULL. nn_conv_expand_depthwise computes the
 * depthwise Conv (as nn_conv_depthwise, geometry g over the e_ch expanded channels) of
 * we * x + be in bands of rows; returns 1 when done, 0 when it does not apply, or
 * onnx_ctx_fail(...). nn_conv_expand_whole returns the whole expansion (N x e_ch x in) in
 * scratch, act applied (see nn_expand_takes_act), or NULL with the error set.
 * nn_expand_takes_act: whether the depthwise Conv's input activation act_in is one the
 * expansion's GEMM store applies (Clip, as the depthwise gather would: NaN passes in both;
 * the 1x1's own activation moved here by fuse_conv_dw.c, SiLU or HardSwish, which only the
 * store applies; not Relu, which the gather maps NaN to 0 for and the store does not). */
int nn_conv_expand_depthwise(onnx_ctx *ctx, const float *x, int64_t c, const float *we,
                             const struct onnx_gemm_packed *wep, const float *be, int64_t e_ch,
                             const float *w, const float *bias, const float *res, float *y,
                             int64_t n, int64_t m, const nn_geom *g, const onnx_activation *act_in,
                             const onnx_activation *act);
float *nn_conv_expand_whole(onnx_ctx *ctx, const float *x, int64_t n, int64_t c, int64_t in_h,
                            int64_t in_w, const float *we, const struct onnx_gemm_packed *wep,
                            const float *be, int64_t e_ch, const onnx_activation *act);
int nn_expand_takes_act(const onnx_activation *act_in);

/* Normalizes axis (may be negative) against rank; returns -1 if out of range. */
int nn_axis(int64_t axis, int rank);

#endif
