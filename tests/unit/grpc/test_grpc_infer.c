/* The node's gRPC infer codec: ModelInferRequest -> arena (raw and typed contents, BYTES,
 * every rejection leaves the arena empty) and a finished request -> ModelInferResponse /
 * ModelStreamInferResponse, read back with protobuf-c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc_infer.h"
#include "inferd/grpc_server.h"
#include "../node/arena_fixture.h"
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

static model_config model(const char *dtype, int mbs, int64_t dim)
{
    model_config m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "m");
    m.max_batch_size = mbs;
    m.max_delay_ms = 1000;
    m.n_inputs = m.n_outputs = 1;
    snprintf(m.inputs[0].name, MODEL_NAME_LEN, "IN");
    snprintf(m.outputs[0].name, MODEL_NAME_LEN, "OUT");
    m.inputs[0].dtype = m.outputs[0].dtype = inferd_dtype_from_name(dtype);
    m.inputs[0].ndim = m.outputs[0].ndim = 1;
    m.inputs[0].dims[0] = m.outputs[0].dims[0] = dim;
    return m;
}

/* A one-input request: shape [1, n] (batched models) with raw bytes or typed contents. */
typedef struct one_req {
    Inference__ModelInferRequest r;
    Inference__ModelInferRequest__InferInputTensor in, *inp;
    Inference__InferTensorContents c;
    int64_t shape[2];
    ProtobufCBinaryData raw;
} one_req;

static void one_init(one_req *q, const char *dtype, int64_t n)
{
    inference__model_infer_request__init(&q->r);
    inference__model_infer_request__infer_input_tensor__init(&q->in);
    inference__infer_tensor_contents__init(&q->c);
    q->in.name = "IN";
    q->in.datatype = (char *)dtype;
    q->shape[0] = 1;
    q->shape[1] = n;
    q->in.n_shape = 2;
    q->in.shape = q->shape;
    q->inp = &q->in;
    q->r.model_name = "m";
    q->r.n_inputs = 1;
    q->r.inputs = &q->inp;
}

static void one_raw(one_req *q, const void *data, size_t len)
{
    q->raw.data = (uint8_t *)data;
    q->raw.len = len;
    q->r.n_raw_input_contents = 1;
    q->r.raw_input_contents = &q->raw;
}

static int decode(fixture *f, const model_config *m, one_req *q, infer_request *req, char *err)
{
    memset(req, 0, sizeof *req);
    grpc_infer_params p;
    return grpc_infer_decode(&q->r, NULL, m, &f->region, f->arena, req, &p, err, 256);
}

static void test_raw_fp32(void **state)
{
    fixture *f = *state;
    model_config m = model("FP32", 8, -1);
    float x[3] = {1.5f, -2.0f, 3.25f};
    one_req q;
    one_init(&q, "FP32", 3);
    one_raw(&q, x, sizeof x);
    infer_request req;
    char err[256];
    assert_int_equal(decode(f, &m, &q, &req, err), 0);
    assert_int_equal(req.n_inputs, 1);
    assert_int_equal(req.batch_rows, 1);
    assert_int_equal(req.inputs[0].nbytes, sizeof x);
    assert_memory_equal(shm_arena_ptr(&f->region, req.inputs[0].offset), x, sizeof x);
    kserve_free_inputs(f->arena, &req);
    assert_int_equal(shm_arena_used(f->arena), 0);
}

static void test_typed_ints_and_ranges(void **state)
{
    fixture *f = *state;
    model_config m = model("INT8", 8, 3);
    int32_t v[3] = {-128, 0, 127};
    one_req q;
    one_init(&q, "INT8", 3);
    q.c.n_int_contents = 3;
    q.c.int_contents = v;
    q.in.contents = &q.c;
    infer_request req;
    char err[256];
    assert_int_equal(decode(f, &m, &q, &req, err), 0);
    const int8_t *p = shm_arena_ptr(&f->region, req.inputs[0].offset);
    assert_int_equal(p[0], -128);
    assert_int_equal(p[2], 127);
    kserve_free_inputs(f->arena, &req);
    v[1] = 128;
    assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "out of range"));
    assert_int_equal(shm_arena_used(f->arena), 0);
}

