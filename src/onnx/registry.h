/* Operator families and lookup. Each family is one file (or a few) under src/onnx/ops/ that
 * returns its table; the registry searches them all. */
#ifndef ONNX_REGISTRY_H
#define ONNX_REGISTRY_H

#include <stddef.h>

#include "op.h"

/* X-macro over the family functions: `const onnx_op *onnx_ops_NAME(size_t *count);` */
#define ONNX_OP_FAMILIES(X) \
    X(elementwise)          \
    X(unary)                \
    X(nn)                   \
    X(tensor)               \
    X(reduce)               \
    X(quant)                \
    X(vision)               \
    X(signal)               \
    X(control)

#define ONNX_DECLARE_FAMILY(name) const onnx_op *onnx_ops_##name(size_t *count);
ONNX_OP_FAMILIES(ONNX_DECLARE_FAMILY)
#undef ONNX_DECLARE_FAMILY

/* since_version of the runtime's internal operators (Silu): above every opset a model may
 * declare, so only the load-time fusion passes, which look them up with it, create them. */
#define ONNX_OPSET_INTERNAL 1000

/* The entry for op_type in the default domain at the model's opset: the one with the
 * greatest since_version <= opset. NULL if the type is unknown or only newer entries exist. */
const onnx_op *onnx_registry_find(const char *op_type, int opset);

#endif
