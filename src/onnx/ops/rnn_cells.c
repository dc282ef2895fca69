/* The time loops of RNN, GRU and LSTM over a validated rnn_problem (rnn.h). For each direction
 * the input projection X * W^T (+ the biases that sit outside any gate product) is one GEMM
 * over all time steps; each step then adds H * R^T (one GEMM over the batch) and applies the
 * cell. With sequence_lens, batch row b only runs its first lens[b] steps (a reverse pass
 * starts at its own last step), its later Y rows stay zero and its final state is the one
 * after its last step. */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn_common.h"
#include "nn_gemm.h"
#include "nn_kernels.h"
#include "rnn.h"

static float act_apply(const rnn_act *a, float x)
{
    switch (a->kind) {
    case RNN_ACT_RELU: return x > 0 ? x : 0;
    case RNN_ACT_TANH: return tanhf(x);
    case RNN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case RNN_ACT_AFFINE: return a->alpha * x + a->beta;
    case RNN_ACT_LEAKY_RELU: return x >= 0 ? x : a->alpha * x;
    case RNN_ACT_THRESHOLDED_RELU: return x > a->alpha ? x : 0;
    case RNN_ACT_SCALED_TANH: return a->alpha * tanhf(a->beta * x);
    case RNN_ACT_HARD_SIGMOID: {
        float v = a->alpha * x + a->beta;
        return v < 0 ? 0 : v > 1 ? 1 : v;
    }
    case RNN_ACT_ELU: return x >= 0 ? x : a->alpha * (expf(x) - 1.0f);
    case RNN_ACT_SOFTSIGN: return x / (1.0f + fabsf(x));
    case RNN_ACT_SOFTPLUS: return x > 20.0f ? x : log1pf(expf(x));
    }
    return x;
}

static inline float clipv(const rnn_problem *p, float v)
{
    if (p->clip > 0) return v < -p->clip ? -p->clip : v > p->clip ? p->clip : v;
    return v;
}

/* act over v[0..n) in place: Sigmoid and Tanh (the defaults) through the vectorized kernels */
static void act_apply_vec(const rnn_act *a, float *v, int64_t n)
{
    if (a->kind == RNN_ACT_SIGMOID) nn_k_sigmoid(v, n);
    else if (a->kind == RNN_ACT_TANH) nn_k_tanh(v, n);
    else
        for (int64_t j = 0; j < n; j++) v[j] = act_apply(a, v[j]);
}

/* One LSTM step of batch row b: g its input projection, q its H R^T (4 * hid, gate blocks
 * i o f c, overwritten with the gates), t hid floats of scratch. Each gate's pre-activations
 * first, then its activation as one vector pass (same formulas as the scalar cell). */
static void lstm_cell(const rnn_problem *p, const rnn_act *act, const float *peep, const float *g,
                      float *q, float *hb, float *cb, float *t)
{
    const int64_t hid = p->hidden;
    float *qi = q, *qo = q + hid, *qf = q + 2 * hid, *qc = q + 3 * hid;
    for (int64_t j = 0; j < hid; j++) {
        const float cp = cb[j];
        qi[j] = clipv(p, g[j] + qi[j] + (peep ? peep[j] * cp : 0.0f));
        qf[j] = clipv(p, g[2 * hid + j] + qf[j] + (peep ? peep[2 * hid + j] * cp : 0.0f));
        qc[j] = clipv(p, g[3 * hid + j] + qc[j]);
    }
    act_apply_vec(&act[0], qi, hid);
    if (p->input_forget)
        for (int64_t j = 0; j < hid; j++) qf[j] = 1.0f - qi[j];
    else act_apply_vec(&act[0], qf, hid);
    act_apply_vec(&act[1], qc, hid);
    for (int64_t j = 0; j < hid; j++) {
        const float cn = qf[j] * cb[j] + qi[j] * qc[j];
        cb[j] = cn;
        t[j] = cn;
        qo[j] = clipv(p, g[hid + j] + qo[j] + (peep ? peep[hid + j] * cn : 0.0f));
    }
    act_apply_vec(&act[0], qo, hid);
    act_apply_vec(&act[2], t, hid);
    for (int64_t j = 0; j < hid; j++) hb[j] = qo[j] * t[j];
}

/* One GRU step of batch row b: g its input projection, q its H R^T (3 * hid, gate blocks
 * z r h, overwritten; with split, the h block already holds (r (.) H) Rh^T), rb the biases
 * (for Rbh). Pre-activations block by block, then each activation as one vector pass. */
