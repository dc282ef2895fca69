/* Writes the image of a freshly created small region to a file: the seeds of fuzz_shm_attach
 * (tests/fuzz/corpus/fuzz_shm_attach/). Usage: fuzz_shm_seed FILE MODELS WORKERS SLOTS RING
 * COMPLETION ARENA_BYTES */
#include <stdio.h>
#include <stdlib.h>

#include "inferd/shm.h"

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: %s FILE MODELS WORKERS SLOTS RING COMPLETION ARENA_BYTES\n",
                argv[0]);
        return 2;
    }
    shm_config cfg;
    shm_config_default(&cfg);
    cfg.max_models = (uint32_t)strtoul(argv[2], NULL, 10);
    cfg.max_workers = (uint32_t)strtoul(argv[3], NULL, 10);
    cfg.batch_slots = (uint32_t)strtoul(argv[4], NULL, 10);
    cfg.ring_capacity = (uint32_t)strtoul(argv[5], NULL, 10);
    cfg.completion_capacity = (uint32_t)strtoul(argv[6], NULL, 10);
    cfg.arena_size = strtoull(argv[7], NULL, 10);
    shm_region r;
    char err[256];
    if (shm_region_create(&cfg, &r, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    FILE *f = fopen(argv[1], "wb");
    int ok = f && fwrite(r.base, 1, r.size, f) == r.size;
    if (f && fclose(f) != 0) ok = 0;
    shm_region_close(&r);
    if (!ok) {
        perror(argv[1]);
        return 1;
    }
    return 0;
}
