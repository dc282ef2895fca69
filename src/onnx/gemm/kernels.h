/* Private to src/onnx/gemm: the microkernel contract. A kernel computes one MR x NR tile
 *   C = clamp(alpha * A_panel * B_panel + (accumulate ? C : 0) + biases)   (epi, if given)
 * from kc x MR and kc x NR packed panels (gemm.h); C rows are ldc floats apart. Each kernel
 * lives in its own file compiled for its instruction set (CMakeLists.txt). */
#ifndef ONNX_GEMM_KERNELS_H
#define ONNX_GEMM_KERNELS_H

#include <stdint.h>

/* An activation a kernel applies in registers after the clamp (kernel_desc.acts says which
 * kernel can; the others get ONNX_GEMM_EPI_NONE and the driver applies it per tile). */
enum {
    ONNX_GEMM_EPI_NONE = 0,
    ONNX_GEMM_EPI_SILU,
    ONNX_GEMM_EPI_SIGMOID,
    ONNX_GEMM_EPI_HARD_SWISH,
    ONNX_GEMM_EPI_HARD_SIGMOID, /* clamp(alpha x + beta, 0, 1) */
    ONNX_GEMM_EPI_GELU          /* the exact GELU (erf) */
};

/* The store's bias and clamp for one tile, fused into the kernel (epi NULL: none); the
 * pointers are at the tile's first row / column. */
typedef struct onnx_gemm_epi {
    const float *row_bias, *col_bias; /* or NULL */
    float lo, hi;                     /* clamp (Relu: 0, +inf; no activation: -inf, +inf) */
    int act;                          /* ONNX_GEMM_EPI_* (only for a kernel with acts) */
    float alpha, beta;                /* HardSigmoid's */
    const float *res;                 /* added before the biases (kd->store_res), or NULL */
    int64_t ldres;
} onnx_gemm_epi;

typedef void (*onnx_gemm_kernel_fn)(int64_t kc, const float *a, const float *b, float *c,
                                    int64_t ldc, float alpha, int accumulate,
                                    const onnx_gemm_epi *epi);

/* The same tile with B read in place: row p of the tile's B at b + p * ldb (32 floats; B not
 * transposed, no packing), for GEMMs whose few rows of A would not repay packing B. */
typedef void (*onnx_gemm_kernel_ub_fn)(int64_t kc, const float *a, const float *b, int64_t ldb,
                                       float *c, int64_t ldc, float alpha, int accumulate,
                                       const onnx_gemm_epi *epi);

/* The store's epilogue on a finished rows x cols tile of C (rows ldc apart): c += row_bias[r]
 * (if not NULL) + col_bias[j] (if not NULL), then clamp to [lo, hi] (Relu: 0, +inf; none:
 * -inf, +inf). Compiled beside each kernel for its instruction set. */
typedef void (*onnx_gemm_epilogue_fn)(float *c, int64_t ldc, int64_t rows, int64_t cols,
                                      const float *row_bias, const float *col_bias, float lo,
                                      float hi);

/* The same tile with A's MR rows read in place (element (i, p) at a[i * lda + p], A not
 * transposed, no packing) and B's rows ldb floats apart (a packed panel: ldb = NR). */
typedef void (*onnx_gemm_kernel_ua_fn)(int64_t kc, const float *a, int64_t lda, const float *b,
                                       int64_t ldb, float *c, int64_t ldc, float alpha,
                                       int accumulate, const onnx_gemm_epi *epi);

/* An edge tile of MR x NR/2: C = alpha * A * B over the first NR/2 columns of B only (a last
 * panel of at most NR/2 columns: half the multiply-adds of a full tile), no accumulate and no
 * epilogue (the driver's edge path adds those). A's element (i, p) at a[i * ars + p * aps] (a
 * packed panel: ars 1, aps MR; rows in place: ars lda, aps 1), B's rows ldb floats apart. */
typedef void (*onnx_gemm_kernel_half_fn)(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                         const float *b, int64_t ldb, float *c, int64_t ldc,
                                         float alpha);

