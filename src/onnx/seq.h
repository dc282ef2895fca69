/* Sequences of tensors (ONNX seq(tensor)): immutable once produced, reference counted, items
 * owned by the sequence. Operators that change a sequence build a new one. */
#ifndef ONNX_SEQ_H
#define ONNX_SEQ_H

#include "tensor.h"

#define ONNX_SEQ_MAX_ITEMS (1 << 20)

typedef struct onnx_seq {
    int refs;
    inferd_dtype elem; /* element type; INFERD_DTYPE_INVALID while empty and unknown */
    int n, cap;
    onnx_tensor *items; /* items[i].data: malloc'd copy owned by the sequence (NULL if empty) */
    size_t bytes;       /* sum of the items' bytes */
} onnx_seq;

/* A new empty sequence with one reference; NULL on ENOMEM. */
onnx_seq *onnx_seq_new(inferd_dtype elem);
/* A new sequence (one reference) holding copies of s's items; NULL on ENOMEM. */
onnx_seq *onnx_seq_clone(const onnx_seq *s);
/* Inserts a copy of t before position pos (0..n). Returns 0, -1 on ENOMEM, -2 if the
 * sequence would exceed ONNX_SEQ_MAX_ITEMS or the tensor byte limit in total. */
int onnx_seq_insert(onnx_seq *s, int pos, const onnx_tensor *t);
/* Removes item pos (0..n-1). */
void onnx_seq_erase(onnx_seq *s, int pos);
void onnx_seq_ref(onnx_seq *s);
void onnx_seq_unref(onnx_seq *s); /* NULL is a no-op; frees at zero */

#endif