static void gru_cell(const rnn_problem *p, const rnn_act *act, const float *rb, int split,
                     const float *g, float *q, float *hb)
{
    const int64_t hid = p->hidden;
    float *qz = q, *qr = q + hid, *qh = q + 2 * hid;
    for (int64_t j = 0; j < hid; j++) qz[j] = clipv(p, g[j] + qz[j]);
    act_apply_vec(&act[0], qz, hid);
    if (split) {
        for (int64_t j = 0; j < hid; j++) qh[j] = clipv(p, g[2 * hid + j] + qh[j]);
    } else {
        for (int64_t j = 0; j < hid; j++) qr[j] = clipv(p, g[hid + j] + qr[j]);
        act_apply_vec(&act[0], qr, hid);
        for (int64_t j = 0; j < hid; j++)
            qh[j] = clipv(p, g[2 * hid + j] + qr[j] * (qh[j] + (rb ? rb[2 * hid + j] : 0.0f)));
    }
    act_apply_vec(&act[1], qh, hid);
    for (int64_t j = 0; j < hid; j++) hb[j] = (1.0f - qz[j]) * qh[j] + qz[j] * hb[j];
}

/* out[m][n] (row stride ldo) = a[m][k] * b[n][k]^T (+ bias[n] on every row if bias), both
 * row-major with row length k. With pb (b packed at load, rnn.h) our GEMM runs it, on the
 * session's threads: at one row a matrix-vector product streaming the panels, with the bias in
 * its store. Otherwise one row goes through sgemv: OpenBLAS 0.3.21's sgemm would pack all of b
 * (the recurrent weights, 1 MiB for a 256-wide LSTM) again at every step. */
static int gemm_bt(onnx_ctx *ctx, const onnx_gemm_packed *pb, int64_t m, int64_t n, int64_t k,
                   const float *a, const float *b, float *out, int64_t ldo, const float *bias)
{
    if (m == 0 || n == 0) return 0;
    if (pb) {
        const onnx_gemm_args g = {.m = m,
                                  .n = n,
                                  .k = k,
                                  .a = a,
                                  .lda = k,
                                  .pb = pb,
                                  .alpha = 1.0f,
                                  .c = out,
                                  .ldc = ldo,
                                  .col_bias = bias};
        return nn_gemm_f32(ctx, &g);
    }
    if (k == 0) {
        for (int64_t i = 0; i < m; i++) memset(out + i * ldo, 0, (size_t)n * sizeof(float));
    } else if (m == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, 1.0f, b, (int)k, a, 1, 0.0f, out,
                    1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, 1.0f, a,
                    (int)k, b, (int)k, 0.0f, out, (int)ldo);
    }
    if (bias)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) out[i * ldo + j] += bias[j];
    return 0;
}

/* One direction d. xw: [seq*batch][G*hid] scratch, hr: [batch][G*hid], rh: [batch][hid],
 * bsum: [G*hid]. Returns 0, or -1 with the error set (our GEMM's pack buffers). */
