/* BatchNormalization (inference, or training with batch statistics and running-stat outputs
 * as each opset spells it; per-element parameters of the old spatial=0 form) and
 * InstanceNormalization, float32. */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_kernels.h"
#include "nn_ops.h"
#include "../threadpool.h"

/* y = act(x * a + b) per channel (pn == c) or per element (pn == c * s) over n x c planes of
 * s positions; split over the session's pool by ranges of positions of every plane (the
 * split of the GEMMs that wrote x and will read y: docs/onnx-runtime.md, "Threads"), in
 * blocks of BN_BLOCK so a range starts where one thread's vectors would, or by planes when
 * the planes are too short for that. Every element as on one thread. */
#define BN_BLOCK 64

typedef struct bn_apply_job {
    const float *x, *a, *b;
    float *y;
    int64_t n, c, s, pn;
    const onnx_activation *act;
    int by_pos; /* ranges of BN_BLOCK positions, else of planes */
} bn_apply_job;

static void bn_apply_planes(const bn_apply_job *j, int64_t p0, int64_t p1, int64_t j0, int64_t j1)
{
    const int64_t len = j1 - j0;
    for (int64_t p = p0; p < p1; p++) {
        const int64_t ci = p % j->c;
        const float *xp = j->x + p * j->s + j0;
        float *yp = j->y + p * j->s + j0;
        if (j->pn == j->c && xp != yp) { /* vectorized, with a Relu in the same pass */
            const int relu = j->act->kind == ONNX_ACT_RELU;
            nn_k_affine(yp, xp, j->a[ci], j->b[ci], relu, len);
            if (!relu) nn_activation_run(j->act, yp, len);
            continue;
        }
        if (j->pn == j->c) {
            const float av = j->a[ci], bb = j->b[ci];
            for (int64_t k = 0; k < len; k++) yp[k] = xp[k] * av + bb;
        } else {
            const float *ap = j->a + ci * j->s + j0, *bp = j->b + ci * j->s + j0;
            for (int64_t k = 0; k < len; k++) yp[k] = xp[k] * ap[k] + bp[k];
        }
        nn_activation_run(j->act, yp, len);
    }
}

static void bn_apply_range(void *arg, int64_t r0, int64_t r1)
{
    const bn_apply_job *j = arg;
    if (!j->by_pos) {
        bn_apply_planes(j, r0, r1, 0, j->s);
        return;
    }
    const int64_t j0 = r0 * BN_BLOCK, j1 = r1 * BN_BLOCK < j->s ? r1 * BN_BLOCK : j->s;
    bn_apply_planes(j, 0, j->n * j->c, j0, j1);
}

static int bn_param_ok(const onnx_tensor *p, int64_t c, int64_t cs)
{
    if (!p || p->dtype != INFERD_DTYPE_FP32) return 0;
    int64_t n = onnx_tensor_numel(p);
    return (p->ndim == 1 && n == c) || (p->ndim >= 1 && p->dims[0] == c && n == cs);
}

/* Fills optional output i (1-D, c values) with v if the node asks for it. */
static int bn_extra_output(onnx_ctx *ctx, int i, int64_t c, const float *v)
{
    if (onnx_ctx_num_outputs(ctx) <= i || !onnx_ctx_output_wanted(ctx, i)) return 0;
    onnx_tensor *t = onnx_ctx_output(ctx, i, INFERD_DTYPE_FP32, 1, &c);
    if (!t) return -1;
    if (c > 0) memcpy(t->data, v, (size_t)c * sizeof(float));
    return 0;
}

/* Whether the node normalizes with the batch's statistics (training) rather than the given
 * ones: from opset 14 the training_mode attribute says so; opsets 7..13 mean training when
 * the node declares the statistics outputs beside Y; older ones when is_test is 0 (its
 * default). */
