/* ModelProto -> onnx_model: opset check, values (inputs, initializers, node outputs), nodes with
 * their attributes and operators, then the load-time passes (sort, fold, fuse, prepare, plan). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "onnx.pb-c.h"
#include "pbtensor.h"
#include "place.h"
#include "rawsplit.h"
#include "registry.h"
#include "wirecheck.h"

#define MODEL_MAX_FILE ((size_t)4 << 30) /* 4 GiB; larger weights go in external data */

/* ---- name -> value index (load time only) ------------------------------------------------ */

typedef struct name_map {
    int *slots; /* value index + 1; 0 = empty */
    size_t mask, count;
    const onnx_model *m;
} name_map;

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int map_init(name_map *nm, const onnx_model *m, size_t expected)
{
    size_t cap = 16;
    while (cap < expected * 2) {
        if (cap > ((size_t)1 << 40)) return -1;
        cap *= 2;
    }
    nm->slots = calloc(cap, sizeof *nm->slots);
    nm->mask = cap - 1;
    nm->count = 0;
    nm->m = m;
    return nm->slots ? 0 : -1;
}

static int map_find(const name_map *nm, const char *name)
{
    for (size_t i = hash_str(name) & nm->mask;; i = (i + 1) & nm->mask) {
        int s = nm->slots[i];
        if (!s) return -1;
        if (strcmp(nm->m->values[s - 1].name, name) == 0) return s - 1;
    }
}

static void map_insert(name_map *nm, const char *name, int idx)
{
    size_t i = hash_str(name) & nm->mask;
    while (nm->slots[i]) i = (i + 1) & nm->mask;
    nm->slots[i] = idx + 1;
    nm->count++;
}

/* Adds name -> idx, doubling the table when it would become more than half full (outer values
 * captured by subgraphs arrive after the map was sized). -1 on ENOMEM. */
static int map_put(name_map *nm, const char *name, int idx)
{
    if ((nm->count + 1) * 2 > nm->mask + 1) {
        name_map big = *nm;
        big.mask = nm->mask * 2 + 1;
        big.count = 0;
        if (!(big.slots = calloc(big.mask + 1, sizeof *big.slots))) return -1;
        for (size_t i = 0; i <= nm->mask; i++)
            if (nm->slots[i])
                map_insert(&big, nm->m->values[nm->slots[i] - 1].name, nm->slots[i] - 1);
        free(nm->slots);
        *nm = big;
    }
    map_insert(nm, name, idx);
    return 0;
}

/* ---- scopes: a subgraph reads values of the graphs enclosing it ------------------------- */

typedef struct scope {
    onnx_model *m;
    name_map *nm;
    struct scope *parent; /* enclosing graph, or NULL for the main graph */
    onnx_node *owner;     /* the node of parent->m whose attribute this graph is */
} scope;

/* The value named `name` as seen from scope s: its own first, else the enclosing graphs'
 * (then captured: an OUTER value here, the outer value appended to the owner's inputs).
 * Returns the value index, -1 if no scope defines it, -2 on error (recorded in e). */
static int scope_find(scope *s, const char *name, onnx_load_err *e)
{
    int v = map_find(s->nm, name);
    if (v >= 0 || !s->parent) return v;
    int pv = scope_find(s->parent, name, e);
    if (pv < 0) return pv;
    onnx_node *n = s->owner;
    int slot = -1;
    for (int k = n->n_inputs - n->n_captures; k < n->n_inputs; k++)
        if (n->inputs[k] == pv) slot = k;
    if (slot < 0) {
        if (n->n_inputs >= 1024) {
            onnx_load_fail(e, ONNX_E_INVALID, "node '%s': more than 1024 inputs with outer values",
                           n->name);
            return -2;
        }
        int *in = onnx_arena_calloc(&s->parent->m->arena, (size_t)n->n_inputs + 2, sizeof *in);
        if (!in) {
            onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
            return -2;
        }
        memcpy(in, n->inputs, (size_t)n->n_inputs * sizeof *in);
        in[n->n_inputs] = pv;
        n->inputs = in;
        slot = n->n_inputs++;
        n->n_captures++;
    }
    v = onnx_model_add_value(s->m, name, ONNX_VALUE_OUTER);
    if (v < 0 || map_put(s->nm, s->m->values[v].name, v) < 0) {
        onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        return -2;
    }
    s->m->values[v].outer_slot = slot;
    return v;
}

