/* Elementwise and unary operators: broadcasting against a naive reference over many shape
 * pairs, integer edge cases (division by zero, MIN / -1, modulo signs, wide shifts), Cast of
 * out-of-range values, float16, and malformed input that must fail cleanly. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "op_model.h"

#define F32  INFERD_DTYPE_FP32
#define F64  INFERD_DTYPE_FP64
#define F16  INFERD_DTYPE_FP16
#define I8   INFERD_DTYPE_INT8
#define I32  INFERD_DTYPE_INT32
#define I64  INFERD_DTYPE_INT64
#define U8   INFERD_DTYPE_UINT8
#define U16  INFERD_DTYPE_UINT16
#define BOOL INFERD_DTYPE_BOOL

static char err[512];

static opm_tensor tens(inferd_dtype dt, const void *data, int ndim, const int64_t *dims)
{
    opm_tensor t = {.dtype = dt, .ndim = ndim, .data = data};
    for (int k = 0; k < ndim; k++) t.dims[k] = dims[k];
    return t;
}

static int run1(const char *op, int opset, const opm_attr *a, int na, const opm_tensor *in, int ni,
                opm_result *out)
{
    memset(out, 0, sizeof *out);
    err[0] = 0;
    return opm_run(op, opset, a, na, in, ni, 1, out, err, sizeof err);
}

/* Flat index into a (rank ra, dims da) operand for output multi-index idx (rank r). */
static int64_t ref_index(int r, const int64_t *idx, int ra, const int64_t *da)
{
    int64_t off = 0;
    for (int k = 0; k < ra; k++) {
        int64_t i = da[k] == 1 ? 0 : idx[r - ra + k];
        off = off * da[k] + i;
    }
    return off;
}

/* Add and Mul of float32 operands over shape pairs exercising every row pattern of the
 * engine (same shape, scalar, row broadcast, column broadcast, outer products, rank 0). */
