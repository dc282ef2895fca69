/* Starting and killing worker processes: reserve a shm_worker slot under the pool lock, fork
 * outside it, and in the child tie its life to the node's, put the region fd on 3 (and the
 * doorbell's on 4 and 5) and exec
 * inferd-worker; then publish the pid under the lock. */
#include "inferd/clock.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <unistd.h>

#include "inferd/log.h"
#include "inferd/shm_doorbell.h"
#include "scheduler_internal.h"

static const char *level_name(log_level l)
{
    switch (l) {
    case LOG_DEBUG: return "debug";
    case LOG_INFO: return "info";
    case LOG_WARN: return "warn";
    case LOG_ERROR: return "error";
    default: return "off";
    }
}

/* Child side of the fork: only async-signal-safe calls until exec. The worker gets exactly
 * fds 0-2, the region on fd 3 and, with a doorbell, its flag page on 4 and its home loop's
 * socket on 5: everything else is closed here, whatever its close-on-exec
 * flag (the node opens everything O_CLOEXEC too; tests/integration/test_workers_trust.py
 * checks both). SIGKILL on parent death; the worker also watches the node with a pidfd,
 * because PDEATHSIG follows the forking thread, not the process. */
static void child_exec(const int *fds, int n_fds, pid_t parent, const char *path,
                       char *const argv[])
{
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGTERM, &dfl, NULL);
    sigaction(SIGINT, &dfl, NULL);
    sigaction(SIGPIPE, &dfl, NULL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(126);
    /* fds[i] goes to 3 + i: first out of the way (a source may sit on another's target),
     * then into place; dup2 clears close-on-exec on the copies. */
    int high[4];
    for (int i = 0; i < n_fds; i++)
        if ((high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + n_fds)) < 0) _exit(126);
    for (int i = 0; i < n_fds; i++)
        if (dup2(high[i], 3 + i) != 3 + i) _exit(126);
    if (close_range((unsigned)(3 + n_fds), ~0u, 0) != 0) _exit(126);
    execv(path, argv);
    _exit(127);
}

int sched_spawn_worker(scheduler *s, int m, const char *why)
{
    sched_model_state *ms = &s->models[m];
    uint32_t w;
    /* The replacement of a dead worker takes its slot (its row on the dashboard). */
    for (w = 0; w < s->n_workers; w++)
        if (s->workers[w].state == SCHED_WORKER_EMPTY && s->workers[w].crashed &&
            s->workers[w].model == m)
            break;
    if (w == s->n_workers)
        for (w = 0; w < s->n_workers; w++)
            if (s->workers[w].state == SCHED_WORKER_EMPTY) /* node-private: reaped and free */
                break;
    if (w == s->n_workers) {
        log_warn_limited("cannot spawn a worker for model=%s: all %u worker slots in use",
                         ms->cfg.name, s->n_workers);
        return -1;
    }
    shm_worker *sw = &ms->region->workers[w];
    /* What the new worker checks at attach may have been scribbled by another: rewrite it. */
    shm_region_restore(ms->region);
    snprintf(ms->region->models[ms->slot].name, SHM_NAME_LEN, "%s", ms->cfg.name);
    shm_worker_slot_reset(ms->region, w, (uint32_t)ms->slot);

    /* Reserved: every other thread sees a STARTING worker without a pid until it is
     * published below, so mu need not be held across the fork or the log writes. */
    sched_worker *wk = &s->workers[w];
    int crashed = wk->crashed && wk->model == m;
    uint32_t restarts = crashed ? wk->restarts + 1 : 0;
    memset(wk, 0, sizeof(*wk));
    wk->crashed = crashed;
    wk->restarts = restarts;
    wk->state = SCHED_WORKER_STARTING;
    wk->model = m;
    sched_model_recount(s, m);

    char worker_arg[16], slot_arg[16], bell_arg[32];
    shm_doorbell *bell = s->opts.doorbell;
    int home = bell ? shm_doorbell_home(bell, m + s->opts.doorbell_loop) : 0;
    snprintf(bell_arg, sizeof(bell_arg), "4,5,%d", home);
    snprintf(worker_arg, sizeof(worker_arg), "%u", w);
    snprintf(slot_arg, sizeof(slot_arg), "%d", ms->slot);
    char *argv[] = {
        s->worker_path,
        "--shm-fd",
        "3",
        "--worker",
        worker_arg,
        "--model-slot",
        slot_arg,
        "--model-dir",
        ms->cfg.dir,
        "--log-level",
        (char *)level_name(log_get_level()),
        "--log-format",
        log_get_format() == LOG_FORMAT_JSON ? "json" : "text",
        bell ? "--doorbell" : NULL, /* fds 4 and 5, placed by child_exec */
        bell_arg,
        NULL,
    };
    int fds[3] = {ms->region->fd, bell ? bell->flags_fd : -1, bell ? bell->worker_fd[home] : -1};
    uint64_t spawns = ++ms->spawns;
    pthread_mutex_unlock(&s->mu);

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) child_exec(fds, bell ? 3 : 1, parent, s->worker_path, argv);
    int fork_errno = errno;
    if (pid < 0)
        log_error_limited("fork failed for model=%s: %s", ms->cfg.name, strerror(fork_errno));
    else
        log_info("worker spawned model=%s worker=%u pid=%d reason=%s spawns=%llu", ms->cfg.name, w,
                 (int)pid, why, (unsigned long long)spawns);

    pthread_mutex_lock(&s->mu);
    if (pid < 0) {
        wk->state = SCHED_WORKER_EMPTY;
        atomic_store(&sw->state, SHM_WORKER_EMPTY);
        sched_model_recount(s, m);
        return -1;
    }
    int64_t now = clock_now_ns();
    wk->pid = pid;
    wk->spawn_ns = now;
    wk->last_active_ns = now;
    if (s->workers_stop) /* drain began during the fork */
        atomic_store(&sw->stop, 1);
    return 0;
}

void sched_worker_kill(scheduler *s, uint32_t w, const char *reason)
{
    sched_worker *wk = &s->workers[w];
    if (wk->state == SCHED_WORKER_EMPTY || wk->pid <= 0 || wk->killed) return;
    wk->killed = 1;
    log_warn_limited("worker killed model=%s worker=%u pid=%d reason=%s",
                     s->models[wk->model].cfg.name, w, (int)wk->pid, reason);
    kill(wk->pid, SIGKILL);
}