static int bn_training(const onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    if (node->opset >= 14) return onnx_attr_int(node, "training_mode", 0) != 0;
    if (node->opset >= 7) return onnx_ctx_num_outputs(ctx) > 1;
    return onnx_attr_int(node, "is_test", 0) == 0;
}

int nn_batchnorm_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *scale = onnx_ctx_input(ctx, 1);
    const onnx_tensor *bias = onnx_ctx_input(ctx, 2), *mean = onnx_ctx_input(ctx, 3);
    const onnx_tensor *var = onnx_ctx_input(ctx, 4);
    if (!x || !scale || !bias || !mean || !var)
        return onnx_ctx_fail(ctx, "needs inputs X, scale, B, mean, var");
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim < 2) return onnx_ctx_fail(ctx, "input rank %d, expected >= 2", x->ndim);
    const int64_t n = x->dims[0], c = x->dims[1];
    const int64_t s = c ? onnx_tensor_numel(x) / (n ? n : 1) / c : 0;
    const int64_t cs = c * s;
    if (!bn_param_ok(scale, c, cs) || !bn_param_ok(bias, c, cs) || !bn_param_ok(mean, c, cs) ||
        !bn_param_ok(var, c, cs))
        return onnx_ctx_fail(ctx, "scale, B, mean and var must be float32 with %lld values",
                             (long long)c);
    const int64_t pn = onnx_tensor_numel(scale); /* c, or c * s for per-element parameters */
    if (onnx_tensor_numel(bias) != pn || onnx_tensor_numel(mean) != pn ||
        onnx_tensor_numel(var) != pn)
        return onnx_ctx_fail(ctx, "scale, B, mean and var sizes differ");
    const float eps = onnx_attr_float(node, "epsilon", 1e-5f);
    const int training = bn_training(ctx);
    if (training && pn != c)
        return onnx_ctx_unsupported(ctx, "training mode with per-element parameters");
    if (training && node->opset < 14 &&
        ((onnx_ctx_num_outputs(ctx) > 3 && onnx_ctx_output_wanted(ctx, 3)) ||
         (onnx_ctx_num_outputs(ctx) > 4 && onnx_ctx_output_wanted(ctx, 4))))
        return onnx_ctx_unsupported(ctx, "saved_mean/saved_var outputs are not produced");

    onnx_activation act; /* a following Relu etc. fused in (fuse.c): applied per plane */
    if (nn_activation_read(ctx, node, &act) != 0) return -1;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, x->ndim, x->dims);
    if (!y) return -1;
    const float *sc = scale->data, *bv = bias->data, *mv = mean->data, *vv = var->data;
    size_t ab_n;
    if (nn_mul_size((size_t)pn, 4, &ab_n) != 0) return onnx_ctx_fail(ctx, "size overflows");
    float *ab = nn_scratch_floats(ctx, ab_n + 1);
    if (!ab) return -1;
    float *a = ab, *b = ab + pn, *bm = ab + 2 * pn, *bvar = ab + 3 * pn;
    const float *use_m = mv, *use_v = vv;
    const float *xd = x->data;
    const int empty = onnx_tensor_numel(x) == 0;
    if (training && empty) {
        memset(bm, 0, (size_t)c * sizeof(float));
        memset(bvar, 0, (size_t)c * sizeof(float));
        use_m = bm;
        use_v = bvar;
    } else if (training) { /* batch statistics over N and spatial dims, per channel */
        for (int64_t ci = 0; ci < c; ci++) {
            double sum = 0.0, sq = 0.0;
            for (int64_t i = 0; i < n; i++) {
                const float *xp = xd + (i * c + ci) * s;
                for (int64_t j = 0; j < s; j++) sum += xp[j];
            }
            double cnt = (double)(n * s), mu = cnt > 0 ? sum / cnt : 0.0;
            for (int64_t i = 0; i < n; i++) {
                const float *xp = xd + (i * c + ci) * s;
                for (int64_t j = 0; j < s; j++) sq += (xp[j] - mu) * (xp[j] - mu);
            }
            bm[ci] = (float)mu;
            bvar[ci] = (float)(cnt > 0 ? sq / cnt : 0.0);
        }
        use_m = bm;
        use_v = bvar;
    }
    for (int64_t i = 0; i < pn; i++) {
        a[i] = sc[i] / sqrtf(use_v[i] + eps);
        b[i] = bv[i] - use_m[i] * a[i];
    }
    if (!empty) {
        bn_apply_job aj = {
            .x = xd, .a = a, .b = b, .y = y->data, .n = n, .c = c, .s = s, .pn = pn, .act = &act};
        const int64_t blocks = (s + BN_BLOCK - 1) / BN_BLOCK;
        /* positions when each thread gets a few blocks of them, else planes */
        aj.by_pos = blocks >= 2 * (int64_t)onnx_tpool_threads(onnx_ctx_tpool(ctx));
        const double work = (double)n * (double)c * (double)s;
        nn_parallel_rows(ctx, aj.by_pos ? blocks : n * c, work > 1e15 ? INT64_MAX : (int64_t)work,
                         bn_apply_range, &aj);
    }
    if (training) {
        const float mom = onnx_attr_float(node, "momentum", 0.9f);
        for (int64_t ci = 0; ci < c; ci++) {
            bm[ci] = mv[ci] * mom + bm[ci] * (1.0f - mom);
            bvar[ci] = vv[ci] * mom + bvar[ci] * (1.0f - mom);
        }
        if (bn_extra_output(ctx, 1, c, bm) || bn_extra_output(ctx, 2, c, bvar)) return -1;
        return 0;
    }
    /* before opset 7 an inference node (is_test=1) may still declare mean/var/saved_mean/
     * saved_var outputs: they carry the given statistics */
    if (pn == c) {
        for (int i = 1; i < 5; i++)
            if (bn_extra_output(ctx, i, c, (i % 2) ? mv : vv)) return -1;
    } else if (onnx_ctx_num_outputs(ctx) > 1) {
        return onnx_ctx_fail(ctx, "statistics outputs need per-channel parameters");
    }
    return 0;
}

