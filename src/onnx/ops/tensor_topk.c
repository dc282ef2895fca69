/* TopK: the k largest (or smallest) values along an axis and their int64 indices; ties go
 * to the lower index. k is an attribute before opset 10 and an input after. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct topk_item {
    double v;
    int64_t iv; /* exact key for 64-bit integer types */
    int64_t idx;
} topk_item;

static int cmp_largest(const void *pa, const void *pb)
{
    const topk_item *a = pa, *b = pb;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    if (a->iv != b->iv) return a->iv > b->iv ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_smallest(const void *pa, const void *pb)
{
    const topk_item *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    if (a->iv != b->iv) return a->iv < b->iv ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int onnx_run_topk(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *tk = onnx_ctx_input(ctx, 1);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    if (x->ndim == 0) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    int64_t k;
    if (tk) {
        if (onnx_tensor_numel(tk) != 1) return onnx_ctx_fail(ctx, "K must have one element");
        k = onnx_tensor_get_int(tk, 0);
    } else {
        if (!onnx_node_attr(node, "k")) return onnx_ctx_fail(ctx, "missing k");
        k = onnx_attr_int(node, "k", 0);
    }
    int axis;
    if (onnx_tu_axis(ctx, onnx_attr_int(node, "axis", -1), x->ndim, &axis) < 0) return -1;
    int64_t d = x->dims[axis];
    if (k < 0 || k > d)
        return onnx_ctx_fail(ctx, "k = %lld out of range [0, %lld]", (long long)k, (long long)d);
    int largest = onnx_attr_int(node, "largest", 1) != 0;
    int is64 = x->dtype == INFERD_DTYPE_INT64 || x->dtype == INFERD_DTYPE_UINT64;
    int64_t dims[ONNX_MAX_DIMS];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = k;
    onnx_tensor *yv = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, dims);
    if (!yv && onnx_ctx_output_wanted(ctx, 0)) return -1;
    onnx_tensor *yi = onnx_ctx_output(ctx, 1, INFERD_DTYPE_INT64, x->ndim, dims);
    if (!yi && onnx_ctx_output_wanted(ctx, 1)) return -1;
    if (k == 0 || onnx_tensor_numel(x) == 0) return 0;
    topk_item *items = onnx_ctx_scratch(ctx, (size_t)d * sizeof *items);
    if (!items) return -1;
    int64_t outer = onnx_tu_prod(x->dims, 0, axis),
            inner = onnx_tu_prod(x->dims, axis + 1, x->ndim);
    for (int64_t a = 0; a < outer; a++)
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < d; j++) {
                int64_t at = (a * d + j) * inner + i;
                items[j].idx = j;
                items[j].iv = 0;
                if (is64) {
                    memcpy(&items[j].iv, (const char *)x->data + at * 8, 8);
                    items[j].v = 0;
                } else {
                    items[j].v = onnx_tu_load(x->data, x->dtype, at);
                    if (isnan(items[j].v)) items[j].v = largest ? INFINITY : -INFINITY;
                }
            }
            qsort(items, (size_t)d, sizeof *items, largest ? cmp_largest : cmp_smallest);
            for (int64_t j = 0; j < k; j++) {
                int64_t at = (a * k + j) * inner + i;
                if (yv)
                    memcpy((char *)yv->data + at * (int64_t)es,
                           (const char *)x->data +
                               ((a * d + items[j].idx) * inner + i) * (int64_t)es,
                           es);
                if (yi) ((int64_t *)yi->data)[at] = items[j].idx;
            }
        }
    return 0;
}
