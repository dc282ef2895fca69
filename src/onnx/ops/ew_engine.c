/* The broadcast loop of the elementwise operators: computes the output shape, collapses axes
 * that are contiguous for every operand, and runs a row kernel along the innermost run. */
#include "ew_engine.h"

#include <stdio.h>

#include "../broadcast.h"
#include "../threadpool.h"
#include "inferd/half.h"

int ew_half_to_float(onnx_ctx *ctx, const onnx_tensor *t, onnx_tensor *tmp)
{
    *tmp = *t;
    tmp->dtype = INFERD_DTYPE_FP32;
    size_t n = (size_t)onnx_tensor_numel(t);
    tmp->data = NULL;
    if (n == 0) return 0;
    float *f = onnx_ctx_scratch(ctx, n * sizeof(float));
    if (!f) return -1;
    const uint16_t *h = t->data;
    for (size_t i = 0; i < n; i++) f[i] = inferd_half_to_float(h[i]);
    tmp->data = f;
    return 0;
}

void ew_float_to_half_store(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = inferd_float_to_half(src[i]);
}

void ew_shape_str(const onnx_tensor *t, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0) return;
    buf[0] = 0;
    used += (size_t)snprintf(buf, len, "[");
    for (int k = 0; k < t->ndim && used < len; k++)
        used +=
            (size_t)snprintf(buf + used, len - used, k ? ",%lld" : "%lld", (long long)t->dims[k]);
    if (used < len) snprintf(buf + used, len - used, "]");
}

int ew_check_inputs_same_type(onnx_ctx *ctx, int n)
{
    const onnx_tensor *first = NULL;
    for (int k = 0; k < n; k++) {
        const onnx_tensor *t = onnx_ctx_input(ctx, k);
        if (!t) return onnx_ctx_fail(ctx, "missing input %d", k);
        if (!first) first = t;
        else if (t->dtype != first->dtype)
            return onnx_ctx_fail(ctx, "input %d is %s, expected %s like input 0", k,
                                 inferd_dtype_name(t->dtype), inferd_dtype_name(first->dtype));
    }
    return 0;
}

/* The collapsed iteration of ew_broadcast_fill: m axes (the last one the row), each
 * operand's element strides on them (operand n is the output). */
typedef struct ew_plan {
    int n, m;
    int64_t dims[ONNX_MAX_DIMS], st[EW_MAX_INPUTS + 1][ONNX_MAX_DIMS];
    size_t esize[EW_MAX_INPUTS + 1];
    const void *data[EW_MAX_INPUTS];
    char *out;
    int64_t total;
    ew_row_fn fn;
    const void *param;
    int64_t chunk; /* elements per task */
} ew_plan;

/* Output elements [e0, e1) in row order; a range may start and end inside a row. */
static void ew_fill_range(const ew_plan *pl, int64_t e0, int64_t e1)
{
    const int n = pl->n, m = pl->m;
    const int64_t row = pl->dims[m - 1];
    int64_t idx[ONNX_MAX_DIMS] = {0}, off[EW_MAX_INPUTS] = {0}, step[EW_MAX_INPUTS];
    for (int k = 0; k < n; k++) step[k] = pl->st[k][m - 1];
    int64_t r = e0 / row, col = e0 % row;
    for (int a = m - 2; a >= 0; a--) { /* row r's position on the outer axes */
        idx[a] = r % pl->dims[a];
        r /= pl->dims[a];
        for (int k = 0; k < n; k++) off[k] += idx[a] * pl->st[k][a];
    }
    const void *ptr[EW_MAX_INPUTS];
    for (int64_t e = e0; e < e1;) {
        const int64_t len = row - col < e1 - e ? row - col : e1 - e;
        for (int k = 0; k < n; k++)
            ptr[k] = (const char *)pl->data[k] + (size_t)(off[k] + col * step[k]) * pl->esize[k];
        pl->fn(pl->out + (size_t)e * pl->esize[n], ptr, step, len, pl->param);
        e += len;
        col = 0;
        /* advance the outer counters (axes 0..m-2) */
        for (int a = m - 2; a >= 0; a--) {
            for (int k = 0; k < n; k++) off[k] += pl->st[k][a];
            if (++idx[a] < pl->dims[a]) break;
            for (int k = 0; k < n; k++) off[k] -= pl->st[k][a] * pl->dims[a];
            idx[a] = 0;
        }
    }
}

static void ew_fill_task(void *arg, int64_t i)
{
    const ew_plan *pl = arg;
    const int64_t e0 = i * pl->chunk, e1 = e0 + pl->chunk < pl->total ? e0 + pl->chunk : pl->total;
    ew_fill_range(pl, e0, e1);
}

/* Tasks start on 64-element boundaries: no two threads write one cache line. */
#define EW_TASK_ALIGN 64

