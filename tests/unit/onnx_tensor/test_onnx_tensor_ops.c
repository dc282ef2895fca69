/* Tensor and reduce operators on hand-made cases: results against naive references, opset
 * variants, and malformed inputs (bad indices, shapes and sizes) that must fail cleanly. */
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
#define I64 INFERD_DTYPE_INT64

static char err[512];

static opm_tensor tens(inferd_dtype dt, const void *data, int ndim, ...)
{
    opm_tensor t = {.dtype = dt, .ndim = ndim, .data = data};
    va_list ap;
    va_start(ap, ndim);
    for (int k = 0; k < ndim; k++) t.dims[k] = va_arg(ap, int64_t);
    va_end(ap);
    return t;
}

static int run1(const char *op, int opset, const opm_attr *a, int na, const opm_tensor *in, int ni,
                opm_result *out)
{
    memset(out, 0, sizeof *out);
    return opm_run(op, opset, a, na, in, ni, 1, out, err, sizeof err);
}

static void expect_shape(const opm_result *r, int ndim, const int64_t *dims)
{
    assert_int_equal(r->ndim, ndim);
    for (int k = 0; k < ndim; k++) assert_int_equal(r->dims[k], dims[k]);
}

static void test_reshape(void **state)
{
    (void)state;
    float x[24];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    int64_t shape[3] = {0, -1, 2};
    opm_tensor in[2] = {tens(F32, x, 3, (int64_t)2, (int64_t)3, (int64_t)4),
                        tens(I64, shape, 1, (int64_t)3)};
    opm_result r;
    assert_int_equal(run1("Reshape", 14, NULL, 0, in, 2, &r), 0);
    expect_shape(&r, 3, (int64_t[]){2, 6, 2});
    assert_memory_equal(r.data, x, sizeof x);
    opm_result_free(&r, 1);

    int64_t bad[2] = {5, -1}; /* 24 is not a multiple of 5 */
    in[1] = tens(I64, bad, 1, (int64_t)2);
    assert_true(run1("Reshape", 14, NULL, 0, in, 2, &r) < 0);
    int64_t two[3] = {-1, -1, 2};
    in[1] = tens(I64, two, 1, (int64_t)3);
    assert_true(run1("Reshape", 14, NULL, 0, in, 2, &r) < 0);
    int64_t huge[3] = {INT64_MAX, INT64_MAX, 2};
    in[1] = tens(I64, huge, 1, (int64_t)3);
    assert_true(run1("Reshape", 14, NULL, 0, in, 2, &r) < 0);
}

/* Transpose fast paths (2-D tiles, batched, generic) against the naive definition. */
static void check_transpose(int r, const int64_t *dims, const int64_t *perm)
{
    int64_t n = 1, xs[8], s = 1;
    for (int k = 0; k < r; k++) n *= dims[k];
    for (int k = r - 1; k >= 0; k--) {
        xs[k] = s;
        s *= dims[k];
    }
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)i;
    opm_tensor in = {.dtype = F32, .ndim = r, .data = x};
    memcpy(in.dims, dims, (size_t)r * sizeof *dims);
    opm_attr a = {"perm", OPM_INTS, .ints = perm, .n = r};
    opm_result res;
    assert_int_equal(run1("Transpose", 13, &a, 1, &in, 1, &res), 0);
    const float *y = res.data;
    int64_t c[8] = {0};
    for (int64_t i = 0; i < n; i++) {
        int64_t src = 0;
        for (int k = 0; k < r; k++) src += c[k] * xs[perm[k]];
        assert_true(y[i] == x[src]);
        for (int k = r - 1; k >= 0; k--) {
            if (++c[k] < dims[perm[k]]) break;
            c[k] = 0;
        }
    }
    opm_result_free(&res, 1);
    free(x);
}

static void test_transpose(void **state)
{
    (void)state;
    check_transpose(2, (int64_t[]){37, 70}, (int64_t[]){1, 0});
    check_transpose(4, (int64_t[]){2, 5, 6, 7}, (int64_t[]){0, 2, 3, 1});
    check_transpose(4, (int64_t[]){2, 5, 6, 7}, (int64_t[]){0, 3, 1, 2});
    check_transpose(3, (int64_t[]){3, 4, 5}, (int64_t[]){2, 0, 1});
    check_transpose(3, (int64_t[]){1, 4, 1}, (int64_t[]){2, 1, 0});
    float x[6] = {0};
    opm_tensor in = tens(F32, x, 2, (int64_t)2, (int64_t)3);
    opm_attr dup = {"perm", OPM_INTS, .ints = (int64_t[]){0, 0}, .n = 2};
    opm_result r;
    assert_true(run1("Transpose", 13, &dup, 1, &in, 1, &r) < 0);
    opm_attr range = {"perm", OPM_INTS, .ints = (int64_t[]){0, 5}, .n = 2};
    assert_true(run1("Transpose", 13, &range, 1, &in, 1, &r) < 0);
}

