/* Private helpers for the tensor/shape/reduce operator families: checked axes and shape
 * inputs, typed scalar access and the strided N-d copy. See tensor_util.h. */
#include "tensor_util.h"

#include "inferd/half.h"
#include "inferd/unaligned.h"

#include <math.h>
#include <string.h>

size_t onnx_tu_esize(onnx_ctx *ctx, const onnx_tensor *t)
{
    size_t es = inferd_dtype_size(t->dtype);
    if (es == 0) onnx_ctx_fail(ctx, "element type %s not supported", inferd_dtype_name(t->dtype));
    return es;
}

int onnx_tu_axis(onnx_ctx *ctx, int64_t axis, int rank, int *out)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return onnx_ctx_fail(ctx, "axis %lld out of range for rank %d", (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

int onnx_tu_axes(onnx_ctx *ctx, int64_t *axes, int n, int rank)
{
    unsigned seen = 0;
    for (int i = 0; i < n; i++) {
        int a = 0;
        if (onnx_tu_axis(ctx, axes[i], rank, &a) < 0) return -1;
        if (seen & (1u << a)) return onnx_ctx_fail(ctx, "axis %d repeated", a);
        seen |= 1u << a;
        axes[i] = a;
    }
    return 0;
}

static int is_int_type(inferd_dtype d)
{
    switch (d) {
    case INFERD_DTYPE_INT8:
    case INFERD_DTYPE_INT16:
    case INFERD_DTYPE_INT32:
    case INFERD_DTYPE_INT64:
    case INFERD_DTYPE_UINT8:
    case INFERD_DTYPE_UINT16:
    case INFERD_DTYPE_UINT32:
    case INFERD_DTYPE_UINT64:
    case INFERD_DTYPE_BOOL: return 1;
    default: return 0;
    }
}

int onnx_tu_read_ints(onnx_ctx *ctx, const onnx_tensor *t, const char *what, int64_t *out, int max,
                      int *n)
{
    if (!is_int_type(t->dtype))
        return onnx_ctx_fail(ctx, "%s must be an integer tensor, got %s", what,
                             inferd_dtype_name(t->dtype));
    if (t->ndim > 1) return onnx_ctx_fail(ctx, "%s must be 1-D, got rank %d", what, t->ndim);
    int64_t cnt = onnx_tensor_numel(t);
    if (cnt > max)
        return onnx_ctx_fail(ctx, "%s has %lld values, at most %d allowed", what, (long long)cnt,
                             max);
    for (int64_t i = 0; i < cnt; i++) out[i] = onnx_tensor_get_int(t, i);
    *n = (int)cnt;
    return 0;
}

int onnx_tu_axes_input_or_attr(onnx_ctx *ctx, int input, int64_t *out, int max, int *n)
{
    const onnx_tensor *t = onnx_ctx_input(ctx, input);
    if (t) return onnx_tu_read_ints(ctx, t, "axes", out, max, n);
    const int64_t *ints;
    int cnt = onnx_attr_ints(onnx_ctx_node(ctx), "axes", &ints);
    if (cnt < 0) {
        *n = -1;
        return 0;
    }
    if (cnt > max) return onnx_ctx_fail(ctx, "%d axes, at most %d allowed", cnt, max);
    for (int i = 0; i < cnt; i++) out[i] = ints[i];
    *n = cnt;
    return 0;
}

int onnx_tu_mul(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return -1;
    if (__builtin_mul_overflow(a, b, out)) return -1;
    return 0;
}

int64_t onnx_tu_prod(const int64_t *dims, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++) p *= dims[i];
    return p;
}

/* Innermost row: n elements at source stride s (elements). */
static void copy_row(char *dst, const char *src, int64_t n, int64_t s, size_t es)
{
    if (s == 1) {
        memcpy(dst, src, (size_t)n * es);
        return;
    }
    switch (es) {
    case 1:
        for (int64_t i = 0; i < n; i++) dst[i] = src[i * s];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++) memcpy(dst + 2 * i, src + 2 * i * s, 2);
        break;
    case 4: {
        uint32_t *d = (uint32_t *)(void *)dst;
        for (int64_t i = 0; i < n; i++) memcpy(&d[i], src + 4 * i * s, 4);
        break;
    }
    case 8: {
        uint64_t *d = (uint64_t *)(void *)dst;
        for (int64_t i = 0; i < n; i++) memcpy(&d[i], src + 8 * i * s, 8);
        break;
    }
    default:
        for (int64_t i = 0; i < n; i++) memcpy(dst + (size_t)i * es, src + (int64_t)es * i * s, es);
    }
}

void onnx_tu_copy_strided(void *dst, const void *src, int ndim, const int64_t *dims,
                          const int64_t *strides, int64_t offset, size_t es)
{
    char *d = dst;
    const char *s = (const char *)src;
    if (ndim == 0) {
        memcpy(d, s + offset * (int64_t)es, es);
        return;
    }
    for (int k = 0; k < ndim; k++)
        if (dims[k] == 0) return;
    /* dims of 1 dropped, and a dim whose stride spans the next one whole merged with it: fewer,
     * longer rows (a Slice of a row's columns copies each row's run in one call, not one call
     * per innermost vector) */
    int64_t md[ONNX_MAX_DIMS], ms[ONNX_MAX_DIMS];
    int r = 0;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] == 1) continue;
        if (r > 0 && ms[r - 1] == strides[k] * dims[k]) {
            md[r - 1] *= dims[k];
            ms[r - 1] = strides[k];
            continue;
        }
        md[r] = dims[k];
        ms[r++] = strides[k];
    }
    if (r == 0) {
        md[0] = ms[0] = 1;
        r = 1;
    }
    int64_t idx[ONNX_MAX_DIMS] = {0};
    int64_t pos = offset;
    int64_t n = md[r - 1], st = ms[r - 1];
    for (;;) {
        copy_row(d, s + pos * (int64_t)es, n, st, es);
        d += (size_t)n * es;
        int k = r - 2;
        for (; k >= 0; k--) {
            pos += ms[k];
            if (++idx[k] < md[k]) break;
            pos -= ms[k] * md[k];
            idx[k] = 0;
        }
        if (k < 0) return;
    }
}

