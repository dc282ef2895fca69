/* KServe JSON codec: decoding straight into a real arena (layout, every dtype, flat and
 * nested, every rejection leaves the arena as it was) and exact response encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kserve.h"

typedef struct fixture {
    shm_region region;
    shm_arena *arena;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    shm_config cfg;
    shm_config_default(&cfg);
    cfg.max_models = 2;
    cfg.max_workers = 2;
    cfg.batch_slots = 8;
    cfg.ring_capacity = 8;
    cfg.completion_capacity = 8;
    cfg.arena_size = 4 << 20;
    char err[256];
    if (shm_region_create(&cfg, &f->region, err, sizeof err) != 0) {
        fprintf(stderr, "region: %s\n", err);
        return -1;
    }
    f->arena = shm_arena_create(&f->region);
    *state = f;
    return f->arena ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *f = *state;
    shm_arena_destroy(f->arena);
    shm_region_close(&f->region);
    free(f);
    return 0;
}

static model_config model(const char *dtype, int mbs, int ndim, const int64_t *dims)
{
    model_config m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "m");
    snprintf(m.backend, sizeof m.backend, "identity");
    m.max_batch_size = mbs;
    m.max_delay_ms = 1000;
    m.n_inputs = m.n_outputs = 1;
    snprintf(m.inputs[0].name, MODEL_NAME_LEN, "IN");
    snprintf(m.outputs[0].name, MODEL_NAME_LEN, "OUT");
    m.inputs[0].dtype = m.outputs[0].dtype = inferd_dtype_from_name(dtype);
    m.inputs[0].ndim = m.outputs[0].ndim = ndim;
    for (int i = 0; i < ndim; i++) m.inputs[0].dims[i] = m.outputs[0].dims[i] = dims[i];
    return m;
}

static int decode(fixture *f, const model_config *m, const char *json, infer_request *req,
                  kserve_params *p, char *err)
{
    memset(req, 0, sizeof *req);
    return kserve_decode_infer(json, strlen(json), m, &f->region, f->arena, req, p, err, 256);
}

static void test_decode_fp32_nested_and_flat(void **state)
{
    fixture *f = *state;
    int64_t dims[] = {-1};
    model_config m = model("FP32", 8, 1, dims);
    infer_request req;
    kserve_params p;
    char err[256];
    const char *jsons[] = {
        "{\"id\": \"x1\", \"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [2, "
        "3],"
        " \"data\": [[1, 2.5, -3], [0.1, 1e-3, 7]]}], \"parameters\": {\"priority\": 3,"
        " \"timeout\": 5000, \"delay_ms\": 20}}",
        "{\"id\": \"x1\", \"inputs\": [{\"name\": \"IN\", \"datatype\": \"FP32\", \"shape\": [2, "
        "3],"
        " \"data\": [1, 2.5, -3, 0.1, 1e-3, 7]}], \"parameters\": {\"priority\": 3,"
        " \"timeout\": 5000, \"delay_ms\": 20}}",
    };
    for (int k = 0; k < 2; k++) {
        assert_int_equal(decode(f, &m, jsons[k], &req, &p, err), 0);
        assert_int_equal(req.n_inputs, 1);
        assert_int_equal(req.batch_rows, 2);
        assert_int_equal(req.priority, 3);
        assert_int_equal(req.delay_us, 20000);
        assert_int_equal(p.timeout_us, 5000);
        assert_int_equal(p.id_len, 2);
        assert_string_equal(p.id, "x1");
        const shm_tensor *t = &req.inputs[0];
        assert_int_equal(t->dtype, INFERD_DTYPE_FP32);
        assert_int_equal(t->ndim, 2);
        assert_int_equal(t->dims[0], 2);
        assert_int_equal(t->dims[1], 3);
        assert_int_equal(t->nbytes, 24);
        float want[] = {1, 2.5f, -3, 0.1f, 1e-3f, 7};
        assert_memory_equal(shm_arena_ptr(&f->region, t->offset), want, sizeof want);
        free(p.id);
        kserve_free_inputs(f->arena, &req);
        assert_int_equal(shm_arena_used(f->arena), 0);
    }
}

static void test_decode_bytes_layout(void **state)
{
    fixture *f = *state;
    int64_t dims[] = {-1};
    model_config m = model("BYTES", 0, 1, dims);
    infer_request req;
    kserve_params p;
    char err[256];
    assert_int_equal(decode(f, &m,
                            "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"BYTES\","
                            " \"shape\": [3], \"data\": [\"ab\", \"\", \"a\\u0000z\"]}]}",
                            &req, &p, err),
                     0);
    assert_null(p.id);
    assert_int_equal(req.batch_rows, 1);
    const shm_tensor *t = &req.inputs[0];
    assert_int_equal(t->nbytes, 4 + 2 + 4 + 0 + 4 + 3);
    const uint8_t want[] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0, 3, 0, 0, 0, 'a', 0, 'z'};
    assert_memory_equal(shm_arena_ptr(&f->region, t->offset), want, sizeof want);
    kserve_free_inputs(f->arena, &req);
}

static void test_decode_every_int_type(void **state)
{
    fixture *f = *state;
    struct {
        const char *dt;
        const char *data;
        uint8_t bytes[16];
        size_t n;
    } cases[] = {
        {"BOOL", "[true, false]", {1, 0}, 2},
        {"INT8", "[-128, 127]", {0x80, 0x7f}, 2},
        {"UINT8", "[0, 255]", {0, 255}, 2},
        {"INT16", "[-2, 258]", {0xfe, 0xff, 2, 1}, 4},
        {"UINT16", "[65535, 1]", {0xff, 0xff, 1, 0}, 4},
        {"INT32", "[-1, 16909060]", {0xff, 0xff, 0xff, 0xff, 4, 3, 2, 1}, 8},
        {"UINT32", "[4294967295, 0]", {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, 8},
        {"INT64",
         "[-1, 1]",
         {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0, 0, 0, 0},
         16},
        {"UINT64", "[1, 2]", {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0}, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t dims[] = {2};
        model_config m = model(cases[i].dt, 0, 1, dims);
        char json[256];
        snprintf(json, sizeof json,
                 "{\"inputs\": [{\"name\": \"IN\", \"datatype\": \"%s\", "
                 "\"shape\": [2], \"data\": %s}]}",
                 cases[i].dt, cases[i].data);
        infer_request req;
        kserve_params p;
        char err[256];
        if (decode(f, &m, json, &req, &p, err) != 0) fail_msg("%s: %s", cases[i].dt, err);
        assert_int_equal(req.inputs[0].nbytes, cases[i].n);
        assert_memory_equal(shm_arena_ptr(&f->region, req.inputs[0].offset), cases[i].bytes,
                            cases[i].n);
        kserve_free_inputs(f->arena, &req);
    }
    assert_int_equal(shm_arena_used(f->arena), 0);
}

static void test_rejections_free_everything(void **state)
{
    fixture *f = *state;
    model_config m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "two");
    m.max_batch_size = 4;
    m.max_delay_ms = 50;
    m.n_inputs = 2;
    m.n_outputs = 1;
    snprintf(m.inputs[0].name, MODEL_NAME_LEN, "A");
    snprintf(m.inputs[1].name, MODEL_NAME_LEN, "B");
    m.inputs[0].dtype = m.inputs[1].dtype = INFERD_DTYPE_INT32;
    m.inputs[0].ndim = m.inputs[1].ndim = 1;
    m.inputs[0].dims[0] = 2;
    m.inputs[1].dims[0] = -1;
    struct {
        const char *json;
        const char *words;
    } bad[] = {
        /* A decodes fine, then B fails: A's buffer must be freed too */
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[1, 2]},"
         " {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [1, 1], \"data\": [\"x\"]}]}",
         "integer"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[1, 2]},"
         " {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [2, 1], \"data\": [1, 2]}]}",
         "batch size"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 3], \"data\": "
         "[1, 2, 3]},"
         " {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [1, 1], \"data\": [1]}]}",
         "expects 2"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [5, 2], \"data\": "
         "[]},"
         " {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [5, 1], \"data\": []}]}",
         "max_batch_size"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[1, 2]},"
         " {\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": [1, 2]}]}",
         "twice"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[[[1], [2]]]},"
         " {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [1, 1], \"data\": [1]}]}",
         "deeper"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "{}},"
         " {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [1, 1], \"data\": [1]}]}",
         "array"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[1, 2]},"
         " {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [1, 1000000], \"data\": [1]}]}",
         "1000000 elements"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[1, 2]}]}",
         "takes 2 inputs"},
        {"{\"inputs\": [], \"outputs\": [{\"name\": \"ZZ\"}]}", "no output 'ZZ'"},
        /* a client-chosen delay above the model's max_delay_ms */
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[1, 2]},"
         " {\"name\": \"B\", \"datatype\": \"INT32\", \"shape\": [1, 1], \"data\": [1]}],"
         " \"parameters\": {\"delay_ms\": 51}}",
         "max_delay_ms"},
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[1, 2],"
         " \"parameters\": {\"binary_data_size\": 8}}, {\"name\": \"B\", \"datatype\": \"INT32\","
         " \"shape\": [1, 1], \"data\": [1]}]}",
         "binary"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        infer_request req;
        kserve_params p;
        char err[256] = "";
        int rc = decode(f, &m, bad[i].json, &req, &p, err);
        if (rc != 400 || !strstr(err, bad[i].words))
            fail_msg("case %zu: rc=%d err='%s' (want '%s')", i, rc, err, bad[i].words);
        assert_null(p.id);
        assert_int_equal(req.n_inputs, 0);
        assert_int_equal(shm_arena_used(f->arena), 0);
    }
}