static void test_gather_bounds(void **state)
{
    (void)state;
    float x[6] = {0, 1, 2, 3, 4, 5};
    int64_t idx[2] = {-1, 0};
    opm_tensor in[2] = {tens(F32, x, 2, (int64_t)3, (int64_t)2), tens(I64, idx, 1, (int64_t)2)};
    opm_result r;
    assert_int_equal(run1("Gather", 13, NULL, 0, in, 2, &r), 0);
    expect_shape(&r, 2, (int64_t[]){2, 2});
    assert_memory_equal(r.data, ((float[]){4, 5, 0, 1}), 4 * sizeof(float));
    opm_result_free(&r, 1);
    int64_t bad[2] = {3, 0};
    in[1] = tens(I64, bad, 1, (int64_t)2);
    assert_true(run1("Gather", 13, NULL, 0, in, 2, &r) < 0);
    int64_t neg[1] = {-4};
    in[1] = tens(I64, neg, 1, (int64_t)1);
    assert_true(run1("Gather", 13, NULL, 0, in, 2, &r) < 0);
    assert_true(run1("GatherElements", 13, NULL, 0,
                     (opm_tensor[]){tens(F32, x, 2, (int64_t)3, (int64_t)2),
                                    tens(I64, bad, 2, (int64_t)1, (int64_t)2)},
                     2, &r) < 0);
    int64_t nd[2] = {2, 2};
    assert_true(run1("GatherND", 13, NULL, 0,
                     (opm_tensor[]){tens(F32, x, 2, (int64_t)3, (int64_t)2),
                                    tens(I64, nd, 2, (int64_t)1, (int64_t)2)},
                     2, &r) < 0);
}

static void test_scatter_bounds(void **state)
{
    (void)state;
    float x[4] = {0}, u[2] = {1, 2};
    int64_t idx[2] = {1, 4};
    opm_tensor in[3] = {tens(F32, x, 1, (int64_t)4), tens(I64, idx, 1, (int64_t)2),
                        tens(F32, u, 1, (int64_t)2)};
    opm_result r;
    assert_true(run1("ScatterElements", 16, NULL, 0, in, 3, &r) < 0);
    idx[1] = -1;
    opm_attr add = {"reduction", OPM_STRING, .s = "add"};
    assert_int_equal(run1("ScatterElements", 16, &add, 1, in, 3, &r), 0);
    assert_memory_equal(r.data, ((float[]){0, 1, 0, 2}), sizeof x);
    opm_result_free(&r, 1);
    int64_t nd[2] = {5, 0};
    opm_tensor ind[3] = {tens(F32, x, 1, (int64_t)4), tens(I64, nd, 2, (int64_t)2, (int64_t)1),
                         tens(F32, u, 1, (int64_t)2)};
    assert_true(run1("ScatterND", 16, NULL, 0, ind, 3, &r) < 0);
}

static void test_slice_steps(void **state)
{
    (void)state;
    float x[10];
    for (int i = 0; i < 10; i++) x[i] = (float)i;
    int64_t st[1] = {INT64_MAX}, en[1] = {INT64_MIN}, ax[1] = {0}, sp[1] = {-3};
    opm_tensor in[5] = {tens(F32, x, 1, (int64_t)10), tens(I64, st, 1, (int64_t)1),
                        tens(I64, en, 1, (int64_t)1), tens(I64, ax, 1, (int64_t)1),
                        tens(I64, sp, 1, (int64_t)1)};
    opm_result r;
    assert_int_equal(run1("Slice", 13, NULL, 0, in, 5, &r), 0);
    expect_shape(&r, 1, (int64_t[]){4});
    assert_memory_equal(r.data, ((float[]){9, 6, 3, 0}), 4 * sizeof(float));
    opm_result_free(&r, 1);
    sp[0] = INT64_MIN; /* one element, no overflow */
    assert_int_equal(run1("Slice", 13, NULL, 0, in, 5, &r), 0);
    expect_shape(&r, 1, (int64_t[]){1});
    opm_result_free(&r, 1);
    sp[0] = 0;
    assert_true(run1("Slice", 13, NULL, 0, in, 5, &r) < 0);
    sp[0] = 1;
    ax[0] = 3;
    assert_true(run1("Slice", 13, NULL, 0, in, 5, &r) < 0);
}

/* Slice and Gather outputs that are a contiguous run of the input are views at an offset
 * (onnx_ctx_alias_output_at); the others copy. Both against a plain loop over x [1, 5, 4, 3]. */
