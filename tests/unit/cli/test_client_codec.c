/* The client library's pure parts: URL parsing, tensors from JSON text, the binary request
 * encoder, and the answer decoder on good and malformed answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/client.h"

static void test_urls(void **state)
{
    (void)state;
    char host[64], err[256];
    uint16_t port;
    assert_int_equal(inferd_client_parse_url("http://127.0.0.1:8000", host, sizeof host, &port,
                                             err, sizeof err),
                     0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8000);
    assert_int_equal(
        inferd_client_parse_url("http://node/", host, sizeof host, &port, err, sizeof err), 0);
    assert_string_equal(host, "node");
    assert_int_equal(port, 80);
    assert_int_equal(
        inferd_client_parse_url("http://[::1]:9", host, sizeof host, &port, err, sizeof err), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9);
    const char *bad[] = {"", "https://a", "http://", "http://:80", "http://a:", "http://a:0",
                         "http://a:65536", "http://a:8x", "http://a/v2", "http://[::1",
                         "127.0.0.1:8000", "http://a:123456"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(
            inferd_client_parse_url(bad[i], host, sizeof host, &port, err, sizeof err),
            INFERD_CLIENT_E_URL);
        assert_true(err[0] != '\0');
    }
    assert_string_equal(inferd_client_strerror(INFERD_CLIENT_E_TIMEOUT), "timed out");
}

static void test_tensor_from_json(void **state)
{
    (void)state;
    inferd_tensor t = {.name = "x"};
    char err[256];
    assert_int_equal(inferd_tensor_from_json_text("[[1,2,3],[4,5,6]]", INFERD_DTYPE_INT32, &t,
                                                  err, sizeof err),
                     0);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.dims[0], 2);
    assert_int_equal(t.dims[1], 3);
    assert_int_equal(t.nbytes, 24);
    assert_int_equal(((int32_t *)t.data)[5], 6);
    free(t.data);
    assert_int_equal(
        inferd_tensor_from_json_text("[\"ab\",\"\"]", INFERD_DTYPE_BYTES, &t, err, sizeof err), 0);
    assert_int_equal(t.nbytes, 4 + 2 + 4);
    free(t.data);
    assert_int_equal(inferd_tensor_from_json_text("2.5", INFERD_DTYPE_FP32, &t, err, sizeof err),
                     0);
    assert_int_equal(t.ndim, 0);
    assert_true(*(float *)t.data == 2.5f);
    free(t.data);
    const struct {
        const char *text;
        inferd_dtype dt;
    } bad[] = {{"[[1,2],[3]]", INFERD_DTYPE_FP32}, {"[[1],2]", INFERD_DTYPE_FP32},
               {"[300]", INFERD_DTYPE_UINT8},      {"[-1]", INFERD_DTYPE_UINT32},
               {"[1.5]", INFERD_DTYPE_INT64},      {"[\"a\"]", INFERD_DTYPE_FP32},
               {"[1]", INFERD_DTYPE_BYTES},        {"[1]", INFERD_DTYPE_BOOL},
               {"[1]", INFERD_DTYPE_FP16},         {"[1,", INFERD_DTYPE_FP32},
               {"[[[[[[[[[1]]]]]]]]]", INFERD_DTYPE_FP32}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t.data = NULL;
        if (inferd_tensor_from_json_text(bad[i].text, bad[i].dt, &t, err, sizeof err) !=
            INFERD_CLIENT_E_INVALID)
            fail_msg("accepted %s", bad[i].text);
        assert_null(t.data);
    }
}

static void test_encode(void **state)
{
    (void)state;
    float v[4] = {1, 2, 3, 4};
    inferd_tensor in = {.name = "INPUT0", .dtype = INFERD_DTYPE_FP32, .ndim = 2, .dims = {1, 4},
                        .data = v, .nbytes = sizeof v};
    char *body, err[256];
    size_t len, json_len;
    assert_int_equal(inferd_infer_request_encode(&in, 1, 1, &body, &len, &json_len, err,
                                                 sizeof err),
                     0);
    assert_int_equal(len, json_len + 16);
    assert_memory_equal(body + json_len, v, 16);
    assert_non_null(strstr(body, "\"binary_data_size\":16"));
    assert_non_null(strstr(body, "\"binary_data_output\":true"));
    free(body);
    in.nbytes = 12; /* does not hold [1,4] FP32 */
    assert_int_equal(inferd_infer_request_encode(&in, 1, 0, &body, &len, &json_len, err,
                                                 sizeof err),
                     INFERD_CLIENT_E_INVALID);
    unsigned char bad_bytes[6] = {9, 0, 0, 0, 'a', 'b'}; /* length 9, 2 bytes */
    inferd_tensor s = {.name = "S", .dtype = INFERD_DTYPE_BYTES, .ndim = 1, .dims = {1},
                       .data = bad_bytes, .nbytes = 6};
    assert_int_equal(inferd_infer_request_encode(&s, 1, 0, &body, &len, &json_len, err,
                                                 sizeof err),
                     INFERD_CLIENT_E_INVALID);
}

static int decode(const char *json, const void *bin, size_t bin_len, int status,
                  inferd_tensor **outs, size_t *n, char *err)
{
    static char buf[1024];
    size_t jl = strlen(json);
    memcpy(buf, json, jl);
    memcpy(buf + jl, bin, bin_len);
    inferd_client_response r = {.status = status, .body = buf, .body_len = jl + bin_len,
                                .json_len = jl};
    return inferd_infer_response_decode(&r, outs, n, err, 256);
}

static void test_decode(void **state)
{
    (void)state;
    inferd_tensor *o;
    size_t n;
    char err[256];
    int64_t vals[2] = {7, -8};
    assert_int_equal(decode("{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT64\",\"shape\":[2],"
                            "\"parameters\":{\"binary_data_size\":16}},"
                            "{\"name\":\"B\",\"datatype\":\"FP32\",\"shape\":[1,2],"
                            "\"data\":[1.5,\"NaN\"]}]}",
                            vals, 16, 200, &o, &n, err),
                     0);
    assert_int_equal(n, 2);
    assert_memory_equal(o[0].data, vals, 16);
    assert_true(((float *)o[1].data)[0] == 1.5f);
    assert_true(((float *)o[1].data)[1] != ((float *)o[1].data)[1]);
    inferd_tensors_free(o, n);
    const char *bad[] = {
        /* binary size past the body */
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT64\",\"shape\":[3],"
        "\"parameters\":{\"binary_data_size\":24}}]}",
        /* size that does not match the shape */
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"INT64\",\"shape\":[1],"
        "\"parameters\":{\"binary_data_size\":16}}]}",
        /* data count off, bytes left over, no outputs, bad dtype, negative dim */
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[3],\"data\":[1,2]}]}",
        "{\"outputs\":[]}",
        "{\"model_name\":\"x\"}",
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"F32\",\"shape\":[1],\"data\":[1]}]}",
        "{\"outputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[-1],\"data\":[1]}]}",
        "not json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (decode(bad[i], vals, 16, 200, &o, &n, err) != INFERD_CLIENT_E_PROTOCOL)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(decode("{\"error\":\"no such model\"}", "", 0, 404, &o, &n, err),
                     INFERD_CLIENT_E_PROTOCOL);
    assert_non_null(strstr(err, "HTTP 404: no such model"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_tensor_from_json),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