static void test_encode_exact_numbers(void **state)
{
    fixture *f = *state;
    int64_t dims[] = {-1};
    model_config m = model("FP32", 4, 1, dims);
    infer_request req;
    memset(&req, 0, sizeof req);
    req.n_outputs = 1;
    uint64_t off;
    assert_int_equal(shm_arena_alloc(f->arena, 16, &off), 0);
    float vals[] = {0.1f, 1.0f, NAN, -INFINITY};
    memcpy(shm_arena_ptr(&f->region, off), vals, sizeof vals);
    shm_tensor *t = &req.outputs[0];
    t->dtype = INFERD_DTYPE_FP32;
    t->ndim = 2;
    t->dims[0] = 1;
    t->dims[1] = 4;
    t->offset = off;
    t->nbytes = 16;
    http_buf b;
    http_buf_init(&b);
    char err[256];
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, "q\"1", 3, &b, err, sizeof err), 0);
    assert_string_equal(b.data,
                        "{\"model_name\": \"m\", \"model_version\": \"1\", \"id\": \"q\\\"1\", "
                        "\"outputs\": [{\"name\": \"OUT\", \"datatype\": \"FP32\", "
                        "\"shape\": [1, 4], \"data\": [0.100000001,1,\"NaN\",\"-Inf\"]}]}");
    http_buf_free(&b);

    /* an output whose size disagrees with its shape is refused, not read past */
    t->dims[1] = 5;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, NULL, 0, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "shape needs"));
    http_buf_free(&b);
    /* BYTES with a length running past nbytes */
    t->dtype = INFERD_DTYPE_BYTES;
    t->dims[1] = 1;
    uint32_t huge = 1000;
    memcpy(shm_arena_ptr(&f->region, off), &huge, 4);
    http_buf_init(&b);
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, NULL, 0, &b, err, sizeof err), -1);
    http_buf_free(&b);
    /* outside the arena */
    t->dtype = INFERD_DTYPE_FP32;
    t->dims[1] = 4;
    t->offset = f->region.header->arena_size - 8;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, NULL, 0, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "outside"));
    http_buf_free(&b);
    shm_arena_free(f->arena, off);
}

