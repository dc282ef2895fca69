/* A GEMM of a few rows (m <= ONNX_GEMM_GEMV_MAX_M) against a packed constant B: a matrix-vector
 * product per row reading B's panels in order, so Gemm/MatMul at batch 1 need no plain B. */
#include "gemv.h"

#include "../ops/nn_kernels.h"
#include "pack.h"

/* acc (NR floats) = the row a (kc floats, `as` apart) times one kc x NR panel; four partial sums
 * per column so the adds are independent chains, summed once at the end */
#define GEMV_PANEL_DEFINE(NAME, NR)                                                          \
    static NN_HOT_FMA NN_CLONES void NAME(const float *restrict a, int64_t as,               \
                                          const float *restrict pan, int64_t kc, float *acc) \
    {                                                                                        \
        float s0[NR] = {0}, s1[NR] = {0}, s2[NR] = {0}, s3[NR] = {0};                        \
        int64_t q = 0;                                                                       \
        for (; q + 4 <= kc; q += 4) {                                                        \
            const float a0 = a[q * as], a1 = a[(q + 1) * as], a2 = a[(q + 2) * as],          \
                        a3 = a[(q + 3) * as];                                                \
            const float *p = pan + q * NR;                                                   \
            for (int r = 0; r < NR; r++) s0[r] += a0 * p[r];                                 \
            for (int r = 0; r < NR; r++) s1[r] += a1 * p[NR + r];                            \
            for (int r = 0; r < NR; r++) s2[r] += a2 * p[2 * NR + r];                        \
            for (int r = 0; r < NR; r++) s3[r] += a3 * p[3 * NR + r];                        \
        }                                                                                    \
        for (; q < kc; q++) {                                                                \
            const float a0 = a[q * as], *p = pan + q * NR;                                   \
            for (int r = 0; r < NR; r++) s0[r] += a0 * p[r];                                 \
        }                                                                                    \
        for (int r = 0; r < NR; r++) acc[r] += (s0[r] + s1[r]) + (s2[r] + s3[r]);            \
    }
GEMV_PANEL_DEFINE(gemv_panel_32, 32)
GEMV_PANEL_DEFINE(gemv_panel_16, 16)
GEMV_PANEL_DEFINE(gemv_panel_8, 8)

static void gemv_panel(int nr, const float *a, int64_t as, const float *pan, int64_t kc, float *acc)
{
    if (nr == 32) gemv_panel_32(a, as, pan, kc, acc);
    else if (nr == 16) gemv_panel_16(a, as, pan, kc, acc);
    else if (nr == 8) gemv_panel_8(a, as, pan, kc, acc);
    else
        for (int64_t q = 0; q < kc; q++)
            for (int r = 0; r < nr; r++) acc[r] += a[q * as] * pan[q * nr + r];
}

void onnx_gemm_gemv_packed(const onnx_gemm_args *g, int64_t p0, int64_t p1)
{
    const onnx_gemm_packed *pb = g->pb;
    const int nr = pb->r;
    /* element (i, p) of A: a[i * row + p * col] */
    const int64_t row = g->trans_a ? 1 : g->lda, col = g->trans_a ? g->lda : 1;
    float acc[ONNX_GEMM_MAX_NR];
    /* K blocks outer, panels inner: the packed B is read in its memory order, one pass; each
     * panel serves the few rows while in L1; C holds the sums between K blocks */
    for (int64_t pc = 0; pc < g->k; pc += ONNX_GEMM_KC) {
        const int64_t kc = g->k - pc < ONNX_GEMM_KC ? g->k - pc : ONNX_GEMM_KC;
        const int add = pc > 0 || g->accumulate;
        for (int64_t p = p0; p < p1; p++) {
            const int64_t j0 = p * nr, cols = g->n - j0 < nr ? g->n - j0 : nr;
            const float *pan = pb->data + pc * pb->padded + j0 * kc;
            for (int64_t i = 0; i < g->m; i++) {
                for (int r = 0; r < nr; r++) acc[r] = 0.0f;
                gemv_panel(nr, g->a + i * row + pc * col, col, pan, kc, acc);
                float *c = g->c + i * g->ldc + j0;
                if (add)
                    for (int64_t r = 0; r < cols; r++) c[r] += g->alpha * acc[r];
                else
                    for (int64_t r = 0; r < cols; r++) c[r] = g->alpha * acc[r];
            }
        }
    }
}
