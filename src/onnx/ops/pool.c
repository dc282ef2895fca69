/* MaxPool (float32/float64/int8/uint8, optional Indices), AveragePool and LpPool (float32)
 * over 1-3 spatial dims with strides, pads, auto_pad, ceil_mode and dilations. Each output
 * position visits only the in-bounds taps of its window (ranges computed per dim); 2-D float32
 * MaxPool works row by row with vectorized maxima (maxpool_f32_rows). */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_kernels.h"
#include "nn_ops.h"
#include "../threadpool.h"

typedef enum pool_mode { POOL_AVG, POOL_LP } pool_mode;

/* Per canonical dim i and output position o: {window start, first and end in-bounds tap},
 * tabulated once per run (tab[i] points at out[i] triples) so inner loops do no division. */
typedef struct pool_tabs {
    const int64_t *t[3];
} pool_tabs;

static int pool_tabs_make(onnx_ctx *ctx, const nn_geom *g, pool_tabs *pt)
{
    size_t bytes;
    if (nn_mul3_size((size_t)(g->out[0] + g->out[1] + g->out[2]), 3, sizeof(int64_t), &bytes))
        return onnx_ctx_fail(ctx, "pool table size overflows");
    int64_t *tab = onnx_ctx_scratch(ctx, bytes);
    if (!tab) return -1;
    for (int i = 0; i < 3; i++) {
        pt->t[i] = tab;
        for (int64_t o = 0; o < g->out[i]; o++, tab += 3) {
            tab[0] = o * g->s[i] - g->pb[i];
            nn_valid_range(tab[0], g->d[i], g->in[i], g->k[i], &tab[1], &tab[2]);
        }
    }
    return 0;
}

#define POOL_TAPS(pt, i, o, start, lo, hi)                                   \
    const int64_t start = (pt)->t[i][3 * (o)], lo = (pt)->t[i][3 * (o) + 1], \
                  hi = (pt)->t[i][3 * (o) + 2]

/* One MaxPool kernel per element type. ind (may be NULL) receives the flat index of each
 * maximum in the whole input, row-major or, with col_major, column-major over spatial dims. */
#define NN_MAXPOOL_DEFINE(NAME, T, LOWEST)                                             \
    static void NAME(const T *x, T *y, int64_t *ind, int64_t planes, const nn_geom *g, \
                     const pool_tabs *pt, int col_major)                               \
    {                                                                                  \
        const int64_t in_size = nn_geom_in_size(g);                                    \
        for (int64_t p = 0; p < planes; p++) {                                         \
            const T *xp = x + p * in_size;                                             \
            for (int64_t od = 0; od < g->out[0]; od++) {                               \
                POOL_TAPS(pt, 0, od, sd, lod, hid);                                    \
                for (int64_t oh = 0; oh < g->out[1]; oh++) {                           \
                    POOL_TAPS(pt, 1, oh, sh, loh, hih);                                \
                    for (int64_t ow = 0; ow < g->out[2]; ow++) {                       \
                        POOL_TAPS(pt, 2, ow, sw, low, hiw);                            \
                        T best = LOWEST;                                               \
                        int64_t bi = -1;                                               \
                        for (int64_t kd = lod; kd < hid; kd++) {                       \
                            int64_t id = sd + kd * g->d[0];                            \
                            for (int64_t kh = loh; kh < hih; kh++) {                   \
                                int64_t ih = sh + kh * g->d[1];                        \
                                const int64_t row = (id * g->in[1] + ih) * g->in[2];   \
                                for (int64_t kw = low; kw < hiw; kw++) {               \
                                    int64_t iw = sw + kw * g->d[2];                    \
                                    T v = xp[row + iw];                                \
                                    if (bi < 0 || v > best) {                          \
                                        best = v;                                      \
                                        bi = row + iw;                                 \
                                    }                                                  \
                                }                                                      \
                            }                                                          \
                        }                                                              \
                        *y++ = best;                                                   \
                        if (ind) {                                                     \
                            if (bi < 0) bi = 0;                                        \
                            if (col_major) {                                           \
                                int64_t iw = bi % g->in[2], r = bi / g->in[2];         \
                                int64_t ih = r % g->in[1], id = r / g->in[1];          \
                                bi = (iw * g->in[1] + ih) * g->in[0] + id;             \
                            }                                                          \
                            *ind++ = p * in_size + bi;                                 \
                        }                                                              \
                    }                                                                  \
                }                                                                      \
            }                                                                          \
        }                                                                              \
    }