static void test_contiguous_views(void **state)
{
    (void)state;
    float x[120]; /* the widest Gather case below reads 2 x 5 x 12 */
    for (int i = 0; i < 120; i++) x[i] = (float)i;
    static const struct {
        int n;
        int64_t ax[2], st[2], en[2];
    } sl[] = {
        {1, {1}, {1}, {4}},          /* rows 1..3 under a leading 1: a view */
        {2, {0, 1}, {0, 2}, {1, 3}}, /* one row: a view */
        {2, {1, 2}, {2, 1}, {3, 3}}, /* part of one row: a view */
        {1, {3}, {0}, {3}},          /* everything: a view */
        {1, {2}, {1}, {3}},          /* columns of every row: a copy */
        {2, {1, 3}, {4, 1}, {5, 2}}, /* strided: a copy */
    };
    for (size_t c = 0; c < sizeof sl / sizeof *sl; c++) {
        int64_t lo[4] = {0, 0, 0, 0}, hi[4] = {1, 5, 4, 3};
        for (int i = 0; i < sl[c].n; i++)
            lo[sl[c].ax[i]] = sl[c].st[i], hi[sl[c].ax[i]] = sl[c].en[i];
        opm_tensor in[4] = {tens(F32, x, 4, (int64_t)1, (int64_t)5, (int64_t)4, (int64_t)3),
                            tens(I64, sl[c].st, 1, (int64_t)sl[c].n),
                            tens(I64, sl[c].en, 1, (int64_t)sl[c].n),
                            tens(I64, sl[c].ax, 1, (int64_t)sl[c].n)};
        opm_result r;
        if (run1("Slice", 13, NULL, 0, in, 4, &r) != 0) fail_msg("slice %zu: %s", c, err);
        expect_shape(&r, 4, (int64_t[]){1, hi[1] - lo[1], hi[2] - lo[2], hi[3] - lo[3]});
        const float *y = r.data;
        size_t k = 0;
        for (int64_t a = lo[1]; a < hi[1]; a++)
            for (int64_t b = lo[2]; b < hi[2]; b++)
                for (int64_t d = lo[3]; d < hi[3]; d++, k++)
                    if (y[k] != x[(a * 4 + b) * 3 + d]) fail_msg("slice %zu: element %zu", c, k);
        opm_result_free(&r, 1);
    }
    /* Gather of one index: over a leading 1 or on axis 0 a view, else a copy */
    static const struct {
        int64_t d0, d1, axis, idx;
    } ga[] = {{1, 5, 1, 3}, {5, 1, 0, 4}, {5, 1, 0, -2}, {2, 5, 1, 1}};
    for (size_t c = 0; c < sizeof ga / sizeof *ga; c++) {
        opm_tensor in[2] = {tens(F32, x, 3, ga[c].d0, ga[c].d1, (int64_t)12),
                            tens(I64, &ga[c].idx, 0)};
        opm_attr axis = {"axis", OPM_INT, .i = ga[c].axis};
        opm_result r;
        if (run1("Gather", 13, &axis, 1, in, 2, &r) != 0) fail_msg("gather %zu: %s", c, err);
        const int64_t n_ax = ga[c].axis ? ga[c].d1 : ga[c].d0, i = (ga[c].idx + n_ax) % n_ax;
        const float *y = r.data;
        for (int64_t a = 0; a < (ga[c].axis ? ga[c].d0 : 1); a++)
            for (int64_t e = 0; e < (ga[c].axis ? 1 : ga[c].d1) * 12; e++) {
                const float want =
                    ga[c].axis ? x[(a * ga[c].d1 + i) * 12 + e] : x[i * ga[c].d1 * 12 + e];
                if (y[a * (ga[c].axis ? 12 : ga[c].d1 * 12) + e] != want)
                    fail_msg("gather %zu: element %lld", c, (long long)(a * 12 + e));
            }
        opm_result_free(&r, 1);
    }
}

static void test_size_overflow(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4};
    int64_t reps[2] = {INT64_MAX / 2, 3};
    opm_tensor in[2] = {tens(F32, x, 2, (int64_t)2, (int64_t)2), tens(I64, reps, 1, (int64_t)2)};
    opm_result r;
    assert_true(run1("Tile", 13, NULL, 0, in, 2, &r) < 0);
    reps[0] = -1;
    assert_true(run1("Tile", 13, NULL, 0, in, 2, &r) < 0);
    int64_t shape[3] = {1 << 30, 1 << 30, 1 << 30};
    opm_tensor cs = tens(I64, shape, 1, (int64_t)3);
    assert_true(run1("ConstantOfShape", 13, NULL, 0, &cs, 1, &r) < 0);
    shape[0] = -2;
    assert_true(run1("ConstantOfShape", 13, NULL, 0, &cs, 1, &r) < 0);
    float s = 0, l = 1e30f, d = 1e-30f;
    opm_tensor rg[3] = {tens(F32, &s, 0), tens(F32, &l, 0), tens(F32, &d, 0)};
    assert_true(run1("Range", 13, NULL, 0, rg, 3, &r) < 0);
    int64_t pads[4] = {0, -5, 0, 0};
    opm_tensor pin[2] = {tens(F32, x, 2, (int64_t)2, (int64_t)2), tens(I64, pads, 1, (int64_t)4)};
    assert_true(run1("Pad", 13, NULL, 0, pin, 2, &r) < 0);
    int64_t sizes[2] = {INT64_MAX, 4};
    opm_tensor rz[4] = {
        tens(F32, x, 2, (int64_t)2, (int64_t)2), {0}, {0}, tens(I64, sizes, 1, (int64_t)2)};
    assert_true(run1("Resize", 13, NULL, 0, rz, 4, &r) < 0);
}

static void test_pad_modes(void **state)
{
    (void)state;
    float x[3] = {1, 2, 3};
    int64_t pads[2] = {2, 3};
    opm_tensor in[2] = {tens(F32, x, 1, (int64_t)3), tens(I64, pads, 1, (int64_t)2)};
    opm_result r;
    opm_attr reflect = {"mode", OPM_STRING, .s = "reflect"},
             edge = {"mode", OPM_STRING, .s = "edge"};
    assert_int_equal(run1("Pad", 13, &reflect, 1, in, 2, &r), 0);
    assert_memory_equal(r.data, ((float[]){3, 2, 1, 2, 3, 2, 1, 2}), 8 * sizeof(float));
    opm_result_free(&r, 1);
    assert_int_equal(run1("Pad", 13, &edge, 1, in, 2, &r), 0);
    assert_memory_equal(r.data, ((float[]){1, 1, 1, 2, 3, 3, 3, 3}), 8 * sizeof(float));
    opm_result_free(&r, 1);
    /* opset < 11 attributes, negative pad crops */
    opm_attr a[2] = {{"pads", OPM_INTS, .ints = (int64_t[]){-1, 1}, .n = 2},
                     {"value", OPM_FLOAT, .f = 7}};
    assert_int_equal(run1("Pad", 7, a, 2, in, 1, &r), 0);
    assert_memory_equal(r.data, ((float[]){2, 3, 7}), 3 * sizeof(float));
    opm_result_free(&r, 1);
}

