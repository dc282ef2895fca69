/* Region life cycle: the node creates and lays out the memfd region; a worker attaches to it
 * and validates every size and offset in the header against the file's real size. */
#include "shm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(shm_tensor) == 88, "shm_tensor layout");
_Static_assert(sizeof(shm_request) == 32, "shm_request layout");
_Static_assert(sizeof(shm_batch) == 384, "shm_batch layout");
_Static_assert(sizeof(shm_model) == 128, "shm_model layout");
_Static_assert(sizeof(shm_worker) == 128, "shm_worker layout");
_Static_assert(sizeof(shm_header) <= SHM_HEADER_SIZE, "shm_header fits its page");
_Static_assert(sizeof(shm_ring) == 192 && sizeof(shm_spsc) == 192, "ring headers");
_Static_assert(sizeof(shm_ring_cell) == 16, "ring cell");

#define LIMIT_MODELS  4096u
#define LIMIT_WORKERS 65536u
#define LIMIT_SLOTS   (1u << 24)
#define LIMIT_RING    (1u << 24)

void shm_config_default(shm_config *cfg)
{
    cfg->max_models = 16;
    cfg->max_workers = 64;
    cfg->batch_slots = 1024;
    cfg->ring_capacity = 1024;
    cfg->completion_capacity = 1024;
    cfg->arena_size = 256ull << 20;
}

static int is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

/* The layout computed from the counts alone; both create and attach use it, so attach can
 * demand that the header's offsets are exactly these. */
typedef struct layout {
    uint64_t models_off, rings_off, workers_off, completions_off, batches_off, arena_off;
    uint64_t ring_stride, completion_stride, region_size;
} layout;

static int layout_compute(uint32_t models, uint32_t workers, uint32_t slots, uint32_t ring_cap,
                          uint32_t comp_cap, uint64_t arena_size, layout *l, char *err,
                          size_t err_len)
{
    if (models == 0 || models > LIMIT_MODELS || workers == 0 || workers > LIMIT_WORKERS ||
        slots == 0 || slots > LIMIT_SLOTS) {
        snprintf(err, err_len, "shm: counts out of range (models %u, workers %u, slots %u)", models,
                 workers, slots);
        return -EINVAL;
    }
    if (!is_pow2(ring_cap) || ring_cap > LIMIT_RING || ring_cap < 2 || !is_pow2(comp_cap) ||
        comp_cap > LIMIT_RING || comp_cap < 2) {
        snprintf(err, err_len, "shm: ring capacities must be powers of two in [2, %u]", LIMIT_RING);
        return -EINVAL;
    }
    if (arena_size < SHM_ALIGN || arena_size > (1ull << 40) || arena_size % SHM_ALIGN) {
        snprintf(err, err_len, "shm: arena size must be a multiple of 64 in [64, 1 TiB]");
        return -EINVAL;
    }
    /* All counts are bounded above, so these sums cannot overflow 64 bits. */
    l->ring_stride =
        shm_align_up(sizeof(shm_ring) + (uint64_t)ring_cap * sizeof(shm_ring_cell), SHM_ALIGN);
    l->completion_stride = shm_align_up(sizeof(shm_spsc) + (uint64_t)comp_cap * 8, SHM_ALIGN);
    l->models_off = SHM_HEADER_SIZE;
    l->rings_off = shm_align_up(l->models_off + (uint64_t)models * sizeof(shm_model), SHM_ALIGN);
    l->workers_off = shm_align_up(l->rings_off + models * l->ring_stride, SHM_ALIGN);
    l->completions_off =
        shm_align_up(l->workers_off + (uint64_t)workers * sizeof(shm_worker), SHM_ALIGN);
    l->batches_off = shm_align_up(l->completions_off + workers * l->completion_stride, SHM_ALIGN);
    l->arena_off = shm_align_up(l->batches_off + (uint64_t)slots * sizeof(shm_batch), 4096);
    l->region_size = shm_align_up(l->arena_off + arena_size, 4096);
    return 0;
}

static void region_fill_private(shm_region *r, const shm_header *h, const layout *l)
{
    r->header = (shm_header *)r->base;
    r->models = (shm_model *)((uint8_t *)r->base + l->models_off);
    r->workers = (shm_worker *)((uint8_t *)r->base + l->workers_off);
    r->batches = (shm_batch *)((uint8_t *)r->base + l->batches_off);
    r->arena = (uint8_t *)r->base + l->arena_off;
    r->rings = (uint8_t *)r->base + l->rings_off;
    r->completions = (uint8_t *)r->base + l->completions_off;
    r->max_models = h->max_models;
    r->max_workers = h->max_workers;
    r->batch_slots = h->batch_slots;
    r->ring_capacity = h->ring_capacity;
    r->completion_capacity = h->completion_capacity;
    r->arena_size = h->arena_size;
    r->ring_stride = l->ring_stride;
    r->completion_stride = l->completion_stride;
}

static uint64_t random_generation(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 12);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33; /* splitmix finaliser */
    return x ? x : 1;
}