NN_MAXPOOL_DEFINE(maxpool_f32, float, -INFINITY)
NN_MAXPOOL_DEFINE(maxpool_f64, double, -INFINITY)
NN_MAXPOOL_DEFINE(maxpool_u8, uint8_t, 0)
NN_MAXPOOL_DEFINE(maxpool_i8, int8_t, -128)

/* Output row oh of depth slice od of plane p in y (the task's planes from the first). The
 * float32 kernels below compute output rows [oh0, oh1) of each depth slice of their planes:
 * tasks split planes or (2-D, pool_f32_run) output rows. */
static float *pool_out_row(float *y, const nn_geom *g, int64_t p, int64_t od, int64_t oh)
{
    return y + ((p * g->out[0] + od) * g->out[1] + oh) * g->out[2];
}

/* float32 without Indices: the max kept branch-free (maxss), no index bookkeeping. */
static NN_HOT void maxpool_f32_values(const float *x, float *yb, int64_t planes, int64_t oh0,
                                      int64_t oh1, const nn_geom *g, const pool_tabs *pt)
{
    const int64_t in_size = nn_geom_in_size(g);
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * in_size;
        for (int64_t od = 0; od < g->out[0]; od++) {
            POOL_TAPS(pt, 0, od, sd, lod, hid);
            float *y = pool_out_row(yb, g, p, od, oh0);
            for (int64_t oh = oh0; oh < oh1; oh++) {
                POOL_TAPS(pt, 1, oh, sh, loh, hih);
                for (int64_t ow = 0; ow < g->out[2]; ow++) {
                    POOL_TAPS(pt, 2, ow, sw, low, hiw);
                    float best = -INFINITY;
                    for (int64_t kd = lod; kd < hid; kd++) {
                        const int64_t id = sd + kd * g->d[0];
                        for (int64_t kh = loh; kh < hih; kh++) {
                            const float *xr = xp + (id * g->in[1] + sh + kh * g->d[1]) * g->in[2];
                            for (int64_t kw = low; kw < hiw; kw++) {
                                const float v = xr[sw + kw * g->d[2]];
                                best = v > best ? v : best;
                            }
                        }
                    }
                    *y++ = best;
                }
            }
        }
    }
}

/* float32, 1-2 spatial dims, no dilation, no Indices: per output row, the maximum over the
 * window's input rows (contiguous, vectorized) into a row with -inf in the padding, then the
 * maximum over each output's columns of that row. */
static void maxpool_f32_rows(float *row, const float *x, float *yb, int64_t planes, int64_t oh0,
                             int64_t oh1, const nn_geom *g, const pool_tabs *pt)
{
    const int64_t iw = g->in[2], ow = g->out[2], kw = g->k[2], sw = g->s[2], pl = g->pb[2];
    const int64_t len = (ow - 1) * sw + kw; /* row[q] is input column q - pl */
    const int64_t q1 = pl + iw < len ? pl + iw : len, ncols = q1 > pl ? q1 - pl : 0;
    for (int64_t q = 0; q < len; q++) row[q] = -INFINITY; /* the padding stays -inf */
    const int64_t in_size = nn_geom_in_size(g);
    for (int64_t p = 0; p < planes; p++) {
        const float *xp = x + p * in_size;
        float *y = pool_out_row(yb, g, p, 0, oh0);
        for (int64_t oh = oh0; oh < oh1; oh++, y += ow) {
            POOL_TAPS(pt, 1, oh, sh, loh, hih);
            if (ncols > 0 && hih <= loh) { /* the window lies in the top or bottom padding */
                for (int64_t q = pl; q < q1; q++) row[q] = -INFINITY;
            } else if (ncols > 0) {
                /* the first two or three rows in one pass, any others after */
                const float *r = xp + (sh + loh) * iw;
                int64_t kh = loh + 1;
                if (hih - loh >= 2) {
                    nn_k_max_rows(row + pl, r, r + iw, hih - loh >= 3 ? r + 2 * iw : NULL, ncols);
                    kh = hih - loh >= 3 ? loh + 3 : loh + 2;
                } else {
                    memcpy(row + pl, r, (size_t)ncols * sizeof(float));
                }
                for (; kh < hih; kh++) nn_k_max_into(row + pl, xp + (sh + kh) * iw, ncols);
            }
            nn_k_max_window(y, row, ow, kw, sw);
        }
    }
}

