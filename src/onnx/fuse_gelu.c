/* Load-time fusion of the exact GELU as PyTorch exports nn.GELU / F.gelu (and as BERT's code
 * writes it),
 *   y = x * 0.5 * (1 + erf(x / sqrt 2)),
 * into one Gelu node (the unary family's operator): one pass over the data with a vectorized
 * erf instead of five, and the activation pass can then fold it into the MatMul before it.
 * Accepted variants: x / sqrt 2 or x * (1 / sqrt 2); 1 + e or e + 1; the 0.5 applied to x, to
 * (1 + erf) or last; products in either order. The constants must be 0-d float32 (a [1]-shaped
 * one would broadcast a 0-d x to rank 1). */
#include <math.h>
#include <string.h>

#include "fuse.h"
#include "registry.h"

static int is_op(const onnx_node *n, const char *type)
{
    return strcmp(n->op_type, type) == 0 && n->n_inputs == 2 && onnx_fuse_only_first_output(n);
}

/* Node n is a binary `type` with value v as one operand; *other gets the other one. */
static int binary_with(const onnx_node *n, const char *type, int v, int *other)
{
    if (!is_op(n, type)) return 0;
    if (n->inputs[0] == v) *other = n->inputs[1];
    else if (n->inputs[1] == v) *other = n->inputs[0];
    else return 0;
    return 1;
}

static int scalar_is(const onnx_model *m, int v, float want)
{
    float c;
    return onnx_fuse_scalar(m, v, &c) && fabsf(c - want) <= 2e-7f * want;
}

/* x * c for a 0.5 constant c: the live single-consumer Mul node producing v, else -1 */
static int half_of(const onnx_model *m, int v, int x)
{
    int p = onnx_fuse_producer(m, v), c;
    if (p < 0 || onnx_fuse_sole_consumer(m, v) < 0 || !binary_with(&m->nodes[p], "Mul", x, &c))
        return -1;
    return scalar_is(m, c, 0.5f) ? p : -1;
}

int onnx_fuse_gelu(onnx_model *m, int ei)
{
    onnx_node *erf = &m->nodes[ei];
    if (strcmp(erf->op_type, "Erf") != 0 || erf->n_inputs != 1 || !onnx_fuse_only_first_output(erf))
        return 0;
    /* d = x / sqrt 2 */
    int d = erf->inputs[0], di = onnx_fuse_producer(m, d);
    if (di < 0 || onnx_fuse_sole_consumer(m, d) != ei) return 0;
    const onnx_node *dn = &m->nodes[di];
    int x, c;
    if (is_op(dn, "Div") && scalar_is(m, dn->inputs[1], (float)M_SQRT2)) {
        x = dn->inputs[0];
    } else if (binary_with(dn, "Mul", dn->inputs[0], &c) && scalar_is(m, c, (float)M_SQRT1_2)) {
        x = dn->inputs[0];
    } else if (binary_with(dn, "Mul", dn->inputs[1], &c) && scalar_is(m, c, (float)M_SQRT1_2)) {
        x = dn->inputs[1];
    } else {
        return 0;
    }
    if (x < 0 || m->values[x].kind == ONNX_VALUE_CONST) return 0;
    /* a = erf + 1 */
    int e = erf->outputs[0], ai = onnx_fuse_sole_consumer(m, e);
    if (ai < 0 || !binary_with(&m->nodes[ai], "Add", e, &c) || !scalar_is(m, c, 1.0f)) return 0;
    /* then the products with x and 0.5, in one of three orders */
    int a = m->nodes[ai].outputs[0], n1 = onnx_fuse_sole_consumer(m, a), other;
    if (n1 < 0 || !binary_with(&m->nodes[n1], "Mul", a, &other)) return 0;
    int dead[4] = {di, ai, n1, -1}, n2 = -1; /* dead[3]: the other Mul */
    if (scalar_is(m, other, 0.5f)) {         /* (a * 0.5) * x */
        int h = m->nodes[n1].outputs[0];
        n2 = onnx_fuse_sole_consumer(m, h);
        if (n2 < 0 || !binary_with(&m->nodes[n2], "Mul", h, &other) || other != x) return 0;
        dead[3] = n2;
    } else if (other == x) { /* (x * a) * 0.5 */
        int h = m->nodes[n1].outputs[0];
        n2 = onnx_fuse_sole_consumer(m, h);
        if (n2 < 0 || !binary_with(&m->nodes[n2], "Mul", h, &other) || !scalar_is(m, other, 0.5f))
            return 0;
        dead[3] = n2;
    } else { /* (x * 0.5) * a */
        int hi = half_of(m, other, x);
        if (hi < 0 || onnx_fuse_sole_consumer(m, other) != n1) return 0;
        dead[3] = hi;
        n2 = n1;
    }
    const onnx_op *gelu = onnx_registry_find("Gelu", 20);
    if (!gelu) return 0;
    int y = m->nodes[n2].outputs[0];
    /* the Erf node becomes Gelu(x): it runs after x exists and before y's first reader */
    erf->op_type = "Gelu";
    erf->op = gelu;
    erf->inputs[0] = x;
    erf->outputs[0] = y;
    erf->n_attrs = 0;
    m->values[y].producer = ei;
    for (int k = 0; k < 4; k++) m->nodes[dead[k]].op = NULL;
    return 1;
}
