/* Cast and CastLike between every numeric type, bool, float16 and bfloat16 (strings:
 * unary_cast_str.c). Values go through a wide intermediate per chunk: double for float sources,
 * int64/uint64 for integer sources; float-to-integer conversion saturates to int64 and then
 * wraps to the narrow type, so out-of-range input never hits undefined behaviour. */
#include "unary_ops.h"

#include <math.h>
#include <string.h>

#include "inferd/half.h"

#define UN_CAST_CHUNK 256

typedef enum { UN_WIDE_DOUBLE, UN_WIDE_INT, UN_WIDE_UINT } un_wide_kind;

typedef struct {
    un_wide_kind kind;
    union {
        double d[UN_CAST_CHUNK];
        int64_t i[UN_CAST_CHUNK];
        uint64_t u[UN_CAST_CHUNK];
    } v;
} un_wide;

static int un_cast_supported(inferd_dtype t)
{
    switch (t) {
    case INFERD_DTYPE_FP32:
    case INFERD_DTYPE_FP64:
    case INFERD_DTYPE_FP16:
    case INFERD_DTYPE_BF16:
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

/* Loads n (<= UN_CAST_CHUNK) elements of type t from src into w. */
static void un_cast_load(un_wide *w, inferd_dtype t, const void *src, size_t n)
{
#define UN_LOAD(KIND, FIELD, T, EXPR)                          \
    do {                                                       \
        const T *s = src;                                      \
        w->kind = KIND;                                        \
        for (size_t k = 0; k < n; k++) w->v.FIELD[k] = (EXPR); \
    } while (0)
    switch (t) {
    case INFERD_DTYPE_FP32: UN_LOAD(UN_WIDE_DOUBLE, d, float, s[k]); break;
    case INFERD_DTYPE_FP64: UN_LOAD(UN_WIDE_DOUBLE, d, double, s[k]); break;
    case INFERD_DTYPE_FP16: UN_LOAD(UN_WIDE_DOUBLE, d, uint16_t, inferd_half_to_float(s[k])); break;
    case INFERD_DTYPE_BF16: UN_LOAD(UN_WIDE_DOUBLE, d, uint16_t, inferd_bf16_to_float(s[k])); break;
    case INFERD_DTYPE_INT8: UN_LOAD(UN_WIDE_INT, i, int8_t, s[k]); break;
    case INFERD_DTYPE_INT16: UN_LOAD(UN_WIDE_INT, i, int16_t, s[k]); break;
    case INFERD_DTYPE_INT32: UN_LOAD(UN_WIDE_INT, i, int32_t, s[k]); break;
    case INFERD_DTYPE_INT64: UN_LOAD(UN_WIDE_INT, i, int64_t, s[k]); break;
    case INFERD_DTYPE_UINT8: UN_LOAD(UN_WIDE_UINT, u, uint8_t, s[k]); break;
    case INFERD_DTYPE_UINT16: UN_LOAD(UN_WIDE_UINT, u, uint16_t, s[k]); break;
    case INFERD_DTYPE_UINT32: UN_LOAD(UN_WIDE_UINT, u, uint32_t, s[k]); break;
    case INFERD_DTYPE_UINT64: UN_LOAD(UN_WIDE_UINT, u, uint64_t, s[k]); break;
    case INFERD_DTYPE_BOOL: UN_LOAD(UN_WIDE_UINT, u, uint8_t, s[k] != 0); break;
    default: break; /* excluded by un_cast_supported */
    }
#undef UN_LOAD
}

/* Truncates toward zero, saturating at the int64 range; NaN gives 0. */
static inline int64_t un_double_to_i64(double d)
{
    if (d != d) return 0;
    if (d >= 9.2233720368547758e18) return INT64_MAX;
    if (d <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)d;
}

static inline uint64_t un_double_to_u64(double d)
{
    if (d >= 1.8446744073709552e19) return UINT64_MAX;
    if (d >= 9.2233720368547758e18) return (uint64_t)d;
    return (uint64_t)un_double_to_i64(d); /* negatives wrap, as in C integer conversion */
}

/* Stores the n wide values of w into dst as type t. */
static void un_cast_store(const un_wide *w, inferd_dtype t, void *dst, size_t n)
{
    /* VALUE(k) is element k of w as a C value of the wide kind */
#define UN_STORE_ALL(T, FROM_D, FROM_I, FROM_U) \
    do {                                        \
        T *o = dst;                             \
        if (w->kind == UN_WIDE_DOUBLE) {        \
            for (size_t k = 0; k < n; k++) {    \
                double v = w->v.d[k];           \
                o[k] = (T)(FROM_D);             \
            }                                   \
        } else if (w->kind == UN_WIDE_INT) {    \
            for (size_t k = 0; k < n; k++) {    \
                int64_t v = w->v.i[k];          \
                o[k] = (T)(FROM_I);             \
            }                                   \
        } else {                                \
            for (size_t k = 0; k < n; k++) {    \
                uint64_t v = w->v.u[k];         \
                o[k] = (T)(FROM_U);             \
            }                                   \
        }                                       \
    } while (0)
#define UN_STORE_SINT(T) UN_STORE_ALL(T, un_double_to_i64(v), v, v)
#define UN_STORE_UINT(T) UN_STORE_ALL(T, un_double_to_u64(v), (uint64_t)v, v)
    switch (t) {
    case INFERD_DTYPE_FP32: UN_STORE_ALL(float, v, v, v); break;
    case INFERD_DTYPE_FP64: UN_STORE_ALL(double, v, v, v); break;
    case INFERD_DTYPE_FP16:
        UN_STORE_ALL(uint16_t, inferd_float_to_half((float)v), inferd_float_to_half((float)v),
                     inferd_float_to_half((float)v));
        break;
    case INFERD_DTYPE_BF16:
        UN_STORE_ALL(uint16_t, inferd_float_to_bf16_truncate((float)v),
                     inferd_float_to_bf16_truncate((float)v),
                     inferd_float_to_bf16_truncate((float)v));
        break;
    case INFERD_DTYPE_INT8: UN_STORE_SINT(int8_t); break;
    case INFERD_DTYPE_INT16: UN_STORE_SINT(int16_t); break;
    case INFERD_DTYPE_INT32: UN_STORE_SINT(int32_t); break;
    case INFERD_DTYPE_INT64: UN_STORE_SINT(int64_t); break;
    case INFERD_DTYPE_UINT8: UN_STORE_UINT(uint8_t); break;
    case INFERD_DTYPE_UINT16: UN_STORE_UINT(uint16_t); break;
    case INFERD_DTYPE_UINT32: UN_STORE_UINT(uint32_t); break;
    case INFERD_DTYPE_UINT64: UN_STORE_UINT(uint64_t); break;
    case INFERD_DTYPE_BOOL: UN_STORE_ALL(uint8_t, v != 0, v != 0, v != 0); break;
    default: break;
    }
#undef UN_STORE_SINT
#undef UN_STORE_UINT
#undef UN_STORE_ALL
}

static int un_cast_to(onnx_ctx *ctx, inferd_dtype to)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input 0");
    if (x->dtype == INFERD_DTYPE_BYTES || to == INFERD_DTYPE_BYTES)
        return un_cast_strings(ctx, x, to);
    if (!un_cast_supported(x->dtype) || !un_cast_supported(to))
        return onnx_ctx_unsupported(ctx, "cast from %s to %s not supported",
                                    inferd_dtype_name(x->dtype), inferd_dtype_name(to));
    onnx_tensor *y = onnx_ctx_output(ctx, 0, to, x->ndim, x->dims);
    if (!y) return -1;
    size_t total = (size_t)onnx_tensor_numel(x);
    if (total == 0) return 0;
    size_t in_es = inferd_dtype_size(x->dtype), out_es = inferd_dtype_size(to);
    if (x->dtype == to) {
        if (y->data != x->data) memcpy(y->data, x->data, total * in_es);
        return 0;
    }
    un_wide *w = onnx_ctx_scratch(ctx, sizeof *w);
    if (!w) return -1;
    for (size_t done = 0; done < total; done += UN_CAST_CHUNK) {
        size_t n = total - done < UN_CAST_CHUNK ? total - done : UN_CAST_CHUNK;
        un_cast_load(w, x->dtype, (const char *)x->data + done * in_es, n);
        un_cast_store(w, to, (char *)y->data + done * out_es, n);
    }
    return 0;
}

/* Cast-1 names the target type with a TensorProto.DataType name string. */
static inferd_dtype un_cast_type_from_name(const char *s)
{
    static const struct {
        const char *name;
        inferd_dtype t;
    } names[] = {
        {"FLOAT", INFERD_DTYPE_FP32},    {"DOUBLE", INFERD_DTYPE_FP64},
        {"FLOAT16", INFERD_DTYPE_FP16},  {"BFLOAT16", INFERD_DTYPE_BF16},
        {"INT8", INFERD_DTYPE_INT8},     {"INT16", INFERD_DTYPE_INT16},
        {"INT32", INFERD_DTYPE_INT32},   {"INT64", INFERD_DTYPE_INT64},
        {"UINT8", INFERD_DTYPE_UINT8},   {"UINT16", INFERD_DTYPE_UINT16},
        {"UINT32", INFERD_DTYPE_UINT32}, {"UINT64", INFERD_DTYPE_UINT64},
        {"BOOL", INFERD_DTYPE_BOOL},     {"STRING", INFERD_DTYPE_BYTES},
    };
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        if (strcmp(s, names[k].name) == 0) return names[k].t;
    return INFERD_DTYPE_INVALID;
}

int un_run_cast(onnx_ctx *ctx)
{
    const onnx_attr *to = onnx_node_attr(onnx_ctx_node(ctx), "to");
    if (to && to->type == ONNX_ATTR_STRING && to->s) {
        inferd_dtype t = un_cast_type_from_name(to->s);
        if (t == INFERD_DTYPE_INVALID)
            return onnx_ctx_unsupported(ctx, "unknown target type '%s'", to->s);
        return un_cast_to(ctx, t);
    }
    if (!to || to->type != ONNX_ATTR_INT) return onnx_ctx_fail(ctx, "missing int attribute 'to'");
    if (!inferd_dtype_is_valid((int)to->i) || to->i != (int)to->i)
        return onnx_ctx_unsupported(ctx, "unknown target type %lld", (long long)to->i);
    return un_cast_to(ctx, (inferd_dtype)to->i);
}

int un_run_cast_like(onnx_ctx *ctx)
{
    const onnx_tensor *like = onnx_ctx_input(ctx, 1);
    if (!like) return onnx_ctx_fail(ctx, "missing input 1 (target_type)");
    return un_cast_to(ctx, like->dtype);
}