/* ---- metadata ---------------------------------------------------------------------------- */

static int fill_value_info(onnx_model *m, const Onnx__ValueInfoProto *vi, onnx_value_info *out,
                           onnx_load_err *e)
{
    out->name = onnx_arena_strdup(&m->arena, vi->name);
    out->dtype = INFERD_DTYPE_INVALID;
    out->ndim = -1;
    if (!out->name) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    const Onnx__TypeProto *tp = vi->type;
    if (!tp) return 0;
    /* optional(T), sequence(tensor), optional(sequence(tensor)): the tensor type inside */
    if (tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE && tp->optional_type) {
        out->is_optional = 1;
        if (!(tp = tp->optional_type->elem_type)) return 0;
    }
    if (tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE && tp->sequence_type) {
        out->is_sequence = 1;
        if (!(tp = tp->sequence_type->elem_type)) return 0;
    }
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED, "value '%s': only tensor types are supported",
                              out->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type) {
        if (!inferd_dtype_is_valid(tt->elem_type))
            return onnx_load_fail(e, ONNX_E_UNSUPPORTED,
                                  "value '%s': element type %d is not supported", out->name,
                                  (int)tt->elem_type);
        out->dtype = (inferd_dtype)tt->elem_type;
    }
    if (!tt->shape || out->is_sequence) return 0; /* the items' shapes may differ */
    if (tt->shape->n_dim > ONNX_MAX_DIMS)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED, "value '%s': rank %zu exceeds %d", out->name,
                              tt->shape->n_dim, ONNX_MAX_DIMS);
    int nd = (int)tt->shape->n_dim;
    int64_t *dims = onnx_arena_calloc(&m->arena, (size_t)nd + 1, sizeof *dims);
    const char **names = onnx_arena_calloc(&m->arena, (size_t)nd + 1, sizeof *names);
    if (!dims || !names) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    for (int i = 0; i < nd; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        dims[i] = -1;
        if (!d) continue;
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            d->dim_value >= 0) {
            dims[i] = d->dim_value;
        } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                   d->dim_param) {
            names[i] = onnx_arena_strdup(&m->arena, d->dim_param);
            if (!names[i]) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        }
    }
    out->ndim = nd;
    out->dims = dims;
    out->dim_names = names;
    return 0;
}

/* Distinct op types with counts, through a small hash table so that hostile files with very
 * many distinct types stay linear. */
static int count_op_types(onnx_model *m, const Onnx__GraphProto *g, onnx_load_err *e)
{
    m->op_types = onnx_arena_calloc(&m->arena, g->n_node + 1, sizeof *m->op_types);
    m->op_counts = onnx_arena_calloc(&m->arena, g->n_node + 1, sizeof *m->op_counts);
    size_t cap = 16;
    while (cap < 2 * (g->n_node + 1)) cap *= 2;
    int *slots = calloc(cap, sizeof *slots); /* op type index + 1 */
    if (!m->op_types || !m->op_counts || !slots) {
        free(slots);
        return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const char *t = g->node[i]->op_type ? g->node[i]->op_type : "";
        size_t h = hash_str(t) & (cap - 1);
        while (slots[h] && strcmp(m->op_types[slots[h] - 1], t) != 0) h = (h + 1) & (cap - 1);
        if (!slots[h]) {
            m->op_types[m->n_op_types] = onnx_arena_strdup(&m->arena, t);
            if (!m->op_types[m->n_op_types]) {
                free(slots);
                return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
            }
            slots[h] = ++m->n_op_types;
        }
        m->op_counts[slots[h] - 1]++;
    }
    free(slots);
    return 0;
}

/* ---- attributes -------------------------------------------------------------------------- */

