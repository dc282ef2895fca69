/* The model's value table (model.h): appending a value, for the loader and the graph passes
 * (fold and fuse add the values they make). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

int onnx_model_add_value(onnx_model *m, const char *name, onnx_value_kind kind)
{
    if (m->n_values == m->cap_values) {
        int cap = m->cap_values ? m->cap_values * 2 : 64;
        if (cap > INT_MAX / 2) return -1;
        onnx_value *v = realloc(m->values, (size_t)cap * sizeof *v);
        if (!v) return -1;
        m->values = v;
        m->cap_values = cap;
    }
    onnx_value *v = &m->values[m->n_values];
    memset(v, 0, sizeof *v);
    v->name = onnx_arena_strdup(&m->arena, name);
    if (!v->name) return -1;
    v->kind = kind;
    v->producer = -1;
    v->last_use = -1;
    return m->n_values++;
}
