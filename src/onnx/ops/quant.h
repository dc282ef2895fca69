/* Private to the quantization family (src/onnx/ops/quant*.c): checks and element access for
 * the scale and zero-point inputs, which are one value (per tensor) or one per row, column or
 * channel, and saturation into the 8-bit types. */
#ifndef ONNX_OPS_QUANT_H
#define ONNX_OPS_QUANT_H

#include <math.h>
#include <stdint.h>

#include "../op.h"

/* 1 for the 8-bit quantized types. */
static inline int quant_is_8bit(inferd_dtype t)
{
    return t == INFERD_DTYPE_UINT8 || t == INFERD_DTYPE_INT8;
}

/* Checks a scale or zero-point input p (may be NULL when optional): one value (rank 0 or 1),
 * or when per_n > 0 a 1-D tensor of per_n values; its type must be dtype (INVALID: uint8 or
 * int8). Returns 0, or fails naming `what`. */
int quant_check_param(onnx_ctx *ctx, const onnx_tensor *p, int64_t per_n, inferd_dtype dtype,
                      const char *what);

/* Value i of a checked parameter (value 0 when it holds one value); 0 for NULL. */
double quant_param(const onnx_tensor *p, int64_t i);

/* round-half-to-even(v) + zp clamped to the range of dtype (uint8 or int8); NaN gives zp. */
static inline int quant_saturate(float v, int zp, inferd_dtype dtype)
{
    const int lo = dtype == INFERD_DTYPE_INT8 ? -128 : 0,
              hi = dtype == INFERD_DTYPE_INT8 ? 127 : 255;
    float r = nearbyintf(v);
    if (r != r) return zp < lo ? lo : zp > hi ? hi : zp;
    if (r < -1e6f) r = -1e6f;
    if (r > 1e6f) r = 1e6f;
    int q = (int)r + zp;
    return q < lo ? lo : q > hi ? hi : q;
}

/* Stores q (already in range) as element i of uint8/int8 data. */
static inline void quant_store(void *data, inferd_dtype dtype, int64_t i, int q)
{
    if (dtype == INFERD_DTYPE_INT8) ((int8_t *)data)[i] = (int8_t)q;
    else ((uint8_t *)data)[i] = (uint8_t)q;
}

/* Element i of uint8/int8 data. */
static inline int quant_load(const void *data, inferd_dtype dtype, int64_t i)
{
    return dtype == INFERD_DTYPE_INT8 ? ((const int8_t *)data)[i] : ((const uint8_t *)data)[i];
}

/* Runs of the family (quant_linear.c, quant_matmul.c, quant_conv.c). */
int quant_run_quantize(onnx_ctx *ctx);
int quant_run_dequantize(onnx_ctx *ctx);
int quant_run_dynamic_quantize(onnx_ctx *ctx);
int quant_run_matmul_integer(onnx_ctx *ctx);
int quant_run_qlinear_matmul(onnx_ctx *ctx);
int quant_run_conv_integer(onnx_ctx *ctx);
int quant_run_qlinear_conv(onnx_ctx *ctx);

#endif