static int convert_attr(onnx_model *m, Onnx__AttributeProto *a, onnx_attr *out, const char *where,
                        onnx_load_err *e)
{
    out->name = onnx_arena_strdup(&m->arena, a->name);
    if (!out->name) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    int type = a->has_type ? (int)a->type : 0;
    if (type == 0) { /* very old files: infer from the field that is set */
        if (a->has_f) type = ONNX_ATTR_FLOAT;
        else if (a->has_i) type = ONNX_ATTR_INT;
        else if (a->has_s) type = ONNX_ATTR_STRING;
        else if (a->t) type = ONNX_ATTR_TENSOR;
        else if (a->g) type = ONNX_ATTR_GRAPH;
        else if (a->n_floats) type = ONNX_ATTR_FLOATS;
        else if (a->n_ints) type = ONNX_ATTR_INTS;
        else if (a->n_strings) type = ONNX_ATTR_STRINGS;
    }
    out->type = (onnx_attr_type)type;
    switch (type) {
    case ONNX_ATTR_FLOAT: out->f = a->f; break;
    case ONNX_ATTR_INT: out->i = a->i; break;
    case ONNX_ATTR_STRING: {
        char *s = onnx_arena_calloc(&m->arena, a->s.len + 1, 1);
        if (!s) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        if (a->s.len) memcpy(s, a->s.data, a->s.len);
        out->s = s;
        out->s_len = a->s.len;
        break;
    }
    case ONNX_ATTR_FLOATS:
        if (a->n_floats > INT_MAX)
            return onnx_load_fail(e, ONNX_E_INVALID, "%s: attribute too long", where);
        out->floats = a->n_floats ? onnx_arena_calloc(&m->arena, a->n_floats, sizeof(float)) : NULL;
        if (a->n_floats && !out->floats) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        if (a->n_floats) memcpy((float *)out->floats, a->floats, a->n_floats * sizeof(float));
        out->n = a->n_floats;
        break;
    case ONNX_ATTR_INTS:
        if (a->n_ints > INT_MAX)
            return onnx_load_fail(e, ONNX_E_INVALID, "%s: attribute too long", where);
        out->ints = a->n_ints ? onnx_arena_calloc(&m->arena, a->n_ints, sizeof(int64_t)) : NULL;
        if (a->n_ints && !out->ints) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        if (a->n_ints) memcpy((int64_t *)out->ints, a->ints, a->n_ints * sizeof(int64_t));
        out->n = a->n_ints;
        break;
    case ONNX_ATTR_STRINGS: {
        if (a->n_strings > INT_MAX)
            return onnx_load_fail(e, ONNX_E_INVALID, "%s: attribute too long", where);
        char **v = onnx_arena_calloc(&m->arena, a->n_strings + 1, sizeof *v);
        if (!v) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        for (size_t i = 0; i < a->n_strings; i++) {
            v[i] = onnx_arena_calloc(&m->arena, a->strings[i].len + 1, 1);
            if (!v[i]) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
            if (a->strings[i].len) memcpy(v[i], a->strings[i].data, a->strings[i].len);
        }
        out->strings = (const char *const *)v;
        out->n = a->n_strings;
        break;
    }
    case ONNX_ATTR_TENSOR: {
        if (!a->t)
            return onnx_load_fail(e, ONNX_E_INVALID, "%s: tensor attribute '%s' has no tensor",
                                  where, out->name);
        onnx_tensor tmp;
        int rc = onnx_pb_tensor_convert(a->t, NULL, &tmp, e);
        if (rc < 0) return rc;
        onnx_tensor *t = onnx_arena_calloc(&m->arena, 1, sizeof *t);
        void *data = NULL;
        size_t nb = onnx_tensor_nbytes(&tmp);
        if (t && nb) data = onnx_arena_calloc(&m->arena, nb, 1);
        if (!t || (nb && !data)) {
            free(tmp.data);
            return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        }
        if (nb) memcpy(data, tmp.data, nb);
        free(tmp.data);
        *t = tmp;
        t->data = data;
        out->t = t;
        break;
    }
    case ONNX_ATTR_GRAPH:
        break;      /* loaded by load_subgraphs once the enclosing graph's values exist */
    default: break; /* sparse tensors, type protos, tensor/graph lists: kept as UNDEFINED-ish */
    }
    return 0;
}

/* ---- the graph --------------------------------------------------------------------------- */

static int is_default_domain(const char *d)
{
    return !d || !*d || strcmp(d, "ai.onnx") == 0;
}

