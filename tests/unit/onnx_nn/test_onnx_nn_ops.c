/* nn operators with integer or multiple inputs, run through one-node models built by the
 * tensor tests' helper (tests/unit/onnx_tensor/op_model.c): the losses (hand-computed values,
 * ignore_index, every reduction), RNN/GRU/LSTM, the quantized operators, and their malformed
 * inputs, which must fail cleanly. */
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
#define U8  INFERD_DTYPE_UINT8
#define I8  INFERD_DTYPE_INT8

static char err[512];

static opm_tensor tens(inferd_dtype dt, const void *data, int ndim, const int64_t *dims)
{
    opm_tensor t = {.dtype = dt, .ndim = ndim, .data = data};
    for (int k = 0; k < ndim; k++) t.dims[k] = dims[k];
    return t;
}

static int run(const char *op, int opset, const opm_attr *a, int na, const opm_tensor *in, int ni,
               int nout, opm_result *out)
{
    memset(out, 0, sizeof *out * (size_t)nout);
    err[0] = 0;
    return opm_run(op, opset, a, na, in, ni, nout, out, err, sizeof err);
}

static opm_attr str_attr(const char *name, const char *v)
{
    return (opm_attr){.name = name, .type = OPM_STRING, .s = v};
}

static opm_attr int_attr(const char *name, int64_t v)
{
    return (opm_attr){.name = name, .type = OPM_INT, .i = v};
}

/* NLL over (N=2, C=3, d=2): loss = -x[n][t][d] * w[t], ignore_index zeroes a term and its
 * weight; mean divides by the weights used. */
static void test_nll_loss_values(void **state)
{
    (void)state;
    float x[12] = {1, 2, 3, 4, 5, 6, /* n=0: classes x d */ 7, 8, 9, 10, 11, 12};
    int64_t t[4] = {0, 2, 1, 1}, w_dims[1] = {3};
    float w[3] = {1, 2, 3};
    opm_tensor in[3] = {tens(F32, x, 3, (int64_t[]){2, 3, 2}), tens(I64, t, 2, (int64_t[]){2, 2}),
                        tens(F32, w, 1, w_dims)};
    opm_result r;
    opm_attr a[2] = {str_attr("reduction", "none"), int_attr("ignore_index", 1)};
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, a, 1, in, 2, 1, &r), 0);
    assert_int_equal(r.ndim, 2);
    float want_none[4] = {-1, -6, -9, -10}; /* x[0][0][0], x[0][2][1], x[1][1][0], x[1][1][1] */
    assert_memory_equal(r.data, want_none, sizeof want_none);
    opm_result_free(&r, 1);
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, a, 1, in, 3, 1, &r), 0);
    float want_w[4] = {-1, -18, -18, -20};
    assert_memory_equal(r.data, want_w, sizeof want_w);
    opm_result_free(&r, 1);
    a[0] = str_attr("reduction", "mean"); /* (-1 - 18) / (1 + 3): class 1 ignored */
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, a, 2, in, 3, 1, &r), 0);
    assert_int_equal(r.ndim, 0);
    assert_true(fabsf(((float *)r.data)[0] - (-19.0f / 4.0f)) < 1e-6f);
    opm_result_free(&r, 1);
    a[0] = str_attr("reduction", "sum");
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, a, 1, in, 2, 1, &r), 0);
    assert_true(((float *)r.data)[0] == -26.0f);
    opm_result_free(&r, 1);
    /* every element ignored: mean is 0 / 0 */
    int64_t all1[4] = {1, 1, 1, 1};
    in[1] = tens(I64, all1, 2, (int64_t[]){2, 2});
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, a + 1, 1, in, 2, 1, &r), 0);
    assert_true(isnan(((float *)r.data)[0]));
    opm_result_free(&r, 1);
    /* an out-of-range target is ignored only when it is ignore_index */
    int64_t neg[4] = {0, -5, 0, 0};
    in[1] = tens(I64, neg, 2, (int64_t[]){2, 2});
    opm_attr ii = int_attr("ignore_index", -5);
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, &ii, 1, in, 2, 1, &r), 0);
    opm_result_free(&r, 1);
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 2, 1, &r), -2);
    assert_non_null(strstr(err, "target -5"));
}

