/* Conv (1-D/2-D/3-D, groups, dilations, pads, auto_pad) in float32: depthwise by phase planes
 * (conv_depthwise.c); 3x3 stride-1 ones with enough channels and tiles by Winograd F(2x2, 3x3)
 * (conv_winograd.c, weights transformed in prepare where small); otherwise sgemm, on X in place for 1x1 stride-1 kernels, per tap on the
 * padded planes in place for small stride-1 convolutions with wide outputs, else on an im2col
 * built from phase planes (conv_phase.h; a direct unfold for 3-D windows and kernels over 16).
 * The GEMM's output is first filled with the bias (and the fused residual, see fuse.c) and the
 * product accumulated onto it (beta 1), which replaces both OpenBLAS's zeroing of C and a
 * separate bias pass; the fused activation then runs while the output is in cache.
 * The ONNX weight layout M x (C/group * kernel) is already the GEMM's A matrix per group, so
 * constant weights need no packing at load. */
#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "conv_phase.h"
#include "conv_winograd.h"
#include "ew_engine.h"
#include "nn_common.h"
#include "nn_kernels.h"
#include "nn_ops.h"

/* GEMMs narrower than this many columns batch several images (see conv_compute). */
#define CONV_MIN_GEMM_COLS 512
/* im2col in blocks of output rows of about CONV_BLOCK_FLOATS floats (half of L2), when a
 * block has at least CONV_BLOCK_MIN_COLS columns per output channel (see conv_compute). */
#define CONV_BLOCK_MIN_COLS 8
#define CONV_BLOCK_FLOATS (128 * 1024)
/* Stride-1 convolutions by taps (no im2col) when the weights have at most this many floats
 * and the output at least this many positions (see conv_compute). */
#define CONV_TAPS_MAX_WEIGHTS (64 * 1024)
#define CONV_TAPS_MIN_COLS 1024

/* Unfolds one group's input (c_n channels of g->in) into col: rows (c, kd, kh, kw) ld floats
 * apart, columns the output positions; padding reads as zero. */
static void conv_im2col(const float *x, int64_t c_n, const nn_geom *g, float *col, int64_t ld)
{
    const int64_t o0 = g->out[0], o1 = g->out[1], o2 = g->out[2];
    const int64_t plane = o1 * o2, in_size = nn_geom_in_size(g);
    for (int64_t c = 0; c < c_n; c++) {
        const float *xc = x + c * in_size;
        for (int64_t kd = 0; kd < g->k[0]; kd++)
        for (int64_t kh = 0; kh < g->k[1]; kh++)
        for (int64_t kw = 0; kw < g->k[2]; kw++) {
            int64_t off_w = kw * g->d[2] - g->pb[2], lo, hi;
            nn_valid_range(off_w, g->s[2], g->in[2], o2, &lo, &hi);
            for (int64_t od = 0; od < o0; od++) {
                int64_t id = od * g->s[0] - g->pb[0] + kd * g->d[0];
                float *crow = col + od * plane;
                if (id < 0 || id >= g->in[0]) {
                    memset(crow, 0, (size_t)plane * sizeof(float));
                    continue;
                }
                for (int64_t oh = 0; oh < o1; oh++, crow += o2) {
                    int64_t ih = oh * g->s[1] - g->pb[1] + kh * g->d[1];
                    if (ih < 0 || ih >= g->in[1]) {
                        memset(crow, 0, (size_t)o2 * sizeof(float));
                        continue;
                    }
                    const float *xr = xc + (id * g->in[1] + ih) * g->in[2];
                    if (lo > 0) memset(crow, 0, (size_t)lo * sizeof(float));
                    if (g->s[2] == 1) {
                        if (hi > lo)
                            memcpy(crow + lo, xr + lo + off_w, (size_t)(hi - lo) * sizeof(float));
                    } else if (hi > lo) {
                        nn_k_copy_strided(crow + lo, xr + lo * g->s[2] + off_w, hi - lo, g->s[2]);
                    }
                    if (hi < o2) memset(crow + hi, 0, (size_t)(o2 - hi) * sizeof(float));
                }
            }
            col += ld;
        }
    }
}

/* Row kernel for a residual that broadcasts to a larger shape than the Conv's (rare: the fused
 * Add then runs here as a broadcast Add would). */
