/* Helpers of the control family: subgraph attributes, values kept across subgraph runs, and
 * per-iteration outputs stacked into one tensor. */
#include <stdlib.h>
#include <string.h>

#include "../exec.h"
#include "../seq.h"
#include "control_ops.h"

const struct onnx_model *ctl_graph_attr(onnx_ctx *ctx, const char *name)
{
    const onnx_attr *a = onnx_node_attr(onnx_ctx_node(ctx), name);
    if (!a || a->type != ONNX_ATTR_GRAPH || !a->g) {
        onnx_ctx_fail(ctx, "graph attribute '%s' is missing", name);
        return NULL;
    }
    return a->g;
}

int ctl_item_keep(onnx_ctx *ctx, const onnx_item *in, onnx_item *out)
{
    *out = *in;
    if (in->kind == ONNX_ITEM_SEQUENCE) {
        onnx_seq_ref(in->seq);
    } else if (in->kind == ONNX_ITEM_TENSOR) {
        size_t nb = onnx_tensor_nbytes(&in->t);
        out->t.data = NULL;
        if (nb && !(out->t.data = malloc(nb)))
            return onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
        if (nb) memcpy(out->t.data, in->t.data, nb);
    }
    return 0;
}

void ctl_item_drop(onnx_item *it)
{
    if (it->kind == ONNX_ITEM_SEQUENCE) onnx_seq_unref(it->seq);
    else if (it->kind == ONNX_ITEM_TENSOR) free(it->t.data);
    memset(it, 0, sizeof *it);
    it->kind = ONNX_ITEM_NONE;
}

int ctl_stack_push(onnx_ctx *ctx, ctl_stack *s, const onnx_tensor *t, const char *what)
{
    if (t->dtype == INFERD_DTYPE_BYTES)
        return onnx_ctx_unsupported(ctx, "%s: string tensors cannot be stacked", what);
    const size_t nb = onnx_tensor_nbytes(t);
    if (s->n > 0) {
        const onnx_tensor *f = &s->items[0];
        int same = f->dtype == t->dtype && f->ndim == t->ndim;
        for (int k = 0; same && k < t->ndim; k++) same = f->dims[k] == t->dims[k];
        if (!same) return onnx_ctx_fail(ctx, "%s: the iterations give different shapes", what);
    }
    if (nb > ONNX_MAX_TENSOR_BYTES - s->bytes)
        return onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "%s: stacked output too large", what);
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 16;
        onnx_tensor *items = realloc(s->items, (size_t)cap * sizeof *items);
        if (!items) return onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
        s->items = items;
        s->cap = cap;
    }
    onnx_tensor c = *t;
    c.data = NULL;
    if (nb && !(c.data = malloc(nb))) return onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    if (nb) memcpy(c.data, t->data, nb);
    s->items[s->n++] = c;
    s->bytes += nb;
    return 0;
}

int ctl_stack_output(onnx_ctx *ctx, int i, const ctl_stack *s, int64_t axis, int reverse,
                     inferd_dtype info_dtype, int info_ndim, const int64_t *info_dims)
{
    int64_t dims[ONNX_MAX_DIMS];
    if (s->n == 0) {
        if (info_dtype == INFERD_DTYPE_INVALID)
            return onnx_ctx_unsupported(ctx, "output %d: no iterations and no declared type", i);
        int nd = info_ndim > 0 && info_ndim < ONNX_MAX_DIMS ? info_ndim : 0;
        dims[0] = 0;
        for (int k = 0; k < nd; k++) dims[k + 1] = info_dims[k] > 0 ? info_dims[k] : 0;
        return onnx_ctx_output(ctx, i, info_dtype, nd + 1, dims) ? 0 : -1;
    }
    const onnx_tensor *f = &s->items[0];
    const int r = f->ndim;
    if (axis < 0) axis += r + 1;
    if (axis < 0 || axis > r || r + 1 > ONNX_MAX_DIMS)
        return onnx_ctx_fail(ctx, "output %d: axis out of range", i);
    for (int k = 0, j = 0; k <= r; k++) dims[k] = k == axis ? s->n : f->dims[j++];
    onnx_tensor *o = onnx_ctx_output(ctx, i, f->dtype, r + 1, dims);
    if (!o) return -1;
    const size_t es = inferd_dtype_size(f->dtype);
    size_t outer = 1, inner = es;
    for (int k = 0; k < axis; k++) outer *= (size_t)f->dims[k];
    for (int k = (int)axis; k < r; k++) inner *= (size_t)f->dims[k];
    if (!inner || !outer) return 0;
    for (int64_t t = 0; t < s->n; t++) {
        const size_t pos = (size_t)(reverse ? s->n - 1 - t : t);
        const char *src = s->items[t].data;
        for (size_t q = 0; q < outer; q++)
            memcpy((char *)o->data + (q * (size_t)s->n + pos) * inner, src + q * inner, inner);
    }
    return 0;
}

void ctl_stack_free(ctl_stack *s)
{
    for (int64_t t = 0; t < s->n; t++) free(s->items[t].data);
    free(s->items);
    memset(s, 0, sizeof *s);
}
