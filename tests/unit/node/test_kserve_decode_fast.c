/* The KServe JSON decoder's fast path (kserve_decode_fast.c) against the full path: every
 * body it accepts decodes to the same tensors as the full path gives for the same body with an
 * "id" added (which the fast path declines), and every body outside its form (other keys,
 * duplicates, errors of every kind) is declined with nothing held, then answered by the full
 * path as before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scratch.h"
#include "arena_fixture.h"
#include "kserve.h"

typedef arena_fixture fixture;

static int setup(void **state)
{
    return arena_fixture_setup(state, 1 << 20);
}

static int teardown(void **state)
{
    return arena_fixture_teardown(state);
}

/* Model "m": inputs IN (dtype, ndim dims) and, when two, B (INT32, [2]), batched when mbs. */
static model_config model(const char *dtype, int mbs, int ndim, const int64_t *dims, int two)
{
    model_config m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "m");
    m.max_batch_size = mbs;
    m.max_delay_ms = 1000;
    m.n_inputs = two ? 2 : 1;
    m.n_outputs = 1;
    snprintf(m.inputs[0].name, MODEL_NAME_LEN, "IN");
    snprintf(m.outputs[0].name, MODEL_NAME_LEN, "OUT");
    m.inputs[0].dtype = m.outputs[0].dtype = inferd_dtype_from_name(dtype);
    m.inputs[0].ndim = m.outputs[0].ndim = ndim;
    for (int i = 0; i < ndim; i++) m.inputs[0].dims[i] = m.outputs[0].dims[i] = dims[i];
    if (two) {
        snprintf(m.inputs[1].name, MODEL_NAME_LEN, "B");
        m.inputs[1].dtype = INFERD_DTYPE_INT32;
        m.inputs[1].ndim = 1;
        m.inputs[1].dims[0] = 2;
    }
    return m;
}

static int full_decode(fixture *f, const model_config *m, const char *json, infer_request *req,
                       kserve_params *p, char *err)
{
    memset(req, 0, sizeof *req);
    size_t n = strlen(json);
    return kserve_decode_infer(json, n, n, NULL, m, &f->region, f->arena, req, p, err, 256);
}

/* json with "id": "x" as its first member: outside the fast path's form. */
static char *with_id(const char *json)
{
    const char *brace = strchr(json, '{');
    assert_non_null(brace);
    size_t head = (size_t)(brace - json) + 1;
    char *out = malloc(strlen(json) + 16);
    memcpy(out, json, head);
    strcpy(out + head, "\"id\": \"x\", ");
    strcat(out, json + head);
    return out;
}

/* The fast path accepts json, and gives what the full path gives for json plus an id. */
static void expect_same(fixture *f, const model_config *m, const char *json)
{
    infer_request fast, full;
    memset(&fast, 0, sizeof fast);
    fast.batch_rows = 1;
    if (!kserve_decode_fast(json, strlen(json), m, &f->region, f->arena, &fast))
        fail_msg("fast path declined: %s", json);
    kserve_params p;
    char err[256];
    char *json2 = with_id(json);
    if (full_decode(f, m, json2, &full, &p, err) != 0) fail_msg("full path: %s: %s", err, json2);
    free(json2);
    assert_string_equal(p.id, "x");
    kserve_params_free(NULL, &p);
    assert_int_equal(fast.n_inputs, full.n_inputs);
    assert_int_equal(fast.batch_rows, full.batch_rows);
    assert_int_equal(fast.output_mask, full.output_mask);
    for (uint32_t i = 0; i < full.n_inputs; i++) {
        const shm_tensor *a = &fast.inputs[i], *b = &full.inputs[i];
        assert_int_equal(a->dtype, b->dtype);
        assert_int_equal(a->ndim, b->ndim);
        assert_memory_equal(a->dims, b->dims, sizeof a->dims);
        assert_int_equal(a->nbytes, b->nbytes);
        assert_memory_equal(shm_arena_ptr(&f->region, a->offset),
                            shm_arena_ptr(&f->region, b->offset), a->nbytes);
    }
    kserve_free_inputs(f->arena, &fast);
    kserve_free_inputs(f->arena, &full);
    assert_int_equal(shm_arena_used(f->arena), 0);
}

/* The fast path declines json with nothing held; the full path then answers want_status. */
static void expect_declined(fixture *f, const model_config *m, const char *json, int want_status)
{
    infer_request req;
    memset(&req, 0, sizeof req);
    req.batch_rows = 1;
    if (kserve_decode_fast(json, strlen(json), m, &f->region, f->arena, &req))
        fail_msg("fast path accepted: %s", json);
    assert_int_equal(req.n_inputs, 0);
    assert_int_equal(req.batch_rows, 1);
    assert_int_equal(req.inputs[0].nbytes, 0);
    assert_int_equal(shm_arena_used(f->arena), 0);
    kserve_params p;
    char err[256];
    int status = full_decode(f, m, json, &req, &p, err);
    if (status != want_status) fail_msg("full path answered %d (%s): %s", status, err, json);
    if (status == 0) {
        kserve_free_inputs(f->arena, &req);
        kserve_params_free(NULL, &p);
    }
    assert_int_equal(shm_arena_used(f->arena), 0);
}

