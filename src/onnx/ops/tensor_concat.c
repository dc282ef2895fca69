/* Concat and Split: joining and cutting tensors along one axis (outer x axis x inner blocks). */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

int onnx_run_concat(onnx_ctx *ctx)
{
    int n = onnx_ctx_num_inputs(ctx);
    const onnx_tensor *x0 = onnx_ctx_input(ctx, 0);
    if (n < 1 || !x0) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x0);
    if (!es) return -1;
    const onnx_node *node = onnx_ctx_node(ctx);
    if (!onnx_node_attr(node, "axis") && node->opset >= 4)
        return onnx_ctx_fail(ctx, "missing axis");
    int r = x0->ndim, axis;
    if (r == 0) return onnx_ctx_fail(ctx, "cannot concatenate scalars");
    if (onnx_tu_axis(ctx, onnx_attr_int(node, "axis", 1), r, &axis) < 0) return -1;
    int64_t dims[ONNX_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof dims);
    dims[axis] = 0;
    for (int i = 0; i < n; i++) {
        const onnx_tensor *t = onnx_ctx_input(ctx, i);
        if (!t) return onnx_ctx_fail(ctx, "input %d missing", i);
        if (t->dtype != x0->dtype || t->ndim != r)
            return onnx_ctx_fail(ctx, "input %d type or rank differs from input 0", i);
        for (int k = 0; k < r; k++)
            if (k != axis && t->dims[k] != x0->dims[k])
                return onnx_ctx_fail(ctx, "input %d dim %d is %lld, expected %lld", i, k,
                                     (long long)t->dims[k], (long long)x0->dims[k]);
        if (__builtin_add_overflow(dims[axis], t->dims[axis], &dims[axis]))
            return onnx_ctx_fail(ctx, "output too large");
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x0->dtype, r, dims);
    if (!y) return -1;
    int64_t outer = onnx_tu_prod(dims, 0, axis), inner = onnx_tu_prod(dims, axis + 1, r);
    int64_t row = dims[axis] * inner * (int64_t)es;
    if (row == 0 || outer == 0) return 0;
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        const onnx_tensor *t = onnx_ctx_input(ctx, i);
        int64_t bytes = t->dims[axis] * inner * (int64_t)es;
        /* already in its slot: the producer wrote into this Concat's buffer (place.c) */
        if (bytes == 0 || (outer == 1 && (const char *)t->data == (char *)y->data + off)) {
            off += bytes;
            continue;
        }
        for (int64_t o = 0; o < outer; o++)
            memcpy((char *)y->data + o * row + off, (const char *)t->data + o * bytes,
                   (size_t)bytes);
        off += bytes;
    }
    return 0;
}

int onnx_run_split(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    const onnx_node *node = onnx_ctx_node(ctx);
    int nout = onnx_ctx_num_outputs(ctx), axis;
    if (nout < 1 || nout > 4096) return onnx_ctx_fail(ctx, "bad output count %d", nout);
    if (onnx_tu_axis(ctx, onnx_attr_int(node, "axis", 0), x->ndim, &axis) < 0) return -1;
    int64_t *split = onnx_ctx_scratch(ctx, (size_t)nout * sizeof *split);
    if (!split) return -1;
    int64_t d = x->dims[axis];
    const onnx_tensor *st = onnx_ctx_input(ctx, 1);
    const int64_t *sa;
    int ns = onnx_attr_ints(node, "split", &sa);
    if (st && onnx_tensor_numel(st) > 0) {
        if (st->ndim != 1 || onnx_tensor_numel(st) != nout)
            return onnx_ctx_fail(ctx, "split has %lld values for %d outputs",
                                 (long long)onnx_tensor_numel(st), nout);
        for (int i = 0; i < nout; i++) split[i] = onnx_tensor_get_int(st, i);
    } else if (ns > 0) {
        if (ns != nout) return onnx_ctx_fail(ctx, "split has %d values for %d outputs", ns, nout);
        memcpy(split, sa, (size_t)ns * sizeof *split);
    } else {
        int64_t num = onnx_attr_int(node, "num_outputs", nout);
        if (num != nout)
            return onnx_ctx_fail(ctx, "num_outputs %lld but %d outputs", (long long)num, nout);
        int64_t chunk = (d + nout - 1) / nout;
        if (d % nout != 0 && !onnx_node_attr(node, "num_outputs"))
            return onnx_ctx_fail(ctx, "dim %lld not divisible into %d outputs", (long long)d, nout);
        for (int i = 0; i < nout; i++) {
            int64_t left = d - chunk * i;
            split[i] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
    }
    int64_t sum = 0;
    for (int i = 0; i < nout; i++) {
        if (split[i] < 0 || split[i] > d) return onnx_ctx_fail(ctx, "bad split value");
        sum += split[i];
    }
    if (sum != d)
        return onnx_ctx_fail(ctx, "split sums to %lld, dim is %lld", (long long)sum, (long long)d);
    int64_t outer = onnx_tu_prod(x->dims, 0, axis),
            inner = onnx_tu_prod(x->dims, axis + 1, x->ndim);
    int64_t row = d * inner * (int64_t)es, off = 0;
    for (int i = 0; i < nout; i++) {
        int64_t dims[ONNX_MAX_DIMS];
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = split[i];
        onnx_tensor *y = onnx_ctx_output(ctx, i, x->dtype, x->ndim, dims);
        if (!y) {
            if (onnx_ctx_output_wanted(ctx, i)) return -1;
        }
        int64_t bytes = split[i] * inner * (int64_t)es;
        if (y && bytes > 0)
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)y->data + o * bytes, (const char *)x->data + o * row + off,
                       (size_t)bytes);
        off += bytes;
    }
    return 0;
}
