/* The node's event-loop hooks: each HTTP loop answers the batches workers finished itself,
 * just before it waits for I/O, woken by the workers' doorbell when it sleeps
 * (include/inferd/shm_doorbell.h, docs/protocol.md 5.1). */
#ifndef NODE_LOOPS_H
#define NODE_LOOPS_H

#include "inferd/http_server.h"
#include "inferd/repository.h"
#include "inferd/shm_doorbell.h"

typedef struct node_loops {
    repository *repo;   /* borrowed */
    shm_doorbell *bell; /* borrowed; its n_loops is the HTTP server's thread count */
} node_loops;

/* The hooks for http_options.hooks; nl must outlive the HTTP server. */
http_loop_hooks node_loops_hooks(node_loops *nl);

#endif
