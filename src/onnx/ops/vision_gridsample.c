/* GridSample (16): samples X [N, C, H, W] at the normalized (x, y) locations of grid
 * [N, Ho, Wo, 2] (-1 and 1 are the outer edges of the corner pixels, or their centers with
 * align_corners) with nearest (round half to even), bilinear or bicubic (A = -0.75)
 * interpolation. Out-of-range locations read zeros, the clamped border, or the image
 * reflected at its edges (padding_mode), with PyTorch's grid_sample semantics, which the ONNX
 * operator was defined after; bicubic applies the padding rule to each of its 16 taps. */
#include <math.h>
#include <string.h>

#include "vision_ops.h"

enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };
enum { GS_BILINEAR, GS_NEAREST, GS_BICUBIC };

typedef struct gs_cfg {
    int mode, pad, align;
    int64_t h, w;
} gs_cfg;

static double gs_unnormalize(double c, int64_t size, int align)
{
    return align ? (c + 1) / 2 * (double)(size - 1) : ((c + 1) * (double)size - 1) / 2;
}

/* Reflects c into [lo2 / 2, hi2 / 2] (bounds given doubled, as they may be half-integers). */
static double gs_reflect(double c, double lo2, double hi2)
{
    if (lo2 == hi2) return 0;
    double lo = lo2 / 2, span = (hi2 - lo2) / 2;
    c = fabs(c - lo);
    double extra = fmod(c, span);
    int64_t flips = (int64_t)floor(c / span);
    return flips % 2 == 0 ? extra + lo : span - extra + lo;
}

static double gs_clip(double c, int64_t size)
{
    return c < 0 ? 0 : c > (double)(size - 1) ? (double)(size - 1) : c;
}

/* The padding rule applied to a source coordinate (not for zeros padding). */
static double gs_pad(const gs_cfg *g, double c, int64_t size)
{
    if (g->pad == GS_BORDER) return gs_clip(c, size);
    if (g->pad == GS_REFLECTION) {
        c = g->align ? gs_reflect(c, 0, 2.0 * (double)(size - 1))
                     : gs_reflect(c, -1, 2.0 * (double)size - 1);
        return gs_clip(c, size);
    }
    return c;
}

/* Pixel (x, y) of plane p, 0 outside the image. */
static double gs_pixel(const float *p, const gs_cfg *g, int64_t x, int64_t y)
{
    if (x < 0 || y < 0 || x >= g->w || y >= g->h) return 0;
    return p[y * g->w + x];
}

static double gs_cubic(double t, double c[4])
{
    const double a = -0.75;
    double x1 = t + 1, x2 = t, x3 = 1 - t, x4 = 2 - t;
    c[0] = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a;
    c[1] = ((a + 2) * x2 - (a + 3)) * x2 * x2 + 1;
    c[2] = ((a + 2) * x3 - (a + 3)) * x3 * x3 + 1;
    c[3] = ((a * x4 - 5 * a) * x4 + 8 * a) * x4 - 4 * a;
    return 0;
}

static double gs_sample(const float *p, const gs_cfg *g, double gx, double gy)
{
    double x = gs_unnormalize(gx, g->w, g->align), y = gs_unnormalize(gy, g->h, g->align);
    if (g->mode == GS_BICUBIC) {
        double x0 = floor(x), y0 = floor(y), cx[4], cy[4], sum = 0;
        gs_cubic(x - x0, cx);
        gs_cubic(y - y0, cy);
        for (int j = 0; j < 4; j++) {
            double row = 0;
            for (int i = 0; i < 4; i++) {
                double tx = gs_pad(g, x0 - 1 + i, g->w), ty = gs_pad(g, y0 - 1 + j, g->h);
                row += cx[i] * gs_pixel(p, g, (int64_t)tx, (int64_t)ty);
            }
            sum += cy[j] * row;
        }
        return sum;
    }
    x = gs_pad(g, x, g->w);
    y = gs_pad(g, y, g->h);
    if (g->mode == GS_NEAREST) return gs_pixel(p, g, (int64_t)nearbyint(x), (int64_t)nearbyint(y));
    double x0 = floor(x), y0 = floor(y), fx = x - x0, fy = y - y0;
    int64_t ix = (int64_t)x0, iy = (int64_t)y0;
    return (1 - fy) * ((1 - fx) * gs_pixel(p, g, ix, iy) + fx * gs_pixel(p, g, ix + 1, iy)) +
           fy * ((1 - fx) * gs_pixel(p, g, ix, iy + 1) + fx * gs_pixel(p, g, ix + 1, iy + 1));
}

static int gs_choice(onnx_ctx *ctx, const char *attr, const char *def, const char *const *names,
                     int n, int *out)
{
    const char *s = onnx_attr_string(onnx_ctx_node(ctx), attr, def);
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return onnx_ctx_fail(ctx, "unknown %s '%s'", attr, s);
}

int vision_run_grid_sample(onnx_ctx *ctx)
{
    static const char *const modes[] = {"bilinear", "nearest", "bicubic"};
    static const char *const pads[] = {"zeros", "border", "reflection"};
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *grid = onnx_ctx_input(ctx, 1);
    if (!x || !grid) return onnx_ctx_fail(ctx, "needs inputs X and grid");
    if (x->dtype != INFERD_DTYPE_FP32 || grid->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim != 4 || grid->ndim != 4 || grid->dims[0] != x->dims[0] || grid->dims[3] != 2)
        return onnx_ctx_fail(ctx, "X must be [N, C, H, W] and grid [N, Ho, Wo, 2]");
    gs_cfg g;
    if (gs_choice(ctx, "mode", "bilinear", modes, 3, &g.mode) < 0 ||
        gs_choice(ctx, "padding_mode", "zeros", pads, 3, &g.pad) < 0)
        return -1;
    g.align = onnx_attr_int(onnx_ctx_node(ctx), "align_corners", 0) != 0;
    g.h = x->dims[2];
    g.w = x->dims[3];
    const int64_t n = x->dims[0], c = x->dims[1], ho = grid->dims[1], wo = grid->dims[2];
    int64_t dims[4] = {n, c, ho, wo};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, 4, dims);
    if (!y) return -1;
    const float *gd = grid->data, *xd = x->data;
    float *yd = y->data;
    for (int64_t b = 0; b < n; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            const float *plane = xd + (b * c + ch) * g.h * g.w;
            for (int64_t k = 0; k < ho * wo; k++) {
                const float *loc = gd + (b * ho * wo + k) * 2;
                double v = 0;
                /* a NaN location reads nothing: it would make an invalid index */
                if (loc[0] == loc[0] && loc[1] == loc[1] && fabsf(loc[0]) < 1e6f &&
                    fabsf(loc[1]) < 1e6f)
                    v = gs_sample(plane, &g, loc[0], loc[1]);
                yd[(b * c + ch) * ho * wo + k] = (float)v;
            }
        }
    return 0;
}
