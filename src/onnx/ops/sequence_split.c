/* SplitToSequence (a tensor cut along an axis into a sequence) and ConcatFromSequence (a
 * sequence joined along an existing or a new axis). */
#include <stdlib.h>
#include <string.h>

#include "../exec.h"
#include "../seq.h"
#include "control_ops.h"

/* Copies rows [from, from + n) along `axis` of t into dst (shape set by the caller). */
static void copy_rows(const onnx_tensor *t, int axis, int64_t from, int64_t n, void *dst)
{
    const size_t es = inferd_dtype_size(t->dtype);
    size_t outer = 1, inner = es;
    for (int k = 0; k < axis; k++) outer *= (size_t)t->dims[k];
    for (int k = axis + 1; k < t->ndim; k++) inner *= (size_t)t->dims[k];
    const size_t len = (size_t)t->dims[axis], chunk = (size_t)n * inner;
    for (size_t q = 0; q < outer && chunk; q++)
        memcpy((char *)dst + q * chunk, (const char *)t->data + (q * len + (size_t)from) * inner,
               chunk);
}

int seq_run_split_to(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *split = onnx_ctx_input(ctx, 1);
    if (!x || x->ndim < 1) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    if (x->dtype == INFERD_DTYPE_BYTES)
        return onnx_ctx_unsupported(ctx, "splitting string tensors is not implemented");
    int64_t axis = onnx_attr_int(node, "axis", 0);
    if (axis < 0) axis += x->ndim;
    if (axis < 0 || axis >= x->ndim) return onnx_ctx_fail(ctx, "axis out of range");
    const int64_t len = x->dims[axis];
    const int keep = split || onnx_attr_int(node, "keepdims", 1) != 0;
    int64_t n_parts, size = 1;
    if (split && split->ndim == 0) {
        size = onnx_tensor_get_int(split, 0);
        if (size <= 0) return onnx_ctx_fail(ctx, "split size must be positive");
        n_parts = len / size + (len % size != 0);
    } else if (split) {
        n_parts = onnx_tensor_numel(split);
        int64_t sum = 0;
        for (int64_t i = 0; i < n_parts; i++) {
            int64_t v = onnx_tensor_get_int(split, i);
            if (v < 0 || v > len - sum) return onnx_ctx_fail(ctx, "split sizes exceed the axis");
            sum += v;
        }
        if (sum != len) return onnx_ctx_fail(ctx, "split sizes do not sum to the axis");
    } else {
        n_parts = len;
    }
    if (n_parts > ONNX_SEQ_MAX_ITEMS)
        return onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "too many parts");
    onnx_seq *s = onnx_seq_new(x->dtype);
    void *buf = malloc(onnx_tensor_nbytes(x) + 1);
    int rc = s && buf ? 0 : -1;
    for (int64_t i = 0, from = 0; i < n_parts && rc == 0; i++) {
        int64_t n = split && split->ndim == 1 ? onnx_tensor_get_int(split, i)
                    : from + size > len       ? len - from
                                              : size;
        onnx_tensor part = *x;
        part.dims[axis] = n;
        copy_rows(x, (int)axis, from, n, buf);
        if (!keep) { /* size-1 parts without the axis */
            memmove(part.dims + axis, part.dims + axis + 1,
                    (size_t)(x->ndim - axis - 1) * sizeof(int64_t));
            part.ndim--;
        }
        part.data = buf;
        rc = onnx_seq_insert(s, s->n, &part);
        from += n;
    }
    free(buf);
    if (rc < 0) {
        onnx_seq_unref(s);
        return rc == -2 ? onnx_ctx_fail_code(ctx, ONNX_E_TOO_LARGE, "sequence too large")
                        : onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
    }
    return onnx_ctx_output_seq(ctx, 0, s);
}

int seq_run_concat_from(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    onnx_item it;
    if (onnx_ctx_input_item(ctx, 0, &it) < 0 || it.kind != ONNX_ITEM_SEQUENCE)
        return onnx_ctx_fail(ctx, "input must be a sequence");
    const onnx_seq *s = it.seq;
    if (s->n == 0) return onnx_ctx_fail(ctx, "the sequence is empty");
    const int new_axis = onnx_attr_int(node, "new_axis", 0) != 0;
    const onnx_tensor *f = &s->items[0];
    if (f->dtype == INFERD_DTYPE_BYTES)
        return onnx_ctx_unsupported(ctx, "joining string tensors is not implemented");
    const int r = f->ndim + new_axis;
    int64_t axis = onnx_attr_int(node, "axis", 0);
    if (axis < 0) axis += r;
    if (axis < 0 || axis >= r || r > ONNX_MAX_DIMS || r < 1)
        return onnx_ctx_fail(ctx, "axis out of range");
    /* every item viewed with the new axis of length 1 inserted */
    int64_t dims[ONNX_MAX_DIMS], total = 0;
    for (int i = 0; i < s->n; i++) {
        const onnx_tensor *t = &s->items[i];
        if (t->dtype != f->dtype || t->ndim != f->ndim)
            return onnx_ctx_fail(ctx, "item %d: another type or rank", i);
        for (int k = 0, j = 0; k < r; k++) {
            int64_t d = new_axis && k == axis ? 1 : t->dims[j++];
            if (k == axis) {
                total += d;
            } else if (i == 0) {
                dims[k] = d;
            } else if (dims[k] != d) {
                return onnx_ctx_fail(ctx, "item %d: dims differ off the axis", i);
            }
        }
    }
    dims[axis] = total;
    onnx_tensor *o = onnx_ctx_output(ctx, 0, f->dtype, r, dims);
    if (!o) return -1;
    const size_t es = inferd_dtype_size(f->dtype);
    size_t outer = 1, inner = es;
    for (int k = 0; k < axis; k++) outer *= (size_t)dims[k];
    for (int k = (int)axis + 1; k < r; k++) inner *= (size_t)dims[k];
    int64_t at = 0;
    for (int i = 0; i < s->n; i++) {
        const onnx_tensor *t = &s->items[i];
        const int64_t n = new_axis ? 1 : t->dims[axis];
        const size_t chunk = (size_t)n * inner;
        for (size_t q = 0; q < outer && chunk; q++)
            memcpy((char *)o->data + (q * (size_t)total + (size_t)at) * inner,
                   (const char *)t->data + q * chunk, chunk);
        at += n;
    }
    return 0;
}
