/* gw_breaker: every transition of the state machine with explicit times, the growing and
 * capped ejection, the one trial of half-open, and the "at most half ejected" rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gw_breaker.h"

#define T0 1000000u

static void fail_requests(gw_breaker *br, gw_breaker_set *set, uint64_t now, int n)
{
    for (int i = 0; i < n; i++) {
        assert_true(gw_breaker_on_send(br, set, now));
        gw_breaker_on_result(br, set, now, GW_OUTCOME_FAIL);
    }
}

static void test_passive_ejection_and_half_open(void **state)
{
    (void)state;
    gw_breaker_set set;
    gw_breaker_set_init(&set, NULL);
    gw_breaker a, b;
    gw_breaker_join(&a, &set, T0);
    gw_breaker_join(&b, &set, T0);
    /* 4 failures, a success, 4 failures: not 5 in a row */
    fail_requests(&a, &set, T0, 4);
    assert_true(gw_breaker_on_send(&a, &set, T0));
    gw_breaker_on_result(&a, &set, T0, GW_OUTCOME_OK);
    fail_requests(&a, &set, T0, 4);
    assert_int_equal(gw_breaker_state_at(&a, T0), GW_BREAKER_CLOSED);
    /* the 5th in a row ejects for 30 s */
    fail_requests(&a, &set, T0, 1);
    assert_int_equal(gw_breaker_state_at(&a, T0), GW_BREAKER_OPEN);
    assert_int_equal(set.ejected, 1);
    assert_false(gw_breaker_can_send(&a, T0 + 29999));
    assert_false(gw_breaker_on_send(&a, &set, T0 + 29999));
    /* a straggler's answer while open changes nothing */
    gw_breaker_on_result(&a, &set, T0 + 100, GW_OUTCOME_OK);
    assert_int_equal(gw_breaker_state_at(&a, T0 + 100), GW_BREAKER_OPEN);
    /* half-open: exactly one trial */
    uint64_t t = T0 + 30000;
    assert_int_equal(gw_breaker_state_at(&a, t), GW_BREAKER_HALF_OPEN);
    assert_true(gw_breaker_can_send(&a, t));
    assert_true(gw_breaker_on_send(&a, &set, t));
    assert_false(gw_breaker_can_send(&a, t));
    assert_false(gw_breaker_on_send(&a, &set, t));
    /* the trial fails: open again, twice as long */
    gw_breaker_on_result(&a, &set, t + 5, GW_OUTCOME_FAIL);
    assert_int_equal(gw_breaker_state_at(&a, t + 5), GW_BREAKER_OPEN);
    assert_int_equal(a.ejections, 2);
    assert_int_equal(set.ejected, 1);
    assert_false(gw_breaker_can_send(&a, t + 5 + 59999));
    t += 5 + 60000;
    assert_true(gw_breaker_on_send(&a, &set, t));
    /* a cancelled trial gives no verdict: the next request is the trial */
    gw_breaker_on_result(&a, &set, t, GW_OUTCOME_CANCELLED);
    assert_int_equal(gw_breaker_state_at(&a, t), GW_BREAKER_HALF_OPEN);
    assert_true(gw_breaker_on_send(&a, &set, t));
    gw_breaker_on_result(&a, &set, t + 1, GW_OUTCOME_OK);
    assert_int_equal(gw_breaker_state_at(&a, t + 1), GW_BREAKER_CLOSED);
    assert_int_equal(set.ejected, 0);
    assert_int_equal(a.ejections_total, 2);
    assert_string_equal(gw_breaker_state_name(GW_BREAKER_HALF_OPEN), "half_open");
}

static void test_ejection_grows_to_cap_and_resets(void **state)
{
    (void)state;
    gw_breaker_set set;
    gw_breaker_set_init(&set, NULL);
    gw_breaker a, b;
    gw_breaker_join(&a, &set, T0);
    gw_breaker_join(&b, &set, T0);
    uint64_t t = T0;
    fail_requests(&a, &set, t, 5);
    for (uint32_t times = 1; times <= 14; times++) {
        uint64_t want = 30000ull * times < 300000 ? 30000ull * times : 300000;
        assert_int_equal(a.open_until_ms - t, want);
        t = a.open_until_ms;
        assert_true(gw_breaker_on_send(&a, &set, t));
        gw_breaker_on_result(&a, &set, t, GW_OUTCOME_FAIL);
    }
    /* recovers, stays closed for max_ejection_ms: the next ejection is 30 s again */
    t = a.open_until_ms;
    assert_true(gw_breaker_on_send(&a, &set, t));
    gw_breaker_on_result(&a, &set, t, GW_OUTCOME_OK);
    t += 300000;
    fail_requests(&a, &set, t, 5);
    assert_int_equal(a.open_until_ms - t, 30000);
    /* ...but one soon after an ejection keeps the multiplier */
    t = a.open_until_ms;
    assert_true(gw_breaker_on_send(&a, &set, t));
    gw_breaker_on_result(&a, &set, t, GW_OUTCOME_OK);
    t += 1000;
    fail_requests(&a, &set, t, 5);
    assert_int_equal(a.open_until_ms - t, 60000);
}