/* ReduceSum over non-adjacent axes against a naive loop; axes as input at 13. */
static void test_reduce_axes(void **state)
{
    (void)state;
    float x[2 * 3 * 4 * 5];
    for (int i = 0; i < 120; i++) x[i] = (float)((i * 7) % 11) - 5;
    int64_t axes[2] = {-1, 1};
    opm_tensor in[2] = {tens(F32, x, 4, (int64_t)2, (int64_t)3, (int64_t)4, (int64_t)5),
                        tens(I64, axes, 1, (int64_t)2)};
    opm_attr keep = {"keepdims", OPM_INT, .i = 0};
    opm_result r;
    assert_int_equal(run1("ReduceSum", 13, &keep, 1, in, 2, &r), 0);
    expect_shape(&r, 2, (int64_t[]){2, 4});
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 4; c++) {
            float s = 0;
            for (int b = 0; b < 3; b++)
                for (int d = 0; d < 5; d++) s += x[((a * 3 + b) * 4 + c) * 5 + d];
            assert_true(((float *)r.data)[a * 4 + c] == s);
        }
    opm_result_free(&r, 1);
    opm_attr max_axes = {"axes", OPM_INTS, .ints = (int64_t[]){0, 2}, .n = 2};
    assert_int_equal(run1("ReduceMax", 13, &max_axes, 1, in, 1, &r), 0);
    expect_shape(&r, 4, (int64_t[]){1, 3, 1, 5});
    opm_result_free(&r, 1);
    axes[1] = -1; /* repeated */
    assert_true(run1("ReduceSum", 13, NULL, 0, in, 2, &r) < 0);
}

static void test_topk_ties(void **state)
{
    (void)state;
    float x[6] = {1, 3, 3, 2, 3, 0};
    int64_t k[1] = {3};
    opm_tensor in[2] = {tens(F32, x, 1, (int64_t)6), tens(I64, k, 1, (int64_t)1)};
    opm_result r[2] = {0};
    assert_int_equal(opm_run("TopK", 11, NULL, 0, in, 2, 2, r, err, sizeof err), 0);
    assert_memory_equal(r[0].data, ((float[]){3, 3, 3}), 3 * sizeof(float));
    assert_memory_equal(r[1].data, ((int64_t[]){1, 2, 4}), 3 * sizeof(int64_t));
    opm_result_free(r, 2);
    k[0] = 7;
    assert_true(opm_run("TopK", 11, NULL, 0, in, 2, 2, r, err, sizeof err) < 0);
}

static void test_split_and_concat(void **state)
{
    (void)state;
    float x[7] = {0, 1, 2, 3, 4, 5, 6};
    opm_tensor in = tens(F32, x, 1, (int64_t)7);
    opm_result r[3] = {0};
    int64_t parts[3] = {3, 3, 1};
    opm_tensor si[2] = {in, tens(I64, parts, 1, (int64_t)3)};
    assert_int_equal(opm_run("Split", 13, NULL, 0, si, 2, 3, r, err, sizeof err), 0);
    assert_int_equal(r[0].dims[0], 3);
    assert_int_equal(r[2].dims[0], 1);
    assert_true(((float *)r[2].data)[0] == 6);
    opm_result_free(r, 3);
    parts[2] = 2; /* sums to 8 */
    assert_true(opm_run("Split", 13, NULL, 0, si, 2, 3, r, err, sizeof err) < 0);
    parts[2] = -1;
    assert_true(opm_run("Split", 13, NULL, 0, si, 2, 3, r, err, sizeof err) < 0);
    assert_true(opm_run("Split", 13, NULL, 0, &in, 1, 3, r, err, sizeof err) < 0); /* 7 % 3 */
    float a[2] = {1, 2}, b[3] = {3, 4, 5};
    opm_attr ax = {"axis", OPM_INT, .i = -1};
    opm_tensor ci[2] = {tens(F32, a, 2, (int64_t)1, (int64_t)2),
                        tens(F32, b, 2, (int64_t)1, (int64_t)3)};
    assert_int_equal(run1("Concat", 13, &ax, 1, ci, 2, r), 0);
    assert_memory_equal(r[0].data, ((float[]){1, 2, 3, 4, 5}), 5 * sizeof(float));
    opm_result_free(r, 1);
    ci[1] = tens(F32, b, 2, (int64_t)3, (int64_t)1);
    assert_true(run1("Concat", 13, &ax, 1, ci, 2, r) < 0);
}

static void test_resize_nearest(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4}, scales[4] = {1, 1, 2, 1.5f};
    opm_tensor in[3] = {tens(F32, x, 4, (int64_t)1, (int64_t)1, (int64_t)2, (int64_t)2),
                        {0},
                        tens(F32, scales, 1, (int64_t)4)};
    opm_attr a[2] = {{"coordinate_transformation_mode", OPM_STRING, .s = "asymmetric"},
                     {"nearest_mode", OPM_STRING, .s = "floor"}};
    opm_result r;
    assert_int_equal(run1("Resize", 13, a, 2, in, 3, &r), 0);
    expect_shape(&r, 4, (int64_t[]){1, 1, 4, 3});
    assert_memory_equal(r.data, ((float[]){1, 1, 2, 1, 1, 2, 3, 3, 4, 3, 3, 4}),
                        12 * sizeof(float));
    opm_result_free(&r, 1);
    scales[3] = -1;
    assert_true(run1("Resize", 13, a, 2, in, 3, &r) < 0);
}

