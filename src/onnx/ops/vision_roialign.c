/* RoiAlign (10, 16), float32: for each region of interest (x1, y1, x2, y2 in input pixels
 * times spatial_scale) and channel, an output_height x output_width grid of bins, each the
 * average of sampling_ratio^2 bilinear samples (adaptive: ceil(roi size / bins) per axis when
 * sampling_ratio is 0), as in Mask R-CNN. coordinate_transformation_mode half_pixel (the
 * default from opset 16) shifts the region by -0.5 pixel; output_half_pixel (opset 10's only
 * behaviour) does not and makes regions at least 1 x 1. Samples further than one pixel
 * outside the image count as 0. mode=max is not implemented (its reference definitions take
 * the maximum of the weighted corner terms, not of the samples, and disagree on it). */
#include <math.h>
#include <string.h>

#include "vision_ops.h"

static double bilinear(const float *p, int64_t h, int64_t w, double y, double x)
{
    if (y < -1.0 || y > (double)h || x < -1.0 || x > (double)w) return 0;
    if (y < 0) y = 0;
    if (x < 0) x = 0;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= h - 1) y0 = y1 = h - 1, y = (double)y0;
    else y1 = y0 + 1;
    if (x0 >= w - 1) x0 = x1 = w - 1, x = (double)x0;
    else x1 = x0 + 1;
    const double ly = y - (double)y0, lx = x - (double)x0, hy = 1 - ly, hx = 1 - lx;
    return hy * hx * p[y0 * w + x0] + hy * lx * p[y0 * w + x1] + ly * hx * p[y1 * w + x0] +
           ly * lx * p[y1 * w + x1];
}

int vision_run_roi_align(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *rois = onnx_ctx_input(ctx, 1);
    const onnx_tensor *bi = onnx_ctx_input(ctx, 2);
    if (!x || !rois || !bi) return onnx_ctx_fail(ctx, "needs inputs X, rois and batch_indices");
    if (x->dtype != INFERD_DTYPE_FP32 || rois->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim != 4 || rois->ndim != 2 || rois->dims[1] != 4 || bi->dtype != INFERD_DTYPE_INT64 ||
        bi->ndim != 1 || bi->dims[0] != rois->dims[0])
        return onnx_ctx_fail(ctx, "X must be [N, C, H, W], rois [R, 4], batch_indices int64 [R]");
    const char *mode = onnx_attr_string(node, "mode", "avg");
    if (strcmp(mode, "max") == 0) return onnx_ctx_unsupported(ctx, "mode 'max' is not supported");
    if (strcmp(mode, "avg") != 0) return onnx_ctx_fail(ctx, "unknown mode '%s'", mode);
    const char *ct = onnx_attr_string(node, "coordinate_transformation_mode",
                                      node->opset >= 16 ? "half_pixel" : "output_half_pixel");
    int half;
    if (strcmp(ct, "half_pixel") == 0) half = 1;
    else if (strcmp(ct, "output_half_pixel") == 0) half = 0;
    else return onnx_ctx_fail(ctx, "unknown coordinate_transformation_mode '%s'", ct);
    const int64_t oh = onnx_attr_int(node, "output_height", 1),
                  ow = onnx_attr_int(node, "output_width", 1);
    const int64_t sr = onnx_attr_int(node, "sampling_ratio", 0);
    const float scale = onnx_attr_float(node, "spatial_scale", 1.0f);
    if (oh < 1 || ow < 1 || oh > (1 << 16) || ow > (1 << 16) || sr < 0 || sr > (1 << 16))
        return onnx_ctx_fail(ctx, "bad output size or sampling_ratio");
    const int64_t nr = rois->dims[0], n = x->dims[0], c = x->dims[1], h = x->dims[2],
                  w = x->dims[3];
    int64_t dims[4] = {nr, c, oh, ow};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, 4, dims);
    if (!y) return -1;
    const float *rd = rois->data, *xd = x->data;
    const int64_t *bd = bi->data;
    float *yd = y->data;
    const double off = half ? 0.5 : 0.0;
    for (int64_t r = 0; r < nr; r++) {
        if (bd[r] < 0 || bd[r] >= n)
            return onnx_ctx_fail(ctx, "batch index %lld out of range", (long long)bd[r]);
        const float *q = rd + r * 4;
        if (!(isfinite(q[0]) && isfinite(q[1]) && isfinite(q[2]) && isfinite(q[3])))
            return onnx_ctx_fail(ctx, "roi %lld is not finite", (long long)r);
        const double x1 = q[0] * scale - off, y1 = q[1] * scale - off;
        double rw = q[2] * scale - off - x1, rh = q[3] * scale - off - y1;
        if (!half) {
            if (rw < 1) rw = 1;
            if (rh < 1) rh = 1;
        }
        const double bh = rh / (double)oh, bw = rw / (double)ow;
        int64_t gh = sr > 0 ? sr : (int64_t)ceil(rh / (double)oh);
        int64_t gw = sr > 0 ? sr : (int64_t)ceil(rw / (double)ow);
        if (gh < 0 || gw < 0 || gh > (1 << 16) || gw > (1 << 16))
            return onnx_ctx_fail(ctx, "roi %lld is too large to sample", (long long)r);
        const double cnt = gh * gw > 0 ? (double)(gh * gw) : 1.0;
        for (int64_t ch = 0; ch < c; ch++) {
            const float *plane = xd + (bd[r] * c + ch) * h * w;
            for (int64_t ph = 0; ph < oh; ph++)
                for (int64_t pw = 0; pw < ow; pw++) {
                    double sum = 0;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        const double yy =
                            y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            const double xx =
                                x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            sum += bilinear(plane, h, w, yy, xx);
                        }
                    }
                    yd[((r * c + ch) * oh + ph) * ow + pw] = (float)(sum / cnt);
                }
        }
    }
    return 0;
}
