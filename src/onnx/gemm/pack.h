/* Private to src/onnx/gemm: packing one panel of A or B (layout in gemm.h), and the packed
 * constant operand. */
#ifndef ONNX_GEMM_PACK_H
#define ONNX_GEMM_PACK_H

#include <stddef.h>
#include <stdint.h>

struct onnx_gemm_packed {
    int kernel;     /* onnx_gemm_kernel_id the panels are shaped for */
    int is_a;       /* 1: A (panels of MR rows), 0: B (panels of NR columns) */
    int64_t dim, k; /* m (A) or n (B), and k */
    int r;          /* MR or NR */
    int64_t padded; /* dim rounded up to r */
    float *data;
    size_t bytes;
};

/* dst (kc x mr) = rows i0 .. i0 + rows of A's columns p0 .. p0 + kc, zeros past `rows` */
void onnx_gemm_pack_panel_a(const float *a, int64_t lda, int trans, int64_t i0, int64_t rows,
                            int64_t p0, int64_t kc, int mr, float *dst);
/* dst (kc x nr) = columns j0 .. j0 + cols of B's rows p0 .. p0 + kc, zeros past `cols` */
void onnx_gemm_pack_panel_b(const float *b, int64_t ldb, int trans, int64_t j0, int64_t cols,
                            int64_t p0, int64_t kc, int nr, float *dst);

/* The transposed case of onnx_gemm_pack_panel_b for a full panel of nr = 32 columns, through
 * vector registers (pack_avx512.c; only where the CPU has AVX-512F). */
void onnx_gemm_pack_panel_bt32_avx512(const float *b, int64_t ldb, int64_t j0, int64_t p0,
                                      int64_t kc, float *dst);

/* A whole block of panels: dst = the panels of `len` rows (A) or columns (B) from q0 on, K
 * columns/rows p0 .. p0 + kc, panel by panel r * kc floats apart. Reads the source row by
 * row where its layout allows (one pass over each row's run, not one per panel). */
void onnx_gemm_pack_block(const float *src, int64_t ld, int trans, int is_a, int64_t q0,
                          int64_t len, int64_t p0, int64_t kc, int r, float *dst);

#endif
