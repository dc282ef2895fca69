/* Builds a one-node ONNX model in memory (hand-written protobuf encoding, so the tests need
 * no generated code) and runs it through the public API: for operator unit tests. */
#ifndef TEST_ONNX_OP_MODEL_H
#define TEST_ONNX_OP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/dtype.h"

typedef enum { OPM_INT, OPM_FLOAT, OPM_STRING, OPM_INTS, OPM_FLOATS, OPM_STRINGS } opm_attr_type;

typedef struct opm_attr {
    const char *name;
    opm_attr_type type;
    int64_t i;
    float f;
    const char *s;
    const int64_t *ints; /* OPM_INTS: n values */
    int n;
    const float *floats;        /* OPM_FLOATS: n values */
    const char *const *strings; /* OPM_STRINGS: n values */
} opm_attr;

/* One node input, fed as a graph input at run time; data NULL = omitted optional input. */
typedef struct opm_tensor {
    inferd_dtype dtype;
    int ndim;
    int64_t dims[8];
    const void *data;
} opm_tensor;

/* One output copied out of the session (data malloc'd; free with opm_result_free). */
typedef struct opm_result {
    inferd_dtype dtype;
    int ndim;
    int64_t dims[8];
    void *data;
    size_t nbytes;
} opm_result;

/* Builds, loads and runs op_type at opset over the inputs; fills out[0..n_out). Returns 0,
 * or the negative error code of whichever step failed, with its message in err. */
int opm_run(const char *op_type, int opset, const opm_attr *attrs, int n_attrs,
            const opm_tensor *inputs, int n_inputs, int n_outputs, opm_result *out, char *err,
            size_t err_len);
void opm_result_free(opm_result *r, int n);

#endif
