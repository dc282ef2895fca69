/* inferd shared-memory transport: the region through which the node hands a model's batches
 * of requests to that model's worker processes and gets the results back. Language-neutral
 * and versioned: docs/protocol.md describes the same layout for workers written in other
 * languages.
 *
 * Region (one per model, from memfd_create, mode 0600, sealed against shrink/grow, passed to
 * that model's workers only, as an inherited fd; docs/protocol.md section 2.2):
 *
 *   offset 0         shm_header         magic, version, sizes, offsets of everything below
 *   models_off       shm_model[max_models]      name + wake-up word per model
 *   rings_off        per model: shm_ring + cells[ring_capacity]   bounded MPMC submission ring
 *   workers_off      shm_worker[max_workers]    per-worker control block
 *   completions_off  per worker: shm_spsc + items[completion_capacity]  SPSC completion ring
 *   batches_off      shm_batch[batch_slots]     batch descriptors
 *   arena_off        tensor arena (arena_size bytes); everything in it is addressed by offsets
 *                    from arena_off, never by pointers
 *
 * Every section starts on a 64-byte boundary; all integers are native little-endian.
 *
 * Life of a batch (state word in shm_batch):
 *   FREE --node fills it, shm_submit--> QUEUED --worker pops it, shm_worker_claim--> CLAIMED
 *   --worker writes outputs, shm_worker_complete--> DONE --node reads results--> FREE
 * The node owns FREE and DONE slots; a worker owns a CLAIMED slot (and only the output area of
 * it). Slots are allocated and freed by the node alone (its free list is private memory).
 *
 * Trust: workers trust the node. The node trusts nothing a worker writes: it copies the batch
 * descriptor and output tensor descriptors out of the region before checking them, and checks
 * every offset and length against the batch's output area (shm_batch_check_outputs); every
 * node-side loop over worker-written state is bounded by the node's private geometry and
 * reports -EPROTO rather than spinning (docs/protocol.md section 2.1). The region is sealed
 * against resizing. */
#ifndef INFERD_SHM_H
#define INFERD_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "inferd/dtype.h"

#define SHM_MAGIC          "INFERDSH" /* 8 bytes, no NUL */
#define SHM_LAYOUT_VERSION 1
#define SHM_MAX_DIMS       8
#define SHM_NAME_LEN       64
#define SHM_ERROR_LEN      192
#define SHM_MAX_BATCH      1024 /* requests per batch */
#define SHM_MAX_TENSORS    16   /* inputs or outputs per request */
#define SHM_ALIGN          64

/* ---- wake-up word (an eventcount over a futex) ---------------------------------------------
 * A consumer that found nothing to do: seq = shm_waiter_prepare(w); re-check for work; if none,
 * shm_waiter_wait(w, seq, timeout) else shm_waiter_cancel(w). A producer, after publishing
 * work: shm_waiter_wake(w, n) — a syscall only when someone sleeps. Process-shared futexes. */
typedef struct shm_waiter {
    _Atomic uint32_t seq;
    _Atomic uint32_t sleepers;
} shm_waiter;

/* ---- bounded MPMC ring of 64-bit values (Vyukov; per-cell sequence numbers) --------------- */
typedef struct shm_ring_cell {
    _Atomic uint64_t seq;
    uint64_t value;
} shm_ring_cell;

typedef struct shm_ring {
    uint64_t capacity; /* power of two */
    uint64_t mask;
    uint8_t pad0[SHM_ALIGN - 16];
    _Atomic uint64_t enqueue_pos; /* own cache line */
    uint8_t pad1[SHM_ALIGN - 8];
    _Atomic uint64_t dequeue_pos; /* own cache line */
    uint8_t pad2[SHM_ALIGN - 8];
    shm_ring_cell cells[]; /* capacity cells */
} shm_ring;

/* ---- SPSC ring of 64-bit values (one producer process, one consumer) ----------------------- */
typedef struct shm_spsc {
    uint64_t capacity; /* power of two */
    uint64_t mask;
    uint8_t pad0[SHM_ALIGN - 16];
    _Atomic uint64_t head; /* next write (producer), own cache line */
    uint8_t pad1[SHM_ALIGN - 8];
    _Atomic uint64_t tail; /* next read (consumer), own cache line */
    uint8_t pad2[SHM_ALIGN - 8];
    uint64_t items[];
} shm_spsc;

