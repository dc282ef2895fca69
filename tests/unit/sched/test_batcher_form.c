/* Unit tests of the dynamic batcher's pure logic: batch formation (rows limit, priority
 * order, expired requests dropped), the dispatch decision and output-area sizing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "batcher.h"

#define MS 1000000LL

static void init_reqs(infer_request *r, int n)
{
    memset(r, 0, sizeof(*r) * (size_t)n);
    for (int i = 0; i < n; i++) {
        r[i].id = (uint64_t)i;
        r[i].batch_rows = 1;
    }
}

static int list_len(infer_request *l)
{
    int n = 0;
    for (; l; l = l->next) n++;
    return n;
}

static void test_rows_limit(void **state)
{
    (void)state;
    infer_request r[6];
    init_reqs(r, 6);
    int64_t rows[6] = {3, 2, 4, 1, 8, 1};
    sched_queue q;
    sched_queue_init(&q);
    for (int i = 0; i < 6; i++) {
        r[i].batch_rows = rows[i];
        sched_queue_push(&q, &r[i]);
    }
    infer_request *out[16], *expired = NULL;
    /* 3 + 2 fit in 6, 4 does not: stop there (order is kept, nothing skipped) */
    int n = batcher_form(&q, 6, 16, 1000, out, &expired);
    assert_int_equal(n, 2);
    assert_ptr_equal(out[0], &r[0]);
    assert_ptr_equal(out[1], &r[1]);
    n = batcher_form(&q, 6, 16, 1000, out, &expired);
    assert_int_equal(n, 2); /* 4 + 1 */
    assert_ptr_equal(out[0], &r[2]);
    assert_ptr_equal(out[1], &r[3]);
    /* a request larger than the limit still goes, alone */
    n = batcher_form(&q, 6, 16, 1000, out, &expired);
    assert_int_equal(n, 1);
    assert_ptr_equal(out[0], &r[4]);
    n = batcher_form(&q, 6, 16, 1000, out, &expired);
    assert_int_equal(n, 1);
    assert_int_equal(q.len, 0);
    assert_null(expired);
    sched_queue_destroy(&q);
}

static void test_max_requests_and_priority(void **state)
{
    (void)state;
    infer_request r[10];
    init_reqs(r, 10);
    sched_queue q;
    sched_queue_init(&q);
    for (int i = 0; i < 10; i++) {
        r[i].priority = i == 7 ? 5 : 0;
        sched_queue_push(&q, &r[i]);
    }
    infer_request *out[16], *expired = NULL;
    int n = batcher_form(&q, 100, 4, 1000, out, &expired);
    assert_int_equal(n, 4);
    assert_ptr_equal(out[0], &r[7]); /* highest priority first */
    assert_ptr_equal(out[1], &r[0]);
    assert_ptr_equal(out[3], &r[2]);
    assert_int_equal(q.len, 6);
    sched_queue_destroy(&q);
}

static void test_expired_dropped(void **state)
{
    (void)state;
    infer_request r[5];
    init_reqs(r, 5);
    int64_t now = 1000 * MS;
    r[0].deadline_ns = now - 1;  /* passed */
    r[1].deadline_ns = now + MS; /* alive */
    r[2].deadline_ns = now;      /* passes exactly now */
    r[3].deadline_ns = 0;        /* none */
    r[4].deadline_ns = 1;        /* long gone */
    sched_queue q;
    sched_queue_init(&q);
    for (int i = 0; i < 5; i++) sched_queue_push(&q, &r[i]);
    infer_request *out[16], *expired = NULL;
    int n = batcher_form(&q, 64, 16, now, out, &expired);
    assert_int_equal(n, 2);
    assert_ptr_equal(out[0], &r[1]);
    assert_ptr_equal(out[1], &r[3]);
    assert_int_equal(list_len(expired), 3);
    assert_int_equal(q.len, 0);
    assert_int_equal(q.rows, 0);
    sched_queue_destroy(&q);
}

static void test_all_expired(void **state)
{
    (void)state;
    infer_request r[2];
    init_reqs(r, 2);
    r[0].deadline_ns = r[1].deadline_ns = 5;
    sched_queue q;
    sched_queue_init(&q);
    sched_queue_push(&q, &r[0]);
    sched_queue_push(&q, &r[1]);
    infer_request *out[4], *expired = NULL;
    assert_int_equal(batcher_form(&q, 8, 4, 10, out, &expired), 0);
    assert_int_equal(list_len(expired), 2);
    sched_queue_destroy(&q);
}