static void test_depth_space_roundtrip(void **state)
{
    (void)state;
    float x[2 * 8 * 2 * 3];
    for (int i = 0; i < 96; i++) x[i] = (float)i;
    opm_tensor in = tens(F32, x, 4, (int64_t)2, (int64_t)8, (int64_t)2, (int64_t)3);
    opm_attr bs = {"blocksize", OPM_INT, .i = 2};
    opm_attr d2s[2] = {bs, {"mode", OPM_STRING, .s = "CRD"}};
    opm_result a, b;
    assert_int_equal(run1("DepthToSpace", 13, d2s, 2, &in, 1, &a), 0);
    expect_shape(&a, 4, (int64_t[]){2, 2, 4, 6});
    /* CRD: out[n][c][h*2+i][w*2+j] = in[n][c*4 + i*2 + j][h][w] */
    assert_true(((float *)a.data)[0 * 24 + 1 * 6 + 1] == x[(0 * 4 + 1 * 2 + 1) * 6 + 0]);
    opm_result_free(&a, 1);
    assert_int_equal(run1("DepthToSpace", 13, &bs, 1, &in, 1, &a), 0); /* DCR */
    opm_tensor back = tens(F32, a.data, 4, (int64_t)2, (int64_t)2, (int64_t)4, (int64_t)6);
    assert_int_equal(run1("SpaceToDepth", 13, &bs, 1, &back, 1, &b), 0);
    expect_shape(&b, 4, (int64_t[]){2, 8, 2, 3});
    assert_memory_equal(b.data, x, sizeof x);
    opm_result_free(&a, 1);
    opm_result_free(&b, 1);
    opm_attr bad = {"blocksize", OPM_INT, .i = 3}; /* 8 channels not divisible by 9 */
    assert_true(run1("DepthToSpace", 13, &bad, 1, &in, 1, &a) < 0);
    opm_attr zero = {"blocksize", OPM_INT, .i = 0};
    assert_true(run1("SpaceToDepth", 13, &zero, 1, &in, 1, &a) < 0);
}

static void test_small_ops(void **state)
{
    (void)state;
    opm_result r;
    /* CumSum exclusive + reverse */
    float c[4] = {1, 2, 3, 4};
    int64_t ax = 0;
    opm_attr er[2] = {{"exclusive", OPM_INT, .i = 1}, {"reverse", OPM_INT, .i = 1}};
    opm_tensor ci[2] = {tens(F32, c, 1, (int64_t)4), tens(I64, &ax, 0)};
    assert_int_equal(run1("CumSum", 14, er, 2, ci, 2, &r), 0);
    assert_memory_equal(r.data, ((float[]){9, 7, 4, 0}), sizeof c);
    opm_result_free(&r, 1);
    ax = 1;
    assert_true(run1("CumSum", 14, er, 2, ci, 2, &r) < 0);
    /* OneHot: out-of-range index gives an all-off row, negative wraps */
    int64_t idx[3] = {1, -1, 9}, depth = 3;
    float vals[2] = {0, 5};
    opm_tensor oi[3] = {tens(I64, idx, 1, (int64_t)3), tens(I64, &depth, 0),
                        tens(F32, vals, 1, (int64_t)2)};
    assert_int_equal(run1("OneHot", 11, NULL, 0, oi, 3, &r), 0);
    assert_memory_equal(r.data, ((float[]){0, 5, 0, 0, 0, 5, 0, 0, 0}), 9 * sizeof(float));
    opm_result_free(&r, 1);
    depth = 0;
    assert_true(run1("OneHot", 11, NULL, 0, oi, 3, &r) < 0);
    /* NonZero: coordinates in row-major order; -0.0 is zero */
    float z[4] = {0, 1, -0.0f, 2};
    opm_tensor zi = tens(F32, z, 2, (int64_t)2, (int64_t)2);
    assert_int_equal(run1("NonZero", 13, NULL, 0, &zi, 1, &r), 0);
    expect_shape(&r, 2, (int64_t[]){2, 2});
    assert_memory_equal(r.data, ((int64_t[]){0, 1, 1, 1}), 4 * sizeof(int64_t));
    opm_result_free(&r, 1);
    /* Shape with start/end (opset 15) */
    opm_attr se[2] = {{"start", OPM_INT, .i = -3}, {"end", OPM_INT, .i = 100}};
    float x4[16] = {0};
    opm_tensor si = tens(F32, x4, 4, (int64_t)1, (int64_t)2, (int64_t)4, (int64_t)2);
    assert_int_equal(run1("Shape", 15, se, 2, &si, 1, &r), 0);
    assert_memory_equal(r.data, ((int64_t[]){2, 4, 2}), 3 * sizeof(int64_t));
    opm_result_free(&r, 1);
    /* Range on int64, counting down */
    int64_t s = 10, l = 3, d = -3;
    opm_tensor ri[3] = {tens(I64, &s, 0), tens(I64, &l, 0), tens(I64, &d, 0)};
    assert_int_equal(run1("Range", 11, NULL, 0, ri, 3, &r), 0);
    assert_memory_equal(r.data, ((int64_t[]){10, 7, 4}), 3 * sizeof(int64_t));
    opm_result_free(&r, 1);
    d = 0;
    assert_true(run1("Range", 11, NULL, 0, ri, 3, &r) < 0);
    /* Constant from value_ints (opset 12+) */
    opm_attr ci2 = {"value_ints", OPM_INTS, .ints = (int64_t[]){4, 5}, .n = 2};
    assert_int_equal(run1("Constant", 13, &ci2, 1, NULL, 0, &r), 0);
    assert_memory_equal(r.data, ((int64_t[]){4, 5}), 2 * sizeof(int64_t));
    opm_result_free(&r, 1);
}

