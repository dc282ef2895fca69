/* Batch slicing: whether every node treats dim 0 as independent samples, so that a large batch
 * may run through the whole graph a few samples at a time (session.c). For memory-bound
 * networks that keeps each slice's activations in the cache between one layer and the next:
 * MobileNetV2 at batch 32 ran at 0.77x its batch-1 speed per image, its early activations
 * (5 MB per image) streaming through DRAM once per layer.
 *
 * The check is conservative: a whitelist of operators, with their weights constant and the
 * batch dim at axis 0 of every value derived from a graph input (ranks are tracked to tell
 * broadcasting constants from batched operands). One node outside it and the model always
 * runs whole batches, and so does a model whose weights do not fit the last-level cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_shape.h"
#include "model.h"

/* Per-sample activation traffic the weights are set against: a slice holds enough samples
 * that the weights (streamed once per slice) cost at most this much per sample. */
#define BATCH_WEIGHT_BYTES_PER_SAMPLE ((size_t)4 << 20)
/* The last-level cache a core sees (one CCD's L3 on current x86 servers). Not sysconf's
 * figure: in a VM that can be the whole host's (384 MB here, for a 32 MB L3 per core). */
#define BATCH_LLC_BYTES ((size_t)32 << 20)

static int is_op(const onnx_node *n, const char *t)
{
    return strcmp(n->op_type, t) == 0;
}

static int is_const(const onnx_model *m, const onnx_node *n, int k)
{
    return k < n->n_inputs && n->inputs[k] >= 0 && m->values[n->inputs[k]].kind == ONNX_VALUE_CONST;
}

static int absent_or_const(const onnx_model *m, const onnx_node *n, int k)
{
    return k >= n->n_inputs || n->inputs[k] < 0 || is_const(m, n, k);
}

/* Normalized axis attribute, or -1 if out of range. */
static int norm_axis(const onnx_node *n, int64_t def, int rank)
{
    int64_t a = onnx_attr_int(n, "axis", def);
    if (a < 0) a += rank;
    return a >= 0 && a < rank ? (int)a : -1;
}

/* A transpose fused into the node (fuse_matmul.c, fuse_cfirst.c: it reads a batched input or
 * writes its output through perm) keeps the samples on dim 0 only when perm[0] = 0:
 * Transpose(x, [1, 0, 2]) -> MatMul puts the batch on dim 1. */
static int perm_keeps_dim0(const onnx_node *n)
{
    static const char *const names[] = {"inferd_perm_a", "inferd_perm_x", "inferd_perm_y"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const onnx_attr *a = onnx_node_attr(n, names[i]);
        if (a && (a->type != ONNX_ATTR_INTS || a->n < 1 || a->ints[0] != 0)) return 0;
    }
    return 1;
}

/* Constant int64 input k of n (a shape, pads or axes): its values and count, or NULL. */
static const int64_t *const_ints(const onnx_model *m, const onnx_node *n, int k, int64_t *count)
{
    if (!is_const(m, n, k)) return NULL;
    const onnx_tensor *t = &m->values[n->inputs[k]].t;
    if (t->dtype != INFERD_DTYPE_INT64 || t->ndim != 1 || (!t->data && t->dims[0] > 0)) return NULL;
    *count = t->dims[0];
    return t->data;
}

/* Axes of a node: attribute "axes" before opset `input_from`, else constant input 1. Returns
 * the count (-1: none given or not constant); each axis normalized against rank, and 0 when
 * any is out of range or is dim 0 (the batch). */
static int64_t axes_off_batch(const onnx_model *m, const onnx_node *n, int input_from, int rank,
                              int *off_batch)
{
    const int64_t *ax = NULL;
    int64_t c = -1;
    if (n->opset < input_from) {
        int k = onnx_attr_ints(n, "axes", &ax);
        c = ax ? k : -1;
    } else if (n->n_inputs > 1 && n->inputs[1] >= 0) ax = const_ints(m, n, 1, &c);
    if (!ax) return -1;
    *off_batch = 1;
    for (int64_t i = 0; i < c; i++) {
        int64_t a = ax[i] < 0 ? ax[i] + rank : ax[i];
        if (a < 1 || a >= rank) *off_batch = 0;
    }
    return c;
}

