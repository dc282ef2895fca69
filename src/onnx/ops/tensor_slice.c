/* Slice (attributes before opset 10, inputs from 10 on, with steps): numpy-style clamped
 * ranges turned into one strided copy. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

static int slice_params(onnx_ctx *ctx, int64_t *starts, int64_t *ends, int64_t *axes,
                        int64_t *steps, int *n, int rank)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    int ne, na = -1, nst = -1;
    if (node->opset < 10) {
        const int64_t *s, *e, *a;
        *n = onnx_attr_ints(node, "starts", &s);
        ne = onnx_attr_ints(node, "ends", &e);
        if (*n < 0 || ne < 0) return onnx_ctx_fail(ctx, "missing starts or ends");
        if (*n > ONNX_MAX_DIMS || ne > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "too many starts");
        memcpy(starts, s, (size_t)*n * sizeof *s);
        memcpy(ends, e, (size_t)ne * sizeof *e);
        na = onnx_attr_ints(node, "axes", &a);
        if (na > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "too many axes");
        if (na > 0) memcpy(axes, a, (size_t)na * sizeof *a);
    } else {
        const onnx_tensor *ts = onnx_ctx_input(ctx, 1), *te = onnx_ctx_input(ctx, 2);
        const onnx_tensor *ta = onnx_ctx_input(ctx, 3), *tst = onnx_ctx_input(ctx, 4);
        if (!ts || !te) return onnx_ctx_fail(ctx, "missing starts or ends");
        if (onnx_tu_read_ints(ctx, ts, "starts", starts, ONNX_MAX_DIMS, n) < 0 ||
            onnx_tu_read_ints(ctx, te, "ends", ends, ONNX_MAX_DIMS, &ne) < 0)
            return -1;
        if (ta && onnx_tu_read_ints(ctx, ta, "axes", axes, ONNX_MAX_DIMS, &na) < 0) return -1;
        if (tst && onnx_tu_read_ints(ctx, tst, "steps", steps, ONNX_MAX_DIMS, &nst) < 0) return -1;
    }
    if (ne != *n) return onnx_ctx_fail(ctx, "%d starts but %d ends", *n, ne);
    if (na >= 0 && na != *n) return onnx_ctx_fail(ctx, "%d starts but %d axes", *n, na);
    if (nst >= 0 && nst != *n) return onnx_ctx_fail(ctx, "%d starts but %d steps", *n, nst);
    if (na < 0) {
        if (*n > rank) return onnx_ctx_fail(ctx, "%d starts for rank %d", *n, rank);
        for (int i = 0; i < *n; i++) axes[i] = i;
    }
    if (nst < 0)
        for (int i = 0; i < *n; i++) steps[i] = 1;
    return onnx_tu_axes(ctx, axes, *n, rank);
}

int onnx_run_slice(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    int r = x->ndim, n;
    int64_t starts[ONNX_MAX_DIMS], ends[ONNX_MAX_DIMS], axes[ONNX_MAX_DIMS], steps[ONNX_MAX_DIMS];
    if (slice_params(ctx, starts, ends, axes, steps, &n, r) < 0) return -1;

    int64_t xs[ONNX_MAX_DIMS], dims[ONNX_MAX_DIMS], strides[ONNX_MAX_DIMS], offset = 0;
    onnx_tensor_strides(x, xs);
    for (int k = 0; k < r; k++) {
        dims[k] = x->dims[k];
        strides[k] = xs[k];
    }
    for (int i = 0; i < n; i++) {
        int k = (int)axes[i];
        int64_t d = x->dims[k], s = starts[i], e = ends[i], st = steps[i], len;
        if (st == 0) return onnx_ctx_fail(ctx, "step is 0 on axis %d", k);
        if (s < 0) s += d;
        if (e < 0) e += d;
        if (st > 0) {
            s = s < 0 ? 0 : s > d ? d : s;
            e = e < 0 ? 0 : e > d ? d : e;
            len = e > s ? (e - s - 1) / st + 1 : 0;
        } else {
            /* numpy semantics (what the ONNX reference computes): a start before the
             * first element selects nothing when stepping backwards */
            s = s < 0 ? -1 : s > d - 1 ? d - 1 : s;
            e = e < -1 ? -1 : e > d - 1 ? d - 1 : e;
            uint64_t ast = (uint64_t)0 - (uint64_t)st;
            len = s > e ? (int64_t)((uint64_t)(s - e - 1) / ast) + 1 : 0;
        }
        dims[k] = len;
        if (len > 0) offset += s * xs[k];
        strides[k] = len > 1 ? xs[k] * st : 0;
    }
    /* a contiguous run of X (the leading dims 1 or whole, the rest step 1; Swin's roll along
     * its rows at batch 1): a view of it */
    int64_t run = 1, numel = 1;
    for (int k = r - 1; k >= 0 && run; k--) {
        if (dims[k] > 1 && strides[k] != run) run = 0;
        run *= dims[k];
        numel *= dims[k];
    }
    if (run && numel > 0) {
        if (!onnx_ctx_output_wanted(ctx, 0)) return 0;
        return onnx_ctx_alias_output_at(ctx, 0, 0, r, dims, offset) ? 0 : -1;
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    onnx_tu_copy_strided(y->data, x->data, r, dims, strides, offset, es);
    return 0;
}
