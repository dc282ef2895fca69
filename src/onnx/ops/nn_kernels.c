/* Vectorized float32 loops of the nn family (see nn_kernels.h): O3 under GCC (clang
 * vectorizes at -O2) and target clones for AVX2 / AVX-512 on x86-64. */
#include "nn_kernels.h"

#include <string.h>

static NN_HOT NN_CLONES void k_add_scalar(float *y, float b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += b;
}

static NN_HOT NN_CLONES void k_add_vec(float *restrict y, const float *restrict b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += b[i];
}

static NN_HOT NN_CLONES void k_scale(float *y, float a, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] *= a;
}

static NN_HOT NN_CLONES float k_max(const float *x, int64_t n)
{
    float m[8];
    int64_t i = 0;
    for (int j = 0; j < 8; j++) m[j] = x[0];
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
    for (; i < n; i++) m[0] = x[i] > m[0] ? x[i] : m[0];
    float r = m[0];
    for (int j = 1; j < 8; j++) r = m[j] > r ? m[j] : r;
    return r;
}

/* exp(v) by Cephes' expf: v = k ln2 + r, |r| <= ln2 / 2, degree-6 polynomial, times 2^k built
 * in the exponent bits. Relative error ~1e-7; k is rounded with the 1.5 * 2^23 trick so that
 * the loop vectorizes. v is clamped to [-87.3, 88.3]: below gives ~1e-38 instead of denormals,
 * above gives 2.2e38 instead of inf (softmax only passes v <= 0). */
static inline NN_HOT float nn_expf(float v)
{
    float x = v > -87.3f ? v : -87.3f;
    x = x < 88.3f ? x : 88.3f;
    float kf = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    int32_t k = (int32_t)kf;
    float r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = (k + 127) << 23; /* k + 127 in [1, 254] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static NN_HOT NN_CLONES float k_exp_sum(float *restrict y, const float *restrict x, float sub,
                                        int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] - sub;
        float e = nn_expf(v);
        y[i] = v != v ? v : e;
    }
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += y[i + j];
    for (; i < n; i++) s[0] += y[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static NN_HOT NN_CLONES void k_shift(float *restrict y, const float *restrict x, float c,
                                     int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] + c;
}

static NN_HOT NN_CLONES float k_sum(const float *x, int64_t n)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) s[j] += x[i + j];
    for (; i < n; i++) s[0] += x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static NN_HOT NN_CLONES float k_sq_dev_sum(const float *x, float mu, int64_t n)
{
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int j = 0; j < 8; j++) {
            float d = x[i + j] - mu;
            s[j] += d * d;
        }
    }
    for (; i < n; i++) s[0] += (x[i] - mu) * (x[i] - mu);
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static NN_HOT NN_CLONES void k_norm_affine(float *restrict y, const float *restrict x, float mu,
                                           float inv, const float *restrict scale,
                                           const float *restrict bias, int64_t n)
{
    if (bias) {
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mu) * inv * scale[i] + bias[i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mu) * inv * scale[i];
    }
}

static NN_HOT NN_CLONES void k_copy_strided(float *restrict y, const float *restrict x,
                                           int64_t n, int64_t stride)
{
    if (stride == 2) {
        for (int64_t i = 0; i < n; i++) y[i] = x[2 * i];
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = x[i * stride];
    }
}

/* Relu and Clip with the NaN behaviour of activation.c: Relu(NaN) = 0, Clip passes NaN. */
static NN_HOT NN_CLONES void k_bias_relu(float *y, float b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = y[i] + b;
        y[i] = v > 0 ? v : 0.0f;
    }
}

static NN_HOT NN_CLONES void k_bias_clip(float *y, float b, float lo, float hi, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = y[i] + b;
        v = v < lo ? lo : v;
        y[i] = v > hi ? hi : v;
    }
}

/* ---- exported entry points (see the note on clones at the top) ---- */

void nn_k_add_scalar(float *y, float b, int64_t n) { k_add_scalar(y, b, n); }
void nn_k_add_vec(float *restrict y, const float *restrict b, int64_t n) { k_add_vec(y, b, n); }
void nn_k_scale(float *y, float a, int64_t n) { k_scale(y, a, n); }
float nn_k_max(const float *x, int64_t n) { return k_max(x, n); }
float nn_k_exp_sum(float *restrict y, const float *restrict x, float sub, int64_t n)
{
    return k_exp_sum(y, x, sub, n);
}
void nn_k_shift(float *restrict y, const float *restrict x, float c, int64_t n)
{
    k_shift(y, x, c, n);
}
float nn_k_sum(const float *x, int64_t n) { return k_sum(x, n); }
float nn_k_sq_dev_sum(const float *x, float mu, int64_t n) { return k_sq_dev_sum(x, mu, n); }
void nn_k_norm_affine(float *restrict y, const float *restrict x, float mu, float inv,
                      const float *restrict scale, const float *restrict bias, int64_t n)
{
    k_norm_affine(y, x, mu, inv, scale, bias, n);
}
void nn_k_bias_relu(float *y, float b, int64_t n) { k_bias_relu(y, b, n); }
void nn_k_bias_clip(float *y, float b, float lo, float hi, int64_t n)
{
    k_bias_clip(y, b, lo, hi, n);
}
void nn_k_copy_strided(float *restrict y, const float *restrict x, int64_t n, int64_t stride)
{
    k_copy_strided(y, x, n, stride);
}