/* ---- tensors and requests inside a batch (in the arena) ----------------------------------- */
typedef struct shm_tensor {     /* 88 bytes */
    uint32_t dtype;             /* inferd_dtype; BYTES data = per element u32 length + bytes */
    uint32_t ndim;              /* 0..SHM_MAX_DIMS */
    int64_t dims[SHM_MAX_DIMS]; /* full shape including the batch dimension, if any */
    uint64_t offset;            /* arena offset of the data */
    uint64_t nbytes;
} shm_tensor;

enum shm_status {
    SHM_STATUS_OK = 0,
    SHM_STATUS_ERROR = 1,            /* the backend failed; batch error text says why */
    SHM_STATUS_BAD_INPUT = 2,        /* this request's inputs were unacceptable to the backend */
    SHM_STATUS_OUTPUT_TOO_SMALL = 3, /* batch only: out_cap too small; out_needed says how much */
    SHM_STATUS_DEADLINE = 4,         /* the request's deadline passed before it ran */
};

typedef struct shm_request { /* 32 bytes */
    uint64_t id;             /* the node's request id, opaque to workers */
    int64_t deadline_ns;     /* CLOCK_MONOTONIC; 0 = none */
    int64_t delay_us;        /* `delay` backend's per-request delay; -1 = model default */
    int32_t status;          /* written by the worker: enum shm_status */
    uint32_t reserved;
} shm_request;

/* Batch table, at arena offset shm_batch.table_off (written by the node):
 *   shm_request requests[n_requests];
 *   shm_tensor  inputs[n_requests * n_inputs];     request r input i at [r * n_inputs + i]
 *   shm_tensor  outputs[n_requests * n_outputs];   written by the worker
 * Output data goes into [out_off, out_off + out_cap) of the arena, nowhere else. */
static inline uint64_t shm_batch_table_size(uint32_t n_requests, uint32_t n_inputs,
                                            uint32_t n_outputs)
{
    return (uint64_t)n_requests *
           (sizeof(shm_request) + (uint64_t)(n_inputs + n_outputs) * sizeof(shm_tensor));
}

enum shm_batch_state {
    SHM_BATCH_FREE = 0,
    SHM_BATCH_QUEUED = 1,
    SHM_BATCH_CLAIMED = 2,
    SHM_BATCH_DONE = 3,
};

typedef struct shm_batch {     /* 384 bytes */
    _Atomic uint32_t state;    /* enum shm_batch_state */
    uint32_t model;            /* model slot index */
    uint32_t n_requests;       /* 1..SHM_MAX_BATCH */
    uint32_t n_inputs;         /* per request, 0..SHM_MAX_TENSORS */
    uint32_t n_outputs;        /* per request, 0..SHM_MAX_TENSORS */
    uint32_t worker;           /* claiming worker's index (written by the worker at claim) */
    uint64_t tag;              /* node-chosen, unique per submission; never reused */
    uint64_t table_off;        /* arena offset of the batch table */
    uint64_t out_off, out_cap; /* arena range the worker may write output data into */
    uint64_t out_needed;       /* worker: total output bytes needed, with OUTPUT_TOO_SMALL */
    int64_t claimed_ns;        /* worker: CLOCK_MONOTONIC time of claim */
    int32_t status;            /* worker: batch-level enum shm_status */
    uint32_t reserved;
    char error[SHM_ERROR_LEN]; /* worker: NUL-terminated reason when status != OK */
    int64_t done_ns;           /* worker: CLOCK_MONOTONIC time of completion (shown only) */
    uint8_t pad[384 - 88 - SHM_ERROR_LEN];
} shm_batch;

/* ---- models and workers -------------------------------------------------------------------- */
typedef struct shm_model {   /* 128 bytes */
    char name[SHM_NAME_LEN]; /* NUL-terminated; "" = unused slot */
    shm_waiter work;         /* workers of this model sleep here */
    uint64_t ring_off;       /* region offset of its shm_ring */
    uint8_t pad[128 - SHM_NAME_LEN - 8 - 8];
} shm_model;

enum shm_worker_state {
    SHM_WORKER_EMPTY = 0,    /* slot unused */
    SHM_WORKER_STARTING = 1, /* node reserved it and forked; worker not attached yet */
    SHM_WORKER_IDLE = 2,     /* attached, waiting for work */
    SHM_WORKER_BUSY = 3,     /* holds at least one batch */
    SHM_WORKER_EXITING = 4,  /* saw stop, finishing the batches it holds, then exits */
};

