/* The narrow GEMM's AVX-512 kernel (narrow.h): per 8-row panel of the packed A, strips of up
 * to three 16-float vectors of C (24 zmm accumulators) over all of K, then the last < 8 columns
 * as 8-row vectors. Compiled with -mavx512f -mfma (CMakeLists.txt); called only when the CPU
 * has it. */
#include "narrow.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#include "act_avx512.h"
#include "pack.h"

#define NARROW_INLINE static inline __attribute__((always_inline))
/* how far ahead in A's panel (floats; 8 per k) the strips prefetch */
#define NARROW_PREFETCH 256

/* the store's clamp and fused activation (as the 8 x 32 kernel's) */
NARROW_INLINE __m512 narrow_act(__m512 r, const onnx_gemm_epi *e)
{
    r = _mm512_min_ps(_mm512_set1_ps(e->hi), _mm512_max_ps(_mm512_set1_ps(e->lo), r));
    switch (e->act) {
    case ONNX_GEMM_EPI_SILU: return act512_silu(r);
    case ONNX_GEMM_EPI_SIGMOID: return act512_sigmoid(r);
    case ONNX_GEMM_EPI_HARD_SWISH: return act512_hard_swish(r);
    case ONNX_GEMM_EPI_HARD_SIGMOID:
        return act512_hard_sigmoid(r, _mm512_set1_ps(e->alpha), _mm512_set1_ps(e->beta));
    default: return r;
    }
}

/* One panel's operands: A's panel p (8 rows, K blocks ONNX_GEMM_KC long), B's column j0 */
typedef struct narrow_panel {
    const onnx_gemm_args *g;
    const onnx_gemm_epi *e;
    const float *pa; /* the packed A's data */
    int64_t padded;  /* its rows rounded up to 8 */
    int64_t p;       /* the panel */
    int rows;        /* its rows inside C (1..8) */
} narrow_panel;

/* C rows of panel, columns j0 .. j0 + 16 (V - 1) + lanes of `last`: V vectors per row */
NARROW_INLINE void narrow_strip(const narrow_panel *np, int V, int64_t j0, __mmask16 last)
{
    const onnx_gemm_args *g = np->g;
    const int64_t k = g->k, ldb = g->ldb, ldc = g->ldc;
    float *c = g->c + np->p * 8 * ldc + j0;
    __m512 acc[8][3];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
#pragma GCC unroll 3
        for (int v = 0; v < V; v++) {
            const __mmask16 mk = v == V - 1 ? last : (__mmask16)0xffff;
            acc[i][v] = g->accumulate && i < np->rows
                            ? _mm512_maskz_loadu_ps(mk, c + i * ldc + 16 * v)
                            : _mm512_setzero_ps();
        }
    for (int64_t kb = 0; kb < k; kb += ONNX_GEMM_KC) {
        const int64_t kc = k - kb < ONNX_GEMM_KC ? k - kb : ONNX_GEMM_KC;
        const float *a = np->pa + kb * np->padded + np->p * 8 * kc;
        const float *b = g->b + kb * ldb + j0;
        for (int64_t q = 0; q < kc; q++, a += 8, b += ldb) {
            /* the weights stream from memory once: ask for them NARROW_PREFETCH floats ahead */
            _mm_prefetch((const char *)(a + NARROW_PREFETCH), _MM_HINT_T0);
            __m512 bv[3];
#pragma GCC unroll 3
            for (int v = 0; v < V; v++)
                bv[v] = v == V - 1 ? _mm512_maskz_loadu_ps(last, b + 16 * v)
                                   : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 8
            for (int i = 0; i < 8; i++) {
                const __m512 av = _mm512_set1_ps(a[i]);
#pragma GCC unroll 3
                for (int v = 0; v < V; v++) acc[i][v] = _mm512_fmadd_ps(av, bv[v], acc[i][v]);
            }
        }
    }
    __m512 cb[3];
#pragma GCC unroll 3
    for (int v = 0; v < V; v++) {
        const __mmask16 mk = v == V - 1 ? last : (__mmask16)0xffff;
        cb[v] = g->col_bias ? _mm512_maskz_loadu_ps(mk, g->col_bias + j0 + 16 * v)
                            : _mm512_setzero_ps();
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        if (i >= np->rows) break;
        const __m512 rb = _mm512_set1_ps(g->row_bias ? g->row_bias[np->p * 8 + i] : 0.0f);
#pragma GCC unroll 3
        for (int v = 0; v < V; v++) {
            const __mmask16 mk = v == V - 1 ? last : (__mmask16)0xffff;
            const __m512 r = narrow_act(_mm512_add_ps(_mm512_add_ps(acc[i][v], rb), cb[v]), np->e);
            _mm512_mask_storeu_ps(c + i * ldc + 16 * v, mk, r);
        }
    }
}

/* C rows of panel, columns j0 .. j0 + R (R < 8): one 8-row vector per column, A's panel row
 * (8 floats per k) times a broadcast of B's element; with few columns each has U partial sums
 * over alternate k (R * U >= 4 independent chains: one chain waits on every multiply-add) */