static void test_broadcast_matches_reference(void **state)
{
    (void)state;
    static const struct {
        int ra, rb;
        int64_t da[4], db[4];
    } cases[] = {
        {2, 2, {3, 4}, {3, 4}},
        {2, 0, {3, 4}, {0}},
        {0, 2, {0}, {3, 4}},
        {2, 1, {3, 4}, {4}},
        {2, 2, {3, 4}, {3, 1}},
        {2, 2, {1, 4}, {3, 1}},
        {3, 2, {2, 3, 4}, {3, 1}},
        {3, 3, {2, 1, 4}, {2, 3, 1}},
        {4, 2, {2, 1, 4, 1}, {4, 5}},
        {1, 1, {1}, {7}},
        {0, 0, {0}, {0}},
        {3, 3, {1, 1, 1}, {2, 1, 3}},
        {4, 4, {2, 3, 1, 5}, {2, 1, 4, 5}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int ra = cases[c].ra, rb = cases[c].rb, r = ra > rb ? ra : rb;
        int64_t na = 1, nb = 1, n = 1, dims[4];
        for (int k = 0; k < ra; k++) na *= cases[c].da[k];
        for (int k = 0; k < rb; k++) nb *= cases[c].db[k];
        for (int k = 0; k < r; k++) {
            int64_t a = k - (r - ra) >= 0 ? cases[c].da[k - (r - ra)] : 1;
            int64_t b = k - (r - rb) >= 0 ? cases[c].db[k - (r - rb)] : 1;
            dims[k] = a > b ? a : b;
            n *= dims[k];
        }
        float *a = malloc((size_t)na * sizeof *a), *b = malloc((size_t)nb * sizeof *b);
        for (int64_t i = 0; i < na; i++) a[i] = (float)(i * 3 + 1);
        for (int64_t i = 0; i < nb; i++) b[i] = (float)(i * 0.5 - 2);
        opm_tensor in[2] = {tens(F32, a, ra, cases[c].da), tens(F32, b, rb, cases[c].db)};
        const char *ops[2] = {"Add", "Mul"};
        for (int o = 0; o < 2; o++) {
            opm_result res;
            int rc = run1(ops[o], 14, NULL, 0, in, 2, &res);
            if (rc != 0) print_error("case %zu %s: %s\n", c, ops[o], err);
            assert_int_equal(rc, 0);
            assert_int_equal(res.ndim, r);
            for (int k = 0; k < r; k++) assert_int_equal(res.dims[k], dims[k]);
            const float *y = res.data;
            int64_t idx[4] = {0};
            for (int64_t i = 0; i < n; i++) {
                float x0 = a[ref_index(r, idx, ra, cases[c].da)];
                float x1 = b[ref_index(r, idx, rb, cases[c].db)];
                assert_true(y[i] == (o == 0 ? x0 + x1 : x0 * x1));
                for (int k = r - 1; k >= 0; k--) {
                    if (++idx[k] < dims[k]) break;
                    idx[k] = 0;
                }
            }
            opm_result_free(&res, 1);
        }
        free(a);
        free(b);
    }
}

static void test_bad_inputs_fail_cleanly(void **state)
{
    (void)state;
    float a[6] = {0}, b[4] = {0};
    int64_t i64[4] = {0};
    uint8_t flags[6] = {0};
    opm_result res;
    /* [2,3] + [4] do not broadcast */
    opm_tensor in[3] = {tens(F32, a, 2, (int64_t[]){2, 3}), tens(F32, b, 1, (int64_t[]){4})};
    assert_true(run1("Add", 14, NULL, 0, in, 2, &res) < 0);
    assert_non_null(strstr(err, "broadcast"));
    /* mixed types */
    in[1] = tens(I64, i64, 1, (int64_t[]){3});
    assert_true(run1("Sub", 14, NULL, 0, in, 2, &res) < 0);
    /* missing second input */
    assert_true(run1("Mul", 14, NULL, 0, in, 1, &res) < 0);
    /* bool arithmetic is not defined */
    in[0] = tens(BOOL, flags, 2, (int64_t[]){2, 3});
    in[1] = tens(BOOL, flags, 2, (int64_t[]){2, 3});
    assert_true(run1("Add", 14, NULL, 0, in, 2, &res) < 0);
    /* Where: condition must be bool, X and Y the same type */
    in[0] = tens(F32, a, 2, (int64_t[]){2, 3});
    in[1] = tens(F32, a, 2, (int64_t[]){2, 3});
    in[2] = tens(F32, a, 2, (int64_t[]){2, 3});
    assert_true(run1("Where", 16, NULL, 0, in, 3, &res) < 0);
    in[0] = tens(BOOL, flags, 2, (int64_t[]){2, 3});
    in[2] = tens(I64, i64, 1, (int64_t[]){3});
    assert_true(run1("Where", 16, NULL, 0, in, 3, &res) < 0);
    /* BitShift needs a valid direction */
    uint16_t u[2] = {1, 2};
    in[0] = tens(U16, u, 1, (int64_t[]){2});
    in[1] = tens(U16, u, 1, (int64_t[]){2});
    opm_attr up = {.name = "direction", .type = OPM_STRING, .s = "UP"};
    assert_true(run1("BitShift", 11, &up, 1, in, 2, &res) < 0);
    assert_true(run1("BitShift", 11, NULL, 0, in, 2, &res) < 0);
    /* Clip bounds: same type as the input and scalar */
    in[0] = tens(F32, a, 2, (int64_t[]){2, 3});
    in[1] = tens(F32, b, 1, (int64_t[]){2});
    assert_true(run1("Clip", 13, NULL, 0, in, 2, &res) < 0);
    in[1] = tens(I64, i64, 0, NULL);
    assert_true(run1("Clip", 13, NULL, 0, in, 2, &res) < 0);
    /* PRelu: the slope must broadcast to X, not grow it */
    in[0] = tens(F32, b, 1, (int64_t[]){4});
    in[1] = tens(F32, a, 2, (int64_t[]){2, 3});
    assert_true(run1("PRelu", 16, NULL, 0, in, 2, &res) < 0);
    in[1] = tens(F32, a, 2, (int64_t[]){3, 1}); /* higher rank than X */
    assert_true(run1("PRelu", 16, NULL, 0, in, 2, &res) < 0);
    /* unary float op on integers; Cast from bool to STRING (not implemented) */
    in[0] = tens(I64, i64, 1, (int64_t[]){4});
    assert_true(run1("Sqrt", 13, NULL, 0, in, 1, &res) < 0);
    opm_attr to_str = {.name = "to", .type = OPM_INT, .i = 8};
    uint8_t flag[1] = {1};
    in[0] = tens(BOOL, flag, 1, (int64_t[]){1});
    assert_true(run1("Cast", 13, &to_str, 1, in, 1, &res) < 0);
    in[0] = tens(I64, i64, 1, (int64_t[]){4});
    opm_attr to_bad = {.name = "to", .type = OPM_INT, .i = 99};
    assert_true(run1("Cast", 13, &to_bad, 1, in, 1, &res) < 0);
}

static void test_integer_division_edges(void **state)
{
    (void)state;
    int32_t a[5] = {7, -7, INT32_MIN, 5, -9}, b[5] = {2, 2, -1, 0, 4};
    opm_tensor in[2] = {tens(I32, a, 1, (int64_t[]){5}), tens(I32, b, 1, (int64_t[]){5})};
    opm_result res;
    assert_int_equal(run1("Div", 14, NULL, 0, in, 2, &res), 0);
    const int32_t *y = res.data;
    int32_t want_div[5] = {3, -3, INT32_MIN, 0, -2}; /* truncation; x/0 = 0; MIN/-1 wraps */
    assert_memory_equal(y, want_div, sizeof want_div);
    opm_result_free(&res, 1);

    assert_int_equal(run1("Mod", 13, NULL, 0, in, 2, &res), 0); /* sign of the divisor */
    int32_t want_mod[5] = {1, 1, 0, 0, 3};
    assert_memory_equal(res.data, want_mod, sizeof want_mod);
    opm_result_free(&res, 1);

    opm_attr fm = {.name = "fmod", .type = OPM_INT, .i = 1};
    assert_int_equal(run1("Mod", 13, &fm, 1, in, 2, &res), 0); /* sign of the dividend */
    int32_t want_fmod[5] = {1, -1, 0, 0, -1};
    assert_memory_equal(res.data, want_fmod, sizeof want_fmod);
    opm_result_free(&res, 1);

    uint8_t s[4] = {1, 3, 8, 200}, sh[4] = {1, 2, 8, 9};
    in[0] = tens(U8, s, 1, (int64_t[]){4});
    in[1] = tens(U8, sh, 1, (int64_t[]){4});
    opm_attr left = {.name = "direction", .type = OPM_STRING, .s = "LEFT"};
    assert_int_equal(run1("BitShift", 11, &left, 1, in, 2, &res), 0);
    uint8_t want_shl[4] = {2, 12, 0, 0}; /* shifts of the full width or more give 0 */
    assert_memory_equal(res.data, want_shl, sizeof want_shl);
    opm_result_free(&res, 1);
}

static void test_variadic_and_where(void **state)
{
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30}, c[2] = {100, 200};
    opm_tensor in[3] = {tens(F32, a, 2, (int64_t[]){2, 3}), tens(F32, b, 1, (int64_t[]){3}),
                        tens(F32, c, 2, (int64_t[]){2, 1})};
    opm_result res;
    assert_int_equal(run1("Sum", 13, NULL, 0, in, 3, &res), 0);
    float want_sum[6] = {111, 122, 133, 214, 225, 236};
    assert_memory_equal(res.data, want_sum, sizeof want_sum);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Mean", 13, NULL, 0, in, 3, &res), 0);
    for (int i = 0; i < 6; i++) assert_float_equal(((float *)res.data)[i], want_sum[i] / 3, 1e-4);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Max", 13, NULL, 0, in, 2, &res), 0);
    float want_max[6] = {10, 20, 30, 10, 20, 30};
    assert_memory_equal(res.data, want_max, sizeof want_max);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Min", 13, NULL, 0, in, 1, &res), 0); /* one input: a copy */
    assert_memory_equal(res.data, a, sizeof a);
    opm_result_free(&res, 1);

    uint8_t cond[3] = {1, 0, 1};
    in[0] = tens(BOOL, cond, 1, (int64_t[]){3});
    in[1] = tens(F32, a, 2, (int64_t[]){2, 3});
    in[2] = tens(F32, c, 2, (int64_t[]){2, 1});
    assert_int_equal(run1("Where", 16, NULL, 0, in, 3, &res), 0);
    float want_where[6] = {1, 100, 3, 4, 200, 6};
    assert_memory_equal(res.data, want_where, sizeof want_where);
    opm_result_free(&res, 1);
}

