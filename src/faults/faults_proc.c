/* Process faults: kill -9, stop/continue, and "slow" (a child that stops and continues the
 * target in turns). See include/inferd/faults.h. */
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inferd/faults.h"

int faults_proc_kill(pid_t pid)
{
    return pid > 0 ? kill(pid, SIGKILL) : -1;
}
int faults_proc_stop(pid_t pid)
{
    return pid > 0 ? kill(pid, SIGSTOP) : -1;
}
int faults_proc_cont(pid_t pid)
{
    return pid > 0 ? kill(pid, SIGCONT) : -1;
}

static volatile sig_atomic_t faults_slow_done;

static void faults_slow_on_term(int sig)
{
    (void)sig;
    faults_slow_done = 1;
}

static void faults_slow_sleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (!faults_slow_done && nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

int faults_proc_slow_start(pid_t pid, int period_ms, pid_t *toggler)
{
    if (pid <= 0 || period_ms < 0) return -1;
    if (period_ms == 0) period_ms = FAULTS_SLOW_PERIOD_MS;
    pid_t parent = getpid();
    pid_t c = fork();
    if (c < 0) return -1;
    if (c > 0) {
        *toggler = c;
        return 0;
    }
    /* the toggler: async-signal-safe calls only from here on */
    struct sigaction sa = {0};
    sa.sa_handler = faults_slow_on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t unblock; /* the parent may hold them blocked (for sigwait): we must see them */
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGTERM);
    sigaddset(&unblock, SIGINT);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) faults_slow_done = 1;
    while (!faults_slow_done) {
        if (kill(pid, SIGSTOP) != 0) break;
        faults_slow_sleep(period_ms);
        kill(pid, SIGCONT);
        if (!faults_slow_done) faults_slow_sleep(period_ms);
    }
    kill(pid, SIGCONT);
    _exit(0);
}

int faults_proc_slow_end(pid_t toggler, pid_t pid)
{
    int status, rc = 0;
    if (toggler > 0) {
        kill(toggler, SIGTERM);
        for (int i = 0; i < 300 && waitpid(toggler, &status, WNOHANG) == 0; i++) usleep(10000);
        if (waitpid(toggler, &status, WNOHANG) == 0) {
            kill(toggler, SIGKILL);
            waitpid(toggler, &status, 0);
            rc = -1;
        }
    }
    if (pid > 0) kill(pid, SIGCONT);
    return rc;
}
