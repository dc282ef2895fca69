/* Private to the nn family: one float32 GEMM call for every operator, which runs our packed
 * GEMM (src/onnx/gemm) or OpenBLAS's sgemm by the rule in docs/onnx-runtime.md ("Our GEMM"),
 * on the session's threads. */
#ifndef ONNX_OPS_NN_GEMM_H
#define ONNX_OPS_NN_GEMM_H

#include "../gemm/gemm.h"
#include "../op.h"

/* Runs g (gemm.h's contract: C = act(alpha A B + biases + (accumulate ? C : 0))). Returns 0,
 * or -1 with the error set (ENOMEM for pack buffers, dims BLAS cannot take). */
int nn_gemm_f32(onnx_ctx *ctx, const onnx_gemm_args *g);

/* The same, on the calling thread only (for operators that split work over the pool
 * themselves and call this from its tasks). Returns 0 or -1 (ENOMEM); sets no error. */
int nn_gemm_f32_serial(const onnx_gemm_args *g);

#endif
