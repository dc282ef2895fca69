/* Operators that make tensors from attributes or small scalar inputs: Constant,
 * ConstantOfShape, Range, EyeLike, OneHot. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <math.h>
#include <string.h>

int onnx_run_constant(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_attr *a;
    if ((a = onnx_node_attr(node, "value")) && a->t) {
        if (a->t->dtype == INFERD_DTYPE_BYTES) { /* packed strings: copied as they are */
            onnx_item it = {.kind = ONNX_ITEM_TENSOR, .t = *a->t};
            return onnx_ctx_output_item(ctx, 0, &it);
        }
        if (!inferd_dtype_size(a->t->dtype))
            return onnx_ctx_fail(ctx, "constant of type %s not supported",
                                 inferd_dtype_name(a->t->dtype));
        return onnx_tu_output_copy(ctx, a->t, a->t->ndim, a->t->dims);
    }
    onnx_tensor *y;
    if ((a = onnx_node_attr(node, "value_float")) && a->type == ONNX_ATTR_FLOAT) {
        if (!(y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, 0, NULL))) return -1;
        memcpy(y->data, &a->f, sizeof(float));
        return 0;
    }
    if ((a = onnx_node_attr(node, "value_int")) && a->type == ONNX_ATTR_INT) {
        if (!(y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT64, 0, NULL))) return -1;
        memcpy(y->data, &a->i, sizeof(int64_t));
        return 0;
    }
    if ((a = onnx_node_attr(node, "value_floats")) && a->type == ONNX_ATTR_FLOATS) {
        int64_t n = (int64_t)a->n;
        if (!(y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, 1, &n))) return -1;
        if (n) memcpy(y->data, a->floats, a->n * sizeof(float));
        return 0;
    }
    if ((a = onnx_node_attr(node, "value_ints")) && a->type == ONNX_ATTR_INTS) {
        int64_t n = (int64_t)a->n;
        if (!(y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT64, 1, &n))) return -1;
        if (n) memcpy(y->data, a->ints, a->n * sizeof(int64_t));
        return 0;
    }
    return onnx_ctx_fail(ctx, "no supported value attribute (value, value_float(s), value_int(s))");
}

int onnx_run_constant_of_shape(onnx_ctx *ctx)
{
    const onnx_tensor *shape = onnx_ctx_input(ctx, 0);
    if (!shape) return onnx_ctx_fail(ctx, "missing input");
    int64_t dims[ONNX_MAX_DIMS];
    int n;
    if (onnx_tu_read_ints(ctx, shape, "shape", dims, ONNX_MAX_DIMS, &n) < 0) return -1;
    for (int i = 0; i < n; i++)
        if (dims[i] < 0) return onnx_ctx_fail(ctx, "negative dim %lld", (long long)dims[i]);
    const onnx_attr *a = onnx_node_attr(onnx_ctx_node(ctx), "value");
    inferd_dtype dt = INFERD_DTYPE_FP32;
    unsigned char value[8] = {0};
    if (a && a->t) {
        dt = a->t->dtype;
        size_t es = inferd_dtype_size(dt);
        if (!es || onnx_tensor_numel(a->t) != 1)
            return onnx_ctx_fail(ctx, "value must be a one-element numeric tensor");
        memcpy(value, a->t->data, es);
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, dt, n, dims);
    if (!y) return -1;
    size_t es = inferd_dtype_size(dt);
    int64_t numel = onnx_tensor_numel(y);
    int zero = 1;
    for (size_t i = 0; i < es; i++) zero &= value[i] == 0;
    if (numel && zero) memset(y->data, 0, (size_t)numel * es);
    else
        for (int64_t i = 0; i < numel; i++) memcpy((char *)y->data + (size_t)i * es, value, es);
    return 0;
}