/* Shape operators and reductions that keep samples on dim 0: their output rank, else -1.
 * r0: the rank of input 0. Every other input must be constant. */
static int shape_rank(const onnx_model *m, const onnx_node *n, int r0)
{
    for (int k = 1; k < n->n_inputs; k++)
        if (!absent_or_const(m, n, k)) return -1;
    int off = 0;
    if (is_op(n, "Transpose")) { /* no perm reverses the dims: dim 0 moves */
        const int64_t *perm = NULL;
        int c = onnx_attr_ints(n, "perm", &perm);
        return perm && c == r0 && perm[0] == 0 ? r0 : -1;
    }
    if (is_op(n, "Reshape")) { /* a constant shape that copies dim 0 (a 0 there) */
        int64_t c = 0;
        const int64_t *shape = const_ints(m, n, 1, &c);
        if (!shape || c < 1 || c > ONNX_MAX_DIMS || onnx_attr_int(n, "allowzero", 0) != 0)
            return -1;
        return shape[0] == 0 ? (int)c : -1;
    }
    if (is_op(n, "Squeeze") || is_op(n, "Unsqueeze")) {
        const int sq = is_op(n, "Squeeze");
        const int64_t c0 = axes_off_batch(m, n, 13, r0 + (sq ? 0 : 1), &off);
        if (c0 < 1 || !off) return -1; /* Squeeze without axes may drop a batch of 1 */
        const int64_t r = sq ? r0 - c0 : r0 + c0;
        if (!sq && c0 > 1) { /* Unsqueeze's axes count against the output's rank */
            axes_off_batch(m, n, 13, (int)r, &off);
            if (!off) return -1;
        }
        return r >= 1 && r <= ONNX_MAX_DIMS ? (int)r : -1;
    }
    if (is_op(n, "Pad")) { /* nothing added before or after dim 0 */
        const int64_t *pads = NULL;
        int64_t c = -1;
        if (n->opset < 11) {
            int k = onnx_attr_ints(n, "pads", &pads);
            c = k;
        } else {
            if (n->n_inputs > 3 && n->inputs[3] >= 0) return -1; /* axes */
            pads = const_ints(m, n, 1, &c);
        }
        return pads && c == 2 * (int64_t)r0 && pads[0] == 0 && pads[r0] == 0 ? r0 : -1;
    }
    if (strncmp(n->op_type, "Reduce", 6) == 0) {
        const int64_t c = axes_off_batch(m, n, is_op(n, "ReduceSum") ? 13 : 18, r0, &off);
        if (c < 1 || !off) return -1; /* no axes: every dim, the batch too */
        const int64_t r = onnx_attr_int(n, "keepdims", 1) ? r0 : r0 - c;
        return r >= 1 ? (int)r : -1;
    }
    if (is_op(n, "LayerNormalization")) return r0 >= 2 && norm_axis(n, -1, r0) >= 1 ? r0 : -1;
    return -1;
}

/* Rank of node n's output 0 when it maps samples to samples, else -1. rank[v] is the rank of
 * each batched value (-1 for the others). */
