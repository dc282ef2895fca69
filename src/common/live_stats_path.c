/* Where a node's live stats region lives (include/inferd/live_stats.h): named by its HTTP port
 * and its network namespace, since /dev/shm is shared by every namespace on the host. */
#include <stdio.h>
#include <sys/stat.h>

#include "inferd/live_stats.h"

int live_stats_path(int port, char *buf, size_t len)
{
    struct stat st;
    int n;
    if (stat("/proc/self/ns/net", &st) == 0)
        n = snprintf(buf, len, "%s/inferd-live-%d-%llu", LIVE_STATS_DIR, port,
                     (unsigned long long)st.st_ino);
    else n = snprintf(buf, len, "%s/inferd-live-%d", LIVE_STATS_DIR, port);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}
