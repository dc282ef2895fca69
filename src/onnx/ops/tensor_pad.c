/* Pad: constant, reflect, edge and wrap modes (attributes before opset 11, inputs after;
 * negative pads crop). Each axis gets a table from output to source index (-1 = constant). */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

/* Source index for output index o on an axis of size d padded by `before`; -1 = constant. */
static int64_t pad_source(int64_t o, int64_t before, int64_t d, int mode)
{
    int64_t i = o - before;
    if (i >= 0 && i < d) return i;
    if (mode == PAD_CONSTANT || d == 0) return -1;
    if (mode == PAD_EDGE) return i < 0 ? 0 : d - 1;
    if (mode == PAD_WRAP) return ((i % d) + d) % d;
    if (d == 1) return 0;
    int64_t period = 2 * (d - 1);
    i = ((i % period) + period) % period;
    return i < d ? i : period - i;
}

int onnx_run_pad(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    const onnx_node *node = onnx_ctx_node(ctx);
    const char *ms = onnx_attr_string(node, "mode", "constant");
    int mode = !strcmp(ms, "constant")  ? PAD_CONSTANT
               : !strcmp(ms, "reflect") ? PAD_REFLECT
               : !strcmp(ms, "edge")    ? PAD_EDGE
               : !strcmp(ms, "wrap")    ? PAD_WRAP
                                        : -1;
    if (mode < 0) return onnx_ctx_fail(ctx, "unknown mode '%s'", ms);
    int r = x->ndim, n;
    int64_t pads[2 * ONNX_MAX_DIMS], all[2 * ONNX_MAX_DIMS] = {0};
    unsigned char value[8] = {0};
    const onnx_tensor *tp = onnx_ctx_input(ctx, 1);
    if (node->opset < 11 || !tp) {
        const int64_t *p;
        n = onnx_attr_ints(node, node->opset < 2 ? "paddings" : "pads", &p);
        if (n < 0) return onnx_ctx_fail(ctx, "missing pads");
        if (n > 2 * ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "too many pads");
        memcpy(pads, p, (size_t)n * sizeof *p);
        onnx_tu_store(value, x->dtype, 0, onnx_attr_float(node, "value", 0.0f));
    } else {
        if (onnx_tu_read_ints(ctx, tp, "pads", pads, 2 * ONNX_MAX_DIMS, &n) < 0) return -1;
        const onnx_tensor *cv = onnx_ctx_input(ctx, 2);
        if (cv && onnx_tensor_numel(cv) > 0) {
            if (cv->dtype != x->dtype) return onnx_ctx_fail(ctx, "constant_value type differs");
            memcpy(value, cv->data, es);
        }
    }
    const onnx_tensor *ta = onnx_ctx_input(ctx, 3);
    int64_t axes[ONNX_MAX_DIMS];
    int na = r;
    if (ta) {
        if (onnx_tu_read_ints(ctx, ta, "axes", axes, ONNX_MAX_DIMS, &na) < 0 ||
            onnx_tu_axes(ctx, axes, na, r) < 0)
            return -1;
    } else {
        for (int k = 0; k < r; k++) axes[k] = k;
    }
    if (n != 2 * na) return onnx_ctx_fail(ctx, "%d pads for %d axes", n, na);
    for (int i = 0; i < na; i++) {
        all[axes[i]] = pads[i];
        all[axes[i] + r] = pads[i + na];
    }
    int64_t dims[ONNX_MAX_DIMS], total = 0;
    for (int k = 0; k < r; k++) {
        int64_t d;
        if (__builtin_add_overflow(x->dims[k], all[k], &d) ||
            __builtin_add_overflow(d, all[k + r], &d) || d < 0)
            return onnx_ctx_fail(ctx, "bad pads on axis %d", k);
        if (mode != PAD_CONSTANT && x->dims[k] == 0 && d > 0)
            return onnx_ctx_fail(ctx, "cannot %s-pad an empty axis", ms);
        dims[k] = d;
        total += d;
    }
    int none = 1; /* no pads at all (DenseNet's before each AveragePool): a view of X */
    for (int k = 0; k < 2 * r; k++)
        if (all[k]) none = 0;
    if (none) {
        if (!onnx_ctx_output_wanted(ctx, 0)) return 0;
        return onnx_ctx_alias_output(ctx, 0, 0, r, dims) ? 0 : -1;
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    int64_t numel = onnx_tensor_numel(y);
    if (numel == 0) return 0;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return 0;
    }
    /* total <= numel * r here since no dim is 0, so the table is small. */
    int64_t *map = onnx_ctx_scratch(ctx, (size_t)total * sizeof *map), *mk[ONNX_MAX_DIMS];
    if (!map) return -1;
    int64_t xs[ONNX_MAX_DIMS], c[ONNX_MAX_DIMS] = {0};
    onnx_tensor_strides(x, xs);
    int64_t off = 0;
    for (int k = 0; k < r; off += dims[k], k++) {
        mk[k] = map + off;
        for (int64_t o = 0; o < dims[k]; o++) mk[k][o] = pad_source(o, all[k], x->dims[k], mode);
    }
    char *out = y->data;
    const char *src = x->data;
    int64_t last = dims[r - 1];
    /* output columns [lo, hi) of a row inside X are one contiguous run of X's row */
    const int64_t lo = all[r - 1] < 0 ? 0 : all[r - 1] > last ? last : all[r - 1];
    int64_t hi = all[r - 1] + x->dims[r - 1];
    hi = hi < lo ? lo : hi > last ? last : hi;
    for (int64_t done = 0; done < numel; done += last) {
        int64_t base = 0;
        int outside = 0;
        for (int k = 0; k < r - 1; k++) {
            if (mk[k][c[k]] < 0) outside = 1;
            else base += mk[k][c[k]] * xs[k];
        }
        for (int64_t o = 0; o < last; o++, out += es) {
            if (o == lo && !outside && hi > lo) {
                memcpy(out, src + (base + mk[r - 1][o]) * (int64_t)es, (size_t)(hi - lo) * es);
                out += (hi - lo - 1) * (int64_t)es;
                o = hi - 1;
                continue;
            }
            int64_t s = outside ? -1 : mk[r - 1][o];
            memcpy(out, s < 0 ? (const char *)value : src + (base + s) * (int64_t)es, es);
        }
        for (int k = r - 2; k >= 0; k--) {
            if (++c[k] < dims[k]) break;
            c[k] = 0;
        }
    }
    return 0;
}
