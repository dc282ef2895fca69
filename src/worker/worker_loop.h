/* The worker's main loop: claim -> run backend -> complete, with heartbeats, brief spinning
 * before sleeping, and an orderly exit on stop / shutdown / node death. */
#ifndef INFERD_WORKER_LOOP_H
#define INFERD_WORKER_LOOP_H

#include <signal.h>

#include "backend.h"

typedef struct worker_ctx {
    shm_region *region;
    uint32_t worker, model;
    int32_t node_pid;                  /* exit when getppid() stops being this */
    const backend_ops *ops;
    void *backend_state;
    volatile sig_atomic_t *signalled;  /* set by SIGTERM/SIGINT handlers */
} worker_ctx;

/* Runs until told to stop and every batch in hand is completed. Returns 0 on an orderly
 * exit, or -1 if the region became unusable. The caller created the backend and publishes
 * pid/state before calling. */
int worker_loop_run(worker_ctx *ctx);

#endif
