/* RNN, GRU and LSTM (opset 7, and 14 with `layout`), float32: checks the inputs and attributes
 * against each other, converts layout 1 (batch first) to the internal layout and back, and
 * hands the time loops to rnn_cells.c.
 *
 * Inputs: X, W, R, B, sequence_lens, initial_h (and initial_c, P for LSTM); outputs Y, Y_h
 * (and Y_c). Activations are named in `activations` (per direction, f g h as the operator
 * uses them); activation_alpha/beta are consumed in that order by the functions that take
 * them, with each function's usual default once the lists run out. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nn_common.h"
#include "nn_ops.h"
#include "rnn.h"

static const struct {
    const char *name;
    rnn_act_kind kind;
    int n_alpha, n_beta;
    float alpha, beta;
} rnn_act_table[] = {
    {"Relu", RNN_ACT_RELU, 0, 0, 0, 0},
    {"Tanh", RNN_ACT_TANH, 0, 0, 0, 0},
    {"Sigmoid", RNN_ACT_SIGMOID, 0, 0, 0, 0},
    {"Affine", RNN_ACT_AFFINE, 1, 1, 1.0f, 0.0f},
    {"LeakyRelu", RNN_ACT_LEAKY_RELU, 1, 0, 0.01f, 0},
    {"ThresholdedRelu", RNN_ACT_THRESHOLDED_RELU, 1, 0, 1.0f, 0},
    {"ScaledTanh", RNN_ACT_SCALED_TANH, 1, 1, 1.0f, 1.0f},
    {"HardSigmoid", RNN_ACT_HARD_SIGMOID, 1, 1, 0.2f, 0.5f},
    {"Elu", RNN_ACT_ELU, 1, 0, 1.0f, 0},
    {"Softsign", RNN_ACT_SOFTSIGN, 0, 0, 0, 0},
    {"Softplus", RNN_ACT_SOFTPLUS, 0, 0, 0, 0},
};

/* Fills p->act from the attributes; nact is 1 (RNN), 2 (GRU) or 3 (LSTM). */
static int read_activations(onnx_ctx *ctx, const onnx_node *node, int nact, rnn_problem *p)
{
    static const char *const defaults[3][3] = {
        {"Tanh"}, {"Sigmoid", "Tanh"}, {"Sigmoid", "Tanh", "Tanh"}};
    const onnx_attr *names = onnx_node_attr(node, "activations");
    const float *alpha, *beta;
    int na = onnx_attr_floats(node, "activation_alpha", &alpha);
    int nb = onnx_attr_floats(node, "activation_beta", &beta);
    int ia = 0, ib = 0;
    if (names && names->type != ONNX_ATTR_STRINGS)
        return onnx_ctx_fail(ctx, "activations must be a list of strings");
    int given = names ? (int)names->n : 0;
    if (names && given != nact && given != nact * p->ndir)
        return onnx_ctx_fail(ctx, "%d activations, expected %d", given, nact * p->ndir);
    for (int d = 0; d < p->ndir; d++) {
        for (int k = 0; k < nact; k++) {
            const char *name =
                names ? names->strings[(d * nact + k) % given] : defaults[nact - 1][k];
            size_t e = 0, ne = sizeof rnn_act_table / sizeof rnn_act_table[0];
            while (e < ne && strcasecmp(name, rnn_act_table[e].name) != 0) e++;
            if (e == ne) return onnx_ctx_unsupported(ctx, "activation '%s' is not supported", name);
            rnn_act *a = &p->act[d][k];
            a->kind = rnn_act_table[e].kind;
            a->alpha = rnn_act_table[e].alpha;
            a->beta = rnn_act_table[e].beta;
            if (rnn_act_table[e].n_alpha && ia < na) a->alpha = alpha[ia++];
            if (rnn_act_table[e].n_beta && ib < nb) a->beta = beta[ib++];
        }
    }
    return 0;
}

static int shape_is(const onnx_tensor *t, int ndim, int64_t d0, int64_t d1, int64_t d2)
{
    const int64_t want[3] = {d0, d1, d2};
    if (t->ndim != ndim) return 0;
    for (int k = 0; k < ndim; k++)
        if (t->dims[k] != want[k]) return 0;
    return 1;
}

