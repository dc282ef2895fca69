/* nn_gemm_f32: our GEMM or OpenBLAS's for one call (see nn_gemm.h). OpenBLAS gets the same
 * epilogue as a pass over C after the product. */
#include "nn_gemm.h"

#include <cblas.h>
#include <limits.h>

static int nn_gemm_blas(const onnx_gemm_args *g)
{
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->lda > INT_MAX ||
        g->ldb > INT_MAX || g->ldc > INT_MAX)
        return -1;
    if (g->k > 0)
        cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                    g->trans_b ? CblasTrans : CblasNoTrans, (int)g->m, (int)g->n, (int)g->k,
                    g->alpha, g->a, (int)g->lda, g->b, (int)g->ldb, g->accumulate ? 1.0f : 0.0f,
                    g->c, (int)g->ldc);
    if (g->k > 0 && !g->row_bias && !g->col_bias && g->act.kind == ONNX_ACT_NONE) return 0;
    /* the epilogue, or k = 0: our GEMM does both without a product */
    onnx_gemm_args e = *g;
    e.k = 0;
    e.accumulate = g->k > 0 || g->accumulate;
    return onnx_gemm_run(&e, NULL);
}

static int nn_gemm_ours(const onnx_gemm_args *g, onnx_tpool *pool)
{
    return g->pa || g->pb || pool || onnx_gemm_prefer(g->m, g->n, g->k, 0);
}

int nn_gemm_f32(onnx_ctx *ctx, const onnx_gemm_args *g)
{
    onnx_tpool *pool = onnx_ctx_tpool(ctx);
    if (nn_gemm_ours(g, pool)) {
        if (onnx_gemm_run(g, pool) != 0) return onnx_ctx_fail(ctx, "GEMM: out of memory");
        return 0;
    }
    if (nn_gemm_blas(g) != 0) return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    return 0;
}

int nn_gemm_f32_serial(const onnx_gemm_args *g)
{
    if (nn_gemm_ours(g, NULL)) return onnx_gemm_run(g, NULL);
    return nn_gemm_blas(g);
}
