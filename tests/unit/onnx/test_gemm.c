/* The packed GEMM (src/onnx/gemm) against a naive double-precision product, over edge and
 * odd shapes, every transpose, packed A or B, accumulate, biases, a residual read at the store
 * (apart from C or C itself), alpha and activations, on
 * every kernel this CPU has (forced with onnx_gemm_set_kernel) and on 1 and 3 threads. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gemm/gemm.h"
#include "gemm/narrow.h"

static float rnd(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct gemm_case {
    int64_t m, n, k;
    int ta, tb;
    int pack; /* 0 none, 1 A packed, 2 B packed */
    int accumulate, row_bias, col_bias;
    int res; /* 0 none, 1 a residual of its own (ldc + 5 apart), 2 C itself as the residual */
    float alpha;
    onnx_activation_kind act;
} gemm_case;

static float ref_act(onnx_activation_kind k, float v)
{
    switch (k) {
    case ONNX_ACT_RELU: return v > 0 ? v : 0;
    case ONNX_ACT_CLIP: return v < -0.5f ? -0.5f : (v > 0.75f ? 0.75f : v);
    case ONNX_ACT_SIGMOID: return 1.0f / (1.0f + expf(-v));
    case ONNX_ACT_SILU: return v / (1.0f + expf(-v));
    case ONNX_ACT_HARD_SWISH: return v * fminf(1.0f, fmaxf(0.0f, v / 6.0f + 0.5f));
    case ONNX_ACT_HARD_SIGMOID: return fminf(1.0f, fmaxf(0.0f, -0.5f * v + 0.75f));
    case ONNX_ACT_GELU: return (float)(0.5 * v * erfc(-v / sqrt(2.0)));
    case ONNX_ACT_TANH: return tanhf(v);
    default: return v;
    }
}

