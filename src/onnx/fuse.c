/* Load-time fusions, each replacing a few nodes by one:
 *   Conv + BatchNormalization (constant BN and Conv weights) -> Conv with folded weights/bias;
 *   MatMul + Add of a constant 1-D bias over the last dim -> MatMul(A, B, bias), inferd_bias=1;
 *   x * 0.5 * (1 + erf(x / sqrt 2)) -> Gelu(x) (fuse_gelu.c);
 *   Mul(x, Sigmoid(x)) -> Silu(x) (fuse_silu.c);
 *   MatMul -> Transpose back to channels-first -> per-channel Mul -> one MatMul, and Transpose
 *   to channels-last -> LayerNormalization over the channels -> one LayerNorm (fuse_cfirst.c);
 *   Transposes into and out of MatMul, MatMul + Mul by a scalar (fuse_matmul.c);
 *   Conv + Add of another tensor (a residual connection) -> Conv(X, W, B, r), inferd_residual=1;
 *   Relu/Clip read only by a depthwise Conv -> applied by that Conv to its input;
 *   Conv/Gemm/MatMul/BatchNormalization + single-consumer activation -> attributes per
 *   ops/activation.h (a BatchNormalization left after Conv folding: DenseNet's pre-activation
 *   BN + Relu then make one pass);
 *   GlobalAveragePool -> 1x1 Conv -> 1x1 Conv -> Mul (squeeze-and-excitation) -> SqueezeExcite
 *   (fuse_se.c);
 *   1x1 Conv read only by a depthwise Conv -> computed by it (fuse_conv_dw.c).
 * A fusion only fires when the intermediate value has exactly one consumer and is not a graph
 * output, so nothing else can observe it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"
#include "model.h"
#include "ops/activation.h"
#include "registry.h"

/* A new constant value owning data (malloc'd; freed on failure). */
static int add_const(onnx_model *m, const char *name, float *data, int64_t len)
{
    int v = onnx_model_add_value(m, name, ONNX_VALUE_CONST);
    if (v < 0) {
        free(data);
        return -1;
    }
    onnx_tensor *t = &m->values[v].t;
    t->dtype = INFERD_DTYPE_FP32;
    t->ndim = 1;
    t->dims[0] = len;
    t->data = data;
    return v;
}

/* ---- Conv + BatchNormalization ---------------------------------------------------------- */

static int fuse_conv_bn(onnx_model *m, int ci)
{
    onnx_node *conv = &m->nodes[ci];
    if (strcmp(conv->op_type, "Conv") != 0 || conv->n_outputs != 1) return 0;
    int bi = onnx_fuse_sole_consumer(m, conv->outputs[0]);
    if (bi < 0) return 0;
    onnx_node *bn = &m->nodes[bi];
    if (strcmp(bn->op_type, "BatchNormalization") != 0 || bn->inputs[0] != conv->outputs[0] ||
        !onnx_fuse_only_first_output(bn))
        return 0;
    if (onnx_attr_int(bn, "training_mode", 0) != 0) return 0;
    const onnx_tensor *w = onnx_fuse_const_input(m, conv, 1),
                      *b = onnx_fuse_const_input(m, conv, 2);
    const onnx_tensor *sc = onnx_fuse_const_input(m, bn, 1), *bb = onnx_fuse_const_input(m, bn, 2);
    const onnx_tensor *mean = onnx_fuse_const_input(m, bn, 3),
                      *var = onnx_fuse_const_input(m, bn, 4);
    if (!w || !sc || !bb || !mean || !var || w->dtype != INFERD_DTYPE_FP32 || w->ndim < 3) return 0;
    if (conv->n_inputs > 2 && conv->inputs[2] >= 0 && !b) return 0;
    int64_t c_out = w->dims[0];
    const onnx_tensor *vecs[4] = {sc, bb, mean, var};
    for (int i = 0; i < 4; i++)
        if (vecs[i]->dtype != INFERD_DTYPE_FP32 || vecs[i]->ndim != 1 || vecs[i]->dims[0] != c_out)
            return 0;
    if (b && (b->dtype != INFERD_DTYPE_FP32 || b->ndim != 1 || b->dims[0] != c_out)) return 0;
    float eps = onnx_attr_float(bn, "epsilon", 1e-5f);
    int64_t per = onnx_tensor_numel(w) / (c_out ? c_out : 1);
    float *nw = malloc(onnx_tensor_nbytes(w) + 1);
    float *nb = malloc((size_t)c_out * sizeof(float) + 1);
    if (!nw || !nb) {
        free(nw), free(nb);
        return -1;
    }
    const float *wd = w->data, *s = sc->data, *beta = bb->data, *mu = mean->data, *va = var->data;
    for (int64_t o = 0; o < c_out; o++) {
        float f = s[o] / sqrtf(va[o] + eps);
        for (int64_t k = 0; k < per; k++) nw[o * per + k] = wd[o * per + k] * f;
        float bias = b ? ((const float *)b->data)[o] : 0.0f;
        nb[o] = (bias - mu[o]) * f + beta[o];
    }
    onnx_tensor wshape = *w; /* w points into m->values, which add_const may move */
    int vw = add_const(m, "inferd_fused_conv_w", nw, 0);
    if (vw < 0) {
        free(nb);
        return -1;
    }
    m->values[vw].t = wshape; /* the weight keeps Conv's shape */
    m->values[vw].t.data = nw;
    int vb = add_const(m, "inferd_fused_conv_b", nb, c_out);
    if (vb < 0) return -1;
    if (onnx_fuse_set_input(m, conv, 1, vw) < 0 || onnx_fuse_set_input(m, conv, 2, vb) < 0)
        return -1;
    conv->outputs[0] = bn->outputs[0];
    m->values[conv->outputs[0]].producer = ci;
    bn->op = NULL;
    return 1;
}

