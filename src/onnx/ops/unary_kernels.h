/* Typed kernels of the unary operator family: a kernel maps n contiguous elements of one type
 * to n elements of the output type, with the node's attributes in un_param. */
#ifndef ONNX_OPS_UNARY_KERNELS_H
#define ONNX_OPS_UNARY_KERNELS_H

#include <stdint.h>

#include "../op.h"

/* gcc's -O2 cost model skips loops that need a runtime alias check, which is every kernel
 * here (out may alias an input); the dynamic model vectorises them. Clang does by default. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

typedef struct un_param {
    double alpha, beta, gamma; /* float attributes (meaning per operator) */
    int64_t ilo, ihi;          /* Clip bounds for integer types */
    uint64_t ulo, uhi;         /* Clip bounds for unsigned types */
    int flag_a, flag_b;        /* boolean attributes (IsInf detect_negative/positive) */
} un_param;

typedef void (*un_fn)(void *out, const void *in, int64_t n, const un_param *p);

typedef struct un_kernel {
    inferd_dtype dtype; /* input type */
    un_fn fn;
} un_kernel;

/* Runs input 0 through the kernel for its dtype in table (ended by {INVALID, NULL}) into
 * output 0 of the same shape, typed out_dtype (INFERD_DTYPE_INVALID = the input's type).
 * Returns 0, or -1 with the error set (missing input, unsupported type). */
int un_run(onnx_ctx *ctx, const un_kernel *table, inferd_dtype out_dtype,
           const un_param *p); /* unary_run.c */

/* NAME: o[i] = EXPR with x = in[i]; T names the input type inside EXPR. */
#define UN_KERNEL(NAME, TX, TO, EXPR)                                         \
    static void NAME(void *out, const void *in, int64_t n, const un_param *p) \
    {                                                                         \
        typedef TX T;                                                         \
        (void)p;                                                              \
        TO *o = out;                                                          \
        const T *a = in;                                                      \
        for (int64_t i = 0; i < n; i++) {                                     \
            T x = a[i];                                                       \
            o[i] = (TO)(EXPR);                                                \
        }                                                                     \
    }

/* Kernels NAME_f32 and NAME_f64 from one type-generic expression (use <tgmath.h>). */
#define UN_FLOAT_KERNELS(NAME, EXPR)          \
    UN_KERNEL(NAME##_f32, float, float, EXPR) \
    UN_KERNEL(NAME##_f64, double, double, EXPR)
#define UN_FLOAT_ENTRIES(NAME) {INFERD_DTYPE_FP32, NAME##_f32}, {INFERD_DTYPE_FP64, NAME##_f64},
#define UN_END                     \
    {                              \
        INFERD_DTYPE_INVALID, NULL \
    }

#endif
