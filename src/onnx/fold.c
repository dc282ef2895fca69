/* Constant folding at load: a node whose inputs are all constants runs once, and its outputs
 * become constants of the model. */
#include <stdlib.h>
#include <string.h>

#include "exec.h"

static int is_random(const char *op_type)
{
    static const char *const names[] = {"RandomNormal",      "RandomUniform", "RandomNormalLike",
                                        "RandomUniformLike", "Multinomial",   "Bernoulli"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(op_type, names[i]) == 0) return 1;
    return 0;
}

static int foldable(const onnx_model *m, const onnx_node *n)
{
    /* random draws differ per run; control ops may hold sequences, which are not constants,
     * except Identity of a constant (a tensor): PyTorch routes shared weights through one */
    if (is_random(n->op_type) || (onnx_op_is_control(n->op) && strcmp(n->op_type, "Identity") != 0))
        return 0;
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v >= 0 && m->values[v].kind != ONNX_VALUE_CONST) return 0;
    }
    return 1;
}

void onnx_graph_drop_unused_consts(onnx_model *m)
{
    onnx_graph_count_uses(m);
    for (int v = 0; v < m->n_values; v++) {
        onnx_value *val = &m->values[v];
        if (val->kind == ONNX_VALUE_CONST && val->n_consumers == 0 && !val->graph_output &&
            val->t.data) {
            free(val->t.data);
            val->t.data = NULL;
            val->t.ndim = 0;
        }
    }
}

int onnx_graph_fold(onnx_model *m, onnx_load_err *e)
{
    int any = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (foldable(m, &m->nodes[i])) any = 1;
    if (!any) return 0;

    onnx_exec x;
    if (onnx_exec_init(&x, m, 1) < 0) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    int rc = 0;
    for (int i = 0; i < m->n_nodes && rc == 0; i++) {
        onnx_node *n = &m->nodes[i];
        if (!foldable(m, n)) continue;
        if (n->op->prepare) {
            const onnx_tensor *consts[1024 + 1];
            for (int k = 0; k < n->n_inputs; k++)
                consts[k] = n->inputs[k] >= 0 ? &m->values[n->inputs[k]].t : NULL;
            char msg[256] = "";
            int pr = n->op->prepare(n, consts, msg, sizeof msg);
            if (pr < 0) {
                rc = onnx_load_fail(e,
                                    pr == ONNX_E_UNSUPPORTED ? ONNX_E_UNSUPPORTED : ONNX_E_INVALID,
                                    "%s node '%s': %s", n->op_type, n->name, msg);
                break;
            }
        }
        char msg[512] = "";
        int r = onnx_exec_node(&x, n, msg, sizeof msg);
        if (n->op->release && n->state) n->op->release(n);
        n->state = NULL;
        if (r < 0) {
            rc = onnx_load_fail(e, r, "constant folding: %s", msg);
            break;
        }
        for (int k = 0; k < n->n_outputs; k++) {
            int v = n->outputs[k];
            if (v < 0) continue;
            onnx_tensor t = x.vals[v];
            if (x.bufs[v]) {
                /* the pool block becomes the model's: a plain heap block freed with free() */
                onnx_pool_detach(&x.pool, x.caps[v]);
                x.bufs[v] = NULL;
                x.caps[v] = 0;
            } else if (onnx_tensor_nbytes(&t)) {
                /* a view of another value's data: the constant gets its own copy */
                void *copy = malloc(onnx_tensor_nbytes(&t));
                if (!copy) {
                    rc = onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
                    break;
                }
                memcpy(copy, t.data, onnx_tensor_nbytes(&t));
                t.data = copy;
                onnx_exec_release(&x, v);
            }
            m->values[v].kind = ONNX_VALUE_CONST;
            m->values[v].t = t;
            x.vals[v] = t;
        }
        n->op = NULL; /* removed by compaction */
    }
    onnx_exec_destroy(&x);
    onnx_graph_compact(m);
    onnx_graph_drop_unused_consts(m);
    return rc;
}
