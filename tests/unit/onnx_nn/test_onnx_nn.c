/* nn operators through the public runtime API: Conv and MatMul against naive references over
 * the fast paths (depthwise phase planes incl. stride 2 and wide rows, 1x1, grouped im2col, images sharing a GEMM,
 * batched broadcast), and bad shapes and attributes that must come back as errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn_test_model.h"

static uint32_t rng_state = 12345u;

static float rnd(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)((rng_state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static void fill(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = rnd();
}

typedef struct conv_case {
    int64_t n, c, h, w, m, group, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
} conv_case;

static void conv_ref(const conv_case *k, const float *x, const float *w, const float *b, float *y,
                     int64_t oh, int64_t ow)
{
    int64_t cg = k->c / k->group, mg = k->m / k->group;
    for (int64_t n = 0; n < k->n; n++)
        for (int64_t m = 0; m < k->m; m++)
            for (int64_t r = 0; r < oh; r++)
                for (int64_t q = 0; q < ow; q++) {
                    double acc = b[m];
                    int64_t g = m / mg;
                    for (int64_t c = 0; c < cg; c++)
                        for (int64_t i = 0; i < k->kh; i++)
                            for (int64_t j = 0; j < k->kw; j++) {
                                int64_t ih = r * k->sh - k->pt + i * k->dh,
                                        iw = q * k->sw - k->pl + j * k->dw;
                                if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w) continue;
                                acc +=
                                    (double)x[((n * k->c + g * cg + c) * k->h + ih) * k->w + iw] *
                                    w[((m * cg + c) * k->kh + i) * k->kw + j];
                            }
                    y[((n * k->m + m) * oh + r) * ow + q] = (float)acc;
                }
}

/* Options of check_conv_opts: a fused residual (input 3, inferd_residual) and Relu
 * (inferd_activation) as fuse.c writes them, and weights fed at run instead of stored (no
 * prepare-time packing). */
typedef struct conv_opts {
    int residual, relu, weights_at_run; /* relu: 1 Relu, 2 Clip to [-0.5, 0.7], 3 Sigmoid */
} conv_opts;

/* Extra tolerance as a fraction of the convolution's largest magnitude (before the residual
 * and the activation): F(4x4, 3x3) Winograd rounds its transformed values, up to ~10x the
 * inputs, so its error scales with the whole output's size (measured up to 1.1e-5 of it), not
 * with each element's. 0 for the exact paths. */
static float conv_tol_of_max;

