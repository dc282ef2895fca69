/* Loss operators: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opsets 12/13), over
 * float32, float64 and float16 inputs, computed in double.
 *
 * Both take class scores of shape (N, C, d1.., dk) and integer targets (N, d1.., dk). The
 * per-element loss is -input[n][target][d] * weight[target] (weight 1 without the optional
 * weight input; 0 where target == ignore_index). reduction 'none' keeps the target's shape;
 * 'sum' adds everything; 'mean' divides the sum by the sum of the weights used (the element
 * count when unweighted), which is NaN when every element is ignored, as the reference does.
 * SoftmaxCrossEntropyLoss first takes log_softmax over the class axis and may also output it. */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_ops.h"
#include "tensor_util.h"

enum { LOSS_NONE, LOSS_SUM, LOSS_MEAN };

typedef struct loss_shape {
    int64_t n, c, d; /* batch, classes, product of the trailing dims */
} loss_shape;

static int loss_is_float(inferd_dtype t)
{
    return t == INFERD_DTYPE_FP32 || t == INFERD_DTYPE_FP64 || t == INFERD_DTYPE_FP16;
}

/* Checks scores (rank >= 2, float), target (integer, the scores' shape without C) and the
 * optional weight (C values of the scores' type); fills *s. */
static int loss_check(onnx_ctx *ctx, const onnx_tensor *x, const onnx_tensor *t,
                      const onnx_tensor *w, loss_shape *s)
{
    if (!x || !t) return onnx_ctx_fail(ctx, "needs inputs scores and target");
    if (!loss_is_float(x->dtype))
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    if (x->ndim < 2) return onnx_ctx_fail(ctx, "input rank %d, expected >= 2 (N, C, ...)", x->ndim);
    if (t->dtype != INFERD_DTYPE_INT32 && t->dtype != INFERD_DTYPE_INT64)
        return onnx_ctx_fail(ctx, "target must be int32 or int64, got %s",
                             inferd_dtype_name(t->dtype));
    if (t->ndim != x->ndim - 1 || t->dims[0] != x->dims[0])
        return onnx_ctx_fail(ctx, "target rank %d or batch does not match the input", t->ndim);
    for (int k = 1; k < t->ndim; k++)
        if (t->dims[k] != x->dims[k + 1])
            return onnx_ctx_fail(ctx, "target dim %d is %lld, input has %lld", k,
                                 (long long)t->dims[k], (long long)x->dims[k + 1]);
    s->n = x->dims[0];
    s->c = x->dims[1];
    s->d = onnx_tu_prod(x->dims, 2, x->ndim);
    if (w && (w->dtype != x->dtype || w->ndim != 1 || w->dims[0] != s->c))
        return onnx_ctx_fail(ctx, "weight must be 1-D with %lld values of the input's type",
                             (long long)s->c);
    return 0;
}

static int loss_reduction(onnx_ctx *ctx, int *out)
{
    const char *r = onnx_attr_string(onnx_ctx_node(ctx), "reduction", "mean");
    if (strcmp(r, "none") == 0) *out = LOSS_NONE;
    else if (strcmp(r, "sum") == 0) *out = LOSS_SUM;
    else if (strcmp(r, "mean") == 0) *out = LOSS_MEAN;
    else return onnx_ctx_fail(ctx, "reduction must be none, sum or mean, got '%s'", r);
    return 0;
}

