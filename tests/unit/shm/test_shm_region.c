/* Region create/attach validation, node/worker batch calls, output checks, arena allocator. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "inferd/clock.h"
#include "inferd/shm.h"
#include "shm_internal.h"
#include "shm_worker.h"

static void small_config(shm_config *c)
{
    shm_config_default(c);
    c->max_models = 2;
    c->max_workers = 2;
    c->batch_slots = 8;
    c->ring_capacity = 8;
    c->completion_capacity = 8;
    c->arena_size = 1 << 20;
}

/* A region of small_config's geometry; the test fails if it cannot be made. */
static void create_small(shm_region *r)
{
    shm_config c;
    small_config(&c);
    char err[256];
    assert_int_equal(shm_region_create(&c, r, err, sizeof err), 0);
}

static void test_create_attach(void **st)
{
    (void)st;
    shm_config c;
    small_config(&c);
    shm_region node, w;
    char err[256];
    assert_int_equal(shm_region_create(&c, &node, err, sizeof err), 0);
    assert_int_equal(node.header->layout_version, SHM_LAYOUT_VERSION);
    assert_int_equal((uintptr_t)node.arena % 64, 0);
    assert_int_equal((uintptr_t)node.batches % 64, 0);
    assert_int_equal(shm_region_attach(node.fd, &w, err, sizeof err), 0);
    assert_int_equal(w.max_workers, 2);
    assert_int_equal(w.arena_size, 1 << 20);
    /* Same memory seen through both mappings. */
    node.arena[100] = 42;
    assert_int_equal(w.arena[100], 42);
    assert_non_null(shm_model_ring(&w, 1));
    assert_null(shm_model_ring(&w, 2));
    assert_null(shm_worker_completions(&w, 2));
    assert_true(shm_arena_range_ok(&w, 0, 1 << 20));
    assert_false(shm_arena_range_ok(&w, 1, 1 << 20));
    assert_false(shm_arena_range_ok(&w, UINT64_MAX, 2));
    w.fd = -1; /* shares the node's fd here */
    shm_region_close(&w);
    shm_region_close(&node);
}

/* Each hostile header variant must be rejected by attach, never crash it. */
static void expect_attach_fails(shm_region *node, size_t field_off, const void *val, size_t len)
{
    uint8_t saved[16];
    memcpy(saved, (uint8_t *)node->base + field_off, len);
    memcpy((uint8_t *)node->base + field_off, val, len);
    shm_region w;
    char err[256] = "";
    assert_int_not_equal(shm_region_attach(node->fd, &w, err, sizeof err), 0);
    assert_true(strlen(err) > 0);
    memcpy((uint8_t *)node->base + field_off, saved, len);
}

