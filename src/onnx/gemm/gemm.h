/* Private: the runtime's own packed float32 GEMM (see docs/onnx-runtime.md, "Our GEMM").
 *
 *   C (m x n, ldc) = act(alpha * op(A) * op(B) + row_bias[i] + col_bias[j] + (accumulate ? C : 0))
 *
 * Data layout. A kernel computes an MR x NR tile of C from packed panels: an A panel is
 * kc x MR floats (for each k, MR rows contiguous), a B panel kc x NR (for each k, NR columns
 * contiguous); rows/columns past the matrix edge are packed as zeros. K runs in blocks of
 * ONNX_GEMM_KC. A constant operand (Conv's weights: A; Gemm/MatMul's constant B) is packed
 * once at load by onnx_gemm_pack_a / onnx_gemm_pack_b into all its panels:
 *   panel (kb, p) at kb * ONNX_GEMM_KC * padded + p * R * kc_b   (padded = dim rounded up to R,
 *   kc_b = the K block's length, R = MR for A, NR for B)
 * Other operands are packed per call, block by block, into per-thread buffers.
 * Loops (BLIS order): N in blocks of NC (B block packed, L2/L3), M in blocks of MC (A block
 * packed, L2), then NR x MR tiles; the bias and the activation are applied to a tile right
 * after its last K block, while it is in L1. A packed B against at most 256 rows: one row
 * block (each B panel read once); the first row block's tiles prefetch B's next panel. With a thread pool the tiles of C are split
 * into column (or, when N is narrow, row) ranges, one per task. */
#ifndef ONNX_GEMM_GEMM_H
#define ONNX_GEMM_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "../ops/activation.h"
#include "../threadpool.h"

#define ONNX_GEMM_KC 256

/* The microkernels; ONNX_GEMM_AUTO picks the best the CPU has. */
typedef enum onnx_gemm_kernel_id {
    ONNX_GEMM_AUTO = -1,
    ONNX_GEMM_GENERIC = 0, /* plain C, any CPU */
    ONNX_GEMM_AVX2,        /* AVX2 + FMA */
    ONNX_GEMM_AVX512,      /* AVX-512F (8 x 32) */
    ONNX_GEMM_N_KERNELS
} onnx_gemm_kernel_id;

/* Whether this CPU can run kernel id. */
int onnx_gemm_kernel_available(onnx_gemm_kernel_id id);
/* Forces the kernel later calls and packs use (tests, bench); ONNX_GEMM_AUTO restores the
 * choice by CPU. Returns 0, or -1 if the CPU lacks it. Not thread-safe against running GEMMs. */
int onnx_gemm_set_kernel(onnx_gemm_kernel_id id);
onnx_gemm_kernel_id onnx_gemm_kernel(void);
const char *onnx_gemm_kernel_name(onnx_gemm_kernel_id id);

/* SiLU / Sigmoid in place, GELU (the exact one) from x to y (y may be x), over n floats with
 * AVX-512 (act_avx512.c, the same arithmetic as the AVX-512 kernel's fused store); call only when onnx_gemm_act_avx512_ok() (the CPU has
 * AVX-512F, whichever kernel is forced). */
int onnx_gemm_act_avx512_ok(void);
void onnx_gemm_silu_avx512(float *y, int64_t n);
void onnx_gemm_sigmoid_avx512(float *y, int64_t n);
void onnx_gemm_gelu_avx512(float *y, const float *x, int64_t n);

/* A constant operand packed into panels (layout above) for the kernel current at packing. */
typedef struct onnx_gemm_packed onnx_gemm_packed;

/* Packs A (m x k; element (i, p) at a[i * lda + p], or a[p * lda + i] if trans) or B (k x n;
 * (p, j) at b[p * ldb + j], or b[j * ldb + p] if trans). The source is only read; the caller
 * frees the result with onnx_gemm_packed_free. NULL on ENOMEM or sizes that overflow. */
onnx_gemm_packed *onnx_gemm_pack_a(const float *a, int trans, int64_t m, int64_t k, int64_t lda);
onnx_gemm_packed *onnx_gemm_pack_b(const float *b, int trans, int64_t k, int64_t n, int64_t ldb);
void onnx_gemm_packed_free(onnx_gemm_packed *p);
/* Whether p is the packed A (is_a) of an m x k, or B of a k x n, matrix: dim = m or n. */
int onnx_gemm_packed_fits(const onnx_gemm_packed *p, int is_a, int64_t k, int64_t dim);
size_t onnx_gemm_packed_bytes(const onnx_gemm_packed *p);
/* The panels themselves (what a GEMM streams), and their size in *bytes. */
const void *onnx_gemm_packed_data(const onnx_gemm_packed *p, size_t *bytes);
/* Writes a packed A back as the m x k matrix it was packed from, row by row (a[i * k + p]),
 * for the paths that read plain weights once the model has dropped them. Returns 0, or -1
 * if p is a packed B. */
int onnx_gemm_unpack_a(const onnx_gemm_packed *p, float *a);
/* Writes a packed B (k x n) back as B^T, the n x k matrix, row by row (bt[j * k + p]): a Conv's
 * W packed as W^T (conv_tgemm.h). Returns 0, or -1 if p is a packed A. */
int onnx_gemm_unpack_bt(const onnx_gemm_packed *p, float *bt);

typedef struct onnx_gemm_args {
    int64_t m, n, k;
    /* A: packed (pa, which fixes m and k), else a/lda/trans_a; likewise B */
    const float *a;
    int64_t lda;
    int trans_a;
    const onnx_gemm_packed *pa;
    const float *b;
    int64_t ldb;
    int trans_b;
    const onnx_gemm_packed *pb;
    float alpha;
    float *c;
    int64_t ldc;
    int accumulate;                   /* 1: add onto C (beta 1), 0: overwrite (beta 0) */
    const float *row_bias, *col_bias; /* m and n floats, or NULL */
    onnx_activation act;              /* applied last (activation.h; NONE: nothing) */
    /* a residual (m x n, ldres apart) added with the biases, or NULL: read by the AVX-512
     * kernel's store, else copied into C first (onnx_gemm_res_into_c); may alias C */
    const float *res;
    int64_t ldres;
} onnx_gemm_args;

/* Folds g->res into C (C = res, or C += res when accumulating) and leaves g accumulating
 * with no res: the paths that do not read res at the store. */
void onnx_gemm_res_into_c(onnx_gemm_args *g);

/* Runs the GEMM, on pool's threads if pool is not NULL. Returns 0, or -1 on ENOMEM (pack
 * buffers) or if a packed operand does not fit the args. C is untouched on failure. */
int onnx_gemm_run(const onnx_gemm_args *g, onnx_tpool *pool);

/* Whether our GEMM should run m x n x k rather than OpenBLAS (docs/onnx-runtime.md, "Our
 * GEMM"): a packed operand always; else per the size rule. */
int onnx_gemm_prefer(int64_t m, int64_t n, int64_t k, int packed);

#endif
