/* Broadcasting comparisons (Equal Less Greater LessOrEqual GreaterOrEqual -> bool), logic
 * (And Or Xor on bool), BitShift on unsigned integers, and Where. */
#include "ew_ops.h"

#include <string.h>

#include "ew_kernels.h"
#include "ew_legacy.h"

#define EW_END                     \
    {                              \
        INFERD_DTYPE_INVALID, NULL \
    }
#define EW_ENTRY(PREFIX, S, D) {D, PREFIX##_##S},

#define EW_DEF_CMP(S, T, W, D)                         \
    EW_BINARY_KERNEL(ew_eq_##S, T, T, uint8_t, x == y) \
    EW_BINARY_KERNEL(ew_lt_##S, T, T, uint8_t, x < y)  \
    EW_BINARY_KERNEL(ew_gt_##S, T, T, uint8_t, x > y)  \
    EW_BINARY_KERNEL(ew_le_##S, T, T, uint8_t, x <= y) \
    EW_BINARY_KERNEL(ew_ge_##S, T, T, uint8_t, x >= y)
EW_NUM_TYPES(EW_DEF_CMP)
#define EW_ENT_EQ(S, T, W, D) EW_ENTRY(ew_eq, S, D)
#define EW_ENT_LT(S, T, W, D) EW_ENTRY(ew_lt, S, D)
#define EW_ENT_GT(S, T, W, D) EW_ENTRY(ew_gt, S, D)
#define EW_ENT_LE(S, T, W, D) EW_ENTRY(ew_le, S, D)
#define EW_ENT_GE(S, T, W, D) EW_ENTRY(ew_ge, S, D)
EW_BINARY_KERNEL(ew_eq_bool, uint8_t, uint8_t, uint8_t, (x != 0) == (y != 0))
static const ew_kernel ew_eq_table[] = {EW_NUM_TYPES(EW_ENT_EQ){INFERD_DTYPE_BOOL, ew_eq_bool},
                                        EW_END};
static const ew_kernel ew_lt_table[] = {EW_NUM_TYPES(EW_ENT_LT) EW_END};
static const ew_kernel ew_gt_table[] = {EW_NUM_TYPES(EW_ENT_GT) EW_END};
static const ew_kernel ew_le_table[] = {EW_NUM_TYPES(EW_ENT_LE) EW_END};
static const ew_kernel ew_ge_table[] = {EW_NUM_TYPES(EW_ENT_GE) EW_END};

EW_BINARY_KERNEL(ew_and_bool, uint8_t, uint8_t, uint8_t, (x != 0) & (y != 0))
EW_BINARY_KERNEL(ew_or_bool, uint8_t, uint8_t, uint8_t, (x != 0) | (y != 0))
EW_BINARY_KERNEL(ew_xor_bool, uint8_t, uint8_t, uint8_t, (x != 0) ^ (y != 0))
static const ew_kernel ew_and_table[] = {{INFERD_DTYPE_BOOL, ew_and_bool}, EW_END};
static const ew_kernel ew_or_table[] = {{INFERD_DTYPE_BOOL, ew_or_bool}, EW_END};
static const ew_kernel ew_xor_table[] = {{INFERD_DTYPE_BOOL, ew_xor_bool}, EW_END};

/* Shifts by the type's width or more give 0 (instead of undefined behaviour). */
#define EW_DEF_SHIFT(S, T, W, D)                                                      \
    EW_BINARY_KERNEL(ew_shl_##S, T, T, T, y >= sizeof(T) * 8 ? (T)0 : (T)((W)x << y)) \
    EW_BINARY_KERNEL(ew_shr_##S, T, T, T, y >= sizeof(T) * 8 ? (T)0 : (T)(x >> y))
EW_UINT_TYPES(EW_DEF_SHIFT)
#define EW_ENT_SHL(S, T, W, D) EW_ENTRY(ew_shl, S, D)
#define EW_ENT_SHR(S, T, W, D) EW_ENTRY(ew_shr, S, D)
static const ew_kernel ew_shl_table[] = {EW_UINT_TYPES(EW_ENT_SHL) EW_END};
static const ew_kernel ew_shr_table[] = {EW_UINT_TYPES(EW_ENT_SHR) EW_END};

/* Same-typed inputs, output type out (INVALID = the input type). */
static int ew_run_typed(onnx_ctx *ctx, const ew_kernel *table, inferd_dtype out)
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
    return ew_broadcast_run(ctx, 2, in, out == INFERD_DTYPE_INVALID ? in[0]->dtype : out, fn, NULL,
                            NULL);
}

int ew_run_equal(onnx_ctx *ctx)
{
    return ew_run_typed(ctx, ew_eq_table, INFERD_DTYPE_BOOL);
}
int ew_run_less(onnx_ctx *ctx)
{
    return ew_run_typed(ctx, ew_lt_table, INFERD_DTYPE_BOOL);
}
int ew_run_greater(onnx_ctx *ctx)
{
    return ew_run_typed(ctx, ew_gt_table, INFERD_DTYPE_BOOL);
}
int ew_run_less_equal(onnx_ctx *ctx)
{
    return ew_run_typed(ctx, ew_le_table, INFERD_DTYPE_BOOL);
}
int ew_run_greater_equal(onnx_ctx *ctx)
{
    return ew_run_typed(ctx, ew_ge_table, INFERD_DTYPE_BOOL);
}
int ew_run_and(onnx_ctx *ctx)
{
    return ew_run_typed(ctx, ew_and_table, INFERD_DTYPE_BOOL);
}
int ew_run_or(onnx_ctx *ctx)
{
    return ew_run_typed(ctx, ew_or_table, INFERD_DTYPE_BOOL);
}
int ew_run_xor(onnx_ctx *ctx)
{
    return ew_run_typed(ctx, ew_xor_table, INFERD_DTYPE_BOOL);
}

int ew_run_bitshift(onnx_ctx *ctx)
{
    const char *dir = onnx_attr_string(onnx_ctx_node(ctx), "direction", NULL);
    if (!dir) return onnx_ctx_fail(ctx, "missing attribute 'direction'");
    if (strcmp(dir, "LEFT") == 0) return ew_run_typed(ctx, ew_shl_table, INFERD_DTYPE_INVALID);
    if (strcmp(dir, "RIGHT") == 0) return ew_run_typed(ctx, ew_shr_table, INFERD_DTYPE_INVALID);
    return onnx_ctx_fail(ctx, "direction must be LEFT or RIGHT, got '%s'", dir);
}

/* Where: out = cond ? x : y, by element size (the values are only copied). */
#define EW_DEF_WHERE(T)                                                                        \
    static void ew_where_##T(void *out, const void *const *in, const int64_t *step, int64_t n, \
                             const void *param)                                                \
    {                                                                                          \
        (void)param;                                                                           \
        T *o = out;                                                                            \
        const uint8_t *c = in[0];                                                              \
        const T *a = in[1], *b = in[2];                                                        \
        if (step[0] == 1 && step[1] == 1 && step[2] == 1) {                                    \
            for (int64_t i = 0; i < n; i++) o[i] = c[i] ? a[i] : b[i];                         \
        } else {                                                                               \
            for (int64_t i = 0; i < n; i++)                                                    \
                o[i] = c[i * step[0]] ? a[i * step[1]] : b[i * step[2]];                       \
        }                                                                                      \
    }
EW_DEF_WHERE(uint8_t)
EW_DEF_WHERE(uint16_t)
EW_DEF_WHERE(uint32_t)
EW_DEF_WHERE(uint64_t)

int ew_run_where(onnx_ctx *ctx)
{
    const onnx_tensor *in[3];
    for (int k = 0; k < 3; k++)
        if (!(in[k] = onnx_ctx_input(ctx, k))) return onnx_ctx_fail(ctx, "missing input %d", k);
    if (in[0]->dtype != INFERD_DTYPE_BOOL)
        return onnx_ctx_fail(ctx, "condition is %s, expected BOOL",
                             inferd_dtype_name(in[0]->dtype));
    if (in[1]->dtype != in[2]->dtype)
        return onnx_ctx_fail(ctx, "X is %s but Y is %s", inferd_dtype_name(in[1]->dtype),
                             inferd_dtype_name(in[2]->dtype));
    ew_row_fn fn;
    switch (inferd_dtype_size(in[1]->dtype)) {
    case 1: fn = ew_where_uint8_t; break;
    case 2: fn = ew_where_uint16_t; break;
    case 4: fn = ew_where_uint32_t; break;
    case 8: fn = ew_where_uint64_t; break;
    default:
        return onnx_ctx_unsupported(ctx, "value type %s not supported",
                                    inferd_dtype_name(in[1]->dtype));
    }
    return ew_broadcast_run(ctx, 3, in, in[1]->dtype, fn, NULL, NULL);
}
