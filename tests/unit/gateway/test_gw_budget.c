/* gw_budget: the retry budget's floor and percentage, the hedge bucket's rate and cap, the
 * backoff's range and overflow safety, and the budget's limit under two racing threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>

#include "gw_budget.h"
#include "gw_rand.h"

static void test_retry_budget(void **state)
{
    (void)state;
    gw_retry_budget b;
    gw_retry_budget_init(&b, GW_RETRY_PERCENT_DEFAULT, GW_RETRY_MIN_DEFAULT);
    /* nothing active: the floor of 3 */
    for (int i = 0; i < 3; i++)
        assert_true(gw_retry_budget_retry_begin(&b));
    assert_false(gw_retry_budget_retry_begin(&b));
    gw_retry_budget_retry_end(&b);
    assert_true(gw_retry_budget_retry_begin(&b));
    for (int i = 0; i < 3; i++)
        gw_retry_budget_retry_end(&b);
    assert_int_equal(gw_retry_budget_retries(&b), 0);
    /* 100 active: 20 */
    for (int i = 0; i < 100; i++)
        gw_retry_budget_request_begin(&b);
    int got = 0;
    while (gw_retry_budget_retry_begin(&b) && got < 1000)
        got++;
    assert_int_equal(got, 20);
    for (int i = 0; i < 100; i++)
        gw_retry_budget_request_end(&b);
    assert_int_equal(gw_retry_budget_active(&b), 0);
    /* an unmatched end does not wrap */
    gw_retry_budget_request_end(&b);
    assert_int_equal(gw_retry_budget_active(&b), 0);
}

typedef struct racer {
    gw_retry_budget *b;
    _Atomic uint32_t *max_seen;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    for (int i = 0; i < 100000; i++) {
        if (!gw_retry_budget_retry_begin(r->b))
            continue;
        uint32_t now = gw_retry_budget_retries(r->b);
        uint32_t max = atomic_load(r->max_seen);
        while (now > max && !atomic_compare_exchange_weak(r->max_seen, &max, now))
            ;
        gw_retry_budget_retry_end(r->b);
    }
    return NULL;
}

static void test_retry_budget_threads(void **state)
{
    (void)state;
    gw_retry_budget b;
    gw_retry_budget_init(&b, 20, 3);
    _Atomic uint32_t max_seen = 0;
    racer r = {&b, &max_seen};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, race, &r), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_true(atomic_load(&max_seen) <= 3);
    assert_int_equal(gw_retry_budget_retries(&b), 0);
}

static void test_hedge_bucket(void **state)
{
    (void)state;
    gw_hedge_bucket h;
    gw_hedge_bucket_init(&h, GW_HEDGE_EARN_MILLI_DEFAULT, GW_HEDGE_CAP_DEFAULT);
    assert_false(gw_hedge_bucket_spend(&h));
    /* 5% of 1000 requests: 50 hedges */
    int hedges = 0;
    for (int i = 0; i < 1000; i++) {
        gw_hedge_bucket_earn(&h);
        hedges += gw_hedge_bucket_spend(&h);
    }
    assert_int_equal(hedges, 50);
    /* idle earning stops at the cap */
    for (int i = 0; i < 100000; i++)
        gw_hedge_bucket_earn(&h);
    assert_true(gw_hedge_bucket_tokens(&h) == 10.0);
    hedges = 0;
    while (gw_hedge_bucket_spend(&h))
        hedges++;
    assert_int_equal(hedges, 10);
}

static void test_backoff(void **state)
{
    (void)state;
    uint64_t rng = 7;
    uint64_t max[4] = {0};
    for (int i = 0; i < 10000; i++)
        for (uint32_t a = 0; a < 4; a++) {
            uint64_t d = gw_backoff_ms(10, 50, a, gw_rand_next(&rng));
            uint64_t ceiling = (10u << a) < 50 ? (10u << a) : 50;
            assert_true(d <= ceiling);
            if (d > max[a])
                max[a] = d;
        }
    /* full jitter reaches the top of its range */
    assert_int_equal(max[0], 10);
    assert_int_equal(max[1], 20);
    assert_int_equal(max[3], 50);
    /* no overflow for absurd attempts or bases */
    assert_true(gw_backoff_ms(10, 1000, 200, UINT64_MAX) <= 1000);
    assert_true(gw_backoff_ms(UINT64_MAX / 3, UINT64_MAX - 1, 5, 12345) == 12345);
    assert_int_equal(gw_backoff_ms(0, 100, 3, 999), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_budget),
        cmocka_unit_test(test_retry_budget_threads),
        cmocka_unit_test(test_hedge_bucket),
        cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
