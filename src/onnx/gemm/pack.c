/* Packing A and B into the kernels' panels (gemm.h): per panel for the per-call blocks, and
 * whole constant operands once at load. */
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "kernels.h"
#include "pack.h"

void onnx_gemm_pack_panel_a(const float *a, int64_t lda, int trans, int64_t i0, int64_t rows,
                            int64_t p0, int64_t kc, int mr, float *dst)
{
    if (rows < mr) memset(dst, 0, (size_t)(kc * mr) * sizeof(float));
    if (trans) { /* A(i, p) = a[p * lda + i]: rows of a are contiguous along the panel */
        for (int64_t p = 0; p < kc; p++)
            memcpy(dst + p * mr, a + (p0 + p) * lda + i0, (size_t)rows * sizeof(float));
    } else { /* a transpose: mr rows read side by side, each sequentially */
        const float *src[ONNX_GEMM_MAX_MR];
        for (int64_t i = 0; i < rows; i++) src[i] = a + (i0 + i) * lda + p0;
        for (int64_t p = 0; p < kc; p++, dst += mr)
            for (int64_t i = 0; i < rows; i++) dst[i] = src[i][p];
    }
}

void onnx_gemm_pack_panel_b(const float *b, int64_t ldb, int trans, int64_t j0, int64_t cols,
                            int64_t p0, int64_t kc, int nr, float *dst)
{
    if (cols < nr) memset(dst, 0, (size_t)(kc * nr) * sizeof(float));
    if (!trans) {
        for (int64_t p = 0; p < kc; p++)
            memcpy(dst + p * nr, b + (p0 + p) * ldb + j0, (size_t)cols * sizeof(float));
    }
#if defined(__x86_64__)
    else if (cols == 32 && nr == 32 && onnx_gemm_act_avx512_ok() /* AVX-512 CPU, cached */) {
        onnx_gemm_pack_panel_bt32_avx512(b, ldb, j0, p0, kc, dst);
    }
#endif
    else { /* B(p, j) = b[j * ldb + p] */
        for (int64_t j = 0; j < cols; j++) {
            const float *src = b + (j0 + j) * ldb + p0;
            for (int64_t p = 0; p < kc; p++) dst[p * nr + j] = src[p];
        }
    }
}

void onnx_gemm_pack_block(const float *src, int64_t ld, int trans, int is_a, int64_t q0,
                          int64_t len, int64_t p0, int64_t kc, int r, float *dst)
{
    /* the source holds the K index along its rows when A is not transposed or B is: then
     * each of the r rows of a panel is one run, and panel by panel is already sequential */
    if (is_a != trans) {
        for (int64_t q = 0; q < len; q += r) {
            const int64_t n = len - q < r ? len - q : r;
            if (is_a) onnx_gemm_pack_panel_a(src, ld, trans, q0 + q, n, p0, kc, r, dst + q * kc);
            else onnx_gemm_pack_panel_b(src, ld, trans, q0 + q, n, p0, kc, r, dst + q * kc);
        }
        return;
    }
    /* else a source row (fixed k) runs across all panels: fill one panel at a time, r floats
     * of each row, so the writes run sequentially (row by row across the panels, the writes
     * went kc * r floats apart, 32 KiB for the AVX-512 kernel: one L1 set for all of them) */
    const int64_t full = len / r * r;
    if (full < len) /* the last panel's padding */
        memset(dst + full * kc, 0, (size_t)(kc * r) * sizeof(float));
    for (int64_t q = 0; q < len; q += r) {
        const float *col = src + p0 * ld + q0 + q;
        float *d = dst + q * kc;
        if (q + r > len) {
            for (int64_t p = 0; p < kc; p++)
                memcpy(d + p * r, col + p * ld, (size_t)(len - q) * sizeof(float));
        } else if (r == 32) { /* a fixed count: a few vector moves, not a memcpy call */
            for (int64_t p = 0; p < kc; p++, d += 32)
                for (int t = 0; t < 32; t++) d[t] = col[p * ld + t];
        } else if (r == 16) {
            for (int64_t p = 0; p < kc; p++, d += 16)
                for (int t = 0; t < 16; t++) d[t] = col[p * ld + t];
        } else {
            for (int64_t p = 0; p < kc; p++)
                memcpy(d + p * r, col + p * ld, (size_t)r * sizeof(float));
        }
    }
}

