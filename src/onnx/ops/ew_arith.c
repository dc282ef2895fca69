/* Broadcasting arithmetic: Add Sub Mul Div Pow Mod PRelu over every numeric type. Integer
 * arithmetic wraps (as in numpy); integer division or modulo by zero gives 0, not a trap. */
#include "ew_ops.h"

#include <math.h>
#include <string.h>

#include "ew_kernels.h"
#include "ew_legacy.h"

#define EW_END                     \
    {                              \
        INFERD_DTYPE_INVALID, NULL \
    }
#define EW_ENTRY(PREFIX, S, D) {D, PREFIX##_##S},

/* ---- Add Sub Mul: wrapping arithmetic in W ---------------------------------------------- */
#define EW_DEF_ADD(S, T, W, D) EW_BINARY_KERNEL(ew_add_##S, T, T, T, (W)x + (W)y)
#define EW_DEF_SUB(S, T, W, D) EW_BINARY_KERNEL(ew_sub_##S, T, T, T, (W)x - (W)y)
#define EW_DEF_MUL(S, T, W, D) EW_BINARY_KERNEL(ew_mul_##S, T, T, T, (W)x *(W)y)
EW_NUM_TYPES(EW_DEF_ADD)
EW_NUM_TYPES(EW_DEF_SUB)
EW_NUM_TYPES(EW_DEF_MUL)
#define EW_ENT_ADD(S, T, W, D) EW_ENTRY(ew_add, S, D)
#define EW_ENT_SUB(S, T, W, D) EW_ENTRY(ew_sub, S, D)
#define EW_ENT_MUL(S, T, W, D) EW_ENTRY(ew_mul, S, D)
static const ew_kernel ew_add_table[] = {EW_NUM_TYPES(EW_ENT_ADD) EW_END};
static const ew_kernel ew_sub_table[] = {EW_NUM_TYPES(EW_ENT_SUB) EW_END};
static const ew_kernel ew_mul_table[] = {EW_NUM_TYPES(EW_ENT_MUL) EW_END};

