/* inferd-onnx bench --profile: where the time of the runs went, per op type (share of the time
 * spent in nodes) and per node (the slowest, with their shapes), from the session's counts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

typedef struct {
    const char *op_type;
    int64_t ns, calls;
    int nodes;
} op_total;

static int cmp_total(const void *a, const void *b)
{
    const op_total *x = a, *y = b;
    return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : strcmp(x->op_type, y->op_type);
}

static int cmp_node(const void *a, const void *b)
{
    const onnx_node_profile *x = a, *y = b;
    return x->ns < y->ns ? 1 : x->ns > y->ns ? -1 : 0;
}

int tool_print_profile(const onnx_session *s, const onnx_model *m, size_t runs, double elapsed,
                       int cpu, int top)
{
    const int n = onnx_model_num_exec_nodes(m);
    onnx_node_profile *p = calloc((size_t)n + 1, sizeof *p);
    op_total *t = calloc((size_t)n + 1, sizeof *t);
    if (!p || !t) {
        free(p), free(t);
        fprintf(stderr, "inferd-onnx bench: out of memory\n");
        return 1;
    }
    int n_types = 0;
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        if (onnx_session_node_profile(s, k, &p[k]) != 0) continue;
        total += p[k].ns;
        int j = 0;
        while (j < n_types && strcmp(t[j].op_type, p[k].op_type) != 0) j++;
        if (j == n_types) t[n_types++] = (op_total){p[k].op_type, 0, 0, 0};
        t[j].ns += p[k].ns;
        t[j].calls += p[k].calls;
        t[j].nodes++;
    }
    const double per_run = runs ? 1.0 / (double)runs : 0, all = total > 0 ? (double)total : 1;
    printf("profile: %zu runs; %.3f ms per run in %d nodes (%.1f%% of the wall time)%s\n", runs,
           (double)total / 1e6 * per_run, n,
           elapsed > 0 ? 100.0 * (double)total / 1e9 / elapsed : 0.0,
           cpu ? "; by the running thread's CPU clock" : "");
    printf(
        "time by op type (runs: nodes run per run):\n  share   ms/run  nodes    runs  op type\n");
    qsort(t, (size_t)n_types, sizeof *t, cmp_total);
    for (int j = 0; j < n_types; j++)
        printf("  %5.1f%% %8.3f %6d %7.1f  %s\n", 100.0 * (double)t[j].ns / all,
               (double)t[j].ns / 1e6 * per_run, t[j].nodes, (double)t[j].calls * per_run,
               t[j].op_type);
    qsort(p, (size_t)n, sizeof *p, cmp_node);
    if (top > n) top = n;
    printf("top %d nodes:\n  share   ms/run    runs  node: inputs -> outputs\n", top);
    for (int k = 0; k < top; k++)
        printf("  %5.1f%% %8.3f %7.1f  %s%s%s%s '%s': %s\n", 100.0 * (double)p[k].ns / all,
               (double)p[k].ns / 1e6 * per_run, (double)p[k].calls * per_run, p[k].op_type,
               p[k].activation ? " [" : "", p[k].activation ? p[k].activation : "",
               p[k].activation ? "]" : "", p[k].name ? p[k].name : "", p[k].shapes);
    free(p);
    free(t);
    return 0;
}
