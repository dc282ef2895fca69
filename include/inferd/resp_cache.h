/* The node-wide response cache (docs/cache.md): successful output tensors keyed by the full
 * request (model instance, inputs' names, datatypes, shapes and bytes, outputs asked for),
 * hashed with XXH3-128 and compared byte for byte on every hit; an O(1) LRU within a byte
 * budget; and single flight (identical misses in flight computed once). Thread-safe: every
 * call takes the cache's one mutex, a leaf lock. The scheduler drives it (scheduler.h); the
 * node creates it and reads its stats. */
#ifndef INFERD_RESP_CACHE_H
#define INFERD_RESP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/infer_request.h"
#include "inferd/shm.h"

typedef struct resp_cache resp_cache;

/* Cumulative counters and the current size, for the JSON stats and /metrics. */
typedef struct resp_cache_stats {
    uint64_t hits;      /* answered from a READY entry */
    uint64_t misses;    /* computed (leaders, and requests that bypassed the cache) */
    uint64_t coalesced; /* followers: waited for an identical request in flight */
    uint64_t inserts;   /* entries stored */
    uint64_t evictions; /* entries dropped to stay within the budget */
    uint64_t bytes;     /* charged bytes now (<= budget_bytes) */
    uint64_t entries;   /* READY entries now */
    uint64_t budget_bytes;
} resp_cache_stats;

/* Creates a cache of budget_bytes (> 0). If the environment has
 * INFERD_CACHE_TEST_HASH=constant every key hashes the same (tests only; logged). Returns
 * NULL when out of memory. Free with resp_cache_destroy (no request may still lead or
 * follow an entry). */
resp_cache *resp_cache_create(uint64_t budget_bytes);
void resp_cache_destroy(resp_cache *c);
/* Snapshot of the counters (zeros for c == NULL). */
void resp_cache_get_stats(resp_cache *c, resp_cache_stats *out);

/* A request's key: malloc'd bytes (docs/cache.md layout) and their hash. */
typedef struct resp_cache_key {
    uint8_t *bytes;
    size_t len;
    uint64_t hash_hi, hash_lo;
} resp_cache_key;

/* Builds req's key. names[i] is input i's name; data[i] points at input i's nbytes bytes.
 * Returns 0, or -1 when out of memory or a length overflows (key untouched). Free with
 * resp_cache_key_free. */
int resp_cache_key_build(resp_cache *c, uint64_t instance, const char *model, int version,
                         const infer_request *req, uint32_t n_model_outputs,
                         const char *const *names, const uint8_t *const *data, resp_cache_key *key);
void resp_cache_key_free(resp_cache_key *key);

/* Called on a hit, under the cache's lock: copies the n stored tensors (outs[i].offset is
 * the offset of its bytes in data) to where the request wants them. 0, or -1 (no room: the
 * request bypasses the cache). */
typedef int (*resp_cache_copy_fn)(void *arg, uint32_t n, const shm_tensor *outs,
                                  const uint8_t *data);

enum resp_cache_begin_result {
    RESP_CACHE_HIT = 0, /* copy() ran and succeeded: answer the request now */
    RESP_CACHE_LEAD,    /* a miss: *entry is the PENDING entry; key now belongs to it */
    RESP_CACHE_FOLLOW,  /* req waits on an identical request in flight (linked by req->next) */
    RESP_CACHE_BYPASS,  /* compute it without the cache (out of memory, copy() failed) */
};

/* Looks key up. Key is freed in every case but LEAD, where the entry takes it over. */
int resp_cache_begin(resp_cache *c, resp_cache_key *key, infer_request *req,
                     resp_cache_copy_fn copy, void *copy_arg, void **entry);

/* The leader of entry was answered. ok: outs[0..n) with their bytes at data[i] are stored
 * (within the budget, evicting the least recently used; not stored when out of memory or
 * larger than the whole budget); else the entry is removed. Returns the followers (linked by
 * next; the caller answers each one) and frees or keeps the entry: it must not be used after. */
infer_request *resp_cache_finish(resp_cache *c, void *entry, int ok, uint32_t n,
                                 const shm_tensor *outs, const uint8_t *const *data);

/* Drops every READY entry of instance (its model was unloaded). */
void resp_cache_purge(resp_cache *c, uint64_t instance);

#endif
