/* A stand-in for inferd-worker used by test_sched_workers: speaks the worker side of the
 * shm protocol with a behaviour chosen by SCHED_FAKE_MODE (echo, small, bad, die, crash,
 * hang-once: the first worker to claim a batch creates SCHED_FAKE_MARK and then stops
 * heartbeating), so the scheduler's recovery paths can be tested without real backends. */
#include "inferd/clock.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "inferd/shm.h"

/* Copies input 0 of every request to output 0 inside the output area. */
static void run_batch(shm_region *r, shm_batch *b, const char *mode)
{
    uint32_t n = b->n_requests, ni = b->n_inputs, no = b->n_outputs;
    uint8_t *table = shm_arena_ptr(r, b->table_off);
    shm_request *reqs = (shm_request *)table;
    shm_tensor *in = (shm_tensor *)(table + (uint64_t)n * sizeof(shm_request));
    shm_tensor *out = in + (uint64_t)n * ni;
    uint64_t needed = 0;
    for (uint32_t q = 0; q < n; q++) needed += (in[(uint64_t)q * ni].nbytes + 63) / 64 * 64;
    if (strcmp(mode, "small") == 0 && b->out_cap < 2 * needed) {
        b->out_needed = 2 * needed;
        b->status = SHM_STATUS_OUTPUT_TOO_SMALL;
        return;
    }
    uint64_t cursor = b->out_off;
    for (uint32_t q = 0; q < n; q++) {
        const shm_tensor *src = &in[(uint64_t)q * ni];
        if (reqs[q].delay_us > 0) usleep((useconds_t)reqs[q].delay_us);
        if (reqs[q].deadline_ns > 0 && reqs[q].deadline_ns < clock_now_ns()) {
            reqs[q].status = SHM_STATUS_DEADLINE;
            continue;
        }
        if (no < 1 || cursor + src->nbytes > b->out_off + b->out_cap) {
            b->out_needed = needed;
            b->status = SHM_STATUS_OUTPUT_TOO_SMALL;
            return;
        }
        memcpy(shm_arena_ptr(r, cursor), shm_arena_ptr(r, src->offset), src->nbytes);
        out[(uint64_t)q * no] = *src;
        out[(uint64_t)q * no].offset = cursor;
        if (strcmp(mode, "bad") == 0) out[(uint64_t)q * no].offset = b->out_off + b->out_cap + 4096;
        cursor += (src->nbytes + 63) / 64 * 64;
        reqs[q].status = SHM_STATUS_OK;
    }
}

int main(int argc, char **argv)
{
    const char *mode = getenv("SCHED_FAKE_MODE");
    if (!mode) mode = "echo";
    if (strcmp(mode, "crash") == 0) return 3;
    uint32_t worker = UINT32_MAX, model = UINT32_MAX;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--worker") == 0) worker = (uint32_t)atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--model-slot") == 0) model = (uint32_t)atoi(argv[i + 1]);
    }
    shm_region r;
    char err[256];
    if (shm_region_attach(3, &r, err, sizeof(err)) != 0) {
        fprintf(stderr, "fake worker: %s\n", err);
        return 2;
    }
    if (worker >= r.header->max_workers || model >= r.header->max_models) return 2;
    pid_t node = getppid();
    shm_worker *w = &r.workers[worker];
    atomic_store(&w->pid, (int32_t)getpid());
    atomic_store(&w->heartbeat_ns, (uint64_t)clock_now_ns());
    atomic_store(&w->state, SHM_WORKER_IDLE);
    while (!atomic_load(&w->stop) && !atomic_load(&r.header->shutdown) && getppid() == node) {
        atomic_store(&w->heartbeat_ns, (uint64_t)clock_now_ns());
        uint32_t slot;
        if (shm_worker_claim(&r, worker, model, &slot) == 0) {
            if (strcmp(mode, "die") == 0) raise(SIGKILL);
            const char *mark = getenv("SCHED_FAKE_MARK");
            if (strcmp(mode, "hang-once") == 0 && mark) {
                int fd = open(mark, O_CREAT | O_EXCL | O_WRONLY, 0600);
                if (fd >= 0) {
                    close(fd);
                    for (;;) pause(); /* holds the batch, no heartbeat */
                }
            }
            run_batch(&r, &r.batches[slot], mode);
            while (shm_worker_complete(&r, worker, slot) == -EAGAIN) usleep(100);
            continue;
        }
        shm_waiter *wake = &r.models[model].work;
        uint32_t seq = shm_waiter_prepare(wake);
        if (shm_model_ring_size(&r, model) > 0) {
            shm_waiter_cancel(wake);
            continue;
        }
        shm_waiter_wait(wake, seq, 20000000LL);
    }
    atomic_store(&w->state, SHM_WORKER_EXITING);
    shm_region_close(&r);
    return 0;
}