/* ---- MatMul + Add(bias) ------------------------------------------------------------------- */

static int fuse_matmul_bias(onnx_model *m, int mi)
{
    onnx_node *mm = &m->nodes[mi];
    if (strcmp(mm->op_type, "MatMul") != 0 || mm->n_inputs != 2 || mm->n_outputs != 1) return 0;
    const onnx_tensor *bmat = onnx_fuse_const_input(m, mm, 1);
    if (!bmat || bmat->dtype != INFERD_DTYPE_FP32 || bmat->ndim != 2) return 0;
    int ai = onnx_fuse_sole_consumer(m, mm->outputs[0]);
    if (ai < 0) return 0;
    onnx_node *add = &m->nodes[ai];
    if (strcmp(add->op_type, "Add") != 0 || add->n_inputs != 2 || !onnx_fuse_only_first_output(add))
        return 0;
    int other = add->inputs[0] == mm->outputs[0] ? 1 : 0;
    if (add->inputs[1 - other] != mm->outputs[0]) return 0;
    const onnx_tensor *bias = onnx_fuse_const_input(m, add, other);
    if (!bias || bias->dtype != INFERD_DTYPE_FP32 || bias->ndim != 1 ||
        bias->dims[0] != bmat->dims[1])
        return 0;
    int bv = add->inputs[other];
    if (onnx_fuse_set_input(m, mm, 2, bv) < 0) return -1;
    onnx_attr a = {.name = "inferd_bias", .type = ONNX_ATTR_INT, .i = 1};
    if (onnx_fuse_add_attr(m, mm, &a) < 0) return -1;
    mm->outputs[0] = add->outputs[0];
    m->values[mm->outputs[0]].producer = mi;
    add->op = NULL;
    return 1;
}

/* ---- Conv + Add (residual) ------------------------------------------------------------------ */

/* Add(Conv(x), r): r becomes the Conv's input 3 (attribute inferd_residual = 1); the Conv fills
 * its output with r + bias and accumulates the product onto it. A Relu after the Add then fuses
 * as the Conv's activation, applied after the sum. r must exist before the Conv runs. */
