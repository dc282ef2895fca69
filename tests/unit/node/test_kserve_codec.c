/* KServe codec: decoding straight into a real arena (layout, every dtype, flat and nested,
 * binary data after a JSON header and the raw form, every rejection leaves the arena as it
 * was) and exact response encoding (JSON data, binary outputs pointed at in the arena). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scratch.h"
#include "arena_fixture.h"
#include "kserve.h"

typedef arena_fixture fixture;

static int setup(void **state)
{
    return arena_fixture_setup(state, 4 << 20);
}

static int teardown(void **state)
{
    return arena_fixture_teardown(state);
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
    return kserve_decode_infer(json, strlen(json), strlen(json), NULL, m, &f->region, f->arena, req,
                               p, err, 256);
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
        /* the skeleton's tree is made in this thread's scratch block and all given back (an
         * outer window keeps the block's use visible after decode's own window) */
        json_scratch_begin();
        assert_int_equal(decode(f, &m, jsons[k], &req, &p, err), 0);
        assert_true(json_scratch_used() > 0);
        assert_int_equal(json_scratch_live(), 0);
        json_scratch_end();
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
    kserve_params prm;
    memset(&prm, 0, sizeof prm);
    prm.id = "q\"1";
    prm.id_len = 3;
    http_span spans[MODEL_MAX_IO];
    int n_spans, json_only;
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, &prm, &b, spans, &n_spans,
                                         &json_only, err, sizeof err),
                     0);
    assert_int_equal(n_spans, 0);
    assert_int_equal(json_only, 1);
    prm.id = NULL;
    assert_string_equal(b.data,
                        "{\"model_name\": \"m\", \"model_version\": \"1\", \"id\": \"q\\\"1\", "
                        "\"outputs\": [{\"name\": \"OUT\", \"datatype\": \"FP32\", "
                        "\"shape\": [1, 4], \"data\": [0.100000001,1,\"NaN\",\"-Inf\"]}]}");
    http_buf_free(&b);

    /* an output whose size disagrees with its shape is refused, not read past */
    t->dims[1] = 5;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, &prm, &b, spans, &n_spans,
                                         &json_only, err, sizeof err),
                     500);
    assert_non_null(strstr(err, "shape needs"));
    http_buf_free(&b);
    /* BYTES with a length running past nbytes */
    t->dtype = INFERD_DTYPE_BYTES;
    t->dims[1] = 1;
    uint32_t huge = 1000;
    memcpy(shm_arena_ptr(&f->region, off), &huge, 4);
    http_buf_init(&b);
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, &prm, &b, spans, &n_spans,
                                         &json_only, err, sizeof err),
                     500);
    http_buf_free(&b);
    /* outside the arena */
    t->dtype = INFERD_DTYPE_FP32;
    t->dims[1] = 4;
    t->offset = f->region.header->arena_size - 8;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, &prm, &b, spans, &n_spans,
                                         &json_only, err, sizeof err),
                     500);
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

/* Integers and integral floats are printed without printf: the text must be what %.9g /
 * %.17g / %lld print, at and around the limits where %g turns to exponents. */
