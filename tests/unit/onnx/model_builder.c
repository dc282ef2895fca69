/* In-memory ONNX model construction with the generated protobuf-c code (see model_builder.h). */
#include "model_builder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

/* [batch, 4] FP32; the type structs are shared by every value built here */
static Onnx__ValueInfoProto *value_info(const char *name)
{
    static Onnx__TensorShapeProto__Dimension d0, d1;
    static Onnx__TensorShapeProto__Dimension *dims[2];
    static Onnx__TensorShapeProto shape;
    static Onnx__TypeProto__Tensor tt;
    static Onnx__TypeProto tp;
    static Onnx__ValueInfoProto vi[2];
    static int n;
    onnx__tensor_shape_proto__dimension__init(&d0);
    onnx__tensor_shape_proto__dimension__init(&d1);
    d0.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d0.dim_param = (char *)"batch";
    d1.value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d1.dim_value = 4;
    dims[0] = &d0;
    dims[1] = &d1;
    onnx__tensor_shape_proto__init(&shape);
    shape.n_dim = 2;
    shape.dim = dims;
    onnx__type_proto__tensor__init(&tt);
    tt.has_elem_type = 1;
    tt.elem_type = 1;
    tt.shape = &shape;
    onnx__type_proto__init(&tp);
    tp.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp.tensor_type = &tt;
    Onnx__ValueInfoProto *v = &vi[n++ % 2];
    onnx__value_info_proto__init(v);
    v->name = (char *)name;
    v->type = &tp;
    return v;
}

/* Packs a model of graph g importing the default domain at `opset` (IR version 8); returns a
 * malloc'd buffer of *len bytes, or NULL. */
static uint8_t *pack_model(Onnx__GraphProto *g, int64_t opset, const char *producer, size_t *len)
{
    Onnx__OperatorSetIdProto op;
    onnx__operator_set_id_proto__init(&op);
    op.domain = (char *)"";
    op.has_version = 1;
    op.version = opset;
    Onnx__OperatorSetIdProto *opsets[1] = {&op};
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = 8;
    if (producer) m.producer_name = (char *)producer;
    m.n_opset_import = 1;
    m.opset_import = opsets;
    m.graph = g;
    *len = onnx__model_proto__get_packed_size(&m);
    uint8_t *buf = malloc(*len);
    if (buf) onnx__model_proto__pack(&m, buf);
    return buf;
}

