/* Load-time fusion of a SqueezeExcite into the 1x1 Conv that alone reads it (the projection of
 * EfficientNet's and MobileNetV3's inverted residual blocks): the SE makes only its gates and
 * the 1x1 multiplies them into its weights (docs/onnx-runtime.md, "Fusions"). */
#include <string.h>

#include "fuse.h"

/* A ints attribute absent or all equal to v. */
static int ints_all(const onnx_node *n, const char *name, int64_t v)
{
    const int64_t *a;
    int k = onnx_attr_ints(n, name, &a);
    for (int i = 0; i < k; i++)
        if (a[i] != v) return 0;
    return 1;
}

/* Node pc is a plain 1x1 Conv (2-D, stride 1, no pads, group 1, constant float32 weights
 * and bias, perhaps a fused residual and activation, nothing else fused): its weights, or
 * NULL. */
static const onnx_tensor *plain_pointwise(const onnx_model *m, const onnx_node *pc)
{
    if (strcmp(pc->op_type, "Conv") != 0 || pc->n_inputs < 2 || pc->n_inputs > 4 ||
        !onnx_fuse_only_first_output(pc) || pc->inputs[0] < 0 ||
        onnx_node_attr(pc, "inferd_expand") || onnx_node_attr(pc, "inferd_input_activation"))
        return NULL;
    const int v = pc->inputs[0];
    for (int k = 1; k < pc->n_inputs; k++)
        if (pc->inputs[k] == v) return NULL;
    const int res = onnx_attr_int(pc, "inferd_residual", 0);
    if ((res && (pc->n_inputs < 4 || pc->inputs[3] < 0)) || (!res && pc->n_inputs > 3)) return NULL;
    const onnx_tensor *wp = onnx_fuse_const_input(m, pc, 1);
    if (!wp || wp->dtype != INFERD_DTYPE_FP32 || wp->ndim != 4 || wp->dims[2] != 1 ||
        wp->dims[3] != 1)
        return NULL;
    if (pc->n_inputs > 2 && pc->inputs[2] >= 0) {
        const onnx_tensor *b = onnx_fuse_const_input(m, pc, 2);
        if (!b || b->dtype != INFERD_DTYPE_FP32 || b->ndim != 1 || b->dims[0] != wp->dims[0])
            return NULL;
    }
    const char *ap = onnx_attr_string(pc, "auto_pad", "NOTSET");
    if (onnx_attr_int(pc, "group", 1) != 1 || !ints_all(pc, "strides", 1) ||
        !ints_all(pc, "dilations", 1) || !ints_all(pc, "pads", 0) ||
        (strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0))
        return NULL;
    return wp;
}

int onnx_fuse_se_project(onnx_model *m, int pi)
{
    onnx_node *pc = &m->nodes[pi];
    const onnx_tensor *wp = plain_pointwise(m, pc);
    if (!wp || onnx_node_attr(pc, "inferd_input_scale")) return 0;
    const int v = pc->inputs[0], si = onnx_fuse_producer(m, v);
    if (si < 0 || onnx_fuse_sole_consumer(m, v) != pi) return 0;
    onnx_node *se = &m->nodes[si];
    if (strcmp(se->op_type, "SqueezeExcite") != 0 || se->n_inputs < 1 || se->inputs[0] < 0 ||
        !onnx_fuse_only_first_output(se) || onnx_node_attr(se, "inferd_gate_only"))
        return 0;
    /* the 1x1 reads X and the gates; SqueezeExcite makes only the gates (N x C x 1 x 1) */
    onnx_attr a = {.name = "inferd_gate_only", .type = ONNX_ATTR_INT, .i = 1};
    onnx_attr b = {.name = "inferd_input_scale", .type = ONNX_ATTR_INT, .i = 1};
    if (onnx_fuse_add_attr(m, se, &a) < 0 || onnx_fuse_set_input(m, pc, 4, v) < 0 ||
        onnx_fuse_add_attr(m, pc, &b) < 0)
        return -1;
    pc->inputs[0] = se->inputs[0];
    return 1;
}
