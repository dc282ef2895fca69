/* Clip: bounds from the min/max attributes (opset < 11, float types) or from the optional
 * scalar min/max inputs (opset 11+, every numeric type from opset 12). NaN passes through. */
#include "unary_ops.h"

#include <float.h>
#include <math.h>

#include "ew_engine.h"
#include "unary_kernels.h"

/* max first, then min, as numpy.clip: with min > max every value becomes max */
#define UN_CLIP(LO, HI) ((x < (LO) ? (LO) : x) > (HI) ? (HI) : (x < (LO) ? (LO) : x))

UN_KERNEL(un_clip_f64, double, double, UN_CLIP(p->alpha, p->beta))
UN_KERNEL(un_clip_i8, int8_t, int8_t, UN_CLIP(p->ilo, p->ihi))
UN_KERNEL(un_clip_i16, int16_t, int16_t, UN_CLIP(p->ilo, p->ihi))
UN_KERNEL(un_clip_i32, int32_t, int32_t, UN_CLIP(p->ilo, p->ihi))
UN_KERNEL(un_clip_i64, int64_t, int64_t, UN_CLIP(p->ilo, p->ihi))
UN_KERNEL(un_clip_u8, uint8_t, uint8_t, UN_CLIP(p->ulo, p->uhi))
UN_KERNEL(un_clip_u16, uint16_t, uint16_t, UN_CLIP(p->ulo, p->uhi))
UN_KERNEL(un_clip_u32, uint32_t, uint32_t, UN_CLIP(p->ulo, p->uhi))
UN_KERNEL(un_clip_u64, uint64_t, uint64_t, UN_CLIP(p->ulo, p->uhi))

/* Float32 goes through the shared activation (ONNX_ACT_CLIP); listed for the type check. */
static const un_kernel un_clip_table[] = {
    {INFERD_DTYPE_FP64, un_clip_f64},   {INFERD_DTYPE_INT8, un_clip_i8},
    {INFERD_DTYPE_INT16, un_clip_i16},  {INFERD_DTYPE_INT32, un_clip_i32},
    {INFERD_DTYPE_INT64, un_clip_i64},  {INFERD_DTYPE_UINT8, un_clip_u8},
    {INFERD_DTYPE_UINT16, un_clip_u16}, {INFERD_DTYPE_UINT32, un_clip_u32},
    {INFERD_DTYPE_UINT64, un_clip_u64}, UN_END};

static int un_clip_apply(onnx_ctx *ctx, const un_param *p)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input 0");
    if (x->dtype != INFERD_DTYPE_FP32 && x->dtype != INFERD_DTYPE_FP16)
        return un_run(ctx, un_clip_table, INFERD_DTYPE_INVALID, p);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims);
    if (!y) return -1;
    size_t n = (size_t)onnx_tensor_numel(x);
    if (n == 0) return 0;
    onnx_tensor wide = *x;
    if (x->dtype == INFERD_DTYPE_FP16 && ew_half_to_float(ctx, x, &wide) < 0) return -1;
    const float *in = wide.data;
    float *out = x->dtype == INFERD_DTYPE_FP16 ? wide.data : y->data;
    float lo = (float)p->alpha, hi = (float)p->beta;
    for (size_t i = 0; i < n; i++) {
        float v = in[i];
        v = v < lo ? lo : v;
        out[i] = v > hi ? hi : v;
    }
    if (x->dtype == INFERD_DTYPE_FP16) ew_float_to_half_store(y->data, out, n);
    return 0;
}

int un_run_clip_attrs(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    un_param p = {.alpha = onnx_attr_float(node, "min", -FLT_MAX),
                  .beta = onnx_attr_float(node, "max", FLT_MAX)};
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (x && x->dtype != INFERD_DTYPE_FP32 && x->dtype != INFERD_DTYPE_FP64 &&
        x->dtype != INFERD_DTYPE_FP16)
        return onnx_ctx_unsupported(ctx, "input type %s not supported",
                                    inferd_dtype_name(x->dtype));
    if (x && x->dtype == INFERD_DTYPE_FP64) { /* attribute defaults are float limits */
        if (!onnx_node_attr(node, "min")) p.alpha = -DBL_MAX;
        if (!onnx_node_attr(node, "max")) p.beta = DBL_MAX;
    }
    return un_clip_apply(ctx, &p);
}

/* Reads the scalar bound input k (absent: keep the defaults). */
static int un_clip_bound(onnx_ctx *ctx, int k, const onnx_tensor *x, un_param *p)
{
    const onnx_tensor *b = onnx_ctx_input(ctx, k);
    if (!b) return 0;
    const char *name = k == 1 ? "min" : "max";
    if (b->dtype != x->dtype)
        return onnx_ctx_fail(ctx, "%s is %s, expected %s like the input", name,
                             inferd_dtype_name(b->dtype), inferd_dtype_name(x->dtype));
    if (onnx_tensor_numel(b) != 1) return onnx_ctx_fail(ctx, "%s must be a scalar", name);
    double d = onnx_tensor_get_double(b, 0);
    int64_t i = onnx_tensor_get_int(b, 0);
    uint64_t u = b->dtype == INFERD_DTYPE_UINT64 ? *(const uint64_t *)b->data : (uint64_t)i;
    if (k == 1) {
        p->alpha = d;
        p->ilo = i;
        p->ulo = u;
    } else {
        p->beta = d;
        p->ihi = i;
        p->uhi = u;
    }
    return 0;
}

int un_run_clip_inputs(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input 0");
    un_param p = {.alpha = -INFINITY,
                  .beta = INFINITY,
                  .ilo = INT64_MIN,
                  .ihi = INT64_MAX,
                  .ulo = 0,
                  .uhi = UINT64_MAX};
    if (un_clip_bound(ctx, 1, x, &p) < 0 || un_clip_bound(ctx, 2, x, &p) < 0) return -1;
    return un_clip_apply(ctx, &p);
}
