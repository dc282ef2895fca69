/* Inputs and outputs that are not plain numeric tensors, through the public API: string
 * tensors (packed u32 length + bytes; malformed layouts refused), sequences (items checked
 * and copied; a tensor where a sequence is declared refused) and optionals (fed without a
 * value). Models come from Debian's ONNX test data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "inferd/onnx.h"

#define DATA "/usr/share/libonnx-testdata/data/node/"

static onnx_model *load(const char *name)
{
    char path[512], err[256];
    snprintf(path, sizeof path, DATA "%s/model.onnx", name);
    onnx_model *m;
    if (onnx_model_load(path, &m, err, sizeof err) != 0) fail_msg("load %s: %s", name, err);
    return m;
}

/* Packs strings as the runtime takes them; returns the byte count. */
static size_t pack(const char *const *s, int n, uint8_t *out)
{
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        uint32_t len = (uint32_t)strlen(s[i]);
        memcpy(out + off, &len, 4);
        memcpy(out + off + 4, s[i], len);
        off += 4 + len;
    }
    return off;
}

static void test_strings(void **state)
{
    (void)state;
    onnx_model *m = load("test_strnormalizer_export_monday_casesensintive_upper");
    assert_int_equal(onnx_model_input(m, 0)->dtype, INFERD_DTYPE_BYTES);
    onnx_session *s;
    char err[256];
    assert_int_equal(onnx_session_create(m, 1, &s, err, sizeof err), 0);
    const char *words[4] = {"monday", "tuesday", "", "Monday"};
    uint8_t buf[128];
    size_t nb = pack(words, 4, buf);
    int64_t dims[1] = {4};
    onnx_input in = {.name = "x",
                     .dtype = INFERD_DTYPE_BYTES,
                     .ndim = 1,
                     .dims = dims,
                     .data = buf,
                     .nbytes = nb};
    if (onnx_run(s, &in, 1, err, sizeof err) != 0) fail_msg("run: %s", err);
    onnx_output out;
    assert_int_equal(onnx_session_output(s, 0, &out), 0);
    assert_int_equal(out.dtype, INFERD_DTYPE_BYTES);
    assert_int_equal(out.ndim, 1);
    assert_int_equal(out.dims[0], 3); /* "monday" dropped (case-sensitive), the rest upper */
    const char *want[3] = {"TUESDAY", "", "MONDAY"};
    uint8_t expect[128];
    size_t want_nb = pack(want, 3, expect);
    assert_int_equal(out.nbytes, want_nb);
    assert_memory_equal(out.data, expect, want_nb);

    /* malformed layouts: short by one byte, one byte extra, a length past the end */
    in.nbytes = nb - 1;
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    in.nbytes = nb + 1;
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    uint32_t huge = 0xfffffff0u;
    memcpy(buf, &huge, 4);
    in.nbytes = nb;
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    in.data = NULL;
    assert_int_equal(onnx_run(s, &in, 1, err, sizeof err), ONNX_E_INVALID);
    onnx_session_free(s);
    onnx_model_free(m);
}

