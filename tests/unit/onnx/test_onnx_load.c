/* Loader and executor tests: a generated model loads and runs at two batch sizes; opset,
 * unknown operators, bad lengths and external data are refused with clear errors; truncated,
 * bit-flipped and deeply nested files fail cleanly (run under ASan in CI). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/onnx.h"
#include "model_builder.h"

static const char *REAL_MODEL =
    "/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding/model.onnx";

static float expected(int row, int col)
{
    float x = (float)(row * 4 + col) - 5.0f;
    float a = x + TEST_W[col];
    return (a > 0 ? a : 0) + TEST_C[col];
}

/* Loads buf as a model and makes a 1-thread session of it (the test fails if either fails). */
static onnx_session *load_session(const uint8_t *buf, size_t len, onnx_model **m)
{
    char err[256];
    if (onnx_model_load_buffer(buf, len, NULL, m, err, sizeof err)) fail_msg("load: %s", err);
    onnx_session *s;
    assert_int_equal(onnx_session_create(*m, 1, &s, err, sizeof err), 0);
    return s;
}

/* Runs a model of the default shape on a [batch, 4] input and checks y. */
static void check_run(onnx_model *m, int batch)
{
    char err[256];
    onnx_session *s;
    assert_int_equal(onnx_session_create(m, 1, &s, err, sizeof err), 0);
    float x[64];
    for (int i = 0; i < batch * 4; i++) x[i] = (float)i - 5.0f;
    int64_t dims[2] = {batch, 4};
    onnx_input in = {.name = "x",
                     .dtype = INFERD_DTYPE_FP32,
                     .ndim = 2,
                     .dims = dims,
                     .data = x,
                     .nbytes = (size_t)batch * 4 * sizeof(float)};
    for (int rep = 0; rep < 2; rep++) {
        int rc = onnx_run(s, &in, 1, err, sizeof err);
        if (rc != 0) fail_msg("run: %s", err);
        onnx_output out;
        assert_int_equal(onnx_session_output(s, 0, &out), 0);
        assert_string_equal(out.name, "y");
        assert_int_equal(out.dtype, INFERD_DTYPE_FP32);
        assert_int_equal(out.ndim, 2);
        assert_int_equal(out.dims[0], batch);
        assert_int_equal(out.dims[1], 4);
        const float *y = out.data;
        for (int r = 0; r < batch; r++)
            for (int c = 0; c < 4; c++) assert_float_equal(y[r * 4 + c], expected(r, c), 1e-6);
    }
    onnx_session_free(s);
}

static void test_load_and_run(void **state)
{
    (void)state;
    test_model_opts o = {0};
    size_t len;
    uint8_t *buf = test_model_build(&o, &len);
    onnx_model *m;
    char err[256];
    int rc = onnx_model_load_buffer(buf, len, NULL, &m, err, sizeof err);
    if (rc != 0) fail_msg("load: %s", err);
    assert_int_equal(onnx_model_num_inputs(m), 1);
    const onnx_value_info *vi = onnx_model_input(m, 0);
    assert_string_equal(vi->name, "x");
    assert_int_equal(vi->dtype, INFERD_DTYPE_FP32);
    assert_int_equal(vi->ndim, 2);
    assert_int_equal(vi->dims[0], -1);
    assert_string_equal(vi->dim_names[0], "batch");
    assert_int_equal(vi->dims[1], 4);
    assert_int_equal(onnx_model_opset(m), 13);
    assert_null(onnx_model_input(m, 1));
    /* the Constant node was folded away */
    int consts = 0;
    for (int i = 0; i < onnx_model_num_op_types(m); i++) {
        int n;
        const char *t = onnx_model_op_type(m, i, &n);
        if (strcmp(t, "Constant") == 0) consts = n;
    }
    assert_int_equal(consts, 1);
    assert_true(onnx_model_num_exec_nodes(m) <= 4);
    check_run(m, 2);
    check_run(m, 5); /* the batch dim changes between sessions and runs */
    onnx_model_free(m);
    free(buf);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    test_model_opts o = {0};
    size_t len;
    uint8_t *buf = test_model_build(&o, &len);
    onnx_model *m;
    char err[256];
    assert_int_equal(onnx_model_load_buffer(buf, len, NULL, &m, err, sizeof err), 0);
    onnx_session *s;
    assert_int_equal(onnx_session_create(m, 1, &s, err, sizeof err), 0);
    float x[8] = {0};
    int64_t good[2] = {2, 4}, bad[2] = {2, 5};
    onnx_input in = {.name = "x",
                     .dtype = INFERD_DTYPE_FP32,
                     .ndim = 2,
                     .dims = bad,
                     .data = x,
                     .nbytes = sizeof x};
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    assert_non_null(strstr(err, "dim 1"));
    in.dims = good;
    in.nbytes = 4;
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    in.nbytes = sizeof x;
    in.dtype = INFERD_DTYPE_INT32;
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    in.dtype = INFERD_DTYPE_FP32;
    in.name = "nope";
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    assert_int_equal(onnx_run(s, &in, 0, err, sizeof err), ONNX_E_INVALID);
    onnx_output out;
    assert_int_equal(onnx_session_output(s, 0, &out), ONNX_E_INVALID); /* no successful run */
    in.name = NULL;                                                    /* by position */
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), 0);
    assert_int_equal(onnx_session_output(s, 0, &out), 0);
    assert_int_equal(onnx_session_output(s, 1, &out), ONNX_E_INVALID);
    onnx_session_free(s);
    onnx_model_free(m);
    free(buf);
}

