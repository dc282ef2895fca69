/* Eventcount over a process-shared futex: sleepers announce themselves, wakers pay a syscall
 * only when someone announced. See docs/protocol.md "Waiters" for the ordering argument. */
#include "shm_internal.h"

#include <errno.h>
#include <string.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Why no fences: the sleeper's announcement (fetch_add on sleepers) and the waker's check
 * (fetch_add 0 on sleepers, after publishing work) are read-modify-writes of one variable,
 * so they are totally ordered. If the check comes first, the sleeper's acq_rel increment
 * reads from it and so sees the published work when it re-checks; if the announcement comes
 * first, the waker sees sleepers > 0, bumps seq and calls FUTEX_WAKE, and a sleeper whose
 * FUTEX_WAIT has not started yet returns at once because seq moved. */

uint32_t shm_waiter_prepare(shm_waiter *w)
{
    atomic_fetch_add_explicit(&w->sleepers, 1, memory_order_seq_cst);
    return atomic_load_explicit(&w->seq, memory_order_seq_cst);
}

void shm_waiter_cancel(shm_waiter *w)
{
    atomic_fetch_sub_explicit(&w->sleepers, 1, memory_order_seq_cst);
}

int shm_waiter_wait(shm_waiter *w, uint32_t seq, int64_t timeout_ns)
{
    int rc = 0;
    if (atomic_load_explicit(&w->seq, memory_order_seq_cst) == seq) {
        struct timespec ts, *tsp = NULL;
        if (timeout_ns >= 0) {
            ts.tv_sec = (time_t)(timeout_ns / 1000000000);
            ts.tv_nsec = (long)(timeout_ns % 1000000000);
            tsp = &ts;
        }
        /* Not FUTEX_PRIVATE: the word is shared between processes. */
        long r = syscall(SYS_futex, (uint32_t *)&w->seq, FUTEX_WAIT, seq, tsp, NULL, 0);
        if (r != 0) {
            if (errno == ETIMEDOUT) rc = -ETIMEDOUT;
            else if (errno == EINTR) rc = -EINTR;
            /* EAGAIN: seq already changed, i.e. woken. */
        }
    }
    atomic_fetch_sub_explicit(&w->sleepers, 1, memory_order_seq_cst);
    return rc;
}

int shm_waiter_wait_any(shm_waiter *const *ws, const uint32_t *seqs, int n, int64_t timeout_ns)
{
    if (n <= 0) return -EINVAL;
    int rc = 0, changed = 0;
    int nv = n > FUTEX_WAITV_MAX ? FUTEX_WAITV_MAX : n;
    /* Words past the kernel's limit cannot wake us: look again soon instead. */
    if (n > nv && (timeout_ns < 0 || timeout_ns > 1000000)) timeout_ns = 1000000;
    for (int i = 0; i < n && !changed; i++)
        changed = atomic_load_explicit(&ws[i]->seq, memory_order_seq_cst) != seqs[i];
    if (!changed) {
        struct futex_waitv v[FUTEX_WAITV_MAX];
        memset(v, 0, sizeof v);
        for (int i = 0; i < nv; i++) {
            v[i].val = seqs[i];
            v[i].uaddr = (uint64_t)(uintptr_t)&ws[i]->seq;
            v[i].flags = FUTEX_32; /* not FUTEX_PRIVATE_FLAG: shared between processes */
        }
        struct timespec ts, *tsp = NULL;
        if (timeout_ns >= 0) { /* futex_waitv takes an absolute time */
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + timeout_ns % 1000000000;
            ts.tv_sec += (time_t)(timeout_ns / 1000000000 + ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            tsp = &ts;
        }
        long r = syscall(SYS_futex_waitv, v, (unsigned)nv, 0, tsp, CLOCK_MONOTONIC);
        if (r < 0) {
            if (errno == ETIMEDOUT) rc = -ETIMEDOUT;
            else if (errno == EINTR) rc = -EINTR;
            else if (errno == ENOSYS) { /* kernel before 5.16: a short bounded nap */
                struct timespec nap = {.tv_sec = 0, .tv_nsec = 1000000};
                nanosleep(&nap, NULL);
                rc = -ETIMEDOUT;
            }
            /* EAGAIN: a word already changed, i.e. woken. */
        }
    }
    for (int i = 0; i < n; i++)
        atomic_fetch_sub_explicit(&ws[i]->sleepers, 1, memory_order_seq_cst);
    return rc;
}

void shm_waiter_wake(shm_waiter *w, int n)
{
    if (atomic_fetch_add_explicit(&w->sleepers, 0, memory_order_seq_cst) == 0) return;
    atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
    syscall(SYS_futex, (uint32_t *)&w->seq, FUTEX_WAKE, n > 0 ? n : 1, NULL, NULL, 0);
}
