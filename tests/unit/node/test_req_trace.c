/* Unit tests of the per-stage request trace (src/node/req_trace.c): a complete trace counts
 * once in every stage and its stages add up to its total, also when stamps are out of order
 * (clamped); an incomplete one counts nowhere; shards are summed; the buckets are the
 * scheduler's SCHED_HIST_STAGE ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "req_trace.h"

#define US 1000LL

static void stamps_from(int64_t *t, const int64_t *gaps_us)
{
    t[0] = 1000000 * US; /* any positive start */
    for (int i = 1; i < INFER_TP_N; i++) t[i] = t[i - 1] + gaps_us[i - 1] * US;
}

static void test_stages_add_up(void **state)
{
    (void)state;
    req_trace *t = req_trace_create(2, 0);
    assert_non_null(t);
    static const int64_t gaps[REQ_STAGE_TOTAL] = {3, 40, 20, 7, 30, 2000, 5};
    int64_t st[INFER_TP_N];
    stamps_from(st, gaps);
    req_trace_record(t, 0, "m", st);
    req_trace_record(t, 1, "m", st);
    req_trace_record(t, 7, "m", st); /* modulo the shard count */
    sched_hist h[REQ_STAGE_N];
    req_trace_snapshot(t, h);
    uint64_t parts = 0;
    for (int s = 0; s < REQ_STAGE_TOTAL; s++) {
        assert_int_equal(h[s].count, 3);
        assert_int_equal(h[s].sum, 3 * gaps[s] * US);
        parts += h[s].sum;
    }
    assert_int_equal(h[REQ_STAGE_TOTAL].count, 3);
    assert_int_equal(h[REQ_STAGE_TOTAL].sum, parts);
    /* 2 ms of deliver: in the (1 ms, 2.5 ms] bucket */
    const int64_t *b;
    int nb = sched_hist_bounds(SCHED_HIST_STAGE, &b);
    int i = 0;
    while (i < nb && b[i] < 2000 * US) i++;
    assert_int_equal(h[REQ_STAGE_DELIVER].counts[i], 3);
    assert_true(sched_hist_quantile(&h[REQ_STAGE_DELIVER], SCHED_HIST_STAGE, 0.5) > 1000 * US);
    req_trace_destroy(t);
}

static void test_out_of_order_clamped(void **state)
{
    (void)state;
    req_trace *t = req_trace_create(1, 0);
    static const int64_t gaps[REQ_STAGE_TOTAL] = {3, 40, 20, 7, 30, 200, 5};
    int64_t st[INFER_TP_N];
    stamps_from(st, gaps);
    st[INFER_TP_CLAIMED] = st[INFER_TP_ARRIVED] - 5 * US; /* before the dispatch */
    req_trace_record(t, 0, "m", st);
    sched_hist h[REQ_STAGE_N];
    req_trace_snapshot(t, h);
    uint64_t parts = 0;
    for (int s = 0; s < REQ_STAGE_TOTAL; s++) {
        assert_int_equal(h[s].count, 1);
        parts += h[s].sum;
    }
    assert_int_equal(h[REQ_STAGE_WAKE].sum, 0);
    assert_int_equal(h[REQ_STAGE_TOTAL].sum, parts);
    req_trace_destroy(t);
}

static void test_incomplete_not_counted(void **state)
{
    (void)state;
    req_trace *t = req_trace_create(1, 1);
    static const int64_t gaps[REQ_STAGE_TOTAL] = {3, 40, 20, 7, 30, 200, 5};
    int64_t st[INFER_TP_N];
    stamps_from(st, gaps);
    st[INFER_TP_DISPATCHED] = 0; /* answered from the cache, refused, failed */
    req_trace_record(t, 0, "m", st);
    sched_hist h[REQ_STAGE_N];
    req_trace_snapshot(t, h);
    for (int s = 0; s < REQ_STAGE_N; s++) assert_int_equal(h[s].count, 0);
    assert_string_equal(req_trace_stage_name(REQ_STAGE_DELIVER), "deliver");
    assert_string_equal(req_trace_stage_name(REQ_STAGE_N), "unknown");
    req_trace_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stages_add_up),
        cmocka_unit_test(test_out_of_order_clamped),
        cmocka_unit_test(test_incomplete_not_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
