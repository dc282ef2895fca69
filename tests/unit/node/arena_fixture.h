/* A cmocka fixture shared by the codec tests: a real shared-memory region and its tensor
 * arena, made in setup and destroyed in teardown (the state is an arena_fixture). */
#ifndef TESTS_ARENA_FIXTURE_H
#define TESTS_ARENA_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "inferd/shm.h"

typedef struct arena_fixture {
    shm_region region;
    shm_arena *arena;
} arena_fixture;

static inline int arena_fixture_setup(void **state, size_t arena_size)
{
    arena_fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    shm_config cfg;
    shm_config_default(&cfg);
    cfg.max_models = 2;
    cfg.max_workers = 2;
    cfg.batch_slots = 8;
    cfg.ring_capacity = 8;
    cfg.completion_capacity = 8;
    cfg.arena_size = arena_size;
    char err[256];
    if (shm_region_create(&cfg, &f->region, err, sizeof err) != 0) {
        fprintf(stderr, "region: %s\n", err);
        free(f);
        return -1;
    }
    f->arena = shm_arena_create(&f->region);
    *state = f;
    return f->arena ? 0 : -1;
}

static inline int arena_fixture_teardown(void **state)
{
    arena_fixture *f = *state;
    shm_arena_destroy(f->arena);
    shm_region_close(&f->region);
    free(f);
    return 0;
}

#endif
