/* Batch slicing of a graph's first layers: when the whole graph may not run in slices (its
 * weights exceed the L3, or a later node mixes samples), its first nodes may, where the
 * activations are largest and the weights smallest (ConvNeXt-T: 109 MB of weights, but its
 * 56x56 stage's 4.8 MB per image left the cache at batch 8). See docs/onnx-runtime.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_shape.h"

/* Weights the prefix may read: they stay in the L3 from one slice to the next. */
#define PREFIX_WEIGHT_BYTES ((size_t)8 << 20)
/* Per-sample activation traffic the prefix's weights are set against (as batch.c). */
#define PREFIX_WEIGHT_BYTES_PER_SAMPLE ((size_t)4 << 20)
/* Shorter prefixes (a first Conv before a Shape, an RNN's input Transpose) would only add the
 * copies and the per-slice overhead. */
#define PREFIX_MIN_NODES 8

static size_t node_weights(const onnx_model *m, const onnx_node *n)
{
    size_t w = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const int v = n->inputs[k];
        if (v < 0) continue;
        const onnx_value *val = &m->values[v];
        if (val->kind == ONNX_VALUE_CONST && (val->t.data || val->packed_only))
            w += onnx_tensor_nbytes(&val->t);
    }
    return w;
}

/* The values nodes [0, cut) make that nodes [cut, n) read or that are graph outputs: their
 * count (each listed once into out when out is not NULL), or -1 if one is not batched (a shape
 * value computed from the slice's batch must not reach the whole-batch nodes). made: scratch
 * of n_values bytes. */
static int crossing(const onnx_model *m, const int *rank, int cut, unsigned char *made, int *out)
{
    memset(made, 0, (size_t)m->n_values);
    for (int k = 0; k < cut; k++)
        for (int j = 0; j < m->nodes[k].n_outputs; j++)
            if (m->nodes[k].outputs[j] >= 0) made[m->nodes[k].outputs[j]] = 1;
    int c = 0;
    for (int k = cut; k <= m->n_nodes; k++) {
        const int nv = k < m->n_nodes ? m->nodes[k].n_inputs : m->n_outputs;
        for (int j = 0; j < nv; j++) {
            const int v = k < m->n_nodes ? m->nodes[k].inputs[j] : m->output_values[j];
            if (v < 0 || made[v] != 1) continue;
            if (rank[v] < 1) return -1;
            made[v] = 2;
            if (out) out[c] = v;
            c++;
        }
    }
    return c;
}

int batch_prefix_plan(onnx_model *m, const int *rank, int cut)
{
    for (int k = 0; k < m->n_nodes; k++) /* Concat without copies needs dim 0 = 1 (batch.c) */
        if (!strcmp(m->nodes[k].op_type, "Concat")) return 0;
    size_t w = 0;
    int p = 0;
    while (p < cut) {
        const size_t nw = node_weights(m, &m->nodes[p]);
        if (w + nw > PREFIX_WEIGHT_BYTES) break;
        w += nw;
        p++;
    }
    unsigned char *made = malloc((size_t)m->n_values + 1);
    if (!made) return -1;
    int n = -1;
    for (; p >= PREFIX_MIN_NODES; p--) { /* cut where only batched values cross */
        n = crossing(m, rank, p, made, NULL);
        if (n >= 1) break;
    }
    int rc = 0;
    if (p >= PREFIX_MIN_NODES && n >= 1) {
        int *list = onnx_arena_calloc(&m->arena, (size_t)n, sizeof *list);
        if (list) {
            crossing(m, rank, p, made, list);
            w = 0;
            for (int k = 0; k < p; k++) w += node_weights(m, &m->nodes[k]);
            m->batch_cut = p;
            m->n_batch_cross = n;
            m->batch_cross = list;
            const size_t slice = w / PREFIX_WEIGHT_BYTES_PER_SAMPLE;
            m->batch_slice = slice < 1 ? 1 : (int64_t)slice;
            const size_t len = strlen(m->batch_why);
            snprintf(m->batch_why + len, sizeof m->batch_why - len, "; nodes 0-%d of %d sliced",
                     p - 1, m->n_nodes);
        } else rc = -1;
    }
    free(made);
    return rc;
}