static void test_encode_integral_floats_match_printf(void **state)
{
    fixture *f = *state;
    double fp64[] = {0,
                     -0.0,
                     1,
                     -1,
                     123456789,
                     1e9 - 1,
                     1e9,
                     -1e9,
                     1e16,
                     1e17 - 16,
                     1e17,
                     2.5e17,
                     9.5e18,
                     -9.5e18,
                     1e19,
                     0.5,
                     -2.5,
                     4503599627370497.0,
                     99999999999999984.0,
                     1e300};
    float fp32[] = {0, -0.0f, 7, -7, 16777216, 999999936, 1e9f, 1e10f, -3e9f, 0.25f, 65504};
    enum { N64 = sizeof fp64 / sizeof fp64[0], N32 = sizeof fp32 / sizeof fp32[0] };
    uint64_t off;
    assert_int_equal(shm_arena_alloc(f->arena, sizeof fp64, &off), 0);
    shm_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = 1;
    t.offset = off;
    http_buf b, want;
    char err[256];
    for (int pass = 0; pass < 2; pass++) {
        http_buf_init(&want);
        http_buf_puts(&want, "[");
        if (pass == 0) {
            memcpy(shm_arena_ptr(&f->region, off), fp64, sizeof fp64);
            t.dtype = INFERD_DTYPE_FP64;
            t.dims[0] = N64;
            t.nbytes = sizeof fp64;
            for (int i = 0; i < N64; i++) http_buf_printf(&want, i ? ",%.17g" : "%.17g", fp64[i]);
        } else {
            memcpy(shm_arena_ptr(&f->region, off), fp32, sizeof fp32);
            t.dtype = INFERD_DTYPE_FP32;
            t.dims[0] = N32;
            t.nbytes = sizeof fp32;
            for (int i = 0; i < N32; i++)
                http_buf_printf(&want, i ? ",%.9g" : "%.9g", (double)fp32[i]);
        }
        http_buf_puts(&want, "]");
        http_buf_init(&b);
        assert_int_equal(kserve_encode_data(&f->region, &t, &b, err, sizeof err), 0);
        assert_string_equal(b.data, want.data);
        http_buf_free(&b);
        http_buf_free(&want);
    }
    shm_arena_free(f->arena, off);
}

/* A body of a JSON header and binary parts, for model "bin" below. */
typedef struct bin_body {
    char data[512];
    size_t len, json_len;
} bin_body;

static void bin_make(bin_body *b, const char *json, const void *bin, size_t bin_len)
{
    b->json_len = strlen(json);
    memcpy(b->data, json, b->json_len);
    memcpy(b->data + b->json_len, bin, bin_len);
    b->len = b->json_len + bin_len;
}

/* A: INT32 [2]; B: BYTES [-1]; H: FP16 [2]; batched (max 4) */
static model_config bin_model(void)
{
    model_config m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "bin");
    m.max_batch_size = 4;
    m.n_inputs = 3;
    m.n_outputs = 2;
    snprintf(m.inputs[0].name, MODEL_NAME_LEN, "A");
    snprintf(m.inputs[1].name, MODEL_NAME_LEN, "B");
    snprintf(m.inputs[2].name, MODEL_NAME_LEN, "H");
    snprintf(m.outputs[0].name, MODEL_NAME_LEN, "X");
    snprintf(m.outputs[1].name, MODEL_NAME_LEN, "Y");
    m.inputs[0].dtype = INFERD_DTYPE_INT32;
    m.inputs[1].dtype = INFERD_DTYPE_BYTES;
    m.inputs[2].dtype = INFERD_DTYPE_FP16;
    m.outputs[0].dtype = m.outputs[1].dtype = INFERD_DTYPE_INT32;
    for (int i = 0; i < 3; i++) m.inputs[i].ndim = 1;
    m.inputs[0].dims[0] = 2;
    m.inputs[1].dims[0] = -1;
    m.inputs[2].dims[0] = 2;
    return m;
}

#define BIN_A(extra) "{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2]" extra "}"
#define BIN_B(extra) "{\"name\": \"B\", \"datatype\": \"BYTES\", \"shape\": [1, 2]" extra "}"
#define BIN_H(extra) "{\"name\": \"H\", \"datatype\": \"FP16\", \"shape\": [1, 2]" extra "}"
#define SZ(n)        ", \"parameters\": {\"binary_data_size\": " #n "}"

/* the binary parts: A = {7, -1}, B = {"hi", ""}, H = {1.0, -2.0} in FP16 */
static const uint8_t BIN_PARTS[] = {7,    0,    0,    0,   0xff, 0xff, 0xff, 0xff,       /* A */
                                    2,    0,    0,    0,   'h',  'i',  0,    0,    0, 0, /* B */
                                    0x00, 0x3c, 0x00, 0xc0};                             /* H */

