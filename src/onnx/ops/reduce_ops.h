/* Private to the reduce family (src/onnx/ops/reduce*.c): the shared Reduce* driver and the
 * run functions the family table in reduce.c lists. */
#ifndef ONNX_OPS_REDUCE_OPS_H
#define ONNX_OPS_REDUCE_OPS_H

#include "../op.h"

enum {
    ONNX_REDUCE_SUM,
    ONNX_REDUCE_MEAN,
    ONNX_REDUCE_MAX,
    ONNX_REDUCE_MIN,
    ONNX_REDUCE_PROD,
    ONNX_REDUCE_L1,
    ONNX_REDUCE_L2,
    ONNX_REDUCE_LOGSUM,
    ONNX_REDUCE_LOGSUMEXP,
    ONNX_REDUCE_SUMSQUARE
};

/* Runs Reduce<kind> on the node's inputs (axes attribute or input 1). */
int onnx_reduce_run(onnx_ctx *ctx, int kind);

int onnx_run_argmax(onnx_ctx *ctx);
int onnx_run_argmin(onnx_ctx *ctx);

#endif
