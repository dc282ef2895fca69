/* Private to the control family (src/onnx/ops/control*.c, sequence*.c, optional.c): the run
 * functions the table in control.c lists, and the helpers they share. */
#ifndef ONNX_OPS_CONTROL_OPS_H
#define ONNX_OPS_CONTROL_OPS_H

#include "../op.h"

/* A Loop stops with an error after this many iterations (a model whose condition never
 * turns false would otherwise hold the worker for ever). */
#define ONNX_LOOP_MAX_TRIPS ((int64_t)1 << 20)

int ctl_run_if(onnx_ctx *ctx);
int ctl_run_loop(onnx_ctx *ctx);
int ctl_run_scan(onnx_ctx *ctx);
int ctl_run_identity(onnx_ctx *ctx);

int seq_run_empty(onnx_ctx *ctx);
int seq_run_construct(onnx_ctx *ctx);
int seq_run_at(onnx_ctx *ctx);
int seq_run_insert(onnx_ctx *ctx);
int seq_run_erase(onnx_ctx *ctx);
int seq_run_length(onnx_ctx *ctx);
int seq_run_split_to(onnx_ctx *ctx);
int seq_run_concat_from(onnx_ctx *ctx);
int seq_run_map(onnx_ctx *ctx);

int opt_run_optional(onnx_ctx *ctx);
int opt_run_has_element(onnx_ctx *ctx);
int opt_run_get_element(onnx_ctx *ctx);

/* The subgraph in GRAPH attribute `name`, or NULL after recording an error. */
const struct onnx_model *ctl_graph_attr(onnx_ctx *ctx, const char *name);

/* A copy the caller keeps past the next subgraph run: a tensor's data is malloc'd, a sequence
 * gets a reference. Returns 0 or -1 with the error set. Release with ctl_item_drop. */
int ctl_item_keep(onnx_ctx *ctx, const onnx_item *in, onnx_item *out);
void ctl_item_drop(onnx_item *it);

/* Growing list of per-iteration tensors (copies) stacked at the end along one axis. */
typedef struct ctl_stack {
    onnx_tensor *items;
    int64_t n, cap;
    size_t bytes;
} ctl_stack;
int ctl_stack_push(onnx_ctx *ctx, ctl_stack *s, const onnx_tensor *t, const char *what);
/* Output i: the items stacked along axis (in -(r+1)..r for items of rank r), reversed if
 * `reverse`. With no items, the shape is [0] followed by the subgraph output's declared dims
 * (unknown ones 0), its declared type from info_dtype. */
int ctl_stack_output(onnx_ctx *ctx, int i, const ctl_stack *s, int64_t axis, int reverse,
                     inferd_dtype info_dtype, int info_ndim, const int64_t *info_dims);
void ctl_stack_free(ctl_stack *s);

#endif
