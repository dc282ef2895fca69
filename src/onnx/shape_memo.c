/* The shape-subgraph memo (shape_memo.h): which nodes qualify, and their kept outputs. A kept
 * node's outputs are a function of the constants and of the Shape nodes' outputs only; while
 * each Shape node run so far in this run matched its kept output, so do they. */
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "shape_memo.h"

/* An output larger than this is not kept, nor one that would take the session's copies past
 * MEMO_BUDGET: shape tensors are a few int64s, but the masks made from shapes (Swin's shifted
 * window attention mask, 64 x 49 x 49 floats at 224x224; a causal mask) are larger. */
#define MEMO_MAX_BYTES ((size_t)1 << 20)
#define MEMO_BUDGET    ((size_t)8 << 20)

enum { MEMO_NONE = 0, MEMO_SHAPE, MEMO_KEEP };

typedef struct memo_out {
    onnx_tensor t; /* kept copy; t.data malloc'd (NULL if empty) */
    int have;
    int in_ndim; /* Shape nodes: the shape of the input it was made from */
    int64_t in_dims[ONNX_MAX_DIMS];
} memo_out;

struct onnx_shape_memo {
    const onnx_model *m;
    char *kind;     /* per node: MEMO_* */
    int *out_start; /* per node: its outputs' slots in outs (n_nodes + 1) */
    memo_out *outs;
    size_t kept; /* bytes of the kept copies, at most MEMO_BUDGET */
    int clean;   /* no Shape node differed in this run */
};

/* Operators whose outputs depend on their inputs (and attributes) only: the integer arithmetic
 * and shape manipulation of shape chains, and what builds masks and index tensors from shapes
 * (ConstantOfShape, Range, Expand, ScatterND, Transpose, comparisons, Where). */
static int memo_pure_op(const char *op)
{
    static const char ops[] =
        " Gather Unsqueeze Squeeze Concat Slice Cast Div Mul Add Sub Reshape Identity Floor Ceil"
        " Neg Abs Min Max Equal Where Sqrt ReduceProd Mod Flatten ConstantOfShape Range Expand"
        " Tile Transpose ScatterND ScatterElements GatherElements Not And Or Xor Less Greater"
        " LessOrEqual GreaterOrEqual Pow Sign ReduceSum ReduceMax ReduceMin Sum Size Trilu CumSum"
        " Pad ";
    const size_t n = strlen(op);
    for (const char *p = strstr(ops, op); n && p; p = strstr(p + 1, op))
        if (p[-1] == ' ' && p[n] == ' ') return 1;
    return 0;
}

onnx_shape_memo *onnx_shape_memo_new(const onnx_model *m)
{
    if (m->depth != 0 || m->n_nodes <= 0 || m->n_values <= 0) return NULL;
    onnx_shape_memo *sm = NULL;
    memo_out *outs = NULL;
    char *derived = calloc((size_t)m->n_values, 1); /* value made by a Shape or kept node */
    char *kind = calloc((size_t)m->n_nodes, 1);
    int *start = calloc((size_t)m->n_nodes + 1, sizeof *start);
    int n_keep = 0, n_outs = 0;
    if (!derived || !kind || !start) goto fail;
    /* values gathered across a batch cut (batch.c) stay ordinary buffers: mark them taken */
    for (int i = 0; i < m->n_batch_cross; i++)
        if (m->batch_cross[i] >= 0 && m->batch_cross[i] < m->n_values)
            derived[m->batch_cross[i]] = 2;
    for (int k = 0; k < m->n_nodes; k++) {
        const onnx_node *n = &m->nodes[k];
        int ok = n->n_outputs > 0 && n->n_captures == 0;
        if (ok && strcmp(n->op_type, "Shape") == 0) {
            kind[k] = MEMO_SHAPE;
        } else if (ok && memo_pure_op(n->op_type)) {
            int any = 0;
            for (int i = 0; i < n->n_inputs && ok; i++) {
                const int v = n->inputs[i];
                if (v < 0) continue;
                if (derived[v] == 1) any = 1;
                else if (m->values[v].kind != ONNX_VALUE_CONST) ok = 0;
            }
            /* outputs the caller or a Concat group owns stay ordinary buffers */
            for (int o = 0; o < n->n_outputs && ok; o++) {
                const int v = n->outputs[o];
                if (v >= 0 && (m->values[v].graph_output || derived[v] == 2 ||
                               (m->place_group && m->place_group[v] >= 0)))
                    ok = 0;
            }
            if (ok && any) kind[k] = MEMO_KEEP;
        }
        if (kind[k] != MEMO_NONE)
            for (int o = 0; o < n->n_outputs; o++)
                if (n->outputs[o] >= 0 && !derived[n->outputs[o]]) derived[n->outputs[o]] = 1;
        if (kind[k] == MEMO_KEEP) n_keep++;
        start[k] = n_outs;
        n_outs += kind[k] != MEMO_NONE ? n->n_outputs : 0;
    }
    start[m->n_nodes] = n_outs;
    if (n_keep == 0) goto fail; /* nothing to keep: no memo (not an error) */
    sm = calloc(1, sizeof *sm);
    outs = calloc((size_t)n_outs, sizeof *outs); /* n_outs >= n_keep > 0 */
    if (!sm || !outs) goto fail;
    free(derived);
    sm->m = m;
    sm->kind = kind;
    sm->out_start = start;
    sm->outs = outs;
    return sm;
fail:
    free(outs);
    free(sm);
    free(derived);
    free(kind);
    free(start);
    return NULL;
}

