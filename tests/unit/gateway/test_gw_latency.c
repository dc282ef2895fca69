/* gw_latency: quantiles of known distributions within a bucket's width, "unknown" below the
 * sample floor, and decay that follows a node that slowed down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw_latency.h"

static void assert_near(uint64_t got, double want, double rel)
{
    double g = (double)got;
    if (g < want * (1 - rel) || g > want * (1 + rel))
        fail_msg("got %llu, want %.0f +- %.0f%%", (unsigned long long)got, want, rel * 100);
}

static void test_uniform_quantiles(void **state)
{
    (void)state;
    gw_latency l;
    gw_latency_init(&l, 0, 0, 0);
    for (uint64_t i = 0; i < 10000; i++) gw_latency_add(&l, 0, 1000 + i % 1000); /* 1000..1999 µs */
    assert_near(gw_latency_quantile(&l, 0, 0.5), 1500, 0.1);
    assert_near(gw_latency_quantile(&l, 0, 0.95), 1950, 0.1);
    assert_near(gw_latency_quantile(&l, 0, 0.99), 1990, 0.1);
    assert_true(gw_latency_quantile(&l, 0, 0.5) <= gw_latency_quantile(&l, 0, 0.95));
    assert_true(gw_latency_quantile(&l, 0, 0.95) <= gw_latency_quantile(&l, 0, 0.99));
    /* nonsense q */
    assert_int_equal(gw_latency_quantile(&l, 0, 0), 0);
    assert_int_equal(gw_latency_quantile(&l, 0, 1.5), 0);
}

static void test_wide_range(void **state)
{
    (void)state;
    gw_latency l;
    gw_latency_init(&l, 0, 0, 0);
    /* 90% at 100 µs, 10% at 1 s: p50 near 100 µs, p99 near 1 s */
    for (int i = 0; i < 1000; i++) gw_latency_add(&l, 0, i % 10 ? 100 : 1000000);
    assert_near(gw_latency_quantile(&l, 0, 0.5), 100, 0.2);
    assert_near(gw_latency_quantile(&l, 0, 0.99), 1000000, 0.2);
    /* zero and absurd latencies land in the end buckets, no overflow */
    gw_latency_add(&l, 0, 0);
    gw_latency_add(&l, 0, UINT64_MAX);
    assert_true(gw_latency_quantile(&l, 0, 0.999) > 0);
}

static void test_min_samples(void **state)
{
    (void)state;
    gw_latency l;
    gw_latency_init(&l, 0, 20, 0);
    for (int i = 0; i < 19; i++) gw_latency_add(&l, 0, 500);
    assert_int_equal(gw_latency_quantile(&l, 0, 0.95), 0);
    gw_latency_add(&l, 0, 500);
    assert_near(gw_latency_quantile(&l, 0, 0.95), 500, 0.2);
    /* a long quiet spell decays the evidence away: unknown again */
    assert_int_equal(gw_latency_quantile(&l, 200000, 0.95), 0);
    assert_int_equal(l.samples, 20);
}

static void test_decay_follows_change(void **state)
{
    (void)state;
    gw_latency l;
    gw_latency_init(&l, 1000, 10, 0);
    for (int i = 0; i < 1000; i++) gw_latency_add(&l, 0, 1000); /* fast at first */
    /* 10 half-lives later the node takes 50 ms; 200 new samples outweigh ~1 old one */
    for (int i = 0; i < 200; i++) gw_latency_add(&l, 10000, 50000);
    assert_near(gw_latency_quantile(&l, 10000, 0.5), 50000, 0.2);
    /* without decay (huge half-life) the old samples would still dominate */
    gw_latency_init(&l, UINT64_MAX / 32, 10, 0);
    for (int i = 0; i < 1000; i++) gw_latency_add(&l, 0, 1000);
    for (int i = 0; i < 200; i++) gw_latency_add(&l, 10000, 50000);
    assert_near(gw_latency_quantile(&l, 10000, 0.5), 1000, 0.2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform_quantiles),
        cmocka_unit_test(test_wide_range),
        cmocka_unit_test(test_min_samples),
        cmocka_unit_test(test_decay_follows_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
