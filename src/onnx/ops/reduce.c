/* The reduce operator family: the Reduce* operators and ArgMax/ArgMin. Each entry covers
 * every opset from 1 on; axes move from attribute to input at ReduceSum-13 (others at 18)
 * and the run function accepts either. */
#include "../registry.h"
#include "reduce_ops.h"

#define REDUCE_RUN(fn, kind)               \
    static int fn(onnx_ctx *ctx)           \
    {                                      \
        return onnx_reduce_run(ctx, kind); \
    }

REDUCE_RUN(run_sum, ONNX_REDUCE_SUM)
REDUCE_RUN(run_mean, ONNX_REDUCE_MEAN)
REDUCE_RUN(run_max, ONNX_REDUCE_MAX)
REDUCE_RUN(run_min, ONNX_REDUCE_MIN)
REDUCE_RUN(run_prod, ONNX_REDUCE_PROD)
REDUCE_RUN(run_l1, ONNX_REDUCE_L1)
REDUCE_RUN(run_l2, ONNX_REDUCE_L2)
REDUCE_RUN(run_logsum, ONNX_REDUCE_LOGSUM)
REDUCE_RUN(run_logsumexp, ONNX_REDUCE_LOGSUMEXP)
REDUCE_RUN(run_sumsquare, ONNX_REDUCE_SUMSQUARE)

static const onnx_op reduce_ops[] = {
    {"ReduceSum", 1, NULL, run_sum, NULL},
    {"ReduceMean", 1, NULL, run_mean, NULL},
    {"ReduceMax", 1, NULL, run_max, NULL},
    {"ReduceMin", 1, NULL, run_min, NULL},
    {"ReduceProd", 1, NULL, run_prod, NULL},
    {"ReduceL1", 1, NULL, run_l1, NULL},
    {"ReduceL2", 1, NULL, run_l2, NULL},
    {"ReduceLogSum", 1, NULL, run_logsum, NULL},
    {"ReduceLogSumExp", 1, NULL, run_logsumexp, NULL},
    {"ReduceSumSquare", 1, NULL, run_sumsquare, NULL},
    {"ArgMax", 1, NULL, onnx_run_argmax, NULL},
    {"ArgMin", 1, NULL, onnx_run_argmin, NULL},
};

const onnx_op *onnx_ops_reduce(size_t *count)
{
    *count = sizeof reduce_ops / sizeof reduce_ops[0];
    return reduce_ops;
}
