/* Unique (11): the distinct elements of the flattened input, or with `axis` the distinct
 * slices along it, in ascending order (sorted=1, the default; slices compare element by
 * element) or in order of first occurrence; plus, as optional outputs, each one's first index,
 * every input position's index into the result (inverse_indices) and the counts. NaNs are
 * equal to each other and sort last, as numpy.unique does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tensor_ops.h"
#include "tensor_util.h"

typedef struct uq_view {
    const onnx_tensor *x;
    int64_t len, inner; /* slices along the axis; elements per (outer, slice) run */
    int64_t outer;
} uq_view;

/* Compares elements i and j of x's data by value. */
static int uq_elem_cmp(const onnx_tensor *x, int64_t i, int64_t j)
{
    switch (x->dtype) {
    case INFERD_DTYPE_INT64: {
        int64_t a = ((const int64_t *)x->data)[i], b = ((const int64_t *)x->data)[j];
        return (a > b) - (a < b);
    }
    case INFERD_DTYPE_UINT64: {
        uint64_t a = ((const uint64_t *)x->data)[i], b = ((const uint64_t *)x->data)[j];
        return (a > b) - (a < b);
    }
    default: {
        double a = onnx_tu_load(x->data, x->dtype, i), b = onnx_tu_load(x->data, x->dtype, j);
        if (isnan(a) || isnan(b)) return isnan(a) - isnan(b);
        return (a > b) - (a < b);
    }
    }
}

static int uq_slice_cmp(const uq_view *v, int64_t a, int64_t b)
{
    for (int64_t o = 0; o < v->outer; o++)
        for (int64_t k = 0; k < v->inner; k++) {
            int64_t base = o * v->len * v->inner + k;
            int c = uq_elem_cmp(v->x, base + a * v->inner, base + b * v->inner);
            if (c) return c;
        }
    return 0;
}

/* qsort_r comparator: by slice value, then by position (so the sort is stable). */
static int uq_sort_cmp(const void *pa, const void *pb, void *arg)
{
    int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
    int c = uq_slice_cmp(arg, a, b);
    return c ? c : (a > b) - (a < b);
}

static int uq_first_cmp(const void *pa, const void *pb, void *arg)
{
    const int64_t *first = arg;
    int64_t a = first[*(const int64_t *)pa], b = first[*(const int64_t *)pb];
    return (a > b) - (a < b);
}

int onnx_run_unique(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    const int sorted = onnx_attr_int(node, "sorted", 1) != 0;
    const int has_axis = onnx_node_attr(node, "axis") != NULL;
    int axis = 0;
    uq_view v = {.x = x, .outer = 1, .inner = 1, .len = onnx_tensor_numel(x)};
    if (has_axis) {
        if (onnx_tu_axis(ctx, onnx_attr_int(node, "axis", 0), x->ndim, &axis) < 0) return -1;
        v.outer = onnx_tu_prod(x->dims, 0, axis);
        v.len = x->dims[axis];
        v.inner = onnx_tu_prod(x->dims, axis + 1, x->ndim);
    }
    const size_t n = (size_t)v.len;
    int64_t *order = onnx_ctx_scratch(ctx, (n + 1) * sizeof *order); /* positions by value */
    int64_t *group = onnx_ctx_scratch(ctx, (n + 1) * sizeof *group); /* position -> group */
    int64_t *first = onnx_ctx_scratch(ctx, (n + 1) * sizeof *first); /* group -> first pos */
    int64_t *count = onnx_ctx_scratch(ctx, (n + 1) * sizeof *count);
    int64_t *rank = onnx_ctx_scratch(ctx, (n + 1) * sizeof *rank); /* output slot -> group */
    int64_t *slot = onnx_ctx_scratch(ctx, (n + 1) * sizeof *slot); /* group -> output slot */
    if (!order || !group || !first || !count || !rank || !slot) return -1;
    for (size_t i = 0; i < n; i++) order[i] = (int64_t)i;
    qsort_r(order, n, sizeof *order, uq_sort_cmp, &v);
    int64_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || uq_slice_cmp(&v, order[i - 1], order[i]) != 0) {
            first[ng] = order[i]; /* the stable sort puts the first occurrence first */
            count[ng] = 0;
            ng++;
        }
        group[order[i]] = ng - 1;
        count[ng - 1]++;
    }
    for (int64_t g = 0; g < ng; g++) rank[g] = g;
    if (!sorted) qsort_r(rank, (size_t)ng, sizeof *rank, uq_first_cmp, first);
    for (int64_t s = 0; s < ng; s++) slot[rank[s]] = s;

    int64_t dims[ONNX_MAX_DIMS];
    int ndim = 1;
    dims[0] = ng;
    if (has_axis) {
        ndim = x->ndim;
        memcpy(dims, x->dims, sizeof dims);
        dims[axis] = ng;
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, ndim, dims);
    if (!y) return -1;
    const size_t run = (size_t)v.inner * es;
    for (int64_t s = 0; s < ng && run > 0; s++)
        for (int64_t o = 0; o < v.outer; o++)
            memcpy((char *)y->data + ((size_t)(o * ng + s)) * run,
                   (const char *)x->data + ((size_t)(o * v.len + first[rank[s]])) * run, run);
    int64_t n_idx = ng, n_inv = v.len;
    onnx_tensor *outs[3] = {NULL, NULL, NULL};
    const int64_t *odims[3] = {&n_idx, &n_inv, &n_idx};
    for (int k = 0; k < 3; k++) {
        if (onnx_ctx_num_outputs(ctx) <= k + 1 || !onnx_ctx_output_wanted(ctx, k + 1)) continue;
        if (!(outs[k] = onnx_ctx_output(ctx, k + 1, INFERD_DTYPE_INT64, 1, odims[k]))) return -1;
    }
    for (int64_t s = 0; s < ng; s++) {
        if (outs[0]) ((int64_t *)outs[0]->data)[s] = first[rank[s]];
        if (outs[2]) ((int64_t *)outs[2]->data)[s] = count[rank[s]];
    }
    if (outs[1])
        for (int64_t i = 0; i < v.len; i++) ((int64_t *)outs[1]->data)[i] = slot[group[i]];
    return 0;
}
