/* Macros that stamp out typed row kernels (ew_row_fn) for the elementwise operators, and the
 * per-dtype kernel tables they are looked up in. A kernel body is one expression over x
 * (from input 0) and y (from input 1); the loop is specialised for the common stride patterns
 * (both contiguous, one broadcast scalar) so the compiler can vectorise it. */
#ifndef ONNX_OPS_EW_KERNELS_H
#define ONNX_OPS_EW_KERNELS_H

#include <stdint.h>

#include "ew_engine.h"

/* gcc's -O2 cost model skips loops that need a runtime alias check, which is every kernel
 * here (out may alias an input); the dynamic model vectorises them. Clang does by default. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

typedef struct ew_kernel {
    inferd_dtype dtype; /* the input type the kernel reads */
    ew_row_fn fn;
} ew_kernel;

/* The kernel for dtype in a table ending with {INFERD_DTYPE_INVALID, NULL}; NULL if none. */
static inline ew_row_fn ew_kernel_find(const ew_kernel *table, inferd_dtype dtype)
{
    for (; table->fn; table++)
        if (table->dtype == dtype) return table->fn;
    return NULL;
}

/* NAME(out, in, step, n, param): out[i] = EXPR with x = in0[i], y = in1[i]. */
#define EW_BINARY_KERNEL(NAME, TX, TY, TO, EXPR)                                       \
    static void NAME(void *out, const void *const *in, const int64_t *step, int64_t n, \
                     const void *param)                                                \
    {                                                                                  \
        (void)param;                                                                   \
        TO *o = out;                                                                   \
        const TX *a = in[0];                                                           \
        const TY *b = in[1];                                                           \
        if (step[0] == 1 && step[1] == 1) {                                            \
            for (int64_t i = 0; i < n; i++) {                                          \
                TX x = a[i];                                                           \
                TY y = b[i];                                                           \
                (void)x, (void)y, o[i] = (TO)(EXPR);                                   \
            }                                                                          \
        } else if (step[0] == 0 && step[1] == 1) {                                     \
            const TX x = a[0];                                                         \
            for (int64_t i = 0; i < n; i++) {                                          \
                TY y = b[i];                                                           \
                (void)x, (void)y, o[i] = (TO)(EXPR);                                   \
            }                                                                          \
        } else if (step[0] == 1 && step[1] == 0) {                                     \
            const TY y = b[0];                                                         \
            for (int64_t i = 0; i < n; i++) {                                          \
                TX x = a[i];                                                           \
                (void)x, (void)y, o[i] = (TO)(EXPR);                                   \
            }                                                                          \
        } else {                                                                       \
            for (int64_t i = 0; i < n; i++) {                                          \
                TX x = a[i * step[0]];                                                 \
                TY y = b[i * step[1]];                                                 \
                (void)x, (void)y, o[i] = (TO)(EXPR);                                   \
            }                                                                          \
        }                                                                              \
    }

/* Type lists: X(SUFFIX, T, W, DTYPE) where W is the type wrapping arithmetic is done in
 * (unsigned for integers, so overflow wraps instead of being undefined). */
#define EW_FLOAT_TYPES(X)                   \
    X(f32, float, float, INFERD_DTYPE_FP32) \
    X(f64, double, double, INFERD_DTYPE_FP64)
#define EW_SINT_TYPES(X)                          \
    X(i8, int8_t, uint32_t, INFERD_DTYPE_INT8)    \
    X(i16, int16_t, uint32_t, INFERD_DTYPE_INT16) \
    X(i32, int32_t, uint32_t, INFERD_DTYPE_INT32) \
    X(i64, int64_t, uint64_t, INFERD_DTYPE_INT64)
#define EW_UINT_TYPES(X)                            \
    X(u8, uint8_t, uint32_t, INFERD_DTYPE_UINT8)    \
    X(u16, uint16_t, uint32_t, INFERD_DTYPE_UINT16) \
    X(u32, uint32_t, uint32_t, INFERD_DTYPE_UINT32) \
    X(u64, uint64_t, uint64_t, INFERD_DTYPE_UINT64)
#define EW_NUM_TYPES(X) EW_FLOAT_TYPES(X) EW_SINT_TYPES(X) EW_UINT_TYPES(X)

#endif
