/* The broadcast loop shared by the elementwise operators: walks the output of up to
 * EW_MAX_INPUTS broadcast inputs one contiguous row at a time and calls a typed row kernel. */
#ifndef ONNX_OPS_EW_ENGINE_H
#define ONNX_OPS_EW_ENGINE_H

#include <stdint.h>

#include "../op.h"

#define EW_MAX_INPUTS 3

/* A row kernel: out[i] = f(in[0][i * step[0]], in[1][i * step[1]], ...) for i in [0, n).
 * out is contiguous; step[k] is the element stride of input k along the row (0 or 1 in
 * practice: 0 = the input is broadcast along the row). out may equal in[0] when step[0] is 1
 * (in-place accumulation), so kernels must not use restrict on out. param is the caller's. */
typedef void (*ew_row_fn)(void *out, const void *const *in, const int64_t *step, int64_t n,
                          const void *param);

/* Checks that the n inputs broadcast, allocates output 0 of type out_dtype with the broadcast
 * shape and fills it with fn. FP16 inputs are given to fn as FP32, and an FP16 output is
 * produced from fn's FP32 results (so pass the FP32 kernel for FP16 operands). Returns 0,
 * or -1 with the error set on ctx. *out_ret (optional) receives the output tensor (owned by
 * the executor). The output must not alias an input (the executor never does that). */
int ew_broadcast_run(onnx_ctx *ctx, int n, const onnx_tensor *const *in, inferd_dtype out_dtype,
                     ew_row_fn fn, const void *param, onnx_tensor **out_ret);

/* Fills out (already allocated, every input broadcasting to its shape) with fn. in[k] may be
 * out itself (then step is 1 along every row). Returns 0, or -1 if some input does not
 * broadcast to out's shape (no error is set: the caller reports it). */
int ew_broadcast_fill(onnx_tensor *out, int n, const onnx_tensor *const *in, ew_row_fn fn,
                      const void *param);
/* The same on the threads of pool (NULL: the caller's only) when the output is large enough
 * (onnx_tpool_tasks): tasks own 64-element-aligned ranges of the output in row order, so fn
 * must compute each element on its own (every row kernel does); the results are those of one
 * thread. ew_broadcast_run uses the session's pool. */
struct onnx_tpool;
int ew_broadcast_fill_on(struct onnx_tpool *pool, onnx_tensor *out, int n,
                         const onnx_tensor *const *in, ew_row_fn fn, const void *param);

/* float16 support: operators compute FP16 in float32. ew_half_to_float copies t (FP16) into
 * *tmp as an FP32 tensor whose data lives in scratch memory; returns 0 or -1 (error set).
 * ew_float_to_half_store converts n floats to FP16 bit patterns. */
int ew_half_to_float(onnx_ctx *ctx, const onnx_tensor *t, onnx_tensor *tmp);
void ew_float_to_half_store(uint16_t *dst, const float *src, size_t n);

/* Writes "[2,3,4]" into buf. */
void ew_shape_str(const onnx_tensor *t, char *buf, size_t len);

/* Fails with "missing input k" if one of the first n inputs is absent, or "input k is <T>,
 * expected <T>" unless all have the same dtype. Returns 0 or -1. */
int ew_check_inputs_same_type(onnx_ctx *ctx, int n);

#endif
