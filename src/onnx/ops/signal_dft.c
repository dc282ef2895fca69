/* DFT and STFT (opset 17) in double precision, as direct O(n^2) sums over a twiddle table
 * (these ops are rare in served models; an FFT can replace the inner loop later).
 *
 * DFT: x is [batch, d1.., dk, 1 or 2] (real, or complex as re/im pairs); the transform runs
 * along `axis` (default 1) over n = dft_length (input 1; zero padding or truncation of the
 * signal) or the axis' size. inverse=1 uses exp(+2 pi i jk/n) / n; onesided=1 keeps the
 * n/2 + 1 non-redundant outputs of a real forward transform. The output has 2 in the last dim.
 * STFT: signal [batch, length, 1 or 2], frames frame_step apart of frame_length (input 3, or
 * the window's length), each multiplied by the optional window and transformed; the output
 * is [batch, frames, bins, 2], bins frame_length / 2 + 1 when onesided (the default). */
#include <math.h>
#include <string.h>

#include "signal_ops.h"
#include "tensor_util.h"

/* cos/sin of 2 pi m / n for m < n: tw[2m], tw[2m + 1]. */
static double *twiddles(onnx_ctx *ctx, int64_t n)
{
    double *tw = onnx_ctx_scratch(ctx, (size_t)(2 * n + 2) * sizeof *tw);
    if (!tw) return NULL;
    for (int64_t m = 0; m < n; m++) {
        tw[2 * m] = cos(2 * M_PI * (double)m / (double)n);
        tw[2 * m + 1] = sin(2 * M_PI * (double)m / (double)n);
    }
    return tw;
}

/* out[k] = sum_{j < n_in} in[j] e^{sign 2 pi i jk / n}, k < n_out; complex values as pairs. */
static void dft_line(const double *in, int64_t n_in, int64_t n, int64_t n_out, const double *tw,
                     int inverse, double *out)
{
    for (int64_t k = 0; k < n_out; k++) {
        double re = 0, im = 0;
        for (int64_t j = 0; j < n_in; j++) {
            const int64_t m = (int64_t)(((uint64_t)j * (uint64_t)k) % (uint64_t)n);
            const double c = tw[2 * m], s = inverse ? tw[2 * m + 1] : -tw[2 * m + 1];
            re += in[2 * j] * c - in[2 * j + 1] * s;
            im += in[2 * j] * s + in[2 * j + 1] * c;
        }
        if (inverse) {
            re /= (double)n;
            im /= (double)n;
        }
        out[2 * k] = re;
        out[2 * k + 1] = im;
    }
}

static int signal_float(onnx_ctx *ctx, const onnx_tensor *t, const char *what)
{
    if (t->dtype != INFERD_DTYPE_FP32 && t->dtype != INFERD_DTYPE_FP64 &&
        t->dtype != INFERD_DTYPE_FP16)
        return onnx_ctx_unsupported(ctx, "%s type %s not supported", what,
                                    inferd_dtype_name(t->dtype));
    return 0;
}

/* An optional positive integer scalar input; def when absent. */
static int opt_length(onnx_ctx *ctx, int i, const char *what, int64_t def, int64_t *out)
{
    const onnx_tensor *t = onnx_ctx_input(ctx, i);
    *out = def;
    if (!t) return 0;
    if ((t->dtype != INFERD_DTYPE_INT32 && t->dtype != INFERD_DTYPE_INT64) ||
        onnx_tensor_numel(t) != 1)
        return onnx_ctx_fail(ctx, "%s must be one int32 or int64 value", what);
    *out = onnx_tensor_get_int(t, 0);
    if (*out < 1 || *out > ((int64_t)1 << 24))
        return onnx_ctx_fail(ctx, "%s %lld out of range", what, (long long)*out);
    return 0;
}

