/* The worker's main loop: claim -> run backend -> complete, with heartbeats, brief spinning
 * before sleeping, and an orderly exit on stop / shutdown / node death. */
#ifndef INFERD_WORKER_LOOP_H
#define INFERD_WORKER_LOOP_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#include "backend.h"

/* Test-only hook points (tests/rogue/: a worker that scribbles on the region). */
enum worker_hook_phase {
    WORKER_HOOK_TICK = 0,     /* every loop round */
    WORKER_HOOK_CLAIMED = 1,  /* a batch was just claimed, before the backend runs */
    WORKER_HOOK_FINISHED = 2, /* results written, before publishing; return 1 = consumed */
};
struct worker_ctx;
typedef int (*worker_hook_fn)(struct worker_ctx *ctx, int phase, uint32_t slot);

typedef struct worker_ctx {
    shm_region *region;
    uint32_t worker, model;
    int32_t node_pid; /* exit when getppid() stops being this */
    const backend_ops *ops;
    void *backend_state;
    volatile sig_atomic_t *signalled; /* set by SIGTERM/SIGINT handlers */
    worker_hook_fn hook;              /* NULL in inferd-worker; set only in test builds */
} worker_ctx;

/* Runs until told to stop and every batch in hand is completed. Returns 0 on an orderly
 * exit, or -1 if the region became unusable. The caller created the backend and publishes
 * pid/state before calling. */
int worker_loop_run(worker_ctx *ctx);

/* Starts a detached thread that _exit()s the worker as soon as process node_pid (its parent,
 * the node) exits, mid-batch or not. Returns 0, or -1 with err (also when the node is already
 * gone). worker_node_watch.c. */
int worker_node_watch_start(pid_t node_pid, char *err, size_t err_len);

#endif