int ew_broadcast_fill_on(onnx_tpool *pool, onnx_tensor *out, int n, const onnx_tensor *const *in,
                         ew_row_fn fn, const void *param)
{
    if (n < 1 || n > EW_MAX_INPUTS) return -1;
    int64_t total = onnx_tensor_numel(out);
    if (total == 0) return 0;
    /* strides[k][a]: input k's element stride on output axis a; operand n is the output */
    int64_t strides[EW_MAX_INPUTS + 1][ONNX_MAX_DIMS];
    ew_plan pl = {.n = n, .out = out->data, .total = total, .fn = fn, .param = param};
    int r = out->ndim;
    for (int k = 0; k < n; k++) {
        if (in[k]->ndim > r) return -1;
        for (int a = 0; a < in[k]->ndim; a++) {
            int64_t d = in[k]->dims[a];
            if (d != 1 && d != out->dims[r - in[k]->ndim + a]) return -1;
        }
        onnx_broadcast_strides(in[k], r, out->dims, strides[k]);
        pl.esize[k] = inferd_dtype_size(in[k]->dtype);
        pl.data[k] = in[k]->data;
    }
    onnx_tensor_strides(out, strides[n]);
    pl.esize[n] = inferd_dtype_size(out->dtype);

    /* Drop size-1 axes and merge an axis into the next inner one when every operand steps
     * over the inner axis exactly (stride[a] == stride[a+1] * dims[a+1], true for 0 too). */
    int m = 0;
    for (int a = 0; a < r; a++) {
        if (out->dims[a] == 1) continue;
        if (m > 0) {
            int merge = 1;
            for (int k = 0; k <= n && merge; k++)
                if (pl.st[k][m - 1] != strides[k][a] * out->dims[a]) merge = 0;
            if (merge) {
                pl.dims[m - 1] *= out->dims[a];
                for (int k = 0; k <= n; k++) pl.st[k][m - 1] = strides[k][a];
                continue;
            }
        }
        pl.dims[m] = out->dims[a];
        for (int k = 0; k <= n; k++) pl.st[k][m] = strides[k][a];
        m++;
    }
    if (m == 0) { /* a single element */
        pl.dims[0] = 1;
        for (int k = 0; k <= n; k++) pl.st[k][0] = 1;
        m = 1;
    }
    pl.m = m;
    const int64_t units = (total + EW_TASK_ALIGN - 1) / EW_TASK_ALIGN;
    int fixed = 1; /* a string tensor's elements are not at fixed offsets (size 0) */
    for (int k = 0; k <= n; k++) fixed &= pl.esize[k] != 0;
    const int tasks = fixed ? onnx_tpool_tasks(pool, units, total) : 1;
    if (tasks <= 1) {
        ew_fill_range(&pl, 0, total);
        return 0;
    }
    pl.chunk = (units + tasks - 1) / tasks * EW_TASK_ALIGN;
    onnx_tpool_parallel_for(pool, (total + pl.chunk - 1) / pl.chunk, ew_fill_task, &pl);
    return 0;
}

int ew_broadcast_fill(onnx_tensor *out, int n, const onnx_tensor *const *in, ew_row_fn fn,
                      const void *param)
{
    return ew_broadcast_fill_on(NULL, out, n, in, fn, param);
}

int ew_broadcast_run(onnx_ctx *ctx, int n, const onnx_tensor *const *in, inferd_dtype out_dtype,
                     ew_row_fn fn, const void *param, onnx_tensor **out_ret)
{
    int ndims[EW_MAX_INPUTS], r;
    const int64_t *dimp[EW_MAX_INPUTS];
    int64_t dims[ONNX_MAX_DIMS];
    if (n < 1 || n > EW_MAX_INPUTS) return onnx_ctx_fail(ctx, "bad input count %d", n);
    for (int k = 0; k < n; k++) {
        if (!in[k]) return onnx_ctx_fail(ctx, "missing input %d", k);
        ndims[k] = in[k]->ndim;
        dimp[k] = in[k]->dims;
    }
    if (onnx_broadcast_shape(n, ndims, dimp, &r, dims) < 0) {
        char s0[96], s1[96];
        ew_shape_str(in[0], s0, sizeof s0);
        ew_shape_str(in[n > 1 ? 1 : 0], s1, sizeof s1);
        if (n > 2) {
            char s2[96];
            ew_shape_str(in[2], s2, sizeof s2);
            return onnx_ctx_fail(ctx, "input shapes %s, %s and %s do not broadcast", s0, s1, s2);
        }
        return onnx_ctx_fail(ctx, "input shapes %s and %s do not broadcast", s0, s1);
    }
    onnx_tensor *out = onnx_ctx_output(ctx, 0, out_dtype, r, dims);
    if (!out) return -1;
    if (out_ret) *out_ret = out;
    if (onnx_tensor_numel(out) == 0) return 0;

    /* float16: widen the operands to float32, narrow the result */
    onnx_tensor wide[EW_MAX_INPUTS], wide_out;
    const onnx_tensor *use[EW_MAX_INPUTS];
    onnx_tensor *dst = out;
    for (int k = 0; k < n; k++) {
        use[k] = in[k];
        if (in[k]->dtype != INFERD_DTYPE_FP16) continue;
        if (ew_half_to_float(ctx, in[k], &wide[k]) < 0) return -1;
        use[k] = &wide[k];
    }
    if (out_dtype == INFERD_DTYPE_FP16) {
        wide_out = *out;
        wide_out.dtype = INFERD_DTYPE_FP32;
        wide_out.data = onnx_ctx_scratch(ctx, (size_t)onnx_tensor_numel(out) * sizeof(float));
        if (!wide_out.data) return -1;
        dst = &wide_out;
    }
    if (ew_broadcast_fill_on(onnx_ctx_tpool(ctx), dst, n, use, fn, param) < 0)
        return onnx_ctx_fail(ctx, "internal broadcast error");
    if (dst != out) ew_float_to_half_store(out->data, dst->data, (size_t)onnx_tensor_numel(out));
    return 0;
}
