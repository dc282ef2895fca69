/* The quantization operator family table (8-bit linear quantization: Quantize/Dequantize,
 * dynamic quantization, integer and QLinear matrix products and convolutions) and the
 * parameter helpers of quant.h. */
#include "../registry.h"
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

static const onnx_op quant_ops[] = {
    /* opset 13 adds per-axis scales (axis attribute); the run reads node->opset */
    {"QuantizeLinear", 10, NULL, quant_run_quantize, NULL},
    {"DequantizeLinear", 10, NULL, quant_run_dequantize, NULL},
    {"DynamicQuantizeLinear", 11, NULL, quant_run_dynamic_quantize, NULL},
    {"MatMulInteger", 10, NULL, quant_run_matmul_integer, NULL},
    {"QLinearMatMul", 10, NULL, quant_run_qlinear_matmul, NULL},
    {"ConvInteger", 10, NULL, quant_run_conv_integer, NULL},
    {"QLinearConv", 10, NULL, quant_run_qlinear_conv, NULL},
};

const onnx_op *onnx_ops_quant(size_t *count)
{
    *count = sizeof quant_ops / sizeof quant_ops[0];
    return quant_ops;
}
