/* Private helpers of the client library for tensor values (src/client/client_tensor.c). */
#ifndef INFERD_CLIENT_TENSOR_H
#define INFERD_CLIENT_TENSOR_H

#include <jansson.h>

#include "inferd/client.h"

/* Fills t->data/t->nbytes (malloc'd) from JSON data of dtype t->dtype. shape_known: data
 * may be flat or nested and must hold exactly t's elements; else the shape is read from the
 * nesting into t->ndim/dims. Returns 0, or -1 with a message in err. */
int client_tensor_from_json(json_t *data, inferd_tensor *t, int shape_known, char *err,
                            size_t err_len);

/* 0 when t->nbytes holds exactly t's shape of t->dtype (BYTES walked), else -1 with a
 * message in err. */
int client_tensor_check_bytes(const inferd_tensor *t, char *err, size_t err_len);

#endif