static void test_attach_rejects(void **st)
{
    (void)st;
    shm_region node;
    char err[256];
    create_small(&node);
    expect_attach_fails(&node, offsetof(shm_header, magic), "NOTINFRD", 8);
    uint32_t v = SHM_LAYOUT_VERSION + 1;
    expect_attach_fails(&node, offsetof(shm_header, layout_version), &v, 4);
    uint64_t big = UINT64_MAX - 10;
    expect_attach_fails(&node, offsetof(shm_header, arena_off), &big, 8);
    expect_attach_fails(&node, offsetof(shm_header, arena_size), &big, 8);
    expect_attach_fails(&node, offsetof(shm_header, batches_off), &big, 8);
    uint64_t wrong = node.header->region_size + 4096;
    expect_attach_fails(&node, offsetof(shm_header, region_size), &wrong, 8);
    uint32_t huge = 0x7fffffff;
    expect_attach_fails(&node, offsetof(shm_header, max_workers), &huge, 4);
    uint32_t npow2 = 6;
    expect_attach_fails(&node, offsetof(shm_header, ring_capacity), &npow2, 4);
    uint32_t zero = 0;
    expect_attach_fails(&node, offsetof(shm_header, batch_slots), &zero, 4);
    /* A ring descriptor inside the region that disagrees with the header. */
    uint64_t bad_off = 12345;
    expect_attach_fails(&node, (size_t)((uint8_t *)&node.models[1].ring_off - (uint8_t *)node.base),
                        &bad_off, 8);
    /* Still attachable after all restorations. */
    shm_region w;
    assert_int_equal(shm_region_attach(node.fd, &w, err, sizeof err), 0);
    w.fd = -1;
    shm_region_close(&w);
    /* Sealed: nobody holding the fd can shrink it under a mapping (SIGBUS) or grow it. */
    errno = 0;
    assert_int_equal(ftruncate(node.fd, (off_t)node.header->arena_off), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(ftruncate(node.fd, (off_t)node.size * 2), -1);
    assert_int_equal(fcntl(node.fd, F_ADD_SEALS, F_SEAL_WRITE), -1); /* F_SEAL_SEAL */
    /* A same-content file without the seals is refused (a worker checks them). */
    int plain = memfd_create("plain", MFD_CLOEXEC);
    assert_true(plain >= 0);
    assert_int_equal(ftruncate(plain, (off_t)node.size), 0);
    assert_int_equal(pwrite(plain, node.base, 1 << 16, 0), 1 << 16);
    assert_int_not_equal(shm_region_attach(plain, &w, err, sizeof err), 0);
    assert_non_null(strstr(err, "sealed"));
    close(plain);
    shm_region_close(&node);
    /* Not a region at all. */
    assert_int_not_equal(shm_region_attach(-1, &w, err, sizeof err), 0);
}

static void test_create_rejects_bad_config(void **st)
{
    (void)st;
    shm_config c;
    shm_region r;
    char err[256];
    small_config(&c);
    c.ring_capacity = 100;
    assert_int_equal(shm_region_create(&c, &r, err, sizeof err), -EINVAL);
    small_config(&c);
    c.max_models = 0;
    assert_int_equal(shm_region_create(&c, &r, err, sizeof err), -EINVAL);
}

/* Builds a 2-request batch with 1 input and 1 output each in slot 0. */
static void build_batch(shm_region *r, shm_arena *a, shm_batch *snap)
{
    uint64_t table, out;
    assert_int_equal(shm_arena_alloc(a, shm_batch_table_size(2, 1, 1), &table), 0);
    assert_int_equal(shm_arena_alloc(a, 1024, &out), 0);
    shm_batch *b = &r->batches[0];
    b->model = 1;
    b->n_requests = 2;
    b->n_inputs = 1;
    b->n_outputs = 1;
    b->tag = 77;
    b->table_off = table;
    b->out_off = out;
    b->out_cap = 1024;
    memset(shm_arena_ptr(r, table), 0, shm_batch_table_size(2, 1, 1));
    memcpy(snap, b, sizeof *snap);
}

static shm_tensor *table_outputs(shm_region *r, const shm_batch *snap)
{
    uint8_t *t = shm_arena_ptr(r, snap->table_off);
    return (shm_tensor *)(t + snap->n_requests *
                                  (sizeof(shm_request) + snap->n_inputs * sizeof(shm_tensor)));
}

static void good_outputs(shm_region *r, const shm_batch *snap)
{
    shm_tensor *o = table_outputs(r, snap);
    for (int i = 0; i < 2; i++) {
        memset(&o[i], 0, sizeof o[i]);
        o[i].dtype = INFERD_DTYPE_FP32;
        o[i].ndim = 2;
        o[i].dims[0] = 1;
        o[i].dims[1] = 4;
        o[i].offset = snap->out_off + (uint64_t)i * 16;
        o[i].nbytes = 16;
    }
}

static void test_submit_claim_complete(void **st)
{
    (void)st;
    shm_region r;
    char err[256];
    create_small(&r);
    shm_arena *a = shm_arena_create(&r);
    shm_batch snap;
    build_batch(&r, a, &snap);
    uint32_t slot;
    assert_int_equal(shm_worker_claim(&r, 1, 1, &slot), -EAGAIN);
    assert_int_equal(shm_submit(&r, 0), 0);
    assert_int_equal(atomic_load(&r.batches[0].state), SHM_BATCH_QUEUED);
    assert_int_equal(shm_worker_claim(&r, 1, 0, &slot), -EAGAIN); /* other model's ring */
    assert_int_equal(shm_worker_claim(&r, 1, 1, &slot), 0);
    assert_int_equal(slot, 0);
    assert_int_equal(atomic_load(&r.batches[0].state), SHM_BATCH_CLAIMED);
    assert_int_equal(r.batches[0].worker, 1);
    assert_int_equal(atomic_load(&r.workers[1].in_hand), 1);
    assert_int_equal(atomic_load(&r.workers[1].claim_pos), 0);
    good_outputs(&r, &snap);
    assert_int_equal(shm_worker_complete(&r, 1, 0), 0);
    assert_int_equal(atomic_load(&r.workers[1].in_hand), 0);
    assert_int_equal(atomic_load(&r.workers[1].requests_done), 2);
    assert_int_equal(shm_poll_completion(&r, 0, &slot), -EAGAIN);
    assert_int_equal(shm_poll_completion(&r, 1, &slot), 0);
    assert_int_equal(slot, 0);
    int32_t status;
    uint64_t needed;
    char text[64];
    assert_int_equal(shm_batch_read_result(&r, 0, &status, &needed, text, sizeof text), 0);
    assert_int_equal(status, SHM_STATUS_OK);
    assert_int_equal(shm_batch_read_result(&r, 8, &status, &needed, text, sizeof text), -EINVAL);
    shm_tensor outs[2];
    int32_t st2[2];
    assert_int_equal(shm_batch_check_outputs(&r, &snap, outs, st2, err, sizeof err), 0);
    assert_int_equal(outs[1].offset, snap.out_off + 16);
    /* Region-aware pop/repair ignore a scribbled ring header. */
    shm_ring *ring1 = shm_model_ring(&r, 1);
    assert_int_equal(shm_submit(&r, 0), 0);
    ring1->mask = UINT64_MAX; /* a hostile worker's doing */
    uint64_t val;
    assert_int_equal(shm_model_ring_repair(&r, 1, 0, &val), 0);
    assert_int_equal(shm_model_ring_pop(&r, 1, &val), 0);
    assert_int_equal(val, 0);
    assert_int_equal(shm_model_ring_pop(&r, 1, &val), -EAGAIN);
    assert_int_equal(shm_model_ring_pop(&r, 2, &val), -EINVAL);
    ring1->mask = 7;
    /* Ring full: submit fails and leaves the batch FREE. */
    for (uint32_t i = 0; i < 8; i++) {
        r.batches[i].model = 0;
        assert_int_equal(shm_submit(&r, i), 0);
    }
    assert_int_equal(shm_submit(&r, 0), -EAGAIN);
    assert_int_equal(shm_submit(&r, 8), -EINVAL);
    /* A completion ring holding garbage is a protocol error, not a crash. */
    shm_spsc *cr = shm_worker_completions(&r, 0);
    assert_int_equal(shm_spsc_push(cr, 1000000), 0);
    assert_int_equal(shm_poll_completion(&r, 0, &slot), -EPROTO);
    /* Error text from the region is copied bounded and NUL-terminated. */
    memset(r.batches[3].error, 'x', SHM_ERROR_LEN);
    r.batches[3].status = 99;
    assert_int_equal(shm_batch_read_result(&r, 3, &status, &needed, text, sizeof text), 0);
    assert_int_equal(status, -EPROTO);
    assert_int_equal(strlen(text), sizeof text - 1);
    shm_arena_destroy(a);
    shm_region_close(&r);
}

typedef void (*corrupt_fn)(shm_tensor *o, const shm_batch *snap);
static void c_offset_before(shm_tensor *o, const shm_batch *s)
{
    o->offset = s->out_off - 64;
}
static void c_offset_past(shm_tensor *o, const shm_batch *s)
{
    o->offset = s->out_off + s->out_cap;
}
static void c_overflow(shm_tensor *o, const shm_batch *s)
{
    (void)s;
    o->offset = UINT64_MAX - 8;
}
static void c_len_overflow(shm_tensor *o, const shm_batch *s)
{
    (void)s;
    o->nbytes = UINT64_MAX - 4;
    o->ndim = 0;
}
static void c_tail_past(shm_tensor *o, const shm_batch *s)
{
    o->offset = s->out_off + s->out_cap - 8;
}
static void c_dtype(shm_tensor *o, const shm_batch *s)
{
    (void)s;
    o->dtype = 77;
}
static void c_ndim(shm_tensor *o, const shm_batch *s)
{
    (void)s;
    o->ndim = 9;
}
static void c_nbytes(shm_tensor *o, const shm_batch *s)
{
    (void)s;
    o->nbytes = 12;
}
static void c_negdim(shm_tensor *o, const shm_batch *s)
{
    (void)s;
    o->dims[1] = -4;
}
static void c_dim_overflow(shm_tensor *o, const shm_batch *s)
{
    (void)s;
    o->dims[0] = INT64_MAX;
    o->dims[1] = 4;
}
static void c_bytes_short(shm_tensor *o, const shm_batch *s)
{
    (void)s;
    o->dtype = INFERD_DTYPE_BYTES; /* 4 elements need at least 16 bytes */
    o->nbytes = 15;
}

/* A worker that scribbles on its rings must make every node-side call return -EPROTO (or a
 * clamped value) at once: never a spin, never an index out of bounds. */
static void test_scribbled_rings_are_bounded(void **st)
{
    (void)st;
    shm_region r;
    create_small(&r);
    shm_ring *ring = shm_model_ring(&r, 0);
    uint32_t slot;
    /* A huge sequence number in every cell of the submission ring. */
    for (uint32_t i = 0; i < r.ring_capacity; i++)
        atomic_store(&ring->cells[i].seq, UINT64_MAX / 2 + i);
    r.batches[0].model = 0;
    assert_int_equal(shm_submit(&r, 0), -EPROTO);
    assert_int_equal(atomic_load(&r.batches[0].state), SHM_BATCH_FREE);
    uint64_t v;
    assert_int_equal(shm_model_ring_pop(&r, 0, &v), -EPROTO);
    assert_int_equal(shm_worker_claim(&r, 0, 0, &slot), -EPROTO);
    assert_int_equal(atomic_load(&r.workers[0].claim_pos), 0);
    /* Positions far apart: the size is clamped and the check fails; a reset repairs it. */
    atomic_store(&ring->enqueue_pos, (uint64_t)1 << 40);
    assert_int_equal(shm_model_ring_size(&r, 0), r.ring_capacity);
    assert_int_equal(shm_model_ring_check(&r, 0), -EPROTO);
    atomic_store(&ring->enqueue_pos, 0);
    atomic_store(&ring->dequeue_pos, 5); /* dequeue ahead of enqueue */
    assert_int_equal(shm_model_ring_size(&r, 0), r.ring_capacity);
    assert_int_equal(shm_model_ring_check(&r, 0), -EPROTO);
    shm_model_ring_reset(&r, 0);
    assert_int_equal(shm_model_ring_check(&r, 0), 0);
    assert_int_equal(shm_model_ring_size(&r, 0), 0);
    assert_int_equal(shm_submit(&r, 0), 0);
    assert_int_equal(shm_model_ring_size(&r, 0), 1);
    ring->capacity = 3; /* header fields are checked against the private copy */
    assert_int_equal(shm_model_ring_check(&r, 0), -EPROTO);
    shm_model_ring_reset(&r, 0);
    /* Completion ring head moved 2^40 entries ahead: one -EPROTO, nothing read. */
    shm_spsc *c = shm_worker_completions(&r, 1);
    atomic_store(&c->head, (uint64_t)1 << 40);
    assert_int_equal(shm_poll_completion(&r, 1, &slot), -EPROTO);
    assert_int_equal(atomic_load(&c->tail), 0);
    assert_int_equal(shm_model_ring_size(&r, 9), 0);
    assert_int_equal(shm_model_ring_check(&r, 9), -EINVAL);
    shm_region_close(&r);
}

static void test_check_outputs_rejects(void **st)
{
    (void)st;
    shm_region r;
    char err[256];
    create_small(&r);
    shm_arena *a = shm_arena_create(&r);
    shm_batch snap;
    build_batch(&r, a, &snap);
    corrupt_fn bad[] = {c_offset_before, c_offset_past,  c_overflow,   c_len_overflow,
                        c_tail_past,     c_dtype,        c_ndim,       c_nbytes,
                        c_negdim,        c_dim_overflow, c_bytes_short};
    shm_tensor outs[2];
    int32_t statuses[2];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        good_outputs(&r, &snap);
        assert_int_equal(shm_batch_check_outputs(&r, &snap, outs, statuses, err, sizeof err), 0);
        bad[i](&table_outputs(&r, &snap)[1], &snap);
        err[0] = 0;
        assert_int_equal(shm_batch_check_outputs(&r, &snap, outs, statuses, err, sizeof err),
                         -EPROTO);
        assert_true(strlen(err) > 0);
    }
    /* A failed request's outputs are not checked (and come back zeroed). */
    good_outputs(&r, &snap);
    c_overflow(&table_outputs(&r, &snap)[1], &snap);
    shm_request *reqs = shm_arena_ptr(&r, snap.table_off);
    reqs[1].status = SHM_STATUS_BAD_INPUT;
    assert_int_equal(shm_batch_check_outputs(&r, &snap, outs, statuses, err, sizeof err), 0);
    assert_int_equal(statuses[1], SHM_STATUS_BAD_INPUT);
    assert_int_equal(outs[1].nbytes, 0);
    reqs[1].status = 42; /* unknown request status */
    assert_int_equal(shm_batch_check_outputs(&r, &snap, outs, statuses, err, sizeof err), -EPROTO);
    shm_arena_destroy(a);
    shm_region_close(&r);
}