/* An optional float32 input of the given shape, or NULL (absent). Sets *bad on a mismatch. */
static const float *opt_input(onnx_ctx *ctx, int i, int ndim, int64_t d0, int64_t d1, int64_t d2,
                              int *bad)
{
    const onnx_tensor *t = onnx_ctx_input(ctx, i);
    if (!t) return NULL;
    if (t->dtype != INFERD_DTYPE_FP32 || !shape_is(t, ndim, d0, d1, d2)) {
        *bad = i;
        return NULL;
    }
    return t->data;
}

/* Copies a [a][b][inner] block to [b][a][inner] (the layout-1 <-> layout-0 swap). */
static void swap01(float *dst, const float *src, int64_t a, int64_t b, int64_t inner)
{
    for (int64_t i = 0; i < a; i++)
        for (int64_t j = 0; j < b; j++)
            memcpy(dst + (j * a + i) * inner, src + (i * b + j) * inner,
                   (size_t)inner * sizeof(float));
}

static int rnn_run(onnx_ctx *ctx, int kind)
{
    static const int gates_of[] = {1, 3, 4}, nact_of[] = {1, 2, 3};
    const onnx_node *node = onnx_ctx_node(ctx);
    rnn_problem p;
    memset(&p, 0, sizeof p);
    p.kind = kind;
    p.gates = gates_of[kind];
    const onnx_tensor *x = onnx_ctx_input(ctx, 0), *w = onnx_ctx_input(ctx, 1);
    const onnx_tensor *r = onnx_ctx_input(ctx, 2);
    if (!x || !w || !r) return onnx_ctx_fail(ctx, "needs inputs X, W and R");
    if (x->dtype != INFERD_DTYPE_FP32 || w->dtype != INFERD_DTYPE_FP32 ||
        r->dtype != INFERD_DTYPE_FP32)
        return onnx_ctx_unsupported(ctx, "only float32 is supported");
    const int layout = node->opset >= 14 ? (int)onnx_attr_int(node, "layout", 0) : 0;
    if (layout != 0 && layout != 1) return onnx_ctx_fail(ctx, "layout must be 0 or 1");
    const char *dir = onnx_attr_string(node, "direction", "forward");
    if (strcmp(dir, "forward") == 0) p.ndir = 1;
    else if (strcmp(dir, "reverse") == 0) p.ndir = 1, p.reverse = 1;
    else if (strcmp(dir, "bidirectional") == 0) p.ndir = 2;
    else return onnx_ctx_fail(ctx, "unknown direction '%s'", dir);
    if (x->ndim != 3) return onnx_ctx_fail(ctx, "X rank %d, expected 3", x->ndim);
    p.seq = x->dims[layout ? 1 : 0];
    p.batch = x->dims[layout ? 0 : 1];
    p.input = x->dims[2];
    if (r->ndim != 3) return onnx_ctx_fail(ctx, "R rank %d, expected 3", r->ndim);
    p.hidden = onnx_attr_int(node, "hidden_size", r->dims[2]);
    const int64_t hid = p.hidden, gh = p.gates * hid, nd = p.ndir;
    if (hid <= 0 || hid > ((int64_t)1 << 24)) return onnx_ctx_fail(ctx, "bad hidden_size");
    if (!shape_is(w, 3, nd, gh, p.input))
        return onnx_ctx_fail(ctx, "W must be [%lld, %lld, %lld]", (long long)nd, (long long)gh,
                             (long long)p.input);
    if (!shape_is(r, 3, nd, gh, hid))
        return onnx_ctx_fail(ctx, "R must be [%lld, %lld, %lld]", (long long)nd, (long long)gh,
                             (long long)hid);
    p.w = w->data;
    p.r = r->data;
    p.clip = onnx_node_attr(node, "clip") ? onnx_attr_float(node, "clip", 0) : 0;
    if (onnx_node_attr(node, "clip") && !(p.clip > 0))
        return onnx_ctx_fail(ctx, "clip must be > 0");
    p.linear_before_reset = kind == RNN_GRU && onnx_attr_int(node, "linear_before_reset", 0) != 0;
    p.input_forget = kind == RNN_LSTM && onnx_attr_int(node, "input_forget", 0) != 0;
    if (read_activations(ctx, node, nact_of[kind], &p) < 0) return -1;

    int bad = -1;
    const int64_t s0 = layout ? p.batch : nd, s1 = layout ? nd : p.batch;
    p.b = opt_input(ctx, 3, 2, nd, 2 * gh, 0, &bad);
    const float *h0 = opt_input(ctx, 5, 3, s0, s1, hid, &bad);
    const float *c0 = kind == RNN_LSTM ? opt_input(ctx, 6, 3, s0, s1, hid, &bad) : NULL;
    p.p = kind == RNN_LSTM ? opt_input(ctx, 7, 2, nd, 3 * hid, 0, &bad) : NULL;
    if (bad >= 0) return onnx_ctx_fail(ctx, "input %d has the wrong type or shape", bad);

    size_t nx, ns, ny;
    if (nn_mul3_size((size_t)p.seq, (size_t)p.batch, (size_t)p.input, &nx) != 0 ||
        nn_mul3_size((size_t)nd, (size_t)p.batch, (size_t)hid, &ns) != 0 ||
        nn_mul_size((size_t)p.seq, ns, &ny) != 0)
        return onnx_ctx_fail(ctx, "sizes overflow");
    int64_t *lens = onnx_ctx_scratch(ctx, ((size_t)p.batch + 1) * sizeof(int64_t));
    if (!lens) return -1;
    const onnx_tensor *sl = onnx_ctx_input(ctx, 4);
    for (int64_t b = 0; b < p.batch; b++) lens[b] = p.seq;
    if (sl) {
        if ((sl->dtype != INFERD_DTYPE_INT32 && sl->dtype != INFERD_DTYPE_INT64) || sl->ndim != 1 ||
            sl->dims[0] != p.batch)
            return onnx_ctx_fail(ctx, "sequence_lens must be int32 [%lld]", (long long)p.batch);
        for (int64_t b = 0; b < p.batch; b++) {
            lens[b] = onnx_tensor_get_int(sl, b);
            if (lens[b] < 0 || lens[b] > p.seq)
                return onnx_ctx_fail(ctx, "sequence_lens[%lld] = %lld outside [0, %lld]",
                                     (long long)b, (long long)lens[b], (long long)p.seq);
        }
    }
    p.lens = lens;

    /* internal layout: X [seq][batch][input], states [dir][batch][hidden] */
    p.x = x->data;
    p.h0 = h0;
    p.c0 = c0;
    if (layout) {
        float *xi = nn_scratch_floats(ctx, nx + 1);
        if (!xi) return -1;
        swap01(xi, x->data, p.batch, p.seq, p.input);
        p.x = xi;
        float *states[2] = {NULL, NULL};
        const float *given[2] = {h0, c0};
        for (int k = 0; k < 2; k++) {
            if (!given[k]) continue;
            if (!(states[k] = nn_scratch_floats(ctx, ns + 1))) return -1;
            swap01(states[k], given[k], p.batch, nd, hid);
        }
        p.h0 = states[0];
        p.c0 = states[1];
    }

    /* outputs in the node's layout; internal copies where they differ */
    const int want_y = onnx_ctx_num_outputs(ctx) > 0 && onnx_ctx_output_wanted(ctx, 0);
    const int nout_states = kind == RNN_LSTM ? 2 : 1;
    onnx_tensor *ty = NULL, *ts[2] = {NULL, NULL};
    if (want_y) {
        int64_t dy[4] = {p.seq, nd, p.batch, hid};
        if (layout) dy[0] = p.batch, dy[1] = p.seq, dy[2] = nd;
        if (!(ty = onnx_ctx_output(ctx, 0, INFERD_DTYPE_FP32, 4, dy))) return -1;
    }
    for (int k = 0; k < nout_states; k++) {
        if (onnx_ctx_num_outputs(ctx) <= k + 1 || !onnx_ctx_output_wanted(ctx, k + 1)) continue;
        int64_t ds[3] = {s0, s1, hid};
        if (!(ts[k] = onnx_ctx_output(ctx, k + 1, INFERD_DTYPE_FP32, 3, ds))) return -1;
    }
    p.y = ty && !layout ? ty->data : NULL;
    if (ty && (layout || !ty->data)) p.y = nn_scratch_floats(ctx, ny + 1);
    p.yh = ts[0] && !layout ? ts[0]->data : nn_scratch_floats(ctx, ns + 1);
    p.yc = kind != RNN_LSTM   ? NULL
           : ts[1] && !layout ? ts[1]->data
                              : nn_scratch_floats(ctx, ns + 1);
    if ((ty && !p.y) || !p.yh || (kind == RNN_LSTM && !p.yc)) return -1;
    if (p.y) memset(p.y, 0, ny * sizeof(float));

    const rnn_packed *pk = node->state;
    if (pk && pk->w[0] && onnx_gemm_packed_fits(pk->w[0], 0, p.input, gh) &&
        onnx_gemm_packed_fits(pk->r[0], 0, hid,
                              p.linear_before_reset || kind != RNN_GRU ? gh : 2 * hid))
        p.pk = pk;
    if (rnn_compute(ctx, &p) < 0) return -1;

    if (layout) { /* Y [seq][dir][batch][h] -> [batch][seq][dir][h]; states [dir][batch] -> [batch][dir] */
        if (ty && ny > 0) swap01(ty->data, p.y, p.seq * nd, p.batch, hid);
        if (ts[0] && ns > 0) swap01(ts[0]->data, p.yh, nd, p.batch, hid);
        if (ts[1] && ns > 0) swap01(ts[1]->data, p.yc, nd, p.batch, hid);
    }
    return 0;
}

