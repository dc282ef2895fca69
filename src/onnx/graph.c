/* Graph structure passes: dead-node removal, topological order, use counts, compaction. */
#include <stdlib.h>
#include <string.h>

#include "model.h"

void onnx_graph_count_uses(onnx_model *m)
{
    for (int v = 0; v < m->n_values; v++) {
        m->values[v].n_consumers = 0;
        m->values[v].last_use = -1;
        m->values[v].producer = -1;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        const onnx_node *n = &m->nodes[i];
        if (!n->op) continue; /* dead, waiting for compaction */
        for (int k = 0; k < n->n_outputs; k++)
            if (n->outputs[k] >= 0) m->values[n->outputs[k]].producer = i;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0) continue;
            m->values[v].n_consumers++;
            m->values[v].last_use = i;
        }
    }
}

void onnx_graph_compact(onnx_model *m)
{
    int w = 0;
    for (int i = 0; i < m->n_nodes; i++) {
        if (!m->nodes[i].op) continue;
        if (w != i) m->nodes[w] = m->nodes[i];
        w++;
    }
    m->n_nodes = w;
    onnx_graph_count_uses(m);
}

/* Marks nodes that no graph output depends on as dead (op = NULL). */
static int remove_dead(onnx_model *m)
{
    char *live = calloc((size_t)m->n_nodes + 1, 1);
    int *stack = malloc(((size_t)m->n_nodes + 1) * sizeof *stack);
    if (!live || !stack) {
        free(live);
        free(stack);
        return -1;
    }
    int sp = 0;
    for (int i = 0; i < m->n_outputs; i++) {
        int p = m->values[m->output_values[i]].producer;
        if (p >= 0 && !live[p]) {
            live[p] = 1;
            stack[sp++] = p;
        }
    }
    while (sp > 0) {
        const onnx_node *n = &m->nodes[stack[--sp]];
        for (int k = 0; k < n->n_inputs; k++) {
            if (n->inputs[k] < 0) continue;
            int p = m->values[n->inputs[k]].producer;
            if (p >= 0 && !live[p]) {
                live[p] = 1;
                stack[sp++] = p;
            }
        }
    }
    for (int i = 0; i < m->n_nodes; i++)
        if (!live[i]) m->nodes[i].op = NULL;
    free(live);
    free(stack);
    return 0;
}

int onnx_graph_sort(onnx_model *m, onnx_load_err *e)
{
    onnx_graph_count_uses(m);
    if (remove_dead(m) < 0) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    onnx_graph_compact(m);

    int n = m->n_nodes;
    int *indeg = calloc((size_t)n + 1, sizeof *indeg);
    int *order = malloc(((size_t)n + 1) * sizeof *order);
    /* consumers of each node as CSR: cons_start[p]..cons_start[p+1] */
    int *cons_start = calloc((size_t)n + 2, sizeof *cons_start);
    size_t n_edges = 0;
    for (int i = 0; i < n; i++) n_edges += (size_t)m->nodes[i].n_inputs;
    int *cons = malloc((n_edges + 1) * sizeof *cons);
    onnx_node *sorted = malloc(((size_t)n + 1) * sizeof *sorted);
    if (!indeg || !order || !cons_start || !cons || !sorted) {
        free(indeg), free(order), free(cons_start), free(cons), free(sorted);
        return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < m->nodes[i].n_inputs; k++) {
            int v = m->nodes[i].inputs[k];
            if (v < 0) continue;
            int p = m->values[v].producer;
            if (p < 0) continue;
            cons_start[p + 1]++;
            indeg[i]++;
        }
    for (int p = 0; p < n; p++) cons_start[p + 1] += cons_start[p];
    int *fill = calloc((size_t)n + 1, sizeof *fill);
    if (!fill) {
        free(indeg), free(order), free(cons_start), free(cons), free(sorted);
        return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < m->nodes[i].n_inputs; k++) {
            int v = m->nodes[i].inputs[k];
            if (v < 0 || m->values[v].producer < 0) continue;
            int p = m->values[v].producer;
            cons[cons_start[p] + fill[p]++] = i;
        }
    int head = 0, tail = 0;
    for (int i = 0; i < n; i++)
        if (indeg[i] == 0) order[tail++] = i;
    while (head < tail) {
        int p = order[head++];
        for (int c = cons_start[p]; c < cons_start[p + 1]; c++)
            if (--indeg[cons[c]] == 0) order[tail++] = cons[c];
    }
    int rc = 0;
    if (tail != n) {
        rc = onnx_load_fail(e, ONNX_E_INVALID, "graph has a cycle");
    } else {
        for (int i = 0; i < n; i++) sorted[i] = m->nodes[order[i]];
        memcpy(m->nodes, sorted, (size_t)n * sizeof *sorted);
        onnx_graph_count_uses(m);
    }
    free(indeg), free(order), free(cons_start), free(cons), free(sorted), free(fill);
    return rc;
}