/* Runs one case with the current kernel; fails the test on a mismatch. */
static void check_case(const gemm_case *tc, onnx_tpool *pool)
{
    uint32_t seed = (uint32_t)(tc->m * 131 + tc->n * 7 + tc->k + 17);
    const int64_t m = tc->m, n = tc->n, k = tc->k, ldc = n + 3;
    const int64_t lda = (tc->ta ? m : k) + 1, ldb = (tc->tb ? k : n) + 2;
    const int64_t a_rows = tc->ta ? k : m, b_rows = tc->tb ? n : k;
    float *a = malloc(sizeof(float) * (size_t)(a_rows * lda + 1));
    float *b = malloc(sizeof(float) * (size_t)(b_rows * ldb + 1));
    float *c = malloc(sizeof(float) * (size_t)(m * ldc + 1));
    float *c0 = malloc(sizeof(float) * (size_t)(m * ldc + 1));
    float *rb = malloc(sizeof(float) * (size_t)(m + 1)),
          *cb = malloc(sizeof(float) * (size_t)(n + 1));
    assert_non_null(a && b && c && c0 && rb && cb);
    for (int64_t i = 0; i < a_rows * lda; i++) a[i] = rnd(&seed);
    for (int64_t i = 0; i < b_rows * ldb; i++) b[i] = rnd(&seed);
    for (int64_t i = 0; i < m * ldc; i++) c[i] = c0[i] = rnd(&seed);
    for (int64_t i = 0; i < m; i++) rb[i] = rnd(&seed);
    for (int64_t i = 0; i < n; i++) cb[i] = rnd(&seed);
    const int64_t ldr = ldc + 5;
    float *r = malloc(sizeof(float) * (size_t)(m * ldr + 1));
    assert_non_null(r);
    for (int64_t i = 0; i < m * ldr; i++) r[i] = rnd(&seed);
    onnx_gemm_args g = {.m = m,
                        .n = n,
                        .k = k,
                        .a = a,
                        .lda = lda,
                        .trans_a = tc->ta,
                        .b = b,
                        .ldb = ldb,
                        .trans_b = tc->tb,
                        .alpha = tc->alpha,
                        .c = c,
                        .ldc = ldc,
                        .accumulate = tc->accumulate,
                        .row_bias = tc->row_bias ? rb : NULL,
                        .col_bias = tc->col_bias ? cb : NULL,
                        .res = tc->res == 1   ? r
                               : tc->res == 2 ? c
                                              : NULL,
                        .ldres = tc->res == 1 ? ldr : ldc};
    g.act.kind = tc->act;
    g.act.alpha = -0.5f;
    g.act.beta = 0.75f;
    onnx_gemm_packed *pk = NULL;
    if (tc->pack == 1 && m > 0 && k > 0) {
        assert_non_null(pk = onnx_gemm_pack_a(a, tc->ta, m, k, lda));
        g.pa = pk;
    }
    if (tc->pack == 2 && n > 0 && k > 0) {
        assert_non_null(pk = onnx_gemm_pack_b(b, tc->tb, k, n, ldb));
        g.pb = pk;
    }
    assert_int_equal(onnx_gemm_run(&g, pool), 0);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < ldc; j++) {
            const float got = c[i * ldc + j];
            if (j >= n) { /* past the columns: untouched */
                assert_true(got == c0[i * ldc + j]);
                continue;
            }
            double s = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                const double av = tc->ta ? a[p * lda + i] : a[i * lda + p];
                const double bv = tc->tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
                mag += fabs(av * bv);
            }
            double want = tc->alpha * s + (tc->accumulate ? c0[i * ldc + j] : 0) +
                          (tc->row_bias ? rb[i] : 0) + (tc->col_bias ? cb[j] : 0) +
                          (tc->res == 1   ? r[i * ldr + j]
                           : tc->res == 2 ? c0[i * ldc + j]
                                          : 0);
            want = ref_act(tc->act, (float)want);
            const double tol = 1e-5 * (mag * fabs(tc->alpha) + 4);
            if (fabs(got - want) > tol)
                fail_msg("%s m=%lld n=%lld k=%lld ta=%d tb=%d pack=%d acc=%d res=%d: C[%lld][%lld] "
                         "= %g, want %g",
                         onnx_gemm_kernel_name(onnx_gemm_kernel()), (long long)m, (long long)n,
                         (long long)k, tc->ta, tc->tb, tc->pack, tc->accumulate, tc->res,
                         (long long)i, (long long)j, got, want);
        }
    onnx_gemm_packed_free(pk);
    free(a), free(b), free(c), free(c0), free(rb), free(cb), free(r);
}

static const int64_t dims_small[] = {1, 3, 5, 8, 13, 33, 47};
static const int64_t ks[] = {0, 1, 17, 256, 257, 600};

