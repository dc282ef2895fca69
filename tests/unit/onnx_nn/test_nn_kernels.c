/* The nn family's vectorized float32 kernels (src/onnx/ops/nn_kernels.h) against double
 * precision references: erf and GELU over a sample of every float exponent and the edges of
 * their approximation pieces, special values, in place and out of place; softmax and layer
 * norm rows of lengths around the kernels' 32-wide blocks; Sigmoid/SiLU/HardSigmoid/HardSwish
 * and row sums. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <stdlib.h>

#include "gemm/gemm.h"
#include "ops/nn_kernels.h"

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

enum { BATCH = 4096 };

/* Runs erf and GELU over xs and checks each against erf / erfc in double. */
static void check_batch(const float *xs, int n)
{
    static float ye[BATCH], yg[BATCH], yi[BATCH];
    nn_k_erf(ye, xs, n);
    nn_k_gelu(yg, xs, n);
    memcpy(yi, xs, (size_t)n * sizeof *yi);
    nn_k_gelu(yi, yi, n); /* in place gives the same */
    for (int i = 0; i < n; i++) {
        double x = xs[i], want = erf(x);
        /* nn_vmath.h: 1.2e-7 relative; a denormal erf(x) is good to a denormal step or two */
        double tol = fabs(want) >= 1.1754944e-38 ? 1.2e-7 * fabs(want) : 3e-45;
        if (!(fabs(ye[i] - want) <= tol)) fail_msg("erf(%.9g) = %.9g, want %.9g", x, ye[i], want);
        double g = 0.5 * x * erfc(-x / sqrt(2.0));
        double gtol = 0.6 * (1e-7 * fabs(x) + 1.2e-7 * fabs(g)) + 3e-45;
        if (!(fabs(yg[i] - g) <= gtol)) fail_msg("gelu(%.9g) = %.9g, want %.9g", x, yg[i], g);
        if (memcmp(&yi[i], &yg[i], sizeof yi[i]) != 0) fail_msg("gelu in place differs at %.9g", x);
    }
}

static void test_erf_gelu_match_double(void **state)
{
    (void)state;
    static float xs[BATCH];
    int n = 0;
    /* every 61st float from 0 to 7 (all exponents below it), both signs: 18 M values */
    for (uint32_t b = 0; b < 0x40e00000u; b += 61) {
        xs[n++] = from_bits(b);
        xs[n++] = -from_bits(b);
        if (n == BATCH) {
            check_batch(xs, n);
            n = 0;
        }
    }
    /* every float within 2000 steps of the piece boundaries 0.921875 and 5 */
    const float edges[2] = {0.921875f, 5.0f};
    for (int e = 0; e < 2; e++) {
        uint32_t mid;
        memcpy(&mid, &edges[e], sizeof mid);
        for (uint32_t b = mid - 2000; b <= mid + 2000; b++) {
            xs[n++] = from_bits(b);
            xs[n++] = -from_bits(b);
            if (n == BATCH) {
                check_batch(xs, n);
                n = 0;
            }
        }
    }
    if (n) check_batch(xs, n);
}

static void test_erf_gelu_special_values(void **state)
{
    (void)state;
    const float in[8] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e30f, -1e30f, -20.0f};
    float e[8], g[8];
    nn_k_erf(e, in, 8);
    nn_k_gelu(g, in, 8);
    assert_true(isnan(e[0]));
    assert_true(isnan(g[0]));
    assert_true(e[1] == 1.0f && e[2] == -1.0f);
    assert_true(e[3] == 0.0f && !signbit(e[3]) && e[4] == 0.0f && signbit(e[4]));
    assert_true(e[5] == 1.0f && e[6] == -1.0f);
    assert_true(g[1] == INFINITY);
    /* -inf * (1 + erf(-inf)) = -inf * 0: NaN, as the unfused x * 0.5 * (1 + erf(x / sqrt 2)) */
    assert_true(isnan(g[2]));
    assert_true(g[3] == 0.0f && g[4] == 0.0f);
    assert_true(g[5] == 1e30f);
    assert_true(g[6] == 0.0f && g[7] == 0.0f);
}

static uint32_t rng = 777u;
static float rnd(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xffff) / 8192.0f - 4.0f; /* [-4, 4) */
}

static const int64_t row_lengths[] = {1, 7, 15, 16, 17, 31, 32, 33, 49, 50, 64, 100, 128, 1000};

