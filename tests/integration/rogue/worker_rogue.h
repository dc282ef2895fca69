/* Test-only: the rogue behaviour of inferd-worker-rogue (worker_main.c built with
 * INFERD_WORKER_ROGUE), which scribbles on one field of the region. */
#ifndef INFERD_WORKER_ROGUE_H
#define INFERD_WORKER_ROGUE_H

#include "worker_loop.h"

/* Reads INFERD_ROGUE (the field to corrupt), INFERD_ROGUE_MODEL (only this model's workers
 * misbehave), INFERD_ROGUE_THEN (carry | die) and INFERD_ROGUE_ONCE (a path: only the worker
 * that creates it misbehaves, so its replacement is honest). Returns the hook, or NULL. */
worker_hook_fn worker_rogue_setup(const char *model_name);

#endif
