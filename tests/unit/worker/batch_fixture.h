/* Test helpers: build batches of BYTES or FP32 requests in a region, as the node would. */
#ifndef TEST_BATCH_FIXTURE_H
#define TEST_BATCH_FIXTURE_H

#include <string.h>

#include "inferd/shm.h"

static inline uint8_t *fixture_table(shm_region *r, const shm_batch *b)
{
    return shm_arena_ptr(r, b->table_off);
}
static inline shm_request *fixture_requests(shm_region *r, const shm_batch *b)
{
    return (shm_request *)fixture_table(r, b);
}
static inline shm_tensor *fixture_inputs(shm_region *r, const shm_batch *b)
{
    return (shm_tensor *)(fixture_table(r, b) + b->n_requests * sizeof(shm_request));
}
static inline shm_tensor *fixture_outputs(shm_region *r, const shm_batch *b)
{
    return fixture_inputs(r, b) + (size_t)b->n_requests * b->n_inputs;
}

/* A small region (1 model, 1 worker, 8 batch slots, 1 MiB arena) and its arena, for
 * backends run by hand. Returns 0 or -1. */
static inline int fixture_region(shm_region *r, shm_arena **a)
{
    shm_config c;
    shm_config_default(&c);
    c.max_models = 1;
    c.max_workers = 1;
    c.batch_slots = 8;
    c.ring_capacity = 8;
    c.completion_capacity = 8;
    c.arena_size = 1 << 20;
    char err[256];
    if (shm_region_create(&c, r, err, sizeof err)) return -1;
    *a = shm_arena_create(r);
    return *a ? 0 : -1;
}

/* Fills slot with n requests of one input/one output; table and an output area of out_cap
 * bytes from the arena. Inputs are set afterwards with fixture_set_* . Returns 0 or -1. */
static inline int fixture_batch(shm_region *r, shm_arena *a, uint32_t slot, uint32_t model,
                                uint32_t n, uint64_t out_cap, uint64_t tag)
{
    shm_batch *b = &r->batches[slot];
    uint64_t table, out;
    if (shm_arena_alloc(a, shm_batch_table_size(n, 1, 1), &table)) return -1;
    if (shm_arena_alloc(a, out_cap ? out_cap : 1, &out)) return -1;
    b->model = model;
    b->n_requests = n;
    b->n_inputs = 1;
    b->n_outputs = 1;
    b->tag = tag;
    b->table_off = table;
    b->out_off = out;
    b->out_cap = out_cap;
    b->status = 0;
    b->out_needed = 0;
    memset(shm_arena_ptr(r, table), 0, shm_batch_table_size(n, 1, 1));
    for (uint32_t i = 0; i < n; i++) fixture_requests(r, b)[i].delay_us = -1;
    return 0;
}

/* Request i's input = one BYTES element holding s (len bytes). */
static inline int fixture_set_string(shm_region *r, shm_arena *a, uint32_t slot, uint32_t i,
                                     const char *s, uint32_t len)
{
    shm_batch *b = &r->batches[slot];
    uint64_t off;
    if (shm_arena_alloc(a, 4 + (uint64_t)len, &off)) return -1;
    uint8_t *p = shm_arena_ptr(r, off);
    memcpy(p, &len, 4);
    memcpy(p + 4, s, len);
    shm_tensor *t = &fixture_inputs(r, b)[i];
    memset(t, 0, sizeof *t);
    t->dtype = INFERD_DTYPE_BYTES;
    t->ndim = 1;
    t->dims[0] = 1;
    t->offset = off;
    t->nbytes = 4 + (uint64_t)len;
    return 0;
}

/* Request i's input = FP32 [1, n] with values v[0..n). */
static inline int fixture_set_floats(shm_region *r, shm_arena *a, uint32_t slot, uint32_t i,
                                     const float *v, uint32_t n)
{
    shm_batch *b = &r->batches[slot];
    uint64_t off;
    if (shm_arena_alloc(a, (uint64_t)n * 4, &off)) return -1;
    memcpy(shm_arena_ptr(r, off), v, (size_t)n * 4);
    shm_tensor *t = &fixture_inputs(r, b)[i];
    memset(t, 0, sizeof *t);
    t->dtype = INFERD_DTYPE_FP32;
    t->ndim = 2;
    t->dims[0] = 1;
    t->dims[1] = n;
    t->offset = off;
    t->nbytes = (uint64_t)n * 4;
    return 0;
}

/* Reads BYTES element 0 of request i's output into buf (NUL-terminated); returns its length or
 * -1 if the output is malformed. */
static inline int fixture_get_string(shm_region *r, const shm_batch *b, uint32_t i, char *buf,
                                     size_t buf_len)
{
    shm_tensor *t = &fixture_outputs(r, b)[i];
    if (t->dtype != INFERD_DTYPE_BYTES || t->nbytes < 4) return -1;
    uint8_t *p = shm_arena_ptr(r, t->offset);
    uint32_t len;
    memcpy(&len, p, 4);
    if (len > t->nbytes - 4 || len >= buf_len) return -1;
    memcpy(buf, p + 4, len);
    buf[len] = 0;
    return (int)len;
}

#endif
