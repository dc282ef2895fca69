/* Private to LayerNormalization (norm_layer.c, norm_layer_cl.c): the fused input transpose. */
#ifndef ONNX_OPS_NORM_LAYER_CL_H
#define ONNX_OPS_NORM_LAYER_CL_H

#include "../op.h"

/* Y = LayerNormalization(Transpose(X, [0, 2, ..., r-1, 1]), axis -1): X channels-first
 * (rank >= 3, float32), Scale and B (B may be NULL) one value per channel; makes output 0,
 * channels-last, or with y_cfirst transposed back to X's layout (the normalisation over axis
 * 1). Returns 0, or -1 with the error set. */
int nn_layernorm_cfirst(onnx_ctx *ctx, const onnx_tensor *x, const onnx_tensor *scale,
                        const onnx_tensor *bias, float eps, int y_cfirst);

#endif