int nn_instancenorm_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *scale = onnx_ctx_input(ctx, 1);
    const onnx_tensor *bias = onnx_ctx_input(ctx, 2);
    if (!x || !scale || !bias) return onnx_ctx_fail(ctx, "needs inputs X, scale, B");
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (x->ndim < 3) return onnx_ctx_fail(ctx, "input rank %d, expected >= 3", x->ndim);
    const int64_t n = x->dims[0], c = x->dims[1];
    if (scale->dtype != INFERD_DTYPE_FP32 || bias->dtype != INFERD_DTYPE_FP32 || scale->ndim != 1 ||
        bias->ndim != 1 || scale->dims[0] != c || bias->dims[0] != c)
        return onnx_ctx_fail(ctx, "scale and B must be float32 1-D with %lld values", (long long)c);
    const float eps = onnx_attr_float(node, "epsilon", 1e-5f);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, x->ndim, x->dims);
    if (!y) return -1;
    if (onnx_tensor_numel(y) == 0) return 0;
    const int64_t s = onnx_tensor_numel(x) / (n * c);
    const float *xd = x->data, *sc = scale->data, *bv = bias->data;
    float *yd = y->data;
    for (int64_t p = 0; p < n * c; p++) {
        const float *xp = xd + p * s;
        float *yp = yd + p * s;
        double sum = 0.0, sq = 0.0;
        for (int64_t j = 0; j < s; j++) sum += xp[j];
        const double mu = sum / (double)s;
        for (int64_t j = 0; j < s; j++) sq += (xp[j] - mu) * (xp[j] - mu);
        const float inv = (float)(1.0 / sqrt(sq / (double)s + eps));
        const float a = sc[p % c] * inv, b = bv[p % c] - (float)mu * a;
        for (int64_t j = 0; j < s; j++) yp[j] = xp[j] * a + b;
    }
    return 0;
}
