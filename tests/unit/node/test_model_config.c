/* model_config: parsing of config.json (defaults, every field, every kind of mistake) and
 * loading a repository where broken models are skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inferd/log.h"
#include "inferd/model_config.h"

static int parse(const char *json, model_config *c, char *err)
{
    return model_config_parse("m", "/nonexistent/m", json, c, err, 256);
}

static void test_minimal_mock_gets_defaults(void **state)
{
    (void)state;
    model_config c;
    char err[256];
    assert_int_equal(parse("{\"backend\": \"reverse\"}", &c, err), 0);
    assert_string_equal(c.name, "m");
    assert_string_equal(c.backend, "reverse");
    assert_int_equal(c.max_batch_size, 0);
    assert_int_equal(c.n_inputs, 1);
    assert_string_equal(c.inputs[0].name, "INPUT0");
    assert_int_equal(c.inputs[0].dtype, INFERD_DTYPE_BYTES);
    assert_int_equal(c.n_outputs, 1);
    assert_string_equal(c.outputs[0].name, "OUTPUT0");
    assert_int_equal(c.workers_min, 2);
    assert_int_equal(c.workers_max, 4);
    assert_int_equal(c.max_queue_size, 1024);
    assert_int_equal(c.timeout_ms, 30000);
    assert_int_equal(c.max_delay_ms, 300000);
    assert_int_equal(c.version, 0);
    assert_string_equal(c.model_file, "");
    assert_int_equal(parse("{\"backend\": \"identity\"}", &c, err), 0);
    assert_int_equal(c.inputs[0].dtype, INFERD_DTYPE_FP32);
    /* the delay cap follows a default delay above it; a given cap is kept */
    assert_int_equal(parse("{\"backend\": \"delay\", \"delay_ms\": 400000}", &c, err), 0);
    assert_int_equal(c.max_delay_ms, 400000);
    assert_int_equal(parse("{\"backend\": \"delay\", \"max_delay_ms\": 5000}", &c, err), 0);
    assert_int_equal(c.max_delay_ms, 5000);
    assert_int_equal(c.arena_mb, 0); /* absent: the node's --arena-mb share */
    assert_int_equal(parse("{\"backend\": \"identity\", \"arena_mb\": 48}", &c, err), 0);
    assert_int_equal(c.arena_mb, 48);
    assert_int_equal(c.threads, 1); /* absent: one compute thread per worker session */
    assert_int_equal(parse("{\"backend\": \"identity\", \"threads\": 4}", &c, err), 0);
    assert_int_equal(c.threads, 4);
    assert_int_equal(c.response_cache, 0); /* absent: not cached */
    assert_int_equal(
        parse("{\"backend\": \"identity\", \"response_cache\": {\"enable\": true}}", &c, err), 0);
    assert_int_equal(c.response_cache, 1);
    assert_int_equal(
        parse("{\"backend\": \"identity\", \"response_cache\": {\"enable\": false}}", &c, err), 0);
    assert_int_equal(c.response_cache, 0);
}

static void test_workers_one_side_given(void **state)
{
    (void)state;
    model_config c;
    char err[256];
    assert_int_equal(parse("{\"backend\": \"identity\", \"workers\": {\"max\": 1}}", &c, err), 0);
    assert_int_equal(c.workers_min, 1);
    assert_int_equal(c.workers_max, 1);
    assert_int_equal(parse("{\"backend\": \"identity\", \"workers\": {\"max\": 8}}", &c, err), 0);
    assert_int_equal(c.workers_min, 2);
    assert_int_equal(c.workers_max, 8);
    assert_int_equal(parse("{\"backend\": \"identity\", \"workers\": {\"min\": 6}}", &c, err), 0);
    assert_int_equal(c.workers_min, 6);
    assert_int_equal(c.workers_max, 6);
    assert_int_equal(parse("{\"backend\": \"identity\", \"workers\": {\"min\": 1}}", &c, err), 0);
    assert_int_equal(c.workers_min, 1);
    assert_int_equal(c.workers_max, 4);
}

