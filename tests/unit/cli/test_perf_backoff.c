/* inferctl perf's closed-loop backoff after connection errors: starts small, doubles, is
 * capped, and any answer (or an error that is not about the connection) clears it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "inferd/client.h"
#include "perf.h"

static void test_connection_errors_back_off_and_cap(void **state)
{
    (void)state;
    int errs[] = {INFERD_CLIENT_E_CONNECT, INFERD_CLIENT_E_CONN, INFERD_CLIENT_E_RESOLVE};
    for (size_t k = 0; k < sizeof errs / sizeof errs[0]; k++) {
        uint32_t b = perf_backoff_next_ms(0, errs[k]);
        assert_int_equal(b, PERF_BACKOFF_MIN_MS);
        uint32_t total = b;
        for (int i = 0; i < 40; i++) {
            uint32_t n = perf_backoff_next_ms(b, errs[k]);
            assert_true(n >= b && n <= PERF_BACKOFF_MAX_MS);
            total += n;
            b = n;
        }
        assert_int_equal(b, PERF_BACKOFF_MAX_MS);
        /* 41 errors in a row wait at least ~7 s: a dead node is a few errors a second */
        assert_true(total >= 40 * (PERF_BACKOFF_MAX_MS / 2));
    }
}

static void test_answers_and_other_errors_reset(void **state)
{
    (void)state;
    assert_int_equal(perf_backoff_next_ms(PERF_BACKOFF_MAX_MS, 0), 0);
    assert_int_equal(perf_backoff_next_ms(40, INFERD_CLIENT_E_TIMEOUT), 0);
    assert_int_equal(perf_backoff_next_ms(40, INFERD_CLIENT_E_PROTOCOL), 0);
    assert_int_equal(perf_backoff_next_ms(0, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connection_errors_back_off_and_cap),
        cmocka_unit_test(test_answers_and_other_errors_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
