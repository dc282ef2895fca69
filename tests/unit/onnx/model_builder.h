/* Builds small ONNX models in memory with protobuf-c, for the runtime's unit tests.
 *
 * The default model: y = Identity(Relu(x + W) + C) with
 *   x: FP32 [batch, 4] (symbolic batch), W: initializer [4] (raw_data, or external data),
 *   C: output of a Constant node (tensor attribute, folded at load),
 *   the Identity node carries one attribute of every kind (ignored by the operator). */
#ifndef TEST_ONNX_MODEL_BUILDER_H
#define TEST_ONNX_MODEL_BUILDER_H

#include <stddef.h>
#include <stdint.h>

typedef struct test_model_opts {
    int opset;                /* 0 = 13 */
    const char *extra_op;     /* if set, one more node of this op type (unknown-op tests) */
    const char *ext_location; /* if set, W is external data at this location */
    long long ext_offset;
    long long ext_length; /* < 0: omit the key */
    int w_dims;           /* 0 = 4; another value makes W's length inconsistent */
    long long w_big_dim;  /* if set, W's dim claims this many elements */
    int broken;           /* 1: a node reads an undefined value; 2: a value is defined
                                * twice; 3: the graph has a cycle */
} test_model_opts;

/* W's values and C's values. */
static const float TEST_W[4] = {1.0f, -2.0f, 3.0f, -4.0f};
static const float TEST_C[4] = {0.5f, 0.25f, -1.0f, 2.0f};

/* Returns a malloc'd serialized ModelProto and its length in *len. */
uint8_t *test_model_build(const test_model_opts *o, size_t *len);

/* x -> Relu -> Relu -> ... (n_nodes) -> y, x of shape [batch, 4]. */
uint8_t *test_model_chain(int n_nodes, size_t *len);

/* Views (Flatten, Identity are views of their input): a = Relu(x), v1 = Flatten(a),
 * v2 = Identity(v1), d = Neg(v1), b = Sub(v2, d) = 2a, outputs y1 = Identity(b) (a view of an
 * activation) and y2 = Identity(x) (a view of the caller's input). a's last reader runs before
 * d gets a buffer, so d would overwrite a if the views did not keep a's buffer alive. */
uint8_t *test_model_views(size_t *len);

/* A shape subgraph (opset 15): b = Shape(x, end = 1), c = Shape(x, start = 1), t = Concat(c, b),
 * y = Reshape(x, t): x [batch, 4] comes out as [4, batch], same data order. */
uint8_t *test_model_shape_chain(size_t *len);

/* A mask made from a shape (opset 15): s = Shape(x), z = ConstantOfShape(s) (zeros),
 * e = Expand(z, s), w = Where(Equal(z, e), e, z), (d, dmask) = Dropout(w) with dmask read by
 * nobody, y = Add(x, d): y = x, through a chain the shape memo keeps (as large as x). */
uint8_t *test_model_shape_mask(size_t *len);

#endif