static void test_decode_binary_inputs(void **state)
{
    fixture *f = *state;
    model_config m = bin_model();
    bin_body b;
    bin_make(&b,
             "{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(10)) ", " BIN_H(
                 SZ(4)) "],"
                        " \"parameters\": {\"binary_data_output\": true},"
                        " \"outputs\": [{\"name\": \"X\"}, {\"name\": \"Y\", \"parameters\": "
                        "{\"binary_data\": false}}]}",
             BIN_PARTS, sizeof BIN_PARTS);
    infer_request req;
    memset(&req, 0, sizeof req);
    kserve_params p;
    char err[256];
    assert_int_equal(kserve_decode_infer(b.data, b.len, b.json_len, NULL, &m, &f->region, f->arena,
                                         &req, &p, err, sizeof err),
                     0);
    assert_int_equal(req.batch_rows, 1);
    assert_int_equal(req.inputs[0].nbytes, 8);
    assert_memory_equal(shm_arena_ptr(&f->region, req.inputs[0].offset), BIN_PARTS, 8);
    assert_int_equal(req.inputs[1].nbytes, 10);
    assert_memory_equal(shm_arena_ptr(&f->region, req.inputs[1].offset), BIN_PARTS + 8, 10);
    assert_int_equal(req.inputs[2].nbytes, 4);
    assert_memory_equal(shm_arena_ptr(&f->region, req.inputs[2].offset), BIN_PARTS + 18, 4);
    assert_int_equal(p.binary_outputs, 1u); /* X by the request default, Y asked as JSON */
    assert_int_equal(req.output_mask, 3u);
    kserve_free_inputs(f->arena, &req);
    kserve_params_free(NULL, &p);
    assert_int_equal(shm_arena_used(f->arena), 0);
}