static void test_encode_fp64_and_ints(void **state)
{
    fixture *f = *state;
    uint64_t off;
    assert_int_equal(shm_arena_alloc(f->arena, 64, &off), 0);
    shm_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = 1;
    t.offset = off;
    http_buf b;
    char err[256];

    double d[] = {0.1, 1e300, -0.0};
    memcpy(shm_arena_ptr(&f->region, off), d, sizeof d);
    t.dtype = INFERD_DTYPE_FP64;
    t.dims[0] = 3;
    t.nbytes = sizeof d;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_data(&f->region, &t, &b, err, sizeof err), 0);
    assert_string_equal(b.data, "[0.10000000000000001,1.0000000000000001e+300,-0]");
    http_buf_free(&b);

    int64_t i64[] = {INT64_MIN, INT64_MAX};
    memcpy(shm_arena_ptr(&f->region, off), i64, sizeof i64);
    t.dtype = INFERD_DTYPE_INT64;
    t.dims[0] = 2;
    t.nbytes = sizeof i64;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_data(&f->region, &t, &b, err, sizeof err), 0);
    assert_string_equal(b.data, "[-9223372036854775808,9223372036854775807]");
    http_buf_free(&b);

    uint8_t bools[] = {1, 0, 7};
    memcpy(shm_arena_ptr(&f->region, off), bools, sizeof bools);
    t.dtype = INFERD_DTYPE_BOOL;
    t.dims[0] = 3;
    t.nbytes = 3;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_data(&f->region, &t, &b, err, sizeof err), 0);
    assert_string_equal(b.data, "[true,false,true]");
    http_buf_free(&b);

    uint16_t half[] = {0x3c00, 0xc000, 0x3555}; /* 1, -2, 0.33325 */
    memcpy(shm_arena_ptr(&f->region, off), half, sizeof half);
    t.dtype = INFERD_DTYPE_FP16;
    t.dims[0] = 3;
    t.nbytes = sizeof half;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_data(&f->region, &t, &b, err, sizeof err), 0);
    assert_string_equal(b.data, "[1,-2,0.33325]");
    http_buf_free(&b);
    shm_arena_free(f->arena, off);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_fp32_nested_and_flat),
        cmocka_unit_test(test_decode_bytes_layout),
        cmocka_unit_test(test_decode_every_int_type),
        cmocka_unit_test(test_rejections_free_everything),
        cmocka_unit_test(test_encode_exact_numbers),
        cmocka_unit_test(test_encode_fp64_and_ints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
