/* Conv (1-D/2-D/3-D, groups, dilations, pads, auto_pad) in float32: depthwise by phase planes
 * (conv_depthwise.c); 3x3 stride-1 ones with enough channels and tiles by Winograd F(2x2, 3x3)
 * (conv_winograd.c, weights transformed and packed in prepare where small); otherwise a GEMM
 * (nn_gemm.h): on X in place for 1x1 stride-1 kernels, per tap on the padded planes in place
 * for small stride-1 convolutions with wide outputs, else on an im2col built from phase planes
 * (conv_phase.h; a direct unfold for 3-D windows and kernels over 16). The ONNX weight layout
 * M x (C/group * kernel) is the GEMM's A per group, packed at load (conv_state); the bias and
 * the fused activation are applied in the GEMM's store, and a fused residual too where one
 * image makes a GEMM (else it is copied into the output first and accumulated onto). */
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_depth.h"
#include "conv_phase.h"
#include "conv_stem.h"
#include "conv_tgemm.h"
#include "conv_winograd.h"
#include "ew_engine.h"
#include "nn_common.h"
#include "nn_gemm.h"
#include "nn_kernels.h"
#include "nn_ops.h"
#include "../threadpool.h"

/* GEMMs narrower than this many columns batch several images (see conv_plan_gemm). */
#define CONV_MIN_GEMM_COLS 512
/* im2col in blocks of output rows of about CONV_BLOCK_FLOATS floats (half of L2), when a
 * block has at least CONV_BLOCK_MIN_COLS columns per output channel (see conv_by_blocks). */
#define CONV_BLOCK_MIN_COLS 8
#define CONV_BLOCK_FLOATS   (128 * 1024)
/* Stride-1 convolutions by taps (no im2col) when the weights have at most this many floats
 * and the output at least this many positions (see conv_taps_pay). */
