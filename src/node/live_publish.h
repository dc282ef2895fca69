/* The node's live stats publisher: a small thread that writes every loaded model's counters
 * and every worker's state into the live stats region (include/inferd/live_stats.h) at a
 * fixed period, for inferctl top / diagnose on the same host. */
#ifndef NODE_LIVE_PUBLISH_H
#define NODE_LIVE_PUBLISH_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/repository.h"

#define LIVE_PUBLISH_PERIOD_MS    100
#define LIVE_PUBLISH_WORKER_SLOTS 1024

typedef struct live_publish live_publish;

/* Removes the regions of nodes on this host that are gone (live_stats_sweep) and logs how
 * many. Call before the event loops start: it opens and closes descriptors, which a loop's
 * accept4 would otherwise reuse at once. */
void live_publish_sweep(void);
/* Creates /dev/shm/inferd-live-<port>-<netns> (live_stats_path) and starts publishing repo's models (repo borrowed: it
 * must outlive live_publish_stop). Returns the publisher, or NULL with err filled (the node
 * runs on without live stats). */
live_publish *live_publish_start(repository *repo, int port, int64_t period_ms, char *err,
                                 size_t err_len);
/* The region's path (owned by p). */
const char *live_publish_path(const live_publish *p);
/* The node state written in the header from the next publish on (enum live_stats_node_state).
 * Any thread. */
void live_publish_set_state(live_publish *p, int state);
/* Stops the thread, unlinks the region, frees p. NULL is ignored. */
void live_publish_stop(live_publish *p);

#endif
