/* Activation operators. Float32 Relu/LeakyRelu/Elu/Sigmoid/Tanh/HardSigmoid/HardSwish/Gelu run
 * through onnx_activation_apply (activation.c), shared with the fused Conv/Gemm/MatMul path;
 * the other types and the other activations have their own kernels here. */
#include "unary_ops.h"

#include <string.h>
#include <tgmath.h>

#include "activation.h"
#include "ew_engine.h"
#include "unary_kernels.h"

/* Float32 through the shared activation; any other type through table. */
static int un_run_activation(onnx_ctx *ctx, onnx_activation_kind kind, float alpha, float beta,
                             const un_kernel *table, const un_param *p)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x || (x->dtype != INFERD_DTYPE_FP32 && x->dtype != INFERD_DTYPE_FP16))
        return un_run(ctx, table, INFERD_DTYPE_INVALID, p);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims);
    if (!y) return -1;
    size_t n = (size_t)onnx_tensor_numel(x);
    if (n == 0) return 0;
    onnx_activation act = {kind, alpha, beta};
    if (x->dtype == INFERD_DTYPE_FP16) { /* through a float32 scratch copy */
        onnx_tensor wide;
        if (ew_half_to_float(ctx, x, &wide) < 0) return -1;
        onnx_activation_apply(&act, wide.data, n);
        ew_float_to_half_store(y->data, wide.data, n);
        return 0;
    }
    if (y->data != x->data) memcpy(y->data, x->data, n * sizeof(float));
    onnx_activation_apply(&act, y->data, n);
    return 0;
}