/* Initializers first: they are constants even when also listed as graph inputs. */
static int load_initializers(onnx_model *m, const Onnx__GraphProto *g, const char *base_dir,
                             name_map *nm, onnx_load_err *e)
{
    for (size_t i = 0; i < g->n_initializer; i++) {
        Onnx__TensorProto *tp = g->initializer[i];
        const char *name = tp->name ? tp->name : "";
        if (!*name) return onnx_load_fail(e, ONNX_E_INVALID, "initializer %zu has no name", i);
        if (map_find(nm, name) >= 0)
            return onnx_load_fail(e, ONNX_E_INVALID, "initializer '%s' defined twice", name);
        onnx_tensor t;
        int rc = onnx_pb_tensor_convert(tp, base_dir, &t, e);
        if (rc < 0) return rc;
        int v = onnx_model_add_value(m, name, ONNX_VALUE_CONST);
        if (v < 0) {
            free(t.data);
            return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        }
        m->values[v].t = t;
        if (map_put(nm, m->values[v].name, v) < 0)
            return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    }
    if (g->n_sparse_initializer)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED, "sparse initializers are not supported");
    return 0;
}

/* Graph inputs that are not initializers. */
static int load_inputs(onnx_model *m, const Onnx__GraphProto *g, name_map *nm, onnx_load_err *e)
{
    m->input_values = onnx_arena_calloc(&m->arena, g->n_input + 1, sizeof(int));
    m->input_info = onnx_arena_calloc(&m->arena, g->n_input + 1, sizeof(onnx_value_info));
    if (!m->input_values || !m->input_info) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        const char *name = vi->name ? vi->name : "";
        if (!*name) return onnx_load_fail(e, ONNX_E_INVALID, "graph input %zu has no name", i);
        int existing = map_find(nm, name);
        if (existing >= 0) {
            if (m->values[existing].kind == ONNX_VALUE_CONST) continue;
            return onnx_load_fail(e, ONNX_E_INVALID, "graph input '%s' listed twice", name);
        }
        int rc = fill_value_info(m, vi, &m->input_info[m->n_inputs], e);
        if (rc < 0) return rc;
        int v = onnx_model_add_value(m, name, ONNX_VALUE_INPUT);
        if (v < 0) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        if (map_put(nm, name, v) < 0) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        m->input_values[m->n_inputs++] = v;
    }
    return 0;
}

/* Node i: names, arrays, its outputs as new values and its attributes (inputs are resolved
 * by resolve_inputs once every output exists). */
static int load_node(onnx_model *m, const Onnx__NodeProto *np, size_t i, name_map *nm,
                     onnx_load_err *e)
{
    onnx_node *n = &m->nodes[i];
    m->n_nodes = (int)i + 1;
    n->op_type = onnx_arena_strdup(&m->arena, np->op_type);
    n->name = onnx_arena_strdup(&m->arena, np->name);
    n->opset = m->opset;
    if (!n->op_type || !n->name) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    if (!*n->op_type) return onnx_load_fail(e, ONNX_E_INVALID, "node %zu has no op_type", i);
    if (!is_default_domain(np->domain))
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED,
                              "operator %s of domain '%s' (node '%s') is not supported", n->op_type,
                              np->domain, n->name);
    if (np->n_input > 1024 || np->n_output > 1024)
        return onnx_load_fail(e, ONNX_E_INVALID, "node '%s' has too many inputs or outputs",
                              n->name);
    n->n_inputs = (int)np->n_input;
    n->n_outputs = (int)np->n_output;
    n->inputs = onnx_arena_calloc(&m->arena, np->n_input + 1, sizeof(int));
    n->outputs = onnx_arena_calloc(&m->arena, np->n_output + 1, sizeof(int));
    n->attrs = onnx_arena_calloc(&m->arena, np->n_attribute + 1, sizeof(onnx_attr));
    if (!n->inputs || !n->outputs || !n->attrs)
        return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    for (size_t k = 0; k < np->n_output; k++) {
        const char *name = np->output[k] ? np->output[k] : "";
        if (!*name) {
            n->outputs[k] = -1;
            continue;
        }
        if (map_find(nm, name) >= 0)
            return onnx_load_fail(e, ONNX_E_INVALID,
                                  "value '%s' (output of node '%s') is defined twice", name,
                                  n->name);
        int v = onnx_model_add_value(m, name, ONNX_VALUE_ACTIVATION);
        if (v < 0) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        if (map_put(nm, name, v) < 0) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
        m->values[v].producer = (int)i;
        n->outputs[k] = v;
    }
    char where[160];
    snprintf(where, sizeof where, "%s node '%s'", n->op_type, n->name);
    if (np->n_attribute > 4096)
        return onnx_load_fail(e, ONNX_E_INVALID, "%s: too many attributes", where);
    for (size_t k = 0; k < np->n_attribute; k++) {
        int rc = convert_attr(m, np->attribute[k], &n->attrs[k], where, e);
        n->n_attrs = (int)k + 1;
        if (rc < 0) return rc;
    }
    return 0;
}

