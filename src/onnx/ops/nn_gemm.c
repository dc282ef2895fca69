/* nn_gemm_f32: our GEMM or OpenBLAS's for one call (see nn_gemm.h). OpenBLAS gets the same
 * epilogue as a pass over C after the product. With INFERD_GEMM_TRACE=FILE in the environment
 * every call appends "M N K const" to FILE (const: A, B or -, the operand packed at load), the
 * shapes bench/gemm's --shapes reads. */
#include "nn_gemm.h"

#include <cblas.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static FILE *nn_gemm_trace_file;
static pthread_once_t nn_gemm_trace_once = PTHREAD_ONCE_INIT;

static void nn_gemm_trace_open(void)
{
    const char *path = getenv("INFERD_GEMM_TRACE");
    if (path && *path) nn_gemm_trace_file = fopen(path, "a");
}

static void nn_gemm_trace(const onnx_gemm_args *g)
{
    pthread_once(&nn_gemm_trace_once, nn_gemm_trace_open);
    if (nn_gemm_trace_file)
        fprintf(nn_gemm_trace_file, "%lld %lld %lld %c\n", (long long)g->m, (long long)g->n,
                (long long)g->k,
                g->pa   ? 'A'
                : g->pb ? 'B'
                        : '-');
}

static int nn_gemm_blas(const onnx_gemm_args *gin)
{
    onnx_gemm_args f = *gin; /* a residual copied into C first: sgemm accumulates onto it */
    const onnx_gemm_args *g = &f;
    if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->lda > INT_MAX ||
        g->ldb > INT_MAX || g->ldc > INT_MAX)
        return -1;
    if (f.res) onnx_gemm_res_into_c(&f);
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
    nn_gemm_trace(g);
    if (nn_gemm_ours(g, pool)) {
        if (onnx_gemm_run(g, pool) != 0) return onnx_ctx_fail(ctx, "GEMM: out of memory");
        return 0;
    }
    if (nn_gemm_blas(g) != 0) return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    return 0;
}

int nn_gemm_f32_serial(const onnx_gemm_args *g)
{
    nn_gemm_trace(g);
    if (nn_gemm_ours(g, NULL)) return onnx_gemm_run(g, NULL);
    return nn_gemm_blas(g);
}
