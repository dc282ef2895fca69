/* The shared runner of the unary family (unary_kernels.h): picks the kernel for the input's
 * type, makes the output, and computes float16 through float32. */
#include "ew_engine.h"
#include "unary_kernels.h"

int un_run(onnx_ctx *ctx, const un_kernel *table, inferd_dtype out_dtype, const un_param *p)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input 0");
    int half = x->dtype == INFERD_DTYPE_FP16; /* computed with the float32 kernel */
    inferd_dtype want = half ? INFERD_DTYPE_FP32 : x->dtype;
    un_fn fn = NULL;
    for (; table->fn; table++)
        if (table->dtype == want) {
            fn = table->fn;
            break;
        }
    if (!fn)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    if (out_dtype == INFERD_DTYPE_INVALID) out_dtype = x->dtype;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, out_dtype, x->ndim, x->dims);
    if (!y) return -1;
    int64_t n = onnx_tensor_numel(x);
    if (n == 0) return 0;
    if (!half) {
        fn(y->data, x->data, n, p);
        return 0;
    }
    onnx_tensor wide;
    if (ew_half_to_float(ctx, x, &wide) < 0) return -1;
    if (out_dtype != INFERD_DTYPE_FP16) { /* IsNaN/IsInf: bool straight out */
        fn(y->data, wide.data, n, p);
        return 0;
    }
    fn(wide.data, wide.data, n, p); /* in place on the scratch copy */
    ew_float_to_half_store(y->data, wide.data, (size_t)n);
    return 0;
}
