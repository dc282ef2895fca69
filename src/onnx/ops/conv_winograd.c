/* Winograd F(2x2, 3x3) and F(4x4, 3x3) convolution (see conv_winograd.h): the weight
 * transforms, the size rules, and the driver (one for both tile sizes): blocks of tile rows (across images at batch > 1) go through the
 * input transform (split over input channels), 16 GEMMs and the output transform (split over
 * output channels; it also adds the bias and the residual and applies the activation while
 * the output rows are in cache), each on the session's threads. */
#include "conv_winograd.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "nn_gemm.h"
#include "nn_kernels.h"
#include "../threadpool.h"

/* The size rule, measured on ResNet-18 (one thread, AVX-512 OpenBLAS):
 *
 * The transformed input and the GEMM's output of one block of tiles hold about this many
 * floats each (4 MiB): a whole 56x56 image per block at batch 1, and at batch 32 few enough
 * blocks that OpenBLAS, which packs U again for every call, packs it rarely (blocks of 0.5
 * and 1 MiB ran 4-10% slower at batch 32). */
#define WINO_BLOCK_FLOATS (1024 * 1024)
/* Channel counts under this make the transforms cost more than the multiply-adds they save. */
#define WINO_MIN_CHANNELS 16
/* Columns (tiles, all images) the GEMMs need so that reading U, 16/9 the bytes of the weights,
 * costs less than the work saved: with 49 (ResNet's 14x14 stage at batch 1) Winograd is still
 * 3% faster overall; the 7x7 stage's 16 tiles are excluded by the waste rule below. */
#define WINO_MIN_TILES 40
/* Output planes whose 2x2 tiles compute more than 6/5 of the outputs they keep (odd sizes:
 * 7x7 computes 8x8, 1.31x) are left to im2col: ResNet-18's 7x7 stage at batch 32 ran 8%
 * slower overall with it. */
#define WINO_MAX_WASTE_NUM 6
#define WINO_MAX_WASTE_DEN 5
/* Transformed weights are kept from load for kernels up to this many floats (m * c * 9):
 * 256 x 256 x 3 x 3 (2.25 MiB, 4 MiB transformed; ResNet-18 keeps 16 MiB in all). Larger
 * ones are transformed per run, only when the batch brings enough tiles to pay for it. */
#define WINO_KEEP_MAX_WEIGHTS (256 * 256 * 9)
#define WINO_RUN_MIN_TILES    512
/* F(4x4): kept from load up to 128 x 256 channels (4.5 MiB transformed; ResNet-18's first two
 * stages 9.4 MiB in all, GoogLeNet's 128 -> 192 at 28x28 included, not 256 x 256 kernels, which
 * run on 14x14 and smaller), used when its 4x4 tiles waste at most 6/5 as above (56, 55, 28 and
 * 27 wide planes; 14x14 and 13x13 stay on F(2x2)) and the batch brings enough tiles. Measured
 * per node (CPU time, one thread, batch 1): 64 x 64 on 56x56 -19%, 128 x 128 on 28x28 -13%,
 * 16 -> 64 on 55x55 -11%, 32 -> 128 on 27x27 -8%; in ResNet-18, whose weights come from DRAM
 * every run (U 2.25x F(2x2)'s), its first two stages 5.6-6.3 -> 4.5-5.2 ms. */
#define WINO4_KEEP_MAX_WEIGHTS (128 * 256 * 9)
#define WINO4_MIN_TILES        16

int nn_wino_geometry_fits(const nn_geom *g, int64_t group)
{
    return group == 1 && g->nsp == 2 && g->k[0] == 1 && g->k[1] == 3 && g->k[2] == 3 &&
           g->s[1] == 1 && g->s[2] == 1 && g->d[1] == 1 && g->d[2] == 1;
}

int nn_wino_precompute(int64_t m, int64_t c)
{
    return m >= WINO_MIN_CHANNELS && c >= WINO_MIN_CHANNELS && m * c <= WINO_KEEP_MAX_WEIGHTS / 9;
}