static int sample_rank(const onnx_model *m, const onnx_node *n, const int *rank)
{
    if (!perm_keeps_dim0(n)) return -1;
    for (int k = 1; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0) return -1; /* MaxPool's Indices count across the batch */
    if (n->n_outputs < 1 || n->outputs[0] < 0 || n->n_inputs < 1 || n->inputs[0] < 0) return -1;
    const int r0 = rank[n->inputs[0]];
    static const char *const unary[] = {
        "Relu",          "LeakyRelu", "Sigmoid",       "Tanh",
        "HardSigmoid",   "HardSwish", "Elu",           "Clip",
        "Identity",      "MaxPool",   "AveragePool",   "GlobalAveragePool",
        "GlobalMaxPool", "Silu",      "SqueezeExcite", "Gelu",
        "Erf",           "Sqrt",      "Exp",           "Neg",
        "Abs",           "Softplus"};
    for (size_t i = 0; i < sizeof unary / sizeof unary[0]; i++) {
        if (!is_op(n, unary[i])) continue;
        for (int k = 1; k < n->n_inputs; k++)
            if (!absent_or_const(m, n, k)) return -1;
        return r0 >= 1 ? r0 : -1;
    }
    if (is_op(n, "Conv")) {
        if (r0 < 3 || !is_const(m, n, 1) || !absent_or_const(m, n, 2)) return -1;
        if (n->n_inputs > 3 && n->inputs[3] >= 0 && rank[n->inputs[3]] != r0) return -1;
        /* inputs 4, 5: the weights and bias of a 1x1 Conv fused in (inferd_expand) */
        for (int k = 4; k < n->n_inputs; k++)
            if (!absent_or_const(m, n, k)) return -1;
        return n->n_inputs <= 6 ? r0 : -1;
    }
    if (is_op(n, "BatchNormalization")) {
        for (int k = 1; k < 5; k++)
            if (!is_const(m, n, k)) return -1;
        return onnx_attr_int(n, "training_mode", 0) == 0 && r0 >= 2 ? r0 : -1;
    }
    if (is_op(n, "Add") || is_op(n, "Sub") || is_op(n, "Mul") || is_op(n, "Div")) {
        if (n->n_inputs != 2) return -1;
        int rb = -1;
        for (int k = 0; k < 2; k++) { /* batched operands: one rank, so dim 0 lines up */
            int v = n->inputs[k];
            if (v < 0) return -1;
            if (rank[v] >= 1 && rb >= 0 && rank[v] != rb) return -1;
            if (rank[v] >= 1) rb = rank[v];
        }
        for (int k = 0; k < 2; k++) { /* constants broadcast over the other dims only */
            if (rank[n->inputs[k]] >= 1) continue;
            if (!is_const(m, n, k)) return -1;
            const onnx_tensor *c = &m->values[n->inputs[k]].t;
            if (c->ndim > rb || (c->ndim == rb && c->dims[0] != 1)) return -1;
        }
        return rb;
    }
    if (is_op(n, "Flatten"))
        return r0 >= 2 && n->n_inputs == 1 && norm_axis(n, 1, r0) >= 1 ? 2 : -1;
    if (is_op(n, "Gemm")) {
        if (r0 != 2 || onnx_attr_int(n, "transA", 0) != 0 || !is_const(m, n, 1)) return -1;
        if (n->n_inputs > 2 && n->inputs[2] >= 0) {
            if (!is_const(m, n, 2)) return -1;
            const onnx_tensor *c = &m->values[n->inputs[2]].t;
            if (c->ndim == 2 && c->dims[0] != 1) return -1;
        }
        return 2;
    }
    if (is_op(n, "MatMul")) {
        if (r0 < 2 || !is_const(m, n, 1) || m->values[n->inputs[1]].t.ndim != 2) return -1;
        /* input 3: a residual added to the output (fuse_matmul.c), batched like it */
        if (n->n_inputs > 3 && n->inputs[3] >= 0 && rank[n->inputs[3]] != r0) return -1;
        return absent_or_const(m, n, 2) && n->n_inputs <= 4 ? r0 : -1;
    }
    if (is_op(n, "Concat")) { /* batched operands of one rank, joined along a dim other than 0 */
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] < 0 || rank[n->inputs[k]] != r0) return -1;
        return r0 >= 2 && norm_axis(n, n->opset < 4 ? 1 : 0, r0) >= 1 ? r0 : -1;
    }
    if (r0 >= 1) {
        int r = shape_rank(m, n, r0);
        if (r >= 1) return r;
    }
    if (is_op(n, "Softmax") || is_op(n, "LogSoftmax"))
        return r0 >= 2 && n->n_inputs == 1 && norm_axis(n, n->opset < 13 ? 1 : -1, r0) >= 1 ? r0
                                                                                            : -1;
    return -1;
}

