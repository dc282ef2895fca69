/* http_buf: growth, printf, and JSON string escaping that always yields valid JSON. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "inferd/http_buf.h"

static void expect_escaped(const char *in, size_t n, const char *want)
{
    http_buf b;
    http_buf_init(&b);
    http_buf_json_string(&b, in, n);
    size_t len;
    char *s = http_buf_take(&b, &len);
    assert_non_null(s);
    assert_string_equal(s, want);
    assert_int_equal(len, strlen(want));
    free(s);
}

static void test_escaping(void **state)
{
    (void)state;
    expect_escaped("", 0, "\"\"");
    expect_escaped("abc", 3, "\"abc\"");
    expect_escaped("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    expect_escaped("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    expect_escaped("\x01\x1f", 2, "\"\\u0001\\u001f\"");
    expect_escaped("a\0b", 3, "\"a\\u0000b\"");
    expect_escaped("\xc3\xbc", 2, "\"\xc3\xbc\"");                  /* ü stays */
    expect_escaped("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");  /* emoji stays */
    expect_escaped("\xff", 1, "\"\\ufffd\"");                       /* invalid byte */
    expect_escaped("\xc3", 1, "\"\\ufffd\"");                       /* truncated */
    expect_escaped("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");            /* overlong */
    expect_escaped("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
}

static void test_growth_and_printf(void **state)
{
    (void)state;
    http_buf b;
    http_buf_init(&b);
    for (int i = 0; i < 10000; i++) http_buf_printf(&b, "%d,", i % 10);
    assert_int_equal(b.len, 20000);
    assert_false(b.oom);
    http_buf_printf(&b, "%s", "");
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[999] = '\0';
    http_buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, 20000 + 1001);
    assert_int_equal(b.data[b.len], '\0');
    http_buf_free(&b);
    size_t len = 7;
    char *s = http_buf_take(&b, &len);
    assert_non_null(s);
    assert_int_equal(len, 0);
    assert_string_equal(s, "");
    free(s);
}

static void test_put_integers_match_printf(void **state)
{
    (void)state;
    long long sv[] = {0, 1, -1, 9, 10, -10, 123456789, LLONG_MAX, LLONG_MIN, LLONG_MIN + 1};
    unsigned long long uv[] = {0, 1, 10, 18446744073709551615ull, 4294967296ull};
    http_buf b, want;
    http_buf_init(&b);
    http_buf_init(&want);
    for (size_t i = 0; i < sizeof sv / sizeof sv[0]; i++) {
        http_buf_put_i64(&b, sv[i]);
        http_buf_append(&b, " ", 1);
        http_buf_printf(&want, "%lld ", sv[i]);
    }
    for (size_t i = 0; i < sizeof uv / sizeof uv[0]; i++) {
        http_buf_put_u64(&b, uv[i]);
        http_buf_append(&b, " ", 1);
        http_buf_printf(&want, "%llu ", uv[i]);
    }
    assert_string_equal(b.data, want.data);
    assert_int_equal(b.len, want.len);
    http_buf_free(&b);
    http_buf_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_growth_and_printf),
        cmocka_unit_test(test_put_integers_match_printf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