static void conv_add_row(void *out, const void *const *in, const int64_t *step, int64_t n,
                         const void *param)
{
    (void)param;
    float *o = out;
    const float *a = in[0], *b = in[1];
    for (int64_t i = 0; i < n; i++) o[i] = a[i * step[0]] + b[i * step[1]];
}

/* Fills rows x cols of dst (ld_dst apart) with bias[ch0 + row] (+ res, ld_res apart). */
static void conv_prefill(float *dst, int64_t ld_dst, const float *res, int64_t ld_res,
                         const float *bias, int64_t ch0, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++) {
        const float bv = bias ? bias[ch0 + r] : 0.0f;
        if (res) nn_k_shift(dst + r * ld_dst, res + r * ld_res, bv, cols);
        else nn_k_fill(dst + r * ld_dst, bv, cols);
    }
}

/* im2col from phase planes (conv_phase.h): rows (c, tap) of col (ld apart), columns the
 * outputs of output rows r0 .. r0 + nr; ph holds c_n channels' phase sets. */
static void conv_im2col_phases(const float *ph, const nn_phase_plan *p, int64_t c_n,
                               int64_t r0, int64_t nr, float *col, int64_t ld)
{
    for (int64_t ci = 0; ci < c_n; ci++, ph += p->total) {
        for (int64_t k = 0; k < p->ntaps; k++, col += ld) {
            const float *src = ph + p->tap_off[k] + r0 * p->ld;
            if (p->ld == p->ow) memcpy(col, src, (size_t)(nr * p->ow) * sizeof(float));
            else nn_k_gather_block(col, p->ow, src, p->ld, nr, p->ow, 1);
        }
    }
}

/* One image and group by taps (see `taps` in conv_compute): w is mg x (cg * ntaps) as in
 * ONNX, wtap scratch for it per tap, ph the cg channels' padded planes, ygrid mg x grid. */
static void conv_taps(const nn_phase_plan *p, const float *w, float *wtap, const float *ph,
                      float *ygrid, int64_t grid, int64_t mg, int64_t cg, const float *bias,
                      const float *res, float *y, const onnx_activation *act)
{
    const int64_t nt = p->ntaps, out_size = p->oh * p->ow;
    for (int64_t k = 0; k < nt; k++) /* wtap[k] = W[:, :, tap k], mg x cg */
        for (int64_t mo = 0; mo < mg; mo++)
            for (int64_t ci = 0; ci < cg; ci++)
                wtap[(k * mg + mo) * cg + ci] = w[(mo * cg + ci) * nt + k];
    for (int64_t k = 0; k < nt; k++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)grid, (int)cg, 1.0f,
                    wtap + k * mg * cg, (int)cg, ph + p->tap_off[k], (int)p->total,
                    k ? 1.0f : 0.0f, ygrid, (int)grid);
    for (int64_t mo = 0; mo < mg; mo++) {
        float *yr = y + mo * out_size;
        nn_k_gather_block(yr, p->ow, ygrid + mo * grid, p->ld, p->oh, p->ow, 1);
        if (res) nn_k_add_vec(yr, res + mo * out_size, out_size);
        if (bias) nn_k_add_scalar(yr, bias[mo], out_size);
        nn_activation_run(act, yr, out_size);
    }
}

/* node->state of a Conv whose transformed Winograd weights were computed at load */
typedef struct conv_state {
    int64_t m, c;
    float u[]; /* NN_WINO_FREQS x m x c (conv_winograd.h) */
} conv_state;

/* y (n x m x out_size) = conv(x) + bias + res (each optional), then act; wino: the Winograd
 * weights of wd if computed at load, else NULL. */
