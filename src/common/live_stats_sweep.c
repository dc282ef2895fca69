/* Removes live stats regions whose node is gone: a node killed with SIGKILL cannot unlink its
 * file, and /dev/shm is memory. Called by a starting node (include/inferd/live_stats.h). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inferd/live_stats.h"

#define SWEEP_PREFIX "inferd-live-"

/* The pid that owns the file at path: the node's pid in a valid region's header, or the
 * ".<pid>" suffix of a temporary file a node was still creating. 0 if neither. */
static long long owner_pid(const char *path, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot) {
        char *end;
        long long pid = strtoll(dot + 1, &end, 10);
        return *end == '\0' && pid > 0 ? pid : 0;
    }
    live_stats_reader r;
    char err[128];
    if (live_stats_reader_open(path, &r, err, sizeof err) != 0) return 0;
    long long pid = (long long)r.constant.node_pid;
    live_stats_reader_close(&r);
    return pid;
}

int live_stats_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, SWEEP_PREFIX, sizeof SWEEP_PREFIX - 1) != 0) continue;
        char path[512];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) continue;
        long long pid = owner_pid(path, e->d_name);
        if (pid <= 0 || pid > INT32_MAX || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        /* still the file we looked at (a node on that port may have just replaced it) */
        struct stat again;
        if (lstat(path, &again) == 0 && again.st_ino == st.st_ino && again.st_dev == st.st_dev &&
            unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}
