/* Load-time fusion of attention's Q / K / V split: Split(X, axis -1, constant sizes) whose every
 * output reaches one operand of a MatMul only through a Reshape that splits it into heads
 * (constant shape, its last two dims multiplying to the output's width) goes away with the
 * Reshapes; each MatMul reads its columns of X in place (inferd_split_a / inferd_split_b =
 * [offset, width, shape...], ops/matmul.c), so X is not copied out in three parts. Runs after
 * the transpose pass, whose perms then apply to the reshaped view. */
#include <string.h>

#include "arena.h"
#include "fuse.h"

#define SPLIT_MAX_OUTPUTS 8

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
        sp->n_outputs < 1 || sp->n_outputs > SPLIT_MAX_OUTPUTS ||
        onnx_attr_int(sp, "axis", 0) != -1)
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
