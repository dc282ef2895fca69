/* model_config_to_triton: the one mapping behind GET /v2/models/{m}/config and gRPC
 * ModelConfig (every datatype name, dims without the batch dimension, the dynamic batching
 * block only when batched); model_config_from_triton (a Triton-shaped load override); and the
 * names of the model control modes and states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "inferd/model_config_triton.h"
#include "inferd/repository.h"

static void parse(const char *json, model_config *c)
{
    char err[256];
    assert_int_equal(model_config_parse("m", "/nonexistent/m", json, c, err, sizeof err), 0);
}

static void test_data_types(void **state)
{
    (void)state;
    static const struct {
        inferd_dtype t;
        const char *name;
    } want[] = {
        {INFERD_DTYPE_BOOL, "TYPE_BOOL"},       {INFERD_DTYPE_UINT8, "TYPE_UINT8"},
        {INFERD_DTYPE_UINT16, "TYPE_UINT16"},   {INFERD_DTYPE_UINT32, "TYPE_UINT32"},
        {INFERD_DTYPE_UINT64, "TYPE_UINT64"},   {INFERD_DTYPE_INT8, "TYPE_INT8"},
        {INFERD_DTYPE_INT16, "TYPE_INT16"},     {INFERD_DTYPE_INT32, "TYPE_INT32"},
        {INFERD_DTYPE_INT64, "TYPE_INT64"},     {INFERD_DTYPE_FP16, "TYPE_FP16"},
        {INFERD_DTYPE_FP32, "TYPE_FP32"},       {INFERD_DTYPE_FP64, "TYPE_FP64"},
        {INFERD_DTYPE_BF16, "TYPE_BF16"},       {INFERD_DTYPE_BYTES, "TYPE_STRING"},
        {INFERD_DTYPE_INVALID, "TYPE_INVALID"}, {(inferd_dtype)99, "TYPE_INVALID"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(triton_data_type(want[i].t), want[i].name);
}

static void test_batched_model(void **state)
{
    (void)state;
    model_config c;
    parse("{\"backend\": \"identity\", \"max_batch_size\": 16,"
          " \"inputs\": [{\"name\": \"A\", \"datatype\": \"FP32\", \"dims\": [3, -1]},"
          "              {\"name\": \"B\", \"datatype\": \"BYTES\", \"dims\": [1]}],"
          " \"outputs\": [{\"name\": \"C\", \"datatype\": \"INT64\", \"dims\": [3]}],"
          " \"workers\": {\"min\": 1, \"max\": 3}, \"max_queue_size\": 7, \"timeout_ms\": 250,"
          " \"dynamic_batching\": {\"max_queue_delay_us\": 500}}",
          &c);
    triton_model_config t;
    model_config_to_triton(&c, &t);
    assert_string_equal(t.name, "m");
    assert_string_equal(t.platform, "");
    assert_string_equal(t.backend, "identity");
    assert_int_equal(t.max_batch_size, 16);
    assert_int_equal(t.n_inputs, 2);
    assert_string_equal(t.inputs[0].name, "A");
    assert_string_equal(t.inputs[0].data_type, "TYPE_FP32");
    assert_int_equal(t.inputs[0].ndim, 2); /* no batch dimension */
    assert_int_equal(t.inputs[0].dims[0], 3);
    assert_int_equal(t.inputs[0].dims[1], -1);
    assert_string_equal(t.inputs[1].data_type, "TYPE_STRING");
    assert_int_equal(t.n_outputs, 1);
    assert_string_equal(t.outputs[0].data_type, "TYPE_INT64");
    assert_int_equal(t.dynamic_batching, 1);
    assert_int_equal(t.preferred_batch_size, 16);
    assert_int_equal(t.max_queue_delay_us, 500);
    assert_int_equal(t.max_queue_size, 7);
    assert_int_equal(t.default_timeout_us, 250000);
    assert_int_equal(t.instance_count, 3);
    assert_string_equal(t.instance_kind, "KIND_CPU");
    assert_int_equal(t.latest_num_versions, 1);
    assert_int_equal(t.n_params, 3);
    assert_string_equal(t.params[0].key, "workers_min");
    assert_string_equal(t.params[0].value, "1");
    assert_string_equal(t.params[2].key, "version");
    assert_string_equal(t.params[2].value, "1");
}

static void test_unbatched_model_has_no_dynamic_batching(void **state)
{
    (void)state;
    model_config c;
    parse("{\"backend\": \"reverse\", \"max_batch_size\": 0}", &c);
    triton_model_config t;
    model_config_to_triton(&c, &t);
    assert_int_equal(t.max_batch_size, 0);
    assert_int_equal(t.dynamic_batching, 0);
    assert_int_equal(t.instance_count, c.workers_max);
}