static void test_binary_rejections(void **state)
{
    fixture *f = *state;
    model_config m = bin_model();
    static const uint8_t parts[] = {7, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0, 'h', 'i', 0,
                                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,   0,   0};
    struct {
        const char *json;
        size_t bin_len;
        const char *words;
    } bad[] = {
        /* binary_data_size disagrees with shape x datatype */
        {"{\"inputs\": [" BIN_A(SZ(4)) ", " BIN_B(SZ(10)) ", " BIN_H(SZ(4)) "]}", 18, "need 8"},
        /* a size running past the body */
        {"{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(10)) ", " BIN_H(SZ(4)) "]}", 20,
         "runs past the end of the body"},
        /* binary bytes nobody claims */
        {"{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(10)) ", " BIN_H(SZ(4)) "]}", 26,
         "belong to no input"},
        /* BYTES: an element's length overruns its binary_data_size */
        {"{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(9)) ", " BIN_H(SZ(4)) "]}", 21,
         "BYTES element 1: its 4-byte length is cut short"},
        /* BYTES: element count differs from the shape */
        {"{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(6)) ", " BIN_H(SZ(4)) "]}", 18,
         "too short for 2"},
        /* binary and data on one input */
        {"{\"inputs\": [{\"name\": \"A\", \"datatype\": \"INT32\", \"shape\": [1, 2], \"data\": "
         "[1, 2], \"parameters\": {\"binary_data_size\": 8}}, " BIN_B(SZ(10)) ", " BIN_H(
             SZ(4)) "]}",
         18, "only one of"},
        /* a negative or non-integer size */
        {"{\"inputs\": [" BIN_A(SZ(-8)) ", " BIN_B(SZ(10)) ", " BIN_H(SZ(4)) "]}", 18,
         "non-negative integer"},
        {"{\"inputs\": [" BIN_A(SZ("8")) ", " BIN_B(SZ(10)) ", " BIN_H(SZ(4)) "]}", 18,
         "non-negative integer"},
        /* binary_data_size on a requested output */
        {"{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(10)) ", " BIN_H(
             SZ(4)) "], \"outputs\": "
                    "[{\"name\": \"X\", \"parameters\": {\"binary_data_size\": 8}}]}",
         22, "belongs to response outputs"},
        {"{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(10)) ", " BIN_H(
             SZ(4)) "], \"outputs\": "
                    "[{\"name\": \"X\", \"parameters\": {\"binary_data\": 1}}]}",
         22, "true or false"},
        {"{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(10)) ", " BIN_H(
             SZ(4)) "], \"outputs\": "
                    "[{\"name\": \"X\"}, {\"name\": \"X\"}]}",
         22, "twice"},
        /* FP16 as JSON data is still refused: it has no JSON form */
        {"{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(
             SZ(10)) ", {\"name\": \"H\", \"datatype\": "
                     "\"FP16\", \"shape\": [1, 2], \"data\": [1, 2]}]}",
         18, "send it as binary"},
        /* shared memory named while the node has it off */
        {"{\"inputs\": [" BIN_A(
             ", \"parameters\": {\"shared_memory_region\": \"r\", "
             "\"shared_memory_byte_size\": 8}") ", " BIN_B(SZ(10)) ", " BIN_H(SZ(4)) "]}",
         14, "disabled"},
        {"{\"inputs\": [" BIN_A(", \"parameters\": {\"shared_memory_region\": \"r\"}") ", " BIN_B(
             SZ(10)) ", " BIN_H(SZ(4)) "]}",
         14, "needs both"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bin_body b;
        bin_make(&b, bad[i].json, parts, bad[i].bin_len);
        infer_request req;
        memset(&req, 0, sizeof req);
        kserve_params p;
        char err[256] = "";
        int rc = kserve_decode_infer(b.data, b.len, b.json_len, NULL, &m, &f->region, f->arena,
                                     &req, &p, err, sizeof err);
        if (rc != 400 || !strstr(err, bad[i].words))
            fail_msg("case %zu: rc=%d err='%s' (want '%s')", i, rc, err, bad[i].words);
        assert_null(p.id);
        assert_int_equal(req.n_inputs, 0);
        assert_int_equal(shm_arena_used(f->arena), 0);
    }
    /* binary_data_size in a body without Inference-Header-Content-Length */
    const char *json = "{\"inputs\": [" BIN_A(SZ(8)) ", " BIN_B(SZ(10)) ", " BIN_H(SZ(4)) "]}";
    infer_request req;
    memset(&req, 0, sizeof req);
    kserve_params p;
    char err[256];
    assert_int_equal(kserve_decode_infer(json, strlen(json), strlen(json), NULL, &m, &f->region,
                                         f->arena, &req, &p, err, sizeof err),
                     400);
    assert_non_null(strstr(err, "no binary data after its JSON header"));
}

static void test_decode_raw_form(void **state)
{
    fixture *f = *state;
    int64_t dims[] = {2, -1};
    model_config m = model("FP32", 8, 2, dims);
    float vals[] = {1, 2, 3, 4, 5, 6};
    infer_request req;
    memset(&req, 0, sizeof req);
    kserve_params p;
    char err[256];
    assert_int_equal(kserve_decode_infer((const char *)vals, sizeof vals, 0, NULL, &m, &f->region,
                                         f->arena, &req, &p, err, sizeof err),
                     0);
    const shm_tensor *t = &req.inputs[0];
    assert_int_equal(t->ndim, 3); /* batch 1, then the model's [2, -1] with -1 = 3 */
    assert_int_equal(t->dims[0], 1);
    assert_int_equal(t->dims[1], 2);
    assert_int_equal(t->dims[2], 3);
    assert_memory_equal(shm_arena_ptr(&f->region, t->offset), vals, sizeof vals);
    assert_int_equal(p.binary_outputs, 1u);
    kserve_free_inputs(f->arena, &req);
    /* 5 floats do not fill [2, n]; 7 bytes are not whole floats */
    assert_int_equal(kserve_decode_infer((const char *)vals, 20, 0, NULL, &m, &f->region, f->arena,
                                         &req, &p, err, sizeof err),
                     400);
    assert_non_null(strstr(err, "do not fill"));
    assert_int_equal(kserve_decode_infer((const char *)vals, 7, 0, NULL, &m, &f->region, f->arena,
                                         &req, &p, err, sizeof err),
                     400);
    assert_non_null(strstr(err, "whole number"));
    /* a two-input model cannot take the raw form */
    model_config two = bin_model();
    assert_int_equal(kserve_decode_infer((const char *)vals, 8, 0, NULL, &two, &f->region, f->arena,
                                         &req, &p, err, sizeof err),
                     400);
    assert_non_null(strstr(err, "one input"));
    assert_int_equal(shm_arena_used(f->arena), 0);
}