static void test_nll_loss_bad_inputs(void **state)
{
    (void)state;
    float x[6] = {0};
    int64_t t[2] = {0, 1};
    int32_t t32[2] = {0, 3};
    float w[2] = {1, 1};
    opm_result r;
    opm_tensor in[3] = {tens(F32, x, 2, (int64_t[]){2, 3}), tens(I64, t, 1, (int64_t[]){2}),
                        tens(F32, w, 1, (int64_t[]){2})};
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 2, 1, &r), 0);
    opm_result_free(&r, 1);
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 3, 1, &r),
                     -2);                      /* 2 weights, 3 classes */
    in[1] = tens(I32, t32, 1, (int64_t[]){2}); /* class 3 of 3 */
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 2, 1, &r), -2);
    in[1] = tens(I64, t, 2, (int64_t[]){2, 1}); /* target rank = input rank */
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 2, 1, &r), -2);
    in[1] = tens(F32, x, 1, (int64_t[]){2}); /* float target */
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 2, 1, &r), -2);
    in[0] = tens(F32, x, 1, (int64_t[]){2}); /* no class axis */
    in[1] = tens(I64, t, 0, NULL);
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, NULL, 0, in, 2, 1, &r), -2);
    in[0] = tens(F32, x, 2, (int64_t[]){2, 3});
    in[1] = tens(I64, t, 1, (int64_t[]){2});
    opm_attr bad = str_attr("reduction", "max");
    assert_int_equal(run("NegativeLogLikelihoodLoss", 13, &bad, 1, in, 2, 1, &r), -2);
    assert_int_equal(run("SoftmaxCrossEntropyLoss", 13, &bad, 1, in, 2, 1, &r), -2);
    /* not in opset 11 */
    assert_int_equal(run("NegativeLogLikelihoodLoss", 11, NULL, 0, in, 2, 1, &r), -3);
}

/* SoftmaxCrossEntropyLoss: uniform scores give log(C) per element; log_prob is log_softmax. */
static void test_softmax_cross_entropy(void **state)
{
    (void)state;
    double x[6] = {0, 0, 0, 1, 2, 3};
    int64_t t[2] = {1, 2};
    opm_tensor in[2] = {tens(F64, x, 2, (int64_t[]){2, 3}), tens(I64, t, 1, (int64_t[]){2})};
    opm_result r[2];
    opm_attr a = str_attr("reduction", "none");
    assert_int_equal(run("SoftmaxCrossEntropyLoss", 13, &a, 1, in, 2, 2, r), 0);
    assert_int_equal(r[0].dtype, F64);
    const double *loss = r[0].data, *lp = r[1].data;
    double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
    assert_true(fabs(loss[0] - log(3.0)) < 1e-12);
    assert_true(fabs(loss[1] - (lse - 3.0)) < 1e-12);
    assert_int_equal(r[1].ndim, 2);
    assert_true(fabs(lp[3] - (1.0 - lse)) < 1e-12);
    opm_result_free(r, 2);
    assert_int_equal(run("SoftmaxCrossEntropyLoss", 12, NULL, 0, in, 2, 1, r), 0); /* mean */
    assert_true(fabs(((double *)r[0].data)[0] - (log(3.0) + lse - 3.0) / 2) < 1e-12);
    opm_result_free(r, 1);
}

/* RNN with an identity activation is a running sum: H_t = x_t * w + H_{t-1} * r. A reverse pass
 * with sequence_lens starts at each row's own last step; later Y rows stay zero. */
static void test_rnn_values(void **state)
{
    (void)state;
    float x[6] = {1, 2, 3, /* batch 1: */ 10, 20, 30}; /* layout 1: [batch 2][seq 3][input 1] */
    float w[1] = {1}, r[1] = {1};
    int32_t lens[2] = {3, 2};
    opm_tensor in[5] = {tens(F32, x, 3, (int64_t[]){2, 3, 1}),
                        tens(F32, w, 3, (int64_t[]){1, 1, 1}),
                        tens(F32, r, 3, (int64_t[]){1, 1, 1}),
                        {.data = NULL},
                        tens(I32, lens, 1, (int64_t[]){2})};
    const char *const acts[1] = {"affine"}; /* names are case-insensitive */
    opm_attr a[3] = {{.name = "activations", .type = OPM_STRINGS, .strings = acts, .n = 1},
                     str_attr("direction", "reverse"),
                     int_attr("layout", 1)};
    opm_result res[2];
    assert_int_equal(run("RNN", 14, a, 3, in, 5, 2, res), 0);
    /* batch 0 backwards: 3, 5, 6 at t = 2, 1, 0; batch 1 over its 2 steps: 20 (t=1), 30 (t=0) */
    float want_y[6] = {6, 5, 3, 30, 20, 0};
    assert_int_equal(res[0].ndim, 4);
    assert_memory_equal(res[0].data, want_y, sizeof want_y);
    float want_h[2] = {6, 30};
    assert_memory_equal(res[1].data, want_h, sizeof want_h);
    opm_result_free(res, 2);
}