static void test_bytes_raw_and_typed(void **state)
{
    fixture *f = *state;
    model_config m = model("BYTES", 8, -1);
    static const uint8_t raw[] = {2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0};
    one_req q;
    one_init(&q, "BYTES", 2);
    one_raw(&q, raw, sizeof raw);
    infer_request req;
    char err[256];
    assert_int_equal(decode(f, &m, &q, &req, err), 0);
    assert_int_equal(req.inputs[0].nbytes, sizeof raw);
    kserve_free_inputs(f->arena, &req);
    /* an element that overruns, trailing bytes, too few elements */
    static const uint8_t over[] = {9, 0, 0, 0, 'h', 'i', 0, 0, 0, 0};
    one_raw(&q, over, sizeof over);
    assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
    static const uint8_t trail[] = {0, 0, 0, 0, 0, 0, 0, 0, 'x'};
    one_raw(&q, trail, sizeof trail);
    assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
    one_raw(&q, raw, 6);
    assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
    /* typed: bytes_contents become length-prefixed elements */
    one_init(&q, "BYTES", 2);
    ProtobufCBinaryData items[2] = {{2, (uint8_t *)"hi"}, {0, NULL}};
    q.c.n_bytes_contents = 2;
    q.c.bytes_contents = items;
    q.in.contents = &q.c;
    assert_int_equal(decode(f, &m, &q, &req, err), 0);
    assert_memory_equal(shm_arena_ptr(&f->region, req.inputs[0].offset), raw, sizeof raw);
    kserve_free_inputs(f->arena, &req);
    assert_int_equal(shm_arena_used(f->arena), 0);
}

static void test_rejections(void **state)
{
    fixture *f = *state;
    model_config m = model("FP32", 2, 4);
    float x[4] = {0};
    infer_request req;
    char err[256];
    one_req q;
    struct {
        const char *dtype;
        int64_t batch, n;
        size_t raw_len;
        const char *needle;
    } cases[] = {
        {"INT32", 1, 4, 16, "datatype"},  {"FP32", 1, 3, 12, "expects 4"},
        {"FP32", 3, 4, 48, "batch size"}, {"FP32", 1, 4, 15, "raw_input_contents is 15 bytes"},
        {"FP16", 1, 4, 8, "datatype"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float big[12] = {0};
        one_init(&q, cases[i].dtype, cases[i].n);
        q.shape[0] = cases[i].batch;
        one_raw(&q, big, cases[i].raw_len);
        assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
        assert_non_null(strstr(err, cases[i].needle));
        assert_int_equal(shm_arena_used(f->arena), 0);
    }
    /* raw and typed at once */
    one_init(&q, "FP32", 4);
    one_raw(&q, x, sizeof x);
    q.c.n_fp32_contents = 4;
    q.c.fp32_contents = x;
    q.in.contents = &q.c;
    assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
    /* typed with the wrong count */
    one_init(&q, "FP32", 4);
    q.c.n_fp32_contents = 3;
    q.in.contents = &q.c;
    assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
    /* a shared-memory input without a registry (the node runs without --allow-client-shm) */
    one_init(&q, "FP32", 4);
    Inference__InferParameter pv[2] = {INFERENCE__INFER_PARAMETER__INIT,
                                       INFERENCE__INFER_PARAMETER__INIT};
    pv[0].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_STRING_PARAM;
    pv[0].string_param = "r";
    pv[1].parameter_choice_case = INFERENCE__INFER_PARAMETER__PARAMETER_CHOICE_INT64_PARAM;
    pv[1].int64_param = 16;
    Inference__ModelInferRequest__InferInputTensor__ParametersEntry pe[2] = {
        INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__PARAMETERS_ENTRY__INIT,
        INFERENCE__MODEL_INFER_REQUEST__INFER_INPUT_TENSOR__PARAMETERS_ENTRY__INIT};
    pe[0].key = "shared_memory_region";
    pe[0].value = &pv[0];
    pe[1].key = "shared_memory_byte_size";
    pe[1].value = &pv[1];
    Inference__ModelInferRequest__InferInputTensor__ParametersEntry *pp[2] = {&pe[0], &pe[1]};
    q.in.n_parameters = 2;
    q.in.parameters = pp;
    assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "--allow-client-shm"));
    q.in.n_parameters = 1; /* the region without its byte size */
    assert_int_equal(decode(f, &m, &q, &req, err), GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(err, "needs both"));
    /* no room in the arena: UNAVAILABLE */
    model_config big = model("FP32", 0, -1);
    size_t huge_len = (size_t)1 << 30; /* beyond any arena the fixture has */
    float *huge = malloc(huge_len);    /* never touched: only its size matters */
    assert_non_null(huge);
    one_init(&q, "FP32", 1);
    q.in.n_shape = 1;
    q.shape[0] = (int64_t)(huge_len / 4);
    one_raw(&q, huge, huge_len);
    assert_int_equal(decode(f, &big, &q, &req, err), GRPC_STATUS_UNAVAILABLE);
    free(huge);
    assert_int_equal(shm_arena_used(f->arena), 0);
}

