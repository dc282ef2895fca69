/* Binary tensor extension framing: the Inference-Header-Content-Length split (every
 * malformed value refused, never beyond the body) and the BYTES element walk (an element
 * running past the end is refused and named). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "kserve_binary.h"

static void test_split_values(void **state)
{
    (void)state;
    char err[160];
    size_t json_len = 7;
    assert_int_equal(kserve_binary_split(NULL, 100, &json_len, err, sizeof err), 0);
    assert_int_equal(json_len, 100); /* no header: all JSON */
    assert_int_equal(kserve_binary_split("40", 100, &json_len, err, sizeof err), 0);
    assert_int_equal(json_len, 40);
    assert_int_equal(kserve_binary_split(" 100\t", 100, &json_len, err, sizeof err), 0);
    assert_int_equal(json_len, 100); /* exactly the body: no binary part */
    assert_int_equal(kserve_binary_split("0", 100, &json_len, err, sizeof err), 0);
    assert_int_equal(json_len, 0); /* the raw form */
    static const char *const bad[] = {"",
                                      " ",
                                      "-1",
                                      "+5",
                                      "1e3",
                                      "0x10",
                                      "12abc",
                                      "4 4",
                                      "101",
                                      "99999999999999999999999",
                                      "18446744073709551615"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (kserve_binary_split(bad[i], 100, &json_len, err, sizeof err) != -1)
            fail_msg("value '%s' was accepted", bad[i]);
        assert_non_null(strstr(err, "Inference-Header-Content-Length"));
    }
    assert_int_equal(kserve_binary_split("101", 100, &json_len, err, sizeof err), -1);
    assert_non_null(strstr(err, "beyond the body"));
}

static void test_bytes_walk(void **state)
{
    (void)state;
    char err[160];
    int64_t n = -1;
    /* "ab", "", "xyz" */
    const uint8_t ok[] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 3, 0, 0, 0, 'x', 'y', 'z'};
    assert_int_equal(kserve_bytes_walk(ok, sizeof ok, &n, err, sizeof err), 0);
    assert_int_equal(n, 3);
    assert_int_equal(kserve_bytes_walk(ok, 0, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    /* the last element's length cut short, then its bytes */
    assert_int_equal(kserve_bytes_walk(ok, 12, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "element 2"));
    assert_int_equal(kserve_bytes_walk(ok, sizeof ok - 1, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "runs past"));
    /* a length near 4 GiB must not wrap the position */
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'a'};
    assert_int_equal(kserve_bytes_walk(huge, sizeof huge, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "element 0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_values),
        cmocka_unit_test(test_bytes_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
