/* Load-time fusion of attention's Q / K / V split: Split(X, last axis, constant sizes) whose every
 * output reaches one operand of a MatMul only through a Reshape that splits it into heads
 * (constant shape, its last two dims multiplying to the output's width) goes away with the
 * Reshapes; each MatMul reads its columns of X in place (inferd_split_a / inferd_split_b =
 * [offset, width, shape...], ops/matmul.c), so X is not copied out in three parts. Runs after
 * the transpose pass, whose perms then apply to the reshaped view. */
#include <string.h>

#include "arena.h"
#include "fuse.h"

#define SPLIT_MAX_OUTPUTS 8
/* Nodes static_rank may look at for one value: enough for a projection's chain, and bounded
 * whatever the graph (a rank through two-input nodes would otherwise fan out). */
#define RANK_STEPS 64

/* The rank value v has whenever the model runs, as far as the load can tell, or -1: a graph
 * input's declared rank (the session refuses inputs of another), a constant's, and through
 * the few ops a projection is made of. *steps bounds the walk. */
static int static_rank(const onnx_model *m, int v, int *steps)
{
    if (v < 0 || v >= m->n_values || --*steps < 0) return -1;
    const onnx_value *val = &m->values[v];
    if (val->kind == ONNX_VALUE_CONST) return val->t.ndim;
    if (val->kind == ONNX_VALUE_INPUT) {
        for (int i = 0; i < m->n_inputs; i++)
            if (m->input_values[i] == v) return m->input_info[i].ndim;
        return -1;
    }
    int p = onnx_fuse_producer(m, v);
    if (p < 0) return -1;
    const onnx_node *n = &m->nodes[p];
    if (n->n_inputs < 1 || n->outputs[0] != v) return -1;
    static const char *const same[] = {"Relu", "Gelu",     "Erf",       "Sigmoid",
                                       "Tanh", "Identity", "Cast",      "Softmax",
                                       "Silu", "Dropout",  "Transpose", "LayerNormalization"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++)
        if (strcmp(n->op_type, same[i]) == 0) return static_rank(m, n->inputs[0], steps);
    if (strcmp(n->op_type, "Gemm") == 0) return 2;
    if (strcmp(n->op_type, "Reshape") == 0) {
        const onnx_tensor *t = onnx_fuse_const_input(m, n, 1);
        return t && t->ndim == 1 && t->dims[0] <= ONNX_MAX_DIMS ? (int)t->dims[0] : -1;
    }
    const int bcast = strcmp(n->op_type, "Add") == 0 || strcmp(n->op_type, "Mul") == 0 ||
                      strcmp(n->op_type, "Sub") == 0 || strcmp(n->op_type, "Div") == 0;
    const int mm = strcmp(n->op_type, "MatMul") == 0 && !onnx_node_attr(n, "inferd_split_a") &&
                   !onnx_node_attr(n, "inferd_split_b");
    if ((!bcast && !mm) || n->n_inputs < 2) return -1;
    const int ra = static_rank(m, n->inputs[0], steps);
    const int rb = ra < 0 ? -1 : static_rank(m, n->inputs[1], steps);
    if (ra < 0 || rb < 0) return -1;
    if (bcast) return ra > rb ? ra : rb;
    if (ra < 1 || rb < 1) return -1;
    if (ra == 1 || rb == 1) return ra == 1 ? rb - 1 : ra - 1; /* a 1-D operand's dim goes */
    return ra > rb ? ra : rb;
}

/* 1 if Split node sp cuts its input's last axis: axis -1, or the positive axis rank - 1 when
 * the rank is known at load. Any other negative axis counts from the end, so it is never the
 * last. */
static int splits_last_axis(const onnx_model *m, const onnx_node *sp)
{
    const int64_t axis = onnx_attr_int(sp, "axis", 0);
    if (axis == -1) return 1;
    if (axis < 0) return 0;
    int steps = RANK_STEPS;
    const int r = static_rank(m, sp->inputs[0], &steps);
    return r >= 1 && axis == r - 1;
}

/* The Split's sizes along its axis (constant input 1 from opset 13, attribute before), or -1. */
static int split_sizes(const onnx_model *m, const onnx_node *sp, int64_t *sizes)
{
    const int64_t *s = NULL;
    int64_t n = -1;
    if (sp->opset >= 13) {
        const onnx_tensor *t = onnx_fuse_const_input(m, sp, 1);
        if (t && t->dtype == INFERD_DTYPE_INT64 && t->ndim == 1 && t->data)
            s = t->data, n = t->dims[0];
    } else {
        n = onnx_attr_ints(sp, "split", &s);
    }
    if (!s || n != sp->n_outputs) return -1;
    for (int j = 0; j < n; j++) {
        if (s[j] <= 0) return -1;
        sizes[j] = s[j];
    }
    return 0;
}

