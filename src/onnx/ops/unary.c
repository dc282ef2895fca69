/* The unary operator family: the table of one-input operators and the shared runner. The
 * operators live in unary_math.c, unary_act.c, unary_clip.c and unary_cast.c. */
#include "../registry.h"
#include "unary_kernels.h"
#include "unary_ops.h"
#include "ew_engine.h"

int un_run(onnx_ctx *ctx, const un_kernel *table, inferd_dtype out_dtype, const un_param *p)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input 0");
    int half = x->dtype == INFERD_DTYPE_FP16; /* computed with the float32 kernel */
    inferd_dtype want = half ? INFERD_DTYPE_FP32 : x->dtype;
    un_fn fn = NULL;
    for (; table->fn; table++)
        if (table->dtype == want) {
            fn = table->fn;
            break;
        }
    if (!fn) return onnx_ctx_unsupported(ctx, "input type %s not supported", inferd_dtype_name(x->dtype));
    if (out_dtype == INFERD_DTYPE_INVALID) out_dtype = x->dtype;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, out_dtype, x->ndim, x->dims);
    if (!y) return -1;
    int64_t n = onnx_tensor_numel(x);
    if (n == 0) return 0;
    if (!half) {
        fn(y->data, x->data, n, p);
        return 0;
    }
    onnx_tensor wide;
    if (ew_half_to_float(ctx, x, &wide) < 0) return -1;
    if (out_dtype != INFERD_DTYPE_FP16) { /* IsNaN/IsInf: bool straight out */
        fn(y->data, wide.data, n, p);
        return 0;
    }
    fn(wide.data, wide.data, n, p); /* in place on the scratch copy */
    ew_float_to_half_store(y->data, wide.data, (size_t)n);
    return 0;
}

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
