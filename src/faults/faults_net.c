/* Network faults inside one namespace: loss and partition as an nft table of our own, delay as
 * an iptables NFQUEUE chain plus an inferd-netdelay process. See include/inferd/faults.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inferd/faults.h"

#define FAULTS_CMD_MS   10000
#define FAULTS_READY_MS 5000

extern char **environ;

struct faults_net {
    faults_net_spec_t spec;
    char netns[64], iface[32];
    char name[48]; /* nft table or iptables chain */
    int queue;
    pid_t delayer;
    int delayer_err; /* its stderr, kept open until it has exited */
    faults_net_t *next;
};

static faults_net_t *faults_active;
static unsigned faults_seq;
static int faults_atexit_done;

static int faults_ns(const faults_net_t *f, const char *tool, char *const rest[],
                     const char *stdin_text, char *err, size_t errlen)
{
    char *argv[24] = {"ip", "netns", "exec", (char *)f->netns, (char *)tool};
    size_t n = 5;
    for (size_t i = 0; rest[i] && n + 1 < sizeof argv / sizeof argv[0]; i++) argv[n++] = rest[i];
    argv[n] = NULL;
    int rc = faults_run(argv, stdin_text, FAULTS_CMD_MS, err, errlen);
    return rc == 0 ? 0 : -1;
}

static int faults_nft_apply(faults_net_t *f, char *err, size_t errlen)
{
    const faults_net_spec_t *s = &f->spec;
    char verdict[64], inm[64], outm[64], script[1024];
    if (s->kind == FAULTS_NET_LOSS)
        snprintf(verdict, sizeof verdict, "numgen random mod 100 < %d drop", s->loss_percent);
    else snprintf(verdict, sizeof verdict, "drop");
    if (f->iface[0]) {
        snprintf(inm, sizeof inm, "iifname \"%s\"", f->iface);
        snprintf(outm, sizeof outm, "oifname \"%s\"", f->iface);
    } else {
        snprintf(inm, sizeof inm, "iifname != \"lo\"");
        snprintf(outm, sizeof outm, "oifname != \"lo\"");
    }
    int in = s->dir != FAULTS_DIR_OUT, out = s->dir != FAULTS_DIR_IN;
    snprintf(script, sizeof script,
             "table inet %s {\n"
             " chain in {\n  type filter hook input priority -10; policy accept;\n  %s %s %s\n }\n"
             " chain out {\n  type filter hook output priority -10; policy accept;\n  %s %s %s\n"
             " }\n"
             "}\n",
             f->name, in ? inm : "", in ? "counter" : "", in ? verdict : "", out ? outm : "",
             out ? "counter" : "", out ? verdict : "");
    char *rest[] = {"-f", "-", NULL};
    return faults_ns(f, "nft", rest, script, err, errlen);
}

static int faults_nft_clear(faults_net_t *f)
{
    char *rest[] = {"delete", "table", "inet", f->name, NULL};
    char err[256];
    return faults_ns(f, "nft", rest, NULL, err, sizeof err);
}

static void faults_netdelay_path(const faults_net_spec_t *s, char *buf, size_t len)
{
    if (s->netdelay_path) {
        snprintf(buf, len, "%s", s->netdelay_path);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            static const char name[] = "/inferd-netdelay";
            size_t dir = (size_t)(slash - self);
            if (dir + sizeof name <= len) {
                memcpy(buf, self, dir);
                memcpy(buf + dir, name, sizeof name);
                if (access(buf, X_OK) == 0) return;
            }
        }
    }
    snprintf(buf, len, "inferd-netdelay");
}

/* Starts the delayer in the namespace and waits (bounded) until it says it is bound. */
static int faults_delayer_start(faults_net_t *f, char *err, size_t errlen)
{
    char path[PATH_MAX], q[16], d[16], j[16];
    faults_netdelay_path(&f->spec, path, sizeof path);
    snprintf(q, sizeof q, "%d", f->queue);
    snprintf(d, sizeof d, "%d", f->spec.delay_ms);
    snprintf(j, sizeof j, "%d", f->spec.jitter_ms);
    char *argv[] = {"ip", "netns",      "exec", f->netns,      path, "--queue",
                    q,    "--delay-ms", d,      "--jitter-ms", j,    NULL};
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    int rc = posix_spawnp(&f->delayer, "ip", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        snprintf(err, errlen, "cannot start %s: %s", path, strerror(rc));
        f->delayer = 0;
        return -1;
    }
    f->delayer_err = pipefd[0];
    char text[512] = "";
    size_t got = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!strstr(text, "ready\n")) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = FAULTS_READY_MS -
                    ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L);
        struct pollfd p = {f->delayer_err, POLLIN, 0};
        ssize_t n = 0;
        if (left > 0 && poll(&p, 1, (int)left) > 0)
            n = read(f->delayer_err, text + got, sizeof text - 1 - got);
        if (n <= 0 || got + (size_t)n >= sizeof text - 1) {
            snprintf(err, errlen, "inferd-netdelay did not start: %s", text);
            return -1;
        }
        got += (size_t)n;
        text[got] = '\0';
    }
    return 0;
}

static void faults_delayer_stop(faults_net_t *f)
{
    if (f->delayer > 0) {
        kill(f->delayer, SIGTERM); /* ip netns exec execs the delayer: same pid */
        int status;
        for (int i = 0; i < 500 && waitpid(f->delayer, &status, WNOHANG) == 0; i++) usleep(10000);
        if (waitpid(f->delayer, &status, WNOHANG) == 0) {
            kill(f->delayer, SIGKILL);
            waitpid(f->delayer, &status, 0);
        }
        f->delayer = 0;
    }
    if (f->delayer_err > 0) close(f->delayer_err);
    f->delayer_err = -1;
}

