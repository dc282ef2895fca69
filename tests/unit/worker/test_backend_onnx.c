/* The onnx backend on the bundled digits model: requests of a batch are stacked into one run
 * and each gets its own rows back (checked against the labels of models/digits/samples.json),
 * requests marked expired are skipped, a request of another row shape runs on its own and is
 * refused alone, a too-small output area is reported, and create() explains a config that
 * does not fit the model (a sequence input among them). */
#include "inferd/clock.h"
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "backend.h"
#include "batch_fixture.h"

#define DIGITS_DIR INFERD_SOURCE_DIR "/models/digits"

typedef struct fx {
    shm_region r;
    shm_arena *a;
    model_config cfg;
    float samples[10][64];
    int labels[10];
} fx;

static int load_samples(fx *f)
{
    json_error_t e;
    json_t *root = json_load_file(DIGITS_DIR "/samples.json", 0, &e);
    if (!root) return -1;
    json_t *in = json_object_get(root, "inputs"), *lab = json_object_get(root, "labels");
    if (json_array_size(in) != 10 || json_array_size(lab) != 10) return -1;
    for (size_t i = 0; i < 10; i++) {
        json_t *row = json_array_get(in, i);
        if (json_array_size(row) != 64) return -1;
        for (size_t k = 0; k < 64; k++)
            f->samples[i][k] = (float)json_number_value(json_array_get(row, k));
        f->labels[i] = (int)json_integer_value(json_array_get(lab, i));
    }
    json_decref(root);
    return 0;
}

static int setup(void **st)
{
    static fx f;
    memset(&f, 0, sizeof f);
    char err[256];
    if (fixture_region(&f.r, &f.a)) return -1;
    if (model_config_load(DIGITS_DIR, &f.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (load_samples(&f) != 0) return -1;
    *st = &f;
    return 0;
}

static int teardown(void **st)
{
    fx *f = *st;
    shm_arena_destroy(f->a);
    shm_region_close(&f->r);
    return 0;
}

static int argmax(const float *p, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (p[i] > p[best]) best = i;
    return best;
}

static void test_batch_is_stacked_and_split(void **st)
{
    fx *f = *st;
    const backend_ops *ops = backend_find("onnx");
    assert_non_null(ops);
    void *state;
    char err[256];
    assert_int_equal(ops->create(&f->cfg, &state, err, sizeof err), 0);

    /* 10 samples, one per request; request 4 has expired; request 7 has 32 columns */
    assert_int_equal(fixture_batch(&f->r, f->a, 0, 0, 10, 10 * 64, 1), 0);
    for (uint32_t i = 0; i < 10; i++)
        assert_int_equal(fixture_set_floats(&f->r, f->a, 0, i, f->samples[i], i == 7 ? 32 : 64), 0);
    fixture_requests(&f->r, &f->r.batches[0])[4].deadline_ns = 1;
    worker_batch wb;
    assert_int_equal(worker_batch_init(&wb, &f->r, 0, clock_now_ns()), 0);
    assert_int_equal(ops->run(state, &wb, err, sizeof err), BACKEND_DONE);
    assert_true(wb.out_needed <= wb.batch->out_cap);

    shm_request *q = fixture_requests(&f->r, wb.batch);
    shm_tensor *outs = fixture_outputs(&f->r, wb.batch);
    for (uint32_t i = 0; i < 10; i++) {
        if (i == 4) {
            assert_int_equal(q[i].status, SHM_STATUS_DEADLINE);
            continue;
        }
        if (i == 7) {
            assert_int_equal(q[i].status, SHM_STATUS_BAD_INPUT);
            continue;
        }
        assert_int_equal(q[i].status, SHM_STATUS_OK);
        assert_int_equal(outs[i].dtype, INFERD_DTYPE_FP32);
        assert_int_equal(outs[i].ndim, 2);
        assert_int_equal(outs[i].dims[0], 1);
        assert_int_equal(outs[i].dims[1], 10);
        assert_int_equal(outs[i].nbytes, 40);
        const float *p = shm_arena_ptr(&f->r, outs[i].offset);
        float sum = 0;
        for (int k = 0; k < 10; k++) sum += p[k];
        assert_float_equal(sum, 1.0f, 1e-4f);
        assert_int_equal(argmax(p, 10), f->labels[i]);
    }
    /* the refused request says why */
    assert_non_null(strstr(wb.batch->error, "64"));

    /* the same batch with a 100-byte output area: reported, not overrun */
    assert_int_equal(fixture_batch(&f->r, f->a, 1, 0, 3, 100, 2), 0);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(fixture_set_floats(&f->r, f->a, 1, i, f->samples[i], 64), 0);
    worker_batch wb2;
    assert_int_equal(worker_batch_init(&wb2, &f->r, 1, clock_now_ns()), 0);
    assert_int_equal(ops->run(state, &wb2, err, sizeof err), BACKEND_DONE);
    assert_true(wb2.out_needed >= 120);
    assert_true(wb2.out_needed > wb2.batch->out_cap);
    ops->destroy(state);
}

static void expect_create_error(fx *f, void (*change)(model_config *), const char *needle)
{
    model_config c = f->cfg;
    change(&c);
    void *state = (void *)1;
    char err[512] = "";
    assert_int_equal(backend_find("onnx")->create(&c, &state, err, sizeof err), -1);
    assert_null(state);
    if (!strstr(err, needle)) fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void wrong_name(model_config *c)
{
    snprintf(c->inputs[0].name, MODEL_NAME_LEN, "pixels");
}
static void wrong_dtype(model_config *c)
{
    c->inputs[0].dtype = INFERD_DTYPE_INT64;
}
static void wrong_dims(model_config *c)
{
    c->inputs[0].dims[0] = 63;
}
static void wrong_rank(model_config *c)
{
    c->max_batch_size = 0;
}
static void wrong_output(model_config *c)
{
    snprintf(c->outputs[0].name, MODEL_NAME_LEN, "p");
}
static void missing_file(model_config *c)
{
    snprintf(c->model_file, MODEL_PATH_LEN, "%s", "/nonexistent/model.onnx");
}

/* A model whose input is a sequence of tensors: the worker serves tensors only. */
static void sequence_model(model_config *c)
{
    snprintf(c->model_file, MODEL_PATH_LEN, "%s",
             "/usr/share/libonnx-testdata/data/node/test_identity_sequence/model.onnx");
    snprintf(c->inputs[0].name, MODEL_NAME_LEN, "x");
    snprintf(c->outputs[0].name, MODEL_NAME_LEN, "y");
    c->max_batch_size = 0;
}

static void test_config_that_does_not_fit(void **st)
{
    fx *f = *st;
    expect_create_error(f, wrong_name, "'pixels'");
    expect_create_error(f, wrong_dtype, "INT64");
    expect_create_error(f, wrong_dims, "63");
    expect_create_error(f, wrong_rank, "rank");
    expect_create_error(f, wrong_output, "'p'");
    expect_create_error(f, missing_file, "/nonexistent/model.onnx");
    expect_create_error(f, sequence_model, "a sequence");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_is_stacked_and_split),
        cmocka_unit_test(test_config_that_does_not_fit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