int nn_wino_pays(const nn_geom *g, int64_t n, int64_t c, int64_t m, int precomputed)
{
    if (c < WINO_MIN_CHANNELS || m < WINO_MIN_CHANNELS || g->out[1] < 2 || g->out[2] < 2) return 0;
    const int64_t plane_tiles = ((g->out[1] + 1) / 2) * ((g->out[2] + 1) / 2);
    if (plane_tiles * 4 * WINO_MAX_WASTE_DEN > g->out[1] * g->out[2] * WINO_MAX_WASTE_NUM) return 0;
    return n * plane_tiles >= (precomputed ? WINO_MIN_TILES : WINO_RUN_MIN_TILES);
}

int nn_wino4_precompute(int64_t m, int64_t c)
{
    return m >= WINO_MIN_CHANNELS && c >= WINO_MIN_CHANNELS && m * c <= WINO4_KEEP_MAX_WEIGHTS / 9;
}

int nn_wino4_pays(const nn_geom *g, int64_t n, int64_t c, int64_t m)
{
    if (c < WINO_MIN_CHANNELS || m < WINO_MIN_CHANNELS || g->out[1] < 4 || g->out[2] < 4) return 0;
    const int64_t plane_tiles = ((g->out[1] + 3) / 4) * ((g->out[2] + 3) / 4);
    if (plane_tiles * 16 * WINO_MAX_WASTE_DEN > g->out[1] * g->out[2] * WINO_MAX_WASTE_NUM)
        return 0;
    return n * plane_tiles >= WINO4_MIN_TILES;
}

void nn_wino4_weights(const float *w, int64_t m, int64_t c, float *u)
{
    const size_t fs = (size_t)m * (size_t)c;
    for (int64_t mo = 0; mo < m; mo++) {
        for (int64_t ci = 0; ci < c; ci++) {
            const float *k = w + (mo * c + ci) * 9;
            /* t = G k (6 x 3), G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6;
             * 1/24 -1/12 1/6; 0 0 1], then r = t G^T; in double, rounded once */
            double t[6][3], r[6][6];
            for (int j = 0; j < 3; j++) {
                const double k0 = k[j], k1 = k[3 + j], k2 = k[6 + j];
                t[0][j] = k0 / 4;
                t[1][j] = -(k0 + k1 + k2) / 6;
                t[2][j] = -(k0 - k1 + k2) / 6;
                t[3][j] = k0 / 24 + k1 / 12 + k2 / 6;
                t[4][j] = k0 / 24 - k1 / 12 + k2 / 6;
                t[5][j] = k2;
            }
            for (int i = 0; i < 6; i++) {
                const double k0 = t[i][0], k1 = t[i][1], k2 = t[i][2];
                r[i][0] = k0 / 4;
                r[i][1] = -(k0 + k1 + k2) / 6;
                r[i][2] = -(k0 - k1 + k2) / 6;
                r[i][3] = k0 / 24 + k1 / 12 + k2 / 6;
                r[i][4] = k0 / 24 - k1 / 12 + k2 / 6;
                r[i][5] = k2;
            }
            for (int f = 0; f < NN_WINO4_FREQS; f++)
                u[(size_t)f * fs + (size_t)(mo * c + ci)] = (float)r[f / 6][f % 6];
        }
    }
}

