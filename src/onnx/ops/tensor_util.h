/* Private helpers shared by the tensor, shape and reduce operator families (src/onnx/ops/
 * tensor_*.c, shape_*.c, reduce_*.c): axis and index checking, reading shape inputs, typed
 * scalar loads/stores and the strided N-d copy most data-movement operators reduce to. */
#ifndef ONNX_OPS_TENSOR_UTIL_H
#define ONNX_OPS_TENSOR_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "../op.h"

/* Element size of t, or onnx_ctx_fail (returns 0) for types without a fixed size (BYTES). */
size_t onnx_tu_esize(onnx_ctx *ctx, const onnx_tensor *t);

/* Normalises axis into [0, rank) (negative counts from the end). Returns 0, or fails. */
int onnx_tu_axis(onnx_ctx *ctx, int64_t axis, int rank, int *out);

/* Normalises n axes in place into [0, rank) and rejects duplicates. Returns 0, or fails. */
int onnx_tu_axes(onnx_ctx *ctx, int64_t *axes, int n, int rank);

/* Reads a scalar or 1-D integer tensor of at most max elements into out (caller's array of
 * max values); *n gets the count. Fails on non-integer types or too many values. */
int onnx_tu_read_ints(onnx_ctx *ctx, const onnx_tensor *t, const char *what, int64_t *out, int max,
                      int *n);

/* Reads axes either from input `input` (when present) or from the ints attribute "axes".
 * *n = -1 when neither is given. Values are not yet normalised. */
int onnx_tu_axes_input_or_attr(onnx_ctx *ctx, int input, int64_t *out, int max, int *n);

/* a * b into *out; returns -1 (no fail message) if it overflows int64 or either is < 0. */
int onnx_tu_mul(int64_t a, int64_t b, int64_t *out);

/* Reshape's target shape dims[0..n) resolved in place against an input of in_dims (in_rank
 * dims, numel elements): 0 copies the input's dim (unless allowzero), one -1 is inferred.
 * Returns 0, or -1 with the error set when the shape cannot hold numel elements. */
int onnx_tu_reshape_dims(onnx_ctx *ctx, const int64_t *in_dims, int in_rank, int64_t numel,
                         int allowzero, int64_t *dims, int n);

/* Product of dims[lo..hi) (dims are already validated, so no overflow). */
int64_t onnx_tu_prod(const int64_t *dims, int lo, int hi);

/* Copies output elements dst[i] = src[offset + sum_k c_k * strides[k]] in row-major order
 * of dims (ndim may be 0: one element). Strides may be 0 or negative; the caller guarantees
 * every source position is inside src. es is the element size (1, 2, 4, 8 or any). */
void onnx_tu_copy_strided(void *dst, const void *src, int ndim, const int64_t *dims,
                          const int64_t *strides, int64_t offset, size_t es);

/* Element i of t as double / store a double into element i of a tensor of dtype (rounded
 * toward zero for integer types, saturating; bool is v != 0). */
double onnx_tu_load(const void *data, inferd_dtype dtype, int64_t i);
void onnx_tu_store(void *data, inferd_dtype dtype, int64_t i, double v);

/* 1 if dtype is FP32, FP64, FP16 or BF16. */
int onnx_tu_is_float(inferd_dtype dtype);

/* Copies src into a new output 0 of the same type with the given shape (numel must match). */
int onnx_tu_output_copy(onnx_ctx *ctx, const onnx_tensor *src, int ndim, const int64_t *dims);

#endif