static int load_opts(const test_model_opts *o, const char *dir, char *err, size_t err_len)
{
    size_t len;
    uint8_t *buf = test_model_build(o, &len);
    onnx_model *m = (onnx_model *)1;
    int rc = onnx_model_load_buffer(buf, len, dir, &m, err, err_len);
    if (rc == 0) {
        assert_non_null(m);
        onnx_model_free(m);
    } else {
        assert_null(m);
        assert_true(err[0] != 0);
    }
    free(buf);
    return rc;
}

/* A model at an opset below the product's 7..17 loads, and its nodes keep the old semantics:
 * the default model's Add of x [batch, 4] and W [4] has no broadcast=1, which Add-6 needs. */
static void test_old_opset(void **state)
{
    (void)state;
    char err[256];
    size_t len;
    test_model_opts o = {.opset = 6};
    uint8_t *buf = test_model_build(&o, &len);
    onnx_model *m = NULL;
    assert_int_equal(onnx_model_load_buffer(buf, len, NULL, &m, err, sizeof err), 0);
    assert_int_equal(onnx_model_opset(m), 6);
    onnx_session *s;
    assert_int_equal(onnx_session_create(m, 1, &s, err, sizeof err), 0);
    float x[8] = {0};
    onnx_input in = {.name = "x",
                     .dtype = INFERD_DTYPE_FP32,
                     .ndim = 2,
                     .dims = (int64_t[]){2, 4},
                     .data = x,
                     .nbytes = sizeof x};
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    assert_non_null(strstr(err, "broadcast"));
    onnx_session_free(s);
    onnx_model_free(m);
    free(buf);
}