/* The float32 pools without Indices, over the session's pool: tasks take ranges of output rows
 * of every plane (2-D windows with at least two output rows), else ranges of planes; each
 * output is computed as on one thread. Rows, because the GEMMs of the Convs around split their
 * output columns, i.e. positions: a thread's rows are the part of every plane it wrote, or
 * will read, itself (docs/onnx-runtime.md, "Threads"). */
typedef enum pool_kernel {
    POOL_K_MAX_ROWS,
    POOL_K_MAX_VALUES,
    POOL_K_WINDOW,
    POOL_K_AVG_2X2 /* AveragePool 2x2 stride 2, no padding (DenseNet's transitions) */
} pool_kernel;

typedef struct pool_job {
    pool_kernel kernel;
    const float *x;
    float *y;
    int64_t planes, tasks;
    int by_rows; /* tasks split output rows (of every plane), else planes */
    const nn_geom *g;
    const pool_tabs *pt;
    float *rows; /* POOL_K_MAX_ROWS: one row of row_len floats per task */
    int64_t row_len;
    pool_mode mode;
    int include_pad;
    float p;
} pool_job;

static void pool_f32(const float *x, float *y, int64_t planes, int64_t oh0, int64_t oh1,
                     const nn_geom *g, const pool_tabs *pt, pool_mode mode, int include_pad,
                     float p);

static void pool_task(void *arg, int64_t i)
{
    const pool_job *j = arg;
    int64_t p0 = 0, p1 = j->planes, oh0 = 0, oh1 = j->g->out[1];
    if (j->by_rows) onnx_tpool_range(oh1, j->tasks, i, &oh0, &oh1);
    else onnx_tpool_range(j->planes, j->tasks, i, &p0, &p1);
    const float *x = j->x + p0 * nn_geom_in_size(j->g);
    float *y = j->y + p0 * nn_geom_out_size(j->g);
    switch (j->kernel) {
    case POOL_K_MAX_ROWS:
        maxpool_f32_rows(j->rows + i * j->row_len, x, y, p1 - p0, oh0, oh1, j->g, j->pt);
        break;
    case POOL_K_MAX_VALUES: maxpool_f32_values(x, y, p1 - p0, oh0, oh1, j->g, j->pt); break;
    case POOL_K_WINDOW:
        pool_f32(x, y, p1 - p0, oh0, oh1, j->g, j->pt, j->mode, j->include_pad, j->p);
        break;
    case POOL_K_AVG_2X2:
        for (int64_t p = 0; p < p1 - p0; p++) {
            const float *xp = x + p * nn_geom_in_size(j->g);
            float *yr = pool_out_row(y, j->g, p, 0, oh0);
            for (int64_t oh = oh0; oh < oh1; oh++, yr += j->g->out[2])
                nn_k_avg_2x2(yr, xp + 2 * oh * j->g->in[2], xp + (2 * oh + 1) * j->g->in[2],
                             j->g->out[2]);
        }
        break;
    }
}

static int pool_f32_run(onnx_ctx *ctx, pool_job *j)
{
    onnx_tpool *pool = onnx_ctx_tpool(ctx);
    const double work =
        (double)j->planes * (double)nn_geom_out_size(j->g) * (double)nn_geom_k_size(j->g);
    const int64_t w = work > 1e15 ? INT64_MAX : (int64_t)work;
    j->by_rows = j->g->out[0] == 1 && j->g->out[1] >= 2;
    j->tasks = onnx_tpool_tasks(pool, j->by_rows ? j->g->out[1] : j->planes, w);
    if (j->kernel == POOL_K_MAX_ROWS) {
        const nn_geom *g = j->g;
        size_t n;
        j->row_len = (g->out[2] - 1) * g->s[2] + g->k[2];
        if (nn_mul_size((size_t)j->tasks, (size_t)j->row_len, &n) != 0)
            return onnx_ctx_fail(ctx, "pooling scratch overflows");
        if (!(j->rows = nn_scratch_floats(ctx, n))) return -1;
    }
    onnx_tpool_parallel_for(pool, j->tasks, pool_task, j);
    return 0;
}

