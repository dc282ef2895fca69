/* The runtime's internal data layout: a loaded model is a flat array of values (every named
 * tensor of the graph) and an array of nodes in execution order that refer to values by index.
 * See docs/onnx-runtime.md for the life cycle (load -> fold -> fuse -> prepare -> plan -> run). */
#ifndef ONNX_MODEL_H
#define ONNX_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/onnx.h"
#include "arena.h"
#include "op.h"
#include "tensor.h"

typedef enum onnx_value_kind {
    ONNX_VALUE_ACTIVATION = 0, /* produced by a node at run time */
    ONNX_VALUE_INPUT,          /* fed by the caller */
    ONNX_VALUE_CONST,          /* initializer or folded constant: t.data owned by the model */
    ONNX_VALUE_OUTER, /* subgraph only: a value of an enclosing graph, bound at each run from
                         the owning node's input `outer_slot` (a capture) */
} onnx_value_kind;

/* Subgraphs nested deeper than this are refused. */
#define ONNX_SUBGRAPH_MAX_DEPTH 16

/* Weights the next nodes will stream from memory (plan, see onnx_ctx_prefetch_next). */
#define ONNX_PREFETCH_NEXT 2
typedef struct onnx_prefetch {
    const void *ptr[ONNX_PREFETCH_NEXT];
    size_t bytes[ONNX_PREFETCH_NEXT];
} onnx_prefetch;

typedef struct onnx_value {
    const char *name; /* arena */
    onnx_value_kind kind;
    onnx_tensor t;    /* CONST only: shape and malloc'd data (NULL if empty) */
    int producer;     /* node index, or -1 */
    int n_consumers;  /* input slots of live nodes that read it */
    int last_use;     /* index of the last node reading it; -1 if none */
    int graph_output; /* 1 if some graph output is this value */
    int outer_slot;   /* OUTER only: index into the owning node's inputs */
    int packed_only;  /* CONST: data freed after prepare (t.data NULL, shape kept): every
                         reader runs on its packed copy (onnx_node.plain_unused) */
} onnx_value;

struct onnx_model {
    onnx_arena arena; /* names, attributes, node arrays, metadata */
    int opset;
    int64_t ir_version;
    const char *producer;

    onnx_value *values; /* malloc'd, n_values (grows during fold/fuse) */
    int n_values, cap_values;

    onnx_node *nodes; /* malloc'd; execution order after onnx_graph_sort */
    int n_nodes;
    int *free_after;         /* plan: for node k, values free_after[free_start[k]..[k+1]) */
    int *free_start;         /* die after node k runs (malloc'd, n_nodes + 1) */
    onnx_prefetch *prefetch; /* plan: per node, the weights of the next nodes (malloc'd) */

    int n_inputs, n_outputs;
    int *input_values, *output_values;         /* arena */
    onnx_value_info *input_info, *output_info; /* arena */

    int64_t batch_slice; /* > 0: run batches at most this many samples at a time
                                  (batch.c); 0: whole batches only */
    char batch_why[128]; /* batch.c: why batches run whole (the first node off the list) */
    int batch_cut;       /* batch_slice > 0: nodes [0, batch_cut) run in slices, the rest
                            whole (n_nodes: the whole graph; batch_prefix.c) */
    int n_batch_cross;   /* batch_cut < n_nodes: the values made before the cut and read */
    int *batch_cross;    /* after it, gathered from each slice at full size (arena) */

    /* Concat placement (place.c; main graph only; all malloc'd, NULL when no group): per value
     * its group or -1, its index among all groups' members, 1 if a group Concat produces it;
     * group g's members are place_members[place_member_start[g] .. [g + 1]) and its Concat
     * nodes place_cats[place_cat_start[g] .. [g + 1]). */
    int n_place_groups;
    int *place_group, *place_member;
    char *place_is_cat;
    int *place_members, *place_member_start;
    int *place_cats, *place_cat_start;

    struct onnx_model **children; /* subgraphs of this graph's nodes (malloc'd, owned) */
    int n_children, cap_children;
    int depth; /* 0 for the main graph, 1 for its subgraphs, ... */

    int n_op_types; /* file's op types and counts, arena */
    const char **op_types;
    int *op_counts;
};

/* Errors during load: message and code (ONNX_E_*). */
typedef struct onnx_load_err {
    char *buf;
    size_t len;
    int code;
} onnx_load_err;

/* Records the error unless one is recorded already (the innermost message is kept); returns
 * the recorded code (load_errors.c). */
int onnx_load_fail(onnx_load_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends a value; returns its index or -1 (ENOMEM). name is copied into the arena
 * (model_values.c). */
int onnx_model_add_value(onnx_model *m, const char *name, onnx_value_kind kind);

/* Graph passes (graph.c, fold.c, fuse.c, batch.c). Each returns 0 or a negative ONNX_E_*. */
int onnx_graph_sort(onnx_model *m, onnx_load_err *e);    /* topological order, cycles */
void onnx_graph_count_uses(onnx_model *m);               /* n_consumers, producer */
int onnx_graph_fold(onnx_model *m, onnx_load_err *e);    /* constant folding */
int onnx_graph_fuse(onnx_model *m, onnx_load_err *e);    /* Conv+BN, activations, bias */
int onnx_graph_prepare(onnx_model *m, onnx_load_err *e); /* op->prepare with consts; frees
                                                            those only packed copies read */
int onnx_graph_plan(onnx_model *m, onnx_load_err *e);    /* liveness: free_after */
void onnx_graph_release_nodes(onnx_model *m);            /* op->release for every node */
int onnx_graph_batch_plan(onnx_model *m);                /* batch_slice; -1 on ENOMEM */

/* Removes nodes marked dead (op == NULL) and compacts the node array. */
void onnx_graph_compact(onnx_model *m);
/* Bytes of the model's weights: its constants, counting one copy of those kept only packed. */
size_t onnx_graph_weight_bytes(const onnx_model *m);
/* Frees the data of constants no node reads and that are not graph outputs. */
void onnx_graph_drop_unused_consts(onnx_model *m);

#endif
