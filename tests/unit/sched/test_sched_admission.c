/* Unit tests of admission control: queue bound (429), load shedding when the predicted wait
 * exceeds the time left (429), deadline already passed (504), no worker / draining (503),
 * and the throughput estimator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "admission.h"

#define MS  1000000LL
#define SEC 1000000000LL

static admission_input base(void)
{
    admission_input in;
    memset(&in, 0, sizeof(in));
    in.now_ns = 100 * SEC;
    in.req_rows = 1;
    in.max_queue_size = 10;
    in.live_workers = 1;
    return in;
}

static void test_admits_normal(void **state)
{
    (void)state;
    admission_input in = base();
    in.deadline_ns = in.now_ns + 5 * SEC;
    in.queue_len = 3;
    in.queue_rows = 3;
    in.rate_rows_per_s = 100;
    char err[128];
    int retry = -1;
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 0);
    assert_int_equal(retry, 0);
}

static void test_queue_full(void **state)
{
    (void)state;
    admission_input in = base();
    in.queue_len = 10;
    in.queue_rows = 10;
    char err[128];
    int retry = 0;
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 429);
    assert_true(retry >= 1);
    assert_non_null(strstr(err, "queue full"));
    in.max_queue_size = 0; /* unbounded */
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 0);
}

static void test_shed_predicted_wait(void **state)
{
    (void)state;
    admission_input in = base();
    in.max_queue_size = 1000;
    in.queue_len = 500;
    in.queue_rows = 500;
    in.rate_rows_per_s = 100; /* 5 s of work queued */
    in.deadline_ns = in.now_ns + 1 * SEC;
    char err[128];
    int retry = 0;
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 429);
    assert_int_equal(retry, 6);            /* ceil(501 / 100) */
    in.deadline_ns = in.now_ns + 10 * SEC; /* enough time left */
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 0);
    in.deadline_ns = 0; /* no deadline: never shed */
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 0);
    in.deadline_ns = in.now_ns + 1 * SEC;
    in.rate_rows_per_s = 0; /* unknown throughput: no prediction, admit */
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 0);
}

static void test_deadline_passed(void **state)
{
    (void)state;
    admission_input in = base();
    in.deadline_ns = in.now_ns - 1;
    char err[128];
    int retry = 0;
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 504);
    in.deadline_ns = in.now_ns;
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 504);
}

static void test_no_worker_and_draining(void **state)
{
    (void)state;
    admission_input in = base();
    in.live_workers = 0;
    char err[128];
    int retry = 0;
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 503);
    assert_true(retry >= 1);
    in.starting_workers = 1; /* one is coming: wait for it */
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 0);
    in.live_workers = 2;
    in.draining = 1;
    assert_int_equal(admission_decide(&in, &retry, err, sizeof(err)), 503);
    assert_non_null(strstr(err, "shutting down"));
}

static void test_rate_estimator(void **state)
{
    (void)state;
    admission_rate r;
    memset(&r, 0, sizeof(r));
    int64_t t = 10 * SEC;
    admission_rate_tick(&r, t, 1, 250 * MS);
    admission_rate_add(&r, 50);
    admission_rate_tick(&r, t + 100 * MS, 1, 250 * MS); /* window not over yet */
    assert_true(r.rows_per_s == 0);
    admission_rate_add(&r, 50);
    admission_rate_tick(&r, t + 500 * MS, 1, 250 * MS); /* 100 rows in 0.5 s */
    assert_true(r.rows_per_s > 199.0 && r.rows_per_s < 201.0);
    /* An idle window says nothing about capacity. */
    admission_rate_tick(&r, t + 1000 * MS, 0, 250 * MS);
    admission_rate_add(&r, 1);
    admission_rate_tick(&r, t + 1500 * MS, 0, 250 * MS);
    assert_true(r.rows_per_s > 199.0 && r.rows_per_s < 201.0);
    /* A busy window moves the average toward the new rate. */
    admission_rate_tick(&r, t + 2000 * MS, 1, 250 * MS);
    admission_rate_add(&r, 500);
    admission_rate_tick(&r, t + 2500 * MS, 1, 250 * MS);
    assert_true(r.rows_per_s > 200.0 && r.rows_per_s < 1000.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admits_normal),          cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_shed_predicted_wait),    cmocka_unit_test(test_deadline_passed),
        cmocka_unit_test(test_no_worker_and_draining), cmocka_unit_test(test_rate_estimator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
