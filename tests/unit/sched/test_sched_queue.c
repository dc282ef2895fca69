/* Unit tests of the scheduler's per-model request queue: priority first, FIFO within a
 * priority, row accounting, push_front for batches put back, removal from anywhere, expired
 * requests by deadline, and random operations checked against a plain reference. */
#include <setjmp.h>
#include <stdlib.h>
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
    for (int i = 0; i < 5; i++) sched_queue_push(&q, &r[i]);
    assert_int_equal(q.len, 5);
    assert_int_equal(q.rows, 5);
    for (int i = 0; i < 5; i++) assert_ptr_equal(sched_queue_pop(&q), &r[i]);
    assert_null(sched_queue_pop(&q));
    assert_int_equal(q.len, 0);
    assert_int_equal(q.rows, 0);
    sched_queue_destroy(&q);
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
    for (int i = 0; i < 7; i++) assert_int_equal(sched_queue_pop(&q)->id, want[i]);
    assert_null(sched_queue_pop(&q));
    sched_queue_destroy(&q);
}

static void test_priority_classes_interleave(void **state)
{
    (void)state;
    infer_request r[4];
    init_reqs(r, 4);
    sched_queue q;
    sched_queue_init(&q);
    r[0].priority = 3;
    r[1].priority = 1;
    r[2].priority = 2; /* goes between */
    r[3].priority = 1; /* after r[1] */
    for (int i = 0; i < 4; i++) assert_int_equal(sched_queue_push(&q, &r[i]), 0);
    assert_ptr_equal(sched_queue_peek(&q), &r[0]);
    int want[4] = {0, 2, 1, 3};
    for (int i = 0; i < 4; i++) assert_int_equal(sched_queue_pop(&q)->id, want[i]);
    sched_queue_destroy(&q);
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
    for (int i = 0; i < 3; i++) sched_queue_push(&q, &r[i]);
    assert_int_equal(q.rows, 8);
    infer_request *a = sched_queue_pop(&q);
    infer_request *b = sched_queue_pop(&q);
    assert_int_equal(q.rows, 3);
    sched_queue_push_front(&q, b);
    sched_queue_push_front(&q, a);
    assert_int_equal(q.rows, 8);
    assert_int_equal(q.len, 3);
    for (int i = 0; i < 3; i++) assert_ptr_equal(sched_queue_pop(&q), &r[i]);
    sched_queue_destroy(&q);
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
    for (int i = 0; i < 3; i++) assert_int_equal(sched_queue_pop(&q)->id, want[i]);
    sched_queue_destroy(&q);
}

static void test_remove_anywhere(void **state)
{
    (void)state;
    infer_request r[6], other;
    init_reqs(r, 6);
    init_reqs(&other, 1);
    int prio[6] = {0, 3, 0, 3, 1, 0};
    sched_queue q;
    sched_queue_init(&q);
    for (int i = 0; i < 6; i++) {
        r[i].priority = prio[i];
        r[i].deadline_ns = i % 2 ? 100 + i : 0;
        assert_int_equal(sched_queue_push(&q, &r[i]), 0);
    }
    assert_int_equal(sched_queue_remove(&q, &other), 0); /* never queued */
    assert_int_equal(sched_queue_remove(&q, &r[3]), 1);  /* middle of a class */
    assert_int_equal(sched_queue_remove(&q, &r[3]), 0);  /* not twice */
    assert_int_equal(sched_queue_remove(&q, &r[0]), 1);
    assert_int_equal(q.len, 4);
    assert_int_equal(q.rows, 4);
    int want[4] = {1, 4, 2, 5};
    for (int i = 0; i < 4; i++) assert_int_equal(sched_queue_pop(&q)->id, want[i]);
    assert_int_equal(sched_queue_remove(&q, &r[1]), 0); /* popped */
    assert_null(sched_queue_pop_expired(&q, INT64_MAX));
    sched_queue_destroy(&q);
}