int onnx_graph_batch_plan(onnx_model *m)
{
    m->batch_slice = 0;
    m->batch_why[0] = 0;
    m->batch_cut = m->n_nodes;
    m->n_batch_cross = 0;
    m->batch_cross = NULL;
    if (m->n_inputs < 1) {
        snprintf(m->batch_why, sizeof m->batch_why, "no inputs");
        return 0;
    }
    int *rank = malloc((size_t)m->n_values * sizeof *rank);
    batch_sv *sv = malloc((size_t)m->n_values * sizeof *sv); /* shape values (batch_shape.c) */
    if (!rank || !sv) {
        free(rank);
        free(sv);
        return -1;
    }
    for (int v = 0; v < m->n_values; v++) {
        rank[v] = -1;
        sv[v].len = -1;
    }
    int ok = 1;
    for (int i = 0; i < m->n_inputs && ok; i++) { /* inputs: dim 0 symbolic or unknown */
        const onnx_value_info *info = &m->input_info[i];
        if (info->ndim < 1 || info->dims[0] >= 0) {
            snprintf(m->batch_why, sizeof m->batch_why, "input '%s' has no symbolic dim 0",
                     info->name);
            ok = 0;
        } else rank[m->input_values[i]] = info->ndim;
    }
    int has_concat = 0; /* Concat without copies (place.c) needs dim 0 = 1: slices of one */
    int cut = ok ? m->n_nodes : 0; /* nodes [0, cut) map samples to samples */
    int n_shape = 0;               /* of them, nodes computing shape values */
    for (int k = 0; k < m->n_nodes && ok; k++) {
        const onnx_node *n = &m->nodes[k];
        if (batch_shape_node(m, n, rank, sv)) { /* computes sizes, not samples */
            n_shape++;
            continue;
        }
        int r = batch_shape_use(m, n, rank, sv);
        if (r == 0) r = sample_rank(m, n, rank);
        has_concat |= is_op(n, "Concat");
        if (r < 1) {
            snprintf(m->batch_why, sizeof m->batch_why, "node %d '%s' (%s)", k,
                     n->name ? n->name : "", n->op_type);
            ok = 0;
            cut = k;
        } else rank[n->outputs[0]] = r;
    }
    for (int i = 0; i < m->n_outputs && ok; i++)
        if (rank[m->output_values[i]] < 1) {
            snprintf(m->batch_why, sizeof m->batch_why, "output '%s' not batched",
                     m->output_info[i].name);
            ok = 0;
        }
    size_t weights = onnx_graph_weight_bytes(m);
    /* Weights that do not stay in the last-level cache from one slice to the next would be
     * read from DRAM once per slice instead of once per batch: ResNet-18 (45 MB) ran 4%
     * slower in slices of 11 than whole at batch 32 on a 32 MB L3, 10 % slower in slices of
     * 2 or 4 at batch 8. Below the L3 they pay: EfficientNet-B0 (20 MB) at batch 8 in slices
     * of 4 took 0.78x the CPU time of the whole batch. */
    if (ok && weights > BATCH_LLC_BYTES) {
        snprintf(m->batch_why, sizeof m->batch_why, "weights %zu MiB above %zu MiB", weights >> 20,
                 BATCH_LLC_BYTES >> 20);
        ok = 0;
    }
    /* Shape computations run again in every slice with nothing to gain there, ~1.5 us a node:
     * ShuffleNetV2 (330 of its 500 nodes) at batch 8 in slices of one spent 0.6 ms per image
     * in them, more than its Convs gained (1.13 -> 1.27 ms per image in all). */
    if (ok && n_shape > m->n_nodes - n_shape) {
        snprintf(m->batch_why, sizeof m->batch_why, "%d of %d nodes compute shapes", n_shape,
                 m->n_nodes);
        ok = 0;
    }
    int rc = 0;
    if (ok) {
        size_t slice = weights / BATCH_WEIGHT_BYTES_PER_SAMPLE;
        m->batch_slice = slice < 1 || has_concat ? 1 : (int64_t)slice;
    } else rc = batch_prefix_plan(m, rank, cut); /* perhaps the first layers, in slices */
    free(rank);
    free(sv);
    return rc;
}