double onnx_tu_load(const void *data, inferd_dtype dtype, int64_t i)
{
    const char *p = data;
    switch (dtype) {
    case INFERD_DTYPE_FP32: return inferd_load_f32(p, i);
    case INFERD_DTYPE_FP64: return inferd_load_f64(p, i);
    case INFERD_DTYPE_FP16: return inferd_half_to_float(inferd_load_u16(p, i));
    case INFERD_DTYPE_BF16: return inferd_bf16_to_float(inferd_load_u16(p, i));
    case INFERD_DTYPE_INT8: return ((const int8_t *)p)[i];
    case INFERD_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case INFERD_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    case INFERD_DTYPE_INT16: return inferd_load_i16(p, i);
    case INFERD_DTYPE_UINT16: return inferd_load_u16(p, i);
    case INFERD_DTYPE_INT32: return inferd_load_i32(p, i);
    case INFERD_DTYPE_UINT32: return inferd_load_u32(p, i);
    case INFERD_DTYPE_INT64: return (double)inferd_load_i64(p, i);
    case INFERD_DTYPE_UINT64: return (double)inferd_load_u64(p, i);
    default: return 0;
    }
}

static double clampd(double v, double lo, double hi)
{
    if (isnan(v)) return 0;
    return v < lo ? lo : v > hi ? hi : v;
}

void onnx_tu_store(void *data, inferd_dtype dtype, int64_t i, double v)
{
    char *p = data;
    switch (dtype) {
    case INFERD_DTYPE_FP32: inferd_store_f32(p, i, (float)v); break;
    case INFERD_DTYPE_FP64: inferd_store_f64(p, i, v); break;
    case INFERD_DTYPE_FP16: inferd_store_u16(p, i, inferd_float_to_half((float)v)); break;
    case INFERD_DTYPE_BF16: inferd_store_u16(p, i, inferd_float_to_bf16((float)v)); break;
    case INFERD_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)clampd(v, INT8_MIN, INT8_MAX); break;
    case INFERD_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)clampd(v, 0, UINT8_MAX); break;
    case INFERD_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case INFERD_DTYPE_INT16:
        inferd_store_i16(p, i, (int16_t)clampd(v, INT16_MIN, INT16_MAX));
        break;
    case INFERD_DTYPE_UINT16: inferd_store_u16(p, i, (uint16_t)clampd(v, 0, UINT16_MAX)); break;
    case INFERD_DTYPE_INT32:
        inferd_store_i32(p, i, (int32_t)clampd(v, INT32_MIN, INT32_MAX));
        break;
    case INFERD_DTYPE_UINT32: inferd_store_u32(p, i, (uint32_t)clampd(v, 0, UINT32_MAX)); break;
    case INFERD_DTYPE_INT64:
        inferd_store_i64(p, i, (int64_t)clampd(v, -9223372036854775808.0, 9223372036854774784.0));
        break;
    case INFERD_DTYPE_UINT64:
        inferd_store_u64(p, i, (uint64_t)clampd(v, 0, 18446744073709549568.0));
        break;
    default: break;
    }
}

int onnx_tu_is_float(inferd_dtype d)
{
    return d == INFERD_DTYPE_FP32 || d == INFERD_DTYPE_FP64 || d == INFERD_DTYPE_FP16 ||
           d == INFERD_DTYPE_BF16;
}

int onnx_tu_output_copy(onnx_ctx *ctx, const onnx_tensor *src, int ndim, const int64_t *dims)
{
    size_t es = onnx_tu_esize(ctx, src);
    if (!es) return -1;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, src->dtype, ndim, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) != onnx_tensor_numel(src))
        return onnx_ctx_fail(ctx, "internal: element count mismatch");
    if (onnx_tensor_numel(y) > 0) memcpy(y->data, src->data, onnx_tensor_nbytes(y));
    return 0;
}

int onnx_tu_reshape_dims(onnx_ctx *ctx, const int64_t *in_dims, int in_rank, int64_t numel,
                         int allowzero, int64_t *dims, int n)
{
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < n; i++) {
        if (dims[i] == -1) {
            if (infer >= 0) return onnx_ctx_fail(ctx, "more than one -1 in shape");
            infer = i;
            continue;
        }
        if (dims[i] == 0 && !allowzero) {
            if (i >= in_rank) return onnx_ctx_fail(ctx, "shape[%d] = 0 copies a missing dim", i);
            dims[i] = in_dims[i];
        }
        if (dims[i] < 0) return onnx_ctx_fail(ctx, "negative dim %lld", (long long)dims[i]);
        if (onnx_tu_mul(known, dims[i], &known) < 0) return onnx_ctx_fail(ctx, "shape too large");
    }
    if (infer >= 0) {
        if (known == 0 || numel % known != 0)
            return onnx_ctx_fail(ctx, "cannot infer -1: %lld elements into blocks of %lld",
                                 (long long)numel, (long long)known);
        dims[infer] = numel / known;
    } else if (known != numel) {
        return onnx_ctx_fail(ctx, "shape has %lld elements, input has %lld", (long long)known,
                             (long long)numel);
    }
    return 0;
}
