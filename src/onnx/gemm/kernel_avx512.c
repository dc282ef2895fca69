/* The AVX-512 microkernel, 8 x 32, and its epilogue (the store adds the biases, clamps and
 * applies SiLU / Sigmoid / GELU / HardSwish / HardSigmoid in registers, act_avx512.h): 16 zmm accumulators, two B loads and
 * eight broadcasts per k (8 rows: CNN channel counts are multiples of 8; 12 rows measured no faster and wasted up
 * to a third of a tile on 16- or 64-channel layers). Compiled with
 * -mavx512f -mfma (CMakeLists.txt); called only when the CPU has it. */
#include "kernels.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#include "act_avx512.h"

/* Each kernel starts on a 64-byte line, so that code added elsewhere in the library does not
 * move its loop against the fetch windows (a shifted layout ran M > 128 GEMMs 8-12 % slower) */
#define KERNEL_ALIGN __attribute__((aligned(64)))

#define ROW_FMA(I)                                      \
    do {                                                \
        const __m512 av = _mm512_set1_ps(a[(I)*ars]);   \
        acc##I##0 = _mm512_fmadd_ps(av, b0, acc##I##0); \
        acc##I##1 = _mm512_fmadd_ps(av, b1, acc##I##1); \
    } while (0)

#define ROW_STORE(I)                                                                        \
    do {                                                                                    \
        float *cr = c + (I)*ldc;                                                            \
        __m512 r0 = _mm512_mul_ps(acc##I##0, al), r1 = _mm512_mul_ps(acc##I##1, al);        \
        if (accumulate) {                                                                   \
            r0 = _mm512_add_ps(r0, _mm512_loadu_ps(cr));                                    \
            r1 = _mm512_add_ps(r1, _mm512_loadu_ps(cr + 16));                               \
        }                                                                                   \
        if (epi) { /* bias and clamp in the store; max/min keep a NaN */                    \
            if (epi->res) {                                                                 \
                const float *rr = epi->res + (I)*epi->ldres;                                \
                r0 = _mm512_add_ps(r0, _mm512_loadu_ps(rr));                                \
                r1 = _mm512_add_ps(r1, _mm512_loadu_ps(rr + 16));                           \
            }                                                                               \
            const __m512 rb = _mm512_set1_ps(epi->row_bias ? epi->row_bias[I] : 0.0f);      \
            r0 = _mm512_add_ps(_mm512_add_ps(r0, rb), cb0);                                 \
            r1 = _mm512_add_ps(_mm512_add_ps(r1, rb), cb1);                                 \
            r0 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, r0));                                \
            r1 = _mm512_min_ps(vhi, _mm512_max_ps(vlo, r1));                                \
            if (epi->act == ONNX_GEMM_EPI_SILU) r0 = act512_silu(r0), r1 = act512_silu(r1); \
            else if (epi->act == ONNX_GEMM_EPI_SIGMOID)                                     \
                r0 = act512_sigmoid(r0), r1 = act512_sigmoid(r1);                           \
            else if (epi->act == ONNX_GEMM_EPI_HARD_SWISH)                                  \
                r0 = act512_hard_swish(r0), r1 = act512_hard_swish(r1);                     \
            else if (epi->act == ONNX_GEMM_EPI_HARD_SIGMOID)                                \
                r0 = act512_hard_sigmoid(r0, va, vb), r1 = act512_hard_sigmoid(r1, va, vb); \
            else if (epi->act) r0 = act512_gelu(r0), r1 = act512_gelu(r1); /* GELU */       \
        }                                                                                   \
        _mm512_storeu_ps(cr, r0), _mm512_storeu_ps(cr + 16, r1);                            \
    } while (0)

/* the tile from A (element (i, p) at a[i * ars + p * aps]: a packed panel has ars 1, aps 8;
 * rows in place ars lda, aps 1) and B's rows ldb floats apart (a packed panel: ldb = 32) */
#define TILE_STEP()                                                         \
    do {                                                                    \
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16); \
        ROW_FMA(0);                                                         \
        ROW_FMA(1);                                                         \
        ROW_FMA(2);                                                         \
        ROW_FMA(3);                                                         \
        ROW_FMA(4);                                                         \
        ROW_FMA(5);                                                         \
        ROW_FMA(6);                                                         \
        ROW_FMA(7);                                                         \
    } while (0)

/* the tile, and meanwhile pf_lines 64-byte lines from pf prefetched into L2 (kernels.h,
 * onnx_gemm_kernel_pf_fn), one every pf_every k steps */
