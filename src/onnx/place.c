/* Concat without copies: at load, groups of Concats along axis 1 that share values; per run,
 * each group's layout in one buffer, so producers write into their slots and the Concats copy
 * nothing (docs/onnx-runtime.md, "Concat without copies"). */
#include "place.h"

#include <stdlib.h>
#include <string.h>

#include "exec.h"

/* ---- load time ------------------------------------------------------------------------------ */

/* A Concat along axis 1 over activations, each named once, none of them a graph output. */
static int place_concat_ok(const onnx_model *m, const onnx_node *n)
{
    if (strcmp(n->op_type, "Concat") != 0 || n->n_inputs < 1 || n->n_captures != 0 ||
        n->n_outputs != 1 || n->outputs[0] < 0)
        return 0;
    const int64_t axis = onnx_node_attr(n, "axis") ? onnx_attr_int(n, "axis", 0)
                         : n->opset < 4            ? 1
                                                   : 0;
    if (axis != 1) return 0;
    const onnx_value *out = &m->values[n->outputs[0]];
    if (out->kind != ONNX_VALUE_ACTIVATION || out->graph_output) return 0;
    for (int i = 0; i < n->n_inputs; i++) {
        const int u = n->inputs[i];
        if (u < 0 || u == n->outputs[0]) return 0;
        const onnx_value *in = &m->values[u];
        if (in->kind != ONNX_VALUE_ACTIVATION || in->graph_output || in->producer < 0) return 0;
        for (int j = 0; j < i; j++)
            if (n->inputs[j] == u) return 0;
    }
    return 1;
}

static int uf_find(int *parent, int v)
{
    while (parent[v] != v) {
        parent[v] = parent[parent[v]];
        v = parent[v];
    }
    return v;
}

void onnx_place_plan_free(onnx_model *m)
{
    free(m->place_group);
    free(m->place_member);
    free(m->place_is_cat);
    free(m->place_members);
    free(m->place_member_start);
    free(m->place_cats);
    free(m->place_cat_start);
    m->place_group = m->place_member = m->place_members = NULL;
    m->place_member_start = m->place_cats = m->place_cat_start = NULL;
    m->place_is_cat = NULL;
    m->n_place_groups = 0;
}

int onnx_graph_place_plan(onnx_model *m)
{
    onnx_place_plan_free(m);
    const size_t nv = (size_t)m->n_values + 1, nn = (size_t)m->n_nodes + 1;
    int *parent = malloc(nv * sizeof *parent);
    char *cat_ok = calloc(nn, 1), *touched = calloc(nv, 1);
    int *gid = malloc(nv * sizeof *gid);
    if (!parent || !cat_ok || !touched || !gid) goto nomem;
    for (int v = 0; v < m->n_values; v++) parent[v] = v;
    int n_cats = 0;
    for (int k = 0; k < m->n_nodes; k++) {
        const onnx_node *n = &m->nodes[k];
        if (!place_concat_ok(m, n)) continue;
        cat_ok[k] = 1;
        n_cats++;
        touched[n->outputs[0]] = 1;
        for (int i = 0; i < n->n_inputs; i++) {
            touched[n->inputs[i]] = 1;
            int a = uf_find(parent, n->outputs[0]), b = uf_find(parent, n->inputs[i]);
            if (a != b) parent[b] = a;
        }
    }
    if (n_cats == 0) goto done;
    int n_groups = 0, n_members = 0;
    for (int v = 0; v < m->n_values; v++) gid[v] = -1;
    for (int v = 0; v < m->n_values; v++) {
        if (!touched[v]) continue;
        int r = uf_find(parent, v);
        if (gid[r] < 0) gid[r] = n_groups++;
        n_members++;
    }
    m->place_group = malloc(nv * sizeof *m->place_group);
    m->place_member = malloc(nv * sizeof *m->place_member);
    m->place_is_cat = calloc(nv, 1);
    m->place_members = malloc((size_t)n_members * sizeof *m->place_members);
    m->place_member_start = calloc((size_t)n_groups + 1, sizeof *m->place_member_start);
    m->place_cats = malloc((size_t)n_cats * sizeof *m->place_cats);
    m->place_cat_start = calloc((size_t)n_groups + 1, sizeof *m->place_cat_start);
    if (!m->place_group || !m->place_member || !m->place_is_cat || !m->place_members ||
        !m->place_member_start || !m->place_cats || !m->place_cat_start)
        goto nomem;
    m->n_place_groups = n_groups;
    /* counts, then prefix sums, then fill in value / node order */
    for (int v = 0; v < m->n_values; v++)
        if (touched[v]) m->place_member_start[gid[uf_find(parent, v)] + 1]++;
    for (int k = 0; k < m->n_nodes; k++)
        if (cat_ok[k]) m->place_cat_start[gid[uf_find(parent, m->nodes[k].outputs[0])] + 1]++;
    for (int g = 0; g < n_groups; g++) {
        m->place_member_start[g + 1] += m->place_member_start[g];
        m->place_cat_start[g + 1] += m->place_cat_start[g];
    }
    int *fill = calloc((size_t)n_groups + 1, sizeof *fill);
    if (!fill) goto nomem;
    for (int v = 0; v < m->n_values; v++) {
        m->place_group[v] = m->place_member[v] = -1;
        if (!touched[v]) continue;
        const int g = gid[uf_find(parent, v)], at = m->place_member_start[g] + fill[g]++;
        m->place_group[v] = g;
        m->place_member[v] = at;
        m->place_members[at] = v;
    }
    memset(fill, 0, ((size_t)n_groups + 1) * sizeof *fill);
    for (int k = 0; k < m->n_nodes; k++) {
        if (!cat_ok[k]) continue;
        const int v = m->nodes[k].outputs[0], g = m->place_group[v];
        m->place_cats[m->place_cat_start[g] + fill[g]++] = k;
        m->place_is_cat[v] = 1;
    }
    free(fill);
done:
    free(parent);
    free(cat_ok);
    free(touched);
    free(gid);
    return 0;
nomem:
    free(parent);
    free(cat_ok);
    free(touched);
    free(gid);
    onnx_place_plan_free(m);
    return -1;
}

