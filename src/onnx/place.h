/* Concat without copies: groups of Concats along axis 1 whose inputs are written straight into
 * their slots of one buffer (docs/onnx-runtime.md, "Concat without copies"). */
#ifndef ONNX_PLACE_H
#define ONNX_PLACE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* Load time (main graph, after the plan): finds the groups and fills m->place_*. Returns 0, or
 * -1 on ENOMEM (the model then has no groups). Freed by onnx_place_plan_free. */
int onnx_graph_place_plan(onnx_model *m);
void onnx_place_plan_free(onnx_model *m);

/* Where a member sits in its group's buffer, learnt from the last run's shapes. */
typedef struct onnx_place_slot {
    size_t off, bytes;
    inferd_dtype dtype;
    int ndim;
    int64_t dims[ONNX_MAX_DIMS];
} onnx_place_slot;

/* Per session: the layouts (owned by the exec; onnx_place_run_free). */
typedef struct onnx_place_run {
    onnx_place_slot *slots; /* per member, indexed by m->place_member[v] */
    size_t *group_bytes;    /* per group: its buffer's size */
    char *ok;               /* per group: 1 if the layout is usable */
} onnx_place_run;

struct onnx_exec;

/* Gives x a placement state when its model has groups (no layout yet). -1 on ENOMEM. */
int onnx_place_run_init(struct onnx_exec *x);
void onnx_place_run_free(struct onnx_exec *x);
/* After a successful pass over the nodes: keeps or recomputes each group's layout from the
 * shapes the pass left in x->vals. */
void onnx_place_update(struct onnx_exec *x);
/* For output value v about to be allocated with this dtype and shape: its slot in the group
 * buffer (v becomes a view holding a reference on it), or NULL when v is not placed this run
 * (the caller allocates as usual). Allocates the group's buffer on first use. */
void *onnx_place_output(struct onnx_exec *x, int v, inferd_dtype dtype, int ndim,
                        const int64_t *dims);

#endif
