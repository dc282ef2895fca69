/* A model's worker processes as tools see them (inferctl top, the live stats region): the
 * scheduler's view of each worker joined with what the worker last wrote in its control
 * block. Read-only; the control block's numbers are only displayed, never trusted. */
#include <pthread.h>

#include "inferd/clock.h"
#include "scheduler_internal.h"

static int worker_state(const sched_worker *wk, uint32_t shm_state)
{
    switch (wk->state) {
    case SCHED_WORKER_STARTING: return 1;
    case SCHED_WORKER_STOPPING: return 4;
    default: return shm_state == SHM_WORKER_BUSY ? 3 : 2;
    }
}

int sched_worker_infos(scheduler *s, int m, sched_worker_info *out, int max)
{
    if (m < 0 || m >= s->n_models) return 0;
    int n = 0;
    int64_t now = clock_now_ns();
    pthread_mutex_lock(&s->mu);
    for (uint32_t w = 0; w < s->n_workers && n < max; w++) {
        const sched_worker *wk = &s->workers[w];
        if (wk->state == SCHED_WORKER_EMPTY || wk->model != m) continue;
        const shm_worker *sw = &sched_worker_region(s, w)->workers[w];
        uint64_t hb = atomic_load(&sw->heartbeat_ns);
        sched_worker_info *i = &out[n++];
        i->index = (int)w;
        i->pid = (int)wk->pid;
        i->state = worker_state(wk, atomic_load(&sw->state));
        i->in_hand = atomic_load(&sw->in_hand);
        i->batches_done = atomic_load(&sw->batches_done);
        i->requests_done = atomic_load(&sw->requests_done);
        i->heartbeat_age_ns = hb == 0 || (int64_t)hb > now ? -1 : now - (int64_t)hb;
        i->age_ns = wk->spawn_ns > 0 ? now - wk->spawn_ns : 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}