typedef struct shm_worker {        /* 128 bytes */
    _Atomic uint32_t state;        /* enum shm_worker_state */
    _Atomic int32_t pid;           /* written by the worker when it attaches */
    uint32_t model;                /* model slot this worker serves (written by the node) */
    _Atomic uint32_t stop;         /* node: 1 = finish the batches in hand, then exit */
    _Atomic uint64_t heartbeat_ns; /* worker: CLOCK_MONOTONIC, at least every 100 ms */
    _Atomic uint64_t claim_pos;    /* worker: ring position + 1 it is claiming, 0 = none */
    _Atomic uint32_t in_hand;      /* worker: batches claimed and not yet completed */
    uint32_t reserved;
    _Atomic uint64_t batches_done;
    _Atomic uint64_t requests_done;
    uint64_t completion_off; /* region offset of its shm_spsc completion ring */
    /* worker: CLOCK_MONOTONIC ns until which it polls its model's ring before sleeping, 0 =
     * not polling. shm_submit skips the futex wake while a worker polls; the node honours at
     * most SHM_SPIN_MAX_NS ahead of its own clock (docs/protocol.md 5.2). */
    _Atomic uint64_t spin_until_ns;
    uint8_t pad[128 - 72];
} shm_worker;

/* Longest poll of a worker that lets the node skip a wake-up (a later promise counts as this). */
#define SHM_SPIN_MAX_NS 100000ull

typedef struct shm_header {  /* padded to 4096 bytes */
    char magic[8];           /* SHM_MAGIC */
    uint32_t layout_version; /* SHM_LAYOUT_VERSION */
    uint32_t header_size;
    uint64_t region_size;
    uint64_t generation; /* random per region; workers echo it in logs */
    uint32_t max_models, max_workers, batch_slots;
    uint32_t ring_capacity, completion_capacity;
    uint32_t reserved0;
    uint64_t models_off, rings_off, workers_off, completions_off, batches_off;
    uint64_t arena_off, arena_size;
    int32_t node_pid;
    _Atomic uint32_t shutdown; /* node: 1 = every worker should exit soon */
    shm_waiter completion;     /* the node's completion thread sleeps here */
} shm_header;

/* ---- the region ------------------------------------------------------------------------------ */
typedef struct shm_config {
    uint32_t max_models;          /* default 16 */
    uint32_t max_workers;         /* default 64 */
    uint32_t batch_slots;         /* default 1024 */
    uint32_t ring_capacity;       /* per model, power of two, default 1024 */
    uint32_t completion_capacity; /* per worker, power of two, default 1024 */
    uint64_t arena_size;          /* bytes, default 256 MiB */
} shm_config;

/* Process-local handle: the mapping and pointers derived from the header. */
typedef struct shm_region {
    int fd;
    void *base;
    size_t size;
    shm_header *header;
    shm_model *models;
    shm_worker *workers;
    shm_batch *batches;
    uint8_t *arena;
    /* Private copies of the header's geometry, taken when the region was created or attached
     * (after validation). Every shm_* call uses these, never the shared header again, so a
     * process that scribbles on the header cannot make another one index out of bounds. */
    uint32_t max_models, max_workers, batch_slots;
    uint32_t ring_capacity, completion_capacity;
    uint64_t arena_size;
    uint8_t *rings;           /* base + rings_off */
    uint8_t *completions;     /* base + completions_off */
    size_t ring_stride;       /* bytes per model ring (header + cells, 64-aligned) */
    size_t completion_stride; /* bytes per completion ring (header + items, 64-aligned) */
    /* Worker only, process-local: the node's doorbell for this worker's completions
     * (include/inferd/shm_doorbell.h), or NULL to wake the node's completion waiter. */
    const struct shm_doorbell_end *doorbell;
} shm_region;

/* Fills cfg with the defaults above. */
void shm_config_default(shm_config *cfg);

/* Node: creates and maps a new region (memfd "inferd", 0600, close-on-exec, sealed with
 * F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL once sized, so no worker can resize it; the node
 * clears close-on-exec only in the forked child). Returns 0 or a negative errno with err
 * filled. Free with shm_region_close. */
