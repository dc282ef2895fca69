/* Load-time fusion of the squeeze-and-excitation block (EfficientNet, MobileNetV3, MNASNet,
 * RegNetY) as it stands after the activation pass:
 *   g = GlobalAveragePool(x); a = Conv1x1[act](g, W1, B1); s = Conv1x1[gate](a, W2, B2);
 *   y = Mul(x, s)
 * into one SqueezeExcite node at the pool's place (ops/squeeze_excite.c: one pass to pool, two
 * small GEMMs, one pass to scale). Every intermediate value must have the next node as its only
 * reader. */
#include <string.h>

#include "fuse.h"
#include "registry.h"

/* Node n is a plain 1x1 Conv of its input v: constant float32 weights [out, in, 1, 1], group 1,
 * no pads, no residual or other fused input, bias absent or constant. The activation it carries
 * (inferd_activation) is kept by the caller. */
static int plain_pointwise(const onnx_model *m, const onnx_node *n, int v)
{
    if (strcmp(n->op_type, "Conv") != 0 || n->n_inputs < 2 || n->n_inputs > 3 ||
        n->inputs[0] != v || !onnx_fuse_only_first_output(n))
        return 0;
    const onnx_tensor *w = onnx_fuse_const_input(m, n, 1);
    if (!w || w->dtype != INFERD_DTYPE_FP32 || w->ndim != 4 || w->dims[2] != 1 || w->dims[3] != 1)
        return 0;
    if (n->n_inputs == 3 && n->inputs[2] >= 0) {
        const onnx_tensor *b = onnx_fuse_const_input(m, n, 2);
        if (!b || b->dtype != INFERD_DTYPE_FP32 || b->ndim != 1 || b->dims[0] != w->dims[0])
            return 0;
    }
    if (onnx_attr_int(n, "group", 1) != 1) return 0;
    const char *pad = onnx_attr_string(n, "auto_pad", "NOTSET");
    if (strcmp(pad, "NOTSET") != 0 && strcmp(pad, "VALID") != 0) return 0;
    const onnx_attr *pads = onnx_node_attr(n, "pads");
    if (pads) {
        if (pads->type != ONNX_ATTR_INTS) return 0;
        for (size_t i = 0; i < pads->n; i++)
            if (pads->ints[i] != 0) return 0;
    }
    for (int i = 0; i < n->n_attrs; i++) { /* the activation is the only fusion it may carry */
        const char *a = n->attrs[i].name;
        if (strncmp(a, "inferd_", 7) == 0 && strcmp(a, "inferd_activation") != 0 &&
            strcmp(a, "inferd_alpha") != 0 && strcmp(a, "inferd_beta") != 0)
            return 0;
    }
    return 1;
}

static onnx_attr string_attr(const char *name, const char *s)
{
    return (onnx_attr){.name = name, .type = ONNX_ATTR_STRING, .s = s, .s_len = strlen(s)};
}

int onnx_fuse_squeeze_excite(onnx_model *m, int pi)
{
    onnx_node *pool = &m->nodes[pi];
    if (strcmp(pool->op_type, "GlobalAveragePool") != 0 || pool->n_inputs != 1 ||
        !onnx_fuse_only_first_output(pool))
        return 0;
    const int x = pool->inputs[0];
    if (x < 0 || m->values[x].kind == ONNX_VALUE_CONST) return 0;
    const int c1 = onnx_fuse_sole_consumer(m, pool->outputs[0]);
    if (c1 < 0 || !plain_pointwise(m, &m->nodes[c1], pool->outputs[0])) return 0;
    const int c2 = onnx_fuse_sole_consumer(m, m->nodes[c1].outputs[0]);
    if (c2 < 0 || !plain_pointwise(m, &m->nodes[c2], m->nodes[c1].outputs[0])) return 0;
    const onnx_tensor *w1 = onnx_fuse_const_input(m, &m->nodes[c1], 1),
                      *w2 = onnx_fuse_const_input(m, &m->nodes[c2], 1);
    if (w2->dims[0] != w1->dims[1] || w2->dims[1] != w1->dims[0]) return 0; /* C -> R -> C */
    const int s = m->nodes[c2].outputs[0], mi = onnx_fuse_sole_consumer(m, s);
    if (mi < 0) return 0;
    const onnx_node *mul = &m->nodes[mi];
    if (strcmp(mul->op_type, "Mul") != 0 || mul->n_inputs != 2 || !onnx_fuse_only_first_output(mul))
        return 0;
    if (!((mul->inputs[0] == x && mul->inputs[1] == s) ||
          (mul->inputs[0] == s && mul->inputs[1] == x)))
        return 0;
    const onnx_op *se = onnx_registry_find("SqueezeExcite", ONNX_OPSET_INTERNAL);
    if (!se) return 0;
    const onnx_node *n1 = &m->nodes[c1], *n2 = &m->nodes[c2];
    /* the attribute strings live in the model's arena (n1, n2's attributes) or are literals */
    onnx_attr attrs[6] = {
        string_attr("inferd_activation", onnx_attr_string(n1, "inferd_activation", "")),
        {.name = "inferd_alpha",
         .type = ONNX_ATTR_FLOAT,
         .f = onnx_attr_float(n1, "inferd_alpha", 0)},
        {.name = "inferd_beta",
         .type = ONNX_ATTR_FLOAT,
         .f = onnx_attr_float(n1, "inferd_beta", 0)},
        string_attr("inferd_gate", onnx_attr_string(n2, "inferd_activation", "")),
        {.name = "inferd_gate_alpha",
         .type = ONNX_ATTR_FLOAT,
         .f = onnx_attr_float(n2, "inferd_alpha", 0)},
        {.name = "inferd_gate_beta",
         .type = ONNX_ATTR_FLOAT,
         .f = onnx_attr_float(n2, "inferd_beta", 0)},
    };
    const int in[5] = {x, n1->inputs[1], n1->n_inputs == 3 ? n1->inputs[2] : -1, n2->inputs[1],
                       n2->n_inputs == 3 ? n2->inputs[2] : -1};
    const int y = mul->outputs[0];
    pool->n_attrs = 0;
    for (int i = 0; i < 6; i++)
        if (attrs[i].type != ONNX_ATTR_STRING || attrs[i].s_len > 0)
            if (onnx_fuse_add_attr(m, pool, &attrs[i]) < 0) return -1;
    for (int k = 4; k >= 0; k--) /* the highest first: grows the input list once */
        if (onnx_fuse_set_input(m, pool, k, in[k]) < 0) return -1;
    /* the pool node becomes SqueezeExcite(x, ...): it runs after x exists and before y's readers */
    pool->op_type = "SqueezeExcite";
    pool->op = se;
    pool->outputs[0] = y;
    m->values[y].producer = pi;
    m->nodes[c1].op = NULL;
    m->nodes[c2].op = NULL;
    m->nodes[mi].op = NULL;
    return 1;
}