/* ---- per run -------------------------------------------------------------------------------- */

int onnx_place_run_init(onnx_exec *x)
{
    const onnx_model *m = x->m;
    if (m->n_place_groups == 0) return 0;
    onnx_place_run *p = calloc(1, sizeof *p);
    const int n_members = m->place_member_start[m->n_place_groups];
    if (!p) return -1;
    x->place = p;
    p->slots = calloc((size_t)n_members + 1, sizeof *p->slots);
    p->group_bytes = calloc((size_t)m->n_place_groups, sizeof *p->group_bytes);
    p->ok = calloc((size_t)m->n_place_groups, 1);
    if (!p->slots || !p->group_bytes || !p->ok) {
        onnx_place_run_free(x);
        return -1;
    }
    return 0;
}

void onnx_place_run_free(onnx_exec *x)
{
    if (!x->place) return;
    free(x->place->slots);
    free(x->place->group_bytes);
    free(x->place->ok);
    free(x->place);
    x->place = NULL;
}

static int slot_matches(const onnx_place_slot *s, inferd_dtype dtype, int ndim, const int64_t *dims)
{
    if (s->dtype != dtype || s->ndim != ndim) return 0;
    for (int k = 0; k < ndim; k++)
        if (s->dims[k] != dims[k]) return 0;
    return 1;
}

#define PLACE_UNSET SIZE_MAX
#define PLACE_ALIGN 64

/* Sets member v's offset to off; 0 if it had another one or would leave the buffer. */
static int place_assign(const onnx_model *m, onnx_place_slot *slots, size_t total, int v,
                        size_t off, int *changed)
{
    onnx_place_slot *s = &slots[m->place_member[v]];
    if (off > total || s->bytes > total - off) return 0;
    if (s->off != PLACE_UNSET) return s->off == off;
    s->off = off;
    *changed = 1;
    return 1;
}

/* Propagates offsets through Concat k (its output and inputs back to back); 0 on conflict. */
static int place_through(const onnx_model *m, onnx_place_slot *slots, size_t total, int k,
                         int *changed)
{
    const onnx_node *n = &m->nodes[k];
    const onnx_place_slot *out = &slots[m->place_member[n->outputs[0]]];
    size_t base = out->off, prefix = 0;
    if (base == PLACE_UNSET) { /* from an input whose offset is known */
        for (int i = 0; i < n->n_inputs && base == PLACE_UNSET; i++) {
            const onnx_place_slot *s = &slots[m->place_member[n->inputs[i]]];
            if (s->off != PLACE_UNSET) {
                if (s->off < prefix) return 0;
                base = s->off - prefix;
            }
            prefix += s->bytes;
        }
        if (base == PLACE_UNSET) return 1; /* nothing known yet */
        if (!place_assign(m, slots, total, n->outputs[0], base, changed)) return 0;
    }
    size_t at = base;
    for (int i = 0; i < n->n_inputs; i++) {
        const int u = n->inputs[i];
        if (!place_assign(m, slots, total, u, at, changed)) return 0;
        at += slots[m->place_member[u]].bytes;
    }
    return at - base == out->bytes;
}

