/* Unit tests of the batch-slot sharing policy: a flooding model leaves the others their
 * reserve, the others grow back to their share as slots return, a lone model gets nearly
 * everything, and degenerate sizes (more models than slots, one model, none). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "slot_share.h"

/* Takes slots for m while the policy allows, at most max; returns how many it took. */
static uint32_t take_all(slot_share *sh, int m, uint32_t max)
{
    uint32_t n = 0;
    while (n < max && slot_share_may_take(sh, m)) {
        slot_share_take(sh, m);
        n++;
    }
    return n;
}

static void test_flood_leaves_reserves(void **state)
{
    (void)state;
    slot_share sh;
    assert_int_equal(slot_share_init(&sh, 1024, 4), 0);
    assert_int_equal(sh.share, 256);
    assert_int_equal(sh.headroom, 32);
    /* Model 0 floods: it gets everything but the three others' reserves. */
    assert_int_equal(take_all(&sh, 0, 5000), 1024 - 3 * 32);
    assert_false(slot_share_may_take(&sh, 0));
    /* Model 1 arrives: its reserve is there at once, and no more while nothing returns. */
    assert_int_equal(take_all(&sh, 1, 5000), 32);
    assert_true(slot_share_may_take(&sh, 2));
    assert_true(slot_share_may_take(&sh, 3));
    /* A slot of the flood comes back: model 1 (below its share) may take it, model 0 not. */
    slot_share_give(&sh, 0);
    assert_false(slot_share_may_take(&sh, 0));
    assert_true(slot_share_may_take(&sh, 1));
    slot_share_take(&sh, 1);
    /* As the flood drains, model 1 grows to its share before model 0 may borrow again. */
    for (int i = 0; i < 300; i++) {
        slot_share_give(&sh, 0);
        if (sh.used[1] < 256) {
            assert_false(slot_share_may_take(&sh, 0));
            assert_true(slot_share_may_take(&sh, 1));
            slot_share_take(&sh, 1);
        }
    }
    assert_int_equal(sh.used[1], 256);
    assert_true(slot_share_may_take(&sh, 0)); /* room left beyond every reserve */
    /* Model 1 may borrow beyond its share too, but again only what the others leave. */
    assert_int_equal(take_all(&sh, 1, 5000), 1024 - 627 - 256 - 64);
    slot_share_destroy(&sh);
}

static void test_lone_model_gets_nearly_all(void **state)
{
    (void)state;
    slot_share sh;
    assert_int_equal(slot_share_init(&sh, 64, 2), 0);
    assert_int_equal(take_all(&sh, 1, 1000), 64 - 4); /* share 32, headroom 4 */
    for (int i = 0; i < 60; i++) slot_share_give(&sh, 1);
    assert_int_equal(sh.used_total, 0);
    assert_int_equal(sh.reserved_total, 8);
    slot_share_destroy(&sh);
}

static void test_within_share_always_served(void **state)
{
    (void)state;
    slot_share sh;
    assert_int_equal(slot_share_init(&sh, 100, 3), 0); /* share 33, headroom 4 */
    /* Two models below their share never block each other out of their reserves. */
    assert_int_equal(take_all(&sh, 0, 20), 20);
    assert_int_equal(take_all(&sh, 1, 20), 20);
    assert_true(slot_share_may_take(&sh, 2));
    assert_int_equal(take_all(&sh, 2, 1000), 100 - 40 - 8); /* 0 and 1 keep 4 each */
    assert_true(slot_share_may_take(&sh, 0));
    slot_share_destroy(&sh);
}

static void test_degenerate_sizes(void **state)
{
    (void)state;
    slot_share sh;
    /* More models than slots: no reserve can be honoured; every slot is usable, no more. */
    assert_int_equal(slot_share_init(&sh, 3, 8), 0);
    assert_int_equal(sh.share, 1);
    assert_int_equal(sh.headroom, 0);
    assert_int_equal(take_all(&sh, 0, 10), 3);
    assert_false(slot_share_may_take(&sh, 3)); /* full */
    assert_false(slot_share_may_take(&sh, -1));
    assert_false(slot_share_may_take(&sh, 8));
    slot_share_give(&sh, 7); /* gives back nothing it holds: ignored */
    assert_int_equal(sh.used_total, 3);
    slot_share_take(&sh, 1); /* a take past the total (a caller's bug) is ignored too */
    assert_int_equal(sh.used_total, 3);
    assert_int_equal(sh.used[1], 0);
    slot_share_destroy(&sh);
    /* One model: all of it. */
    assert_int_equal(slot_share_init(&sh, 16, 1), 0);
    assert_int_equal(take_all(&sh, 0, 100), 16);
    slot_share_destroy(&sh);
    /* No slots at all. */
    assert_int_equal(slot_share_init(&sh, 0, 2), 0);
    assert_false(slot_share_may_take(&sh, 0));
    slot_share_destroy(&sh);
    assert_int_equal(slot_share_init(&sh, 4, -1), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flood_leaves_reserves),
        cmocka_unit_test(test_lone_model_gets_nearly_all),
        cmocka_unit_test(test_within_share_always_served),
        cmocka_unit_test(test_degenerate_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
