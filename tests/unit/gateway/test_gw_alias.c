/* gw_alias: empirical shares match the weights, zero weights are never picked (whatever the
 * coin), bad weights are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <cmocka.h>

#include "gw_alias.h"
#include "gw_rand.h"

#define PICKS 1000000

static void check_shares(const double *w, size_t n)
{
    gw_alias *t = NULL;
    assert_int_equal(gw_alias_build(w, n, &t), 0);
    assert_int_equal(gw_alias_size(t), n);
    size_t count[64] = {0};
    uint64_t rng = 12345;
    for (size_t i = 0; i < PICKS; i++) {
        size_t k = gw_alias_pick(t, gw_rand_next(&rng));
        assert_true(k < n);
        count[k]++;
    }
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += w[i];
    for (size_t i = 0; i < n; i++) {
        double want = w[i] / sum, got = (double)count[i] / PICKS;
        if (w[i] == 0)
            assert_int_equal(count[i], 0);
        /* binomial sd at 1e6 picks is <= 0.0005: 0.003 is six of them */
        assert_true(fabs(got - want) < 0.003);
    }
    gw_alias_free(t);
}

static void test_shares(void **state)
{
    (void)state;
    const double a[] = {1, 2, 3, 4};
    check_shares(a, 4);
    const double b[] = {0, 5, 0, 0.5, 0, 1e-3, 7};
    check_shares(b, 7);
    const double c[] = {42};
    check_shares(c, 1);
    double d[64];
    for (int i = 0; i < 64; i++)
        d[i] = i % 3 == 0 ? 0 : (double)(i % 7) + 0.25;
    check_shares(d, 64);
}

/* Every column, both extremes of the coin: a zero weight never comes out. */
static void test_zero_never_picked_exhaustive(void **state)
{
    (void)state;
    double w[50];
    for (int i = 0; i < 50; i++)
        w[i] = i % 2 ? 0.1 * i : 0; /* weights that do not divide evenly */
    gw_alias *t = NULL;
    assert_int_equal(gw_alias_build(w, 50, &t), 0);
    for (uint64_t col = 0; col < 50; col++) {
        uint64_t hi = ((col << 32) + 49) / 50; /* smallest high word that lands in col */
        const uint64_t coins[] = {0, 1, 0x7fffffff, 0xfffffffe, 0xffffffff};
        for (size_t c = 0; c < 5; c++) {
            size_t k = gw_alias_pick(t, (hi << 32) | coins[c]);
            assert_true(k % 2 == 1);
        }
    }
    gw_alias_free(t);
}

static void test_bad_weights(void **state)
{
    (void)state;
    gw_alias *t = (gw_alias *)1;
    const double zeros[] = {0, 0};
    assert_int_equal(gw_alias_build(zeros, 2, &t), -EINVAL);
    assert_null(t);
    const double neg[] = {1, -1};
    assert_int_equal(gw_alias_build(neg, 2, &t), -EINVAL);
    const double nan[] = {1, NAN};
    assert_int_equal(gw_alias_build(nan, 2, &t), -EINVAL);
    const double inf[] = {1, INFINITY};
    assert_int_equal(gw_alias_build(inf, 2, &t), -EINVAL);
    const double huge[] = {1e308, 1e308}; /* the sum overflows */
    assert_int_equal(gw_alias_build(huge, 2, &t), -EINVAL);
    assert_int_equal(gw_alias_build(zeros, 0, &t), -EINVAL);
    gw_alias_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shares),
        cmocka_unit_test(test_zero_never_picked_exhaustive),
        cmocka_unit_test(test_bad_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
