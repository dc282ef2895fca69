/* ConvInteger (10) and QLinearConv (10): convolutions of uint8/int8 data with the attributes of
 * Conv (pads, strides, dilations, groups, auto_pad), accumulated exactly in integers:
 *   ConvInteger  y(int32) = sum (x - x_zp) * (w[m] - w_zp[m])
 *   QLinearConv  y = saturate(round((acc + B[m]) * x_scale * w_scale[m] / y_scale) + y_zp)
 * w_zp and w_scale hold one value or one per output channel m. Direct loops: these serve
 * correctness first (quantized models are rare here); a packed path can come later. */
#include <string.h>

#include "nn_common.h"
#include "quant.h"

typedef struct qconv_plan {
    nn_geom g;
    int64_t n, c, m, group;
    int rank;
    int64_t dims[ONNX_MAX_DIMS];
} qconv_plan;

static int qconv_check(onnx_ctx *ctx, const onnx_tensor *x, const onnx_tensor *w, qconv_plan *p)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    if (!quant_is_8bit(x->dtype) || !quant_is_8bit(w->dtype))
        return onnx_ctx_unsupported(ctx, "operand types %s and %s not supported",
                                    inferd_dtype_name(x->dtype), inferd_dtype_name(w->dtype));
    if (x->ndim < 3 || w->ndim != x->ndim)
        return onnx_ctx_fail(ctx, "X rank %d and W rank %d; expected equal ranks >= 3", x->ndim,
                             w->ndim);
    p->group = onnx_attr_int(node, "group", 1);
    p->n = x->dims[0];
    p->c = x->dims[1];
    p->m = w->dims[0];
    if (!nn_conv_group_fits(p->group, p->c, p->m, w->dims[1]))
        return onnx_ctx_fail(ctx, "group %lld does not fit X channels %lld and W %lld x %lld",
                             (long long)p->group, (long long)p->c, (long long)p->m,
                             (long long)w->dims[1]);
    if (nn_geom_window(ctx, node, x, w->dims + 2, 0, &p->g) != 0) return -1;
    p->rank = nn_geom_out_dims(&p->g, p->n, p->m, p->dims);
    return 0;
}

/* acc[n][m][out positions] = the zero-point-corrected integer convolution. */
static void qconv_accumulate(const qconv_plan *p, const onnx_tensor *x, int xzp,
                             const onnx_tensor *w, const onnx_tensor *wzp, int32_t *acc)
{
    const nn_geom *g = &p->g;
    const int64_t cg = p->c / p->group, mg = p->m / p->group, ks = nn_geom_k_size(g);
    const int64_t in_size = nn_geom_in_size(g), out_size = nn_geom_out_size(g);
    for (int64_t b = 0; b < p->n; b++)
        for (int64_t mo = 0; mo < p->m; mo++) {
            const int64_t gi = mo / mg;
            const int zw = (int)quant_param(wzp, mo);
            int32_t *out = acc + (b * p->m + mo) * out_size;
            for (int64_t od = 0; od < g->out[0]; od++)
                for (int64_t oh = 0; oh < g->out[1]; oh++)
                    for (int64_t ow = 0; ow < g->out[2]; ow++) {
                        int64_t sum = 0;
                        for (int64_t ci = 0; ci < cg; ci++) {
                            const int64_t xbase = (b * p->c + gi * cg + ci) * in_size;
                            const int64_t wbase = (mo * cg + ci) * ks;
                            for (int64_t kd = 0; kd < g->k[0]; kd++) {
                                const int64_t id = od * g->s[0] - g->pb[0] + kd * g->d[0];
                                if (id < 0 || id >= g->in[0]) continue;
                                for (int64_t kh = 0; kh < g->k[1]; kh++) {
                                    const int64_t ih = oh * g->s[1] - g->pb[1] + kh * g->d[1];
                                    if (ih < 0 || ih >= g->in[1]) continue;
                                    for (int64_t kw = 0; kw < g->k[2]; kw++) {
                                        const int64_t iw = ow * g->s[2] - g->pb[2] + kw * g->d[2];
                                        if (iw < 0 || iw >= g->in[2]) continue;
                                        const int xv = quant_load(
                                            x->data, x->dtype,
                                            xbase + (id * g->in[1] + ih) * g->in[2] + iw);
                                        const int wv =
                                            quant_load(w->data, w->dtype,
                                                       wbase + (kd * g->k[1] + kh) * g->k[2] + kw);
                                        sum += (int64_t)(xv - xzp) * (wv - zw);
                                    }
                                }
                            }
                        }
                        out[(od * g->out[1] + oh) * g->out[2] + ow] =
                            (int32_t)(uint32_t)(uint64_t)sum;
                    }
        }
}

