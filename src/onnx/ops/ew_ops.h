/* Run functions of the elementwise family (src/onnx/ops/ew_*.c), listed by elementwise.c. */
#ifndef ONNX_OPS_EW_OPS_H
#define ONNX_OPS_EW_OPS_H

#include "../op.h"

/* ew_arith.c */
int ew_run_add(onnx_ctx *ctx);
int ew_run_sub(onnx_ctx *ctx);
int ew_run_mul(onnx_ctx *ctx);
int ew_run_div(onnx_ctx *ctx);
int ew_run_pow(onnx_ctx *ctx);
int ew_run_mod(onnx_ctx *ctx);
int ew_run_prelu(onnx_ctx *ctx);

/* ew_variadic.c */
int ew_run_min(onnx_ctx *ctx);
int ew_run_max(onnx_ctx *ctx);
int ew_run_sum(onnx_ctx *ctx);
int ew_run_mean(onnx_ctx *ctx);

/* ew_logic.c */
int ew_run_equal(onnx_ctx *ctx);
int ew_run_less(onnx_ctx *ctx);
int ew_run_greater(onnx_ctx *ctx);
int ew_run_less_equal(onnx_ctx *ctx);
int ew_run_greater_equal(onnx_ctx *ctx);
int ew_run_and(onnx_ctx *ctx);
int ew_run_or(onnx_ctx *ctx);
int ew_run_xor(onnx_ctx *ctx);
int ew_run_bitshift(onnx_ctx *ctx);
int ew_run_where(onnx_ctx *ctx);

#endif
