/* The broadcasting rules of the elementwise operators before opset 7 (8 for the variadic
 * ones), so that old models run with the semantics they were written for.
 *
 * Binary ops (Add Sub Mul Div Pow, comparisons, logic) before opset 7: without broadcast=1
 * both shapes must be equal. With it, B is either a single element or its shape is a
 * contiguous run of A's shape starting at `axis` (by default the trailing dims); the output
 * has A's shape. Numpy broadcasting differs from that (B (3) against A (3, 4) with axis=0 is
 * valid here and not there), so B is viewed with A's rank before the ordinary broadcast loop.
 * PRelu before opset 7 applies a 1-D slope per channel (axis 1). Min Max Sum Mean before
 * opset 8 take equally shaped inputs. */
#include "ew_legacy.h"

#include <string.h>

#include "ew_engine.h"

static int same_shape(const onnx_tensor *a, const onnx_tensor *b)
{
    if (a->ndim != b->ndim) return 0;
    for (int k = 0; k < a->ndim; k++)
        if (a->dims[k] != b->dims[k]) return 0;
    return 1;
}

static int fail_shapes(onnx_ctx *ctx, const onnx_tensor *a, const onnx_tensor *b, const char *why)
{
    char sa[96], sb[96];
    ew_shape_str(a, sa, sizeof sa);
    ew_shape_str(b, sb, sizeof sb);
    return onnx_ctx_fail(ctx, "input shapes %s and %s: %s", sa, sb, why);
}

int ew_binary_operands(onnx_ctx *ctx, const onnx_tensor *in[2], onnx_tensor *b_view)
{
    in[0] = onnx_ctx_input(ctx, 0);
    in[1] = onnx_ctx_input(ctx, 1);
    if (!in[0] || !in[1]) return onnx_ctx_fail(ctx, "missing input %d", in[0] ? 1 : 0);
    const onnx_node *node = onnx_ctx_node(ctx);
    if (node->opset >= 7) return 0;
    const onnx_tensor *a = in[0], *b = in[1];
    int64_t bc = onnx_attr_int(node, "broadcast", 0);
    if (bc != 0 && bc != 1) return onnx_ctx_fail(ctx, "broadcast must be 0 or 1");
    if (bc == 0) {
        if (!same_shape(a, b)) return fail_shapes(ctx, a, b, "differ and broadcast is not set");
        return 0;
    }
    *b_view = *b;
    if (onnx_tensor_numel(b) == 1) { /* a scalar or any one-element tensor */
        b_view->ndim = 0;
        in[1] = b_view;
        return 0;
    }
    if (b->ndim > a->ndim) return fail_shapes(ctx, a, b, "B has a higher rank than A");
    int64_t axis = onnx_attr_int(node, "axis", a->ndim - b->ndim);
    if (axis < 0) axis += a->ndim; /* not in the old spec, but unambiguous */
    if (axis < 0 || axis > a->ndim - b->ndim)
        return fail_shapes(ctx, a, b, "axis does not place B inside A");
    b_view->ndim = a->ndim;
    for (int k = 0; k < a->ndim; k++) {
        int64_t d = (k >= axis && k < axis + b->ndim) ? b->dims[k - axis] : 1;
        if (d != 1 && d != a->dims[k]) return fail_shapes(ctx, a, b, "B does not match A at axis");
        b_view->dims[k] = d;
    }
    in[1] = b_view;
    return 0;
}

int ew_legacy_prelu_slope(onnx_ctx *ctx, const onnx_tensor *x, const onnx_tensor **slope,
                          onnx_tensor *view)
{
    const onnx_tensor *s = *slope;
    *view = *s;
    if (onnx_tensor_numel(s) == 1) {
        view->ndim = 0;
    } else if (s->ndim == 1 && x->ndim >= 2 && s->dims[0] == x->dims[1]) {
        view->ndim = x->ndim; /* (1, C, 1, ...): one slope per channel */
        for (int k = 0; k < x->ndim; k++) view->dims[k] = k == 1 ? s->dims[0] : 1;
    } else if (same_shape(s, x)) {
        return 0;
    } else {
        return fail_shapes(ctx, x, s, "slope must have one value or one per channel");
    }
    *slope = view;
    return 0;
}

int ew_legacy_check_same_shapes(onnx_ctx *ctx, int n)
{
    const onnx_tensor *first = onnx_ctx_input(ctx, 0);
    for (int k = 1; k < n; k++) {
        const onnx_tensor *t = onnx_ctx_input(ctx, k);
        if (first && t && !same_shape(first, t))
            return fail_shapes(ctx, first, t, "differ (no broadcasting before opset 8)");
    }
    return 0;
}