static void test_arena(void **st)
{
    (void)st;
    shm_config c;
    small_config(&c);
    c.arena_size = 64 * 1024; /* 256 units of 256 bytes */
    shm_region r;
    char err[256];
    assert_int_equal(shm_region_create(&c, &r, err, sizeof err), 0);
    shm_arena *a = shm_arena_create(&r);
    assert_non_null(a);
    uint64_t off[256];
    /* Exhaust with small blocks; all distinct, aligned, in range. */
    int n = 0;
    while (n < 256 && shm_arena_alloc(a, 100, &off[n]) == 0) {
        assert_int_equal(off[n] % 64, 0);
        assert_true(shm_arena_range_ok(&r, off[n], 100));
        n++;
    }
    assert_int_equal(n, 256);
    assert_int_equal(shm_arena_used(a), 64 * 1024);
    uint64_t x;
    assert_int_equal(shm_arena_alloc(a, 1, &x), -ENOMEM);
    /* Fragmentation: free every other block; a 512-byte block cannot be found. */
    for (int i = 0; i < 256; i += 2) shm_arena_free(a, off[i]);
    assert_int_equal(shm_arena_alloc(a, 512, &x), -ENOMEM);
    assert_int_equal(shm_arena_alloc(a, 256, &x), 0); /* reuses a freed one */
    shm_arena_free(a, x);
    /* Free the rest: everything coalesces back into one 64 KiB block. */
    for (int i = 1; i < 256; i += 2) shm_arena_free(a, off[i]);
    assert_int_equal(shm_arena_used(a), 0);
    assert_int_equal(shm_arena_alloc(a, 64 * 1024, &x), 0);
    assert_int_equal(x, 0);
    assert_int_equal(shm_arena_alloc(a, 1, &off[0]), -ENOMEM);
    shm_arena_free(a, x);
    shm_arena_free(a, x);     /* double free is ignored */
    shm_arena_free(a, 12345); /* not a block: ignored */
    assert_int_equal(shm_arena_used(a), 0);
    assert_int_equal(shm_arena_alloc(a, 64 * 1024 + 1, &x), -ENOMEM);
    /* Non-overlap of mixed sizes. */
    uint64_t o1, o2, o3;
    assert_int_equal(shm_arena_alloc(a, 3000, &o1), 0);
    assert_int_equal(shm_arena_alloc(a, 256, &o2), 0);
    assert_int_equal(shm_arena_alloc(a, 10000, &o3), 0);
    assert_true(o2 >= o1 + 3000 || o2 + 256 <= o1);
    assert_true(o3 >= o1 + 3000 || o3 + 10000 <= o1);
    assert_true(o3 >= o2 + 256 || o3 + 10000 <= o2);
    shm_arena_destroy(a);
    shm_region_close(&r);
}