static int faults_ipt(faults_net_t *f, char *const rest[], char *err, size_t errlen)
{
    return faults_ns(f, "iptables", rest, NULL, err, errlen);
}

static int faults_delay_apply(faults_net_t *f, char *err, size_t errlen)
{
    char q[16];
    snprintf(q, sizeof q, "%d", f->queue);
    if (faults_delayer_start(f, err, errlen) != 0) return -1;
    char *mk[] = {"-w", "-N", f->name, NULL};
    char *rule_if[] = {"-w",          "-A", f->name,          "-i", f->iface, "-j", "NFQUEUE",
                       "--queue-num", q,    "--queue-bypass", NULL};
    char *rule_all[] = {"-w",          "-A", f->name,          "!", "-i", "lo", "-j", "NFQUEUE",
                        "--queue-num", q,    "--queue-bypass", NULL};
    char *jump[] = {"-w", "-I", "INPUT", "-j", f->name, NULL};
    if (faults_ipt(f, mk, err, errlen) != 0 ||
        faults_ipt(f, f->iface[0] ? rule_if : rule_all, err, errlen) != 0 ||
        faults_ipt(f, jump, err, errlen) != 0)
        return -1;
    return 0;
}

static int faults_delay_clear(faults_net_t *f)
{
    char e[256];
    char *unjump[] = {"-w", "-D", "INPUT", "-j", f->name, NULL};
    char *flush[] = {"-w", "-F", f->name, NULL};
    char *del[] = {"-w", "-X", f->name, NULL};
    int rc = faults_ipt(f, unjump, e, sizeof e);
    faults_delayer_stop(f); /* after the jump is gone: it releases what it holds */
    rc |= faults_ipt(f, flush, e, sizeof e);
    rc |= faults_ipt(f, del, e, sizeof e);
    return rc ? -1 : 0;
}

static void faults_unlink(faults_net_t *f)
{
    for (faults_net_t **p = &faults_active; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            return;
        }
}

int faults_net_apply(const faults_net_spec_t *spec, faults_net_t **out, char *err, size_t errlen)
{
    char dummy[1];
    if (!errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    *out = NULL;
    if (!spec->netns || !spec->netns[0] || strlen(spec->netns) >= 64 || strchr(spec->netns, '/') ||
        (spec->iface && strlen(spec->iface) >= 16)) {
        snprintf(err, errlen, "bad namespace or interface name");
        return -1;
    }
    if ((spec->kind == FAULTS_NET_LOSS && (spec->loss_percent < 1 || spec->loss_percent > 100)) ||
        (spec->kind == FAULTS_NET_DELAY && (spec->delay_ms < 0 || spec->delay_ms > 600000 ||
                                            spec->jitter_ms < 0 || spec->jitter_ms > 600000))) {
        snprintf(err, errlen, "loss must be 1..100 %%, delay and jitter 0..600000 ms");
        return -1;
    }
    faults_net_t *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->spec = *spec;
    f->delayer_err = -1;
    snprintf(f->netns, sizeof f->netns, "%s", spec->netns);
    snprintf(f->iface, sizeof f->iface, "%s", spec->iface ? spec->iface : "");
    f->spec.netns = f->netns;
    f->spec.iface = f->iface[0] ? f->iface : NULL;
    f->spec.netdelay_path = NULL; /* not kept: resolved at apply */
    unsigned seq = ++faults_seq;
    int rc;
    if (spec->kind == FAULTS_NET_DELAY) {
        /* queue numbers are per namespace: pid and sequence keep ours apart from others' */
        f->queue = (int)(((unsigned)getpid() * 131u + seq) % 60000u) + 1000;
        snprintf(f->name, sizeof f->name, "INFERD_DLY_%d_%u", (int)(getpid() % 100000), seq);
        f->spec.netdelay_path = spec->netdelay_path;
        rc = faults_delay_apply(f, err, errlen);
        f->spec.netdelay_path = NULL;
        if (rc != 0) faults_delay_clear(f);
    } else {
        snprintf(f->name, sizeof f->name, "inferd_fault_%d_%u", (int)getpid(), seq);
        rc = faults_nft_apply(f, err, errlen);
    }
    if (rc != 0) {
        free(f);
        return -1;
    }
    f->next = faults_active;
    faults_active = f;
    if (!faults_atexit_done) {
        atexit(faults_clear_all);
        faults_atexit_done = 1;
    }
    *out = f;
    return 0;
}

int faults_net_clear(faults_net_t *f)
{
    if (!f) return 0;
    faults_unlink(f);
    int rc = f->spec.kind == FAULTS_NET_DELAY ? faults_delay_clear(f) : faults_nft_clear(f);
    free(f);
    return rc;
}

void faults_clear_all(void)
{
    while (faults_active) faults_net_clear(faults_active);
}

void faults_net_describe(const faults_net_t *f, char *buf, size_t len)
{
    const char *where = f->iface[0] ? f->iface : "all links";
    if (f->spec.kind == FAULTS_NET_LOSS)
        snprintf(buf, len, "loss %d%% on %s/%s", f->spec.loss_percent, f->netns, where);
    else if (f->spec.kind == FAULTS_NET_PARTITION)
        snprintf(buf, len, "partition of %s/%s", f->netns, where);
    else
        snprintf(buf, len, "delay %d ms (+0..%d) on %s/%s", f->spec.delay_ms, f->spec.jitter_ms,
                 f->netns, where);
}
