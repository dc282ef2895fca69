/* One shared-memory region and arena per model: a model's workers map only its region
 * (docs/protocol.md section 2.2). */
#ifndef INFERD_NODE_REGIONS_H
#define INFERD_NODE_REGIONS_H

#include <stdint.h>

#include "inferd/model_config.h"
#include "inferd/shm.h"

#define NODE_ARENA_MIN_MB 16 /* a model's share of --arena-mb is never below this */

/* Owns n regions and their arena allocators; regions[m] / arenas[m] are model m's (the
 * arrays sched_create takes). */
typedef struct node_regions {
    int n;
    shm_region *storage;  /* n regions */
    shm_region **regions; /* n pointers into storage */
    shm_arena **arenas;   /* n allocators */
} node_regions;

/* The arena of model m in MiB: its config's arena_mb, else total_mb divided over the n_shared
 * models without their own arena_mb (at least NODE_ARENA_MIN_MB). */
uint64_t node_regions_arena_mb(const model_config *m, int n_shared, uint64_t total_mb);

/* Creates one region per model with base's geometry but max_models = 1 and the model's arena
 * size, and logs each size. 0, or -1 with err (nothing left allocated). Free with
 * node_regions_destroy. */
int node_regions_create(const model_config *models, int n, const shm_config *base,
                        uint64_t total_arena_mb, node_regions *out, char *err, size_t err_len);

/* Frees every allocator and region. Safe on a zeroed struct. */
void node_regions_destroy(node_regions *r);

#endif
