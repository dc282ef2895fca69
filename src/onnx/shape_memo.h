/* Shape subgraphs computed once per distinct shape (a session's memo): the nodes whose inputs
 * are only constants and what Shape nodes made (Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape's shape input) keep their last outputs; while every Shape node of the run has
 * produced what it produced last time, such a node is not run again and its outputs are bound
 * as views of the kept copies (docs/onnx-runtime.md, "Shape subgraphs"). */
#ifndef ONNX_SHAPE_MEMO_H
#define ONNX_SHAPE_MEMO_H

#include "exec.h"

typedef struct onnx_shape_memo onnx_shape_memo;

/* Builds the memo for x's model (main graph). Returns NULL on ENOMEM or when the model has no
 * such node (then the calls below are no-ops on NULL). Freed by onnx_shape_memo_free. */
onnx_shape_memo *onnx_shape_memo_new(const onnx_model *m);
void onnx_shape_memo_free(onnx_shape_memo *sm);

/* At the start of each run: every kept output may serve until a Shape node differs. */
void onnx_shape_memo_begin(onnx_shape_memo *sm);
/* Before node k: 1 if its outputs were bound from the memo (do not run it), else 0. */
int onnx_shape_memo_skip(onnx_shape_memo *sm, onnx_exec *x, int k);
/* After node k ran successfully: compares (Shape) or keeps (the others) its outputs. */
void onnx_shape_memo_ran(onnx_shape_memo *sm, const onnx_exec *x, int k);
/* After a failed run: nothing kept is trusted any more. */
void onnx_shape_memo_reset(onnx_shape_memo *sm);

#endif
