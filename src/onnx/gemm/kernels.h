/* Private to src/onnx/gemm: the microkernel contract. A kernel computes one MR x NR tile
 *   C = alpha * A_panel * B_panel + (accumulate ? C : 0)
 * from kc x MR and kc x NR packed panels (gemm.h); C rows are ldc floats apart. Each kernel
 * lives in its own file compiled for its instruction set (CMakeLists.txt). */
#ifndef ONNX_GEMM_KERNELS_H
#define ONNX_GEMM_KERNELS_H

#include <stdint.h>

typedef void (*onnx_gemm_kernel_fn)(int64_t kc, const float *a, const float *b, float *c,
                                    int64_t ldc, float alpha, int accumulate);

typedef struct onnx_gemm_kernel_desc {
    const char *name;
    int mr, nr;
    onnx_gemm_kernel_fn fn;
} onnx_gemm_kernel_desc;

#define ONNX_GEMM_MAX_MR 16
#define ONNX_GEMM_MAX_NR 32

void onnx_gemm_kernel_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                              float alpha, int accumulate);
void onnx_gemm_kernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           float alpha, int accumulate);
void onnx_gemm_kernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                             float alpha, int accumulate);

/* The descriptor of kernel id (gemm.h's onnx_gemm_kernel_id), resolved AUTO included. */
const onnx_gemm_kernel_desc *onnx_gemm_kernel_desc_of(int id);

#endif
