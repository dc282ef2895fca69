/* Load-time fusion of a channels-last MLP's way back to channels-first (ConvNeXt's block end):
 *   MatMul(X, B, bias) -> Transpose(perm = [0, r-1, 1, ..., r-2]) [-> Mul(., s)]
 * becomes one MatMul with inferd_perm_y = perm, where s is a float32 constant holding one
 * factor per output channel (it broadcasts along axis 1 of the result only: a layer scale),
 * folded into B's columns and the bias in place when the MatMul is their only reader:
 * s * (X B + b) = X (B s) + b s. The residual Add that
 * usually follows is then taken by the MatMul residual pass (fuse_matmul.c). MatMul's prepare
 * packs B^T for this perm and runs Z_n = B^T X_n^T straight into the channels-first output
 * (ops/matmul_cfirst.c), so neither the transpose nor the scale costs a pass. */
#include <string.h>

#include "fuse.h"
#include "ops/matmul_cfirst.h"

/* s (a constant of the Mul) has c elements along axis 1 of a rank-r result, 1 elsewhere. */
static int per_channel(const onnx_tensor *s, int r, int64_t c)
{
    if (!s || s->dtype != INFERD_DTYPE_FP32 || s->ndim > r || s->ndim < r - 1) return 0;
    int axis1 = 1 - (r - s->ndim); /* s's dim aligned with the result's axis 1 */
    for (int i = 0; i < s->ndim; i++)
        if (s->dims[i] != (i == axis1 ? c : 1)) return 0;
    return 1;
}

/* Constant input k of node n, when n is its only reader (so it may be rewritten in place). */
static float *own_const(onnx_model *m, const onnx_node *n, int k)
{
    const onnx_tensor *t = onnx_fuse_const_input(m, n, k);
    const onnx_value *v = t ? &m->values[n->inputs[k]] : NULL;
    if (!v || v->n_consumers != 1 || v->graph_output || t->dtype != INFERD_DTYPE_FP32) return NULL;
    for (int i = 0; i < n->n_inputs; i++)
        if (i != k && n->inputs[i] == n->inputs[k]) return NULL;
    return t->data;
}

/* B's columns and the bias times s, in place (the model's only copies: no second one, even
 * for a moment); 0 when B or the bias has another reader. */
static int fold_scale(onnx_model *m, const onnx_node *mm, const float *s)
{
    const onnx_tensor *b = onnx_fuse_const_input(m, mm, 1);
    float *bd = own_const(m, mm, 1), *bias = NULL;
    if (!bd || (mm->n_inputs > 2 && !(bias = own_const(m, mm, 2)))) return 0;
    const int64_t k = b->dims[0], c = b->dims[1];
    for (int64_t p = 0; p < k; p++)
        for (int64_t j = 0; j < c; j++) bd[p * c + j] *= s[j];
    if (bias)
        for (int64_t j = 0; j < c; j++) bias[j] *= s[j];
    return 1;
}

int onnx_fuse_matmul_cfirst(onnx_model *m, int mi)
{
    onnx_node *mm = &m->nodes[mi];
    if (strcmp(mm->op_type, "MatMul") != 0 || mm->n_outputs != 1 || mm->outputs[0] < 0 ||
        mm->n_inputs < 2 || mm->n_inputs > 3 || mm->inputs[0] < 0)
        return 0;
    for (int i = 0; i < mm->n_attrs; i++) /* a plain MatMul, or with its bias only */
        if (strcmp(mm->attrs[i].name, "inferd_bias") != 0) return 0;
    if (mm->n_inputs == 3 && (mm->inputs[2] < 0 || !onnx_fuse_const_input(m, mm, 2))) return 0;
    const onnx_tensor *b = onnx_fuse_const_input(m, mm, 1);
    if (!b || b->dtype != INFERD_DTYPE_FP32 || b->ndim != 2 || !b->data) return 0;
    int ti = onnx_fuse_sole_consumer(m, mm->outputs[0]);
    if (ti < 0) return 0;
    onnx_node *tr = &m->nodes[ti];
    const onnx_attr *perm = onnx_node_attr(tr, "perm");
    if (strcmp(tr->op_type, "Transpose") != 0 || tr->n_inputs != 1 ||
        !onnx_fuse_only_first_output(tr) || !perm || perm->type != ONNX_ATTR_INTS ||
        perm->n > ONNX_MAX_DIMS || !nn_matmul_is_cfirst_perm(perm->ints, (int)perm->n))
        return 0;
    const int r = (int)perm->n;
    int last = ti; /* the node whose output the fused MatMul takes over */
    int si = onnx_fuse_sole_consumer(m, tr->outputs[0]);
    if (si >= 0) {
        onnx_node *mul = &m->nodes[si];
        if (strcmp(mul->op_type, "Mul") == 0 && mul->n_inputs == 2 &&
            onnx_fuse_only_first_output(mul)) {
            int other = mul->inputs[0] == tr->outputs[0] ? 1 : 0;
            const onnx_tensor *s = onnx_fuse_const_input(m, mul, other);
            if (mul->inputs[1 - other] == tr->outputs[0] && s && s->data &&
                per_channel(s, r, b->dims[1])) {
                if (fold_scale(m, mm, s->data)) last = si;
            }
        }
    }
    onnx_attr a = {
        .name = "inferd_perm_y", .type = ONNX_ATTR_INTS, .ints = perm->ints, .n = perm->n};
    mm = &m->nodes[mi];
    if (onnx_fuse_add_attr(m, mm, &a) < 0) return -1;
    mm->outputs[0] = m->nodes[last].outputs[0];
    m->values[mm->outputs[0]].producer = mi;
    m->nodes[ti].op = NULL;
    if (last != ti) m->nodes[last].op = NULL;
    return 1;
}

