/* Copies to and from client shared memory that survive the client shrinking its object
 * under us: touching a mapped page past the end of a shm object raises SIGBUS, which would
 * kill the node. A process-wide SIGBUS handler jumps back into the copy that faulted (found
 * through a thread-local guard); a SIGBUS anywhere else keeps its default action. */
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "client_shm.h"

/* volatile: the stores around memcpy must not be dropped as dead (the handler reads it) */
static _Thread_local sigjmp_buf *volatile copy_guard;

static void on_sigbus(int sig)
{
    if (copy_guard) siglongjmp(*copy_guard, 1);
    /* not ours: fall back to the default action, which the faulting access now re-raises */
    signal(sig, SIG_DFL);
}

/* (Re)installed by every enabled client_shm_create, so a handler set in between (a test
 * harness's) does not stay in its place. */
int client_shm_guard_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_NODEFER; /* siglongjmp leaves the handler: keep SIGBUS deliverable */
    return sigaction(SIGBUS, &sa, NULL) == 0 ? 0 : -1;
}

int client_shm_copy(void *dst, const void *src, size_t n)
{
    sigjmp_buf env;
    if (sigsetjmp(env, 1)) {
        copy_guard = NULL;
        return -1;
    }
    copy_guard = &env;
    memcpy(dst, src, n);
    copy_guard = NULL;
    return 0;
}