void nn_wino_weights(const float *w, int64_t m, int64_t c, float *u)
{
    const size_t fs = (size_t)m * (size_t)c; /* floats between frequencies */
    for (int64_t mo = 0; mo < m; mo++) {
        for (int64_t ci = 0; ci < c; ci++) {
            const float *k = w + (mo * c + ci) * 9;
            /* t = G k (4 x 3), G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1] */
            float t[4][3], r[4][4];
            for (int j = 0; j < 3; j++) {
                t[0][j] = k[j];
                t[1][j] = 0.5f * (k[j] + k[3 + j] + k[6 + j]);
                t[2][j] = 0.5f * (k[j] - k[3 + j] + k[6 + j]);
                t[3][j] = k[6 + j];
            }
            for (int i = 0; i < 4; i++) { /* r = t G^T */
                r[i][0] = t[i][0];
                r[i][1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
                r[i][2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
                r[i][3] = t[i][2];
            }
            for (int f = 0; f < NN_WINO_FREQS; f++)
                u[(size_t)f * fs + (size_t)(mo * c + ci)] = r[f / 4][f % 4];
        }
    }
}

/* Padded rows p0 .. p0 + nrows of one input plane (in_h x in_w, pads pt on top and pl on the
 * left) into pad (nrows x wp, wp >= pl + in_w): rows and columns outside the input are 0. */
static void wino_pad_rows(const float *x, int64_t in_h, int64_t in_w, int64_t pt, int64_t pl,
                          int64_t p0, int64_t nrows, float *pad, int64_t wp)
{
    for (int64_t r = 0; r < nrows; r++) {
        float *dst = pad + r * wp;
        const int64_t ih = p0 + r - pt;
        if (ih < 0 || ih >= in_h) {
            memset(dst, 0, (size_t)wp * sizeof(float));
            continue;
        }
        memset(dst, 0, (size_t)pl * sizeof(float));
        memcpy(dst + pl, x + ih * in_w, (size_t)in_w * sizeof(float));
        memset(dst + pl + in_w, 0, (size_t)(wp - pl - in_w) * sizeof(float));
    }
}

/* Padded rows p0 .. p0 + nrows of one input plane, as wino_pad_rows, stored by phase for
 * F(4x4): padded row r's column 4i + q at ph[(4r + q) * ps + i], i < ps; row: 4 ps floats of
 * scratch (4 ps >= pl + in_w). */
static void wino4_pad_rows(const float *x, int64_t in_h, int64_t in_w, int64_t pt, int64_t pl,
                           int64_t p0, int64_t nrows, float *ph, int64_t ps, float *row)
{
    for (int64_t r = 0; r < nrows; r++) {
        float *dst = ph + 4 * r * ps;
        const int64_t ih = p0 + r - pt;
        if (ih < 0 || ih >= in_h) {
            memset(dst, 0, (size_t)(4 * ps) * sizeof(float));
            continue;
        }
        wino_pad_rows(x, in_h, in_w, pt, pl, ih + pt, 1, row, 4 * ps);
        nn_k_wino4_phases(dst, row, ps);
    }
}

/* Distance between two frequencies' matrices of n floats each: n rounded up to 4 KiB plus one
 * cache line. The transforms read or write the 16 frequencies of a tile at once; at multiples
 * of 4 KiB apart those 16 lines would all fall in one set of the L1 cache, which has fewer
 * ways (a block size that made them so ran 15% slower). Returns 0 on overflow. */
static size_t wino_freq_stride(size_t n)
{
    if (n > SIZE_MAX - 2048) return 0;
    return (n + 1023) / 1024 * 1024 + 16;
}

int nn_wino_pack(const float *u, int64_t m, int64_t c, int freqs, onnx_gemm_packed **up)
{
    for (int f = 0; f < freqs; f++)
        if (!(up[f] = onnx_gemm_pack_a(u + (size_t)f * (size_t)(m * c), 0, m, c, c))) {
            for (int i = 0; i < f; i++) {
                onnx_gemm_packed_free(up[i]);
                up[i] = NULL;
            }
            return -1;
        }
    return 0;
}

/* The 16 (36) frequency GEMMs of one block, one task each: O_f = U_f V_f. */
typedef struct wino_gemms {
    const float *u;
    onnx_gemm_packed *const *up;
    const float *v;
    float *o;
    int64_t m, c, ncols, cols, ldv; /* V's rows are ldv apart, O's cols */
    size_t vfs, ofs;
    _Atomic int failed;
} wino_gemms;

static void wino_gemm_one(void *arg, int64_t f)
{
    wino_gemms *w = arg;
    onnx_gemm_args g = {.m = w->m,
                        .n = w->ncols,
                        .k = w->c,
                        .lda = w->c,
                        .b = w->v + (size_t)f * w->vfs,
                        .ldb = w->ldv,
                        .alpha = 1.0f,
                        .c = w->o + (size_t)f * w->ofs,
                        .ldc = w->cols};
    if (w->up) g.pa = w->up[f];
    else g.a = w->u + (size_t)f * (size_t)(w->m * w->c);
    if (nn_gemm_f32_serial(&g) != 0) atomic_store(&w->failed, 1);
}

/* One block's input transform, split over input channels (each task pads into its own
 * rows of `pad`), and output transform, split over output channels (each task its own pair of
 * rows of `ytmp`): every value is computed as on one thread. */
typedef struct wino_xform {
    const float *x, *bias, *res;
    float *y, *v, *o, *pad, *ytmp, *tt;
    const nn_geom *g;
    const onnx_activation *act;
    int64_t c, m, n_tasks, th, tw, twv, wp, cols, ldv, gr0, nr, pad_n;
    int64_t tile, ps; /* 2 or 4; F(4x4): the phase length of a padded row (4 ps floats) */
    size_t vfs, ofs;
} wino_xform;

static void wino_in_task(void *arg, int64_t t)
{
    const wino_xform *w = arg;
    const nn_geom *g = w->g;
    const int64_t in_h = g->in[1], in_w = g->in[2], th = w->th, tw = w->tw, wp = w->wp;
    float *pad = w->pad + t * w->pad_n;
    int64_t c0, c1;
    onnx_tpool_range(w->c, w->n_tasks, t, &c0, &c1);
    /* one image's run of tile rows [tr0, tr1) at a time */
    for (int64_t gr = w->gr0; gr < w->gr0 + w->nr;) {
        const int64_t img = gr / th, tr0 = gr % th;
        const int64_t tr1 = th < tr0 + (w->gr0 + w->nr - gr) ? th : tr0 + (w->gr0 + w->nr - gr);
        const int64_t col0 = (gr - w->gr0) * tw;
        for (int64_t ci = c0; ci < c1; ci++) {
            wino_pad_rows(w->x + (img * w->c + ci) * in_h * in_w, in_h, in_w, g->pb[1], g->pb[2],
                          2 * tr0, 2 * (tr1 - tr0) + 2, pad, wp);
            for (int64_t tr = tr0; tr < tr1; tr++) {
                const float *p = pad + 2 * (tr - tr0) * wp;
                const float *rows[4] = {p, p + wp, p + 2 * wp, p + 3 * wp};
                nn_k_wino2_in_row(w->v + ci * w->ldv + col0 + (tr - tr0) * tw, (int64_t)w->vfs,
                                  rows, w->twv);
            }
        }
        gr += tr1 - tr0;
    }
}

static void wino_out_task(void *arg, int64_t t)
{
    const wino_xform *w = arg;
    const onnx_activation *act = w->act;
    const int64_t oh = w->g->out[1], ow = w->g->out[2], out_size = oh * ow, wp = w->wp;
    const int64_t cols = w->cols, tw = w->tw;
    float *ytmp = w->ytmp + t * 2 * wp, *tt = w->tt + t * 4 * cols;
    int64_t m0, m1;
    onnx_tpool_range(w->m, w->n_tasks, t, &m0, &m1);
    /* per output channel, all the block's tiles at once into tt[0..3], then row pair by row
     * pair into Y with the residual and Relu/Clip in the same pass (others per row after); a
     * last odd row's second row goes to ytmp */
    const int wact = act->kind == ONNX_ACT_RELU   ? NN_WINO_RELU
                     : act->kind == ONNX_ACT_CLIP ? NN_WINO_CLIP
                                                  : NN_WINO_NONE;
    const int other_act = act->kind != ONNX_ACT_NONE && wact == NN_WINO_NONE;
    for (int64_t mo = m0; mo < m1; mo++) {
        nn_k_wino2_out_tiles(tt, tt + cols, tt + 2 * cols, tt + 3 * cols, w->o + mo * cols,
                             (int64_t)w->ofs, w->bias ? w->bias[mo] : 0.0f, w->nr * tw);
        for (int64_t gr = w->gr0; gr < w->gr0 + w->nr; gr++) {
            const int64_t img = gr / w->th, tr = gr % w->th, col0 = (gr - w->gr0) * tw;
            const int64_t rows_out = oh - 2 * tr < 2 ? oh - 2 * tr : 2;
            const int64_t at = (img * w->m + mo) * out_size + 2 * tr * ow;
            float *y0 = w->y + at, *y1 = rows_out == 2 ? y0 + ow : ytmp;
            const float *r0 = w->res ? w->res + at : NULL;
            const float *r1 = w->res ? (rows_out == 2 ? r0 + ow : r0) : NULL;
            const float *const t4[4] = {tt + col0, tt + cols + col0, tt + 2 * cols + col0,
                                        tt + 3 * cols + col0};
            nn_k_wino2_out_store(y0, y1, r0, r1, t4, wact, act->alpha, act->beta, tw, ow);
            if (other_act)
                for (int64_t r = 0; r < rows_out; r++) nn_activation_run(act, y0 + r * ow, ow);
        }
    }
}

/* F(4x4)'s input transform, as wino_in_task: the padded rows by phase, then per row of tiles the
 * 36 frequencies through tmp (after the task's padded rows, then one padded row's scratch). */
static void wino4_in_task(void *arg, int64_t t)
{
    const wino_xform *w = arg;
    const nn_geom *g = w->g;
    const int64_t in_h = g->in[1], in_w = g->in[2], th = w->th, tw = w->tw, ps = w->ps;
    float *pad = w->pad + t * w->pad_n;
    int64_t c0, c1;
    onnx_tpool_range(w->c, w->n_tasks, t, &c0, &c1);
    for (int64_t gr = w->gr0; gr < w->gr0 + w->nr;) {
        const int64_t img = gr / th, tr0 = gr % th;
        const int64_t tr1 = th < tr0 + (w->gr0 + w->nr - gr) ? th : tr0 + (w->gr0 + w->nr - gr);
        const int64_t col0 = (gr - w->gr0) * tw, nrows = 4 * (tr1 - tr0) + 2;
        float *tmp = pad + nrows * 4 * ps, *row = tmp + 36 * w->twv;
        for (int64_t ci = c0; ci < c1; ci++) {
            wino4_pad_rows(w->x + (img * w->c + ci) * in_h * in_w, in_h, in_w, g->pb[1], g->pb[2],
                           4 * tr0, nrows, pad, ps, row);
            for (int64_t tr = tr0; tr < tr1; tr++)
                nn_k_wino4_in_row(w->v + ci * w->ldv + col0 + (tr - tr0) * tw, (int64_t)w->vfs,
                                  pad + 16 * (tr - tr0) * ps, ps, w->twv, tmp);
        }
        gr += tr1 - tr0;
    }
}

/* F(4x4)'s output transform, as wino_out_task: per output channel all the block's tiles into
 * the 16 arrays of tt (24 more of scratch after them), then row by row into Y. */
static void wino4_out_task(void *arg, int64_t t)
{
    const wino_xform *w = arg;
    const onnx_activation *act = w->act;
    const int64_t oh = w->g->out[1], ow = w->g->out[2], out_size = oh * ow;
    const int64_t cols = w->cols, tw = w->tw;
    float *tt = w->tt + t * 40 * cols;
    int64_t m0, m1;
    onnx_tpool_range(w->m, w->n_tasks, t, &m0, &m1);
    const int wact = act->kind == ONNX_ACT_RELU   ? NN_WINO_RELU
                     : act->kind == ONNX_ACT_CLIP ? NN_WINO_CLIP
                                                  : NN_WINO_NONE;
    const int other_act = act->kind != ONNX_ACT_NONE && wact == NN_WINO_NONE;
    for (int64_t mo = m0; mo < m1; mo++) {
        nn_k_wino4_out_tiles(tt, cols, w->o + mo * cols, (int64_t)w->ofs,
                             w->bias ? w->bias[mo] : 0.0f, w->nr * tw, tt + 16 * cols);
        for (int64_t gr = w->gr0; gr < w->gr0 + w->nr; gr++) {
            const int64_t img = gr / w->th, tr = gr % w->th, col0 = (gr - w->gr0) * tw;
            for (int64_t a = 0; a < 4 && 4 * tr + a < oh; a++) {
                const int64_t at = (img * w->m + mo) * out_size + (4 * tr + a) * ow;
                nn_k_wino4_out_row(w->y + at, w->res ? w->res + at : NULL, tt + 4 * a * cols + col0,
                                   cols, wact, act->alpha, act->beta, tw, ow);
                if (other_act) nn_activation_run(act, w->y + at, ow);
            }
        }
    }
}

/* Runs fn over x->n_tasks tasks: inline when one. */
static void wino_split(onnx_tpool *pool, wino_xform *x, onnx_tpool_fn fn)
{
    if (x->n_tasks <= 1) fn(x, 0);
    else onnx_tpool_parallel_for(pool, x->n_tasks, fn, x);
}

int nn_conv_winograd(onnx_ctx *ctx, const float *x, const float *u, onnx_gemm_packed *const *up,
                     const float *bias, const float *res, float *y, int64_t n, int64_t c, int64_t m,
                     const nn_geom *g, const onnx_activation *act, int tile)
{
    const int64_t oh = g->out[1], ow = g->out[2], t = tile == 4 ? 4 : 2;
    const int freqs = t == 4 ? NN_WINO4_FREQS : NN_WINO_FREQS;
    /* The input transform runs over rows of twv >= tw tiles, a multiple of 8: a row of 7-28
     * tiles left AVX-512 mostly in the scalar remainder loop. The tiles past tw read zeros
     * and land in the next tile row's columns (written after) or, for the last, in the
     * ldv - cols columns of slack each row of V has (the GEMMs read ncols of them). */
    const int64_t th = (oh + t - 1) / t, tw = (ow + t - 1) / t, twv = (tw + 7) / 8 * 8;
    /* F(2x2): padded rows of wp floats; F(4x4): of 4 phases of ps floats each */
    const int64_t wp = 2 * twv + 2, ps = twv + 1, prs = t == 4 ? 4 * ps : wp;
    /* block: `rb` tile rows (of any images), at least one */
    const int64_t cm = c > m ? c : m;
    int64_t rb = WINO_BLOCK_FLOATS / (freqs * cm * tw);
    if (rb < 1) rb = 1;
    if (rb > n * th) rb = n * th;
    const int64_t rb_img = rb < th ? rb : th; /* tile rows of one image in a block, at most */
    const int64_t cols = rb * tw, ldv = cols + (twv - tw);
    if (ldv > INT_MAX || c > INT_MAX || m > INT_MAX)
        return onnx_ctx_fail(ctx, "GEMM dims too large for BLAS");
    /* frequency f's matrices start f * vfs (ofs) floats in: see wino_freq_stride */
    const size_t vfs = wino_freq_stride((size_t)c * (size_t)ldv);
    const size_t ofs = wino_freq_stride((size_t)m * (size_t)cols);
    onnx_tpool *pool = onnx_ctx_tpool(ctx);
    /* the transforms touch 16 (36) floats per tile and channel: split when a block's work is
     * large enough, then always into ONNX_TPOOL_TASKS_PER_THREAD tasks per thread (never more
     * than channels), so that a thread starting late leaves its share to the other: with one
     * task per thread (SqueezeNet's 16 -> 64 channel expansions) the caller waited for the
     * worker's whole half, and the 3x3 expansions did not run faster at 2 threads than at 1 */
    const int64_t chans = c < m ? c : m;
    int tasks = onnx_tpool_tasks(pool, chans, freqs * cm * cols);
    if (tasks > 1) {
        const int64_t want = (int64_t)ONNX_TPOOL_TASKS_PER_THREAD * onnx_tpool_threads(pool);
        tasks = (int)(chans < want ? chans : want);
    }
    /* per task: padded rows (F(4x4): and 36 twv + 4 ps floats of scratch), F(2x2)'s two
     * spare output rows, and the output transform's arrays (F(4x4): 16 + 24 of scratch) */
    size_t v_n, o_n, pad_n, pads_n, ytmp_n, tt_n;
    if (vfs == 0 || ofs == 0 || nn_mul_size((size_t)freqs, vfs, &v_n) != 0 ||
        nn_mul_size((size_t)freqs, ofs, &o_n) != 0 ||
        nn_mul_size((size_t)(t * rb_img + 2), (size_t)prs, &pad_n) != 0 ||
        pad_n > SIZE_MAX - (size_t)(36 * twv + 4 * ps) ||
        nn_mul_size(pad_n + (t == 4 ? (size_t)(36 * twv + 4 * ps) : 0), (size_t)tasks, &pads_n) !=
            0 ||
        nn_mul3_size(2, (size_t)wp, (size_t)tasks, &ytmp_n) != 0 ||
        nn_mul3_size(t == 4 ? 40 : 4, (size_t)cols, (size_t)tasks, &tt_n) != 0)
        return onnx_ctx_fail(ctx, "Winograd buffers overflow");
    if (t == 4) pad_n += (size_t)(36 * twv + 4 * ps);
    float *v = nn_scratch_floats(ctx, v_n), *o = nn_scratch_floats(ctx, o_n);
    float *pad = nn_scratch_floats(ctx, pads_n);
    float *ytmp = nn_scratch_floats(ctx, ytmp_n);
    float *tt = nn_scratch_floats(ctx, tt_n);
    if (!v || !o || !pad || !ytmp || !tt) return -1;

    wino_xform xf = {.x = x,
                     .bias = bias,
                     .res = res,
                     .y = y,
                     .v = v,
                     .o = o,
                     .pad = pad,
                     .ytmp = ytmp,
                     .tt = tt,
                     .g = g,
                     .act = act,
                     .c = c,
                     .m = m,
                     .n_tasks = tasks,
                     .th = th,
                     .tw = tw,
                     .twv = twv,
                     .wp = wp,
                     .cols = cols,
                     .ldv = ldv,
                     .pad_n = (int64_t)pad_n,
                     .tile = t,
                     .ps = ps,
                     .vfs = vfs,
                     .ofs = ofs};
    for (int64_t gr0 = 0; gr0 < n * th; gr0 += rb) {
        const int64_t nr = n * th - gr0 < rb ? n * th - gr0 : rb;
        xf.gr0 = gr0;
        xf.nr = nr;
        wino_split(pool, &xf, t == 4 ? wino4_in_task : wino_in_task);
        wino_gemms wg = {.u = u,
                         .up = up,
                         .v = v,
                         .o = o,
                         .m = m,
                         .c = c,
                         .ncols = nr * tw,
                         .cols = cols,
                         .ldv = ldv,
                         .vfs = vfs,
                         .ofs = ofs};
        onnx_tpool_parallel_for(pool, freqs, wino_gemm_one, &wg);
        if (atomic_load(&wg.failed)) return onnx_ctx_fail(ctx, "Winograd GEMM failed");
        wino_split(pool, &xf, t == 4 ? wino4_out_task : wino_out_task);
    }
    return 0;
}
