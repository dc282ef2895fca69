/* Per-node profiling of runs (inferd-onnx bench --profile): the counts onnx_exec_node adds to
 * while x->prof is set, and a description of each node with the shapes it last ran on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"

int onnx_exec_profile_enable(onnx_exec *x, int on)
{
    free(x->prof);
    x->prof = NULL;
    x->prof_cpu = on == ONNX_PROFILE_CPU;
    if (!on) return 0;
    x->prof = calloc((size_t)x->m->n_nodes + 1, sizeof *x->prof);
    return x->prof ? 0 : ONNX_E_NOMEM;
}

/* Appends "d0xd1x..." of value v (or "-" for an omitted one, "?" before it ever ran) to buf. */
static void put_shape(const onnx_exec *x, int v, char *buf, size_t len, size_t *at)
{
    if (*at >= len) return;
    int n;
    if (v < 0) {
        n = snprintf(buf + *at, len - *at, "-");
    } else if (x->vals[v].ndim < 0) {
        n = snprintf(buf + *at, len - *at, "?");
    } else if (x->vals[v].ndim == 0) {
        n = snprintf(buf + *at, len - *at, "scalar");
    } else {
        n = 0;
        for (int k = 0; k < x->vals[v].ndim && *at + (size_t)n < len; k++) {
            int w = snprintf(buf + *at + n, len - *at - (size_t)n, "%s%lld", k ? "x" : "",
                             (long long)x->vals[v].dims[k]);
            if (w < 0) return;
            n += w;
        }
    }
    if (n > 0) *at += (size_t)n;
}

static void put_text(const char *s, char *buf, size_t len, size_t *at)
{
    if (*at >= len) return;
    int n = snprintf(buf + *at, len - *at, "%s", s);
    if (n > 0) *at += (size_t)n;
}

int onnx_exec_profile_node(const onnx_exec *x, int k, onnx_node_profile *out)
{
    memset(out, 0, sizeof *out);
    if (!x->prof || k < 0 || k >= x->m->n_nodes) return ONNX_E_INVALID;
    const onnx_node *node = &x->m->nodes[k];
    out->op_type = node->op_type;
    out->name = node->name;
    out->activation = onnx_attr_string(node, "inferd_activation", NULL);
    out->ns = x->prof[k].ns;
    out->calls = x->prof[k].calls;
    size_t at = 0, len = sizeof out->shapes;
    for (int i = 0; i < node->n_inputs; i++) {
        if (i) put_text(", ", out->shapes, len, &at);
        put_shape(x, node->inputs[i], out->shapes, len, &at);
    }
    put_text(" ->", out->shapes, len, &at);
    for (int i = 0; i < node->n_outputs; i++) {
        put_text(i ? ", " : " ", out->shapes, len, &at);
        put_shape(x, node->outputs[i], out->shapes, len, &at);
    }
    return 0;
}