typedef struct arena_arg {
    shm_arena *a;
    shm_region *r;
    int bad;
} arena_arg;

static void *arena_thread(void *p)
{
    arena_arg *t = p;
    for (int i = 0; i < 20000; i++) {
        uint64_t off[4];
        int got = 0;
        for (int k = 0; k < 4; k++)
            if (shm_arena_alloc(t->a, 256 + (uint64_t)(i % 7) * 300, &off[got]) == 0) got++;
        for (int k = 0; k < got; k++) { /* write a pattern, check nobody else wrote it */
            memset(shm_arena_ptr(t->r, off[k]), k + 1 + (int)(uintptr_t)p % 50, 256);
        }
        for (int k = 0; k < got; k++) {
            uint8_t *d = shm_arena_ptr(t->r, off[k]);
            if (d[0] != (uint8_t)(k + 1 + (int)(uintptr_t)p % 50) || d[255] != d[0]) t->bad++;
            shm_arena_free(t->a, off[k]);
        }
    }
    return NULL;
}

static void test_arena_threads(void **st)
{
    (void)st;
    shm_region r;
    create_small(&r);
    shm_arena *a = shm_arena_create(&r);
    pthread_t th[3];
    arena_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (arena_arg){a, &r, 0};
        pthread_create(&th[i], NULL, arena_thread, &args[i]);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].bad, 0);
    }
    assert_int_equal(shm_arena_used(a), 0);
    shm_arena_destroy(a);
    shm_region_close(&r);
}