/* Every node input names a value defined somewhere in the graph (any order: sorted later). */
static int resolve_inputs(onnx_model *m, const Onnx__GraphProto *g, scope *sc, onnx_load_err *e)
{
    for (int i = 0; i < m->n_nodes; i++) {
        const Onnx__NodeProto *np = g->node[i];
        onnx_node *n = &m->nodes[i];
        for (size_t k = 0; k < np->n_input; k++) {
            const char *name = np->input[k] ? np->input[k] : "";
            if (!*name) {
                n->inputs[k] = -1;
                continue;
            }
            int v = scope_find(sc, name, e);
            if (v == -2) return e->code;
            if (v < 0)
                return onnx_load_fail(e, ONNX_E_INVALID,
                                      "input '%s' of %s node '%s' is not defined", name, n->op_type,
                                      n->name);
            n->inputs[k] = v;
        }
    }
    return 0;
}

static int load_outputs(onnx_model *m, const Onnx__GraphProto *g, scope *sc, onnx_load_err *e)
{
    m->output_values = onnx_arena_calloc(&m->arena, g->n_output + 1, sizeof(int));
    m->output_info = onnx_arena_calloc(&m->arena, g->n_output + 1, sizeof(onnx_value_info));
    if (!m->output_values || !m->output_info)
        return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    for (size_t i = 0; i < g->n_output; i++) {
        const Onnx__ValueInfoProto *vi = g->output[i];
        int v = scope_find(sc, vi->name ? vi->name : "", e);
        if (v == -2) return e->code;
        if (v < 0)
            return onnx_load_fail(e, ONNX_E_INVALID, "graph output '%s' is not produced",
                                  vi->name ? vi->name : "");
        int rc = fill_value_info(m, vi, &m->output_info[i], e);
        if (rc < 0) return rc;
        m->output_values[i] = v;
        m->values[v].graph_output = 1;
        m->n_outputs = (int)i + 1;
    }
    if (m->n_outputs == 0) return onnx_load_fail(e, ONNX_E_INVALID, "graph has no outputs");
    return 0;
}

/* Each node's operator from the registry, for the model's opset. */
static int bind_operators(onnx_model *m, onnx_load_err *e)
{
    for (int i = 0; i < m->n_nodes; i++) {
        onnx_node *n = &m->nodes[i];
        n->op = onnx_registry_find(n->op_type, m->opset);
        if (!n->op)
            return onnx_load_fail(e, ONNX_E_UNSUPPORTED,
                                  "operator %s (node '%s', opset %d) is not supported", n->op_type,
                                  n->name, m->opset);
    }
    return 0;
}

static int load_graph(onnx_model *m, const Onnx__GraphProto *g, const char *base_dir, scope *parent,
                      onnx_node *owner, onnx_load_err *e);

/* Runs the load-time passes that a subgraph shares with the main graph. */
static int finish_graph(onnx_model *m, onnx_load_err *e)
{
    int rc = onnx_graph_sort(m, e);
    if (rc == 0) rc = onnx_graph_fold(m, e);
    if (rc == 0) rc = onnx_graph_fuse(m, e);
    if (rc == 0) rc = onnx_graph_prepare(m, e);
    if (rc == 0) rc = onnx_graph_plan(m, e);
    return rc;
}

/* The subgraphs in the nodes' GRAPH attributes, each a model of its own (owned by m's
 * children) whose outer names resolve through sc. */