static void test_expired_by_deadline(void **state)
{
    (void)state;
    infer_request r[5];
    init_reqs(r, 5);
    int64_t dl[5] = {50, 0, 10, 30, 20};
    sched_queue q;
    sched_queue_init(&q);
    for (int i = 0; i < 5; i++) {
        r[i].deadline_ns = dl[i];
        assert_int_equal(sched_queue_push(&q, &r[i]), 0);
    }
    assert_null(sched_queue_pop_expired(&q, 9));
    assert_ptr_equal(sched_queue_pop_expired(&q, 25), &r[2]);
    assert_ptr_equal(sched_queue_pop_expired(&q, 25), &r[4]);
    assert_null(sched_queue_pop_expired(&q, 25));
    assert_int_equal(q.len, 3);
    /* The priority order of what is left is untouched. */
    assert_ptr_equal(sched_queue_pop(&q), &r[0]);
    assert_ptr_equal(sched_queue_pop_expired(&q, 1000), &r[3]);
    assert_ptr_equal(sched_queue_pop(&q), &r[1]); /* no deadline: never expires */
    assert_null(sched_queue_pop(&q));
    sched_queue_destroy(&q);
}

/* Random pushes, push_fronts, pops, removals and expiries on a large queue, checked after
 * every step against a reference list kept in the order the queue must follow. */
#define RAND_N 3000
static infer_request g_pool[RAND_N];
static infer_request *g_ref[RAND_N];
static int g_ref_len;

static int ref_before(const infer_request *a, const infer_request *b)
{
    return a->priority != b->priority ? a->priority > b->priority : a->queue_seq < b->queue_seq;
}

static void ref_insert(infer_request *r)
{
    int i = g_ref_len++;
    while (i > 0 && ref_before(r, g_ref[i - 1])) {
        g_ref[i] = g_ref[i - 1];
        i--;
    }
    g_ref[i] = r;
}

static void ref_remove(const infer_request *r)
{
    for (int i = 0; i < g_ref_len; i++)
        if (g_ref[i] == r) {
            for (int j = i; j + 1 < g_ref_len; j++) g_ref[j] = g_ref[j + 1];
            g_ref_len--;
            return;
        }
    fail_msg("reference lost a request");
}

static void test_random_against_reference(void **state)
{
    (void)state;
    srand(12345);
    init_reqs(g_pool, RAND_N);
    int queued[RAND_N] = {0};
    g_ref_len = 0;
    sched_queue q;
    sched_queue_init(&q);
    int64_t rows = 0;
    for (int step = 0; step < 40000; step++) {
        int op = rand() % 10;
        int i = rand() % RAND_N;
        infer_request *r = &g_pool[i];
        if (op < 5 && !queued[i]) {
            r->priority = rand() % 7 - 3;
            r->batch_rows = rand() % 4;
            r->deadline_ns = rand() % 3 ? 0 : 1 + rand() % 1000;
            if (op == 0) assert_int_equal(sched_queue_push_front(&q, r), 0);
            else assert_int_equal(sched_queue_push(&q, r), 0);
            ref_insert(r);
            queued[i] = 1;
            rows += sched_queue_req_rows(r);
        } else if (op < 7) {
            infer_request *p = sched_queue_pop(&q);
            if (g_ref_len == 0) {
                assert_null(p);
                continue;
            }
            assert_ptr_equal(p, g_ref[0]);
            ref_remove(p);
            queued[p - g_pool] = 0;
            rows -= sched_queue_req_rows(p);
        } else if (op < 9) {
            assert_int_equal(sched_queue_remove(&q, r), queued[i]);
            if (queued[i]) {
                ref_remove(r);
                queued[i] = 0;
                rows -= sched_queue_req_rows(r);
            }
        } else {
            int64_t now = rand() % 200;
            infer_request *p;
            while ((p = sched_queue_pop_expired(&q, now))) {
                assert_true(p->deadline_ns > 0 && p->deadline_ns <= now);
                ref_remove(p);
                queued[p - g_pool] = 0;
                rows -= sched_queue_req_rows(p);
            }
            for (int k = 0; k < g_ref_len; k++)
                assert_false(g_ref[k]->deadline_ns > 0 && g_ref[k]->deadline_ns <= now);
        }
        assert_int_equal(q.len, g_ref_len);
        assert_int_equal(q.rows, rows);
        assert_ptr_equal(sched_queue_peek(&q), g_ref_len ? g_ref[0] : NULL);
    }
    sched_queue_destroy(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_same_priority),
        cmocka_unit_test(test_priority_then_fifo),
        cmocka_unit_test(test_priority_classes_interleave),
        cmocka_unit_test(test_rows_and_push_front),
        cmocka_unit_test(test_push_front_respects_priority),
        cmocka_unit_test(test_remove_anywhere),
        cmocka_unit_test(test_expired_by_deadline),
        cmocka_unit_test(test_random_against_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
