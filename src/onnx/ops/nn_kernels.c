/* Vectorized float32 loops of the nn family (see nn_kernels.h): O3 under GCC (clang
 * vectorizes at -O2) and target clones for AVX2 / AVX-512 on x86-64. */
#include "nn_kernels.h"

#include <math.h>
#include <string.h>

#include "../gemm/gemm.h"
#include "nn_vmath.h"

static NN_HOT NN_CLONES void k_add_scalar(float *y, float b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += b;
}

static NN_HOT NN_CLONES void k_shift(float *restrict y, const float *restrict x, float c, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] + c;
}

static NN_HOT NN_CLONES void k_add_vec(float *restrict y, const float *restrict b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += b[i];
}

static NN_HOT NN_CLONES void k_add2(float *restrict y, const float *restrict a,
                                    const float *restrict b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* 32 partial sums: GCC keeps them in two AVX-512 (four AVX2) registers, so the adds of a
 * 256-wide row form independent chains instead of one long dependent one */
#define NN_PARTIALS 32
/* Tree reductions of the partials (halving: each step is one vector operation), s is clobbered */
NN_VMATH float sum_partials(float *s)
{
    for (int w = NN_PARTIALS / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) s[j] += s[j + w];
    return s[0];
}

NN_VMATH float max_partials(float *m)
{
    for (int w = NN_PARTIALS / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++) m[j] = m[j + w] > m[j] ? m[j + w] : m[j];
    return m[0];
}

/* y may equal x: no restrict (GCC checks the overlap once and runs the vector loop) */
static NN_HOT NN_CLONES void k_scale(float *y, const float *x, float c, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] = x[i] * c;
}

/* Row sums in 16 double partial sums each (independent chains, vectorized; double as the scalar
 * loop it replaces, so a 112x112 plane's average keeps float precision) */
static NN_HOT NN_CLONES void k_sum_rows(float *restrict y, const float *restrict x, int64_t rows,
                                        int64_t n, double scale)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        double s[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= n; i += 16)
            for (int j = 0; j < 16; j++) s[j] += (double)xr[i + j];
        for (; i < n; i++) s[0] += (double)xr[i];
        for (int w = 8; w >= 1; w /= 2)
            for (int j = 0; j < w; j++) s[j] += s[j + w];
        y[r] = (float)(s[0] * scale);
    }
}

static NN_HOT NN_CLONES void k_layer_norm(float *restrict y, const float *restrict x, int64_t rows,
                                          int64_t cols, const float *restrict scale,
                                          const float *restrict bias, float eps,
                                          float *restrict mean, float *restrict inv_std)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float s[NN_PARTIALS] = {0};
        int64_t i = 0;
        for (; i + NN_PARTIALS <= cols; i += NN_PARTIALS)
            for (int j = 0; j < NN_PARTIALS; j++) s[j] += xr[i + j];
        for (; i < cols; i++) s[0] += xr[i];
        const float mu = sum_partials(s) / (float)cols;
        for (int j = 0; j < NN_PARTIALS; j++) s[j] = 0.0f;
        for (i = 0; i + NN_PARTIALS <= cols; i += NN_PARTIALS) {
            for (int j = 0; j < NN_PARTIALS; j++) {
                float d = xr[i + j] - mu;
                s[j] += d * d;
            }
        }
        for (; i < cols; i++) s[0] += (xr[i] - mu) * (xr[i] - mu);
        const float inv = 1.0f / sqrtf(sum_partials(s) / (float)cols + eps);
        if (mean) mean[r] = mu;
        if (inv_std) inv_std[r] = inv;
        if (bias) {
            for (i = 0; i < cols; i++) yr[i] = (xr[i] - mu) * inv * scale[i] + bias[i];
        } else {
            for (i = 0; i < cols; i++) yr[i] = (xr[i] - mu) * inv * scale[i];
        }
    }
}

/* Softmax / LogSoftmax of each contiguous row; a NaN in a row gives NaN where it is (and in
 * the sum, so in the whole row) */
