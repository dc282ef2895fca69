/* The worker's adaptive poll budget: a fresh worker polls, short gaps keep it polling (about
 * twice the gap), gaps of a loaded worker keep the full poll, the long gaps of a mostly idle
 * worker turn polling off, and short gaps turn it back on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker_spin.h"

static void record_n(worker_spin *s, int64_t gap, int n)
{
    for (int i = 0; i < n; i++) worker_spin_record(s, gap);
}

static void test_fresh_worker_polls(void **st)
{
    (void)st;
    worker_spin s;
    worker_spin_init(&s);
    assert_true(worker_spin_budget(&s) > 0);
    assert_true(worker_spin_budget(&s) <= WORKER_SPIN_MAX_NS);
}

static void test_short_gaps_poll_about_twice_the_gap(void **st)
{
    (void)st;
    worker_spin s;
    worker_spin_init(&s);
    record_n(&s, 5000, 64);
    int64_t b = worker_spin_budget(&s);
    assert_true(b >= 10000);
    assert_true(b < 20000);
}

static void test_loaded_gaps_keep_the_full_poll(void **st)
{
    (void)st;
    worker_spin s;
    worker_spin_init(&s);
    record_n(&s, 60000, 64); /* batches every ~60 µs: some polls catch the next one */
    assert_int_equal(worker_spin_budget(&s), WORKER_SPIN_MAX_NS);
    record_n(&s, 300000, 64); /* a batch every 300 µs: the poll would never catch it */
    assert_int_equal(worker_spin_budget(&s), 0);
}

static void test_long_gaps_stop_polling_and_short_ones_resume_it(void **st)
{
    (void)st;
    worker_spin s;
    worker_spin_init(&s);
    record_n(&s, 1000000000, 32); /* idle model: a batch now and then */
    assert_int_equal(worker_spin_budget(&s), 0);
    record_n(&s, 1000, 64); /* load arrives: batches back to back */
    assert_true(worker_spin_budget(&s) > 0);
}

static void test_budget_never_exceeds_max_and_negative_gaps_count_as_zero(void **st)
{
    (void)st;
    worker_spin s;
    worker_spin_init(&s);
    for (int64_t g = -5; g < 3 * WORKER_SPIN_MAX_NS; g += 997) {
        worker_spin_record(&s, g);
        assert_true(worker_spin_budget(&s) >= 0);
        assert_true(worker_spin_budget(&s) <= WORKER_SPIN_MAX_NS);
    }
    record_n(&s, -1000000, 64);
    assert_true(worker_spin_budget(&s) > 0);
    assert_true(worker_spin_budget(&s) < 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_worker_polls),
        cmocka_unit_test(test_short_gaps_poll_about_twice_the_gap),
        cmocka_unit_test(test_loaded_gaps_keep_the_full_poll),
        cmocka_unit_test(test_long_gaps_stop_polling_and_short_ones_resume_it),
        cmocka_unit_test(test_budget_never_exceeds_max_and_negative_gaps_count_as_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
