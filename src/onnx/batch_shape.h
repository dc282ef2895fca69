/* Batch slicing through shape computations (batch_shape.c): which small integer values
 * (Shape -> Gather -> Concat -> Reshape/Resize/Slice chains) depend on the batch size, so that
 * batch.c can let a model whose operators read them run in slices. */
#ifndef INFERD_ONNX_BATCH_SHAPE_H
#define INFERD_ONNX_BATCH_SHAPE_H

#include <stdint.h>

#include "model.h"

#define BATCH_SV_MAX 16 /* elements tracked per shape value */

enum {
    BATCH_SV_FIXED = 0, /* the same in every slice and in the whole batch */
    BATCH_SV_BATCH = 1, /* exactly the number of samples (dim 0 of a batched value) */
    BATCH_SV_MIXED = 2  /* computed from the number of samples: differs between slices */
};

/* What batch.c knows of one value: a shape value (len >= 0: an integer scalar or 1-D tensor of
 * len elements, each one of the kinds above), or not one (len < 0). */
typedef struct batch_sv {
    int8_t len;    /* -1: not a shape value */
    int8_t scalar; /* rank 0 (then len = 1) */
    uint8_t kind[BATCH_SV_MAX];
} batch_sv;

/* If node n computes a shape value from shape values, constants and the shapes of batched
 * values (rank[v] >= 1), sets sv[n->outputs[0]] and returns 1; returns 0 when n is not such a
 * node (none of its inputs is a shape value and it is no Shape). */
int batch_shape_node(const onnx_model *m, const onnx_node *n, const int *rank, batch_sv *sv);

/* Rank of node n's output 0 when n is Reshape, Resize or Slice of a batched input 0 whose other
 * inputs are constants or shape values and it keeps samples on dim 0; 0 when n is none of those
 * (batch.c's own rules apply); -1 when it is one but mixes samples or is not understood. */
int batch_shape_use(const onnx_model *m, const onnx_node *n, const int *rank, const batch_sv *sv);

/* When the whole graph may not run in slices (batch.c: a node off the list at `cut`, or weights
 * above the L3), lets its first nodes do: the longest prefix of nodes [0, cut) whose weights
 * stay small and whose values read after it are all batched (rank[v] >= 1). Sets
 * m->batch_slice, batch_cut, batch_cross (batch_prefix.c). Returns 0 or -1 (ENOMEM). */
int batch_prefix_plan(onnx_model *m, const int *rank, int cut);

#endif