static void test_refusals(void **state)
{
    (void)state;
    char err[256];
    test_model_opts o = {.opset = -1};
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_UNSUPPORTED);
    assert_non_null(strstr(err, "opset -1"));
    o.opset = 18;
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_UNSUPPORTED);
    o = (test_model_opts){.extra_op = "NoSuchOp"};
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_UNSUPPORTED);
    assert_non_null(strstr(err, "NoSuchOp"));
    assert_non_null(strstr(err, "extra0"));
    assert_non_null(strstr(err, "opset 13"));
    o = (test_model_opts){.w_dims = 5}; /* raw_data holds 16 bytes, shape needs 20 */
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_INVALID);
    assert_non_null(strstr(err, "'W'"));
    o = (test_model_opts){.w_big_dim = (long long)1 << 60}; /* no allocation of the claimed size */
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_INVALID);
    o = (test_model_opts){.w_big_dim = -3};
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_INVALID);
    o = (test_model_opts){.broken = 1};
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_INVALID);
    assert_non_null(strstr(err, "'undefined'"));
    o = (test_model_opts){.broken = 2};
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_INVALID);
    assert_non_null(strstr(err, "defined twice"));
    o = (test_model_opts){.broken = 3};
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_INVALID);
    assert_non_null(strstr(err, "cycle"));
    assert_int_equal(onnx_model_load_buffer("", 0, NULL, &(onnx_model *){NULL}, err, sizeof err),
                     ONNX_E_INVALID);
    onnx_model *m = (onnx_model *)1;
    assert_int_equal(onnx_model_load("/nonexistent/model.onnx", &m, err, sizeof err), ONNX_E_IO);
    assert_null(m);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_external_data(void **state)
{
    (void)state;
    char dir[] = "/tmp/inferd-onnx-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], sub[256], outside[256], link[512], model_path[256];
    unsigned char blob[64] = {0};
    memcpy(blob + 8, TEST_W, sizeof TEST_W);
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    write_file(path, blob, sizeof blob);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(outside, sizeof outside, "%s/outside.bin", dir);
    write_file(outside, blob, sizeof blob);
    snprintf(link, sizeof link, "%s/link.bin", sub);
    assert_int_equal(symlink(outside, link), 0);

    char err[256];
    test_model_opts o = {.ext_location = "weights.bin", .ext_offset = 8, .ext_length = 16};
    /* good: load from a file next to the weights and run */
    size_t len;
    uint8_t *buf = test_model_build(&o, &len);
    snprintf(model_path, sizeof model_path, "%s/model.onnx", dir);
    write_file(model_path, buf, len);
    free(buf);
    onnx_model *m;
    int rc = onnx_model_load(model_path, &m, err, sizeof err);
    if (rc != 0) fail_msg("load: %s", err);
    check_run(m, 3);
    onnx_model_free(m);
    o.ext_length = -1; /* length key omitted: the shape decides */
    assert_int_equal(load_opts(&o, dir, err, sizeof err), 0);
    /* refused */
    o.ext_length = 16;
    assert_int_equal(load_opts(&o, NULL, err, sizeof err), ONNX_E_UNSUPPORTED); /* no directory */
    o.ext_length = 20;
    assert_int_equal(load_opts(&o, dir, err, sizeof err), ONNX_E_INVALID); /* length vs shape */
    o.ext_length = 16;
    o.ext_offset = 56; /* past the end of the file */
    assert_int_equal(load_opts(&o, dir, err, sizeof err), ONNX_E_INVALID);
    o.ext_offset = 8;
    o.ext_location = "../weights.bin";
    assert_int_equal(load_opts(&o, sub, err, sizeof err), ONNX_E_INVALID);
    assert_non_null(strstr(err, "leaves the model directory"));
    o.ext_location = path; /* absolute */
    assert_int_equal(load_opts(&o, dir, err, sizeof err), ONNX_E_INVALID);
    o.ext_location = "link.bin"; /* a symlink that leads outside sub */
    assert_int_equal(load_opts(&o, sub, err, sizeof err), ONNX_E_INVALID);
    o.ext_location = "missing.bin";
    assert_true(load_opts(&o, dir, err, sizeof err) < 0);

    unlink(link), unlink(outside), unlink(path), unlink(model_path), rmdir(sub), rmdir(dir);
}

/* Loads a (possibly corrupted) buffer; if it loads, runs it on an input of its declared
 * shape. Either way nothing may crash or leak. */