NARROW_INLINE void narrow_cols(const narrow_panel *np, int R, int64_t j0)
{
    const onnx_gemm_args *g = np->g;
    const int U = R >= 4 ? 1 : R >= 2 ? 2 : 4;
    const int64_t k = g->k, ldb = g->ldb, ldc = g->ldc;
    float *c = g->c + np->p * 8 * ldc + j0;
    float t[16] __attribute__((aligned(64))) = {0};
    __m256 acc[7][4];
#pragma GCC unroll 7
    for (int j = 0; j < R; j++) {
        if (g->accumulate)
            for (int i = 0; i < np->rows; i++) t[i] = c[i * ldc + j];
        acc[j][0] = _mm256_load_ps(t);
#pragma GCC unroll 4
        for (int u = 1; u < U; u++) acc[j][u] = _mm256_setzero_ps();
    }
    for (int64_t kb = 0; kb < k; kb += ONNX_GEMM_KC) {
        const int64_t kc = k - kb < ONNX_GEMM_KC ? k - kb : ONNX_GEMM_KC;
        const float *a = np->pa + kb * np->padded + np->p * 8 * kc;
        const float *b = g->b + kb * ldb + j0;
        int64_t q = 0;
        for (; q + U <= kc; q += U, a += 8 * U, b += ldb * U)
#pragma GCC unroll 4
            for (int u = 0; u < U; u++) {
                const __m256 av = _mm256_loadu_ps(a + 8 * u);
#pragma GCC unroll 7
                for (int j = 0; j < R; j++)
                    acc[j][u] = _mm256_fmadd_ps(av, _mm256_set1_ps(b[u * ldb + j]), acc[j][u]);
            }
        for (; q < kc; q++, a += 8, b += ldb) {
            const __m256 av = _mm256_loadu_ps(a);
#pragma GCC unroll 7
            for (int j = 0; j < R; j++)
                acc[j][0] = _mm256_fmadd_ps(av, _mm256_set1_ps(b[j]), acc[j][0]);
        }
    }
    for (int i = 0; i < 16; i++)
        t[i] = i < np->rows && g->row_bias ? g->row_bias[np->p * 8 + i] : 0.0f;
    const __m512 rb = _mm512_load_ps(t);
#pragma GCC unroll 7
    for (int j = 0; j < R; j++) {
        __m256 sum = acc[j][0];
#pragma GCC unroll 4
        for (int u = 1; u < U; u++) sum = _mm256_add_ps(sum, acc[j][u]);
        const __m512 cb = _mm512_set1_ps(g->col_bias ? g->col_bias[j0 + j] : 0.0f);
        const __m512 s = _mm512_zextps256_ps512(sum);
        _mm512_store_ps(t, narrow_act(_mm512_add_ps(_mm512_add_ps(s, rb), cb), np->e));
        for (int i = 0; i < np->rows; i++) c[i * ldc + j] = t[i];
    }
}

static void narrow_strip3(const narrow_panel *np, int64_t j0)
{
    narrow_strip(np, 3, j0, 0xffff);
}

/* the columns past the last full strip: n0 of them from j0 */
static __attribute__((noinline)) void narrow_tail(const narrow_panel *np, int64_t j0, int n0)
{
    int vecs = n0 / 16, r = n0 % 16;
    if (r >= 8) vecs++, r = 0; /* a masked vector costs what 8 column vectors do */
    const __mmask16 last =
        r == 0 && n0 % 16 ? (__mmask16)((1u << (n0 % 16)) - 1u) : (__mmask16)0xffff;
    if (vecs == 1) narrow_strip(np, 1, j0, last);
    else if (vecs == 2) narrow_strip(np, 2, j0, last);
    else if (vecs == 3) narrow_strip(np, 3, j0, last);
    j0 += (int64_t)(n0 / 16) * 16;
    switch (r) {
    case 1: narrow_cols(np, 1, j0); break;
    case 2: narrow_cols(np, 2, j0); break;
    case 3: narrow_cols(np, 3, j0); break;
    case 4: narrow_cols(np, 4, j0); break;
    case 5: narrow_cols(np, 5, j0); break;
    case 6: narrow_cols(np, 6, j0); break;
    case 7: narrow_cols(np, 7, j0); break;
    default: break;
    }
}

void onnx_gemm_narrow_avx512(const onnx_gemm_args *g, const onnx_gemm_epi *epi, int64_t p0,
                             int64_t p1)
{
    narrow_panel np = {.g = g, .e = epi, .pa = g->pa->data, .padded = g->pa->padded};
    const int64_t full = g->n / 48 * 48;
    for (np.p = p0; np.p < p1; np.p++) {
        const int64_t left = g->m - np.p * 8;
        np.rows = left < 8 ? (int)left : 8;
        for (int64_t j0 = 0; j0 < full; j0 += 48) narrow_strip3(&np, j0);
        if (full < g->n) narrow_tail(&np, full, (int)(g->n - full));
    }
}

#else

void onnx_gemm_narrow_avx512(const onnx_gemm_args *g, const onnx_gemm_epi *epi, int64_t p0,
                             int64_t p1)
{
    (void)g, (void)epi, (void)p0, (void)p1;
}

#endif