/* After node n's prepare: a constant input it marked plain_unused loses its data as soon as
 * every reader has marked it (pending[v] counts the reading slots not yet marked; -1 once
 * some reader needs the data), so the plain and packed copies of a weight are never all held
 * at once during load. */
static void prepare_drop_plain(onnx_model *m, const onnx_node *n, int *pending)
{
    for (int k = 0; k < n->n_inputs; k++) {
        const int v = n->inputs[k];
        if (v < 0 || pending[v] < 0) continue;
        if (!(k < 32 && (n->plain_unused >> k) & 1)) {
            pending[v] = -1;
            continue;
        }
        onnx_value *val = &m->values[v];
        if (--pending[v] == 0 && val->kind == ONNX_VALUE_CONST && val->t.data &&
            !val->graph_output) {
            free(val->t.data);
            val->t.data = NULL;
            val->packed_only = 1;
        }
    }
}

int onnx_graph_prepare(onnx_model *m, onnx_load_err *e)
{
    int *pending = calloc((size_t)m->n_values + 1, sizeof(int));
    if (!pending) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    for (int i = 0; i < m->n_nodes; i++)
        for (int k = 0; k < m->nodes[i].n_inputs; k++)
            if (m->nodes[i].inputs[k] >= 0) pending[m->nodes[i].inputs[k]]++;
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *n = &m->nodes[i];
        n->plain_unused = 0;
        n->stream = NULL;
        n->stream_bytes = 0;
        if (n->op->prepare) {
            const onnx_tensor *consts[1024 + 1];
            for (int k = 0; k < n->n_inputs; k++) {
                int v = n->inputs[k];
                consts[k] =
                    v >= 0 && m->values[v].kind == ONNX_VALUE_CONST ? &m->values[v].t : NULL;
            }
            char msg[256] = "";
            int rc = n->op->prepare(n, consts, msg, sizeof msg);
            if (rc < 0) {
                free(pending);
                return onnx_load_fail(
                    e, rc == ONNX_E_UNSUPPORTED ? ONNX_E_UNSUPPORTED : ONNX_E_INVALID,
                    "%s node '%s': %s", n->op_type, n->name, msg);
            }
        }
        prepare_drop_plain(m, n, pending);
    }
    free(pending);
    return 0;
}

size_t onnx_graph_weight_bytes(const onnx_model *m)
{
    size_t total = 0;
    for (int v = 0; v < m->n_values; v++) {
        const onnx_value *val = &m->values[v];
        if (val->kind == ONNX_VALUE_CONST && (val->t.data || val->packed_only))
            total += onnx_tensor_nbytes(&val->t);
    }
    return total;
}

void onnx_graph_release_nodes(onnx_model *m)
{
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *n = &m->nodes[i];
        if (n->op && n->op->release && n->state) n->op->release(n);
        n->state = NULL;
    }
}

/* Smaller weights are likely still cached from the last run. */
#define PLAN_PREFETCH_MIN_BYTES ((size_t)64 << 10)

