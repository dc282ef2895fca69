/* The Reduce* operators (Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare):
 * axes from the attribute or (ReduceSum-13, all from 18) the second input, keepdims and
 * noop_with_empty_axes. Accumulates in double, or exactly in 64-bit for int64 data. */
#include "reduce_ops.h"
#include "tensor_util.h"

#include <math.h>
#include <string.h>

typedef struct reduce_shape {
    int n; /* collapsed axes */
    int64_t dims[ONNX_MAX_DIMS];
    int red[ONNX_MAX_DIMS];         /* 1 = reduced */
    int64_t ostride[ONNX_MAX_DIMS]; /* output stride (0 on reduced axes) */
} reduce_shape;

/* Merges neighbouring axes with the same role and drops size-1 axes. */
static void collapse(const onnx_tensor *x, const int *reduced, reduce_shape *s)
{
    s->n = 0;
    for (int k = 0; k < x->ndim; k++) {
        if (x->dims[k] == 1) continue;
        if (s->n > 0 && s->red[s->n - 1] == reduced[k]) {
            s->dims[s->n - 1] *= x->dims[k];
        } else {
            s->dims[s->n] = x->dims[k];
            s->red[s->n] = reduced[k];
            s->n++;
        }
    }
    if (s->n == 0) {
        s->dims[0] = 1;
        s->red[0] = 1;
        s->n = 1;
    }
    int64_t st = 1;
    for (int k = s->n - 1; k >= 0; k--) {
        s->ostride[k] = s->red[k] ? 0 : st;
        if (!s->red[k]) st *= s->dims[k];
    }
}

/* Row of n source elements (dtype dt) starting at element `at` into double buf. */
static void load_row(double *buf, const void *data, inferd_dtype dt, int64_t at, int64_t n)
{
    if (dt == INFERD_DTYPE_FP32) {
        const float *p = (const float *)data + at;
        for (int64_t i = 0; i < n; i++) buf[i] = p[i];
    } else if (dt == INFERD_DTYPE_FP64) {
        memcpy(buf, (const double *)data + at, (size_t)n * sizeof *buf);
    } else {
        for (int64_t i = 0; i < n; i++) buf[i] = onnx_tu_load(data, dt, at + i);
    }
}

/* acc[o (+ j)] (op)= row[j]; scalar = last axis reduced (one accumulator for the row). */
static void acc_double(int kind, double *acc, const double *mx, const double *row, int64_t n,
                       int scalar)
{
    if (scalar) {
        double a = *acc;
        switch (kind) {
        case ONNX_REDUCE_SUM:
        case ONNX_REDUCE_MEAN:
        case ONNX_REDUCE_LOGSUM:
            for (int64_t i = 0; i < n; i++) a += row[i];
            break;
        case ONNX_REDUCE_L1:
            for (int64_t i = 0; i < n; i++) a += fabs(row[i]);
            break;
        case ONNX_REDUCE_L2:
        case ONNX_REDUCE_SUMSQUARE:
            for (int64_t i = 0; i < n; i++) a += row[i] * row[i];
            break;
        case ONNX_REDUCE_PROD:
            for (int64_t i = 0; i < n; i++) a *= row[i];
            break;
        case ONNX_REDUCE_MAX:
            for (int64_t i = 0; i < n; i++)
                if (row[i] > a || isnan(row[i])) a = row[i];
            break;
        case ONNX_REDUCE_MIN:
            for (int64_t i = 0; i < n; i++)
                if (row[i] < a || isnan(row[i])) a = row[i];
            break;
        case ONNX_REDUCE_LOGSUMEXP:
            for (int64_t i = 0; i < n; i++) a += exp(row[i] - *mx);
            break;
        }
        *acc = a;
        return;
    }
    switch (kind) {
    case ONNX_REDUCE_SUM:
    case ONNX_REDUCE_MEAN:
    case ONNX_REDUCE_LOGSUM:
        for (int64_t i = 0; i < n; i++) acc[i] += row[i];
        break;
    case ONNX_REDUCE_L1:
        for (int64_t i = 0; i < n; i++) acc[i] += fabs(row[i]);
        break;
    case ONNX_REDUCE_L2:
    case ONNX_REDUCE_SUMSQUARE:
        for (int64_t i = 0; i < n; i++) acc[i] += row[i] * row[i];
        break;
    case ONNX_REDUCE_PROD:
        for (int64_t i = 0; i < n; i++) acc[i] *= row[i];
        break;
    case ONNX_REDUCE_MAX:
        for (int64_t i = 0; i < n; i++)
            if (row[i] > acc[i] || isnan(row[i])) acc[i] = row[i];
        break;
    case ONNX_REDUCE_MIN:
        for (int64_t i = 0; i < n; i++)
            if (row[i] < acc[i] || isnan(row[i])) acc[i] = row[i];
        break;
    case ONNX_REDUCE_LOGSUMEXP:
        for (int64_t i = 0; i < n; i++) acc[i] += exp(row[i] - mx[i]);
        break;
    }
}