#define CONV_TAPS_MAX_WEIGHTS (64 * 1024)
#define CONV_TAPS_MIN_COLS    1024

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
                                    memcpy(crow + lo, xr + lo + off_w,
                                           (size_t)(hi - lo) * sizeof(float));
                            } else if (hi > lo) {
                                nn_k_copy_strided(crow + lo, xr + lo * g->s[2] + off_w, hi - lo,
                                                  g->s[2]);
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

/* One image and group by taps (see conv_taps_pay): w is mg x (cg * ntaps) as in
 * ONNX, wtap scratch for it per tap, ph the cg channels' padded planes, ygrid mg x grid. */
static int conv_taps(onnx_ctx *ctx, const nn_phase_plan *p, const float *w, float *wtap,
                     const float *ph, float *ygrid, int64_t grid, int64_t mg, int64_t cg,
                     const float *bias, const float *res, float *y, const onnx_activation *act)
{
    const int64_t nt = p->ntaps, out_size = p->oh * p->ow;
    for (int64_t k = 0; k < nt; k++) /* wtap[k] = W[:, :, tap k], mg x cg */
        for (int64_t mo = 0; mo < mg; mo++)
            for (int64_t ci = 0; ci < cg; ci++)
                wtap[(k * mg + mo) * cg + ci] = w[(mo * cg + ci) * nt + k];
    for (int64_t k = 0; k < nt; k++) {
        onnx_gemm_args g = {.m = mg,
                            .n = grid,
                            .k = cg,
                            .a = wtap + k * mg * cg,
                            .lda = cg,
                            .b = ph + p->tap_off[k],
                            .ldb = (int64_t)p->total,
                            .alpha = 1.0f,
                            .c = ygrid,
                            .ldc = grid,
                            .accumulate = k > 0};
        if (nn_gemm_f32(ctx, &g) != 0) return -1;
    }
    for (int64_t mo = 0; mo < mg; mo++) {
        float *yr = y + mo * out_size;
        nn_k_gather_block(yr, p->ow, ygrid + mo * grid, p->ld, p->oh, p->ow, 1);
        if (res) nn_k_add_vec(yr, res + mo * out_size, out_size);
        if (bias) nn_k_add_scalar(yr, bias[mo], out_size);
        nn_activation_run(act, yr, out_size);
    }
    return 0;
}

/* node->state of a Conv with constant float32 weights: W packed at load as the GEMM's A,
 * one packed matrix per group (gemm.h), and for the Winograd path its 16 transformed weight
 * matrices, packed (when small enough to keep, see nn_wino_precompute). */
typedef struct conv_state {
    int64_t m, c;                            /* W's dims 0 and 1 */
    onnx_gemm_packed *wino[NN_WINO_FREQS];   /* or all NULL */
    onnx_gemm_packed *wino4[NN_WINO4_FREQS]; /* F(4x4)'s (nn_wino4_precompute), or all NULL */
    onnx_gemm_packed *expand;                /* a fused 1x1 Conv's weights (input 4), or NULL */
    onnx_gemm_packed *wt; /* W^T packed as B instead of w[0] (conv_tgemm.h), or NULL */
    int64_t groups;
    int64_t depth_taps; /* > 1: w is per group and depth tap (conv_depth.h) */
    /* the attributes run reads, resolved at load when all are valid (attrs_ok; else run reads
     * them itself and reports what is wrong): no lookups by name per run */
    int attrs_ok, residual, fused_expand;
    int sp_nsp;              /* W's rank - 2 */
    nn_spatial_attrs sp;     /* for sp_nsp spatial dims */
    onnx_activation act;     /* inferd_activation */
    const char *in_act;      /* inferd_input_activation (the node's string), or NULL */
    float in_alpha, in_beta; /* inferd_input_alpha / beta */
    float *stem_w;           /* a copy of plain W for the stem kernel (conv_stem.h), or NULL */
    onnx_gemm_packed *w[];   /* per group (x depth_taps), or NULL */
} conv_state;

/* One Conv's operands and sizes, and the GEMM plan conv_plan_gemm makes for the sgemm
 * strategies (conv_by_taps, conv_by_blocks, conv_by_images). */
typedef struct conv_job {
    onnx_ctx *ctx;
    const float *x, *w, *bias, *res; /* bias, res: NULL if absent */
    float *y;
    int64_t n, c, m, group, cg, mg;  /* cg, mg: input and output channels per group */
    int64_t kdim, in_size, out_size; /* kdim = cg * kernel size: the GEMM's K */
    const nn_geom *g;
    const onnx_activation *act;
    onnx_gemm_packed *const *wp; /* per group W packed at load, or NULL */
    const onnx_gemm_packed *wt;  /* or W^T packed as B (group 1; conv_tgemm.h) */
    /* the GEMM plan */
    int pointwise; /* 1x1 kernel, stride 1, no pads: B is X in place */
    int phases;    /* pp is made: im2col reads phase planes (1-D/2-D windows) */
    int direct;    /* a 1x1 window: its only phase plane is the im2col row itself */
    nn_phase_plan pp;
    int64_t chunk; /* images side by side in one GEMM (thin outputs), ld = chunk * out_size */
    int64_t ld;
} conv_job;

/* y (mg x cols, ldy) = act(W_group gi * bmat (kdim x cols, ldb) + [res (ldy apart) +] bias
 * [+ y]): one group's GEMM, from W packed at load when the node has it; res (or NULL) is
 * read at the GEMM's store. */
static int conv_gemm(const conv_job *j, int64_t gi, const float *bmat, int64_t ldb, int64_t cols,
                     float *y, int64_t ldy, int accumulate, const float *res,
                     const onnx_activation *act)
{
    onnx_gemm_args g = {.m = j->mg,
                        .n = cols,
                        .k = j->kdim,
                        .a = j->w ? j->w + gi * j->mg * j->kdim : NULL,
                        .lda = j->kdim,
                        .b = bmat,
                        .ldb = ldb,
                        .alpha = 1.0f,
                        .c = y,
                        .ldc = ldy,
                        .accumulate = accumulate,
                        .row_bias = j->bias ? j->bias + gi * j->mg : NULL,
                        .act = *act,
                        .res = res,
                        .ldres = ldy};
    if (j->wp && j->wp[gi]) g.pa = j->wp[gi];
    return nn_gemm_f32(j->ctx, &g);
}

/* No input contributes (no channels or an empty input): y = bias (+ residual), then act. */
static int conv_bias_only(const conv_job *j)
{
    const int64_t m = j->m, out_size = j->out_size;
    for (int64_t i = 0; i < j->n; i++)
        conv_prefill(j->y + i * m * out_size, out_size, j->res ? j->res + i * m * out_size : NULL,
                     out_size, j->bias, 0, m, out_size);
    nn_activation_run(j->act, j->y, j->n * m * out_size);
    return 0;
}

/* The input's activation moved here by fuse.c, applied to a scratch copy of X (the depthwise
 * kernels apply it while gathering; the other strategies read X as it is). */
static int conv_activate_input(conv_job *j, const onnx_activation *act_in)
{
    size_t nx;
    if (nn_mul3_size((size_t)j->n, (size_t)j->c, (size_t)j->in_size, &nx) != 0)
        return onnx_ctx_fail(j->ctx, "input size overflows");
    float *xa = nn_scratch_floats(j->ctx, nx);
    if (!xa) return -1;
    memcpy(xa, j->x, nx * sizeof(float));
    nn_activation_run(act_in, xa, (int64_t)nx);
    j->x = xa;
    return 0;
}

/* The plain weights for the paths that read them (per-run Winograd, by taps): W itself, or,
 * when the model dropped it after packing (onnx_node.plain_unused), unpacked from the packed
 * copy into scratch. NULL with the error set on failure. */
static const float *conv_plain_w(const conv_job *j)
{
    if (j->w) return j->w;
    size_t n;
    float *w;
    if (j->wt) {
        if (nn_mul_size((size_t)j->m, (size_t)j->kdim, &n) != 0 ||
            !(w = nn_scratch_floats(j->ctx, n)))
            return NULL;
        if (onnx_gemm_unpack_bt(j->wt, w) != 0) {
            onnx_ctx_fail(j->ctx, "weights dropped without a packed copy");
            return NULL;
        }
        return w;
    }
    if (!j->wp || nn_mul_size((size_t)j->m, (size_t)j->kdim, &n) != 0 ||
        !(w = nn_scratch_floats(j->ctx, n))) {
        if (!j->wp) onnx_ctx_fail(j->ctx, "weights dropped without a packed copy");
        return NULL;
    }
    for (int64_t gi = 0; gi < j->group; gi++)
        if (!j->wp[gi] || onnx_gemm_unpack_a(j->wp[gi], w + gi * j->mg * j->kdim) != 0) {
            onnx_ctx_fail(j->ctx, "weights dropped without a packed copy");
            return NULL;
        }
    return w;
}

/* A 3-D kernel's plain W (M x C/group x kd x kh x kw) from its per-group, per-depth-tap packs
 * (conv_pack_depth_taps), for the paths other than nn_conv_depth when the model dropped W
 * (nn_conv_depth declined the geometry). NULL with the error set on failure. */
static const float *conv_plain_w_depth(const conv_job *j, const conv_state *st)
{
    const int64_t taps = st->depth_taps, kdim2 = j->kdim / taps, khw = kdim2 / j->cg;
    size_t n, t_n;
    float *w, *t;
    if (nn_mul_size((size_t)j->m, (size_t)j->kdim, &n) != 0 ||
        nn_mul_size((size_t)j->mg, (size_t)kdim2, &t_n) != 0 ||
        !(w = nn_scratch_floats(j->ctx, n)) || !(t = nn_scratch_floats(j->ctx, t_n)))
        return NULL;
    for (int64_t gi = 0; gi < j->group; gi++)
        for (int64_t kd = 0; kd < taps; kd++) {
            if (onnx_gemm_unpack_a(st->w[gi * taps + kd], t) != 0) {
                onnx_ctx_fail(j->ctx, "weights dropped without a packed copy");
                return NULL;
            }
            /* row r (output x input channel) of tap kd: W's (r, kd) run (nn_conv_depth_weights) */
            float *wg = w + gi * j->mg * j->kdim;
            for (int64_t r = 0; r < j->mg * j->cg; r++)
                memcpy(wg + (r * taps + kd) * khw, t + r * khw, (size_t)khw * sizeof(float));
        }
    return w;
}

/* Winograd F(tile x tile, 3x3) (conv_winograd.c); wino: the transformed weights packed at
 * load, or NULL (F(2x2) only): then they are made here (a large batch pays for that per run). */
static int conv_by_winograd(const conv_job *j, onnx_gemm_packed *const *wino, int tile)
{
    const float *u = NULL;
    if (!wino) {
        size_t u_n;
        if (nn_mul3_size(NN_WINO_FREQS, (size_t)j->m, (size_t)j->c, &u_n) != 0)
            return onnx_ctx_fail(j->ctx, "Winograd weights overflow");
        float *uw = nn_scratch_floats(j->ctx, u_n);
        if (!uw) return -1;
        const float *w = conv_plain_w(j);
        if (!w) return -1;
        nn_wino_weights(w, j->m, j->c, uw);
        u = uw;
    }
    return nn_conv_winograd(j->ctx, j->x, u, wino, j->bias, j->res, j->y, j->n, j->c, j->m, j->g,
                            j->act, wino ? tile : 2);
}

/* Decides pointwise / phases / direct and the images per GEMM (see conv_job). */
/* 1 if the phase planes of plan pp are the im2col rows themselves: one phase per tap, tap k
 * reading all of phase k, which is exactly the output's size. A 1x1 window (padding included:
 * its zeros are written once), or a window as large as its stride over an input it covers
 * (patches that do not overlap: ConvNeXt's 2x2 stride-2 downsampling, the 4x4 and 32x32 patch
 * embeddings of Swin and ViT), where every phase is written whole. */
static int conv_phases_are_im2col(const nn_phase_plan *pp, int64_t out_size)
{
    if (pp->plane != (size_t)out_size || pp->n_phases != pp->ntaps) return 0;
    for (int64_t k = 0; k < pp->ntaps; k++)
        if (pp->tap_off[k] != k * (int64_t)pp->plane ||
            (pp->ntaps > 1 && (pp->blk[k].a0 != 0 || pp->blk[k].rows != pp->rows ||
                               pp->blk[k].b0 != 0 || pp->blk[k].cols != pp->ld)))
            return 0;
    return 1;
}

static int conv_plan_gemm(conv_job *j)
{
    const nn_geom *g = j->g;
    j->pointwise = 1;
    for (int i = 0; i < NN_MAX_SPATIAL; i++)
        if (g->k[i] != 1 || g->s[i] != 1 || g->pb[i] != 0 || g->pe[i] != 0) j->pointwise = 0;
    /* im2col reads phase planes for 1-D/2-D windows (one gather per input plane, then
     * unit-stride copies), else unfolds directly */
    j->phases = 0;
    if (!j->pointwise) {
        int rc = nn_phase_plan_make(g, &j->pp);
        if (rc < 0) return onnx_ctx_fail(j->ctx, "phase planes overflow");
        j->phases = rc == 0;
    }
    const nn_phase_plan *pp = &j->pp;
    j->direct = j->phases && conv_phases_are_im2col(pp, j->out_size);
    /* Small output planes make thin GEMMs: then `chunk` images share one GEMM, their columns
     * side by side (ld apart), and the product is copied out per image. */
    j->chunk = 1;
    if (j->n > 1 && j->out_size < CONV_MIN_GEMM_COLS) {
        j->chunk = (CONV_MIN_GEMM_COLS + j->out_size - 1) / j->out_size;
        if (j->chunk > j->n) j->chunk = j->n;
    }
    j->ld = j->chunk * j->out_size;
    if (j->ld > INT_MAX) return onnx_ctx_fail(j->ctx, "GEMM dims too large for BLAS");
    /* direct: the gathers write each phase as an im2col row, ld apart (tap_off is unused) */
    if (j->direct) {
        j->pp.plane = (size_t)j->ld;
        j->pp.total = (size_t)(pp->ntaps * j->ld);
    }
    return 0;
}

/* Stride 1, small weights, a wide output (ResNet's first stage): no im2col at all. Tap k's
 * rows of the im2col would be the padded planes shifted by tap_off[k], so sgemm reads them in
 * place (ldb = one plane) and makes the product on the padded grid (rows ld long): one sgemm
 * per tap (K = C) accumulating into ygrid, whose rows are then compacted into Y. The grid's
 * extra columns must stay few: (ld - ow) / ow <= 1/16. */
static int conv_taps_pay(const conv_job *j)
{
    const nn_phase_plan *pp = &j->pp;
    return j->chunk == 1 && j->phases && !j->direct && pp->n_phases == 1 && pp->ntaps > 1 &&
           j->mg * j->kdim <= CONV_TAPS_MAX_WEIGHTS && j->out_size >= CONV_TAPS_MIN_COLS &&
           (pp->ld - pp->ow) * 16 <= pp->ow;
}

/* Scratch for one group's phase planes (cg phase sets), zeroed once: gathers write only where
 * the input lands, so the padding reads as zero. NULL with the error set on failure. */
static float *conv_phase_scratch(const conv_job *j)
{
    size_t ph_n;
    if (nn_mul_size((size_t)j->cg, j->pp.total, &ph_n) != 0) {
        onnx_ctx_fail(j->ctx, "phase planes overflow");
        return NULL;
    }
    float *ph = nn_scratch_floats(j->ctx, ph_n);
    if (ph) memset(ph, 0, ph_n * sizeof(float));
    return ph;
}

/* Gathers the phase planes of one group's cg input channels (xg, may be NULL: none) into ph,
 * then (col not NULL) writes their im2col rows for output rows r0 .. r0 + nr into col (ld
 * apart); split over channels on the session's pool. */
static void conv_phase_unfold(const conv_job *j, const float *xg, float *ph, int64_t r0, int64_t nr,
                              float *col, int64_t ld)
{
    const nn_phase_unfold_args a = {.x = xg,
                                    .x_plane = j->in_size,
                                    .ph = ph,
                                    .ph_stride = j->pp.total,
                                    .c_n = j->cg,
                                    .r0 = r0,
                                    .nr = nr,
                                    .col = col,
                                    .ld = ld};
    nn_phase_unfold(j->ctx, &j->pp, &a);
}

/* See conv_taps_pay: per image and group, gather the padded planes and run conv_taps. */
static int conv_by_taps(const conv_job *j)
{
    const nn_phase_plan *pp = &j->pp;
    const int64_t grid = (pp->oh - 1) * pp->ld + pp->ow; /* grid columns computed */
    if (grid > INT_MAX || pp->total > INT_MAX)
        return onnx_ctx_fail(j->ctx, "GEMM dims too large for BLAS");
    float *wtap, *ygrid, *ph;
    const float *w = conv_plain_w(j);
    if (!w || !(wtap = nn_scratch_floats(j->ctx, (size_t)(j->mg * j->kdim))) ||
        !(ygrid = nn_scratch_floats(j->ctx, (size_t)(j->mg * grid))) ||
        !(ph = conv_phase_scratch(j)))
        return -1;
    for (int64_t i = 0; i < j->n; i++)
        for (int64_t gi = 0; gi < j->group; gi++) {
            const int64_t at0 = (i * j->m + gi * j->mg) * j->out_size; /* group's first output */
            conv_phase_unfold(j, j->x + (i * j->c + gi * j->cg) * j->in_size, ph, 0, 0, NULL, 0);
            if (conv_taps(j->ctx, pp, w + gi * j->mg * j->kdim, wtap, ph, ygrid, grid, j->mg, j->cg,
                          j->bias ? j->bias + gi * j->mg : NULL, j->res ? j->res + at0 : NULL,
                          j->y + at0, j->act) != 0)
                return -1;
        }
    return 0;
}

/* conv_by_blocks's blocks of one image and group on the pool: each task takes a contiguous
 * range of blocks (output rows) and makes them whole on its thread, im2col, prefill and GEMM
 * (nn_gemm_f32_serial), into its own im2col buffer. So the thread that unfolds a block's rows
 * also multiplies and stores them, rows next to each other stay with one thread as in the
 * ops around (home ranges), and a Conv is one job instead of two per block. */
typedef struct conv_blocks_job {
    const conv_job *j;
    const float *ph; /* the group's phase sets */
    float *col;      /* tasks x col_n floats */
    size_t col_n;    /* kdim x step */
    int64_t step, at0, gi, blocks, tasks;
    _Atomic int failed;
} conv_blocks_job;

static void conv_blocks_task(void *arg, int64_t t)
{
    conv_blocks_job *b = arg;
    const conv_job *j = b->j;
    const int64_t out_size = j->out_size, ow = j->pp.ow;
    float *col = b->col + (size_t)t * b->col_n;
    int64_t b0, b1;
    onnx_tpool_range(b->blocks, b->tasks, t, &b0, &b1);
    for (int64_t k = b0; k < b1; k++) {
        const int64_t off = k * b->step;
        const int64_t cols = out_size - off < b->step ? out_size - off : b->step;
        nn_phase_im2col(b->ph, &j->pp, j->cg, off / ow, cols / ow, col, cols);
        float *yb = j->y + b->at0 + off;
        onnx_gemm_args g = {.m = j->mg,
                            .n = cols,
                            .k = j->kdim,
                            .a = j->w ? j->w + b->gi * j->mg * j->kdim : NULL,
                            .lda = j->kdim,
                            .b = col,
                            .ldb = cols,
                            .alpha = 1.0f,
                            .c = yb,
                            .ldc = out_size,
                            .row_bias = j->bias ? j->bias + b->gi * j->mg : NULL,
                            .act = *j->act,
                            .res = j->res ? j->res + b->at0 + off : NULL, /* at the store */
                            .ldres = out_size};
        if (j->wp && j->wp[b->gi]) g.pa = j->wp[b->gi];
        if (nn_gemm_f32_serial(&g) != 0) atomic_store(&b->failed, 1);
    }
}

/* How many tasks conv_by_blocks's `blocks` blocks of step columns take on the pool: at least
 * two blocks per thread (else 1: the blocks one after another, each split over the pool). */
static int conv_blocks_tasks(const conv_job *j, int64_t blocks)
{
    onnx_tpool *pool = onnx_ctx_tpool(j->ctx);
    const int threads = onnx_tpool_threads(pool);
    if (j->pointwise || threads <= 1 || blocks < 2 * (int64_t)threads) return 1;
    const double macs = (double)j->mg * (double)j->kdim * (double)j->out_size;
    return onnx_tpool_tasks(pool, blocks, macs > 1e15 ? INT64_MAX : (int64_t)macs);
}

/* One image at a time, the output made in blocks of `step` columns, each from prefill through
 * sgemm to the activation: for 1x1 convolutions B is X in place; for im2col from phases with
 * few channels and a short kernel (a network's stem), blocks of output rows whose im2col holds
 * about CONV_BLOCK_FLOATS, so that it stays in L2 until OpenBLAS packs it; the weights are then
 * small enough to be packed again per block. Where CONV_BLOCK_MIN_COLS * mg columns of im2col
 * would not fit, and for 1x1 convolutions, blocks measured slower than one large GEMM. */
static int conv_by_blocks(const conv_job *j)
{
    const nn_phase_plan *pp = &j->pp;
    const int64_t out_size = j->out_size, kdim = j->kdim, mg = j->mg, in_size = j->in_size;
    int64_t step = out_size;
    if (!j->pointwise && kdim * CONV_BLOCK_MIN_COLS * mg <= CONV_BLOCK_FLOATS) {
        int64_t rows = CONV_BLOCK_FLOATS / (kdim * pp->ow);
        if (rows < 1) rows = 1;
        step = rows * pp->ow;
    }
    if (step > out_size) step = out_size;
    const int64_t blocks = (out_size + step - 1) / step;
    const int tasks = conv_blocks_tasks(j, blocks);
    float *col = NULL, *ph = NULL;
    size_t col_n = 0, all_n;
    if (!j->pointwise) {
        if (nn_mul_size((size_t)kdim, (size_t)step, &col_n) != 0 ||
            nn_mul_size(col_n, (size_t)tasks, &all_n) != 0)
            return onnx_ctx_fail(j->ctx, "im2col buffer size overflows");
        if (!(col = nn_scratch_floats(j->ctx, all_n)) || !(ph = conv_phase_scratch(j))) return -1;
    }
    for (int64_t i = 0; i < j->n; i++) {
        for (int64_t gi = 0; gi < j->group; gi++) {
            const float *xg = j->x + (i * j->c + gi * j->cg) * in_size;
            const int64_t at0 = (i * j->m + gi * mg) * out_size; /* this group's first output */
            if (!j->pointwise) conv_phase_unfold(j, xg, ph, 0, 0, NULL, 0);
            if (tasks > 1) {
                conv_blocks_job b = {.j = j,
                                     .ph = ph,
                                     .col = col,
                                     .col_n = col_n,
                                     .step = step,
                                     .at0 = at0,
                                     .gi = gi,
                                     .blocks = blocks,
                                     .tasks = tasks};
                onnx_tpool_parallel_for(onnx_ctx_tpool(j->ctx), tasks, conv_blocks_task, &b);
                if (atomic_load(&b.failed)) return onnx_ctx_fail(j->ctx, "GEMM: out of memory");
                continue;
            }
            for (int64_t off = 0; off < out_size; off += step) {
                const int64_t cols = out_size - off < step ? out_size - off : step;
                const float *bmat = xg + off;
                int64_t ldb = in_size;
                if (!j->pointwise) {
                    conv_phase_unfold(j, NULL, ph, off / pp->ow, cols / pp->ow, col, cols);
                    bmat = col;
                    ldb = cols;
                }
                float *yb = j->y + at0 + off;
                if (conv_gemm(j, gi, bmat, ldb, cols, yb, out_size, 0,
                              j->res ? j->res + at0 + off : NULL, j->act) != 0)
                    return -1;
            }
        }
    }
    return 0;
}

/* Writes one image's im2col for one group (xg: its cg channels) into cb: rows (c, tap) ld
 * apart, out_size columns; ph is scratch for the phase planes. */
static void conv_unfold(const conv_job *j, const float *xg, float *ph, float *cb)
{
    const int64_t ld = j->ld, in_size = j->in_size;
    if (j->direct) { /* the phase planes are the im2col rows */
        const nn_phase_unfold_args a = {
            .x = xg, .x_plane = in_size, .ph = cb, .ph_stride = j->pp.total, .c_n = j->cg};
        nn_phase_unfold(j->ctx, &j->pp, &a);
    } else if (j->phases) {
        conv_phase_unfold(j, xg, ph, 0, j->pp.oh, cb, ld);
    } else if (!j->pointwise) {
        conv_im2col(xg, j->cg, j->g, cb, ld);
    } else {
        for (int64_t ci = 0; ci < j->cg; ci++)
            memcpy(cb + ci * ld, xg + ci * in_size, (size_t)j->out_size * sizeof(float));
    }
}

/* Whole images: the im2col of `chunk` images side by side (direct gathers, phase planes, or
 * the direct unfold for 3-D windows and kernels over 16), one sgemm per group, the product
 * copied out per image when images share it, then the activation over the images. */
static int conv_by_images(const conv_job *j)
{
    const int64_t out_size = j->out_size, kdim = j->kdim, mg = j->mg, m = j->m, ld = j->ld;
    const int64_t chunk = j->chunk;
    size_t col_n;
    if (nn_mul_size((size_t)kdim, (size_t)ld, &col_n) != 0)
        return onnx_ctx_fail(j->ctx, "im2col buffer size overflows");
    float *col = nn_scratch_floats(j->ctx, col_n), *ph = NULL, *ytmp = NULL;
    if (!col) return -1;
    /* direct gathers write only where input lands: the padding's zeros are written once */
    if (j->direct && (j->pp.blk[0].rows != j->pp.rows || j->pp.blk[0].cols != j->pp.ld))
        memset(col, 0, col_n * sizeof(float));
    if (j->phases && !j->direct && !(ph = conv_phase_scratch(j))) return -1;
    if (chunk > 1 && !(ytmp = nn_scratch_floats(j->ctx, (size_t)(mg * ld)))) return -1;
    for (int64_t i0 = 0; i0 < j->n; i0 += chunk) {
        const int64_t nb = j->n - i0 < chunk ? j->n - i0 : chunk;
        for (int64_t gi = 0; gi < j->group; gi++) {
            const int64_t at0 = (i0 * m + gi * mg) * out_size; /* this group's first output */
            for (int64_t b = 0; b < nb; b++)
                conv_unfold(j, j->x + ((i0 + b) * j->c + gi * j->cg) * j->in_size, ph,
                            col + b * out_size);
            float *dst = chunk > 1 ? ytmp : j->y + at0;
            /* one image: its residual read at the GEMM's store; images side by side: their
             * residuals copied in first */
            const float *res = chunk == 1 && j->res ? j->res + at0 : NULL;
            for (int64_t b = 0; b < nb && j->res && !res; b++)
                conv_prefill(dst + b * out_size, ld, j->res + at0 + b * m * out_size, out_size,
                             NULL, 0, mg, out_size);
            if (conv_gemm(j, gi, col, ld, nb * out_size, dst, ld, j->res && !res, res, j->act) != 0)
                return -1;
            for (int64_t b = 0; b < nb && chunk > 1; b++)
                for (int64_t mo = 0; mo < mg; mo++)
                    memcpy(j->y + at0 + b * m * out_size + mo * out_size,
                           ytmp + mo * ld + b * out_size, (size_t)out_size * sizeof(float));
        }
    }
    return 0;
}

/* As conv_by_images, with the GEMM the other way round (group 1, W^T packed at load:
 * conv_tgemm.h); any window: the im2col as conv_unfold makes it. */
static int conv_by_images_t(const conv_job *j)
{
    const int64_t out_size = j->out_size, m = j->m, ld = j->ld, chunk = j->chunk;
    size_t col_n, ct_n;
    if (nn_mul_size((size_t)j->kdim, (size_t)ld, &col_n) != 0 ||
        nn_mul_size((size_t)ld, (size_t)m, &ct_n) != 0)
        return onnx_ctx_fail(j->ctx, "im2col buffer size overflows");
    float *col = nn_scratch_floats(j->ctx, col_n), *ct = nn_scratch_floats(j->ctx, ct_n),
          *ph = NULL;
    if (!col || !ct) return -1;
    if (j->direct && (j->pp.blk[0].rows != j->pp.rows || j->pp.blk[0].cols != j->pp.ld))
        memset(col, 0, col_n * sizeof(float));
    if (j->phases && !j->direct && !(ph = conv_phase_scratch(j))) return -1;
    for (int64_t i0 = 0; i0 < j->n; i0 += chunk) {
        const int64_t nb = j->n - i0 < chunk ? j->n - i0 : chunk;
        for (int64_t b = 0; b < nb; b++)
            conv_unfold(j, j->x + (i0 + b) * j->c * j->in_size, ph, col + b * out_size);
        const int64_t at0 = i0 * m * out_size;
        if (nn_conv_tgemm(j->ctx, col, ld, nb, out_size, j->wt, m, j->kdim, j->bias,
                          j->res ? j->res + at0 : NULL, j->y + at0, j->act, ct) != 0)
            return -1;
    }
    return 0;
}

/* y (n x m x out_size) = conv(x) + bias + res (each optional), then act; st: what prepare
 * made for wd (packed weights, see conv_state), or NULL. Chooses the strategy, in this order: bias only
 * (nothing to convolve), depthwise (conv_depthwise.c; it may decline), Winograd, and the sgemm
 * ones: by taps, in blocks of one image, or whole images (see each). */
static int conv_compute(onnx_ctx *ctx, const float *xd, const float *wd, const conv_state *st,
                        const float *bias, const float *res, float *y, int64_t n, int64_t c,
                        int64_t m, int64_t group, const nn_geom *g, const onnx_activation *act_in,
                        const onnx_activation *act)
{
    conv_job j = {.ctx = ctx,
                  .x = xd,
                  .w = wd,
                  .bias = bias,
                  .res = res,
                  .y = y,
                  .n = n,
                  .c = c,
                  .m = m,
                  .group = group,
                  .cg = c / group,
                  .mg = m / group,
                  .g = g,
                  .act = act};
    j.in_size = nn_geom_in_size(g);
    j.out_size = nn_geom_out_size(g);
    j.kdim = j.cg * nn_geom_k_size(g);
    onnx_gemm_packed *const *wino = st && st->wino[0] ? st->wino : NULL;
    onnx_gemm_packed *const *wino4 = st && st->wino4[0] ? st->wino4 : NULL;
    if (st && st->groups == group && !st->depth_taps) {
        j.wp = st->w;
        j.wt = st->wt;
    }

    if (j.kdim == 0 || j.in_size == 0) return conv_bias_only(&j);
    if (group > 1 && group == c) {
        int rc = nn_conv_depthwise(ctx, xd, wd, bias, res, y, n, c, m, g, act_in, act);
        if (rc != 0) return rc < 0 ? -1 : 0;
    }
    if (act_in->kind != ONNX_ACT_NONE && conv_activate_input(&j, act_in) != 0) return -1;
    /* a stem (3x3 stride 2 on 1-4 channels): directly, from the plain weights */
    const float *stem_w = st && st->stem_w ? st->stem_w : wd;
    if (stem_w && nn_conv_stem_fits(g, group, c, act))
        return nn_conv_stem(ctx, j.x, stem_w, bias, res, y, n, c, m, g, act);
    if (nn_wino_geometry_fits(g, group) && wino4 && nn_wino4_pays(g, n, c, m))
        return conv_by_winograd(&j, wino4, 4);
    if (nn_wino_geometry_fits(g, group) && nn_wino_pays(g, n, c, m, wino != NULL))
        return conv_by_winograd(&j, wino, 2);
    if (j.mg > INT_MAX || j.out_size > INT_MAX || j.kdim > INT_MAX)
        return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    if (conv_plan_gemm(&j) != 0) return -1;
    if (!j.pointwise && g->nsp == 3) {
        const int packed = st && st->groups == group && st->depth_taps == g->k[0];
        /* not packed per tap (a kernel of depth 1: packed whole) and W dropped: unpack it */
        if (!packed && !j.w &&
            !(j.w = st && st->depth_taps > 1 ? conv_plain_w_depth(&j, st) : conv_plain_w(&j)))
            return -1;
        nn_conv_depth_args da = {.x = j.x,
                                 .w = j.w,
                                 .bias = bias,
                                 .res = res,
                                 .y = y,
                                 .n = n,
                                 .c = c,
                                 .m = m,
                                 .group = group,
                                 .g = g,
                                 .act = act,
                                 .wp = packed ? st->w : NULL};
        int rc = nn_conv_depth(ctx, &da);
        if (rc <= 0) return rc;
    }
    /* W dropped, kept packed per depth tap only: the other paths read it plain */
    if (!j.w && st && st->groups == group && st->depth_taps > 1 &&
        !(j.w = conv_plain_w_depth(&j, st)))
        return -1;
    if (conv_taps_pay(&j)) return conv_by_taps(&j);
    if (j.wt) return conv_by_images_t(&j);
    if (j.chunk == 1 && (j.pointwise || (j.phases && !j.direct))) return conv_by_blocks(&j);
    return conv_by_images(&j);
}

static int same_shape(const onnx_tensor *t, int ndim, const int64_t *dims)
{
    if (t->ndim != ndim) return 0;
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i]) return 0;
    return 1;
}