int shm_region_create(const shm_config *cfg, shm_region *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    layout l;
    uint64_t arena = shm_align_up(cfg->arena_size, SHM_ALIGN);
    int rc = layout_compute(cfg->max_models, cfg->max_workers, cfg->batch_slots, cfg->ring_capacity,
                            cfg->completion_capacity, arena, &l, err, err_len);
    if (rc) return rc;
    int fd = memfd_create("inferd", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, err_len, "shm: memfd_create: %s", strerror(errno));
        return rc;
    }
    if (fchmod(fd, 0600) != 0 || ftruncate(fd, (off_t)l.region_size) != 0) {
        rc = -errno;
        snprintf(err, err_len, "shm: sizing region to %llu bytes: %s",
                 (unsigned long long)l.region_size, strerror(errno));
        close(fd);
        return rc;
    }
    /* Sized for good: no process holding the fd (a worker) can shrink it under our mapping
     * (SIGBUS) or grow it, and nobody can lift the seals. */
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        rc = -errno;
        snprintf(err, err_len, "shm: sealing the region: %s", strerror(errno));
        close(fd);
        return rc;
    }
    void *base = mmap(NULL, l.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = -errno;
        snprintf(err, err_len, "shm: mmap: %s", strerror(errno));
        close(fd);
        return rc;
    }
    /* ftruncate gives zeroed pages: every state word starts at 0 (FREE/EMPTY). */
    shm_header *h = base;
    memcpy(h->magic, SHM_MAGIC, 8);
    h->layout_version = SHM_LAYOUT_VERSION;
    h->header_size = SHM_HEADER_SIZE;
    h->region_size = l.region_size;
    h->generation = random_generation();
    h->max_models = cfg->max_models;
    h->max_workers = cfg->max_workers;
    h->batch_slots = cfg->batch_slots;
    h->ring_capacity = cfg->ring_capacity;
    h->completion_capacity = cfg->completion_capacity;
    h->models_off = l.models_off;
    h->rings_off = l.rings_off;
    h->workers_off = l.workers_off;
    h->completions_off = l.completions_off;
    h->batches_off = l.batches_off;
    h->arena_off = l.arena_off;
    h->arena_size = arena;
    h->node_pid = getpid();
    out->fd = fd;
    out->base = base;
    out->size = l.region_size;
    region_fill_private(out, h, &l);
    for (uint32_t m = 0; m < cfg->max_models; m++) {
        shm_ring *ring = (shm_ring *)(out->rings + m * l.ring_stride);
        out->models[m].ring_off = l.rings_off + m * l.ring_stride;
        ring->capacity = cfg->ring_capacity;
        ring->mask = cfg->ring_capacity - 1;
        for (uint64_t i = 0; i < cfg->ring_capacity; i++)
            atomic_store_explicit(&ring->cells[i].seq, i, memory_order_relaxed);
    }
    for (uint32_t w = 0; w < cfg->max_workers; w++) {
        shm_spsc *c = (shm_spsc *)(out->completions + w * l.completion_stride);
        out->workers[w].completion_off = l.completions_off + w * l.completion_stride;
        c->capacity = cfg->completion_capacity;
        c->mask = cfg->completion_capacity - 1;
    }
    return 0;
}

int shm_region_attach(int fd, shm_region *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int rc = -errno;
        snprintf(err, err_len, "shm: fd %d: %s", fd, strerror(errno));
        return rc;
    }
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
        snprintf(err, err_len, "shm: region is not sealed against resizing (seals %d)", seals);
        return -EPROTO;
    }
    if (st.st_size < (off_t)SHM_HEADER_SIZE) {
        snprintf(err, err_len, "shm: region is %lld bytes, smaller than its header",
                 (long long)st.st_size);
        return -EPROTO;
    }
    shm_header h;
    ssize_t n = pread(fd, &h, sizeof h, 0);
    if (n != (ssize_t)sizeof h) {
        snprintf(err, err_len, "shm: cannot read the region header");
        return -EPROTO;
    }
    if (memcmp(h.magic, SHM_MAGIC, 8) != 0) {
        snprintf(err, err_len, "shm: bad magic (not an inferd region)");
        return -EPROTO;
    }
    if (h.layout_version != SHM_LAYOUT_VERSION || h.header_size != SHM_HEADER_SIZE) {
        snprintf(err, err_len, "shm: layout version %u (header %u bytes), expected %u (%u)",
                 h.layout_version, h.header_size, SHM_LAYOUT_VERSION, SHM_HEADER_SIZE);
        return -EPROTO;
    }
    layout l;
    int rc = layout_compute(h.max_models, h.max_workers, h.batch_slots, h.ring_capacity,
                            h.completion_capacity, h.arena_size, &l, err, err_len);
    if (rc) return -EPROTO;
    if (h.models_off != l.models_off || h.rings_off != l.rings_off ||
        h.workers_off != l.workers_off || h.completions_off != l.completions_off ||
        h.batches_off != l.batches_off || h.arena_off != l.arena_off) {
        snprintf(err, err_len, "shm: section offsets in the header do not match the layout");
        return -EPROTO;
    }
    if (h.region_size != l.region_size || (uint64_t)st.st_size < l.region_size) {
        snprintf(err, err_len, "shm: region size %llu (file %lld) but layout needs %llu",
                 (unsigned long long)h.region_size, (long long)st.st_size,
                 (unsigned long long)l.region_size);
        return -EPROTO;
    }
    void *base = mmap(NULL, l.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        rc = -errno;
        snprintf(err, err_len, "shm: mmap: %s", strerror(errno));
        return rc;
    }
    out->fd = fd;
    out->base = base;
    out->size = l.region_size;
    region_fill_private(out, &h, &l);
    for (uint32_t m = 0; m < h.max_models; m++) {
        shm_ring *ring = (shm_ring *)(out->rings + m * l.ring_stride);
        if (out->models[m].ring_off != l.rings_off + m * l.ring_stride ||
            ring->capacity != h.ring_capacity || ring->mask != (uint64_t)h.ring_capacity - 1) {
            snprintf(err, err_len, "shm: model %u ring descriptor is inconsistent", m);
            goto bad;
        }
    }
    for (uint32_t w = 0; w < h.max_workers; w++) {
        shm_spsc *c = (shm_spsc *)(out->completions + w * l.completion_stride);
        if (out->workers[w].completion_off != l.completions_off + w * l.completion_stride ||
            c->capacity != h.completion_capacity ||
            c->mask != (uint64_t)h.completion_capacity - 1) {
            snprintf(err, err_len, "shm: worker %u completion ring is inconsistent", w);
            goto bad;
        }
    }
    return 0;
