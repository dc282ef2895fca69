/* Nested runs of a subgraph (If branches, Loop and Scan bodies): the subgraph's own value
 * slots and buffer pool, its formal inputs and captured outer values bound as views of the
 * owning node's inputs, its nodes run in plan order. */
#include <stdlib.h>
#include <string.h>

#include "exec.h"

struct onnx_subrun {
    onnx_exec x;
    const onnx_model *g;
};

onnx_subrun *onnx_ctx_subrun_new(onnx_ctx *ctx, const onnx_model *g)
{
    onnx_subrun *r = calloc(1, sizeof *r);
    if (!r || onnx_exec_init(&r->x, g, onnx_ctx_exec(ctx)->threads) < 0) {
        free(r);
        onnx_ctx_fail_code(ctx, ONNX_E_NOMEM, "out of memory");
        return NULL;
    }
    r->g = g;
    return r;
}

/* Every run-time value back to the pool (the previous run's outputs included). */
static void subrun_reset(onnx_subrun *r)
{
    for (int v = 0; v < r->g->n_values; v++)
        if (r->g->values[v].kind != ONNX_VALUE_CONST) onnx_exec_release(&r->x, v);
}

int onnx_ctx_subrun(onnx_ctx *ctx, onnx_subrun *r, const char *where, const onnx_item *inputs,
                    int n)
{
    const onnx_model *g = r->g;
    subrun_reset(r);
    if (n != g->n_inputs)
        return onnx_ctx_fail(ctx, "%s: %d inputs given, the subgraph has %d", where, n,
                             g->n_inputs);
    for (int i = 0; i < n; i++) onnx_exec_bind_item(&r->x, g->input_values[i], &inputs[i]);
    for (int v = 0; v < g->n_values; v++) {
        if (g->values[v].kind != ONNX_VALUE_OUTER) continue;
        onnx_item it;
        if (onnx_ctx_input_item(ctx, g->values[v].outer_slot, &it) < 0)
            return onnx_ctx_fail(ctx, "%s: outer value '%s' is missing", where, g->values[v].name);
        onnx_exec_bind_item(&r->x, v, &it);
    }
    char err[768];
    for (int k = 0; k < g->n_nodes; k++) {
        err[0] = 0;
        int rc = onnx_exec_node(&r->x, &g->nodes[k], err, sizeof err);
        if (rc < 0) {
            subrun_reset(r);
            return onnx_ctx_fail_code(ctx, rc, "%s: %s", where, err);
        }
        for (int f = g->free_start[k]; f < g->free_start[k + 1]; f++)
            onnx_exec_release(&r->x, g->free_after[f]);
    }
    return 0;
}

int onnx_subrun_num_outputs(const onnx_subrun *r)
{
    return r->g->n_outputs;
}

void onnx_subrun_output(const onnx_subrun *r, int i, onnx_item *out)
{
    onnx_exec_item(&r->x, r->g->output_values[i], out);
}

void onnx_subrun_free(onnx_subrun *r)
{
    if (!r) return;
    onnx_exec_destroy(&r->x);
    free(r);
}
