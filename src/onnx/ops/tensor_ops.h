/* Private to the tensor family (src/onnx/ops/tensor*.c, shape_*.c): the run functions the
 * family table in tensor.c lists. Each handles every opset variant itself (attributes that
 * became inputs are read from whichever the node has, by node->opset). */
#ifndef ONNX_OPS_TENSOR_OPS_H
#define ONNX_OPS_TENSOR_OPS_H

#include "../op.h"

int onnx_run_reshape(onnx_ctx *ctx);
int onnx_run_flatten(onnx_ctx *ctx);
int onnx_run_squeeze(onnx_ctx *ctx);
int onnx_run_unsqueeze(onnx_ctx *ctx);
int onnx_run_identity(onnx_ctx *ctx);
int onnx_run_shape(onnx_ctx *ctx);
int onnx_run_size(onnx_ctx *ctx);
int onnx_run_transpose(onnx_ctx *ctx);
int onnx_run_concat(onnx_ctx *ctx);
int onnx_run_split(onnx_ctx *ctx);
int onnx_run_slice(onnx_ctx *ctx);
int onnx_run_gather(onnx_ctx *ctx);
int onnx_run_gather_elements(onnx_ctx *ctx);
int onnx_run_gather_nd(onnx_ctx *ctx);
int onnx_run_scatter_elements(onnx_ctx *ctx);
int onnx_run_scatter_nd(onnx_ctx *ctx);
int onnx_run_expand(onnx_ctx *ctx);
int onnx_run_tile(onnx_ctx *ctx);
int onnx_run_pad(onnx_ctx *ctx);
int onnx_run_constant(onnx_ctx *ctx);
int onnx_run_constant_of_shape(onnx_ctx *ctx);
int onnx_run_range(onnx_ctx *ctx);
int onnx_run_eye_like(onnx_ctx *ctx);
int onnx_run_one_hot(onnx_ctx *ctx);
int onnx_run_resize(onnx_ctx *ctx);
int onnx_run_upsample(onnx_ctx *ctx);
int onnx_run_depth_to_space(onnx_ctx *ctx);
int onnx_run_space_to_depth(onnx_ctx *ctx);
int onnx_run_non_zero(onnx_ctx *ctx);
int onnx_run_compress(onnx_ctx *ctx);
int onnx_run_trilu(onnx_ctx *ctx);
int onnx_run_cumsum(onnx_ctx *ctx);
int onnx_run_string_normalizer(onnx_ctx *ctx);
int onnx_run_topk(onnx_ctx *ctx);
int onnx_run_einsum(onnx_ctx *ctx);
int onnx_run_reverse_sequence(onnx_ctx *ctx);
int onnx_run_unique(onnx_ctx *ctx);
int onnx_run_tfidf(onnx_ctx *ctx);
int onnx_run_random_uniform(onnx_ctx *ctx);
int onnx_run_random_uniform_like(onnx_ctx *ctx);
int onnx_run_random_normal(onnx_ctx *ctx);
int onnx_run_random_normal_like(onnx_ctx *ctx);
int onnx_run_bernoulli(onnx_ctx *ctx);
int onnx_run_multinomial(onnx_ctx *ctx);

#endif