bad:
    munmap(base, l.region_size);
    memset(out, 0, sizeof *out);
    out->fd = -1;
    return -EPROTO;
}

void shm_region_restore(shm_region *r)
{
    shm_header *h = r->header;
    uint8_t *base = r->base;
    memcpy(h->magic, SHM_MAGIC, 8);
    h->layout_version = SHM_LAYOUT_VERSION;
    h->header_size = SHM_HEADER_SIZE;
    h->region_size = r->size;
    h->max_models = r->max_models;
    h->max_workers = r->max_workers;
    h->batch_slots = r->batch_slots;
    h->ring_capacity = r->ring_capacity;
    h->completion_capacity = r->completion_capacity;
    h->models_off = (uint64_t)((uint8_t *)r->models - base);
    h->rings_off = (uint64_t)(r->rings - base);
    h->workers_off = (uint64_t)((uint8_t *)r->workers - base);
    h->completions_off = (uint64_t)(r->completions - base);
    h->batches_off = (uint64_t)((uint8_t *)r->batches - base);
    h->arena_off = (uint64_t)(r->arena - base);
    h->arena_size = r->arena_size;
    h->node_pid = getpid();
    for (uint32_t m = 0; m < r->max_models; m++)
        r->models[m].ring_off = h->rings_off + m * r->ring_stride;
    for (uint32_t w = 0; w < r->max_workers; w++) {
        shm_spsc *c = shm_worker_completions(r, w);
        r->workers[w].completion_off = h->completions_off + w * r->completion_stride;
        c->capacity = r->completion_capacity;
        c->mask = (uint64_t)r->completion_capacity - 1;
    }
}

int shm_worker_slot_reset(shm_region *r, uint32_t worker, uint32_t model)
{
    if (worker >= r->max_workers || model >= r->max_models) return -EINVAL;
    shm_worker *w = &r->workers[worker];
    shm_spsc *c = shm_worker_completions(r, worker);
    w->model = model;
    atomic_store(&w->pid, 0);
    atomic_store(&w->stop, 0);
    atomic_store(&w->heartbeat_ns, 0);
    atomic_store(&w->claim_pos, 0);
    atomic_store(&w->in_hand, 0);
    atomic_store(&w->spin_until_ns, 0);
    atomic_store(&w->batches_done, 0);
    atomic_store(&w->requests_done, 0);
    w->completion_off =
        (uint64_t)(r->completions - (uint8_t *)r->base) + worker * r->completion_stride;
    c->capacity = r->completion_capacity;
    c->mask = (uint64_t)r->completion_capacity - 1;
    atomic_store(&c->head, 0);
    atomic_store(&c->tail, 0);
    atomic_store(&w->state, SHM_WORKER_STARTING);
    return 0;
}

void shm_region_close(shm_region *region)
{
    if (region->base && region->size) munmap(region->base, region->size);
    if (region->fd >= 0) close(region->fd); /* 0 is a valid descriptor */
    memset(region, 0, sizeof *region);
    region->fd = -1;
}

shm_ring *shm_model_ring(const shm_region *region, uint32_t model)
{
    if (model >= region->max_models) return NULL;
    return (shm_ring *)(region->rings + (size_t)model * region->ring_stride);
}

shm_spsc *shm_worker_completions(const shm_region *region, uint32_t worker)
{
    if (worker >= region->max_workers) return NULL;
    return (shm_spsc *)(region->completions + (size_t)worker * region->completion_stride);
}

int shm_arena_range_ok(const shm_region *region, uint64_t offset, uint64_t len)
{
    return offset <= region->arena_size && len <= region->arena_size - offset;
}