static NN_HOT_FMA NN_CLONES void k_softmax_rows(float *restrict y, const float *restrict x,
                                                int64_t rows, int64_t n, int log_out)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float m = xr[0], sum = 0.0f;
        int64_t i = 0;
        if (n >= NN_PARTIALS) { /* short rows (class scores) skip the partials */
            float mx[NN_PARTIALS];
            for (int j = 0; j < NN_PARTIALS; j++) mx[j] = xr[0];
            for (; i + NN_PARTIALS <= n; i += NN_PARTIALS)
                for (int j = 0; j < NN_PARTIALS; j++) mx[j] = xr[i + j] > mx[j] ? xr[i + j] : mx[j];
            m = max_partials(mx);
        }
        for (; i < n; i++) m = xr[i] > m ? xr[i] : m;
        /* exp on its own loop: it vectorizes (with a masked tail) for short rows too */
        for (i = 0; i < n; i++) {
            float v = xr[i] - m, e = nn_expf(v);
            yr[i] = v != v ? v : e;
        }
        i = 0;
        if (n >= NN_PARTIALS) {
            float s[NN_PARTIALS] = {0};
            for (; i + NN_PARTIALS <= n; i += NN_PARTIALS)
                for (int j = 0; j < NN_PARTIALS; j++) s[j] += yr[i + j];
            sum = sum_partials(s);
        }
        for (; i < n; i++) sum += yr[i];
        if (log_out) {
            const float c = -(m + logf(sum));
            for (i = 0; i < n; i++) yr[i] = xr[i] + c;
        } else {
            const float inv = 1.0f / sum;
            for (i = 0; i < n; i++) yr[i] *= inv;
        }
    }
}

static NN_HOT NN_CLONES void k_copy_strided(float *restrict y, const float *restrict x, int64_t n,
                                            int64_t stride)
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

/* y = x * a + b (a multiply, then an add: no FMA, the same rounding as a scalar loop), then
 * max(y, 0) if relu */
static NN_HOT NN_CLONES void k_affine(float *restrict y, const float *restrict x, float a, float b,
                                      int relu, int64_t n)
{
    if (relu)
        for (int64_t i = 0; i < n; i++) {
            const float v = x[i] * a + b;
            y[i] = v > 0 ? v : 0.0f;
        }
    else
        for (int64_t i = 0; i < n; i++) y[i] = x[i] * a + b;
}

/* ---- exported entry points (see the note on clones at the top) ---- */

void nn_k_affine(float *restrict y, const float *restrict x, float a, float b, int relu, int64_t n)
{
    k_affine(y, x, a, b, relu, n);
}

void nn_k_add_scalar(float *y, float b, int64_t n)
{
    k_add_scalar(y, b, n);
}
void nn_k_add_vec(float *restrict y, const float *restrict b, int64_t n)
{
    k_add_vec(y, b, n);
}
void nn_k_shift(float *restrict y, const float *restrict x, float c, int64_t n)
{
    k_shift(y, x, c, n);
}
void nn_k_add2(float *restrict y, const float *restrict a, const float *restrict b, int64_t n)
{
    k_add2(y, a, b, n);
}
void nn_k_softmax_rows(float *restrict y, const float *restrict x, int64_t rows, int64_t n,
                       int log_out)
{
    if (!log_out && onnx_gemm_act_avx512_ok()) nn_k_softmax_rows_avx512(y, x, rows, n);
    else k_softmax_rows(y, x, rows, n, log_out);
}
void nn_k_layer_norm(float *restrict y, const float *restrict x, int64_t rows, int64_t cols,
                     const float *restrict scale, const float *restrict bias, float eps,
                     float *restrict mean, float *restrict inv_std)
{
    k_layer_norm(y, x, rows, cols, scale, bias, eps, mean, inv_std);
}
void nn_k_scale(float *y, const float *x, float c, int64_t n)
{
    k_scale(y, x, c, n);
}
void nn_k_sum_rows(float *restrict y, const float *restrict x, int64_t rows, int64_t n,
                   double scale)
{
    k_sum_rows(y, x, rows, n, scale);
}
void nn_k_bias_relu(float *y, float b, int64_t n)
{
    k_bias_relu(y, b, n);
}
void nn_k_bias_clip(float *y, float b, float lo, float hi, int64_t n)
{
    k_bias_clip(y, b, lo, hi, n);
}
void nn_k_copy_strided(float *restrict y, const float *restrict x, int64_t n, int64_t stride)
{
    k_copy_strided(y, x, n, stride);
}
