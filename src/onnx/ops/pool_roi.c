/* MaxRoiPool (1), float32: for each region [batch, x1, y1, x2, y2] (input coordinates times
 * spatial_scale, rounded half away from zero, ends inclusive, at least 1 x 1) and channel,
 * the maximum over each cell of a pooled_shape grid (cell edges floor / ceil of the even
 * split, clamped to the image); an empty cell gives 0. This is Caffe's ROIPooling, which the
 * operator was taken from. */
#include <math.h>

#include "nn_ops.h"

int nn_max_roi_pool_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *rois = onnx_ctx_input(ctx, 1);
    if (!x || !rois) return onnx_ctx_fail(ctx, "needs inputs X and rois");
    if (x->dtype != INFERD_DTYPE_FP32 || rois->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim != 4 || rois->ndim != 2 || rois->dims[1] != 5)
        return onnx_ctx_fail(ctx, "X must be [N, C, H, W] and rois [R, 5]");
    const int64_t *ps;
    if (onnx_attr_ints(node, "pooled_shape", &ps) != 2 || ps[0] < 1 || ps[1] < 1 ||
        ps[0] > (1 << 16) || ps[1] > (1 << 16))
        return onnx_ctx_fail(ctx, "pooled_shape must be two positive ints");
    const float scale = onnx_attr_float(node, "spatial_scale", 1.0f);
    const int64_t nr = rois->dims[0], n = x->dims[0], c = x->dims[1], h = x->dims[2],
                  w = x->dims[3];
    const int64_t ph = ps[0], pw = ps[1];
    int64_t dims[4] = {nr, c, ph, pw};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, 4, dims);
    if (!y) return -1;
    const float *rd = rois->data, *xd = x->data;
    float *yd = y->data;
    for (int64_t r = 0; r < nr; r++) {
        const float *q = rd + r * 5;
        for (int k = 0; k < 5; k++)
            if (!(fabsf(q[k]) < 1e9f))
                return onnx_ctx_fail(ctx, "roi %lld is not finite", (long long)r);
        const int64_t b = (int64_t)q[0];
        if ((float)b != q[0] || b < 0 || b >= n)
            return onnx_ctx_fail(ctx, "roi %lld has batch index %g", (long long)r, (double)q[0]);
        const int64_t x1 = (int64_t)roundf(q[1] * scale), y1 = (int64_t)roundf(q[2] * scale);
        const int64_t x2 = (int64_t)roundf(q[3] * scale), y2 = (int64_t)roundf(q[4] * scale);
        const int64_t rw = x2 - x1 + 1 > 1 ? x2 - x1 + 1 : 1,
                      rh = y2 - y1 + 1 > 1 ? y2 - y1 + 1 : 1;
        const double bh = (double)rh / (double)ph, bw = (double)rw / (double)pw;
        for (int64_t ch = 0; ch < c; ch++) {
            const float *plane = xd + (b * c + ch) * h * w;
            for (int64_t i = 0; i < ph; i++)
                for (int64_t j = 0; j < pw; j++) {
                    int64_t hs = (int64_t)floor((double)i * bh) + y1,
                            he = (int64_t)ceil((double)(i + 1) * bh) + y1;
                    int64_t ws = (int64_t)floor((double)j * bw) + x1,
                            we = (int64_t)ceil((double)(j + 1) * bw) + x1;
                    hs = hs < 0 ? 0 : hs > h ? h : hs;
                    he = he < 0 ? 0 : he > h ? h : he;
                    ws = ws < 0 ? 0 : ws > w ? w : ws;
                    we = we < 0 ? 0 : we > w ? w : we;
                    float m = 0;
                    if (he > hs && we > ws) {
                        m = -INFINITY;
                        for (int64_t yy = hs; yy < he; yy++)
                            for (int64_t xx = ws; xx < we; xx++)
                                if (plane[yy * w + xx] > m) m = plane[yy * w + xx];
                    }
                    yd[((r * c + ch) * ph + i) * pw + j] = m;
                }
        }
    }
    return 0;
}