/* Packs all panels of a constant operand; dim x k, r = MR (A) or NR (B). */
static onnx_gemm_packed *gemm_pack_whole(const float *src, int64_t ld, int trans, int is_a,
                                         int64_t dim, int64_t k)
{
    if (dim < 0 || k < 0 || dim > INT32_MAX || k > INT32_MAX) return NULL;
    const int kernel = onnx_gemm_kernel();
    const onnx_gemm_kernel_desc *kd = onnx_gemm_kernel_desc_of(kernel);
    const int r = is_a ? kd->mr : kd->nr;
    const int64_t padded = (dim + r - 1) / r * r;
    /* both factors < 2^32: the product fits int64 and is checked against size_t below */
    const uint64_t floats = (uint64_t)padded * (uint64_t)k;
    if (floats > SIZE_MAX / sizeof(float) - 16) return NULL;
    onnx_gemm_packed *pk = calloc(1, sizeof *pk);
    if (!pk) return NULL;
    pk->kernel = kernel;
    pk->is_a = is_a;
    pk->dim = dim;
    pk->k = k;
    pk->r = r;
    pk->padded = padded;
    pk->bytes = ((size_t)floats * sizeof(float) + 63) / 64 * 64;
    if (!(pk->data = aligned_alloc(64, pk->bytes ? pk->bytes : 64))) {
        free(pk);
        return NULL;
    }
    for (int64_t p0 = 0; p0 < k; p0 += ONNX_GEMM_KC) {
        const int64_t kc = k - p0 < ONNX_GEMM_KC ? k - p0 : ONNX_GEMM_KC;
        onnx_gemm_pack_block(src, ld, trans, is_a, 0, dim, p0, kc, r, pk->data + p0 * padded);
    }
    return pk;
}

onnx_gemm_packed *onnx_gemm_pack_a(const float *a, int trans, int64_t m, int64_t k, int64_t lda)
{
    return gemm_pack_whole(a, lda, trans, 1, m, k);
}

onnx_gemm_packed *onnx_gemm_pack_b(const float *b, int trans, int64_t k, int64_t n, int64_t ldb)
{
    return gemm_pack_whole(b, ldb, trans, 0, n, k);
}

void onnx_gemm_packed_free(onnx_gemm_packed *p)
{
    if (!p) return;
    free(p->data);
    free(p);
}

size_t onnx_gemm_packed_bytes(const onnx_gemm_packed *p)
{
    return p ? p->bytes + sizeof *p : 0;
}

const void *onnx_gemm_packed_data(const onnx_gemm_packed *p, size_t *bytes)
{
    *bytes = p->bytes;
    return p->data;
}

int onnx_gemm_unpack_a(const onnx_gemm_packed *p, float *a)
{
    if (!p->is_a) return -1;
    const int64_t r = p->r, k = p->k;
    for (int64_t p0 = 0; p0 < k; p0 += ONNX_GEMM_KC) { /* K block p0: panels kc x r */
        const int64_t kc = k - p0 < ONNX_GEMM_KC ? k - p0 : ONNX_GEMM_KC;
        const float *blk = p->data + p0 * p->padded;
        for (int64_t i = 0; i < p->dim; i++) {
            const float *src = blk + (i / r) * r * kc + i % r;
            float *dst = a + i * k + p0;
            for (int64_t q = 0; q < kc; q++) dst[q] = src[q * r];
        }
    }
    return 0;
}

int onnx_gemm_unpack_bt(const onnx_gemm_packed *p, float *bt)
{
    if (p->is_a) return -1;
    /* B's panels of r columns are laid out as A's of r rows: column j of B comes out as row j */
    const onnx_gemm_packed a = {.kernel = p->kernel,
                                .is_a = 1,
                                .dim = p->dim,
                                .k = p->k,
                                .r = p->r,
                                .padded = p->padded,
                                .data = p->data,
                                .bytes = p->bytes};
    return onnx_gemm_unpack_a(&a, bt);
}

int onnx_gemm_packed_fits(const onnx_gemm_packed *p, int is_a, int64_t k, int64_t dim)
{
    return p && p->is_a == is_a && p->k == k && p->dim == dim;
}
