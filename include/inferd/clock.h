/* The one monotonic clock of inferd: every deadline, heartbeat, timeout and duration is
 * measured with clock_now_ns() (CLOCK_MONOTONIC, nanoseconds). Header-only so the transport,
 * the workers, the runtime's tools and the tests all read the same clock. */
#ifndef INFERD_CLOCK_H
#define INFERD_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds since an arbitrary fixed point (boot); never goes backwards. */
static inline int64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CPU time the calling thread has used, in nanoseconds (CLOCK_THREAD_CPUTIME_ID): for
 * profiles that must not count time the thread waited for a core. */
static inline int64_t clock_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wall-clock nanoseconds since the Unix epoch (CLOCK_REALTIME): only for timestamps shown to
 * people or clients (it can jump), never for durations or deadlines. */
static inline int64_t clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Seconds, for tools that print durations. */
static inline double clock_now_s(void)
{
    return (double)clock_now_ns() / 1e9;
}

#endif
