/* Private to MatMul (matmul.c, matmul_cfirst.c): the channels-first product (fuse_cfirst.c). */
#ifndef ONNX_OPS_MATMUL_CFIRST_H
#define ONNX_OPS_MATMUL_CFIRST_H

#include "../gemm/gemm.h"
#include "../op.h"

/* perm = [0, r-1, 1, ..., r-2] with r >= 3: the last axis moved to axis 1. */
int nn_matmul_is_cfirst_perm(const int64_t *perm, int r);

/* perm = [0, 2, ..., r-1, 1] with r >= 3: axis 1 moved last (channels-first seen as last). */
int nn_matmul_is_clast_perm(const int64_t *perm, int r);

/* Z = Transpose(act(alpha X B + bias (+ Z if accumulate)), [0, r-1, 1, ..., r-2]) for a
 * contiguous X (rank r >= 3, last dim K) and B (K x c) packed at load as B^T, the GEMM's A
 * (onnx_gemm_pack_a(B, trans 1, c, K, c)); bias is c floats or NULL; z holds the
 * channels-first result (caller's buffer). x_cfirst: X is given channels-first ([N, K, ...],
 * the MatMul reading it through perm_a = [0, 2, ..., r-1, 1]). Returns 0, or -1 with the
 * error set. */
int nn_matmul_cfirst(onnx_ctx *ctx, const onnx_gemm_packed *bt, int64_t c, const onnx_tensor *x,
                     int x_cfirst, const float *bias, float alpha, const onnx_activation *act,
                     float *z, int accumulate);

#endif