static void test_full_config(void **state)
{
    (void)state;
    model_config c;
    char err[256];
    const char *json =
        "{\"backend\": \"delay\", \"max_batch_size\": 64, \"delay_ms\": 250,"
        " \"inputs\": [{\"name\": \"A\", \"datatype\": \"INT64\", \"dims\": [-1, 3]},"
        "              {\"name\": \"B\", \"datatype\": \"BOOL\", \"dims\": []}],"
        " \"outputs\": [{\"name\": \"C\", \"datatype\": \"FP64\", \"dims\": [7]}],"
        " \"workers\": {\"min\": 2, \"max\": 4}, \"dynamic_batching\": {\"max_queue_delay_us\": "
        "500},"
        " \"max_queue_size\": 10, \"timeout_ms\": 0, \"hang_timeout_ms\": 1500,"
        " \"idle_timeout_ms\": 100}";
    assert_int_equal(parse(json, &c, err), 0);
    assert_int_equal(c.max_batch_size, 64);
    assert_int_equal(c.delay_ms, 250);
    assert_int_equal(c.n_inputs, 2);
    assert_int_equal(c.inputs[0].ndim, 2);
    assert_int_equal(c.inputs[0].dims[0], -1);
    assert_int_equal(c.inputs[0].dims[1], 3);
    assert_int_equal(c.inputs[1].dtype, INFERD_DTYPE_BOOL);
    assert_int_equal(c.inputs[1].ndim, 0);
    assert_int_equal(c.outputs[0].dtype, INFERD_DTYPE_FP64);
    assert_int_equal(c.workers_min, 2);
    assert_int_equal(c.workers_max, 4);
    assert_int_equal(c.max_queue_delay_us, 500);
    assert_int_equal(c.max_queue_size, 10);
    assert_int_equal(c.timeout_ms, 0);
    assert_int_equal(c.hang_timeout_ms, 1500);
    assert_int_equal(c.idle_timeout_ms, 100);
}

static void expect_error(const char *json, const char *words)
{
    model_config c;
    char err[256] = "";
    int rc = parse(json, &c, err);
    if (rc != -1 || !strstr(err, words))
        fail_msg("config %s: rc=%d err='%s', expected '%s'", json, rc, err, words);
}

static void test_errors_say_what_is_wrong(void **state)
{
    (void)state;
    expect_error("", "line 1");
    expect_error("{", "line 1");
    expect_error("[]", "JSON object");
    expect_error("{}", "backend");
    expect_error("{\"backend\": 5}", "backend");
    expect_error("{\"backend\": \"x\", \"backend\": \"y\"}", "duplicate");
    expect_error("{\"backend\": \"identity\", \"max_batch_size\": -1}", "max_batch_size");
    expect_error("{\"backend\": \"identity\", \"max_batch_size\": 5000}", "max_batch_size");
    expect_error("{\"backend\": \"identity\", \"max_batch_size\": \"8\"}", "integer");
    expect_error("{\"backend\": \"onnx\"}", "inputs");
    expect_error("{\"backend\": \"identity\", \"inputs\": {}}", "inputs: must be an array");
    expect_error("{\"backend\": \"identity\", \"inputs\": []}", "1..16");
    expect_error(
        "{\"backend\": \"identity\", \"inputs\": [{\"datatype\": \"FP32\", \"dims\": [1]}]}",
        "inputs[0].name");
    expect_error(
        "{\"backend\": \"identity\", \"inputs\": [{\"name\": \"a\", \"datatype\": \"FP8\", "
        "\"dims\": [1]}]}",
        "inputs[0].datatype: unknown type 'FP8'");
    expect_error(
        "{\"backend\": \"identity\", \"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\"}]}",
        "inputs[0].dims");
    expect_error(
        "{\"backend\": \"identity\", \"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", "
        "\"dims\": [-3]}]}",
        "inputs[0].dims[0]");
    expect_error(
        "{\"backend\": \"identity\", \"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", "
        "\"dims\": [1]}, {\"name\": \"a\", \"datatype\": \"FP32\", \"dims\": [1]}]}",
        "duplicate name");
    expect_error(
        "{\"backend\": \"identity\", \"max_batch_size\": 2, \"inputs\": [{\"name\": \"a\", "
        "\"datatype\": \"FP32\", \"dims\": [1,1,1,1,1,1,1,1]}]}",
        "at most 7");
    expect_error("{\"backend\": \"identity\", \"workers\": {\"min\": 3, \"max\": 2}}", "below min");
    expect_error("{\"backend\": \"identity\", \"workers\": {\"min\": 0}}", "workers.min");
    expect_error("{\"backend\": \"identity\", \"workers\": 2}", "workers");
    expect_error("{\"backend\": \"identity\", \"timeout_ms\": -5}", "timeout_ms");
    expect_error("{\"backend\": \"delay\", \"delay_ms\": 10, \"max_delay_ms\": 9}",
                 "max_delay_ms (9) is below delay_ms (10)");
    expect_error("{\"backend\": \"delay\", \"max_delay_ms\": -1}", "max_delay_ms");
    expect_error("{\"backend\": \"identity\", \"arena_mb\": -1}", "arena_mb");
    expect_error("{\"backend\": \"identity\", \"arena_mb\": 2000000}", "arena_mb");
    expect_error("{\"backend\": \"identity\", \"threads\": 0}", "threads");
    expect_error("{\"backend\": \"identity\", \"threads\": 65}", "threads");
    expect_error("{\"backend\": \"identity\", \"threads\": \"2\"}", "threads");
    expect_error("{\"backend\": \"identity\", \"response_cache\": true}", "response_cache");
    expect_error("{\"backend\": \"identity\", \"response_cache\": {\"enable\": 1}}",
                 "response_cache");
    expect_error("{\"backend\": \"onnx\", \"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", "
                 "\"dims\": [1]}], \"outputs\": [{\"name\": \"b\", \"datatype\": \"FP32\", "
                 "\"dims\": [1]}]}",
                 "version folder");
}