static void test_rnn_bad_inputs(void **state)
{
    (void)state;
    float x[12] = {0}, w[8] = {0}, r[16] = {0};
    opm_tensor in[5] = {tens(F32, x, 3, (int64_t[]){3, 2, 2}),
                        tens(F32, w, 3, (int64_t[]){1, 4, 2}),
                        tens(F32, r, 3, (int64_t[]){1, 4, 4}),
                        {.data = NULL},
                        {.data = NULL}};
    opm_result res[2];
    assert_int_equal(run("RNN", 14, NULL, 0, in, 3, 1, res), 0); /* hidden 4 from R */
    assert_int_equal(res[0].dims[3], 4);
    opm_result_free(res, 1);
    opm_attr hs = int_attr("hidden_size", 3); /* R says 4 */
    assert_int_equal(run("RNN", 14, &hs, 1, in, 3, 1, res), -2);
    hs.i = 0;
    assert_int_equal(run("RNN", 14, &hs, 1, in, 3, 1, res), -2);
    assert_int_equal(run("GRU", 14, NULL, 0, in, 3, 1, res), -2); /* W needs 3 gates */
    opm_attr dir = str_attr("direction", "sideways");
    assert_int_equal(run("RNN", 14, &dir, 1, in, 3, 1, res), -2);
    dir.s = "bidirectional"; /* W has one direction */
    assert_int_equal(run("RNN", 14, &dir, 1, in, 3, 1, res), -2);
    opm_attr lay = int_attr("layout", 2);
    assert_int_equal(run("RNN", 14, &lay, 1, in, 3, 1, res), -2);
    opm_attr clip = {.name = "clip", .type = OPM_FLOAT, .f = -1.0f};
    assert_int_equal(run("RNN", 14, &clip, 1, in, 3, 1, res), -2);
    opm_attr act = str_attr("activations", "Tanh"); /* a string, not a list */
    assert_int_equal(run("RNN", 14, &act, 1, in, 3, 1, res), -2);
    const char *const two[2] = {"Tanh", "Relu"}, *const odd[1] = {"Swish"};
    act = (opm_attr){.name = "activations", .type = OPM_STRINGS, .strings = two, .n = 2};
    assert_int_equal(run("RNN", 14, &act, 1, in, 3, 1, res), -2); /* 2 for one direction */
    act.strings = odd;
    act.n = 1;
    assert_int_equal(run("RNN", 14, &act, 1, in, 3, 1, res), -3); /* unknown function */
    int32_t lens[2] = {3, 4};                                     /* 4 > seq 3 */
    in[4] = tens(I32, lens, 1, (int64_t[]){2});
    assert_int_equal(run("RNN", 14, NULL, 0, in, 5, 1, res), -2);
    assert_non_null(strstr(err, "sequence_lens"));
    lens[1] = -1;
    assert_int_equal(run("RNN", 14, NULL, 0, in, 5, 1, res), -2);
    in[4] = tens(I32, lens, 1, (int64_t[]){1}); /* one length for two rows */
    assert_int_equal(run("RNN", 14, NULL, 0, in, 5, 1, res), -2);
    float b[3] = {0};
    in[3] = tens(F32, b, 2, (int64_t[]){1, 3}); /* B needs 2 * 4 */
    assert_int_equal(run("RNN", 14, NULL, 0, in, 4, 1, res), -2);
    in[0] = tens(F32, x, 2, (int64_t[]){6, 2}); /* X rank 2 */
    assert_int_equal(run("RNN", 14, NULL, 0, in, 3, 1, res), -2);
    double xd[12] = {0};
    in[0] = tens(F64, xd, 3, (int64_t[]){3, 2, 2});
    assert_int_equal(run("RNN", 14, NULL, 0, in, 3, 1, res), -3);
    in[0] = tens(F32, x, 3, (int64_t[]){3, 2, 2});
    assert_int_equal(run("LSTM", 6, NULL, 0, in, 3, 1, res), -3); /* LSTM-1 not implemented */
}

/* QuantizeLinear rounds half to even and saturates; per-axis scales from opset 13 only;
 * DequantizeLinear inverts it. */
