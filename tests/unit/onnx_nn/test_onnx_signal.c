/* The signal family (opset 17) through one-node models: window values, DFT identities (an
 * impulse, zero padding, onesided length, inverse round trip), STFT framing, MelWeightMatrix,
 * and malformed inputs that must fail cleanly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "op_model.h"

#define F32 INFERD_DTYPE_FP32
#define F64 INFERD_DTYPE_FP64
#define I32 INFERD_DTYPE_INT32
#define I64 INFERD_DTYPE_INT64

static char err[512];

static opm_tensor tens(inferd_dtype dt, const void *data, int ndim, const int64_t *dims)
{
    opm_tensor t = {.dtype = dt, .ndim = ndim, .data = data};
    for (int k = 0; k < ndim; k++) t.dims[k] = dims[k];
    return t;
}

static int run(const char *op, const opm_attr *a, int na, const opm_tensor *in, int ni,
               opm_result *out)
{
    memset(out, 0, sizeof *out);
    err[0] = 0;
    return opm_run(op, 17, a, na, in, ni, 1, out, err, sizeof err);
}

static void test_windows(void **state)
{
    (void)state;
    int64_t size = 4;
    opm_tensor in[1] = {tens(I64, &size, 0, NULL)};
    opm_result r;
    assert_int_equal(run("HannWindow", NULL, 0, in, 1, &r), 0);
    const float want[4] = {0, 0.5f, 1, 0.5f};
    for (int k = 0; k < 4; k++) assert_true(fabsf(((float *)r.data)[k] - want[k]) < 1e-6f);
    opm_result_free(&r, 1);
    opm_attr a[2] = {{.name = "periodic", .type = OPM_INT, .i = 0},
                     {.name = "output_datatype", .type = OPM_INT, .i = F64}};
    assert_int_equal(run("BlackmanWindow", a, 2, in, 1, &r), 0); /* symmetric: both ends 0 */
    assert_int_equal(r.dtype, F64);
    assert_true(fabs(((double *)r.data)[0]) < 1e-12 && fabs(((double *)r.data)[3]) < 1e-12);
    opm_result_free(&r, 1);
    size = 1; /* a one-point symmetric window is 1, not 0/0 */
    assert_int_equal(run("HammingWindow", a, 1, in, 1, &r), 0);
    assert_true(((float *)r.data)[0] == 1.0f);
    opm_result_free(&r, 1);
    size = -1;
    assert_int_equal(run("HannWindow", NULL, 0, in, 1, &r), -2);
    float fsize = 4;
    in[0] = tens(F32, &fsize, 0, NULL);
    assert_int_equal(run("HannWindow", NULL, 0, in, 1, &r), -2);
    size = 4;
    in[0] = tens(I64, &size, 0, NULL);
    a[1].i = 8; /* strings are not numbers */
    assert_int_equal(run("HannWindow", a + 1, 1, in, 1, &r), -3);
}

