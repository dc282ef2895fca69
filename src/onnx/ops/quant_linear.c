/* QuantizeLinear (10, 13), DequantizeLinear (10, 13) and DynamicQuantizeLinear (11):
 *   quantize   y = saturate(round_half_even(x / scale) + zero_point)   to uint8 or int8
 *   dequantize y = (x - zero_point) * scale                            to float32
 * with one scale per tensor, or from opset 13 one per slice along `axis` (default 1). Dynamic
 * quantization derives a uint8 scale and zero point from min(0, min x) .. max(0, max x), in
 * float32 as the reference does. */
#include "quant.h"
#include "tensor_util.h"

/* The parameters' slice count: 0 (per tensor) before opset 13 or for a one-value scale (then
 * `axis` does not matter), else dims[axis]; *inner is the element count of one step along the
 * axis. */
static int quant_axis(onnx_ctx *ctx, const onnx_tensor *x, const onnx_tensor *scale, int64_t *per_n,
                      int64_t *inner)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    *per_n = 0;
    *inner = 1;
    if (node->opset < 13 || x->ndim == 0 || onnx_tensor_numel(scale) == 1) return 0;
    int axis;
    if (onnx_tu_axis(ctx, onnx_attr_int(node, "axis", 1), x->ndim, &axis) < 0) return -1;
    *per_n = x->dims[axis];
    *inner = onnx_tu_prod(x->dims, axis + 1, x->ndim);
    return 0;
}

int quant_run_quantize(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *s = onnx_ctx_input(ctx, 1);
    const onnx_tensor *zp = onnx_ctx_input(ctx, 2);
    if (!x || !s) return onnx_ctx_fail(ctx, "needs inputs x and y_scale");
    if (x->dtype != INFERD_DTYPE_FP32 && x->dtype != INFERD_DTYPE_INT32)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    int64_t per_n, inner;
    if (quant_axis(ctx, x, s, &per_n, &inner) < 0 ||
        quant_check_param(ctx, s, per_n, INFERD_DTYPE_FP32, "y_scale") < 0 ||
        quant_check_param(ctx, zp, per_n, INFERD_DTYPE_INVALID, "y_zero_point") < 0)
        return -1;
    if (zp && onnx_tensor_numel(zp) != onnx_tensor_numel(s))
        return onnx_ctx_fail(ctx, "y_scale and y_zero_point sizes differ");
    const inferd_dtype out = zp ? zp->dtype : INFERD_DTYPE_UINT8;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, out, x->ndim, x->dims);
    if (!y) return -1;
    const int64_t n = onnx_tensor_numel(x), ns = onnx_tensor_numel(s);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = ns == 1 ? 0 : (i / inner) % per_n;
        /* float32 x / float32 scale in float32, int32 x in double (numpy's promotions) */
        double v = onnx_tu_load(x->data, x->dtype, i) / quant_param(s, k);
        if (x->dtype == INFERD_DTYPE_FP32)
            v = (float)onnx_tu_load(x->data, x->dtype, i) / (float)quant_param(s, k);
        if (v > 1e6) v = 1e6;
        if (v < -1e6) v = -1e6;
        quant_store(y->data, out, i, quant_saturate((float)v, (int)quant_param(zp, k), out));
    }
    return 0;
}

int quant_run_dequantize(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *s = onnx_ctx_input(ctx, 1);
    const onnx_tensor *zp = onnx_ctx_input(ctx, 2);
    if (!x || !s) return onnx_ctx_fail(ctx, "needs inputs x and x_scale");
    if (!quant_is_8bit(x->dtype) && x->dtype != INFERD_DTYPE_INT32)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    int64_t per_n, inner;
    if (quant_axis(ctx, x, s, &per_n, &inner) < 0 ||
        quant_check_param(ctx, s, per_n, INFERD_DTYPE_FP32, "x_scale") < 0 ||
        quant_check_param(ctx, zp, per_n, x->dtype, "x_zero_point") < 0)
        return -1;
    if (zp && onnx_tensor_numel(zp) != onnx_tensor_numel(s))
        return onnx_ctx_fail(ctx, "x_scale and x_zero_point sizes differ");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, x->ndim, x->dims);
    if (!y) return -1;
    const int64_t n = onnx_tensor_numel(x), ns = onnx_tensor_numel(s);
    float *yd = y->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = ns == 1 ? 0 : (i / inner) % per_n;
        double q = onnx_tu_load(x->data, x->dtype, i) - quant_param(zp, k);
        yd[i] = (float)q * (float)quant_param(s, k);
    }
    return 0;
}

int quant_run_dynamic_quantize(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "needs input x");
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    const int64_t n = onnx_tensor_numel(x);
    const float *xd = x->data;
    float lo = 0.0f, hi = 0.0f; /* the range always includes 0, so 0 is exact */
    for (int64_t i = 0; i < n; i++) {
        if (xd[i] != xd[i]) return onnx_ctx_fail(ctx, "input holds NaN");
        if (xd[i] < lo) lo = xd[i];
        if (xd[i] > hi) hi = xd[i];
    }
    const float scale = (hi - lo) / 255.0f;
    const int zp = scale > 0 ? quant_saturate(-lo / scale, 0, INFERD_DTYPE_UINT8) : 0;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_UINT8, x->ndim, x->dims);
    onnx_tensor *ys = onnx_ctx_output(ctx, 1, INFERD_DTYPE_FP32, 0, NULL);
    onnx_tensor *yz = onnx_ctx_output(ctx, 2, INFERD_DTYPE_UINT8, 0, NULL);
    if ((!y && onnx_ctx_output_wanted(ctx, 0)) || (!ys && onnx_ctx_output_wanted(ctx, 1)) ||
        (!yz && onnx_ctx_output_wanted(ctx, 2)))
        return -1;
    if (y)
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)y->data)[i] =
                (uint8_t)(scale > 0 ? quant_saturate(xd[i] / scale, zp, INFERD_DTYPE_UINT8) : 0);
    if (ys) *(float *)ys->data = scale;
    if (yz) *(uint8_t *)yz->data = (uint8_t)zp;
    return 0;
}
