/* Test data values as the ONNX backend tests store them: TensorProto, SequenceProto or
 * OptionalProto files (the latter two from onnx-data.proto, which Debian does not ship, so
 * their few fields are read straight off the wire). */
#ifndef CONFORMANCE_TEST_VALUE_H
#define CONFORMANCE_TEST_VALUE_H

#include <stddef.h>

#include "tensor.h"

typedef struct test_value {
    int kind;           /* ONNX_KIND_* (inferd/onnx.h) */
    onnx_tensor t;      /* ONNX_KIND_TENSOR; data malloc'd */
    char *name;         /* malloc'd, "" if none */
    int n_items;        /* ONNX_KIND_SEQUENCE */
    onnx_tensor *items; /* malloc'd, each item's data malloc'd */
} test_value;

/* Reads path as a TensorProto, or as a SequenceProto (is_sequence) / OptionalProto
 * (is_optional) when the model declares the value so. Returns 0 or a negative ONNX_E_* with
 * a message in err. */
int test_value_read(const char *path, int is_sequence, int is_optional, test_value *v, char *err,
                    size_t err_len);
void test_value_free(test_value *v);

#endif