/* Transpose(X, [0, 2, ..., r-1, 1]) read only by LayerNormalization over the last axis, with
 * constant Scale / B of one value per channel and no Mean / InvStdDev outputs: the LayerNorm
 * reads X channels-first (inferd_perm_x) and writes the channels-last result in one pass, or
 * the channels-first one when a Transpose back is its only reader (inferd_perm_y). */
int onnx_fuse_layernorm_clast(onnx_model *m, int ti)
{
    onnx_node *tr = &m->nodes[ti];
    const onnx_attr *perm = onnx_node_attr(tr, "perm");
    if (strcmp(tr->op_type, "Transpose") != 0 || tr->n_inputs != 1 || tr->inputs[0] < 0 ||
        !onnx_fuse_only_first_output(tr) || !perm || perm->type != ONNX_ATTR_INTS ||
        perm->n > ONNX_MAX_DIMS || !nn_matmul_is_clast_perm(perm->ints, (int)perm->n))
        return 0;
    const int r = (int)perm->n;
    int li = onnx_fuse_sole_consumer(m, tr->outputs[0]);
    if (li < 0) return 0;
    onnx_node *ln = &m->nodes[li];
    if (strcmp(ln->op_type, "LayerNormalization") != 0 || ln->inputs[0] != tr->outputs[0] ||
        !onnx_fuse_only_first_output(ln) || onnx_node_attr(ln, "inferd_perm_x"))
        return 0;
    const int64_t axis = onnx_attr_int(ln, "axis", -1);
    if (axis != -1 && axis != r - 1) return 0;
    for (int k = 1; k < ln->n_inputs && k < 3; k++) {
        const onnx_tensor *p = onnx_fuse_const_input(m, ln, k);
        if (ln->inputs[k] < 0 && k == 2) continue;
        if (!p || p->dtype != INFERD_DTYPE_FP32 || p->ndim != 1) return 0;
    }
    if (ln->n_inputs < 2 || ln->n_inputs > 3) return 0;
    onnx_attr a = {
        .name = "inferd_perm_x", .type = ONNX_ATTR_INTS, .ints = perm->ints, .n = perm->n};
    if (onnx_fuse_add_attr(m, ln, &a) < 0) return -1;
    ln = &m->nodes[li];
    ln->inputs[0] = tr->inputs[0];
    m->nodes[ti].op = NULL;
    /* and back: the result read only by Transpose([0, r-1, 1, ..., r-2]) (ConvNeXt before each
     * downsampling Conv): the LayerNorm writes it channels-first (inferd_perm_y) */
    int bi = onnx_fuse_sole_consumer(m, ln->outputs[0]);
    if (bi < 0) return 1;
    const onnx_node *back = &m->nodes[bi];
    const onnx_attr *bp = onnx_node_attr(back, "perm");
    if (strcmp(back->op_type, "Transpose") != 0 || back->n_inputs != 1 ||
        back->inputs[0] != ln->outputs[0] || !onnx_fuse_only_first_output(back) || !bp ||
        bp->type != ONNX_ATTR_INTS || bp->n != (size_t)r || !nn_matmul_is_cfirst_perm(bp->ints, r))
        return 1;
    onnx_attr y = {.name = "inferd_perm_y", .type = ONNX_ATTR_INTS, .ints = bp->ints, .n = bp->n};
    if (onnx_fuse_add_attr(m, &m->nodes[li], &y) < 0) return -1;
    ln = &m->nodes[li];
    ln->outputs[0] = m->nodes[bi].outputs[0];
    m->values[ln->outputs[0]].producer = li;
    m->nodes[bi].op = NULL;
    return 1;
}
