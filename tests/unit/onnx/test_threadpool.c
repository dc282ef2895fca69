/* The compute thread pool (src/onnx/threadpool.c): every index runs exactly once, empty and
 * single jobs, nested calls, many jobs in a row, a pool of one thread, how work is cut into
 * tasks, and the workers' spin that adapts to how often it catches a job. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "threadpool.h"

typedef struct counts {
    int64_t n;
    _Atomic int *hits;
    onnx_tpool *pool; /* for nested calls, or NULL */
    _Atomic int64_t nested_total;
} counts;

static void count_one(void *arg, int64_t i)
{
    counts *c = arg;
    atomic_fetch_add(&c->hits[i], 1);
}

static void check_once(onnx_tpool *pool, int64_t n)
{
    counts c = {.n = n, .hits = calloc((size_t)n + 1, sizeof(int))};
    assert_non_null(c.hits);
    onnx_tpool_parallel_for(pool, n, count_one, &c);
    for (int64_t i = 0; i < n; i++) assert_int_equal(atomic_load(&c.hits[i]), 1);
    free((void *)c.hits);
}

static void test_every_index_once(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        onnx_tpool *p = onnx_tpool_create(threads);
        assert_non_null(p);
        assert_int_equal(onnx_tpool_threads(p), threads);
        const int64_t sizes[] = {1, 2, 3, 7, 64, 1000};
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) check_once(p, sizes[s]);
        /* many jobs back to back: a worker late for one job must not run the next one's
         * indices twice or miss them */
        for (int r = 0; r < 2000; r++) check_once(p, 1 + r % 9);
        onnx_tpool_free(p);
    }
    check_once(NULL, 10);
    assert_int_equal(onnx_tpool_threads(NULL), 1);
}

static void never_called(void *arg, int64_t i)
{
    (void)arg, (void)i;
    fail_msg("called for an empty range");
}

static void test_zero_size(void **state)
{
    (void)state;
    onnx_tpool *p = onnx_tpool_create(3);
    assert_non_null(p);
    onnx_tpool_parallel_for(p, 0, never_called, NULL);
    onnx_tpool_parallel_for(p, -5, never_called, NULL);
    check_once(p, 5); /* still usable */
    onnx_tpool_free(p);
}

static void nested_outer(void *arg, int64_t i)
{
    counts *c = arg;
    counts inner = {.n = 10, .hits = calloc(11, sizeof(int))};
    assert_non_null(inner.hits);
    onnx_tpool_parallel_for(c->pool, inner.n, count_one, &inner); /* runs inline */
    for (int k = 0; k < 10; k++) assert_int_equal(atomic_load(&inner.hits[k]), 1);
    free((void *)inner.hits);
    atomic_fetch_add(&c->hits[i], 1);
    atomic_fetch_add(&c->nested_total, 10);
}

static void test_nested(void **state)
{
    (void)state;
    onnx_tpool *p = onnx_tpool_create(3);
    assert_non_null(p);
    counts c = {.n = 16, .hits = calloc(17, sizeof(int)), .pool = p};
    assert_non_null(c.hits);
    onnx_tpool_parallel_for(p, c.n, nested_outer, &c);
    for (int i = 0; i < 16; i++) assert_int_equal(atomic_load(&c.hits[i]), 1);
    assert_int_equal(atomic_load(&c.nested_total), 160);
    free((void *)c.hits);
    onnx_tpool_free(p);
}

/* onnx_tpool_tasks: one task below ONNX_TPOOL_MIN_WORK or without workers, one per thread
 * above it, ONNX_TPOOL_TASKS_PER_THREAD per thread for big work, never more than the items;
 * onnx_tpool_range covers the items once. */
