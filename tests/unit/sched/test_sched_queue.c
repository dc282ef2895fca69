/* Unit tests of the scheduler's per-model request queue: priority first, FIFO within a
 * priority, row accounting, push_front for batches put back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler_queue.h"

static void init_reqs(infer_request *r, int n)
{
    memset(r, 0, sizeof(*r) * (size_t)n);
    for (int i = 0; i < n; i++) {
        r[i].id = (uint64_t)i;
        r[i].batch_rows = 1;
    }
}

static void test_fifo_same_priority(void **state)
{
    (void)state;
    infer_request r[5];
    init_reqs(r, 5);
    sched_queue q;
    sched_queue_init(&q);
    for (int i = 0; i < 5; i++)
        sched_queue_push(&q, &r[i]);
    assert_int_equal(q.len, 5);
    assert_int_equal(q.rows, 5);
    for (int i = 0; i < 5; i++)
        assert_ptr_equal(sched_queue_pop(&q), &r[i]);
    assert_null(sched_queue_pop(&q));
    assert_int_equal(q.len, 0);
    assert_int_equal(q.rows, 0);
    assert_null(q.tail);
}

static void test_priority_then_fifo(void **state)
{
    (void)state;
    infer_request r[7];
    init_reqs(r, 7);
    int prio[7] = {0, 5, 0, 5, 10, -1, 5};
    sched_queue q;
    sched_queue_init(&q);
    for (int i = 0; i < 7; i++) {
        r[i].priority = prio[i];
        sched_queue_push(&q, &r[i]);
    }
    int want[7] = {4, 1, 3, 6, 0, 2, 5};
    for (int i = 0; i < 7; i++)
        assert_int_equal(sched_queue_pop(&q)->id, want[i]);
    assert_null(sched_queue_pop(&q));
}

static void test_tail_tracks_inserts(void **state)
{
    (void)state;
    infer_request r[4];
    init_reqs(r, 4);
    sched_queue q;
    sched_queue_init(&q);
    r[0].priority = 3;
    r[1].priority = 1;
    r[2].priority = 2; /* goes between: tail stays r[1] */
    r[3].priority = 1; /* appended after r[1] */
    for (int i = 0; i < 4; i++)
        sched_queue_push(&q, &r[i]);
    assert_ptr_equal(q.tail, &r[3]);
    int want[4] = {0, 2, 1, 3};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sched_queue_pop(&q)->id, want[i]);
}

static void test_rows_and_push_front(void **state)
{
    (void)state;
    infer_request r[3];
    init_reqs(r, 3);
    r[0].batch_rows = 4;
    r[1].batch_rows = 0; /* counts as 1 */
    r[2].batch_rows = 3;
    sched_queue q;
    sched_queue_init(&q);
    for (int i = 0; i < 3; i++)
        sched_queue_push(&q, &r[i]);
    assert_int_equal(q.rows, 8);
    infer_request *a = sched_queue_pop(&q);
    infer_request *b = sched_queue_pop(&q);
    assert_int_equal(q.rows, 3);
    sched_queue_push_front(&q, b);
    sched_queue_push_front(&q, a);
    assert_int_equal(q.rows, 8);
    assert_int_equal(q.len, 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(sched_queue_pop(&q), &r[i]);
}

static void test_push_front_respects_priority(void **state)
{
    (void)state;
    infer_request r[3];
    init_reqs(r, 3);
    r[0].priority = 9;
    r[1].priority = 0;
    r[2].priority = 1; /* put back: after the higher priority head, before lower ones */
    sched_queue q;
    sched_queue_init(&q);
    sched_queue_push(&q, &r[0]);
    sched_queue_push(&q, &r[1]);
    sched_queue_push_front(&q, &r[2]);
    int want[3] = {0, 2, 1};
    for (int i = 0; i < 3; i++)
        assert_int_equal(sched_queue_pop(&q)->id, want[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_same_priority),
        cmocka_unit_test(test_priority_then_fifo),
        cmocka_unit_test(test_tail_tracks_inserts),
        cmocka_unit_test(test_rows_and_push_front),
        cmocka_unit_test(test_push_front_respects_priority),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
