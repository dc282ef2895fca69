/* Loop hooks: arm the loop's doorbell, answer every loaded model's finished batches, disarm
 * once awake (node_loops.h). */
#include "node_loops.h"

static int before_wait(void *arg, int loop)
{
    node_loops *nl = arg;
    /* Armed before the look: a completion published after it finds the flag and rings; one
     * published before is found by the look, unless a model's pool lock was busy: then the
     * loop looks again instead of sleeping. */
    shm_doorbell_arm(nl->bell, loop);
    repo_model *ms[REPO_MAX_MODELS];
    int n = repository_list(nl->repo, ms, REPO_MAX_MODELS), again = 0;
    for (int i = 0; i < n; i++) {
        if (sched_poll_completions(repo_model_sched(ms[i])) != 0) again = 1;
        repository_release(ms[i]);
    }
    return again;
}

static void after_wait(void *arg, int loop)
{
    node_loops *nl = arg;
    shm_doorbell_disarm(nl->bell, loop); /* awake: the next before_wait looks anyway */
}

static int wake_fd(void *arg, int loop)
{
    node_loops *nl = arg;
    return loop >= 0 && loop < nl->bell->n_loops ? nl->bell->loop_fd[loop] : -1;
}

static void woken(void *arg, int loop)
{
    node_loops *nl = arg;
    shm_doorbell_drain(nl->bell, loop);
}

http_loop_hooks node_loops_hooks(node_loops *nl)
{
    return (http_loop_hooks){.before_wait = before_wait,
                             .after_wait = after_wait,
                             .wake_fd = wake_fd,
                             .woken = woken,
                             .arg = nl};
}
