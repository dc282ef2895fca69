/* kserve_json: the tokenizer used to decode tensor data straight from the request text, and
 * kj_split, which cuts the data arrays out of a request, and kj_sole_string, the /process
 * body's one-pass reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kserve_json.h"

static kj_cursor cur(const char *s)
{
    return (kj_cursor){s, s + strlen(s)};
}

static void test_strings(void **state)
{
    (void)state;
    struct {
        const char *in;
        const char *out;
        size_t n;
    } ok[] = {
        {"\"abc\"", "abc", 3},
        {"\"a\\\"b\\\\c\\/\"", "a\"b\\c/", 6},
        {"\"\\n\\t\\r\\b\\f\"", "\n\t\r\b\f", 5},
        {"\"\\u0041\\u00fc\"", "A\xc3\xbc", 3},
        {"\"\\u0000x\"", "\0x", 2},
        {"\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4},
        {"\"\xc3\xbc\"", "\xc3\xbc", 2},
        {"  \"\"", "", 0},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        kj_cursor c = cur(ok[i].in);
        size_t n = 99;
        assert_int_equal(kj_string(&c, NULL, &n), 0);
        assert_int_equal(n, ok[i].n);
        uint8_t buf[16];
        c = cur(ok[i].in);
        assert_int_equal(kj_string(&c, buf, &n), 0);
        assert_memory_equal(buf, ok[i].out, n);
        assert_true(c.p == c.end);
    }
    const char *bad[] = {"\"abc",    "\"\\x\"",  "\"\\u12\"", "\"\\ud83d\"", "\"\\ude00\"",
                         "\"a\nb\"", "\"\xff\"", "\"\xc3\"",  "abc",         "\"\\"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kj_cursor c = cur(bad[i]);
        size_t n;
        if (kj_string(&c, NULL, &n) != -1) fail_msg("accepted bad string %s", bad[i]);
    }
}

static void test_sole_string(void **state)
{
    (void)state;
    struct {
        const char *in;
        const char *out;
        size_t n;
    } ok[] = {
        {"{\"message\": \"hello world\"}", "hello world", 11},
        {" \n{ \"message\" :\"a\\\"b\\u00fc\" } \r\n", "a\"b\xc3\xbc", 5},
        {"{\"message\":\"\"}", "", 0},
        {"{\"message\":\"\\u0000\"}", "\0", 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        kj_cursor v;
        size_t n = 99;
        assert_int_equal(kj_sole_string(ok[i].in, strlen(ok[i].in), "message", &v, &n), 0);
        assert_int_equal(n, ok[i].n);
        uint8_t buf[32];
        size_t m;
        assert_int_equal(kj_string(&v, buf, &m), 0);
        assert_int_equal(m, n);
        assert_memory_equal(buf, ok[i].out, n);
    }
    /* anything else is left to the full parser: other keys, a duplicate, another type, an
     * escaped key, trailing bytes, malformed or cut short */
    const char *other[] = {"{\"message\": \"a\", \"x\": 1}",
                           "{\"x\": 1, \"message\": \"a\"}",
                           "{\"message\": \"a\", \"message\": \"b\"}",
                           "{\"message\": 1}",
                           "{\"messag\\u0065\": \"a\"}",
                           "{\"message\": \"a\"} x",
                           "{\"message\": \"a\"",
                           "{\"message\": \"a",
                           "{\"messages\": \"a\"}",
                           "{\"messag\": \"a\"}",
                           "{\"message\"",
                           "[\"message\"]",
                           "{\"message\": \"\xff\"}",
                           "",
                           "{}"};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        kj_cursor v;
        size_t n;
        if (kj_sole_string(other[i], strlen(other[i]), "message", &v, &n) != -1)
            fail_msg("took %s", other[i]);
    }
}