static int load_subgraphs(onnx_model *m, const Onnx__GraphProto *g, const char *base_dir, scope *sc,
                          onnx_load_err *e)
{
    for (int i = 0; i < m->n_nodes; i++) {
        const Onnx__NodeProto *np = g->node[i];
        for (size_t k = 0; k < np->n_attribute; k++) {
            const Onnx__AttributeProto *a = np->attribute[k];
            if (m->nodes[i].attrs[k].type != ONNX_ATTR_GRAPH || !a->g) continue;
            if (m->depth + 1 > ONNX_SUBGRAPH_MAX_DEPTH)
                return onnx_load_fail(e, ONNX_E_INVALID, "subgraphs nested deeper than %d",
                                      ONNX_SUBGRAPH_MAX_DEPTH);
            if (m->n_children == m->cap_children) {
                int cap = m->cap_children ? m->cap_children * 2 : 4;
                onnx_model **c = realloc(m->children, (size_t)cap * sizeof *c);
                if (!c) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
                m->children = c;
                m->cap_children = cap;
            }
            onnx_model *child = calloc(1, sizeof *child);
            if (!child) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
            m->children[m->n_children++] = child;
            child->opset = m->opset;
            child->ir_version = m->ir_version;
            child->producer = "";
            child->depth = m->depth + 1;
            int rc = load_graph(child, a->g, base_dir, sc, &m->nodes[i], e);
            if (rc == 0) rc = finish_graph(child, e);
            if (rc < 0) return rc;
            m->nodes[i].attrs[k].g = child;
        }
    }
    return 0;
}

/* The graph's values (initializers, inputs, node outputs), nodes, subgraphs, outputs and
 * operators, in that order; names resolve through a load-time map, then the enclosing
 * graphs' (parent; owner is the node holding this graph, NULL for the main graph). */
static int load_graph(onnx_model *m, const Onnx__GraphProto *g, const char *base_dir, scope *parent,
                      onnx_node *owner, onnx_load_err *e)
{
    if (g->n_node > INT_MAX / 4 || g->n_initializer > INT_MAX / 4 || g->n_input > INT_MAX / 4 ||
        g->n_output > INT_MAX / 4)
        return onnx_load_fail(e, ONNX_E_INVALID, "graph too large");
    int rc = count_op_types(m, g, e);
    if (rc < 0) return rc;

    size_t expected = g->n_initializer + g->n_input + 1;
    for (size_t i = 0; i < g->n_node; i++) expected += g->node[i]->n_output;
    name_map nm;
    if (map_init(&nm, m, expected) < 0) return onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    scope sc = {m, &nm, parent, owner};
    rc = load_initializers(m, g, base_dir, &nm, e);
    if (rc == 0) rc = load_inputs(m, g, &nm, e);
    if (rc == 0 && !(m->nodes = calloc(g->n_node + 1, sizeof *m->nodes)))
        rc = onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    for (size_t i = 0; i < g->n_node && rc == 0; i++) rc = load_node(m, g->node[i], i, &nm, e);
    if (rc == 0) rc = resolve_inputs(m, g, &sc, e);
    if (rc == 0) rc = load_subgraphs(m, g, base_dir, &sc, e);
    if (rc == 0) rc = load_outputs(m, g, &sc, e);
    free(nm.slots);
    if (rc < 0) return rc;
    return bind_operators(m, e);
}

static int read_opset(onnx_model *m, const Onnx__ModelProto *mp, onnx_load_err *e)
{
    int found = 0;
    int64_t opset = 0;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[i];
        if (is_default_domain(o->domain)) {
            found = 1;
            opset = o->has_version ? o->version : 1;
        }
    }
    if (!found && mp->n_opset_import == 0 && mp->has_ir_version && mp->ir_version < 3) {
        found = 1; /* IR version 1-2 files predate opset_import: they mean opset 1 */
        opset = 1;
    }
    if (!found)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED,
                              "model imports no opset of the default domain");
    if (opset < ONNX_OPSET_MIN || opset > ONNX_OPSET_MAX)
        return onnx_load_fail(e, ONNX_E_UNSUPPORTED,
                              "opset %lld of the default domain is not supported (%d..%d)",
                              (long long)opset, ONNX_OPSET_MIN, ONNX_OPSET_MAX);
    m->opset = (int)opset;
    return 0;
}

