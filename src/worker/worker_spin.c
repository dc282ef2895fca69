/* The worker's adaptive poll budget (see worker_spin.h): an average of recent gaps between
 * batches, as glibc's adaptive mutexes average their spin counts. */
#include "worker_spin.h"

#define IDLE_GAP_NS 200000 /* average gap above which the worker does not poll at all */
#define GAP_CAP_NS  (4 * (int64_t)IDLE_GAP_NS) /* one long sleep moves the average this far */
#define SLACK_NS    2000                       /* a poll a little longer than the gap it expects */

void worker_spin_init(worker_spin *s)
{
    s->avg_gap_ns = WORKER_SPIN_MAX_NS / 2;
}

int64_t worker_spin_budget(const worker_spin *s)
{
    /* A mostly idle worker: polling would burn the whole budget and sleep anyway, taking
     * the core from the threads that make the next batch. Under load (gaps of tens of µs,
     * some caught, some not) the full poll is kept: measured, stopping it there cost a
     * context switch per batch without saving CPU (bench/RESULTS.md). */
    if (s->avg_gap_ns > IDLE_GAP_NS) return 0;
    int64_t want = 2 * s->avg_gap_ns + SLACK_NS;
    return want < WORKER_SPIN_MAX_NS ? want : WORKER_SPIN_MAX_NS;
}

void worker_spin_record(worker_spin *s, int64_t gap_ns)
{
    if (gap_ns < 0) gap_ns = 0;
    if (gap_ns > GAP_CAP_NS) gap_ns = GAP_CAP_NS;
    s->avg_gap_ns += (gap_ns - s->avg_gap_ns) / 8;
}
