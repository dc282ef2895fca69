/* Node-death watch: a thread blocked on a pidfd of the node that ends the worker at once
 * (even mid-batch: the results would have nowhere to go) when the node exits, however it
 * died. Complements PR_SET_PDEATHSIG, which follows the node thread that forked us. */
#include "worker_loop.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "inferd/log.h"

static int watch_fd = -1;
static pid_t watch_pid;

static void *watch_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p = {.fd = watch_fd, .events = POLLIN};
        int r = poll(&p, 1, -1);
        if (r > 0) break; /* readable: the node has exited */
        if (r < 0 && errno != EINTR) break;
    }
    log_warn("node (pid %d) is gone; exiting now", (int)watch_pid);
    _exit(3);
}

int worker_node_watch_start(pid_t node_pid, char *err, size_t err_len)
{
    watch_pid = node_pid;
    watch_fd = pidfd_open(node_pid, 0);
    if (watch_fd < 0) {
        snprintf(err, err_len, "pidfd_open(%d): %s", (int)node_pid, strerror(errno));
        return -1;
    }
    /* The node may have died (and its pid been reused) before pidfd_open: still our parent? */
    if (getppid() != node_pid) {
        snprintf(err, err_len, "node (pid %d) is not our parent any more", (int)node_pid);
        return -1;
    }
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, watch_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        snprintf(err, err_len, "node watch thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}
