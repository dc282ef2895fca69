/* MaxUnpool (9, 11): scatters X [N, C, D1..] into a zero output at the positions I holds:
 * flat indices into the whole default-shaped output, as MaxPool's Indices output gives them,
 * where the default spatial size is (in - 1) * stride + kernel - pad_begin - pad_end. With
 * the optional output_shape input the output has that shape and every element keeps its
 * coordinates (as the ONNX test data defines it: the extra is zeros at the end). */
#include <string.h>

#include "nn_common.h"
#include "nn_ops.h"
#include "tensor_util.h"

int nn_maxunpool_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *ix = onnx_ctx_input(ctx, 1);
    const onnx_tensor *shape = onnx_ctx_input(ctx, 2);
    if (!x || !ix) return onnx_ctx_fail(ctx, "needs inputs X and I");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    if (ix->dtype != INFERD_DTYPE_INT64 || ix->ndim != x->ndim)
        return onnx_ctx_fail(ctx, "I must be int64 with X's shape");
    for (int k = 0; k < x->ndim; k++)
        if (ix->dims[k] != x->dims[k]) return onnx_ctx_fail(ctx, "I must have X's shape");
    if (x->ndim < 3) return onnx_ctx_fail(ctx, "input rank %d, expected N x C x spatial", x->ndim);
    const int nsp = x->ndim - 2;
    nn_spatial_attrs a;
    if (nn_spatial_attrs_read(ctx, node, nsp, &a) != 0) return -1;
    if (!a.has_kernel) return onnx_ctx_fail(ctx, "kernel_shape is required");
    int64_t dims[ONNX_MAX_DIMS], def[ONNX_MAX_DIMS]; /* output shape, default output shape */
    def[0] = dims[0] = x->dims[0];
    def[1] = dims[1] = x->dims[1];
    for (int i = 0; i < nsp; i++) {
        int64_t v = (x->dims[2 + i] - 1) * a.s[i] + a.k[i] - a.pb[i] - a.pe[i];
        if (x->dims[2 + i] == 0) v = 0;
        if (v < 0) return onnx_ctx_fail(ctx, "output spatial dim %d would be negative", i);
        def[2 + i] = dims[2 + i] = v;
    }
    if (shape) {
        int n;
        if (onnx_tu_read_ints(ctx, shape, "output_shape", dims, ONNX_MAX_DIMS, &n) < 0) return -1;
        if (n != x->ndim || dims[0] != x->dims[0] || dims[1] != x->dims[1])
            return onnx_ctx_fail(ctx, "output_shape must be [N, C, spatial...] of X's N and C");
        for (int k = 2; k < n; k++)
            if (dims[k] < 0) return onnx_ctx_fail(ctx, "negative output_shape");
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, dims);
    if (!y) return -1;
    const int64_t total = onnx_tensor_numel(y), n = onnx_tensor_numel(x);
    const int64_t def_total = onnx_tu_prod(def, 0, x->ndim);
    if (total > 0) memset(y->data, 0, onnx_tensor_nbytes(y));
    const int64_t *id = ix->data;
    for (int64_t i = 0; i < n; i++) {
        if (id[i] < 0 || id[i] >= def_total)
            return onnx_ctx_fail(ctx, "index %lld outside the unpooled tensor's %lld elements",
                                 (long long)id[i], (long long)def_total);
        /* the index addresses the default-shaped output; a larger output_shape keeps each
         * element's coordinates (the extra rows and columns stay zero) */
        int64_t rem = id[i], dst = 0, stride = 1;
        for (int k = x->ndim - 1; k >= 0; k--) {
            const int64_t coord = rem % def[k];
            rem /= def[k];
            if (coord >= dims[k])
                return onnx_ctx_fail(ctx, "index %lld falls outside output_shape",
                                     (long long)id[i]);
            dst += coord * stride;
            stride *= dims[k];
        }
        memcpy((char *)y->data + (size_t)dst * es, (const char *)x->data + (size_t)i * es, es);
    }
    return 0;
}