static int conv_compute(onnx_ctx *ctx, const float *xd, const float *wd, const float *wino,
                        const float *bias, const float *res, float *y, int64_t n, int64_t c,
                        int64_t m, int64_t group, const nn_geom *g, const onnx_activation *act_in,
                        const onnx_activation *act)
{
    const int64_t cg = c / group, mg = m / group, ks = nn_geom_k_size(g);
    const int64_t in_size = nn_geom_in_size(g), out_size = nn_geom_out_size(g);
    const int64_t kdim = cg * ks;

    if (kdim == 0 || in_size == 0) { /* no input contributes: bias (+ residual) only */
        for (int64_t i = 0; i < n; i++)
            conv_prefill(y + i * m * out_size, out_size, res ? res + i * m * out_size : NULL,
                         out_size, bias, 0, m, out_size);
        nn_activation_run(act, y, n * m * out_size);
        return 0;
    }
    if (group > 1 && group == c) {
        int rc = nn_conv_depthwise(ctx, xd, wd, bias, res, y, n, c, m, g, act_in, act);
        if (rc != 0) return rc < 0 ? -1 : 0;
    }
    if (act_in->kind != ONNX_ACT_NONE) { /* elsewhere the input's activation is a pass of its own */
        size_t nx;
        if (nn_mul3_size((size_t)n, (size_t)c, (size_t)in_size, &nx) != 0)
            return onnx_ctx_fail(ctx, "input size overflows");
        float *xa = nn_scratch_floats(ctx, nx);
        if (!xa) return -1;
        memcpy(xa, xd, nx * sizeof(float));
        nn_activation_run(act_in, xa, (int64_t)nx);
        xd = xa;
    }
    if (nn_wino_geometry_fits(g, group) && nn_wino_pays(g, n, c, m, wino != NULL)) {
        if (!wino) { /* a large batch pays for transforming the weights per run */
            size_t u_n;
            if (nn_mul3_size(NN_WINO_FREQS, (size_t)m, (size_t)c, &u_n) != 0)
                return onnx_ctx_fail(ctx, "Winograd weights overflow");
            float *u = nn_scratch_floats(ctx, u_n);
            if (!u) return -1;
            nn_wino_weights(wd, m, c, u);
            wino = u;
        }
        return nn_conv_winograd(ctx, xd, wino, bias, res, y, n, c, m, g, act);
    }
    if (mg > INT_MAX || out_size > INT_MAX || kdim > INT_MAX)
        return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");

    int pointwise = 1;
    for (int i = 0; i < NN_MAX_SPATIAL; i++)
        if (g->k[i] != 1 || g->s[i] != 1 || g->pb[i] != 0 || g->pe[i] != 0) pointwise = 0;
    /* im2col reads phase planes for 1-D/2-D windows (one gather per input plane, then
     * unit-stride copies), else unfolds directly */
    nn_phase_plan pp;
    int phases = 0;
    if (!pointwise) {
        int rc = nn_phase_plan_make(g, &pp);
        if (rc < 0) return onnx_ctx_fail(ctx, "phase planes overflow");
        phases = rc == 0;
    }
    /* a 1x1 window (strided or padded): its only phase plane is the im2col row itself */
    const int direct = phases && pp.ntaps == 1 && pp.n_phases == 1 && pp.tap_off[0] == 0 &&
                       pp.plane == (size_t)out_size;
    /* Small output planes make thin GEMMs: then `chunk` images share one GEMM, their columns
     * side by side (ld apart), and the product is copied out per image. */
    int64_t chunk = 1;
    if (n > 1 && out_size < CONV_MIN_GEMM_COLS) {
        chunk = (CONV_MIN_GEMM_COLS + out_size - 1) / out_size;
        if (chunk > n) chunk = n;
    }
    const int64_t ld = chunk * out_size;
    if (ld > INT_MAX) return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    /* One image at a time (chunk 1), the output is made in blocks of `step` columns, each
     * from prefill through sgemm to the activation. With im2col from phases, few channels and
     * a short kernel (a network's stem), blocks of output rows whose im2col holds about
     * CONV_BLOCK_FLOATS, so that it stays in L2 until OpenBLAS packs it; the weights are then
     * small enough to be packed again per block. Where CONV_BLOCK_MIN_COLS * mg columns of
     * im2col would not fit, and for 1x1 convolutions (B is X in place), blocks measured
     * slower than one large GEMM. */
    const int blocked = chunk == 1 && (pointwise || (phases && !direct));
    int64_t step = out_size;
    if (blocked && !pointwise && kdim * CONV_BLOCK_MIN_COLS * mg <= CONV_BLOCK_FLOATS) {
        int64_t rows = CONV_BLOCK_FLOATS / (kdim * pp.ow);
        if (rows < 1) rows = 1;
        step = rows * pp.ow;
    }
    if (step > out_size) step = out_size;
    /* Stride 1, small weights, a wide output (ResNet's first stage): no im2col at all. Tap k's
     * rows of the im2col would be the padded planes shifted by tap_off[k], so sgemm reads them
     * in place (ldb = one plane) and makes the product on the padded grid (rows ld long): one
     * sgemm per tap (K = C) accumulating into ygrid, whose rows are then compacted into Y. The
     * grid's extra columns must stay few: (ld - ow) / ow <= 1/16. */
    const int taps = blocked && phases && !direct && pp.n_phases == 1 && pp.ntaps > 1 &&
                     mg * kdim <= CONV_TAPS_MAX_WEIGHTS && out_size >= CONV_TAPS_MIN_COLS &&
                     (pp.ld - pp.ow) * 16 <= pp.ow;
    const int64_t grid = taps ? (pp.oh - 1) * pp.ld + pp.ow : 0; /* grid columns computed */
    float *wtap = NULL, *ygrid = NULL;
    if (taps) {
        if (grid > INT_MAX || pp.total > INT_MAX)
            return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
        if (!(wtap = nn_scratch_floats(ctx, (size_t)(mg * kdim))) ||
            !(ygrid = nn_scratch_floats(ctx, (size_t)(mg * grid))))
            return -1;
    }
    float *col = NULL, *ytmp = NULL, *ph = NULL;
    if ((!pointwise || chunk > 1) && !taps) {
        size_t col_n;
        if (nn_mul_size((size_t)kdim, (size_t)(blocked ? step : ld), &col_n) != 0)
            return onnx_ctx_fail(ctx, "im2col buffer size overflows");
        if (!(col = nn_scratch_floats(ctx, col_n))) return -1;
        /* direct gathers write only where input lands: the padding's zeros are written once */
        if (direct && (pp.blk[0].rows != pp.rows || pp.blk[0].cols != pp.ld))
            memset(col, 0, col_n * sizeof(float));
    }
    if (phases && !direct) {
        size_t ph_n;
        if (nn_mul_size((size_t)cg, pp.total, &ph_n) != 0)
            return onnx_ctx_fail(ctx, "phase planes overflow");
        if (!(ph = nn_scratch_floats(ctx, ph_n))) return -1;
        memset(ph, 0, ph_n * sizeof(float));
    }
    if (chunk > 1 && !(ytmp = nn_scratch_floats(ctx, (size_t)(mg * ld)))) return -1;
    const int prefill = bias || res;
    for (int64_t i0 = 0; i0 < n; i0 += chunk) {
        const int64_t nb = n - i0 < chunk ? n - i0 : chunk;
        for (int64_t gi = 0; gi < group; gi++) {
            const float *wg = wd + gi * mg * kdim;
            const int64_t at0 = (i0 * m + gi * mg) * out_size; /* this group's first output */
            if (blocked) {
                const float *xg = xd + (i0 * c + gi * cg) * in_size;
                for (int64_t ci = 0; ci < cg && !pointwise; ci++)
                    nn_phase_gather(&pp, xg + ci * in_size, ph + (size_t)ci * pp.total, 0, 0, 0);
                if (taps) {
                    conv_taps(&pp, wg, wtap, ph, ygrid, grid, mg, cg, bias ? bias + gi * mg : NULL,
                              res ? res + at0 : NULL, y + at0, act);
                    continue;
                }
                for (int64_t off = 0; off < out_size; off += step) {
                    const int64_t cols = out_size - off < step ? out_size - off : step;
                    const float *bmat = xg + off;
                    int64_t ldb = in_size;
                    if (!pointwise) {
                        conv_im2col_phases(ph, &pp, cg, off / pp.ow, cols / pp.ow, col, cols);
                        bmat = col;
                        ldb = cols;
                    }
                    float *yb = y + at0 + off;
                    if (prefill)
                        conv_prefill(yb, out_size, res ? res + at0 + off : NULL, out_size, bias,
                                     gi * mg, mg, cols);
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)cols,
                                (int)kdim, 1.0f, wg, (int)kdim, bmat, (int)ldb,
                                prefill ? 1.0f : 0.0f, yb, (int)out_size);
                    for (int64_t mo = 0; mo < mg && act->kind != ONNX_ACT_NONE; mo++)
                        nn_activation_run(act, yb + mo * out_size, cols);
                }
                continue;
            }
            const float *bmat = xd + (i0 * c + gi * cg) * in_size;
            for (int64_t b = 0; b < nb && col; b++) {
                const float *xg = xd + ((i0 + b) * c + gi * cg) * in_size;
                float *cb = col + b * out_size;
                if (direct) {
                    for (int64_t ci = 0; ci < cg; ci++)
                        nn_phase_gather(&pp, xg + ci * in_size, cb + ci * ld, 0, 0, 0);
                } else if (phases) {
                    for (int64_t ci = 0; ci < cg; ci++)
                        nn_phase_gather(&pp, xg + ci * in_size, ph + (size_t)ci * pp.total, 0, 0, 0);
                    conv_im2col_phases(ph, &pp, cg, 0, pp.oh, cb, ld);
                } else if (!pointwise) {
                    conv_im2col(xg, cg, g, cb, ld);
                } else {
                    for (int64_t ci = 0; ci < cg; ci++)
                        memcpy(cb + ci * ld, xg + ci * in_size, (size_t)out_size * sizeof(float));
                }
            }
            if (col) bmat = col;
            float *dst = chunk > 1 ? ytmp : y + at0;
            for (int64_t b = 0; b < nb && prefill; b++)
                conv_prefill(dst + b * out_size, ld, res ? res + at0 + b * m * out_size : NULL,
                             out_size, bias, gi * mg, mg, out_size);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)mg, (int)(nb * out_size),
                        (int)kdim, 1.0f, wg, (int)kdim, bmat, (int)ld, prefill ? 1.0f : 0.0f,
                        dst, (int)ld);
            for (int64_t b = 0; b < nb && chunk > 1; b++)
                for (int64_t mo = 0; mo < mg; mo++)
                    memcpy(y + at0 + b * m * out_size + mo * out_size,
                           ytmp + mo * ld + b * out_size, (size_t)out_size * sizeof(float));
        }
        if (!blocked) nn_activation_run(act, y + i0 * m * out_size, nb * m * out_size);
    }
    return 0;
}

