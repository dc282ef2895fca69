/* The worker loop (see worker_loop.h). One thread: it claims batches, runs sync backends
 * inline, polls async ones, and publishes completions; it is the only producer of its
 * completion ring. */
#include "inferd/fence.h"
#include "inferd/clock.h"
#include "worker_loop.h"
#include "worker_spin.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inferd/log.h"

/* After a batch the worker polls for the next one for an adaptive time (worker_spin.h).
 * While it polls, it says so in its control block (spin_until_ns) and the node skips the
 * futex wake for a batch it pushes: back-to-back batches then cost neither side a syscall
 * or a context switch. When the gaps between batches are longer than a poll can cover, it
 * sleeps at once and leaves the core to the threads that make the next batch. Between two
 * looks it yields the CPU (sched_yield, not a pause instruction): where runnable threads
 * outnumber cores (the node's loops, the load generator, other models' workers), the poll
 * then runs only on CPU nobody else wants (bench/RESULTS.md, branch hot2). */
#define HEARTBEAT_NS 20000000ll  /* publish heartbeat (and check the parent) this often */
#define MAX_SLEEP_NS 100000000ll /* never sleep longer: heartbeats every <= 100 ms */

typedef struct loop_state {
    worker_ctx *ctx;
    shm_worker *self;
    worker_batch **unpublished; /* finished, waiting for room in the completion ring */
    size_t n_unpublished, cap_unpublished;
    size_t held; /* batches an async backend holds */
    int stopping;
} loop_state;

static void set_error(shm_batch *b, const char *msg)
{
    b->status = SHM_STATUS_ERROR;
    snprintf(b->error, SHM_ERROR_LEN, "%s", msg);
}

/* Publishes one finished batch; keeps it for later if the node's ring is full. */
static void publish(loop_state *ls, worker_batch *wb)
{
    if (ls->n_unpublished == 0 &&
        shm_worker_complete(ls->ctx->region, ls->ctx->worker, wb->slot) == 0) {
        free(wb);
        return;
    }
    if (ls->n_unpublished == ls->cap_unpublished) {
        size_t cap = ls->cap_unpublished ? ls->cap_unpublished * 2 : 16;
        worker_batch **p = realloc(ls->unpublished, cap * sizeof *p);
        if (!p) { /* cannot even remember it: keep trying right here, bounded by the node */
            while (shm_worker_complete(ls->ctx->region, ls->ctx->worker, wb->slot) != 0)
                usleep(1000);
            free(wb);
            return;
        }
        ls->unpublished = p;
        ls->cap_unpublished = cap;
    }
    ls->unpublished[ls->n_unpublished++] = wb;
}

static int flush_unpublished(loop_state *ls)
{
    size_t i = 0;
    while (i < ls->n_unpublished &&
           shm_worker_complete(ls->ctx->region, ls->ctx->worker, ls->unpublished[i]->slot) == 0)
        free(ls->unpublished[i++]);
    memmove(ls->unpublished, ls->unpublished + i, (ls->n_unpublished - i) * sizeof(void *));
    ls->n_unpublished -= i;
    return i > 0;
}

/* Sets the batch-level result after a run, then publishes. */
static void finish(loop_state *ls, worker_batch *wb, int run_rc, const char *err)
{
    shm_batch *b = wb->batch;
    if (run_rc < 0) {
        set_error(b, err[0] ? err : "backend failed");
    } else if (wb->out_needed > b->out_cap) {
        b->status = SHM_STATUS_OUTPUT_TOO_SMALL;
        b->out_needed = wb->out_needed;
        snprintf(b->error, SHM_ERROR_LEN, "outputs need %llu bytes, area has %llu",
                 (unsigned long long)wb->out_needed, (unsigned long long)b->out_cap);
    } else {
        b->status = SHM_STATUS_OK;
        b->out_needed = wb->out_needed;
    }
    if (ls->ctx->hook && ls->ctx->hook(ls->ctx, WORKER_HOOK_FINISHED, wb->slot)) {
        free(wb);
        return;
    }
    publish(ls, wb);
}

static void process(loop_state *ls, uint32_t slot)
{
    worker_ctx *c = ls->ctx;
    shm_region *region = c->region;
    shm_batch *b = &region->batches[slot];
    worker_batch *wb = calloc(1, sizeof *wb);
    if (!wb) { /* answer it as failed rather than lose it */
        set_error(b, "worker out of memory");
        while (shm_worker_complete(region, c->worker, slot) != 0) usleep(1000);
        return;
    }
    if (worker_batch_init(wb, region, slot, clock_now_ns()) != 0) {
        log_warn_limited("batch slot=%u tag=%llu is malformed; failing it", slot,
                         (unsigned long long)b->tag);
        wb->region = region;
        wb->slot = slot;
        wb->batch = b;
        finish(ls, wb, -1, "malformed batch descriptor");
        return;
    }
    if (c->hook) c->hook(c, WORKER_HOOK_CLAIMED, slot);
    char err[SHM_ERROR_LEN] = "";
    int rc = c->ops->run(c->backend_state, wb, err, sizeof err);
    if (rc == BACKEND_PENDING) {
        ls->held++;
        return;
    }
    finish(ls, wb, rc, err);
}

