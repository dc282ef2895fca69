/* The operator interface: everything an operator implementation (src/onnx/ops/<family>.c) sees.
 *
 * An operator is one `run` function over plain tensors (ggml style). The executor calls it
 * with the node's inputs resolved to tensors; `run` checks them, asks the executor for each
 * output with onnx_ctx_output() (which allocates it from the run's memory plan), fills it, and
 * returns 0, or returns onnx_ctx_fail(...) on bad input. Operators never malloc tensor data
 * themselves; scratch space comes from onnx_ctx_scratch().
 *
 * Registration: each family file defines a table of onnx_op and a function returning it, e.g.
 *   const onnx_op *onnx_ops_elementwise(size_t *count);
 * src/onnx/registry.c lists the families (see ONNX_OP_FAMILIES in registry.h). */
#ifndef ONNX_OP_H
#define ONNX_OP_H

#include <stddef.h>
#include <stdint.h>

#include "tensor.h"

typedef enum onnx_attr_type {
    ONNX_ATTR_UNDEFINED = 0,
    ONNX_ATTR_FLOAT = 1,
    ONNX_ATTR_INT = 2,
    ONNX_ATTR_STRING = 3,
    ONNX_ATTR_TENSOR = 4,
    ONNX_ATTR_GRAPH = 5,
    ONNX_ATTR_FLOATS = 6,
    ONNX_ATTR_INTS = 7,
    ONNX_ATTR_STRINGS = 8,
} onnx_attr_type; /* values match AttributeProto.AttributeType */

typedef struct onnx_attr {
    const char *name;
    onnx_attr_type type;
    float f;
    int64_t i;
    const char *s; /* NUL-terminated copy of the bytes */
    size_t s_len;
    const float *floats;        /* type FLOATS: n values */
    const int64_t *ints;        /* type INTS: n values */
    const char *const *strings; /* type STRINGS: n values */
    size_t n;
    const onnx_tensor *t;       /* type TENSOR (e.g. Constant's value, ConstantOfShape) */
    const struct onnx_model *g; /* type GRAPH: the loaded subgraph (owned by the model) */
} onnx_attr;

struct onnx_op;

typedef struct onnx_node {
    const char *op_type;
    const char *name; /* may be "" */
    int opset;        /* opset version of the default domain the model imports */
    int n_inputs, n_outputs;
    int *inputs, *outputs; /* value indices into the graph; -1 = omitted optional input */
    int n_captures;        /* the last n_captures inputs are outer values its subgraphs read */
    onnx_attr *attrs;
    int n_attrs;
    const struct onnx_op *op;
    void *state; /* op-private, set by op->prepare, freed by op->release */
    /* Set by op->prepare (both cleared before it is called):
     * plain_unused: bit k (k < 32) says run never reads input k's data, only its shape: the
     *   node reads its own copy in state (packed weights). A constant every reader marks so
     *   has its data freed after prepare (its tensor keeps the shape, data NULL).
     * stream, stream_bytes: the weights run streams from memory (packed), for the plan's
     *   prefetch hint in place of its constant inputs; NULL for those. */
    uint32_t plain_unused;
    const void *stream;
    size_t stream_bytes;
} onnx_node;

typedef struct onnx_ctx onnx_ctx; /* one node's execution; defined by the executor */

/* Inputs: n is node->n_inputs; onnx_ctx_input(ctx, i) is NULL for an omitted optional input
 * or for i >= n. */
int onnx_ctx_num_inputs(const onnx_ctx *ctx);
const onnx_tensor *onnx_ctx_input(const onnx_ctx *ctx, int i);
int onnx_ctx_num_outputs(const onnx_ctx *ctx);
const onnx_node *onnx_ctx_node(const onnx_ctx *ctx);
/* The session's compute threads for onnx_tpool_parallel_for (threadpool.h), or NULL when it
 * runs on one thread. */
struct onnx_tpool *onnx_ctx_tpool(const onnx_ctx *ctx);

/* Allocates output i with the given type and shape and returns it (data uninitialised, or
 * NULL data when the shape has 0 elements). Returns NULL (with the error already set) if the
 * shape is invalid or too large. Outputs the graph does not use still must be produced if
 * the node declares them (allocate them; the executor frees unused ones). Returns NULL with
 * no error if output i is not requested by the node (omitted optional output): check
 * onnx_ctx_output_wanted() first for optional outputs. */
onnx_tensor *onnx_ctx_output(onnx_ctx *ctx, int i, inferd_dtype dtype, int ndim,
                             const int64_t *dims);
int onnx_ctx_output_wanted(const onnx_ctx *ctx, int i);
/* The same for a string tensor (tensor.h has the layout): nbytes in all, at least 4 per
 * element; the operator writes every element. */
onnx_tensor *onnx_ctx_output_strings(onnx_ctx *ctx, int i, int ndim, const int64_t *dims,
                                     size_t nbytes);

/* Makes output i a view of input `in` with another shape (same dtype and element count): no
 * allocation, no copy. For Reshape, Flatten, Squeeze, Unsqueeze, Identity. The executor keeps
 * the input's buffer alive while the view is. Returns the output, or NULL with the error set
 * if the counts differ (or NULL without error if output i is not requested). */
onnx_tensor *onnx_ctx_alias_output(onnx_ctx *ctx, int i, int in, int ndim, const int64_t *dims);
/* The same over a contiguous run of the input's elements, from element `first` (Gather of one
 * index and Slice when their output is contiguous in the input): NULL with the error set if it
 * does not fit in the input. */
