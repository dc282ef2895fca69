/* The scale and zero-point parameter helpers of quant.h, shared by quant_linear.c,
 * quant_matmul.c and quant_conv.c. */
#include "quant.h"
#include "tensor_util.h"

int quant_check_param(onnx_ctx *ctx, const onnx_tensor *p, int64_t per_n, inferd_dtype dtype,
                      const char *what)
{
    if (!p) return 0;
    if (dtype == INFERD_DTYPE_INVALID ? !quant_is_8bit(p->dtype) : p->dtype != dtype)
        return onnx_ctx_fail(ctx, "%s has type %s", what, inferd_dtype_name(p->dtype));
    int64_t n = onnx_tensor_numel(p);
    if (p->ndim <= 1 && n == 1) return 0;
    if (per_n > 0 && p->ndim == 1 && n == per_n) return 0;
    if (per_n > 0)
        return onnx_ctx_fail(ctx, "%s must hold 1 or %lld values", what, (long long)per_n);
    return onnx_ctx_fail(ctx, "%s must be a single value", what);
}

double quant_param(const onnx_tensor *p, int64_t i)
{
    if (!p) return 0;
    return onnx_tu_load(p->data, p->dtype, onnx_tensor_numel(p) == 1 ? 0 : i);
}