static void test_quantize_linear(void **state)
{
    (void)state;
    float x[6] = {0.5f, 1.5f, 2.5f, -300.0f, 300.0f, -1.5f}, scale = 1.0f;
    int8_t zp = 0;
    uint8_t uzp = 10;
    opm_tensor in[3] = {tens(F32, x, 1, (int64_t[]){6}), tens(F32, &scale, 0, NULL),
                        tens(I8, &zp, 0, NULL)};
    opm_result r;
    assert_int_equal(run("QuantizeLinear", 13, NULL, 0, in, 3, 1, &r), 0);
    assert_int_equal(r.dtype, I8);
    int8_t want[6] = {0, 2, 2, -128, 127, -2};
    assert_memory_equal(r.data, want, sizeof want);
    opm_result_free(&r, 1);
    in[2] = tens(U8, &uzp, 1, (int64_t[]){1});
    assert_int_equal(run("QuantizeLinear", 10, NULL, 0, in, 3, 1, &r), 0);
    uint8_t want_u[6] = {10, 12, 12, 0, 255, 8};
    assert_memory_equal(r.data, want_u, sizeof want_u);
    opm_result_free(&r, 1);
    assert_int_equal(run("QuantizeLinear", 10, NULL, 0, in, 2, 1, &r), 0); /* no zp: uint8, 0 */
    assert_int_equal(r.dtype, U8);
    opm_result_free(&r, 1);
    /* per-axis: x (2, 3) with axis 1 needs 3 scales; opset 10 takes one value only */
    float scales[3] = {1, 2, 4};
    uint8_t zps[3] = {0, 1, 2};
    in[0] = tens(F32, x, 2, (int64_t[]){2, 3});
    in[1] = tens(F32, scales, 1, (int64_t[]){3});
    in[2] = tens(U8, zps, 1, (int64_t[]){3});
    assert_int_equal(run("QuantizeLinear", 10, NULL, 0, in, 3, 1, &r), -2);
    assert_int_equal(run("QuantizeLinear", 13, NULL, 0, in, 3, 1, &r), 0);
    uint8_t want_ax[6] = {0, 2, 3, 0, 151, 2}; /* 0.5/1, 1.5/2=.75->1, 2.5/4=.625->1 ... */
    assert_memory_equal(r.data, want_ax, sizeof want_ax);
    opm_result_free(&r, 1);
    opm_attr ax0 = {.name = "axis", .type = OPM_INT, .i = 0}; /* dim 0 is 2, not 3 */
    assert_int_equal(run("QuantizeLinear", 13, &ax0, 1, in, 3, 1, &r), -2);
    ax0.i = 5;
    assert_int_equal(run("QuantizeLinear", 13, &ax0, 1, in, 3, 1, &r), -2);
    in[2] = tens(U8, zps, 1, (int64_t[]){2}); /* zero points and scales disagree */
    assert_int_equal(run("QuantizeLinear", 13, NULL, 0, in, 3, 1, &r), -2);
    in[2] = tens(I64, zps, 0, NULL); /* not an 8-bit type */
    assert_int_equal(run("QuantizeLinear", 13, NULL, 0, in, 3, 1, &r), -2);
    double xd[1] = {1};
    in[0] = tens(F64, xd, 1, (int64_t[]){1});
    assert_int_equal(run("QuantizeLinear", 13, NULL, 0, in, 2, 1, &r), -3);

    /* dequantize: (q - zp) * scale, per axis */
    uint8_t q[6] = {0, 1, 2, 255, 3, 4};
    opm_tensor din[3] = {tens(U8, q, 2, (int64_t[]){2, 3}), tens(F32, scales, 1, (int64_t[]){3}),
                         tens(U8, zps, 1, (int64_t[]){3})};
    assert_int_equal(run("DequantizeLinear", 13, NULL, 0, din, 3, 1, &r), 0);
    float want_d[6] = {0, 0, 0, 255, 4, 8};
    assert_memory_equal(r.data, want_d, sizeof want_d);
    opm_result_free(&r, 1);
    int8_t zp8 = 0;
    din[2] = tens(I8, &zp8, 0, NULL); /* zero point type must be x's */
    assert_int_equal(run("DequantizeLinear", 13, NULL, 0, din, 3, 1, &r), -2);
}

/* DynamicQuantizeLinear: the range always includes 0; all zeros gives scale 0, zp 0. */
static void test_dynamic_quantize(void **state)
{
    (void)state;
    float zeros[3] = {0, 0, 0}, x[2] = {-1.0f, 3.0f};
    opm_tensor in[1] = {tens(F32, zeros, 1, (int64_t[]){3})};
    opm_result r[3];
    assert_int_equal(run("DynamicQuantizeLinear", 11, NULL, 0, in, 1, 3, r), 0);
    assert_true(*(float *)r[1].data == 0.0f && *(uint8_t *)r[2].data == 0);
    opm_result_free(r, 3);
    in[0] = tens(F32, x, 1, (int64_t[]){2});
    assert_int_equal(run("DynamicQuantizeLinear", 11, NULL, 0, in, 1, 3, r), 0);
    float sc = 4.0f / 255.0f;
    assert_true(*(float *)r[1].data == sc);
    assert_int_equal(*(uint8_t *)r[2].data, 64); /* round(1 / (4/255)) = round(63.75) */
    uint8_t want[2] = {0, 255};
    assert_memory_equal(r[0].data, want, sizeof want);
    opm_result_free(r, 3);
    float bad[1] = {NAN};
    in[0] = tens(F32, bad, 1, (int64_t[]){1});
    assert_int_equal(run("DynamicQuantizeLinear", 11, NULL, 0, in, 1, 3, r), -2);
}