static void test_softmax_rows_match_double(void **state)
{
    (void)state;
    enum { ROWS = 3, MAXN = 1000 };
    static float x[ROWS * MAXN], y[ROWS * MAXN], ly[ROWS * MAXN];
    for (size_t c = 0; c < sizeof row_lengths / sizeof row_lengths[0]; c++) {
        int64_t n = row_lengths[c];
        for (int64_t i = 0; i < ROWS * n; i++) x[i] = rnd() * 3;
        if (n > 1) x[n - 1] = -INFINITY; /* a masked position (a row of them is NaN) */
        nn_k_softmax_rows(y, x, ROWS, n, 0);
        nn_k_softmax_rows(ly, x, ROWS, n, 1);
        for (int r = 0; r < ROWS; r++) {
            const float *xr = x + r * n;
            double m = -INFINITY, sum = 0;
            for (int64_t i = 0; i < n; i++) m = xr[i] > m ? xr[i] : m;
            for (int64_t i = 0; i < n; i++) sum += exp((double)xr[i] - m);
            for (int64_t i = 0; i < n; i++) {
                double want = exp((double)xr[i] - m) / sum, lwant = (double)xr[i] - m - log(sum);
                if (!(fabs(y[r * n + i] - want) <= 1e-6 * want + 1e-30))
                    fail_msg("softmax n=%lld [%d][%lld] = %.9g, want %.9g", (long long)n, r,
                             (long long)i, y[r * n + i], want);
                if (isinf(lwant) ? ly[r * n + i] != lwant
                                 : !(fabs(ly[r * n + i] - lwant) <= 1e-5 * (1 + fabs(lwant))))
                    fail_msg("log_softmax n=%lld [%d][%lld] = %.9g, want %.9g", (long long)n, r,
                             (long long)i, ly[r * n + i], lwant);
            }
        }
    }
}

/* a NaN anywhere in a row makes the whole row NaN (through the sum), in the 16-wide vectors and
 * in the masked last one; the other rows are untouched by it */
static void test_softmax_rows_nan(void **state)
{
    (void)state;
    enum { N = 49 };
    static float x[2 * N], y[2 * N];
    for (int at = 0; at < N; at += 7) {
        for (int i = 0; i < 2 * N; i++) x[i] = rnd();
        x[at] = NAN;
        nn_k_softmax_rows(y, x, 2, N, 0);
        float sum = 0;
        for (int i = 0; i < N; i++) assert_true(isnan(y[i]));
        for (int i = N; i < 2 * N; i++) sum += y[i];
        assert_true(fabsf(sum - 1.0f) <= 1e-5f);
    }
}

static void test_layer_norm_rows_match_double(void **state)
{
    (void)state;
    enum { ROWS = 3, MAXN = 1000 };
    static float x[ROWS * MAXN], y[ROWS * MAXN], sc[MAXN], bi[MAXN], mean[ROWS], inv[ROWS];
    for (size_t c = 0; c < sizeof row_lengths / sizeof row_lengths[0]; c++) {
        int64_t n = row_lengths[c];
        for (int64_t i = 0; i < ROWS * n; i++) x[i] = rnd() + 10.0f; /* a mean to remove */
        for (int64_t i = 0; i < n; i++) sc[i] = rnd(), bi[i] = rnd();
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            nn_k_layer_norm(y, x, ROWS, n, sc, with_bias ? bi : NULL, 1e-5f, mean, inv);
            for (int r = 0; r < ROWS; r++) {
                const float *xr = x + r * n;
                double mu = 0, var = 0;
                for (int64_t i = 0; i < n; i++) mu += xr[i];
                mu /= (double)n;
                for (int64_t i = 0; i < n; i++) var += ((double)xr[i] - mu) * ((double)xr[i] - mu);
                double iv = 1.0 / sqrt(var / (double)n + 1e-5);
                assert_true(fabs(mean[r] - mu) <= 1e-6 * fabs(mu));
                assert_true(fabs(inv[r] - iv) <= 1e-5 * iv);
                for (int64_t i = 0; i < n; i++) {
                    double want = ((double)xr[i] - mu) * iv * sc[i] + (with_bias ? bi[i] : 0);
                    if (!(fabs(y[r * n + i] - want) <= 2e-5 * (1 + fabs(want))))
                        fail_msg("layer_norm n=%lld [%d][%lld] = %.9g, want %.9g", (long long)n, r,
                                 (long long)i, y[r * n + i], want);
                }
            }
        }
    }
}

/* Sigmoid, SiLU, HardSigmoid, HardSwish in place against double, over [-100, 100] (sigmoid
 * saturating at both ends) and NaN; row sums over lengths around the 16 partial sums. */