static void test_fast_path_matches_full_path(void **state)
{
    fixture *f = *state;
    int64_t any[] = {-1}, three[] = {3}, grid[] = {2, 3};
    model_config fp32 = model("FP32", 8, 1, any, 0);
    expect_same(f, &fp32,
                "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 4], "
                "\"data\": [1, 2, 3, 4]}]}");
    /* any key order, white space everywhere, an escaped name, nested data, -0 and reals */
    expect_same(f, &fp32,
                " \r\n{ \"inputs\" :[ {\"data\" :[[-0,0.5,1e3],[ -1.25e-2 ,3 , 16777217]],"
                "\t\"shape\":[2,3],\"datatype\":\"FP32\",\"name\":\"I\\u004e\"} ] }\n ");
    model_config i64 = model("INT64", 0, 1, three, 0);
    expect_same(f, &i64,
                "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"INT64\", \"shape\": [3], "
                "\"data\": [9223372036854775807, -9223372036854775808, 9007199254740993]}]}");
    model_config bytes = model("BYTES", 0, 1, three, 0);
    expect_same(f, &bytes,
                "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"BYTES\", \"shape\": [3], "
                "\"data\": [\"ab\", \"\", \"a\\u0000z\\u00e9\"]}]}");
    model_config boolean = model("BOOL", 0, 2, grid, 0);
    expect_same(f, &boolean,
                "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"BOOL\", \"shape\": [2, 3], "
                "\"data\": [true, false, true, false, false, true]}]}");
    /* two inputs, in either order; a zero-sized tensor */
    model_config two = model("FP32", 4, 1, any, 1);
    expect_same(f, &two,
                "{\"inputs\": [{\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [3, 2], "
                "\"data\": [1, 2, 3, 4, 5, 6]}, {\"name\": \"IN\", \"datatype\": \"FP32\", "
                "\"shape\": [3, 0], \"data\": []}]}");
}

static void test_fast_path_declines(void **state)
{
    fixture *f = *state;
    int64_t any[] = {-1};
    model_config m = model("FP32", 8, 1, any, 0);
    const char *in = "{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
                     "\"data\": [1, 2]}";
    char json[512];
    /* well-formed, but outside the form: the full path decodes them */
    snprintf(json, sizeof json, "{\"inputs\": [%s], \"outputs\": [{\"name\": \"OUT\"}]}", in);
    expect_declined(f, &m, json, 0);
    snprintf(json, sizeof json, "{\"parameters\": {\"priority\": 1}, \"inputs\": [%s]}", in);
    expect_declined(f, &m, json, 0);
    expect_declined(f, &m,
                    "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2],"
                    " \"data\": [1, 2], \"parameters\": {}}]}",
                    0);
    /* a name with an embedded NUL: the full path compares it as a C string */
    expect_declined(f, &m,
                    "{\"inputs\": [{\"name\": \"IN\\u0000x\", \"datatype\": \"FP32\","
                    " \"shape\": [1, 2], \"data\": [1, 2]}]}",
                    0);
    /* errors: the full path's answer, never the fast path's */
    const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"inputs\": []}",
        "{\"inputs\": {}}",
        "{\"inputs\": [1]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}], \"inputs\": []}",
        "{\"inputs\": [{\"name\": \"IN\", \"name\": \"IN\", \"datatype\": \"FP32\", "
        "\"shape\": [1, 2], \"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2], \"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}, {\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"NO\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"INT32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1.0, 2], "
        "\"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2, 1], "
        "\"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [9, 2], "
        "\"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": "
        "[1, 99999999999999999999], \"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 3], "
        "\"data\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, \"2\"]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 1e39]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2]}]}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}]} x",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}],}",
        "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}",
        "{\"inputs\": [{\"name\": \"I\xff\", \"datatype\": \"FP32\", \"shape\": [1, 2], "
        "\"data\": [1, 2]}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_declined(f, &m, bad[i], 400);
    /* FP16 takes no JSON data */
    model_config half = model("FP16", 0, 1, any, 0);
    expect_declined(f, &half,
                    "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP16\", \"shape\": [1], "
                    "\"data\": [1]}]}",
                    400);
    /* two inputs whose batch sizes differ */
    model_config two = model("FP32", 4, 1, any, 1);
    expect_declined(f, &two,
                    "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [1, 1], "
                    "\"data\": [1]}, {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [2, 2], "
                    "\"data\": [1, 2, 3, 4]}]}",
                    400);
}

/* A request larger than the arena: the fast path's 503 is declined, the full path's kept. */
static void test_fast_path_declines_full_arena(void **state)
{
    fixture *f = *state;
    int64_t any[] = {-1};
    model_config m = model("INT8", 0, 1, any, 0);
    size_t n = 2u << 20; /* twice the arena */
    char *json = malloc(2 * n + 128);
    int k = snprintf(json, 128,
                     "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"INT8\", \"shape\": [%zu], "
                     "\"data\": [",
                     n);
    for (size_t i = 0; i < n; i++) {
        json[k++] = '1';
        json[k++] = i + 1 < n ? ',' : ']';
    }
    strcpy(json + k, "}]}");
    expect_declined(f, &m, json, 503);
    free(json);
}

int main(void)
{
    json_scratch_install();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_path_matches_full_path),
        cmocka_unit_test(test_fast_path_declines),
        cmocka_unit_test(test_fast_path_declines_full_arena),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