/* The loss from log-probabilities lp (n x c x d doubles) into output 0 of type dtype. */
static int loss_nll(onnx_ctx *ctx, const double *lp, const loss_shape *s, const onnx_tensor *t,
                    const onnx_tensor *w, inferd_dtype dtype)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    int red = LOSS_MEAN;
    if (loss_reduction(ctx, &red) < 0) return -1;
    const int has_ii = onnx_node_attr(node, "ignore_index") != NULL;
    const int64_t ii = onnx_attr_int(node, "ignore_index", 0);
    onnx_tensor *y = red == LOSS_NONE ? onnx_ctx_output(ctx, 0, dtype, t->ndim, t->dims)
                                      : onnx_ctx_output(ctx, 0, dtype, 0, NULL);
    if (!y) return -1;
    double sum = 0.0, wsum = 0.0;
    for (int64_t i = 0; i < s->n; i++) {
        for (int64_t j = 0; j < s->d; j++) {
            const int64_t e = i * s->d + j;
            const int64_t cls = onnx_tensor_get_int(t, e);
            double l = 0.0, wt = 0.0;
            if (!(has_ii && cls == ii)) {
                if (cls < 0 || cls >= s->c)
                    return onnx_ctx_fail(ctx, "target %lld is not a class in [0, %lld)",
                                         (long long)cls, (long long)s->c);
                wt = w ? onnx_tu_load(w->data, w->dtype, cls) : 1.0;
                l = -lp[(i * s->c + cls) * s->d + j] * wt;
            }
            if (red == LOSS_NONE) onnx_tu_store(y->data, dtype, e, l);
            sum += l;
            wsum += wt;
        }
    }
    if (red == LOSS_SUM) onnx_tu_store(y->data, dtype, 0, sum);
    if (red == LOSS_MEAN) onnx_tu_store(y->data, dtype, 0, wsum != 0.0 ? sum / wsum : NAN);
    return 0;
}

/* n x c x d doubles: the input's element count, already bounded by the executor */
static double *loss_scratch(onnx_ctx *ctx, const onnx_tensor *x)
{
    size_t n;
    if (nn_mul_size((size_t)onnx_tensor_numel(x) + 1, sizeof(double), &n) != 0) {
        onnx_ctx_fail(ctx, "size overflows");
        return NULL;
    }
    return onnx_ctx_scratch(ctx, n);
}

int nn_nll_loss_run(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *t = onnx_ctx_input(ctx, 1);
    const onnx_tensor *w = onnx_ctx_input(ctx, 2);
    loss_shape s;
    if (loss_check(ctx, x, t, w, &s) < 0) return -1;
    double *lp = loss_scratch(ctx, x);
    if (!lp) return -1;
    const int64_t total = onnx_tensor_numel(x);
    for (int64_t i = 0; i < total; i++) lp[i] = onnx_tu_load(x->data, x->dtype, i);
    return loss_nll(ctx, lp, &s, t, w, x->dtype);
}

int nn_softmax_cross_entropy_run(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *t = onnx_ctx_input(ctx, 1);
    const onnx_tensor *w = onnx_ctx_input(ctx, 2);
    loss_shape s;
    if (loss_check(ctx, x, t, w, &s) < 0) return -1;
    double *lp = loss_scratch(ctx, x);
    if (!lp) return -1;
    /* log_softmax over the class axis: element (i, k, j) is at (i * c + k) * d + j */
    for (int64_t i = 0; i < s.n; i++) {
        for (int64_t j = 0; j < s.d; j++) {
            const int64_t base = i * s.c * s.d + j;
            double mx = -INFINITY, sum = 0.0;
            for (int64_t k = 0; k < s.c; k++) {
                double v = onnx_tu_load(x->data, x->dtype, base + k * s.d);
                lp[base + k * s.d] = v;
                if (v > mx) mx = v;
            }
            for (int64_t k = 0; k < s.c; k++) sum += exp(lp[base + k * s.d] - mx);
            const double lse = mx + log(sum);
            for (int64_t k = 0; k < s.c; k++) lp[base + k * s.d] -= lse;
        }
    }
    if (loss_nll(ctx, lp, &s, t, w, x->dtype) < 0) return -1;
    if (onnx_ctx_num_outputs(ctx) > 1 && onnx_ctx_output_wanted(ctx, 1)) {
        onnx_tensor *out = onnx_ctx_output(ctx, 1, x->dtype, x->ndim, x->dims);
        if (!out) return -1;
        const int64_t total = onnx_tensor_numel(x);
        for (int64_t i = 0; i < total; i++) onnx_tu_store(out->data, x->dtype, i, lp[i]);
    }
    return 0;
}