int quant_run_conv_integer(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *w = onnx_ctx_input(ctx, 1);
    const onnx_tensor *xzp = onnx_ctx_input(ctx, 2), *wzp = onnx_ctx_input(ctx, 3);
    if (!x || !w) return onnx_ctx_fail(ctx, "needs inputs x and w");
    qconv_plan p;
    if (qconv_check(ctx, x, w, &p) < 0 ||
        quant_check_param(ctx, xzp, 0, x->dtype, "x_zero_point") < 0 ||
        quant_check_param(ctx, wzp, p.m, w->dtype, "w_zero_point") < 0)
        return -1;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_INT32, p.rank, p.dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) > 0)
        qconv_accumulate(&p, x, (int)quant_param(xzp, 0), w, wzp, y->data);
    return 0;
}

int quant_run_qlinear_conv(onnx_ctx *ctx)
{
    const onnx_tensor *in[9];
    for (int i = 0; i < 9; i++) {
        in[i] = onnx_ctx_input(ctx, i);
        if (!in[i] && i < 8) return onnx_ctx_fail(ctx, "missing input %d", i);
    }
    const onnx_tensor *x = in[0], *xs = in[1], *xzp = in[2], *w = in[3], *ws = in[4];
    const onnx_tensor *wzp = in[5], *ys = in[6], *yzp = in[7], *bias = in[8];
    qconv_plan p;
    if (qconv_check(ctx, x, w, &p) < 0 ||
        quant_check_param(ctx, xs, 0, INFERD_DTYPE_FP32, "x_scale") < 0 ||
        quant_check_param(ctx, xzp, 0, x->dtype, "x_zero_point") < 0 ||
        quant_check_param(ctx, ws, p.m, INFERD_DTYPE_FP32, "w_scale") < 0 ||
        quant_check_param(ctx, wzp, p.m, w->dtype, "w_zero_point") < 0 ||
        quant_check_param(ctx, ys, 0, INFERD_DTYPE_FP32, "y_scale") < 0 ||
        quant_check_param(ctx, yzp, 0, INFERD_DTYPE_INVALID, "y_zero_point") < 0)
        return -1;
    if (bias && (bias->dtype != INFERD_DTYPE_INT32 || bias->ndim != 1 || bias->dims[0] != p.m))
        return onnx_ctx_fail(ctx, "B must be int32 with %lld values", (long long)p.m);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, yzp->dtype, p.rank, p.dims);
    if (!y) return -1;
    const int64_t total = onnx_tensor_numel(y);
    if (total == 0) return 0;
    int32_t *acc = onnx_ctx_scratch(ctx, (size_t)total * sizeof(int32_t));
    if (!acc) return -1;
    qconv_accumulate(&p, x, (int)quant_param(xzp, 0), w, wzp, acc);
    const int64_t out_size = nn_geom_out_size(&p.g);
    const float x_scale = (float)quant_param(xs, 0), y_scale = (float)quant_param(ys, 0);
    const int y_zp = (int)quant_param(yzp, 0);
    for (int64_t e = 0; e < total; e++) {
        const int64_t mo = (e / out_size) % p.m;
        const int64_t v = (int64_t)acc[e] + (bias ? ((const int32_t *)bias->data)[mo] : 0);
        const float mult = x_scale * (float)quant_param(ws, mo) / y_scale;
        quant_store(y->data, yzp->dtype, e, quant_saturate((float)v * mult, y_zp, yzp->dtype));
    }
    return 0;
}
