/* The quantization operator family table (8-bit linear quantization: Quantize/Dequantize,
 * dynamic quantization, integer and QLinear matrix products and convolutions); the parameter
 * helpers of quant.h are in quant_param.c. */
#include "../registry.h"
#include "quant.h"

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