int onnx_run_range(onnx_ctx *ctx)
{
    const onnx_tensor *ts = onnx_ctx_input(ctx, 0), *tl = onnx_ctx_input(ctx, 1);
    const onnx_tensor *td = onnx_ctx_input(ctx, 2);
    if (!ts || !tl || !td) return onnx_ctx_fail(ctx, "missing input");
    inferd_dtype dt = ts->dtype;
    if (tl->dtype != dt || td->dtype != dt) return onnx_ctx_fail(ctx, "inputs differ in type");
    if (onnx_tensor_numel(ts) != 1 || onnx_tensor_numel(tl) != 1 || onnx_tensor_numel(td) != 1)
        return onnx_ctx_fail(ctx, "start, limit and delta must be scalars");
    int64_t n;
    if (dt == INFERD_DTYPE_INT64 || dt == INFERD_DTYPE_INT32 || dt == INFERD_DTYPE_INT16) {
        int64_t s = onnx_tensor_get_int(ts, 0), l = onnx_tensor_get_int(tl, 0);
        int64_t d = onnx_tensor_get_int(td, 0);
        if (d == 0) return onnx_ctx_fail(ctx, "delta is 0");
        /* the span fits in unsigned 64 bits; |d| >= 1 */
        uint64_t span, ad;
        if (d > 0) {
            span = l > s ? (uint64_t)l - (uint64_t)s : 0;
            ad = (uint64_t)d;
        } else {
            span = s > l ? (uint64_t)s - (uint64_t)l : 0;
            ad = (uint64_t)0 - (uint64_t)d;
        }
        uint64_t cnt = span ? (span - 1) / ad + 1 : 0;
        if (cnt > (uint64_t)1 << 40) return onnx_ctx_fail(ctx, "range too long");
        n = (int64_t)cnt;
        onnx_tensor *y = onnx_ctx_output(ctx, 0, dt, 1, &n);
        if (!y) return -1;
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
            if (dt == INFERD_DTYPE_INT64) ((int64_t *)y->data)[i] = v;
            else if (dt == INFERD_DTYPE_INT32) ((int32_t *)y->data)[i] = (int32_t)v;
            else ((int16_t *)y->data)[i] = (int16_t)v;
        }
        return 0;
    }
    if (dt != INFERD_DTYPE_FP32 && dt != INFERD_DTYPE_FP64)
        return onnx_ctx_fail(ctx, "type %s not supported", inferd_dtype_name(dt));
    double s = onnx_tensor_get_double(ts, 0), l = onnx_tensor_get_double(tl, 0);
    double d = onnx_tensor_get_double(td, 0);
    if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
        return onnx_ctx_fail(ctx, "bad start/limit/delta");
    double cnt = ceil((l - s) / d);
    if (!(cnt <= 1099511627776.0)) return onnx_ctx_fail(ctx, "range too long");
    n = cnt > 0 ? (int64_t)cnt : 0;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, dt, 1, &n);
    if (!y) return -1;
    if (dt == INFERD_DTYPE_FP32) {
        float fs = (float)s, fd = (float)d;
        for (int64_t i = 0; i < n; i++) ((float *)y->data)[i] = fs + (float)i * fd;
    } else {
        for (int64_t i = 0; i < n; i++) ((double *)y->data)[i] = s + (double)i * d;
    }
    return 0;
}

int onnx_run_eye_like(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (x->ndim != 2) return onnx_ctx_fail(ctx, "input must be 2-D, got rank %d", x->ndim);
    const onnx_node *node = onnx_ctx_node(ctx);
    int64_t dtv = onnx_attr_int(node, "dtype", x->dtype), k = onnx_attr_int(node, "k", 0);
    if (!inferd_dtype_is_valid((int)dtv) || dtv != (int)dtv ||
        !inferd_dtype_size((inferd_dtype)dtv))
        return onnx_ctx_fail(ctx, "unsupported dtype %lld", (long long)dtv);
    inferd_dtype dt = (inferd_dtype)dtv;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, dt, 2, x->dims);
    if (!y) return -1;
    int64_t rows = x->dims[0], cols = x->dims[1];
    if (rows * cols == 0) return 0;
    memset(y->data, 0, onnx_tensor_nbytes(y));
    for (int64_t i = 0; i < rows; i++) {
        /* column i + k, computed without overflow for huge k */
        if (k >= cols || k <= -rows) break;
        int64_t j = i + k;
        if (j >= 0 && j < cols) onnx_tu_store(y->data, dt, i * cols + j, 1);
    }
    return 0;
}

int onnx_run_one_hot(onnx_ctx *ctx)
{
    const onnx_tensor *ind = onnx_ctx_input(ctx, 0), *td = onnx_ctx_input(ctx, 1);
    const onnx_tensor *vals = onnx_ctx_input(ctx, 2);
    if (!ind || !td || !vals) return onnx_ctx_fail(ctx, "missing input");
    if (onnx_tensor_numel(td) != 1 || onnx_tensor_numel(vals) != 2)
        return onnx_ctx_fail(ctx, "depth must be a scalar and values have 2 elements");
    size_t es = onnx_tu_esize(ctx, vals);
    if (!es) return -1;
    double dd = onnx_tensor_get_double(td, 0);
    if (!(dd >= 1 && dd <= 1e12)) return onnx_ctx_fail(ctx, "bad depth %g", dd);
    int64_t depth = (int64_t)dd;
    int r = ind->ndim + 1, axis;
    if (r > ONNX_MAX_DIMS) return onnx_ctx_fail(ctx, "output rank too large");
    if (onnx_tu_axis(ctx, onnx_attr_int(onnx_ctx_node(ctx), "axis", -1), r, &axis) < 0) return -1;
    int64_t dims[ONNX_MAX_DIMS];
    for (int k = 0, j = 0; k < r; k++) dims[k] = k == axis ? depth : ind->dims[j++];
    onnx_tensor *y = onnx_ctx_output(ctx, 0, vals->dtype, r, dims);
    if (!y) return -1;
    int64_t numel = onnx_tensor_numel(y);
    if (numel == 0) return 0;
    const char *off = vals->data, *on = (const char *)vals->data + es;
    for (int64_t i = 0; i < numel; i++) memcpy((char *)y->data + (size_t)i * es, off, es);
    int64_t outer = onnx_tu_prod(ind->dims, 0, axis),
            inner = onnx_tu_prod(ind->dims, axis, ind->ndim);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double v = onnx_tensor_get_double(ind, o * inner + i);
            if (!(v >= -(double)depth && v < (double)depth)) continue;
            int64_t d = (int64_t)v;
            if (d < 0) d += depth;
            memcpy((char *)y->data + (size_t)((o * depth + d) * inner + i) * es, on, es);
        }
    return 0;
}
