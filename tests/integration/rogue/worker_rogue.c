/* A hostile worker for tests/integration/test_workers_trust.py: corrupts one field a worker
 * can write (rings, batch descriptors and tables, completion ring, its control block, the fd
 * itself), logs "rogue: <mode>" once, then carries on or dies. */
#include "worker_rogue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inferd/clock.h"
#include "inferd/log.h"
#include "inferd/shm_doorbell.h"
#include <sys/socket.h>
#include <sys/mman.h>

typedef struct rogue_mode {
    const char *name;
    int phase; /* enum worker_hook_phase when it acts */
} rogue_mode;

static const rogue_mode modes[] = {
    {"ring_cells", WORKER_HOOK_CLAIMED},
    {"ring_enqueue", WORKER_HOOK_CLAIMED},
    {"ring_dequeue", WORKER_HOOK_CLAIMED},
    {"ring_mask", WORKER_HOOK_CLAIMED},
    {"completion_head", WORKER_HOOK_CLAIMED},
    {"completion_tail", WORKER_HOOK_CLAIMED},
    {"claim_pos", WORKER_HOOK_CLAIMED},
    {"ftruncate", WORKER_HOOK_CLAIMED},
    {"shutdown", WORKER_HOOK_CLAIMED},
    {"model_names", WORKER_HOOK_CLAIMED},
    {"doorbell_silent", WORKER_HOOK_CLAIMED},
    {"doorbell_spam", WORKER_HOOK_CLAIMED},
    {"batch_state", WORKER_HOOK_FINISHED},
    {"batch_status", WORKER_HOOK_FINISHED},
    {"out_needed", WORKER_HOOK_FINISHED},
    {"request_status", WORKER_HOOK_FINISHED},
    {"out_offset", WORKER_HOOK_FINISHED},
    {"out_nbytes", WORKER_HOOK_FINISHED},
    {"out_dims", WORKER_HOOK_FINISHED},
    {"error_text", WORKER_HOOK_FINISHED},
    {"completion_slot", WORKER_HOOK_FINISHED},
    {"heartbeat_future", WORKER_HOOK_TICK},
    {"heartbeat_zero", WORKER_HOOK_TICK},
    {"in_hand", WORKER_HOOK_TICK},
    {"counts", WORKER_HOOK_TICK},
    {"worker_state", WORKER_HOOK_TICK},
    {"pid", WORKER_HOOK_TICK},
};

static const rogue_mode *mode;
static int die_after, acted, armed;

static void raw_complete(worker_ctx *c, uint64_t value)
{
    shm_spsc *cr = shm_worker_completions(c->region, c->worker);
    uint64_t head = atomic_load(&cr->head);
    cr->items[head & (c->region->completion_capacity - 1)] = value;
    atomic_store(&cr->head, head + 1);
    shm_waiter_wake(&c->region->header->completion, 1);
}

