/* Transport benchmark: node->worker->node round trip through the real region calls
 * (shm_submit / shm_worker_claim / shm_worker_complete / shm_poll_completion), spinning and
 * through futex sleep/wake, beside a pipe round trip between two processes; and descriptor
 * throughput through the MPMC ring beside memcpy of the same bytes. Prints its figures. */
#include "inferd/clock.h"
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inferd/shm.h"
#include "shm_worker.h" /* raw ring forms: the bench measures the rings themselves */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, int64_t *lat, int n)
{
    qsort(lat, (size_t)n, sizeof *lat, cmp_i64);
    printf("  %-44s p50 %8.2f us   p99 %8.2f us   (n=%d)\n", what, lat[n / 2] / 1e3,
           lat[(int)(n * 0.99)] / 1e3, n);
}

/* Worker side of the round trip: claim, complete, forever; spin or sleep when idle. */
static void worker_child(shm_region *r, int sleep_mode)
{
    shm_waiter *work = &r->models[0].work;
    for (;;) {
        uint32_t slot;
        if (shm_worker_claim(r, 0, 0, &slot) == 0) {
            if (r->batches[slot].tag == UINT64_MAX) _exit(0);
            while (shm_worker_complete(r, 0, slot) != 0) {}
            continue;
        }
        if (!sleep_mode) continue;
        uint32_t seq = shm_waiter_prepare(work);
        if (shm_ring_size(shm_model_ring(r, 0)) > 0) {
            shm_waiter_cancel(work);
            continue;
        }
        shm_waiter_wait(work, seq, 100000000);
    }
}

static int round_trip(shm_region *r, int sleep_mode, int n, int64_t *lat)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) worker_child(r, sleep_mode);
    shm_batch *b = &r->batches[0];
    b->model = 0;
    b->n_requests = 1;
    shm_waiter *done = &r->header->completion;
    /* sleep_mode 2: the node sleeps as with one region per model, on 16 words at once
     * (futex_waitv), this region's and 15 others that never move. */
    static shm_waiter others[15];
    shm_waiter *words[16] = {done};
    uint32_t seqs[16];
    for (int k = 1; k < 16; k++) words[k] = &others[k - 1];
    for (int i = -1000; i < n; i++) { /* 1000 warm-up rounds */
        b->tag = (uint64_t)i + 1000;
        int64_t t0 = clock_now_ns();
        if (shm_submit(r, 0) != 0) return -1;
        uint32_t slot;
        for (;;) {
            if (shm_poll_completion(r, 0, &slot) == 0) break;
            if (!sleep_mode) continue;
            int nw = sleep_mode == 2 ? 16 : 1;
            for (int k = 0; k < nw; k++) seqs[k] = shm_waiter_prepare(words[k]);
            if (shm_poll_completion(r, 0, &slot) == 0) {
                for (int k = 0; k < nw; k++) shm_waiter_cancel(words[k]);
                break;
            }
            if (nw == 1) shm_waiter_wait(done, seqs[0], 100000000);
            else shm_waiter_wait_any(words, seqs, nw, 100000000);
        }
        if (i >= 0) lat[i] = clock_now_ns() - t0;
    }
    b->tag = UINT64_MAX;
    shm_submit(r, 0);
    waitpid(pid, NULL, 0);
    return 0;
}

static int pipe_round_trip(int n, int64_t *lat)
{
    int to[2], from[2];
    if (pipe(to) || pipe(from)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        uint64_t v;
        while (read(to[0], &v, 8) == 8 && v != UINT64_MAX)
            if (write(from[1], &v, 8) != 8) break;
        _exit(0);
    }
    for (int i = -1000; i < n; i++) {
        uint64_t v = (uint64_t)(i + 1000);
        int64_t t0 = clock_now_ns();
        if (write(to[1], &v, 8) != 8 || read(from[0], &v, 8) != 8) return -1;
        if (i >= 0) lat[i] = clock_now_ns() - t0;
    }
    uint64_t stop = UINT64_MAX;
    if (write(to[1], &stop, 8) != 8) return -1;
    waitpid(pid, NULL, 0);
    close(to[0]);
    close(to[1]);
    close(from[0]);
    close(from[1]);
    return 0;
}

/* One producer process pushes `n` descriptors; this process pops them all. */
static double ring_throughput(shm_region *r, uint64_t n)
{
    shm_ring *ring = shm_model_ring(r, 1);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        for (uint64_t i = 0; i < n; i++)
            while (shm_ring_push(ring, i) != 0) sched_yield();
        _exit(0);
    }
    int64_t t0 = clock_now_ns();
    uint64_t got = 0, sum = 0, v;
    while (got < n) {
        if (shm_ring_pop(ring, &v, NULL) == 0) {
            sum += v;
            got++;
        } else {
            sched_yield(); /* the other side is probably not on a CPU right now */
        }
    }
    int64_t dt = clock_now_ns() - t0;
    waitpid(pid, NULL, 0);
    if (sum != n * (n - 1) / 2) fprintf(stderr, "ring: wrong sum!\n");
    return (double)n / (dt / 1e9);
}

