/* The project 1x1 Conv of an inverted residual block, fused into its depthwise Conv
 * (fuse_ir_project.c): one GEMM per band of depthwise rows, or per image (conv_ir_block.h). */
#include <string.h>

#include "conv_ir_block.h"
#include "nn_common.h"
#include "nn_gemm.h"

int nn_ir_project_read(onnx_ctx *ctx, const onnx_node *node, const onnx_gemm_packed *wp, int64_t m,
                       int rank, const int64_t *dims, nn_ir_project *pj)
{
    const onnx_tensor *w = onnx_ctx_input(ctx, 6), *b = onnx_ctx_input(ctx, 7);
    const onnx_tensor *r = onnx_ctx_input(ctx, 8);
    if (!w || w->dtype != INFERD_DTYPE_FP32 || w->ndim != 4 || w->dims[1] != m || w->dims[2] != 1 ||
        w->dims[3] != 1 || rank < 2 || dims[1] != m ||
        (b && (b->dtype != INFERD_DTYPE_FP32 || b->ndim != 1 || b->dims[0] != w->dims[0])))
        return onnx_ctx_fail(ctx, "fused project 1x1 Conv: inputs do not fit");
    const int64_t mp = w->dims[0];
    if (r) {
        int same = r->dtype == INFERD_DTYPE_FP32 && r->ndim == rank;
        for (int i = 0; same && i < rank; i++) same = r->dims[i] == (i == 1 ? mp : dims[i]);
        if (!same) return onnx_ctx_fail(ctx, "fused project 1x1 Conv: residual of another shape");
    }
    if (onnx_activation_from_attrs(node, "inferd_project_activation", "inferd_project_alpha",
                                   "inferd_project_beta", &pj->act) != 0)
        return onnx_ctx_fail(ctx, "fused project 1x1 Conv: unknown activation");
    pj->wp = onnx_gemm_packed_fits(wp, 1, m, mp) ? wp : NULL;
    pj->w = w->data; /* NULL when the model dropped it for a packed copy */
    pj->bias = b ? b->data : NULL;
    pj->res = r ? r->data : NULL;
    pj->y = NULL;
    pj->mp = mp;
    pj->m = m;
    return 0;
}

int nn_ir_project_rows(onnx_ctx *ctx, const nn_ir_project *pj, const float *d, int64_t cols,
                       float *y, int64_t ld_y, const float *res)
{
    if (cols <= 0 || pj->mp <= 0) return 0;
    /* the residual is written in first and the GEMM accumulates onto it (the store adds the
     * bias and applies the activation after the sum) */
    if (res)
        for (int64_t i = 0; i < pj->mp; i++)
            memcpy(y + i * ld_y, res + i * ld_y, (size_t)cols * sizeof(float));
    onnx_gemm_args g = {.m = pj->mp,
                        .n = cols,
                        .k = pj->m,
                        .a = pj->w,
                        .lda = pj->m,
                        .pa = pj->wp,
                        .b = d,
                        .ldb = cols,
                        .alpha = 1.0f,
                        .c = y,
                        .ldc = ld_y,
                        .accumulate = res != NULL,
                        .row_bias = pj->bias,
                        .act = pj->act};
    return nn_gemm_f32(ctx, &g);
}
