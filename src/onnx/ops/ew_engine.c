/* The broadcast loop of the elementwise operators: computes the output shape, collapses axes
 * that are contiguous for every operand, and runs a row kernel along the innermost run. */
#include "ew_engine.h"

#include <stdio.h>

#include "../broadcast.h"
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

int ew_broadcast_fill(onnx_tensor *out, int n, const onnx_tensor *const *in, ew_row_fn fn,
                      const void *param)
{
    if (n < 1 || n > EW_MAX_INPUTS) return -1;
    int64_t total = onnx_tensor_numel(out);
    if (total == 0) return 0;
    /* strides[k][a]: input k's element stride on output axis a; operand n is the output */
    int64_t strides[EW_MAX_INPUTS + 1][ONNX_MAX_DIMS], dims[ONNX_MAX_DIMS];
    size_t esize[EW_MAX_INPUTS + 1];
    int r = out->ndim;
    for (int k = 0; k < n; k++) {
        if (in[k]->ndim > r) return -1;
        for (int a = 0; a < in[k]->ndim; a++) {
            int64_t d = in[k]->dims[a];
            if (d != 1 && d != out->dims[r - in[k]->ndim + a]) return -1;
        }
        onnx_broadcast_strides(in[k], r, out->dims, strides[k]);
        esize[k] = inferd_dtype_size(in[k]->dtype);
    }
    onnx_tensor_strides(out, strides[n]);
    esize[n] = inferd_dtype_size(out->dtype);

    /* Drop size-1 axes and merge an axis into the next inner one when every operand steps
     * over the inner axis exactly (stride[a] == stride[a+1] * dims[a+1], true for 0 too). */
    int m = 0;
    int64_t st[EW_MAX_INPUTS + 1][ONNX_MAX_DIMS];
    for (int a = 0; a < r; a++) {
        if (out->dims[a] == 1) continue;
        if (m > 0) {
            int merge = 1;
            for (int k = 0; k <= n && merge; k++)
                if (st[k][m - 1] != strides[k][a] * out->dims[a]) merge = 0;
            if (merge) {
                dims[m - 1] *= out->dims[a];
                for (int k = 0; k <= n; k++) st[k][m - 1] = strides[k][a];
                continue;
            }
        }
        dims[m] = out->dims[a];
        for (int k = 0; k <= n; k++) st[k][m] = strides[k][a];
        m++;
    }
    if (m == 0) { /* a single element */
        dims[0] = 1;
        for (int k = 0; k <= n; k++) st[k][0] = 1;
        m = 1;
    }

    int64_t row = dims[m - 1], step[EW_MAX_INPUTS];
    for (int k = 0; k < n; k++) step[k] = st[k][m - 1];
    int64_t idx[ONNX_MAX_DIMS] = {0}, off[EW_MAX_INPUTS] = {0};
    const void *ptr[EW_MAX_INPUTS];
    char *o = out->data;
    for (int64_t done = 0; done < total; done += row) {
        for (int k = 0; k < n; k++) ptr[k] = (const char *)in[k]->data + (size_t)off[k] * esize[k];
        fn(o + (size_t)done * esize[n], ptr, step, row, param);
        /* advance the outer counters (axes 0..m-2) */
        for (int a = m - 2; a >= 0; a--) {
            for (int k = 0; k < n; k++) off[k] += st[k][a];
            if (++idx[a] < dims[a]) break;
            for (int k = 0; k < n; k++) off[k] -= st[k][a] * dims[a];
            idx[a] = 0;
        }
    }
    return 0;
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
    if (ew_broadcast_fill(dst, n, use, fn, param) < 0)
        return onnx_ctx_fail(ctx, "internal broadcast error");
    if (dst != out) ew_float_to_half_store(out->data, dst->data, (size_t)onnx_tensor_numel(out));
    return 0;
}