static void test_einsum(void **state)
{
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, 0, 0, 1, 1, 1};
    opm_tensor in[2] = {tens(F32, a, 2, (int64_t)2, (int64_t)3),
                        tens(F32, b, 2, (int64_t)3, (int64_t)2)};
    opm_attr eq = {"equation", OPM_STRING, .s = "ij,jk->ik"};
    opm_result r;
    assert_int_equal(run1("Einsum", 12, &eq, 1, in, 2, &r), 0);
    assert_memory_equal(r.data, ((float[]){4, 5, 10, 11}), 4 * sizeof(float));
    opm_result_free(&r, 1);
    opm_attr implicit = {"equation", OPM_STRING, .s = "bA"}; /* numpy order: 'A' first */
    assert_int_equal(run1("Einsum", 12, &implicit, 1, in, 1, &r), 0);
    expect_shape(&r, 2, (int64_t[]){3, 2});
    opm_result_free(&r, 1);
    static const char *const bad[] = {"ij,jk->iz", "ij,jk",      "i.j,jk->ik", "ij,jk->ii",
                                      "ij->",      "ijk,jk->ik", "ij,jk->i-k", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        opm_attr e = {"equation", OPM_STRING, .s = bad[i]};
        int rc = run1("Einsum", 12, &e, 1, in, 2, &r);
        if (rc == 0) opm_result_free(&r, 1);
        /* "ij,jk" is a valid implicit equation (output "ik"); every other one is malformed */
        if (i == 1) assert_int_equal(rc, 0);
        else assert_true(rc < 0);
    }
}

/* Unique: sorted and first-occurrence order, all four outputs, slices along an axis. */
static void test_unique(void **state)
{
    (void)state;
    float x[6] = {2, 1, 1, 3, 4, 3};
    opm_tensor in[1] = {tens(F32, x, 1, (int64_t)6)};
    opm_result r[4];
    memset(r, 0, sizeof r);
    assert_int_equal(opm_run("Unique", 11, NULL, 0, in, 1, 4, r, err, sizeof err), 0);
    float want_y[4] = {1, 2, 3, 4};
    int64_t want_idx[4] = {1, 0, 3, 4}, want_inv[6] = {1, 0, 0, 2, 3, 2},
            want_cnt[4] = {2, 1, 2, 1};
    assert_memory_equal(r[0].data, want_y, sizeof want_y);
    assert_memory_equal(r[1].data, want_idx, sizeof want_idx);
    assert_memory_equal(r[2].data, want_inv, sizeof want_inv);
    assert_memory_equal(r[3].data, want_cnt, sizeof want_cnt);
    opm_result_free(r, 4);
    opm_attr uns = {.name = "sorted", .type = OPM_INT, .i = 0};
    assert_int_equal(opm_run("Unique", 11, &uns, 1, in, 1, 3, r, err, sizeof err), 0);
    float want_u[4] = {2, 1, 3, 4};
    int64_t want_uinv[6] = {0, 1, 1, 2, 3, 2};
    assert_memory_equal(r[0].data, want_u, sizeof want_u);
    assert_memory_equal(r[2].data, want_uinv, sizeof want_uinv);
    opm_result_free(r, 3);
    /* rows of a 3 x 2 matrix: {1, 2}, {0, 5}, {1, 2} -> {0, 5}, {1, 2} */
    int64_t m[6] = {1, 2, 0, 5, 1, 2};
    in[0] = tens(I64, m, 2, (int64_t)3, (int64_t)2);
    opm_attr ax = {.name = "axis", .type = OPM_INT, .i = -2};
    assert_int_equal(opm_run("Unique", 11, &ax, 1, in, 1, 1, r, err, sizeof err), 0);
    expect_shape(&r[0], 2, (int64_t[]){2, 2});
    int64_t want_rows[4] = {0, 5, 1, 2};
    assert_memory_equal(r[0].data, want_rows, sizeof want_rows);
    opm_result_free(r, 1);
    ax.i = 2;
    assert_int_equal(opm_run("Unique", 11, &ax, 1, in, 1, 1, r, err, sizeof err), -2);
    in[0] = tens(I64, m, 1, (int64_t)0); /* empty input: empty outputs */
    assert_int_equal(opm_run("Unique", 11, NULL, 0, in, 1, 1, r, err, sizeof err), 0);
    assert_int_equal(r[0].dims[0], 0);
    opm_result_free(r, 1);
}

