/* Unit tests of the per-loop job cache (src/node/routes_job_cache.c): a freed block comes back
 * to its own loop only (new blocks zeroed, reused ones as they were put back but for the link), at most keep blocks are kept per loop, out-of-range loops and
 * arguments fall back to plain allocation, and destroy frees what is kept (ASan checks leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "routes_job_cache.h"

#define BLOCK 4096

static int all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return 0;
    return 1;
}

static void test_reuse_is_per_loop_and_not_rewritten(void **state)
{
    (void)state;
    routes_job_cache *c = routes_job_cache_create(2, BLOCK, 4);
    assert_non_null(c);
    unsigned char *a = routes_job_cache_get(c, 0);
    assert_non_null(a);
    assert_true(all_zero(a, BLOCK));
    memset(a, 0xab, BLOCK);
    routes_job_cache_put(c, 0, a);
    /* loop 1 does not get loop 0's block */
    unsigned char *b = routes_job_cache_get(c, 1);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    /* loop 0 does, as it was put back but for the free list's link (zeroed) */
    unsigned char *a2 = routes_job_cache_get(c, 0);
    assert_ptr_equal(a, a2);
    assert_true(all_zero(a2, sizeof(void *)));
    for (size_t i = sizeof(void *); i < BLOCK; i++) assert_int_equal(a2[i], 0xab);
    routes_job_cache_put(c, 0, a2);
    routes_job_cache_put(c, 1, b);
    routes_job_cache_put(c, 1, NULL); /* nothing */
    routes_job_cache_destroy(c);      /* frees the kept a and b */
}

static void test_keeps_at_most_keep(void **state)
{
    (void)state;
    enum { KEEP = 3, N = 8 };
    routes_job_cache *c = routes_job_cache_create(1, BLOCK, KEEP);
    assert_non_null(c);
    void *blocks[N];
    for (int i = 0; i < N; i++) {
        blocks[i] = routes_job_cache_get(c, 0);
        assert_non_null(blocks[i]);
    }
    for (int i = 0; i < N; i++) routes_job_cache_put(c, 0, blocks[i]);
    /* the first KEEP put back are kept (a stack: last kept first out); the rest were freed */
    for (int i = KEEP - 1; i >= 0; i--) {
        void *p = routes_job_cache_get(c, 0);
        assert_ptr_equal(p, blocks[i]);
        blocks[i] = p;
    }
    for (int i = 0; i < KEEP; i++) routes_job_cache_put(c, 0, blocks[i]);
    routes_job_cache_destroy(c);
}

static void test_out_of_range(void **state)
{
    (void)state;
    assert_null(routes_job_cache_create(0, BLOCK, 4));
    assert_null(routes_job_cache_create(-1, BLOCK, 4));
    assert_null(routes_job_cache_create(2, 0, 4));
    assert_null(routes_job_cache_create(2, BLOCK, -1));
    assert_null(routes_job_cache_create(2, SIZE_MAX, 4));
    routes_job_cache_destroy(NULL);

    routes_job_cache *c = routes_job_cache_create(1, BLOCK, 0); /* keeps nothing */
    assert_non_null(c);
    void *p = routes_job_cache_get(c, 0);
    assert_non_null(p);
    routes_job_cache_put(c, 0, p); /* freed at once */
    /* a loop index the cache was not made for: plain calloc and free */
    void *q = routes_job_cache_get(c, 7);
    assert_non_null(q);
    assert_true(all_zero(q, BLOCK));
    routes_job_cache_put(c, 7, q);
    q = routes_job_cache_get(c, -1);
    assert_non_null(q);
    routes_job_cache_put(c, -1, q);
    routes_job_cache_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reuse_is_per_loop_and_not_rewritten),
        cmocka_unit_test(test_keeps_at_most_keep),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