static inline double un_sigmoid_d(double x)
{
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* log(1 + exp(x)) without overflow */
#define UN_SOFTPLUS(x) ((x) > 0 ? (x) + log1p(exp(-(x))) : log1p(exp(x)))

UN_KERNEL(un_relu_f64, double, double, x > 0 ? x : 0)
UN_KERNEL(un_relu_i8, int8_t, int8_t, x > 0 ? x : 0)
UN_KERNEL(un_relu_i16, int16_t, int16_t, x > 0 ? x : 0)
UN_KERNEL(un_relu_i32, int32_t, int32_t, x > 0 ? x : 0)
UN_KERNEL(un_relu_i64, int64_t, int64_t, x > 0 ? x : 0)
UN_KERNEL(un_leaky_relu_f64, double, double, x >= 0 ? x : x * p->alpha)
UN_KERNEL(un_elu_f64, double, double, x >= 0 ? x : p->alpha * expm1(x))
UN_KERNEL(un_sigmoid_f64, double, double, un_sigmoid_d(x))
UN_KERNEL(un_tanh_f64, double, double, tanh(x))
UN_KERNEL(un_hard_sigmoid_f64, double, double, fmax(0.0, fmin(1.0, p->alpha *x + p->beta)))
UN_KERNEL(un_hard_swish_f64, double, double, x *fmax(0.0, fmin(1.0, x / 6.0 + 0.5)))

static const un_kernel un_relu_table[] = {
    {INFERD_DTYPE_FP64, un_relu_f64},  {INFERD_DTYPE_INT8, un_relu_i8},
    {INFERD_DTYPE_INT16, un_relu_i16}, {INFERD_DTYPE_INT32, un_relu_i32},
    {INFERD_DTYPE_INT64, un_relu_i64}, UN_END};
static const un_kernel un_leaky_relu_table[] = {{INFERD_DTYPE_FP64, un_leaky_relu_f64}, UN_END};
static const un_kernel un_elu_table[] = {{INFERD_DTYPE_FP64, un_elu_f64}, UN_END};
static const un_kernel un_sigmoid_table[] = {{INFERD_DTYPE_FP64, un_sigmoid_f64}, UN_END};
static const un_kernel un_tanh_table[] = {{INFERD_DTYPE_FP64, un_tanh_f64}, UN_END};
static const un_kernel un_hard_sigmoid_table[] = {{INFERD_DTYPE_FP64, un_hard_sigmoid_f64}, UN_END};
static const un_kernel un_hard_swish_table[] = {{INFERD_DTYPE_FP64, un_hard_swish_f64}, UN_END};

int un_run_relu(onnx_ctx *ctx)
{
    return un_run_activation(ctx, ONNX_ACT_RELU, 0, 0, un_relu_table, NULL);
}

int un_run_leaky_relu(onnx_ctx *ctx)
{
    un_param p = {.alpha = onnx_attr_float(onnx_ctx_node(ctx), "alpha", 0.01f)};
    return un_run_activation(ctx, ONNX_ACT_LEAKY_RELU, (float)p.alpha, 0, un_leaky_relu_table, &p);
}

int un_run_elu(onnx_ctx *ctx)
{
    un_param p = {.alpha = onnx_attr_float(onnx_ctx_node(ctx), "alpha", 1.0f)};
    return un_run_activation(ctx, ONNX_ACT_ELU, (float)p.alpha, 0, un_elu_table, &p);
}

int un_run_sigmoid(onnx_ctx *ctx)
{
    return un_run_activation(ctx, ONNX_ACT_SIGMOID, 0, 0, un_sigmoid_table, NULL);
}

int un_run_tanh(onnx_ctx *ctx)
{
    return un_run_activation(ctx, ONNX_ACT_TANH, 0, 0, un_tanh_table, NULL);
}

int un_run_hard_sigmoid(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    un_param p = {.alpha = onnx_attr_float(node, "alpha", 0.2f),
                  .beta = onnx_attr_float(node, "beta", 0.5f)};
    return un_run_activation(ctx, ONNX_ACT_HARD_SIGMOID, (float)p.alpha, (float)p.beta,
                             un_hard_sigmoid_table, &p);
}

/* Silu: x * sigmoid(x), internal (fuse_silu.c makes it from Mul(x, Sigmoid(x))) */
UN_KERNEL(un_silu_f64, double, double, x *un_sigmoid_d(x))
static const un_kernel un_silu_table[] = {{INFERD_DTYPE_FP64, un_silu_f64}, UN_END};

int un_run_silu(onnx_ctx *ctx)
{
    return un_run_activation(ctx, ONNX_ACT_SILU, 0, 0, un_silu_table, NULL);
}

int un_run_hard_swish(onnx_ctx *ctx)
{
    return un_run_activation(ctx, ONNX_ACT_HARD_SWISH, 0, 0, un_hard_swish_table, NULL);
}

/* Gelu (opset 20; also what the load-time fusion makes of x * 0.5 * (1 + erf(x / sqrt 2))):
 * approximate "none" is the exact erf form, "tanh" the tanh approximation. */
UN_KERNEL(un_gelu_f64, double, double, 0.5 * x * (1.0 + erf(x * 0.70710678118654752440)))
UN_FLOAT_KERNELS(un_gelu_tanh,
                 (T)0.5 * x *
                     ((T)1 + tanh((T)0.79788456080286535588 * (x + (T)0.044715 * x * x * x))))
static const un_kernel un_gelu_table[] = {{INFERD_DTYPE_FP64, un_gelu_f64}, UN_END};
static const un_kernel un_gelu_tanh_table[] = {UN_FLOAT_ENTRIES(un_gelu_tanh) UN_END};

int un_run_gelu(onnx_ctx *ctx)
{
    const char *approx = onnx_attr_string(onnx_ctx_node(ctx), "approximate", "none");
    if (strcmp(approx, "tanh") == 0)
        return un_run(ctx, un_gelu_tanh_table, INFERD_DTYPE_INVALID, NULL);
    if (strcmp(approx, "none") != 0)
        return onnx_ctx_fail(ctx, "approximate must be \"none\" or \"tanh\", not \"%s\"", approx);
    return un_run_activation(ctx, ONNX_ACT_GELU, 0, 0, un_gelu_table, NULL);
}

/* Float-only activations with their own kernels (float and double). */
UN_FLOAT_KERNELS(un_selu,
                 x > 0 ? (T)p->gamma * x : (T)p->gamma * ((T)p->alpha * exp(x) - (T)p->alpha))
UN_FLOAT_KERNELS(un_celu, fmax((T)0, x) + fmin((T)0, (T)p->alpha *expm1(x / (T)p->alpha)))
UN_FLOAT_KERNELS(un_thresholded_relu, x > (T)p->alpha ? x : (T)0)
UN_FLOAT_KERNELS(un_softplus, UN_SOFTPLUS(x))
UN_FLOAT_KERNELS(un_softsign, x / ((T)1 + fabs(x)))
UN_FLOAT_KERNELS(un_mish, x *tanh(UN_SOFTPLUS(x)))
UN_FLOAT_KERNELS(un_shrink,
                 x<-(T)p->alpha ? x + (T)p->beta : x>(T) p->alpha ? x - (T)p->beta : (T)0)
static const un_kernel un_selu_table[] = {UN_FLOAT_ENTRIES(un_selu) UN_END};
static const un_kernel un_celu_table[] = {UN_FLOAT_ENTRIES(un_celu) UN_END};
static const un_kernel un_thresholded_relu_table[] = {UN_FLOAT_ENTRIES(un_thresholded_relu) UN_END};
static const un_kernel un_softplus_table[] = {UN_FLOAT_ENTRIES(un_softplus) UN_END};
static const un_kernel un_softsign_table[] = {UN_FLOAT_ENTRIES(un_softsign) UN_END};
static const un_kernel un_mish_table[] = {UN_FLOAT_ENTRIES(un_mish) UN_END};
static const un_kernel un_shrink_table[] = {UN_FLOAT_ENTRIES(un_shrink) UN_END};

int un_run_selu(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    /* Selu-1 had rounder defaults than Selu-6 */
    const int v1 = node->opset < 6;
    un_param p = {
        .alpha = onnx_attr_float(node, "alpha", v1 ? 1.6732f : 1.67326319217681884765625f),
        .gamma = onnx_attr_float(node, "gamma", v1 ? 1.0507f : 1.05070102214813232421875f)};
    return un_run(ctx, un_selu_table, INFERD_DTYPE_INVALID, &p);
}

int un_run_celu(onnx_ctx *ctx)
{
    un_param p = {.alpha = onnx_attr_float(onnx_ctx_node(ctx), "alpha", 1.0f)};
    if (p.alpha == 0) return onnx_ctx_fail(ctx, "alpha must not be 0");
    return un_run(ctx, un_celu_table, INFERD_DTYPE_INVALID, &p);
}

int un_run_thresholded_relu(onnx_ctx *ctx)
{
    un_param p = {.alpha = onnx_attr_float(onnx_ctx_node(ctx), "alpha", 1.0f)};
    return un_run(ctx, un_thresholded_relu_table, INFERD_DTYPE_INVALID, &p);
}

int un_run_softplus(onnx_ctx *ctx)
{
    return un_run(ctx, un_softplus_table, INFERD_DTYPE_INVALID, NULL);
}
int un_run_softsign(onnx_ctx *ctx)
{
    return un_run(ctx, un_softsign_table, INFERD_DTYPE_INVALID, NULL);
}
int un_run_mish(onnx_ctx *ctx)
{
    return un_run(ctx, un_mish_table, INFERD_DTYPE_INVALID, NULL);
}

int un_run_shrink(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    un_param p = {.alpha = onnx_attr_float(node, "lambd", 0.5f),
                  .beta = onnx_attr_float(node, "bias", 0.0f)};
    return un_run(ctx, un_shrink_table, INFERD_DTYPE_INVALID, &p);
}