/* ReverseSequence along either axis order; lengths out of range are errors. */
static void test_reverse_sequence(void **state)
{
    (void)state;
    float x[6] = {0, 1, 2, 10, 11, 12}; /* [batch 2][time 3] */
    int64_t lens[2] = {2, 3};
    opm_attr a[2] = {{.name = "time_axis", .type = OPM_INT, .i = 1},
                     {.name = "batch_axis", .type = OPM_INT, .i = 0}};
    opm_tensor in[2] = {tens(F32, x, 2, (int64_t)2, (int64_t)3), tens(I64, lens, 1, (int64_t)2)};
    opm_result r;
    assert_int_equal(run1("ReverseSequence", 10, a, 2, in, 2, &r), 0);
    float want[6] = {1, 0, 2, 12, 11, 10};
    assert_memory_equal(r.data, want, sizeof want);
    opm_result_free(&r, 1);
    assert_int_equal(run1("ReverseSequence", 10, NULL, 0, in, 2, &r),
                     -2); /* time 0: 2 steps, len 3 */
    lens[1] = -1;
    assert_int_equal(run1("ReverseSequence", 10, a, 2, in, 2, &r), -2);
    a[0].i = 0; /* both axes 0 */
    lens[1] = 1;
    assert_int_equal(run1("ReverseSequence", 10, a, 2, in, 2, &r), -2);
    in[1] = tens(I64, lens, 1, (int64_t)1);
    assert_int_equal(run1("ReverseSequence", 10, NULL, 0, in, 2, &r), -2);
}

/* TfIdfVectorizer: unigrams once per position, bigrams at every skip distance, the three
 * modes, and inconsistent pools. */
static void test_tfidf(void **state)
{
    (void)state;
    int64_t x[5] = {1, 2, 1, 3, 2};
    const int64_t pool[5] = {1, 2, 1, 2, 9}; /* unigrams 1, 2, then 3 values: no whole bigrams */
    const int64_t pool_ok[4] = {1, 2, 1, 2};
    const int64_t counts[2] = {0, 2}, idx[3] = {0, 1, 2};
    const float w[3] = {0.5f, 2.0f, 4.0f};
    opm_attr a[8] = {{.name = "pool_int64s", .type = OPM_INTS, .ints = pool_ok, .n = 4},
                     {.name = "ngram_counts", .type = OPM_INTS, .ints = counts, .n = 2},
                     {.name = "ngram_indexes", .type = OPM_INTS, .ints = idx, .n = 3},
                     {.name = "min_gram_length", .type = OPM_INT, .i = 1},
                     {.name = "max_gram_length", .type = OPM_INT, .i = 2},
                     {.name = "max_skip_count", .type = OPM_INT, .i = 1},
                     {.name = "mode", .type = OPM_STRING, .s = "TF"},
                     {.name = "weights", .type = OPM_FLOATS, .floats = w, .n = 3}};
    opm_tensor in[1] = {tens(I64, x, 1, (int64_t)5)};
    opm_result r;
    assert_int_equal(run1("TfIdfVectorizer", 9, a, 7, in, 1, &r), 0);
    expect_shape(&r, 1, (int64_t[]){3});
    /* 1 twice, 2 twice; (1 2) at distance 1 (positions 0-1) and distance 2 (2-4, 0-2 is 1 1) */
    float want_tf[3] = {2, 2, 2};
    assert_memory_equal(r.data, want_tf, sizeof want_tf);
    opm_result_free(&r, 1);
    a[6].s = "TFIDF";
    assert_int_equal(run1("TfIdfVectorizer", 9, a, 8, in, 1, &r), 0);
    float want_tfidf[3] = {1, 4, 8};
    assert_memory_equal(r.data, want_tfidf, sizeof want_tfidf);
    opm_result_free(&r, 1);
    a[6].s = "IDF";
    assert_int_equal(run1("TfIdfVectorizer", 9, a, 8, in, 1, &r), 0);
    float want_idf[3] = {0.5f, 2, 4};
    assert_memory_equal(r.data, want_idf, sizeof want_idf);
    opm_result_free(&r, 1);
    a[6].s = "BM25";
    assert_int_equal(run1("TfIdfVectorizer", 9, a, 7, in, 1, &r), -2);
    a[6].s = "TF";
    a[0].ints = pool; /* 3 values after the unigrams: not whole bigrams */
    a[0].n = 5;
    assert_int_equal(run1("TfIdfVectorizer", 9, a, 7, in, 1, &r), -2);
    a[0].ints = pool_ok;
    a[0].n = 4;
    a[4].i = 3; /* longer than the pool's lengths */
    assert_int_equal(run1("TfIdfVectorizer", 9, a, 7, in, 1, &r), -2);
    a[4].i = 2;
    a[2].n = 2; /* an index per n-gram is required */
    assert_int_equal(run1("TfIdfVectorizer", 9, a, 7, in, 1, &r), -2);
    a[2].n = 3;
    float fx[2] = {1, 2};
    in[0] = tens(F32, fx, 1, (int64_t)2);
    assert_int_equal(run1("TfIdfVectorizer", 9, a, 7, in, 1, &r), -3);
}

/* Random generators: ranges, moments of large samples, seeded reproducibility, degenerate
 * probabilities, and bad attributes. */