int nn_maxpool_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "needs input X");
    if (x->dtype != INFERD_DTYPE_FP32 && x->dtype != INFERD_DTYPE_FP64 &&
        x->dtype != INFERD_DTYPE_UINT8 && x->dtype != INFERD_DTYPE_INT8)
        return onnx_ctx_unsupported(ctx, "unsupported element type %s",
                                    inferd_dtype_name(x->dtype));
    nn_geom g;
    if (nn_geom_window(ctx, node, x, NULL, 1, &g) != 0) return -1;
    int64_t order = onnx_attr_int(node, "storage_order", 0);
    if (order != 0 && order != 1) return onnx_ctx_fail(ctx, "storage_order must be 0 or 1");
    int64_t dims[ONNX_MAX_DIMS];
    int rank = nn_geom_out_dims(&g, x->dims[0], x->dims[1], dims);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, rank, dims);
    if (!y) return -1;
    onnx_tensor *ind = NULL;
    if (onnx_ctx_num_outputs(ctx) > 1 && onnx_ctx_output_wanted(ctx, 1)) {
        ind = onnx_ctx_output(ctx, 1, INFERD_DTYPE_INT64, rank, dims);
        if (!ind) return -1;
    }
    if (onnx_tensor_numel(y) == 0) return 0;
    if (onnx_tensor_numel(x) == 0) { /* windows lie entirely in padding */
        memset(y->data, 0, onnx_tensor_nbytes(y));
        if (ind) memset(ind->data, 0, onnx_tensor_nbytes(ind));
        return 0;
    }
    int64_t planes = x->dims[0] * x->dims[1];
    int64_t *id = ind ? ind->data : NULL;
    pool_tabs pt;
    if (pool_tabs_make(ctx, &g, &pt) != 0) return -1;
    if (x->dtype == INFERD_DTYPE_FP32 && !id) {
        pool_job j = {.kernel = POOL_K_MAX_VALUES,
                      .x = x->data,
                      .y = y->data,
                      .planes = planes,
                      .g = &g,
                      .pt = &pt};
        if (g.nsp <= 2 && g.d[1] == 1 && g.d[2] == 1 && g.pb[2] >= 0) j.kernel = POOL_K_MAX_ROWS;
        return pool_f32_run(ctx, &j);
    }
    switch (x->dtype) {
    case INFERD_DTYPE_FP32: maxpool_f32(x->data, y->data, id, planes, &g, &pt, (int)order); break;
    case INFERD_DTYPE_FP64: maxpool_f64(x->data, y->data, id, planes, &g, &pt, (int)order); break;
    case INFERD_DTYPE_UINT8: maxpool_u8(x->data, y->data, id, planes, &g, &pt, (int)order); break;
    default: maxpool_i8(x->data, y->data, id, planes, &g, &pt, (int)order); break;
    }
    return 0;
}

/* Number of taps of the window starting at `start` that lie inside the padded input. */
static inline int64_t pool_padded_taps(const nn_geom *g, int i, int64_t start)
{
    int64_t room = g->in[i] + g->pe[i] - start; /* > 0: windows never start in end padding */
    int64_t n = (room + g->d[i] - 1) / g->d[i];
    return n < g->k[i] ? n : g->k[i];
}

