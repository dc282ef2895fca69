/* MatMul whose fused output transpose moves the last axis to axis 1 (fuse_cfirst.c: a
 * channels-last MLP writing back a channels-first tensor, ConvNeXt's block end). With B^T
 * packed at load as the GEMM's A operand, each image n is one GEMM
 *   Z_n (C x P) = B^T (C x K) * X_n^T (P x K, read in place as a transposed B operand),
 * P the image's positions, the bias per row of Z_n: the result lands channels-first with no
 * transpose pass. When X itself is channels-first, read as channels-last through a fused
 * input transpose (inferd_perm_a [0, 2, ..., r-1, 1]), X_n is already K x P: a 1x1
 * convolution, B read as it is. */
#include "nn_gemm.h"
#include "matmul_cfirst.h"

int nn_matmul_is_cfirst_perm(const int64_t *p, int r)
{
    if (r < 3 || p[0] != 0 || p[1] != r - 1) return 0;
    for (int i = 2; i < r; i++)
        if (p[i] != i - 1) return 0;
    return 1;
}

int nn_matmul_is_clast_perm(const int64_t *p, int r)
{
    if (r < 3 || p[0] != 0 || p[r - 1] != 1) return 0;
    for (int i = 1; i < r - 1; i++)
        if (p[i] != i + 1) return 0;
    return 1;
}

int nn_matmul_cfirst(onnx_ctx *ctx, const onnx_gemm_packed *bt, int64_t c, const onnx_tensor *x,
                     int x_cfirst, const float *bias, float alpha, const onnx_activation *act,
                     float *z, int accumulate)
{
    const int r = x->ndim;
    if (r < 3) return onnx_ctx_fail(ctx, "channels-first MatMul needs rank >= 3");
    const int64_t n_img = x->dims[0], k = x->dims[x_cfirst ? 1 : r - 1];
    int64_t pos = 1;
    for (int i = x_cfirst ? 2 : 1; i < (x_cfirst ? r : r - 1); i++) pos *= x->dims[i];
    if (!onnx_gemm_packed_fits(bt, 1, k, c)) return onnx_ctx_fail(ctx, "inner dims differ");
    const float *xd = x->data;
    for (int64_t i = 0; i < n_img; i++) {
        onnx_gemm_args g = {.m = c,
                            .n = pos,
                            .k = k,
                            .pa = bt,
                            .b = xd + i * pos * k,
                            .ldb = x_cfirst ? pos : k,
                            .trans_b = !x_cfirst,
                            .alpha = alpha,
                            .c = z + i * c * pos,
                            .ldc = pos,
                            .accumulate = accumulate,
                            .row_bias = bias,
                            .act = *act};
        if (nn_gemm_f32(ctx, &g) != 0) return -1;
    }
    return 0;
}
