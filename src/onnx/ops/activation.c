/* Float32 activations applied in place: the kernels behind the unary Relu/Sigmoid/... operators
 * and the activation fused into Conv/Gemm/MatMul (see activation.h for the contract). */
#include "activation.h"

#include <math.h>
#include <string.h>

#include "nn_kernels.h"

/* gcc's -O2 (very cheap) cost model skips loops whose trip count is not a known multiple of
 * the vector width; the dynamic model vectorises the loops below. Clang does by default. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

static const struct {
    const char *op;
    onnx_activation_kind kind;
} activation_names[] = {
    {"Relu", ONNX_ACT_RELU},
    {"LeakyRelu", ONNX_ACT_LEAKY_RELU},
    {"Sigmoid", ONNX_ACT_SIGMOID},
    {"Tanh", ONNX_ACT_TANH},
    {"Clip", ONNX_ACT_CLIP},
    {"HardSigmoid", ONNX_ACT_HARD_SIGMOID},
    {"HardSwish", ONNX_ACT_HARD_SWISH},
    {"Elu", ONNX_ACT_ELU},
    {"Gelu", ONNX_ACT_GELU},
    {"Silu", ONNX_ACT_SILU},
};

onnx_activation_kind onnx_activation_kind_from_op(const char *op_type)
{
    if (!op_type) return ONNX_ACT_NONE;
    for (size_t i = 0; i < sizeof activation_names / sizeof activation_names[0]; i++)
        if (strcmp(op_type, activation_names[i].op) == 0) return activation_names[i].kind;
    return ONNX_ACT_NONE;
}

int onnx_activation_from_attrs(const onnx_node *node, const char *kind_attr, const char *alpha_attr,
                               const char *beta_attr, onnx_activation *act)
{
    act->kind = ONNX_ACT_NONE;
    act->alpha = 0;
    act->beta = 0;
    const char *name = onnx_attr_string(node, kind_attr, NULL);
    if (!name) return 0;
    onnx_activation_kind kind = onnx_activation_kind_from_op(name);
    if (kind == ONNX_ACT_NONE) return -1;
    act->kind = kind;
    act->alpha = onnx_attr_float(node, alpha_attr, 0);
    act->beta = onnx_attr_float(node, beta_attr, 0);
    return 0;
}

int onnx_activation_from_node(const onnx_node *node, onnx_activation *act)
{
    return onnx_activation_from_attrs(node, "inferd_activation", "inferd_alpha", "inferd_beta",
                                      act);
}

void onnx_activation_apply(const onnx_activation *act, float *data, size_t n)
{
    const float alpha = act->alpha, beta = act->beta;
    switch (act->kind) {
    case ONNX_ACT_NONE: break;
    case ONNX_ACT_RELU: nn_k_bias_relu(data, 0.0f, (int64_t)n); break;
    case ONNX_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++) data[i] = data[i] >= 0 ? data[i] : data[i] * alpha;
        break;
    case ONNX_ACT_SIGMOID: nn_k_sigmoid(data, (int64_t)n); break;
    case ONNX_ACT_SILU: nn_k_silu(data, (int64_t)n); break;
    case ONNX_ACT_TANH: nn_k_tanh(data, (int64_t)n); break;
    case ONNX_ACT_CLIP: nn_k_bias_clip(data, 0.0f, alpha, beta, (int64_t)n); break;
    case ONNX_ACT_HARD_SIGMOID: nn_k_hard_sigmoid(data, alpha, beta, (int64_t)n); break;
    case ONNX_ACT_HARD_SWISH: nn_k_hard_swish(data, (int64_t)n); break;
    case ONNX_ACT_ELU:
        for (size_t i = 0; i < n; i++) data[i] = data[i] >= 0 ? data[i] : alpha * expm1f(data[i]);
        break;
    case ONNX_ACT_GELU: /* vectorized erf (nn_kernels_erf.c) */
        nn_k_gelu(data, data, (int64_t)n);
        break;
    }
}
