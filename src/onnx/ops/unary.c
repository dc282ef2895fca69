/* The unary operator family: the table of one-input operators. The operators live in
 * unary_math.c, unary_act.c, unary_clip.c and unary_cast.c, their shared runner in unary_run.c. */
#include "../registry.h"
#include "unary_ops.h"

static const onnx_op un_ops[] = {
    {"Abs", 1, NULL, un_run_abs, NULL},
    {"Neg", 1, NULL, un_run_neg, NULL},
    {"Sign", 9, NULL, un_run_sign, NULL},
    {"Sqrt", 1, NULL, un_run_sqrt, NULL},
    {"Exp", 1, NULL, un_run_exp, NULL},
    {"Log", 1, NULL, un_run_log, NULL},
    {"Reciprocal", 1, NULL, un_run_reciprocal, NULL},
    {"Floor", 1, NULL, un_run_floor, NULL},
    {"Ceil", 1, NULL, un_run_ceil, NULL},
    {"Round", 11, NULL, un_run_round, NULL},
    {"Erf", 9, NULL, un_run_erf, NULL},
    {"Sin", 7, NULL, un_run_sin, NULL},
    {"Cos", 7, NULL, un_run_cos, NULL},
    {"Tan", 7, NULL, un_run_tan, NULL},
    {"Asin", 7, NULL, un_run_asin, NULL},
    {"Acos", 7, NULL, un_run_acos, NULL},
    {"Atan", 7, NULL, un_run_atan, NULL},
    {"Sinh", 9, NULL, un_run_sinh, NULL},
    {"Cosh", 9, NULL, un_run_cosh, NULL},
    {"Asinh", 9, NULL, un_run_asinh, NULL},
    {"Acosh", 9, NULL, un_run_acosh, NULL},
    {"Atanh", 9, NULL, un_run_atanh, NULL},
    {"Not", 1, NULL, un_run_not, NULL},
    {"IsNaN", 9, NULL, un_run_isnan, NULL},
    {"IsInf", 10, NULL, un_run_isinf, NULL},
    {"Relu", 1, NULL, un_run_relu, NULL},
    {"LeakyRelu", 1, NULL, un_run_leaky_relu, NULL},
    {"Elu", 1, NULL, un_run_elu, NULL},
    {"Selu", 1, NULL, un_run_selu, NULL},
    {"Celu", 12, NULL, un_run_celu, NULL},
    {"ThresholdedRelu", 10, NULL, un_run_thresholded_relu, NULL},
    {"Sigmoid", 1, NULL, un_run_sigmoid, NULL},
    {"HardSigmoid", 1, NULL, un_run_hard_sigmoid, NULL},
    {"HardSwish", 14, NULL, un_run_hard_swish, NULL},
    {"Gelu", 20, NULL, un_run_gelu, NULL},
    {"Silu", ONNX_OPSET_INTERNAL, NULL, un_run_silu, NULL},
    {"Tanh", 1, NULL, un_run_tanh, NULL},
    {"Softplus", 1, NULL, un_run_softplus, NULL},
    {"Softsign", 1, NULL, un_run_softsign, NULL},
    {"Mish", 18, NULL, un_run_mish, NULL},
    {"Shrink", 9, NULL, un_run_shrink, NULL},
    {"Clip", 1, NULL, un_run_clip_attrs, NULL},
    {"Clip", 11, NULL, un_run_clip_inputs, NULL},
    {"Cast", 1, NULL, un_run_cast, NULL},
    {"CastLike", 15, NULL, un_run_cast_like, NULL},
};

const onnx_op *onnx_ops_unary(size_t *count)
{
    *count = sizeof un_ops / sizeof un_ops[0];
    return un_ops;
}
