/* Shutdown signals through a self-pipe: the handlers only write a byte; main waits with poll
 * (include/inferd/signals.h). */
#include "inferd/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t signal_count;

static void on_signal(int sig)
{
    if (++signal_count > 1) _exit(128 + sig);
    int saved = errno;
    char b = (char)sig;
    if (write(signal_pipe[1], &b, 1) < 0) { /* nothing to do */
    }
    errno = saved;
}

int signals_install(void)
{
    if (pipe2(signal_pipe, O_CLOEXEC) != 0) return -1; /* workers must not hold it */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) return -1;
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) return -1;
    return 0;
}

int signals_wait(int64_t timeout_ms)
{
    struct pollfd pfd = {.fd = signal_pipe[0], .events = POLLIN};
    for (;;) {
        int step = timeout_ms < 0 || timeout_ms > 250 ? 250 : (int)timeout_ms;
        char sig = 0;
        if (poll(&pfd, 1, step) > 0 && read(signal_pipe[0], &sig, 1) == 1) return sig;
        if (timeout_ms < 0) continue;
        timeout_ms -= step;
        if (timeout_ms <= 0) return 0;
    }
}
