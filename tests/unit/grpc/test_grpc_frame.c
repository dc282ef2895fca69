/* grpc_frame.c: grpc-timeout parsing (every unit, the 8-digit limit, saturation, malformed
 * values), grpc-message percent-encoding, the 5-byte message prefix, status names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/grpc_server.h"

static int64_t timeout_of(const char *s)
{
    int64_t ns = -2;
    if (grpc_timeout_parse(s, strlen(s), &ns) != 0) return -1;
    return ns;
}

static void test_timeout_units(void **state)
{
    (void)state;
    assert_int_equal(timeout_of("1n"), 1);
    assert_int_equal(timeout_of("7u"), 7000);
    assert_int_equal(timeout_of("250m"), 250000000);
    assert_int_equal(timeout_of("3S"), 3000000000LL);
    assert_int_equal(timeout_of("2M"), 120000000000LL);
    assert_int_equal(timeout_of("1H"), 3600000000000LL);
    assert_int_equal(timeout_of("0m"), 0);
    assert_int_equal(timeout_of("99999999n"), 99999999);
    /* 8 digits of hours overflow nothing but are still far beyond any deadline */
    assert_int_equal(timeout_of("99999999H"), INT64_MAX);
}

static void test_timeout_malformed(void **state)
{
    (void)state;
    const char *bad[] = {"",    "m",   "5",   "123456789m", "-1m", "1.5S",
                         "10x", "1 m", " 1m", "1mm",        "1s",  "1h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ns = 42;
        assert_int_equal(grpc_timeout_parse(bad[i], strlen(bad[i]), &ns), -1);
        assert_int_equal(ns, 42); /* untouched */
    }
    /* the length given counts, not a NUL */
    int64_t ns;
    assert_int_equal(grpc_timeout_parse("12m5", 3, &ns), 0);
    assert_int_equal(ns, 12000000);
}

static void test_message_encode(void **state)
{
    (void)state;
    char out[64];
    grpc_message_encode("plain text: ok!", out, sizeof out);
    assert_string_equal(out, "plain text: ok!");
    grpc_message_encode("100% sure\r\n", out, sizeof out);
    assert_string_equal(out, "100%25 sure%0D%0A");
    grpc_message_encode("caf\xc3\xa9", out, sizeof out);
    assert_string_equal(out, "caf%C3%A9");
    /* cut to fit, never in the middle of an escape */
    char small[8];
    grpc_message_encode("abcd%%%%", small, sizeof small);
    assert_string_equal(small, "abcd%25");
    grpc_message_encode("abcde%%", small, sizeof small);
    assert_string_equal(small, "abcde");
    grpc_message_encode("", small, sizeof small);
    assert_string_equal(small, "");
}

static void test_prefix(void **state)
{
    (void)state;
    uint8_t p[GRPC_PREFIX_LEN];
    grpc_prefix_write(p, 0x01020304u);
    static const uint8_t want[] = {0, 1, 2, 3, 4};
    assert_memory_equal(p, want, sizeof want);
    int compressed;
    uint32_t len;
    grpc_prefix_read(p, &compressed, &len);
    assert_int_equal(compressed, 0);
    assert_int_equal(len, 0x01020304u);
    static const uint8_t c[] = {1, 0xff, 0xff, 0xff, 0xff};
    grpc_prefix_read(c, &compressed, &len);
    assert_int_equal(compressed, 1);
    assert_int_equal(len, 0xffffffffu);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(grpc_status_name(GRPC_STATUS_OK), "OK");
    assert_string_equal(grpc_status_name(GRPC_STATUS_RESOURCE_EXHAUSTED), "RESOURCE_EXHAUSTED");
    assert_string_equal(grpc_status_name(GRPC_STATUS_UNAVAILABLE), "UNAVAILABLE");
    assert_string_equal(grpc_status_name(99), "UNKNOWN");
    assert_string_equal(grpc_status_name(-1), "UNKNOWN");
}

/* The outgoing queue: pulls cross message boundaries, keep order, and free what is left. */
static void test_outq(void **state)
{
    (void)state;
    grpc_outq q = {0};
    uint8_t out[8];
    assert_int_equal(grpc_outq_pull(&q, out, sizeof out), 0);
    uint8_t *a = malloc(3), *b = malloc(4);
    memcpy(a, "abc", 3);
    memcpy(b, "defg", 4);
    assert_int_equal(grpc_outq_push(&q, a, 3), 0);
    assert_int_equal(grpc_outq_push(&q, b, 4), 0);
    assert_int_equal(grpc_outq_pull(&q, out, 2), 2);
    assert_memory_equal(out, "ab", 2);
    assert_int_equal(grpc_outq_pull(&q, out, 4), 4);
    assert_memory_equal(out, "cdef", 4);
    assert_non_null(q.head);
    assert_int_equal(grpc_outq_pull(&q, out, sizeof out), 1);
    assert_memory_equal(out, "g", 1);
    assert_null(q.head);
    assert_null(q.tail);
    uint8_t *c = malloc(5);
    memcpy(c, "hello", 5);
    assert_int_equal(grpc_outq_push(&q, c, 5), 0);
    grpc_outq_free(&q); /* what was never pulled: freed (ASan's leak check) */
    assert_null(q.head);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_units),  cmocka_unit_test(test_timeout_malformed),
        cmocka_unit_test(test_message_encode), cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_status_names),   cmocka_unit_test(test_outq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
