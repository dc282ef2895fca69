/* Gather, GatherElements and GatherND: reading data at positions given by an index tensor.
 * Every index is checked (negative values wrap once) before it is used. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <string.h>

/* Index input element i, wrapped into [0, d); fails when out of range. */
static int read_index(onnx_ctx *ctx, const onnx_tensor *ind, int64_t i, int64_t d, int64_t *out)
{
    int64_t v = onnx_tensor_get_int(ind, i);
    if (v < -d || v >= d)
        return onnx_ctx_fail(ctx, "index %lld out of range [-%lld, %lld)", (long long)v,
                             (long long)d, (long long)d);
    *out = v < 0 ? v + d : v;
    return 0;
}

static int check_index_type(onnx_ctx *ctx, const onnx_tensor *ind)
{
    if (ind->dtype != INFERD_DTYPE_INT64 && ind->dtype != INFERD_DTYPE_INT32)
        return onnx_ctx_fail(ctx, "indices must be int32 or int64, got %s",
                             inferd_dtype_name(ind->dtype));
    return 0;
}

int onnx_run_gather(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *ind = onnx_ctx_input(ctx, 1);
    if (!x || !ind) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es || check_index_type(ctx, ind) < 0) return -1;
    int axis;
    if (x->ndim == 0) return onnx_ctx_fail(ctx, "data must have rank >= 1");
    if (onnx_tu_axis(ctx, onnx_attr_int(onnx_ctx_node(ctx), "axis", 0), x->ndim, &axis) < 0)
        return -1;
    int r = x->ndim - 1 + ind->ndim;
    if (r > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "output rank %d too large", r);
    int64_t dims[ONNX_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < axis; i++) dims[k++] = x->dims[i];
    for (int i = 0; i < ind->ndim; i++) dims[k++] = ind->dims[i];
    for (int i = axis + 1; i < x->ndim; i++) dims[k++] = x->dims[i];
    int64_t outer = onnx_tu_prod(x->dims, 0, axis), d = x->dims[axis];
    int64_t inner = onnx_tu_prod(x->dims, axis + 1, x->ndim), nind = onnx_tensor_numel(ind);
    int64_t *idx = onnx_ctx_scratch(ctx, (size_t)(nind ? nind : 1) * sizeof *idx);
    if (!idx) return -1;
    for (int64_t i = 0; i < nind; i++)
        if (read_index(ctx, ind, i, d, &idx[i]) < 0) return -1;
    /* one index over leading dims of 1 (q, k, v = qkv[0], qkv[1], qkv[2]): a view of its run */
    if (outer == 1 && nind == 1 && inner > 0) {
        if (!onnx_ctx_output_wanted(ctx, 0)) return 0;
        return onnx_ctx_alias_output_at(ctx, 0, 0, r, dims, idx[0] * inner) ? 0 : -1;
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    size_t blk = (size_t)inner * es;
    char *o = y->data;
    const char *s = x->data;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t i = 0; i < nind; i++, o += blk)
            memcpy(o, s + ((size_t)a * (size_t)d + (size_t)idx[i]) * blk, blk);
    return 0;
}

int onnx_run_gather_elements(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *ind = onnx_ctx_input(ctx, 1);
    if (!x || !ind) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es || check_index_type(ctx, ind) < 0) return -1;
    int r = x->ndim, axis;
    if (r == 0 || ind->ndim != r)
        return onnx_ctx_fail(ctx, "indices rank must equal data rank >= 1");
    if (onnx_tu_axis(ctx, onnx_attr_int(onnx_ctx_node(ctx), "axis", 0), r, &axis) < 0) return -1;
    for (int k = 0; k < r; k++)
        if (k != axis && ind->dims[k] > x->dims[k])
            return onnx_ctx_fail(ctx, "indices dim %d (%lld) exceeds data dim (%lld)", k,
                                 (long long)ind->dims[k], (long long)x->dims[k]);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, ind->dims);
    if (!y) return -1;
    int64_t n = onnx_tensor_numel(ind);
    if (n == 0) return 0;
    int64_t xs[ONNX_MAX_DIMS], c[ONNX_MAX_DIMS] = {0};
    onnx_tensor_strides(x, xs);
    int64_t base = 0; /* source offset of coordinate c without the axis term */
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0;
        if (read_index(ctx, ind, i, x->dims[axis], &v) < 0) return -1;
        memcpy((char *)y->data + i * (int64_t)es,
               (const char *)x->data + (base + v * xs[axis]) * (int64_t)es, es);
        for (int k = r - 1; k >= 0; k--) {
            if (k != axis) base += xs[k];
            if (++c[k] < ind->dims[k]) break;
            if (k != axis) base -= xs[k] * ind->dims[k];
            c[k] = 0;
        }
    }
    return 0;
}

int onnx_run_gather_nd(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *ind = onnx_ctx_input(ctx, 1);
    if (!x || !ind) return onnx_ctx_fail(ctx, "missing input");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es || check_index_type(ctx, ind) < 0) return -1;
    int64_t b = onnx_attr_int(onnx_ctx_node(ctx), "batch_dims", 0);
    int r = x->ndim, q = ind->ndim;
    if (r < 1 || q < 1) return onnx_ctx_fail(ctx, "data and indices need rank >= 1");
    if (b < 0 || b >= q || b >= r) return onnx_ctx_fail(ctx, "bad batch_dims %lld", (long long)b);
    int64_t m = ind->dims[q - 1];
    if (m < 1 || m > r - b)
        return onnx_ctx_fail(ctx, "index tuple length %lld invalid", (long long)m);
    for (int k = 0; k < b; k++)
        if (ind->dims[k] != x->dims[k]) return onnx_ctx_fail(ctx, "batch dim %d differs", k);
    int64_t dims[ONNX_MAX_DIMS];
    int nr = 0;
    for (int k = 0; k < q - 1; k++) dims[nr++] = ind->dims[k];
    for (int k = (int)(b + m); k < r; k++) {
        if (nr >= ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "output rank too large");
        dims[nr++] = x->dims[k];
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, nr, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    int64_t xs[ONNX_MAX_DIMS];
    onnx_tensor_strides(x, xs);
    int64_t batches = onnx_tu_prod(x->dims, 0, (int)b);
    int64_t per_batch = onnx_tu_prod(ind->dims, (int)b, q - 1);
    int64_t batch_stride = b > 0 ? xs[b - 1] : 0;
    size_t blk = (size_t)onnx_tu_prod(x->dims, (int)(b + m), r) * es;
    char *o = y->data;
    int64_t t = 0;
    for (int64_t bi = 0; bi < batches; bi++) {
        for (int64_t j = 0; j < per_batch; j++, t++, o += blk) {
            int64_t off = bi * batch_stride;
            for (int64_t k = 0; k < m; k++) {
                int64_t v = 0;
                if (read_index(ctx, ind, t * m + k, x->dims[b + k], &v) < 0) return -1;
                off += v * xs[b + k];
            }
            memcpy(o, (const char *)x->data + off * (int64_t)es, blk);
        }
    }
    return 0;
}