/* The optional outputs nobody reads of the operators whose kernels make them only when wanted
 * (onnx_ctx_output_wanted): Dropout's mask (Swin-T's 24 Dropouts each filled a mask as large as
 * their input), LayerNormalization's mean and inverse deviation. Exporters name them anyway. */
static void drop_unread_outputs(onnx_model *m)
{
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *n = &m->nodes[i];
        if (strcmp(n->op_type, "Dropout") != 0 && strcmp(n->op_type, "LayerNormalization") != 0)
            continue;
        for (int k = 1; k < n->n_outputs; k++) {
            const int v = n->outputs[k];
            if (v >= 0 && m->values[v].kind == ONNX_VALUE_ACTIVATION &&
                m->values[v].n_consumers == 0 && !m->values[v].graph_output)
                n->outputs[k] = -1;
        }
    }
}

int onnx_graph_plan(onnx_model *m, onnx_load_err *e)
{
    onnx_graph_count_uses(m);
    drop_unread_outputs(m);
    onnx_graph_count_uses(m);
    free(m->free_after);
    free(m->free_start);
    free(m->prefetch);
    m->free_start = calloc((size_t)m->n_nodes + 2, sizeof(int));
    m->free_after = calloc((size_t)m->n_values + 1, sizeof(int));
    m->prefetch = calloc((size_t)m->n_nodes + 1, sizeof *m->prefetch);
    if (!m->free_start || !m->free_after || !m->prefetch)
        return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    /* Each node's hint: the weights of the next two nodes, when large enough to come from
     * DRAM rather than cache: constant input 1, or input 4 if larger (a 1x1 Conv's weights
     * fused into a depthwise Conv, fuse_conv_dw.c). */
    for (int k = 0; k < m->n_nodes; k++) {
        for (int q = k + 1, j = 0; q < m->n_nodes && q <= k + ONNX_PREFETCH_NEXT; q++) {
            const onnx_node *n = &m->nodes[q];
            const onnx_value *w = NULL;
            size_t bytes = 0;
            for (int in = 1; in < n->n_inputs && in <= 4; in += 3) {
                const onnx_value *c = n->inputs[in] >= 0 ? &m->values[n->inputs[in]] : NULL;
                if (!c || c->kind != ONNX_VALUE_CONST || !c->t.data) continue;
                if (onnx_tensor_nbytes(&c->t) > bytes) {
                    w = c;
                    bytes = onnx_tensor_nbytes(&c->t);
                }
            }
            const void *ptr = w ? w->t.data : NULL;
            if (n->stream) { /* what it reads: its packed copy */
                ptr = n->stream;
                bytes = n->stream_bytes;
            }
            if (!ptr || bytes < PLAN_PREFETCH_MIN_BYTES) continue;
            m->prefetch[k].ptr[j] = ptr;
            m->prefetch[k].bytes[j++] = bytes;
        }
    }
    /* A run-time value dies after the node that reads it last, or right after its producer if
     * nothing reads it; graph outputs live until the next run. */
    for (int v = 0; v < m->n_values; v++) {
        const onnx_value *val = &m->values[v];
        if (val->kind != ONNX_VALUE_ACTIVATION || val->graph_output || val->producer < 0) continue;
        int k = val->last_use >= 0 ? val->last_use : val->producer;
        m->free_start[k + 1]++;
    }
    for (int k = 0; k < m->n_nodes; k++) m->free_start[k + 1] += m->free_start[k];
    int *fill = calloc((size_t)m->n_nodes + 1, sizeof(int));
    if (!fill) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    for (int v = 0; v < m->n_values; v++) {
        const onnx_value *val = &m->values[v];
        if (val->kind != ONNX_VALUE_ACTIVATION || val->graph_output || val->producer < 0) continue;
        int k = val->last_use >= 0 ? val->last_use : val->producer;
        m->free_after[m->free_start[k] + fill[k]++] = v;
    }
    free(fill);
    return 0;
}