void nn_rnn_release(onnx_node *node)
{
    rnn_packed *pk = node->state;
    if (!pk) return;
    for (int d = 0; d < 2; d++) {
        onnx_gemm_packed_free(pk->w[d]);
        onnx_gemm_packed_free(pk->r[d]);
        onnx_gemm_packed_free(pk->rh[d]);
    }
    free(pk);
    node->state = NULL;
}

/* Packs constant float32 W and R (rnn.h: rnn_packed) when their shapes agree with each other;
 * otherwise, or on ENOMEM, leaves no state and run multiplies the plain weights. The plain
 * weights stay: run validates against them and falls back to them. */
int nn_rnn_prepare(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len)
{
    (void)err, (void)err_len;
    const onnx_tensor *w = node->n_inputs > 2 ? consts[1] : NULL;
    const onnx_tensor *r = node->n_inputs > 2 ? consts[2] : NULL;
    if (!w || !r || w->dtype != INFERD_DTYPE_FP32 || r->dtype != INFERD_DTYPE_FP32 ||
        w->ndim != 3 || r->ndim != 3 || !w->data || !r->data)
        return 0;
    const int gates = strcmp(node->op_type, "LSTM") == 0  ? 4
                      : strcmp(node->op_type, "GRU") == 0 ? 3
                                                          : 1;
    const int64_t nd = r->dims[0], hid = r->dims[2], gh = r->dims[1], in = w->dims[2];
    if ((nd != 1 && nd != 2) || hid <= 0 || hid > ((int64_t)1 << 24) || gh != gates * hid ||
        in <= 0 || w->dims[0] != nd || w->dims[1] != gh ||
        onnx_attr_int(node, "hidden_size", hid) != hid)
        return 0;
    const int split = gates == 3 && onnx_attr_int(node, "linear_before_reset", 0) == 0;
    rnn_packed *pk = calloc(1, sizeof *pk);
    if (!pk) return 0;
    node->state = pk;
    const float *wd = w->data, *rd = r->data;
    for (int64_t d = 0; d < nd; d++) {
        const float *rdir = rd + d * gh * hid;
        pk->w[d] = onnx_gemm_pack_b(wd + d * gh * in, 1, in, gh, in);
        pk->r[d] = onnx_gemm_pack_b(rdir, 1, hid, split ? 2 * hid : gh, hid);
        if (split) pk->rh[d] = onnx_gemm_pack_b(rdir + 2 * hid * hid, 1, hid, hid, hid);
        if (!pk->w[d] || !pk->r[d] || (split && !pk->rh[d])) {
            nn_rnn_release(node);
            return 0;
        }
    }
    return 0;
}

int nn_rnn_run(onnx_ctx *ctx)
{
    return rnn_run(ctx, RNN_SIMPLE);
}
int nn_gru_run(onnx_ctx *ctx)
{
    return rnn_run(ctx, RNN_GRU);
}
int nn_lstm_run(onnx_ctx *ctx)
{
    return rnn_run(ctx, RNN_LSTM);
}
