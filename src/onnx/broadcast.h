/* Numpy-style (multidirectional) broadcasting helpers, used by elementwise operators and by
 * any operator that broadcasts (Where, Expand, PRelu, ...). */
#ifndef ONNX_BROADCAST_H
#define ONNX_BROADCAST_H

#include <stdint.h>

#include "tensor.h"

/* Computes the broadcast shape of n shapes into out_dims/out_ndim. Returns 0, or -1 if the
 * shapes are incompatible. */
int onnx_broadcast_shape(int n, const int *ndims, const int64_t *const *dims, int *out_ndim,
                         int64_t *out_dims);

/* Element strides of `t` when broadcast to a shape of out_ndim dims: strides[k] is 0 on
 * broadcast (size-1 or missing) axes. Writes out_ndim values. */
void onnx_broadcast_strides(const onnx_tensor *t, int out_ndim, const int64_t *out_dims,
                            int64_t *strides);

#endif