static double memcpy_throughput(uint64_t n)
{
    /* The same bytes the ring moves per descriptor (a 16-byte cell: sequence + value),
     * copied one descriptor at a time into a ring-sized buffer, in one process. */
    enum { CAP = 1024 };
    static uint64_t src[2], dst[CAP][2];
    int64_t t0 = clock_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        src[0] = i;
        src[1] = i + 1;
        memcpy(dst[i & (CAP - 1)], src, 16);
        __asm__ volatile("" ::"r"(dst) : "memory");
    }
    int64_t dt = clock_now_ns() - t0;
    return (double)n / (dt / 1e9);
}

/* Full path with 64-request batches: node submits (keeping up to 256 in flight), a worker
 * process claims and completes, the node polls completions. Returns requests/s. */
static double batch_throughput(shm_region *r, uint64_t batches, uint32_t per_batch)
{
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        for (;;) {
            uint32_t slot;
            if (shm_worker_claim(r, 0, 0, &slot) != 0) {
                sched_yield();
                continue;
            }
            if (r->batches[slot].tag == UINT64_MAX) _exit(0);
            while (shm_worker_complete(r, 0, slot) != 0) sched_yield();
        }
    }
    uint32_t free_slots[256], n_free = 0;
    for (uint32_t s = 0; s < 256; s++) {
        r->batches[s].model = 0;
        r->batches[s].n_requests = per_batch;
        free_slots[n_free++] = s;
    }
    uint64_t submitted = 0, done = 0;
    int64_t t0 = clock_now_ns();
    while (done < batches) {
        int progress = 0;
        while (submitted < batches && n_free > 0) {
            uint32_t s = free_slots[--n_free];
            r->batches[s].tag = submitted++;
            if (shm_submit(r, s) != 0) return -1;
            progress = 1;
        }
        uint32_t slot;
        while (shm_poll_completion(r, 0, &slot) == 0) {
            free_slots[n_free++] = slot;
            done++;
            progress = 1;
        }
        if (!progress) sched_yield();
    }
    int64_t dt = clock_now_ns() - t0;
    r->batches[0].tag = UINT64_MAX;
    shm_submit(r, 0);
    waitpid(pid, NULL, 0);
    return (double)batches * per_batch / (dt / 1e9);
}

static long rss_shmem_kb(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "RssShmem: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb;
}

/* Start-up cost of the node's layout: n_regions regions of models_each models (64 worker and
 * 1024 batch slots each, 256 MiB of arena in all) created, touched as the node does, closed.
 * Prints the time and the shared memory this process touched (RssShmem). */
static void region_startup(int n_regions, uint32_t models_each)
{
    shm_region regions[16];
    char err[256];
    long shmem_before = rss_shmem_kb();
    int64_t t0 = clock_now_ns();
    int made = 0;
    for (; made < n_regions && made < 16; made++) {
        shm_config cfg;
        shm_config_default(&cfg);
        cfg.max_models = models_each;
        cfg.arena_size = (256ull << 20) / (uint64_t)n_regions;
        if (shm_region_create(&cfg, &regions[made], err, sizeof err) != 0) {
            fprintf(stderr, "shm_bench: %s\n", err);
            break;
        }
    }
    int64_t dt = clock_now_ns() - t0;
    long shmem = rss_shmem_kb() - shmem_before;
    printf("  %2d region(s) of %2u model(s): created in %7.2f ms, shared memory touched %6ld KiB\n",
           made, models_each, dt / 1e6, shmem);
    for (int i = 0; i < made; i++) shm_region_close(&regions[i]);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    uint64_t tn = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000000;
    if (n < 100) n = 100;
    shm_config cfg;
    shm_config_default(&cfg);
    cfg.max_models = 2;
    cfg.max_workers = 1;
    cfg.arena_size = 1 << 20;
    shm_region r;
    char err[256];
    if (shm_region_create(&cfg, &r, err, sizeof err) != 0) {
        fprintf(stderr, "shm_bench: %s\n", err);
        return 1;
    }
    int64_t *lat = calloc((size_t)n, sizeof *lat);
    printf("shm_bench: %d round trips per case, %llu descriptors for throughput; %ld online "
           "cores\n",
           n, (unsigned long long)tn, sysconf(_SC_NPROCESSORS_ONLN));
    printf("round trip node -> worker -> node (one 1-request batch):\n");
    if (round_trip(&r, 0, n, lat) == 0) report("shm, both sides spinning", lat, n);
    if (round_trip(&r, 1, n, lat) == 0) report("shm, both sides sleep/wake (futex)", lat, n);
    if (round_trip(&r, 2, n, lat) == 0) report("shm, sleep/wake, node waitv 16 words", lat, n);
    if (pipe_round_trip(n, lat) == 0) report("reference: pipe round trip (8 bytes)", lat, n);
    printf("throughput (one producer process, one consumer process):\n");
    double rt = ring_throughput(&r, tn);
    double mt = memcpy_throughput(tn);
    printf("  %-44s %8.2f M descriptors/s\n", "shm MPMC ring push/pop", rt / 1e6);
    printf("  %-44s %8.2f M descriptors/s  (ring/memcpy = %.3f)\n",
           "reference: memcpy of the same 16-byte cells", mt / 1e6, rt / mt);
    double bt = batch_throughput(&r, tn / 64, 64);
    printf("  %-44s %8.2f M requests/s (%.2f M batches/s)\n", "full path, 64-request batches",
           bt / 1e6, bt / 64 / 1e6);
    printf("start-up: the node's layout, one region for 16 models against one region per model:\n");
    region_startup(1, 16);
    region_startup(16, 1);
    free(lat);
    shm_region_close(&r);
    return 0;
}