static int same_shape(const onnx_tensor *t, int ndim, const int64_t *dims)
{
    if (t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i]) return 0;
    return 1;
}

int nn_conv_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *w = onnx_ctx_input(ctx, 1);
    const onnx_tensor *b = onnx_ctx_input(ctx, 2);
    /* input 3: the other operand of an Add fused into this Conv (fuse.c) */
    const onnx_tensor *r = onnx_attr_int(node, "inferd_residual", 0) ? onnx_ctx_input(ctx, 3) : NULL;
    if (!x || !w) return onnx_ctx_fail(ctx, "needs inputs X and W");
    /* inputs 4 and 5: a 1x1 Conv fused in (fuse_conv_dw.c); x is then its input, and the
     * tensor this Conv convolves, the expansion, has the shape of xe */
    const onnx_tensor *we = NULL, *be = NULL, *x_in = x;
    onnx_tensor xe;
    if (onnx_attr_int(node, "inferd_expand", 0)) {
        we = onnx_ctx_input(ctx, 4);
        be = onnx_ctx_input(ctx, 5);
        if (!we || we->dtype != INFERD_DTYPE_FP32 || x->dtype != INFERD_DTYPE_FP32 ||
            x->ndim != 4 || we->ndim != 4 || we->dims[1] != x->dims[1] || we->dims[2] != 1 ||
            we->dims[3] != 1 || (be && (be->dtype != INFERD_DTYPE_FP32 || be->ndim != 1 ||
                                        be->dims[0] != we->dims[0])))
            return onnx_ctx_fail(ctx, "fused 1x1 Conv: inputs do not fit");
        xe = *x;
        xe.dims[1] = we->dims[0];
        xe.data = NULL; /* made below, in bands or whole */
        x = &xe;
    }
    if (x->dtype != INFERD_DTYPE_FP32 || w->dtype != INFERD_DTYPE_FP32 ||
        (b && b->dtype != INFERD_DTYPE_FP32) || (r && r->dtype != INFERD_DTYPE_FP32))
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim < 3 || w->ndim != x->ndim)
        return onnx_ctx_fail(ctx, "X rank %d and W rank %d; expected equal ranks >= 3", x->ndim,
                             w->ndim);
    const int64_t group = onnx_attr_int(node, "group", 1);
    const int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0];
    if (group < 1 || c % group != 0 || m % group != 0 || w->dims[1] * group != c)
        return onnx_ctx_fail(ctx, "group %lld does not fit X channels %lld and W %lld x %lld",
                             (long long)group, (long long)c, (long long)m,
                             (long long)w->dims[1]);
    if (b && (b->ndim != 1 || b->dims[0] != m))
        return onnx_ctx_fail(ctx, "bias must be 1-D with %lld values", (long long)m);
    nn_geom g;
    if (nn_geom_window(ctx, node, x, w->dims + 2, 0, &g) != 0) return -1;
    onnx_activation act, act_in = {.kind = ONNX_ACT_NONE};
    if (nn_activation_read(ctx, node, &act) != 0) return -1;
    /* an activation of the input moved here by fuse.c (Relu or Clip before a depthwise Conv) */
    const char *in_act = onnx_attr_string(node, "inferd_input_activation", NULL);
    if (in_act) {
        act_in.kind = onnx_activation_kind_from_op(in_act);
        act_in.alpha = onnx_attr_float(node, "inferd_input_alpha", 0);
        act_in.beta = onnx_attr_float(node, "inferd_input_beta", 0);
        if (act_in.kind != ONNX_ACT_RELU && act_in.kind != ONNX_ACT_CLIP)
            return onnx_ctx_fail(ctx, "unknown input activation '%s'", in_act);
    }

    const conv_state *st = node->state;
    const float *wino = st && st->m == m && st->c == c ? st->u : NULL;

    int64_t dims[ONNX_MAX_DIMS];
    int rank = nn_geom_out_dims(&g, n, m, dims);
    const float *bias = b ? b->data : NULL;
    onnx_tensor *yt = NULL;
    if (!r || same_shape(r, rank, dims)) {
        if (!(yt = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, rank, dims))) return -1;
        if (onnx_tensor_numel(yt) == 0) return 0;
        if (we && group == c) {
            int rc = nn_conv_expand_depthwise(ctx, x_in->data, x_in->dims[1], we->data,
                                              be ? be->data : NULL, c, w->data, bias,
                                              r ? r->data : NULL, yt->data, n, m, &g, &act_in,
                                              &act);
            if (rc != 0) return rc < 0 ? -1 : 0;
        }
    }
    if (we && onnx_tensor_numel(x) > 0 &&
        !(xe.data = nn_conv_expand_whole(ctx, x_in->data, n, x_in->dims[1], x->dims[2],
                                         x->dims[3], we->data, be ? be->data : NULL, c)))
        return -1;
    if (yt)
        return conv_compute(ctx, x->data, w->data, wino, bias, r ? r->data : NULL, yt->data, n,
                            c, m, group, &g, &act_in, &act);
    /* the residual broadcasts: the Conv into scratch, then the Add's broadcast, then act */
    onnx_tensor t = {.dtype = INFERD_DTYPE_FP32, .ndim = rank};
    memcpy(t.dims, dims, (size_t)rank * sizeof dims[0]);
    const onnx_activation none = {.kind = ONNX_ACT_NONE};
    const int64_t numel = onnx_tensor_numel(&t);
    if (numel > 0) {
        if (!(t.data = nn_scratch_floats(ctx, (size_t)numel))) return -1;
        if (conv_compute(ctx, x->data, w->data, wino, bias, NULL, t.data, n, c, m, group, &g,
                         &act_in, &none))
            return -1;
    }
    const onnx_tensor *ins[2] = {&t, r};
    onnx_tensor *out;
    if (ew_broadcast_run(ctx, 2, ins, INFERD_DTYPE_FP32, conv_add_row, NULL, &out) != 0) return -1;
    nn_activation_run(&act, out->data, onnx_tensor_numel(out));
    return 0;
}

