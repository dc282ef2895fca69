/* faults_run: run one command (nft, iptables, ip) with text on its stdin, its stderr kept for
 * the error message, bounded in time. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inferd/faults.h"

extern char **environ;

static long faults_run_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int faults_run(char *const argv[], const char *stdin_text, int timeout_ms, char *err, size_t errlen)
{
    int in[2], out[2];
    if (errlen) err[0] = '\0';
    if (pipe2(in, O_CLOEXEC) != 0) return -1;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(in[0]);
    close(out[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        if (errlen) snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    if (stdin_text) { /* scripts are small: far below a pipe's buffer */
        void (*old)(int) = signal(SIGPIPE, SIG_IGN);
        ssize_t w = write(in[1], stdin_text, strlen(stdin_text));
        (void)w;
        signal(SIGPIPE, old);
    }
    close(in[1]);
    size_t got = 0;
    long deadline = faults_run_now_ms() + timeout_ms;
    for (;;) {
        long left = deadline - faults_run_now_ms();
        if (left <= 0) break;
        struct pollfd p = {out[0], POLLIN, 0};
        if (poll(&p, 1, (int)left) <= 0) continue;
        char tmp[512];
        ssize_t n = read(out[0], tmp, sizeof tmp);
        if (n <= 0) break;
        for (ssize_t i = 0; i < n && errlen && got + 1 < errlen; i++) err[got++] = tmp[i];
        if (errlen) err[got] = '\0';
    }
    close(out[0]);
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return -1;
        if (faults_run_now_ms() >= deadline) { /* past its time: never wait unbounded */
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            if (errlen) snprintf(err, errlen, "%s timed out after %d ms", argv[0], timeout_ms);
            return -1;
        }
        usleep(2000);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
