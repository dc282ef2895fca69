/* libFuzzer target: a worker attaching to a region image it did not make (shm_region_attach:
 * magic, version, geometry, section offsets, ring descriptors against the file's real size).
 * The input is the whole region file (a memfd). Property: when attach accepts an image,
 * every section the attached process addresses from its private geometry lies inside the
 * mapping (ASan/SEGV otherwise). Seeds: images written by fuzz_shm_seed. */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

static volatile uint8_t sink;

static void touch(const void *p, size_t n)
{
    const uint8_t *b = p;
    if (n) sink ^= b[0] ^ b[n - 1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A fresh memfd per input, sealed against resizing as the node's region is (attach
     * refuses any other). */
    int fd = memfd_create("inferd-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    FUZZ_CHECK(fd >= 0);
    FUZZ_CHECK(ftruncate(fd, (off_t)size) == 0);
    FUZZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);
    FUZZ_CHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) == 0);
    shm_region r;
    char err[256];
    if (shm_region_attach(fd, &r, err, sizeof err) != 0) {
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
        close(fd);
        return 0;
    }
    FUZZ_CHECK(r.size <= size);
    for (uint32_t m = 0; m < r.max_models; m++) {
        touch(&r.models[m], sizeof r.models[m]);
        shm_ring *ring = shm_model_ring(&r, m);
        FUZZ_CHECK(ring != NULL);
        touch(ring, sizeof *ring + r.ring_capacity * sizeof(shm_ring_cell));
    }
    FUZZ_CHECK(shm_model_ring(&r, r.max_models) == NULL);
    for (uint32_t w = 0; w < r.max_workers; w++) {
        touch(&r.workers[w], sizeof r.workers[w]);
        shm_spsc *c = shm_worker_completions(&r, w);
        FUZZ_CHECK(c != NULL);
        touch(c, sizeof *c + r.completion_capacity * sizeof(uint64_t));
    }
    touch(r.batches, (size_t)r.batch_slots * sizeof(shm_batch));
    touch(r.arena, r.arena_size);
    FUZZ_CHECK(shm_arena_range_ok(&r, 0, r.arena_size));
    FUZZ_CHECK(!shm_arena_range_ok(&r, 1, r.arena_size));
    shm_region_close(&r); /* closes fd */
    return 0;
}