/* Acts on a claimed batch or the region; returns 1 if the batch must not be published. */
static int act(worker_ctx *c, uint32_t slot)
{
    shm_region *r = c->region;
    shm_ring *ring = shm_model_ring(r, c->model);
    shm_spsc *cr = shm_worker_completions(r, c->worker);
    shm_worker *self = &r->workers[c->worker];
    shm_batch *b = slot < r->batch_slots ? &r->batches[slot] : NULL;
    const char *m = mode->name;
    int consumed = 0;
    if (!strcmp(m, "ring_cells")) {
        for (uint32_t i = 0; i < r->ring_capacity; i++)
            atomic_store(&ring->cells[i].seq, (1ull << 62) + i);
    } else if (!strcmp(m, "ring_enqueue")) {
        atomic_fetch_add(&ring->enqueue_pos, 1ull << 40);
    } else if (!strcmp(m, "ring_dequeue")) {
        atomic_fetch_add(&ring->dequeue_pos, 1ull << 40);
    } else if (!strcmp(m, "ring_mask")) {
        ring->mask = UINT64_MAX;
        ring->capacity = 3;
    } else if (!strcmp(m, "completion_head")) {
        atomic_fetch_add(&cr->head, 1ull << 40);
    } else if (!strcmp(m, "completion_tail")) {
        atomic_fetch_add(&cr->tail, 12345);
    } else if (!strcmp(m, "claim_pos")) {
        atomic_store(&self->claim_pos, 0x7777777777ull);
        die_after = 1;
    } else if (!strcmp(m, "ftruncate")) {
        int a = ftruncate(3, 4096), ea = errno;
        int g = ftruncate(3, (off_t)r->size * 2), eg = errno;
        log_warn("rogue: ftruncate shrink=%s grow=%s", a ? strerror(ea) : "ALLOWED",
                 g ? strerror(eg) : "ALLOWED");
    } else if (!strcmp(m, "doorbell_silent")) {
        r->doorbell = NULL; /* never rings again: the node must still answer */
    } else if (!strcmp(m, "doorbell_spam")) {
        /* Tries to arm every loop's flag (a read-only mapping: each way must fail), then
         * floods its loop's socket. */
        void *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, 4, 0);
        int ew = errno;
        int p = r->doorbell ? mprotect(r->doorbell->map, 4096, PROT_READ | PROT_WRITE) : -1;
        int ep = errno;
        int sent = 0;
        char one = 1;
        for (int i = 0; i < 4096; i++) /* past the socket's queue (512 datagrams) */
            if (send(5, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) == 1) sent++;
        log_warn("rogue: doorbell mmap_write=%s mprotect_write=%s sent=%s",
                 w == MAP_FAILED ? strerror(ew) : "ALLOWED", p ? strerror(ep) : "ALLOWED",
                 sent > 0 ? "yes" : "no");
        if (w != MAP_FAILED) munmap(w, 4096);
    } else if (!strcmp(m, "shutdown")) {
        atomic_store(&r->header->shutdown, 1);
    } else if (!strcmp(m, "model_names")) {
        for (uint32_t i = 0; i < r->max_models; i++)
            if (i != c->model) memset(r->models[i].name, 'X', SHM_NAME_LEN);
    } else if (b && !strcmp(m, "batch_state")) {
        atomic_store(&b->state, 77);
        raw_complete(c, slot);
        consumed = 1;
    } else if (b && !strcmp(m, "batch_status")) {
        b->status = 12345;
    } else if (b && !strcmp(m, "out_needed")) {
        b->status = SHM_STATUS_OUTPUT_TOO_SMALL;
        b->out_needed = 1ull << 62;
    } else if (b && !strcmp(m, "error_text")) {
        b->status = SHM_STATUS_ERROR;
        memset(b->error, 'E', SHM_ERROR_LEN);
    } else if (b && !strcmp(m, "completion_slot")) {
        raw_complete(c, (uint64_t)r->batch_slots + 5);
        consumed = 1;
    } else if (b) { /* the batch table: request statuses and output descriptors */
        uint8_t *t = r->arena + b->table_off;
        shm_request *req = (shm_request *)t;
        shm_tensor *out = (shm_tensor *)(t + (uint64_t)b->n_requests *
                                                 (sizeof(shm_request) +
                                                  (uint64_t)b->n_inputs * sizeof(shm_tensor)));
        if (!strcmp(m, "request_status")) req[0].status = 99;
        else if (!strcmp(m, "out_offset")) out[0].offset = r->arena_size - 8;
        else if (!strcmp(m, "out_nbytes")) out[0].nbytes = 1ull << 62;
        else if (!strcmp(m, "out_dims")) out[0].dims[0] = -5;
    }
    return consumed;
}

static void tick(worker_ctx *c)
{
    shm_worker *self = &c->region->workers[c->worker];
    const char *m = mode->name;
    if (!strcmp(m, "heartbeat_future"))
        atomic_store(&self->heartbeat_ns, (uint64_t)clock_now_ns() + 3600ull * 1000000000ull);
    else if (!strcmp(m, "heartbeat_zero")) atomic_store(&self->heartbeat_ns, 0);
    else if (!strcmp(m, "in_hand")) atomic_store(&self->in_hand, 0xfffffff0u);
    else if (!strcmp(m, "counts")) {
        atomic_store(&self->batches_done, UINT64_MAX - 3);
        atomic_store(&self->requests_done, UINT64_MAX - 3);
    } else if (!strcmp(m, "worker_state")) atomic_store(&self->state, 99);
    else if (!strcmp(m, "pid")) atomic_store(&self->pid, 1);
}

static int hook(worker_ctx *c, int phase, uint32_t slot)
{
    if (phase == WORKER_HOOK_CLAIMED) armed = 1; /* act once a request is in hand */
    if (!armed || phase != mode->phase) return 0;
    if (!acted) log_warn("rogue: %s (%s)", mode->name, die_after ? "die" : "carry on");
    int consumed = 0;
    if (phase == WORKER_HOOK_TICK) {
        tick(c);
    } else if (!acted) {
        consumed = act(c, slot);
    }
    acted = 1;
    if (die_after) _exit(9);
    return consumed;
}

worker_hook_fn worker_rogue_setup(const char *model_name)
{
    const char *want = getenv("INFERD_ROGUE"), *model = getenv("INFERD_ROGUE_MODEL");
    const char *then = getenv("INFERD_ROGUE_THEN"), *once = getenv("INFERD_ROGUE_ONCE");
    if (!want || (model && strcmp(model, model_name) != 0)) return NULL;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (!strcmp(modes[i].name, want)) mode = &modes[i];
    if (!mode) {
        log_error("rogue: unknown mode '%s'", want);
        return NULL;
    }
    if (once) {
        int fd = open(once, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0) return NULL; /* an earlier worker was the rogue: be honest */
        close(fd);
    }
    die_after = then && !strcmp(then, "die");
    return hook;
}
