/* TensorProto -> onnx_tensor, with every length checked against dims * element size, and
 * external data read from files that must stay inside the model's directory. */
#ifndef ONNX_PBTENSOR_H
#define ONNX_PBTENSOR_H

#include <stddef.h>

#include "model.h"
#include "tensor.h"

struct Onnx__TensorProto;

/* Converts a parsed TensorProto. On success t->data is malloc'd (NULL for 0 elements) and
 * owned by the caller. base_dir: directory for external data (NULL refuses it). When p was
 * unpacked with the default (malloc) allocator, its raw_data block is taken over instead of
 * copied (p->raw_data.data becomes NULL), so weights are not held twice during load. */
int onnx_pb_tensor_convert(struct Onnx__TensorProto *p, const char *base_dir, onnx_tensor *t,
                           onnx_load_err *e);

/* Reads a serialized TensorProto file (test data sets). On success t->data is malloc'd and
 * *name (may be NULL) receives a malloc'd copy of the tensor's name ("" if none); the caller
 * frees both. Returns 0 or a negative ONNX_E_* with a message in err. */
int onnx_pb_tensor_read_file(const char *path, onnx_tensor *t, char **name, char *err,
                             size_t err_len);

/* The same for a serialized TensorProto in memory (buf is only read). */
int onnx_pb_tensor_read_buffer(const void *buf, size_t len, onnx_tensor *t, char **name, char *err,
                               size_t err_len);

/* Reads a whole file into malloc'd memory, refusing files over max_len bytes. */
int onnx_read_file(const char *path, size_t max_len, unsigned char **data, size_t *len,
                   onnx_load_err *e);

#endif
