/* gw_ring: spread, key movement on scale out/in, bounded load, weights, filter, iterator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <cmocka.h>

#include "gw_ring.h"

#define KEYS 100000

static char names[64][32];

static gw_ring *ring_of(size_t n, size_t first, const uint32_t *weights)
{
    gw_ring_member m[64];
    for (size_t i = 0; i < n; i++) {
        snprintf(names[first + i], sizeof names[0], "10.0.0.%zu:8000", first + i + 1);
        m[i] = (gw_ring_member){.id = (uint32_t)(first + i), .name = names[first + i],
                                .weight = weights ? weights[i] : 1};
    }
    gw_ring *r = NULL;
    assert_int_equal(gw_ring_build(m, n, 0, &r), 0);
    return r;
}

static uint64_t key_hash(size_t k)
{
    char key[32];
    int len = snprintf(key, sizeof key, "model-%zu", k);
    return gw_ring_hash(key, (size_t)len);
}

/* the id (not index) a key goes to, all members accepted, no bounding */
static uint32_t owner(const gw_ring *r, size_t k)
{
    long i = gw_ring_pick(r, key_hash(k), NULL, NULL, NULL, 0);
    assert_true(i >= 0);
    return gw_ring_member_id(r, (size_t)i);
}

static void test_spread(void **state)
{
    (void)state;
    gw_ring *r = ring_of(10, 0, NULL);
    assert_int_equal(gw_ring_places(r), 10 * GW_RING_VNODES_DEFAULT);
    size_t count[10] = {0};
    for (size_t k = 0; k < KEYS; k++)
        count[owner(r, k)]++;
    for (size_t i = 0; i < 10; i++) {
        /* 160 places each: every share within 25% of the mean */
        assert_true(count[i] > KEYS / 10 * 3 / 4);
        assert_true(count[i] < KEYS / 10 * 5 / 4);
    }
    gw_ring_free(r);
}

static void test_scale_out_moves_about_one_nth(void **state)
{
    (void)state;
    for (size_t n = 3; n <= 12; n += 3) {
        gw_ring *before = ring_of(n, 0, NULL), *after = ring_of(n + 1, 0, NULL);
        size_t moved = 0;
        for (size_t k = 0; k < KEYS; k++) {
            uint32_t a = owner(before, k), b = owner(after, k);
            if (a != b) {
                moved++;
                assert_int_equal(b, n); /* only to the new node */
            }
        }
        double frac = (double)moved / KEYS;
        assert_true(frac <= 1.0 / (double)(n + 1) + 0.05);
        assert_true(frac >= 1.0 / (double)(n + 1) - 0.05);
        gw_ring_free(before);
        gw_ring_free(after);
    }
}

static void test_remove_one_moves_only_its_keys(void **state)
{
    (void)state;
    gw_ring *full = ring_of(8, 0, NULL);
    /* the same nodes without member 3: build from names 0..2 and 4..7 */
    gw_ring_member m[7];
    for (size_t i = 0, j = 0; i < 8; i++)
        if (i != 3)
            m[j++] = (gw_ring_member){.id = (uint32_t)i, .name = names[i], .weight = 1};
    gw_ring *less = NULL;
    assert_int_equal(gw_ring_build(m, 7, 0, &less), 0);
    size_t moved = 0;
    for (size_t k = 0; k < KEYS; k++) {
        uint32_t a = owner(full, k), b = owner(less, k);
        if (a != 3)
            assert_int_equal(a, b);
        else
            moved++;
    }
    assert_true((double)moved / KEYS <= 1.0 / 8 + 0.05);
    gw_ring_free(full);
    gw_ring_free(less);
}

static void test_weights_scale_share(void **state)
{
    (void)state;
    const uint32_t w[3] = {1, 3, 0};
    gw_ring *r = ring_of(3, 0, w);
    assert_int_equal(gw_ring_places(r), 4 * GW_RING_VNODES_DEFAULT);
    size_t count[3] = {0};
    for (size_t k = 0; k < KEYS; k++)
        count[owner(r, k)]++;
    assert_int_equal(count[2], 0);
    double share1 = (double)count[1] / KEYS;
    assert_true(share1 > 0.75 - 0.06 && share1 < 0.75 + 0.06);
    gw_ring_free(r);
}

