/* Resize (opset 10, 11, 13) and Upsample (7, 9): nearest / linear / cubic interpolation,
 * separable, one axis at a time in double precision. Tap positions and weights follow the
 * ONNX reference implementation (onnx/backend/test/case/node/resize.py) exactly, including
 * its edge padding and exclude_outside renormalisation. */
#include "tensor_ops.h"
#include "tensor_util.h"

#include <math.h>
#include <string.h>

enum { M_NEAREST, M_LINEAR, M_CUBIC };
enum {
    CT_HALF_PIXEL,
    CT_PYTORCH_HALF_PIXEL,
    CT_ALIGN_CORNERS,
    CT_ASYMMETRIC,
    CT_TF_HALF_PIXEL,
    CT_TF_CROP
};
enum { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

typedef struct resize_cfg {
    int mode, coord, nearest;
    double cubic_a, extrapolation;
    int exclude_outside;
} resize_cfg;

typedef struct axis_plan {
    int ntaps;
    int64_t *idx;          /* out_len * ntaps source indices, clamped into [0, in) */
    double *w;             /* out_len * ntaps weights */
    unsigned char *extrap; /* out_len flags: value is cfg.extrapolation */
} axis_plan;

static int pick(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

static void tap_weights(const resize_cfg *cfg, double ratio, int down, double *w)
{
    if (cfg->mode == M_CUBIC) {
        double A = cfg->cubic_a, r = ratio, q = 1 - ratio;
        w[0] = ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A;
        w[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
        w[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
        w[3] = ((A * (q + 1) - 5 * A) * (q + 1) + 8 * A) * (q + 1) - 4 * A;
    } else if (cfg->mode == M_LINEAR) {
        w[0] = 1 - ratio;
        w[1] = ratio;
    } else {
        int second;
        if (ratio == 1) second = 1;
        else switch (cfg->nearest) {
            case NM_ROUND_FLOOR: second = ratio > 0.5; break;
            case NM_ROUND_CEIL: second = ratio >= 0.5; break;
            case NM_FLOOR: second = 0; break;
            case NM_CEIL: second = 1; break;
            default: second = down; break; /* SIMPLE: ceil when downsampling, else floor */
            }
        w[0] = !second;
        w[1] = second;
    }
}

/* Builds the taps for one axis. Returns 1 if the axis is an exact copy (skip it), 0 if not,
 * -1 on allocation failure. */
static int plan_axis(onnx_ctx *ctx, const resize_cfg *cfg, int64_t in, int64_t out, double scale,
                     double roi0, double roi1, axis_plan *p)
{
    int n = cfg->mode == M_CUBIC ? 4 : 2, pad = n / 2;
    p->ntaps = n;
    p->idx = onnx_ctx_scratch(ctx, (size_t)out * (size_t)n * sizeof *p->idx);
    p->w = onnx_ctx_scratch(ctx, (size_t)out * (size_t)n * sizeof *p->w);
    p->extrap = onnx_ctx_scratch(ctx, (size_t)out);
    if (!p->idx || !p->w || !p->extrap) return -1;
    double ow = scale * (double)in; /* the reference's "output_width" */
    int identity = in == out;
    for (int64_t o = 0; o < out; o++) {
        double x = (double)o, xo;
        p->extrap[o] = 0;
        switch (cfg->coord) {
        case CT_ALIGN_CORNERS: xo = ow == 1 ? 0 : x * (double)(in - 1) / (ow - 1); break;
        case CT_ASYMMETRIC: xo = x / scale; break;
        case CT_TF_HALF_PIXEL: xo = (x + 0.5) / scale; break;
        case CT_PYTORCH_HALF_PIXEL: xo = ow == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
        case CT_TF_CROP:
            xo = ow == 1 ? (roi1 - roi0) * (double)(in - 1) / 2
                         : x * (roi1 - roi0) * (double)(in - 1) / (ow - 1);
            xo += roi0 * (double)(in - 1);
            if (xo < 0 || xo > (double)(in - 1)) p->extrap[o] = 1;
            break;
        default: xo = (x + 0.5) / scale - 0.5; break;
        }
        double *w = p->w + o * n;
        int64_t *ix = p->idx + o * n;
        if (p->extrap[o]) {
            identity = 0;
            for (int t = 0; t < n; t++) {
                w[t] = 0;
                ix[t] = 0;
            }
            continue;
        }
        if (!isfinite(xo)) xo = 0;
        double lim = (double)in + 8;
        xo = xo < -lim ? -lim : xo > lim ? lim : xo;
        double fl = floor(xo);
        int64_t base = xo == fl ? (int64_t)fl - 1 : (int64_t)fl;
        tap_weights(cfg, xo - (double)base, scale < 1, w);
        int64_t start = base - (pad - 1), lo = -pad, hi = in + pad - n;
        start = start < lo ? lo : start > hi ? hi : start;
        double sum = 0;
        for (int t = 0; t < n; t++) {
            int64_t j = start + t;
            if (cfg->exclude_outside && (j < 0 || j >= in)) w[t] = 0;
            sum += w[t];
            ix[t] = j < 0 ? 0 : j >= in ? in - 1 : j;
        }
        if (cfg->exclude_outside && sum != 0)
            for (int t = 0; t < n; t++) w[t] /= sum;
        for (int t = 0; t < n; t++)
            if (w[t] != 0 && (ix[t] != o || w[t] != 1)) identity = 0;
    }
    return identity;
}

/* One separable pass: src has shape (outer, in, inner), dst (outer, out, inner). */
static void resize_pass(double *dst, const double *src, int64_t outer, int64_t in, int64_t out,
                        int64_t inner, const axis_plan *p, double extrapolation)
{
    int n = p->ntaps;
    for (int64_t a = 0; a < outer; a++) {
        const double *s = src + a * in * inner;
        double *d = dst + a * out * inner;
        for (int64_t o = 0; o < out; o++, d += inner) {
            if (p->extrap[o]) {
                for (int64_t i = 0; i < inner; i++) d[i] = extrapolation;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) d[i] = 0;
            for (int t = 0; t < n; t++) {
                double w = p->w[o * n + t];
                if (w == 0) continue;
                const double *row = s + p->idx[o * n + t] * inner;
                for (int64_t i = 0; i < inner; i++) d[i] += w * row[i];
            }
        }
    }
}

/* Nearest without extrapolation is a pure gather: copies elements (any type, bit-exact)
 * through one source-index table per axis. Returns 1 if done, 0 if not applicable. */
static int resize_gather(onnx_ctx *ctx, const resize_cfg *cfg, const onnx_tensor *x, onnx_tensor *y,
                         const double *scales, const double *roi)
{
    int r = x->ndim;
    size_t es = inferd_dtype_size(x->dtype);
    int64_t *map[ONNX_MAX_DIMS], xs[ONNX_MAX_DIMS];
    if (cfg->mode != M_NEAREST || es == 0) return 0;
    onnx_tensor_strides(x, xs);
    for (int k = 0; k < r; k++) {
        axis_plan p;
        if (plan_axis(ctx, cfg, x->dims[k], y->dims[k], scales[k], roi ? roi[k] : 0,
                      roi ? roi[k + r] : 1, &p) < 0)
            return -1;
        map[k] = p.idx; /* reuse: one entry per output index */
        for (int64_t o = 0; o < y->dims[k]; o++) {
            if (p.extrap[o]) return 0;
            int64_t src = -1;
            for (int t = 0; t < p.ntaps; t++) {
                double w = p.w[o * p.ntaps + t];
                if (w == 1 && src < 0) src = p.idx[o * p.ntaps + t];
                else if (w != 0) return 0;
            }
            if (src < 0) return 0;
            map[k][o] = src * xs[k];
        }
    }
    int64_t c[ONNX_MAX_DIMS] = {0}, total = onnx_tensor_numel(y), last = y->dims[r - 1];
    char *out = y->data;
    const char *in = x->data;
    for (int64_t done = 0; done < total; done += last) {
        int64_t base = 0;
        for (int k = 0; k < r - 1; k++) base += map[k][c[k]];
        const int64_t *m = map[r - 1];
        if (es == 4) {
            for (int64_t o = 0; o < last; o++, out += 4) memcpy(out, in + (base + m[o]) * 4, 4);
        } else {
            for (int64_t o = 0; o < last; o++, out += es)
                memcpy(out, in + (base + m[o]) * (int64_t)es, es);
        }
        for (int k = r - 2; k >= 0; k--) {
            if (++c[k] < y->dims[k]) break;
            c[k] = 0;
        }
    }
    return 1;
}

/* scales (may be NULL) or out_dims (when scales is NULL) describe the output. */
static int resize_run(onnx_ctx *ctx, const resize_cfg *cfg, const onnx_tensor *x,
                      const double *scales_in, const int64_t *sizes, const double *roi)
{
    int r = x->ndim;
    int64_t dims[ONNX_MAX_DIMS];
    double scales[ONNX_MAX_DIMS];
    for (int k = 0; k < r; k++) {
        if (scales_in) {
            double s = scales_in[k], od = s * (double)x->dims[k];
            if (!(s > 0) || !(od < 9.2e18)) return onnx_ctx_fail(ctx, "bad scale %g", s);
            dims[k] = (int64_t)od;
            scales[k] = s;
        } else {
            if (sizes[k] < 0) return onnx_ctx_fail(ctx, "negative size");
            dims[k] = sizes[k];
            if (x->dims[k] == 0 && sizes[k] != 0)
                return onnx_ctx_fail(ctx, "cannot resize empty axis");
            scales[k] = x->dims[k] ? (double)sizes[k] / (double)x->dims[k] : 1;
        }
    }
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    int64_t numel = onnx_tensor_numel(x);
    if (onnx_tensor_numel(y) == 0) return 0;
    if (numel == 0) return onnx_ctx_fail(ctx, "cannot resize an empty tensor to a non-empty one");
    int g = resize_gather(ctx, cfg, x, y, scales, roi);
    if (g != 0) return g < 0 ? -1 : 0;
    double *cur = onnx_ctx_scratch(ctx, (size_t)numel * sizeof *cur);
    if (!cur) return -1;
    for (int64_t i = 0; i < numel; i++) cur[i] = onnx_tu_load(x->data, x->dtype, i);
    int64_t shape[ONNX_MAX_DIMS];
    memcpy(shape, x->dims, sizeof shape);
    for (int k = r - 1; k >= 0; k--) {
        axis_plan p;
        int id = plan_axis(ctx, cfg, x->dims[k], dims[k], scales[k], roi ? roi[k] : 0,
                           roi ? roi[k + r] : 1, &p);
        if (id < 0) return -1;
        if (id) continue;
        int64_t outer = onnx_tu_prod(shape, 0, k), inner = onnx_tu_prod(shape, k + 1, r), cnt;
        if (onnx_tu_mul(outer, dims[k], &cnt) < 0 || onnx_tu_mul(cnt, inner, &cnt) < 0 ||
            cnt > ((int64_t)1 << 40))
            return onnx_ctx_fail(ctx, "intermediate too large");
        double *next = onnx_ctx_scratch(ctx, (size_t)cnt * sizeof *next);
        if (!next) return -1;
        resize_pass(next, cur, outer, x->dims[k], dims[k], inner, &p, cfg->extrapolation);
        cur = next;
        shape[k] = dims[k];
    }
    int64_t on = onnx_tensor_numel(y);
    if (y->dtype == INFERD_DTYPE_FP32) {
        for (int64_t i = 0; i < on; i++) ((float *)y->data)[i] = (float)cur[i];
    } else {
        int fl = onnx_tu_is_float(y->dtype);
        for (int64_t i = 0; i < on; i++)
            onnx_tu_store(y->data, y->dtype, i, fl ? cur[i] : nearbyint(cur[i]));
    }
    return 0;
}

static int read_mode(onnx_ctx *ctx, const char *def, int *mode)
{
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    const char *s = onnx_attr_string(onnx_ctx_node(ctx), "mode", def);
    *mode = pick(s, modes, 3);
    if (*mode < 0 && !strcmp(s, "bilinear")) *mode = M_LINEAR; /* Upsample-7 spelling */
    if (*mode < 0) return onnx_ctx_fail(ctx, "unknown mode '%s'", s);
    return 0;
}

static int read_scales(onnx_ctx *ctx, const onnx_tensor *t, int r, double *out)
{
    if (onnx_tensor_numel(t) != r || t->ndim != 1)
        return onnx_ctx_fail(ctx, "scales has %lld values for rank %d",
                             (long long)onnx_tensor_numel(t), r);
    if (!onnx_tu_is_float(t->dtype)) return onnx_ctx_fail(ctx, "scales must be float");
    for (int k = 0; k < r; k++) out[k] = onnx_tensor_get_double(t, k);
    return 0;
}

int onnx_run_resize(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    int r = x->ndim;
    resize_cfg cfg = {.cubic_a = onnx_attr_float(node, "cubic_coeff_a", -0.75f),
                      .extrapolation = onnx_attr_float(node, "extrapolation_value", 0.0f),
                      .exclude_outside = (int)onnx_attr_int(node, "exclude_outside", 0)};
    if (read_mode(ctx, "nearest", &cfg.mode) < 0) return -1;
    double scales[ONNX_MAX_DIMS], roi[2 * ONNX_MAX_DIMS];
    int64_t sizes[ONNX_MAX_DIMS];
    const onnx_tensor *ts, *tz = NULL, *troi = NULL;
    if (node->opset < 11) {
        cfg.coord = CT_ASYMMETRIC;
        cfg.nearest = NM_SIMPLE;
        ts = onnx_ctx_input(ctx, 1);
    } else {
        static const char *const coords[] = {"half_pixel",           "pytorch_half_pixel",
                                             "align_corners",        "asymmetric",
                                             "tf_half_pixel_for_nn", "tf_crop_and_resize"};
        static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"};
        const char *c = onnx_attr_string(node, "coordinate_transformation_mode", "half_pixel");
        const char *nm = onnx_attr_string(node, "nearest_mode", "round_prefer_floor");
        if ((cfg.coord = pick(c, coords, 6)) < 0)
            return onnx_ctx_fail(ctx, "unknown coordinate_transformation_mode '%s'", c);
        if ((cfg.nearest = pick(nm, nms, 4)) < 0)
            return onnx_ctx_fail(ctx, "unknown nearest_mode '%s'", nm);
        troi = onnx_ctx_input(ctx, 1);
        ts = onnx_ctx_input(ctx, 2);
        tz = onnx_ctx_input(ctx, 3);
    }
    if (r == 0) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    const double *roip = NULL;
    if (cfg.coord == CT_TF_CROP && troi && onnx_tensor_numel(troi) > 0) {
        if (onnx_tensor_numel(troi) != 2 * r)
            return onnx_ctx_fail(ctx, "roi needs %d values", 2 * r);
        for (int i = 0; i < 2 * r; i++) roi[i] = onnx_tensor_get_double(troi, i);
        roip = roi;
    }
    if (ts && onnx_tensor_numel(ts) > 0) {
        if (tz && onnx_tensor_numel(tz) > 0)
            return onnx_ctx_fail(ctx, "both scales and sizes given");
        if (read_scales(ctx, ts, r, scales) < 0) return -1;
        return resize_run(ctx, &cfg, x, scales, NULL, roip);
    }
    if (!tz || onnx_tensor_numel(tz) == 0) return onnx_ctx_fail(ctx, "need scales or sizes");
    int n;
    if (onnx_tu_read_ints(ctx, tz, "sizes", sizes, ONNX_MAX_DIMS, &n) < 0) return -1;
    if (n != r) return onnx_ctx_fail(ctx, "sizes has %d values for rank %d", n, r);
    return resize_run(ctx, &cfg, x, NULL, sizes, roip);
}

int onnx_run_upsample(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    int r = x->ndim;
    if (r == 0) return onnx_ctx_fail(ctx, "input must have rank >= 1");
    resize_cfg cfg = {.coord = CT_ASYMMETRIC, .nearest = NM_SIMPLE, .cubic_a = -0.75};
    if (read_mode(ctx, "nearest", &cfg.mode) < 0) return -1;
    if (cfg.mode == M_CUBIC) return onnx_ctx_fail(ctx, "cubic is not an Upsample mode");
    double scales[ONNX_MAX_DIMS];
    const onnx_tensor *ts = onnx_ctx_input(ctx, 1);
    if (ts) {
        if (read_scales(ctx, ts, r, scales) < 0) return -1;
    } else {
        const float *f;
        int n = onnx_attr_floats(node, "scales", &f);
        if (n != r) return onnx_ctx_fail(ctx, "scales has %d values for rank %d", n, r);
        for (int k = 0; k < r; k++) scales[k] = f[k];
    }
    return resize_run(ctx, &cfg, x, scales, NULL, NULL);
}
