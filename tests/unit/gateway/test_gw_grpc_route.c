/* gw_grpc_route.c: the gateway's gRPC routing helpers: method kinds, field 1 of a protobuf
 * message (found after other fields, refused when cut or malformed), grpc-timeout values
 * written (at most 8 digits, never rounded down to 0), grpc-message decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "gw_grpc.h"

static void test_kinds(void **state)
{
    (void)state;
    assert_int_equal(gw_grpc_kind("/inference.GRPCInferenceService/ModelInfer"), GW_GRPC_INFER);
    assert_int_equal(gw_grpc_kind("/inference.GRPCInferenceService/ModelStreamInfer"),
                     GW_GRPC_STREAM);
    assert_int_equal(gw_grpc_kind("/inference.GRPCInferenceService/ServerLive"), GW_GRPC_LIVE);
    assert_int_equal(gw_grpc_kind("/inference.GRPCInferenceService/ServerReady"), GW_GRPC_READY);
    assert_int_equal(gw_grpc_kind("/inference.GRPCInferenceService/ModelMetadata"), GW_GRPC_MODEL);
    assert_int_equal(gw_grpc_kind("/inference.GRPCInferenceService/RepositoryIndex"),
                     GW_GRPC_OTHER);
    assert_int_equal(gw_grpc_kind("/inference.GRPCInferenceService/ModelInferX"), GW_GRPC_OTHER);
    assert_int_equal(gw_grpc_kind("/other.Service/ModelInfer"), GW_GRPC_OTHER);
    assert_int_equal(gw_grpc_kind(""), GW_GRPC_OTHER);
}

static void test_field1(void **state)
{
    (void)state;
    char out[16];
    /* model_name = "identity" first */
    const uint8_t a[] = {0x0a, 8, 'i', 'd', 'e', 'n', 't', 'i', 't', 'y', 0x12, 1, '1'};
    assert_int_equal(gw_grpc_field1(a, sizeof a, out, sizeof out), 0);
    assert_string_equal(out, "identity");
    /* after a varint (field 2), a fixed64 (3), a fixed32 (4) and a string (5) */
    const uint8_t b[] = {0x10, 0x96, 0x01, 0x19, 1,    2, 3,   4,   5,    6, 7,   8,   0x25,
                         1,    2,    3,    4,    0x2a, 2, 'x', 'y', 0x0a, 3, 'a', 'b', 'c'};
    assert_int_equal(gw_grpc_field1(b, sizeof b, out, sizeof out), 0);
    assert_string_equal(out, "abc");
    /* absent, cut, too long for out, a bad wire type, a runaway varint */
    assert_int_equal(gw_grpc_field1(b, 17, out, sizeof out), -1);
    assert_int_equal(gw_grpc_field1(a, 5, out, sizeof out), -1);
    assert_int_equal(gw_grpc_field1(a, sizeof a, out, 8), -1);
    const uint8_t c[] = {0x0b, 0x0a, 1, 'x'};
    assert_int_equal(gw_grpc_field1(c, sizeof c, out, sizeof out), -1);
    const uint8_t d[] = {0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(gw_grpc_field1(d, sizeof d, out, sizeof out), -1);
    const uint8_t e[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 'x'}; /* length past the end */
    assert_int_equal(gw_grpc_field1(e, sizeof e, out, sizeof out), -1);
    assert_int_equal(gw_grpc_field1(NULL, 0, out, sizeof out), -1);
}

static void test_timeout_format(void **state)
{
    (void)state;
    char t[32];
    int64_t ns;
    gw_grpc_timeout_format(1, t, sizeof t);
    assert_string_equal(t, "1n");
    gw_grpc_timeout_format(0, t, sizeof t); /* never 0: that would be no time at all */
    assert_string_equal(t, "1n");
    gw_grpc_timeout_format(99999999, t, sizeof t);
    assert_string_equal(t, "99999999n");
    gw_grpc_timeout_format(100000000, t, sizeof t);
    assert_string_equal(t, "100000u");
    gw_grpc_timeout_format(9500000001LL, t, sizeof t); /* rounded up */
    assert_string_equal(t, "9500001u");
    gw_grpc_timeout_format(INT64_MAX, t, sizeof t);
    assert_int_equal(grpc_timeout_parse(t, strlen(t), &ns), 0);
    assert_true(ns >= INT64_MAX / 2);
    for (int64_t v = 1; v < INT64_MAX / 10; v = v * 7 + 3) { /* what we write parses back */
        gw_grpc_timeout_format(v, t, sizeof t);
        assert_int_equal(grpc_timeout_parse(t, strlen(t), &ns), 0);
        assert_true(ns >= v);
        assert_true(ns - v <= v / 100000 + 1); /* a unit is chosen at >= 1e5 of it */
    }
}

static void test_message_decode(void **state)
{
    (void)state;
    char out[32];
    const char *in = "no%20model%3A x%zz%4";
    gw_grpc_message_decode(in, strlen(in), out, sizeof out);
    assert_string_equal(out, "no model: x%zz%4");
    gw_grpc_message_decode("abc", 3, out, 3); /* cut to fit */
    assert_string_equal(out, "ab");
    assert_string_equal(grpc_status_name(14), "UNAVAILABLE");
    assert_string_equal(grpc_status_name(99), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_field1),
        cmocka_unit_test(test_timeout_format),
        cmocka_unit_test(test_message_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
