/* Dropout. Inference (the usual case): Y = X (a view of X) and the optional mask is all true (bool from
 * opset 10, the input type before). Training mode (opset 12+, training_mode input true, ratio
 * > 0) draws the keep mask from MT19937 seeded with the `seed` attribute (0 if absent), in the
 * same stream as numpy's RandomState(seed).uniform, so results are reproducible. */
#include <string.h>

#include "nn_common.h"
#include "nn_ops.h"

typedef struct nn_mt19937 {
    uint32_t mt[624];
    int pos;
} nn_mt19937;

static void mt_seed(nn_mt19937 *s, uint32_t seed)
{
    s->mt[0] = seed;
    for (uint32_t i = 1; i < 624; i++)
        s->mt[i] = 1812433253u * (s->mt[i - 1] ^ (s->mt[i - 1] >> 30)) + i;
    s->pos = 624;
}

static uint32_t mt_next(nn_mt19937 *s)
{
    if (s->pos >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (s->mt[k] & 0x80000000u) | (s->mt[(k + 1) % 624] & 0x7fffffffu);
            s->mt[k] = s->mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        s->pos = 0;
    }
    uint32_t y = s->mt[s->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

/* Uniform double in [0, 1) with 53 random bits, as numpy's legacy random_sample. */
static double mt_next_double(nn_mt19937 *s)
{
    uint32_t a = mt_next(s) >> 5, b = mt_next(s) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

static int dropout_train(onnx_ctx *ctx, const onnx_tensor *x, double ratio)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    if (x->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_fail(ctx, "training mode supports float32 only");
    if (!(ratio > 0.0 && ratio < 1.0)) return onnx_ctx_fail(ctx, "ratio must be in [0, 1)");
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims);
    if (!y) return -1;
    onnx_tensor *mask = NULL;
    if (onnx_ctx_num_outputs(ctx) > 1 && onnx_ctx_output_wanted(ctx, 1) &&
        !(mask = onnx_ctx_output(ctx, 1, INFERD_DTYPE_BOOL, x->ndim, x->dims)))
        return -1;
    nn_mt19937 *rng = onnx_ctx_scratch(ctx, sizeof *rng);
    if (!rng) return -1;
    mt_seed(rng, (uint32_t)onnx_attr_int(node, "seed", 0));
    const float scale = (float)(1.0 / (1.0 - ratio));
    const float *xd = x->data;
    float *yd = y->data;
    uint8_t *md = mask ? mask->data : NULL;
    const int64_t n = onnx_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int keep = mt_next_double(rng) >= ratio;
        yd[i] = keep ? xd[i] * scale : 0.0f;
        if (md) md[i] = (uint8_t)keep;
    }
    return 0;
}

int nn_dropout_run(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "needs input data");
    const size_t esz = inferd_dtype_size(x->dtype);
    if (esz == 0)
        return onnx_ctx_fail(ctx, "unsupported element type %s", inferd_dtype_name(x->dtype));
    if (node->opset < 7 && onnx_attr_int(node, "is_test", 0) == 0 &&
        onnx_attr_float(node, "ratio", 0.5f) != 0.0f) /* training, with no seed to reproduce */
        return onnx_ctx_unsupported(ctx, "training mode (is_test=0) before opset 7");
    if (node->opset >= 12) {
        const onnx_tensor *ratio = onnx_ctx_input(ctx, 1), *train = onnx_ctx_input(ctx, 2);
        double r = 0.5;
        if (ratio) {
            if (onnx_tensor_numel(ratio) != 1) return onnx_ctx_fail(ctx, "ratio must be a scalar");
            r = onnx_tensor_get_double(ratio, 0);
        }
        if (train) {
            if (onnx_tensor_numel(train) != 1)
                return onnx_ctx_fail(ctx, "training_mode must be a scalar");
            if (onnx_tensor_get_int(train, 0) != 0 && r != 0.0) return dropout_train(ctx, x, r);
        }
    }
    /* Y = X: a view, as Identity (Swin-T's 24 Dropouts copied 0.8 ms per run) */
    if (onnx_ctx_output_wanted(ctx, 0) && !onnx_ctx_alias_output(ctx, 0, 0, x->ndim, x->dims))
        return -1;
    if (onnx_ctx_num_outputs(ctx) > 1 && onnx_ctx_output_wanted(ctx, 1)) {
        inferd_dtype mt = node->opset >= 10 ? INFERD_DTYPE_BOOL : x->dtype;
        onnx_tensor *mask = onnx_ctx_output(ctx, 1, mt, x->ndim, x->dims);
        if (!mask) return -1;
        const int64_t n = onnx_tensor_numel(mask);
        if (mt == INFERD_DTYPE_BOOL) {
            if (n > 0) memset(mask->data, 1, (size_t)n);
        } else if (mt == INFERD_DTYPE_FP32) {
            for (int64_t i = 0; i < n; i++) ((float *)mask->data)[i] = 1.0f;
        } else if (mt == INFERD_DTYPE_FP64) {
            for (int64_t i = 0; i < n; i++) ((double *)mask->data)[i] = 1.0;
        } else {
            return onnx_ctx_fail(ctx, "mask of type %s is not supported", inferd_dtype_name(mt));
        }
    }
    return 0;
}
