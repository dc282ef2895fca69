/* ScatterElements (and the older Scatter) and ScatterND: a copy of data with elements or
 * slices replaced (or combined, per `reduction`) at checked index positions. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int reduction_mode(onnx_ctx *ctx, int *mode)
{
    const char *s = onnx_attr_string(onnx_ctx_node(ctx), "reduction", "none");
    if (!strcmp(s, "none")) *mode = RED_NONE;
    else if (!strcmp(s, "add")) *mode = RED_ADD;
    else if (!strcmp(s, "mul")) *mode = RED_MUL;
    else if (!strcmp(s, "max")) *mode = RED_MAX;
    else if (!strcmp(s, "min")) *mode = RED_MIN;
    else return onnx_ctx_fail(ctx, "unknown reduction '%s'", s);
    return 0;
}

#define COMBINE(T, W)                              \
    {                                              \
        T a, b;                                    \
        memcpy(&a, dst, sizeof a);                 \
        memcpy(&b, src, sizeof b);                 \
        switch (mode) {                            \
        case RED_ADD: a = (T)((W)a + (W)b); break; \
        case RED_MUL: a = (T)((W)a * (W)b); break; \
        case RED_MAX: a = a > b ? a : b; break;    \
        default: a = a < b ? a : b; break;         \
        }                                          \
        memcpy(dst, &a, sizeof a);                 \
        break;                                     \
    }

/* dst[i] = dst[i] (op) src[i] for n elements of dtype. Returns -1 if the type has no
 * arithmetic here. */
static int combine(char *dst, const char *src, int64_t n, inferd_dtype dt, int mode, size_t es)
{
    if (mode == RED_NONE) {
        memcpy(dst, src, (size_t)n * es);
        return 0;
    }
    for (int64_t i = 0; i < n; i++, dst += es, src += es) {
        switch (dt) {
        case INFERD_DTYPE_FP32: COMBINE(float, double)
        case INFERD_DTYPE_FP64: COMBINE(double, double)
        case INFERD_DTYPE_INT8: COMBINE(int8_t, int64_t)
        case INFERD_DTYPE_UINT8: COMBINE(uint8_t, uint64_t)
        case INFERD_DTYPE_INT16: COMBINE(int16_t, int64_t)
        case INFERD_DTYPE_UINT16: COMBINE(uint16_t, uint64_t)
        case INFERD_DTYPE_INT32: COMBINE(int32_t, int64_t)
        case INFERD_DTYPE_UINT32: COMBINE(uint32_t, uint64_t)
        case INFERD_DTYPE_UINT64: COMBINE(uint64_t, uint64_t)
        case INFERD_DTYPE_INT64: {
            /* wrap-around add/mul without signed-overflow UB */
            int64_t a, b;
            memcpy(&a, dst, 8);
            memcpy(&b, src, 8);
            if (mode == RED_ADD) a = (int64_t)((uint64_t)a + (uint64_t)b);
            else if (mode == RED_MUL) a = (int64_t)((uint64_t)a * (uint64_t)b);
            else if (mode == RED_MAX) a = a > b ? a : b;
            else a = a < b ? a : b;
            memcpy(dst, &a, 8);
            break;
        }
        default: {
            double a = onnx_tu_load(dst, dt, 0), b = onnx_tu_load(src, dt, 0);
            if (!onnx_tu_is_float(dt)) return -1;
            a = mode == RED_ADD   ? a + b
                : mode == RED_MUL ? a * b
                : mode == RED_MAX ? (a > b ? a : b)
                                  : (a < b ? a : b);
            onnx_tu_store(dst, dt, 0, a);
        }
        }
    }
    return 0;
}

