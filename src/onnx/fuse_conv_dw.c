/* Load-time fusion of a 1x1 convolution into the depthwise Conv that alone reads it (the
 * expansion and depthwise pair of MobileNet's inverted residual blocks): the depthwise Conv
 * takes the 1x1's input, weights and bias as its inputs 0, 4 and 5 (attribute
 * inferd_expand = 1) and computes the expansion itself, a band of rows at a time, so that the
 * block's widest tensor never leaves the L2 cache (ops/conv_expand.c). */
#include <string.h>

#include "fuse.h"
#include "ops/conv_phase.h"

/* A ints attribute absent or all equal to v. */
static int ints_all(const onnx_node *n, const char *name, int64_t v)
{
    const int64_t *a;
    int k = onnx_attr_ints(n, name, &a);
    for (int i = 0; i < k; i++)
        if (a[i] != v) return 0;
    return 1;
}

/* Bias input k of node n: absent, or a float32 1-D constant of len values. */
static int bias_ok(const onnx_model *m, const onnx_node *n, int k, int64_t len)
{
    if (k >= n->n_inputs || n->inputs[k] < 0) return 1;
    const onnx_tensor *b = onnx_fuse_const_input(m, n, k);
    return b && b->dtype == INFERD_DTYPE_FP32 && b->ndim == 1 && b->dims[0] == len;
}

int onnx_fuse_pointwise_depthwise(onnx_model *m, int di)
{
    onnx_node *dw = &m->nodes[di];
    if (strcmp(dw->op_type, "Conv") != 0 || dw->n_inputs < 2 || dw->n_inputs > 4 ||
        !onnx_fuse_only_first_output(dw) || onnx_node_attr(dw, "inferd_expand"))
        return 0;
    const int v = dw->inputs[0];
    for (int k = 1; k < dw->n_inputs; k++)
        if (dw->inputs[k] == v) return 0;
    const onnx_tensor *wd = onnx_fuse_const_input(m, dw, 1);
    if (!wd || wd->dtype != INFERD_DTYPE_FP32 || wd->ndim != 4 || wd->dims[1] != 1 ||
        wd->dims[2] > NN_PHASE_MAX_K || wd->dims[3] > NN_PHASE_MAX_K)
        return 0;
    const int pi = onnx_fuse_producer(m, v);
    if (pi < 0 || onnx_fuse_sole_consumer(m, v) != di) return 0;
    const onnx_node *pw = &m->nodes[pi];
    if (strcmp(pw->op_type, "Conv") != 0 || pw->n_inputs < 2 || pw->n_inputs > 3 ||
        !onnx_fuse_only_first_output(pw) || pw->inputs[0] < 0 ||
        onnx_node_attr(pw, "inferd_residual") || onnx_node_attr(pw, "inferd_input_activation"))
        return 0;
    /* the 1x1's own activation (EfficientNet's SiLU, MobileNetV3's HardSwish) becomes the
     * depthwise Conv's input activation, which the expansion's GEMM store applies; only when
     * the depthwise Conv has none of its own, and not Relu (nn_expand_takes_act) */
    const char *pact = onnx_attr_string(pw, "inferd_activation", NULL);
    if (pact) {
        const onnx_activation a = {.kind = onnx_activation_kind_from_op(pact)};
        if (onnx_node_attr(dw, "inferd_input_activation") || !nn_expand_takes_act(&a)) return 0;
    }
    const onnx_tensor *wp = onnx_fuse_const_input(m, pw, 1);
    if (!wp || wp->dtype != INFERD_DTYPE_FP32 || wp->ndim != 4 || wp->dims[2] != 1 ||
        wp->dims[3] != 1 || !bias_ok(m, pw, 2, wp->dims[0]))
        return 0;
    /* a plain 1x1: stride 1, no pads; and the depthwise Conv's groups are its channels */
    const char *ap = onnx_attr_string(pw, "auto_pad", "NOTSET");
    if (onnx_attr_int(pw, "group", 1) != 1 || !ints_all(pw, "strides", 1) ||
        !ints_all(pw, "dilations", 1) || !ints_all(pw, "pads", 0) ||
        (strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0) ||
        onnx_attr_int(dw, "group", 1) != wp->dims[0] || wd->dims[0] % wp->dims[0] != 0)
        return 0;
    const int x = pw->inputs[0], wpv = pw->inputs[1];
    const int bpv = pw->n_inputs > 2 ? pw->inputs[2] : -1;
    if (onnx_fuse_set_input(m, dw, 4, wpv) < 0 || onnx_fuse_set_input(m, dw, 5, bpv) < 0) return -1;
    onnx_attr a = {.name = "inferd_expand", .type = ONNX_ATTR_INT, .i = 1};
    if (onnx_fuse_add_attr(m, dw, &a) < 0) return -1;
    if (pact) {
        onnx_attr attrs[3] = {
            {.name = "inferd_input_activation",
             .type = ONNX_ATTR_STRING,
             .s = pact,
             .s_len = strlen(pact)},
            {.name = "inferd_input_alpha",
             .type = ONNX_ATTR_FLOAT,
             .f = onnx_attr_float(pw, "inferd_alpha", 0)},
            {.name = "inferd_input_beta",
             .type = ONNX_ATTR_FLOAT,
             .f = onnx_attr_float(pw, "inferd_beta", 0)},
        };
        for (int i = 0; i < 3; i++)
            if (onnx_fuse_add_attr(m, dw, &attrs[i]) < 0) return -1;
    }
    dw->inputs[0] = x;
    m->nodes[pi].op = NULL;
    return 1;
}
