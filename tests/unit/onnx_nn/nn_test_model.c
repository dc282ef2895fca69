/* In-memory one-node models for the nn operator tests (see nn_test_model.h). */
#include "nn_test_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

#define NN_TEST_MAX 8

static size_t numel(const nn_test_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= (size_t)t->dims[i];
    return n;
}

static uint8_t *build(const nn_test_node *nd, size_t *len)
{
    Onnx__TensorProto inits[NN_TEST_MAX], *initp[NN_TEST_MAX];
    Onnx__ValueInfoProto vis[NN_TEST_MAX + 4], *inp[NN_TEST_MAX], *outp[4];
    Onnx__TypeProto types[NN_TEST_MAX + 4];
    Onnx__TypeProto__Tensor ttypes[NN_TEST_MAX + 4];
    Onnx__TensorShapeProto shapes[NN_TEST_MAX];
    Onnx__TensorShapeProto__Dimension dimv[NN_TEST_MAX][8], *dimp[NN_TEST_MAX][8];
    Onnx__AttributeProto attrs[NN_TEST_MAX], *attrp[NN_TEST_MAX];
    char *in_names[NN_TEST_MAX], *out_names[4] = {"y0", "y1", "y2", "y3"};
    int n_init = 0, n_in = 0, n_out = nd->n_outputs ? nd->n_outputs : 1;
    for (int i = 0; i < nd->n_inputs; i++) {
        const nn_test_tensor *t = &nd->inputs[i];
        in_names[i] = (char *)t->name;
        if (t->name[0] == '\0') continue; /* omitted optional input */
        if (t->initializer) {
            Onnx__TensorProto *p = &inits[n_init];
            onnx__tensor_proto__init(p);
            p->name = (char *)t->name;
            p->n_dims = (size_t)t->ndim;
            p->dims = (int64_t *)t->dims;
            p->has_data_type = 1;
            p->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
            p->has_raw_data = 1;
            p->raw_data.len = numel(t) * sizeof(float);
            p->raw_data.data = (uint8_t *)t->data;
            initp[n_init++] = p;
            continue;
        }
        int k = n_in;
        onnx__tensor_shape_proto__init(&shapes[k]);
        for (int d = 0; d < t->ndim; d++) {
            onnx__tensor_shape_proto__dimension__init(&dimv[k][d]);
            dimv[k][d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dimv[k][d].dim_value = t->dims[d];
            dimp[k][d] = &dimv[k][d];
        }
        shapes[k].n_dim = (size_t)t->ndim;
        shapes[k].dim = dimp[k];
        onnx__type_proto__tensor__init(&ttypes[k]);
        ttypes[k].has_elem_type = 1;
        ttypes[k].elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        ttypes[k].shape = &shapes[k];
        onnx__type_proto__init(&types[k]);
        types[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        types[k].tensor_type = &ttypes[k];
        onnx__value_info_proto__init(&vis[k]);
        vis[k].name = (char *)t->name;
        vis[k].type = &types[k];
        inp[n_in++] = &vis[k];
    }
    for (int o = 0; o < n_out; o++) {
        int k = NN_TEST_MAX + o;
        onnx__type_proto__tensor__init(&ttypes[k]);
        ttypes[k].has_elem_type = 1;
        ttypes[k].elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
        onnx__type_proto__init(&types[k]);
        types[k].value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
        types[k].tensor_type = &ttypes[k];
        onnx__value_info_proto__init(&vis[k]);
        vis[k].name = out_names[o];
        vis[k].type = &types[k];
        outp[o] = &vis[k];
    }
    for (int a = 0; a < nd->n_attrs; a++) {
        const nn_test_attr *s = &nd->attrs[a];
        Onnx__AttributeProto *p = &attrs[a];
        onnx__attribute_proto__init(p);
        p->name = (char *)s->name;
        p->has_type = 1;
        switch (s->kind) {
        case NN_ATTR_INT:
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, p->has_i = 1, p->i = s->i;
            break;
        case NN_ATTR_FLOAT:
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, p->has_f = 1, p->f = s->f;
            break;
        case NN_ATTR_INTS:
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
            p->n_ints = (size_t)s->n_ints, p->ints = (int64_t *)s->ints;
            break;
        default:
            p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, p->has_s = 1;
            p->s.len = strlen(s->s), p->s.data = (uint8_t *)s->s;
            break;
        }
        attrp[a] = p;
    }
    Onnx__NodeProto node;
    onnx__node_proto__init(&node);
    node.op_type = (char *)nd->op_type;
    node.name = (char *)"n0";
    node.n_input = (size_t)nd->n_inputs, node.input = in_names;
    node.n_output = (size_t)n_out, node.output = out_names;
    node.n_attribute = (size_t)nd->n_attrs, node.attribute = attrp;
    Onnx__NodeProto *nodep[1] = {&node};
    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = (char *)"nn_test";
    g.n_node = 1, g.node = nodep;
    g.n_input = (size_t)n_in, g.input = inp;
    g.n_output = (size_t)n_out, g.output = outp;
    g.n_initializer = (size_t)n_init, g.initializer = initp;
    Onnx__OperatorSetIdProto ops;
    onnx__operator_set_id_proto__init(&ops);
    ops.domain = (char *)"";
    ops.has_version = 1;
    ops.version = nd->opset ? nd->opset : 13;
    Onnx__OperatorSetIdProto *opsp[1] = {&ops};
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.n_opset_import = 1, m.opset_import = opsp;
    m.graph = &g;
    *len = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf) onnx__model_proto__pack(&m, buf);
    return buf;
}

int nn_test_run(const nn_test_node *nd, float *out, size_t out_cap, size_t *out_n,
                int64_t *out_dims, int *out_ndim, char *err, size_t err_len)
{
    size_t len;
    if (nd->n_inputs > NN_TEST_MAX || nd->n_attrs > NN_TEST_MAX) {
        snprintf(err, err_len, "test node too large");
        return ONNX_E_INVALID;
    }
    uint8_t *buf = build(nd, &len);
    if (!buf) {
        snprintf(err, err_len, "out of memory");
        return ONNX_E_NOMEM;
    }
    onnx_model *model = NULL;
    onnx_session *s = NULL;
    int rc = onnx_model_load_buffer(buf, len, NULL, &model, err, err_len);
    free(buf);
    if (rc == 0) rc = onnx_session_create(model, 1, &s, err, err_len);
    if (rc == 0) {
        onnx_input in[NN_TEST_MAX];
        int n = 0;
        for (int i = 0; i < nd->n_inputs; i++) {
            const nn_test_tensor *t = &nd->inputs[i];
            if (t->initializer || t->name[0] == '\0') continue;
            in[n++] = (onnx_input){.name = t->name,
                                   .dtype = INFERD_DTYPE_FP32,
                                   .ndim = t->ndim,
                                   .dims = t->dims,
                                   .data = t->data,
                                   .nbytes = numel(t) * sizeof(float)};
        }
        rc = onnx_run(s, in, n, err, err_len);
    }
    if (rc == 0) {
        onnx_output o;
        rc = onnx_session_output(s, 0, &o);
        if (rc == 0) {
            size_t n = o.nbytes / sizeof(float);
            *out_n = n;
            *out_ndim = o.ndim;
            for (int d = 0; d < o.ndim && d < 8; d++) out_dims[d] = o.dims[d];
            if (n > out_cap) n = out_cap;
            if (n) memcpy(out, o.data, n * sizeof(float));
        }
    }
    onnx_session_free(s);
    onnx_model_free(model);
    return rc;
}