/* Exact int64 accumulation (wrapping) for SUM/MEAN/PROD/MAX/MIN/L1/SUMSQUARE. */
static void acc_int64(int kind, int64_t *acc, const int64_t *row, int64_t n, int scalar)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t *a = scalar ? acc : acc + i, v = row[i];
        uint64_t ua = (uint64_t)*a, uv = (uint64_t)v;
        switch (kind) {
        case ONNX_REDUCE_PROD: *a = (int64_t)(ua * uv); break;
        case ONNX_REDUCE_MAX:
            if (v > *a) *a = v;
            break;
        case ONNX_REDUCE_MIN:
            if (v < *a) *a = v;
            break;
        case ONNX_REDUCE_L1: *a = (int64_t)(ua + (v < 0 ? (uint64_t)0 - uv : uv)); break;
        case ONNX_REDUCE_SUMSQUARE: *a = (int64_t)(ua + uv * uv); break;
        default: *a = (int64_t)(ua + uv); break;
        }
    }
}

/* Visits every input row (last collapsed axis) calling the accumulator. pass 0 is the
 * main pass; LogSumExp first runs a MAX pass into mx. */
static int reduce_pass(onnx_ctx *ctx, const onnx_tensor *x, const reduce_shape *s, int kind,
                       double *acc, int64_t *iacc, const double *mx)
{
    int n = s->n;
    int64_t row = s->dims[n - 1];
    int scalar = s->red[n - 1];
    double *buf = NULL;
    int64_t *ibuf = NULL;
    if (iacc) ibuf = onnx_ctx_scratch(ctx, (size_t)row * sizeof *ibuf);
    else buf = onnx_ctx_scratch(ctx, (size_t)row * sizeof *buf);
    if (!buf && !ibuf) return -1;
    int64_t total = onnx_tensor_numel(x), c[ONNX_MAX_DIMS] = {0}, o = 0;
    for (int64_t at = 0; at < total; at += row) {
        if (iacc) {
            memcpy(ibuf, (const int64_t *)x->data + at, (size_t)row * sizeof *ibuf);
            acc_int64(kind, iacc + o, ibuf, row, scalar);
        } else {
            load_row(buf, x->data, x->dtype, at, row);
            acc_double(kind, acc + o, mx ? mx + o : NULL, buf, row, scalar);
        }
        for (int k = n - 2; k >= 0; k--) {
            o += s->ostride[k];
            if (++c[k] < s->dims[k]) break;
            o -= s->ostride[k] * s->dims[k];
            c[k] = 0;
        }
    }
    return 0;
}

