/* Tensor element types shared by every part of inferd: the HTTP codec, the shared-memory
 * transport, the worker backends and the ONNX runtime.
 *
 * The numeric values are ONNX's TensorProto.DataType values, so a type read from a model
 * file needs no translation; the names are the KServe v2 datatype strings ("FP32", ...). */
#ifndef INFERD_DTYPE_H
#define INFERD_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum inferd_dtype {
    INFERD_DTYPE_INVALID = 0,
    INFERD_DTYPE_FP32 = 1,
    INFERD_DTYPE_UINT8 = 2,
    INFERD_DTYPE_INT8 = 3,
    INFERD_DTYPE_UINT16 = 4,
    INFERD_DTYPE_INT16 = 5,
    INFERD_DTYPE_INT32 = 6,
    INFERD_DTYPE_INT64 = 7,
    INFERD_DTYPE_BYTES = 8, /* ONNX STRING; on the wire each element is u32 length + bytes */
    INFERD_DTYPE_BOOL = 9,  /* one byte per element, 0 or 1 */
    INFERD_DTYPE_FP16 = 10,
    INFERD_DTYPE_FP64 = 11,
    INFERD_DTYPE_UINT32 = 12,
    INFERD_DTYPE_UINT64 = 13,
    INFERD_DTYPE_BF16 = 16,
} inferd_dtype;

/* Size of one element in bytes; 0 for BYTES (variable length) and for unknown types. */
size_t inferd_dtype_size(inferd_dtype dtype);

/* KServe v2 name ("FP32", "INT64", "BYTES", ...); "INVALID" for an unknown value. */
const char *inferd_dtype_name(inferd_dtype dtype);

/* Parses a KServe v2 name (exact, upper case). Returns INFERD_DTYPE_INVALID if unknown. */
inferd_dtype inferd_dtype_from_name(const char *name);

/* The values an integer dtype holds, as JSON carries them: [*lo, *hi] (UINT64 up to
 * INT64_MAX, what a JSON integer reaches). Returns 0, or -1 for a dtype that is not an integer
 * type (BOOL included). */
int inferd_dtype_int_range(inferd_dtype dtype, int64_t *lo, int64_t *hi);

/* 1 if the value is one of the enumerators above (other than INVALID), else 0. Use it on
 * any dtype that came from outside the process (a file, shared memory). */
int inferd_dtype_is_valid(int value);

#endif
