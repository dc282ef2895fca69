/* Eventcount over a process-shared futex: sleepers announce themselves, wakers pay a syscall
 * only when someone announced. See docs/protocol.md "Waiters" for the ordering argument. */
#include "shm_internal.h"

#include <errno.h>
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

void shm_waiter_wake(shm_waiter *w, int n)
{
    if (atomic_fetch_add_explicit(&w->sleepers, 0, memory_order_seq_cst) == 0) return;
    atomic_fetch_add_explicit(&w->seq, 1, memory_order_seq_cst);
    syscall(SYS_futex, (uint32_t *)&w->seq, FUTEX_WAKE, n > 0 ? n : 1, NULL, NULL, 0);
}