static int cmp_off(const void *a, const void *b)
{
    const onnx_place_slot *x = *(onnx_place_slot *const *)a, *y = *(onnx_place_slot *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Recomputes group g's layout from the shapes in x->vals; 1 if usable. */
static int place_layout(onnx_exec *x, int g)
{
    const onnx_model *m = x->m;
    onnx_place_slot *slots = x->place->slots;
    const int m0 = m->place_member_start[g], m1 = m->place_member_start[g + 1];
    for (int i = m0; i < m1; i++) {
        const onnx_tensor *t = &x->vals[m->place_members[i]];
        onnx_place_slot *s = &slots[i];
        const size_t es = t->ndim >= 0 ? inferd_dtype_size(t->dtype) : 0;
        /* dim 0 = 1: a channel range (axis 1) is one block */
        if (es == 0 || t->ndim < 2 || t->dims[0] != 1 ||
            t->dtype != x->vals[m->place_members[m0]].dtype)
            return 0;
        s->dtype = t->dtype;
        s->ndim = t->ndim;
        memcpy(s->dims, t->dims, sizeof s->dims);
        s->bytes = (size_t)onnx_tensor_numel(t) * es; /* the run allocated it: no overflow */
        s->off = PLACE_UNSET;
        if (s->bytes % PLACE_ALIGN) return 0;
    }
    const int c0 = m->place_cat_start[g], c1 = m->place_cat_start[g + 1];
    int root = -1;
    size_t total = 0;
    for (int c = c0; c < c1; c++) {
        const size_t b = slots[m->place_member[m->nodes[m->place_cats[c]].outputs[0]]].bytes;
        if (root < 0 || b > total) {
            root = m->place_cats[c];
            total = b;
        }
    }
    if (total == 0) return 0;
    int changed = 1;
    place_assign(m, slots, total, m->nodes[root].outputs[0], 0, &changed);
    for (int pass = 0; changed && pass <= c1 - c0; pass++) {
        changed = 0;
        for (int c = c0; c < c1; c++)
            if (!place_through(m, slots, total, m->place_cats[c], &changed)) return 0;
    }
    /* every member placed; leaves (values no group Concat produces) disjoint */
    onnx_place_slot **leaves = malloc((size_t)(m1 - m0) * sizeof *leaves);
    if (!leaves) return 0;
    int n_leaves = 0, ok = 1;
    for (int i = m0; i < m1 && ok; i++) {
        if (slots[i].off == PLACE_UNSET || slots[i].off % PLACE_ALIGN) ok = 0;
        if (!m->place_is_cat[m->place_members[i]]) leaves[n_leaves++] = &slots[i];
    }
    if (ok) qsort(leaves, (size_t)n_leaves, sizeof *leaves, cmp_off);
    for (int i = 1; i < n_leaves && ok; i++)
        if (leaves[i - 1]->off + leaves[i - 1]->bytes > leaves[i]->off) ok = 0;
    free(leaves);
    x->place->group_bytes[g] = total;
    return ok;
}

void onnx_place_update(onnx_exec *x)
{
    const onnx_model *m = x->m;
    if (!x->place) return;
    for (int g = 0; g < m->n_place_groups; g++) {
        int same = x->place->ok[g];
        for (int i = m->place_member_start[g]; i < m->place_member_start[g + 1] && same; i++) {
            const onnx_tensor *t = &x->vals[m->place_members[i]];
            same = t->ndim >= 0 && slot_matches(&x->place->slots[i], t->dtype, t->ndim, t->dims);
        }
        if (!same) x->place->ok[g] = (char)place_layout(x, g);
    }
}

void *onnx_place_output(onnx_exec *x, int v, inferd_dtype dtype, int ndim, const int64_t *dims)
{
    const onnx_model *m = x->m;
    if (!x->place || v < 0 || v >= m->n_values) return NULL;
    const int g = m->place_group[v];
    if (g < 0 || !x->place->ok[g]) return NULL;
    const onnx_place_slot *slots = x->place->slots, *s = &slots[m->place_member[v]];
    if (!slot_matches(s, dtype, ndim, dims)) return NULL;
    const int owner = m->n_values + g;
    if (m->place_is_cat[v]) { /* only over inputs that all sit in their slots */
        const onnx_node *n = &m->nodes[m->values[v].producer];
        if (!x->bufs[owner]) return NULL;
        for (int i = 0; i < n->n_inputs; i++) {
            const int u = n->inputs[i];
            if (x->alias_root[u] != owner ||
                x->vals[u].data != (char *)x->bufs[owner] + slots[m->place_member[u]].off)
                return NULL;
        }
    }
    if (!x->bufs[owner]) {
        x->bufs[owner] = onnx_pool_get(&x->pool, x->place->group_bytes[g], &x->caps[owner]);
        if (!x->bufs[owner]) return NULL; /* the caller's own allocation reports it */
        x->pending[owner] = 1;            /* returns to the pool with its last view */
        x->alias_refs[owner] = 0;
    }
    x->alias_root[v] = owner;
    x->alias_refs[owner]++;
    return (char *)x->bufs[owner] + s->off;
}
