/* Private: helpers shared by the load-time fusion passes (fuse_util.c, used by fuse.c and
 * fuse_*.c). A pass is called for every live node i in order; it returns 1 when it rewrote the
 * graph around node i, 0 when the pattern does not match, -1 on ENOMEM. Removed nodes get
 * op = NULL (compacted after the passes). Use counts (n_consumers, last_use, producer) are
 * recomputed between passes. */
#ifndef ONNX_FUSE_H
#define ONNX_FUSE_H

#include "model.h"

/* The single live node reading value v (not a graph output), or -1. Use counts are recomputed
 * before each pass; within a pass a fusion moves values' producers, and consumers only of
 * values it removes. */
int onnx_fuse_sole_consumer(const onnx_model *m, int v);
/* Input k of node n if it is a constant, else NULL. */
const onnx_tensor *onnx_fuse_const_input(const onnx_model *m, const onnx_node *n, int k);
/* Node n produces output 0 only (others omitted). */
int onnx_fuse_only_first_output(const onnx_node *n);
/* Appends attribute a to node n (the node's attribute list is copied into the arena; a's ints and
 * strings must outlive m: arena or static). */
int onnx_fuse_add_attr(onnx_model *m, onnx_node *n, const onnx_attr *a);
/* Sets input k of node n to value v, growing the input list with omitted (-1) inputs. */
int onnx_fuse_set_input(onnx_model *m, onnx_node *n, int k, int v);
/* The live node producing value v, or -1 (graph input, constant). */
int onnx_fuse_producer(const onnx_model *m, int v);
/* Value v is a 0-d float32 constant; its value in *out. */
int onnx_fuse_scalar(const onnx_model *m, int v, float *out);

/* fuse_gelu.c: x * 0.5 * (1 + erf(x / sqrt 2)) -> Gelu(x), anchored at the Erf node. */
int onnx_fuse_gelu(onnx_model *m, int i);
/* fuse_silu.c: Mul(x, Sigmoid(x)) -> Silu(x), anchored at the Sigmoid node. */
int onnx_fuse_silu(onnx_model *m, int i);
/* fuse_matmul.c: Transposes around a MatMul -> strides; Mul / Div by a scalar -> alpha;
 * Add of another tensor (a residual) -> written in with the bias. */
int onnx_fuse_matmul_transpose(onnx_model *m, int i);
int onnx_fuse_matmul_scale(onnx_model *m, int i);
int onnx_fuse_matmul_residual(onnx_model *m, int i);

/* fuse_split.c: Split(X, last axis) -> Reshapes into heads -> MatMul operands: each MatMul reads
 * its columns of X in place (inferd_split_a / _b); runs after the transpose pass. */
int onnx_fuse_matmul_split(onnx_model *m, int i);

/* fuse_cfirst.c: MatMul -> Transpose back to channels-first [-> per-channel Mul] -> one MatMul
 * (inferd_perm_y, the scale folded into B and the bias); runs before the transpose pass. */
int onnx_fuse_matmul_cfirst(onnx_model *m, int i);
/* fuse_cfirst.c: Transpose to channels-last -> LayerNormalization over the last axis -> one
 * LayerNormalization reading the channels-first input (inferd_perm_x). */
int onnx_fuse_layernorm_clast(onnx_model *m, int i);

/* fuse_se.c: GlobalAveragePool -> 1x1 Conv -> 1x1 Conv -> Mul with the pool's input ->
 * SqueezeExcite, anchored at the pool. Runs after the activation pass. */
int onnx_fuse_squeeze_excite(onnx_model *m, int i);

/* fuse_conv_dw.c: 1x1 Conv read only by a depthwise Conv -> computed by it in bands of rows. */
int onnx_fuse_pointwise_depthwise(onnx_model *m, int i);

#endif
