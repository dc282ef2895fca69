/* The signal operator family (opset 17): the window generators (Hann, Hamming, Blackman),
 * MelWeightMatrix, and the table that also lists DFT and STFT (signal_dft.c).
 *
 * Windows: w[k] = a0 - a1 cos(2 pi k / N) + a2 cos(4 pi k / N) for k < size, with N = size
 * (periodic, the default) or size - 1 (symmetric); Hamming's a0 is 25/46. The output type is
 * output_datatype (float32 by default). */
#include <math.h>
#include <string.h>

#include "../registry.h"
#include "signal_ops.h"
#include "tensor_util.h"

/* A scalar integer input (int32 or int64). */
static int int_scalar(onnx_ctx *ctx, int i, const char *what, int64_t *out)
{
    const onnx_tensor *t = onnx_ctx_input(ctx, i);
    if (!t) return onnx_ctx_fail(ctx, "missing input %s", what);
    if ((t->dtype != INFERD_DTYPE_INT32 && t->dtype != INFERD_DTYPE_INT64) ||
        onnx_tensor_numel(t) != 1)
        return onnx_ctx_fail(ctx, "%s must be one int32 or int64 value", what);
    *out = onnx_tensor_get_int(t, 0);
    return 0;
}

static int float_scalar(onnx_ctx *ctx, int i, const char *what, double *out)
{
    const onnx_tensor *t = onnx_ctx_input(ctx, i);
    if (!t) return onnx_ctx_fail(ctx, "missing input %s", what);
    if (onnx_tensor_numel(t) != 1 || inferd_dtype_size(t->dtype) == 0)
        return onnx_ctx_fail(ctx, "%s must be one number", what);
    *out = onnx_tu_load(t->data, t->dtype, 0);
    return 0;
}

/* The output type from output_datatype (a numeric type; float32 by default). */
static int out_type(onnx_ctx *ctx, inferd_dtype *t)
{
    int64_t v = onnx_attr_int(onnx_ctx_node(ctx), "output_datatype", INFERD_DTYPE_FP32);
    if (v != (int)v || !inferd_dtype_is_valid((int)v) || inferd_dtype_size((inferd_dtype)v) == 0 ||
        v == INFERD_DTYPE_BOOL)
        return onnx_ctx_unsupported(ctx, "output_datatype %lld not supported", (long long)v);
    *t = (inferd_dtype)v;
    return 0;
}

static int window_run(onnx_ctx *ctx, double a0, double a1, double a2)
{
    int64_t size = 0;
    inferd_dtype dt = INFERD_DTYPE_FP32;
    if (int_scalar(ctx, 0, "size", &size) < 0 || out_type(ctx, &dt) < 0) return -1;
    if (size < 0) return onnx_ctx_fail(ctx, "size %lld is negative", (long long)size);
    const int periodic = onnx_attr_int(onnx_ctx_node(ctx), "periodic", 1) != 0;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, dt, 1, &size);
    if (!y) return -1;
    const double n = (double)(periodic ? size : size - 1);
    for (int64_t k = 0; k < size; k++) {
        double w =
            n > 0 ? a0 - a1 * cos(2 * M_PI * (double)k / n) + a2 * cos(4 * M_PI * (double)k / n)
                  : 1.0; /* a one-point symmetric window */
        onnx_tu_store(y->data, dt, k, w);
    }
    return 0;
}

static int run_hann(onnx_ctx *ctx)
{
    return window_run(ctx, 0.5, 0.5, 0.0);
}
static int run_hamming(onnx_ctx *ctx)
{
    return window_run(ctx, 25.0 / 46.0, 21.0 / 46.0, 0.0);
}
static int run_blackman(onnx_ctx *ctx)
{
    return window_run(ctx, 0.42, 0.5, 0.08);
}

/* MelWeightMatrix: [dft_length / 2 + 1, num_mel_bins] triangular filters whose edges are
 * num_mel_bins + 2 points spaced evenly on the mel scale (2595 log10(1 + f / 700)) from
 * lower_edge_hertz, in steps of (high - low) / (num_mel_bins + 2) as the reference
 * implementation does, mapped to spectrogram bins floor((dft_length + 1) f / sample_rate). */
static int run_mel(onnx_ctx *ctx)
{
    int64_t bins = 0, dft_len = 0, rate = 0;
    double lo_hz, hi_hz;
    inferd_dtype dt = INFERD_DTYPE_FP32;
    if (int_scalar(ctx, 0, "num_mel_bins", &bins) < 0 ||
        int_scalar(ctx, 1, "dft_length", &dft_len) < 0 ||
        int_scalar(ctx, 2, "sample_rate", &rate) < 0 ||
        float_scalar(ctx, 3, "lower_edge_hertz", &lo_hz) < 0 ||
        float_scalar(ctx, 4, "upper_edge_hertz", &hi_hz) < 0 || out_type(ctx, &dt) < 0)
        return -1;
    if (bins < 1 || bins > (1 << 20) || dft_len < 1 || dft_len > (1 << 26) || rate < 1)
        return onnx_ctx_fail(ctx, "num_mel_bins, dft_length and sample_rate must be positive");
    if (!(lo_hz >= 0 && lo_hz <= hi_hz && hi_hz <= 1e9))
        return onnx_ctx_fail(ctx, "need 0 <= lower_edge_hertz <= upper_edge_hertz");
    const int64_t spec_bins = dft_len / 2 + 1;
    int64_t dims[2] = {spec_bins, bins};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, dt, 2, dims);
    if (!y) return -1;
    int64_t *edge = onnx_ctx_scratch(ctx, (size_t)(bins + 2) * sizeof *edge);
    if (!edge) return -1;
    const double lo_mel = 2595 * log10(1 + lo_hz / 700), hi_mel = 2595 * log10(1 + hi_hz / 700);
    const double step = (hi_mel - lo_mel) / (double)(bins + 2);
    for (int64_t i = 0; i < bins + 2; i++) {
        double hz = 700 * (pow(10, ((double)i * step + lo_mel) / 2595) - 1);
        edge[i] = (int64_t)floor((double)(dft_len + 1) * hz / (double)rate);
        if (edge[i] < 0 || edge[i] >= spec_bins)
            return onnx_ctx_fail(ctx, "upper_edge_hertz maps beyond the spectrogram's bins");
    }
    for (int64_t e = 0; e < spec_bins * bins; e++) onnx_tu_store(y->data, dt, e, 0.0);
    for (int64_t i = 0; i < bins; i++) {
        const int64_t l = edge[i], c = edge[i + 1], h = edge[i + 2];
        if (c == l) onnx_tu_store(y->data, dt, c * bins + i, 1.0);
        else
            for (int64_t j = l; j <= c; j++)
                onnx_tu_store(y->data, dt, j * bins + i, (double)(j - l) / (double)(c - l));
        for (int64_t j = c; j < h; j++)
            onnx_tu_store(y->data, dt, j * bins + i, (double)(h - j) / (double)(h - c));
    }
    return 0;
}

static const onnx_op signal_ops[] = {
    {"HannWindow", 17, NULL, run_hann, NULL},
    {"HammingWindow", 17, NULL, run_hamming, NULL},
    {"BlackmanWindow", 17, NULL, run_blackman, NULL},
    {"MelWeightMatrix", 17, NULL, run_mel, NULL},
    {"DFT", 17, NULL, signal_run_dft, NULL},
    {"STFT", 17, NULL, signal_run_stft, NULL},
};

const onnx_op *onnx_ops_signal(size_t *count)
{
    *count = sizeof signal_ops / sizeof signal_ops[0];
    return signal_ops;
}