static int run_direction(onnx_ctx *ctx, const rnn_problem *p, int d, float *xw, float *hr,
                         float *rh, float *h, float *c, float *bsum)
{
    const int64_t hid = p->hidden, gh = p->gates * hid, batch = p->batch;
    const float *w = p->w + d * gh * p->input, *r = p->r + d * gh * hid;
    const float *wb = p->b ? p->b + d * 2 * gh : NULL, *rb = wb ? wb + gh : NULL;
    const float *peep = p->p ? p->p + d * 3 * hid : NULL;
    const rnn_act *act = p->act[d];
    const int reverse = p->ndir == 2 ? d == 1 : p->reverse;
    const int gru_split = p->kind == RNN_GRU && !p->linear_before_reset;

    const onnx_gemm_packed *pw = p->pk ? p->pk->w[d] : NULL, *pr = p->pk ? p->pk->r[d] : NULL;
    const onnx_gemm_packed *prh = p->pk ? p->pk->rh[d] : NULL;
    if (wb) {
        for (int64_t j = 0; j < gh; j++) {
            /* GRU with linear_before_reset keeps Rbh inside r * (H Rh^T + Rbh) */
            int rb_inside = p->kind == RNN_GRU && p->linear_before_reset && j >= 2 * hid;
            bsum[j] = wb[j] + (rb_inside ? 0.0f : rb[j]);
        }
    }
    if (gemm_bt(ctx, pw, p->seq * batch, gh, p->input, p->x, w, xw, gh, wb ? bsum : NULL) < 0)
        return -1;
    if (p->h0) memcpy(h, p->h0 + d * batch * hid, (size_t)(batch * hid) * sizeof(float));
    else memset(h, 0, (size_t)(batch * hid) * sizeof(float));
    if (p->kind == RNN_LSTM) {
        if (p->c0) memcpy(c, p->c0 + d * batch * hid, (size_t)(batch * hid) * sizeof(float));
        else memset(c, 0, (size_t)(batch * hid) * sizeof(float));
    }

    for (int64_t s = 0; s < p->seq; s++) {
        /* H R^T for every row (rows already finished are computed and ignored) */
        if (gemm_bt(ctx, pr, batch, gru_split ? 2 * hid : gh, hid, h, r, hr, gh, NULL) < 0)
            return -1;
        if (gru_split) { /* rh = r (.) H, then its product with Rh goes into the h block */
            for (int64_t b = 0; b < batch; b++) {
                if (s >= p->lens[b]) continue;
                int64_t t = reverse ? p->lens[b] - 1 - s : s;
                const float *g = xw + (t * batch + b) * gh, *q = hr + b * gh;
                float *rb_ = rh + b * hid;
                for (int64_t j = 0; j < hid; j++) rb_[j] = clipv(p, g[hid + j] + q[hid + j]);
                act_apply_vec(&act[0], rb_, hid);
                for (int64_t j = 0; j < hid; j++) rb_[j] *= h[b * hid + j];
            }
            for (int64_t b = 0; b < batch; b++)
                if (s >= p->lens[b]) memset(rh + b * hid, 0, (size_t)hid * sizeof(float));
            /* hr's h block = rh * Rh^T, with hr's row stride gh */
            if (gemm_bt(ctx, prh, batch, hid, hid, rh, r + 2 * hid * hid, hr + 2 * hid, gh, NULL) <
                0)
                return -1;
        }
        for (int64_t b = 0; b < batch; b++) {
            if (s >= p->lens[b]) continue;
            const int64_t t = reverse ? p->lens[b] - 1 - s : s;
            const float *g = xw + (t * batch + b) * gh, *q = hr + b * gh;
            float *hb = h + b * hid, *cb = c ? c + b * hid : NULL;
            if (p->kind == RNN_LSTM) /* rh is free: GRU's only */
                lstm_cell(p, act, peep, g, hr + b * gh, hb, cb, rh + b * hid);
            else if (p->kind == RNN_GRU) gru_cell(p, act, rb, gru_split, g, hr + b * gh, hb);
            else { /* RNN */ float *qs = hr + b * gh;
                for (int64_t j = 0; j < hid; j++) qs[j] = clipv(p, g[j] + q[j]);
                act_apply_vec(&act[0], qs, hid);
                memcpy(hb, qs, (size_t)hid * sizeof(float));
            }
            if (p->y)
                memcpy(p->y + ((t * p->ndir + d) * batch + b) * hid, hb,
                       (size_t)hid * sizeof(float));
        }
    }
    memcpy(p->yh + d * batch * hid, h, (size_t)(batch * hid) * sizeof(float));
    if (p->kind == RNN_LSTM)
        memcpy(p->yc + d * batch * hid, c, (size_t)(batch * hid) * sizeof(float));
    return 0;
}

int rnn_compute(onnx_ctx *ctx, const rnn_problem *p)
{
    const int64_t gh = p->gates * p->hidden;
    size_t n_xw, n_hr, n_h;
    if (nn_mul3_size((size_t)p->seq, (size_t)p->batch, (size_t)gh, &n_xw) != 0 ||
        nn_mul_size((size_t)p->batch, (size_t)gh, &n_hr) != 0 ||
        nn_mul_size((size_t)p->batch, (size_t)p->hidden, &n_h) != 0)
        return onnx_ctx_fail(ctx, "sizes overflow");
    if (n_xw > INT32_MAX || n_hr > INT32_MAX || p->input > INT32_MAX)
        return onnx_ctx_fail(ctx, "dimensions too large");
    float *xw = nn_scratch_floats(ctx, n_xw + 1), *hr = nn_scratch_floats(ctx, n_hr + 1);
    float *rh = nn_scratch_floats(ctx, n_h + 1), *h = nn_scratch_floats(ctx, n_h + 1);
    float *c = p->kind == RNN_LSTM ? nn_scratch_floats(ctx, n_h + 1) : NULL;
    float *bsum = nn_scratch_floats(ctx, (size_t)gh + 1);
    if (!xw || !hr || !rh || !h || !bsum || (p->kind == RNN_LSTM && !c)) return -1;
    for (int d = 0; d < p->ndir; d++)
        if (run_direction(ctx, p, d, xw, hr, rh, h, c, bsum) < 0) return -1;
    return 0;
}