void onnx_model_free(onnx_model *m)
{
    if (!m) return;
    onnx_graph_release_nodes(m);
    for (int i = 0; i < m->n_children; i++) onnx_model_free(m->children[i]);
    free(m->children);
    for (int i = 0; i < m->n_values; i++)
        if (m->values[i].kind == ONNX_VALUE_CONST) free(m->values[i].t.data);
    free(m->values);
    free(m->nodes);
    free(m->free_after);
    free(m->free_start);
    free(m->prefetch);
    onnx_place_plan_free(m);
    onnx_arena_free(&m->arena);
    free(m);
}

/* Checks and decodes the protobuf; NULL (with the error set) if malformed. A file's own
 * buffer (`file`: read here, freed by the caller) is decoded with its weights lifted out
 * first (rawsplit.h), so they are not held twice. */
static Onnx__ModelProto *decode(const void *data, size_t len, unsigned char *file, onnx_load_err *e)
{
    if (onnx_wire_check(data, len, &onnx__model_proto__descriptor) < 0) {
        onnx_load_fail(e, ONNX_E_INVALID,
                       "not a valid ONNX model (malformed protobuf or nesting deeper than %d)",
                       ONNX_WIRE_MAX_DEPTH);
        return NULL;
    }
    int nomem = 0;
    Onnx__ModelProto *mp =
        file ? onnx_raw_decode(file, len, &nomem) : onnx__model_proto__unpack(NULL, len, data);
    if (!mp && nomem) onnx_load_fail(e, ONNX_E_NOMEM, "out of memory decoding the model");
    else if (!mp)
        onnx_load_fail(e, ONNX_E_INVALID, "not a valid ONNX model (protobuf decoding failed)");
    return mp;
}

/* Builds the model from a decoded message (freed here) and runs the load-time passes. */
static int build(Onnx__ModelProto *mp, const char *base_dir, onnx_model **out, onnx_load_err *e)
{
    onnx_model *m = calloc(1, sizeof *m);
    int rc = m ? 0 : onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    if (rc == 0 && !mp->graph) rc = onnx_load_fail(e, ONNX_E_INVALID, "model has no graph");
    if (rc == 0) rc = read_opset(m, mp, e);
    if (rc == 0) {
        m->ir_version = mp->has_ir_version ? mp->ir_version : 0;
        m->producer = onnx_arena_strdup(&m->arena, mp->producer_name);
        if (!m->producer) rc = onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    }
    if (rc == 0) rc = load_graph(m, mp->graph, base_dir, NULL, NULL, e);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (rc == 0) rc = finish_graph(m, e);
    if (rc == 0 && (onnx_graph_batch_plan(m) < 0 || onnx_graph_place_plan(m) < 0))
        rc = onnx_load_fail(e, ONNX_E_NOMEM, "out of memory");
    if (rc < 0) {
        onnx_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int onnx_model_load_buffer(const void *data, size_t len, const char *base_dir, onnx_model **out,
                           char *err, size_t err_len)
{
    onnx_load_err e = {err, err_len, 0};
    if (err && err_len) err[0] = 0;
    *out = NULL;
    Onnx__ModelProto *mp = decode(data, len, NULL, &e);
    return mp ? build(mp, base_dir, out, &e) : e.code;
}

int onnx_model_load(const char *path, onnx_model **out, char *err, size_t err_len)
{
    onnx_load_err e = {err, err_len, 0};
    if (err && err_len) err[0] = 0;
    *out = NULL;
    unsigned char *buf;
    size_t len;
    int rc = onnx_read_file(path, MODEL_MAX_FILE, &buf, &len, &e);
    if (rc < 0) return rc;
    Onnx__ModelProto *mp = decode(buf, len, buf, &e);
    free(buf); /* before building, so the weights are never held twice */
    if (!mp) return e.code;
    char *dir = strdup(path);
    if (!dir) {
        onnx__model_proto__free_unpacked(mp, NULL);
        return onnx_load_fail(&e, ONNX_E_NOMEM, "out of memory");
    }
    char *slash = strrchr(dir, '/');
    if (slash) {
        if (slash == dir) slash[1] = 0;
        else *slash = 0;
    } else {
        strcpy(dir, ".");
    }
    rc = build(mp, dir, out, &e);
    free(dir);
    return rc;
}