static inline __attribute__((always_inline)) void
kernel_tile(int64_t kc, const float *a, int64_t ars, int64_t aps, const float *b, int64_t ldb,
            float *c, int64_t ldc, float alpha, int accumulate, const onnx_gemm_epi *epi,
            const char *pf, int64_t pf_lines)
{
    __m512 acc00 = _mm512_setzero_ps(), acc01 = acc00, acc10 = acc00, acc11 = acc00;
    __m512 acc20 = acc00, acc21 = acc00, acc30 = acc00, acc31 = acc00, acc40 = acc00;
    __m512 acc41 = acc00, acc50 = acc00, acc51 = acc00, acc60 = acc00, acc61 = acc00;
    __m512 acc70 = acc00, acc71 = acc00;
    int64_t p = 0;
    if (pf_lines > 0) {
        /* lines spread over the k steps: one every `every` steps */
        const int64_t every = pf_lines >= kc ? 1 : kc / pf_lines;
        for (int64_t next = 0; p < kc && pf_lines > 0; p++, a += aps, b += ldb) {
            if (p == next) { /* a compare, not a division per step */
                _mm_prefetch(pf, _MM_HINT_T1);
                pf += 64;
                pf_lines--;
                next += every;
            }
            TILE_STEP();
        }
    }
    for (; p < kc; p++, a += aps, b += ldb) TILE_STEP();
    const __m512 al = _mm512_set1_ps(alpha);
    __m512 cb0 = _mm512_setzero_ps(), cb1 = cb0, vlo = cb0, vhi = cb0, va = cb0, vb = cb0;
    if (epi) {
        if (epi->col_bias)
            cb0 = _mm512_loadu_ps(epi->col_bias), cb1 = _mm512_loadu_ps(epi->col_bias + 16);
        vlo = _mm512_set1_ps(epi->lo), vhi = _mm512_set1_ps(epi->hi);
        va = _mm512_set1_ps(epi->alpha), vb = _mm512_set1_ps(epi->beta);
    }
    ROW_STORE(0);
    ROW_STORE(1);
    ROW_STORE(2);
    ROW_STORE(3);
    ROW_STORE(4);
    ROW_STORE(5);
    ROW_STORE(6);
    ROW_STORE(7);
}

KERNEL_ALIGN void onnx_gemm_kernel_avx512(int64_t kc, const float *a, const float *b, float *c,
                                          int64_t ldc, float alpha, int accumulate,
                                          const onnx_gemm_epi *epi)
{
    kernel_tile(kc, a, 1, 8, b, 32, c, ldc, alpha, accumulate, epi, NULL, 0);
}

KERNEL_ALIGN void onnx_gemm_kernel_avx512_ub(int64_t kc, const float *a, const float *b,
                                             int64_t ldb, float *c, int64_t ldc, float alpha,
                                             int accumulate, const onnx_gemm_epi *epi)
{
    kernel_tile(kc, a, 1, 8, b, ldb, c, ldc, alpha, accumulate, epi, NULL, 0);
}

KERNEL_ALIGN void onnx_gemm_kernel_avx512_ua(int64_t kc, const float *a, int64_t lda,
                                             const float *b, int64_t ldb, float *c, int64_t ldc,
                                             float alpha, int accumulate, const onnx_gemm_epi *epi)
{
    kernel_tile(kc, a, lda, 1, b, ldb, c, ldc, alpha, accumulate, epi, NULL, 0);
}

KERNEL_ALIGN void onnx_gemm_kernel_avx512_pf(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                             const float *b, int64_t ldb, float *c, int64_t ldc,
                                             float alpha, int accumulate, const onnx_gemm_epi *epi,
                                             const void *pf, int64_t pf_lines)
{
    kernel_tile(kc, a, ars, aps, b, ldb, c, ldc, alpha, accumulate, epi, pf, pf_lines);
}

/* an 8 x 16 edge tile (kernels.h, onnx_gemm_kernel_half_fn): a last panel of at most 16
 * columns costs half a full tile */