static void test_sequences(void **state)
{
    (void)state;
    onnx_model *m = load("test_sequence_insert_at_back");
    assert_true(onnx_model_input(m, 0)->is_sequence);
    assert_false(onnx_model_input(m, 1)->is_sequence);
    assert_true(onnx_model_output(m, 0)->is_sequence);
    onnx_session *s;
    char err[256];
    assert_int_equal(onnx_session_create(m, 1, &s, err, sizeof err), 0);
    int64_t a[3] = {1, 2, 3}, b[2] = {4, 5}, t[3] = {7, 8, 9};
    int64_t da[1] = {3}, db[1] = {2};
    onnx_input items[2] = {
        {.dtype = INFERD_DTYPE_INT64, .ndim = 1, .dims = da, .data = a, .nbytes = sizeof a},
        {.dtype = INFERD_DTYPE_INT64, .ndim = 1, .dims = db, .data = b, .nbytes = sizeof b}};
    onnx_input in[2] = {
        {.name = "sequence", .kind = ONNX_KIND_SEQUENCE, .n_items = 2, .items = items},
        {.name = "tensor",
         .dtype = INFERD_DTYPE_INT64,
         .ndim = 1,
         .dims = da,
         .data = t,
         .nbytes = sizeof t}};
    for (int rep = 0; rep < 2; rep++) { /* twice: the first run's sequences are released */
        if (onnx_run(s, in, 2, err, sizeof err) != 0) fail_msg("run: %s", err);
        onnx_output out, item;
        assert_int_equal(onnx_session_output(s, 0, &out), 0);
        assert_int_equal(out.kind, ONNX_KIND_SEQUENCE);
        assert_int_equal(out.n_items, 3);
        assert_int_equal(onnx_session_output_item(s, 0, 1, &item), 0);
        assert_int_equal(item.dims[0], 2);
        assert_memory_equal(item.data, b, sizeof b);
        assert_int_equal(onnx_session_output_item(s, 0, 2, &item), 0);
        assert_memory_equal(item.data, t, sizeof t);
        assert_int_equal(onnx_session_output_item(s, 0, 3, &item), ONNX_E_INVALID);
    }
    /* an item of another type, an item with a wrong byte count, a tensor for the sequence,
     * no value for a non-optional input */
    items[1].dtype = INFERD_DTYPE_INT32;
    items[1].nbytes = 8;
    assert_int_equal(onnx_run(s, in, 2, err, sizeof err), ONNX_E_INVALID);
    items[1].dtype = INFERD_DTYPE_INT64;
    items[1].nbytes = sizeof b + 1;
    assert_int_equal(onnx_run(s, in, 2, err, sizeof err), ONNX_E_INVALID);
    items[1].nbytes = sizeof b;
    in[0].kind = ONNX_KIND_TENSOR;
    in[0].dtype = INFERD_DTYPE_INT64, in[0].ndim = 1, in[0].dims = da, in[0].data = a;
    in[0].nbytes = sizeof a;
    assert_int_equal(onnx_run(s, in, 2, err, sizeof err), ONNX_E_INVALID);
    in[0].kind = ONNX_KIND_NONE;
    assert_int_equal(onnx_run(s, in, 2, err, sizeof err), ONNX_E_INVALID);
    in[0].kind = ONNX_KIND_SEQUENCE;
    in[0].n_items = -1;
    assert_int_equal(onnx_run(s, in, 2, err, sizeof err), ONNX_E_INVALID);
    onnx_session_free(s);
    onnx_model_free(m);
}

static void test_optionals(void **state)
{
    (void)state;
    onnx_model *m = load("test_optional_has_element_empty");
    assert_true(onnx_model_input(m, 0)->is_optional);
    onnx_session *s;
    char err[256];
    assert_int_equal(onnx_session_create(m, 1, &s, err, sizeof err), 0);
    onnx_input in = {.name = "optional_input", .kind = ONNX_KIND_NONE};
    if (onnx_run(s, &in, 1, err, sizeof err) != 0) fail_msg("run: %s", err);
    onnx_output out;
    assert_int_equal(onnx_session_output(s, 0, &out), 0);
    assert_int_equal(out.dtype, INFERD_DTYPE_BOOL);
    assert_int_equal(*(const uint8_t *)out.data, 0);
    int32_t v = 5;
    in = (onnx_input){
        .name = "optional_input", .dtype = INFERD_DTYPE_INT32, .data = &v, .nbytes = sizeof v};
    if (onnx_run(s, &in, 1, err, sizeof err) != 0) fail_msg("run: %s", err);
    assert_int_equal(onnx_session_output(s, 0, &out), 0);
    assert_int_equal(*(const uint8_t *)out.data, 1);
    onnx_session_free(s);
    onnx_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_optionals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