static void test_encode_binary_outputs(void **state)
{
    fixture *f = *state;
    model_config m = bin_model();
    infer_request req;
    memset(&req, 0, sizeof req);
    req.n_outputs = 2;
    uint64_t off;
    assert_int_equal(shm_arena_alloc(f->arena, 16, &off), 0);
    int32_t vals[] = {5, -6, 7, 8};
    memcpy(shm_arena_ptr(&f->region, off), vals, sizeof vals);
    for (int i = 0; i < 2; i++) {
        shm_tensor *t = &req.outputs[i];
        t->dtype = INFERD_DTYPE_INT32;
        t->ndim = 2;
        t->dims[0] = 1;
        t->dims[1] = 2;
        t->offset = off + 8 * (uint64_t)i;
        t->nbytes = 8;
    }
    kserve_params p;
    memset(&p, 0, sizeof p);
    p.binary_outputs = 2u; /* Y binary, X JSON */
    http_buf b;
    http_buf_init(&b);
    http_span spans[MODEL_MAX_IO];
    int n_spans, json_only;
    char err[256];
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, &p, &b, spans, &n_spans, &json_only,
                                         err, sizeof err),
                     0);
    assert_string_equal(b.data, "{\"model_name\": \"bin\", \"model_version\": \"1\", \"outputs\": ["
                                "{\"name\": \"X\", \"datatype\": \"INT32\", \"shape\": [1, 2], "
                                "\"data\": [5,-6]}, "
                                "{\"name\": \"Y\", \"datatype\": \"INT32\", \"shape\": [1, 2], "
                                "\"parameters\": {\"binary_data_size\": 8}}]}");
    assert_int_equal(json_only, 0);
    assert_int_equal(n_spans, 1);
    /* the span is the arena slice itself: not a copy */
    assert_ptr_equal(spans[0].base, shm_arena_ptr(&f->region, off + 8));
    assert_int_equal(spans[0].len, 8);
    http_buf_free(&b);
    /* a binary output whose size disagrees with its shape is refused before sending */
    req.outputs[1].nbytes = 12;
    http_buf_init(&b);
    assert_int_equal(kserve_encode_infer(&req, &m, &f->region, &p, &b, spans, &n_spans, &json_only,
                                         err, sizeof err),
                     500);
    assert_non_null(strstr(err, "shape needs"));
    http_buf_free(&b);
    shm_arena_free(f->arena, off);
}

int main(void)
{
    json_scratch_install(); /* as the node does: decode's JSON tree in the scratch block */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_fp32_nested_and_flat),
        cmocka_unit_test(test_decode_bytes_layout),
        cmocka_unit_test(test_decode_every_int_type),
        cmocka_unit_test(test_rejections_free_everything),
        cmocka_unit_test(test_encode_exact_numbers),
        cmocka_unit_test(test_encode_fp64_and_ints),
        cmocka_unit_test(test_encode_integral_floats_match_printf),
        cmocka_unit_test(test_decode_binary_inputs),
        cmocka_unit_test(test_binary_rejections),
        cmocka_unit_test(test_decode_raw_form),
        cmocka_unit_test(test_encode_binary_outputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
