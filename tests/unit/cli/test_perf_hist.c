/* inferctl perf's histogram: bucket arithmetic over the whole range, and percentiles within
 * 1% of the exact ones on skewed and wide distributions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "perf_hist.h"

static void test_buckets_cover_every_value(void **state)
{
    (void)state;
    /* buckets are contiguous and ordered, and every value lands in the bucket that holds it */
    for (unsigned i = 0; i + 1 < PERF_HIST_BUCKETS; i++)
        assert_int_equal(perf_hist_bucket_high(i) + 1, perf_hist_bucket_low(i + 1));
    assert_int_equal(perf_hist_bucket_high(PERF_HIST_BUCKETS - 1), UINT64_MAX);
    uint64_t probes[] = {0, 1, 255, 256, 257, 511, 512, 1000, 123456789, (uint64_t)1 << 40,
                         ((uint64_t)1 << 63) - 1, (uint64_t)1 << 63, UINT64_MAX};
    for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
        unsigned i = perf_hist_index(probes[k]);
        assert_true(i < PERF_HIST_BUCKETS);
        assert_true(perf_hist_bucket_low(i) <= probes[k]);
        assert_true(probes[k] <= perf_hist_bucket_high(i));
        /* width at most 1/128 of the bucket's low end */
        uint64_t lo = perf_hist_bucket_low(i), hi = perf_hist_bucket_high(i);
        assert_true(lo < 256 ? hi == lo : (hi - lo + 1) * 128 <= lo);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Percentiles of n values against the exact ones (sorted, same rank rule). */
static void check_accuracy(uint64_t *v, size_t n)
{
    static perf_hist h;
    perf_hist_init(&h);
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        perf_hist_record(&h, v[i]);
        sum += (double)v[i];
    }
    qsort(v, n, sizeof v[0], cmp_u64);
    const double qs[] = {1, 10, 50, 90, 95, 99, 99.9, 99.99};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        size_t rank = (size_t)((qs[k] / 100.0) * (double)n + 0.999999);
        uint64_t exact = v[rank ? rank - 1 : 0];
        uint64_t got = perf_hist_percentile(&h, qs[k]);
        double rel = exact ? ((double)got - (double)exact) / (double)exact : (double)got;
        if (rel < 0)
            rel = -rel;
        if (rel > 0.01)
            fail_msg("p%g: got %llu, exact %llu", qs[k], (unsigned long long)got,
                     (unsigned long long)exact);
    }
    assert_int_equal(perf_hist_percentile(&h, 100), v[n - 1]);
    assert_int_equal(h.min, v[0]);
    assert_true(perf_hist_mean(&h) > sum / (double)n * 0.999999 &&
                perf_hist_mean(&h) < sum / (double)n * 1.000001);
}

static void test_percentiles_within_one_percent(void **state)
{
    (void)state;
    enum { N = 200000 };
    uint64_t *v = malloc(N * sizeof *v);
    assert_non_null(v);
    /* uniform over 50 us .. 5 ms, in ns */
    for (size_t i = 0; i < N; i++)
        v[i] = 50000 + rng() % 4950000;
    check_accuracy(v, N);
    /* long-tailed: log-uniform over 1 us .. 10 s */
    for (size_t i = 0; i < N; i++) {
        double x = (double)(rng() >> 11) / 9007199254740992.0;
        v[i] = (uint64_t)(1000.0 * __builtin_pow(1e7, x));
    }
    check_accuracy(v, N);
    /* a few distinct values: the answer is one of them, not a bucket edge */
    for (size_t i = 0; i < N; i++)
        v[i] = (i % 10 == 0) ? 9000000 : 1234567;
    check_accuracy(v, N);
    free(v);
}

static void test_merge_and_empty(void **state)
{
    (void)state;
    static perf_hist a, b;
    perf_hist_init(&a);
    perf_hist_init(&b);
    assert_int_equal(perf_hist_percentile(&a, 50), 0);
    assert_true(perf_hist_mean(&a) == 0);
    for (uint64_t i = 1; i <= 100; i++)
        perf_hist_record(i <= 50 ? &a : &b, i * 1000);
    perf_hist_merge(&a, &b);
    assert_int_equal(a.total, 100);
    assert_int_equal(a.min, 1000);
    assert_int_equal(a.max, 100000);
    uint64_t p50 = perf_hist_percentile(&a, 50);
    assert_true(p50 >= 49500 && p50 <= 50500);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_cover_every_value),
        cmocka_unit_test(test_percentiles_within_one_percent),
        cmocka_unit_test(test_merge_and_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