uint8_t *test_model_build(const test_model_opts *o, size_t *len)
{
    /* W */
    Onnx__TensorProto w;
    onnx__tensor_proto__init(&w);
    int64_t w_dim = o->w_big_dim ? o->w_big_dim : (o->w_dims ? o->w_dims : 4);
    w.n_dims = 1;
    w.dims = &w_dim;
    w.has_data_type = 1;
    w.data_type = 1;
    w.name = (char *)"W";
    Onnx__StringStringEntryProto kv[3], *kvp[3];
    char off[32], ln[32];
    if (o->ext_location) {
        w.has_data_location = 1;
        w.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        snprintf(off, sizeof off, "%lld", o->ext_offset);
        snprintf(ln, sizeof ln, "%lld", o->ext_length);
        const char *keys[3] = {"location", "offset", "length"};
        const char *vals[3] = {o->ext_location, off, ln};
        for (int i = 0; i < 3; i++) {
            onnx__string_string_entry_proto__init(&kv[i]);
            kv[i].key = (char *)keys[i];
            kv[i].value = (char *)vals[i];
            kvp[i] = &kv[i];
        }
        w.n_external_data = o->ext_length < 0 ? 2 : 3;
        w.external_data = kvp;
    } else {
        w.has_raw_data = 1;
        w.raw_data.len = sizeof TEST_W;
        w.raw_data.data = (uint8_t *)TEST_W;
    }
    Onnx__TensorProto *inits[1] = {&w};

    /* C as a Constant node's tensor attribute (typed float_data) */
    Onnx__TensorProto c;
    onnx__tensor_proto__init(&c);
    int64_t c_dim = 4;
    c.n_dims = 1;
    c.dims = &c_dim;
    c.has_data_type = 1;
    c.data_type = 1;
    c.n_float_data = 4;
    c.float_data = (float *)TEST_C;
    Onnx__AttributeProto cattr;
    onnx__attribute_proto__init(&cattr);
    cattr.name = (char *)"value";
    cattr.has_type = 1;
    cattr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    cattr.t = &c;
    Onnx__AttributeProto *cattrs[1] = {&cattr};

    /* one attribute of each kind, on the Identity node */
    static int64_t ints[3] = {1, 2, 3};
    static float floats[2] = {0.5f, 1.5f};
    ProtobufCBinaryData strs[2] = {{1, (uint8_t *)"a"}, {2, (uint8_t *)"bc"}};
    Onnx__AttributeProto at[6], *atp[6];
    for (int i = 0; i < 6; i++) {
        onnx__attribute_proto__init(&at[i]);
        at[i].has_type = 1;
        atp[i] = &at[i];
    }
    at[0].name = (char *)"f", at[0].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT,
    at[0].has_f = 1, at[0].f = 2.5f;
    at[1].name = (char *)"i", at[1].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT,
    at[1].has_i = 1, at[1].i = 7;
    at[2].name = (char *)"s", at[2].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING,
    at[2].has_s = 1;
    at[2].s.len = 5, at[2].s.data = (uint8_t *)"hello";
    at[3].name = (char *)"ints", at[3].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS,
    at[3].n_ints = 3, at[3].ints = ints;
    at[4].name = (char *)"floats", at[4].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS,
    at[4].n_floats = 2;
    at[4].floats = floats;
    at[5].name = (char *)"strings", at[5].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS,
    at[5].n_strings = 2;
    at[5].strings = strs;

    Onnx__NodeProto nodes[5], *np[5];
    char *in_add[2] = {"x", "W"}, *out_add[1] = {"a"};
    char *in_relu[1] = {"a"}, *out_relu[1] = {"b"};
    if (o->broken == 1) in_relu[0] = "undefined";
    if (o->broken == 2) out_relu[0] = "a";
    if (o->broken == 3) in_relu[0] = "y0";
    char *out_const[1] = {"C"};
    char *in_add2[2] = {"b", "C"}, *out_add2[1] = {"y0"};
    char *in_id[1] = {"y0"}, *out_id[1] = {"y"};
    char *in_extra[1] = {"y"}, *out_extra[1] = {"z"};
    for (int i = 0; i < 5; i++) {
        onnx__node_proto__init(&nodes[i]);
        np[i] = &nodes[i];
    }
    nodes[0].op_type = (char *)"Add", nodes[0].name = (char *)"add0";
    nodes[0].n_input = 2, nodes[0].input = in_add, nodes[0].n_output = 1, nodes[0].output = out_add;
    nodes[1].op_type = (char *)"Relu", nodes[1].name = (char *)"relu0";
    nodes[1].n_input = 1, nodes[1].input = in_relu, nodes[1].n_output = 1,
    nodes[1].output = out_relu;
    nodes[2].op_type = (char *)"Constant", nodes[2].name = (char *)"const0";
    nodes[2].n_output = 1, nodes[2].output = out_const, nodes[2].n_attribute = 1,
    nodes[2].attribute = cattrs;
    nodes[3].op_type = (char *)"Add", nodes[3].name = (char *)"add1";
    nodes[3].n_input = 2, nodes[3].input = in_add2, nodes[3].n_output = 1,
    nodes[3].output = out_add2;
    nodes[4].op_type = (char *)"Identity", nodes[4].name = (char *)"id0";
    nodes[4].n_input = 1, nodes[4].input = in_id, nodes[4].n_output = 1, nodes[4].output = out_id;
    nodes[4].n_attribute = 6, nodes[4].attribute = atp;
    Onnx__NodeProto extra;
    Onnx__NodeProto *np6[6] = {np[0], np[1], np[2], np[3], np[4], &extra};
    onnx__node_proto__init(&extra);
    extra.op_type = (char *)o->extra_op;
    extra.name = (char *)"extra0";
    extra.n_input = 1, extra.input = in_extra, extra.n_output = 1, extra.output = out_extra;

    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = (char *)"test";
    g.n_node = o->extra_op ? 6 : 5;
    g.node = np6;
    g.n_initializer = 1;
    g.initializer = inits;
    Onnx__ValueInfoProto *in = value_info("x");
    Onnx__ValueInfoProto *out = value_info(o->extra_op ? "z" : "y");
    Onnx__ValueInfoProto *ins[1] = {in}, *outs[1] = {out};
    g.n_input = 1, g.input = ins;
    g.n_output = 1, g.output = outs;
    return pack_model(&g, o->opset ? o->opset : 13, "inferd-test", len);
}