/* A worker that claimed a cell and stalled, then was declared dead: the node's repair and
 * the zombie's late release cannot both own the value; a full completion ring says EAGAIN. */
static void test_claim_repair_exactly_once(void **st)
{
    (void)st;
    shm_region r;
    create_small(&r);
    r.batches[5].model = 0;
    assert_int_equal(shm_submit(&r, 5), 0);
    shm_ring *ring = shm_model_ring(&r, 0);
    uint64_t pos, value;
    assert_int_equal(shm_ring_pop_begin(ring, 7, &r.workers[0].claim_pos, &pos, &value), 0);
    assert_int_equal(value, 5);
    uint64_t cp = atomic_load(&r.workers[0].claim_pos);
    assert_int_equal(cp, pos + 1);
    uint64_t repaired;
    assert_int_equal(shm_model_ring_repair(&r, 0, cp, &repaired), 1);
    assert_int_equal(repaired, 5);
    assert_int_equal(shm_ring_pop_finish(ring, 7, pos), -ESTALE); /* the zombie loses */
    assert_int_equal(shm_model_ring_repair(&r, 0, cp, &repaired), 0);
    /* The ring works on; the repaired batch can be resubmitted and claimed normally. */
    assert_int_equal(shm_submit(&r, 5), 0);
    uint32_t slot;
    assert_int_equal(shm_worker_claim(&r, 1, 0, &slot), 0);
    assert_int_equal(slot, 5);
    assert_int_equal(atomic_load(&r.workers[1].claim_pos), 0);
    /* Completion ring of capacity 8: the ninth completion must wait. */
    for (uint32_t i = 0; i < 8; i++) assert_int_equal(shm_worker_complete(&r, 1, i), 0);
    assert_int_equal(shm_worker_complete(&r, 1, 0), -EAGAIN);
    assert_int_equal(shm_poll_completion(&r, 1, &slot), 0);
    assert_int_equal(shm_worker_complete(&r, 1, 0), 0);
    assert_int_equal(shm_worker_complete(&r, 1, 99), -EINVAL);
    shm_region_close(&r);
}