/* MatMulInteger: batch broadcasting, per-row / per-column zero points, 1-D operands. */
static void test_matmul_integer(void **state)
{
    (void)state;
    uint8_t a[4] = {1, 2, 3, 4};            /* [2][2] */
    int8_t b[8] = {1, 0, 0, 1, 2, 0, 0, 2}; /* [2 batch][2][2] */
    uint8_t azp[2] = {1, 0};
    int8_t bzp = 0;
    opm_tensor in[4] = {tens(U8, a, 2, (int64_t[]){2, 2}), tens(I8, b, 3, (int64_t[]){2, 2, 2}),
                        tens(U8, azp, 1, (int64_t[]){2}), tens(I8, &bzp, 0, NULL)};
    opm_result r;
    assert_int_equal(run("MatMulInteger", 10, NULL, 0, in, 4, 1, &r), 0);
    assert_int_equal(r.dtype, INFERD_DTYPE_INT32);
    assert_int_equal(r.ndim, 3);
    int32_t want[8] = {0, 1, 3, 4, 0, 2, 6, 8}; /* a - azp per row = {0,1},{3,4} */
    assert_memory_equal(r.data, want, sizeof want);
    opm_result_free(&r, 1);
    in[0] = tens(U8, a, 1, (int64_t[]){2}); /* a 1-D: [2] x [2][2][2] -> [2][2] */
    assert_int_equal(run("MatMulInteger", 10, NULL, 0, in, 2, 1, &r), 0);
    assert_int_equal(r.ndim, 2);
    int32_t want_v[4] = {1, 2, 2, 4};
    assert_memory_equal(r.data, want_v, sizeof want_v);
    opm_result_free(&r, 1);
    assert_int_equal(run("MatMulInteger", 10, NULL, 0, in, 3, 1, &r),
                     -2);                      /* per-row zp of a vector */
    in[0] = tens(U8, a, 2, (int64_t[]){1, 4}); /* K 4 vs 2 */
    assert_int_equal(run("MatMulInteger", 10, NULL, 0, in, 2, 1, &r), -2);
    float f[4] = {0};
    in[0] = tens(F32, f, 2, (int64_t[]){2, 2});
    assert_int_equal(run("MatMulInteger", 10, NULL, 0, in, 2, 1, &r), -3);
}

/* ConvInteger with a per-channel weight zero point; QLinearConv requantizes with a bias. */
static void test_conv_integer(void **state)
{
    (void)state;
    uint8_t x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; /* [1][1][3][3] */
    uint8_t w[8] = {1, 1, 1, 1, 2, 2, 2, 2};    /* [2][1][2][2] */
    uint8_t xzp = 1, wzp[2] = {0, 1};
    opm_tensor in[4] = {tens(U8, x, 4, (int64_t[]){1, 1, 3, 3}),
                        tens(U8, w, 4, (int64_t[]){2, 1, 2, 2}), tens(U8, &xzp, 0, NULL),
                        tens(U8, wzp, 1, (int64_t[]){2})};
    opm_result r;
    assert_int_equal(run("ConvInteger", 10, NULL, 0, in, 4, 1, &r), 0);
    /* x - 1 windows sum: {0+1+3+4, 1+2+4+5, 3+4+6+7, 4+5+7+8} = {8, 12, 20, 24}; w - zp = 1 */
    int32_t want[8] = {8, 12, 20, 24, 8, 12, 20, 24};
    assert_memory_equal(r.data, want, sizeof want);
    opm_result_free(&r, 1);
    in[3] = tens(U8, wzp, 1, (int64_t[]){3}); /* 3 zero points for 2 channels */
    assert_int_equal(run("ConvInteger", 10, NULL, 0, in, 4, 1, &r), -2);
    in[3] = tens(U8, wzp, 1, (int64_t[]){2});
    opm_attr grp = {.name = "group", .type = OPM_INT, .i = 2}; /* 1 input channel */
    assert_int_equal(run("ConvInteger", 10, &grp, 1, in, 4, 1, &r), -2);

    float xs = 0.5f, ws[2] = {1.0f, 0.25f}, ys = 2.0f;
    uint8_t yzp = 100;
    int32_t bias[2] = {4, -8};
    opm_tensor q[9] = {in[0],
                       tens(F32, &xs, 0, NULL),
                       in[2],
                       in[1],
                       tens(F32, ws, 1, (int64_t[]){2}),
                       in[3],
                       tens(F32, &ys, 0, NULL),
                       tens(U8, &yzp, 0, NULL),
                       tens(INFERD_DTYPE_INT32, bias, 1, (int64_t[]){2})};
    assert_int_equal(run("QLinearConv", 10, NULL, 0, q, 9, 1, &r), 0);
    /* (acc + b) * 0.5 * ws / 2 + 100: channel 0 (12, 16, 24, 28) / 4; channel 1 (0, 4, 12, 16) / 16 */
    uint8_t want_q[8] = {103, 104, 106, 107, 100, 100, 101, 101};
    assert_memory_equal(r.data, want_q, sizeof want_q);
    opm_result_free(&r, 1);
    q[8] = tens(INFERD_DTYPE_INT32, bias, 1, (int64_t[]){1});
    assert_int_equal(run("QLinearConv", 10, NULL, 0, q, 9, 1, &r), -2);
    assert_int_equal(run("QLinearConv", 10, NULL, 0, q, 7, 1, &r), -2); /* y_zero_point missing */
}

/* NonMaxSuppression: score order with index tie-break, IoU suppression, the per-class cap,
 * and malformed shapes or parameters. */
