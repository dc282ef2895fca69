/* Attribute lookup for operators. */
#include <string.h>

#include "op.h"

const onnx_attr *onnx_node_attr(const onnx_node *node, const char *name)
{
    for (int i = 0; i < node->n_attrs; i++)
        if (strcmp(node->attrs[i].name, name) == 0) return &node->attrs[i];
    return NULL;
}

int64_t onnx_attr_int(const onnx_node *node, const char *name, int64_t def)
{
    const onnx_attr *a = onnx_node_attr(node, name);
    return a && a->type == ONNX_ATTR_INT ? a->i : def;
}

float onnx_attr_float(const onnx_node *node, const char *name, float def)
{
    const onnx_attr *a = onnx_node_attr(node, name);
    if (!a) return def;
    if (a->type == ONNX_ATTR_FLOAT) return a->f;
    if (a->type == ONNX_ATTR_INT) return (float)a->i;
    return def;
}

const char *onnx_attr_string(const onnx_node *node, const char *name, const char *def)
{
    const onnx_attr *a = onnx_node_attr(node, name);
    return a && a->type == ONNX_ATTR_STRING ? a->s : def;
}

int onnx_attr_ints(const onnx_node *node, const char *name, const int64_t **out)
{
    const onnx_attr *a = onnx_node_attr(node, name);
    if (!a || a->type != ONNX_ATTR_INTS) {
        *out = NULL;
        return -1;
    }
    *out = a->ints;
    return (int)a->n;
}

int onnx_attr_floats(const onnx_node *node, const char *name, const float **out)
{
    const onnx_attr *a = onnx_node_attr(node, name);
    if (!a || a->type != ONNX_ATTR_FLOATS) {
        *out = NULL;
        return -1;
    }
    *out = a->floats;
    return (int)a->n;
}
