/* Activations applied in place to float32 data: shared by the unary operators and by the
 * fused activation that Conv, Gemm and MatMul nodes carry after the load-time fusion pass.
 *
 * Fusion contract (set by the graph pass in src/onnx, read by the nn operators):
 *   attribute "inferd_activation" (string): the ONNX op type of the fused activation
 *     ("Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "HardSigmoid", "HardSwish", "Elu",
 *     "Gelu": the exact GELU, x / 2 * (1 + erf(x / sqrt 2)); "Silu": x * sigmoid(x), which
 *     no ONNX opset has as an operator: the fusion pass makes it from Mul(x, Sigmoid(x)))
 *   attribute "inferd_alpha", "inferd_beta" (float): its parameters (LeakyRelu/Elu alpha;
 *     HardSigmoid alpha, beta; Clip min = alpha, max = beta). */
#ifndef ONNX_OPS_ACTIVATION_H
#define ONNX_OPS_ACTIVATION_H

#include <stddef.h>

#include "../op.h"

typedef enum onnx_activation_kind {
    ONNX_ACT_NONE = 0,
    ONNX_ACT_RELU,
    ONNX_ACT_LEAKY_RELU,
    ONNX_ACT_SIGMOID,
    ONNX_ACT_TANH,
    ONNX_ACT_CLIP,
    ONNX_ACT_HARD_SIGMOID,
    ONNX_ACT_HARD_SWISH,
    ONNX_ACT_ELU,
    ONNX_ACT_GELU,
    ONNX_ACT_SILU,
} onnx_activation_kind;

typedef struct onnx_activation {
    onnx_activation_kind kind;
    float alpha, beta;
} onnx_activation;

/* Maps an op type ("Relu") to its kind; ONNX_ACT_NONE if it cannot be fused. */
onnx_activation_kind onnx_activation_kind_from_op(const char *op_type);

/* Reads the fused activation of a node from the attributes above. A node without
 * "inferd_activation" gets ONNX_ACT_NONE. Returns 0, or -1 for an unknown name. */
int onnx_activation_from_node(const onnx_node *node, onnx_activation *act);
/* The same from attributes of other names (kind_attr as "inferd_activation", ...), for nodes
 * that carry two activations (SqueezeExcite's gate). */
int onnx_activation_from_attrs(const onnx_node *node, const char *kind_attr, const char *alpha_attr,
                               const char *beta_attr, onnx_activation *act);

/* Applies act to data[0..n) in place. ONNX_ACT_NONE does nothing. Sigmoid, SiLU and GELU
 * use vectorized polynomial exp/erf (nn_vmath.h: ~1e-7 relative). An onnx_epilogue_fn. */
void onnx_activation_apply(const onnx_activation *act, float *data, size_t n);

/* The activation epilogue: what a GEMM's store calls on each block of output it has just
 * finished (bias and residual already summed in), while the block is still in cache. The
 * sgemm path calls it on whole output rows after cblas_sgemm; a packed GEMM calls it per
 * stored tile row. data[0..n) is contiguous float32, rewritten in place; act is read only.
 * onnx_activation_apply is the implementation; kernels hold it through this type so a
 * specialised one (e.g. a register-tile version) can take its place without changing callers. */
typedef void (*onnx_epilogue_fn)(const onnx_activation *act, float *data, size_t n);

#endif
