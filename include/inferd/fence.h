/* A full memory fence for the store-then-look handshakes between processes and threads
 * (docs/protocol.md 5.1-5.2, docs/scheduler.md "Completions"). */
#ifndef INFERD_FENCE_H
#define INFERD_FENCE_H

#include <stdatomic.h>

/* Orders every earlier load and store before every later one (seq_cst fence). ThreadSanitizer
 * does not model standalone fences (gcc rejects them with -Wtsan), so under it a seq_cst
 * read-modify-write of a private atomic stands in: on x86 that is a locked instruction, a full
 * barrier in hardware as well. */
static inline void inferd_full_fence(void)
{
#if defined(__SANITIZE_THREAD__)
    static _Atomic int inferd_fence_word;
    atomic_fetch_add_explicit(&inferd_fence_word, 0, memory_order_seq_cst);
#else
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

#endif
