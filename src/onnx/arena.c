/* Bump allocator with chunks; large requests get their own chunk. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK (64 * 1024)

struct onnx_arena_chunk {
    onnx_arena_chunk *next;
    size_t pad; /* keeps data 16-byte aligned */
    unsigned char data[];
};

void *onnx_arena_calloc(onnx_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    size_t bytes = n * size;
    if (bytes > SIZE_MAX - 32) return NULL;
    bytes = (bytes + 15) & ~(size_t)15;
    if (bytes == 0) bytes = 16;
    if (a->head && a->cap - a->used >= bytes) {
        void *p = a->head->data + a->used;
        a->used += bytes;
        return p;
    }
    size_t cap = bytes > ARENA_CHUNK / 2 ? bytes : ARENA_CHUNK;
    onnx_arena_chunk *c = calloc(1, sizeof *c + cap);
    if (!c) return NULL;
    a->total += cap;
    if (cap == bytes && a->head) {
        /* a big block: keep the current chunk as head so its space is still used */
        c->next = a->head->next;
        a->head->next = c;
        return c->data;
    }
    c->next = a->head;
    a->head = c;
    a->cap = cap;
    a->used = bytes;
    return c->data;
}

char *onnx_arena_strdup(onnx_arena *a, const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s);
    char *d = onnx_arena_calloc(a, n + 1, 1);
    if (d) memcpy(d, s, n);
    return d;
}

void onnx_arena_free(onnx_arena *a)
{
    onnx_arena_chunk *c = a->head;
    while (c) {
        onnx_arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = a->cap = a->total = 0;
}