static void memo_drop(onnx_shape_memo *sm, memo_out *o)
{
    if (o->have) sm->kept -= onnx_tensor_nbytes(&o->t);
    free(o->t.data);
    memset(o, 0, sizeof *o);
}

void onnx_shape_memo_reset(onnx_shape_memo *sm)
{
    if (!sm) return;
    for (int i = 0; i < sm->out_start[sm->m->n_nodes]; i++) memo_drop(sm, &sm->outs[i]);
    sm->clean = 0;
}

void onnx_shape_memo_free(onnx_shape_memo *sm)
{
    if (!sm) return;
    onnx_shape_memo_reset(sm);
    free(sm->outs);
    free(sm->kind);
    free(sm->out_start);
    free(sm);
}

void onnx_shape_memo_begin(onnx_shape_memo *sm)
{
    if (sm) sm->clean = 1;
}

/* 1 if Shape node n's input has the shape its kept output was made from */
static int memo_shape_input_same(const memo_out *o, const onnx_exec *x, const onnx_node *n)
{
    if (n->n_inputs < 1 || n->inputs[0] < 0) return 0;
    const int v = n->inputs[0];
    const onnx_tensor *t = &x->vals[v];
    if (x->seqs[v] || x->none[v] || t->ndim < 0 || t->ndim != o->in_ndim) return 0;
    for (int d = 0; d < t->ndim; d++)
        if (t->dims[d] != o->in_dims[d]) return 0;
    return 1;
}

int onnx_shape_memo_skip(onnx_shape_memo *sm, onnx_exec *x, int k)
{
    if (!sm || sm->kind[k] == MEMO_NONE) return 0;
    const onnx_node *n = &sm->m->nodes[k];
    const memo_out *o = &sm->outs[sm->out_start[k]];
    /* a Shape node of an input shaped as last time would make the same output: not a change */
    if (sm->kind[k] == MEMO_SHAPE ? !memo_shape_input_same(o, x, n) : !sm->clean) return 0;
    for (int i = 0; i < n->n_outputs; i++)
        if (n->outputs[i] >= 0 && !o[i].have) return 0;
    for (int i = 0; i < n->n_outputs; i++) {
        const int v = n->outputs[i];
        if (v < 0) continue;
        onnx_exec_release(x, v);
        x->vals[v] = o[i].t; /* a view: no buffer of the exec owns it, release leaves it */
    }
    return 1;
}

/* 1 if t equals the kept copy */
static int memo_same(const memo_out *o, const onnx_tensor *t)
{
    if (!o->have || o->t.dtype != t->dtype || o->t.ndim != t->ndim) return 0;
    for (int d = 0; d < t->ndim; d++)
        if (o->t.dims[d] != t->dims[d]) return 0;
    const size_t nb = onnx_tensor_nbytes(t);
    return nb == 0 || memcmp(o->t.data, t->data, nb) == 0;
}

/* Keeps a copy of t (or nothing, when it is not a small plain tensor). */
static void memo_keep(onnx_shape_memo *sm, memo_out *o, const onnx_exec *x, int v)
{
    memo_drop(sm, o);
    const onnx_tensor *t = &x->vals[v];
    if (x->seqs[v] || x->none[v] || t->ndim < 0 || t->dtype == INFERD_DTYPE_BYTES) return;
    const size_t nb = onnx_tensor_nbytes(t);
    if (nb > MEMO_MAX_BYTES || nb > MEMO_BUDGET - sm->kept || (nb && !t->data)) return;
    o->t = *t;
    o->t.data = NULL;
    if (nb) {
        if (!(o->t.data = malloc(nb))) return;
        memcpy(o->t.data, t->data, nb);
    }
    o->have = 1;
    sm->kept += nb;
}

void onnx_shape_memo_ran(onnx_shape_memo *sm, const onnx_exec *x, int k)
{
    if (!sm || sm->kind[k] == MEMO_NONE) return;
    const onnx_node *n = &sm->m->nodes[k];
    memo_out *o = &sm->outs[sm->out_start[k]];
    for (int i = 0; i < n->n_outputs; i++) {
        const int v = n->outputs[i];
        if (v < 0) continue;
        if (sm->kind[k] == MEMO_SHAPE && memo_same(&o[i], &x->vals[v])) continue;
        if (sm->kind[k] == MEMO_SHAPE) sm->clean = 0;
        memo_keep(sm, &o[i], x, v);
    }
    if (sm->kind[k] == MEMO_SHAPE && n->n_inputs >= 1 && n->inputs[0] >= 0) {
        const onnx_tensor *t = &x->vals[n->inputs[0]];
        o[0].in_ndim = t->ndim;
        for (int d = 0; d < t->ndim && d < ONNX_MAX_DIMS; d++) o[0].in_dims[d] = t->dims[d];
    }
}