static int fuse_conv_add(onnx_model *m, int ci)
{
    onnx_node *conv = &m->nodes[ci];
    if (strcmp(conv->op_type, "Conv") != 0 || conv->n_outputs != 1 || conv->n_inputs > 3) return 0;
    if (onnx_node_attr(conv, "inferd_activation") || onnx_node_attr(conv, "inferd_residual"))
        return 0;
    const onnx_tensor *w = onnx_fuse_const_input(m, conv, 1);
    if (!w || w->dtype != INFERD_DTYPE_FP32) return 0;
    int ai = onnx_fuse_sole_consumer(m, conv->outputs[0]);
    if (ai < 0) return 0;
    onnx_node *add = &m->nodes[ai];
    if (strcmp(add->op_type, "Add") != 0 || add->n_inputs != 2 || !onnx_fuse_only_first_output(add))
        return 0;
    int other = add->inputs[0] == conv->outputs[0] ? 1 : 0;
    int rv = add->inputs[other];
    if (add->inputs[1 - other] != conv->outputs[0] || rv < 0 || rv == conv->outputs[0]) return 0;
    const onnx_value *r = &m->values[rv];
    if (r->kind == ONNX_VALUE_ACTIVATION && (r->producer < 0 || r->producer >= ci)) return 0;
    if (onnx_fuse_set_input(m, conv, 3, rv) < 0) return -1;
    onnx_attr a = {.name = "inferd_residual", .type = ONNX_ATTR_INT, .i = 1};
    if (onnx_fuse_add_attr(m, conv, &a) < 0) return -1;
    conv->outputs[0] = add->outputs[0];
    m->values[conv->outputs[0]].producer = ci;
    add->op = NULL;
    return 1;
}

/* ---- activation ------------------------------------------------------------------------------ */

/* The parameters of activation node act as inferd_alpha / inferd_beta (activation.h); -1 if
 * they are not constant. */
static int act_params(const onnx_model *m, const onnx_node *act, float *a, float *b)
{
    float alpha = 0, beta = 0;
    const char *t = act->op_type;
    if (strcmp(t, "LeakyRelu") == 0) {
        alpha = onnx_attr_float(act, "alpha", 0.01f);
    } else if (strcmp(t, "Elu") == 0) {
        alpha = onnx_attr_float(act, "alpha", 1.0f);
    } else if (strcmp(t, "HardSigmoid") == 0) {
        alpha = onnx_attr_float(act, "alpha", 0.2f);
        beta = onnx_attr_float(act, "beta", 0.5f);
    } else if (strcmp(t, "Clip") == 0) {
        alpha = -INFINITY;
        beta = INFINITY;
        if (act->opset < 11) {
            alpha = onnx_attr_float(act, "min", -INFINITY);
            beta = onnx_attr_float(act, "max", INFINITY);
        } else {
            for (int k = 1; k < act->n_inputs && k < 3; k++) {
                if (act->inputs[k] < 0) continue;
                const onnx_tensor *c = onnx_fuse_const_input(m, act, k);
                if (!c || c->dtype != INFERD_DTYPE_FP32 || onnx_tensor_numel(c) != 1) return -1;
                float v = ((const float *)c->data)[0];
                if (k == 1) alpha = v;
                else beta = v;
            }
        }
    } else if (act->n_inputs != 1) {
        return -1;
    }
    *a = alpha;
    *b = beta;
    return 0;
}

/* Relu / Clip whose only reader is a depthwise Conv (weights C x 1 x kh x kw, group > 1):
 * the Conv reads the activation's input and applies it while gathering each input plane
 * (attributes inferd_input_activation, inferd_input_alpha, inferd_input_beta), so that the
 * tensor before it (MobileNet's widest, the 1x1 expansions) is not read and written once more
 * by an activation pass. Runs before the activation pass, which would give the activation to
 * the producing Conv instead. */
static int fuse_dw_input_activation(onnx_model *m, int ai)
{
    onnx_node *act = &m->nodes[ai];
    if (strcmp(act->op_type, "Relu") != 0 && strcmp(act->op_type, "Clip") != 0) return 0;
    if (!onnx_fuse_only_first_output(act) || act->n_inputs < 1 || act->inputs[0] < 0) return 0;
    float alpha, beta;
    if (act_params(m, act, &alpha, &beta) != 0) return 0;
    int di = onnx_fuse_sole_consumer(m, act->outputs[0]);
    if (di < 0) return 0;
    onnx_node *dw = &m->nodes[di];
    if (strcmp(dw->op_type, "Conv") != 0 || dw->inputs[0] != act->outputs[0] ||
        onnx_node_attr(dw, "inferd_input_activation"))
        return 0;
    for (int k = 1; k < dw->n_inputs; k++)
        if (dw->inputs[k] == act->outputs[0]) return 0;
    const onnx_tensor *w = onnx_fuse_const_input(m, dw, 1);
    if (!w || w->dtype != INFERD_DTYPE_FP32 || w->ndim != 4 || w->dims[1] != 1 ||
        onnx_attr_int(dw, "group", 1) <= 1)
        return 0;
    onnx_attr attrs[3] = {
        {.name = "inferd_input_activation",
         .type = ONNX_ATTR_STRING,
         .s = act->op_type,
         .s_len = strlen(act->op_type)},
        {.name = "inferd_input_alpha", .type = ONNX_ATTR_FLOAT, .f = alpha},
        {.name = "inferd_input_beta", .type = ONNX_ATTR_FLOAT, .f = beta},
    };
    for (int i = 0; i < 3; i++)
        if (onnx_fuse_add_attr(m, dw, &attrs[i]) < 0) return -1;
    dw->inputs[0] = act->inputs[0];
    act->op = NULL;
    return 1;
}

