/* Unit tests of the scheduler's metrics arithmetic (sched_metrics.c): bucket placement at and
 * around the bounds, the +Inf bucket, quantiles as Prometheus estimates them, and the mapping
 * of answer statuses to outcomes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/scheduler.h"

static void test_bucket_edges(void **state)
{
    (void)state;
    sched_hist h;
    memset(&h, 0, sizeof(h));
    const int64_t *b;
    int n = sched_hist_bounds(SCHED_HIST_BATCH_ROWS, &b);
    assert_true(n > 3 && n <= SCHED_HIST_MAX_BOUNDS);
    for (int i = 1; i < n; i++) assert_true(b[i] > b[i - 1]);
    sched_hist_add(&h, SCHED_HIST_BATCH_ROWS, 1);            /* == first bound: first bucket */
    sched_hist_add(&h, SCHED_HIST_BATCH_ROWS, 2);            /* == second bound */
    sched_hist_add(&h, SCHED_HIST_BATCH_ROWS, 3);            /* between: the next one up */
    sched_hist_add(&h, SCHED_HIST_BATCH_ROWS, -5);           /* negative counts as 0 */
    sched_hist_add(&h, SCHED_HIST_BATCH_ROWS, b[n - 1] + 1); /* +Inf */
    assert_int_equal(h.counts[0], 2);
    assert_int_equal(h.counts[1], 1);
    assert_int_equal(h.counts[2], 1);
    assert_int_equal(h.counts[n], 1);
    assert_int_equal(h.count, 5);
    assert_int_equal(h.sum, 1 + 2 + 3 + 0 + (uint64_t)b[n - 1] + 1);
    uint64_t total = 0;
    for (int i = 0; i <= n; i++) total += h.counts[i];
    assert_int_equal(total, h.count);
}

static void test_quantiles(void **state)
{
    (void)state;
    sched_hist h;
    memset(&h, 0, sizeof(h));
    assert_true(sched_hist_quantile(&h, SCHED_HIST_REQUEST, 0.5) == 0.0);
    const int64_t *b;
    int n = sched_hist_bounds(SCHED_HIST_REQUEST, &b);
    /* 100 observations in the bucket (b[3], b[4]]: the median interpolates to its middle */
    for (int i = 0; i < 100; i++) sched_hist_add(&h, SCHED_HIST_REQUEST, b[3] + 1);
    double p50 = sched_hist_quantile(&h, SCHED_HIST_REQUEST, 0.5);
    assert_true(p50 > (double)b[3] && p50 < (double)b[4]);
    assert_true(p50 > (double)b[3] + 0.49 * (double)(b[4] - b[3]) &&
                p50 < (double)b[3] + 0.51 * (double)(b[4] - b[3]));
    assert_true(sched_hist_quantile(&h, SCHED_HIST_REQUEST, 1.0) == (double)b[4]);
    /* one slow outlier in +Inf: p99 stays in the bucket, p100 reports the largest bound */
    sched_hist_add(&h, SCHED_HIST_REQUEST, b[n - 1] * 10);
    assert_true(sched_hist_quantile(&h, SCHED_HIST_REQUEST, 0.99) <= (double)b[4]);
    assert_true(sched_hist_quantile(&h, SCHED_HIST_REQUEST, 1.0) == (double)b[n - 1]);
    /* out-of-range q is clamped, an unknown kind has no buckets */
    assert_true(sched_hist_quantile(&h, SCHED_HIST_REQUEST, -1) >= 0.0);
    assert_int_equal(sched_hist_bounds(SCHED_HIST_N, &b), 0);
    assert_null(b);
}

static void test_outcomes(void **state)
{
    (void)state;
    assert_int_equal(sched_outcome_of_status(0), SCHED_OUTCOME_SUCCESS);
    assert_int_equal(sched_outcome_of_status(400), SCHED_OUTCOME_BAD_REQUEST);
    assert_int_equal(sched_outcome_of_status(429), SCHED_OUTCOME_REJECTED_429);
    assert_int_equal(sched_outcome_of_status(503), SCHED_OUTCOME_REJECTED_503);
    assert_int_equal(sched_outcome_of_status(504), SCHED_OUTCOME_TIMEOUT);
    assert_int_equal(sched_outcome_of_status(499), SCHED_OUTCOME_CANCELLED);
    assert_int_equal(sched_outcome_of_status(500), SCHED_OUTCOME_WORKER_FAILURE);
    assert_int_equal(sched_outcome_of_status(413), SCHED_OUTCOME_BAD_REQUEST);
    assert_int_equal(sched_outcome_of_status(502), SCHED_OUTCOME_WORKER_FAILURE);
    for (int o = 0; o < SCHED_OUTCOME_N; o++) {
        const char *name = sched_outcome_name(o);
        assert_string_not_equal(name, "unknown");
        for (int k = 0; k < o; k++) assert_string_not_equal(name, sched_outcome_name(k));
    }
    assert_string_equal(sched_outcome_name(SCHED_OUTCOME_N), "unknown");
    assert_string_equal(sched_outcome_name(-1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_quantiles),
        cmocka_unit_test(test_outcomes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