static void test_active_checks(void **state)
{
    (void)state;
    gw_breaker_set set;
    gw_breaker_set_init(&set, NULL);
    gw_breaker a, b;
    gw_breaker_join(&a, &set, T0);
    gw_breaker_join(&b, &set, T0);
    /* fail, pass, fail: not 2 in a row */
    gw_breaker_on_check(&a, &set, T0, false);
    gw_breaker_on_check(&a, &set, T0 + 1000, true);
    gw_breaker_on_check(&a, &set, T0 + 2000, false);
    assert_int_equal(gw_breaker_state_at(&a, T0 + 2000), GW_BREAKER_CLOSED);
    gw_breaker_on_check(&a, &set, T0 + 3000, false);
    assert_int_equal(gw_breaker_state_at(&a, T0 + 3000), GW_BREAKER_OPEN);
    /* ready again: two passed checks close it long before 30 s */
    gw_breaker_on_check(&a, &set, T0 + 4000, true);
    assert_int_equal(gw_breaker_state_at(&a, T0 + 4000), GW_BREAKER_OPEN);
    gw_breaker_on_check(&a, &set, T0 + 5000, true);
    assert_int_equal(gw_breaker_state_at(&a, T0 + 5000), GW_BREAKER_CLOSED);
    assert_int_equal(set.ejected, 0);
    /* passive ejection: passing checks do not cut it short */
    fail_requests(&a, &set, T0 + 6000, 5);
    for (int i = 1; i <= 5; i++)
        gw_breaker_on_check(&a, &set, T0 + 6000 + 1000 * (uint64_t)i, true);
    assert_int_equal(gw_breaker_state_at(&a, T0 + 11000), GW_BREAKER_OPEN);
    /* a failed check in half-open opens it again */
    uint64_t t = a.open_until_ms;
    assert_int_equal(gw_breaker_state_at(&a, t), GW_BREAKER_HALF_OPEN);
    gw_breaker_on_check(&a, &set, t, false);
    assert_int_equal(gw_breaker_state_at(&a, t), GW_BREAKER_OPEN);
    assert_int_equal(a.ejections, 3);
}

static void test_at_most_half_ejected(void **state)
{
    (void)state;
    gw_breaker_set set;
    gw_breaker_set_init(&set, NULL);
    gw_breaker n[4];
    for (int i = 0; i < 3; i++)
        gw_breaker_join(&n[i], &set, T0);
    /* 3 nodes: one may go, not two */
    fail_requests(&n[0], &set, T0, 5);
    fail_requests(&n[1], &set, T0, 5);
    assert_int_equal(gw_breaker_state_at(&n[0], T0), GW_BREAKER_OPEN);
    assert_int_equal(gw_breaker_state_at(&n[1], T0), GW_BREAKER_CLOSED);
    assert_int_equal(n[1].refused_total, 1);
    assert_int_equal(set.ejected, 1);
    /* a fourth node joins: now two of four may be out, and n[1]'s next failure asks again */
    gw_breaker_join(&n[3], &set, T0);
    fail_requests(&n[1], &set, T0 + 1, 1);
    assert_int_equal(gw_breaker_state_at(&n[1], T0 + 1), GW_BREAKER_OPEN);
    assert_int_equal(set.ejected, 2);
    fail_requests(&n[2], &set, T0 + 2, 5);
    assert_int_equal(gw_breaker_state_at(&n[2], T0 + 2), GW_BREAKER_CLOSED);
    /* an ejected node leaving frees its place */
    gw_breaker_leave(&n[0], &set);
    assert_int_equal(set.nodes, 3);
    assert_int_equal(set.ejected, 1);
    /* a single node is never ejected: better a failing node than none */
    gw_breaker_set one;
    gw_breaker_set_init(&one, NULL);
    gw_breaker solo;
    gw_breaker_join(&solo, &one, T0);
    fail_requests(&solo, &one, T0, 20);
    gw_breaker_on_check(&solo, &one, T0, false);
    gw_breaker_on_check(&solo, &one, T0, false);
    assert_int_equal(gw_breaker_state_at(&solo, T0), GW_BREAKER_CLOSED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_passive_ejection_and_half_open),
        cmocka_unit_test(test_ejection_grows_to_cap_and_resets),
        cmocka_unit_test(test_active_checks),
        cmocka_unit_test(test_at_most_half_ejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