static int fuse_activation(onnx_model *m, int pi)
{
    onnx_node *p = &m->nodes[pi];
    if (strcmp(p->op_type, "Conv") != 0 && strcmp(p->op_type, "Gemm") != 0 &&
        strcmp(p->op_type, "MatMul") != 0 && strcmp(p->op_type, "BatchNormalization") != 0)
        return 0;
    if (p->n_outputs != 1 || onnx_node_attr(p, "inferd_activation")) return 0;
    /* the fused activation runs on float32 data: require float32 weights (BatchNormalization
     * runs float32 only; its parameters may come through an Identity, as in DenseNet) */
    const onnx_tensor *w = onnx_fuse_const_input(m, p, 1);
    if (strcmp(p->op_type, "BatchNormalization") != 0 && (!w || w->dtype != INFERD_DTYPE_FP32))
        return 0;
    int ai = onnx_fuse_sole_consumer(m, p->outputs[0]);
    if (ai < 0) return 0;
    onnx_node *act = &m->nodes[ai];
    if (onnx_activation_kind_from_op(act->op_type) == ONNX_ACT_NONE ||
        act->inputs[0] != p->outputs[0] || !onnx_fuse_only_first_output(act))
        return 0;
    /* the fused kind is the exact GELU only */
    if (strcmp(act->op_type, "Gelu") == 0 &&
        strcmp(onnx_attr_string(act, "approximate", "none"), "none") != 0)
        return 0;
    float alpha = 0, beta = 0;
    if (act_params(m, act, &alpha, &beta) != 0) return 0;
    onnx_attr attrs[3] = {
        {.name = "inferd_activation",
         .type = ONNX_ATTR_STRING,
         .s = act->op_type,
         .s_len = strlen(act->op_type)},
        {.name = "inferd_alpha", .type = ONNX_ATTR_FLOAT, .f = alpha},
        {.name = "inferd_beta", .type = ONNX_ATTR_FLOAT, .f = beta},
    };
    for (int i = 0; i < 3; i++)
        if (onnx_fuse_add_attr(m, p, &attrs[i]) < 0) return -1;
    p->outputs[0] = act->outputs[0];
    m->values[p->outputs[0]].producer = pi;
    act->op = NULL;
    return 1;
}

int onnx_graph_fuse(onnx_model *m, onnx_load_err *e)
{
    /* Order matters: a residual Add joins a Conv before its Relu does (the Relu then runs after
     * the sum), while a MatMul takes its activation first and a residual only without one. */
    int (*const passes[])(onnx_model *, int) = {fuse_conv_bn,
                                                fuse_matmul_bias,
                                                onnx_fuse_gelu,
                                                onnx_fuse_silu,
                                                onnx_fuse_matmul_cfirst,
                                                onnx_fuse_layernorm_clast,
                                                onnx_fuse_matmul_transpose,
                                                onnx_fuse_matmul_scale,
                                                fuse_conv_add,
                                                fuse_dw_input_activation,
                                                fuse_activation,
                                                onnx_fuse_squeeze_excite,
                                                onnx_fuse_matmul_residual,
                                                onnx_fuse_pointwise_depthwise};
    for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
        onnx_graph_count_uses(m); /* a pass may change a value's consumers (GELU drops x's) */
        for (int i = 0; i < m->n_nodes; i++) {
            if (!m->nodes[i].op) continue;
            if (passes[p](m, i) < 0)
                return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory during fusion");
        }
    }
    onnx_graph_compact(m);
    onnx_graph_drop_unused_consts(m);
    return 0;
}
