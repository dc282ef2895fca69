/* Private to src/onnx/gemm: the GEMM of a packed A (a Conv's weights) by a short plain B (a
 * 1x1 Conv's input of few positions: 7x7 = 49, 14x14 = 196), its output tile kept in registers
 * across all of K (narrow.c decides and splits, narrow_avx512.c computes). The usual driver
 * pads the columns to 32-wide panels (49 -> 64) and stores C at every 256-long K block; this
 * path covers the columns with strips of three 16-float vectors (the last masked) and runs the
 * last < 8 columns as 8-row vectors, one multiply-add per column and k. */
#ifndef ONNX_GEMM_NARROW_H
#define ONNX_GEMM_NARROW_H

#include "gemm.h"
#include "kernels.h"

/* Widest B (columns) the path takes: above it the driver's cache blocks pay (gemm_bench,
 * one thread: 49 columns 150-160 -> 171-182 GFLOP/s, 196 even to +10 %, 784 even, 3136 and
 * 12544 10-25 % slower). */
#define ONNX_GEMM_NARROW_MAX_N 256

/* Whether onnx_gemm_narrow_run computes g: A packed for the AVX-512 kernel, B plain and not
 * transposed, alpha 1, n <= ONNX_GEMM_NARROW_MAX_N columns. */
int onnx_gemm_narrow_fits(const onnx_gemm_args *g);

/* Computes g (onnx_gemm_narrow_fits) on pool's threads (NULL: the caller's), row panels
 * split between tasks. */
void onnx_gemm_narrow_run(const onnx_gemm_args *g, onnx_tpool *pool);

/* Row panels p0 .. p1 (8 rows each) of g: C = clamp(A * B + (accumulate ? C : 0) + biases)
 * then epi->act in registers (epi's bias pointers unused: g's are read). Activations the
 * kernel does not fuse are the caller's. AVX-512 only (onnx_gemm_act_avx512_ok). */
void onnx_gemm_narrow_avx512(const onnx_gemm_args *g, const onnx_gemm_epi *epi, int64_t p0,
                             int64_t p1);

#endif