KERNEL_ALIGN void onnx_gemm_kernel_avx512_half(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                               const float *b, int64_t ldb, float *c, int64_t ldc,
                                               float alpha)
{
    /* named accumulators, as in kernel_tile: an array of them stayed in memory at -O2 */
    __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0, acc4 = acc0;
    __m512 acc5 = acc0, acc6 = acc0, acc7 = acc0;
    for (int64_t p = 0; p < kc; p++, a += aps, b += ldb) {
        const __m512 b0 = _mm512_loadu_ps(b);
        acc0 = _mm512_fmadd_ps(_mm512_set1_ps(a[0]), b0, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_set1_ps(a[ars]), b0, acc1);
        acc2 = _mm512_fmadd_ps(_mm512_set1_ps(a[2 * ars]), b0, acc2);
        acc3 = _mm512_fmadd_ps(_mm512_set1_ps(a[3 * ars]), b0, acc3);
        acc4 = _mm512_fmadd_ps(_mm512_set1_ps(a[4 * ars]), b0, acc4);
        acc5 = _mm512_fmadd_ps(_mm512_set1_ps(a[5 * ars]), b0, acc5);
        acc6 = _mm512_fmadd_ps(_mm512_set1_ps(a[6 * ars]), b0, acc6);
        acc7 = _mm512_fmadd_ps(_mm512_set1_ps(a[7 * ars]), b0, acc7);
    }
    const __m512 al = _mm512_set1_ps(alpha);
    _mm512_storeu_ps(c, _mm512_mul_ps(acc0, al));
    _mm512_storeu_ps(c + ldc, _mm512_mul_ps(acc1, al));
    _mm512_storeu_ps(c + 2 * ldc, _mm512_mul_ps(acc2, al));
    _mm512_storeu_ps(c + 3 * ldc, _mm512_mul_ps(acc3, al));
    _mm512_storeu_ps(c + 4 * ldc, _mm512_mul_ps(acc4, al));
    _mm512_storeu_ps(c + 5 * ldc, _mm512_mul_ps(acc5, al));
    _mm512_storeu_ps(c + 6 * ldc, _mm512_mul_ps(acc6, al));
    _mm512_storeu_ps(c + 7 * ldc, _mm512_mul_ps(acc7, al));
}

void onnx_gemm_epilogue_avx512(float *c, int64_t ldc, int64_t rows, int64_t cols,
                               const float *row_bias, const float *col_bias, float lo, float hi)
{
    const __m512 vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    for (int64_t r = 0; r < rows; r++) {
        float *row = c + r * ldc;
        const __m512 rb = _mm512_set1_ps(row_bias ? row_bias[r] : 0.0f);
        for (int64_t j = 0; j < cols; j += 16) {
            const __mmask16 m = cols - j >= 16 ? 0xffff : (__mmask16)((1u << (cols - j)) - 1);
            __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, row + j), rb);
            if (col_bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, col_bias + j));
            v = _mm512_min_ps(vhi, _mm512_max_ps(vlo, v)); /* NaN stays NaN */
            _mm512_mask_storeu_ps(row + j, m, v);
        }
    }
}
#else
/* not an x86-64 build: dispatch.c never picks this kernel */
void onnx_gemm_kernel_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                             float alpha, int accumulate, const onnx_gemm_epi *epi)
{
    (void)kc, (void)a, (void)b, (void)c, (void)ldc, (void)alpha, (void)accumulate, (void)epi;
}

void onnx_gemm_epilogue_avx512(float *c, int64_t ldc, int64_t rows, int64_t cols,
                               const float *row_bias, const float *col_bias, float lo, float hi)
{
    onnx_gemm_epilogue_generic(c, ldc, rows, cols, row_bias, col_bias, lo, hi);
}

void onnx_gemm_kernel_avx512_ub(int64_t kc, const float *a, const float *b, int64_t ldb, float *c,
                                int64_t ldc, float alpha, int accumulate, const onnx_gemm_epi *epi)
{
    (void)kc, (void)a, (void)b, (void)ldb, (void)c, (void)ldc, (void)alpha, (void)accumulate;
    (void)epi;
}

void onnx_gemm_kernel_avx512_ua(int64_t kc, const float *a, int64_t lda, const float *b,
                                int64_t ldb, float *c, int64_t ldc, float alpha, int accumulate,
                                const onnx_gemm_epi *epi)
{
    (void)kc, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc, (void)alpha;
    (void)accumulate, (void)epi;
}

void onnx_gemm_kernel_avx512_pf(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                const float *b, int64_t ldb, float *c, int64_t ldc, float alpha,
                                int accumulate, const onnx_gemm_epi *epi, const void *pf,
                                int64_t pf_lines)
{
    (void)kc, (void)a, (void)ars, (void)aps, (void)b, (void)ldb, (void)c, (void)ldc, (void)alpha;
    (void)accumulate, (void)epi, (void)pf, (void)pf_lines;
}

void onnx_gemm_kernel_avx512_half(int64_t kc, const float *a, int64_t ars, int64_t aps,
                                  const float *b, int64_t ldb, float *c, int64_t ldc, float alpha)
{
    (void)kc, (void)a, (void)ars, (void)aps, (void)b, (void)ldb, (void)c, (void)ldc, (void)alpha;
}
#endif