static void test_from_triton(void **state)
{
    (void)state;
    const char *triton =
        "{\"name\": \"m\", \"platform\": \"\", \"backend\": \"identity\", \"max_batch_size\": 8,"
        " \"input\": [{\"name\": \"A\", \"data_type\": \"TYPE_FP32\", \"dims\": [\"3\", -1]}],"
        " \"output\": [{\"name\": \"B\", \"data_type\": \"TYPE_STRING\", \"dims\": [2]}],"
        " \"dynamic_batching\": {\"preferred_batch_size\": [8],"
        "   \"max_queue_delay_microseconds\": 300, \"default_queue_policy\":"
        "   {\"max_queue_size\": 9, \"default_timeout_microseconds\": 2000000}},"
        " \"instance_group\": [{\"name\": \"m\", \"count\": 3, \"kind\": \"KIND_CPU\"}],"
        " \"version_policy\": {\"latest\": {\"num_versions\": 1}},"
        " \"response_cache\": {\"enable\": true},"
        " \"parameters\": {\"workers_min\": {\"string_value\": \"2\"}}}";
    char *native = NULL;
    char err[256];
    assert_int_equal(model_config_from_triton(triton, &native, err, sizeof err), 1);
    model_config c;
    parse(native, &c);
    free(native);
    assert_string_equal(c.backend, "identity");
    assert_int_equal(c.max_batch_size, 8);
    assert_int_equal(c.n_inputs, 1);
    assert_string_equal(c.inputs[0].name, "A");
    assert_int_equal(c.inputs[0].dtype, INFERD_DTYPE_FP32);
    assert_int_equal(c.inputs[0].ndim, 2);
    assert_int_equal(c.inputs[0].dims[0], 3);
    assert_int_equal(c.inputs[0].dims[1], -1);
    assert_int_equal(c.outputs[0].dtype, INFERD_DTYPE_BYTES);
    assert_int_equal(c.max_queue_delay_us, 300);
    assert_int_equal(c.max_queue_size, 9);
    assert_int_equal(c.timeout_ms, 2000);
    assert_int_equal(c.workers_min, 2);
    assert_int_equal(c.workers_max, 3);
    assert_int_equal(c.response_cache, 1);
    triton_model_config t;
    model_config_to_triton(&c, &t);
    assert_int_equal(t.response_cache, 1);

    /* platform names the backend when backend is absent */
    assert_int_equal(model_config_from_triton("{\"platform\": \"onnxruntime_onnx\", \"input\": []}",
                                              &native, err, sizeof err),
                     1);
    assert_non_null(strstr(native, "\"backend\":\"onnx\""));
    free(native);
    /* config.json's own shape is left to its parser */
    assert_int_equal(model_config_from_triton("{\"backend\": \"identity\", \"inputs\": []}",
                                              &native, err, sizeof err),
                     0);
    assert_null(native);
    assert_int_equal(model_config_from_triton("not json", &native, err, sizeof err), 0);
    /* Triton's shape with mistakes: said what */
    assert_int_equal(model_config_from_triton("{\"input\": [{\"name\": \"A\", \"data_type\": "
                                              "\"TYPE_FP8\", \"dims\": [1]}]}",
                                              &native, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "input[0]"));
    assert_int_equal(model_config_from_triton("{\"input\": [{\"name\": \"A\", \"data_type\": "
                                              "\"TYPE_FP32\", \"dims\": [\"x\"]}]}",
                                              &native, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "dims[0]"));
    assert_int_equal(model_config_from_triton("{\"input\": 5}", &native, err, sizeof err), -1);
    assert_int_equal(model_config_from_triton("{\"input\": [], \"max_batch_size\": \"big\"}",
                                              &native, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "max_batch_size"));
}

static void test_modes_and_states(void **state)
{
    (void)state;
    repo_mode m;
    assert_int_equal(repo_mode_parse("none", &m), 0);
    assert_int_equal(m, REPO_MODE_NONE);
    assert_int_equal(repo_mode_parse("explicit", &m), 0);
    assert_int_equal(m, REPO_MODE_EXPLICIT);
    assert_int_equal(repo_mode_parse("poll", &m), 0);
    assert_int_equal(m, REPO_MODE_POLL);
    assert_int_equal(repo_mode_parse("POLL", &m), -1);
    assert_int_equal(repo_mode_parse("", &m), -1);
    assert_string_equal(repo_mode_name(REPO_MODE_EXPLICIT), "explicit");
    assert_string_equal(repo_state_name(REPO_STATE_READY), "READY");
    assert_string_equal(repo_state_name(REPO_STATE_LOADING), "LOADING");
    assert_string_equal(repo_state_name(REPO_STATE_UNLOADING), "UNLOADING");
    assert_string_equal(repo_state_name(REPO_STATE_UNAVAILABLE), "UNAVAILABLE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_types),
        cmocka_unit_test(test_batched_model),
        cmocka_unit_test(test_unbatched_model_has_no_dynamic_batching),
        cmocka_unit_test(test_from_triton),
        cmocka_unit_test(test_modes_and_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
