/* The seqlock of the live stats region (include/inferd/live_stats.h): one writer, readers
 * that retry a bounded number of times, every shared word a relaxed atomic so the protocol is
 * data-race free in C11 terms (and visible to ThreadSanitizer). */
#include <errno.h>

#include "inferd/live_stats.h"

void live_stats_seq_write(_Atomic uint64_t *words, const uint64_t *src, size_t n)
{
    uint64_t s = atomic_load_explicit(&words[0], memory_order_relaxed);
    atomic_store_explicit(&words[0], s + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release); /* odd seq visible before any word changes */
    for (size_t i = 1; i < n; i++) atomic_store_explicit(&words[i], src[i], memory_order_relaxed);
    atomic_store_explicit(&words[0], s + 2, memory_order_release);
}

int live_stats_seq_read(const _Atomic uint64_t *words, uint64_t *dst, size_t n)
{
    for (int tries = 0; tries < LIVE_STATS_READ_TRIES; tries++) {
        uint64_t s1 = atomic_load_explicit(&words[0], memory_order_acquire);
        if (s1 & 1) continue;
        for (size_t i = 1; i < n; i++)
            dst[i] = atomic_load_explicit(&words[i], memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire); /* the words are read before seq again */
        uint64_t s2 = atomic_load_explicit(&words[0], memory_order_relaxed);
        if (s1 == s2) {
            dst[0] = s1;
            return 0;
        }
    }
    return -EAGAIN;
}

const char *live_stats_worker_state_name(int64_t state)
{
    switch (state) {
    case LIVE_WORKER_STARTING: return "starting";
    case LIVE_WORKER_IDLE: return "idle";
    case LIVE_WORKER_BUSY: return "busy";
    case LIVE_WORKER_STOPPING: return "stopping";
    default: return "?";
    }
}