static void test_tasks(void **state)
{
    (void)state;
    onnx_tpool *p = onnx_tpool_create(2);
    assert_non_null(p);
    const int64_t w = ONNX_TPOOL_MIN_WORK;
    assert_int_equal(onnx_tpool_tasks(NULL, 1000, 1000 * w), 1);
    assert_int_equal(onnx_tpool_tasks(p, 1000, w - 1), 1);
    assert_int_equal(onnx_tpool_tasks(p, 1, 1000 * w), 1);
    assert_int_equal(onnx_tpool_tasks(p, 1000, w), 2);
    assert_int_equal(onnx_tpool_tasks(p, 1000, 2 * ONNX_TPOOL_TASKS_PER_THREAD * w - 1), 2);
    assert_int_equal(onnx_tpool_tasks(p, 1000, 2 * ONNX_TPOOL_TASKS_PER_THREAD * w),
                     2 * ONNX_TPOOL_TASKS_PER_THREAD);
    assert_int_equal(onnx_tpool_tasks(p, 3, 1000 * w), 3);
    const int tasks = onnx_tpool_tasks(p, 37, 1000 * w);
    int64_t next = 0;
    for (int t = 0; t < tasks; t++) {
        int64_t lo, hi;
        onnx_tpool_range(37, tasks, t, &lo, &hi);
        assert_int_equal(lo, next);
        assert_true(hi > lo);
        next = hi;
    }
    assert_int_equal(next, 37);
    onnx_tpool_free(p);
}

static void test_spin_budget(void **state)
{
    (void)state;
    const int one = ONNX_TPOOL_HIT_ONE;
    assert_int_equal(onnx_tpool_spin_budget(one), ONNX_TPOOL_SPIN_MAX);
    assert_int_equal(onnx_tpool_spin_budget(0), ONNX_TPOOL_SPIN_MIN);
    assert_int_equal(onnx_tpool_spin_budget(2 * one), ONNX_TPOOL_SPIN_MAX);
    assert_int_equal(onnx_tpool_spin_budget(-5), ONNX_TPOOL_SPIN_MIN);
    /* caught every time: stays at the full spin */
    assert_int_equal(onnx_tpool_spin_update(one, 1), one);
    /* one sleep per inference among ~100 caught waits (a quiet machine) keeps most of it */
    int hit = one;
    for (int r = 0; r < 1000; r++) hit = onnx_tpool_spin_update(hit, r % 100 != 0);
    assert_true(onnx_tpool_spin_budget(hit) > ONNX_TPOOL_SPIN_MAX * 9 / 10);
    /* never caught (jobs rarer than the spin): falls all the way, never below 0 */
    int prev = one;
    for (int r = 0; r < 200; r++) {
        hit = onnx_tpool_spin_update(prev, 0);
        assert_true(hit < prev || hit == 0);
        prev = hit;
    }
    assert_int_equal(hit, 0);
    assert_int_equal(onnx_tpool_spin_budget(hit), ONNX_TPOOL_SPIN_MIN);
    /* caught again: climbs back all the way, never above one */
    for (int r = 0; r < 200; r++) {
        hit = onnx_tpool_spin_update(prev, 1);
        assert_true(hit > prev || hit == one);
        prev = hit;
    }
    assert_int_equal(hit, one);
}

/* Jobs further apart than the longest spin: the workers sleep between them, their spin shrinks
 * to the shortest, and every job still runs each index once (the wake-up path each time). */
static void test_sparse_jobs(void **state)
{
    (void)state;
    onnx_tpool *p = onnx_tpool_create(3);
    assert_non_null(p);
    const struct timespec gap = {.tv_sec = 0, .tv_nsec = 300 * 1000}; /* > 4000 pauses */
    for (int r = 0; r < 150; r++) {
        check_once(p, 1 + r % 7);
        nanosleep(&gap, NULL); /* a gap between jobs, not a synchronisation */
    }
    for (int r = 0; r < 500; r++) check_once(p, 1 + r % 5); /* back to back again */
    onnx_tpool_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_index_once), cmocka_unit_test(test_zero_size),
        cmocka_unit_test(test_nested),           cmocka_unit_test(test_tasks),
        cmocka_unit_test(test_spin_budget),      cmocka_unit_test(test_sparse_jobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