static void test_bad_names(void **state)
{
    (void)state;
    model_config c;
    char err[256];
    assert_int_equal(
        model_config_parse("a/b", "/x", "{\"backend\": \"reverse\"}", &c, err, sizeof err), -1);
    assert_int_equal(
        model_config_parse("", "/x", "{\"backend\": \"reverse\"}", &c, err, sizeof err), -1);
    char longname[100];
    memset(longname, 'n', sizeof longname - 1);
    longname[99] = '\0';
    assert_int_equal(
        model_config_parse(longname, "/x", "{\"backend\": \"reverse\"}", &c, err, sizeof err), -1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_repository_skips_broken(void **state)
{
    (void)state;
    char root[] = "/tmp/inferd-test-repo-XXXXXX";
    assert_non_null(mkdtemp(root));
    char p[512];
    const char *names[] = {"good", "broken", "empty", "onnxy"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", root, names[i]);
        assert_int_equal(mkdir(p, 0700), 0);
    }
    snprintf(p, sizeof p, "%s/good/config.json", root);
    write_file(p, "{\"backend\": \"identity\", \"max_batch_size\": 4}");
    snprintf(p, sizeof p, "%s/broken/config.json", root);
    write_file(p, "{\"backend\": ");
    snprintf(p, sizeof p, "%s/onnxy/3", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/onnxy/3/model.onnx", root);
    write_file(p, "not really onnx");
    snprintf(p, sizeof p, "%s/onnxy/config.json", root);
    write_file(p, "{\"backend\": \"onnx\", \"inputs\": [{\"name\": \"a\", \"datatype\": \"FP32\", "
                  "\"dims\": [1]}], \"outputs\": [{\"name\": \"b\", \"datatype\": \"FP32\", "
                  "\"dims\": [1]}]}");
    snprintf(p, sizeof p, "%s/a-file", root);
    write_file(p, "not a folder");

    model_config *models = NULL;
    int n = -1;
    char err[256];
    log_init(LOG_OFF, LOG_FORMAT_TEXT, "test");
    assert_int_equal(model_repository_load(root, &models, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(models[0].name, "good"); /* name order */
    assert_string_equal(models[1].name, "onnxy");
    assert_int_equal(models[1].version, 3);
    assert_non_null(strstr(models[1].model_file, "/onnxy/3/model.onnx"));
    free(models);

    model_config one;
    snprintf(p, sizeof p, "%s/good/", root);
    assert_int_equal(model_config_load(p, &one, err, sizeof err), 0);
    assert_string_equal(one.name, "good");
    snprintf(p, sizeof p, "%s/empty", root);
    assert_int_equal(model_config_load(p, &one, err, sizeof err), -1);
    assert_non_null(strstr(err, "config.json"));

    assert_int_equal(model_repository_load("/nonexistent/repo", &models, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/repo"));

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    assert_int_equal(system(cmd), 0);
}

static void test_bundled_models_load(void **state)
{
    (void)state;
    model_config *models = NULL;
    int n = 0;
    char err[256];
    log_init(LOG_OFF, LOG_FORMAT_TEXT, "test");
    assert_int_equal(
        model_repository_load(INFERD_SOURCE_DIR "/models", &models, &n, err, sizeof err), 0);
    int found = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(models[i].name, "reverse") == 0) {
            found++;
            assert_int_equal(models[i].max_batch_size, 64);
            assert_int_equal(models[i].workers_min, 2);
            assert_int_equal(models[i].workers_max, 4);
        } else if (strcmp(models[i].name, "delay") == 0) {
            found++;
            assert_int_equal(models[i].delay_ms, 1000);
            assert_int_equal(models[i].max_batch_size, 64);
        } else if (strcmp(models[i].name, "identity") == 0) {
            found++;
        }
    }
    assert_int_equal(found, 3);
    free(models);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_mock_gets_defaults),
        cmocka_unit_test(test_workers_one_side_given),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_errors_say_what_is_wrong),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_repository_skips_broken),
        cmocka_unit_test(test_bundled_models_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
