/* Sequences of tensors: creation, copy-on-build insert and erase, reference counting. */
#include "seq.h"

#include <stdlib.h>
#include <string.h>

#include "exec.h"

onnx_seq *onnx_seq_new(inferd_dtype elem)
{
    onnx_seq *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->refs = 1;
    s->elem = elem;
    return s;
}

onnx_seq *onnx_seq_clone(const onnx_seq *s)
{
    onnx_seq *c = onnx_seq_new(s->elem);
    for (int i = 0; c && i < s->n; i++)
        if (onnx_seq_insert(c, i, &s->items[i]) < 0) {
            onnx_seq_unref(c);
            return NULL;
        }
    return c;
}

int onnx_seq_insert(onnx_seq *s, int pos, const onnx_tensor *t)
{
    const size_t nb = onnx_tensor_nbytes(t);
    if (s->n >= ONNX_SEQ_MAX_ITEMS || nb > ONNX_MAX_TENSOR_BYTES - s->bytes) return -2;
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        onnx_tensor *items = realloc(s->items, (size_t)cap * sizeof *items);
        if (!items) return -1;
        s->items = items;
        s->cap = cap;
    }
    onnx_tensor copy = *t;
    copy.data = NULL;
    if (nb) {
        if (!(copy.data = malloc(nb))) return -1;
        memcpy(copy.data, t->data, nb);
    }
    memmove(&s->items[pos + 1], &s->items[pos], (size_t)(s->n - pos) * sizeof *s->items);
    s->items[pos] = copy;
    s->n++;
    s->bytes += nb;
    if (s->elem == INFERD_DTYPE_INVALID) s->elem = t->dtype;
    return 0;
}

void onnx_seq_erase(onnx_seq *s, int pos)
{
    s->bytes -= onnx_tensor_nbytes(&s->items[pos]);
    free(s->items[pos].data);
    memmove(&s->items[pos], &s->items[pos + 1], (size_t)(s->n - pos - 1) * sizeof *s->items);
    s->n--;
}

void onnx_seq_ref(onnx_seq *s)
{
    s->refs++;
}

void onnx_seq_unref(onnx_seq *s)
{
    if (!s || --s->refs > 0) return;
    for (int i = 0; i < s->n; i++) free(s->items[i].data);
    free(s->items);
    free(s);
}