static void test_bounded_load_caps_hot_key(void **state)
{
    (void)state;
    gw_ring *r = ring_of(4, 0, NULL);
    uint32_t load[4] = {0};
    uint64_t hot = key_hash(42);
    long home = gw_ring_pick(r, hot, NULL, NULL, NULL, 0);
    /* 200 requests of one key in flight at once */
    for (int i = 0; i < 200; i++) {
        long m = gw_ring_pick(r, hot, NULL, NULL, load, 1.25);
        assert_true(m >= 0);
        uint64_t total = 0;
        for (int j = 0; j < 4; j++)
            total += load[j];
        /* the pick is below its capacity ceil(1.25 (T+1) / 4) */
        assert_true((double)load[m] < 1.25 * (double)(total + 1) / 4 + 1);
        load[m]++;
    }
    for (int j = 0; j < 4; j++)
        assert_true(load[j] <= 63); /* ceil(1.25 * 200 / 4) = 63 */
    assert_true(load[home] >= 50); /* the home node still gets its full share first */
    /* unbounded: everything on the home node */
    memset(load, 0, sizeof load);
    for (int i = 0; i < 200; i++)
        load[gw_ring_pick(r, hot, NULL, NULL, load, 0)]++;
    assert_int_equal(load[home], 200);
    gw_ring_free(r);
}

static bool reject_even(void *ctx, size_t index)
{
    (void)ctx;
    return index % 2 == 1;
}

static void test_filter_and_iterator(void **state)
{
    (void)state;
    gw_ring *r = ring_of(6, 0, NULL);
    for (size_t k = 0; k < 2000; k++) {
        long m = gw_ring_pick(r, key_hash(k), reject_even, NULL, NULL, 0);
        assert_true(m >= 0 && m % 2 == 1);
        /* a key whose owner is accepted keeps it */
        uint32_t o = owner(r, k);
        if (o % 2 == 1)
            assert_int_equal(m, o);
    }
    /* the iterator gives every member once, the first being the pick, then -1 */
    gw_ring_iter it;
    gw_ring_iter_init(&it, r, key_hash(7));
    int seen[6] = {0};
    long first = gw_ring_iter_next(&it, NULL, NULL, NULL, 0);
    assert_int_equal(first, (long)owner(r, 7));
    seen[first]++;
    for (int i = 1; i < 6; i++) {
        long m = gw_ring_iter_next(&it, NULL, NULL, NULL, 0);
        assert_true(m >= 0 && m < 6);
        assert_int_equal(seen[m], 0);
        seen[m]++;
    }
    assert_int_equal(gw_ring_iter_next(&it, NULL, NULL, NULL, 0), -1);
    /* with the filter, only the accepted ones */
    gw_ring_iter_init(&it, r, key_hash(7));
    for (int i = 0; i < 3; i++)
        assert_true(gw_ring_iter_next(&it, reject_even, NULL, NULL, 0) % 2 == 1);
    assert_int_equal(gw_ring_iter_next(&it, reject_even, NULL, NULL, 0), -1);
    gw_ring_free(r);
}

static void test_bad_input(void **state)
{
    (void)state;
    gw_ring *r = (gw_ring *)1;
    gw_ring_member dup[2] = {{.name = "a", .weight = 1}, {.name = "a", .weight = 1}};
    assert_int_equal(gw_ring_build(dup, 2, 0, &r), -EINVAL);
    assert_null(r);
    gw_ring_member heavy = {.name = "a", .weight = GW_RING_MAX_WEIGHT + 1};
    assert_int_equal(gw_ring_build(&heavy, 1, 0, &r), -EINVAL);
    gw_ring_member noname = {.name = NULL, .weight = 1};
    assert_int_equal(gw_ring_build(&noname, 1, 0, &r), -EINVAL);
    assert_int_equal(gw_ring_build(NULL, GW_RING_MAX_MEMBERS + 1, 0, &r), -EINVAL);
    /* empty ring and all-zero weights: nothing to pick */
    assert_int_equal(gw_ring_build(NULL, 0, 0, &r), 0);
    assert_int_equal(gw_ring_pick(r, 1, NULL, NULL, NULL, 0), -1);
    gw_ring_free(r);
    gw_ring_member zero = {.name = "a", .weight = 0};
    assert_int_equal(gw_ring_build(&zero, 1, 0, &r), 0);
    assert_int_equal(gw_ring_pick(r, 1, NULL, NULL, NULL, 0), -1);
    gw_ring_free(r);
    gw_ring_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_scale_out_moves_about_one_nth),
        cmocka_unit_test(test_remove_one_moves_only_its_keys),
        cmocka_unit_test(test_weights_scale_share),
        cmocka_unit_test(test_bounded_load_caps_hot_key),
        cmocka_unit_test(test_filter_and_iterator),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
