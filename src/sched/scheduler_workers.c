/* A model's worker processes as tools see them (inferctl top, the live stats region): the
 * scheduler's view of each worker joined with what the worker last wrote in its control
 * block. Read-only; the control block's numbers are only displayed, never trusted. */
#include <pthread.h>

#include "inferd/clock.h"
#include "scheduler_internal.h"

/* The row's state, or 0 for a slot with nothing to show (empty, never crashed). */
static int worker_state(const sched_worker *wk, uint32_t shm_state, int stopping_all,
                        const char **name)
{
    switch (wk->state) {
    case SCHED_WORKER_STARTING:
        *name = wk->crashed ? "restarting" : "starting";
        return SCHED_WINFO_STARTING;
    case SCHED_WORKER_LIVE:
        *name = "live";
        return shm_state == SHM_WORKER_BUSY ? SCHED_WINFO_BUSY : SCHED_WINFO_IDLE;
    case SCHED_WORKER_STOPPING: *name = "stopping"; return SCHED_WINFO_STOPPING;
    default:
        if (!wk->crashed || stopping_all) return 0;
        *name = "restarting";
        return SCHED_WINFO_RESTARTING;
    }
}

int sched_worker_infos(scheduler *s, int m, sched_worker_info *out, int max)
{
    if (m < 0 || m >= s->n_models) return 0;
    int n = 0;
    int64_t now = clock_now_ns();
    pthread_mutex_lock(&s->mu);
    int stopping_all = atomic_load(&s->workers_stop);
    for (uint32_t w = 0; w < s->n_workers && n < max; w++) {
        const sched_worker *wk = &s->workers[w];
        if (wk->model != m) continue;
        const shm_worker *sw = &sched_worker_region(s, w)->workers[w];
        const char *name = NULL;
        int state = worker_state(wk, atomic_load(&sw->state), stopping_all, &name);
        if (!state) continue;
        sched_worker_info *i = &out[n++];
        *i = (sched_worker_info){.index = (int)w,
                                 .state = state,
                                 .state_name = name,
                                 .restarts = wk->restarts,
                                 .heartbeat_age_ns = -1};
        if (state == SCHED_WINFO_RESTARTING) {
            i->pid = (int)wk->last_pid;
            continue;
        }
        uint64_t hb = atomic_load(&sw->heartbeat_ns);
        i->pid = (int)wk->pid;
        /* written by the worker: a number to show, bounded like the supervisor's check */
        i->in_hand = atomic_load(&sw->in_hand);
        if (i->in_hand > s->n_batches) i->in_hand = s->n_batches;
        i->batches_done = atomic_load(&sw->batches_done);
        i->requests_done = atomic_load(&sw->requests_done);
        i->heartbeat_age_ns = hb == 0 || (int64_t)hb > now ? -1 : now - (int64_t)hb;
        i->age_ns = wk->spawn_ns > 0 ? now - wk->spawn_ns : 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}
