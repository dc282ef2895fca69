/* A bump allocator for a model's many small load-time objects (names, attributes, node
 * arrays); everything is freed at once with the model. */
#ifndef ONNX_ARENA_H
#define ONNX_ARENA_H

#include <stddef.h>

typedef struct onnx_arena_chunk onnx_arena_chunk;

typedef struct onnx_arena {
    onnx_arena_chunk *head;
    size_t used, cap; /* of head */
    size_t total;     /* bytes allocated from the system */
} onnx_arena;

/* Zeroed, 16-byte aligned memory that lives until onnx_arena_free; NULL on failure or if
 * n * size overflows. */
void *onnx_arena_calloc(onnx_arena *a, size_t n, size_t size);
/* Copies s (NULL is copied as ""). */
char *onnx_arena_strdup(onnx_arena *a, const char *s);
void onnx_arena_free(onnx_arena *a);

#endif
