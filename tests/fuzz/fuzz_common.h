/* Shared by the libFuzzer targets of tests/fuzz: the entry point's prototype, a check that
 * stops the fuzzer with a message (a failed property is a finding, like a crash), and a
 * small node-side shared-memory region for the targets that need one. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "inferd/shm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* A process-wide region, created on first use and kept for the whole run (the fuzzer never
 * returns from its loop). Small: 2 models, 2 workers, 4 batch slots, rings of 4, 64 KiB
 * arena, so a fuzz input can cover much of it. Aborts if the region cannot be created (the
 * harness cannot run at all then). */
static inline shm_region *fuzz_region(void)
{
    static shm_region region;
    static int ready;
    if (!ready) {
        shm_config cfg;
        shm_config_default(&cfg);
        cfg.max_models = 2;
        cfg.max_workers = 2;
        cfg.batch_slots = 4;
        cfg.ring_capacity = 4;
        cfg.completion_capacity = 4;
        cfg.arena_size = 64u << 10;
        char err[256];
        if (shm_region_create(&cfg, &region, err, sizeof err) != 0) {
            fprintf(stderr, "fuzz: cannot create the region: %s\n", err);
            abort();
        }
        ready = 1;
    }
    return &region;
}

#endif
