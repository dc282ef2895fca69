/* Private to src/onnx/gemm: the few-row GEMM against a packed B (gemv.c), which the driver
 * runs for m <= ONNX_GEMM_GEMV_MAX_M instead of the microkernels (a padded MR-row tile would
 * compute MR / m times the work). */
#ifndef ONNX_GEMM_GEMV_H
#define ONNX_GEMM_GEMV_H

#include "gemm.h"
#include "kernels.h"

#define ONNX_GEMM_GEMV_MAX_M 4

/* C (g->m rows) = alpha * op(A) * B (+ C if g->accumulate) for B's panels p0 .. p1 (columns
 * p0 * NR up to n); g->pb must be set and fit, g->pa NULL. No bias or activation: the caller's
 * epilogue applies them. */
void onnx_gemm_gemv_packed(const onnx_gemm_args *g, int64_t p0, int64_t p1);

#endif