static void test_cast_edges(void **state)
{
    (void)state;
    float x[6] = {NAN, 1e20f, -1e20f, -1.0f, 2.7f, -0.0f};
    opm_tensor in[1] = {tens(F32, x, 1, (int64_t[]){6})};
    opm_result res;
    opm_attr to = {.name = "to", .type = OPM_INT, .i = I64};
    assert_int_equal(run1("Cast", 13, &to, 1, in, 1, &res), 0);
    int64_t want64[6] = {0, INT64_MAX, INT64_MIN, -1, 2, 0}; /* saturating, NaN -> 0 */
    assert_memory_equal(res.data, want64, sizeof want64);
    opm_result_free(&res, 1);
    to.i = BOOL;
    assert_int_equal(run1("Cast", 13, &to, 1, in, 1, &res), 0);
    uint8_t wantb[6] = {1, 1, 1, 1, 1, 0};
    assert_memory_equal(res.data, wantb, sizeof wantb);
    opm_result_free(&res, 1);
    to.i = U8;
    assert_int_equal(run1("Cast", 13, &to, 1, in, 1, &res), 0);
    assert_int_equal(((uint8_t *)res.data)[3], 255); /* -1 wraps */
    assert_int_equal(((uint8_t *)res.data)[4], 2);
    opm_result_free(&res, 1);
    /* float32 -> float16 -> float32 round trip of representable values; Cast-1 string 'to' */
    float h[3] = {1.5f, -2.25f, 65504.0f};
    in[0] = tens(F32, h, 1, (int64_t[]){3});
    to.i = F16;
    assert_int_equal(run1("Cast", 13, &to, 1, in, 1, &res), 0);
    uint16_t bits[3];
    memcpy(bits, res.data, sizeof bits);
    assert_int_equal(bits[0], 0x3e00);
    opm_result_free(&res, 1);
    in[0] = tens(F16, bits, 1, (int64_t[]){3});
    to.i = F32;
    assert_int_equal(run1("Cast", 13, &to, 1, in, 1, &res), 0);
    assert_memory_equal(res.data, h, sizeof h);
    opm_result_free(&res, 1);
    /* bfloat16 keeps the upper 16 bits (truncation, as the ONNX test data) and widens back */
    float bf[2] = {1.0f, 0.47892547f};
    in[0] = tens(F32, bf, 1, (int64_t[]){2});
    to.i = INFERD_DTYPE_BF16;
    assert_int_equal(run1("Cast", 13, &to, 1, in, 1, &res), 0);
    memcpy(bits, res.data, 2 * sizeof bits[0]);
    uint32_t raw;
    memcpy(&raw, &bf[1], sizeof raw);
    assert_int_equal(bits[0], 0x3f80);
    assert_int_equal(bits[1], raw >> 16);
    opm_result_free(&res, 1);
    in[0] = tens(INFERD_DTYPE_BF16, bits, 1, (int64_t[]){2});
    to.i = F32;
    assert_int_equal(run1("Cast", 13, &to, 1, in, 1, &res), 0);
    raw &= 0xffff0000u;
    assert_memory_equal((char *)res.data + 4, &raw, 4);
    assert_true(((float *)res.data)[0] == 1.0f);
    opm_result_free(&res, 1);
}

