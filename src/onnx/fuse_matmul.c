/* Load-time fusions around MatMul that remove copies and passes in attention blocks:
 *   Transpose(X, perm) -> MatMul input: MatMul reads X in place (inferd_perm_a / _b), when the
 *     perm keeps X's last dim among the last two (BLAS's transpose flag covers the swap);
 *   MatMul -> Transpose(perm): MatMul writes the transposed layout (inferd_perm_y), when the
 *     perm keeps the last dim last (rows stay contiguous, BLAS's ldc spaces them);
 *   MatMul -> Mul / Div by a 0-d float32 constant: the GEMM's alpha (inferd_scale), when the
 *     MatMul has no fused bias or activation yet (the scale applies to the product only);
 *   MatMul -> Add(., R) (a residual connection), when B is a float32 constant (so everything is
 *     float32) and no activation is fused: R becomes input 3 (inferd_residual) and is written
 *     into the output rows with the bias, before the GEMM accumulates onto them.
 * The attributes are read by ops/matmul.c, which also handles any other permutation (through
 * a copy), so a model that fails these conditions at run time still gets the right answer. */
#include <string.h>

#include "fuse.h"

static int is_matmul(const onnx_node *n)
{
    return strcmp(n->op_type, "MatMul") == 0 && n->n_outputs == 1 && n->outputs[0] >= 0 &&
           n->n_inputs >= 2 && n->inputs[0] >= 0 && n->inputs[1] >= 0;
}

/* The perm of a Transpose node given explicitly, with its length; NULL otherwise. */
static const onnx_attr *transpose_perm(const onnx_node *t)
{
    if (strcmp(t->op_type, "Transpose") != 0 || t->n_inputs != 1 || !onnx_fuse_only_first_output(t))
        return NULL;
    const onnx_attr *p = onnx_node_attr(t, "perm");
    return p && p->type == ONNX_ATTR_INTS && p->n >= 2 && p->n <= ONNX_MAX_DIMS ? p : NULL;
}

static int perm_attr(onnx_model *m, onnx_node *n, const char *name, const onnx_attr *perm)
{
    onnx_attr a = {.name = name, .type = ONNX_ATTR_INTS, .ints = perm->ints, .n = perm->n};
    return onnx_fuse_add_attr(m, n, &a);
}

static int fused_plain(const onnx_node *mm)
{
    return !onnx_node_attr(mm, "inferd_bias") && !onnx_node_attr(mm, "inferd_activation") &&
           !onnx_node_attr(mm, "inferd_scale");
}

int onnx_fuse_matmul_transpose(onnx_model *m, int mi)
{
    onnx_node *mm = &m->nodes[mi];
    if (!is_matmul(mm)) return 0;
    int done = 0;
    static const char *const names[2] = {"inferd_perm_a", "inferd_perm_b"};
    for (int k = 0; k < 2; k++) {
        int v = mm->inputs[k], ti = onnx_fuse_producer(m, v);
        if (ti < 0 || onnx_fuse_sole_consumer(m, v) != mi || onnx_node_attr(mm, names[k])) continue;
        const onnx_node *tr = &m->nodes[ti];
        const onnx_attr *p = transpose_perm(tr);
        int64_t last = p ? (int64_t)p->n - 1 : -1;
        if (!p || (p->ints[last] != last && p->ints[last - 1] != last)) continue;
        if (perm_attr(m, mm, names[k], p) < 0) return -1;
        mm = &m->nodes[mi];
        mm->inputs[k] = tr->inputs[0];
        m->nodes[ti].op = NULL;
        done = 1;
    }
    int ti = onnx_fuse_sole_consumer(m, mm->outputs[0]);
    if (ti >= 0 && !onnx_node_attr(mm, "inferd_perm_y")) {
        onnx_node *tr = &m->nodes[ti];
        const onnx_attr *p = transpose_perm(tr);
        if (p && p->ints[p->n - 1] == (int64_t)p->n - 1) {
            if (perm_attr(m, mm, "inferd_perm_y", p) < 0) return -1;
            mm = &m->nodes[mi];
            mm->outputs[0] = tr->outputs[0];
            m->values[mm->outputs[0]].producer = mi;
            tr->op = NULL;
            done = 1;
        }
    }
    return done;
}

int onnx_fuse_matmul_scale(onnx_model *m, int mi)
{
    onnx_node *mm = &m->nodes[mi];
    if (!is_matmul(mm) || mm->n_inputs != 2 || !fused_plain(mm)) return 0;
    int si = onnx_fuse_sole_consumer(m, mm->outputs[0]);
    if (si < 0) return 0;
    onnx_node *op = &m->nodes[si];
    int div = strcmp(op->op_type, "Div") == 0;
    if ((!div && strcmp(op->op_type, "Mul") != 0) || op->n_inputs != 2 ||
        !onnx_fuse_only_first_output(op))
        return 0;
    float c;
    if (op->inputs[0] == mm->outputs[0] && onnx_fuse_scalar(m, op->inputs[1], &c)) {
        if (div) { /* a / c as a * (1 / c): the same to within an ulp */
            if (c == 0.0f || c != c) return 0;
            c = 1.0f / c;
        }
    } else if (!div && op->inputs[1] == mm->outputs[0] && onnx_fuse_scalar(m, op->inputs[0], &c)) {
    } else {
        return 0;
    }
    onnx_attr a = {.name = "inferd_scale", .type = ONNX_ATTR_FLOAT, .f = c};
    if (onnx_fuse_add_attr(m, mm, &a) < 0) return -1;
    mm = &m->nodes[mi];
    mm->outputs[0] = op->outputs[0];
    m->values[mm->outputs[0]].producer = mi;
    op->op = NULL;
    return 1;
}

int onnx_fuse_matmul_residual(onnx_model *m, int mi)
{
    onnx_node *mm = &m->nodes[mi];
    if (!is_matmul(mm) || onnx_node_attr(mm, "inferd_activation") ||
        onnx_node_attr(mm, "inferd_residual"))
        return 0;
    const onnx_tensor *b = onnx_fuse_const_input(m, mm, 1);
    if (!b || b->dtype != INFERD_DTYPE_FP32) return 0;
    int ai = onnx_fuse_sole_consumer(m, mm->outputs[0]);
    if (ai < 0) return 0;
    onnx_node *add = &m->nodes[ai];
    if (strcmp(add->op_type, "Add") != 0 || add->n_inputs != 2 || !onnx_fuse_only_first_output(add))
        return 0;
    int r = add->inputs[0] == mm->outputs[0] ? add->inputs[1] : add->inputs[0];
    if (r < 0 || r == mm->outputs[0]) return 0;
    /* R must exist before the MatMul runs: true unless the MatMul's own descendants make it */
    int rp = onnx_fuse_producer(m, r);
    if (rp > mi) return 0;
    onnx_attr a = {.name = "inferd_residual", .type = ONNX_ATTR_INT, .i = 1};
    if (onnx_fuse_set_input(m, mm, 3, r) < 0 || onnx_fuse_add_attr(m, mm, &a) < 0) return -1;
    mm = &m->nodes[mi];
    mm->outputs[0] = add->outputs[0];
    m->values[mm->outputs[0]].producer = mi;
    add->op = NULL;
    return 1;
}