/* The Reshape reading only value v into heads: its node and constant shape, or -1. */
static int head_reshape(const onnx_model *m, int v, int64_t width, const onnx_tensor **shape)
{
    int ri = onnx_fuse_sole_consumer(m, v);
    if (ri < 0) return -1;
    const onnx_node *r = &m->nodes[ri];
    if (strcmp(r->op_type, "Reshape") != 0 || r->n_inputs != 2 || r->inputs[0] != v ||
        !onnx_fuse_only_first_output(r) || onnx_attr_int(r, "allowzero", 0) != 0)
        return -1;
    const onnx_tensor *s = onnx_fuse_const_input(m, r, 1);
    if (!s || s->dtype != INFERD_DTYPE_INT64 || s->ndim != 1 || !s->data || s->dims[0] < 2 ||
        s->dims[0] > ONNX_MAX_DIMS)
        return -1;
    const int64_t *d = s->data, n = s->dims[0];
    if (d[n - 1] <= 0 || d[n - 2] <= 0 || d[n - 1] > width || d[n - 2] * d[n - 1] != width)
        return -1;
    *shape = s;
    return ri;
}

/* The MatMul operand slot (0 or 1) reading value v, with the MatMul in *mi, or -1. */
static int matmul_slot(const onnx_model *m, int v, int *mi)
{
    int i = onnx_fuse_sole_consumer(m, v);
    if (i < 0) return -1;
    const onnx_node *mm = &m->nodes[i];
    if (strcmp(mm->op_type, "MatMul") != 0 || mm->n_inputs < 2 || mm->n_outputs != 1) return -1;
    int k = mm->inputs[0] == v ? 0 : mm->inputs[1] == v ? 1 : -1;
    if (k < 0 || mm->inputs[1 - k] == v) return -1;
    *mi = i;
    return k;
}

int onnx_fuse_matmul_split(onnx_model *m, int si)
{
    const onnx_node *sp = &m->nodes[si];
    if (strcmp(sp->op_type, "Split") != 0 || sp->n_inputs < 1 || sp->inputs[0] < 0 ||
        sp->n_outputs < 1 || sp->n_outputs > SPLIT_MAX_OUTPUTS || !splits_last_axis(m, sp))
        return 0;
    int64_t sizes[SPLIT_MAX_OUTPUTS];
    int reshape[SPLIT_MAX_OUTPUTS], mm[SPLIT_MAX_OUTPUTS], slot[SPLIT_MAX_OUTPUTS];
    const onnx_tensor *shape[SPLIT_MAX_OUTPUTS];
    if (split_sizes(m, sp, sizes) < 0) return 0;
    for (int j = 0; j < sp->n_outputs; j++) {
        if (sp->outputs[j] < 0) return 0;
        reshape[j] = head_reshape(m, sp->outputs[j], sizes[j], &shape[j]);
        if (reshape[j] < 0) return 0;
        slot[j] = matmul_slot(m, m->nodes[reshape[j]].outputs[0], &mm[j]);
        if (slot[j] < 0) return 0;
        const char *name = slot[j] ? "inferd_split_b" : "inferd_split_a";
        if (onnx_node_attr(&m->nodes[mm[j]], name)) return 0;
    }
    const int x = sp->inputs[0], n_out = sp->n_outputs;
    int64_t off = 0;
    for (int j = 0; j < n_out; j++) {
        const int r = (int)shape[j]->dims[0];
        int64_t *ints = onnx_arena_calloc(&m->arena, (size_t)r + 2, sizeof *ints);
        if (!ints) return -1;
        ints[0] = off, ints[1] = sizes[j];
        memcpy(ints + 2, shape[j]->data, (size_t)r * sizeof ints[0]);
        onnx_attr a = {.name = slot[j] ? "inferd_split_b" : "inferd_split_a",
                       .type = ONNX_ATTR_INTS,
                       .ints = ints,
                       .n = 2 + r};
        if (onnx_fuse_add_attr(m, &m->nodes[mm[j]], &a) < 0) return -1;
        m->nodes[mm[j]].inputs[slot[j]] = x;
        m->nodes[reshape[j]].op = NULL;
        off += sizes[j];
    }
    m->nodes[si].op = NULL;
    return 1;
}
