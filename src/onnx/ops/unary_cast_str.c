/* Cast to and from string tensors. Numbers become their shortest decimal form that reads
 * back to the same value ("%.*g" with the fewest digits that round-trip: 0.039187793 for
 * that float32, as NumPy and ONNX Runtime print it); strings are parsed with strtod/strtoll
 * in the C locale (leading/trailing spaces allowed, "inf" and "nan" accepted). Bool is not
 * implemented either way. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/half.h"
#include "inferd/unaligned.h"
#include "unary_ops.h"

#define STR_NUM_MAX 64 /* longest number text accepted or written */

static int is_numeric(inferd_dtype t)
{
    return t != INFERD_DTYPE_BOOL && t != INFERD_DTYPE_BYTES && inferd_dtype_size(t) != 0;
}

/* Element i of a numeric tensor as text; returns its length. */
static int num_format(const onnx_tensor *x, int64_t i, char *buf)
{
    switch (x->dtype) {
    case INFERD_DTYPE_FP64: {
        const double v = inferd_load_f64(x->data, i);
        int n = 0;
        for (int p = 1; p <= 17; p++)
            if ((n = snprintf(buf, STR_NUM_MAX, "%.*g", p, v)) > 0 && strtod(buf, NULL) == v) break;
        return n;
    }
    case INFERD_DTYPE_FP32:
    case INFERD_DTYPE_FP16:
    case INFERD_DTYPE_BF16: {
        const float v = (float)onnx_tensor_get_double(x, i);
        int n = 0;
        for (int p = 1; p <= 9; p++)
            if ((n = snprintf(buf, STR_NUM_MAX, "%.*g", p, (double)v)) > 0 &&
                strtof(buf, NULL) == v)
                break;
        return n;
    }
    case INFERD_DTYPE_UINT64:
        return snprintf(buf, STR_NUM_MAX, "%llu", (unsigned long long)inferd_load_u64(x->data, i));
    default: return snprintf(buf, STR_NUM_MAX, "%lld", (long long)onnx_tensor_get_int(x, i));
    }
}

static int cast_to_strings(onnx_ctx *ctx, const onnx_tensor *x)
{
    const int64_t n = onnx_tensor_numel(x);
    char buf[STR_NUM_MAX];
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) total += 4 + (size_t)num_format(x, i, buf);
    onnx_tensor *y = onnx_ctx_output_strings(ctx, 0, x->ndim, x->dims, total);
    if (!y) return -1;
    char *p = y->data;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t len = (uint32_t)num_format(x, i, buf);
        inferd_store_u32(p, 0, len);
        memcpy(p + 4, buf, len);
        p += 4 + len;
    }
    return 0;
}

static void store_parsed(onnx_tensor *y, int64_t i, double d, long long v, unsigned long long u)
{
    switch (y->dtype) {
    case INFERD_DTYPE_FP64: inferd_store_f64(y->data, i, d); break;
    case INFERD_DTYPE_FP32: inferd_store_f32(y->data, i, (float)d); break;
    case INFERD_DTYPE_FP16: inferd_store_u16(y->data, i, inferd_float_to_half((float)d)); break;
    case INFERD_DTYPE_BF16: inferd_store_u16(y->data, i, inferd_float_to_bf16((float)d)); break;
    case INFERD_DTYPE_INT8: ((int8_t *)y->data)[i] = (int8_t)v; break;
    case INFERD_DTYPE_UINT8: ((uint8_t *)y->data)[i] = (uint8_t)u; break;
    case INFERD_DTYPE_INT16: inferd_store_i16(y->data, i, (int16_t)v); break;
    case INFERD_DTYPE_UINT16: inferd_store_u16(y->data, i, (uint16_t)u); break;
    case INFERD_DTYPE_INT32: inferd_store_i32(y->data, i, (int32_t)v); break;
    case INFERD_DTYPE_UINT32: inferd_store_u32(y->data, i, (uint32_t)u); break;
    case INFERD_DTYPE_INT64: inferd_store_i64(y->data, i, (int64_t)v); break;
    case INFERD_DTYPE_UINT64: inferd_store_u64(y->data, i, (uint64_t)u); break;
    default: break;
    }
}

static int cast_from_strings(onnx_ctx *ctx, const onnx_tensor *x, inferd_dtype to)
{
    onnx_tensor *y = onnx_ctx_output(ctx, 0, to, x->ndim, x->dims);
    if (!y) return -1;
    const int64_t n = onnx_tensor_numel(x);
    const int is_float = to == INFERD_DTYPE_FP32 || to == INFERD_DTYPE_FP64 ||
                         to == INFERD_DTYPE_FP16 || to == INFERD_DTYPE_BF16;
    const char *p = x->data;
    for (int64_t i = 0; i < n; i++) {
        const uint32_t len = inferd_load_u32(p, 0);
        char buf[STR_NUM_MAX];
        if (len >= sizeof buf)
            return onnx_ctx_fail(ctx, "element %lld: %u bytes is too long for a number",
                                 (long long)i, len);
        memcpy(buf, p + 4, len);
        buf[len] = 0;
        p += 4 + len;
        char *end;
        double d = 0;
        long long v = 0;
        unsigned long long u = 0;
        errno = 0;
        if (is_float) d = strtod(buf, &end);
        else if (to == INFERD_DTYPE_UINT64) u = strtoull(buf, &end, 10);
        else u = (unsigned long long)(v = strtoll(buf, &end, 10));
        while (*end == ' ' || *end == '\t') end++;
        if (end == buf || *end)
            return onnx_ctx_fail(ctx, "element %lld: '%s' is not a number", (long long)i, buf);
        store_parsed(y, i, d, v, u);
    }
    return 0;
}

int un_cast_strings(onnx_ctx *ctx, const onnx_tensor *x, inferd_dtype to)
{
    if (x->dtype == INFERD_DTYPE_BYTES && to == INFERD_DTYPE_BYTES)
        return onnx_ctx_alias_output(ctx, 0, 0, x->ndim, x->dims) ? 0 : -1;
    if (to == INFERD_DTYPE_BYTES && is_numeric(x->dtype)) return cast_to_strings(ctx, x);
    if (x->dtype == INFERD_DTYPE_BYTES && is_numeric(to)) return cast_from_strings(ctx, x, to);
    return onnx_ctx_unsupported(ctx, "cast from %s to %s not supported",
                                inferd_dtype_name(x->dtype), inferd_dtype_name(to));
}
