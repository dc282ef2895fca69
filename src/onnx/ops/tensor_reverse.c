/* ReverseSequence (10): for each batch entry b (along batch_axis), the first
 * sequence_lens[b] slices along time_axis are reversed and the rest copied unchanged. The two
 * axes are 0 and 1 in either order. */
#include <string.h>

#include "tensor_ops.h"
#include "tensor_util.h"

int onnx_run_reverse_sequence(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *sl = onnx_ctx_input(ctx, 1);
    if (!x || !sl) return onnx_ctx_fail(ctx, "needs inputs input and sequence_lens");
    size_t es = onnx_tu_esize(ctx, x);
    if (!es) return -1;
    if (x->ndim < 2) return onnx_ctx_fail(ctx, "input rank %d, expected >= 2", x->ndim);
    const int64_t ta = onnx_attr_int(node, "time_axis", 0),
                  ba = onnx_attr_int(node, "batch_axis", 1);
    if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
        return onnx_ctx_fail(ctx, "time_axis and batch_axis must be 0 and 1");
    const int64_t nt = x->dims[ta], nb = x->dims[ba];
    if (sl->dtype != INFERD_DTYPE_INT64 || sl->ndim != 1 || sl->dims[0] != nb)
        return onnx_ctx_fail(ctx, "sequence_lens must be int64 [%lld]", (long long)nb);
    const int64_t *lens = sl->data;
    for (int64_t b = 0; b < nb; b++)
        if (lens[b] < 0 || lens[b] > nt)
            return onnx_ctx_fail(ctx, "sequence_lens[%lld] = %lld outside [0, %lld]", (long long)b,
                                 (long long)lens[b], (long long)nt);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims);
    if (!y) return -1;
    const size_t slice = (size_t)onnx_tu_prod(x->dims, 2, x->ndim) * es;
    if (slice == 0) return 0;
    for (int64_t t = 0; t < nt; t++)
        for (int64_t b = 0; b < nb; b++) {
            const int64_t src_t = t < lens[b] ? lens[b] - 1 - t : t;
            const int64_t dst = ta == 0 ? t * nb + b : b * nt + t;
            const int64_t src = ta == 0 ? src_t * nb + b : b * nt + src_t;
            memcpy((char *)y->data + (size_t)dst * slice,
                   (const char *)x->data + (size_t)src * slice, slice);
        }
    return 0;
}