static void test_unary_edges(void **state)
{
    (void)state;
    int8_t i8[4] = {-128, -3, 0, 5};
    opm_tensor in[3] = {tens(I8, i8, 1, (int64_t[]){4})};
    opm_result res;
    assert_int_equal(run1("Abs", 13, NULL, 0, in, 1, &res), 0);
    int8_t want_abs[4] = {-128, 3, 0, 5}; /* |MIN| wraps, as in numpy */
    assert_memory_equal(res.data, want_abs, sizeof want_abs);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Relu", 14, NULL, 0, in, 1, &res), 0);
    int8_t want_relu[4] = {0, 0, 0, 5};
    assert_memory_equal(res.data, want_relu, sizeof want_relu);
    opm_result_free(&res, 1);
    /* Clip on int8 with only a minimum */
    int8_t lo = -2;
    in[1] = tens(I8, &lo, 0, NULL);
    assert_int_equal(run1("Clip", 13, NULL, 0, in, 2, &res), 0);
    int8_t want_clip[4] = {-2, -2, 0, 5};
    assert_memory_equal(res.data, want_clip, sizeof want_clip);
    opm_result_free(&res, 1);

    /* min > max: every value becomes max, as numpy.clip */
    int8_t hi = -5;
    in[2] = tens(I8, &hi, 0, NULL);
    assert_int_equal(run1("Clip", 13, NULL, 0, in, 3, &res), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(((int8_t *)res.data)[i], -5);
    opm_result_free(&res, 1);

    /* large magnitudes stay finite where the math is finite */
    float x[4] = {-1000.0f, 1000.0f, 0.0f, NAN};
    in[0] = tens(F32, x, 1, (int64_t[]){4});
    assert_int_equal(run1("Sigmoid", 13, NULL, 0, in, 1, &res), 0);
    float *y = res.data;
    assert_true(y[0] == 0.0f && y[1] == 1.0f && y[2] == 0.5f && isnan(y[3]));
    opm_result_free(&res, 1);
    assert_int_equal(run1("Softplus", 13, NULL, 0, in, 1, &res), 0);
    y = res.data;
    assert_true(y[0] == 0.0f && y[1] == 1000.0f);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Clip", 13, NULL, 0, in, 1, &res), 0); /* no bounds: identity */
    y = res.data;
    assert_true(y[0] == -1000.0f && y[1] == 1000.0f && isnan(y[3]));
    opm_result_free(&res, 1);
    float rnd[4] = {0.5f, 1.5f, 2.5f, -2.5f};
    in[0] = tens(F32, rnd, 1, (int64_t[]){4});
    assert_int_equal(run1("Round", 11, NULL, 0, in, 1, &res), 0);
    float want_round[4] = {0.0f, 2.0f, 2.0f, -2.0f}; /* halves to even */
    assert_memory_equal(res.data, want_round, sizeof want_round);
    opm_result_free(&res, 1);
}

/* Empty tensors broadcast like any other (a 0 axis meets 0 or 1) and produce empty outputs. */
static void test_empty_tensors(void **state)
{
    (void)state;
    float a[1] = {0}, b[3] = {1, 2, 3};
    opm_tensor in[2] = {tens(F32, a, 2, (int64_t[]){0, 3}), tens(F32, b, 2, (int64_t[]){1, 3})};
    opm_result res;
    assert_int_equal(run1("Add", 14, NULL, 0, in, 2, &res), 0);
    assert_int_equal(res.ndim, 2);
    assert_int_equal(res.dims[0], 0);
    assert_int_equal(res.dims[1], 3);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Sum", 13, NULL, 0, in, 2, &res), 0);
    assert_int_equal(res.dims[0], 0);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Exp", 13, NULL, 0, in, 1, &res), 0);
    assert_int_equal(res.dims[0], 0);
    opm_result_free(&res, 1);
    in[1] = tens(F32, b, 1, (int64_t[]){2}); /* 3 vs 2 */
    assert_true(run1("Add", 14, NULL, 0, in, 2, &res) < 0);
}

static void test_float16_arithmetic(void **state)
{
    (void)state;
    uint16_t a[2] = {0x3c00, 0x4000}, b[2] = {0x4000, 0x4200}; /* {1, 2}, {2, 3} */
    opm_tensor in[2] = {tens(F16, a, 1, (int64_t[]){2}), tens(F16, b, 1, (int64_t[]){2})};
    opm_result res;
    assert_int_equal(run1("Mul", 14, NULL, 0, in, 2, &res), 0);
    assert_int_equal(res.dtype, F16);
    uint16_t want[2] = {0x4000, 0x4600}; /* {2, 6} */
    assert_memory_equal(res.data, want, sizeof want);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Less", 13, NULL, 0, in, 2, &res), 0);
    uint8_t want_lt[2] = {1, 1};
    assert_memory_equal(res.data, want_lt, sizeof want_lt);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Relu", 14, NULL, 0, in, 1, &res), 0);
    assert_memory_equal(res.data, a, sizeof a);
    opm_result_free(&res, 1);
}

/* Opset < 7 broadcasting: equal shapes unless broadcast=1, then B sits at `axis` (default:
 * trailing) inside A's shape; PRelu-6 has a per-channel slope; Max-6 takes equal shapes. */
static void test_legacy_broadcast(void **state)
{
    (void)state;
    float a[6] = {1, 2, 3, 4, 5, 6}, b2[2] = {10, 20}, b3[3] = {10, 20, 30}, one = 100;
    opm_tensor in[2] = {tens(F32, a, 2, (int64_t[]){2, 3}), tens(F32, b3, 1, (int64_t[]){3})};
    opm_result res;
    /* no broadcast attribute: (2,3) + (3) is refused, even though numpy would take it */
    assert_int_equal(run1("Add", 6, NULL, 0, in, 2, &res), -2);
    assert_non_null(strstr(err, "broadcast"));
    opm_attr bc = {.name = "broadcast", .type = OPM_INT, .i = 1};
    assert_int_equal(run1("Add", 6, &bc, 1, in, 2, &res), 0); /* suffix match */
    float want_row[6] = {11, 22, 33, 14, 25, 36};
    assert_memory_equal(res.data, want_row, sizeof want_row);
    opm_result_free(&res, 1);
    /* axis=0: B (2) runs down the rows, which numpy broadcasting cannot express */
    opm_attr ax[2] = {bc, {.name = "axis", .type = OPM_INT, .i = 0}};
    in[1] = tens(F32, b2, 1, (int64_t[]){2});
    assert_int_equal(run1("Sub", 6, ax, 2, in, 2, &res), 0);
    float want_col[6] = {-9, -8, -7, -16, -15, -14};
    assert_memory_equal(res.data, want_col, sizeof want_col);
    assert_int_equal(res.ndim, 2);
    opm_result_free(&res, 1);
    assert_int_equal(run1("Add", 6, &bc, 1, in, 2, &res), -2); /* (2) does not end (2,3) */
    ax[1].i = 2;                                               /* B would run past A's last axis */
    assert_int_equal(run1("Mul", 6, ax, 2, in, 2, &res), -2);
    ax[1].i = -7;
    assert_int_equal(run1("Mul", 6, ax, 2, in, 2, &res), -2);
    /* a one-element B of any rank up to A's */
    in[1] = tens(F32, &one, 2, (int64_t[]){1, 1});
    assert_int_equal(run1("Mul", 1, &bc, 1, in, 2, &res), 0);
    assert_true(((float *)res.data)[5] == 600.0f);
    opm_result_free(&res, 1);
    /* B of higher rank than A */
    opm_tensor swapped[2] = {in[1], in[0]};
    swapped[1] = tens(F32, a, 3, (int64_t[]){1, 2, 3});
    assert_int_equal(run1("Add", 6, &bc, 1, swapped, 2, &res), -2);
    /* comparisons follow the same rule */
    in[1] = tens(F32, b3, 1, (int64_t[]){3});
    assert_int_equal(run1("Less", 6, NULL, 0, in, 2, &res), -2);
    assert_int_equal(run1("Greater", 6, &bc, 1, in, 2, &res), 0);
    opm_result_free(&res, 1);
    opm_attr bad = {.name = "broadcast", .type = OPM_INT, .i = 2};
    assert_int_equal(run1("Add", 6, &bad, 1, in, 2, &res), -2);

    /* PRelu-6: slope (3) applies per channel of X (2,3), not along the last axis */
    float x[6] = {-1, -1, -1, 2, -2, -2}, slope[3] = {1, 2, 3};
    opm_tensor pin[2] = {tens(F32, x, 2, (int64_t[]){2, 3}), tens(F32, slope, 1, (int64_t[]){2})};
    assert_int_equal(run1("PRelu", 6, NULL, 0, pin, 2, &res), -2); /* 2 slopes, 3 channels */
    float xc[6] = {-1, -1, -1, -1, -1, -1};
    pin[0] = tens(F32, xc, 3, (int64_t[]){1, 3, 2});
    pin[1] = tens(F32, slope, 1, (int64_t[]){3});
    assert_int_equal(run1("PRelu", 6, NULL, 0, pin, 2, &res), 0);
    float want_p[6] = {-1, -1, -2, -2, -3, -3};
    assert_memory_equal(res.data, want_p, sizeof want_p);
    opm_result_free(&res, 1);
    assert_int_equal(run1("PRelu", 9, NULL, 0, pin, 2, &res), -2); /* numpy rule: 3 vs 2 */

    /* Max-6 has no broadcasting; Max-8 has */
    in[0] = tens(F32, a, 2, (int64_t[]){2, 3});
    assert_int_equal(run1("Max", 6, NULL, 0, in, 2, &res), -2);
    assert_int_equal(run1("Max", 8, NULL, 0, in, 2, &res), 0);
    opm_result_free(&res, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broadcast_matches_reference),
        cmocka_unit_test(test_bad_inputs_fail_cleanly),
        cmocka_unit_test(test_integer_division_edges),
        cmocka_unit_test(test_variadic_and_where),
        cmocka_unit_test(test_cast_edges),
        cmocka_unit_test(test_unary_edges),
        cmocka_unit_test(test_empty_tensors),
        cmocka_unit_test(test_float16_arithmetic),
        cmocka_unit_test(test_legacy_broadcast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