/* A graph of the given nodes from input "x" to output "y", packed as a model of the opset. */
static uint8_t *pack_x_to_y(const char *name, Onnx__NodeProto **np, size_t n_nodes, int opset,
                            size_t *len)
{
    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = (char *)name;
    g.n_node = n_nodes;
    g.node = np;
    Onnx__ValueInfoProto *in = value_info("x"), *ins_vi[1] = {in};
    Onnx__ValueInfoProto out, *outs_vi[1] = {&out};
    onnx__value_info_proto__init(&out);
    out.name = (char *)"y";
    g.n_input = 1, g.input = ins_vi;
    g.n_output = 1, g.output = outs_vi;
    return pack_model(&g, opset, NULL, len);
}

uint8_t *test_model_chain(int n_nodes, size_t *len)
{
    Onnx__NodeProto *nodes = calloc((size_t)n_nodes, sizeof *nodes);
    Onnx__NodeProto **np = calloc((size_t)n_nodes, sizeof *np);
    char(*names)[16] = calloc((size_t)n_nodes + 1, sizeof *names);
    char **ins = calloc((size_t)n_nodes, sizeof *ins),
         **outs = calloc((size_t)n_nodes, sizeof *outs);
    snprintf(names[0], sizeof names[0], "x");
    for (int i = 0; i < n_nodes; i++) {
        if (i + 1 == n_nodes) snprintf(names[i + 1], sizeof names[i + 1], "y");
        else snprintf(names[i + 1], sizeof names[i + 1], "r%d", i);
        onnx__node_proto__init(&nodes[i]);
        nodes[i].op_type = (char *)"Relu";
        ins[i] = names[i];
        outs[i] = names[i + 1];
        nodes[i].n_input = 1, nodes[i].input = &ins[i];
        nodes[i].n_output = 1, nodes[i].output = &outs[i];
        np[i] = &nodes[i];
    }
    uint8_t *buf = pack_x_to_y("chain", np, (size_t)n_nodes, 13, len);
    free(nodes), free(np), free(names), free(ins), free(outs);
    return buf;
}

uint8_t *test_model_views(size_t *len)
{
    static const struct {
        const char *op, *in0, *in1, *out;
    } spec[] = {
        {"Relu", "x", NULL, "a"},      {"Flatten", "a", NULL, "v1"}, {"Identity", "v1", NULL, "v2"},
        {"Neg", "v1", NULL, "d"},      {"Sub", "v2", "d", "b"},      {"Identity", "b", NULL, "y1"},
        {"Identity", "x", NULL, "y2"},
    };
    enum { N = sizeof spec / sizeof spec[0] };
    Onnx__NodeProto nodes[N], *np[N];
    char *ins[N][2], *outs[N];
    for (int i = 0; i < N; i++) {
        onnx__node_proto__init(&nodes[i]);
        nodes[i].op_type = (char *)spec[i].op;
        ins[i][0] = (char *)spec[i].in0;
        ins[i][1] = (char *)spec[i].in1;
        outs[i] = (char *)spec[i].out;
        nodes[i].n_input = spec[i].in1 ? 2 : 1, nodes[i].input = ins[i];
        nodes[i].n_output = 1, nodes[i].output = &outs[i];
        np[i] = &nodes[i];
    }
    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = (char *)"views";
    g.n_node = N;
    g.node = np;
    Onnx__ValueInfoProto *in = value_info("x"), *ins_vi[1] = {in};
    Onnx__ValueInfoProto out[2], *outs_vi[2] = {&out[0], &out[1]};
    onnx__value_info_proto__init(&out[0]);
    onnx__value_info_proto__init(&out[1]);
    out[0].name = (char *)"y1";
    out[1].name = (char *)"y2";
    g.n_input = 1, g.input = ins_vi;
    g.n_output = 2, g.output = outs_vi;
    uint8_t *buf = pack_model(&g, 13, NULL, len);
    return buf;
}