/* A worker that writes a ring cell's sequence number ahead of the ring's position (found by
 * fuzz_shm_batch_check): the node's push and pop refuse it (-EPROTO) instead of spinning
 * forever; the batch is left FREE; a repaired cell makes the ring usable again. */
static void test_ring_cell_ahead_refused(void **st)
{
    (void)st;
    shm_region r;
    create_small(&r);
    shm_ring *ring = shm_model_ring(&r, 0);
    r.batches[2].model = 0;
    atomic_store(&ring->cells[0].seq, 5); /* position 0 expects seq 0 (empty) */
    assert_int_equal(shm_submit(&r, 2), -EPROTO);
    assert_int_equal(atomic_load(&r.batches[2].state), SHM_BATCH_FREE);
    uint64_t value;
    assert_int_equal(shm_model_ring_pop(&r, 0, &value), -EPROTO); /* expects seq 1 */
    uint32_t slot;
    assert_int_equal(shm_worker_claim(&r, 0, 0, &slot), -EPROTO);
    assert_int_equal(atomic_load(&r.workers[0].claim_pos), 0);
    atomic_store(&ring->cells[0].seq, 0);
    assert_int_equal(shm_submit(&r, 2), 0);
    assert_int_equal(shm_model_ring_pop(&r, 0, &value), 0);
    assert_int_equal(value, 2);
    shm_region_close(&r);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random corruption of header bytes: attach either fails with a message or yields exactly
 * the original geometry; it never crashes or maps something else. */
static void test_attach_fuzz(void **st)
{
    (void)st;
    shm_region node;
    char err[256];
    create_small(&node);
    uint8_t saved[128];
    memcpy(saved, node.base, sizeof saved);
    for (int i = 0; i < 3000; i++) {
        int flips = 1 + (int)(rng() % 3);
        for (int k = 0; k < flips; k++)
            ((uint8_t *)node.base)[rng() % 120] ^= (uint8_t)(1u << (rng() % 8));
        shm_region w;
        err[0] = 0;
        int rc = shm_region_attach(node.fd, &w, err, sizeof err);
        if (rc == 0) {
            /* Accepted only if every section fits the mapping without overlap. (A header
             * may differ and still be consistent, e.g. more batch slots in the padding.) */
            uint8_t *end = (uint8_t *)w.base + w.size;
            assert_true(w.size <= node.size);
            assert_true(w.arena + w.arena_size <= end);
            assert_true((uint8_t *)(w.batches + w.batch_slots) <= w.arena);
            assert_true(w.completions + w.max_workers * w.completion_stride <=
                        (uint8_t *)w.batches);
            assert_true((uint8_t *)(w.workers + w.max_workers) <= w.completions);
            assert_true(w.rings + w.max_models * w.ring_stride <= (uint8_t *)w.workers);
            assert_true((uint8_t *)(w.models + w.max_models) <= w.rings);
            w.fd = -1;
            shm_region_close(&w);
        } else {
            assert_true(strlen(err) > 0);
        }
        memcpy(node.base, saved, sizeof saved);
    }
    shm_region_close(&node);
}

/* Random output descriptors: whenever the check passes, every OK output really lies inside
 * the output area and is consistent with its dims. */
static void test_check_outputs_fuzz(void **st)
{
    (void)st;
    shm_region r;
    char err[256];
    create_small(&r);
    shm_arena *a = shm_arena_create(&r);
    shm_batch snap;
    build_batch(&r, a, &snap);
    int passed = 0;
    for (int i = 0; i < 20000; i++) {
        good_outputs(&r, &snap);
        shm_tensor *o = &table_outputs(&r, &snap)[rng() % 2];
        switch (rng() % 5) {
        case 0: o->offset = snap.out_off + rng() % 2048 - 512; break;
        case 1: o->nbytes = rng() % 64; break;
        case 2: o->dims[rng() % 2] = (int64_t)(rng() % 9) - 2; break;
        case 3: o->dtype = (uint32_t)(rng() % 20); break;
        default:
            o->offset = rng();
            o->nbytes = rng();
            break;
        }
        shm_tensor outs[2];
        int32_t sts[2];
        if (shm_batch_check_outputs(&r, &snap, outs, sts, err, sizeof err) != 0) continue;
        passed++;
        for (int k = 0; k < 2; k++) {
            assert_true(outs[k].offset >= snap.out_off);
            assert_true(outs[k].offset - snap.out_off <= snap.out_cap);
            assert_true(outs[k].nbytes <= snap.out_cap - (outs[k].offset - snap.out_off));
            uint64_t es = inferd_dtype_size((inferd_dtype)outs[k].dtype);
            if (es) {
                uint64_t n = 1;
                for (uint32_t d = 0; d < outs[k].ndim; d++) n *= (uint64_t)outs[k].dims[d];
                assert_int_equal(n * es, outs[k].nbytes);
            }
        }
    }
    assert_true(passed > 0); /* some mutations are harmless; they must still pass */
    shm_arena_destroy(a);
    shm_region_close(&r);
}

/* Pushes batch 0 of model 1 (after the promise was stored), takes it off the ring again and
 * returns 1 if a sleeper registered on the model's wake-up word was woken (seq moved). Sets
 * *in_time to whether the push happened before `promise` (a loaded machine may be late). */
static int submit_woke(shm_region *r, uint64_t promise, int *in_time)
{
    shm_waiter *work = &r->models[1].work;
    atomic_store(&r->workers[0].spin_until_ns, promise);
    uint32_t seq = shm_waiter_prepare(work); /* a worker asleep on the model's ring */
    assert_int_equal(shm_submit(r, 0), 0);
    *in_time = (uint64_t)clock_now_ns() < promise;
    int woke = atomic_load(&work->seq) != seq;
    shm_waiter_cancel(work);
    uint64_t val;
    assert_int_equal(shm_model_ring_pop(r, 1, &val), 0);
    assert_int_equal(val, 0);
    return woke;
}

/* A worker's promise to poll (spin_until_ns, docs/protocol.md 5.2) makes the node skip the
 * futex wake; a promise too far ahead (a lie), a stale one (a worker that died polling) or
 * none wakes as before. */
static void test_submit_skips_wake_for_polling_worker(void **st)
{
    (void)st;
    shm_region r;
    create_small(&r);
    shm_arena *a = shm_arena_create(&r);
    shm_batch snap;
    build_batch(&r, a, &snap);
    int in_time = 0, tries = 0, woke = 1;
    while (!in_time && tries++ < 1000) /* bounded: retried only when the push came too late */
        woke = submit_woke(&r, (uint64_t)clock_now_ns() + SHM_SPIN_MAX_NS, &in_time);
    assert_true(in_time);
    assert_false(woke);
    assert_true(submit_woke(&r, (uint64_t)clock_now_ns() + 1000 * SHM_SPIN_MAX_NS, &in_time));
    assert_true(submit_woke(&r, (uint64_t)clock_now_ns() - 1000, &in_time));
    assert_true(submit_woke(&r, 0, &in_time));
    /* No sleeper: no wake either way (the eventcount alone). */
    atomic_store(&r.workers[0].spin_until_ns, 0);
    uint32_t seq = atomic_load(&r.models[1].work.seq);
    assert_int_equal(shm_submit(&r, 0), 0);
    assert_int_equal(atomic_load(&r.models[1].work.seq), seq);
    shm_arena_destroy(a);
    shm_region_close(&r);
}

/* test_complete_counts_before_publishing: the worker side, on its own thread. */
typedef struct complete_worker {
    shm_region *r;
    int rounds;
    _Atomic int stop; /* the test ends early */
    int failed;       /* a claim did not come within the bound */
} complete_worker;

static void *complete_worker_run(void *arg)
{
    complete_worker *w = arg;
    for (int i = 0; i < w->rounds; i++) {
        uint32_t slot;
        int64_t until = clock_now_ns() + 10000000000ll;
        while (shm_worker_claim(w->r, 1, 1, &slot) != 0)
            if (atomic_load(&w->stop)) {
                return NULL;
            } else if (clock_now_ns() > until) {
                w->failed = 1;
                return NULL;
            }
        /* as the worker loop does once it holds a batch */
        atomic_store_explicit(&w->r->workers[1].state, SHM_WORKER_BUSY, memory_order_release);
        while (shm_worker_complete(w->r, 1, slot) != 0)
            if (clock_now_ns() > until) {
                w->failed = 1;
                return NULL;
            }
    }
    return NULL;
}

/* What a client can read about a worker once it has its answer (in_hand, the worker's state,
 * the done counters) is updated before the completion is published: the node, the moment it
 * pops a completion, sees the batch out of hand. The state part fails deterministically
 * without the fix; the counters' part only when the worker thread is preempted between
 * publishing and counting. */
static void test_complete_counts_before_publishing(void **st)
{
    (void)st;
    shm_region r;
    create_small(&r);
    shm_arena *a = shm_arena_create(&r);
    shm_batch snap;
    build_batch(&r, a, &snap);
    complete_worker w = {.r = &r, .rounds = 2000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, complete_worker_run, &w), 0);
    int bad = -1;
    for (int i = 0; i < w.rounds && bad < 0; i++) {
        assert_int_equal(shm_submit(&r, 0), 0);
        uint32_t slot;
        int64_t until = clock_now_ns() + 10000000000ll;
        int rc;
        while ((rc = shm_poll_completion(&r, 1, &slot)) == -EAGAIN && clock_now_ns() < until) {}
        if (rc != 0) break;
        shm_worker *sw = &r.workers[1];
        if (atomic_load(&sw->in_hand) != 0 || atomic_load(&sw->state) != SHM_WORKER_IDLE ||
            atomic_load(&sw->batches_done) != (uint64_t)i + 1 ||
            atomic_load(&sw->requests_done) != 2 * ((uint64_t)i + 1))
            bad = i;
        atomic_store(&r.batches[0].state, SHM_BATCH_FREE); /* the node read it */
    }
    atomic_store(&w.stop, 1); /* when it ended early, the worker waits for a batch */
    pthread_join(t, NULL);
    assert_int_equal(bad, -1);
    assert_int_equal(w.failed, 0);
    shm_arena_destroy(a);
    shm_region_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_attach),
        cmocka_unit_test(test_attach_rejects),
        cmocka_unit_test(test_create_rejects_bad_config),
        cmocka_unit_test(test_submit_claim_complete),
        cmocka_unit_test(test_complete_counts_before_publishing),
        cmocka_unit_test(test_submit_skips_wake_for_polling_worker),
        cmocka_unit_test(test_scribbled_rings_are_bounded),
        cmocka_unit_test(test_check_outputs_rejects),
        cmocka_unit_test(test_claim_repair_exactly_once),
        cmocka_unit_test(test_ring_cell_ahead_refused),
        cmocka_unit_test(test_attach_fuzz),
        cmocka_unit_test(test_check_outputs_fuzz),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_arena_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