static void try_load(const uint8_t *buf, size_t len)
{
    onnx_model *m = (onnx_model *)1;
    char err[256] = "";
    int rc = onnx_model_load_buffer(buf, len, NULL, &m, err, sizeof err);
    if (rc < 0) {
        assert_null(m);
        assert_true(err[0] != 0);
        return;
    }
    assert_int_equal(rc, 0);
    assert_non_null(m);
    if (onnx_model_num_inputs(m) == 1) {
        const onnx_value_info *vi = onnx_model_input(m, 0);
        int64_t dims[8];
        size_t n = 1;
        int ok = vi->dtype == INFERD_DTYPE_FP32 && vi->ndim >= 0 && vi->ndim <= 8;
        for (int k = 0; ok && k < vi->ndim; k++) {
            dims[k] = vi->dims[k] < 0 ? 2 : vi->dims[k];
            if (dims[k] > 64) ok = 0;
            n *= (size_t)dims[k];
        }
        if (ok && n <= 4096) {
            float *x = calloc(n, sizeof *x);
            onnx_session *s;
            if (x && onnx_session_create(m, 1, &s, err, sizeof err) == 0) {
                onnx_input in = {.name = NULL,
                                 .dtype = INFERD_DTYPE_FP32,
                                 .ndim = vi->ndim,
                                 .dims = dims,
                                 .data = x,
                                 .nbytes = n * sizeof *x};
                rc = onnx_run(s, &in, 1, err, sizeof err);
                assert_true(rc == 0 || (rc < 0 && err[0]));
                onnx_session_free(s);
            }
            free(x);
        }
    }
    onnx_model_free(m);
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

static void fuzz_buffer(const uint8_t *orig, size_t len)
{
    uint8_t *buf = malloc(len + 1);
    /* every truncation */
    for (size_t cut = 0; cut < len; cut++) {
        memcpy(buf, orig, cut);
        try_load(buf, cut);
    }
    /* every bit of every byte */
    for (size_t i = 0; i < len; i++)
        for (int b = 0; b < 8; b++) {
            memcpy(buf, orig, len);
            buf[i] ^= (uint8_t)(1u << b);
            try_load(buf, len);
        }
    /* bytes set to extreme values, and random multi-byte damage (fixed seed) */
    uint32_t seed = 12345;
    for (size_t i = 0; i < len; i++) {
        static const uint8_t vals[] = {0x00, 0x7f, 0x80, 0xff};
        for (size_t v = 0; v < sizeof vals; v++) {
            memcpy(buf, orig, len);
            buf[i] = vals[v];
            try_load(buf, len);
        }
        memcpy(buf, orig, len);
        for (int k = 0; k < 4; k++) {
            seed = seed * 1103515245u + 12345u;
            buf[(seed >> 8) % len] = (uint8_t)(seed >> 24);
        }
        try_load(buf, len);
    }
    free(buf);
}

static void test_fuzz_generated(void **state)
{
    (void)state;
    test_model_opts o = {0};
    size_t len;
    uint8_t *buf = test_model_build(&o, &len);
    fuzz_buffer(buf, len);
    free(buf);
}

static void test_fuzz_real_model(void **state)
{
    (void)state;
    size_t len = 0;
    uint8_t *buf = read_all(REAL_MODEL, &len);
    if (!buf) skip();
    fuzz_buffer(buf, len);
    free(buf);
}

/* ModelProto.graph -> GraphProto.node -> NodeProto.attribute -> AttributeProto.g -> ...,
 * 20001 levels deep (the outermost a node): must be refused, not recursed into. */
static void test_deep_nesting(void **state)
{
    (void)state;
    size_t cap = 1 << 20, len = 0;
    uint8_t *buf = malloc(cap), *tmp = malloc(cap);
    static const uint8_t tags[3] = {(6 << 3) | 2, (5 << 3) | 2,
                                    (1 << 3) | 2}; /* g, attribute, node */
    for (int level = 0; level <= 20000; level++) {
        uint8_t hdr[16];
        size_t h = 0;
        hdr[h++] = tags[level % 3];
        size_t v = len;
        do {
            hdr[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        if (len + h + 8 > cap) break;
        memcpy(tmp, hdr, h);
        memcpy(tmp + h, buf, len);
        memcpy(buf, tmp, len + h);
        len += h;
    }
    onnx_model *m = (onnx_model *)1;
    char err[256];
    /* wrap as ModelProto.graph (field 7) */
    uint8_t *model = malloc(len + 16);
    size_t h = 0, v = len;
    model[h++] = (7 << 3) | 2;
    do {
        model[h++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    memcpy(model + h, buf, len);
    assert_int_equal(onnx_model_load_buffer(model, len + h, NULL, &m, err, sizeof err),
                     ONNX_E_INVALID);
    assert_null(m);
    free(buf), free(tmp), free(model);
}

/* 50 Relus in a row on [batch, 4]: buffers are reused after their last consumer, so the peak
 * is two activations (input and output of the running node), not fifty. */
static void test_memory_plan(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = test_model_chain(50, &len);
    onnx_model *m;
    onnx_session *s = load_session(buf, len, &m);
    char err[256];
    enum { BATCH = 4096 };
    float *x = malloc(BATCH * 4 * sizeof *x);
    for (int i = 0; i < BATCH * 4; i++) x[i] = (float)(i % 7) - 3.0f;
    int64_t dims[2] = {BATCH, 4};
    onnx_input in = {.name = "x",
                     .dtype = INFERD_DTYPE_FP32,
                     .ndim = 2,
                     .dims = dims,
                     .data = x,
                     .nbytes = BATCH * 4 * sizeof *x};
    for (int rep = 0; rep < 3; rep++) {
        assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), 0);
        onnx_output out;
        assert_int_equal(onnx_session_output(s, 0, &out), 0);
        const float *y = out.data;
        for (int i = 0; i < BATCH * 4; i++) assert_true(y[i] == (x[i] > 0 ? x[i] : 0));
    }
    size_t one = BATCH * 4 * sizeof(float);
    assert_true(onnx_session_peak_bytes(s) >= one);
    assert_true(onnx_session_peak_bytes(s) <= 2 * one + 256);
    /* a smaller batch reuses the pool; a larger one grows it */
    dims[0] = 10;
    in.nbytes = 10 * 4 * sizeof *x;
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), 0);
    onnx_session_free(s);
    onnx_model_free(m);
    free(x);
    free(buf);
}

/* Reshape-like outputs are views: an activation's buffer outlives its last reader while views
 * of it are live, a graph output that views an activation stays valid, one that views the
 * caller's input is copied, and nothing leaks across runs (ASan) or batch changes. */
static void test_views(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = test_model_views(&len);
    onnx_model *m;
    onnx_session *s = load_session(buf, len, &m);
    char err[256];
    for (int rep = 0; rep < 4; rep++) {
        int64_t batch = rep == 2 ? 3 : 64;
        float *x = malloc((size_t)batch * 4 * sizeof *x);
        assert_non_null(x);
        for (int64_t i = 0; i < batch * 4; i++) x[i] = (float)((i * 7 + rep) % 11) - 5.0f;
        int64_t dims[2] = {batch, 4};
        onnx_input in = {.name = "x",
                         .dtype = INFERD_DTYPE_FP32,
                         .ndim = 2,
                         .dims = dims,
                         .data = x,
                         .nbytes = (size_t)batch * 4 * sizeof *x};
        if (onnx_run(s, &in, 1, err, sizeof err) != 0) fail_msg("run: %s", err);
        onnx_output y1, y2;
        assert_int_equal(onnx_session_output(s, 0, &y1), 0);
        assert_int_equal(onnx_session_output(s, 1, &y2), 0);
        assert_int_equal(y1.ndim, 2);
        assert_int_equal(y1.dims[0], batch);
        assert_true(y2.data != (const void *)x); /* the caller's buffer is not kept */
        float *copy = malloc((size_t)batch * 4 * sizeof *copy);
        assert_non_null(copy);
        memcpy(copy, x, (size_t)batch * 4 * sizeof *copy);
        memset(x, 0x7f, (size_t)batch * 4 * sizeof *x);
        free(x);
        const float *a = y1.data, *b = y2.data;
        for (int64_t i = 0; i < batch * 4; i++) {
            float relu = copy[i] > 0 ? copy[i] : 0.0f;
            if (a[i] != 2 * relu)
                fail_msg("run %d: y1[%lld] = %g, want %g", rep, (long long)i, a[i], 2 * relu);
            if (b[i] != copy[i])
                fail_msg("run %d: y2[%lld] = %g, want %g", rep, (long long)i, b[i], copy[i]);
        }
        free(copy);
    }
    onnx_session_free(s);
    onnx_model_free(m);
    free(buf);
}

/* Shape subgraphs are kept per session (shape_memo.h): the Shape nodes and the Concat of their
 * outputs run again only when the input's shape changed, and every run's Reshape gets its own batch's shape:
 * batches 2, 2, 3, 2, and a failed run (wrong rank) in between drops nothing it needs. */
static void test_shape_memo(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = test_model_shape_chain(&len);
    onnx_model *m;
    onnx_session *s = load_session(buf, len, &m);
    char err[256];
    int rc;
    assert_int_equal(onnx_session_set_profiling(s, 1), 0);
    int cat = -1, shape = -1;
    for (int k = 0; k < onnx_model_num_exec_nodes(m); k++) {
        onnx_node_profile p;
        assert_int_equal(onnx_session_node_profile(s, k, &p), 0);
        if (strcmp(p.op_type, "Concat") == 0) cat = k;
        if (strcmp(p.op_type, "Shape") == 0) shape = k;
    }
    assert_true(cat >= 0 && shape >= 0);
    static const int64_t batches[] = {2, 2, 3, -1, 3, 2};
    static const int64_t concat_calls[] = {1, 1, 2, 2, 2, 3};
    float x[12];
    for (int i = 0; i < 12; i++) x[i] = (float)i - 5.5f;
    for (size_t r = 0; r < sizeof batches / sizeof *batches; r++) {
        const int64_t batch = batches[r] > 0 ? batches[r] : 3;
        int64_t dims[3] = {batch, 4, 1};
        onnx_input in = {.name = "x",
                         .dtype = INFERD_DTYPE_FP32,
                         .ndim = batches[r] > 0 ? 2 : 3,
                         .dims = dims,
                         .data = x,
                         .nbytes = (size_t)batch * 4 * sizeof *x};
        rc = onnx_run(s, &in, 1, err, sizeof err);
        onnx_node_profile p;
        assert_int_equal(onnx_session_node_profile(s, cat, &p), 0);
        assert_int_equal(p.calls, concat_calls[r]);
        assert_int_equal(onnx_session_node_profile(s, shape, &p), 0);
        assert_int_equal(p.calls, concat_calls[r]);
        if (batches[r] < 0) {
            assert_int_not_equal(rc, 0);
            continue;
        }
        if (rc) fail_msg("run %zu: %s", r, err);
        onnx_output y;
        assert_int_equal(onnx_session_output(s, 0, &y), 0);
        assert_int_equal(y.ndim, 2);
        assert_int_equal(y.dims[0], 4);
        assert_int_equal(y.dims[1], batch);
        assert_memory_equal(y.data, x, (size_t)batch * 4 * sizeof *x);
    }
    onnx_session_free(s);
    onnx_model_free(m);
    free(buf);
}

/* The mask chain of test_model_shape_mask is kept by the shape memo whatever its size (up to
 * MEMO_MAX_BYTES): its nodes run once per distinct input shape, batches 2, 2, 300 (4800-byte
 * copies), 300, 2, 2, and y = x each time. The Dropout's unread mask is not made. */
static void test_shape_memo_mask(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = test_model_shape_mask(&len);
    onnx_model *m;
    onnx_session *s = load_session(buf, len, &m);
    char err[256];
    assert_int_equal(onnx_session_set_profiling(s, 1), 0);
    const int n = onnx_model_num_exec_nodes(m);
    int add = -1, dropout = -1; /* they run every time: Dropout (random in training) is not kept */
    for (int k = 0; k < n; k++) {
        onnx_node_profile p;
        assert_int_equal(onnx_session_node_profile(s, k, &p), 0);
        if (strcmp(p.op_type, "Add") == 0) add = k;
        if (strcmp(p.op_type, "Dropout") == 0) dropout = k;
    }
    assert_true(add >= 0 && dropout >= 0);
    static const int64_t batches[] = {2, 2, 300, 300, 2, 2};
    static const int64_t chain_calls[] = {1, 1, 2, 2, 3, 3};
    enum { MAX_BATCH = 300 };
    float *x = malloc(MAX_BATCH * 4 * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < MAX_BATCH * 4; i++) x[i] = (float)i * 0.25f - 7.0f;
    for (size_t r = 0; r < sizeof batches / sizeof *batches; r++) {
        int64_t dims[2] = {batches[r], 4};
        onnx_input in = {.name = "x",
                         .dtype = INFERD_DTYPE_FP32,
                         .ndim = 2,
                         .dims = dims,
                         .data = x,
                         .nbytes = (size_t)batches[r] * 4 * sizeof *x};
        if (onnx_run(s, &in, 1, err, sizeof err) != 0) fail_msg("run %zu: %s", r, err);
        for (int k = 0; k < n; k++) {
            onnx_node_profile p;
            assert_int_equal(onnx_session_node_profile(s, k, &p), 0);
            const int64_t want = k >= dropout ? (int64_t)r + 1 : chain_calls[r];
            if (p.calls != want)
                fail_msg("run %zu: %s ran %lld times, want %lld", r, p.op_type, (long long)p.calls,
                         (long long)want);
            const size_t sl = strlen(p.shapes); /* the mask output shows as "-" */
            if (k == dropout && (sl < 3 || strcmp(p.shapes + sl - 3, ", -") != 0))
                fail_msg("run %zu: the Dropout's mask was made: %s", r, p.shapes);
        }
        onnx_output y;
        assert_int_equal(onnx_session_output(s, 0, &y), 0);
        assert_int_equal(y.ndim, 2);
        assert_int_equal(y.dims[0], batches[r]);
        assert_memory_equal(y.data, x, (size_t)batches[r] * 4 * sizeof *x);
    }
    free(x);
    onnx_session_free(s);
    onnx_model_free(m);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_memo),     cmocka_unit_test(test_shape_memo_mask),
        cmocka_unit_test(test_load_and_run),   cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_refusals),       cmocka_unit_test(test_external_data),
        cmocka_unit_test(test_old_opset),      cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_fuzz_generated), cmocka_unit_test(test_fuzz_real_model),
        cmocka_unit_test(test_memory_plan),    cmocka_unit_test(test_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
