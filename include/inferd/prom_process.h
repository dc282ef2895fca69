/* The standard process_* metric families (as the Prometheus client libraries export them)
 * for this process, read from /proc/self: CPU seconds, resident and virtual memory, open and
 * maximum fds, start time. For the node's and the gateway's /metrics. */
#ifndef INFERD_PROM_PROCESS_H
#define INFERD_PROM_PROCESS_H

#include "inferd/prom.h"

/* Appends the process_* families to w (a family whose source cannot be read is left out). */
void prom_process_metrics(prom_writer *w);

#endif