/* every shape combination with varying options, on the current kernel */
static void run_all(onnx_tpool *pool)
{
    int v = 0;
    for (size_t mi = 0; mi < sizeof dims_small / sizeof *dims_small; mi++)
        for (size_t ni = 0; ni < sizeof dims_small / sizeof *dims_small; ni++)
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++, v++) {
                gemm_case tc = {.m = dims_small[mi],
                                .n = dims_small[ni],
                                .k = ks[ki],
                                .ta = v & 1,
                                .tb = (v >> 1) & 1,
                                .pack = v % 3,
                                .accumulate = (v >> 2) & 1,
                                .row_bias = (v % 5) == 1,
                                .col_bias = (v % 7) == 2,
                                .res = (v % 6) == 3    ? 1
                                       : (v % 11) == 4 ? 2
                                                       : 0,
                                .alpha = (v % 4) ? 1.0f : 0.5f,
                                .act = (onnx_activation_kind[]){
                                    ONNX_ACT_NONE, ONNX_ACT_RELU, ONNX_ACT_CLIP, ONNX_ACT_SIGMOID,
                                    ONNX_ACT_SILU, ONNX_ACT_HARD_SWISH, ONNX_ACT_HARD_SIGMOID,
                                    ONNX_ACT_GELU}[v % 8]};
                check_case(&tc, pool);
            }
    /* larger than one block each way (MC <= 64 rows, NC = 512 columns, KC = 256), all
     * transposes and packings */
    /* last panels of 16 (48, 784) and 4 (196) columns run the AVX-512 half-width edge kernel,
     * 17 (49) the full one; with rows in place and packed, B in place and packed */
    /* a packed B against up to 256 rows runs in one pass over B (all rows per panel, all
     * columns per K block: 250 x 600), more rows in MC blocks (300 x 100) */
    const int64_t big[][3] = {{100, 600, 300}, {17, 1031, 70},  {1, 700, 64},    {530, 3, 70},
                              {3, 1031, 600},  {70, 48, 300},   {130, 196, 257}, {200, 49, 64},
                              {64, 784, 70},   {250, 600, 300}, {300, 100, 260}};
    for (size_t i = 0; i < sizeof big / sizeof *big; i++)
        for (int o = 0; o < 12; o++) {
            gemm_case tc = {.m = big[i][0],
                            .n = big[i][1],
                            .k = big[i][2],
                            .ta = o & 1,
                            .tb = (o >> 1) & 1,
                            .pack = o % 3,
                            .accumulate = o >= 6,
                            .row_bias = o == 3,
                            .col_bias = o == 8,
                            .res = o == 2 || o == 7 || o == 8 ? 1
                                   : o == 9                   ? 2
                                                              : 0,
                            .alpha = 1.0f,
                            /* SiLU, Sigmoid, HardSwish, HardSigmoid, GELU: in the AVX-512
                             * kernel's store (full tiles) and on the edge tiles */
                            .act = o == 5    ? ONNX_ACT_RELU
                                   : o == 11 ? ONNX_ACT_GELU
                                   : o == 7  ? ONNX_ACT_SILU
                                   : o == 10 ? ONNX_ACT_SIGMOID
                                   : o == 4  ? ONNX_ACT_HARD_SWISH
                                   : o == 9  ? ONNX_ACT_HARD_SIGMOID
                                             : ONNX_ACT_NONE};
            check_case(&tc, pool);
        }
}

/* The narrow path (gemm/narrow.h: a packed A by a short plain B) on the column counts around
 * its strips (48) and 8-row column vectors (< 8 left), partial row panels, K over one block,
 * accumulate, biases, the fused activations and one it leaves to the caller (Tanh). */
static void run_narrow(onnx_tpool *pool)
{
    static const int64_t ns[] = {1,  2,  7,  8,  9,  15, 16, 17,  31,  32,  47,  48,
                                 49, 50, 55, 56, 63, 64, 97, 112, 196, 200, 255, 256};
    static const int64_t ms[] = {1, 7, 8, 13, 24};
    static const int64_t nks[] = {1, 5, 257, 600};
    int v = 0;
    for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
        for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
            for (size_t ki = 0; ki < sizeof nks / sizeof *nks; ki++, v++) {
                gemm_case tc = {.m = ms[mi],
                                .n = ns[ni],
                                .k = nks[ki],
                                .pack = 1,
                                .accumulate = v & 1,
                                .row_bias = (v % 3) != 0,
                                .col_bias = (v % 5) == 2,
                                .res = (v % 7) == 3,
                                .alpha = 1.0f,
                                .act = (onnx_activation_kind[]){
                                    ONNX_ACT_NONE, ONNX_ACT_RELU, ONNX_ACT_CLIP, ONNX_ACT_SIGMOID,
                                    ONNX_ACT_SILU, ONNX_ACT_HARD_SWISH, ONNX_ACT_HARD_SIGMOID,
                                    ONNX_ACT_TANH}[v % 8]};
                check_case(&tc, pool);
            }
}