onnx_tensor *onnx_ctx_alias_output_at(onnx_ctx *ctx, int i, int in, int ndim, const int64_t *dims,
                                      int64_t first);

/* Makes output i take input `in`'s buffer, with its dtype and shape, when this node is the
 * input's last reader and the buffer is the input's own (an activation no view shares, not a
 * graph input, output or constant), so an elementwise operator writes its result over its
 * input: no new buffer, no write to lines not already in the cache. Returns the output, or NULL
 * (no error) when the input's buffer cannot be taken: then call onnx_ctx_output. */
onnx_tensor *onnx_ctx_output_over_input(onnx_ctx *ctx, int i, int in);

/* Temporary memory valid until run returns; NULL (with the error set) on failure. */
void *onnx_ctx_scratch(onnx_ctx *ctx, size_t nbytes);

/* For operators whose work is long and light on memory traffic (depthwise convolution): each
 * call prefetches part `part` of `parts` of the weights the next nodes will read, so that the
 * memory system brings them in while this node computes instead of when the next GEMM packs
 * them. Call once per unit of work, part 0 .. parts-1. A hint: a no-op when there is nothing
 * to prefetch. */
void onnx_ctx_prefetch_next(onnx_ctx *ctx, int64_t part, int64_t parts);

/* Records an error ("<op_type> node '<name>': <message>") and returns -1; use as
 *   return onnx_ctx_fail(ctx, "input rank %d, expected 4", r); */
int onnx_ctx_fail(onnx_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like onnx_ctx_fail, but marks the failure as a capability gap (an input type or attribute
 * value this implementation does not handle) rather than bad input; the run then fails with
 * ONNX_E_UNSUPPORTED and the conformance runner counts the case as unsupported. */
int onnx_ctx_unsupported(onnx_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Attribute lookup; the default is returned when the node lacks the attribute. */
const onnx_attr *onnx_node_attr(const onnx_node *node, const char *name);
int64_t onnx_attr_int(const onnx_node *node, const char *name, int64_t def);
float onnx_attr_float(const onnx_node *node, const char *name, float def);
const char *onnx_attr_string(const onnx_node *node, const char *name, const char *def);
/* Returns the number of ints and sets *out, or -1 (and *out = NULL) if absent. */
int onnx_attr_ints(const onnx_node *node, const char *name, const int64_t **out);
int onnx_attr_floats(const onnx_node *node, const char *name, const float **out);

/* ---- values that are not tensors (seq.h), for the control family only ------------------- */

struct onnx_seq;
typedef enum onnx_item_kind {
    ONNX_ITEM_TENSOR = 0,
    ONNX_ITEM_SEQUENCE,
    ONNX_ITEM_NONE, /* an optional without a value */
} onnx_item_kind;

/* One run-time value of any kind. As an argument it is a view: the tensor's data and the
 * sequence are only borrowed. */
typedef struct onnx_item {
    onnx_item_kind kind;
    onnx_tensor t;        /* kind TENSOR */
    struct onnx_seq *seq; /* kind SEQUENCE */
} onnx_item;

/* Input i as an item (a view); returns -1 if the input is omitted. */
int onnx_ctx_input_item(const onnx_ctx *ctx, int i, onnx_item *out);
/* Makes output i a copy of `it`: a tensor's data is copied into a new buffer, a sequence gets
 * one more reference. Returns 0, or -1 with the error set. No-op if the output is omitted. */
int onnx_ctx_output_item(onnx_ctx *ctx, int i, const onnx_item *it);
/* Output i becomes sequence s; the output takes over the caller's reference (also on error). */
int onnx_ctx_output_seq(onnx_ctx *ctx, int i, struct onnx_seq *s);

/* ---- subgraphs (subgraph.c) -------------------------------------------------------------- */

typedef struct onnx_subrun onnx_subrun;
/* A nested execution of subgraph g (an attribute of ctx's node). NULL with the error set on
 * ENOMEM. Freed by onnx_subrun_free. */
onnx_subrun *onnx_ctx_subrun_new(onnx_ctx *ctx, const struct onnx_model *g);
/* Runs g once over `inputs` (n must be g's input count) and the node's captured values. The
 * outputs are then views (onnx_subrun_output) valid until the next run or free. Errors are
 * recorded on ctx ("<where>: <inner message>") and -1 returned. */
int onnx_ctx_subrun(onnx_ctx *ctx, onnx_subrun *r, const char *where, const onnx_item *inputs,
                    int n);
int onnx_subrun_num_outputs(const onnx_subrun *r);
void onnx_subrun_output(const onnx_subrun *r, int i, onnx_item *out);
void onnx_subrun_free(onnx_subrun *r);

typedef struct onnx_op {
    const char *type;  /* "Conv" */
    int since_version; /* oldest opset whose semantics this entry implements */
    /* Optional, called once at load. consts[i] is input i's value when it is an initializer
     * or folded constant, else NULL (so weights can be pre-packed into node->state; see
     * plain_unused and stream on onnx_node). Return
     * 0, or -1 with a message in err (the model is refused); return -3 (ONNX_E_UNSUPPORTED in
     * inferd/onnx.h) instead when the node is valid but uses something not implemented. */
    int (*prepare)(onnx_node *node, const onnx_tensor *const *consts, char *err, size_t err_len);
    int (*run)(onnx_ctx *ctx);
    void (*release)(onnx_node *node); /* optional: frees node->state */
} onnx_op;

/* When a type has several entries (semantics changed across opsets), the registry picks the
 * one with the greatest since_version <= the model's opset. */

#endif