int onnx_reduce_run(onnx_ctx *ctx, int kind)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (!onnx_tu_esize(ctx, x)) return -1;
    int r = x->ndim, n;
    int64_t axes[ONNX_MAX_DIMS];
    if (onnx_tu_axes_input_or_attr(ctx, 1, axes, ONNX_MAX_DIMS, &n) < 0) return -1;
    int keepdims = onnx_attr_int(node, "keepdims", 1) != 0;
    if (n <= 0 && onnx_attr_int(node, "noop_with_empty_axes", 0))
        return onnx_tu_output_copy(ctx, x, x->ndim, x->dims);
    int reduced[ONNX_MAX_DIMS] = {0};
    if (n > 0) {
        if (onnx_tu_axes(ctx, axes, n, r) < 0) return -1;
        for (int i = 0; i < n; i++) reduced[axes[i]] = 1;
    } else {
        for (int k = 0; k < r; k++) reduced[k] = 1;
    }
    int64_t dims[ONNX_MAX_DIMS], count = 1;
    int nr = 0;
    for (int k = 0; k < r; k++) {
        if (reduced[k]) {
            count *= x->dims[k];
            if (keepdims) dims[nr++] = 1;
        } else {
            dims[nr++] = x->dims[k];
        }
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, nr, dims);
    if (!y) return -1;
    int64_t nout = onnx_tensor_numel(y);
    if (nout == 0) return 0;
    int use_int = (x->dtype == INFERD_DTYPE_INT64 || x->dtype == INFERD_DTYPE_UINT64) &&
                  kind != ONNX_REDUCE_L2 && kind != ONNX_REDUCE_LOGSUM &&
                  kind != ONNX_REDUCE_LOGSUMEXP;
    reduce_shape s;
    collapse(x, reduced, &s);
    if (use_int) {
        int64_t *acc = onnx_ctx_scratch(ctx, (size_t)nout * sizeof *acc);
        if (!acc) return -1;
        int64_t init = kind == ONNX_REDUCE_PROD  ? 1
                       : kind == ONNX_REDUCE_MAX ? INT64_MIN
                       : kind == ONNX_REDUCE_MIN ? INT64_MAX
                                                 : 0;
        for (int64_t i = 0; i < nout; i++) acc[i] = init;
        if (onnx_tensor_numel(x) > 0 && reduce_pass(ctx, x, &s, kind, NULL, acc, NULL) < 0)
            return -1;
        for (int64_t i = 0; i < nout; i++) {
            int64_t v = acc[i];
            if (kind == ONNX_REDUCE_MEAN) v = count > 0 ? v / count : 0;
            memcpy((int64_t *)y->data + i, &v, sizeof v);
        }
        return 0;
    }
    double *acc = onnx_ctx_scratch(ctx, (size_t)nout * sizeof *acc), *mx = NULL;
    if (!acc) return -1;
    double init = kind == ONNX_REDUCE_PROD  ? 1
                  : kind == ONNX_REDUCE_MAX ? -INFINITY
                  : kind == ONNX_REDUCE_MIN ? INFINITY
                                            : 0;
    if (kind == ONNX_REDUCE_LOGSUMEXP) {
        mx = onnx_ctx_scratch(ctx, (size_t)nout * sizeof *mx);
        if (!mx) return -1;
        for (int64_t i = 0; i < nout; i++) mx[i] = -INFINITY;
        if (onnx_tensor_numel(x) > 0 &&
            reduce_pass(ctx, x, &s, ONNX_REDUCE_MAX, mx, NULL, NULL) < 0)
            return -1;
        for (int64_t i = 0; i < nout; i++)
            if (!isfinite(mx[i])) mx[i] = 0; /* all -inf (or inf/nan): plain formula */
    }
    for (int64_t i = 0; i < nout; i++) acc[i] = init;
    if (onnx_tensor_numel(x) > 0 && reduce_pass(ctx, x, &s, kind, acc, NULL, mx) < 0) return -1;
    for (int64_t i = 0; i < nout; i++) {
        double v = acc[i];
        switch (kind) {
        case ONNX_REDUCE_MEAN: v = v / (double)count; break;
        case ONNX_REDUCE_L2: v = sqrt(v); break;
        case ONNX_REDUCE_LOGSUM: v = log(v); break;
        case ONNX_REDUCE_LOGSUMEXP: v = mx[i] + log(v); break;
        default: break;
        }
        if (!onnx_tu_is_float(y->dtype) && kind != ONNX_REDUCE_MEAN) v = nearbyint(v);
        onnx_tu_store(y->data, y->dtype, i, v);
    }
    return 0;
}
