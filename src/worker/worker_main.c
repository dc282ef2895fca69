/* inferd-worker: attaches to the node's shared-memory region (inherited fd), loads its
 * model's backend and serves batches until told to stop. Started by the node only. */
#include "inferd/clock.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "inferd/log.h"
#include "inferd/shm_doorbell.h"
#include "worker_loop.h"
#ifdef INFERD_WORKER_ROGUE
#include "worker_rogue.h"
#endif

static volatile sig_atomic_t signalled;

static void on_signal(int sig)
{
    (void)sig;
    signalled = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f, "usage: inferd-worker --shm-fd FD --worker W --model-slot M --model-dir DIR\n"
           "                     [--doorbell FLAGS_FD,SOCKET_FD,LOOP]\n"
           "                     [--log-level debug|info|warn|error|off] [--log-format text|json]\n"
           "\n"
           "Serves one model's batches from an inferd node's shared-memory region. The node\n"
           "starts workers itself (fd 3 = the region; with --doorbell, the completion\n"
           "doorbell of the node loop that answers this model); see docs/protocol.md.\n");
}

static int parse_u32(const char *s, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max) return -1;
    *out = (uint32_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    uint32_t fd = UINT32_MAX, worker = UINT32_MAX, model = UINT32_MAX;
    const char *dir = NULL, *doorbell = NULL;
    log_level level = LOG_INFO;
    log_format format = LOG_FORMAT_TEXT;
    log_init(level, format, "inferd-worker");
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        int bad = 0;
        if (!v) bad = 1;
        else if (strcmp(a, "--shm-fd") == 0) bad = parse_u32(v, 65535, &fd);
        else if (strcmp(a, "--worker") == 0) bad = parse_u32(v, UINT32_MAX - 1, &worker);
        else if (strcmp(a, "--model-slot") == 0) bad = parse_u32(v, UINT32_MAX - 1, &model);
        else if (strcmp(a, "--model-dir") == 0) dir = v;
        else if (strcmp(a, "--doorbell") == 0) doorbell = v;
        else if (strcmp(a, "--log-level") == 0) bad = log_level_parse(v, &level);
        else if (strcmp(a, "--log-format") == 0) bad = log_format_parse(v, &format);
        else {
            fprintf(stderr, "inferd-worker: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "inferd-worker: option '%s' needs a valid value\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (fd == UINT32_MAX || worker == UINT32_MAX || model == UINT32_MAX || !dir) {
        fprintf(stderr, "inferd-worker: --shm-fd, --worker, --model-slot and --model-dir are "
                        "required\n");
        usage(stderr);
        return 2;
    }
    char name[48];
    snprintf(name, sizeof name, "inferd-worker/%u", worker);
    log_init(level, format, name);
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* nothing to finish for a dead node */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: a futex wait returns EINTR */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    model_config cfg;
    if (model_config_load(dir, &cfg, err, sizeof err) != 0) {
        log_error("model config %s/config.json: %s", dir, err);
        return 1;
    }
    const backend_ops *ops = backend_find(cfg.backend);
    if (!ops) {
        log_error("model %s: backend '%s' is not available in this build", cfg.name, cfg.backend);
        return 1;
    }
    shm_region region;
    int rc = shm_region_attach((int)fd, &region, err, sizeof err);
    if (rc) {
        log_error("attach shm fd %u: %s", fd, err);
        return 1;
    }
    shm_doorbell_end bell;
    err[0] = 0;
    if (doorbell) {
        uint32_t bfd, sfd, loop;
        char extra;
        if (sscanf(doorbell, "%u,%u,%u%c", &bfd, &sfd, &loop, &extra) != 3 ||
            shm_doorbell_attach((int)bfd, (int)sfd, (int)loop, &bell, err, sizeof err) != 0) {
            log_error("--doorbell %s: %s", doorbell,
                      err[0] ? err : "expected FLAGS_FD,SOCKET_FD,LOOP");
            return 1;
        }
        region.doorbell = &bell;
    }
    shm_header *h = region.header;
    if (worker >= region.max_workers || model >= region.max_models) {
        log_error("worker %u / model slot %u out of range (region has %u / %u)", worker, model,
                  region.max_workers, region.max_models);
        return 1;
    }
    shm_worker *self = &region.workers[worker];
    shm_model *m = &region.models[model];
    if (self->model != model) {
        log_error("worker slot %u is reserved for model slot %u, not %u", worker, self->model,
                  model);
        return 1;
    }
    if (strnlen(m->name, SHM_NAME_LEN) == SHM_NAME_LEN || strcmp(m->name, cfg.name) != 0) {
        log_error("model slot %u is '%.*s' in the region, but %s is model '%s'", model,
                  SHM_NAME_LEN, m->name, dir, cfg.name);
        return 1;
    }
    if (getppid() != h->node_pid) {
        log_error("parent pid %d is not the node (pid %d)", (int)getppid(), h->node_pid);
        return 1;
    }
    if (worker_node_watch_start(h->node_pid, err, sizeof err) != 0) {
        log_error("cannot watch the node: %s", err);
        return 1;
    }
    void *state = NULL;
    if (ops->create(&cfg, &state, err, sizeof err) != 0) {
        log_error("model %s: backend %s: %s", cfg.name, cfg.backend, err);
        return 1;
    }
    atomic_store_explicit(&self->pid, (int32_t)getpid(), memory_order_relaxed);
    atomic_store_explicit(&self->heartbeat_ns, (uint64_t)clock_now_ns(), memory_order_relaxed);
    atomic_store_explicit(&self->state, SHM_WORKER_IDLE, memory_order_release);
    log_info("worker ready model=%s backend=%s slot=%u generation=%016llx", cfg.name, cfg.backend,
             worker, (unsigned long long)h->generation);

    worker_ctx ctx = {.region = &region,
                      .worker = worker,
                      .model = model,
                      .node_pid = h->node_pid,
                      .ops = ops,
                      .backend_state = state,
                      .signalled = &signalled};
#ifdef INFERD_WORKER_ROGUE
    ctx.hook = worker_rogue_setup(cfg.name);
#endif
    rc = worker_loop_run(&ctx);
    log_info("worker exiting model=%s batches=%llu requests=%llu", cfg.name,
             (unsigned long long)atomic_load(&self->batches_done),
             (unsigned long long)atomic_load(&self->requests_done));
    ops->destroy(state);
    if (region.doorbell) shm_doorbell_detach(&bell);
    shm_region_close(&region);
    return rc ? 1 : 0;
}
