/* Operator lookup over the family tables listed in ONNX_OP_FAMILIES. */
#include "registry.h"

#include <string.h>

const onnx_op *onnx_registry_find(const char *op_type, int opset)
{
    const onnx_op *best = NULL;
#define ONNX_SEARCH_FAMILY(name)                                                     \
    {                                                                                \
        size_t n = 0;                                                                \
        const onnx_op *ops = onnx_ops_##name(&n);                                    \
        for (size_t i = 0; ops && i < n; i++) {                                      \
            if (strcmp(ops[i].type, op_type) != 0) continue;                         \
            if (ops[i].since_version > opset) continue;                              \
            if (!best || ops[i].since_version > best->since_version) best = &ops[i]; \
        }                                                                            \
    }
    ONNX_OP_FAMILIES(ONNX_SEARCH_FAMILY)
#undef ONNX_SEARCH_FAMILY
    return best;
}