/* An edge tile of rows (1 .. MR - 1) x NR: C = alpha * A * B over A's first rows only (the
 * last rows of A: rows / MR of a full tile's multiply-adds), no accumulate and no epilogue (the
 * driver's edge path adds those); A and B as onnx_gemm_kernel_half_fn. */
typedef void (*onnx_gemm_kernel_rows_fn)(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                         const float *b, int64_t ldb, float *c, int64_t ldc,
                                         float alpha, int rows);

/* A full tile with A and B anywhere (A's element (i, p) at a[i * ars + p * aps], B's rows ldb
 * floats apart: packed panels or in place, as the three above) that meanwhile prefetches
 * pf_lines 64-byte lines from pf into L2, spread over its k steps: the driver passes a slice
 * of the panel the next tiles read, so a constant operand streams from DRAM while the current
 * panel computes from L1 (pf_lines 0: none; pf is only a hint, never dereferenced). */
typedef void (*onnx_gemm_kernel_pf_fn)(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                       const float *b, int64_t ldb, float *c, int64_t ldc,
                                       float alpha, int accumulate, const onnx_gemm_epi *epi,
                                       const void *pf, int64_t pf_lines);

typedef struct onnx_gemm_kernel_desc {
    const char *name;
    int mr, nr;
    onnx_gemm_kernel_fn fn;
    onnx_gemm_epilogue_fn epilogue;
    int acts;                     /* the kernel applies epi->act (ONNX_GEMM_EPI_*) in its store */
    onnx_gemm_kernel_ub_fn ub_fn; /* B in place, or NULL */
    onnx_gemm_kernel_ua_fn ua_fn; /* A in place, or NULL */
    onnx_gemm_kernel_half_fn half_fn; /* MR x NR/2 edge tiles, or NULL */
    onnx_gemm_kernel_rows_fn rows_fn; /* (< MR) x NR edge tiles, or NULL */
    onnx_gemm_kernel_pf_fn pf_fn;     /* full tiles with a prefetch, or NULL */
    int store_res;                    /* its full tiles add epi->res in the store */
} onnx_gemm_kernel_desc;

#define ONNX_GEMM_MAX_MR 16
#define ONNX_GEMM_MAX_NR 32

void onnx_gemm_kernel_generic(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                              float alpha, int accumulate, const onnx_gemm_epi *epi);
void onnx_gemm_kernel_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           float alpha, int accumulate, const onnx_gemm_epi *epi);
void onnx_gemm_kernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                             float alpha, int accumulate, const onnx_gemm_epi *epi);
void onnx_gemm_kernel_avx512_ub(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                                int64_t ldc, float alpha, int accumulate, const onnx_gemm_epi *epi);

void onnx_gemm_kernel_avx512_ua(int64_t kc, const float *a, int64_t lda, const float *b,
                                int64_t ldb, float *c, int64_t ldc, float alpha, int accumulate,
                                const onnx_gemm_epi *epi);

void onnx_gemm_kernel_avx512_pf(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                const float *b, int64_t ldb, float *c, int64_t ldc, float alpha,
                                int accumulate, const onnx_gemm_epi *epi, const void *pf,
                                int64_t pf_lines);
void onnx_gemm_kernel_avx512_half(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                  const float *b, int64_t ldb, float *c, int64_t ldc, float alpha);
void onnx_gemm_kernel_avx512_rows(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                  const float *b, int64_t ldb, float *c, int64_t ldc, float alpha,
                                  int rows);

void onnx_gemm_epilogue_generic(float *c, int64_t ldc, int64_t rows, int64_t cols,
                                const float *row_bias, const float *col_bias, float lo, float hi);
void onnx_gemm_epilogue_avx2(float *c, int64_t ldc, int64_t rows, int64_t cols,
                             const float *row_bias, const float *col_bias, float lo, float hi);
void onnx_gemm_epilogue_avx512(float *c, int64_t ldc, int64_t rows, int64_t cols,
                               const float *row_bias, const float *col_bias, float lo, float hi);

/* The descriptor of kernel id (gemm.h's onnx_gemm_kernel_id), resolved AUTO included. */
const onnx_gemm_kernel_desc *onnx_gemm_kernel_desc_of(int id);

#endif