int shm_region_create(const shm_config *cfg, shm_region *out, char *err, size_t err_len);

/* Worker: maps the region behind fd after checking that it is sealed against shrinking and
 * growing, its magic, version and that every offset and size in the header fits the file's
 * real size. Returns 0 or negative with err filled. */
int shm_region_attach(int fd, shm_region *out, char *err, size_t err_len);

/* Node: rewrites every constant a worker checks at attach (header geometry and offsets,
 * node_pid, each model's ring_off, each worker's completion_off and completion ring
 * capacity/mask) from the node's private copy, undoing what a worker may have scribbled.
 * Submission ring headers are left alone: shm_model_ring_check reports those. */
void shm_region_restore(shm_region *region);

/* Node, before starting a worker in slot `worker` for `model` (no process may use the slot):
 * resets its control block (state STARTING, counters, claim_pos, heartbeat 0) and empties its
 * completion ring, whatever the previous occupant left there. 0 or -EINVAL. */
int shm_worker_slot_reset(shm_region *region, uint32_t worker, uint32_t model);

/* Unmaps and closes the fd. Safe on a zeroed struct. */
void shm_region_close(shm_region *region);

shm_ring *shm_model_ring(const shm_region *region, uint32_t model);
shm_spsc *shm_worker_completions(const shm_region *region, uint32_t worker);

/* 1 if [offset, offset + len) lies inside the arena (overflow-safe), else 0. */
int shm_arena_range_ok(const shm_region *region, uint64_t offset, uint64_t len);
static inline void *shm_arena_ptr(const shm_region *region, uint64_t offset)
{
    return region->arena + offset;
}

/* ---- rings and waiters ----------------------------------------------------------------------- */
/* Node-side ring operations on model `model`'s submission ring. They take the ring geometry
 * from the region's private copy, never from the (worker-writable) ring header, and every
 * loop in them is bounded by the ring capacity: a ring a worker scribbled on gives -EPROTO
 * (treat it as that model's workers lying), never a spin or an out-of-bounds index. The
 * header-trusting forms (shm_ring_push/pop/repair, shm_spsc_*) are in src/shm/shm_worker.h,
 * out of the node's reach. -EINVAL for a bad model index. */
/* Pops one value: 0, -EAGAIN when empty, -EPROTO if the ring is corrupt. */
int shm_model_ring_pop(shm_region *region, uint32_t model, uint64_t *value);
/* Node, after the worker that stored claim_pos died: if that worker had claimed the cell at
 * position claim_pos - 1 but not released it, releases it and returns 1 with the value
 * (which the node must re-submit or fail); returns 0 if there was nothing to repair. */
int shm_model_ring_repair(shm_region *region, uint32_t model, uint64_t claim_pos, uint64_t *value);
/* Entries waiting (approximate), clamped to [0, ring_capacity] whatever the positions say. */
uint64_t shm_model_ring_size(const shm_region *region, uint32_t model);
/* 0 if the ring header is plausible (capacity and mask as created, 0 <= enqueue_pos -
 * dequeue_pos <= capacity), else -EPROTO. O(1). */
int shm_model_ring_check(const shm_region *region, uint32_t model);
/* Re-initialises the ring to empty (positions 0, cell i seq i). Only when no process other
 * than the caller can touch it (every worker of the model is gone). */
void shm_model_ring_reset(shm_region *region, uint32_t model);

uint32_t shm_waiter_prepare(shm_waiter *w);
void shm_waiter_cancel(shm_waiter *w);
/* Sleeps until woken, the timeout (ns, < 0 = none) passes or a signal; returns 0, or
 * -ETIMEDOUT / -EINTR. Returns at once if w->seq != seq. */
int shm_waiter_wait(shm_waiter *w, uint32_t seq, int64_t timeout_ns);
/* The same over several words at once (futex_waitv, Linux 5.16+; one per model region): each
 * ws[i] prepared with seqs[i] = shm_waiter_prepare(ws[i]); returns when any is woken, the
 * timeout passes or a signal comes; undoes every prepare. Past FUTEX_WAITV_MAX (128) words,
 * or on a kernel without futex_waitv, it waits at most 1 ms. 0, -ETIMEDOUT, -EINTR, -EINVAL. */