static void check_conv_opts(const conv_case *k, const conv_opts *o)
{
    int64_t oh = (k->h + k->pt + k->pb - ((k->kh - 1) * k->dh + 1)) / k->sh + 1;
    int64_t ow = (k->w + k->pl + k->pr - ((k->kw - 1) * k->dw + 1)) / k->sw + 1;
    size_t nx = (size_t)(k->n * k->c * k->h * k->w);
    size_t nw = (size_t)(k->m * (k->c / k->group) * k->kh * k->kw);
    size_t ny = (size_t)(k->n * k->m * oh * ow);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w);
    float *b = malloc((size_t)k->m * sizeof *b);
    float *want = malloc(ny * sizeof *want), *got = malloc(ny * sizeof *got);
    float *res = malloc(ny * sizeof *res);
    assert_non_null(res);
    assert_non_null(x);
    assert_non_null(w);
    assert_non_null(b);
    assert_non_null(want);
    assert_non_null(got);
    fill(x, nx);
    fill(w, nw);
    fill(b, (size_t)k->m);
    fill(res, ny);
    conv_ref(k, x, w, b, want, oh, ow);
    float want_max = 0; /* of the convolution, before the residual and the activation */
    for (size_t i = 0; i < ny; i++) want_max = fmaxf(want_max, fabsf(want[i]));
    for (size_t i = 0; i < ny; i++) {
        if (o->residual) want[i] += res[i];
        if (o->relu == 1 && !(want[i] > 0)) want[i] = 0;
        if (o->relu == 2) want[i] = want[i] < -0.5f ? -0.5f : want[i] > 0.7f ? 0.7f : want[i];
        if (o->relu == 3) want[i] = 1.0f / (1.0f + expf(-want[i]));
    }
    nn_test_tensor in[4] = {
        {"x", 4, {k->n, k->c, k->h, k->w}, x, 0},
        {"w", 4, {k->m, k->c / k->group, k->kh, k->kw}, w, !o->weights_at_run},
        {"b", 1, {k->m}, b, 1},
        {"r", 4, {k->n, k->m, oh, ow}, res, 0},
    };
    int64_t strides[2] = {k->sh, k->sw}, dil[2] = {k->dh, k->dw};
    int64_t pads[4] = {k->pt, k->pl, k->pb, k->pr};
    nn_test_attr at[8] = {
        {"strides", NN_ATTR_INTS, 0, 0, strides, 2, NULL},
        {"dilations", NN_ATTR_INTS, 0, 0, dil, 2, NULL},
        {"pads", NN_ATTR_INTS, 0, 0, pads, 4, NULL},
        {"group", NN_ATTR_INT, k->group, 0, NULL, 0, NULL},
    };
    int n_at = 4;
    if (o->residual)
        at[n_at++] = (nn_test_attr){"inferd_residual", NN_ATTR_INT, 1, 0, NULL, 0, NULL};
    static const char *const acts[] = {NULL, "Relu", "Clip", "Sigmoid"};
    if (o->relu)
        at[n_at++] =
            (nn_test_attr){"inferd_activation", NN_ATTR_STRING, 0, 0, NULL, 0, acts[o->relu]};
    if (o->relu == 2) {
        at[n_at++] = (nn_test_attr){"inferd_alpha", NN_ATTR_FLOAT, 0, -0.5f, NULL, 0, NULL};
        at[n_at++] = (nn_test_attr){"inferd_beta", NN_ATTR_FLOAT, 0, 0.7f, NULL, 0, NULL};
    }
    nn_test_node node = {"Conv", 13, in, o->residual ? 4 : 3, at, n_at, 1};
    char err[256] = "";
    size_t n = 0;
    int64_t dims[8];
    int ndim = 0;
    int rc = nn_test_run(&node, got, ny, &n, dims, &ndim, err, sizeof err);
    if (rc != 0) fail_msg("Conv failed: %s", err);
    assert_int_equal(n, ny);
    assert_int_equal(ndim, 4);
    assert_int_equal(dims[2], oh);
    assert_int_equal(dims[3], ow);
    const float tol_abs = 1e-4f + conv_tol_of_max * want_max;
    for (size_t i = 0; i < ny; i++)
        if (fabsf(got[i] - want[i]) > tol_abs + 1e-4f * fabsf(want[i]))
            fail_msg("element %zu: got %g, want %g", i, got[i], want[i]);
    free(x);
    free(w);
    free(b);
    free(want);
    free(got);
    free(res);
}

static void check_conv(const conv_case *k)
{
    const conv_opts plain = {0, 0, 0};
    check_conv_opts(k, &plain);
}