static void test_numbers(void **state)
{
    (void)state;
    int is_int, over;
    int64_t iv;
    double dv;
    kj_cursor c = cur("-9223372036854775808");
    assert_int_equal(kj_number(&c, &is_int, &iv, &over, &dv), 0);
    assert_true(is_int && !over && iv == INT64_MIN);
    c = cur("9223372036854775808");
    assert_int_equal(kj_number(&c, &is_int, &iv, &over, &dv), 0);
    assert_true(is_int && over);
    c = cur("123456789012345678901234567890");
    assert_int_equal(kj_number(&c, &is_int, &iv, &over, &dv), 0);
    assert_true(is_int && over && dv > 1e29);
    c = cur("0.1");
    assert_int_equal(kj_number(&c, &is_int, &iv, &over, &dv), 0);
    assert_true(!is_int && dv == 0.1);
    c = cur("-2.5e-3]");
    assert_int_equal(kj_number(&c, &is_int, &iv, &over, &dv), 0);
    assert_true(dv == -2.5e-3 && *c.p == ']');
    c = cur("1e999");
    assert_int_equal(kj_number(&c, &is_int, &iv, &over, &dv), 0);
    assert_true(isinf(dv));
    const char *bad[] = {"+1", ".5", "1.", "1e", "-", "01x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = cur(bad[i]);
        int rc = kj_number(&c, &is_int, &iv, &over, &dv);
        /* "01x" reads as 0 and stops before "1x": the caller then sees garbage */
        if (strcmp(bad[i], "01x") == 0) assert_true(rc == 0 && *c.p == '1');
        else if (rc != -1) fail_msg("accepted bad number %s", bad[i]);
    }
}

static void test_skip(void **state)
{
    (void)state;
    const char *ok[] = {"[]", "{}", "[1, [2, {\"a\": [true, false, null]}], \"x\"]", " 5 "};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        kj_cursor c = cur(ok[i]);
        assert_int_equal(kj_skip(&c, 0), 0);
    }
    const char *bad[] = {"[1,]", "[1 2]", "{\"a\" 1}", "{1: 2}", "[", "tru", "[nul]", "{\"a\":}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        kj_cursor c = cur(bad[i]);
        if (kj_skip(&c, 0) != -1) fail_msg("accepted %s", bad[i]);
    }
    char deep[300];
    memset(deep, '[', 200);
    deep[200] = '\0';
    kj_cursor c = cur(deep);
    assert_int_equal(kj_skip(&c, 0), -1); /* depth bounded, no stack overflow */
}

static void test_split(void **state)
{
    (void)state;
    const char *body =
        "{\"id\": \"a\", \"inputs\": [{\"name\": \"X\", \"data\": [1, 2, [3]], \"shape\": [3]},"
        " 7, {\"d\\u0061ta\": \"s\"}], \"outputs\": [{\"name\": \"data\"}]}";
    kj_span spans[KJ_MAX_SPANS];
    char *skel;
    size_t skel_len;
    char err[128];
    assert_int_equal(kj_split(body, strlen(body), spans, &skel, &skel_len, err, sizeof err), 0);
    assert_string_equal(skel, "{\"id\": \"a\", \"inputs\": [{\"name\": \"X\", \"data\": null, "
                              "\"shape\": [3]}, 7, {\"d\\u0061ta\": null}], \"outputs\": "
                              "[{\"name\": \"data\"}]}");
    assert_int_equal(skel_len, strlen(skel));
    assert_memory_equal(body + spans[0].off, "[1, 2, [3]]", spans[0].len);
    assert_int_equal(spans[1].len, 0);
    assert_memory_equal(body + spans[2].off, "\"s\"", spans[2].len);
    free(skel);

    const char *bad[] = {"[1]",  "",          "{\"inputs\": [{\"data\": [1,]}]}",
                         "{} x", "{\"a\": 1", "{\"inputs\": [{\"data\": NaN}]}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(kj_split(bad[i], strlen(bad[i]), spans, &skel, &skel_len, err, sizeof err),
                         -1);

    /* a huge non-data field: refused instead of parsed into a tree */
    size_t n = KJ_SKELETON_MAX + 100;
    char *big = malloc(n + 32);
    strcpy(big, "{\"id\": \"");
    memset(big + 8, 'x', n);
    strcpy(big + 8 + n, "\"}");
    assert_int_equal(kj_split(big, strlen(big), spans, &skel, &skel_len, err, sizeof err), -1);
    assert_non_null(strstr(err, "exceed"));
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings), cmocka_unit_test(test_sole_string),
        cmocka_unit_test(test_numbers), cmocka_unit_test(test_skip),
        cmocka_unit_test(test_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