static void test_encode_roundtrip(void **state)
{
    fixture *f = *state;
    model_config m = model("FP32", 8, -1);
    infer_request req;
    memset(&req, 0, sizeof req);
    req.n_outputs = 1;
    shm_tensor *t = &req.outputs[0];
    t->dtype = INFERD_DTYPE_FP32;
    t->ndim = 2;
    t->dims[0] = 1;
    t->dims[1] = 2;
    t->nbytes = 8;
    assert_int_equal(shm_arena_alloc(f->arena, 8, &t->offset), 0);
    float y[2] = {4.0f, -1.0f};
    memcpy(shm_arena_ptr(&f->region, t->offset), y, 8);
    char err[256];
    size_t len;
    int code;
    kserve_shm_refs no_shm;
    memset(&no_shm, 0, sizeof no_shm);
    uint8_t *buf =
        grpc_infer_encode(&req, &m, &f->region, &no_shm, "abc", 0, 5, &len, &code, err, sizeof err);
    assert_non_null(buf);
    Inference__ModelInferResponse *r =
        inference__model_infer_response__unpack(NULL, len - 5, buf + 5);
    assert_non_null(r);
    assert_string_equal(r->id, "abc");
    assert_string_equal(r->model_name, "m");
    assert_int_equal(r->n_outputs, 1);
    assert_string_equal(r->outputs[0]->name, "OUT");
    assert_string_equal(r->outputs[0]->datatype, "FP32");
    assert_int_equal(r->outputs[0]->n_shape, 2);
    assert_int_equal(r->n_raw_output_contents, 1);
    assert_memory_equal(r->raw_output_contents[0].data, y, 8);
    inference__model_infer_response__free_unpacked(r, NULL);
    free(buf);
    /* the stream form wraps it */
    buf =
        grpc_infer_encode(&req, &m, &f->region, &no_shm, NULL, 1, 0, &len, &code, err, sizeof err);
    Inference__ModelStreamInferResponse *s =
        inference__model_stream_infer_response__unpack(NULL, len, buf);
    assert_non_null(s);
    assert_string_equal(s->error_message, "");
    assert_non_null(s->infer_response);
    assert_int_equal(s->infer_response->n_raw_output_contents, 1);
    inference__model_stream_infer_response__free_unpacked(s, NULL);
    free(buf);
    /* an output outside the arena is refused */
    uint64_t off = t->offset;
    t->offset = UINT64_MAX - 4;
    assert_null(
        grpc_infer_encode(&req, &m, &f->region, &no_shm, NULL, 0, 5, &len, &code, err, sizeof err));
    assert_int_equal(code, GRPC_STATUS_INTERNAL);
    assert_non_null(strstr(err, "outside"));
    shm_arena_free(f->arena, off);
}

static void test_status_mapping(void **state)
{
    (void)state;
    assert_int_equal(grpc_status_from_http(0), GRPC_STATUS_OK);
    assert_int_equal(grpc_status_from_http(400), GRPC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(grpc_status_from_http(404), GRPC_STATUS_NOT_FOUND);
    assert_int_equal(grpc_status_from_http(429), GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_int_equal(grpc_status_from_http(499), GRPC_STATUS_CANCELLED);
    assert_int_equal(grpc_status_from_http(503), GRPC_STATUS_UNAVAILABLE);
    assert_int_equal(grpc_status_from_http(504), GRPC_STATUS_DEADLINE_EXCEEDED);
    assert_int_equal(grpc_status_from_http(500), GRPC_STATUS_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_fp32),
        cmocka_unit_test(test_typed_ints_and_ranges),
        cmocka_unit_test(test_bytes_raw_and_typed),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_status_mapping),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
