/* NumPy .npy files (format 1.0-3.0) for tensors on the command line.
 *
 * Supported element types: float32, float64, int64, int32, uint8 and bool, little-endian,
 * C order. Anything else (big-endian, Fortran order, object arrays, other types) is refused
 * with a message naming what was found. */
#ifndef INFERD_NPY_H
#define INFERD_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/dtype.h"

#define NPY_MAX_DIMS 8

typedef struct npy_array {
    inferd_dtype dtype;
    int ndim; /* 0 for a scalar */
    int64_t dims[NPY_MAX_DIMS];
    void *data; /* malloc'd, nbytes long (NULL when nbytes == 0) */
    size_t nbytes;
} npy_array;

/* Reads a file / parses a buffer into *out. On success the caller frees with npy_array_free.
 * Returns 0, or -1 with a message in err (and *out zeroed). The buffer is only read. */
int npy_read_file(const char *path, npy_array *out, char *err, size_t err_len);
int npy_parse(const void *buf, size_t len, npy_array *out, char *err, size_t err_len);

/* Frees out->data and zeroes *out. */
void npy_array_free(npy_array *a);

/* Writes data (row-major, nbytes = product(dims) * element size) as a version 1.0 .npy file.
 * Returns 0, or -1 with a message in err. */
int npy_write_file(const char *path, inferd_dtype dtype, int ndim, const int64_t *dims,
                   const void *data, char *err, size_t err_len);

#endif