int signal_run_dft(onnx_ctx *ctx)
{
    const onnx_node *node = onnx_ctx_node(ctx);
    const onnx_tensor *x = onnx_ctx_input(ctx, 0);
    if (!x) return onnx_ctx_fail(ctx, "missing input");
    if (signal_float(ctx, x, "input") < 0) return -1;
    const int r = x->ndim;
    if (r < 2 || (x->dims[r - 1] != 1 && x->dims[r - 1] != 2))
        return onnx_ctx_fail(ctx, "input must be [batch, ..., 1 or 2]");
    const int cplx = x->dims[r - 1] == 2;
    int64_t axis = onnx_attr_int(node, "axis", 1);
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r - 2) return onnx_ctx_fail(ctx, "axis out of range for rank %d", r);
    const int inverse = onnx_attr_int(node, "inverse", 0) != 0;
    const int onesided = onnx_attr_int(node, "onesided", 0) != 0;
    if (onesided && (inverse || cplx))
        return onnx_ctx_unsupported(ctx, "onesided applies to real forward transforms only");
    const int64_t in_len = x->dims[axis];
    int64_t n;
    if (opt_length(ctx, 1, "dft_length", in_len, &n) < 0) return -1;
    if (n < 1) return onnx_ctx_fail(ctx, "empty transform axis");
    const int64_t n_out = onesided ? n / 2 + 1 : n, used = in_len < n ? in_len : n;
    int64_t dims[ONNX_MAX_DIMS];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = n_out;
    dims[r - 1] = 2;
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, r, dims);
    if (!y) return -1;
    const int64_t outer = onnx_tu_prod(x->dims, 0, (int)axis);
    const int64_t inner = onnx_tu_prod(x->dims, (int)axis + 1, r - 1), ce = cplx ? 2 : 1;
    double *tw = twiddles(ctx, n);
    double *line = onnx_ctx_scratch(ctx, (size_t)(2 * used + 2) * sizeof(double));
    double *res = onnx_ctx_scratch(ctx, (size_t)(2 * n_out + 2) * sizeof(double));
    if (!tw || !line || !res) return -1;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            for (int64_t j = 0; j < used; j++) {
                const int64_t e = ((o * in_len + j) * inner + i) * ce;
                line[2 * j] = onnx_tu_load(x->data, x->dtype, e);
                line[2 * j + 1] = cplx ? onnx_tu_load(x->data, x->dtype, e + 1) : 0.0;
            }
            dft_line(line, used, n, n_out, tw, inverse, res);
            for (int64_t k = 0; k < n_out; k++) {
                const int64_t e = ((o * n_out + k) * inner + i) * 2;
                onnx_tu_store(y->data, y->dtype, e, res[2 * k]);
                onnx_tu_store(y->data, y->dtype, e + 1, res[2 * k + 1]);
            }
        }
    return 0;
}

int signal_run_stft(onnx_ctx *ctx)
{
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *win = onnx_ctx_input(ctx, 2);
    if (!x) return onnx_ctx_fail(ctx, "missing input signal");
    if (signal_float(ctx, x, "signal") < 0 || (win && signal_float(ctx, win, "window") < 0))
        return -1;
    if (x->ndim != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
        return onnx_ctx_fail(ctx, "signal must be [batch, length, 1 or 2]");
    const int cplx = x->dims[2] == 2;
    const int onesided = onnx_attr_int(onnx_ctx_node(ctx), "onesided", 1) != 0;
    if (onesided && cplx) return onnx_ctx_unsupported(ctx, "onesided applies to real signals only");
    int64_t step, flen;
    if (!onnx_ctx_input(ctx, 1)) return onnx_ctx_fail(ctx, "missing input frame_step");
    if (opt_length(ctx, 1, "frame_step", 0, &step) < 0) return -1;
    if (win && win->ndim != 1) return onnx_ctx_fail(ctx, "window must be 1-D");
    if (opt_length(ctx, 3, "frame_length", win ? win->dims[0] : 0, &flen) < 0) return -1;
    if (flen < 1) return onnx_ctx_fail(ctx, "needs a window or frame_length");
    if (win && win->dims[0] != flen)
        return onnx_ctx_fail(ctx, "window length %lld differs from frame_length %lld",
                             (long long)win->dims[0], (long long)flen);
    const int64_t batch = x->dims[0], len = x->dims[1];
    if (flen > len)
        return onnx_ctx_fail(ctx, "frame_length %lld exceeds the signal", (long long)flen);
    const int64_t frames = (len - flen) / step + 1, bins = onesided ? flen / 2 + 1 : flen;
    int64_t dims[4] = {batch, frames, bins, 2};
    onnx_tensor *y = onnx_ctx_output(ctx, 0, x->dtype, 4, dims);
    if (!y) return -1;
    double *tw = twiddles(ctx, flen);
    double *line = onnx_ctx_scratch(ctx, (size_t)(2 * flen + 2) * sizeof(double));
    double *res = onnx_ctx_scratch(ctx, (size_t)(2 * bins + 2) * sizeof(double));
    if (!tw || !line || !res) return -1;
    const int64_t ce = cplx ? 2 : 1;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t f = 0; f < frames; f++) {
            for (int64_t j = 0; j < flen; j++) {
                const int64_t e = (b * len + f * step + j) * ce;
                const double w = win ? onnx_tu_load(win->data, win->dtype, j) : 1.0;
                line[2 * j] = onnx_tu_load(x->data, x->dtype, e) * w;
                line[2 * j + 1] = cplx ? onnx_tu_load(x->data, x->dtype, e + 1) * w : 0.0;
            }
            dft_line(line, flen, flen, bins, tw, 0, res);
            for (int64_t k = 0; k < bins; k++) {
                const int64_t e = ((b * frames + f) * bins + k) * 2;
                onnx_tu_store(y->data, y->dtype, e, res[2 * k]);
                onnx_tu_store(y->data, y->dtype, e + 1, res[2 * k + 1]);
            }
        }
    return 0;
}
