/* Run functions of the unary family (src/onnx/ops/unary_*.c), listed by unary.c. */
#ifndef ONNX_OPS_UNARY_OPS_H
#define ONNX_OPS_UNARY_OPS_H

#include "../op.h"

/* unary_math.c */
int un_run_abs(onnx_ctx *ctx);
int un_run_neg(onnx_ctx *ctx);
int un_run_sign(onnx_ctx *ctx);
int un_run_sqrt(onnx_ctx *ctx);
int un_run_exp(onnx_ctx *ctx);
int un_run_log(onnx_ctx *ctx);
int un_run_reciprocal(onnx_ctx *ctx);
int un_run_floor(onnx_ctx *ctx);
int un_run_ceil(onnx_ctx *ctx);
int un_run_round(onnx_ctx *ctx);
int un_run_erf(onnx_ctx *ctx);
int un_run_sin(onnx_ctx *ctx);
int un_run_cos(onnx_ctx *ctx);
int un_run_tan(onnx_ctx *ctx);
int un_run_asin(onnx_ctx *ctx);
int un_run_acos(onnx_ctx *ctx);
int un_run_atan(onnx_ctx *ctx);
int un_run_sinh(onnx_ctx *ctx);
int un_run_cosh(onnx_ctx *ctx);
int un_run_asinh(onnx_ctx *ctx);
int un_run_acosh(onnx_ctx *ctx);
int un_run_atanh(onnx_ctx *ctx);
int un_run_not(onnx_ctx *ctx);
int un_run_isnan(onnx_ctx *ctx);
int un_run_isinf(onnx_ctx *ctx);

/* unary_act.c */
int un_run_relu(onnx_ctx *ctx);
int un_run_leaky_relu(onnx_ctx *ctx);
int un_run_elu(onnx_ctx *ctx);
int un_run_selu(onnx_ctx *ctx);
int un_run_celu(onnx_ctx *ctx);
int un_run_thresholded_relu(onnx_ctx *ctx);
int un_run_sigmoid(onnx_ctx *ctx);
int un_run_hard_sigmoid(onnx_ctx *ctx);
int un_run_hard_swish(onnx_ctx *ctx);
int un_run_gelu(onnx_ctx *ctx);
int un_run_silu(onnx_ctx *ctx);
int un_run_tanh(onnx_ctx *ctx);
int un_run_softplus(onnx_ctx *ctx);
int un_run_softsign(onnx_ctx *ctx);
int un_run_mish(onnx_ctx *ctx);
int un_run_shrink(onnx_ctx *ctx);

/* unary_clip.c */
int un_run_clip_attrs(onnx_ctx *ctx);  /* opset < 11: min/max attributes */
int un_run_clip_inputs(onnx_ctx *ctx); /* opset >= 11: optional min/max inputs */

/* unary_cast.c */
int un_run_cast(onnx_ctx *ctx);
int un_run_cast_like(onnx_ctx *ctx);
/* Cast where the source or the target is a string tensor (unary_cast_str.c). */
int un_cast_strings(onnx_ctx *ctx, const onnx_tensor *x, inferd_dtype to);

#endif
