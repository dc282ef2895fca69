/* One model, several sessions on several threads at once: the model must be read-only after
 * load (runs under ThreadSanitizer with the tsan label). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/onnx.h"
#include "model_builder.h"

#define THREADS 3
#define RUNS    200

typedef struct worker {
    const onnx_model *model;
    int batch;
    int errors;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    char err[256];
    onnx_session *s;
    if (onnx_session_create(w->model, 1, &s, err, sizeof err) < 0) {
        w->errors++;
        return NULL;
    }
    float x[4 * 8];
    int64_t dims[2] = {w->batch, 4};
    for (int i = 0; i < w->batch * 4; i++) x[i] = (float)(i % 5) - 2.0f;
    onnx_input in = {.name = "x",
                     .dtype = INFERD_DTYPE_FP32,
                     .ndim = 2,
                     .dims = dims,
                     .data = x,
                     .nbytes = (size_t)w->batch * 4 * sizeof(float)};
    for (int r = 0; r < RUNS; r++) {
        onnx_output out;
        if (onnx_run(s, &in, 1, err, sizeof err) < 0 || onnx_session_output(s, 0, &out) < 0 ||
            out.dims[0] != w->batch) {
            w->errors++;
            continue;
        }
        const float *y = out.data;
        for (int i = 0; i < w->batch * 4; i++) {
            float a = x[i] + TEST_W[i % 4];
            float want = (a > 0 ? a : 0) + TEST_C[i % 4];
            if (y[i] != want) w->errors++;
        }
    }
    onnx_session_free(s);
    return NULL;
}

static void test_sessions_in_parallel(void **state)
{
    (void)state;
    test_model_opts o = {0};
    size_t len;
    uint8_t *buf = test_model_build(&o, &len);
    onnx_model *m;
    char err[256];
    assert_int_equal(onnx_model_load_buffer(buf, len, NULL, &m, err, sizeof err), 0);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){m, i + 1, 0};
        assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].errors, 0);
    }
    onnx_model_free(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sessions_in_parallel)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