/* ---- Div: truncating for integers; x / 0 = 0 and MIN / -1 wraps ------------------------- */
#define EW_DEF_DIV_F(S, T, W, D) EW_BINARY_KERNEL(ew_div_##S, T, T, T, x / y)
#define EW_DEF_DIV_S(S, T, W, D) \
    EW_BINARY_KERNEL(ew_div_##S, T, T, T, y == 0 ? (T)0 : y == -1 ? (T)((W)0 - (W)x) : (T)(x / y))
#define EW_DEF_DIV_U(S, T, W, D) EW_BINARY_KERNEL(ew_div_##S, T, T, T, y == 0 ? (T)0 : (T)(x / y))
EW_FLOAT_TYPES(EW_DEF_DIV_F)
EW_SINT_TYPES(EW_DEF_DIV_S)
EW_UINT_TYPES(EW_DEF_DIV_U)
#define EW_ENT_DIV(S, T, W, D) EW_ENTRY(ew_div, S, D)
static const ew_kernel ew_div_table[] = {EW_NUM_TYPES(EW_ENT_DIV) EW_END};

/* ---- Mod: fmod=1 keeps the dividend's sign (C fmod / %), fmod=0 the divisor's (Python) --- */
static inline double ew_pymod_double(double x, double y)
{
    double r = fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}
#define EW_DEF_MODHELP_S(S, T, W, D)                              \
    static inline T ew_cmod_##S(T x, T y)                         \
    {                                                             \
        return (y == 0 || y == -1) ? (T)0 : (T)(x % y);           \
    }                                                             \
    static inline T ew_pymod_##S(T x, T y)                        \
    {                                                             \
        T r = ew_cmod_##S(x, y);                                  \
        if (r != 0 && ((r < 0) != (y < 0))) r = (T)((W)r + (W)y); \
        return r;                                                 \
    }
EW_SINT_TYPES(EW_DEF_MODHELP_S)
#define EW_DEF_MOD_S(S, T, W, D)                              \
    EW_BINARY_KERNEL(ew_fmod_##S, T, T, T, ew_cmod_##S(x, y)) \
    EW_BINARY_KERNEL(ew_mod_##S, T, T, T, ew_pymod_##S(x, y))
#define EW_DEF_MOD_U(S, T, W, D)                                       \
    EW_BINARY_KERNEL(ew_fmod_##S, T, T, T, y == 0 ? (T)0 : (T)(x % y)) \
    EW_BINARY_KERNEL(ew_mod_##S, T, T, T, y == 0 ? (T)0 : (T)(x % y))
EW_SINT_TYPES(EW_DEF_MOD_S)
EW_UINT_TYPES(EW_DEF_MOD_U)
EW_BINARY_KERNEL(ew_fmod_f32, float, float, float, fmodf(x, y))
EW_BINARY_KERNEL(ew_mod_f32, float, float, float, ew_pymod_double(x, y))
EW_BINARY_KERNEL(ew_fmod_f64, double, double, double, fmod(x, y))
EW_BINARY_KERNEL(ew_mod_f64, double, double, double, ew_pymod_double(x, y))
#define EW_ENT_FMOD(S, T, W, D) EW_ENTRY(ew_fmod, S, D)
#define EW_ENT_MOD(S, T, W, D)  EW_ENTRY(ew_mod, S, D)
static const ew_kernel ew_fmod_table[] = {EW_NUM_TYPES(EW_ENT_FMOD) EW_END};
static const ew_kernel ew_mod_table[] = {EW_NUM_TYPES(EW_ENT_MOD) EW_END};

/* ---- PRelu: x < 0 ? slope * x : x (signed and float types) ------------------------------ */
#define EW_DEF_PRELU(S, T, W, D) \
    EW_BINARY_KERNEL(ew_prelu_##S, T, T, T, x < 0 ? (T)((W)x * (W)y) : x)
EW_FLOAT_TYPES(EW_DEF_PRELU)
EW_SINT_TYPES(EW_DEF_PRELU)
#define EW_ENT_PRELU(S, T, W, D) EW_ENTRY(ew_prelu, S, D)
static const ew_kernel ew_prelu_table[] = {EW_FLOAT_TYPES(EW_ENT_PRELU) EW_SINT_TYPES(EW_ENT_PRELU)
                                               EW_END};

/* ---- Pow: computed in double and converted to the base type (numpy's power().astype) ---- */
static inline int64_t ew_double_to_i64(double v)
{
    if (!(v > -9.2233720368547758e18 && v < 9.2233720368547758e18))
        return v > 0 ? INT64_MAX : INT64_MIN;
    return (int64_t)v;
}
#define EW_DEF_POW_F32(S, T, W, D) \
    EW_BINARY_KERNEL(ew_pow_f32_##S, float, T, float, pow((double)x, (double)y))
#define EW_DEF_POW_F64(S, T, W, D) \
    EW_BINARY_KERNEL(ew_pow_f64_##S, double, T, double, pow(x, (double)y))
#define EW_DEF_POW_I32(S, T, W, D)                        \
    EW_BINARY_KERNEL(ew_pow_i32_##S, int32_t, T, int32_t, \
                     ew_double_to_i64(pow((double)x, (double)y)))
#define EW_DEF_POW_I64(S, T, W, D)                        \
    EW_BINARY_KERNEL(ew_pow_i64_##S, int64_t, T, int64_t, \
                     ew_double_to_i64(pow((double)x, (double)y)))
EW_NUM_TYPES(EW_DEF_POW_F32)
EW_NUM_TYPES(EW_DEF_POW_F64)
EW_NUM_TYPES(EW_DEF_POW_I32)
EW_NUM_TYPES(EW_DEF_POW_I64)
EW_BINARY_KERNEL(ew_pow_ff32, float, float, float, powf(x, y))
EW_BINARY_KERNEL(ew_pow_sq_f32, float, float, float, x *x) /* x ** 2, the common case */
#define EW_ENT_POW_F32(S, T, W, D) EW_ENTRY(ew_pow_f32, S, D)
#define EW_ENT_POW_F64(S, T, W, D) EW_ENTRY(ew_pow_f64, S, D)
#define EW_ENT_POW_I32(S, T, W, D) EW_ENTRY(ew_pow_i32, S, D)
#define EW_ENT_POW_I64(S, T, W, D) EW_ENTRY(ew_pow_i64, S, D)
static const ew_kernel ew_pow_f32_table[] = {EW_NUM_TYPES(EW_ENT_POW_F32) EW_END};
static const ew_kernel ew_pow_f64_table[] = {EW_NUM_TYPES(EW_ENT_POW_F64) EW_END};
static const ew_kernel ew_pow_i32_table[] = {EW_NUM_TYPES(EW_ENT_POW_I32) EW_END};
static const ew_kernel ew_pow_i64_table[] = {EW_NUM_TYPES(EW_ENT_POW_I64) EW_END};

/* Runs a same-typed binary op from table; fails on type mismatch or an unsupported type. */
static int ew_run_binary(onnx_ctx *ctx, const ew_kernel *table)
{
    const onnx_tensor *in[2];
    onnx_tensor b_view;
    if (ew_binary_operands(ctx, in, &b_view) < 0 || ew_check_inputs_same_type(ctx, 2) < 0)
        return -1;
    inferd_dtype kt = in[0]->dtype == INFERD_DTYPE_FP16 ? INFERD_DTYPE_FP32 : in[0]->dtype;
    ew_row_fn fn = ew_kernel_find(table, kt);
    if (!fn)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(in[0]->dtype));
    return ew_broadcast_run(ctx, 2, in, in[0]->dtype, fn, NULL, NULL);
}

int ew_run_add(onnx_ctx *ctx)
{
    return ew_run_binary(ctx, ew_add_table);
}
int ew_run_sub(onnx_ctx *ctx)
{
    return ew_run_binary(ctx, ew_sub_table);
}
int ew_run_mul(onnx_ctx *ctx)
{
    return ew_run_binary(ctx, ew_mul_table);
}
int ew_run_div(onnx_ctx *ctx)
{
    return ew_run_binary(ctx, ew_div_table);
}
/* The slope broadcasts to X (unidirectionally): the output keeps X's shape. */
int ew_run_prelu(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *slope = onnx_ctx_input(ctx, 1);
    onnx_tensor view;
    if (x && slope && onnx_ctx_node(ctx)->opset < 7 &&
        ew_legacy_prelu_slope(ctx, x, &slope, &view) < 0)
        return -1;
    if (x && slope) {
        int grows = slope->ndim > x->ndim;
        for (int k = 0; !grows && k < slope->ndim; k++) {
            int64_t d = slope->dims[k], xd = x->dims[x->ndim - slope->ndim + k];
            if (d != 1 && d != xd) grows = 1;
        }
        if (grows) {
            char xs[96], ss[96];
            ew_shape_str(x, xs, sizeof xs);
            ew_shape_str(slope, ss, sizeof ss);
            return onnx_ctx_fail(ctx, "slope shape %s does not broadcast to X shape %s", ss, xs);
        }
    }
    if (ew_check_inputs_same_type(ctx, 2) < 0) return -1;
    ew_row_fn fn = ew_kernel_find(ew_prelu_table,
                                  x->dtype == INFERD_DTYPE_FP16 ? INFERD_DTYPE_FP32 : x->dtype);
    if (!fn)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    const onnx_tensor *in[2] = {x, slope};
    return ew_broadcast_run(ctx, 2, in, x->dtype, fn, NULL, NULL);
}

int ew_run_mod(onnx_ctx *ctx)
{
    int64_t fmod_attr = onnx_attr_int(onnx_ctx_node(ctx), "fmod", 0);
    if (fmod_attr != 0 && fmod_attr != 1)
        return onnx_ctx_fail(ctx, "fmod must be 0 or 1, got %lld", (long long)fmod_attr);
    return ew_run_binary(ctx, fmod_attr ? ew_fmod_table : ew_mod_table);
}

int ew_run_pow(onnx_ctx *ctx)
{
    const onnx_tensor *in[2];
    onnx_tensor b_view;
    if (ew_binary_operands(ctx, in, &b_view) < 0) return -1;
    const ew_kernel *table;
    switch (in[0]->dtype) {
    case INFERD_DTYPE_FP16: /* widened to float32 by ew_broadcast_run */
    case INFERD_DTYPE_FP32: table = ew_pow_f32_table; break;
    case INFERD_DTYPE_FP64: table = ew_pow_f64_table; break;
    case INFERD_DTYPE_INT32: table = ew_pow_i32_table; break;
    case INFERD_DTYPE_INT64: table = ew_pow_i64_table; break;
    default:
        return onnx_ctx_unsupported(ctx, "base type %s not supported",
                                    inferd_dtype_name(in[0]->dtype));
    }
    int half_exp = in[1]->dtype == INFERD_DTYPE_FP16; /* widened to float32 as well */
    ew_row_fn fn = ew_kernel_find(table, half_exp ? INFERD_DTYPE_FP32 : in[1]->dtype);
    if (!fn)
        return onnx_ctx_unsupported(ctx, "exponent type %s not supported",
                                    inferd_dtype_name(in[1]->dtype));
    if (in[0]->dtype == INFERD_DTYPE_FP32 && in[1]->dtype == INFERD_DTYPE_FP32) {
        fn = ew_pow_ff32;
        if (onnx_tensor_numel(in[1]) == 1 && ((const float *)in[1]->data)[0] == 2.0f)
            fn = ew_pow_sq_f32;
    }
    return ew_broadcast_run(ctx, 2, in, in[0]->dtype, fn, NULL, NULL);
}