static void test_nms(void **state)
{
    (void)state;
    /* three boxes: 0 and 1 overlap (IoU 0.81), 2 is apart; equal scores for 1 and 2 */
    float boxes[12] = {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 5, 5, 6, 6};
    float scores[3] = {0.9f, 0.8f, 0.8f};
    int64_t max_out = 10;
    float iou = 0.5f, thr = 0.85f;
    opm_tensor in[5] = {tens(F32, boxes, 3, (int64_t[]){1, 3, 4}),
                        tens(F32, scores, 3, (int64_t[]){1, 1, 3}),
                        tens(I64, &max_out, 1, (int64_t[]){1}), tens(F32, &iou, 1, (int64_t[]){1}),
                        tens(F32, &thr, 1, (int64_t[]){1})};
    opm_result r;
    assert_int_equal(run("NonMaxSuppression", 11, NULL, 0, in, 4, 1, &r), 0);
    assert_int_equal(r.dims[0], 2);
    int64_t want[6] = {0, 0, 0, 0, 0, 2};
    assert_memory_equal(r.data, want, sizeof want);
    opm_result_free(&r, 1);
    assert_int_equal(run("NonMaxSuppression", 11, NULL, 0, in, 5, 1, &r), 0); /* score > 0.85 */
    assert_int_equal(r.dims[0], 1);
    opm_result_free(&r, 1);
    assert_int_equal(run("NonMaxSuppression", 11, NULL, 0, in, 2, 1, &r), 0); /* max 0: none */
    assert_int_equal(r.dims[0], 0);
    opm_result_free(&r, 1);
    iou = 1.5f;
    assert_int_equal(run("NonMaxSuppression", 11, NULL, 0, in, 4, 1, &r), -2);
    iou = 0.5f;
    opm_attr cpb = int_attr("center_point_box", 2);
    assert_int_equal(run("NonMaxSuppression", 11, &cpb, 1, in, 4, 1, &r), -2);
    in[1] = tens(F32, scores, 3, (int64_t[]){1, 1, 2}); /* 2 scores for 3 boxes */
    assert_int_equal(run("NonMaxSuppression", 11, NULL, 0, in, 4, 1, &r), -2);
    in[1] = tens(F32, scores, 3, (int64_t[]){1, 1, 3});
    in[0] = tens(F32, boxes, 3, (int64_t[]){1, 4, 3}); /* not 4 coordinates */
    assert_int_equal(run("NonMaxSuppression", 11, NULL, 0, in, 4, 1, &r), -2);
    in[0] = tens(F32, boxes, 3, (int64_t[]){1, 3, 4});
    in[2] = tens(F32, &iou, 1, (int64_t[]){1}); /* max_output must be int64 */
    assert_int_equal(run("NonMaxSuppression", 11, NULL, 0, in, 4, 1, &r), -2);
}

static void test_grid_sample_bad_inputs(void **state)
{
    (void)state;
    float x[4] = {1, 2, 3, 4}, grid[2] = {NAN, 0.0f};
    opm_tensor in[2] = {tens(F32, x, 4, (int64_t[]){1, 1, 2, 2}),
                        tens(F32, grid, 4, (int64_t[]){1, 1, 1, 2})};
    opm_result r;
    assert_int_equal(run("GridSample", 16, NULL, 0, in, 2, 1, &r), 0); /* NaN location reads 0 */
    assert_true(((float *)r.data)[0] == 0.0f);
    opm_result_free(&r, 1);
    opm_attr mode = str_attr("mode", "area");
    assert_int_equal(run("GridSample", 16, &mode, 1, in, 2, 1, &r), -2);
    mode = str_attr("padding_mode", "wrap");
    assert_int_equal(run("GridSample", 16, &mode, 1, in, 2, 1, &r), -2);
    in[1] = tens(F32, grid, 4, (int64_t[]){1, 1, 2, 1}); /* last dim must be 2 */
    assert_int_equal(run("GridSample", 16, NULL, 0, in, 2, 1, &r), -2);
    in[1] = tens(F32, grid, 4, (int64_t[]){2, 1, 1, 1}); /* batch differs */
    assert_int_equal(run("GridSample", 16, NULL, 0, in, 2, 1, &r), -2);
    assert_int_equal(run("GridSample", 15, NULL, 0, in, 2, 1, &r), -3); /* not before 16 */
}

/* Det of a permutation-needing matrix and of a singular one; MaxUnpool placement and bounds;
 * RoiAlign on a constant image. */
