/* grpc_md.c: the metadata list (copies, the entry and byte bounds, copy of a list) and which
 * headers are custom metadata a proxy passes on, each way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/grpc_server.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static void test_add_and_copy(void **state)
{
    (void)state;
    grpc_mdlist l = {0};
    char name[8] = "x-a";
    assert_int_equal(grpc_mdlist_add(&l, (const uint8_t *)name, 3, S("v1")), 0);
    name[2] = 'z'; /* copied, not borrowed */
    assert_int_equal(grpc_mdlist_add(&l, S("x-bin-bin"), (const uint8_t *)"\0\1", 2), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, "x-a");
    assert_string_equal(l.v[0].value, "v1");
    assert_int_equal(l.v[1].value_len, 2);
    assert_memory_equal(l.v[1].value, "\0\1", 2);
    grpc_mdlist c = {0};
    assert_int_equal(grpc_mdlist_copy(&c, &l), 0);
    assert_int_equal(grpc_mdlist_copy(&c, NULL), 0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.bytes, l.bytes);
    assert_string_equal(c.v[1].name, "x-bin-bin");
    grpc_mdlist_free(&l);
    grpc_mdlist_free(&c);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
}

static void test_bounds(void **state)
{
    (void)state;
    grpc_mdlist l = {0};
    char name[32];
    for (int i = 0; i < GRPC_MD_MAX_ENTRIES; i++) {
        snprintf(name, sizeof name, "x-%d", i);
        assert_int_equal(grpc_mdlist_add(&l, S(name), S("v")), 0);
    }
    assert_int_equal(grpc_mdlist_add(&l, S("x-one-more"), S("v")), -2);
    assert_int_equal(l.n, GRPC_MD_MAX_ENTRIES);
    grpc_mdlist_free(&l);
    /* bytes: one value of nearly the whole budget, then nothing more fits */
    static char big[GRPC_MD_MAX_BYTES];
    memset(big, 'b', sizeof big);
    assert_int_equal(grpc_mdlist_add(&l, S("x-big"), (const uint8_t *)big, sizeof big), -2);
    size_t fits = GRPC_MD_MAX_BYTES - 32 - 5;
    assert_int_equal(grpc_mdlist_add(&l, S("x-big"), (const uint8_t *)big, fits), 0);
    assert_int_equal(l.bytes, GRPC_MD_MAX_BYTES);
    assert_int_equal(grpc_mdlist_add(&l, S("y"), S("")), -2);
    grpc_mdlist_free(&l);
}

static void test_custom(void **state)
{
    (void)state;
    assert_true(grpc_md_custom_request(S("x-user")));
    assert_true(grpc_md_custom_request(S("inferd-routing-key")));
    assert_true(grpc_md_custom_request(S("user-agent")));
    assert_true(grpc_md_custom_request(S("grpc-trace-bin")));
    const char *never[] = {":path",
                           ":authority",
                           "te",
                           "content-type",
                           "connection",
                           "grpc-encoding",
                           "host",
                           "transfer-encoding",
                           "grpc-accept-encoding",
                           ""};
    for (size_t i = 0; i < sizeof never / sizeof *never; i++) {
        assert_false(grpc_md_custom_request(S(never[i])));
        assert_false(grpc_md_custom_response(S(never[i])));
    }
    assert_false(grpc_md_custom_request(S("grpc-timeout"))); /* rewritten by the proxy */
    assert_true(grpc_md_custom_response(S("grpc-timeout"))); /* no meaning in a response */
    assert_false(grpc_md_custom_response(S("grpc-status")));
    assert_false(grpc_md_custom_response(S("grpc-message")));
    assert_true(grpc_md_custom_response(S("grpc-status-details-bin")));
    assert_true(grpc_md_custom_request(S("grpc-status"))); /* not the proxy's in a request */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_and_copy),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_custom),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
