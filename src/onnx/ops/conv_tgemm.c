/* A Conv's GEMM the other way round (see conv_tgemm.h): Y^T = im2col^T * W^T with the bias
 * per column in the GEMM's store, then Y from Y^T in 16 x 16 blocks, the residual and the
 * activation per output plane while it is in cache. */
#include "conv_tgemm.h"

#include <limits.h>

#include "nn_common.h"
#include "nn_gemm.h"
#include "nn_kernels.h"

/* The rule, measured on ResNet-18's 7x7 stage at batch 1 (gemm_bench, fastest call, one
 * thread: 512 x 49 x 4608 107 GFLOP/s as W * im2col, 130 as im2col^T * W^T): output channels
 * and K at least these. The narrow stages of a network are the ones with long K (channels x
 * taps); earlier, wider stages either have shorter K or run by Winograd, and at large
 * positions both orders are equally fast (the transposition pass then costs about 1/K of the
 * GEMM). */
#define TGEMM_MIN_M 256
#define TGEMM_MIN_K 2048

int nn_conv_tgemm_fits(int64_t m, int64_t kdim)
{
    return m >= TGEMM_MIN_M && kdim >= TGEMM_MIN_K;
}

/* y (m x n, rows ldy apart) = ct^T, ct being n x m (rows ldc apart). */
static void transpose_out(const float *ct, int64_t ldc, int64_t n, int64_t m, float *y, int64_t ldy)
{
    for (int64_t j0 = 0; j0 < m; j0 += 16)
        for (int64_t i0 = 0; i0 < n; i0 += 16) {
            const int64_t j1 = j0 + 16 < m ? j0 + 16 : m, i1 = i0 + 16 < n ? i0 + 16 : n;
            for (int64_t j = j0; j < j1; j++)
                for (int64_t i = i0; i < i1; i++) y[j * ldy + i] = ct[i * ldc + j];
        }
}

int nn_conv_tgemm(onnx_ctx *ctx, const float *col, int64_t ld, int64_t nb, int64_t out_size,
                  const onnx_gemm_packed *wt, int64_t m, int64_t kdim, const float *bias,
                  const float *res, float *y, const onnx_activation *act, float *ct)
{
    const int64_t rows = nb * out_size;
    if (rows > INT_MAX || m > INT_MAX || kdim > INT_MAX)
        return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    onnx_gemm_args g = {.m = rows,
                        .n = m,
                        .k = kdim,
                        .a = col,
                        .lda = ld,
                        .trans_a = 1,
                        .pb = wt,
                        .alpha = 1.0f,
                        .c = ct,
                        .ldc = m,
                        .col_bias = bias};
    if (nn_gemm_f32(ctx, &g) != 0) return -1;
    for (int64_t b = 0; b < nb; b++) {
        float *yb = y + b * m * out_size;
        transpose_out(ct + b * out_size * m, m, out_size, m, yb, out_size);
        for (int64_t mo = 0; mo < m; mo++) {
            float *yp = yb + mo * out_size;
            if (res) nn_k_add_vec(yp, res + b * m * out_size + mo * out_size, out_size);
            nn_activation_run(act, yp, out_size);
        }
    }
    return 0;
}