static void test_conv_paths_match_reference(void **state)
{
    (void)state;
    static const conv_case cases[] = {
        /* n  c  h   w   m  grp kh kw sh sw dh dw pt pl pb pr */
        {2, 8, 13, 17, 8, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},    /* depthwise s2, split rows */
        {1, 8, 14, 14, 16, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},   /* depthwise, multiplier 2 */
        {1, 6, 7, 10, 6, 6, 3, 3, 1, 1, 1, 1, 0, 2, 1, 0},     /* depthwise, uneven pads */
        {1, 4, 11, 12, 4, 4, 3, 3, 3, 2, 2, 2, 1, 1, 1, 1},    /* depthwise, generic kernel */
        {2, 20, 7, 7, 20, 20, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},   /* depthwise 16-channel blocks */
        {1, 33, 13, 14, 33, 33, 5, 5, 2, 2, 1, 1, 2, 1, 2, 2}, /* the same, s2, 16+16+1 */
        {1, 33, 19, 23, 33, 33, 7, 7, 1, 1, 1, 1, 3, 3, 3, 3}, /* 7x7 blocks, wide plane */
        {2, 17, 21, 18, 17, 17, 7, 6, 2, 1, 1, 2, 2, 3, 4, 1}, /* the same, s2, d2, odd pads */
        {1, 4, 2, 3, 4, 4, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2},      /* depthwise, tiny input */
        {2, 4, 20, 40, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    /* depthwise, row by row */
        {1, 4, 33, 66, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},    /* depthwise s2, row by row */
        {1, 2, 9, 64, 2, 2, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0},     /* s2 gathers of 32 columns */
        {2, 2, 5, 32, 2, 2, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0},     /* s2 gathers of 16 columns */
        {1, 2, 7, 47, 2, 2, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0},     /* s2 gathers with a tail */
        {1, 3, 9, 9, 3, 3, 1, 17, 1, 1, 1, 1, 0, 8, 0, 8},     /* depthwise 1x17: im2col */
        {2, 16, 9, 9, 32, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    /* 1x1 stride 1: plain GEMM */
        {1, 16, 9, 9, 32, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    /* grouped 1x1 */
        {1, 16, 9, 9, 8, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},     /* 1x1 stride 2: im2col */
        {2, 8, 6, 7, 4, 1, 1, 1, 2, 2, 1, 1, 1, 0, 1, 2},      /* 1x1 stride 2, padded */
        {2, 4, 5, 5, 6, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},      /* 1x1 stride 1, padded */
        {1, 3, 224, 224, 4, 1, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},  /* stem: im2col in 16 row blocks */
        {3, 5, 10, 12, 7, 1, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0},    /* strided 3x3, shared GEMMs */
        {2, 6, 9, 8, 12, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     /* grouped 3x3 */
        {1, 3, 12, 9, 5, 1, 3, 2, 2, 1, 2, 1, 2, 0, 1, 3},     /* dilation, asymmetric pads */
        {5, 8, 14, 14, 12, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* images share GEMMs (3 + 2) */
        {2, 8, 40, 40, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    /* by taps, no im2col */
        {1, 8, 40, 40, 8, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    /* by taps, grouped */
        {1, 4, 70, 70, 6, 1, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},    /* by taps, dilation 2 */
        {1, 3, 33, 64, 5, 1, 3, 3, 1, 1, 1, 1, 0, 1, 2, 1},    /* by taps, uneven pads */
        {5, 16, 7, 7, 8, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},     /* shared GEMMs, 1x1 */
        {1, 5, 8, 10, 7, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0},     /* kernel = stride: patches */
        {2, 3, 9, 11, 5, 1, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0},     /* last row, col not read */
        {1, 4, 12, 10, 6, 1, 3, 2, 3, 2, 1, 1, 0, 0, 0, 0},    /* 3x2 patches */
        {3, 6, 12, 12, 4, 2, 4, 4, 4, 4, 1, 1, 0, 0, 0, 0},    /* grouped 4x4, shared GEMMs */
        {2, 4, 6, 6, 5, 1, 2, 2, 2, 2, 1, 1, 1, 0, 1, 0},      /* padded: phase planes */
        {1, 3, 20, 20, 4, 1, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0},    /* stride over kernel: gaps */
        {2, 130, 8, 8, 256, 1, 4, 4, 4, 4, 1, 1, 0, 0, 0, 0},  /* GEMM the other way round */
        {1, 3, 35, 9, 4, 1, 17, 2, 17, 2, 1, 1, 0, 0, 0, 0},   /* over 16: direct unfold */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_conv(&cases[i]);
    /* the patch cases (from index 30) with a residual and Relu / Clip at the GEMM's store,
     * and with W fed at run */
    static const conv_opts fused[] = {{1, 1, 0}, {1, 2, 1}};
    for (size_t i = 30; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t f = 0; f < sizeof fused / sizeof fused[0]; f++)
            check_conv_opts(&cases[i], &fused[f]);
}

/* Winograd F(2x2, 3x3) and, for planes its 4x4 tiles fit within 6/5 and kernels kept from load
 * (up to 128 x 256 channels), F(4x4, 3x3) (conv_winograd.c): 3x3 stride 1 with at least 16
 * channels each way and enough tiles; odd and even output sizes (partial tiles), every padding, batches whose tile
 * rows span images and blocks, with the fused residual and Relu, Clip or Sigmoid (the output
 * transform applies the first two in its store), weights transformed at load (up to 256 x 256
 * channels) and per run (weights fed at run, or larger kernels at a large enough batch). */
static void test_conv_winograd_matches_reference(void **state)
{
    (void)state;
    static const conv_case cases[] = {
        /* n  c   h   w   m  grp kh kw sh sw dh dw pt pl pb pr */
        {1, 16, 32, 32, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* even output, pads 1 */
        {1, 24, 29, 31, 20, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* odd output: partial tiles */
        {1, 16, 30, 27, 32, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},   /* no padding, odd width */
        {1, 17, 25, 40, 19, 1, 3, 3, 1, 1, 1, 1, 2, 0, 1, 3},   /* asymmetric pads */
        {3, 16, 13, 11, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* batch: tiles across images */
        {8, 160, 14, 14, 144, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* batch, wide channels */
    };
    const conv_opts opts[] = {{0, 0, 0}, {1, 0, 0}, {0, 1, 0}, {1, 1, 0},
                              {0, 2, 0}, {1, 2, 0}, {1, 3, 0}};
    conv_tol_of_max = 2e-5f;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < sizeof opts / sizeof opts[0]; j++)
            check_conv_opts(&cases[i], &opts[j]);
    /* ResNet's first stage at batch 2: images in blocks; per run with the weights fed at run */
    const conv_case stage1 = {2, 64, 56, 56, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    const conv_opts all = {1, 1, 0}, all_at_run = {1, 1, 1};
    check_conv_opts(&stage1, &all);
    check_conv_opts(&stage1, &all_at_run);
    /* 257 x 257 channels: too large to keep, transformed per run for 57 x 9 tiles */
    const conv_case wide = {57, 257, 6, 6, 257, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    check_conv_opts(&wide, &all);
    conv_tol_of_max = 0;
}

/* F(4x4, 3x3) where it is chosen (4x4 tiles computing at most 6/5 of the plane, weights kept
 * from load): ragged last tile rows and columns (27 -> 28, 55 -> 56), rows of one tile, a
 * 4-row output, uneven pads, every fused activation; then blocks whose tile rows span images
 * and blocks (8 images of 2 tile rows, 14 rows a block), and a 128 x 192 kernel. */
static void test_conv_winograd4_matches_reference(void **state)
{
    (void)state;
    static const conv_case cases[] = {
        /* n  c   h   w   m  grp kh kw sh sw dh dw pt pl pb pr */
        {1, 16, 27, 27, 24, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* 27x27: ragged by one */
        {1, 16, 55, 55, 32, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, /* SqueezeNet's Fire 2-3 */
        {8, 16, 6, 10, 16, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},  /* 4 x 8: one tile row */
        {1, 20, 14, 44, 18, 1, 3, 3, 1, 1, 1, 1, 0, 1, 0, 2}, /* 12 x 45, uneven pads */
    };
    const conv_opts opts[] = {{0, 0, 0}, {1, 1, 0}, {0, 2, 0}, {1, 3, 0}};
    conv_tol_of_max = 2e-5f;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (size_t j = 0; j < sizeof opts / sizeof opts[0]; j++)
            check_conv_opts(&cases[i], &opts[j]);
    const conv_opts all = {1, 1, 0};
    const conv_case blocks = {8, 16, 8, 496, 16, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    const conv_case wide = {1, 128, 16, 16, 192, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
    check_conv_opts(&blocks, &all);
    check_conv_opts(&wide, &all);
    conv_tol_of_max = 0;
}

static void test_matmul_broadcast_matches_reference(void **state)
{
    (void)state;
    /* A [2, 1, 4, 3] x B [5, 3, 6] -> [2, 5, 4, 6] */
    float a[2 * 4 * 3], b[5 * 3 * 6], got[2 * 5 * 4 * 6];
    fill(a, sizeof a / sizeof a[0]);
    fill(b, sizeof b / sizeof b[0]);
    nn_test_tensor in[2] = {{"a", 4, {2, 1, 4, 3}, a, 0}, {"b", 3, {5, 3, 6}, b, 0}};
    nn_test_node node = {"MatMul", 13, in, 2, NULL, 0, 1};
    char err[256] = "";
    size_t n = 0;
    int64_t dims[8];
    int ndim = 0;
    int rc = nn_test_run(&node, got, sizeof got / sizeof got[0], &n, dims, &ndim, err, sizeof err);
    if (rc != 0) fail_msg("MatMul failed: %s", err);
    assert_int_equal(ndim, 4);
    assert_int_equal(n, sizeof got / sizeof got[0]);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 5; j++)
            for (int r = 0; r < 4; r++)
                for (int c = 0; c < 6; c++) {
                    double acc = 0;
                    for (int k = 0; k < 3; k++)
                        acc += (double)a[(i * 4 + r) * 3 + k] * b[(j * 3 + k) * 6 + c];
                    assert_float_equal(got[((i * 5 + j) * 4 + r) * 6 + c], acc, 1e-4);
                }
}

/* Each case must fail cleanly in the operator itself (negative code, message naming it). */
static void expect_error(const char *what, const nn_test_node *node)
{
    float out[4096];
    char err[256] = "";
    size_t n = 0;
    int64_t dims[8];
    int ndim = 0;
    int rc = nn_test_run(node, out, 4096, &n, dims, &ndim, err, sizeof err);
    if (rc >= 0) fail_msg("%s: expected an error, got success", what);
    if (err[0] == '\0') fail_msg("%s: error without a message", what);
    if (!strstr(err, node->op_type)) fail_msg("%s: failed outside the operator: %s", what, err);
}

static float zeros[4096];

static void test_bad_inputs_are_errors(void **state)
{
    (void)state;
    static const int64_t two[2] = {1, 1}, three[3] = {1, 1, 1}, big[2] = {1LL << 40, 1};
    static const int64_t k3[2] = {3, 3}, k9[2] = {9, 9}, p4[4] = {3, 3, 3, 3};
    const nn_test_tensor x4 = {"x", 4, {1, 3, 5, 5}, zeros, 0};
    { /* W says 2 input channels, X has 3 */
        nn_test_tensor in[2] = {x4, {"w", 4, {4, 2, 3, 3}, zeros, 1}};
        nn_test_node nd = {"Conv", 13, in, 2, NULL, 0, 1};
        expect_error("conv channel mismatch", &nd);
    }
    { /* group does not divide */
        nn_test_tensor in[2] = {x4, {"w", 4, {4, 1, 3, 3}, zeros, 1}};
        nn_test_attr at[1] = {{"group", NN_ATTR_INT, 2, 0, NULL, 0, NULL}};
        nn_test_node nd = {"Conv", 13, in, 2, at, 1, 1};
        expect_error("conv bad group", &nd);
    }
    { /* hostile groups whose product with W's channels per group overflows int64: refused
         * at load when W is a constant, at run when it is an input (and never computed) */
        const nn_test_tensor x0 = {"x", 4, {1, 0, 5, 5}, zeros, 0};
        const nn_test_tensor x2 = {"x", 4, {1, 2, 5, 5}, zeros, 0};
        nn_test_attr huge[1] = {{"group", NN_ATTR_INT, INT64_C(1) << 62, 0, NULL, 0, NULL}};
        nn_test_attr two_groups[1] = {{"group", NN_ATTR_INT, 2, 0, NULL, 0, NULL}};
        for (int init = 0; init <= 1; init++) {
            nn_test_tensor in1[2] = {x0, {"w", 4, {0, 4, 3, 3}, zeros, init}};
            nn_test_node nd1 = {"Conv", 13, in1, 2, huge, 1, 1};
            expect_error(init ? "conv huge group, W constant" : "conv huge group, W input", &nd1);
            nn_test_tensor in2[2] = {x2, {"w", 4, {0, INT64_C(1) << 62, 1, 1}, zeros, init}};
            nn_test_node nd2 = {"Conv", 13, in2, 2, two_groups, 1, 1};
            expect_error(
                init ? "conv huge W channels, W constant" : "conv huge W channels, W input", &nd2);
        }
        nn_test_tensor in3[2] = {x0, {"w", 4, {0, 4, 3, 3}, zeros, 1}};
        nn_test_attr negative[1] = {{"group", NN_ATTR_INT, -4, 0, NULL, 0, NULL}};
        nn_test_node nd3 = {"Conv", 13, in3, 2, negative, 1, 1};
        expect_error("conv negative group", &nd3);
    }
    { /* pads with the wrong count, absurd strides, kernel_shape disagreeing with W */
        nn_test_tensor in[2] = {x4, {"w", 4, {4, 3, 3, 3}, zeros, 1}};
        nn_test_attr at1[1] = {{"pads", NN_ATTR_INTS, 0, 0, three, 3, NULL}};
        nn_test_node nd1 = {"Conv", 13, in, 2, at1, 1, 1};
        expect_error("conv pads count", &nd1);
        nn_test_attr at2[1] = {{"strides", NN_ATTR_INTS, 0, 0, big, 2, NULL}};
        nn_test_node nd2 = {"Conv", 13, in, 2, at2, 1, 1};
        expect_error("conv huge stride", &nd2);
        nn_test_attr at3[1] = {{"kernel_shape", NN_ATTR_INTS, 0, 0, two, 2, NULL}};
        nn_test_node nd3 = {"Conv", 13, in, 2, at3, 1, 1};
        expect_error("conv kernel_shape mismatch", &nd3);
        nn_test_attr at4[1] = {{"auto_pad", NN_ATTR_STRING, 0, 0, NULL, 0, "SAME_MIDDLE"}};
        nn_test_node nd4 = {"Conv", 13, in, 2, at4, 1, 1};
        expect_error("conv bad auto_pad", &nd4);
    }
    { /* kernel larger than the input */
        nn_test_tensor in[2] = {x4, {"w", 4, {4, 3, 9, 9}, zeros, 1}};
        nn_test_node nd = {"Conv", 13, in, 2, NULL, 0, 1};
        expect_error("conv kernel > input", &nd);
    }
    { /* rank-2 input */
        nn_test_tensor in[2] = {{"x", 2, {3, 5}, zeros, 0}, {"w", 2, {4, 3}, zeros, 1}};
        nn_test_node nd = {"Conv", 13, in, 2, NULL, 0, 1};
        expect_error("conv rank 2", &nd);
    }
    { /* pooling: missing kernel_shape, pads >= kernel, window > input */
        nn_test_tensor in[1] = {x4};
        nn_test_node nd1 = {"MaxPool", 13, in, 1, NULL, 0, 1};
        expect_error("maxpool no kernel", &nd1);
        nn_test_attr at2[2] = {{"kernel_shape", NN_ATTR_INTS, 0, 0, k3, 2, NULL},
                               {"pads", NN_ATTR_INTS, 0, 0, p4, 4, NULL}};
        nn_test_node nd2 = {"AveragePool", 13, in, 1, at2, 2, 1};
        expect_error("avgpool pads >= kernel", &nd2);
        nn_test_attr at3[1] = {{"kernel_shape", NN_ATTR_INTS, 0, 0, k9, 2, NULL}};
        nn_test_node nd3 = {"MaxPool", 13, in, 1, at3, 1, 1};
        expect_error("maxpool window > input", &nd3);
    }
    { /* matrix products */
        nn_test_tensor in1[2] = {{"a", 2, {2, 3}, zeros, 0}, {"b", 2, {4, 5}, zeros, 0}};
        nn_test_node nd1 = {"MatMul", 13, in1, 2, NULL, 0, 1};
        expect_error("matmul inner mismatch", &nd1);
        nn_test_tensor in2[2] = {{"a", 3, {2, 2, 3}, zeros, 0}, {"b", 3, {3, 3, 5}, zeros, 0}};
        nn_test_node nd2 = {"MatMul", 13, in2, 2, NULL, 0, 1};
        expect_error("matmul batch mismatch", &nd2);
        nn_test_tensor in3[3] = {
            {"a", 2, {2, 3}, zeros, 0}, {"b", 2, {3, 4}, zeros, 0}, {"c", 2, {3, 4}, zeros, 0}};
        nn_test_node nd3 = {"Gemm", 13, in3, 3, NULL, 0, 1};
        expect_error("gemm C shape", &nd3);
        nn_test_tensor in4[2] = {{"a", 3, {1, 2, 3}, zeros, 0}, {"b", 2, {3, 4}, zeros, 0}};
        nn_test_node nd4 = {"Gemm", 13, in4, 2, NULL, 0, 1};
        expect_error("gemm rank 3", &nd4);
    }
    { /* normalizations and softmax */
        nn_test_tensor in1[1] = {{"x", 2, {2, 3}, zeros, 0}};
        nn_test_attr at1[1] = {{"axis", NN_ATTR_INT, 5, 0, NULL, 0, NULL}};
        nn_test_node nd1 = {"Softmax", 13, in1, 1, at1, 1, 1};
        expect_error("softmax axis", &nd1);
        nn_test_tensor in2[2] = {{"x", 2, {2, 3}, zeros, 0}, {"s", 1, {4}, zeros, 1}};
        nn_test_node nd2 = {"LayerNormalization", 17, in2, 2, NULL, 0, 1};
        expect_error("layernorm scale", &nd2);
        nn_test_tensor in3[5] = {x4,
                                 {"s", 1, {3}, zeros, 1},
                                 {"b", 1, {3}, zeros, 1},
                                 {"m", 1, {2}, zeros, 1},
                                 {"v", 1, {3}, zeros, 1}};
        nn_test_node nd3 = {"BatchNormalization", 15, in3, 5, NULL, 0, 1};
        expect_error("batchnorm mean length", &nd3);
        nn_test_tensor in4[1] = {x4};
        nn_test_attr at4[1] = {{"size", NN_ATTR_INT, 0, 0, NULL, 0, NULL}};
        nn_test_node nd4 = {"LRN", 13, in4, 1, at4, 1, 1};
        expect_error("lrn size 0", &nd4);
    }
    { /* ConvTranspose: output_shape that cannot be produced */
        static const int64_t os[2] = {-5, 4};
        nn_test_tensor in[2] = {{"x", 4, {1, 1, 3, 3}, zeros, 0}, {"w", 4, {1, 2, 3, 3}, zeros, 1}};
        nn_test_attr at[1] = {{"output_shape", NN_ATTR_INTS, 0, 0, os, 2, NULL}};
        nn_test_node nd = {"ConvTranspose", 13, in, 2, at, 1, 1};
        expect_error("convtranspose output_shape", &nd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv_paths_match_reference),
        cmocka_unit_test(test_conv_winograd_matches_reference),
        cmocka_unit_test(test_conv_winograd4_matches_reference),
        cmocka_unit_test(test_matmul_broadcast_matches_reference),
        cmocka_unit_test(test_bad_inputs_are_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