static void test_should_dispatch(void **state)
{
    (void)state;
    int64_t now = 100 * MS;
    /* empty queue: never */
    assert_false(batcher_should_dispatch(0, 8, now, now, 0, 1, 0));
    /* idle worker, ring empty: at once (work-conserving), even with a delay configured */
    assert_true(batcher_should_dispatch(1, 8, now, now, 5000, 1, 0));
    /* no idle worker, one batch already waiting in the ring: keep the ring shallow */
    assert_false(batcher_should_dispatch(8, 8, now - 10 * MS, now, 0, 0, 1));
    /* two idle workers: up to two batches may wait in the ring (+1) */
    assert_true(batcher_should_dispatch(1, 8, now, now, 0, 2, 2));
    assert_false(batcher_should_dispatch(1, 8, now, now, 0, 2, 3));
    /* busy workers, ring empty, delay 5 ms: wait for a fuller batch ... */
    assert_false(batcher_should_dispatch(3, 8, now - 1 * MS, now, 5000, 0, 0));
    /* ... unless it is full ... */
    assert_true(batcher_should_dispatch(8, 8, now - 1 * MS, now, 5000, 0, 0));
    /* ... or the oldest waited long enough */
    assert_true(batcher_should_dispatch(3, 8, now - 5 * MS, now, 5000, 0, 0));
    /* no delay configured: go */
    assert_true(batcher_should_dispatch(1, 8, now, now, 0, 0, 0));
}

static void test_output_estimate(void **state)
{
    (void)state;
    model_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.max_batch_size = 8;
    cfg.n_inputs = cfg.n_outputs = 1;
    cfg.inputs[0].dtype = INFERD_DTYPE_FP32;
    cfg.inputs[0].ndim = 1;
    cfg.inputs[0].dims[0] = 10;
    cfg.outputs[0] = cfg.inputs[0];
    infer_request req;
    memset(&req, 0, sizeof(req));
    req.batch_rows = 3;
    req.n_inputs = 1;
    req.inputs[0].dtype = INFERD_DTYPE_FP32;
    req.inputs[0].ndim = 2;
    req.inputs[0].dims[0] = 3;
    req.inputs[0].dims[1] = 10;
    req.inputs[0].nbytes = 120;
    uint64_t bytes = 0;
    assert_int_equal(batcher_output_estimate(&cfg, &req, 0, &bytes), 0);
    assert_int_equal(bytes, 3 * 10 * 4); /* exact: every dim known */

    cfg.outputs[0].dims[0] = -1; /* variable: estimate from the inputs */
    assert_int_equal(batcher_output_estimate(&cfg, &req, 0, &bytes), 0);
    assert_int_equal(bytes, 120 * 2 + 4096);

    cfg.outputs[0].dtype = INFERD_DTYPE_BYTES; /* reverse-like strings */
    req.inputs[0].dtype = INFERD_DTYPE_BYTES;
    req.inputs[0].ndim = 2;
    req.inputs[0].dims[1] = 1;
    req.inputs[0].nbytes = 3 * (4 + 5);
    assert_int_equal(batcher_output_estimate(&cfg, &req, 0, &bytes), 0);
    /* each element "abcde" -> 4 + 18 + 5 bytes: the estimate must hold them */
    assert_true(bytes >= 3 * (4 + 18 + 5));

    cfg.outputs[0].dtype = INFERD_DTYPE_FP32;
    cfg.outputs[0].dims[0] = INT64_MAX / 2; /* overflow is an error, not a wrap */
    assert_int_equal(batcher_output_estimate(&cfg, &req, 0, &bytes), -1);
    assert_int_equal(batcher_max_rows(&cfg), 8);
    cfg.max_batch_size = 0;
    assert_int_equal(batcher_max_rows(&cfg), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_limit),      cmocka_unit_test(test_max_requests_and_priority),
        cmocka_unit_test(test_expired_dropped), cmocka_unit_test(test_all_expired),
        cmocka_unit_test(test_should_dispatch), cmocka_unit_test(test_output_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
