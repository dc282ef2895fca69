/* One-node ONNX models built in memory (protobuf-c) for the nn operator tests, and a helper
 * that loads, runs and returns the first output or the error. */
#ifndef TEST_NN_TEST_MODEL_H
#define TEST_NN_TEST_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/onnx.h"

typedef struct nn_test_tensor {
    const char *name;
    int ndim;
    int64_t dims[8];
    const float *data; /* float32 values */
    int initializer;   /* 1: stored in the model; 0: graph input fed at run */
} nn_test_tensor;

typedef enum nn_test_attr_kind {
    NN_ATTR_INT,
    NN_ATTR_FLOAT,
    NN_ATTR_INTS,
    NN_ATTR_STRING
} nn_test_attr_kind;

typedef struct nn_test_attr {
    const char *name;
    nn_test_attr_kind kind;
    int64_t i;
    float f;
    const int64_t *ints;
    int n_ints;
    const char *s;
} nn_test_attr;

typedef struct nn_test_node {
    const char *op_type;
    int opset; /* 0 = 13 */
    const nn_test_tensor *inputs;
    int n_inputs;
    const nn_test_attr *attrs;
    int n_attrs;
    int n_outputs; /* 0 = 1 */
} nn_test_node;

/* Builds, loads and runs the node. Returns 0 and copies output 0 (float32) into out (up to
 * out_cap values; *out_n receives the count and out_dims/out_ndim its shape), or the negative
 * ONNX_E_* code of the failing step with its message in err. */
int nn_test_run(const nn_test_node *node, float *out, size_t out_cap, size_t *out_n,
                int64_t *out_dims, int *out_ndim, char *err, size_t err_len);

#endif
