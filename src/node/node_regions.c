/* Creates and frees the node's per-model shared-memory regions and arenas. */
#include "node_regions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd/log.h"

uint64_t node_regions_arena_mb(const model_config *m, int n_shared, uint64_t total_mb)
{
    if (m->arena_mb > 0) return (uint64_t)m->arena_mb;
    uint64_t share = n_shared > 0 ? total_mb / (uint64_t)n_shared : total_mb;
    return share < NODE_ARENA_MIN_MB ? NODE_ARENA_MIN_MB : share;
}

int node_regions_create(const model_config *models, int n, const shm_config *base,
                        uint64_t total_arena_mb, node_regions *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (n <= 0) {
        snprintf(err, err_len, "no model");
        return -1;
    }
    out->storage = calloc((size_t)n, sizeof *out->storage);
    out->regions = calloc((size_t)n, sizeof *out->regions);
    out->arenas = calloc((size_t)n, sizeof *out->arenas);
    if (!out->storage || !out->regions || !out->arenas) {
        snprintf(err, err_len, "out of memory");
        node_regions_destroy(out);
        return -1;
    }
    int n_shared = 0; /* models without their own arena_mb share total_arena_mb */
    for (int m = 0; m < n; m++) n_shared += models[m].arena_mb <= 0;
    for (int m = 0; m < n; m++) {
        shm_config cfg = *base;
        cfg.max_models = 1;
        uint64_t mb = node_regions_arena_mb(&models[m], n_shared, total_arena_mb);
        cfg.arena_size = mb << 20;
        char why[256];
        if (shm_region_create(&cfg, &out->storage[m], why, sizeof why) != 0) {
            snprintf(err, err_len, "model %s: cannot create its shared-memory region: %s",
                     models[m].name, why);
            node_regions_destroy(out);
            return -1;
        }
        out->n = m + 1;
        out->regions[m] = &out->storage[m];
        out->arenas[m] = shm_arena_create(&out->storage[m]);
        if (!out->arenas[m]) {
            snprintf(err, err_len, "model %s: cannot create its arena allocator", models[m].name);
            node_regions_destroy(out);
            return -1;
        }
        log_info("model %s: own shared-memory region, arena_mb=%llu (%s)", models[m].name,
                 (unsigned long long)mb, models[m].arena_mb > 0 ? "config" : "--arena-mb share");
    }
    return 0;
}

void node_regions_destroy(node_regions *r)
{
    for (int m = 0; m < r->n; m++) {
        if (r->arenas && r->arenas[m]) shm_arena_destroy(r->arenas[m]);
        if (r->storage) shm_region_close(&r->storage[m]);
    }
    free(r->storage);
    free(r->regions);
    free(r->arenas);
    memset(r, 0, sizeof *r);
}