uint8_t *test_model_shape_chain(size_t *len)
{
    Onnx__AttributeProto at[3], *ab[1] = {&at[0]}, *ac[1] = {&at[1]}, *ax[1] = {&at[2]};
    static const char *const names[3] = {"end", "start", "axis"};
    for (int i = 0; i < 3; i++) {
        onnx__attribute_proto__init(&at[i]);
        at[i].name = (char *)names[i];
        at[i].has_type = 1, at[i].type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        at[i].has_i = 1, at[i].i = i == 2 ? 0 : 1;
    }
    char *in_x[1] = {"x"}, *out_b[1] = {"b"}, *out_c[1] = {"c"}, *in_cat[2] = {"c", "b"},
         *out_t[1] = {"t"}, *in_r[2] = {"x", "t"}, *out_y[1] = {"y"};
    Onnx__NodeProto nodes[4], *np[4];
    for (int i = 0; i < 4; i++) {
        onnx__node_proto__init(&nodes[i]);
        np[i] = &nodes[i];
    }
    nodes[0].op_type = (char *)"Shape", nodes[0].n_input = 1, nodes[0].input = in_x;
    nodes[0].n_output = 1, nodes[0].output = out_b, nodes[0].n_attribute = 1,
    nodes[0].attribute = ab;
    nodes[1].op_type = (char *)"Shape", nodes[1].n_input = 1, nodes[1].input = in_x;
    nodes[1].n_output = 1, nodes[1].output = out_c, nodes[1].n_attribute = 1,
    nodes[1].attribute = ac;
    nodes[2].op_type = (char *)"Concat", nodes[2].n_input = 2, nodes[2].input = in_cat;
    nodes[2].n_output = 1, nodes[2].output = out_t, nodes[2].n_attribute = 1,
    nodes[2].attribute = ax;
    nodes[3].op_type = (char *)"Reshape", nodes[3].n_input = 2, nodes[3].input = in_r;
    nodes[3].n_output = 1, nodes[3].output = out_y;
    return pack_x_to_y("shape_chain", np, 4, 15, len);
}

uint8_t *test_model_shape_mask(size_t *len)
{
    static const struct {
        const char *op, *in[3], *out[2];
    } spec[] = {
        {"Shape", {"x"}, {"s"}},           {"ConstantOfShape", {"s"}, {"z"}},
        {"Expand", {"z", "s"}, {"e"}},     {"Equal", {"z", "e"}, {"c"}},
        {"Where", {"c", "e", "z"}, {"w"}}, {"Dropout", {"w"}, {"d", "dmask"}},
        {"Add", {"x", "d"}, {"y"}},
    };
    enum { N = sizeof spec / sizeof spec[0] };
    Onnx__NodeProto nodes[N], *np[N];
    char *ins[N][3], *outs[N][2];
    for (int i = 0; i < N; i++) {
        onnx__node_proto__init(&nodes[i]);
        nodes[i].op_type = (char *)spec[i].op;
        size_t ni = 0, no = 0;
        while (ni < 3 && spec[i].in[ni]) ins[i][ni] = (char *)spec[i].in[ni], ni++;
        while (no < 2 && spec[i].out[no]) outs[i][no] = (char *)spec[i].out[no], no++;
        nodes[i].n_input = ni, nodes[i].input = ins[i];
        nodes[i].n_output = no, nodes[i].output = outs[i];
        np[i] = &nodes[i];
    }
    return pack_x_to_y("shape_mask", np, N, 15, len);
}