int shm_waiter_wait_any(shm_waiter *const *ws, const uint32_t *seqs, int n, int64_t timeout_ns);
void shm_waiter_wake(shm_waiter *w, int n);

/* ---- node side ------------------------------------------------------------------------------ */
/* Marks the batch QUEUED, pushes it on its model's ring and wakes one sleeping worker, unless
 * a worker of the region says it is polling the ring (spin_until_ns, docs/protocol.md 5.2).
 * Returns 0 or -EAGAIN if the ring is full (batch left FREE). */
int shm_submit(shm_region *region, uint32_t slot);
/* shm_submit in two halves, for a caller that pushes under a lock and wakes after releasing it
 * (the fence, the look at the workers' promises and the futex wake then lengthen no critical
 * section): shm_submit_push marks and pushes (returns as shm_submit, wakes nobody);
 * shm_submit_wake(region, model, n), after n pushes to that model's ring, wakes up to n
 * sleeping workers of it unless a worker says it is polling. Until the wake a sleeping worker
 * may not see the batch: call it soon after, on every path. */
int shm_submit_push(shm_region *region, uint32_t slot);
void shm_submit_wake(shm_region *region, uint32_t model, int n);
/* Pops one completed batch slot from worker w's completion ring. 0, -EAGAIN when empty, or
 * -EPROTO if the worker lied (head more than a ring ahead of tail, or a slot >= batch_slots):
 * stop reading that ring and kill the worker. */
int shm_poll_completion(shm_region *region, uint32_t worker, uint32_t *slot);

/* Copies the worker-written outputs of a DONE batch out of the region and checks them (call it
 * only when shm_batch_read_result gave SHM_STATUS_OK): per-request status, output dtype/ndim/dims against nbytes, and every output range
 * inside [out_off, out_off + out_cap). `snapshot` (the batch as the node wrote it, kept in node
 * memory) gives the trusted n_requests/n_outputs/table/out range; `outputs` receives
 * n_requests * n_outputs descriptors, `statuses` n_requests statuses. Returns 0, or
 * -EPROTO with err filled if anything is out of bounds (treat as a worker failure). */
int shm_batch_check_outputs(const shm_region *region, const shm_batch *snapshot,
                            shm_tensor *outputs, int32_t *statuses, char *err, size_t err_len);
/* Reads the worker-written batch-level result of slot: status (enum shm_status, -EPROTO if
 * not a known value), out_needed, and the error text copied NUL-terminated into error
 * (error_len may be 0). Returns 0, or -EINVAL if slot is out of range. Call it first; call
 * shm_batch_check_outputs only when the batch status is SHM_STATUS_OK. */
int shm_batch_read_result(const shm_region *region, uint32_t slot, int32_t *status,
                          uint64_t *out_needed, char *error, size_t error_len);

/* ---- worker side ----------------------------------------------------------------------------- */
/* Pops the next batch of `model` for worker w (recording claim_pos), marks it CLAIMED by w and
 * bumps in_hand. Returns 0 with the slot, or -EAGAIN if none is queued. */
int shm_worker_claim(shm_region *region, uint32_t worker, uint32_t model, uint32_t *slot);
/* Drops in_hand (a BUSY worker with none left turns IDLE), counts the batch in batches_done and
 * requests_done, and only then marks the batch DONE and pushes it on w's completion ring (a
 * client that has its answer sees none of it still in hand), and wakes the node if it
 * sleeps (rings region->doorbell when set, else wakes the header's completion waiter). Returns 0, or -EAGAIN if the completion ring is full (retry). */
int shm_worker_complete(shm_region *region, uint32_t worker, uint32_t slot);

/* ---- node-private arena allocator (its metadata never lives in the region) ------------------- */
typedef struct shm_arena shm_arena;
/* Creates an allocator over region's arena. Thread-safe. Free with shm_arena_destroy. */
shm_arena *shm_arena_create(shm_region *region);
void shm_arena_destroy(shm_arena *arena);
/* Allocates size bytes (64-byte aligned); returns 0 and the arena offset, or -ENOMEM. */
int shm_arena_alloc(shm_arena *arena, uint64_t size, uint64_t *offset);
/* Frees an offset returned by shm_arena_alloc. */
void shm_arena_free(shm_arena *arena, uint64_t offset);
uint64_t shm_arena_used(const shm_arena *arena); /* bytes currently allocated */

#endif