static void update_state(loop_state *ls)
{
    uint32_t want = ls->stopping ? SHM_WORKER_EXITING
                    : atomic_load_explicit(&ls->self->in_hand, memory_order_relaxed)
                        ? SHM_WORKER_BUSY
                        : SHM_WORKER_IDLE;
    if (atomic_load_explicit(&ls->self->state, memory_order_relaxed) != want)
        atomic_store_explicit(&ls->self->state, want, memory_order_release);
}

/* Publishes (until > 0) or withdraws (0) the promise to poll the ring until `until`. */
static void set_polling(loop_state *ls, int64_t until)
{
    atomic_store_explicit(&ls->self->spin_until_ns, (uint64_t)until, memory_order_relaxed);
}

static int should_stop(loop_state *ls)
{
    worker_ctx *c = ls->ctx;
    if (*c->signalled) return 1;
    if (atomic_load_explicit(&ls->self->stop, memory_order_acquire)) return 1;
    if (atomic_load_explicit(&c->region->header->shutdown, memory_order_acquire)) return 1;
    return 0;
}

int worker_loop_run(worker_ctx *c)
{
    loop_state ls = {.ctx = c, .self = &c->region->workers[c->worker]};
    shm_waiter *work = &c->region->models[c->model].work;
    int64_t last_beat = 0, spin_until = 0;
    int64_t idle_since = 0; /* when the worker last ran out of work (0: busy or unknown) */
    worker_spin spin;
    worker_spin_init(&spin);
    for (;;) {
        int64_t now = clock_now_ns();
        if (now - last_beat >= HEARTBEAT_NS) {
            atomic_store_explicit(&ls.self->heartbeat_ns, (uint64_t)now, memory_order_release);
            last_beat = now;
            if (!ls.stopping && getppid() != c->node_pid) {
                log_warn("node (pid %d) is gone; exiting", c->node_pid);
                *c->signalled = 1;
            }
        }
        if (c->hook) c->hook(c, WORKER_HOOK_TICK, UINT32_MAX);
        if (!ls.stopping && should_stop(&ls)) {
            ls.stopping = 1;
            log_info("stop requested; finishing %u batch(es) in hand",
                     atomic_load_explicit(&ls.self->in_hand, memory_order_relaxed));
        }
        int progress = 0;
        if (ls.n_unpublished) progress |= flush_unpublished(&ls);
        int64_t next_due = INT64_MAX;
        if (c->ops->poll && ls.held) {
            worker_batch *wb;
            while ((wb = c->ops->poll(c->backend_state, now, &next_due)) != NULL) {
                ls.held--;
                finish(&ls, wb, BACKEND_DONE, "");
                progress = 1;
            }
        }
        uint32_t slot;
        if (!ls.stopping && shm_worker_claim(c->region, c->worker, c->model, &slot) == 0) {
            if (spin_until) set_polling(&ls, 0); /* busy: the node wakes another worker */
            if (idle_since) worker_spin_record(&spin, now - idle_since);
            idle_since = 0;
            update_state(&ls);
            process(&ls, slot);
            progress = 1;
        }
        update_state(&ls);
        if (ls.stopping && ls.held == 0 && ls.n_unpublished == 0) break;
        if (progress) {
            spin_until = 0;
            continue;
        }
        if (spin_until == 0) {
            /* One poll per idle spell: after a sleep that found nothing, sleep again. */
            int64_t budget = idle_since ? 0 : worker_spin_budget(&spin);
            if (idle_since == 0) idle_since = now;
            spin_until = now + budget;
            if (!ls.stopping && budget > 0) set_polling(&ls, spin_until);
        }
        if (now < spin_until) {
            sched_yield(); /* polling: let a runnable thread have this core first */
            continue;
        }
        int64_t timeout = MAX_SLEEP_NS;
        if (next_due != INT64_MAX) timeout = next_due - now < timeout ? next_due - now : timeout;
        if (ls.n_unpublished) timeout = 1000000; /* node's completion ring was full */
        if (timeout < 0) timeout = 0;
        uint32_t seq = shm_waiter_prepare(work);
        /* Withdraw the promise, then look once more: a batch pushed while the node still
         * believed it is seen here (docs/protocol.md 5.2; the node fences between its push
         * and its look at the promise). */
        set_polling(&ls, 0);
        inferd_full_fence();
        if (!ls.stopping && shm_worker_claim(c->region, c->worker, c->model, &slot) == 0) {
            shm_waiter_cancel(work);
            if (idle_since) worker_spin_record(&spin, clock_now_ns() - idle_since);
            idle_since = 0;
            update_state(&ls);
            process(&ls, slot);
            spin_until = 0;
            continue;
        }
        if (!ls.stopping && should_stop(&ls)) {
            shm_waiter_cancel(work);
            continue;
        }
        shm_waiter_wait(work, seq, timeout);
        spin_until = 0;
    }
    free(ls.unpublished);
    return 0;
}
