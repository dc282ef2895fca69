/* Unary math operators: Abs Neg Sign (all numeric types), Sqrt Exp Log Reciprocal Floor Ceil
 * Round Erf and the trigonometric/hyperbolic functions (float, double), Not, IsNaN, IsInf. */
#include "unary_ops.h"

#include <tgmath.h>

#include "nn_kernels.h"
#include "unary_kernels.h"

/* Integer negation goes through uint64_t so that -MIN wraps instead of overflowing. */
#define UN_INEG(x) (0 - (uint64_t)(x))

#define UN_INT_KERNELS(NAME, SEXPR, UEXPR) UN_SINT_KERNELS(NAME, SEXPR) UN_UINT_KERNELS(NAME, UEXPR)
#define UN_SINT_KERNELS(NAME, SEXPR)               \
    UN_KERNEL(NAME##_i8, int8_t, int8_t, SEXPR)    \
    UN_KERNEL(NAME##_i16, int16_t, int16_t, SEXPR) \
    UN_KERNEL(NAME##_i32, int32_t, int32_t, SEXPR) \
    UN_KERNEL(NAME##_i64, int64_t, int64_t, SEXPR)
#define UN_UINT_KERNELS(NAME, UEXPR)                 \
    UN_KERNEL(NAME##_u8, uint8_t, uint8_t, UEXPR)    \
    UN_KERNEL(NAME##_u16, uint16_t, uint16_t, UEXPR) \
    UN_KERNEL(NAME##_u32, uint32_t, uint32_t, UEXPR) \
    UN_KERNEL(NAME##_u64, uint64_t, uint64_t, UEXPR)
#define UN_SINT_ENTRIES(NAME)                                         \
    {INFERD_DTYPE_INT8, NAME##_i8}, {INFERD_DTYPE_INT16, NAME##_i16}, \
        {INFERD_DTYPE_INT32, NAME##_i32}, {INFERD_DTYPE_INT64, NAME##_i64},
#define UN_UINT_ENTRIES(NAME)                                           \
    {INFERD_DTYPE_UINT8, NAME##_u8}, {INFERD_DTYPE_UINT16, NAME##_u16}, \
        {INFERD_DTYPE_UINT32, NAME##_u32}, {INFERD_DTYPE_UINT64, NAME##_u64},

UN_FLOAT_KERNELS(un_abs, fabs(x))
UN_INT_KERNELS(un_abs, x < 0 ? (T)UN_INEG(x) : x, x)
UN_FLOAT_KERNELS(un_neg, -x)
UN_SINT_KERNELS(un_neg, (T)UN_INEG(x))
UN_FLOAT_KERNELS(un_sign, x > 0 ? (T)1 : x < 0 ? (T)-1 : x) /* keeps 0 and NaN */
UN_INT_KERNELS(un_sign, x > 0 ? 1 : x < 0 ? -1 : 0, x > 0)

static const un_kernel un_abs_table[] = {UN_FLOAT_ENTRIES(un_abs) UN_SINT_ENTRIES(un_abs)
                                             UN_UINT_ENTRIES(un_abs) UN_END};
static const un_kernel un_neg_table[] = {UN_FLOAT_ENTRIES(un_neg) UN_SINT_ENTRIES(un_neg) UN_END};
static const un_kernel un_sign_table[] = {UN_FLOAT_ENTRIES(un_sign) UN_SINT_ENTRIES(un_sign)
                                              UN_UINT_ENTRIES(un_sign) UN_END};

int un_run_abs(onnx_ctx *ctx)
{
    return un_run(ctx, un_abs_table, INFERD_DTYPE_INVALID, NULL);
}
int un_run_neg(onnx_ctx *ctx)
{
    return un_run(ctx, un_neg_table, INFERD_DTYPE_INVALID, NULL);
}
int un_run_sign(onnx_ctx *ctx)
{
    return un_run(ctx, un_sign_table, INFERD_DTYPE_INVALID, NULL);
}

/* Float-only operators: one generic expression each. */
#define UN_FLOAT_OP(NAME, EXPR)                                                        \
    UN_FLOAT_KERNELS(un_##NAME, EXPR)                                                  \
    static const un_kernel un_##NAME##_table[] = {UN_FLOAT_ENTRIES(un_##NAME) UN_END}; \
    int un_run_##NAME(onnx_ctx *ctx)                                                   \
    {                                                                                  \
        return un_run(ctx, un_##NAME##_table, INFERD_DTYPE_INVALID, NULL);             \
    }

UN_FLOAT_OP(sqrt, sqrt(x))
UN_FLOAT_OP(exp, exp(x))
UN_FLOAT_OP(log, log(x))
UN_FLOAT_OP(reciprocal, (T)1 / x)
UN_FLOAT_OP(floor, floor(x))
UN_FLOAT_OP(ceil, ceil(x))
UN_FLOAT_OP(round, nearbyint(x)) /* halves to even under the default rounding mode */
UN_FLOAT_OP(sin, sin(x))
UN_FLOAT_OP(cos, cos(x))
UN_FLOAT_OP(tan, tan(x))
UN_FLOAT_OP(asin, asin(x))
UN_FLOAT_OP(acos, acos(x))
UN_FLOAT_OP(atan, atan(x))
UN_FLOAT_OP(sinh, sinh(x))
UN_FLOAT_OP(cosh, cosh(x))
UN_FLOAT_OP(asinh, asinh(x))
UN_FLOAT_OP(acosh, acosh(x))
UN_FLOAT_OP(atanh, atanh(x))

/* Erf: float32 through the vectorized kernel (the encoder's GELU spends its time here when it
 * is not fused), float64 through libm */
static void un_erf_f32(void *out, const void *in, int64_t n, const un_param *p)
{
    (void)p;
    nn_k_erf(out, in, n);
}
UN_KERNEL(un_erf_f64, double, double, erf(x))
static const un_kernel un_erf_table[] = {UN_FLOAT_ENTRIES(un_erf) UN_END};
int un_run_erf(onnx_ctx *ctx)
{
    return un_run(ctx, un_erf_table, INFERD_DTYPE_INVALID, NULL);
}

UN_KERNEL(un_not_bool, uint8_t, uint8_t, x == 0)
static const un_kernel un_not_table[] = {{INFERD_DTYPE_BOOL, un_not_bool}, UN_END};
int un_run_not(onnx_ctx *ctx)
{
    return un_run(ctx, un_not_table, INFERD_DTYPE_INVALID, NULL);
}

UN_KERNEL(un_isnan_f32, float, uint8_t, isnan(x))
UN_KERNEL(un_isnan_f64, double, uint8_t, isnan(x))
static const un_kernel un_isnan_table[] = {UN_FLOAT_ENTRIES(un_isnan) UN_END};
int un_run_isnan(onnx_ctx *ctx)
{
    return un_run(ctx, un_isnan_table, INFERD_DTYPE_BOOL, NULL);
}

UN_KERNEL(un_isinf_f32, float, uint8_t, isinf(x) && (x > 0 ? p->flag_b : p->flag_a))
UN_KERNEL(un_isinf_f64, double, uint8_t, isinf(x) && (x > 0 ? p->flag_b : p->flag_a))
static const un_kernel un_isinf_table[] = {UN_FLOAT_ENTRIES(un_isinf) UN_END};
int un_run_isinf(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    un_param p = {0};
    p.flag_a = onnx_attr_int(node, "detect_negative", 1) != 0;
    p.flag_b = onnx_attr_int(node, "detect_positive", 1) != 0;
    return un_run(ctx, un_isinf_table, INFERD_DTYPE_BOOL, &p);
}