static void each_kernel(int threads)
{
    onnx_tpool *pool = threads > 1 ? onnx_tpool_create(threads) : NULL;
    if (threads > 1) assert_non_null(pool);
    int ran = 0;
    for (int id = 0; id < ONNX_GEMM_N_KERNELS; id++) {
        if (!onnx_gemm_kernel_available((onnx_gemm_kernel_id)id)) {
            assert_int_equal(onnx_gemm_set_kernel((onnx_gemm_kernel_id)id), -1);
            continue;
        }
        assert_int_equal(onnx_gemm_set_kernel((onnx_gemm_kernel_id)id), 0);
        assert_int_equal(onnx_gemm_kernel(), id);
        run_all(pool);
        if (id == ONNX_GEMM_AVX512) run_narrow(pool); /* the only kernel it runs for */
        ran++;
    }
    assert_true(ran >= 1);
    assert_int_equal(onnx_gemm_set_kernel(ONNX_GEMM_AUTO), 0);
    onnx_tpool_free(pool);
}

static void test_gemm_one_thread(void **state)
{
    (void)state;
    each_kernel(1);
}

static void test_gemm_three_threads(void **state)
{
    (void)state;
    each_kernel(3);
}

/* Which calls the narrow path takes: a packed A of the AVX-512 kernel by a plain B of at most
 * ONNX_GEMM_NARROW_MAX_N columns, not transposed, alpha 1. */
static void test_gemm_narrow_fits(void **state)
{
    (void)state;
    if (!onnx_gemm_kernel_available(ONNX_GEMM_AVX512)) skip();
    assert_int_equal(onnx_gemm_set_kernel(ONNX_GEMM_AVX512), 0);
    float a[8 * 4] = {0}, b[4 * 300] = {0}, c[8 * 300];
    onnx_gemm_packed *pa = onnx_gemm_pack_a(a, 0, 8, 4, 4);
    assert_non_null(pa);
    onnx_gemm_args g = {
        .m = 8, .n = 49, .k = 4, .pa = pa, .b = b, .ldb = 300, .alpha = 1, .c = c, .ldc = 300};
    assert_true(onnx_gemm_narrow_fits(&g));
    g.n = 196;
    assert_true(onnx_gemm_narrow_fits(&g));
    g.n = 257; /* over ONNX_GEMM_NARROW_MAX_N */
    assert_false(onnx_gemm_narrow_fits(&g));
    g.n = 49;
    g.alpha = 0.5f;
    assert_false(onnx_gemm_narrow_fits(&g));
    g.alpha = 1;
    g.trans_b = 1;
    assert_false(onnx_gemm_narrow_fits(&g));
    onnx_gemm_packed_free(pa);
    assert_int_equal(onnx_gemm_set_kernel(ONNX_GEMM_AUTO), 0);
}

/* A packed operand that does not match the args is refused, and C left alone. */
static void test_gemm_packed_mismatch(void **state)
{
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1}, c[4] = {9, 9, 9, 9};
    onnx_gemm_packed *pb = onnx_gemm_pack_b(b, 0, 3, 2, 2);
    assert_non_null(pb);
    onnx_gemm_args g = {
        .m = 2, .n = 2, .k = 2, .a = a, .lda = 3, .pb = pb, .alpha = 1, .c = c, .ldc = 2};
    assert_int_equal(onnx_gemm_run(&g, NULL), -1); /* k 2 against the packed 3 */
    for (int i = 0; i < 4; i++) assert_true(c[i] == 9);
    g.k = 3;
    assert_int_equal(onnx_gemm_run(&g, NULL), 0);
    assert_true(c[0] == 1 + 3 && c[1] == 2 + 3 && c[2] == 4 + 6 && c[3] == 5 + 6);
    g.pa = pb; /* B's packing as A */
    assert_int_equal(onnx_gemm_run(&g, NULL), -1);
    onnx_gemm_packed_free(pb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_one_thread),
        cmocka_unit_test(test_gemm_three_threads),
        cmocka_unit_test(test_gemm_packed_mismatch),
        cmocka_unit_test(test_gemm_narrow_fits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
