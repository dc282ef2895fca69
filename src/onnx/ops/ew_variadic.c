/* Variadic broadcasting reductions over inputs: Min Max Sum Mean. The output is the
 * broadcast of all inputs; inputs are folded into it one at a time (out = f(out, in_k)). */
#include "ew_ops.h"

#include <string.h>

#include "../broadcast.h"
#include "ew_kernels.h"
#include "ew_legacy.h"

#define EW_END                     \
    {                              \
        INFERD_DTYPE_INVALID, NULL \
    }
#define EW_ENTRY(PREFIX, S, D) {D, PREFIX##_##S},

/* Floats propagate NaN from either side, as numpy's minimum/maximum do. */
#define EW_DEF_MINMAX_F(S, T, W, D)                                  \
    EW_BINARY_KERNEL(ew_min_##S, T, T, T, (x != x || x < y) ? x : y) \
    EW_BINARY_KERNEL(ew_max_##S, T, T, T, (x != x || x > y) ? x : y)
#define EW_DEF_MINMAX_I(S, T, W, D)                      \
    EW_BINARY_KERNEL(ew_min_##S, T, T, T, x < y ? x : y) \
    EW_BINARY_KERNEL(ew_max_##S, T, T, T, x > y ? x : y)
#define EW_DEF_SUM(S, T, W, D) EW_BINARY_KERNEL(ew_sum_##S, T, T, T, (W)x + (W)y)
EW_FLOAT_TYPES(EW_DEF_MINMAX_F)
EW_SINT_TYPES(EW_DEF_MINMAX_I)
EW_UINT_TYPES(EW_DEF_MINMAX_I)
EW_NUM_TYPES(EW_DEF_SUM)
#define EW_ENT_MIN(S, T, W, D) EW_ENTRY(ew_min, S, D)
#define EW_ENT_MAX(S, T, W, D) EW_ENTRY(ew_max, S, D)
#define EW_ENT_SUM(S, T, W, D) EW_ENTRY(ew_sum, S, D)
static const ew_kernel ew_min_table[] = {EW_NUM_TYPES(EW_ENT_MIN) EW_END};
static const ew_kernel ew_max_table[] = {EW_NUM_TYPES(EW_ENT_MAX) EW_END};
static const ew_kernel ew_sum_table[] = {EW_NUM_TYPES(EW_ENT_SUM) EW_END};
static const ew_kernel ew_mean_table[] = {EW_FLOAT_TYPES(EW_ENT_SUM) EW_END};

/* Copies in0 broadcast into out, element size in param. */
static void ew_copy_row(void *out, const void *const *in, const int64_t *step, int64_t n,
                        const void *param)
{
    size_t es = *(const size_t *)param;
    char *o = out;
    const char *a = in[0];
    if (step[0] == 1) {
        memcpy(o, a, (size_t)n * es);
        return;
    }
    for (int64_t i = 0; i < n; i++) memcpy(o + (size_t)i * es, a, es);
}

/* Divides the n elements of t (FP32 or FP64) by d. */
static void ew_divide_all(onnx_tensor *t, int d)
{
    int64_t total = onnx_tensor_numel(t);
    if (t->dtype == INFERD_DTYPE_FP32) {
        float *o = t->data, fd = (float)d;
        for (int64_t i = 0; i < total; i++) o[i] /= fd;
    } else if (t->dtype == INFERD_DTYPE_FP64) {
        double *o = t->data;
        for (int64_t i = 0; i < total; i++) o[i] /= d;
    }
}

/* Folds every input into output 0 with table's kernel (FP16 through FP32 copies); with mean
 * set, divides by the input count. */
static int ew_run_variadic(onnx_ctx *ctx, const ew_kernel *table, int mean)
{
    int n = onnx_ctx_num_inputs(ctx);
    if (n < 1) return onnx_ctx_fail(ctx, "needs at least one input");
    if (ew_check_inputs_same_type(ctx, n) < 0) return -1;
    if (onnx_ctx_node(ctx)->opset < 8 && ew_legacy_check_same_shapes(ctx, n) < 0) return -1;
    const onnx_tensor *first = onnx_ctx_input(ctx, 0);
    int half = first->dtype == INFERD_DTYPE_FP16;
    ew_row_fn fn = ew_kernel_find(table, half ? INFERD_DTYPE_FP32 : first->dtype);
    if (!fn)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(first->dtype));

    int r = first->ndim;
    int64_t dims[ONNX_MAX_DIMS];
    memcpy(dims, first->dims, sizeof dims);
    for (int k = 1; k < n; k++) {
        const onnx_tensor *t = onnx_ctx_input(ctx, k);
        int ndims[2] = {r, t->ndim};
        const int64_t *dimp[2] = {dims, t->dims};
        int64_t next[ONNX_MAX_DIMS];
        if (onnx_broadcast_shape(2, ndims, dimp, &r, next) < 0) {
            char s[96];
            ew_shape_str(t, s, sizeof s);
            return onnx_ctx_fail(ctx, "input %d shape %s does not broadcast with the others", k, s);
        }
        memcpy(dims, next, sizeof dims);
    }
    onnx_tensor *out = onnx_ctx_output(ctx, 0, first->dtype, r, dims);
    if (!out) return -1;
    size_t total = (size_t)onnx_tensor_numel(out);
    if (total == 0) return 0;

    onnx_tensor work = *out, tmp[2];
    if (half) { /* accumulate in a float32 copy of the output */
        work.dtype = INFERD_DTYPE_FP32;
        work.data = onnx_ctx_scratch(ctx, total * sizeof(float));
        if (!work.data) return -1;
    }
    /* input k, widened to float32 when half */
#define EW_OPERAND(k, slot)                                                                     \
    (half ? (ew_half_to_float(ctx, onnx_ctx_input(ctx, k), &tmp[slot]) < 0 ? NULL : &tmp[slot]) \
          : onnx_ctx_input(ctx, k))
    int rc;
    const onnx_tensor *pair[2] = {EW_OPERAND(0, 0), NULL};
    if (!pair[0]) return -1;
    if (n == 1) {
        size_t es = inferd_dtype_size(work.dtype);
        rc = ew_broadcast_fill(&work, 1, pair, ew_copy_row, &es);
    } else {
        if (!(pair[1] = EW_OPERAND(1, 1))) return -1;
        rc = ew_broadcast_fill(&work, 2, pair, fn, NULL);
        for (int k = 2; k < n && rc == 0; k++) {
            pair[0] = &work;
            if (!(pair[1] = EW_OPERAND(k, 1))) return -1;
            rc = ew_broadcast_fill(&work, 2, pair, fn, NULL);
        }
    }
#undef EW_OPERAND
    if (rc < 0) return onnx_ctx_fail(ctx, "internal broadcast error");
    if (mean) ew_divide_all(&work, n);
    if (half) ew_float_to_half_store(out->data, work.data, total);
    return 0;
}

int ew_run_min(onnx_ctx *ctx)
{
    return ew_run_variadic(ctx, ew_min_table, 0);
}
int ew_run_max(onnx_ctx *ctx)
{
    return ew_run_variadic(ctx, ew_max_table, 0);
}
int ew_run_sum(onnx_ctx *ctx)
{
    return ew_run_variadic(ctx, ew_sum_table, 0);
}
int ew_run_mean(onnx_ctx *ctx)
{
    return ew_run_variadic(ctx, ew_mean_table, 1);
}
