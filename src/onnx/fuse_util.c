/* Graph helpers shared by the fusion passes (fuse.c and fuse_*.c; declared in fuse.h): who
 * produces and who reads a value, constant inputs, and adding attributes and inputs to a node. */
#include <string.h>

#include "fuse.h"

/* The single live node reading value v, or -1. Use counts are recomputed before each pass; within
 * a pass a fusion moves values' producers, and consumers only of values it removes. */
int onnx_fuse_sole_consumer(const onnx_model *m, int v)
{
    if (v < 0 || m->values[v].graph_output || m->values[v].n_consumers != 1) return -1;
    int c = m->values[v].last_use;
    return c >= 0 && m->nodes[c].op ? c : -1;
}

const onnx_tensor *onnx_fuse_const_input(const onnx_model *m, const onnx_node *n, int k)
{
    if (k >= n->n_inputs || n->inputs[k] < 0) return NULL;
    const onnx_value *v = &m->values[n->inputs[k]];
    return v->kind == ONNX_VALUE_CONST ? &v->t : NULL;
}

int onnx_fuse_only_first_output(const onnx_node *n)
{
    for (int k = 1; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0) return 0;
    return n->n_outputs >= 1 && n->outputs[0] >= 0;
}

int onnx_fuse_add_attr(onnx_model *m, onnx_node *n, const onnx_attr *a)
{
    onnx_attr *attrs = onnx_arena_calloc(&m->arena, (size_t)n->n_attrs + 1, sizeof *attrs);
    if (!attrs) return -1;
    if (n->n_attrs) memcpy(attrs, n->attrs, (size_t)n->n_attrs * sizeof *attrs);
    attrs[n->n_attrs] = *a;
    n->attrs = attrs;
    n->n_attrs++;
    return 0;
}

int onnx_fuse_set_input(onnx_model *m, onnx_node *n, int k, int v)
{
    if (k >= n->n_inputs) {
        int *inputs = onnx_arena_calloc(&m->arena, (size_t)k + 1, sizeof *inputs);
        if (!inputs) return -1;
        for (int i = 0; i <= k; i++) inputs[i] = i < n->n_inputs ? n->inputs[i] : -1;
        n->inputs = inputs;
        n->n_inputs = k + 1;
    }
    n->inputs[k] = v;
    return 0;
}

int onnx_fuse_producer(const onnx_model *m, int v)
{
    if (v < 0) return -1;
    int p = m->values[v].producer;
    return p >= 0 && m->nodes[p].op ? p : -1;
}

int onnx_fuse_scalar(const onnx_model *m, int v, float *out)
{
    if (v < 0 || m->values[v].kind != ONNX_VALUE_CONST) return 0;
    const onnx_tensor *t = &m->values[v].t;
    if (t->dtype != INFERD_DTYPE_FP32 || t->ndim != 0 || !t->data) return 0;
    *out = ((const float *)t->data)[0];
    return 1;
}