int onnx_run_scatter_elements(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *ind = onnx_ctx_input(ctx, 1);
    const onnx_tensor *upd = onnx_ctx_input(ctx, 2);
    if (!x || !ind || !upd) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    int mode, r = x->ndim, axis;
    if (!es || reduction_mode(ctx, &mode) < 0) return -1;
    if (ind->dtype != INFERD_DTYPE_INT64 && ind->dtype != INFERD_DTYPE_INT32)
        return onnx_ctx_fail(ctx, "indices must be int32 or int64");
    if (upd->dtype != x->dtype) return onnx_ctx_fail(ctx, "updates type differs from data");
    if (r == 0 || ind->ndim != r || upd->ndim != r)
        return onnx_ctx_fail(ctx, "data, indices and updates need the same rank >= 1");
    if (onnx_tu_axis(ctx, onnx_attr_int(onnx_ctx_node(ctx), "axis", 0), r, &axis) < 0) return -1;
    for (int k = 0; k < r; k++) {
        if (ind->dims[k] != upd->dims[k])
            return onnx_ctx_fail(ctx, "indices and updates differ in shape");
        if (k != axis && ind->dims[k] > x->dims[k])
            return onnx_ctx_fail(ctx, "indices dim %d exceeds data dim", k);
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, x->dims);
    if (!y) return -1;
    if (onnx_tensor_numel(x) > 0) memcpy(y->data, x->data, onnx_tensor_nbytes(x));
    int64_t n = onnx_tensor_numel(ind), xs[ONNX_MAX_DIMS], c[ONNX_MAX_DIMS] = {0}, base = 0;
    onnx_tensor_strides(x, xs);
    for (int64_t i = 0; i < n; i++) {
        int64_t v = onnx_tensor_get_int(ind, i), d = x->dims[axis];
        if (v < -d || v >= d)
            return onnx_ctx_fail(ctx, "index %lld out of range for dim %lld", (long long)v,
                                 (long long)d);
        if (v < 0) v += d;
        if (combine((char *)y->data + (base + v * xs[axis]) * (int64_t)es,
                    (const char *)upd->data + i * (int64_t)es, 1, x->dtype, mode, es) < 0)
            return onnx_ctx_fail(ctx, "reduction not supported for %s",
                                 inferd_dtype_name(x->dtype));
        for (int k = r - 1; k >= 0; k--) {
            if (k != axis) base += xs[k];
            if (++c[k] < ind->dims[k]) break;
            if (k != axis) base -= xs[k] * ind->dims[k];
            c[k] = 0;
        }
    }
    return 0;
}

int onnx_run_scatter_nd(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *ind = onnx_ctx_input(ctx, 1);
    const onnx_tensor *upd = onnx_ctx_input(ctx, 2);
    if (!x || !ind || !upd) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    int mode, r = x->ndim, q = ind->ndim;
    if (!es || reduction_mode(ctx, &mode) < 0) return -1;
    if (ind->dtype != INFERD_DTYPE_INT64) return onnx_ctx_fail(ctx, "indices must be int64");
    if (upd->dtype != x->dtype) return onnx_ctx_fail(ctx, "updates type differs from data");
    if (r < 1 || q < 1) return onnx_ctx_fail(ctx, "data and indices need rank >= 1");
    int64_t k = ind->dims[q - 1];
    if (k < 1 || k > r) return onnx_ctx_fail(ctx, "index tuple length %lld invalid", (long long)k);
    /* updates shape = indices.shape[:-1] + data.shape[k:] */
    if (upd->ndim != q - 1 + r - (int)k) return onnx_ctx_fail(ctx, "updates rank mismatch");
    for (int i = 0; i < q - 1; i++)
        if (upd->dims[i] != ind->dims[i]) return onnx_ctx_fail(ctx, "updates shape mismatch");
    for (int i = (int)k; i < r; i++)
        if (upd->dims[q - 1 + i - k] != x->dims[i])
            return onnx_ctx_fail(ctx, "updates shape mismatch");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, x->dims);
    if (!y) return -1;
    if (onnx_tensor_numel(x) > 0) memcpy(y->data, x->data, onnx_tensor_nbytes(x));
    int64_t xs[ONNX_MAX_DIMS];
    onnx_tensor_strides(x, xs);
    int64_t tuples = onnx_tu_prod(ind->dims, 0, q - 1), blk = onnx_tu_prod(x->dims, (int)k, r);
    if (blk == 0) return 0;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; j++) {
            int64_t v = onnx_tensor_get_int(ind, t * k + j), d = x->dims[j];
            if (v < -d || v >= d)
                return onnx_ctx_fail(ctx, "index %lld out of range for dim %lld", (long long)v,
                                     (long long)d);
            off += (v < 0 ? v + d : v) * xs[j];
        }
        if (combine((char *)y->data + off * (int64_t)es,
                    (const char *)upd->data + t * blk * (int64_t)es, blk, x->dtype, mode, es) < 0)
            return onnx_ctx_fail(ctx, "reduction not supported for %s",
                                 inferd_dtype_name(x->dtype));
    }
    return 0;
}
