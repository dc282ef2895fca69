/* Private to the nn family: the project 1x1 Conv fused into a depthwise Conv
 * (fuse_ir_project.c; the end of an inverted residual block), run per band of the depthwise
 * output's rows (conv_expand.c); after a whole depthwise Conv conv.c runs it as a 1x1 Conv. */
#ifndef ONNX_OPS_CONV_IR_BLOCK_H
#define ONNX_OPS_CONV_IR_BLOCK_H

#include "../gemm/gemm.h"
#include "../op.h"
#include "activation.h"

/* The 1x1 after the depthwise Conv: Y = act(W * D + bias + res). Borrowed pointers, owned by
 * the node's inputs, its state and the output tensor. */
typedef struct nn_ir_project {
    const float *w;             /* mp x m, row-major; or NULL when wp is set */
    const onnx_gemm_packed *wp; /* W packed at load as the GEMM's A, or NULL */
    const float *bias;          /* mp floats, or NULL */
    const float *res;           /* N x mp x out (Y's shape), or NULL */
    float *y;                   /* the block's output, N x mp x out */
    int64_t mp, m;              /* output channels; input (depthwise output) channels */
    onnx_activation act;
} nn_ir_project;

/* Fills pj from node's inputs 6, 7, 8 and inferd_project_* attributes, for a depthwise
 * output of m channels and dims[0..rank) = N x m x spatial; wp: the packed W from prepare or
 * NULL. pj->y is left NULL (the caller makes the output, mp channels); pj->w and pj->wp may
 * both be NULL (W dropped, packed otherwise: the caller supplies it). Returns 0, or -1 with
 * the error set (inputs that do not fit, a residual of another shape). */
int nn_ir_project_read(onnx_ctx *ctx, const onnx_node *node, const onnx_gemm_packed *wp, int64_t m,
                       int rank, const int64_t *dims, nn_ir_project *pj);

/* y (mp x cols, rows ld_y apart) = act(W * d (m x cols, contiguous rows) + bias + res (rows
 * ld_y apart, or NULL)). Returns 0 or -1 (error set). */
int nn_ir_project_rows(onnx_ctx *ctx, const nn_ir_project *pj, const float *d, int64_t cols,
                       float *y, int64_t ld_y, const float *res);

#endif
