/* Shared helpers of the nn family: window geometry (kernel/stride/pads/auto_pad/ceil_mode),
 * checked sizes, bias + fused activation. */
#include "nn_common.h"
#include "nn_kernels.h"
#include "../gemm/gemm.h"
#include "../threadpool.h"

#include <string.h>

int nn_mul_size(size_t a, size_t b, size_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

int nn_mul3_size(size_t a, size_t b, size_t c, size_t *out)
{
    size_t t;
    if (__builtin_mul_overflow(a, b, &t) || __builtin_mul_overflow(t, c, out)) return -1;
    return 0;
}

float *nn_scratch_floats(onnx_ctx *ctx, size_t n)
{
    size_t bytes;
    if (nn_mul_size(n, sizeof(float), &bytes) != 0) {
        onnx_ctx_fail(ctx, "scratch size overflows");
        return NULL;
    }
    return onnx_ctx_scratch(ctx, bytes ? bytes : sizeof(float));
}

int nn_activation_read(onnx_ctx *ctx, const onnx_node *node, onnx_activation *act)
{
    if (onnx_activation_from_node(node, act) != 0)
        return onnx_ctx_fail(ctx, "unknown fused activation '%s'",
                             onnx_attr_string(node, "inferd_activation", "?"));
    return 0;
}

typedef struct rows_job {
    nn_rows_fn fn;
    void *arg;
    int64_t rows, tasks;
} rows_job;

static void rows_task(void *arg, int64_t i)
{
    const rows_job *j = arg;
    int64_t r0, r1;
    onnx_tpool_range(j->rows, j->tasks, i, &r0, &r1);
    j->fn(j->arg, r0, r1);
}

void nn_parallel_rows(onnx_ctx *ctx, int64_t rows, int64_t work, nn_rows_fn fn, void *arg)
{
    if (rows <= 0) return;
    onnx_tpool *pool = onnx_ctx_tpool(ctx);
    const int tasks = onnx_tpool_tasks(pool, rows, work);
    if (tasks <= 1) {
        fn(arg, 0, rows);
        return;
    }
    rows_job j = {.fn = fn, .arg = arg, .rows = rows, .tasks = tasks};
    onnx_tpool_parallel_for(pool, tasks, rows_task, &j);
}

typedef struct mean_rows_job {
    float *y;
    const float *x;
    int64_t size;
} mean_rows_job;

static void mean_rows_range(void *arg, int64_t r0, int64_t r1)
{
    const mean_rows_job *j = arg;
    if (onnx_gemm_act_avx512_ok())
        nn_k_sum_rows_avx512(j->y + r0, j->x + r0 * j->size, r1 - r0, j->size,
                             1.0 / (double)j->size);
    else nn_k_sum_rows(j->y + r0, j->x + r0 * j->size, r1 - r0, j->size, 1.0 / (double)j->size);
}

void nn_mean_rows(onnx_ctx *ctx, float *y, const float *x, int64_t rows, int64_t size)
{
    mean_rows_job j = {.y = y, .x = x, .size = size};
    nn_parallel_rows(ctx, rows, rows * size, mean_rows_range, &j);
}

void nn_activation_run(const onnx_activation *act, float *y, int64_t n)
{
    onnx_activation_apply(act, y, (size_t)n);
}

int nn_conv_group_fits(int64_t group, int64_t c, int64_t m, int64_t wc)
{
    return group >= 1 && c % group == 0 && m % group == 0 && wc == c / group;
}

void nn_valid_range(int64_t off, int64_t s, int64_t in, int64_t out, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = in - 1 - off < 0 ? 0 : (in - 1 - off) / s + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

int nn_axis(int64_t axis, int rank)
{
    if (axis < -(int64_t)rank || axis >= rank) return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

/* onnx_ctx_fail when there is a ctx; without one (read at load) just -1 */
#define attrs_fail(ctx, ...) ((ctx) ? onnx_ctx_fail((ctx), __VA_ARGS__) : -1)

/* Reads an INTS attribute of exactly want values (or absent) into out; values in [lo, hi]. */
static int read_ints(onnx_ctx *ctx, const onnx_node *node, const char *name, int want, int64_t lo,
                     int64_t hi, int64_t *out, int *present)
{
    const int64_t *v;
    int n = onnx_attr_ints(node, name, &v);
    *present = n >= 0;
    if (n < 0) return 0;
    if (n != want) return attrs_fail(ctx, "attribute %s has %d values, expected %d", name, n, want);
    for (int i = 0; i < n; i++) {
        if (v[i] < lo || v[i] > hi)
            return attrs_fail(ctx, "attribute %s[%d] = %lld out of range", name, i,
                              (long long)v[i]);
        out[i] = v[i];
    }
    return 0;
}

int nn_spatial_attrs_read(onnx_ctx *ctx, const onnx_node *node, int nsp, nn_spatial_attrs *a)
{
    int present;
    int64_t pads[2 * NN_MAX_SPATIAL];
    if (nsp < 1 || nsp > NN_MAX_SPATIAL)
        return attrs_fail(ctx, "%d spatial dims; 1 to %d are supported", nsp, NN_MAX_SPATIAL);
    for (int i = 0; i < NN_MAX_SPATIAL; i++) {
        a->k[i] = 0;
        a->s[i] = a->d[i] = 1;
        a->pb[i] = a->pe[i] = 0;
    }
    if (read_ints(ctx, node, "kernel_shape", nsp, 1, NN_ATTR_MAX, a->k, &a->has_kernel) ||
        read_ints(ctx, node, "strides", nsp, 1, NN_ATTR_MAX, a->s, &present) ||
        read_ints(ctx, node, "dilations", nsp, 1, NN_ATTR_MAX, a->d, &present) ||
        read_ints(ctx, node, "pads", 2 * nsp, 0, NN_ATTR_MAX, pads, &present))
        return -1;
    if (present) {
        for (int i = 0; i < nsp; i++) {
            a->pb[i] = pads[i];
            a->pe[i] = pads[nsp + i];
        }
    }
    const char *ap = onnx_attr_string(node, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0 || ap[0] == '\0') a->auto_pad = NN_PAD_NOTSET;
    else if (strcmp(ap, "SAME_UPPER") == 0) a->auto_pad = NN_PAD_SAME_UPPER;
    else if (strcmp(ap, "SAME_LOWER") == 0) a->auto_pad = NN_PAD_SAME_LOWER;
    else if (strcmp(ap, "VALID") == 0) a->auto_pad = NN_PAD_VALID;
    else return attrs_fail(ctx, "unknown auto_pad '%s'", ap);
    return 0;
}

int nn_geom_window(onnx_ctx *ctx, const onnx_node *node, const onnx_tensor *x, const int64_t *w_sp,
                   int pool, nn_geom *g)
{
    nn_spatial_attrs a;
    if (x->ndim < 3)
        return onnx_ctx_fail(ctx, "input rank %d, expected N x C x spatial (>= 3)", x->ndim);
    if (nn_spatial_attrs_read(ctx, node, x->ndim - 2, &a) != 0) return -1;
    return nn_geom_window_attrs(ctx, node, x, w_sp, pool, &a, g);
}

int nn_geom_window_attrs(onnx_ctx *ctx, const onnx_node *node, const onnx_tensor *x,
                         const int64_t *w_sp, int pool, const nn_spatial_attrs *attrs, nn_geom *g)
{
    nn_spatial_attrs a = *attrs;
    int nsp = x->ndim - 2;
    if (w_sp) {
        for (int i = 0; i < nsp; i++) {
            if (w_sp[i] < 1) return onnx_ctx_fail(ctx, "weight has an empty spatial dim");
            if (a.has_kernel && a.k[i] != w_sp[i])
                return onnx_ctx_fail(ctx, "kernel_shape[%d] = %lld but the weight has %lld", i,
                                     (long long)a.k[i], (long long)w_sp[i]);
            a.k[i] = w_sp[i];
        }
    } else if (!a.has_kernel) {
        return onnx_ctx_fail(ctx, "kernel_shape is required");
    }
    int ceil_mode = pool ? (int)onnx_attr_int(node, "ceil_mode", 0) : 0;

    int off = NN_MAX_SPATIAL - nsp;
    g->nsp = nsp;
    for (int i = 0; i < NN_MAX_SPATIAL; i++) {
        g->in[i] = g->out[i] = g->k[i] = g->s[i] = g->d[i] = 1;
        g->pb[i] = g->pe[i] = 0;
    }
    for (int i = 0; i < nsp; i++) {
        int j = off + i;
        int64_t in = x->dims[2 + i], k = a.k[i], s = a.s[i], d = a.d[i];
        int64_t keff = (k - 1) * d + 1, pb = a.pb[i], pe = a.pe[i], out;
        if (in > (INT64_MAX / 4) / s) return onnx_ctx_fail(ctx, "spatial dim %d too large", i);
        if (a.auto_pad == NN_PAD_SAME_UPPER || a.auto_pad == NN_PAD_SAME_LOWER) {
            out = (in + s - 1) / s;
            int64_t total = (out - 1) * s + keff - in;
            if (total < 0) total = 0;
            pb = a.auto_pad == NN_PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        } else {
            if (a.auto_pad == NN_PAD_VALID) pb = pe = 0;
            int64_t span = in + pb + pe - keff;
            if (span < 0)
                return onnx_ctx_fail(ctx,
                                     "window (%lld) larger than padded input (%lld) on "
                                     "spatial dim %d",
                                     (long long)keff, (long long)(in + pb + pe), i);
            out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
            /* like ONNX Runtime and PyTorch: no window may start inside the end padding */
            if (ceil_mode && (out - 1) * s >= in + pb) out--;
        }
        if (pool && (pb >= keff || pe >= keff))
            return onnx_ctx_fail(ctx, "pads must be smaller than the window on spatial dim %d", i);
        g->in[j] = in;
        g->out[j] = out;
        g->k[j] = k;
        g->s[j] = s;
        g->d[j] = d;
        g->pb[j] = pb;
        g->pe[j] = pe;
    }
    return 0;
}

int nn_geom_out_dims(const nn_geom *g, int64_t n, int64_t channels, int64_t *dims)
{
    dims[0] = n;
    dims[1] = channels;
    for (int i = 0; i < g->nsp; i++) dims[2 + i] = g->out[NN_MAX_SPATIAL - g->nsp + i];
    return 2 + g->nsp;
}