static void pool_f32(const float *x, float *yb, int64_t planes, int64_t oh0, int64_t oh1,
                     const nn_geom *g, const pool_tabs *pt, pool_mode mode, int include_pad,
                     float p)
{
    const int64_t in_size = nn_geom_in_size(g);
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_size;
        for (int64_t od = 0; od < g->out[0]; od++) {
            POOL_TAPS(pt, 0, od, sd, lod, hid);
            float *y = pool_out_row(yb, g, pl, od, oh0);
            for (int64_t oh = oh0; oh < oh1; oh++) {
                POOL_TAPS(pt, 1, oh, sh, loh, hih);
                for (int64_t ow = 0; ow < g->out[2]; ow++) {
                    POOL_TAPS(pt, 2, ow, sw, low, hiw);
                    float acc = 0.0f;
                    for (int64_t kd = lod; kd < hid; kd++) {
                        int64_t id = sd + kd * g->d[0];
                        for (int64_t kh = loh; kh < hih; kh++) {
                            const float *xr = xp + (id * g->in[1] + sh + kh * g->d[1]) * g->in[2];
                            if (mode == POOL_AVG) {
                                for (int64_t kw = low; kw < hiw; kw++) acc += xr[sw + kw * g->d[2]];
                            } else if (p == 2.0f) {
                                for (int64_t kw = low; kw < hiw; kw++) {
                                    float v = xr[sw + kw * g->d[2]];
                                    acc += v * v;
                                }
                            } else {
                                for (int64_t kw = low; kw < hiw; kw++)
                                    acc += powf(fabsf(xr[sw + kw * g->d[2]]), p);
                            }
                        }
                    }
                    if (mode == POOL_AVG) {
                        int64_t cnt = include_pad ? pool_padded_taps(g, 0, sd) *
                                                        pool_padded_taps(g, 1, sh) *
                                                        pool_padded_taps(g, 2, sw)
                                                  : (hid - lod) * (hih - loh) * (hiw - low);
                        *y++ = cnt > 0 ? acc / (float)cnt : 0.0f;
                    } else {
                        *y++ = p == 2.0f ? sqrtf(acc) : powf(acc, 1.0f / p);
                    }
                }
            }
        }
    }
}

static int pool_float_run(onnx_ctx *ctx, pool_mode mode)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "needs input X");
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    nn_geom g;
    if (nn_geom_window(ctx, node, x, NULL, 1, &g) != 0) return -1;
    float p = 2.0f;
    if (mode == POOL_LP) {
        const onnx_attr *pa = onnx_node_attr(node, "p");
        if (pa) p = pa->type == ONNX_ATTR_FLOAT ? pa->f : (float)pa->i;
        if (!(p >= 1.0f && p <= 1e6f)) return onnx_ctx_fail(ctx, "p must be >= 1");
    }
    int include_pad = (int)onnx_attr_int(node, "count_include_pad", 0) != 0;
    int64_t dims[ONNX_MAX_DIMS];
    int rank = nn_geom_out_dims(&g, x->dims[0], x->dims[1], dims);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, rank, dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    if (onnx_tensor_numel(x) == 0) { /* windows lie entirely in padding */
        memset(y->data, 0, onnx_tensor_nbytes(y));
        return 0;
    }
    pool_tabs pt;
    if (pool_tabs_make(ctx, &g, &pt) != 0) return -1;
    /* every window whole and 2x2 apart: a vectorized row kernel, the same sums */
    const int avg_2x2 = mode == POOL_AVG && g.nsp == 2 && g.k[1] == 2 && g.k[2] == 2 &&
                        g.s[1] == 2 && g.s[2] == 2 && g.d[1] == 1 && g.d[2] == 1 && g.pb[1] == 0 &&
                        g.pb[2] == 0 && 2 * g.out[1] <= g.in[1] && 2 * g.out[2] <= g.in[2];
    pool_job j = {.kernel = avg_2x2 ? POOL_K_AVG_2X2 : POOL_K_WINDOW,
                  .x = x->data,
                  .y = y->data,
                  .planes = x->dims[0] * x->dims[1],
                  .g = &g,
                  .pt = &pt,
                  .mode = mode,
                  .include_pad = include_pad,
                  .p = p};
    return pool_f32_run(ctx, &j);
}

int nn_avgpool_run(onnx_ctx *ctx)
{
    return pool_float_run(ctx, POOL_AVG);
}
int nn_lppool_run(onnx_ctx *ctx)
{
    return pool_float_run(ctx, POOL_LP);
}