static void test_det_unpool_roialign(void **state)
{
    (void)state;
    double m[8] = {0, 2, 3, 1, /* det -6 (needs a row swap) */ 1, 2, 2, 4 /* singular */};
    opm_tensor in[3] = {tens(F64, m, 3, (int64_t[]){2, 2, 2})};
    opm_result r;
    assert_int_equal(run("Det", 11, NULL, 0, in, 1, 1, &r), 0);
    assert_int_equal(r.ndim, 1);
    assert_true(fabs(((double *)r.data)[0] + 6) < 1e-12 && ((double *)r.data)[1] == 0);
    opm_result_free(&r, 1);
    in[0] = tens(F64, m, 2, (int64_t[]){2, 4});
    assert_int_equal(run("Det", 11, NULL, 0, in, 1, 1, &r), -2);

    float x[2] = {7, 9};
    int64_t idx[2] = {3, 0};
    const int64_t k2[1] = {2};
    opm_attr ks = {.name = "kernel_shape", .type = OPM_INTS, .ints = k2, .n = 1};
    opm_attr st = {.name = "strides", .type = OPM_INTS, .ints = k2, .n = 1};
    opm_attr pa[2] = {ks, st};
    in[0] = tens(F32, x, 3, (int64_t[]){1, 1, 2});
    in[1] = tens(I64, idx, 3, (int64_t[]){1, 1, 2});
    assert_int_equal(run("MaxUnpool", 11, pa, 2, in, 2, 1, &r), 0);
    float want[4] = {9, 0, 0, 7};
    assert_memory_equal(r.data, want, sizeof want);
    opm_result_free(&r, 1);
    idx[0] = 4; /* outside the 4 outputs */
    assert_int_equal(run("MaxUnpool", 11, pa, 2, in, 2, 1, &r), -2);
    idx[0] = 3;
    assert_int_equal(run("MaxUnpool", 11, &st, 1, in, 2, 1, &r), -2); /* no kernel_shape */
    int64_t oshape[3] = {1, 1, 3}; /* smaller than the unpooled 4: index 3 does not fit */
    in[2] = tens(I64, oshape, 1, (int64_t[]){3});
    assert_int_equal(run("MaxUnpool", 11, pa, 2, in, 3, 1, &r), -2);

    float img[16];
    for (int i = 0; i < 16; i++) img[i] = 2.5f;
    float rois[8] = {0, 0, 3, 3, 1, 1, 2, 2};
    int64_t bidx[2] = {0, 0};
    opm_tensor ri[3] = {tens(F32, img, 4, (int64_t[]){1, 1, 4, 4}),
                        tens(F32, rois, 2, (int64_t[]){2, 4}), tens(I64, bidx, 1, (int64_t[]){2})};
    opm_attr oh = int_attr("output_height", 2);
    assert_int_equal(run("RoiAlign", 16, &oh, 1, ri, 3, 1, &r), 0);
    assert_int_equal(r.dims[0], 2);
    assert_int_equal(r.dims[2], 2);
    for (int i = 0; i < 4; i++) assert_true(fabsf(((float *)r.data)[i] - 2.5f) < 1e-6f);
    opm_result_free(&r, 1);
    bidx[1] = 1; /* one image only */
    assert_int_equal(run("RoiAlign", 16, &oh, 1, ri, 3, 1, &r), -2);
    bidx[1] = 0;
    opm_attr mode = str_attr("mode", "max");
    assert_int_equal(run("RoiAlign", 16, &mode, 1, ri, 3, 1, &r), -3);
    rois[0] = NAN;
    assert_int_equal(run("RoiAlign", 16, NULL, 0, ri, 3, 1, &r), -2);
}

/* BatchNormalization's training mode as each opset spells it: is_test=0 (the default) before
 * 7, declared statistics outputs in 7..13, training_mode from 14. Training normalizes with
 * the batch's own statistics: x = {1, 3} per channel gives {-1, 1} (eps 0). */
static void test_batchnorm_modes(void **state)
{
    (void)state;
    float x[2] = {1, 3}, one = 1, zero = 0, mean = 10, var = 4;
    opm_tensor in[5] = {tens(F32, x, 3, (int64_t[]){2, 1, 1}), tens(F32, &one, 1, (int64_t[]){1}),
                        tens(F32, &zero, 1, (int64_t[]){1}), tens(F32, &mean, 1, (int64_t[]){1}),
                        tens(F32, &var, 1, (int64_t[]){1})};
    opm_attr a[2] = {{.name = "epsilon", .type = OPM_FLOAT, .f = 0.0f}, int_attr("is_test", 1)};
    opm_result r[3];
    const float want_infer[2] = {-4.5f, -3.5f}, want_train[2] = {-1, 1};
    assert_int_equal(run("BatchNormalization", 6, a, 2, in, 5, 1, r), 0); /* is_test=1 */
    assert_memory_equal(r[0].data, want_infer, sizeof want_infer);
    opm_result_free(r, 1);
    assert_int_equal(run("BatchNormalization", 6, a, 1, in, 5, 1, r), 0); /* default: training */
    assert_memory_equal(r[0].data, want_train, sizeof want_train);
    opm_result_free(r, 1);
    assert_int_equal(run("BatchNormalization", 9, a, 1, in, 5, 1, r), 0); /* Y only: inference */
    assert_memory_equal(r[0].data, want_infer, sizeof want_infer);
    opm_result_free(r, 1);
    assert_int_equal(run("BatchNormalization", 9, a, 1, in, 5, 3, r),
                     0); /* Y, mean, var: training */
    assert_memory_equal(r[0].data, want_train, sizeof want_train);
    /* running mean = 10 * 0.9 + 2 * 0.1 */
    assert_true(fabsf(((float *)r[1].data)[0] - 9.2f) < 1e-5f);
    opm_result_free(r, 3);
    opm_result r5[5];
    memset(r5, 0, sizeof r5);
    err[0] = 0; /* saved_mean / saved_var are not produced */
    assert_int_equal(opm_run("BatchNormalization", 9, a, 1, in, 5, 5, r5, err, sizeof err), -3);
    a[1] = int_attr("training_mode", 1);
    assert_int_equal(run("BatchNormalization", 15, a, 2, in, 5, 1, r), 0);
    assert_memory_equal(r[0].data, want_train, sizeof want_train);
    opm_result_free(r, 1);
}