/* Whether a ints attribute is absent or all ones (strides, dilations). */
static int attr_ones(const onnx_node *node, const char *name)
{
    const int64_t *v;
    int k = onnx_attr_ints(node, name, &v);
    for (int i = 0; i < k; i++)
        if (v[i] != 1) return 0;
    return 1;
}

int nn_conv_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len)
{
    (void)err;
    (void)err_len;
    const onnx_tensor *w = node->n_inputs > 1 ? consts[1] : NULL;
    /* only what conv_compute can take the Winograd path with; run checks the rest */
    if (!w || w->dtype != INFERD_DTYPE_FP32 || w->ndim != 4 || w->dims[2] != 3 ||
        w->dims[3] != 3 || onnx_attr_int(node, "group", 1) != 1 || !attr_ones(node, "strides") ||
        !attr_ones(node, "dilations") || !nn_wino_precompute(w->dims[0], w->dims[1]))
        return 0;
    const int64_t m = w->dims[0], c = w->dims[1];
    conv_state *st = malloc(sizeof *st + (size_t)(NN_WINO_FREQS * m * c) * sizeof(float));
    if (!st) { /* an optimisation only: run takes another path */
        return 0;
    }
    st->m = m;
    st->c = c;
    nn_wino_weights(w->data, m, c, st->u);
    node->state = st;
    return 0;
}

void nn_conv_release(onnx_node *node)
{
    free(node->state);
    node->state = NULL;
}