/* Fills st's attributes from the node (conv_state.attrs_ok), w_ndim: W's rank. */
static void conv_read_attrs(conv_state *st, const onnx_node *node, int w_ndim)
{
    st->residual = onnx_attr_int(node, "inferd_residual", 0) != 0;
    st->fused_expand = onnx_attr_int(node, "inferd_expand", 0) != 0;
    st->in_act = onnx_attr_string(node, "inferd_input_activation", NULL);
    st->in_alpha = onnx_attr_float(node, "inferd_input_alpha", 0);
    st->in_beta = onnx_attr_float(node, "inferd_input_beta", 0);
    st->sp_nsp = w_ndim - 2;
    st->attrs_ok = onnx_attr_int(node, "group", 1) == st->groups &&
                   nn_spatial_attrs_read(NULL, node, w_ndim - 2, &st->sp) == 0 &&
                   onnx_activation_from_node(node, &st->act) == 0;
}

int nn_conv_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *w = onnx_ctx_input(ctx, 1);
    const onnx_tensor *b = onnx_ctx_input(ctx, 2);
    /* the attributes as prepare read them, when it could (conv_state.attrs_ok) */
    const conv_state *sa = node->state;
    if (sa && (!sa->attrs_ok || !w || w->ndim - 2 != sa->sp_nsp)) sa = NULL;
    /* input 3: the other operand of an Add fused into this Conv (fuse.c) */
    const onnx_tensor *r = (sa ? sa->residual : onnx_attr_int(node, "inferd_residual", 0))
                               ? onnx_ctx_input(ctx, 3)
                               : NULL;
    if (!x || !w) return onnx_ctx_fail(ctx, "needs inputs X and W");
    /* inputs 4 and 5: a 1x1 Conv fused in (fuse_conv_dw.c); x is then its input, and the
     * tensor this Conv convolves, the expansion, has the shape of xe */
    const onnx_tensor *we = NULL, *be = NULL, *x_in = x;
    onnx_tensor xe;
    if (sa ? sa->fused_expand : onnx_attr_int(node, "inferd_expand", 0)) {
        we = onnx_ctx_input(ctx, 4);
        be = onnx_ctx_input(ctx, 5);
        if (!we || we->dtype != INFERD_DTYPE_FP32 || x->dtype != INFERD_DTYPE_FP32 ||
            x->ndim != 4 || we->ndim != 4 || we->dims[1] != x->dims[1] || we->dims[2] != 1 ||
            we->dims[3] != 1 ||
            (be && (be->dtype != INFERD_DTYPE_FP32 || be->ndim != 1 || be->dims[0] != we->dims[0])))
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
    const int64_t group = sa ? sa->groups : onnx_attr_int(node, "group", 1);
    const int64_t n = x->dims[0], c = x->dims[1], m = w->dims[0];
    if (!nn_conv_group_fits(group, c, m, w->dims[1]))
        return onnx_ctx_fail(ctx, "group %lld does not fit X channels %lld and W %lld x %lld",
                             (long long)group, (long long)c, (long long)m, (long long)w->dims[1]);
    if (b && (b->ndim != 1 || b->dims[0] != m))
        return onnx_ctx_fail(ctx, "bias must be 1-D with %lld values", (long long)m);
    nn_geom g;
    if ((sa ? nn_geom_window_attrs(ctx, node, x, w->dims + 2, 0, &sa->sp, &g)
            : nn_geom_window(ctx, node, x, w->dims + 2, 0, &g)) != 0)
        return -1;
    onnx_activation act, act_in = {.kind = ONNX_ACT_NONE};
    if (sa) act = sa->act;
    else if (nn_activation_read(ctx, node, &act) != 0) return -1;
    /* an activation of the input moved here by fuse.c (Relu or Clip before a depthwise Conv) */
    const char *in_act = sa ? sa->in_act : onnx_attr_string(node, "inferd_input_activation", NULL);
    if (in_act) {
        act_in.kind = onnx_activation_kind_from_op(in_act);
        act_in.alpha = sa ? sa->in_alpha : onnx_attr_float(node, "inferd_input_alpha", 0);
        act_in.beta = sa ? sa->in_beta : onnx_attr_float(node, "inferd_input_beta", 0);
        if (act_in.kind != ONNX_ACT_RELU && act_in.kind != ONNX_ACT_CLIP &&
            !(we && nn_expand_takes_act(&act_in))) /* a fused 1x1's own, fuse_conv_dw.c */
            return onnx_ctx_fail(ctx, "unknown input activation '%s'", in_act);
    }

    const conv_state *st = node->state;
    if (st && (st->m != m || st->c != w->dims[1])) st = NULL;
    /* weights the model keeps only packed (prepare set plain_unused): run needs the copy */
    if ((!w->data && onnx_tensor_numel(w) > 0 && !st) || (we && !we->data && !(st && st->expand)))
        return onnx_ctx_fail(ctx, "weights dropped without their packed copy");

    int64_t dims[ONNX_MAX_DIMS];
    int rank = nn_geom_out_dims(&g, n, m, dims);
    const float *bias = b ? b->data : NULL;
    onnx_tensor *yt = NULL;
    if (!r || same_shape(r, rank, dims)) {
        if (!(yt = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, rank, dims))) return -1;
        if (onnx_tensor_numel(yt) == 0) return 0;
        if (we && group == c) {
            int rc = nn_conv_expand_depthwise(ctx, x_in->data, x_in->dims[1], we->data,
                                              st ? st->expand : NULL, be ? be->data : NULL, c,
                                              w->data, bias, r ? r->data : NULL, yt->data, n, m, &g,
                                              &act_in, &act);
            if (rc != 0) return rc < 0 ? -1 : 0;
        }
    }
    if (we && onnx_tensor_numel(x) > 0) {
        /* the expansion applies a Clip (or its SiLU...) itself: then the Conv reads it as is */
        const onnx_activation none = {.kind = ONNX_ACT_NONE};
        const int takes = nn_expand_takes_act(&act_in);
        if (!(xe.data = nn_conv_expand_whole(ctx, x_in->data, n, x_in->dims[1], x->dims[2],
                                             x->dims[3], we->data, st ? st->expand : NULL,
                                             be ? be->data : NULL, c, takes ? &act_in : &none)))
            return -1;
        if (takes) act_in = none;
    }
    if (yt)
        return conv_compute(ctx, x->data, w->data, st, bias, r ? r->data : NULL, yt->data, n, c, m,
                            group, &g, &act_in, &act);
    /* the residual broadcasts: the Conv into scratch, then the Add's broadcast, then act */
    onnx_tensor t = {.dtype = INFERD_DTYPE_FP32, .ndim = rank};
    memcpy(t.dims, dims, (size_t)rank * sizeof dims[0]);
    const onnx_activation none = {.kind = ONNX_ACT_NONE};
    const int64_t numel = onnx_tensor_numel(&t);
    if (numel > 0) {
        if (!(t.data = nn_scratch_floats(ctx, (size_t)numel))) return -1;
        if (conv_compute(ctx, x->data, w->data, st, bias, NULL, t.data, n, c, m, group, &g, &act_in,
                         &none))
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

/* st->w of a 3-D kernel: each group's weights of each depth tap (conv_depth.h's layout),
 * packed; kdim2 = input channels per group x the kernel's height x width. Out of memory, it
 * leaves none (depth_taps 0) and run rearranges them per call. */
static void conv_pack_depth_taps(conv_state *st, const float *w, int64_t mg, int64_t kdim2)
{
    const int64_t taps = st->depth_taps, cg = st->c;
    float *tmp = malloc((size_t)(mg * kdim2) * sizeof(float));
    if (!tmp) return;
    for (int64_t gi = 0; gi < st->groups; gi++)
        for (int64_t kd = 0; kd < taps; kd++) {
            nn_conv_depth_weights(w + gi * mg * kdim2 * taps, mg, cg, taps, kdim2 / cg, kd, tmp);
            if (!(st->w[gi * taps + kd] = onnx_gemm_pack_a(tmp, 0, mg, kdim2, kdim2))) {
                for (int64_t p = 0; p < gi * taps + kd; p++) {
                    onnx_gemm_packed_free(st->w[p]);
                    st->w[p] = NULL;
                }
                st->depth_taps = 0; /* all NULL: run rearranges per call */
                free(tmp);
                return;
            }
        }
    free(tmp);
}

/* What run reads packed only, so the model can free the plain copies (onnx_node.plain_unused):
 * W when it is packed for every group (not depthwise: that kernel reads W itself; the paths
 * that read plain W unpack it, conv_plain_w), a fused expansion's weights when packed. The
 * prefetch hint then streams the packed copy. */
static void conv_mark_packed(onnx_node *node, const conv_state *st, int w_ndim)
{
    /* 2-D and 3-D kernels (a 3-D kernel deeper than 1 packed per depth tap, conv_depth.h:
     * the paths other than nn_conv_depth unpack them, conv_plain_w_depth); 1-D ones and
     * those of rank over 5 keep their plain weights */
    const int64_t packs = st->groups * (st->depth_taps > 1 ? st->depth_taps : 1);
    int all = st->groups > 0 && (w_ndim == 4 || w_ndim == 5);
    for (int64_t p = 0; p < packs && all; p++) all &= st->w[p] != NULL || st->wt != NULL;
    if (all) {
        node->plain_unused |= 1u << 1;
        if (st->groups == 1)
            node->stream = onnx_gemm_packed_data(st->wt ? st->wt : st->w[0], &node->stream_bytes);
    }
    if (st->expand) {
        node->plain_unused |= 1u << 4;
        node->stream = onnx_gemm_packed_data(st->expand, &node->stream_bytes);
    }
}

int nn_conv_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len)
{
    const onnx_tensor *w = node->n_inputs > 1 ? consts[1] : NULL;
    const int64_t group = onnx_attr_int(node, "group", 1);
    /* constant weights fix the channels: a group they cannot split, or whose input channels
     * (W's per group times group) overflow, fits no input */
    if (w && w->ndim >= 1 &&
        (group < 1 || w->dims[0] % group != 0 ||
         (w->ndim >= 2 && w->dims[1] > INT64_MAX / group))) {
        snprintf(err, err_len, "group %lld does not fit W %lld x %lld", (long long)group,
                 (long long)w->dims[0], (long long)(w->ndim >= 2 ? w->dims[1] : 0));
        return -1;
    }
    if (!w || w->dtype != INFERD_DTYPE_FP32 || w->ndim < 3 || group < 1 ||
        w->dims[0] % group != 0 || onnx_tensor_numel(w) == 0)
        return 0;
    const int64_t m = w->dims[0], c = w->dims[1], mg = m / group;
    const int64_t kdim = onnx_tensor_numel(w) / m; /* c x kernel: one group's GEMM K */
    /* 3-D kernels deeper than 1: per group and depth tap (conv_depth.c) */
    const int64_t taps = w->ndim == 5 && w->dims[2] > 1 ? w->dims[2] : 1;
    if ((size_t)group > SIZE_MAX / sizeof(onnx_gemm_packed *) / (size_t)taps) return 0;
    conv_state *st = calloc(1, sizeof *st + (size_t)(group * taps) * sizeof st->w[0]);
    if (!st) return 0; /* an optimisation only: run takes the unpacked paths */
    st->m = m;
    st->c = c;
    st->groups = group;
    conv_read_attrs(st, node, w->ndim);
    /* W as the GEMM's A, per group; not for depthwise convolutions (their own kernel); or
     * W^T as B for a long, narrow GEMM (conv_tgemm.h) */
    if (group == 1 && taps == 1 && w->ndim == 4 && nn_conv_tgemm_fits(m, kdim))
        st->wt = onnx_gemm_pack_b(w->data, 1, kdim, m, kdim);
    if (!(group > 1 && c == 1) && taps == 1 && !st->wt)
        for (int64_t gi = 0; gi < group; gi++)
            st->w[gi] =
                onnx_gemm_pack_a((const float *)w->data + gi * mg * kdim, 0, mg, kdim, kdim);
    if (!(group > 1 && c == 1) && taps > 1) {
        st->depth_taps = taps;
        conv_pack_depth_taps(st, w->data, mg, kdim / taps);
    }
    /* the Winograd weights when they are small enough to keep (run checks the geometry) */
    if (w->ndim == 4 && w->dims[2] == 3 && w->dims[3] == 3 && group == 1 &&
        attr_ones(node, "strides") && attr_ones(node, "dilations") && nn_wino_precompute(m, c)) {
        size_t u_n;
        float *u;
        if (nn_mul3_size(NN_WINO_FREQS, (size_t)m, (size_t)c, &u_n) == 0 &&
            (u = malloc(u_n * sizeof(float)))) {
            nn_wino_weights(w->data, m, c, u);
            nn_wino_pack(u, m, c, NN_WINO_FREQS, st->wino);
            free(u);
        }
        if (nn_wino4_precompute(m, c) &&
            nn_mul3_size(NN_WINO4_FREQS, (size_t)m, (size_t)c, &u_n) == 0 &&
            (u = malloc(u_n * sizeof(float)))) {
            nn_wino4_weights(w->data, m, c, u);
            nn_wino_pack(u, m, c, NN_WINO4_FREQS, st->wino4);
            free(u);
        }
    }
    /* a stem's weights (m x 1-4 x 3 x 3, a few KiB) stay plain for its kernel: run decides
     * from the strides and the CPU (nn_conv_stem_fits) */
    if (group == 1 && w->ndim == 4 && c <= NN_STEM_MAX_C && w->dims[2] == 3 && w->dims[3] == 3 &&
        (st->stem_w = malloc((size_t)onnx_tensor_numel(w) * sizeof(float))))
        memcpy(st->stem_w, w->data, (size_t)onnx_tensor_numel(w) * sizeof(float));
    /* a fused 1x1 Conv's weights (fuse_conv_dw.c): e_ch x c x 1 x 1 */
    const onnx_tensor *we = node->n_inputs > 4 ? consts[4] : NULL;
    if (we && onnx_attr_int(node, "inferd_expand", 0) && we->dtype == INFERD_DTYPE_FP32 &&
        we->ndim == 4 && onnx_tensor_numel(we) > 0)
        st->expand = onnx_gemm_pack_a(we->data, 0, we->dims[0], we->dims[1], we->dims[1]);
    node->state = st;
    conv_mark_packed(node, st, w->ndim);
    return 0;
}

void nn_conv_release(onnx_node *node)
{
    conv_state *st = node->state;
    if (!st) return;
    for (int f = 0; f < NN_WINO_FREQS; f++) onnx_gemm_packed_free(st->wino[f]);
    for (int f = 0; f < NN_WINO4_FREQS; f++) onnx_gemm_packed_free(st->wino4[f]);
    const int64_t packs = st->groups * (st->depth_taps ? st->depth_taps : 1);
    for (int64_t gi = 0; gi < packs; gi++) onnx_gemm_packed_free(st->w[gi]);
    onnx_gemm_packed_free(st->expand);
    onnx_gemm_packed_free(st->wt);
    free(st->stem_w);
    free(st);
    node->state = NULL;
}