static void test_lp_norm_and_roi_pool_bad_inputs(void **state)
{
    (void)state;
    float x[4] = {3, 4, 0, 0};
    opm_tensor in[2] = {tens(F32, x, 2, (int64_t[]){2, 2})};
    opm_result r;
    assert_int_equal(run("LpNormalization", 13, NULL, 0, in, 1, 1, &r), 0);
    float want[4] = {0.6f, 0.8f, 0, 0}; /* the zero row stays zero */
    assert_memory_equal(r.data, want, sizeof want);
    opm_result_free(&r, 1);
    opm_attr p3 = int_attr("p", 3);
    assert_int_equal(run("LpNormalization", 13, &p3, 1, in, 1, 1, &r), -2);
    opm_attr ax = int_attr("axis", 2);
    assert_int_equal(run("LpNormalization", 13, &ax, 1, in, 1, 1, &r), -2);

    float img[4] = {1, 2, 3, 4};
    float rois[5] = {0, 0, 0, 1, 1};
    const int64_t ps[2] = {1, 1}, bad_ps[2] = {0, 1};
    opm_attr pool = {.name = "pooled_shape", .type = OPM_INTS, .ints = ps, .n = 2};
    opm_tensor ri[2] = {tens(F32, img, 4, (int64_t[]){1, 1, 2, 2}),
                        tens(F32, rois, 2, (int64_t[]){1, 5})};
    assert_int_equal(run("MaxRoiPool", 13, &pool, 1, ri, 2, 1, &r), 0);
    assert_true(((float *)r.data)[0] == 4.0f);
    opm_result_free(&r, 1);
    assert_int_equal(run("MaxRoiPool", 13, NULL, 0, ri, 2, 1, &r), -2); /* pooled_shape required */
    pool.ints = bad_ps;
    assert_int_equal(run("MaxRoiPool", 13, &pool, 1, ri, 2, 1, &r), -2);
    pool.ints = ps;
    rois[0] = 1; /* one image only */
    assert_int_equal(run("MaxRoiPool", 13, &pool, 1, ri, 2, 1, &r), -2);
    rois[0] = 0.5f; /* not an index */
    assert_int_equal(run("MaxRoiPool", 13, &pool, 1, ri, 2, 1, &r), -2);
    rois[0] = 0;
    rois[3] = INFINITY;
    assert_int_equal(run("MaxRoiPool", 13, &pool, 1, ri, 2, 1, &r), -2);
}

/* A valid model whose element type an nn operator does not implement is unsupported
 * (ONNX_E_UNSUPPORTED), not invalid. */
static void test_unimplemented_types_are_unsupported(void **state)
{
    (void)state;
    double x[4] = {0}, w[1] = {1};
    opm_tensor in[2] = {tens(F64, x, 4, (int64_t[]){1, 1, 2, 2}),
                        tens(F64, w, 4, (int64_t[]){1, 1, 1, 1})};
    opm_result r;
    assert_int_equal(run("Conv", 13, NULL, 0, in, 2, 1, &r), -3);
    assert_int_equal(run("ConvTranspose", 13, NULL, 0, in, 2, 1, &r), -3);
    assert_int_equal(run("GlobalAveragePool", 13, NULL, 0, in, 1, 1, &r), -3);
    assert_int_equal(run("Softmax", 13, NULL, 0, in, 1, 1, &r), -3);
    assert_int_equal(run("LRN", 13, (opm_attr[]){int_attr("size", 1)}, 1, in, 1, 1, &r), -3);
    int32_t xi[4] = {0};
    in[0] = tens(I32, xi, 2, (int64_t[]){2, 2});
    in[1] = tens(I32, xi, 2, (int64_t[]){2, 2});
    assert_int_equal(run("Gemm", 13, NULL, 0, in, 2, 1, &r), -3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nll_loss_values),
        cmocka_unit_test(test_nll_loss_bad_inputs),
        cmocka_unit_test(test_softmax_cross_entropy),
        cmocka_unit_test(test_rnn_values),
        cmocka_unit_test(test_rnn_bad_inputs),
        cmocka_unit_test(test_quantize_linear),
        cmocka_unit_test(test_dynamic_quantize),
        cmocka_unit_test(test_matmul_integer),
        cmocka_unit_test(test_conv_integer),
        cmocka_unit_test(test_nms),
        cmocka_unit_test(test_grid_sample_bad_inputs),
        cmocka_unit_test(test_det_unpool_roialign),
        cmocka_unit_test(test_batchnorm_modes),
        cmocka_unit_test(test_lp_norm_and_roi_pool_bad_inputs),
        cmocka_unit_test(test_unimplemented_types_are_unsupported),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