static void test_random(void **state)
{
    (void)state;
    const int64_t shape[1] = {20000};
    opm_attr a[4] = {{.name = "shape", .type = OPM_INTS, .ints = shape, .n = 1},
                     {.name = "low", .type = OPM_FLOAT, .f = 2.0f},
                     {.name = "high", .type = OPM_FLOAT, .f = 4.0f},
                     {.name = "seed", .type = OPM_FLOAT, .f = 7.0f}};
    opm_result r, r2;
    assert_int_equal(run1("RandomUniform", 13, a, 4, NULL, 0, &r), 0);
    assert_int_equal(r.dtype, F32);
    double sum = 0;
    const float *u = r.data;
    for (int i = 0; i < 20000; i++) {
        assert_true(u[i] >= 2.0f && u[i] < 4.0f);
        sum += u[i];
    }
    assert_true(fabs(sum / 20000 - 3.0) < 0.05);
    assert_int_equal(run1("RandomUniform", 13, a, 4, NULL, 0, &r2), 0); /* same seed, same draws */
    assert_memory_equal(r.data, r2.data, r.nbytes);
    opm_result_free(&r2, 1);
    assert_int_equal(run1("RandomUniform", 13, a, 3, NULL, 0, &r2), 0); /* unseeded: fresh draws */
    assert_true(memcmp(r.data, r2.data, r.nbytes) != 0);
    opm_result_free(&r2, 1);
    opm_result_free(&r, 1);
    opm_attr nrm[3] = {a[0],
                       {.name = "mean", .type = OPM_FLOAT, .f = 1.0f},
                       {.name = "scale", .type = OPM_FLOAT, .f = 2.0f}};
    assert_int_equal(run1("RandomNormal", 13, nrm, 3, NULL, 0, &r), 0);
    double m = 0, sq = 0;
    for (int i = 0; i < 20000; i++) m += ((float *)r.data)[i];
    m /= 20000;
    for (int i = 0; i < 20000; i++) sq += (((float *)r.data)[i] - m) * (((float *)r.data)[i] - m);
    assert_true(fabs(m - 1.0) < 0.1 && fabs(sqrt(sq / 20000) - 2.0) < 0.1);
    opm_result_free(&r, 1);
    a[1].f = 5.0f; /* low > high */
    assert_int_equal(run1("RandomUniform", 13, a, 3, NULL, 0, &r), -2);
    assert_int_equal(run1("RandomUniform", 13, a + 1, 2, NULL, 0, &r), -2); /* no shape */
    opm_attr dt = {.name = "dtype", .type = OPM_INT, .i = INFERD_DTYPE_INT32};
    assert_int_equal(run1("RandomNormal", 13, (opm_attr[]){a[0], dt}, 2, NULL, 0, &r), -3);

    /* the Like forms take the input's shape, and its type when it is a float type */
    int64_t ix[6] = {0};
    opm_tensor in[1] = {tens(I64, ix, 2, (int64_t)2, (int64_t)3)};
    assert_int_equal(run1("RandomUniformLike", 13, NULL, 0, in, 1, &r), -3);
    dt.i = INFERD_DTYPE_FP64;
    assert_int_equal(run1("RandomUniformLike", 13, &dt, 1, in, 1, &r), 0);
    assert_int_equal(r.dtype, INFERD_DTYPE_FP64);
    expect_shape(&r, 2, (int64_t[]){2, 3});
    opm_result_free(&r, 1);

    float p[4] = {0, 1, 0, 1};
    in[0] = tens(F32, p, 1, (int64_t)4);
    assert_int_equal(run1("Bernoulli", 15, NULL, 0, in, 1, &r), 0);
    assert_memory_equal(r.data, p, sizeof p);
    opm_result_free(&r, 1);
    p[2] = 1.5f;
    assert_int_equal(run1("Bernoulli", 15, NULL, 0, in, 1, &r), -2);

    float logits[4] = {0, -100, -100, 0}; /* row 0 always class 0, row 1 always class 1 */
    in[0] = tens(F32, logits, 2, (int64_t)2, (int64_t)2);
    opm_attr ms[2] = {{.name = "sample_size", .type = OPM_INT, .i = 5},
                      {.name = "dtype", .type = OPM_INT, .i = INFERD_DTYPE_INT64}};
    logits[3] = 0;
    logits[2] = -100;
    assert_int_equal(run1("Multinomial", 13, ms, 2, in, 1, &r), 0);
    expect_shape(&r, 2, (int64_t[]){2, 5});
    for (int i = 0; i < 10; i++) assert_int_equal(((int64_t *)r.data)[i], i < 5 ? 0 : 1);
    opm_result_free(&r, 1);
    ms[1].i = INFERD_DTYPE_FP32;
    assert_int_equal(run1("Multinomial", 13, ms, 2, in, 1, &r), -2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape),
        cmocka_unit_test(test_transpose),
        cmocka_unit_test(test_gather_bounds),
        cmocka_unit_test(test_scatter_bounds),
        cmocka_unit_test(test_slice_steps),
        cmocka_unit_test(test_contiguous_views),
        cmocka_unit_test(test_size_overflow),
        cmocka_unit_test(test_pad_modes),
        cmocka_unit_test(test_reduce_axes),
        cmocka_unit_test(test_topk_ties),
        cmocka_unit_test(test_split_and_concat),
        cmocka_unit_test(test_resize_nearest),
        cmocka_unit_test(test_depth_space_roundtrip),
        cmocka_unit_test(test_small_ops),
        cmocka_unit_test(test_einsum),
        cmocka_unit_test(test_unique),
        cmocka_unit_test(test_reverse_sequence),
        cmocka_unit_test(test_tfidf),
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
