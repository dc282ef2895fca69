/* inferd-fault: the faults library on a command line. Applies one fault, holds it until
 * SIGTERM/SIGINT or --for seconds, then removes it. The cluster test bed drives this. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inferd/faults.h"

static void fault_usage(FILE *f)
{
    fprintf(
        f,
        "usage: inferd-fault [options] FAULT\n"
        "FAULT (network, needs --netns):\n"
        "  loss P             drop P%% of packets (1..100)\n"
        "  partition          drop every packet\n"
        "  delay MS [JIT]     hold each incoming packet MS ms (+ 0..JIT ms), via inferd-netdelay\n"
        "FAULT (process):\n"
        "  kill PID           kill -9, then exit\n"
        "  stop PID           SIGSTOP; SIGCONT when the fault ends\n"
        "  slow PID           stop and continue PID in turns of --period-ms (100)\n"
        "options:\n"
        "  --netns NS         network namespace (`ip netns` name)\n"
        "  --iface IF         interface in it (default: every one but lo)\n"
        "  --dir in|out|both  direction of loss and partition (default both)\n"
        "  --for S            hold the fault S seconds (default: until SIGTERM/SIGINT)\n"
        "  --period-ms N      turn length of slow\n"
        "Prints 'applied: ...' once the fault is in effect and 'cleared' after removing it.\n");
}

static long fault_num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : -1;
    if (!s || errno || end == s || *end || v < lo || v > hi) return -1;
    return v;
}

int main(int argc, char **argv)
{
    faults_net_spec_t spec = {.dir = FAULTS_DIR_BOTH};
    double hold_s = -1;
    long period = FAULTS_SLOW_PERIOD_MS;
    static const struct option opts[] = {{"netns", required_argument, 0, 'n'},
                                         {"iface", required_argument, 0, 'i'},
                                         {"dir", required_argument, 0, 'd'},
                                         {"for", required_argument, 0, 'f'},
                                         {"period-ms", required_argument, 0, 'p'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "+n:i:d:f:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': spec.netns = optarg; break;
        case 'i': spec.iface = optarg; break;
        case 'd':
            if (!strcmp(optarg, "in")) spec.dir = FAULTS_DIR_IN;
            else if (!strcmp(optarg, "out")) spec.dir = FAULTS_DIR_OUT;
            else if (!strcmp(optarg, "both")) spec.dir = FAULTS_DIR_BOTH;
            else goto bad;
            break;
        case 'f':
            hold_s = strtod(optarg, NULL);
            if (!(hold_s >= 0 && hold_s <= 86400)) goto bad;
            break;
        case 'p':
            if ((period = fault_num(optarg, 1, 60000)) < 0) goto bad;
            break;
        case 'h': fault_usage(stdout); return 0;
        default: goto bad;
        }
    }
    if (optind >= argc) goto bad;
    const char *what = argv[optind];
    const char *a1 = optind + 1 < argc ? argv[optind + 1] : NULL;
    const char *a2 = optind + 2 < argc ? argv[optind + 2] : NULL;

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);

    faults_net_t *net = NULL;
    pid_t pid = 0, toggler = 0;
    char err[512] = "", desc[256] = "";
    int rc = 0;
    if (!strcmp(what, "loss") || !strcmp(what, "partition") || !strcmp(what, "delay")) {
        spec.kind = what[0] == 'l'   ? FAULTS_NET_LOSS
                    : what[0] == 'p' ? FAULTS_NET_PARTITION
                                     : FAULTS_NET_DELAY;
        if (spec.kind == FAULTS_NET_LOSS && (spec.loss_percent = (int)fault_num(a1, 1, 100)) < 0)
            goto bad;
        if (spec.kind == FAULTS_NET_DELAY) {
            spec.delay_ms = (int)fault_num(a1, 0, 600000);
            spec.jitter_ms = a2 ? (int)fault_num(a2, 0, 600000) : 0;
            if (spec.delay_ms < 0 || spec.jitter_ms < 0) goto bad;
        }
        if (!spec.netns) goto bad;
        rc = faults_net_apply(&spec, &net, err, sizeof err);
        if (rc == 0) faults_net_describe(net, desc, sizeof desc);
    } else if (!strcmp(what, "kill") || !strcmp(what, "stop") || !strcmp(what, "slow")) {
        if ((pid = (pid_t)fault_num(a1, 1, 1 << 30)) < 0) goto bad;
        if (what[0] == 'k') {
            rc = faults_proc_kill(pid);
            printf(rc == 0 ? "applied: kill -9 %d\n" : "failed: kill %d\n", (int)pid);
            return rc == 0 ? 0 : 1;
        }
        rc = what[1] == 't' ? faults_proc_stop(pid)
                            : faults_proc_slow_start(pid, (int)period, &toggler);
        snprintf(desc, sizeof desc, "%s %d", what, (int)pid);
        if (rc != 0) snprintf(err, sizeof err, "%s", strerror(errno));
    } else {
        goto bad;
    }
    if (rc != 0) {
        fprintf(stderr, "inferd-fault: %s failed: %s\n", what, err);
        return 1;
    }
    printf("applied: %s\n", desc);
    fflush(stdout);

    if (hold_s < 0) {
        int sig;
        sigwait(&mask, &sig);
    } else {
        struct timespec ts = {(time_t)hold_s, (long)((hold_s - (double)(time_t)hold_s) * 1e9)};
        sigtimedwait(&mask, NULL, &ts);
    }
    if (net) rc = faults_net_clear(net);
    else if (toggler) rc = faults_proc_slow_end(toggler, pid);
    else rc = faults_proc_cont(pid);
    printf(rc == 0 ? "cleared\n" : "clear failed\n");
    return rc == 0 ? 0 : 1;
bad:
    fault_usage(stderr);
    return 2;
}