static void test_activations_match_double(void **state)
{
    (void)state;
    enum { N = 4001 };
    static float x[N], ys[N], yl[N], yh[N], yw[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i - N / 2) * 0.05f;
    x[7] = NAN;
    memcpy(ys, x, sizeof x), memcpy(yl, x, sizeof x), memcpy(yh, x, sizeof x),
        memcpy(yw, x, sizeof x);
    nn_k_sigmoid(ys, N);
    nn_k_silu(yl, N);
    nn_k_hard_sigmoid(yh, 0.2f, 0.5f, N);
    nn_k_hard_swish(yw, N);
    assert_true(isnan(ys[7]) && isnan(yl[7]) && isnan(yw[7]));
    for (int i = 0; i < N; i++) {
        if (i == 7) continue;
        double v = x[i], sg = 1.0 / (1.0 + exp(-v)), sl = v * sg;
        double hs = fmax(0.0, fmin(1.0, 0.2f * x[i] + 0.5f)),
               hw = v * fmax(0.0, fmin(1.0, v / 6 + 0.5));
        if (!(fabs(ys[i] - sg) <= 3e-7 * sg + 1.2e-38))
            fail_msg("sigmoid(%.9g) = %.9g, want %.9g", v, ys[i], sg);
        /* below x = -87.3 both give 0 instead of a denormal or smaller value */
        if (!(fabs(yl[i] - sl) <= 3e-7 * fabs(sl) + 1.2e-38 * fabs(v)))
            fail_msg("silu(%.9g) = %.9g, want %.9g", v, yl[i], sl);
        if (!(fabs(yh[i] - hs) <= 1e-7))
            fail_msg("hard_sigmoid(%.9g) = %.9g, want %.9g", v, yh[i], hs);
        /* x / 6 + 1/2 cancels near x = -3: an absolute error of x times float rounding */
        if (!(fabs(yw[i] - hw) <= 2e-7 * fabs(hw) + 1e-7 * fabs(v)))
            fail_msg("hard_swish(%.9g) = %.9g, want %.9g", v, yw[i], hw);
    }
}

static void test_tanh_matches_double(void **state)
{
    (void)state;
    enum { N = 8001 };
    static float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = (float)(i - N / 2) * 0.0025f; /* [-10, 10] */
    x[N - 1] = 1e-30f, x[N - 2] = -100.0f, x[N - 3] = NAN, x[N - 4] = 0.625f, x[N - 5] = 0.62499f;
    memcpy(y, x, sizeof x);
    nn_k_tanh(y, N);
    assert_true(isnan(y[N - 3]));
    for (int i = 0; i < N; i++) {
        if (i == N - 3) continue;
        double want = tanh((double)x[i]);
        if (!(fabs(y[i] - want) <= 3e-7 * fabs(want) + 1e-38))
            fail_msg("tanh(%.9g) = %.9g, want %.9g", (double)x[i], y[i], want);
    }
}

/* Both kernels (the AVX-512 one where the CPU has it) over the shared row lengths, the lengths
 * around the AVX-512 kernel's 64-float steps and a 112x112 plane. */
static void test_sum_rows_match_double(void **state)
{
    (void)state;
    enum { ROWS = 3, MAXN = 112 * 112 };
    static const int64_t steps[] = {48, 63, 65, 79, 127, 129, 196, 784, 3136, 112 * 112};
    static float x[ROWS * MAXN], y[ROWS];
    const size_t n_lengths = sizeof row_lengths / sizeof row_lengths[0];
    for (size_t c = 0; c < n_lengths + sizeof steps / sizeof steps[0]; c++) {
        int64_t n = c < n_lengths ? row_lengths[c] : steps[c - n_lengths];
        for (int64_t i = 0; i < ROWS * n; i++) x[i] = rnd() + 1000.0f; /* float sums would drift */
        for (int avx512 = 0; avx512 <= onnx_gemm_act_avx512_ok(); avx512++) {
            (avx512 ? nn_k_sum_rows_avx512 : nn_k_sum_rows)(y, x, ROWS, n, 1.0 / (double)n);
            for (int r = 0; r < ROWS; r++) {
                double want = 0;
                for (int64_t i = 0; i < n; i++) want += x[r * n + i];
                want /= (double)n;
                if (!(fabs(y[r] - want) <= 1e-7 * fabs(want)))
                    fail_msg("mean (avx512 %d) n=%lld row %d = %.9g, want %.9g", avx512,
                             (long long)n, r, y[r], want);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_erf_gelu_match_double),
        cmocka_unit_test(test_erf_gelu_special_values),
        cmocka_unit_test(test_softmax_rows_match_double),
        cmocka_unit_test(test_softmax_rows_nan),
        cmocka_unit_test(test_layer_norm_rows_match_double),
        cmocka_unit_test(test_activations_match_double),
        cmocka_unit_test(test_sum_rows_match_double),
        cmocka_unit_test(test_tanh_matches_double),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
