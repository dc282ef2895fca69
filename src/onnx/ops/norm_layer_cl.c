/* LayerNormalization over the channels of a channels-first tensor: Transpose(X, [0, 2, ...,
 * r-1, 1]) -> LayerNormalization(axis -1) as one pass (fuse_cfirst.c, attribute inferd_perm_x;
 * ConvNeXt after each depthwise convolution), written channels-last, or channels-first when
 * the Transpose back was fused too (inferd_perm_y; ConvNeXt before each downsampling). Positions
 * go in blocks of 16: the statistics of a block are vector sums over the channels (each
 * channel's 16 positions are contiguous in X), then each position's normalized row is written
 * whole (channels-last) or each channel's 16 positions (channels-first). */
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_kernels.h"
#include "norm_layer_cl.h"

#define LN_BLOCK 16

/* Positions [p0, p0 + np) (np <= LN_BLOCK) of one image: x is c x pos, y is pos x c, or
 * c x pos when y_cfirst. */
static NN_HOT NN_CLONES void k_ln_cfirst(float *restrict y, const float *restrict x, int64_t c,
                                         int64_t pos, int64_t p0, int64_t np,
                                         const float *restrict sc, const float *restrict b,
                                         float eps, int y_cfirst)
{
    float mu[LN_BLOCK] = {0}, sq[LN_BLOCK] = {0};
    for (int64_t k = 0; k < c; k++) {
        const float *xr = x + k * pos + p0;
        for (int64_t j = 0; j < np; j++) mu[j] += xr[j];
    }
    for (int64_t j = 0; j < np; j++) mu[j] /= (float)c;
    for (int64_t k = 0; k < c; k++) {
        const float *xr = x + k * pos + p0;
        for (int64_t j = 0; j < np; j++) {
            float d = xr[j] - mu[j];
            sq[j] += d * d;
        }
    }
    if (y_cfirst) {
        float inv[LN_BLOCK];
        for (int64_t j = 0; j < np; j++) inv[j] = 1.0f / sqrtf(sq[j] / (float)c + eps);
        for (int64_t k = 0; k < c; k++) {
            const float *xr = x + k * pos + p0;
            float *yr = y + k * pos + p0;
            const float s = sc[k], bk = b ? b[k] : 0.0f;
            if (b) {
                for (int64_t j = 0; j < np; j++) yr[j] = (xr[j] - mu[j]) * inv[j] * s + bk;
            } else {
                for (int64_t j = 0; j < np; j++) yr[j] = (xr[j] - mu[j]) * inv[j] * s;
            }
        }
        return;
    }
    for (int64_t j = 0; j < np; j++) {
        const float inv = 1.0f / sqrtf(sq[j] / (float)c + eps), m = mu[j];
        const float *xc = x + p0 + j;
        float *yr = y + (p0 + j) * c;
        if (b) {
            for (int64_t k = 0; k < c; k++) yr[k] = (xc[k * pos] - m) * inv * sc[k] + b[k];
        } else {
            for (int64_t k = 0; k < c; k++) yr[k] = (xc[k * pos] - m) * inv * sc[k];
        }
    }
}

typedef struct ln_cf_job {
    float *y;
    const float *x, *sc, *b;
    int64_t c, pos, blocks;
    float eps;
    int y_cfirst;
} ln_cf_job;

/* rows = (image, block of positions) pairs */
static void ln_cf_range(void *arg, int64_t r0, int64_t r1)
{
    const ln_cf_job *j = arg;
    for (int64_t r = r0; r < r1; r++) {
        const int64_t img = r / j->blocks, p0 = r % j->blocks * LN_BLOCK;
        const int64_t np = j->pos - p0 < LN_BLOCK ? j->pos - p0 : LN_BLOCK;
        k_ln_cfirst(j->y + img * j->pos * j->c, j->x + img * j->c * j->pos, j->c, j->pos, p0, np,
                    j->sc, j->b, j->eps, j->y_cfirst);
    }
}

int nn_layernorm_cfirst(onnx_ctx *ctx, const onnx_tensor *x, const onnx_tensor *scale,
                        const onnx_tensor *bias, float eps, int y_cfirst)
{
    const int r = x->ndim;
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    if (r < 3) return onnx_ctx_fail(ctx, "a channels-first input needs rank >= 3");
    const int64_t n = x->dims[0], c = x->dims[1];
    int64_t pos = 1, ydims[ONNX_MAX_DIMS];
    ydims[0] = n;
    for (int i = 2; i < r; i++) {
        pos *= x->dims[i];
        ydims[i - 1] = x->dims[i];
    }
    ydims[r - 1] = c;
    if (y_cfirst) memcpy(ydims, x->dims, (size_t)r * sizeof ydims[0]);
    const onnx_tensor *ps[2] = {scale, bias};
    for (int i = 0; i < 2; i++)
        if (ps[i] && (ps[i]->dtype != INFERD_DTYPE_FP32 || onnx_tensor_numel(ps[i]) != c))
            return onnx_ctx_fail(ctx, "Scale/B must be %lld float32 values", (long long)c);
    onnx_tensor *y = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, r, ydims);
    if (!y) return -1;
    if (n == 0 || c == 0 || pos == 0) return 0; /* c == 0: no rows' elements to write */
    ln_cf_job j = {.y = y->data,
                   .x = x->data,
                   .sc = scale->data,
                   .b = bias ? bias->data : NULL,
                   .c = c,
                   .pos = pos,
                   .blocks = (pos + LN_BLOCK - 1) / LN_BLOCK,
                   .eps = eps,
                   .y_cfirst = y_cfirst};
    nn_parallel_rows(ctx, n * j.blocks, n * c * pos, ln_cf_range, &j);
    return 0;
}
