/* The runtime's plain tensor: element type, shape and a pointer to dense row-major data.
 * Operators read and write these; the executor owns the memory behind `data`. */
#ifndef ONNX_TENSOR_H
#define ONNX_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/dtype.h"

#define ONNX_MAX_DIMS 8

typedef struct onnx_tensor {
    inferd_dtype dtype;
    int ndim;                    /* 0 for a scalar */
    int64_t dims[ONNX_MAX_DIMS]; /* every dim >= 0 */
    void *data;                  /* numel * dtype size bytes; may be NULL when numel == 0 */
} onnx_tensor;

/* Number of elements (1 for a scalar). Shapes are validated when tensors are created, so the
 * product cannot overflow here. */
static inline int64_t onnx_tensor_numel(const onnx_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

/* String tensors (INFERD_DTYPE_BYTES, ONNX's STRING) are one block like any other tensor:
 * the elements back to back, each a little-endian u32 length and that many bytes (KServe's
 * binary layout). Their byte count comes from walking the lengths (the data was checked when
 * it entered the runtime: onnx_strings_check). */
size_t onnx_strings_bytes(const onnx_tensor *t);
/* 0 if data[0..nbytes) holds exactly numel such elements, else -1. */
int onnx_strings_check(const void *data, size_t nbytes, size_t numel);

static inline size_t onnx_tensor_nbytes(const onnx_tensor *t)
{
    if (t->dtype == INFERD_DTYPE_BYTES) return onnx_strings_bytes(t);
    return (size_t)onnx_tensor_numel(t) * inferd_dtype_size(t->dtype);
}

/* Row-major strides in elements for t's shape, written to strides[0..ndim-1]. */
static inline void onnx_tensor_strides(const onnx_tensor *t, int64_t *strides)
{
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= t->dims[i];
    }
}

/* Reads element i of an integer tensor (INT64, INT32, INT16, INT8, UINT8..UINT64, BOOL) as
 * int64_t. Returns 0 for other types. Used for shape/index inputs. */
int64_t onnx_tensor_get_int(const onnx_tensor *t, int64_t i);

/* Reads element i of a numeric tensor (any integer type, FP32, FP64, FP16) as double. */
double onnx_tensor_get_double(const onnx_tensor *t, int64_t i);

#endif
