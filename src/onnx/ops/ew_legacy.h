/* Private to the elementwise family: the broadcasting rules of old opsets (ew_legacy.c). */
#ifndef ONNX_OPS_EW_LEGACY_H
#define ONNX_OPS_EW_LEGACY_H

#include "../op.h"

/* Sets in[0], in[1] to the node's inputs A and B, as the numpy broadcast loop should see
 * them: unchanged from opset 7 on; before, B may be replaced by *b_view (B's data under A's
 * rank) per the node's broadcast/axis attributes. Returns 0, or -1 with the error set
 * (missing input, or shapes the old rules refuse). */
int ew_binary_operands(onnx_ctx *ctx, const onnx_tensor *in[2], onnx_tensor *b_view);

/* PRelu before opset 7: *slope (one value, one per channel of x, or x's shape) is replaced
 * by *view shaped to broadcast over x. Returns 0 or -1 (error set). */
int ew_legacy_prelu_slope(onnx_ctx *ctx, const onnx_tensor *x, const onnx_tensor **slope,
                          onnx_tensor *view);

/* Variadic ops before opset 8: fails unless the first n inputs (present ones) have one shape. */
int ew_legacy_check_same_shapes(onnx_ctx *ctx, int n);

#endif