static void test_dft(void **state)
{
    (void)state;
    float impulse[4] = {1, 0, 0, 0}; /* [1][4][1]: the transform of an impulse is all ones */
    opm_tensor in[2] = {tens(F32, impulse, 3, (int64_t[]){1, 4, 1})};
    opm_result r;
    assert_int_equal(run("DFT", NULL, 0, in, 1, &r), 0);
    assert_int_equal(r.dims[1], 4);
    assert_int_equal(r.dims[2], 2);
    for (int k = 0; k < 4; k++) {
        assert_true(fabsf(((float *)r.data)[2 * k] - 1) < 1e-6f);
        assert_true(fabsf(((float *)r.data)[2 * k + 1]) < 1e-6f);
    }
    opm_result_free(&r, 1);
    int64_t len = 8; /* zero padded to 8, onesided: 5 bins */
    in[1] = tens(I64, &len, 0, NULL);
    opm_attr one = {.name = "onesided", .type = OPM_INT, .i = 1};
    assert_int_equal(run("DFT", &one, 1, in, 2, &r), 0);
    assert_int_equal(r.dims[1], 5);
    opm_result_free(&r, 1);
    /* inverse of the forward transform of x is x */
    float x[8] = {1, 2, 3, 4, -1, 0.5f, 2, -3}; /* [1][4][2] complex */
    in[0] = tens(F32, x, 3, (int64_t[]){1, 4, 2});
    assert_int_equal(run("DFT", NULL, 0, in, 1, &r), 0);
    float fwd[8];
    memcpy(fwd, r.data, sizeof fwd);
    opm_result_free(&r, 1);
    in[0] = tens(F32, fwd, 3, (int64_t[]){1, 4, 2});
    opm_attr inv = {.name = "inverse", .type = OPM_INT, .i = 1};
    assert_int_equal(run("DFT", &inv, 1, in, 1, &r), 0);
    for (int k = 0; k < 8; k++) assert_true(fabsf(((float *)r.data)[k] - x[k]) < 1e-5f);
    opm_result_free(&r, 1);
    assert_int_equal(run("DFT", &one, 1, in, 1, &r), -3);    /* onesided of complex input */
    opm_attr ax = {.name = "axis", .type = OPM_INT, .i = 2}; /* the re/im axis */
    assert_int_equal(run("DFT", &ax, 1, in, 1, &r), -2);
    len = 0;
    in[1] = tens(I64, &len, 0, NULL);
    assert_int_equal(run("DFT", NULL, 0, in, 2, &r), -2);
    in[0] = tens(F32, x, 3, (int64_t[]){1, 2, 4}); /* last dim must be 1 or 2 */
    assert_int_equal(run("DFT", NULL, 0, in, 1, &r), -2);
}

static void test_stft_and_mel(void **state)
{
    (void)state;
    float sig[10] = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0};
    int64_t step = 4, flen = 4;
    opm_tensor in[4] = {tens(F32, sig, 3, (int64_t[]){1, 10, 1}),
                        tens(I64, &step, 0, NULL),
                        {.data = NULL},
                        tens(I64, &flen, 0, NULL)};
    opm_result r;
    assert_int_equal(run("STFT", NULL, 0, in, 4, &r), 0);
    assert_int_equal(r.dims[1], 2); /* frames at 0 and 4 */
    assert_int_equal(r.dims[2], 3); /* onesided bins */
    assert_true(fabsf(((float *)r.data)[2 * 3 + 2] - 1) < 1e-6f);
    opm_result_free(&r, 1);
    float win[3] = {1, 1, 1}; /* length 3 != frame_length 4 */
    in[2] = tens(F32, win, 1, (int64_t[]){3});
    assert_int_equal(run("STFT", NULL, 0, in, 4, &r), -2);
    in[2] = (opm_tensor){.data = NULL};
    flen = 11;
    assert_int_equal(run("STFT", NULL, 0, in, 4, &r), -2);
    flen = 4;
    step = 0;
    assert_int_equal(run("STFT", NULL, 0, in, 4, &r), -2);

    int32_t bins = 4, dft = 16, rate = 8000;
    float lo = 0, hi = 4000;
    opm_tensor m[5] = {tens(I32, &bins, 0, NULL), tens(I32, &dft, 0, NULL),
                       tens(I32, &rate, 0, NULL), tens(F32, &lo, 0, NULL), tens(F32, &hi, 0, NULL)};
    assert_int_equal(run("MelWeightMatrix", NULL, 0, m, 5, &r), 0);
    assert_int_equal(r.dims[0], 9);
    assert_int_equal(r.dims[1], 4);
    opm_result_free(&r, 1);
    hi = 9000; /* beyond the last bin */
    assert_int_equal(run("MelWeightMatrix", NULL, 0, m, 5, &r), -2);
    hi = 4000;
    lo = 5000;
    assert_int_equal(run("MelWeightMatrix", NULL, 0, m, 5, &r), -2);
    lo = 0;
    bins = 0;
    assert_int_equal(run("MelWeightMatrix", NULL, 0, m, 5, &r), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_dft),
        cmocka_unit_test(test_stft_and_mel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
